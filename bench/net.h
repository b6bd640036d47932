/*
 * Mutual-TLS client connections (bufferevent_openssl), identities, line
 * framing and session resumption of the load generator (net.c).
 */
#ifndef TENDERD_BENCH_NET_H
#define TENDERD_BENCH_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct bufferevent;
struct ssl_ctx_st;
struct ssl_session_st;
struct x509_st;
struct evp_pkey_st;
struct opts;

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
/* Load identities PREFIX<first> .. PREFIX<first+n-1> from the certificate directory. */
struct ident *ident_load_bulk(const struct opts *o, int n, char *cause, size_t cn);
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

#endif
