/*
 * Line framing of a connection's input, without I/O: where the next request
 * line ends, and whether it is too long. conn.c feeds it the start of the
 * input buffer; tests and the fuzz target feed it plain memory.
 *
 * The rules (docs/protocol.md):
 *  - a line ends at the first LF; one CR right before the LF is not part of it;
 *  - a line (without LF and that CR) longer than max_line bytes is refused
 *    (FRAME_TOO_LONG), and so is input that holds more than max_line + 1
 *    bytes without a LF: it can no longer become an acceptable line;
 *  - every other byte, NUL and a CR anywhere else included, belongs to the
 *    line as it is: judging it is the decoder's business;
 *  - an empty line is a line of length 0 (the caller skips it).
 * At most max_line + 2 bytes are ever needed to decide.
 */
#ifndef TENDERD_FRAME_H
#define TENDERD_FRAME_H

#include <stddef.h>
#include <sys/types.h>

enum frame_status {
	FRAME_MORE = 0,    /* no complete line yet: wait for more input */
	FRAME_LINE,        /* a complete line: buf[0..len), then drop `used` bytes */
	FRAME_TOO_LONG,    /* the line exceeds max_line: refuse and close */
};

/* A complete line at the start of the input. */
struct frame {
	size_t len;        /* bytes of the line, without CR LF */
	size_t used;       /* bytes it occupies in the input, CR LF included */
};

/* How many leading bytes of the input frame_next() must see, given the offset
 * of the first LF (`eol`, -1 when the input holds none) and the input's length
 * `avail`: through the LF, at most max_line + 2; none while the input has no
 * LF and may still become a line. */
size_t frame_window(ssize_t eol, size_t avail, size_t max_line);

/* Look at the first `n` bytes of the input (`buf` may be NULL when n is 0) and
 * tell what they hold; fills `f` for FRAME_LINE. */
enum frame_status frame_next(const char *buf, size_t n, size_t max_line, struct frame *f);

#endif
