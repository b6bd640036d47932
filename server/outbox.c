/*
 * Output held back while a batch completes. The replies and events of a
 * committed batch are rendered at once, from the committed state, but written
 * only after the next batch has been sent (outbox_hold ... outbox_release):
 * PostgreSQL commits that batch while tenderd encrypts and writes these.
 * Outside a hold, messages go straight to the connection.
 */
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

/* A message held back. */
struct outbox_msg {
	uint64_t conn_id;
	int release;               /* a reply: frees a place among the pending requests */
	size_t len;
	char *text;                /* owned; NULL when the text is shared */
	struct conn_text *shared;
};

/* Make room for one more held-back message; NULL when out of memory. */
static struct outbox_msg *
outbox_push(struct server *s)
{
	if (s->nout == s->capout) {
		size_t ncap = s->capout ? s->capout * 2 : 256;
		struct outbox_msg *no = realloc(s->out, ncap * sizeof(*no));
		if (no == NULL)
			return NULL;
		s->out = no;
		s->capout = ncap;
	}
	return &((struct outbox_msg *)s->out)[s->nout++];
}

/* Queue or send serialized text (taken over) for a connection; `release` for replies. */
static void
outbox_text(struct server *s, uint64_t conn_id, char *text, size_t len, int release)
{
	struct conn *c;

	if (s->deferring) {
		struct outbox_msg *o = outbox_push(s);
		if (o != NULL) {
			o->conn_id = conn_id;
			o->release = release;
			o->len = len;
			o->text = text;
			o->shared = NULL;
			return;
		}
	}
	if ((c = conn_get(s, conn_id)) != NULL) {
		if (release)
			conn_pending_add(c, -1);
		conn_send_text(c, text, len);
	}
	free(text);
}

/* Send a broadcast's text to one connection (copied when held back). */
void
outbox_emit(struct server *s, struct conn *c, const char *text, size_t len)
{
	char *copy;

	if ((copy = malloc(len)) == NULL)
		return;
	memcpy(copy, text, len);
	if (!s->deferring) {
		struct conn_text *t = conn_text_new(copy, len);
		if (t != NULL) {
			conn_send_event(c, t);
			conn_text_release(t);
		}
		return;
	}
	outbox_text(s, conn_ident(c)->id, copy, len, 0);
}

/* Send shared text to a connection, by reference while held back. */
void
outbox_emit_shared(struct server *s, struct conn *c, struct conn_text *t)
{
	struct outbox_msg *o;

	if (s->deferring && (o = outbox_push(s)) != NULL) {
		o->conn_id = conn_ident(c)->id;
		o->release = 0;
		o->len = t->len;
		o->text = NULL;
		o->shared = t;
		t->refs++;
		return;
	}
	conn_send_event(c, t);
}

/* Send the reply to a request (stolen) to a connection id, held back while held. */
void
outbox_reply(struct server *s, uint64_t conn_id, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (text)
		outbox_text(s, conn_id, text, strlen(text), 1);
}

/* Hold messages back from now on. */
void
outbox_hold(struct server *s)
{
	s->deferring++;
}

/* Deliver the held-back messages, in order: replies now, events through the lane
 * (a reply to a connection with events still in the lane waits behind them). */
void
outbox_release(struct server *s)
{
	struct outbox_msg *out = s->out;

	s->deferring--;
	for (size_t i = 0; i < s->nout; i++) {
		struct conn *c = conn_get(s, out[i].conn_id);
		if (c && out[i].release) {
			conn_pending_add(c, -1);
			conn_send_text(c, out[i].shared ? out[i].shared->text : out[i].text, out[i].len);
		} else if (c) {
			if (out[i].shared == NULL) {
				out[i].shared = conn_text_new(out[i].text, out[i].len);
				out[i].text = NULL;
			}
			if (out[i].shared)
				conn_send_event(c, out[i].shared);
		}
		free(out[i].text);
		conn_text_release(out[i].shared);
	}
	s->nout = 0;
}
