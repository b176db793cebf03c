/* Wall-clock helpers. */
#ifndef TB_CORE_CLOCK_H
#define TB_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline int64_t tb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "YYYY-MM-DD HH:MM:SS" UTC (ServiceNow's datetime format). */
static inline void tb_fmt_utc(int64_t unix_s, char *out, size_t outsz)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outsz, "%Y-%m-%d %H:%M:%S", &tm);
}

#endif
