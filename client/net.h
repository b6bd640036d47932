/* TLS connection to tenderd with deadlines; the only part of tenderctl that uses OpenSSL. */
#ifndef TENDERCTL_NET_H
#define TENDERCTL_NET_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Results of net calls besides a byte count. */
enum {
	NET_OK = 0,
	NET_EOF = 0,        /* net_read: the server closed the connection */
	NET_ERR = -1,       /* failure; net_error() says why */
	NET_TIMEOUT = -2,   /* the deadline passed */
};

/* Where and how to connect. Any string may be NULL (no client certificate, system CAs). */
struct net_conf {
	const char *server;   /* HOST:PORT or [IPv6]:PORT */
	const char *cert;     /* client certificate chain, PEM */
	const char *key;      /* its private key, PEM (NULL: read from cert) */
	const char *ca;       /* CA certificates the server certificate must chain to */
};

struct net;

/* Split "host:port", "[v6]:port" or "host" (port 7443); 0 or -1 when malformed. */
int net_split(const char *server, char *host, size_t hostlen, char *port, size_t portlen);

/* Connect and finish the TLS handshake before `deadline` (time_mono_ms). Returns NET_OK with
 * *out set, or NET_ERR / NET_TIMEOUT with the reason in err. */
int net_open(const struct net_conf *conf, int64_t deadline, struct net **out, char *err, size_t errlen);

/* Write all of buf before `deadline`: NET_OK, NET_ERR or NET_TIMEOUT. */
int net_write(struct net *n, const char *buf, size_t len, int64_t deadline);

/* Read what is available (waiting until `deadline`, -1 for ever): bytes read, NET_EOF,
 * NET_ERR or NET_TIMEOUT. */
long net_read(struct net *n, char *buf, size_t cap, int64_t deadline);

/* Why the last call failed. */
const char *net_error(const struct net *n);

/* Whether the last call failed because the server reset the connection (ECONNRESET, EPIPE). */
int net_was_reset(const struct net *n);

/* Send close_notify (without waiting) and free everything. NULL is fine. */
void net_close(struct net *n);

/* Set by a signal handler (SIGINT, SIGTERM in `watch`): a wait the signal interrupts ends as a
 * timeout, so that the caller can close the connection cleanly (TLS close_notify). */
extern volatile sig_atomic_t net_stop;

#endif
