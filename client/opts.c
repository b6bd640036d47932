/* tenderctl command line parsing: global options anywhere, command words and options. */
#include "client/opts.h"
#include "client/conf.h"
#include "client/net.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The global options that take a value. */
static const char *const opts_valued[] = {"cert", "key", "ca", "server", "timeout", "max-line",
    "config", NULL};
/* Command options that take no value (their flag's value is NULL). */
static const char *const opts_switches[] = {"all", NULL};

/* Print "tenderctl: MESSAGE" and a hint to stderr; returns CTL_USAGE. */
int opts_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("tenderctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(tenderctl --help lists commands and options)\n", stderr);
	return CTL_USAGE;
}

/* Parse a whole decimal integer (optional '-'); 0 on success, -1 otherwise. */
int opts_int(const char *s, long long *out)
{
	char *end;
	const char *p = s[0] == '-' ? s + 1 : s;

	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

/* Print the summary of commands and options. */
void opts_usage(FILE *f)
{
	fputs("usage: tenderctl [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  hello\n"
	      "  register --organization ORG --role ROLE --name NAME --certificate PEMFILE\n"
	      "           [--tax-id X] [--country CC]\n"
	      "  auction create --title T --currency C --start-price AMOUNT [--step-min S]\n"
	      "           [--step-max S] [--starts-at TIME] [--duration SECONDS]\n"
	      "           [--extension-window SECONDS] [--extension SECONDS]\n"
	      "           [--format english_reverse|english_forward|dutch_reverse|dutch_forward|\n"
	      "                     japanese_reverse|sealed_first_price|sealed_second_price|rounds]\n"
	      "           [--max-extensions N]\n"
	      "           [--latest-end TIME] [--clock-step AMOUNT] [--clock-interval MS]\n"
	      "           [--clock-limit AMOUNT] [--visibility rank|rank_and_best|ranking]\n"
	      "           [--tail SECONDS]\n"
	      "           [--initial SECONDS] [--pause SECONDS] [--rounds N] [--turn SECONDS]\n"
	      "           [--round-pause SECONDS]\n"
	      "           [--outage-share PCT] [--outage-window SECONDS]\n"
	      "           [--outage-max-pause SECONDS] [--outage-min-bidders N]\n"
	      "  auction create --title T --currency C --lot PRICE:TITLE [--lot PRICE:TITLE ...]\n"
	      "           [--lot-closing parallel|staggered] [--stagger SECONDS] [other options]\n"
	      "  auction create --file REQUEST.json [overriding options]\n"
	      "  auction get ID\n"
	      "  auction list [--state STATE] [--kind KIND] [--buyer ORG] [--limit N]\n"
	      "           [--after CURSOR] [--all]\n"
	      "  auction cancel ID --reason TEXT\n"
	      "  auction pause ID --reason TEXT | auction resume ID --reason TEXT\n"
	      "  auction extend ID --duration SECONDS --reason TEXT\n"
	      "  bid AUCTION AMOUNT\n"
	      "  proxy AUCTION FLOOR | proxy withdraw AUCTION\n"
	      "  watch AUCTION\n"
	      "  procurement create --file REQUEST.json [--kind K] [--title T] [--description D]\n"
	      "           [--currency C] [--enquiry-end TIME] [--submission-deadline TIME]\n"
	      "           [--opening-at TIME] [--min-bids N] [--document PATH[:MEDIA_TYPE]]...\n"
	      "  procurement publish ID\n"
	      "  procurement amend ID --reason TEXT [--file REQUEST.json] [--title T]\n"
	      "           [--description D] [--enquiry-end TIME] [--submission-deadline TIME]\n"
	      "           [--opening-at TIME] [--min-bids N] [--document PATH[:MEDIA_TYPE]]...\n"
	      "  procurement get ID\n"
	      "  procurement list [--state STATE] [--kind KIND] [--buyer ORG] [--limit N]\n"
	      "           [--after CURSOR] [--all]\n"
	      "  procurement cancel ID --reason TEXT\n"
	      "  procurement complete ID\n"
	      "  procurement watch ID\n"
	      "  question ask ID TEXT\n"
	      "  question answer ID QUESTION TEXT\n"
	      "  quote submit ID LOT PRICE [--delivery-days N] [--validity-days N] [--comment TEXT]\n"
	      "  quote withdraw ID LOT\n"
	      "  quote confirm ID LOT\n"
	      "  bid submit ID LOT PRICE [--value CODE=INTEGER]... [--delivery-days N]\n"
	      "           [--validity-days N] [--comment TEXT]\n"
	      "  bid withdraw ID LOT\n"
	      "  bid confirm ID LOT\n"
	      "  bid score ID OFFER --score CODE=INTEGER...\n"
	      "  award ID LOT OFFER\n"
	      "  disqualify ID LOT OFFER --reason TEXT\n"
	      "  document get ID DOC [-o FILE]\n"
	      "  participant suspend PARTICIPANT --reason TEXT\n"
	      "  participant reinstate PARTICIPANT --reason TEXT\n"
	      "  organization suspend ORGANIZATION --reason TEXT\n"
	      "  organization reinstate ORGANIZATION --reason TEXT\n"
	      "  verify-receipt RECEIPT [--head FILE] [--save-head FILE]\n"
	      "  raw JSON-OBJECT\n"
	      "\n"
	      "TIME is RFC 3339 (2026-12-01T10:00:00Z) or relative to the server's clock: +90s, +15m,\n"
	      "+2h, +7d, +1d12h.\n"
	      "\n"
	      "options (also accepted after the command):\n"
	      "  --cert FILE        client certificate (PEM)        [$TENDERCTL_CERT]\n"
	      "  --key FILE         its private key (PEM)           [$TENDERCTL_KEY]\n"
	      "  --ca FILE          CA certificate of the platform  [$TENDERCTL_CA]\n"
	      "  --server HOST:PORT server address, or several separated by commas [$TENDERCTL_SERVER, " OPTS_DEFAULT_SERVER "]\n"
	      "  --timeout SECONDS  connect and reply timeout (default 30)\n"
	      "  --config FILE      default options: server, cert, key, ca, timeout, max_line\n"
	      "                     [$TENDERCTL_CONFIG, ~/.config/tenderctl/config]\n"
	      "  --json             print raw reply and event lines\n"
	      "  --max-line BYTES   longest line accepted from the server (default 65536)\n"
	      "  --help             this text\n"
	      "  --version          print the release of tenderctl\n"
	      "\n"
	      "exit status: 0 ok, 1 error reply, 2 usage, 3 connection/TLS failure, 4 timeout;\n"
	      "verify-receipt: 5 head signature, 6 inclusion, 7 consistency check failed\n",
	      f);
}

/* Index of `name` in opts_valued, or -1 when it is not a valued global option. */
static int opts_valued_index(const char *name)
{
	for (int i = 0; opts_valued[i] != NULL; i++)
		if (strcmp(opts_valued[i], name) == 0)
			return i;
	return -1;
}

/* Store the value of a valued global option; CTL_OK or CTL_USAGE. */
static int opts_set_global(struct opts *o, const char *name, const char *value)
{
	long long n;

	if (strcmp(name, "cert") == 0)
		o->cert = value;
	else if (strcmp(name, "key") == 0)
		o->key = value;
	else if (strcmp(name, "ca") == 0)
		o->ca = value;
	else if (strcmp(name, "server") == 0)
		o->server = value;
	else if (strcmp(name, "config") == 0)
		;  /* read before everything else (opts_config) */
	else if (strcmp(name, "timeout") == 0) {
		if (opts_int(value, &n) != 0 || n < 1 || n > 86400)
			return opts_fail("--timeout wants whole seconds from 1 to 86400, not '%s'", value);
		o->timeout_s = (int)n;
	} else {
		if (opts_int(value, &n) != 0 || n < 1024 || n > 16777216)
			return opts_fail("--max-line wants bytes from 1024 to 16777216, not '%s'", value);
		o->max_line = (size_t)n;
	}
	return CTL_OK;
}

/* A setting of the configuration file: a global option's default. */
static int opts_conf_set(void *arg, const char *path, int line, const char *key,
    const char *value)
{
	static const char *const keys[] = {"server", "cert", "key", "ca", "timeout", "max_line",
	    "max-line", NULL};

	for (int i = 0; keys[i] != NULL; i++) {
		if (strcmp(keys[i], key) != 0)
			continue;
		if (opts_set_global(arg, strcmp(key, "max_line") == 0 ? "max-line" : key, value) ==
		    CTL_OK)
			return 0;
		fprintf(stderr, "tenderctl: (the value of %s at %s:%d)\n", key, path, line);
		return -1;
	}
	fprintf(stderr, "tenderctl: %s:%d: unknown setting '%s' (known: server, cert, key, ca, "
	    "timeout, max_line)\n", path, line, key);
	return -1;
}

/* Read the configuration file (--config FILE, $TENDERCTL_CONFIG or
 * ~/.config/tenderctl/config); CTL_OK or CTL_USAGE after a message. */
static int opts_config(struct opts *o, int argc, char **argv)
{
	const char *explicit_path = NULL;
	char buf[4096];
	const char *path;
	int required;

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			explicit_path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			explicit_path = argv[i] + 9;
	}
	if ((path = conf_path(explicit_path, buf, sizeof(buf), &required)) == NULL)
		return CTL_OK;
	return conf_load(path, required, opts_conf_set, o) < 0 ? CTL_USAGE : CTL_OK;
}

/* Defaults, then the configuration file, then the environment; the command line overrides
 * them all. CTL_OK or CTL_USAGE after a message. */
static int opts_defaults(struct opts *o, int argc, char **argv)
{
	const char *s;

	memset(o, 0, sizeof(*o));
	o->server = OPTS_DEFAULT_SERVER;
	o->timeout_s = OPTS_DEFAULT_TIMEOUT;
	o->max_line = OPTS_DEFAULT_MAX_LINE;
	if (opts_config(o, argc, argv) != CTL_OK)
		return CTL_USAGE;
	if ((s = getenv("TENDERCTL_CERT")) != NULL)
		o->cert = s;
	if ((s = getenv("TENDERCTL_KEY")) != NULL)
		o->key = s;
	if ((s = getenv("TENDERCTL_CA")) != NULL)
		o->ca = s;
	s = getenv("TENDERCTL_SERVER");
	if (s != NULL && *s != '\0')
		o->server = s;
	return CTL_OK;
}

/* Whether `name` is a command option that takes no value. */
static int opts_is_switch(const char *name)
{
	for (int i = 0; opts_switches[i] != NULL; i++)
		if (strcmp(opts_switches[i], name) == 0)
			return 1;
	return 0;
}

/* Handle the option argv[*i] ("--name", "--name=value", or "-o" for --output); CTL_OK or
 * CTL_USAGE. */
static int opts_option(struct opts *o, int argc, char **argv, int *i)
{
	char *name = argv[*i] + 2;
	char *eq = strchr(name, '=');
	const char *value = NULL;

	if (strcmp(argv[*i], "-o") == 0) {
		name = "output";
		eq = NULL;
	}
	if (eq != NULL) {
		*eq = '\0';
		value = eq + 1;
	}
	if (opts_is_switch(name)) {
		if (value != NULL)
			return opts_fail("--%s takes no value", name);
		o->flags[o->nflags].name = name;
		o->flags[o->nflags].value = NULL;
		o->nflags++;
		return CTL_OK;
	}
	if (strcmp(name, "json") == 0 || strcmp(name, "help") == 0 || strcmp(name, "version") == 0) {
		if (value != NULL)
			return opts_fail("--%s takes no value", name);
		if (name[0] == 'j')
			o->json = 1;
		else if (name[0] == 'h')
			o->help = 1;
		else
			o->version = 1;
		return CTL_OK;
	}
	if (value == NULL) {
		if (*i + 1 >= argc)
			return opts_fail("option --%s needs a value", name);
		value = argv[++*i];
	}
	if (opts_valued_index(name) >= 0)
		return opts_set_global(o, name, value);
	o->flags[o->nflags].name = name;
	o->flags[o->nflags].value = value;
	o->nflags++;
	return CTL_OK;
}

/* Parse argv (global options may appear anywhere); CTL_OK or CTL_USAGE after a message. */
int opts_parse(int argc, char **argv, struct opts *o)
{
	char host[256], port[16];
	int rest = 0;

	if (opts_defaults(o, argc, argv) != CTL_OK)
		return CTL_USAGE;
	o->words = calloc((size_t)argc + 1, sizeof(*o->words));
	o->flags = calloc((size_t)argc + 1, sizeof(*o->flags));
	if (o->words == NULL || o->flags == NULL)
		return opts_fail("out of memory");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc;

		if (!rest && strcmp(a, "--") == 0)
			rest = 1;
		else if (!rest && strcmp(a, "-h") == 0)
			o->help = 1;
		else if (!rest && (strncmp(a, "--", 2) == 0 || strcmp(a, "-o") == 0)) {
			if ((rc = opts_option(o, argc, argv, &i)) != CTL_OK)
				return rc;
		} else
			o->words[o->nwords++] = a;
	}
	if (o->help || o->version)
		return CTL_OK;
	/* one address, or several separated by commas (tried in turn) */
	for (const char *p = o->server, *e; p != NULL; p = e ? e + 1 : NULL) {
		char one[300];
		e = strchr(p, ',');
		snprintf(one, sizeof(one), "%.*s", (int)(e ? (size_t)(e - p) : strlen(p)), p);
		if (net_split(one, host, sizeof(host), port, sizeof(port)) != 0)
			return opts_fail("bad server address '%s' (want HOST:PORT or [IPv6]:PORT, or several "
			    "separated by commas)", one);
	}
	if (o->key != NULL && *o->key != '\0' && (o->cert == NULL || *o->cert == '\0'))
		return opts_fail("--key given without --cert");
	return CTL_OK;
}

/* Release what opts_parse allocated. */
void opts_free(struct opts *o)
{
	free(o->words);
	free(o->flags);
	o->words = NULL;
	o->flags = NULL;
	conf_free();
}
