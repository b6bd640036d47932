/* Signed requests of the load generator (docs/protocol.md, "Signed statements"). */
#ifndef TENDERD_BENCH_SIGN_H
#define TENDERD_BENCH_SIGN_H

#include <stddef.h>

struct ident;

/* Whether the request line `line` (`{"id":N,"op":"NAME",...}`) is of a signed operation. */
int bsign_needed(const char *line);

/*
 * Sign the request line `line` (n bytes, `{"id":N,"op":"NAME",...}` without LF) with the
 * identity's key: writes to out the same request with "statement" (op, a nonce, the time
 * and the request's other fields) and "signature" (detached CMS, DER, base64) added, and
 * LF. Returns its length, or 0 when it does not fit or signing failed.
 */
size_t bsign_line(struct ident *id, const char *line, size_t n, char *out, size_t cap);

#endif
