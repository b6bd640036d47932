/*
 * Stall probe (--stall-probe): how often and for how long this machine takes
 * the CPUs away from the processes under test. It sleeps 1 ms at a time for
 * --duration seconds and records how late each wake-up is. A late wake-up means
 * that no CPU was free for this process: the other processes were busy, or the
 * kernel or the hypervisor ran something else. The probe itself uses well under
 * 1 % of a core.
 *
 * It also reports the CPU time of kernel threads named kdamond* (DAMON, the
 * kernel's data access monitor) over the same window, when there are any: on
 * virtual machines that run it, its sampling takes one CPU for milliseconds at
 * a time, at its own fixed interval.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/hist.h"
#include "bench/opts.h"
#include "bench/probe.h"
#include "bench/procfs.h"

#define PROBE_MAX_KD 8

static uint64_t
probe_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Pids of the kdamond kernel threads (at most max). */
static int
probe_kdamonds(int *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while (n < max && (e = readdir(d)) != NULL) {
		char path[300], comm[64];
		FILE *f;
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) && strncmp(comm, "kdamond", 7) == 0)
			pids[n++] = atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return n;
}

static int
probe_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
probe_run(const struct opts *o)
{
	const struct timespec ms = { 0, 1000000 };
	uint64_t t0, end, last, *stalls = NULL, *gaps;
	size_t nstalls = 0, capstalls = 0, late5 = 0, late10 = 0, late20 = 0, n = 0;
	int kd[PROBE_MAX_KD], nkd = probe_kdamonds(kd, PROBE_MAX_KD);
	int64_t kd0 = 0, kd1 = 0;
	struct hist h;

	hist_init(&h);
	for (int i = 0; i < nkd; i++)
		kd0 += procfs_cpu_us(kd[i]);
	t0 = last = probe_now_us();
	end = t0 + (uint64_t)o->duration * 1000000u;
	while (last < end) {
		uint64_t now, late;
		nanosleep(&ms, NULL);
		now = probe_now_us();
		late = now - last > 1000 ? now - last - 1000 : 0;
		hist_add(&h, late);
		n++;
		if (late >= 5000) {
			late5++;
			if (nstalls == capstalls) {
				size_t ncap = capstalls ? capstalls * 2 : 256;
				uint64_t *ns = realloc(stalls, ncap * sizeof(*ns));
				if (ns == NULL)
					break;
				stalls = ns;
				capstalls = ncap;
			}
			stalls[nstalls++] = last - t0;  /* when the stall began */
		}
		if (late >= 10000)
			late10++;
		if (late >= 20000)
			late20++;
		last = now;
	}
	for (int i = 0; i < nkd; i++)
		kd1 += procfs_cpu_us(kd[i]);
	/* the typical spacing of stalls of 5 ms or more: periodic stalls have one */
	uint64_t spacing = 0;
	if (nstalls > 2 && (gaps = malloc((nstalls - 1) * sizeof(*gaps))) != NULL) {
		for (size_t i = 1; i < nstalls; i++)
			gaps[i - 1] = stalls[i] - stalls[i - 1];
		qsort(gaps, nstalls - 1, sizeof(*gaps), probe_cmp);
		spacing = gaps[(nstalls - 1) / 2];
		free(gaps);
	}
	free(stalls);
	printf("== stall probe: %d s, %zu wake-ups of 1 ms\n", o->duration, n);
	printf("late by us         p50 %llu, p99 %llu, p99.9 %llu, max %llu\n",
	    (unsigned long long)hist_quantile(&h, 50, 100),
	    (unsigned long long)hist_quantile(&h, 99, 100),
	    (unsigned long long)hist_quantile(&h, 999, 1000), (unsigned long long)h.max);
	printf("stalls             %zu of >= 5 ms (median spacing %llu ms), %zu of >= 10 ms, "
	    "%zu of >= 20 ms\n", late5, (unsigned long long)(spacing / 1000u), late10, late20);
	if (nkd > 0)
		printf("kdamond            %d thread(s), %lld ms of CPU in the window\n", nkd,
		    (long long)((kd1 - kd0) / 1000));
	printf("RESULT mode=probe seconds=%d wakeups=%zu late_p99_us=%llu late_max_us=%llu "
	    "stalls_5ms=%zu stalls_10ms=%zu stalls_20ms=%zu stall_spacing_ms=%llu kdamonds=%d "
	    "kdamond_cpu_ms=%lld\n", o->duration, n,
	    (unsigned long long)hist_quantile(&h, 99, 100), (unsigned long long)h.max, late5,
	    late10, late20, (unsigned long long)(spacing / 1000u), nkd,
	    nkd > 0 ? (long long)((kd1 - kd0) / 1000) : -1LL);
	fflush(stdout);
	return 0;
}
