/* Money: decimal strings <-> int64 minor units, with exact integer arithmetic. */
#include "common/money.h"

#include <stdint.h>
#include <string.h>

/* Most fraction digits any amount may have (int64 holds 18 full digits). */
#define MONEY_EXP_MAX 18

/* Whether `c` is an ASCII decimal digit. */
static int money_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

/* Number of fraction digits of an ISO 4217 code, -1 when not three upper-case letters. */
int money_exponent(const char *code)
{
	static const char zero[] =
	    "JPY KRW VND ISK CLP PYG UGX XAF XOF KMF RWF VUV XPF DJF GNF BIF";
	static const char three[] = "BHD KWD OMR JOD TND IQD LYD";

	if (code == NULL)
		return -1;
	for (int i = 0; i < 3; i++)
		if (code[i] < 'A' || code[i] > 'Z')
			return -1;
	if (code[3] != '\0')
		return -1;
	/* Codes sit every 4 characters, separated by one space. */
	for (size_t i = 0; i + 3 < sizeof(zero); i += 4)
		if (memcmp(zero + i, code, 3) == 0)
			return 0;
	for (size_t i = 0; i + 3 < sizeof(three); i += 4)
		if (memcmp(three + i, code, 3) == 0)
			return 3;
	return 2;
}

/* Append digit `d` to `*v` (v = v * 10 + d); -1 when the result would exceed MONEY_MAX. */
static int money_push_digit(int64_t *v, int d)
{
	if (*v > (MONEY_MAX - d) / 10)
		return -1;
	*v = *v * 10 + d;
	return 0;
}

/* Parse the `len` bytes at `s` as an unsigned decimal with at most `exp` fraction digits. */
static int money_parse_n(const char *s, size_t len, int exp, int64_t *out)
{
	size_t i = 0;
	int64_t v = 0;
	int frac = 0;

	if (s == NULL || exp < 0 || exp > MONEY_EXP_MAX)
		return -1;
	if (len == 0 || !money_isdigit(s[0]))
		return -1;
	while (i < len && money_isdigit(s[i])) {
		if (money_push_digit(&v, s[i] - '0') != 0)
			return -1;
		i++;
	}
	if (i < len) {
		if (s[i] != '.')
			return -1;
		i++;
		if (i == len)
			return -1;
		while (i < len) {
			if (!money_isdigit(s[i]) || frac == exp)
				return -1;
			if (money_push_digit(&v, s[i] - '0') != 0)
				return -1;
			frac++;
			i++;
		}
	}
	for (; frac < exp; frac++)
		if (money_push_digit(&v, 0) != 0)
			return -1;
	*out = v;
	return 0;
}

/* Parse a decimal amount into minor units with `exp` fraction digits; 0 or -1. */
int money_parse(const char *s, int exp, int64_t *out)
{
	if (s == NULL)
		return -1;
	return money_parse_n(s, strlen(s), exp, out);
}

/* Copy the NUL-terminated `src` into buf of size n, truncating when needed. */
static void money_copy(char *buf, size_t n, const char *src)
{
	size_t len;

	if (buf == NULL || n == 0)
		return;
	len = strlen(src);
	if (len >= n)
		len = n - 1;
	memcpy(buf, src, len);
	buf[len] = '\0';
}

/* Format minor units with exactly `exp` fraction digits into a scratch buffer of 48 bytes. */
static void money_format_raw(int64_t v, int exp, char *tmp)
{
	char digits[24];
	int nd = 0, k = 0;
	uint64_t m;

	if (exp < 0)
		exp = 0;
	if (exp > MONEY_EXP_MAX)
		exp = MONEY_EXP_MAX;
	/* Magnitude without negating INT64_MIN in signed arithmetic. */
	m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		digits[nd++] = (char)('0' + m % 10);
		m /= 10;
	} while (m != 0);
	/* At least one integer digit in front of the fraction. */
	while (nd < exp + 1)
		digits[nd++] = '0';

	if (v < 0)
		tmp[k++] = '-';
	for (int i = nd - 1; i >= 0; i--) {
		tmp[k++] = digits[i];
		if (i == exp && exp > 0)
			tmp[k++] = '.';
	}
	tmp[k] = '\0';
}

/* Format minor units with exactly `exp` fraction digits; always NUL-terminates. */
void money_format(int64_t v, int exp, char *buf, size_t n)
{
	char tmp[48];

	money_format_raw(v, exp, tmp);
	money_copy(buf, n, tmp);
}

/* Parse a step: a percent of the start price ("0.5%") or an amount ("5000.00"). */
int money_parse_step(const char *s, int exp, int *is_percent, int64_t *value)
{
	size_t len;
	int64_t v;

	if (s == NULL)
		return -1;
	len = strlen(s);
	if (len > 0 && s[len - 1] == '%') {
		if (money_parse_n(s, len - 1, 2, &v) != 0 || v <= 0 || v > 10000)
			return -1;
		*is_percent = 1;
		*value = v;
		return 0;
	}
	if (money_parse_n(s, len, exp, &v) != 0 || v <= 0)
		return -1;
	*is_percent = 0;
	*value = v;
	return 0;
}

/* Amount of a percent step: start_price * bp / 10000 rounded half up, at least 1. */
int64_t money_percent_of(int64_t start_price, int64_t bp)
{
	int64_t q, r, whole, part, sum;

	if (start_price <= 0 || bp <= 0)
		return 1;
	/* start_price = q * 10000 + r, so the product splits into q*bp + r*bp/10000. */
	q = start_price / 10000;
	r = start_price % 10000;
	if (__builtin_mul_overflow(q, bp, &whole))
		return INT64_MAX;
	if (bp > INT64_MAX / 10000) {
		/* r * bp could overflow: split bp the same way. */
		int64_t bq = bp / 10000, br = bp % 10000;

		if (__builtin_mul_overflow(r, bq, &part))
			return INT64_MAX;
		part += (r * br + 5000) / 10000;
	} else {
		part = (r * bp + 5000) / 10000;
	}
	if (__builtin_add_overflow(whole, part, &sum))
		return INT64_MAX;
	return sum < 1 ? 1 : sum;
}

/* Format a step as it was given: "0.5%" for 50 basis points, or an amount. */
void money_format_step(int is_percent, int64_t value, int exp, char *buf, size_t n)
{
	char tmp[48];
	size_t len;

	if (!is_percent) {
		money_format(value, exp, buf, n);
		return;
	}
	money_format_raw(value, 2, tmp);
	len = strlen(tmp);
	while (len > 0 && tmp[len - 1] == '0')
		len--;
	if (len > 0 && tmp[len - 1] == '.')
		len--;
	tmp[len++] = '%';
	tmp[len] = '\0';
	money_copy(buf, n, tmp);
}
