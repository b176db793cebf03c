/* WAL checkpoints on a thread of their own. The writer turns automatic
 * checkpoints off (they would run inside its commits); this thread copies
 * the WAL back every interval (PASSIVE: never blocks anyone), often enough
 * that it keeps up under load, and starts the WAL over (RESTART) when it
 * has grown past a bound anyway. Because the copy has kept up, the RESTART
 * has little left to do and holds writers back only briefly. */
#ifndef TB_FLOW_CHECKPOINTER_H
#define TB_FLOW_CHECKPOINTER_H

#include <stdint.h>
#include "core/err.h"

typedef struct checkpointer checkpointer;

tb_err checkpointer_start(const char *db_path, int interval_ms, int64_t truncate_bytes, checkpointer **out);
/* Stops the thread (after its current checkpoint) and closes its connection. */
void checkpointer_stop(checkpointer *c);

#endif
