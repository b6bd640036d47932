/*
 * Text rules for what participants type: strings are stored in Unicode NFC,
 * lengths are counted in code points ("characters") of that form, names and
 * titles refuse invisible and control characters, and names compare by a
 * folded key (NFC, then Unicode case folding). Input is valid UTF-8 (the JSON
 * decoder refuses anything else).
 */
#ifndef TENDERD_TEXT_H
#define TENDERD_TEXT_H

#include <stddef.h>

/* What a string is, for text_check(). */
enum text_kind {
	TEXT_FREE = 0,  /* descriptions, reasons, questions: anything */
	TEXT_LINE,      /* titles: no controls, line breaks or bidi embeddings/overrides/isolates */
	TEXT_NAME,      /* organization and participant names: no invisible characters at all,
	                 * no white space at either end */
};

/* Number of code points in `n` bytes of UTF-8 (an invalid byte counts as one). */
size_t text_len(const char *s, size_t n);

/*
 * The NFC form of `n` bytes of UTF-8. Returns 0 when `s` is already in NFC
 * (`*out` is NULL), 1 with a malloc'd NUL-terminated copy in `*out` and its
 * length in `*outn`, -1 when `s` is not valid UTF-8 or memory ran out.
 */
int text_nfc(const char *s, size_t n, char **out, size_t *outn);

/* The comparison key of a name: NFC, case-folded, malloc'd; NULL on error. */
char *text_fold(const char *s);

/*
 * Check `n` bytes of UTF-8 against the rules of `kind`: 0, or -1 with a
 * sentence in `why` naming the first offending character, such as
 * "contains an invisible or control character (U+200B) at character 3".
 */
int text_check(const char *s, size_t n, enum text_kind kind, char *why, size_t whyn);

#endif
