/* RSS and CPU time of processes from /proc (procfs.c). */
#ifndef TENDERD_BENCH_PROCFS_H
#define TENDERD_BENCH_PROCFS_H

#include <stdint.h>

/* Resident set size in KiB, -1 when unknown. */
long procfs_rss_kb(int pid);
/* Peak resident set size (VmHWM) in KiB, -1 when unknown. */
long procfs_hwm_kb(int pid);
/* CPU time (user + system) of a process in microseconds, -1 when unknown. */
int64_t procfs_cpu_us(int pid);
/* The same summed over a process and its direct children (a postmaster and its backends). */
int64_t procfs_tree_cpu_us(int pid);
/* Our own CPU time in microseconds. */
int64_t procfs_self_cpu_us(void);

#endif
