/* CPU time of the server, PostgreSQL and the load generator over a window (cpu.c). */
#ifndef TENDERD_BENCH_CPU_H
#define TENDERD_BENCH_CPU_H

#include <stddef.h>
#include <stdint.h>

struct opts;

/* CPU accounting over a measured window: server, PostgreSQL, the load generator. */
struct cpu_window {
	uint64_t t0;
	int64_t server0, pg0, self0;
};
void cpu_begin(const struct opts *o, struct cpu_window *w);
/* "cpu_server=..% cpu_pg=..% cpu_loadgen=..%" of one core each, into buf. */
void cpu_end(const struct opts *o, const struct cpu_window *w, char *buf, size_t n,
    int64_t *server_us);

#endif
