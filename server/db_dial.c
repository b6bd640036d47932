/* Non-blocking PostgreSQL connection attempts driven by the event loop (db_dial.h). */
#include "server/db_dial.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"

/*
 * Connection attempts. libpq ignores connect_timeout in PQconnectPoll, so an
 * attempt stuck on a host that neither answers nor refuses (a machine gone, a
 * PostgreSQL that hangs) would wait for ever, never trying the next host of a
 * multi-host conninfo. The dialer abandons an attempt after connect_timeout (the
 * conninfo's, or the caller's default when it has none) and starts the next one
 * a host further down the list (rotated: the hosts before it go last), so
 * every host is tried within as many attempts as there are hosts. A host that
 * refuses, or is not read-write under target_session_attrs=read-write, costs
 * nothing: libpq moves on to the next itself.
 */
#define DIAL_PAIRS 8

struct db_dial {
	struct event_base *base;
	char *conninfo;
	char *keys[DIAL_PAIRS], *vals[DIAL_PAIRS];  /* the caller's pairs, NULL-terminated */
	char who[32];
	PGconn *pg;               /* the attempt under way, or NULL */
	struct event *ev;         /* one-shot read or write watch of the attempt */
	struct event *deadline;   /* the attempt abandoned after connect_s */
	int connect_s;
	char *hosts[3];           /* the conninfo's host, hostaddr and port lists (NULL: none) */
	int nhosts;               /* entries of the longest of them */
	int shift;                /* attempts start at this host */
	db_dial_fn fn;
	void *arg;
};

/* Number of entries of a comma-separated list. */
static int
dial_count(const char *list)
{
	int n = 1;

	for (; *list; list++)
		n += *list == ',';
	return n;
}

/* `list` (comma-separated) rotated left by `k` entries, into `out`. */
static void
dial_rotate(const char *list, int k, char *out, size_t n)
{
	const char *p = list;

	k %= dial_count(list);
	for (int i = 0; i < k; i++)
		p = strchr(p, ',') + 1;
	if (p == list)
		snprintf(out, n, "%s", list);
	else
		snprintf(out, n, "%s,%.*s", p, (int)(p - list - 1), list);
}

/* Read connect_timeout and the host lists from the conninfo (see above). */
static void
dial_parse_hosts(struct db_dial *d, int timeout_s)
{
	static const char *const keys[3] = { "host", "hostaddr", "port" };
	PQconninfoOption *opts = PQconninfoParse(d->conninfo, NULL);

	d->connect_s = timeout_s;
	d->nhosts = 1;
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "connect_timeout") == 0 && atoi(o->val) > 0)
			d->connect_s = atoi(o->val) < 2 ? 2 : atoi(o->val);  /* libpq's minimum */
		for (int i = 0; i < 3; i++) {
			if (strcmp(o->keyword, keys[i]) == 0 && strchr(o->val, ',') != NULL) {
				d->hosts[i] = strdup(o->val);
				if (d->hosts[i] && dial_count(o->val) > d->nhosts)
					d->nhosts = dial_count(o->val);
			}
		}
	}
	PQconninfoFree(opts);
}

/* Stop watching the attempt; `close` also drops its connection. */
static void
dial_stop(struct db_dial *d, int close)
{
	if (d->ev) {
		event_free(d->ev);
		d->ev = NULL;
	}
	evtimer_del(d->deadline);
	if (close && d->pg) {
		PQfinish(d->pg);
		d->pg = NULL;
	}
}

/* End the attempt with `why` (one line of it). */
static void
dial_fail(struct db_dial *d, const char *why)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", why ? why : "cannot connect");
	msg[strcspn(msg, "\n")] = '\0';
	dial_stop(d, 1);
	d->fn(d->arg, NULL, msg);
}

static void dial_on_event(evutil_socket_t fd, short what, void *arg);

/* Watch the attempt's socket for `what` (EV_READ or EV_WRITE), once. */
static void
dial_watch(struct db_dial *d, short what)
{
	d->ev = event_new(d->base, PQsocket(d->pg), what, dial_on_event, d);
	if (d->ev == NULL || event_add(d->ev, NULL) != 0)
		dial_fail(d, "out of memory");
}

/* One step of the attempt: the socket is ready for what PQconnectPoll asked. */
static void
dial_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct db_dial *d = arg;
	PostgresPollingStatusType st;
	PGconn *pg;

	event_free(d->ev);
	d->ev = NULL;
	switch ((st = PQconnectPoll(d->pg))) {
	case PGRES_POLLING_OK:
		dial_stop(d, 0);
		pg = d->pg;
		d->pg = NULL;
		d->fn(d->arg, pg, NULL);
		return;
	case PGRES_POLLING_READING:
	case PGRES_POLLING_WRITING:
		dial_watch(d, st == PGRES_POLLING_READING ? EV_READ : EV_WRITE);
		return;
	default:
		dial_fail(d, PQerrorMessage(d->pg));
	}
}

/* An attempt took longer than connect_timeout: the next starts a host further. */
static void
dial_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct db_dial *d = arg;
	char why[256];

	if (d->pg == NULL)
		return;
	snprintf(why, sizeof(why), "no answer from host %s port %s within %d s (connect_timeout)",
	    PQhost(d->pg), PQport(d->pg), d->connect_s);
	log_warn("%s connection attempt abandoned: %s", d->who, why);
	d->shift = (d->shift + 1) % d->nhosts;
	dial_fail(d, why);
}

/* Start an attempt (db_dial.h). */
void
db_dial_start(struct db_dial *d)
{
	static const char *const names[3] = { "host", "hostaddr", "port" };
	const char *keys[DIAL_PAIRS + 5], *vals[DIAL_PAIRS + 5];
	char rot[3][1024];
	struct timeval tv = { d->connect_s, 0 };
	int n = 0;

	if (d->pg != NULL)
		return;
	for (; d->keys[n] != NULL; n++) {
		keys[n] = d->keys[n];
		vals[n] = d->vals[n];
	}
	keys[n] = "dbname";
	vals[n++] = d->conninfo;
	/* later keywords override what the conninfo (expanded from dbname) says */
	for (int i = 0; i < 3 && d->shift > 0; i++) {
		if (d->hosts[i] == NULL)
			continue;
		dial_rotate(d->hosts[i], d->shift, rot[i], sizeof(rot[i]));
		keys[n] = names[i];
		vals[n++] = rot[i];
	}
	keys[n] = vals[n] = NULL;
	d->pg = PQconnectStartParams(keys, vals, 1);
	if (d->pg == NULL || PQstatus(d->pg) == CONNECTION_BAD) {
		dial_fail(d, d->pg ? PQerrorMessage(d->pg) : "out of memory");
		return;
	}
	evtimer_add(d->deadline, &tv);
	/* libpq: before the first PQconnectPoll, wait as if it had said WRITING */
	dial_watch(d, EV_WRITE);
}

/* Whether an attempt is under way (db_dial.h). */
int
db_dial_busy(const struct db_dial *d)
{
	return d->pg != NULL;
}

/* Abandon the attempt under way (db_dial.h). */
void
db_dial_cancel(struct db_dial *d)
{
	dial_stop(d, 1);
}

/* The connect_timeout in force (db_dial.h). */
int
db_dial_timeout(const struct db_dial *d)
{
	return d->connect_s;
}

/* A dialer (db_dial.h). */
struct db_dial *
db_dial_new(struct event_base *base, const char *conninfo, const char *const *keys,
    const char *const *vals, int timeout_s, const char *who, db_dial_fn fn, void *arg)
{
	struct db_dial *d = calloc(1, sizeof(*d));
	int ok = d != NULL && (d->conninfo = strdup(conninfo)) != NULL &&
	    (d->deadline = evtimer_new(base, dial_on_deadline, d)) != NULL;

	for (int i = 0; ok && keys != NULL && keys[i] != NULL && i < DIAL_PAIRS - 1; i++)
		ok = (d->keys[i] = strdup(keys[i])) != NULL && (d->vals[i] = strdup(vals[i])) != NULL;
	if (!ok) {
		db_dial_free(d);
		return NULL;
	}
	d->base = base;
	snprintf(d->who, sizeof(d->who), "%s", who);
	d->fn = fn;
	d->arg = arg;
	dial_parse_hosts(d, timeout_s);
	return d;
}

/* Free the dialer, abandoning its attempt. */
void
db_dial_free(struct db_dial *d)
{
	if (d == NULL)
		return;
	if (d->deadline) {
		dial_stop(d, 1);
		event_free(d->deadline);
	}
	for (int i = 0; i < DIAL_PAIRS; i++) {
		free(d->keys[i]);
		free(d->vals[i]);
	}
	for (int i = 0; i < 3; i++)
		free(d->hosts[i]);
	free(d->conninfo);
	free(d);
}
