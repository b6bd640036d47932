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
 *
 * Events: watch_broadcast() is the one way an event reaches watchers, for
 * every kind of procedure. A view depends only on the viewer's class (what the
 * procedure's `class_of` says a view depends on: role, and the organization
 * when it has a stake), so each event is rendered and serialized once per
 * class and the connections of a class share that text by reference. Every
 * text goes through outbox_emit_shared(): held back while a batch completes, then
 * written through the lane (conn.c), so events of every kind are paced and
 * keep their order per connection with the replies around them.
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
	struct watch_list *tl;     /* the procedure's list (freed with its links) */
	struct watch_list *cl;     /* the connection's list (closed with its links) */
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
	w->cl = mine;
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
watch_drop_conn(struct server *s, struct conn *c)
{
	struct watch_list *mine = conn_watches(c);

	(void)s;
	for (size_t i = 0; i < mine->n; i++) {
		struct watch *w = mine->v[i];
		/* the procedure outlives its links: freeing it drops them first */
		watch_take(w->tl, w->tpos, 1);
		free(w);
	}
	free(mine->v);
	memset(mine, 0, sizeof(*mine));
}

/* See server.h. */
void
watch_drop_target(struct server *s, struct watch_list *tl)
{
	(void)s;
	for (size_t i = 0; i < tl->n; i++) {
		struct watch *w = tl->v[i];
		/* the connection outlives its links: closing it drops them first */
		watch_take(w->cl, w->cpos, 0);
		free(w);
	}
	free(tl->v);
	memset(tl, 0, sizeof(*tl));
}

/* A copy of the watchers' connection ids (a broadcast may close some); the count. */
static size_t
watch_conns(const struct watch_list *tl, uint64_t **ids)
{
	*ids = NULL;
	if (tl->n == 0 || (*ids = malloc(tl->n * sizeof(**ids))) == NULL)
		return 0;
	for (size_t i = 0; i < tl->n; i++)
		(*ids)[i] = tl->v[i]->conn_id;
	return tl->n;
}

/* Does `c` watch this procedure? */
static int
watch_has(struct conn *c, int kind, int64_t target)
{
	return watch_find(conn_watches(c), kind, target) != NULL;
}

/* The classes rendered so far by one broadcast, each with its shared text. */
struct watch_cast {
	struct server *s;
	const struct watch_msg *ev;
	struct watch_class *cls;
	struct conn_text **text;
	size_t n, cap;
};

/* The event as `who` sees it, serialized and shareable; NULL when out of memory. */
static struct conn_text *
watch_render(struct server *s, const struct watch_msg *ev, const struct participant *who)
{
	json_t *msg = json_pack("{s:s}", "event", ev->event);
	char *text;

	if (msg == NULL)
		return NULL;
	if (ev->reason)
		json_object_set_new(msg, "reason", json_string(ev->reason));
	json_object_set_new(msg, ev->field, ev->view(s, ev->target, who));
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	return text ? conn_text_new(text, strlen(text)) : NULL;
}

/* Send the event to one connection: the text of its class, rendered on first use. */
static void
watch_cast_to(struct watch_cast *wc, struct conn *c)
{
	const struct participant *who = conn_ident(c)->who;
	struct watch_class k;
	struct conn_text *t = NULL;

	if (who == NULL)
		return;
	k = wc->ev->class_of(wc->s, wc->ev->target, who);
	for (size_t i = 0; i < wc->n && t == NULL; i++)
		if (wc->cls[i].role == k.role && wc->cls[i].org == k.org)
			t = wc->text[i];
	if (t != NULL) {
		outbox_emit_shared(wc->s, c, t);
		return;
	}
	if ((t = watch_render(wc->s, wc->ev, who)) == NULL)
		return;
	if (wc->n == wc->cap) {
		size_t ncap = wc->cap ? wc->cap * 2 : 8;
		struct watch_class *nc = realloc(wc->cls, ncap * sizeof(*nc));
		struct conn_text **nt = nc ? realloc(wc->text, ncap * sizeof(*nt)) : NULL;
		if (nc != NULL)
			wc->cls = nc;
		if (nt == NULL) {  /* not kept: sent on its own */
			outbox_emit_shared(wc->s, c, t);
			conn_text_release(t);
			return;
		}
		wc->text = nt;
		wc->cap = ncap;
	}
	wc->cls[wc->n] = k;
	wc->text[wc->n++] = t;
	outbox_emit_shared(wc->s, c, t);
}

/* See server.h. */
void
watch_broadcast(struct server *s, const struct watch_list *tl, const struct watch_msg *ev)
{
	struct watch_cast wc = { .s = s, .ev = ev };
	size_t n, it = 0;
	uint64_t *ids;
	int64_t cid;

	/* by id from a copy: a send may close its connection, which leaves the list */
	n = watch_conns(tl, &ids);
	for (size_t i = 0; i < n; i++) {
		struct conn *c = conn_get(s, ids[i]);
		if (c != NULL)
			watch_cast_to(&wc, c);
	}
	free(ids);
	while (ev->also != NULL && map_next(&s->conns, &it, &cid, NULL, NULL)) {
		struct conn *c = conn_get(s, (uint64_t)cid);
		const struct participant *who = c ? conn_ident(c)->who : NULL;
		if (who != NULL && !watch_has(c, ev->kind, ev->id) && ev->also(s, ev->target, who))
			watch_cast_to(&wc, c);
	}
	for (size_t i = 0; i < wc.n; i++)
		conn_text_release(wc.text[i]);
	free(wc.cls);
	free(wc.text);
}
