/* The role session: which tenderd of a database is the primary, and where it is
 * (db.h, "The role session"). Blocking libpq calls for one short query at a time: the
 * connection is local to the database's machine or near it, and a standby does nothing
 * else meanwhile. */
#include "server/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "common/log.h"

struct db_role {
	struct event_base *base;
	char *conninfo;
	PGconn *pg;
	struct event *rev;        /* the session's socket, while connected and watched */
	struct event *timer;      /* standby: the next try; primary: the next reconnection */
	int primary;              /* this session holds DB_PRIMARY_LOCK */
	int lost;                 /* the primary lost its session: retrying */
	int busy;                 /* a standby's try is in flight */
	int got;                  /* the answer of the try in flight */
	int said_down;            /* "cannot reach PostgreSQL" logged once per outage */
	char backend_pid[16];     /* the backend of the session that took the lock */
	char addr[256];           /* the primary's advertised address, as last read */
	db_role_fn fn;
	void *arg;
};

/* The query of a standby's try: the lock, and where the primary is. */
#define ROLE_TRY "SELECT pg_try_advisory_lock(" DB_PRIMARY_LOCK "), pg_backend_pid()," \
	" (SELECT advertise FROM tenderd_primary)"

/*
 * Connect, with TCP keepalives on both ends: tenderd notices a dead PostgreSQL machine, and
 * PostgreSQL a dead tenderd machine (the server side comes from PGOPTIONS, set by
 * serve()), within about 8 s. The conninfo's own values win (they come after).
 */
static PGconn *
role_connect(const char *conninfo, char *cause, size_t n)
{
	const char *keys[] = { "connect_timeout", "keepalives", "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "dbname", "fallback_application_name", NULL };
	char name[64];
	const char *vals[] = { "5", "1", "5", "1", "3", conninfo, name, NULL };
	PGconn *pg;

	/* "tenderd LISTEN role" in pg_stat_activity, beside the write path's "tenderd LISTEN" */
	snprintf(name, sizeof(name), "%.58s role", db_application_name());
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
	res = PQexecParams(r->pg, "INSERT INTO tenderd_primary (advertise, backend_pid)"
	    " VALUES ($1, pg_backend_pid()) ON CONFLICT (one) DO UPDATE SET"
	    " advertise = excluded.advertise, backend_pid = excluded.backend_pid, since = now()",
	    1, NULL, p, NULL, NULL, 0);
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
	r->busy = 0;
}

/* Arm the timer for `ms`. */
static void
role_arm(struct db_role *r, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(r->timer, &tv);
}

static void role_on_read(evutil_socket_t fd, short what, void *arg);

/* (Re)connect; 0, or -1 after logging the first failure of an outage. */
static int
role_reconnect(struct db_role *r)
{
	char cause[512];

	if (r->pg != NULL)
		return 0;
	if ((r->pg = role_connect(r->conninfo, cause, sizeof(cause))) == NULL) {
		if (!r->said_down++)
			log_warn("role session: %s; retrying every second", cause);
		return -1;
	}
	if (r->said_down)
		log_info("role session connected again");
	r->said_down = 0;
	r->rev = event_new(r->base, PQsocket(r->pg), EV_READ | EV_PERSIST, role_on_read, r);
	event_add(r->rev, NULL);
	return 0;
}

/* Whether the lock is held by the backend that took it for this primary (its session is
 * gone from here but not yet from PostgreSQL). */
static int
role_held_by_old_self(struct db_role *r)
{
	const char *p[1] = { r->backend_pid };
	PGresult *res = PQexecParams(r->pg, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
	    " AND granted AND classid = 0 AND objid = " DB_PRIMARY_LOCK " AND objsubid = 1"
	    " AND pid = $1::int", 1, NULL, p, NULL, NULL, 0);
	int self = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;

	PQclear(res);
	return self;
}

/* The primary, its session lost: take the lock again, or learn that another has it. */
static void
role_primary_retry(struct db_role *r)
{
	char cause[512], old[16];
	int got;

	if (role_reconnect(r) < 0) {
		role_arm(r, 1000);
		return;
	}
	snprintf(old, sizeof(old), "%s", r->backend_pid);
	if ((got = role_try(r, cause, sizeof(cause))) < 0) {
		log_warn("role session: %s", cause);
		role_close(r);
		role_arm(r, 1000);
		return;
	}
	if (got) {
		r->lost = 0;
		log_info("role session: the primary lock is held again");
		if (db_role_publish(r, r->addr, cause, sizeof(cause)) < 0)
			log_warn("%s", cause);
		return;
	}
	snprintf(r->backend_pid, sizeof(r->backend_pid), "%s", old);
	if (role_held_by_old_self(r)) {
		role_arm(r, 1000);  /* our old backend has not noticed yet */
		return;
	}
	log_error("another tenderd holds the primary lock (it advertises '%s'): stepping down",
	    r->addr);
	r->primary = 0;
	r->fn(r->arg, DB_ROLE_DEPOSED);
}

/* The session's socket: a standby's answer, or the end of a session. */
static void
role_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct db_role *r = arg;
	PGresult *res;

	if (PQconsumeInput(r->pg) != 1 || PQstatus(r->pg) != CONNECTION_OK)
		goto lost;
	while (r->busy && !PQisBusy(r->pg)) {
		if ((res = PQgetResult(r->pg)) == NULL) {
			r->busy = 0;
			if (r->got) {
				r->primary = 1;
				r->fn(r->arg, DB_ROLE_TAKEN);
			} else {
				role_arm(r, DB_ROLE_POLL_MS);
			}
			return;
		}
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
			r->got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
			if (r->got)
				snprintf(r->backend_pid, sizeof(r->backend_pid), "%s", PQgetvalue(res, 0, 1));
			snprintf(r->addr, sizeof(r->addr), "%s", PQgetvalue(res, 0, 2));
		} else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			log_warn("role session: %s", PQresultErrorMessage(res));
		}
		PQclear(res);
	}
	return;
lost:
	log_warn("role session lost: %s", PQerrorMessage(r->pg));
	role_close(r);
	if (r->primary)
		r->lost = 1;
	role_arm(r, r->primary ? 0 : 1000);
}

/* The timer: a standby's next try, or the primary's next reconnection. */
static void
role_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct db_role *r = arg;

	if (r->primary) {
		if (r->lost)
			role_primary_retry(r);
		return;
	}
	if (r->busy)
		return;
	if (role_reconnect(r) < 0) {
		role_arm(r, 1000);
		return;
	}
	if (PQsendQuery(r->pg, ROLE_TRY) != 1) {
		log_warn("role session: %s", PQerrorMessage(r->pg));
		role_close(r);
		role_arm(r, 1000);
		return;
	}
	r->busy = 1;
	r->got = 0;
}

/* Watch the session from the event loop (db.h). */
void
db_role_watch(struct db_role *r, db_role_fn fn, void *arg)
{
	r->fn = fn;
	r->arg = arg;
	r->timer = evtimer_new(r->base, role_on_timer, r);
	if (r->pg != NULL) {
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
	if (r->timer)
		event_free(r->timer);
	free(r->conninfo);
	free(r);
}
