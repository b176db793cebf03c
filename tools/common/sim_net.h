/* What the simulators (btsim, epmsim) share: a listening socket on an exact
 * address (0 = any free port, reported back), the port file tests wait for,
 * and the deadline of a sleep that a stop request cuts short. */
#ifndef TB_SIM_NET_H
#define TB_SIM_NET_H

#include <stdbool.h>
#include <time.h>

/* A bound, listening TCP socket on addr (IPv4 or IPv6 literal) and port;
 * *bound = the port it got. -1 with errno set on failure. */
int sim_listen(const char *addr, int port, int backlog, int *bound);
/* The same from "ADDR:PORT" ("[::1]:0" for IPv6); errno EINVAL when the
 * spec does not parse. */
int sim_listen_spec(const char *spec, int backlog, int *bound);

/* Writes "PORT\n" to path atomically (temporary file, then rename), so a
 * reader never sees a partial number. false (logged) on failure. */
bool sim_write_port_file(const char *path, int port);

/* The CLOCK_REALTIME time seconds from now, for pthread_cond_timedwait
 * (the simulators' sleeps wait on their stop condition until then). */
struct timespec sim_deadline(double seconds);

#endif
