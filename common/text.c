/* Text rules: NFC, lengths in code points, invisible characters, name keys
 * (libunistring). */
#include "common/text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

/* True when the `n` bytes are all ASCII (ASCII is its own NFC). */
static int
text_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* Number of code points in `n` bytes of UTF-8. */
size_t
text_len(const char *s, size_t n)
{
	return u8_mbsnlen((const uint8_t *)s, n);
}

/* NFC form of `s` (see text.h). */
int
text_nfc(const char *s, size_t n, char **out, size_t *outn)
{
	uint8_t *r;
	size_t len = 0;

	*out = NULL;
	if (text_ascii(s, n))
		return 0;
	if (u8_check((const uint8_t *)s, n) != NULL)
		return -1;
	if ((r = u8_normalize(UNINORM_NFC, (const uint8_t *)s, n, NULL, &len)) == NULL)
		return -1;
	if (len == n && memcmp(r, s, n) == 0) {
		free(r);
		return 0;
	}
	if ((*out = malloc(len + 1)) != NULL) {
		memcpy(*out, r, len);
		(*out)[len] = '\0';
		*outn = len;
	}
	free(r);
	return *out ? 1 : -1;
}

/* Comparison key of a name: NFC of its case folding. */
char *
text_fold(const char *s)
{
	size_t n = strlen(s), len = 0;
	uint8_t *r;
	char *key;

	if (u8_check((const uint8_t *)s, n) != NULL)
		return NULL;
	r = u8_casefold((const uint8_t *)s, n, NULL, UNINORM_NFC, NULL, &len);
	if (r == NULL)
		return NULL;
	if ((key = malloc(len + 1)) != NULL) {
		memcpy(key, r, len);
		key[len] = '\0';
	}
	free(r);
	return key;
}

/* Bidi embeddings, overrides and isolates, and the byte order mark: never in a title. */
static int
text_bidi_control(ucs4_t uc)
{
	return (uc >= 0x202A && uc <= 0x202E) || (uc >= 0x2066 && uc <= 0x2069) || uc == 0xFEFF;
}

/* Whether `uc` is refused in a string of `kind`. */
static int
text_refused(ucs4_t uc, enum text_kind kind)
{
	if (kind == TEXT_FREE)
		return 0;
	if (uc_is_general_category(uc, UC_CATEGORY_Cc) ||
	    uc_is_general_category(uc, UC_CATEGORY_Zl) ||
	    uc_is_general_category(uc, UC_CATEGORY_Zp) || text_bidi_control(uc))
		return 1;
	/* every format character is invisible: zero-width space and joiners, word
	 * joiner, directional marks, soft hyphen... */
	return kind == TEXT_NAME && uc_is_general_category(uc, UC_CATEGORY_Cf);
}

/* Check a string against the rules of its kind (see text.h). */
int
text_check(const char *s, size_t n, enum text_kind kind, char *why, size_t whyn)
{
	const uint8_t *p = (const uint8_t *)s, *end = p + n;
	size_t pos = 0;
	ucs4_t uc = 0;

	if (u8_check(p, n) != NULL) {
		snprintf(why, whyn, "is not valid UTF-8");
		return -1;
	}
	while (p < end) {
		int k = u8_mbtouc(&uc, p, (size_t)(end - p));
		pos++;
		if (text_refused(uc, kind)) {
			snprintf(why, whyn, "contains an invisible or control character (U+%04X) at "
			    "character %zu", (unsigned)uc, pos);
			return -1;
		}
		if (kind == TEXT_NAME && (pos == 1 || p + k == end) &&
		    uc_is_property_white_space(uc)) {
			snprintf(why, whyn, "must not begin or end with white space");
			return -1;
		}
		p += k;
	}
	return 0;
}
