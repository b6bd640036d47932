/* Memory and CPU time of the processes under test, read from /proc. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/procfs.h"

/* A "Name:   value kB" field of /proc/PID/status. */
static long
procfs_status_kb(int pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long v = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			v = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Resident set size in KiB. */
long
procfs_rss_kb(int pid)
{
	return procfs_status_kb(pid, "VmRSS");
}

/* Peak resident set size in KiB. */
long
procfs_hwm_kb(int pid)
{
	return procfs_status_kb(pid, "VmHWM");
}

/* utime + stime (fields 14 and 15) and the parent pid (field 4) of /proc/PID/stat. */
static int
procfs_stat(int pid, int64_t *cpu_us, int *ppid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	long hz = sysconf(_SC_CLK_TCK);
	size_t len;
	FILE *f;
	int pp = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* the command name is in parentheses and may hold spaces: start after the last ')' */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &pp, &ut, &st) != 3)
		return -1;
	if (hz <= 0)
		hz = 100;
	*cpu_us = (int64_t)((ut + st) * 1000000ULL / (unsigned long long)hz);
	if (ppid)
		*ppid = pp;
	return 0;
}

/* CPU time of one process in microseconds. */
int64_t
procfs_cpu_us(int pid)
{
	int64_t v;

	if (pid <= 0 || procfs_stat(pid, &v, NULL) < 0)
		return -1;
	return v;
}

/* CPU time of a process plus its direct children. */
int64_t
procfs_tree_cpu_us(int pid)
{
	int64_t total, v;
	struct dirent *de;
	DIR *d;
	int ppid;

	if ((total = procfs_cpu_us(pid)) < 0)
		return -1;
	if ((d = opendir("/proc")) == NULL)
		return total;
	while ((de = readdir(d)) != NULL) {
		int child = atoi(de->d_name);
		if (child <= 0 || child == pid)
			continue;
		if (procfs_stat(child, &v, &ppid) == 0 && ppid == pid)
			total += v;
	}
	closedir(d);
	return total;
}

/* Our own CPU time. */
int64_t
procfs_self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
	    (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}
