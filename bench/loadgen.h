/*
 * The tenderd load generator (bench/): shared declarations.
 *
 *   loadgen.c  options, modes, the report
 *   net.c      mutual-TLS client connections (bufferevent_openssl), identities,
 *              line framing, session resumption
 *   bid.c      the bidding mode: suppliers, watchers, the bid strategy, latencies
 *   hs.c       handshake and idle-connection modes
 *   hist.c     log-linear latency histogram (microseconds)
 *   procfs.c   RSS and CPU time of other processes from /proc
 *   probe.c    the stall probe: late wake-ups of a sleeping process, kdamond's CPU
 *   jscan.c    field extraction from tenderd's compact JSON lines (no full parse)
 *
 * Money is int64 minor units inside and decimal strings on the wire (common/money).
 */
#ifndef TENDERD_LOADGEN_H
#define TENDERD_LOADGEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct bufferevent;
struct ssl_ctx_st;
struct ssl_session_st;
struct x509_st;
struct evp_pkey_st;

/* ---- hist.c ---- */
#define HIST_BUCKETS 2560

/* Microsecond values; about 1.6% resolution above 128 us. */
struct hist {
	uint64_t n, max, min, sum;
	uint64_t b[HIST_BUCKETS];
};
void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
/* The value below which num/den of the samples fall (bucket upper bound, at most max). */
uint64_t hist_quantile(const struct hist *h, uint64_t num, uint64_t den);
/* "p50=.. p90=.. p99=.. p99.9=.. max=.." into buf. */
void hist_summary(const struct hist *h, char *buf, size_t n);

/* ---- procfs.c ---- */
/* Resident set size in KiB, -1 when unknown. */
long procfs_rss_kb(int pid);
/* Peak resident set size (VmHWM) in KiB, -1 when unknown. */
long procfs_hwm_kb(int pid);
/* CPU time (user + system) of a process in microseconds, -1 when unknown. */
int64_t procfs_cpu_us(int pid);
/* The same summed over a process and its direct children (a postmaster and its backends). */
int64_t procfs_tree_cpu_us(int pid);
/* Our own CPU time in microseconds. */
int64_t procfs_self_cpu_us(void);

/* ---- jscan.c ---- */
/* Pointer just past "key": in a compact JSON line, or NULL. */
const char *jscan_find(const char *line, const char *key);
/* Integer value of "key"; 0, or -1 when absent or not an integer. */
int jscan_int(const char *line, const char *key, int64_t *out);
/* String value of "key" copied to buf (no unescaping: codes and amounts only);
 * 0, 1 when the value is null, -1 when absent or too long. */
int jscan_str(const char *line, const char *key, char *buf, size_t n);
/* "ok":true in the line. */
int jscan_ok(const char *line);

/* ---- time ---- */
/* Monotonic microseconds. */
uint64_t lg_now_us(void);
/* Wall-clock microseconds since the epoch. */
uint64_t lg_wall_us(void);

/* ---- net.c ---- */
struct ident {
	char name[64];
	struct x509_st *cert;
	struct evp_pkey_st *key;
	struct ssl_session_st *sess;   /* last resumable session, when resumption is on */
};

struct lconn;

/* Callbacks of a connection. `down` is the last call; the connection is freed after it. */
struct lconn_ops {
	void (*up)(struct lconn *c);                          /* handshake done */
	void (*line)(struct lconn *c, char *line, size_t len); /* one received line */
	void (*down)(struct lconn *c, const char *why);       /* failed or closed by the peer */
};

struct net {
	struct event_base *base;
	struct ssl_ctx_st *ctx;
	struct sockaddr_storage addr;
	int addrlen;
	int max_inflight;             /* handshakes in progress at most */
	int inflight;
	struct lconn *pend_head, *pend_tail;
	uint64_t opened, failed, resumed;
};

struct lconn {
	struct net *net;
	struct ident *id;
	struct bufferevent *bev;
	const struct lconn_ops *ops;
	void *arg;
	int state;                    /* LC_* in net.c */
	int resume;
	int in_cb, dead;
	int reused;                   /* the handshake resumed a session */
	uint64_t t_begin, t_up;       /* monotonic us: queued/started, handshake done */
	struct lconn *next;           /* pending queue */
};

int net_init(struct net *n, struct event_base *base, const char *server, const char *ca,
    int max_inflight, char *cause, size_t cn);
void net_free(struct net *n);
/* Load DIR/NAME.crt and DIR/NAME.key (or explicit paths when dir is NULL). */
int ident_load(struct ident *id, const char *dir, const char *name, const char *crt,
    const char *key, char *cause, size_t cn);
void ident_free(struct ident *id);
/* Start (or queue, past max_inflight) a connection. NULL on allocation failure. */
struct lconn *net_open(struct net *n, struct ident *id, int resume, const struct lconn_ops *ops,
    void *arg);
/* Send text (a full line including its LF). */
void net_write(struct lconn *c, const char *text, size_t len);
/* Keep the connection's session on its identity for later resumption. */
void net_keep_session(struct lconn *c);
/* Close with close_notify and free; no callback follows. Safe inside callbacks. */
void net_close(struct lconn *c);
/* Connections queued or handshaking. */
int net_busy(const struct net *n);

/* ---- modes ---- */
struct opts {
	const char *server, *ca, *certs, *prefix;
	const char *buyer_cert, *buyer_key, *watcher_cert, *watcher_key;
	const char *auction_ids;
	int first;                    /* first bulk certificate number */
	int conns, auctions, watchers, idle, handshakes, resume;
	int64_t rate;                 /* bids per second in total, 0 = closed loop */
	int duration, warmup, connect_timeout, retry_ms, concurrency;
	int server_pid, pg_pid;
	int auction_duration;
	const char *start_price, *step_min, *step_max;
	int timeline_ms;              /* bid mode: per-slice latency report, 0 = none */
	int stall_probe;              /* probe mode */
	int quiet;
};

int bid_run(const struct opts *o);
int hs_run(const struct opts *o);
int idle_run(const struct opts *o);
int probe_run(const struct opts *o);

/* Load identities PREFIX<first> .. PREFIX<first+n-1> from the certificate directory. */
struct ident *lg_load_bulk(const struct opts *o, int n, char *cause, size_t cn);

/* Progress messages on stderr (unless --quiet). */
void lg_note(const struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* CPU accounting over a measured window: server, PostgreSQL, the load generator. */
struct cpu_window {
	uint64_t t0;
	int64_t server0, pg0, self0;
};
void cpu_begin(const struct opts *o, struct cpu_window *w);
/* "cpu_server=..% cpu_pg=..% cpu_loadgen=..%" of one core each, into buf. */
void cpu_end(const struct opts *o, const struct cpu_window *w, char *buf, size_t n,
    int64_t *server_us);

#endif
