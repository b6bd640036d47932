/*
 * Connections: accept, TLS handshake (bufferevent_openssl), identity, line
 * framing with bounds, output with a high-water mark, timeouts and teardown.
 *
 * Ownership: a conn is owned by the map s->conns while open. conn_close()
 * removes it from the map (so conn_get() no longer finds it), stops reading,
 * lets queued output drain, and frees it later from the loop, never inside
 * its own callback. Replies for a connection are found by its id, never by a
 * pointer kept across a commit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "server/frame.h"
#include "server/server.h"

#define CONN_MAX_PENDING 64     /* requests awaiting a commit before reading pauses */
#define CONN_LINGER_S 5         /* longest wait for output to drain on close */

enum conn_state { CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSING };

struct conn {
	struct server *s;
	struct conn_ident ident;
	struct bufferevent *bev;
	enum conn_state state;
	struct event *timer;      /* handshake, then idle; linger while closing */
	struct event *stuck;      /* output above the high-water mark too long */
	struct event *expiry;     /* fires at the certificate's notAfter */
	int64_t not_after;        /* the certificate's, ms since the epoch */
	int64_t last_in;          /* monotonic ms of the last request */
	int out_paused;           /* reading paused: output above high water */
	int pending;              /* requests waiting for a commit */
	int counted;              /* counted in its cert's connections */
	int freeing;              /* teardown scheduled */
	int finished;             /* close_notify sent, write side shut */
	size_t held;              /* its events waiting in the lane */
	struct watch_list watches; /* what it watches; left when it closes */
	struct conn *prev, *next; /* every allocated connection, closing ones too */
	char peer[64];
	char addr[INET6_ADDRSTRLEN]; /* source address, counted in s->addrs until close */
	/* outage pause: the peer vanished (a reset, an end without close_notify, a timeout) */
	int lost;
	int close_notify;          /* the peer sent a TLS close_notify alert */
};

/* Open connections of one source address, and how many of them are in the handshake. */
struct conn_addr {
	long conns, handshakes;
};

#define CONN_REFUSED_ADDRS 1024  /* addresses whose refusals are counted one by one */

static void conn_update_reading(struct conn *c);
static void conn_addr_handshake_done(struct conn *c, int ok);
static void conn_addr_release(struct conn *c);
static void conn_finish(struct conn *c);
static void conn_free_later(struct conn *c);

/* The identity copied in at handshake. */
const struct conn_ident *
conn_ident(const struct conn *c)
{
	return &c->ident;
}

/* What the connection watches. */
struct watch_list *
conn_watches(struct conn *c)
{
	return &c->watches;
}

/* Find an open connection by id. */
struct conn *
conn_get(struct server *s, uint64_t id)
{
	struct conn *c = map_get(&s->conns, (int64_t)id);

	return c && c->state == CONN_OPEN ? c : NULL;
}

/* Arm a one-shot timer in seconds. */
static void
conn_arm(struct event *ev, long seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(ev, &tv);
}

/* Arm a timer `ms` from now (see server.h). */
void
conn_timer_in(struct server *s, struct event *ev, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	/* the loop's cached time may be stale after a long iteration: a timeout counted
	 * from it would fire before the deadline */
	event_base_update_cache_time(s->base);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

/* Queue one JSON message as a line. Drops it for closing connections. */
void
conn_send(struct conn *c, json_t *msg)
{
	char *text;

	if (c != NULL && msg != NULL)
		c->s->on_sent(c, msg);  /* logs the reply to the request being handled */
	if (c == NULL || c->state == CONN_CLOSING || msg == NULL) {
		json_decref(msg);
		return;
	}
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (text == NULL)
		return;
	conn_send_text(c, text, strlen(text));
	free(text);
}

/* Append one serialized message (without its newline) to the output and write it. */
static void
conn_write_now(struct conn *c, const char *text, size_t n)
{
	struct evbuffer *out;
	size_t len, before;

	if (c->state == CONN_CLOSING)
		return;
	out = bufferevent_get_output(c->bev);
	before = evbuffer_get_length(out);
	evbuffer_add(out, text, n);
	evbuffer_add(out, "\n", 1);
	len = evbuffer_get_length(out);
	/*
	 * Write in this loop iteration instead of after a round through epoll: running the
	 * bufferevent's write event now encrypts and writes what the socket takes; what it
	 * does not take waits for writability as usual. With the epoll changelist (main.c)
	 * the write event armed by this output and disarmed once it is written costs no
	 * system call.
	 */
	if (before == 0 && c->state == CONN_OPEN)
		event_active(&c->bev->ev_write, EV_WRITE, 1);
	/* dropped only when output already piled up: one large reply to a reader is fine */
	if (before > (size_t)c->s->cfg.output_high_water * 4) {
		c->lost = 1;  /* the peer stopped taking what it is sent */
		conn_close(c, "output overflow (client not reading)");
	} else if (len > (size_t)c->s->cfg.output_high_water && !c->out_paused) {
		c->out_paused = 1;
		conn_update_reading(c);
		conn_arm(c->stuck, c->s->cfg.stuck_timeout);
	}
}

/*
 * The lane: events to watchers (auction.update, auction.closed, procurement
 * events) are written a few per turn of the event loop, in the order they were
 * sent: CONN_LANE_TURN messages a turn, and every message that has waited
 * CONN_LANE_WAIT_MS or more, so that a loop slowed by load does not hold events
 * back longer than that. The auctions of one batch
 * broadcast together; written at once, their updates hold the loop for
 * milliseconds in which no bid is read and no commit result is handled. Through
 * the lane the loop polls again between turns. The texts are rendered before
 * they enter the lane, from committed state; only the encryption and the writes
 * are spread. Replies do not take the lane, except that a reply to a
 * connection with events still in it goes in behind them: what one connection
 * receives keeps the order in which it was sent.
 */
#define CONN_LANE_TURN 64
#define CONN_LANE_WAIT_MS 5

struct conn_lane_ent {
	uint64_t conn_id;          /* 0: already written (connection closed meanwhile) */
	int64_t at;                /* monotonic ms it entered the lane */
	struct conn_text *t;
};

static void conn_on_lane(evutil_socket_t fd, short what, void *arg);

/* Share malloc'd text (taken over); NULL, with the text freed, when out of memory. */
struct conn_text *
conn_text_new(char *text, size_t len)
{
	struct conn_text *t = malloc(sizeof(*t));

	if (t == NULL) {
		free(text);
		return NULL;
	}
	t->refs = 1;
	t->len = len;
	t->text = text;
	return t;
}

/* Drop one reference. */
void
conn_text_release(struct conn_text *t)
{
	if (t != NULL && --t->refs == 0) {
		free(t->text);
		free(t);
	}
}


/* Queue a text for a connection. -1 when out of memory. */
static int
conn_lane_push(struct conn *c, struct conn_text *t)
{
	struct server *s = c->s;
	struct conn_lane_ent *e;

	if (s->lane_ev == NULL && (s->lane_ev = evtimer_new(s->base, conn_on_lane, s)) == NULL)
		return -1;
	if (s->nlane == s->caplane) {
		if (s->lane_head > 0) {  /* reuse the room before the head first */
			e = s->lane;
			memmove(e, e + s->lane_head, (s->nlane - s->lane_head) * sizeof(*e));
			s->nlane -= s->lane_head;
			s->lane_head = 0;
		} else {
			size_t ncap = s->caplane ? s->caplane * 2 : 256;
			if ((e = realloc(s->lane, ncap * sizeof(*e))) == NULL)
				return -1;
			s->lane = e;
			s->caplane = ncap;
		}
	}
	e = (struct conn_lane_ent *)s->lane + s->nlane++;
	e->conn_id = c->ident.id;
	e->at = time_mono_ms();
	e->t = t;
	t->refs++;
	c->held++;
	if (!evtimer_pending(s->lane_ev, NULL)) {
		static const struct timeval zero = { 0, 0 };
		evtimer_add(s->lane_ev, &zero);  /* after the loop's next poll */
	}
	return 0;
}

/* One turn of the lane. */
static void
conn_on_lane(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct conn_lane_ent *q = s->lane;
	size_t written = 0;
	int64_t old = time_mono_ms() - CONN_LANE_WAIT_MS;

	while (s->lane_head < s->nlane && (written < CONN_LANE_TURN || q[s->lane_head].at <= old)) {
		struct conn_lane_ent *e = &q[s->lane_head++];
		struct conn *c = e->conn_id ? map_get(&s->conns, (int64_t)e->conn_id) : NULL;
		if (c != NULL) {
			c->held--;
			conn_write_now(c, e->t->text, e->t->len);
			written++;
		}
		conn_text_release(e->t);
	}
	if (s->lane_head < s->nlane) {
		static const struct timeval zero = { 0, 0 };
		evtimer_add(s->lane_ev, &zero);
	} else {
		s->lane_head = s->nlane = 0;
	}
}

/* A closing connection: its messages still in the lane go to its output, to be
 * flushed before close_notify like the rest (no overflow check: it is closing). */
static void
conn_lane_flush(struct conn *c)
{
	struct server *s = c->s;
	struct conn_lane_ent *q = s->lane;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	for (size_t i = s->lane_head; i < s->nlane && c->held > 0; i++) {
		if (q[i].conn_id == c->ident.id) {
			q[i].conn_id = 0;
			c->held--;
			evbuffer_add(out, q[i].t->text, q[i].t->len);
			evbuffer_add(out, "\n", 1);
		}
	}
	c->held = 0;
}

/* Free what the lane holds (shutdown, after the loop). */
void
conn_lane_free(struct server *s)
{
	struct conn_lane_ent *q = s->lane;

	for (size_t i = s->lane_head; i < s->nlane; i++)
		conn_text_release(q[i].t);
	free(s->lane);
	s->lane = NULL;
	s->lane_head = s->nlane = s->caplane = 0;
	if (s->lane_ev)
		event_free(s->lane_ev);
	s->lane_ev = NULL;
}

/* Send an event through the lane; written at once when the lane cannot take it. */
void
conn_send_event(struct conn *c, struct conn_text *t)
{
	if (c == NULL || c->state == CONN_CLOSING)
		return;
	if (conn_lane_push(c, t) < 0)
		conn_write_now(c, t->text, t->len);
}

/* Queue one serialized message (without its newline); behind the connection's
 * events in the lane if it has any. */
void
conn_send_text(struct conn *c, const char *text, size_t n)
{
	char *copy;
	struct conn_text *t;

	if (c == NULL || c->state == CONN_CLOSING)
		return;
	if (c->held == 0) {
		conn_write_now(c, text, n);
		return;
	}
	if ((copy = malloc(n)) == NULL || (t = conn_text_new(copy, n)) == NULL) {
		conn_write_now(c, text, n);  /* conn_text_new freed the copy */
		return;
	}
	memcpy(copy, text, n);
	if (conn_lane_push(c, t) < 0)
		conn_write_now(c, text, n);
	conn_text_release(t);
}

/* Enable or disable reading from the pauses in force. */
static void
conn_update_reading(struct conn *c)
{
	if (c->state != CONN_OPEN)
		return;
	if (c->out_paused || c->pending >= CONN_MAX_PENDING || c->s->stopping) {
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	bufferevent_enable(c->bev, EV_READ);
	/* lines may already wait in the input buffer: no new data will announce them */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
}

/* A request was queued (+1) or answered (-1). */
void
conn_pending_add(struct conn *c, int delta)
{
	int before = c->pending;

	c->pending += delta;
	if ((before >= CONN_MAX_PENDING) != (c->pending >= CONN_MAX_PENDING))
		conn_update_reading(c);
}

/* Send a connection-level error event. */
static void
conn_send_event_error(struct conn *c, const char *code, const char *message)
{
	conn_send(c, json_pack("{s:s, s:{s:s, s:s}}", "event", "error", "error", "code", code,
	    "message", message));
}

/* A line longer than max_line: say so and close. */
static void
conn_line_too_long(struct conn *c)
{
	conn_send(c, json_pack("{s:n, s:b, s:{s:s, s:s}}", "id", "ok", 0, "error", "code",
	    "line_too_long", "message", "request line exceeds max_line bytes; closing"));
	conn_close(c, "line too long");
}

/* Handle the complete lines in the input buffer, at most lines_per_wakeup. */
static void
conn_on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	long max = c->s->cfg.max_line;

	if (c->state != CONN_OPEN) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	for (long i = 0; i < c->s->cfg.lines_per_wakeup; i++) {
		size_t eol_len = 0, len, n;
		struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		const char *buf = NULL;
		struct frame f;
		char *line;

		/* the rules live in frame.c; here only the bytes they need are made contiguous */
		n = frame_window((ssize_t)p.pos, evbuffer_get_length(in), (size_t)max);
		if (n > 0 && (buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)n)) == NULL)
			return;
		switch (frame_next(buf, n, (size_t)max, &f)) {
		case FRAME_MORE:
			return;
		case FRAME_TOO_LONG:
			conn_line_too_long(c);
			return;
		case FRAME_LINE:
			break;
		}
		if ((line = malloc(f.len + 1)) == NULL)
			return;
		len = f.len;
		memcpy(line, buf, len);
		line[len] = '\0';
		evbuffer_drain(in, f.used);
		c->last_in = time_mono_ms();
		if (len > 0)
			c->s->on_line(c->s, c, line, len);
		free(line);
		if (c->state != CONN_OPEN || c->out_paused || c->pending >= CONN_MAX_PENDING)
			return;
	}
	/* more lines may wait: come back after others had their turn */
	bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
}

/* Output drained below the low-water mark (or fully, when closing). */
static void
conn_on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	size_t len = evbuffer_get_length(bufferevent_get_output(bev));

	if (c->state == CONN_CLOSING) {
		if (len == 0)
			conn_finish(c);
		return;
	}
	if (c->out_paused && len <= (size_t)c->s->cfg.output_high_water / 2) {
		c->out_paused = 0;
		evtimer_del(c->stuck);
		conn_update_reading(c);
	}
}

/* The handshake finished: identify the peer among registered participants. */
static void
conn_on_connected(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	struct tls_cert_info info;
	struct cert *cert;

	conn_addr_handshake_done(c, 1);
	if (tls_peer_info(ssl, &info) < 0) {
		conn_close(c, "no verified peer certificate");
		return;
	}
	snprintf(c->ident.subject, sizeof(c->ident.subject), "%s", info.subject);
	c->state = CONN_OPEN;
	c->last_in = time_mono_ms();
	cert = map_sget(&c->s->certs, info.fp);
	if (cert == NULL) {
		log_info("conn=%llu peer=%s fp=%.16s subject=\"%s\" refused: unregistered",
		    (unsigned long long)c->ident.id, c->peer, info.fp, info.subject);
		conn_send_event_error(c, "unregistered_certificate",
		    "this certificate is not registered on the platform");
		conn_close(c, "unregistered certificate");
		return;
	}
	if (cert->who->suspended) {
		conn_send_event_error(c, "participant_suspended", "this participant is suspended");
		conn_close(c, "participant suspended");
		return;
	}
	if (cert->who->org->suspended) {
		conn_send_event_error(c, "organization_suspended",
		    "this participant's organization is suspended");
		conn_close(c, "organization suspended");
		return;
	}
	if (cert->conns >= c->s->cfg.max_conns_per_cert) {
		conn_send_event_error(c, "too_many_connections",
		    "too many connections with this certificate");
		conn_close(c, "too many connections for certificate");
		return;
	}
	cert->conns++;
	c->counted = 1;
	c->ident.cert = cert;
	c->ident.who = cert->who;
	conn_arm(c->timer, c->s->cfg.idle_timeout);
	/* a certificate that expires while connected is disconnected at that moment */
	c->not_after = info.not_after;
	conn_timer_in(c->s, c->expiry, info.not_after - time_now_ms());
	log_info("conn=%llu peer=%s fp=%.16s participant=%lld role=%s tls=%s%s open",
	    (unsigned long long)c->ident.id, c->peer, info.fp, (long long)cert->who->id,
	    role_name(cert->who->role), SSL_get_version(ssl), SSL_session_reused(ssl) ? " resumed" : "");
}

/* The certificate's notAfter has come: tell the connection and close it. */
static void
conn_on_expiry(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char t[TIME_BUF], msg[96];

	if (c->state != CONN_OPEN)
		return;
	if (time_now_ms() < c->not_after) {  /* the wall clock went back: wait on */
		conn_timer_in(c->s, c->expiry, c->not_after - time_now_ms());
		return;
	}
	time_format(c->not_after, t);
	log_warn("conn=%llu peer=%s participant=%lld fp=%.16s certificate expired at %s; closing",
	    (unsigned long long)c->ident.id, c->peer, (long long)c->ident.who->id,
	    c->ident.cert->fp, t);
	snprintf(msg, sizeof(msg), "this certificate expired at %s", t);
	conn_send_event_error(c, "certificate_expired", msg);
	conn_close(c, "certificate expired");
}

/* TLS state changes: a close_notify alert read from the peer is a clean end (the outage
 * pause counts every other end of a connection as a lost peer). Alerts only: no cost per
 * record. */
static void
conn_ssl_info(const SSL *ssl, int where, int ret)
{
	struct conn *c;

	if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT &&
	    (ret & 0xff) == SSL_AD_CLOSE_NOTIFY &&
	    (c = SSL_get_app_data(ssl)) != NULL)
		c->close_notify = 1;
}

/* Connection events: handshake done, EOF, errors. */
static void
conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == CONN_HANDSHAKE)
			conn_on_connected(c);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		char why[256] = "closed by peer";
		unsigned long e;
		if ((what & BEV_EVENT_ERROR) && (e = bufferevent_get_openssl_error(bev)) != 0)
			ERR_error_string_n(e, why, sizeof(why));
		else if ((what & BEV_EVENT_ERROR) && EVUTIL_SOCKET_ERROR())
			snprintf(why, sizeof(why), "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		if (c->state == CONN_HANDSHAKE)
			log_info("conn=%llu peer=%s handshake failed: %s", (unsigned long long)c->ident.id,
			    c->peer, why);
		/* a clean end is the peer's TLS close_notify; a reset, or an end without it (dirty
		 * shutdowns are EOF here too), is a lost peer */
		c->lost = (what & BEV_EVENT_ERROR) != 0 || !c->close_notify;
		if (!(what & BEV_EVENT_ERROR) && !c->close_notify)
			snprintf(why, sizeof(why), "closed by peer without close_notify");
		if (c->state != CONN_CLOSING)
			conn_close(c, why);
		/* the peer is gone: nothing more can be written */
		conn_free_later(c);
	}
}

/* Handshake or idle timer. */
static void
conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int64_t idle_ms;

	switch (c->state) {
	case CONN_HANDSHAKE:
		c->s->hs_timeout++;
		conn_close(c, "handshake timeout");
		conn_free_later(c);
		break;
	case CONN_OPEN:
		idle_ms = time_mono_ms() - c->last_in;
		if (idle_ms >= c->s->cfg.idle_timeout * 1000) {
			char msg[64];
			snprintf(msg, sizeof(msg), "no request for %ld s", c->s->cfg.idle_timeout);
			conn_send_event_error(c, "idle_timeout", msg);
			c->lost = 1;  /* the peer went silent */
			conn_close(c, "idle timeout");
		} else {
			conn_timer_in(c->s, c->timer, c->s->cfg.idle_timeout * 1000 - idle_ms);
		}
		break;
	case CONN_CLOSING:
		conn_free_later(c);  /* linger expired */
		break;
	}
}

/* Output stayed above the high-water mark for stuck_timeout. */
static void
conn_on_stuck(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->out_paused && c->state == CONN_OPEN) {
		c->lost = 1;  /* the peer stopped taking what it is sent */
		conn_close(c, "stuck: output not drained");
		conn_free_later(c);
	}
}

/* Whether the connection ended because its peer vanished (see struct conn's `lost`). */
int
conn_lost(const struct conn *c)
{
	return c->lost;
}

/* Stop reading, detach from the server, flush, then free. */
void
conn_close(struct conn *c, const char *reason)
{
	struct evbuffer *out;

	if (c->state == CONN_CLOSING)
		return;
	if (c->held > 0)
		conn_lane_flush(c);  /* what was sent before the close goes out before it */
	if (c->state == CONN_OPEN)
		log_info("conn=%llu participant=%lld close: %s", (unsigned long long)c->ident.id,
		    c->ident.who ? (long long)c->ident.who->id : 0LL, reason);
	else
		log_debug("conn=%llu close: %s", (unsigned long long)c->ident.id, reason);
	if (c->state == CONN_HANDSHAKE)
		conn_addr_handshake_done(c, 0);
	conn_addr_release(c);
	c->state = CONN_CLOSING;
	if (c->s->on_conn_close)  /* e.g. it leaves every watch list at once */
		c->s->on_conn_close(c->s, c);
	map_del(&c->s->conns, (int64_t)c->ident.id);
	c->s->nconns--;
	if (c->counted)
		c->ident.cert->conns--;
	c->counted = 0;
	/* keep reading (and discarding): closing a socket with unread input
	 * resets it, and the peer would lose the last lines sent to it */
	bufferevent_enable(c->bev, EV_READ);
	evtimer_del(c->stuck);
	evtimer_del(c->expiry);
	conn_arm(c->timer, CONN_LINGER_S);
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) == 0) {
		conn_finish(c);
		return;
	}
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

/* Output drained on a closing connection: send close_notify, shut the write
 * side, and wait (bounded) for the peer to close. */
static void
conn_finish(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	struct timeval tv = { 2, 0 };

	if (c->finished)
		return;
	c->finished = 1;
	if (ssl && SSL_is_init_finished(ssl))
		SSL_shutdown(ssl);
	ERR_clear_error();
	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	evtimer_add(c->timer, &tv);
}

/* Final teardown, from the loop. */
static void
conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	if (ssl && SSL_is_init_finished(ssl) && !c->finished)
		SSL_shutdown(ssl);  /* best effort close_notify */
	ERR_clear_error();
	if (ssl)
		SSL_set_app_data(ssl, NULL);  /* the SSL may outlive the conn */
	if (c->s->on_conn_close)  /* nothing left unless never closed (shutdown) */
		c->s->on_conn_close(c->s, c);
	bufferevent_free(c->bev);
	event_free(c->timer);
	event_free(c->stuck);
	event_free(c->expiry);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->s->conn_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

/* Free every connection still allocated (after the loop has stopped). */
void
conn_free_all(struct server *s)
{
	while (s->conn_head)
		conn_free_cb(-1, 0, s->conn_head);
}

/* Schedule the teardown once. */
static void
conn_free_later(struct conn *c)
{
	static const struct timeval zero = { 0, 0 };

	if (c->freeing)
		return;
	c->freeing = 1;
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_del(c->timer);
	evtimer_del(c->stuck);
	evtimer_del(c->expiry);
	if (event_base_once(c->s->base, -1, EV_TIMEOUT, conn_free_cb, c, &zero) < 0)
		conn_free_cb(-1, 0, c);
}

/* "address:port" of a peer, for logs. */
static void
conn_format_peer(const struct sockaddr *sa, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, n, "%s:%d", host, port);
}

/* ---- per-address limits ---- */

/* The source address of a peer, as text. */
static void
conn_format_addr(const struct sockaddr *sa, char *buf, size_t n)
{
	snprintf(buf, n, "?");
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, n);
}

/* Count a refusal: in total, per reason and per address (for the first
 * CONN_REFUSED_ADDRS addresses), and log it at most once a second. */
static void
conn_refuse(struct server *s, const char *addr, uint64_t *counter, const char *why, long limit)
{
	static int64_t logged_at;
	static uint64_t unlogged;
	uint64_t *n = map_sget(&s->refused_addrs, addr);
	int64_t now = time_mono_ms();

	(*counter)++;
	if (n == NULL && s->refused_addrs.len < CONN_REFUSED_ADDRS &&
	    (n = calloc(1, sizeof(*n))) != NULL && map_sput(&s->refused_addrs, addr, n) < 0) {
		free(n);
		n = NULL;
	}
	if (n != NULL)
		(*n)++;
	else
		s->refused_other++;
	unlogged++;
	if (logged_at != 0 && now - logged_at < 1000)
		return;
	log_warn("refusing connection from %s: %s (%ld) reached; %llu refused since the last "
	    "such line", addr, why, limit, (unsigned long long)unlogged);
	logged_at = now;
	unlogged = 0;
}

/* Whether a new connection from `addr` is within the limits; counts it when it is. */
static int
conn_addr_admit(struct server *s, const char *addr)
{
	struct conn_addr *a = map_sget(&s->addrs, addr);

	if (s->nconns >= (size_t)s->cfg.max_conns) {
		conn_refuse(s, addr, &s->refused_max_conns, "max_conns", s->cfg.max_conns);
		return 0;
	}
	if (a != NULL && s->cfg.max_conns_per_addr > 0 && a->conns >= s->cfg.max_conns_per_addr) {
		conn_refuse(s, addr, &s->refused_conns_per_addr, "max_conns_per_addr",
		    s->cfg.max_conns_per_addr);
		return 0;
	}
	if (a != NULL && s->cfg.max_handshakes_per_addr > 0 &&
	    a->handshakes >= s->cfg.max_handshakes_per_addr) {
		conn_refuse(s, addr, &s->refused_handshakes_per_addr, "max_handshakes_per_addr",
		    s->cfg.max_handshakes_per_addr);
		return 0;
	}
	if (a == NULL) {
		if ((a = calloc(1, sizeof(*a))) == NULL)
			return 0;
		if (map_sput(&s->addrs, addr, a) < 0) {
			free(a);
			return 0;
		}
	}
	a->conns++;
	a->handshakes++;
	return 1;
}

/* Undo conn_addr_admit (the connection could not be set up). */
static void
conn_addr_unadmit(struct server *s, const char *addr)
{
	struct conn_addr *a = map_sget(&s->addrs, addr);

	if (a != NULL)
		a->handshakes--;
	if (a != NULL && --a->conns <= 0)
		free(map_sdel(&s->addrs, addr));
}

/* The handshake of a connection ended (ok: completed). */
static void
conn_addr_handshake_done(struct conn *c, int ok)
{
	struct conn_addr *a = map_sget(&c->s->addrs, c->addr);

	if (a != NULL && a->handshakes > 0)
		a->handshakes--;
	if (ok)
		c->s->hs_completed++;
	else
		c->s->hs_failed++;
}

/* A connection closes: its address counts one connection less. */
static void
conn_addr_release(struct conn *c)
{
	struct conn_addr *a = map_sget(&c->s->addrs, c->addr);

	if (a != NULL && --a->conns <= 0)
		free(map_sdel(&c->s->addrs, c->addr));
}

/* Free the per-address tables (after the loop). */
void
conn_addrs_free(struct server *s)
{
	size_t it = 0;
	void *v;

	while (map_next(&s->addrs, &it, NULL, NULL, &v))
		free(v);
	it = 0;
	while (map_next(&s->refused_addrs, &it, NULL, NULL, &v))
		free(v);
	map_free(&s->addrs);
	map_free(&s->refused_addrs);
}

/* A new TCP connection: start the TLS handshake. Refused at once (closed without a
 * word) while stopping, or beyond max_conns or the limits of its source address. */
static void
conn_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct server *s = arg;
	char addr[INET6_ADDRSTRLEN];
	struct conn *c;
	SSL *ssl;

	conn_format_addr(sa, addr, sizeof(addr));
	if (s->stopping || !conn_addr_admit(s, addr)) {
		evutil_closesocket(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL || (ssl = SSL_new(s->ssl_ctx)) == NULL) {
		conn_addr_unadmit(s, addr);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->s = s;
	c->ident.id = ++s->next_conn_id;
	c->state = CONN_HANDSHAKE;
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	conn_format_peer(sa, c->peer, sizeof(c->peer));
	c->bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL) {
		conn_addr_unadmit(s, addr);
		SSL_free(ssl);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	SSL_set_app_data(ssl, c);
	SSL_set_info_callback(ssl, conn_ssl_info);  /* a close_notify tells a clean end */
	{
		/* small replies must not wait for the peer's delayed ACK (Nagle) */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->timer = evtimer_new(s->base, conn_on_timer, c);
	c->stuck = evtimer_new(s->base, conn_on_stuck, c);
	c->expiry = evtimer_new(s->base, conn_on_expiry, c);
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, (size_t)s->cfg.max_line + 2);
	bufferevent_setwatermark(c->bev, EV_WRITE, (size_t)s->cfg.output_high_water / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	map_put(&s->conns, (int64_t)c->ident.id, c);
	s->nconns++;
	c->next = s->conn_head;
	if (c->next)
		c->next->prev = c;
	s->conn_head = c;
	conn_arm(c->timer, s->cfg.handshake_timeout);
}

/* Accepting again after a pause. */
static void
conn_on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (s->listener && !s->stopping)
		evconnlistener_enable(s->listener);
}

/* Accept errors must not stop the server, nor spin it: out of descriptors
 * (EMFILE, ENFILE) or memory, pause accepting for a moment (the connections
 * wait in the kernel's queue) and log once per pause. */
static void
conn_on_accept_error(struct evconnlistener *l, void *arg)
{
	struct server *s = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 0, 250000 };

	log_warn("accept failed: %s; pausing accepts for 250 ms (connections=%zu)",
	    evutil_socket_error_to_string(err), s->nconns);
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		evconnlistener_disable(l);
		if (s->accept_pause == NULL)
			s->accept_pause = evtimer_new(s->base, conn_on_accept_resume, s);
		evtimer_add(s->accept_pause, &tv);
	}
}

/* Bind the listener. */
int
conn_listen(struct server *s, char *cause, size_t n)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);

	if (evutil_parse_sockaddr_port(s->cfg.listen, (struct sockaddr *)&ss, &sslen) < 0) {
		snprintf(cause, n, "listen: cannot parse '%s' (host:port)", s->cfg.listen);
		return -1;
	}
	s->listener = evconnlistener_new_bind(s->base, conn_on_accept, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 4096,
	    (struct sockaddr *)&ss, sslen);
	if (s->listener == NULL) {
		snprintf(cause, n, "listen on %s: %s", s->cfg.listen, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(s->listener, conn_on_accept_error);
	return 0;
}

/* Stop accepting new connections and stop reading requests. */
void
conn_stop_listening(struct server *s)
{
	size_t it = 0;
	void *v;

	if (s->listener) {
		evconnlistener_free(s->listener);
		s->listener = NULL;
	}
	while (map_next(&s->conns, &it, NULL, NULL, &v))
		conn_update_reading(v);
}

/* Close every connection with a shutdown event. */
void
conn_close_all(struct server *s, const char *reason)
{
	struct conn **all;
	size_t n = 0, it = 0;
	void *v;

	all = calloc(s->conns.len + 1, sizeof(*all));
	if (all == NULL)
		return;
	while (map_next(&s->conns, &it, NULL, NULL, &v))
		all[n++] = v;
	for (size_t i = 0; i < n; i++) {
		if (all[i]->state == CONN_OPEN)
			conn_send(all[i], json_pack("{s:s}", "event", "shutdown"));
		conn_close(all[i], reason);
	}
	free(all);
}

/* A connection's certificate is no longer accepted after a reload: tell it, close it. */
static void
conn_close_untrusted(struct conn *c, int revoked, const char *why)
{
	char msg[256];

	log_warn("conn=%llu peer=%s participant=%lld fp=%.16s certificate %s after the reload: "
	    "%s; closing", (unsigned long long)c->ident.id, c->peer, (long long)c->ident.who->id,
	    c->ident.cert->fp, revoked ? "revoked" : "no longer accepted", why);
	snprintf(msg, sizeof(msg), "this certificate is %s: %s",
	    revoked ? "revoked" : "no longer accepted", why);
	conn_send_event_error(c, revoked ? "certificate_revoked" : "certificate_not_trusted", msg);
	conn_close(c, revoked ? "certificate revoked" : "certificate no longer accepted");
}

/* After a reload: check every open connection's certificate again (when the TLS
 * context changed; each certificate is verified once), re-arm idle timers. */
void
conn_reload(struct server *s, int recheck)
{
	struct conn **all = calloc(s->conns.len + 1, sizeof(*all));
	struct map good;            /* fingerprints verified again in this pass */
	size_t n = 0, it = 0;
	void *v;

	if (all == NULL)
		return;
	map_init(&good, 1);
	while (map_next(&s->conns, &it, NULL, NULL, &v))
		all[n++] = v;
	for (size_t i = 0; i < n; i++) {
		struct conn *c = all[i];
		char why[160];
		int revoked;
		if (c->state != CONN_OPEN)
			continue;
		if (recheck && map_sget(&good, c->ident.cert->fp) == NULL) {
			if (tls_recheck(s->ssl_ctx, bufferevent_openssl_get_ssl(c->bev), &revoked, why,
			    sizeof(why)) < 0) {
				conn_close_untrusted(c, revoked, why);
				continue;
			}
			map_sput(&good, c->ident.cert->fp, c);
		}
		/* idle_timeout may have changed: the timer fires at the new deadline */
		conn_timer_in(s, c->timer, s->cfg.idle_timeout * 1000 - (time_mono_ms() - c->last_in));
	}
	map_free(&good);
	free(all);
}

/* Connections in the TLS handshake and open ones. */
void
conn_counts(struct server *s, size_t *handshaking, size_t *open)
{
	size_t it = 0;
	void *v;

	*handshaking = *open = 0;
	while (map_next(&s->conns, &it, NULL, NULL, &v)) {
		const struct conn *c = v;
		if (c->state == CONN_HANDSHAKE)
			(*handshaking)++;
		else if (c->state == CONN_OPEN)
			(*open)++;
	}
}
