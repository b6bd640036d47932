/* CPU time of the server, PostgreSQL and the load generator over a measured window. */
#include <stdio.h>

#include "bench/cpu.h"
#include "bench/lg.h"
#include "bench/opts.h"
#include "bench/procfs.h"

/* Start a CPU window. */
void
cpu_begin(const struct opts *o, struct cpu_window *w)
{
	w->t0 = lg_now_us();
	w->server0 = o->server_pid > 0 ? procfs_cpu_us(o->server_pid) : -1;
	w->pg0 = o->pg_pid > 0 ? procfs_tree_cpu_us(o->pg_pid) : -1;
	w->self0 = procfs_self_cpu_us();
}

/* Close a CPU window: percentages of one core. */
void
cpu_end(const struct opts *o, const struct cpu_window *w, char *buf, size_t n,
    int64_t *server_us)
{
	uint64_t span = lg_now_us() - w->t0;
	int64_t sv = o->server_pid > 0 ? procfs_cpu_us(o->server_pid) : -1;
	int64_t pg = o->pg_pid > 0 ? procfs_tree_cpu_us(o->pg_pid) : -1;
	int64_t self = procfs_self_cpu_us();

	if (span == 0)
		span = 1;
	*server_us = sv >= 0 && w->server0 >= 0 ? sv - w->server0 : -1;
	snprintf(buf, n, "cpu_server_pct=%lld cpu_pg_pct=%lld cpu_loadgen_pct=%lld",
	    (long long)(*server_us >= 0 ? *server_us * 100 / (int64_t)span : -1),
	    (long long)(pg >= 0 && w->pg0 >= 0 ? (pg - w->pg0) * 100 / (int64_t)span : -1),
	    (long long)((self - w->self0) * 100 / (int64_t)span));
}
