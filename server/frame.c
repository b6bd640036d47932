/* Line framing of a connection's input (see frame.h for the rules). */
#include "server/frame.h"

#include <string.h>

/* Bytes of input frame_next() needs to see to decide (see frame.h). */
size_t
frame_window(ssize_t eol, size_t avail, size_t max_line)
{
	size_t cap = max_line + 2;   /* a CR LF-terminated line of max_line bytes */

	if (eol >= 0)
		return (size_t)eol + 1 < cap ? (size_t)eol + 1 : cap;
	/* no LF: only input that can no longer be a line needs a look */
	return avail > max_line + 1 ? cap : 0;
}

/* Find the line at the start of buf[0..n) (see frame.h). */
enum frame_status
frame_next(const char *buf, size_t n, size_t max_line, struct frame *f)
{
	const char *lf = n > 0 ? memchr(buf, '\n', n) : NULL;
	size_t pos, len;

	if (lf == NULL)
		return n > max_line + 1 ? FRAME_TOO_LONG : FRAME_MORE;
	pos = (size_t)(lf - buf);
	if (pos > max_line + 1)
		return FRAME_TOO_LONG;
	len = pos;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len > max_line)
		return FRAME_TOO_LONG;
	f->len = len;
	f->used = pos + 1;
	return FRAME_LINE;
}
