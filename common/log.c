#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/timeutil.h"

static enum log_level log_min = LOG_INFO;
static const char *const log_names[] = { "debug", "info", "warn", "error" };

/* Set the lowest level printed. */
void
log_set_level(enum log_level l)
{
	log_min = l;
}

/* Map a level name to its value. */
int
log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	return -1;
}

/* Whether a level is printed. */
int
log_enabled(enum log_level l)
{
	return l >= log_min;
}

/* Format and print one log line in a single write. */
void
log_msg(enum log_level l, const char *fmt, ...)
{
	char line[2048], ts[TIME_BUF];
	va_list ap;
	int n;

	if (l < log_min)
		return;
	time_format(time_now_ms(), ts);
	n = snprintf(line, sizeof(line), "%s %s ", ts, log_names[l]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
}
