/*
 * The role session: which tenderd of a database is the primary, and where it is
 * (db.h, "The role session"). At start-up (db_role_open, db_role_publish, before the
 * event loop or during a takeover, which holds the loop anyway) its calls block; once
 * watched from the loop (db_role_watch) nothing blocks: reconnections go through the
 * dialer (db_dial.c) and every query is sent and read from socket events, one at a time
 * (`q`), so that a lost or hanging PostgreSQL never stalls the primary's bidding.
 */
#include "server/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "common/log.h"
#include "server/db_dial.h"

/* The queries of the role session, one in flight at a time. */
enum role_q {
	ROLE_Q_NONE = 0,
	ROLE_Q_TRY,       /* ROLE_TRY: the lock, and where the primary is */
	ROLE_Q_SELF,      /* ROLE_SELF: whether our old backend still holds the lock */
	ROLE_Q_PUBLISH,   /* ROLE_PUBLISH: the primary's advertised address */
};

struct db_role {
	struct event_base *base;
	char *conninfo;
	PGconn *pg;
	struct event *rev;        /* the session's socket, while connected and watched */
	struct event *timer;      /* standby: the next try; primary: the next reconnection */
	struct db_dial *dial;     /* reconnections from the loop */
	int primary;              /* this session holds DB_PRIMARY_LOCK */
	int lost;                 /* the primary lost its session: retrying */
	enum role_q q;            /* the query in flight */
	int got;                  /* its answer: the lock (ROLE_Q_TRY), our old backend's (ROLE_Q_SELF) */
	int failed;               /* it failed */
	int said_down;            /* "cannot reach PostgreSQL" logged once per outage */
	char backend_pid[16];     /* the backend of the session that took the lock */
	char addr[256];           /* the primary's advertised address, as last read */
	db_role_fn fn;
	void *arg;
};

/* The query of a standby's try: the lock, and where the primary is. */
#define ROLE_TRY "SELECT pg_try_advisory_lock(" DB_PRIMARY_LOCK "), pg_backend_pid()," \
	" (SELECT advertise FROM tenderd_primary)"
/* Whether the lock is held by the backend that took it for this primary (its session is
 * gone from here but not yet from PostgreSQL); $1 that backend's pid. */
#define ROLE_SELF "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted" \
	" AND classid = 0 AND objid = " DB_PRIMARY_LOCK " AND objsubid = 1 AND pid = $1::int"
/* Publish the primary's advertised address; $1 the address. */
#define ROLE_PUBLISH "INSERT INTO tenderd_primary (advertise, backend_pid)" \
	" VALUES ($1, pg_backend_pid()) ON CONFLICT (one) DO UPDATE SET" \
	" advertise = excluded.advertise, backend_pid = excluded.backend_pid, since = now()"
/* The session's connection parameters, before the conninfo (whose own values win). */
static const char *const role_keys[] = { "connect_timeout", "keepalives", "keepalives_idle",
    "keepalives_interval", "keepalives_count", "fallback_application_name", NULL };
#define ROLE_CONNECT_S 5

/* The session's name: "tenderd LISTEN role" in pg_stat_activity, beside the write path's
 * "tenderd LISTEN". */
static const char *
role_name(void)
{
	static char name[64];

	snprintf(name, sizeof(name), "%.58s role", db_application_name());
	return name;
}

/* The values of role_keys. */
static const char *const *
role_vals(void)
{
	static const char *vals[] = { "5", "1", "5", "1", "3", NULL, NULL };

	vals[5] = role_name();
	return vals;
}

/*
 * Connect, with TCP keepalives on both ends: tenderd notices a dead PostgreSQL machine, and
 * PostgreSQL a dead tenderd machine (the server side comes from PGOPTIONS, set by
 * serve()), within about 8 s. The conninfo's own values win (they come after).
 */
static PGconn *
role_connect(const char *conninfo, char *cause, size_t n)
{
	const char *keys[8], *vals[8];
	PGconn *pg;
	int i = 0;

	for (; role_keys[i] != NULL; i++) {
		keys[i] = role_keys[i];
		vals[i] = role_vals()[i];
	}
	keys[i] = "dbname";
	vals[i++] = conninfo;
	keys[i] = vals[i] = NULL;
	pg = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(pg) != CONNECTION_OK) {
		snprintf(cause, n, "cannot connect to PostgreSQL: %s", PQerrorMessage(pg));
		cause[strcspn(cause, "\n")] = '\0';
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* One try for the lock, blocking; reads the primary's address. 1 got, 0 not, -1 error. */
static int
role_try(struct db_role *r, char *cause, size_t n)
{
	PGresult *res = PQexec(r->pg, ROLE_TRY);
	int rc = -1;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		rc = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		if (rc)
			snprintf(r->backend_pid, sizeof(r->backend_pid), "%s", PQgetvalue(res, 0, 1));
		snprintf(r->addr, sizeof(r->addr), "%s", PQgetvalue(res, 0, 2));
	} else {
		snprintf(cause, n, "cannot try tenderd's primary lock: %s", PQresultErrorMessage(res));
		cause[strcspn(cause, "\n")] = '\0';
	}
	PQclear(res);
	return rc;
}

static void role_on_dialed(void *arg, PGconn *pg, const char *why);

/* Connect the role session and try for the lock (db.h). */
struct db_role *
db_role_open(struct event_base *base, const char *conninfo, long wait_s, int *primary,
    char *cause, size_t n)
{
	struct db_role *r = calloc(1, sizeof(*r));
	int got = 0;

	if (r == NULL || (r->conninfo = strdup(conninfo)) == NULL) {
		free(r);
		snprintf(cause, n, "out of memory");
		return NULL;
	}
	r->base = base;
	r->dial = db_dial_new(base, conninfo, role_keys, role_vals(), ROLE_CONNECT_S,
	    "role session", role_on_dialed, r);
	if (r->dial == NULL) {
		db_role_free(r);
		snprintf(cause, n, "out of memory");
		return NULL;
	}
	if ((r->pg = role_connect(conninfo, cause, n)) == NULL) {
		db_role_free(r);
		return NULL;
	}
	for (long i = 0; (got = role_try(r, cause, n)) == 0 && i < wait_s * 10; i++) {
		if (i == 0)
			log_info("waiting up to %ld s for tenderd's primary lock", wait_s);
		usleep(100 * 1000);
	}
	if (got < 0) {
		db_role_free(r);
		return NULL;
	}
	r->primary = *primary = got;
	return r;
}

/* Publish the primary's advertised address (db.h). */
int
db_role_publish(struct db_role *r, const char *advertise, char *cause, size_t n)
{
	const char *p[1] = { advertise };
	PGresult *res;
	int rc = 0;

	if (r->pg == NULL) {
		snprintf(cause, n, "the role session is not connected");
		return -1;
	}
	if (r->q != ROLE_Q_NONE) {
		snprintf(cause, n, "the role session is busy");
		return -1;
	}
	res = PQexecParams(r->pg, ROLE_PUBLISH, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		snprintf(cause, n, "cannot publish the primary's address: %s",
		    PQresultErrorMessage(res));
		cause[strcspn(cause, "\n")] = '\0';
		rc = -1;
	} else {
		snprintf(r->addr, sizeof(r->addr), "%s", advertise);
	}
	PQclear(res);
	return rc;
}

/* The primary's advertised address (db.h). */
const char *
db_role_primary(const struct db_role *r)
{
	return r ? r->addr : "";
}

/* Name the writer lock's holder (db.h). */
void
db_role_writer_holder(struct db_role *r, char *cause, size_t n)
{
	db_boot_writer_holder(r->pg, cause, n);
}

/* Drop the session (it is lost, or being freed). */
static void
role_close(struct db_role *r)
{
	if (r->rev) {
		event_free(r->rev);
		r->rev = NULL;
	}
	PQfinish(r->pg);
	r->pg = NULL;
	r->q = ROLE_Q_NONE;
}

/* Arm the timer for `ms`. */
static void
role_arm(struct db_role *r, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(r->timer, &tv);
}

/* Send query `q` (its one parameter `param`, or none); 0, or -1 with the session dropped
 * and a reconnection armed. */
static int
role_send(struct db_role *r, enum role_q q, const char *param)
{
	static const char *const sql[] = { "", ROLE_TRY, ROLE_SELF, ROLE_PUBLISH };
	const char *p[1] = { param };

	if (PQsendQueryParams(r->pg, sql[q], param ? 1 : 0, NULL, param ? p : NULL, NULL, NULL,
	    0) != 1) {
		log_warn("role session: %s", PQerrorMessage(r->pg));
		role_close(r);
		role_arm(r, 1000);
		return -1;
	}
	r->q = q;
	r->got = r->failed = 0;
	return 0;
}

/* The connected session's next step: a standby's try, or the lost primary's. */
static void
role_next(struct db_role *r)
{
	if (r->q == ROLE_Q_NONE && (!r->primary || r->lost))
		role_send(r, ROLE_Q_TRY, NULL);
}

static void role_on_read(evutil_socket_t fd, short what, void *arg);

/* The end of a reconnection attempt (db_dial.c). */
static void
role_on_dialed(void *arg, PGconn *pg, const char *why)
{
	struct db_role *r = arg;

	if (pg == NULL) {
		if (!r->said_down++)
			log_warn("role session: cannot connect to PostgreSQL: %s; retrying every "
			    "second", why);
		role_arm(r, 1000);
		return;
	}
	if (r->said_down)
		log_info("role session connected again");
	r->said_down = 0;
	r->pg = pg;
	r->rev = event_new(r->base, PQsocket(pg), EV_READ | EV_PERSIST, role_on_read, r);
	if (PQsetnonblocking(pg, 1) != 0 || r->rev == NULL || event_add(r->rev, NULL) != 0) {
		log_warn("role session: cannot watch the connection");
		role_close(r);
		role_arm(r, 1000);
		return;
	}
	role_next(r);
}

/* A try's answer: the standby takes over, or tries again; the lost primary holds the lock
 * again (and publishes its address), or asks whether its old backend still holds it. */
static void
role_tried(struct db_role *r)
{
	if (r->got && r->primary) {
		r->lost = 0;
		log_info("role session: the primary lock is held again");
		role_send(r, ROLE_Q_PUBLISH, r->addr);
	} else if (r->got) {
		r->primary = 1;
		r->fn(r->arg, DB_ROLE_TAKEN);
	} else if (r->primary) {
		role_send(r, ROLE_Q_SELF, r->backend_pid);
	} else {
		role_arm(r, DB_ROLE_POLL_MS);
	}
}

/* The end of the query in flight. */
static void
role_done(struct db_role *r)
{
	enum role_q q = r->q;

	r->q = ROLE_Q_NONE;
	if (r->failed) {
		role_close(r);
		role_arm(r, 1000);
	} else if (q == ROLE_Q_TRY) {
		role_tried(r);
	} else if (q == ROLE_Q_SELF && r->got) {
		role_arm(r, 1000);  /* our old backend has not noticed yet */
	} else if (q == ROLE_Q_SELF) {
		log_error("another tenderd holds the primary lock (it advertises '%s'): stepping "
		    "down", r->addr);
		r->primary = 0;
		r->fn(r->arg, DB_ROLE_DEPOSED);
	}
}

/* Read one result of the query in flight into the session. */
static void
role_result(struct db_role *r, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		log_warn("role session: %s", PQresultErrorMessage(res));
		r->failed = 1;
	} else if (r->q == ROLE_Q_TRY && PQntuples(res) == 1) {
		r->got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		if (r->got)
			snprintf(r->backend_pid, sizeof(r->backend_pid), "%s", PQgetvalue(res, 0, 1));
		snprintf(r->addr, sizeof(r->addr), "%s", PQgetvalue(res, 0, 2));
	} else if (r->q == ROLE_Q_SELF) {
		r->got = PQntuples(res) == 1;
	} else if (r->q == ROLE_Q_TRY) {
		r->failed = 1;
	}
}

/* The session's socket: an answer, or the end of the session. */
static void
role_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct db_role *r = arg;
	PGresult *res;

	if (PQconsumeInput(r->pg) != 1 || PQstatus(r->pg) != CONNECTION_OK) {
		log_warn("role session lost: %s", PQerrorMessage(r->pg));
		role_close(r);
		if (r->primary)
			r->lost = 1;
		role_arm(r, r->primary ? 0 : 1000);
		return;
	}
	while (r->q != ROLE_Q_NONE && !PQisBusy(r->pg)) {
		if ((res = PQgetResult(r->pg)) == NULL) {
			role_done(r);
			return;
		}
		role_result(r, res);
		PQclear(res);
	}
}

/* The timer: a standby's next try, or a reconnection. */
static void
role_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct db_role *r = arg;

	if (r->pg == NULL)
		db_dial_start(r->dial);
	else
		role_next(r);
}

/* Watch the session from the event loop (db.h). */
void
db_role_watch(struct db_role *r, db_role_fn fn, void *arg)
{
	r->fn = fn;
	r->arg = arg;
	r->timer = evtimer_new(r->base, role_on_timer, r);
	if (r->pg != NULL) {
		PQsetnonblocking(r->pg, 1);
		r->rev = event_new(r->base, PQsocket(r->pg), EV_READ | EV_PERSIST, role_on_read, r);
		event_add(r->rev, NULL);
	}
	if (!r->primary)
		role_arm(r, DB_ROLE_POLL_MS);
}

/* Close the session and free. */
void
db_role_free(struct db_role *r)
{
	if (r == NULL)
		return;
	role_close(r);
	db_dial_free(r->dial);
	if (r->timer)
		event_free(r->timer);
	free(r->conninfo);
	free(r);
}
