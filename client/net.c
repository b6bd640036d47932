/* TLS connection to tenderd: TCP connect and TLS handshake with deadlines, then blocking-style
 * reads and writes over a non-blocking socket driven by poll(). */
#include "client/net.h"
#include "common/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* One connection. */
struct net {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	int sys;          /* errno of the last failed system call under OpenSSL, 0 if none */
	char err[512];
};

/* Internal results of a wait step: repeat the SSL call; the peer closed the connection. */
#define NET_AGAIN 1
#define NET_CLOSED 2

/* Split "host:port", "[v6]:port" or "host" (port 7443); 0 or -1 when malformed. */
int net_split(const char *server, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *h = server, *p = "7443", *colon;
	size_t hl;

	if (server[0] == '[') {
		const char *close = strchr(server, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		h = server + 1;
		hl = (size_t)(close - h);
		if (close[1] == ':')
			p = close + 2;
	} else {
		colon = strchr(server, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return -1;
		hl = colon != NULL ? (size_t)(colon - server) : strlen(server);
		if (colon != NULL)
			p = colon + 1;
	}
	if (hl == 0 || hl >= hostlen || *p == '\0' || strlen(p) >= portlen ||
	    strspn(p, "0123456789") != strlen(p) || atol(p) < 1 || atol(p) > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, p);
	return 0;
}

/* Wait until fd is ready for `events`: 1 ready, 0 deadline passed, -1 poll failed. */
/* See net.h. */
volatile sig_atomic_t net_stop;

static int net_wait(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int ms = -1, r;

		if (deadline >= 0) {
			int64_t left = deadline - time_mono_ms();

			if (left <= 0)
				return 0;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		r = poll(&p, 1, ms);
		if (r > 0)
			return 1;
		if (r < 0 && errno == EINTR && net_stop)
			return 0;  /* asked to stop (SIGINT, SIGTERM): like a timeout, the caller decides */
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* Put `prefix` and the queued OpenSSL errors (or errno `sys`) into n->err. */
static void net_ssl_reason(struct net *n, const char *prefix, int sys)
{
	unsigned long e;
	size_t len;

	snprintf(n->err, sizeof(n->err), "%s", prefix);
	while ((e = ERR_get_error()) != 0) {
		const char *r = ERR_reason_error_string(e);
		char tmp[256];

		if (r == NULL) {
			ERR_error_string_n(e, tmp, sizeof(tmp));
			r = tmp;
		}
		if (strstr(n->err + strlen(prefix), r) != NULL)
			continue;
		len = strlen(n->err);
		snprintf(n->err + len, sizeof(n->err) - len, "%s%s", len > strlen(prefix) ? "; " : "", r);
	}
	if (strlen(n->err) == strlen(prefix)) {
		len = strlen(n->err);
		snprintf(n->err + len, sizeof(n->err) - len, "%s", sys ? strerror(sys) : "connection closed");
	}
}

/* Turn a failed SSL call into NET_AGAIN after waiting, NET_CLOSED, NET_ERR or NET_TIMEOUT. */
static int net_ssl_wait(struct net *n, int ret, int64_t deadline, const char *what)
{
	int sys = errno, e = SSL_get_error(n->ssl, ret), w;
	char prefix[64];
	long v;

	n->sys = e == SSL_ERROR_SYSCALL ? sys : 0;

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		w = net_wait(n->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (w > 0)
			return NET_AGAIN;
		if (w == 0) {
			snprintf(n->err, sizeof(n->err), "%s: timed out", what);
			return NET_TIMEOUT;
		}
		snprintf(n->err, sizeof(n->err), "%s: poll: %s", what, strerror(errno));
		return NET_ERR;
	}
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && sys == 0 && ERR_peek_error() == 0)) {
		snprintf(n->err, sizeof(n->err), "%s: connection closed by the server", what);
		return NET_CLOSED;
	}
	v = SSL_get_verify_result(n->ssl);
	if (v != X509_V_OK) {
		snprintf(n->err, sizeof(n->err), "%s: server certificate: %s", what,
			 X509_verify_cert_error_string(v));
		ERR_clear_error();
		return NET_ERR;
	}
	snprintf(prefix, sizeof(prefix), "%s: ", what);
	net_ssl_reason(n, prefix, e == SSL_ERROR_SYSCALL ? sys : 0);
	return NET_ERR;
}

/* Open a TCP connection to host:port before the deadline; NET_OK, NET_ERR or NET_TIMEOUT. */
static int net_tcp(struct net *n, const char *host, const char *port, int64_t deadline)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int rc, timed_out = 0;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(n->err, sizeof(n->err), "%s: %s", host, gai_strerror(rc));
		return NET_ERR;
	}
	snprintf(n->err, sizeof(n->err), "connect to %s port %s: no address", host, port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		int soerr = 0, one = 1, w;
		socklen_t sl = sizeof(soerr);

		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			if (errno != EINPROGRESS)
				soerr = errno;
			else if ((w = net_wait(fd, POLLOUT, deadline)) <= 0) {
				timed_out = w == 0;
				soerr = w == 0 ? ETIMEDOUT : errno;
			} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
				soerr = errno;
		}
		if (soerr == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			n->fd = fd;
			freeaddrinfo(res);
			return NET_OK;
		}
		snprintf(n->err, sizeof(n->err), "connect to %s port %s: %s", host, port, strerror(soerr));
		close(fd);
		if (timed_out)
			break;
	}
	freeaddrinfo(res);
	return timed_out ? NET_TIMEOUT : NET_ERR;
}

/* Check that a file named by an option can be read, for a plain message when not; 0 or -1. */
static int net_readable(struct net *n, const char *what, const char *path)
{
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		fclose(f);
		return 0;
	}
	snprintf(n->err, sizeof(n->err), "%s %s: %s", what, path, strerror(errno));
	return -1;
}

/* Build the TLS context: TLS 1.2 at least, server verification, our certificate; 0 or -1. */
static int net_ctx(struct net *n, const struct net_conf *conf)
{
	const char *key = conf->key != NULL && *conf->key != '\0' ? conf->key : conf->cert;

	n->ctx = SSL_CTX_new(TLS_client_method());
	if (n->ctx == NULL || !SSL_CTX_set_min_proto_version(n->ctx, TLS1_2_VERSION)) {
		net_ssl_reason(n, "TLS setup: ", 0);
		return -1;
	}
	SSL_CTX_set_options(n->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_verify(n->ctx, SSL_VERIFY_PEER, NULL);
	if (conf->ca != NULL && *conf->ca != '\0') {
		if (net_readable(n, "CA file", conf->ca) != 0)
			return -1;
		if (!SSL_CTX_load_verify_locations(n->ctx, conf->ca, NULL)) {
			net_ssl_reason(n, "CA file: ", 0);
			return -1;
		}
	} else if (!SSL_CTX_set_default_verify_paths(n->ctx)) {
		net_ssl_reason(n, "system CA certificates: ", 0);
		return -1;
	}
	if (conf->cert == NULL || *conf->cert == '\0')
		return 0;
	if (net_readable(n, "certificate file", conf->cert) != 0 || net_readable(n, "key file", key) != 0)
		return -1;
	if (!SSL_CTX_use_certificate_chain_file(n->ctx, conf->cert)) {
		net_ssl_reason(n, "certificate file: ", 0);
		return -1;
	}
	if (!SSL_CTX_use_PrivateKey_file(n->ctx, key, SSL_FILETYPE_PEM)) {
		net_ssl_reason(n, "key file: ", 0);
		return -1;
	}
	if (!SSL_CTX_check_private_key(n->ctx)) {
		net_ssl_reason(n, "key file: ", 0);
		return -1;
	}
	return 0;
}

/* Create the SSL object and bind the expected server name or IP address; 0 or -1. */
static int net_ssl(struct net *n, const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];
	int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	int ok;

	n->ssl = SSL_new(n->ctx);
	if (n->ssl == NULL || !SSL_set_fd(n->ssl, n->fd)) {
		net_ssl_reason(n, "TLS setup: ", 0);
		return -1;
	}
	SSL_set_hostflags(n->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (is_ip)
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(n->ssl), host);
	else
		ok = SSL_set1_host(n->ssl, host) && SSL_set_tlsext_host_name(n->ssl, host);
	if (!ok) {
		net_ssl_reason(n, "TLS server name: ", 0);
		return -1;
	}
	return 0;
}

/* Connect and finish the TLS handshake before `deadline` (time_mono_ms). */
int net_open(const struct net_conf *conf, int64_t deadline, struct net **out, char *err, size_t errlen)
{
	char host[256], port[16];
	struct net *n = calloc(1, sizeof(*n));
	int rc = NET_ERR;

	*out = NULL;
	if (n == NULL) {
		snprintf(err, errlen, "out of memory");
		return NET_ERR;
	}
	n->fd = -1;
	if (net_split(conf->server, host, sizeof(host), port, sizeof(port)) != 0)
		snprintf(n->err, sizeof(n->err), "bad server address '%s'", conf->server);
	else if (net_ctx(n, conf) == 0 && (rc = net_tcp(n, host, port, deadline)) == NET_OK) {
		rc = net_ssl(n, host) == 0 ? NET_AGAIN : NET_ERR;
		while (rc == NET_AGAIN) {
			int r;

			ERR_clear_error();
			errno = 0;
			r = SSL_connect(n->ssl);
			rc = r == 1 ? NET_OK : net_ssl_wait(n, r, deadline, "TLS handshake");
		}
		if (rc == NET_CLOSED)
			rc = NET_ERR;
	} else if (rc == NET_OK)
		rc = NET_ERR;
	if (rc == NET_OK) {
		*out = n;
		return NET_OK;
	}
	snprintf(err, errlen, "%s", n->err);
	net_close(n);
	return rc;
}

/* Write all of buf before `deadline`: NET_OK, NET_ERR or NET_TIMEOUT. */
int net_write(struct net *n, const char *buf, size_t len, int64_t deadline)
{
	for (;;) {
		size_t done = 0;
		int r, rc;

		ERR_clear_error();
		errno = 0;
		r = SSL_write_ex(n->ssl, buf, len, &done);
		if (r == 1)
			return NET_OK;
		rc = net_ssl_wait(n, r, deadline, "send");
		if (rc != NET_AGAIN)
			return rc == NET_CLOSED ? NET_ERR : rc;
	}
}

/* Read what is available, waiting until `deadline` (-1 for ever). */
long net_read(struct net *n, char *buf, size_t cap, int64_t deadline)
{
	for (;;) {
		size_t got = 0;
		int r, rc;

		ERR_clear_error();
		errno = 0;
		r = SSL_read_ex(n->ssl, buf, cap, &got);
		if (r == 1)
			return (long)got;
		rc = net_ssl_wait(n, r, deadline, "receive");
		if (rc != NET_AGAIN)
			return rc == NET_CLOSED ? NET_EOF : rc;
	}
}

/* Why the last call failed. */
const char *net_error(const struct net *n)
{
	return n->err;
}

/* Whether the last call failed because the server reset the connection (ECONNRESET, EPIPE). */
int net_was_reset(const struct net *n)
{
	return n->sys == ECONNRESET || n->sys == EPIPE;
}

/* Send close_notify (without waiting) and free everything. NULL is fine. */
void net_close(struct net *n)
{
	if (n == NULL)
		return;
	if (n->ssl != NULL) {
		if (SSL_is_init_finished(n->ssl))
			SSL_shutdown(n->ssl);
		SSL_free(n->ssl);
	}
	SSL_CTX_free(n->ctx);
	if (n->fd >= 0)
		close(n->fd);
	free(n);
}
