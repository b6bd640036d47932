/* Logging: one key=value line per event on standard error. */
#ifndef TENDERD_LOG_H
#define TENDERD_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set the lowest level printed. */
void log_set_level(enum log_level l);
/* Parse "debug"/"info"/"warn"/"error"; -1 when unknown. */
int log_level_parse(const char *s);
/* True when messages of level `l` are printed. */
int log_enabled(enum log_level l);
/* Print "TIME LEVEL message" (printf format). */
void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
