/* tenderctl's configuration file: default options as `key = value` lines. */
#ifndef TENDERCTL_CONF_H
#define TENDERCTL_CONF_H

#include <stddef.h>

/* One setting read from the file: the key, its value (relative file names already made
 * relative to the file's directory for cert, key and ca) and its line. */
typedef int conf_fn(void *arg, const char *path, int line, const char *key, const char *value);

/*
 * The file to read: `explicit_path` (--config), else $TENDERCTL_CONFIG, else
 * $XDG_CONFIG_HOME/tenderctl/config, else $HOME/.config/tenderctl/config. `*required` is set
 * when it was named (--config or TENDERCTL_CONFIG): then it must exist. Writes the path into
 * `buf`; returns buf, or NULL when there is no file to look for.
 */
const char *conf_path(const char *explicit_path, char *buf, size_t n, int *required);

/*
 * Read `path` (`#` comments, blank lines, `key = value`, values optionally double-quoted)
 * and call `fn` for each setting; the strings live until conf_free. 0; 1 when the file does
 * not exist and is not required; -1 after a message (unreadable file, malformed line, or
 * `fn` failed).
 */
int conf_load(const char *path, int required, conf_fn *fn, void *arg);

/* Free the values conf_load kept. */
void conf_free(void);

#endif
