/* tenderctl's configuration file (see conf.h and docs/tenderctl.md). */
#include "client/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every value handed out, freed together by conf_free. */
static char **conf_kept;
static size_t conf_nkept;

/* Keep `s` (malloc'd) until conf_free; NULL when out of memory. */
static const char *
conf_keep(char *s)
{
	char **k;

	if (s == NULL || (k = realloc(conf_kept, (conf_nkept + 1) * sizeof(*k))) == NULL) {
		free(s);
		return NULL;
	}
	conf_kept = k;
	conf_kept[conf_nkept++] = s;
	return s;
}

/* Free the values conf_load kept. */
void
conf_free(void)
{
	for (size_t i = 0; i < conf_nkept; i++)
		free(conf_kept[i]);
	free(conf_kept);
	conf_kept = NULL;
	conf_nkept = 0;
}

/* The file to read, by precedence; NULL when no location is known. */
const char *
conf_path(const char *explicit_path, char *buf, size_t n, int *required)
{
	const char *env = getenv("TENDERCTL_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME"),
	    *home = getenv("HOME");

	*required = 1;
	if (explicit_path != NULL)
		snprintf(buf, n, "%s", explicit_path);
	else if (env != NULL && *env != '\0')
		snprintf(buf, n, "%s", env);
	else {
		*required = 0;
		if (xdg != NULL && xdg[0] == '/')  /* the XDG spec ignores a relative value */
			snprintf(buf, n, "%s/tenderctl/config", xdg);
		else if (home != NULL && *home != '\0')
			snprintf(buf, n, "%s/.config/tenderctl/config", home);
		else
			return NULL;
	}
	return buf;
}

/* Trim white space at both ends, in place. */
static char *
conf_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A file named in the file: relative names are relative to the file's directory. */
static const char *
conf_file_value(const char *path, const char *v)
{
	const char *slash = strrchr(path, '/');
	char *out;

	if (v[0] == '/' || v[0] == '\0' || slash == NULL)
		return conf_keep(strdup(v));
	if (asprintf(&out, "%.*s/%s", (int)(slash - path), path, v) < 0)
		return NULL;
	return conf_keep(out);
}

/* Split one line into key and value; 0 (or 1 for a blank or comment line), -1 with `why`. */
static int
conf_split(char *line, char **key, char **value, const char **why)
{
	char *k = conf_trim(line), *eq, *v, *p;

	if (*k == '#' || *k == '\0')
		return 1;
	if ((eq = strchr(k, '=')) == NULL) {
		*why = "expected key = value";
		return -1;
	}
	*eq = '\0';
	v = conf_trim(eq + 1);
	if (*v == '"') {
		if ((p = strchr(v + 1, '"')) == NULL) {
			*why = "unterminated quote";
			return -1;
		}
		*p = '\0';
		v++;
	} else if ((p = strchr(v, '#')) != NULL) {
		*p = '\0';
		v = conf_trim(v);
	}
	*key = conf_trim(k);
	*value = v;
	return 0;
}

/* Read the file and hand each setting to `fn`. */
int
conf_load(const char *path, int required, conf_fn *fn, void *arg)
{
	char line[4096], *k, *v;
	const char *why = NULL, *val;
	FILE *f = fopen(path, "r");
	int lineno = 0;

	if (f == NULL) {
		if (errno == ENOENT && !required)
			return 1;
		fprintf(stderr, "tenderctl: config file %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f))
			why = "line too long";
		else if (conf_split(line, &k, &v, &why) == 1)
			continue;
		if (why != NULL) {
			fprintf(stderr, "tenderctl: %s:%d: %s\n", path, lineno, why);
			break;
		}
		if (strcmp(k, "cert") == 0 || strcmp(k, "key") == 0 || strcmp(k, "ca") == 0)
			val = conf_file_value(path, v);
		else
			val = conf_keep(strdup(v));
		if (val == NULL) {
			fprintf(stderr, "tenderctl: out of memory\n");
			why = "";
			break;
		}
		if (fn(arg, path, lineno, k, val) != 0) {
			why = "";
			break;
		}
	}
	fclose(f);
	return why != NULL ? -1 : 0;
}
