/*
 * Connection modes of the load generator.
 *
 * Handshakes: open, say hello, read one line, close (with close_notify), as
 * fast as `concurrency` connections in parallel allow. One line back proves
 * that the server finished its side: with TLS 1.3 the client is done before
 * the server has checked the client certificate. Against `openssl s_server
 * -rev` the line is the reversed hello, so both servers do the same work per
 * connection. With --resume each identity first makes one full handshake
 * (not measured), then every connection offers the last session ticket.
 * With --duration, no new connection starts after that many seconds.
 *
 * Idle: open N connections, each says hello once, hold them, measure the
 * server's RSS before and after, then check that each still answers. With
 * --retry-ms a refused connection is retried every 10 ms (used to time a
 * restart: the first answer after the server starts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bench/cpu.h"
#include "bench/hist.h"
#include "bench/hs.h"
#include "bench/jscan.h"
#include "bench/lg.h"
#include "bench/net.h"
#include "bench/opts.h"
#include "bench/procfs.h"

#define HELLO "{\"id\":1,\"op\":\"hello\"}\n"
#define PING "{\"id\":2,\"op\":\"hello\"}\n"

/* ---- handshakes ---- */

struct hrun {
	const struct opts *o;
	struct event_base *base;
	struct net net;
	struct ident *ids;
	int nids, priming, resume;
	int target, started, done, failed, active, next_id;
	uint64_t full, reused, t0, t1;
	struct hist h;
	struct cpu_window cpu;
};

static void hs_start_one(struct hrun *r);

/* Handshake finished: ask for one line. */
static void
hs_on_up(struct lconn *c)
{
	net_write(c, HELLO, sizeof(HELLO) - 1);
}

/* One line back: this connection is done. */
static void
hs_on_line(struct lconn *c, char *line, size_t len)
{
	struct hrun *r = c->arg;

	if (strncmp(line, "{\"event\":\"error\"", 16) == 0) {
		r->failed++;
		if (r->failed <= 3)
			fprintf(stderr, "loadgen: %s refused: %.200s\n", c->id->name, line);
	} else {
		if (!r->priming) {
			hist_add(&r->h, lg_now_us() - c->t_begin);
			if (c->reused)
				r->reused++;
			else
				r->full++;
		}
		r->done++;
		if (r->resume)
			net_keep_session(c);
	}
	r->active--;
	net_close(c);
	hs_start_one(r);
	(void)len;
}

/* Failed before the answer. */
static void
hs_on_down(struct lconn *c, const char *why)
{
	struct hrun *r = c->arg;

	r->failed++;
	r->active--;
	if (r->failed <= 3)
		fprintf(stderr, "loadgen: handshake with %s failed: %s\n", c->id->name, why);
	hs_start_one(r);
}

static const struct lconn_ops hs_ops = { hs_on_up, hs_on_line, hs_on_down };

/* Keep `concurrency` connections going until the target is reached. */
static void
hs_start_one(struct hrun *r)
{
	while (r->active < r->o->concurrency && r->started < r->target &&
	    r->failed <= r->target / 10 + 10) {
		if (!r->priming && r->o->duration > 0 &&
		    lg_now_us() - r->t0 >= (uint64_t)r->o->duration * 1000000u)
			break;  /* time is up: let the running ones finish */
		struct ident *id = &r->ids[r->next_id++ % r->nids];
		r->started++;
		r->active++;
		if (net_open(&r->net, id, r->resume, &hs_ops, r) == NULL) {
			r->active--;
			r->failed++;
		}
	}
	if (r->active == 0)
		event_base_loopbreak(r->base);
}

/* Run `target` connections to completion. */
static void
hs_batch(struct hrun *r, int target)
{
	r->target = target;
	r->started = r->done = r->failed = r->active = 0;
	hs_start_one(r);
	if (r->active)
		event_base_dispatch(r->base);
}

/* The handshake mode. */
int
hs_run(const struct opts *o)
{
	struct hrun r;
	char cause[512], lat[256], cpu[256];
	int64_t server_us = -1;
	uint64_t span, per_s;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.resume = o->resume;
	r.nids = o->conns;
	hist_init(&r.h);
	if ((r.base = event_base_new()) == NULL ||
	    net_init(&r.net, r.base, o->server, o->ca, o->concurrency, cause, sizeof(cause)) < 0 ||
	    (r.ids = ident_load_bulk(o, r.nids, cause, sizeof(cause))) == NULL) {
		fprintf(stderr, "loadgen: %s\n", r.base ? cause : "event_base_new failed");
		return 1;
	}
	if (r.resume) {
		lg_note(o, "priming: one full handshake per identity (%d)", r.nids);
		r.priming = 1;
		hs_batch(&r, r.nids);
		r.priming = 0;
		if (r.failed) {
			fprintf(stderr, "loadgen: priming failed for %d identities\n", r.failed);
			return 1;
		}
	}
	lg_note(o, "%d connections, %d in parallel, %s", o->handshakes, o->concurrency,
	    r.resume ? "resuming sessions" : "full handshakes");
	cpu_begin(o, &r.cpu);
	r.t0 = lg_now_us();
	hs_batch(&r, o->handshakes);
	r.t1 = lg_now_us();
	cpu_end(o, &r.cpu, cpu, sizeof(cpu), &server_us);
	span = r.t1 > r.t0 ? r.t1 - r.t0 : 1;
	per_s = (uint64_t)r.done * 1000000u / span;
	hist_summary(&r.h, lat, sizeof(lat));
	printf("== handshakes (%s), %d in parallel\n", r.resume ? "resumed" : "full", o->concurrency);
	printf("completed          %d in %.3f s: %llu/s (full %llu, resumed %llu, failed %d)\n",
	    r.done, (double)span / 1e6, (unsigned long long)per_s, (unsigned long long)r.full,
	    (unsigned long long)r.reused, r.failed);
	printf("connect->answer us %s\n", lat);
	printf("cpu (%% of a core)  %s\n", cpu);
	if (server_us >= 0 && r.done)
		printf("server cpu per connection %llu us\n",
		    (unsigned long long)((uint64_t)server_us / (uint64_t)r.done));
	printf("RESULT mode=handshake resume=%d done=%d failed=%d per_s=%llu full=%llu resumed=%llu "
	    "p50_us=%llu p99_us=%llu server_cpu_us_per_conn=%lld %s\n", r.resume, r.done, r.failed,
	    (unsigned long long)per_s, (unsigned long long)r.full, (unsigned long long)r.reused,
	    (unsigned long long)hist_quantile(&r.h, 50, 100),
	    (unsigned long long)hist_quantile(&r.h, 99, 100),
	    (long long)(server_us >= 0 && r.done ? server_us / r.done : -1), cpu);
	fflush(stdout);
	for (int i = 0; i < r.nids; i++)
		ident_free(&r.ids[i]);
	free(r.ids);
	net_free(&r.net);
	event_base_free(r.base);
	return r.done > 0 && r.failed == 0 ? 0 : 1;
}

/* ---- idle connections ---- */

enum { I_OPENING, I_OPEN, I_PINGED, I_ALIVE, I_GONE };

struct iconn {
	struct irun *r;
	struct lconn *c;
	struct ident *id;
	int state;
};

struct irun {
	const struct opts *o;
	struct event_base *base;
	struct net net;
	struct ident *ids;
	struct iconn *conns;
	int n, open, failed, alive, lost, pinging;
	uint64_t t0, t_open, first_ok_wall;
	struct event *timer;
	struct hist h;
};

static const struct lconn_ops idle_ops;

/* Retry timer of one connection. */
static void
idle_on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct iconn *ic = arg;

	ic->state = I_OPENING;
	ic->c = net_open(&ic->r->net, ic->id, 0, &idle_ops, ic);
}

/* All connections have answered or failed. */
static void
idle_check_opened(struct irun *r)
{
	if (r->open + r->failed == r->n && r->t_open == 0) {
		r->t_open = lg_now_us();
		event_base_loopbreak(r->base);
	}
}

/* Handshake done: hello. */
static void
idle_on_up(struct lconn *c)
{
	net_write(c, HELLO, sizeof(HELLO) - 1);
}

/* Answers to hello (opening) and to the later ping. */
static void
idle_on_line(struct lconn *c, char *line, size_t len)
{
	struct iconn *ic = c->arg;
	struct irun *r = ic->r;

	if (ic->state == I_OPENING) {
		if (!jscan_ok(line)) {
			if (r->failed < 3)
				fprintf(stderr, "loadgen: %s: %.200s\n", c->id->name, line);
			r->failed++;
			ic->state = I_GONE;
			ic->c = NULL;
			net_close(c);
		} else {
			ic->state = I_OPEN;
			r->open++;
			hist_add(&r->h, lg_now_us() - c->t_begin);
			if (r->first_ok_wall == 0)
				r->first_ok_wall = lg_wall_us();
		}
		idle_check_opened(r);
	} else if (ic->state == I_PINGED && jscan_ok(line)) {
		ic->state = I_ALIVE;
		if (++r->alive + r->lost >= r->pinging)
			event_base_loopbreak(r->base);
	}
	(void)len;
}

/* Closed: retry (when asked to, while opening) or count. */
static void
idle_on_down(struct lconn *c, const char *why)
{
	struct iconn *ic = c->arg;
	struct irun *r = ic->r;

	ic->c = NULL;
	if (ic->state == I_OPENING && r->o->retry_ms > 0 &&
	    lg_now_us() - r->t0 < (uint64_t)r->o->retry_ms * 1000u) {
		struct timeval tv = { 0, 10000 };
		event_base_once(r->base, -1, EV_TIMEOUT, idle_on_retry, ic, &tv);
		return;
	}
	if (ic->state == I_OPENING) {
		if (r->failed < 3)
			fprintf(stderr, "loadgen: %s: connection failed: %s\n", c->id->name, why);
		r->failed++;
		idle_check_opened(r);
	} else {
		r->lost++;
		if (r->pinging && r->alive + r->lost >= r->pinging)
			event_base_loopbreak(r->base);
	}
	ic->state = I_GONE;
}

static const struct lconn_ops idle_ops = { idle_on_up, idle_on_line, idle_on_down };

/* Stop the loop after a delay. */
static void
idle_on_timer(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Run the loop for at most `seconds` (until something breaks it). */
static void
idle_loop(struct irun *r, int seconds)
{
	struct timeval tv = { seconds, 0 };

	evtimer_add(r->timer, &tv);
	event_base_dispatch(r->base);
	evtimer_del(r->timer);
}

/* The idle-connection mode. */
int
idle_run(const struct opts *o)
{
	struct irun r;
	char cause[512], lat[256];
	long rss0, rss1, rss2;
	int nids = o->conns < o->idle ? o->conns : o->idle;
	uint64_t span;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.n = o->idle;
	hist_init(&r.h);
	if ((r.base = event_base_new()) == NULL ||
	    net_init(&r.net, r.base, o->server, o->ca, o->concurrency, cause, sizeof(cause)) < 0 ||
	    (r.ids = ident_load_bulk(o, nids, cause, sizeof(cause))) == NULL) {
		fprintf(stderr, "loadgen: %s\n", r.base ? cause : "event_base_new failed");
		return 1;
	}
	r.timer = evtimer_new(r.base, idle_on_timer, r.base);
	if ((r.conns = calloc((size_t)r.n, sizeof(*r.conns))) == NULL || r.timer == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		return 1;
	}
	rss0 = procfs_rss_kb(o->server_pid);
	lg_note(o, "opening %d connections (%d identities, %d handshakes in parallel)", r.n, nids,
	    o->concurrency);
	r.t0 = lg_now_us();
	for (int i = 0; i < r.n; i++) {
		struct iconn *ic = &r.conns[i];
		ic->r = &r;
		ic->id = &r.ids[i % nids];
		ic->state = I_OPENING;
		ic->c = net_open(&r.net, ic->id, 0, &idle_ops, ic);
	}
	idle_loop(&r, o->connect_timeout);
	if (r.t_open == 0)
		r.t_open = lg_now_us();
	span = r.t_open > r.t0 ? r.t_open - r.t0 : 1;
	rss1 = procfs_rss_kb(o->server_pid);
	lg_note(o, "%d open, %d failed in %.1f s; holding for %d s", r.open, r.failed,
	    (double)span / 1e6, o->duration);
	if (o->duration > 0)
		idle_loop(&r, o->duration);
	/* everyone still there? */
	for (int i = 0; i < r.n; i++) {
		struct iconn *ic = &r.conns[i];
		if (ic->state == I_OPEN && ic->c) {
			ic->state = I_PINGED;
			r.pinging++;
			net_write(ic->c, PING, sizeof(PING) - 1);
		}
	}
	if (r.pinging)
		idle_loop(&r, 30);
	rss2 = procfs_rss_kb(o->server_pid);
	hist_summary(&r.h, lat, sizeof(lat));
	printf("== idle connections: %d requested\n", r.n);
	printf("opened             %d in %.3f s (%llu/s), failed %d\n", r.open, (double)span / 1e6,
	    (unsigned long long)((uint64_t)r.open * 1000000u / span), r.failed);
	printf("connect->hello us  %s\n", lat);
	printf("still answering    %d of %d after %d s (%d lost)\n", r.alive, r.pinging, o->duration,
	    r.lost);
	if (o->server_pid > 0) {
		long per = r.open ? (rss1 - rss0) * 1024 / r.open : 0;
		printf("server RSS         %ld KiB before, %ld KiB with the connections open, %ld KiB "
		    "after the ping: %ld bytes per connection\n", rss0, rss1, rss2, per);
	}
	printf("RESULT mode=idle requested=%d opened=%d failed=%d alive=%d lost=%d open_s_ms=%llu "
	    "rss_before_kb=%ld rss_open_kb=%ld rss_after_kb=%ld rss_per_conn_bytes=%ld "
	    "first_ok_wall_us=%llu\n", r.n, r.open, r.failed, r.alive, r.lost,
	    (unsigned long long)(span / 1000u), rss0, rss1, rss2,
	    r.open && o->server_pid > 0 ? (rss1 - rss0) * 1024 / r.open : -1,
	    (unsigned long long)r.first_ok_wall);
	fflush(stdout);
	for (int i = 0; i < r.n; i++)
		if (r.conns[i].c)
			net_close(r.conns[i].c);
	for (int i = 0; i < nids; i++)
		ident_free(&r.ids[i]);
	free(r.ids);
	free(r.conns);
	event_free(r.timer);
	net_free(&r.net);
	event_base_free(r.base);
	return r.open == r.n ? 0 : 1;
}
