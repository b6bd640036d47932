/* Field extraction from tenderd's compact JSON lines (jscan.c). */
#ifndef TENDERD_BENCH_JSCAN_H
#define TENDERD_BENCH_JSCAN_H

#include <stddef.h>
#include <stdint.h>

/* Pointer just past "key": in a compact JSON line, or NULL. */
const char *jscan_find(const char *line, const char *key);
/* Integer value of "key"; 0, or -1 when absent or not an integer. */
int jscan_int(const char *line, const char *key, int64_t *out);
/* String value of "key" copied to buf (no unescaping: codes and amounts only);
 * 0, 1 when the value is null, -1 when absent or too long. */
int jscan_str(const char *line, const char *key, char *buf, size_t n);
/* "ok":true in the line. */
int jscan_ok(const char *line);

#endif
