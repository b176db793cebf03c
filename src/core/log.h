/* Structured logging: one logfmt line per call (ts=... level=... msg=... k=v).
 * Thread-safe. Lines are written to a file (or stderr) through one buffered
 * stream guarded by a mutex; tb_log_flush() is called periodically and at exit.
 * Never pass secrets to these functions. */
#ifndef TB_CORE_LOG_H
#define TB_CORE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include "core/err.h"

typedef enum { TB_LOG_DEBUG, TB_LOG_INFO, TB_LOG_WARN, TB_LOG_ERROR } tb_log_level;

/* path NULL or "" or "-" = stderr. */
tb_err tb_log_open(const char *path, tb_log_level level);
tb_err tb_log_reopen(void);             /* SIGHUP: reopen the same path */
void tb_log_flush(void);
void tb_log_close(void);
bool tb_log_enabled(tb_log_level lvl);
tb_err tb_log_level_parse(const char *s, tb_log_level *out);

/* fmt produces the key=value tail after "msg=..."; values containing spaces
 * or quotes should be passed through tb_log_quote. */
void tb_log(tb_log_level lvl, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes s as a logfmt value into out (quoted/escaped when needed, control
 * characters escaped, truncated to outsz-1). Returns out. */
const char *tb_log_quote(char *out, size_t outsz, const char *s);

#define TB_LOGD(msg, ...) do { if (tb_log_enabled(TB_LOG_DEBUG)) tb_log(TB_LOG_DEBUG, msg, __VA_ARGS__); } while (0)
#define TB_LOGI(msg, ...) tb_log(TB_LOG_INFO, msg, __VA_ARGS__)
#define TB_LOGW(msg, ...) tb_log(TB_LOG_WARN, msg, __VA_ARGS__)
#define TB_LOGE(msg, ...) tb_log(TB_LOG_ERROR, msg, __VA_ARGS__)

#endif
