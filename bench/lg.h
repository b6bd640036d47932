/* Clocks and progress messages shared by the modes of the load generator (lg.c). */
#ifndef TENDERD_BENCH_LG_H
#define TENDERD_BENCH_LG_H

#include <stdint.h>

struct opts;

/* Monotonic microseconds. */
uint64_t lg_now_us(void);
/* Wall-clock microseconds since the epoch. */
uint64_t lg_wall_us(void);

/* Progress messages on stderr (unless --quiet). */
void lg_note(const struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
