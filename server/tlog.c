/* The transparency log in memory: tree, heads, log key (see tlog.h). */
#include "server/tlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/map.h"

/* One level of complete subtrees: hash i covers leaves [i << level, (i + 1) << level). */
struct tlog_level {
	merkle_hash *h;
	size_t n, cap;
};

/* A certificate of a log key. */
struct tlog_key {
	char fp[TLOG_FP_LEN + 1];
	char *pem;
};

struct tlog {
	struct tlog_level lv[MERKLE_MAX_PATH];
	struct tlog_head *heads;         /* by size, ascending */
	size_t nheads, capheads;
	struct tlog_key *keys;
	size_t nkeys;
	EVP_PKEY *pkey;                  /* the signing key (NULL: none loaded) */
	char fp[TLOG_FP_LEN + 1];
	char *pem;
	struct map content;              /* seq -> merkle_hash * of sealed changes */
};

/* Create an empty log. */
struct tlog *
tlog_new(void)
{
	struct tlog *t = calloc(1, sizeof(*t));

	if (t != NULL)
		map_init(&t->content, 0);
	return t;
}

/* Free the log and everything it holds. */
void
tlog_free(struct tlog *t)
{
	size_t it = 0;
	void *v;

	if (t == NULL)
		return;
	for (int l = 0; l < MERKLE_MAX_PATH; l++)
		free(t->lv[l].h);
	for (size_t i = 0; i < t->nkeys; i++)
		free(t->keys[i].pem);
	while (map_next(&t->content, &it, NULL, NULL, &v))
		free(v);
	map_free(&t->content);
	free(t->keys);
	free(t->heads);
	free(t->pem);
	EVP_PKEY_free(t->pkey);
	free(t);
}

/* The first OpenSSL error, or `what`, in `cause`. */
static int
tlog_fail(const char *what, const char *path, char *cause, size_t n)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(cause, n, "%s %s%s%s", what, path, e ? ": " : "", e ? buf : "");
	ERR_clear_error();
	return -1;
}

/* The certificate's fingerprint and PEM text. */
static int
tlog_cert_text(X509 *x, char fp[TLOG_FP_LEN + 1], char **pem)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned int mdlen = 0;
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long len;

	if (b == NULL || X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32 ||
	    PEM_write_bio_X509(b, x) != 1) {
		BIO_free(b);
		return -1;
	}
	merkle_hex(md, fp);
	len = BIO_get_mem_data(b, &p);
	if ((*pem = malloc((size_t)len + 1)) != NULL) {
		memcpy(*pem, p, (size_t)len);
		(*pem)[len] = '\0';
	}
	BIO_free(b);
	return *pem ? 0 : -1;
}

/* See tlog.h. */
int
tlog_load_key(struct tlog *t, const char *key_path, const char *cert_path, char *cause,
    size_t n)
{
	FILE *f;
	EVP_PKEY *k;
	X509 *x;
	int rc;

	if ((f = fopen(key_path, "r")) == NULL)
		return tlog_fail("cannot open log_key", key_path, cause, n);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL)
		return tlog_fail("cannot read the private key log_key", key_path, cause, n);
	if ((f = fopen(cert_path, "r")) == NULL) {
		EVP_PKEY_free(k);
		return tlog_fail("cannot open log_cert", cert_path, cause, n);
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		EVP_PKEY_free(k);
		return tlog_fail("cannot read the certificate log_cert", cert_path, cause, n);
	}
	/* only a log certificate signs heads: tenderctl checks this purpose (docs/trust.md) */
	if (X509_check_purpose(x, X509_PURPOSE_TIMESTAMP_SIGN, 0) != 1) {
		X509_free(x);
		EVP_PKEY_free(k);
		ERR_clear_error();
		snprintf(cause, n, "log_cert %s is not a log certificate: it needs the extended key "
		    "usage timeStamping, alone and critical (certs/mkpki.sh makes one)", cert_path);
		return -1;
	}
	if (X509_check_private_key(x, k) != 1) {
		X509_free(x);
		EVP_PKEY_free(k);
		ERR_clear_error();
		snprintf(cause, n, "log_key %s is not the key of log_cert %s", key_path, cert_path);
		return -1;
	}
	free(t->pem);
	t->pem = NULL;
	rc = tlog_cert_text(x, t->fp, &t->pem);
	X509_free(x);
	if (rc < 0) {
		EVP_PKEY_free(k);
		snprintf(cause, n, "cannot encode log_cert %s", cert_path);
		return -1;
	}
	EVP_PKEY_free(t->pkey);
	t->pkey = k;
	return 0;
}

/* See tlog.h. */
const char *
tlog_key_fp(const struct tlog *t)
{
	return t->pkey ? t->fp : NULL;
}

/* See tlog.h. */
const char *
tlog_key_pem(const struct tlog *t)
{
	return t->pkey ? t->pem : NULL;
}

/* Push a hash onto a level. */
static int
tlog_push(struct tlog_level *l, const merkle_hash h)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 1024;
		merkle_hash *nh = realloc(l->h, ncap * sizeof(*nh));
		if (nh == NULL)
			return -1;
		l->h = nh;
		l->cap = ncap;
	}
	memcpy(l->h[l->n++], h, MERKLE_HASH);
	return 0;
}

/* Add the leaf, then the parent of every pair it completes, level by level. */
int
tlog_append(struct tlog *t, int64_t seq, const merkle_hash leaf)
{
	int64_t size = tlog_size(t);

	if (seq <= size)
		return 0;
	if (seq != size + 1 || tlog_push(&t->lv[0], leaf) < 0)
		return -1;
	for (int l = 0; l + 1 < MERKLE_MAX_PATH && t->lv[l].n % 2 == 0; l++) {
		struct tlog_level *v = &t->lv[l];
		merkle_hash parent;
		merkle_node(v->h[v->n - 2], v->h[v->n - 1], parent);
		if (tlog_push(&t->lv[l + 1], parent) < 0)
			return -1;
	}
	return 0;
}

/* See tlog.h. */
int64_t
tlog_size(const struct tlog *t)
{
	return (int64_t)t->lv[0].n;
}

/* See tlog.h. */
int
tlog_leaf(const struct tlog *t, int64_t seq, merkle_hash out)
{
	if (seq < 1 || seq > tlog_size(t))
		return -1;
	memcpy(out, t->lv[0].h[seq - 1], MERKLE_HASH);
	return 0;
}

/* merkle.h's subtree callback: a complete subtree is one lookup. */
static void
tlog_subtree(void *arg, int level, uint64_t index, merkle_hash out)
{
	const struct tlog *t = arg;

	memcpy(out, t->lv[level].h[index], MERKLE_HASH);
}

/* See tlog.h. */
void
tlog_root(const struct tlog *t, int64_t size, merkle_hash out)
{
	if (size <= 0)
		merkle_empty(out);
	else
		merkle_range(tlog_subtree, (void *)t, 0, (uint64_t)size, out);
}

/* See tlog.h. */
int
tlog_inclusion(const struct tlog *t, int64_t seq, int64_t size, merkle_hash *out)
{
	if (seq < 1 || size > tlog_size(t) || seq > size)
		return -1;
	return merkle_inclusion_proof(tlog_subtree, (void *)t, (uint64_t)(seq - 1),
	    (uint64_t)size, out);
}

/* See tlog.h. */
int
tlog_consistency(const struct tlog *t, int64_t from, int64_t to, merkle_hash *out)
{
	if (from < 1 || from > to || to > tlog_size(t))
		return -1;
	return merkle_consistency_proof(tlog_subtree, (void *)t, (uint64_t)from, (uint64_t)to,
	    out);
}

/* See tlog.h. */
size_t
tlog_head_text(const struct tlog_head *h, char *buf, size_t n)
{
	char root[2 * MERKLE_HASH + 1];
	int len;

	merkle_hex(h->root, root);
	len = snprintf(buf, n, "tenderd tree head v1\nsize %" PRId64 "\nroot %s\ntime %" PRId64
	    "\n", h->size, root, h->at);
	return len < 0 ? 0 : (size_t)len;
}

/* See tlog.h. */
int
tlog_sign(const struct tlog *t, int64_t size, int64_t at, struct tlog_head *out)
{
	char text[256];
	size_t len, siglen = sizeof(out->sig);
	EVP_MD_CTX *md;
	int ok;

	if (t->pkey == NULL || size < 0 || size > tlog_size(t))
		return -1;
	memset(out, 0, sizeof(*out));
	out->size = size;
	out->at = at;
	tlog_root(t, size, out->root);
	snprintf(out->key_fp, sizeof(out->key_fp), "%s", t->fp);
	len = tlog_head_text(out, text, sizeof(text));
	if ((md = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, t->pkey) == 1 &&
	    EVP_DigestSign(md, out->sig, &siglen, (const unsigned char *)text, len) == 1;
	EVP_MD_CTX_free(md);
	if (!ok) {
		ERR_clear_error();
		return -1;
	}
	out->siglen = siglen;
	return 0;
}

/* See tlog.h. */
int
tlog_add_head(struct tlog *t, const struct tlog_head *h)
{
	if (t->nheads > 0 && t->heads[t->nheads - 1].size >= h->size)
		return -1;
	if (t->nheads == t->capheads) {
		size_t ncap = t->capheads ? t->capheads * 2 : 64;
		struct tlog_head *nh = realloc(t->heads, ncap * sizeof(*nh));
		if (nh == NULL)
			return -1;
		t->heads = nh;
		t->capheads = ncap;
	}
	t->heads[t->nheads++] = *h;
	return 0;
}

/* See tlog.h. */
const struct tlog_head *
tlog_latest(const struct tlog *t)
{
	return t->nheads ? &t->heads[t->nheads - 1] : NULL;
}

/* Binary search of the heads by size. */
const struct tlog_head *
tlog_head_of(const struct tlog *t, int64_t size)
{
	size_t lo = 0, hi = t->nheads;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->heads[mid].size < size)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->nheads && t->heads[lo].size == size ? &t->heads[lo] : NULL;
}

/* See tlog.h. */
int
tlog_add_key(struct tlog *t, const char *fp, const char *pem)
{
	struct tlog_key *nk;

	if (tlog_key_of(t, fp) != NULL)
		return 0;
	if ((nk = realloc(t->keys, (t->nkeys + 1) * sizeof(*nk))) == NULL)
		return -1;
	t->keys = nk;
	snprintf(nk[t->nkeys].fp, sizeof(nk[t->nkeys].fp), "%s", fp);
	if ((nk[t->nkeys].pem = strdup(pem)) == NULL)
		return -1;
	t->nkeys++;
	return 0;
}

/* See tlog.h. */
const char *
tlog_key_of(const struct tlog *t, const char *fp)
{
	for (size_t i = 0; i < t->nkeys; i++)
		if (strcmp(t->keys[i].fp, fp) == 0)
			return t->keys[i].pem;
	return NULL;
}

/* See tlog.h. */
int
tlog_set_content(struct tlog *t, int64_t seq, const merkle_hash h)
{
	merkle_hash *c = malloc(sizeof(*c));

	if (c == NULL)
		return -1;
	memcpy(*c, h, MERKLE_HASH);
	free(map_del(&t->content, seq));
	if (map_put(&t->content, seq, c) < 0) {
		free(c);
		return -1;
	}
	return 0;
}

/* See tlog.h. */
int
tlog_take_content(struct tlog *t, int64_t seq, merkle_hash out)
{
	merkle_hash *c = map_del(&t->content, seq);

	if (c == NULL)
		return -1;
	memcpy(out, *c, MERKLE_HASH);
	free(c);
	return 0;
}
