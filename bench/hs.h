/* The handshake and idle-connection modes (hs.c). */
#ifndef TENDERD_BENCH_HS_H
#define TENDERD_BENCH_HS_H

struct opts;

int hs_run(const struct opts *o);
int idle_run(const struct opts *o);

#endif
