/* tenderd requests over one connection: JSON lines out, bounded lines in, replies matched by id. */
#include "client/rpc.h"
#include "client/net.h"
#include "client/sign.h"
#include "common/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Print "error: ..." to stderr unless the rpc is quiet. */
static void rpc_say(const struct rpc *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "error: ..." to stderr unless the rpc is quiet. */
static void rpc_say(const struct rpc *r, const char *fmt, ...)
{
	va_list ap;

	if (r->quiet)
		return;
	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Length of the terminal control character at u[i] (C0, DEL, or C1 encoded in UTF-8), 0 if none. */
static size_t rpc_control_at(const unsigned char *u, size_t len, size_t i)
{
	if (u[i] < 0x20 || u[i] == 0x7f)
		return 1;
	if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] < 0xa0)
		return 2;
	return 0;
}

/* Replace terminal control characters in a string so that server text cannot drive the
 * terminal (white space becomes ' ', others '?'); a new string, or NULL when s is clean. */
static char *rpc_clean_string(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	char *out;

	while (i < len && rpc_control_at(u, len, i) == 0)
		i++;
	if (i == len || (out = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	for (; i < len; i += n > 0 ? n : 1) {
		n = rpc_control_at(u, len, i);
		if (n == 0)
			continue;
		out[i] = u[i] == '\t' || u[i] == '\n' || u[i] == '\r' ? ' ' : '?';
		if (n == 2)
			out[i + 1] = '?';
	}
	return out;
}

/* Clean every string in a JSON value, recursively (see rpc_clean_string). */
static void rpc_clean(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, key, item)
			rpc_clean(item);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			rpc_clean(item);
	} else if (json_is_string(v)) {
		char *c = rpc_clean_string(json_string_value(v), json_string_length(v));

		if (c != NULL) {
			json_string_set(v, c);
			free(c);
		}
	}
}

/* Connect as the options say; CTL_OK or CTL_CONN / CTL_TIMEOUT after printing why. */
/* Entry i of a comma-separated server list into out; -1 when there is none. */
static int rpc_nth_server(const char *list, int i, char *out, size_t n)
{
	const char *p = list, *e;

	for (; i > 0 && p != NULL; i--) {
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	if (p == NULL)
		return -1;
	e = strchr(p, ',');
	snprintf(out, n, "%.*s", (int)(e ? (size_t)(e - p) : strlen(p)), p);
	return 0;
}

/* Connect to server i of the list (-1: r->server as it is) before `deadline`. */
static int rpc_connect_to(struct rpc *r, int i, int64_t deadline, char *err, size_t n)
{
	if (i >= 0 && rpc_nth_server(r->servers, i, r->server, sizeof(r->server)) < 0)
		return NET_ERR;
	r->cur = i;
	r->conf.server = r->server;
	return net_open(&r->conf, deadline, &r->net, err, n);
}

int rpc_open(struct rpc *r, const struct opts *o)
{
	char err[600];
	int rc = NET_ERR;

	memset(r, 0, sizeof(*r));
	r->conf.server = o->server;
	r->conf.cert = o->cert;
	r->conf.key = o->key;
	r->conf.ca = o->ca;
	r->cap = o->max_line + 2;
	r->next_id = 1;
	r->json = o->json;
	r->timeout_ms = (int64_t)o->timeout_s * 1000;
	r->skew_rtt = -1;
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		fprintf(stderr, "error: out of memory\n");
		return CTL_CONN;
	}
	if (o->cert == NULL || *o->cert == '\0')
		fprintf(stderr, "warning: no client certificate (--cert or TENDERCTL_CERT); tenderd will refuse "
				"the connection\n");
	r->servers = o->server;
	r->nservers = 1;
	for (const char *p = o->server; (p = strchr(p, ',')) != NULL; p++)
		r->nservers++;
	/* each server in turn: the first that answers */
	for (int i = 0; i < r->nservers; i++) {
		rc = rpc_connect_to(r, i, time_mono_ms() + r->timeout_ms, err, sizeof(err));
		if (rc == NET_OK)
			return CTL_OK;
		if (i + 1 < r->nservers)
			fprintf(stderr, "warning: %s: %s; trying the next server\n", r->server, err);
	}
	fprintf(stderr, "error: %s\n", err);
	return rc == NET_TIMEOUT ? CTL_TIMEOUT : CTL_CONN;
}

/* See rpc.h. */
int rpc_reconnect(struct rpc *r, const char *primary, int64_t deadline)
{
	char err[600] = "no server to try";
	int64_t pause = 250;

	net_close(r->net);
	r->net = NULL;
	r->start = r->len = 0;
	for (;;) {
		for (int k = primary != NULL && *primary != '\0' ? -1 : 0; k < r->nservers; k++) {
			int i = k < 0 ? -1 : (r->cur + 1 + k) % r->nservers;
			int64_t d = time_mono_ms() + r->timeout_ms;
			if (k < 0)
				snprintf(r->server, sizeof(r->server), "%s", primary);
			if (deadline >= 0 && d > deadline)
				d = deadline;
			if (rpc_connect_to(r, i, d, err, sizeof(err)) == NET_OK) {
				fprintf(stderr, "tenderctl: connected to %s\n", r->server);
				return CTL_OK;
			}
			if (r->cur < 0)
				r->cur = 0;
		}
		primary = NULL;
		if (deadline >= 0 && time_mono_ms() + pause > deadline)
			break;
		nanosleep(&(struct timespec){ pause / 1000, pause % 1000 * 1000000 }, NULL);
		pause = pause * 2 > 5000 ? 5000 : pause * 2;
	}
	fprintf(stderr, "error: %s\n", err);
	return CTL_CONN;
}

/* See rpc.h. */
const char *rpc_standby(json_t *reply)
{
	json_t *e = json_object_get(reply, "error");
	const char *p;
	const char *code = json_string_value(json_object_get(e, "code"));

	if (rpc_ok(reply) || code == NULL || strcmp(code, "standby") != 0)
		return NULL;
	p = json_string_value(json_object_get(e, "primary"));
	if (p == NULL)
		p = json_string_value(json_object_get(reply, "primary"));
	return p != NULL ? p : "";
}

/* Close the connection and free the buffer. */
void rpc_close(struct rpc *r)
{
	net_close(r->net);
	free(r->buf);
	json_decref(r->side_reply);
	r->net = NULL;
	r->buf = NULL;
	r->side_reply = NULL;
}

/* Take the next complete line out of the buffer; NULL when there is none yet. */
static char *rpc_take_line(struct rpc *r)
{
	char *line = r->buf + r->start;
	char *lf = memchr(line, '\n', r->len);
	size_t n;

	if (lf == NULL)
		return NULL;
	n = (size_t)(lf - line);
	r->start += n + 1;
	r->len -= n + 1;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return line;
}

/* The server reset the connection before sending a line. tenderd refuses a certificate with one
 * line and a close, and a request already on its way makes that close a reset that destroys the
 * line. So connect once more, send nothing, and wait briefly for the line; print it and return 1
 * if it is a connection-level error. Nothing is sent again. */
static int rpc_diagnose(struct rpc *r)
{
	int64_t deadline = time_mono_ms() + (r->timeout_ms < 3000 ? r->timeout_ms : 3000);
	struct net *n;
	char err[600], *line = NULL;
	json_t *msg;
	int found = 0;

	r->diagnosed = 1;
	if (net_open(&r->conf, deadline, &n, err, sizeof(err)) != NET_OK)
		return 0;
	net_close(r->net);
	r->net = n;
	r->start = r->len = 0;
	while ((line = rpc_take_line(r)) == NULL && r->len < r->cap) {
		long got = net_read(n, r->buf + r->len, r->cap - r->len, deadline);

		if (got <= 0)
			break;
		r->len += (size_t)got;
	}
	if (line != NULL && (msg = json_loads(line, 0, NULL)) != NULL) {
		rpc_clean(msg);
		found = rpc_event(msg) != NULL && rpc_fatal_event(r, msg, line) != CTL_OK;
		json_decref(msg);
	}
	return found;
}

/* Read the next line before `deadline`: CTL_OK with *line, CTL_TIMEOUT, or CTL_CONN (printed). */
static int rpc_line(struct rpc *r, int64_t deadline, char **line)
{
	char why[512];

	for (;;) {
		long got;

		if ((*line = rpc_take_line(r)) != NULL) {
			if (**line == '\0')
				continue;
			r->lines++;
			return CTL_OK;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->len);
			r->start = 0;
		}
		if (r->len == r->cap) {
			rpc_say(r, "the server sent a line longer than %zu bytes (see --max-line)", r->cap - 2);
			return CTL_CONN;
		}
		got = net_read(r->net, r->buf + r->len, r->cap - r->len, deadline);
		if (got == NET_TIMEOUT)
			return CTL_TIMEOUT;
		if (got == NET_EOF) {
			rpc_say(r, "connection closed by the server");
			return CTL_CONN;
		}
		if (got < 0) {
			snprintf(why, sizeof(why), "%s", net_error(r->net));
			if (r->lines > 0 || r->diagnosed || r->quiet || !net_was_reset(r->net) || !rpc_diagnose(r))
				rpc_say(r, "%s", why);
			return CTL_CONN;
		}
		r->len += (size_t)got;
	}
}

/* Read the next message before `deadline`. */
int rpc_read(struct rpc *r, int64_t deadline, json_t **msg, const char **raw)
{
	json_error_t jerr;
	char *line;
	int rc = rpc_line(r, deadline, &line);

	*msg = NULL;
	if (rc != CTL_OK)
		return rc;
	*raw = line;
	*msg = json_loads(line, 0, &jerr);
	if (!json_is_object(*msg)) {
		rpc_say(r, "the server sent a line that is not a JSON object: %s",
			*msg == NULL ? jerr.text : "wrong type");
		json_decref(*msg);
		*msg = NULL;
		return CTL_CONN;
	}
	if (!r->verbatim)
		rpc_clean(*msg);
	return CTL_OK;
}

/* The event name of msg, NULL when msg is a reply. */
const char *rpc_event(json_t *msg)
{
	return json_string_value(json_object_get(msg, "event"));
}

/* Whether reply answers the request with this id (an error reply with a null or no id answers
 * anything: the server could not read the request's id). */
int rpc_matches(json_t *reply, json_t *id)
{
	json_t *rid = json_object_get(reply, "id");

	if (rid == NULL || json_is_null(rid))
		return json_is_false(json_object_get(reply, "ok"));
	return json_equal(rid, id);
}

/* Whether reply says ok:true. */
int rpc_ok(json_t *reply)
{
	return json_is_true(json_object_get(reply, "ok"));
}

/* Print an error object's code and message to stderr. */
static void rpc_print_error_object(json_t *err)
{
	const char *code = json_string_value(json_object_get(err, "code"));
	const char *msg = json_string_value(json_object_get(err, "message"));

	fprintf(stderr, "error: %s: %s\n", code != NULL ? code : "unknown", msg != NULL ? msg : "(no message)");
}

/* Print an error reply as "error: CODE: message" to stderr. */
void rpc_print_error(json_t *reply)
{
	rpc_print_error_object(json_object_get(reply, "error"));
}

/* An "error" or "shutdown" event ends the connection: print it, return CTL_CONN; else CTL_OK. */
int rpc_fatal_event(struct rpc *r, json_t *msg, const char *raw)
{
	const char *ev = rpc_event(msg);

	if (ev == NULL || (strcmp(ev, "error") != 0 && strcmp(ev, "shutdown") != 0))
		return CTL_OK;
	if (r->quiet)
		return CTL_CONN;
	if (r->json) {
		puts(raw);
		fflush(stdout);
	}
	if (strcmp(ev, "shutdown") == 0)
		fprintf(stderr, "error: shutdown: the server is shutting down\n");
	else
		rpc_print_error_object(json_object_get(msg, "error"));
	return CTL_CONN;
}

/* After a failed send, read what the server sent before it closed, briefly: a line saying why
 * (printed) or the read error (printed). CTL_CONN when something was printed, CTL_OK if not. */
static int rpc_drain(struct rpc *r)
{
	int64_t deadline = time_mono_ms() + 1000;
	const char *raw;
	json_t *msg;
	int rc;

	while ((rc = rpc_read(r, deadline, &msg, &raw)) == CTL_OK) {
		rc = rpc_fatal_event(r, msg, raw);
		json_decref(msg);
		if (rc != CTL_OK)
			return rc;
	}
	return rc == CTL_TIMEOUT ? CTL_OK : CTL_CONN;
}

/* Send req as one line, giving it an id if it has none. */
int rpc_send(struct rpc *r, json_t *req, json_t **id)
{
	char *text, why[512];
	size_t len;
	int rc;

	if (json_object_get(req, "id") == NULL)
		json_object_set_new(req, "id", json_integer(r->next_id++));
	*id = json_object_get(req, "id");
	/* a signed operation is signed with the user's key, unless the request already is */
	if (sign_op(json_string_value(json_object_get(req, "op"))) &&
	    json_object_get(req, "statement") == NULL &&
	    sign_request(req, r->conf.cert, r->conf.key, why, sizeof(why)) < 0) {
		fprintf(stderr, "error: %s\n", why);
		return CTL_CONN;
	}
	text = json_dumps(req, JSON_COMPACT);
	if (text == NULL) {
		fprintf(stderr, "error: cannot encode the request\n");
		return CTL_CONN;
	}
	len = strlen(text);
	text[len] = '\n';
	rc = net_write(r->net, text, len + 1, time_mono_ms() + r->timeout_ms);
	free(text);
	if (rc == NET_OK)
		return CTL_OK;
	if (rc == NET_TIMEOUT) {
		fprintf(stderr, "error: %s\n", net_error(r->net));
		return CTL_TIMEOUT;
	}
	snprintf(why, sizeof(why), "%s", net_error(r->net));
	if (rpc_drain(r) == CTL_OK)
		fprintf(stderr, "error: %s\n", why);
	return CTL_CONN;
}

/* Take a clock-skew sample from a reply carrying server_time (at top level or in its auction);
 * the sample with the shortest round trip wins. */
void rpc_note_time(struct rpc *r, json_t *reply, int64_t sent_wall, int64_t rtt)
{
	const char *st = json_string_value(json_object_get(reply, "server_time"));
	int64_t server;

	if (st == NULL)
		st = json_string_value(json_object_get(json_object_get(reply, "auction"), "server_time"));
	if (st == NULL || time_parse(st, &server) != 0)
		return;
	if (r->skew_rtt >= 0 && rtt > r->skew_rtt)
		return;
	r->skew_rtt = rtt;
	r->skew_ms = server - (sent_wall + rtt / 2);
}

/* Wait for the reply to `id` until `deadline`, skipping events and other replies (keeping the
 * reply to side_id). */
int rpc_wait(struct rpc *r, json_t *id, int64_t deadline, int64_t sent_wall, int64_t sent_mono,
	     json_t **reply)
{
	const char *raw;
	json_t *msg;
	int rc;

	*reply = NULL;
	for (;;) {
		rc = rpc_read(r, deadline, &msg, &raw);
		if (rc == CTL_TIMEOUT)
			fprintf(stderr, "error: no reply within %lld s\n", (long long)r->timeout_ms / 1000);
		if (rc != CTL_OK)
			return rc;
		if (rpc_event(msg) != NULL) {
			rc = rpc_fatal_event(r, msg, raw);
			json_decref(msg);
			if (rc != CTL_OK)
				return rc;
			continue;
		}
		if (rpc_matches(msg, id))
			break;
		if (r->side_id != NULL && r->side_reply == NULL && json_equal(json_object_get(msg, "id"), r->side_id)) {
			r->side_reply = msg;
			continue;
		}
		json_decref(msg);
	}
	rpc_note_time(r, msg, sent_wall, time_mono_ms() - sent_mono);
	*reply = msg;
	if (r->moving && rpc_standby(msg) != NULL)
		return CTL_ERROR;  /* rpc_call moves to the primary */
	if (r->json && !(r->hide_ok && rpc_ok(msg))) {
		puts(raw);
		fflush(stdout);
	}
	if (rpc_ok(msg))
		return CTL_OK;
	if (!r->quiet)
		rpc_print_error(msg);
	return CTL_ERROR;
}

/* Wait quietly until `deadline` for the reply to side_id if it has not come yet. */
void rpc_wait_side(struct rpc *r, int64_t deadline)
{
	const char *raw;
	json_t *msg;

	r->quiet = 1;
	while (r->side_id != NULL && r->side_reply == NULL && rpc_read(r, deadline, &msg, &raw) == CTL_OK) {
		if (rpc_event(msg) == NULL && json_equal(json_object_get(msg, "id"), r->side_id))
			r->side_reply = json_incref(msg);
		json_decref(msg);
	}
	r->quiet = 0;
}

/* Send req and wait for its reply within --timeout. */
int rpc_call(struct rpc *r, json_t *req, json_t **reply)
{
	int64_t wall = time_now_ms(), mono = time_mono_ms();
	json_t *id;
	int rc;

	*reply = NULL;
	/* a standby answers `standby`: the request goes to the primary it names, else to the
	 * next server, once per server of the list */
	for (int tries = 0;; tries++) {
		const char *primary;
		char to[300];
		rc = rpc_send(r, req, &id);
		if (rc != CTL_OK)
			return rc;
		r->moving = tries < r->nservers;
		rc = rpc_wait(r, id, mono + r->timeout_ms, wall, mono, reply);
		r->moving = 0;
		if (rc != CTL_ERROR || tries >= r->nservers || (primary = rpc_standby(*reply)) == NULL)
			return rc;
		snprintf(to, sizeof(to), "%s", primary);
		fprintf(stderr, "tenderctl: %s is a standby%s%s; moving on\n", r->server,
		    *to ? ", primary " : "", to);
		json_decref(*reply);
		*reply = NULL;
		if ((rc = rpc_reconnect(r, to, time_mono_ms() + r->timeout_ms)) != CTL_OK)
			return rc;
		wall = time_now_ms();
		mono = time_mono_ms();
	}
}

/* As rpc_call, but print nothing for an ok reply even with --json. */
int rpc_call_quiet(struct rpc *r, json_t *req, json_t **reply)
{
	int rc;

	r->hide_ok = 1;
	rc = rpc_call(r, req, reply);
	r->hide_ok = 0;
	return rc;
}

/* Start keeping alive: the first hello goes RPC_PING_MS after `now_mono`. */
void rpc_ping_start(struct rpc_ping *p, int64_t now_mono)
{
	memset(p, 0, sizeof(*p));
	p->at = now_mono + RPC_PING_MS;
}

/* When the keep-alive next needs attention (mono ms). */
int64_t rpc_ping_deadline(const struct rpc_ping *p)
{
	return p->id != NULL ? p->deadline : p->at;
}

/* Send the hello when it is due; CTL_TIMEOUT when the last one was not answered in time. */
int rpc_ping_timer(struct rpc *r, struct rpc_ping *p)
{
	int64_t now = time_mono_ms();
	json_t *req, *id;
	int rc;

	if (p->id != NULL && now >= p->deadline) {
		fprintf(stderr, "error: no reply within %lld s\n", (long long)r->timeout_ms / 1000);
		return CTL_TIMEOUT;
	}
	if (p->id != NULL || now < p->at)
		return CTL_OK;
	if ((req = json_pack("{s:s}", "op", "hello")) == NULL)
		return CTL_CONN;
	p->sent_wall = time_now_ms();
	p->sent_mono = now;
	rc = rpc_send(r, req, &id);
	if (rc == CTL_OK) {
		p->id = json_incref(id);
		p->deadline = now + r->timeout_ms;
	}
	json_decref(req);
	return rc;
}

/* Whether msg answers the hello in flight. */
int rpc_ping_reply(struct rpc *r, struct rpc_ping *p, json_t *msg)
{
	if (p->id == NULL || !rpc_matches(msg, p->id))
		return 0;
	rpc_note_time(r, msg, p->sent_wall, time_mono_ms() - p->sent_mono);
	json_decref(p->id);
	p->id = NULL;
	p->at = p->sent_mono + RPC_PING_MS;
	return 1;
}

/* Release the keep-alive. */
void rpc_ping_free(struct rpc_ping *p)
{
	json_decref(p->id);
	p->id = NULL;
}
