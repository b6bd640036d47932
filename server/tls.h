/* TLS for tenderd: the server context and certificate identities. Only
 * tls.c and conn.c include OpenSSL headers. */
#ifndef TENDERD_TLS_H
#define TENDERD_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

struct ssl_ctx_st;
struct ssl_st;

#define TLS_FP_LEN 64   /* hex SHA-256 */

/* What tenderd keeps of a certificate. */
struct tls_cert_info {
	char fp[TLS_FP_LEN + 1];
	char subject[512];
	char serial[80];
	int64_t not_before, not_after;  /* ms */
};

/* Server context: TLS >= 1.2, client certificate required and verified
 * against the CA bundle (and CRL when configured), session tickets on. */
struct ssl_ctx_st *tls_server_ctx(const struct config *c, char *cause, size_t n);
void tls_ctx_free(struct ssl_ctx_st *ctx);

/* Identity of the verified peer certificate. 0, or -1 when there is none. */
int tls_peer_info(struct ssl_st *ssl, struct tls_cert_info *out);

/* Parse a PEM certificate and verify it against the context's CA store as a
 * client certificate. 0, or -1 with `cause`. */
int tls_cert_check(struct ssl_ctx_st *ctx, const char *pem, struct tls_cert_info *out,
    char *cause, size_t n);

/* Same for a PEM file, without the CA check (for offline registration). */
int tls_cert_file_info(const char *path, struct tls_cert_info *out, char **pem_out,
    char *cause, size_t n);

/* Last OpenSSL error as text (for logs); clears the error queue. */
const char *tls_last_error(void);

#endif
