/* Counts failed password checks per key (a peer address or a user name,
 * hashed by the caller) in fixed windows, so that a flood of wrong
 * passwords stops costing an Argon2id verification each once a key has had
 * max_failures in its window. Bounded table, thread-safe. */
#ifndef TB_FLOW_AUTH_THROTTLE_H
#define TB_FLOW_AUTH_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "flow/auth_cache.h"

typedef struct auth_throttle auth_throttle;

tb_err auth_throttle_new(size_t slots, int max_failures, int64_t window_ms, auth_throttle **out);
void auth_throttle_free(auth_throttle *t);
/* Whether key has used up its failures in the current window; if so,
 * *retry_ms says when the window ends. */
bool auth_throttle_blocked(auth_throttle *t, const unsigned char key[AUTH_KEY_BYTES], int64_t now_ms,
                           int64_t *retry_ms);
/* Counts one failure. True when this one used up the window's allowance
 * (so the caller logs the throttling once, not per request). */
bool auth_throttle_fail(auth_throttle *t, const unsigned char key[AUTH_KEY_BYTES], int64_t now_ms);

#endif
