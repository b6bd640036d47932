/* TLS for tenderd: the server context and certificate identities. Only
 * tls.c and conn.c include OpenSSL headers. */
#ifndef TENDERD_TLS_H
#define TENDERD_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "server/config.h"

struct ssl_ctx_st;
struct ssl_st;
struct x509_st;

#define TLS_FP_LEN 64   /* hex SHA-256 */

/* What tenderd keeps of a certificate. */
struct tls_cert_info {
	char fp[TLS_FP_LEN + 1];
	char subject[512];
	char serial[80];
	int64_t not_before, not_after;  /* ms */
};

/* The CRL of a context (none when `present` is 0). Times in ms since the epoch. */
struct tls_crl_info {
	int present;
	int64_t this_update;   /* the latest thisUpdate of the file's CRLs */
	int64_t next_update;   /* the earliest nextUpdate (0: none given) */
	int64_t loaded_at;     /* when the context was built */
	long revoked;          /* certificates listed as revoked */
};

/* Server context: TLS >= tls_min_version (TLS 1.2 with ECDHE and AEAD ciphers only),
 * client certificate required and verified against the CA bundle (and CRL when
 * configured, described in `crl`), session tickets on. NULL with `cause` when a file
 * does not load cleanly. */
struct ssl_ctx_st *tls_server_ctx(const struct config *c, struct tls_crl_info *crl,
    char *cause, size_t n);

/* Policy for a CRL past its nextUpdate: 1 refuses every client, 0 warns and serves. */
void tls_set_crl_policy(int refuse);

/* Require the certificate policy `oid` (dotted; NULL or "": none) of every client
 * certificate from now on: in the handshake, in tls_recheck and tls_cert_check. 0, or -1
 * when `oid` is not an OID (the policy in force stays). */
int tls_set_required_policy(const char *oid);

/* 1 when `cert` (an X509 *) carries the required policy in its certificatePolicies
 * extension, or no policy is required; 0 with `why` ("certificate lacks required policy
 * OID") otherwise. */
int tls_cert_policy_ok(struct x509_st *cert, char *why, size_t n);

/* The same for a PEM certificate (0 with `why` when it does not parse either). */
int tls_pem_policy_ok(const char *pem, char *why, size_t n);

/* True when the CRL is past its nextUpdate at `now` (ms since the epoch). */
int tls_crl_expired(const struct tls_crl_info *crl, int64_t now);

/* Verify an open connection's certificate again against `ctx` (after a reload). 0 when
 * it is still accepted; -1 with the reason, *revoked set when it is revoked. */
int tls_recheck(struct ssl_ctx_st *ctx, struct ssl_st *ssl, int *revoked, char *why, size_t n);
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
