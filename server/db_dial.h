/*
 * Non-blocking PostgreSQL connection attempts, driven by the event loop (db_dial.c): the
 * write path's session (db.c) and the role session (db_role.c) connect through it, so that
 * no connection attempt ever holds the loop, however long a host takes to answer.
 */
#ifndef TENDERD_DB_DIAL_H
#define TENDERD_DB_DIAL_H

#include <libpq-fe.h>

struct event_base;
struct db_dial;

/* The end of an attempt: `pg` connected (the callee owns it from now), or NULL with `why`
 * (one line). Called from the event loop, or from db_dial_start when libpq refuses at once. */
typedef void (*db_dial_fn)(void *arg, PGconn *pg, const char *why);

/* A dialer for `conninfo`. `keys`/`vals` (NULL-terminated, at most 7 pairs, copied) come
 * before the conninfo, so that the conninfo's own values win; `timeout_s` bounds an attempt
 * when the conninfo sets no connect_timeout; `who` names the session in log lines ("db").
 * NULL when out of memory. */
struct db_dial *db_dial_new(struct event_base *base, const char *conninfo,
    const char *const *keys, const char *const *vals, int timeout_s, const char *who,
    db_dial_fn fn, void *arg);

/* Start an attempt (nothing when one is under way); its end comes through the callback. */
void db_dial_start(struct db_dial *d);

/* Whether an attempt is under way. */
int db_dial_busy(const struct db_dial *d);

/* Abandon the attempt under way, if any (no callback). */
void db_dial_cancel(struct db_dial *d);

/* The connect_timeout in force, in seconds. */
int db_dial_timeout(const struct db_dial *d);

void db_dial_free(struct db_dial *d);

#endif
