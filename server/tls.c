#include "server/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"

/* Last OpenSSL error as text; clears the queue. */
const char *
tls_last_error(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "no OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* Log why a client certificate failed verification (the handshake fails). */
static int
tls_verify_cb(int ok, X509_STORE_CTX *x)
{
	if (!ok) {
		int err = X509_STORE_CTX_get_error(x);
		log_info("tls verify failed depth=%d error=\"%s\"", X509_STORE_CTX_get_error_depth(x),
		    X509_verify_cert_error_string(err));
	}
	return ok;
}

/* Build the server context. */
SSL_CTX *
tls_server_ctx(const struct config *c, char *cause, size_t n)
{
	static const unsigned char sid_ctx[] = "tenderd";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) *names;

	if (ctx == NULL) {
		snprintf(cause, n, "SSL_CTX_new: %s", tls_last_error());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1) {
		snprintf(cause, n, "cert %s: %s", c->cert, tls_last_error());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(cause, n, "key %s: %s", c->key, tls_last_error());
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, c->ca, NULL) != 1) {
		snprintf(cause, n, "ca %s: %s", c->ca, tls_last_error());
		goto fail;
	}
	if ((names = SSL_load_client_CA_file(c->ca)) == NULL) {
		snprintf(cause, n, "ca %s: no CA names: %s", c->ca, tls_last_error());
		goto fail;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	if (c->crl[0]) {
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);
		if (X509_STORE_load_file(st, c->crl) != 1) {
			snprintf(cause, n, "crl %s: %s", c->crl, tls_last_error());
			goto fail;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT |
	    SSL_VERIFY_CLIENT_ONCE, tls_verify_cb);
	SSL_CTX_set_verify_depth(ctx, 4);
	/* Resumption (tickets) needs a session id context when clients are verified. */
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Free the server context. */
void
tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* ASN1_TIME to ms since the epoch. */
static int64_t
tls_asn1_ms(const ASN1_TIME *t)
{
	struct tm tm;
	int64_t days, y, m, d, era, yoe, doy, doe;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	/* days from civil (proleptic Gregorian), exact */
	y = tm.tm_year + 1900;
	m = tm.tm_mon + 1;
	d = tm.tm_mday;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + doe - 719468;
	return ((days * 24 + tm.tm_hour) * 60 + tm.tm_min) * 60000 + (int64_t)tm.tm_sec * 1000;
}

/* Fill `out` from a certificate. */
static void
tls_x509_info(X509 *x, struct tls_cert_info *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	BIO *b;
	BIGNUM *bn;
	char *hex;

	memset(out, 0, sizeof(*out));
	X509_digest(x, EVP_sha256(), md, &mdlen);
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(out->fp + 2 * i, 3, "%02x", md[i]);
	if ((b = BIO_new(BIO_s_mem())) != NULL) {
		int len;
		X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
		len = BIO_read(b, out->subject, sizeof(out->subject) - 1);
		out->subject[len > 0 ? len : 0] = '\0';
		BIO_free(b);
	}
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL) {
		if ((hex = BN_bn2hex(bn)) != NULL) {
			snprintf(out->serial, sizeof(out->serial), "%s", hex);
			OPENSSL_free(hex);
		}
		BN_free(bn);
	}
	out->not_before = tls_asn1_ms(X509_get0_notBefore(x));
	out->not_after = tls_asn1_ms(X509_get0_notAfter(x));
}

/* Identity of the verified peer. */
int
tls_peer_info(SSL *ssl, struct tls_cert_info *out)
{
	X509 *x = SSL_get0_peer_certificate(ssl);

	if (x == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return -1;
	tls_x509_info(x, out);
	return 0;
}

/* Parse one PEM certificate from memory. */
static X509 *
tls_read_pem(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x;

	if (b == NULL)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

/* Parse and verify a PEM client certificate against the CA store. */
int
tls_cert_check(SSL_CTX *ctx, const char *pem, struct tls_cert_info *out, char *cause, size_t n)
{
	X509 *x = tls_read_pem(pem, strlen(pem));
	X509_STORE_CTX *sc;
	int ok;

	if (x == NULL) {
		ERR_clear_error();
		snprintf(cause, n, "not a PEM certificate");
		return -1;
	}
	if ((sc = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), x, NULL) != 1) {
		X509_STORE_CTX_free(sc);
		X509_free(x);
		snprintf(cause, n, "cannot verify: %s", tls_last_error());
		return -1;
	}
	X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(sc);
	if (ok != 1) {
		snprintf(cause, n, "certificate not accepted: %s",
		    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
		ERR_clear_error();
	} else {
		tls_x509_info(x, out);
	}
	X509_STORE_CTX_free(sc);
	X509_free(x);
	return ok == 1 ? 0 : -1;
}

/* Read a PEM file and describe its certificate (no CA check). */
int
tls_cert_file_info(const char *path, struct tls_cert_info *out, char **pem_out,
    char *cause, size_t n)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t len;
	long sz;
	X509 *x;

	if (f == NULL) {
		snprintf(cause, n, "%s: cannot open", path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	rewind(f);
	if (sz <= 0 || sz > 1 << 20 || (buf = malloc((size_t)sz + 1)) == NULL) {
		fclose(f);
		snprintf(cause, n, "%s: bad size", path);
		return -1;
	}
	len = fread(buf, 1, (size_t)sz, f);
	fclose(f);
	buf[len] = '\0';
	if ((x = tls_read_pem(buf, len)) == NULL) {
		ERR_clear_error();
		free(buf);
		snprintf(cause, n, "%s: not a PEM certificate", path);
		return -1;
	}
	tls_x509_info(x, out);
	X509_free(x);
	*pem_out = buf;
	return 0;
}
