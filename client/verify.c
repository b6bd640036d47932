/*
 * tenderctl verify-receipt. The server is asked only for data (a signed head,
 * an inclusion proof, a consistency proof); every check runs here: the head's
 * certificate must chain to the CA tenderctl trusts (--ca) and its signature
 * must cover the head's exact bytes (docs/trust.md), the proof must lead from
 * the receipt's own leaf hash to the signed root (common/merkle.c), and a head
 * saved earlier must be a prefix of the new one.
 */
#include "client/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "client/opts.h"
#include "common/merkle.h"
#include "common/timeutil.h"

/* A head as received or saved (borrowing from its JSON). */
struct verify_head {
	long long size, at;
	merkle_hash root;
	unsigned char sig[1024];
	size_t siglen;
	const char *pem, *fp;
};

/* A receipt: seq and leaf hash. */
struct verify_receipt {
	long long seq;
	merkle_hash leaf;
};

/* Print a failed check and return its exit status. */
static int verify_fail(int rc, const char *what, const char *why)
{
	fprintf(stderr, "FAILED: %s: %s\n", what, why);
	return rc;
}

/* Read a JSON value: the text itself when it starts with '{', "-" for standard input,
 * else a file. NULL after printing why. */
static json_t *verify_load(const char *arg, const char *what)
{
	json_error_t err;
	json_t *v;

	if (arg[0] == '{')
		v = json_loads(arg, 0, &err);
	else if (strcmp(arg, "-") == 0)
		v = json_loadf(stdin, 0, &err);
	else
		v = json_load_file(arg, 0, &err);
	if (v == NULL)
		fprintf(stderr, "tenderctl: verify-receipt: cannot read the %s '%s': %s\n", what, arg,
			err.text);
	return v;
}

/* The receipt in `v` (a receipt, or a reply carrying one); -1 when it is not one. */
static int verify_parse_receipt(json_t *v, struct verify_receipt *out)
{
	json_t *in = json_object_get(v, "receipt") ? json_object_get(v, "receipt") : v;
	json_t *seq = json_object_get(in, "seq");
	const char *leaf = json_string_value(json_object_get(in, "leaf_hash"));

	if (!json_is_integer(seq) || json_integer_value(seq) < 1 || leaf == NULL ||
	    merkle_unhex(leaf, out->leaf) < 0)
		return -1;
	out->seq = json_integer_value(seq);
	return 0;
}

/* The head in `v` (a head, or a log.head reply); -1 when it is not one. */
static int verify_parse_head(json_t *v, struct verify_head *h)
{
	json_t *in = json_object_get(v, "head") ? json_object_get(v, "head") : v;
	const char *root = json_string_value(json_object_get(in, "root"));
	const char *sig = json_string_value(json_object_get(in, "signature"));
	json_t *size = json_object_get(in, "tree_size"), *at = json_object_get(in, "timestamp");
	size_t len = sig ? strlen(sig) : 0;
	int n;

	h->pem = json_string_value(json_object_get(in, "certificate"));
	h->fp = json_string_value(json_object_get(in, "key_fingerprint"));
	if (!json_is_integer(size) || !json_is_integer(at) || root == NULL ||
	    merkle_unhex(root, h->root) < 0 || sig == NULL || len % 4 || len / 4 * 3 > sizeof(h->sig) ||
	    h->pem == NULL || h->fp == NULL)
		return -1;
	if ((n = EVP_DecodeBlock(h->sig, (const unsigned char *)sig, (int)len)) < 0)
		return -1;
	h->siglen = (size_t)n - (len && sig[len - 1] == '=') - (len > 1 && sig[len - 2] == '=');
	h->size = json_integer_value(size);
	h->at = json_integer_value(at);
	return 0;
}

/* Check a head: its certificate chains to `ca` and has the fingerprint the head names, and
 * its signature covers its bytes. NULL, or why not. */
static const char *verify_head(const struct verify_head *h, const char *ca)
{
	static char why[256];
	char text[256], root[2 * MERKLE_HASH + 1], fp[2 * MERKLE_HASH + 1];
	unsigned char md[32];
	unsigned int mdlen = 0;
	BIO *b = BIO_new_mem_buf(h->pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	const char *res = NULL;
	int len;

	merkle_hex(h->root, root);
	len = snprintf(text, sizeof(text), "tenderd tree head v1\nsize %lld\nroot %s\ntime %lld\n",
		       h->size, root, h->at);
	if (x == NULL || st == NULL || ctx == NULL || mctx == NULL) {
		res = "its certificate cannot be read";
	} else if (ca == NULL || X509_STORE_load_file(st, ca) != 1 ||
		   X509_STORE_CTX_init(ctx, st, x, NULL) != 1 ||
		   X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_TIMESTAMP_SIGN) != 1) {
		res = "the CA file (--ca) cannot be read";
	} else if (X509_verify_cert(ctx) != 1) {
		snprintf(why, sizeof(why), "its certificate is not a log certificate of the CA: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		res = why;
	} else if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 ||
		   (merkle_hex(md, fp), strcmp(fp, h->fp) != 0)) {
		res = "its certificate is not the key_fingerprint it names";
	} else if (EVP_DigestVerifyInit(mctx, NULL, EVP_sha256(), NULL, X509_get0_pubkey(x)) != 1 ||
		   EVP_DigestVerify(mctx, h->sig, h->siglen, (const unsigned char *)text, (size_t)len) != 1) {
		res = "the signature does not match the head's size, root and time";
	}
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(x);
	BIO_free(b);
	return res;
}

/* An array of hex hashes into out (at most MERKLE_MAX_PATH); their number, or -1. */
static int verify_hashes(json_t *a, merkle_hash *out)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) > MERKLE_MAX_PATH)
		return -1;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || merkle_unhex(json_string_value(v), out[i]) < 0)
			return -1;
	}
	return (int)json_array_size(a);
}

/* The latest signed head once it covers `seq`: asked again (quietly while none is signed
 * yet) until --timeout. */
static int verify_fetch_head(struct rpc *r, long long seq, json_t **reply, struct verify_head *h)
{
	int64_t deadline = time_mono_ms() + r->timeout_ms;

	for (;;) {
		json_t *req = json_pack("{s:s}", "op", "log.head");
		const char *code;
		int rc;

		r->quiet = 1;
		rc = rpc_call(r, req, reply);
		r->quiet = 0;
		json_decref(req);
		code = json_string_value(json_object_get(json_object_get(*reply, "error"), "code"));
		if (rc == CTL_ERROR && code != NULL && strcmp(code, "unknown_tree_head") == 0 &&
		    time_mono_ms() < deadline) {
			json_decref(*reply);
			*reply = NULL;
			usleep(200 * 1000);
			continue;
		}
		if (rc == CTL_ERROR)
			rpc_print_error(*reply);
		if (rc != CTL_OK)
			return rc;
		if (verify_parse_head(*reply, h) < 0)
			return verify_fail(CTL_BAD_HEAD, "head", "the server's head is malformed");
		if (h->size >= seq || time_mono_ms() >= deadline)
			return CTL_OK;
		json_decref(*reply);
		*reply = NULL;
		usleep(200 * 1000);
	}
}

/* The inclusion of the receipt's leaf in the head's tree. */
static int verify_inclusion(struct rpc *r, const struct verify_receipt *rc_, const struct verify_head *h)
{
	merkle_hash path[MERKLE_MAX_PATH];
	json_t *req, *reply = NULL;
	int rc, n;

	if (rc_->seq > h->size)
		return verify_fail(CTL_BAD_INCLUSION, "inclusion", "no signed head covers the receipt's seq yet");
	req = json_pack("{s:s, s:I, s:I}", "op", "log.proof", "seq", (json_int_t)rc_->seq, "tree_size",
			(json_int_t)h->size);
	rc = rpc_call(r, req, &reply);
	json_decref(req);
	if (rc == CTL_OK) {
		n = verify_hashes(json_object_get(reply, "path"), path);
		if (n < 0 || !merkle_verify_inclusion((uint64_t)rc_->seq - 1, (uint64_t)h->size, rc_->leaf,
						       (const merkle_hash *)path, (size_t)n, h->root))
			rc = verify_fail(CTL_BAD_INCLUSION, "inclusion",
					 "the receipt's leaf hash is not in the signed tree at its seq");
		else if (!r->json)
			printf("receipt: seq %lld is in the signed tree of size %lld: ok\n", rc_->seq, h->size);
	}
	json_decref(reply);
	return rc;
}

/* The consistency of an earlier head with the new one. */
static int verify_consistency(struct rpc *r, const struct verify_head *old, const struct verify_head *h)
{
	merkle_hash proof[MERKLE_MAX_PATH];
	json_t *req, *reply = NULL;
	int rc, n;

	if (old->size > h->size)
		return verify_fail(CTL_BAD_CONSISTENCY, "consistency", "the saved head is larger than the latest");
	req = json_pack("{s:s, s:I, s:I}", "op", "log.consistency", "from", (json_int_t)old->size, "to",
			(json_int_t)h->size);
	rc = rpc_call(r, req, &reply);
	json_decref(req);
	if (rc == CTL_OK) {
		n = verify_hashes(json_object_get(reply, "proof"), proof);
		if (n < 0 || !merkle_verify_consistency((uint64_t)old->size, (uint64_t)h->size, old->root, h->root,
							 (const merkle_hash *)proof, (size_t)n))
			rc = verify_fail(CTL_BAD_CONSISTENCY, "consistency",
					 "the saved head's tree is not a prefix of the latest one");
		else if (!r->json)
			printf("consistency: the saved head of size %lld is a prefix of size %lld: ok\n", old->size,
			       h->size);
	}
	json_decref(reply);
	return rc;
}

/* Check a head and say so. */
static int verify_head_report(const struct verify_head *h, const char *ca, const char *name, int json)
{
	const char *why = verify_head(h, ca);
	char at[TIME_BUF];

	if (why != NULL)
		return verify_fail(CTL_BAD_HEAD, name, why);
	time_format(h->at, at);
	if (!json)
		printf("%s: size %lld signed at %s by key %.16s (chains to the CA): ok\n", name, h->size, at, h->fp);
	return CTL_OK;
}

/* Write the head of a log.head reply to `path`. */
static int verify_save(json_t *reply, const char *path)
{
	if (json_dump_file(json_object_get(reply, "head"), path, JSON_INDENT(1)) != 0) {
		fprintf(stderr, "error: cannot write '%s'\n", path);
		return CTL_ERROR;
	}
	return CTL_OK;
}

/* See verify.h. */
int verify_receipt_run(struct rpc *r, json_t *local)
{
	const char *old_path = json_string_value(json_object_get(local, "head"));
	const char *save = json_string_value(json_object_get(local, "save_head"));
	json_t *rv = verify_load(json_string_value(json_object_get(local, "receipt")), "receipt");
	json_t *ov = NULL, *reply = NULL;
	struct verify_receipt rc_;
	struct verify_head old, h;
	int rc = CTL_OK;

	r->verbatim = 1;  /* the certificate's PEM keeps its line breaks */
	if (rv == NULL || verify_parse_receipt(rv, &rc_) < 0) {
		if (rv != NULL)
			fprintf(stderr, "tenderctl: verify-receipt: not a receipt ({\"seq\":N,\"leaf_hash\":\"<64 hex>\"})\n");
		json_decref(rv);
		return CTL_USAGE;
	}
	if (old_path != NULL) {
		if ((ov = verify_load(old_path, "saved head")) == NULL || verify_parse_head(ov, &old) < 0) {
			if (ov != NULL)
				fprintf(stderr, "tenderctl: verify-receipt: '%s' is not a tree head\n", old_path);
			json_decref(ov);
			json_decref(rv);
			return CTL_USAGE;
		}
		rc = verify_head_report(&old, r->conf.ca, "saved head", r->json);
	}
	if (rc == CTL_OK)
		rc = verify_fetch_head(r, rc_.seq, &reply, &h);
	if (rc == CTL_OK)
		rc = verify_head_report(&h, r->conf.ca, "head", r->json);
	if (rc == CTL_OK)
		rc = verify_inclusion(r, &rc_, &h);
	if (rc == CTL_OK && ov != NULL)
		rc = verify_consistency(r, &old, &h);
	if (rc == CTL_OK && save != NULL)
		rc = verify_save(reply, save);
	json_decref(reply);
	json_decref(ov);
	json_decref(rv);
	return rc;
}
