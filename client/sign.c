/* tenderctl: signing requests. The statement is the request's op, a random nonce, the time
 * and every other field, as compact JSON; the signature is CMS_sign(..., CMS_DETACHED |
 * CMS_BINARY) over its bytes, DER, in base64. */
#include "client/sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "common/timeutil.h"

static const char *const sign_ops[] = {
	"auction.create", "auction.cancel", "auction.bid", "procurement.create",
	"procurement.publish", "procurement.complete", "procurement.amend", "procurement.cancel",
	"question.answer", "quote.submit", "quote.withdraw", "quote.confirm", "bid.submit",
	"bid.withdraw", "bid.confirm", "bid.score", "award.decide", "auction.pause",
	"auction.resume", "auction.extend", "auction.proxy", NULL,
};

/* The user's certificate and key, loaded on first use (one user per process). */
static X509 *sign_cert;
static EVP_PKEY *sign_key;

/* Whether op is signed. */
int sign_op(const char *op)
{
	for (int i = 0; op && sign_ops[i]; i++)
		if (strcmp(op, sign_ops[i]) == 0)
			return 1;
	return 0;
}

/* Load the certificate and key files once. 0, or -1 with err. */
static int sign_load(const char *cert, const char *key, char *err, size_t errlen)
{
	FILE *f;

	if (sign_cert && sign_key)
		return 0;
	if (cert == NULL || *cert == '\0') {
		snprintf(err, errlen, "a signed operation needs the certificate and key (--cert, --key)");
		return -1;
	}
	if ((f = fopen(cert, "r")) == NULL || (sign_cert = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		snprintf(err, errlen, "cannot read the certificate %s to sign with", cert);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	if (key == NULL || *key == '\0')
		key = cert;
	if ((f = fopen(key, "r")) == NULL ||
	    (sign_key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		snprintf(err, errlen, "cannot read the key %s to sign with", key);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* The digest form of a value, in place: every document `content` (base64) of an object
 * becomes `content_sha256`, the hex SHA-256 of the bytes it encodes (a content that is not
 * base64 stays as it is). -1 when out of memory. */
static int sign_digest(json_t *v)
{
	const char *k;
	json_t *x, *c;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (sign_digest(x) < 0)
				return -1;
		return 0;
	}
	if (!json_is_object(v))
		return 0;
	if (json_is_string(c = json_object_get(v, "content"))) {
		const char *b64 = json_string_value(c);
		size_t len = json_string_length(c);
		unsigned char *bytes = malloc(len / 4 * 3 + 1), md[32];
		char hex[65];
		int n = bytes ? EVP_DecodeBlock(bytes, (const unsigned char *)b64, (int)len) : -1;
		if (bytes == NULL)
			return -1;
		if (n < 0 || len % 4 != 0 || len == 0) {
			free(bytes);
			goto inside;
		}
		n -= len >= 1 && b64[len - 1] == '=';
		n -= len >= 2 && b64[len - 2] == '=';
		EVP_Digest(bytes, (size_t)n, md, NULL, EVP_sha256(), NULL);
		free(bytes);
		for (int j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", md[j]);
		json_object_del(v, "content");
		json_object_set_new(v, "content_sha256", json_string(hex));
	}
inside:
	json_object_foreach(v, k, x)
		if (sign_digest(x) < 0)
			return -1;
	return 0;
}

/* The statement of req: op, nonce, time, then every field but id (document contents in the
 * digest form), as compact JSON. */
static char *sign_statement(json_t *req)
{
	unsigned char rnd[16];
	char nonce[33], at[TIME_BUF], *text;
	json_t *st = json_object(), *v;
	const char *k;

	if (st == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1) {
		json_decref(st);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
	time_format(time_now_ms(), at);
	json_object_set(st, "op", json_object_get(req, "op"));
	json_object_set_new(st, "nonce", json_string(nonce));
	json_object_set_new(st, "time", json_string(at));
	json_object_foreach(req, k, v)
		if (strcmp(k, "id") != 0 && strcmp(k, "op") != 0)
			json_object_set_new(st, k, json_deep_copy(v));
	text = sign_digest(st) == 0 ? json_dumps(st, JSON_COMPACT) : NULL;
	json_decref(st);
	return text;
}

/* base64 (no line breaks) of a DER CMS detached signature over data; NULL on failure. */
static char *sign_cms(const char *data, size_t len)
{
	BIO *in = BIO_new_mem_buf(data, (int)len);
	CMS_ContentInfo *cms = in ? CMS_sign(sign_cert, sign_key, NULL, in,
	    CMS_DETACHED | CMS_BINARY) : NULL;
	unsigned char *der = NULL;
	int n = cms ? i2d_CMS_ContentInfo(cms, &der) : -1;
	char *b64 = n > 0 ? malloc((size_t)(n + 2) / 3 * 4 + 1) : NULL;

	if (b64)
		EVP_EncodeBlock((unsigned char *)b64, der, n);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return b64;
}

/* Add statement and signature to req. */
int sign_request(json_t *req, const char *cert, const char *key, char *err, size_t errlen)
{
	char *st, *sig;

	if (sign_load(cert, key, err, errlen) < 0)
		return -1;
	if ((st = sign_statement(req)) == NULL || (sig = sign_cms(st, strlen(st))) == NULL) {
		const char *why = ERR_reason_error_string(ERR_peek_last_error());
		snprintf(err, errlen, "cannot sign the request: %s", why ? why : "out of memory");
		free(st);
		return -1;
	}
	json_object_set_new(req, "statement", json_string(st));
	json_object_set_new(req, "signature", json_string(sig));
	free(st);
	free(sig);
	return 0;
}
