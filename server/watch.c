/*
 * Watches: which connection follows which auction or procurement.
 *
 * One watch is one link between a connection and a procedure (an auction or
 * a procurement). Both sides hold it: the procedure's watch list is what a
 * broadcast walks, the connection's is what its close walks. Each link knows
 * its place in both lists, so adding and removing one costs O(1) and a
 * connection that closes leaves every list it was in at the cost of its own
 * watches, without looking at any other procedure.
 *
 * Ownership: a link is created by watch_add() and freed by whichever side goes
 * first: watch_del(), watch_drop_conn() (the connection closes) or
 * watch_drop_target() (the procedure is freed). Limits: a connection has at
 * most max_watches_per_conn links, a procedure at most
 * max_watchers_per_procedure; both are read from the configuration at the
 * time of the request, so a reload applies to new watches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

/* One connection watching one procedure. */
struct watch {
	uint64_t conn_id;
	int kind;                  /* WATCH_AUCTION or WATCH_PROC */
	int64_t target;            /* auction or procurement id */
	struct watch_list *tl;     /* the target's list (its links leave before it is freed) */
	size_t tpos, cpos;         /* its index in the target's and the connection's list */
};

/* Make room for one more link; -1 when out of memory. */
static int
watch_grow(struct watch_list *l)
{
	struct watch **nv;
	size_t ncap;

	if (l->n < l->cap)
		return 0;
	ncap = l->cap ? l->cap * 2 : 4;
	if ((nv = realloc(l->v, ncap * sizeof(*nv))) == NULL)
		return -1;
	l->v = nv;  /* stored before anything else can fail */
	l->cap = ncap;
	return 0;
}

/* Remove index `i` of a list by moving its last link there; `target_side`
 * says which index of the moved link to update. */
static void
watch_take(struct watch_list *l, size_t i, int target_side)
{
	struct watch *last = l->v[--l->n];

	if (i == l->n)
		return;
	l->v[i] = last;
	if (target_side)
		last->tpos = i;
	else
		last->cpos = i;
}

/* Which of the connection's links names this procedure (NULL when none). */
static struct watch *
watch_find(struct watch_list *mine, int kind, int64_t target)
{
	for (size_t i = 0; i < mine->n; i++)
		if (mine->v[i]->kind == kind && mine->v[i]->target == target)
			return mine->v[i];
	return NULL;
}

/* See server.h. */
int
watch_add(struct server *s, struct conn *c, int kind, int64_t target, struct watch_list *tl,
    char *why, size_t n)
{
	struct watch_list *mine = conn_watches(c);
	struct watch *w;

	if (watch_find(mine, kind, target) != NULL)
		return 0;  /* already watching: no second slot */
	if ((long)mine->n >= s->cfg.max_watches_per_conn) {
		snprintf(why, n, "max_watches_per_conn (%ld) reached: this connection already "
		    "watches %zu auctions and procurements; unwatch one first", s->cfg.max_watches_per_conn,
		    mine->n);
		return -1;
	}
	if ((long)tl->n >= s->cfg.max_watchers_per_procedure) {
		snprintf(why, n, "max_watchers_per_procedure (%ld) reached: this %s has as many "
		    "watchers as allowed", s->cfg.max_watchers_per_procedure,
		    kind == WATCH_AUCTION ? "auction" : "procurement");
		return -1;
	}
	if (watch_grow(mine) < 0 || watch_grow(tl) < 0 || (w = malloc(sizeof(*w))) == NULL) {
		snprintf(why, n, "out of memory");
		return -2;
	}
	w->conn_id = conn_ident(c)->id;
	w->kind = kind;
	w->target = target;
	w->tl = tl;
	w->tpos = tl->n;
	w->cpos = mine->n;
	tl->v[tl->n++] = w;
	mine->v[mine->n++] = w;
	return 0;
}

/* See server.h. */
void
watch_del(struct server *s, struct conn *c, int kind, int64_t target, struct watch_list *tl)
{
	struct watch_list *mine = conn_watches(c);
	struct watch *w = watch_find(mine, kind, target);

	(void)s;
	if (w == NULL)
		return;
	watch_take(tl, w->tpos, 1);
	watch_take(mine, w->cpos, 0);
	free(w);
}

/* See server.h. */
void
watch_drop_conn(struct server *s, struct watch_list *mine)
{
	for (size_t i = 0; i < mine->n; i++) {
		struct watch *w = mine->v[i];
		struct watch_list *tl = w->tl;
		if (w->tpos < tl->n && tl->v[w->tpos] == w)
			watch_take(tl, w->tpos, 1);
		free(w);
	}
	free(mine->v);
	memset(mine, 0, sizeof(*mine));
}

/* See server.h. */
void
watch_drop_target(struct server *s, struct watch_list *tl)
{
	for (size_t i = 0; i < tl->n; i++) {
		struct watch *w = tl->v[i];
		struct conn *c = conn_get(s, w->conn_id);
		struct watch_list *mine = c ? conn_watches(c) : NULL;
		if (mine != NULL && w->cpos < mine->n && mine->v[w->cpos] == w)
			watch_take(mine, w->cpos, 0);
		free(w);
	}
	free(tl->v);
	memset(tl, 0, sizeof(*tl));
}

/* See server.h. */
size_t
watch_conns(const struct watch_list *tl, uint64_t **ids)
{
	*ids = NULL;
	if (tl->n == 0 || (*ids = malloc(tl->n * sizeof(**ids))) == NULL)
		return 0;
	for (size_t i = 0; i < tl->n; i++)
		(*ids)[i] = tl->v[i]->conn_id;
	return tl->n;
}

/* See server.h. */
int
watch_has(struct conn *c, int kind, int64_t target)
{
	return watch_find(conn_watches(c), kind, target) != NULL;
}
