/*
 * Field extraction from tenderd's replies and events without a full JSON parse.
 *
 * tenderd writes compact JSON (no spaces) with each key once per object; the
 * load generator only needs a few scalar fields ("id", "seq", "rank",
 * "best_price", "bids", "code") and reads tens of thousands of lines per
 * second on a core it shares with the server, so it looks them up by key.
 * The first occurrence of a key wins: the reply's own "id" comes before the
 * "id" of a nested bid or auction. A quoted key inside a string value is
 * escaped (\"key\":) and so never matches.
 */
#include <stdlib.h>
#include <string.h>

#include "bench/jscan.h"

/* Pointer just past "key": or NULL. */
const char *
jscan_find(const char *line, const char *key)
{
	char pat[64];
	size_t k = strlen(key);
	const char *p;

	if (k + 4 > sizeof(pat))
		return NULL;
	pat[0] = '"';
	memcpy(pat + 1, key, k);
	pat[k + 1] = '"';
	pat[k + 2] = ':';
	pat[k + 3] = '\0';
	p = strstr(line, pat);
	return p ? p + k + 3 : NULL;
}

/* Integer value of "key". */
int
jscan_int(const char *line, const char *key, int64_t *out)
{
	const char *p = jscan_find(line, key);
	char *end;
	long long v;

	if (p == NULL || (*p != '-' && (*p < '0' || *p > '9')))
		return -1;
	v = strtoll(p, &end, 10);
	if (end == p)
		return -1;
	*out = v;
	return 0;
}

/* String value of "key" (null gives 1). */
int
jscan_str(const char *line, const char *key, char *buf, size_t n)
{
	const char *p = jscan_find(line, key), *q;

	if (p == NULL)
		return -1;
	if (strncmp(p, "null", 4) == 0) {
		if (n)
			buf[0] = '\0';
		return 1;
	}
	if (*p != '"')
		return -1;
	p++;
	if ((q = strchr(p, '"')) == NULL || (size_t)(q - p) >= n)
		return -1;
	memcpy(buf, p, (size_t)(q - p));
	buf[q - p] = '\0';
	return 0;
}

/* "ok":true anywhere in the line (replies carry it at top level only). */
int
jscan_ok(const char *line)
{
	const char *p = jscan_find(line, "ok");

	return p && strncmp(p, "true", 4) == 0;
}
