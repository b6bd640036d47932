/*
 * Mutual-TLS client connections for the load generator.
 *
 * One client SSL_CTX verifies the server against the CA; each connection
 * presents its own identity (certificate + key, set on its SSL). Connections
 * past `max_inflight` handshakes wait in a FIFO so that a burst of thousands
 * does not outrun the server's handshake timeout.
 *
 * Ownership: the net owns every lconn. The owner sees it through callbacks
 * and may call net_close() at any time, also inside a callback; the lconn is
 * freed once the callback returns. After `down` the lconn is gone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "bench/lg.h"
#include "bench/net.h"
#include "bench/opts.h"

enum { LC_PENDING, LC_CONNECTING, LC_OPEN, LC_GONE };

/* Last OpenSSL error as text. */
static const char *
net_ssl_error(char *buf, size_t n)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, n, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, buf, n);
	ERR_clear_error();
	return buf;
}

/* The client context: verify the server against `ca`. */
int
net_init(struct net *n, struct event_base *base, const char *server, const char *ca,
    int max_inflight, char *cause, size_t cn)
{
	char err[256];

	memset(n, 0, sizeof(*n));
	n->base = base;
	n->max_inflight = max_inflight > 0 ? max_inflight : 64;
	n->addrlen = sizeof(n->addr);
	if (evutil_parse_sockaddr_port(server, (struct sockaddr *)&n->addr, &n->addrlen) < 0) {
		snprintf(cause, cn, "cannot parse server address '%s' (HOST:PORT)", server);
		return -1;
	}
	if ((n->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(cause, cn, "SSL_CTX_new: %s", net_ssl_error(err, sizeof(err)));
		return -1;
	}
	SSL_CTX_set_min_proto_version(n->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(n->ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_load_verify_locations(n->ctx, ca, NULL) != 1) {
		snprintf(cause, cn, "CA %s: %s", ca, net_ssl_error(err, sizeof(err)));
		SSL_CTX_free(n->ctx);
		n->ctx = NULL;
		return -1;
	}
	SSL_CTX_set_verify(n->ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

/* Free the context (connections must be closed). */
void
net_free(struct net *n)
{
	struct lconn *c, *next;

	for (c = n->pend_head; c; c = next) {
		next = c->next;
		free(c);
	}
	n->pend_head = n->pend_tail = NULL;
	SSL_CTX_free(n->ctx);
	n->ctx = NULL;
}

/* Read a certificate and its key. */
int
ident_load(struct ident *id, const char *dir, const char *name, const char *crt,
    const char *key, char *cause, size_t cn)
{
	char pcrt[1024], pkey[1024], err[256];
	FILE *f;

	memset(id, 0, sizeof(*id));
	if (dir) {
		snprintf(pcrt, sizeof(pcrt), "%s/%s.crt", dir, name);
		snprintf(pkey, sizeof(pkey), "%s/%s.key", dir, name);
		crt = pcrt;
		key = pkey;
	}
	snprintf(id->name, sizeof(id->name), "%.63s", name ? name : crt);
	if ((f = fopen(crt, "r")) == NULL) {
		snprintf(cause, cn, "cannot open %s", crt);
		return -1;
	}
	id->cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = fopen(key, "r")) == NULL) {
		snprintf(cause, cn, "cannot open %s", key);
		ident_free(id);
		return -1;
	}
	id->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (id->cert == NULL || id->key == NULL) {
		snprintf(cause, cn, "%s / %s: %s", crt, key, net_ssl_error(err, sizeof(err)));
		ident_free(id);
		return -1;
	}
	return 0;
}

/* Release an identity. */
void
ident_free(struct ident *id)
{
	X509_free(id->cert);
	EVP_PKEY_free(id->key);
	SSL_SESSION_free(id->sess);
	id->cert = NULL;
	id->key = NULL;
	id->sess = NULL;
}

/* Identities PREFIX<first> ... of the bulk PKI. */
struct ident *
ident_load_bulk(const struct opts *o, int n, char *cause, size_t cn)
{
	struct ident *ids;
	char name[64];

	if (n <= 0) {
		snprintf(cause, cn, "no identities requested");
		return NULL;
	}
	if (o->certs == NULL) {
		snprintf(cause, cn, "--certs DIR is required");
		return NULL;
	}
	if ((ids = calloc((size_t)n, sizeof(*ids))) == NULL) {
		snprintf(cause, cn, "out of memory");
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%05d", o->prefix, o->first + i);
		if (ident_load(&ids[i], o->certs, name, NULL, NULL, cause, cn) < 0) {
			for (int k = 0; k < i; k++)
				ident_free(&ids[k]);
			free(ids);
			return NULL;
		}
	}
	return ids;
}

static void net_pump(struct net *n);

/* Free the lconn now, or after the callback that is running. */
static void
net_release(struct lconn *c)
{
	c->state = LC_GONE;
	if (c->in_cb)
		c->dead = 1;
	else
		free(c);
}

/* Hand every complete line to the owner. */
static void
net_drain_lines(struct lconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len;
	char *line;

	while (!c->dead && c->state == LC_OPEN &&
	    (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		c->ops->line(c, line, len);
		free(line);
	}
}

/* Readable: lines. */
static void
net_on_read(struct bufferevent *bev, void *arg)
{
	struct lconn *c = arg;

	c->in_cb++;
	net_drain_lines(c);
	c->in_cb--;
	if (c->dead && c->in_cb == 0)
		free(c);
}

/* Handshake done, EOF or error. */
static void
net_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct lconn *c = arg;
	struct net *n = c->net;
	char why[256];
	unsigned long e;

	c->in_cb++;
	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		n->inflight--;
		n->opened++;
		c->state = LC_OPEN;
		c->t_up = lg_now_us();
		c->reused = ssl && SSL_session_reused(ssl);
		if (c->reused)
			n->resumed++;
		net_pump(n);
		c->ops->up(c);
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		snprintf(why, sizeof(why), "closed by the server");
		if ((what & BEV_EVENT_ERROR) && (e = bufferevent_get_openssl_error(bev)) != 0)
			ERR_error_string_n(e, why, sizeof(why));
		else if ((what & BEV_EVENT_ERROR) && EVUTIL_SOCKET_ERROR())
			snprintf(why, sizeof(why), "%s",
			    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		if (c->state == LC_CONNECTING) {
			n->inflight--;
			n->failed++;
		} else if (c->state == LC_OPEN) {
			net_drain_lines(c);  /* a last error event may precede the close */
		}
		ERR_clear_error();
		if (c->state != LC_GONE) {
			c->state = LC_GONE;
			bufferevent_free(c->bev);
			c->bev = NULL;
			net_pump(n);
			c->ops->down(c, why);
			c->dead = 1;
		}
	}
	c->in_cb--;
	if (c->dead && c->in_cb == 0)
		free(c);
}

/* Start the TLS connection of a queued lconn. */
static void
net_start(struct lconn *c)
{
	struct net *n = c->net;
	SSL *ssl = SSL_new(n->ctx);
	evutil_socket_t fd;
	int one = 1;

	c->state = LC_CONNECTING;
	c->t_begin = lg_now_us();
	n->inflight++;
	if (ssl == NULL || SSL_use_certificate(ssl, c->id->cert) != 1 ||
	    SSL_use_PrivateKey(ssl, c->id->key) != 1)
		goto fail;
	if (c->resume && c->id->sess)
		SSL_set_session(ssl, c->id->sess);
	c->bev = bufferevent_openssl_socket_new(n->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		goto fail;
	ssl = NULL;  /* owned by the bufferevent */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, net_on_read, NULL, net_on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&n->addr, n->addrlen) < 0)
		goto fail;
	/* as interactive clients do: no Nagle delay on our requests and handshake flights */
	if ((fd = bufferevent_getfd(c->bev)) >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	n->inflight--;
	n->failed++;
	c->state = LC_GONE;
	c->in_cb++;
	c->ops->down(c, "cannot start the connection");
	c->in_cb--;
	free(c);
}

/* Start queued connections while there is room. */
static void
net_pump(struct net *n)
{
	while (n->pend_head && n->inflight < n->max_inflight) {
		struct lconn *c = n->pend_head;
		n->pend_head = c->next;
		if (n->pend_head == NULL)
			n->pend_tail = NULL;
		c->next = NULL;
		net_start(c);
	}
}

/* Queue a connection; it starts when fewer than max_inflight handshakes run. */
struct lconn *
net_open(struct net *n, struct ident *id, int resume, const struct lconn_ops *ops, void *arg)
{
	struct lconn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->net = n;
	c->id = id;
	c->ops = ops;
	c->arg = arg;
	c->resume = resume;
	c->state = LC_PENDING;
	c->t_begin = lg_now_us();
	if (n->pend_tail)
		n->pend_tail->next = c;
	else
		n->pend_head = c;
	n->pend_tail = c;
	net_pump(n);
	return c;
}

/* Queue text for sending. */
void
net_write(struct lconn *c, const char *text, size_t len)
{
	if (c->state == LC_OPEN && c->bev) {
		int idle = evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
		bufferevent_write(c->bev, text, len);
		/* write now, as tenderd does (server/conn.c), not after a round through epoll */
		if (idle)
			event_active(&c->bev->ev_write, EV_WRITE, 1);
	}
}

/* Remember the session (with the tickets received so far) for resumption. */
void
net_keep_session(struct lconn *c)
{
	SSL *ssl;
	SSL_SESSION *s;

	if (c->bev == NULL || (ssl = bufferevent_openssl_get_ssl(c->bev)) == NULL)
		return;
	if ((s = SSL_get1_session(ssl)) == NULL)
		return;
	if (!SSL_SESSION_is_resumable(s)) {
		SSL_SESSION_free(s);
		return;
	}
	SSL_SESSION_free(c->id->sess);
	c->id->sess = s;
}

/* Close now (close_notify when open) and free. */
void
net_close(struct lconn *c)
{
	struct net *n = c->net;

	if (c->state == LC_GONE)
		return;
	if (c->state == LC_PENDING) {
		struct lconn **pp = &n->pend_head, *prev = NULL;
		while (*pp && *pp != c) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp) {
			*pp = c->next;
			if (n->pend_tail == c)
				n->pend_tail = prev;
		}
		net_release(c);
		return;
	}
	if (c->state == LC_CONNECTING)
		n->inflight--;
	if (c->bev) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		/* a clean close_notify keeps the session resumable */
		if (ssl && c->state == LC_OPEN)
			SSL_shutdown(ssl);
		ERR_clear_error();
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	net_release(c);
	net_pump(n);
}

/* Anything queued or handshaking. */
int
net_busy(const struct net *n)
{
	return n->pend_head != NULL || n->inflight > 0;
}
