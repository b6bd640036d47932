/* tenderd verify: log keys, signed tree heads and signed statements (see verify_report.h). */
#include "server/verify_report.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/cms_verify.h"

/* Threads checking the signed statements of a batch. */
#define VERIFY_THREADS 2
/* Fewer signatures than this in a batch are checked on the main thread. */
#define VERIFY_THREAD_MIN 64

/* A certificate from PEM text; NULL when it is none. */
static X509 *
verify_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	ERR_clear_error();
	return x;
}

/* Whether `fp` is the SHA-256 (lower-case hex) of the DER of `x`. */
static int
verify_fp_is(X509 *x, const char *fp)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char hex[2 * MERKLE_HASH + 1];

	if (!X509_digest(x, EVP_sha256(), md, &n) || n != MERKLE_HASH)
		return 0;
	merkle_hex(md, hex);
	return strcmp(hex, fp) == 0;
}

/* The CA of the `ca` setting (a file or a directory); NULL after printing why. */
static X509_STORE *
verify_ca(const char *path)
{
	X509_STORE *st = X509_STORE_new();
	struct stat sb;
	int ok;

	if (st == NULL)
		return NULL;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		ok = X509_STORE_load_path(st, path);
	else
		ok = X509_STORE_load_file(st, path);
	if (!ok) {
		fprintf(stderr, "tenderd verify: cannot read the CA %s (setting ca, --ca)\n", path);
		X509_STORE_free(st);
		ERR_clear_error();
		return NULL;
	}
	return st;
}

/* Whether `x` chains to the CA and is a log key's certificate (extended key usage
 * timeStamping, critical and alone: docs/trust.md), so that no participant's certificate of
 * the same CA passes for one; `why` otherwise. */
static int
verify_chain(X509_STORE *st, X509 *x, char *why, size_t n)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = ctx && X509_STORE_CTX_init(ctx, st, x, NULL) &&
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_TIMESTAMP_SIGN) &&
	    X509_verify_cert(ctx) == 1;

	if (!ok)
		snprintf(why, n, "%s", ctx ? X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)) : "out of memory");
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* The registered certificates, by fingerprint: the signers of signed statements. */
static int
verify_load_signers(struct verify *v)
{
	PGresult *r = verify_query(v, "SELECT fingerprint, pem FROM audit.certificates");

	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *fp = PQgetvalue(r, i, 0);
		X509 *x = verify_pem(PQgetvalue(r, i, 1));
		if (x == NULL || !verify_fp_is(x, fp)) {
			verify_problem(v, "certificates", "fingerprint", fp, "pem", "%s", x == NULL ?
			    "not a PEM certificate" : "the certificate's SHA-256 is not its fingerprint");
			X509_free(x);
			continue;
		}
		X509_check_purpose(x, -1, 0);   /* its extensions cached before threads share it */
		if (map_sput(&v->signers, fp, x) < 0) {
			X509_free(x);
			PQclear(r);
			return -1;
		}
	}
	PQclear(r);
	return 0;
}

/* The log keys that chain to the CA, by fingerprint (into `keys`, X509 values). */
static int
verify_load_keys(struct verify *v, struct map *keys)
{
	PGresult *r = verify_query(v, "SELECT fingerprint, pem FROM audit.log_keys");
	char why[160];

	if (r == NULL)
		return -1;
	if (PQntuples(r) > 0 && (v->ca = verify_ca(v->cfg->ca)) == NULL) {
		PQclear(r);
		return -1;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		const char *fp = PQgetvalue(r, i, 0);
		X509 *x = verify_pem(PQgetvalue(r, i, 1));
		if (x == NULL || !verify_fp_is(x, fp))
			verify_problem(v, "log_keys", "fingerprint", fp, "pem", "%s", x == NULL ?
			    "not a PEM certificate" : "the certificate's SHA-256 is not its fingerprint");
		else if (!verify_chain(v->ca, x, why, sizeof(why)))
			verify_problem(v, "log_keys", "fingerprint", fp, "pem", "the log key's "
			    "certificate is not one the CA %s issued for signing tree heads: %s", v->cfg->ca, why);
		else if (map_sput(keys, fp, x) == 0)
			continue;
		X509_free(x);
	}
	PQclear(r);
	return 0;
}

/* Whether `sig` is the signature by `x` of the head's signed bytes (docs/trust.md). */
static int
verify_head_sig(X509 *x, const struct verify_head *h, const unsigned char *sig, size_t siglen)
{
	char text[256], hex[2 * MERKLE_HASH + 1];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *key = X509_get0_pubkey(x);
	int n, ok;

	merkle_hex(h->root, hex);
	n = snprintf(text, sizeof(text), "tenderd tree head v1\nsize %lld\nroot %s\ntime %lld\n",
	    (long long)h->size, hex, (long long)h->at_ms);
	ok = md && key && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)text, (size_t)n) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok;
}

/* One head from row `i`: its root, time and whether its signature checks out. */
static void
verify_head_row(struct verify *v, PGresult *r, int i, struct map *keys, struct verify_head *h)
{
	X509 *x = map_sget(keys, PQgetvalue(r, i, 4));
	unsigned char *root = NULL, *sig = NULL;
	size_t nroot = 0, nsig = 0;

	h->size = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	h->at_ms = strtoll(PQgetvalue(r, i, 2), NULL, 10);
	if (verify_unhex(PQgetvalue(r, i, 1), &root, &nroot) < 0 || nroot != MERKLE_HASH)
		verify_problem(v, "tree_heads", "tree_size", VID(h->size), "root", "not a hash");
	else
		memcpy(h->root, root, MERKLE_HASH);
	if (x == NULL)
		verify_problem(v, "tree_heads", "tree_size", VID(h->size), "key_fingerprint", "signed "
		    "by a key whose certificate is not in log_keys or does not chain to the CA");
	else if (verify_unhex(PQgetvalue(r, i, 3), &sig, &nsig) < 0 ||
	    !verify_head_sig(x, h, sig, nsig))
		verify_problem(v, "tree_heads", "tree_size", VID(h->size), "signature", "not the log "
		    "key's signature of this head (size, root, time)");
	else
		h->signed_ok = nroot == MERKLE_HASH;
	free(root);
	free(sig);
}

/* See verify_report.h. */
int
verify_load_heads(struct verify *v)
{
	struct map keys;
	PGresult *r;
	size_t it = 0;
	void *x;
	int rc = -1;

	map_init(&keys, 1);
	if (verify_load_signers(v) < 0 || verify_load_keys(v, &keys) < 0)
		goto out;
	if ((r = verify_query(v, "SELECT tree_size, root, floor(extract(epoch FROM at) * 1000)::bigint,"
	    " signature, key_fingerprint FROM audit.tree_heads ORDER BY tree_size")) == NULL)
		goto out;
	v->nheads = (size_t)PQntuples(r);
	if ((v->heads = calloc(v->nheads + 1, sizeof(*v->heads))) == NULL) {
		PQclear(r);
		goto out;
	}
	for (size_t i = 0; i < v->nheads; i++)
		verify_head_row(v, r, (int)i, &keys, &v->heads[i]);
	PQclear(r);
	rc = 0;
out:
	while (map_next(&keys, &it, NULL, NULL, &x))
		X509_free(x);
	map_free(&keys);
	return rc;
}

/* The signed rows of a batch (`idx`), checked by the threads into their verdicts (`res`,
 * by row). */
struct verify_jobs {
	struct verify *v;
	PGresult *r;
	const int *idx;
	struct verify_sig *res;
	int n, stride, first;
};

/* Check one signed statement: its signature by the certificate of its signer. */
static void
verify_one(struct verify *v, PGresult *r, int row, struct verify_sig *j)
{
	const char *stmt = PQgetisnull(r, row, 18) ? NULL : PQgetvalue(r, row, 18);
	const char *sig = PQgetisnull(r, row, 19) ? NULL : PQgetvalue(r, row, 19);
	const char *signer = PQgetisnull(r, row, 20) ? NULL : PQgetvalue(r, row, 20);
	unsigned char *der = NULL;
	size_t n = 0;
	X509 *x;

	j->checked = 1;
	j->bad = 1;
	j->column = "signature";
	if (stmt == NULL || sig == NULL || signer == NULL) {
		j->column = stmt == NULL ? "statement" : sig == NULL ? "signature" : "signer";
		snprintf(j->why, sizeof(j->why), "a signed change needs its statement, signature "
		    "and signer: %s is NULL", j->column);
	} else if ((x = map_sget(&v->signers, signer)) == NULL) {
		j->column = "signer";
		snprintf(j->why, sizeof(j->why), "the signer %s is not a registered certificate", signer);
	} else if (verify_unhex(sig, &der, &n) < 0) {
		snprintf(j->why, sizeof(j->why), "not a bytea value");
	} else if (cms_verify_detached(der, n, stmt, (size_t)PQgetlength(r, row, 18), x, j->why,
	    sizeof(j->why)) == 0) {
		j->bad = 0;
	}
	free(der);
}

/* A thread's share of the jobs: every stride-th from `first`. */
static void *
verify_worker(void *arg)
{
	struct verify_jobs *js = arg;

	for (int i = js->first; i < js->n; i += js->stride)
		verify_one(js->v, js->r, js->idx[i], &js->res[js->idx[i]]);
	return NULL;
}

/* See verify_report.h. */
struct verify_sig *
verify_batch_signatures(struct verify *v, PGresult *r)
{
	struct verify_jobs js[VERIFY_THREADS];
	pthread_t th[VERIFY_THREADS];
	struct verify_sig *res = calloc((size_t)PQntuples(r) + 1, sizeof(*res));
	int *idx = calloc((size_t)PQntuples(r) + 1, sizeof(*idx));
	int n = 0, threads = 0;

	if (res == NULL || idx == NULL) {
		free(res);
		free(idx);
		return NULL;
	}
	/* the rows the auditor sees whole that carry any of statement, signature, signer */
	for (int i = 0; i < PQntuples(r); i++)
		if (strcmp(PQgetvalue(r, i, 22), "f") == 0 && (!PQgetisnull(r, i, 18) ||
		    !PQgetisnull(r, i, 19) || !PQgetisnull(r, i, 20)))
			idx[n++] = i;
	for (int t = 0; t < VERIFY_THREADS; t++)
		js[t] = (struct verify_jobs){ v, r, idx, res, n, VERIFY_THREADS, t };
	if (n >= VERIFY_THREAD_MIN)
		for (; threads < VERIFY_THREADS; threads++)
			if (pthread_create(&th[threads], NULL, verify_worker, &js[threads]) != 0)
				break;
	if (threads == 0)
		verify_worker(&(struct verify_jobs){ v, r, idx, res, n, 1, 0 });
	else
		for (int t = threads; t < VERIFY_THREADS; t++)   /* a thread that did not start */
			verify_worker(&js[t]);
	for (int t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	free(idx);
	return res;
}

/* See verify_report.h. */
void
verify_sig_free(struct verify *v)
{
	size_t it = 0;
	void *x;

	while (map_next(&v->signers, &it, NULL, NULL, &x))
		X509_free(x);
	map_free(&v->signers);
	X509_STORE_free(v->ca);
	free(v->heads);
}
