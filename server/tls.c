#include "server/tls.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/timeutil.h"

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

/*
 * The CRL policy in force (crl_expired). The verify callback runs inside OpenSSL with
 * no argument of tenderd's own, hence a variable of this module; tenderd has one TLS
 * context in force at a time and sets it when it installs one.
 */
static int tls_refuse_expired_crl;
static int64_t tls_crl_warned_at;       /* monotonic ms of the last warning */
static unsigned long tls_crl_unwarned;  /* handshakes accepted since */

/*
 * The certificate policy OID every client certificate must carry (required_policy; NULL:
 * none), checked in the leaf's certificatePolicies extension by the verify callback at depth
 * 0 (OpenSSL's explicit-policy checking would require the CAs to carry it too). Like the CRL
 * policy, a variable of this module, set at start-up and by a reload.
 */
static ASN1_OBJECT *tls_policy;
static char tls_policy_txt[CONFIG_STR];

/* The verify error a certificate without the required policy gets: the handshake fails
 * with the unsupported_certificate alert. */
#define TLS_V_ERR_POLICY X509_V_ERR_INVALID_PURPOSE

/* Require `oid` (dotted; NULL or empty: no policy) from now on. 0, or -1 when it is not an
 * OID (the policy in force stays). */
int
tls_set_required_policy(const char *oid)
{
	ASN1_OBJECT *o = NULL;

	if (oid != NULL && oid[0] != '\0' && (o = OBJ_txt2obj(oid, 1)) == NULL) {
		ERR_clear_error();
		return -1;
	}
	ASN1_OBJECT_free(tls_policy);
	tls_policy = o;
	snprintf(tls_policy_txt, sizeof(tls_policy_txt), "%s", o ? oid : "");
	return 0;
}

/* True when `cert` carries the required policy (or none is required); else 0 with `why`. */
int
tls_cert_policy_ok(X509 *cert, char *why, size_t n)
{
	CERTIFICATEPOLICIES *pols;
	int found = 0;

	if (tls_policy == NULL)
		return 1;
	pols = X509_get_ext_d2i(cert, NID_certificate_policies, NULL, NULL);
	for (int i = 0; pols != NULL && i < sk_POLICYINFO_num(pols) && !found; i++)
		found = OBJ_cmp(sk_POLICYINFO_value(pols, i)->policyid, tls_policy) == 0;
	CERTIFICATEPOLICIES_free(pols);
	ERR_clear_error();
	if (!found)
		snprintf(why, n, "certificate lacks required policy %s", tls_policy_txt);
	return found;
}

/* Why verification failed with `err`: the policy's reason, or OpenSSL's text. */
static void
tls_fail_why(X509 *x, int err, char *why, size_t n)
{
	if (err != TLS_V_ERR_POLICY || tls_cert_policy_ok(x, why, n))
		snprintf(why, n, "%s", X509_verify_cert_error_string(err));
}

/* Set the policy for a CRL past its nextUpdate: 1 refuses, 0 warns. */
void
tls_set_crl_policy(int refuse)
{
	tls_refuse_expired_crl = refuse;
}

/* A handshake that used an expired CRL: warn, at most once a minute. */
static void
tls_warn_expired_crl(void)
{
	int64_t now = time_mono_ms();

	tls_crl_unwarned++;
	if (tls_crl_warned_at != 0 && now - tls_crl_warned_at < 60000)
		return;
	log_warn("CRL EXPIRED (past its nextUpdate): revocations issued since are unknown; "
	    "accepting client certificates anyway (crl_expired = warn), %lu since the last "
	    "warning; reissue the CRL", tls_crl_unwarned);
	tls_crl_warned_at = now;
	tls_crl_unwarned = 0;
}

/* The log line of a certificate refused in the handshake: msg="tls verify failed" depth=N
 * error="..." [subject="..."]. */
static void
tls_log_verify_failed(int depth, const char *error, const char *subject)
{
	struct log_line ln;

	if (!log_enabled(LOG_INFO))
		return;
	log_begin(&ln, LOG_INFO, "tls verify failed");
	log_int(&ln, "depth", depth);
	log_str(&ln, "error", error);
	log_str(&ln, "subject", subject);
	log_end(&ln);
}

/*
 * Verification of a client certificate, in the handshake and when open connections are
 * checked again after a reload. An expired CRL is accepted with a warning unless
 * crl_expired = refuse (the error is cleared, so that the verify result is X509_V_OK). A
 * certificate that is not yet valid gets the certificate_expired alert, like an expired
 * one ("a certificate has expired or is not currently valid", RFC 5246): OpenSSL would
 * send bad_certificate. A leaf (depth 0) that verified but lacks the required policy is
 * refused with TLS_V_ERR_POLICY.
 */
static int
tls_verify_cb(int ok, X509_STORE_CTX *x)
{
	int err = X509_STORE_CTX_get_error(x);
	int handshake = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx()) != NULL;
	char why[CONFIG_STR + 64], subject[256];

	if (ok && X509_STORE_CTX_get_error_depth(x) == 0 &&
	    !tls_cert_policy_ok(X509_STORE_CTX_get_current_cert(x), why, sizeof(why))) {
		if (handshake) {
			X509_NAME_oneline(X509_get_subject_name(X509_STORE_CTX_get_current_cert(x)),
			    subject, sizeof(subject));
			tls_log_verify_failed(0, why, subject);
		}
		X509_STORE_CTX_set_error(x, TLS_V_ERR_POLICY);
		return 0;
	}
	if (ok)
		return ok;
	if (err == X509_V_ERR_CRL_HAS_EXPIRED && !tls_refuse_expired_crl) {
		if (handshake)
			tls_warn_expired_crl();
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	if (handshake) {
		tls_log_verify_failed(X509_STORE_CTX_get_error_depth(x),
		    X509_verify_cert_error_string(err), NULL);
		if (err == X509_V_ERR_CERT_NOT_YET_VALID)
			X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_HAS_EXPIRED);
	}
	return 0;
}

/* ASN1_TIME to ms since the epoch (0 when absent). */
static int64_t tls_asn1_ms(const ASN1_TIME *t);

/* True when `crl` is signed by one of the CA certificates in `st`. */
static int
tls_crl_signed(X509_STORE *st, X509_CRL *crl)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		EVP_PKEY *pk;
		if (ca == NULL || X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) != 0)
			continue;
		if ((pk = X509_get0_pubkey(ca)) != NULL && X509_CRL_verify(crl, pk) == 1)
			return 1;
	}
	ERR_clear_error();
	return 0;
}

/* Load every CRL of a PEM file into the store, each checked against the CAs; `info`
 * gets the latest thisUpdate, the earliest nextUpdate and the number of revocations. */
static int
tls_load_crl(X509_STORE *st, const char *path, struct tls_crl_info *info, char *cause, size_t n)
{
	BIO *b = BIO_new_file(path, "r");
	STACK_OF(X509_INFO) *xs;
	int ncrl = 0, bad = 0;

	if (b == NULL) {
		snprintf(cause, n, "crl %s: %s", path, tls_last_error());
		return -1;
	}
	xs = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	BIO_free(b);
	if (xs == NULL) {
		snprintf(cause, n, "crl %s: %s", path, tls_last_error());
		return -1;
	}
	for (int i = 0; i < sk_X509_INFO_num(xs) && !bad; i++) {
		X509_CRL *crl = sk_X509_INFO_value(xs, i)->crl;
		STACK_OF(X509_REVOKED) *rev;
		int64_t tu, nu;
		if (crl == NULL)
			continue;
		if (!tls_crl_signed(st, crl)) {
			snprintf(cause, n, "crl %s: CRL %d is not signed by a CA of the ca bundle", path,
			    ncrl + 1);
			bad = 1;
		} else if (X509_STORE_add_crl(st, crl) != 1) {
			snprintf(cause, n, "crl %s: %s", path, tls_last_error());
			bad = 1;
		}
		tu = tls_asn1_ms(X509_CRL_get0_lastUpdate(crl));
		nu = tls_asn1_ms(X509_CRL_get0_nextUpdate(crl));
		if (tu > info->this_update)
			info->this_update = tu;
		if (nu != 0 && (info->next_update == 0 || nu < info->next_update))
			info->next_update = nu;
		rev = X509_CRL_get_REVOKED(crl);
		info->revoked += rev ? sk_X509_REVOKED_num(rev) : 0;
		ncrl++;
	}
	sk_X509_INFO_pop_free(xs, X509_INFO_free);
	if (!bad && ncrl == 0) {
		snprintf(cause, n, "crl %s: no CRL in the file", path);
		bad = 1;
	}
	info->present = !bad;
	return bad ? -1 : 0;
}

/* True when the CRL in force is past its nextUpdate at `now` (wall ms). */
int
tls_crl_expired(const struct tls_crl_info *info, int64_t now)
{
	return info->present && info->next_update != 0 && now > info->next_update;
}

/* Trust the CA certificates of one PEM file and name them to clients. */
static int
tls_load_ca_file(SSL_CTX *ctx, STACK_OF(X509_NAME) *names, const char *what, const char *path,
    char *cause, size_t n)
{
	if (SSL_CTX_load_verify_file(ctx, path) != 1) {
		snprintf(cause, n, "%s %s: %s", what, path, tls_last_error());
		return -1;
	}
	if (SSL_add_file_cert_subjects_to_stack(names, path) != 1) {
		snprintf(cause, n, "%s %s: no CA names: %s", what, path, tls_last_error());
		return -1;
	}
	return 0;
}

/* Keep regular files only (scandir filter; `d_type` may be unknown: checked again). */
static int
tls_dir_entry(const struct dirent *e)
{
	return e->d_name[0] != '.' || (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0);
}

/*
 * The CAs client certificates may chain to: the bundle `ca` (when set) and every regular
 * file of `ca_dir` (when set), in name order, each of which must load. The client CA list
 * sent in the handshake names them all.
 */
static int
tls_load_cas(SSL_CTX *ctx, const struct config *c, char *cause, size_t n)
{
	STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
	struct dirent **ents = NULL;
	int nents = 0, rc = -1, nfiles = 0;
	char path[PATH_MAX];
	struct stat st;

	if (names == NULL) {
		snprintf(cause, n, "out of memory");
		return -1;
	}
	if (c->ca[0] && tls_load_ca_file(ctx, names, "ca", c->ca, cause, n) < 0)
		goto out;
	if (c->ca_dir[0] && (nents = scandir(c->ca_dir, &ents, tls_dir_entry, alphasort)) < 0) {
		snprintf(cause, n, "ca_dir %s: %s", c->ca_dir, strerror(errno));
		goto out;
	}
	for (int i = 0; i < nents; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", c->ca_dir, ents[i]->d_name) >=
		    (int)sizeof(path) || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (tls_load_ca_file(ctx, names, "ca_dir", path, cause, n) < 0)
			goto out;
		nfiles++;
	}
	if (!c->ca[0] && nfiles == 0) {
		snprintf(cause, n, "no CA: set ca, or ca_dir to a directory holding CA certificates");
		goto out;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	names = NULL;
	rc = 0;
out:
	for (int i = 0; i < nents; i++)
		free(ents[i]);
	free(ents);
	sk_X509_NAME_pop_free(names, X509_NAME_free);
	return rc;
}

/* TLS 1.2 cipher suites: forward secrecy (ECDHE) and AEAD only. TLS 1.3 suites are
 * all AEAD with ephemeral keys; OpenSSL's defaults stand. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

/* Build the server context. */
SSL_CTX *
tls_server_ctx(const struct config *c, struct tls_crl_info *crl, char *cause, size_t n)
{
	static const unsigned char sid_ctx[] = "tenderd";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	memset(crl, 0, sizeof(*crl));
	if (ctx == NULL) {
		snprintf(cause, n, "SSL_CTX_new: %s", tls_last_error());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, strcmp(c->tls_min_version, "1.3") == 0 ?
	    TLS1_3_VERSION : TLS1_2_VERSION);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		snprintf(cause, n, "cipher list: %s", tls_last_error());
		goto fail;
	}
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
	if (tls_load_cas(ctx, c, cause, n) < 0)
		goto fail;
	if (c->crl[0]) {
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);
		if (tls_load_crl(st, c->crl, crl, cause, n) < 0)
			goto fail;
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	crl->loaded_at = time_now_ms();
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT |
	    SSL_VERIFY_CLIENT_ONCE, tls_verify_cb);
	SSL_CTX_set_verify_depth(ctx, 4);
	/* Resumption (tickets) needs a session id context when clients are verified. A new
	 * context has new ticket keys: after a reload every client verifies in full again. */
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	memset(crl, 0, sizeof(*crl));
	return NULL;
}

/* Verify an open connection's certificate again against a (new) context's CA store
 * and CRL. 0 when still accepted; -1 with the reason, *revoked set when it is revoked. */
int
tls_recheck(SSL_CTX *ctx, SSL *ssl, int *revoked, char *why, size_t n)
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	X509_STORE_CTX *sc;
	int ok, err;

	*revoked = 0;
	if (x == NULL) {
		snprintf(why, n, "no peer certificate");
		return -1;
	}
	if ((sc = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), x, SSL_get_peer_cert_chain(ssl)) != 1) {
		X509_STORE_CTX_free(sc);
		ERR_clear_error();
		return 0;  /* cannot tell: keep it */
	}
	X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_CLIENT);
	X509_STORE_CTX_set_verify_cb(sc, tls_verify_cb);
	ok = X509_verify_cert(sc);
	err = X509_STORE_CTX_get_error(sc);
	X509_STORE_CTX_free(sc);
	ERR_clear_error();
	if (ok == 1)
		return 0;
	*revoked = err == X509_V_ERR_CERT_REVOKED;
	tls_fail_why(x, err, why, n);
	return -1;
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
	X509_STORE_CTX_set_verify_cb(sc, tls_verify_cb);
	ok = X509_verify_cert(sc);
	if (ok != 1) {
		char why[CONFIG_STR + 64];
		tls_fail_why(x, X509_STORE_CTX_get_error(sc), why, sizeof(why));
		snprintf(cause, n, "certificate not accepted: %s", why);
		ERR_clear_error();
	} else {
		tls_x509_info(x, out);
	}
	X509_STORE_CTX_free(sc);
	X509_free(x);
	return ok == 1 ? 0 : -1;
}

/* tls_cert_policy_ok() for a PEM certificate (one that does not parse lacks it). */
int
tls_pem_policy_ok(const char *pem, char *why, size_t n)
{
	X509 *x = tls_read_pem(pem, strlen(pem));
	int ok;

	if (x == NULL) {
		ERR_clear_error();
		snprintf(why, n, "not a PEM certificate");
		return 0;
	}
	ok = tls_cert_policy_ok(x, why, n);
	X509_free(x);
	return ok;
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
