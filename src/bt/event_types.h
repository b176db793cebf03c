/* The session event types an appliance can report (protocol notes §3.2):
 * the RS list and the PRA additions. The catalogue an administrator picks
 * Events to Import from; `ticketbridge event-types update` loads it into the
 * database. */
#ifndef TB_BT_EVENT_TYPES_H
#define TB_BT_EVENT_TYPES_H

#include <stddef.h>

typedef struct bt_event_type {
    const char *name;
    const char *product;    /* "rs", "pra" or "both" */
} bt_event_type;

extern const bt_event_type bt_event_types[];
extern const size_t bt_event_types_count;

#endif
