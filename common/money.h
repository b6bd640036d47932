/* Money: int64 minor units inside, decimal strings on the wire. Never floats. */
#ifndef TENDERD_MONEY_H
#define TENDERD_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Largest amount accepted anywhere, in minor units (fits int64 with room for sums). */
#define MONEY_MAX 999999999999999999LL

/* Number of fraction digits of an ISO 4217 code ("RUB" -> 2, "JPY" -> 0,
 * "KWD" -> 3). -1 when `code` is not three upper-case ASCII letters. */
int money_exponent(const char *code);

/* Parse "995000", "995000.5", "995000.50" into minor units with `exp`
 * fraction digits. No sign, no exponent, no spaces, no more fraction digits
 * than `exp`, at least one integer digit, value <= MONEY_MAX.
 * Returns 0 on success, -1 on any malformed input. */
int money_parse(const char *s, int exp, int64_t *out);

/* Format minor units with exactly `exp` fraction digits ("995000.00"; a
 * negative value gets a leading '-'). Always NUL-terminates; needs n >= 32. */
void money_format(int64_t v, int exp, char *buf, size_t n);

/* A step is a percent of the start price ("0.5%", at most 2 decimals, > 0,
 * <= 100) or an amount ("5000.00", > 0). On success sets *is_percent and
 * *value (basis points for a percent: "0.5%" -> 50; minor units for an
 * amount) and returns 0; -1 on malformed input. */
int money_parse_step(const char *s, int exp, int *is_percent, int64_t *value);

/* Amount of a percent step: start_price * bp / 10000, rounded half up, at
 * least 1. Exact integer arithmetic (no overflow for start_price <= MONEY_MAX). */
int64_t money_percent_of(int64_t start_price, int64_t bp);

/* Format a step as it was given: "0.5%" (bp 50; no trailing zeros) or an amount. */
void money_format_step(int is_percent, int64_t value, int exp, char *buf, size_t n);

#endif
