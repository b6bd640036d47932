/*
 * Signing request lines as a client does: the statement is `{"op":..,"nonce":..,"time":..`
 * followed by the request's own members (the text after its "op", as written), and the
 * signature is CMS_sign(cert, key, NULL, statement, CMS_DETACHED | CMS_BINARY) in DER and
 * base64. One event loop: the nonce counter needs no lock.
 */
#include "bench/sign.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bench/net.h"
#include "common/timeutil.h"

static const char *const bsign_ops[] = {
	"auction.create", "auction.cancel", "auction.bid", "procurement.create",
	"procurement.publish", "procurement.complete", "procurement.amend", "procurement.cancel",
	"question.answer", "quote.submit", "quote.withdraw", "quote.confirm", "bid.submit",
	"bid.withdraw", "bid.confirm", "bid.score", "award.decide", NULL,
};

/* The operation name of a line, in buf; NULL when the line has none. */
static const char *
bsign_op(const char *line, char *buf, size_t cap, const char **after)
{
	const char *p = strstr(line, "\"op\":\""), *q;

	if (p == NULL || (q = strchr(p + 6, '"')) == NULL || (size_t)(q - p - 6) >= cap)
		return NULL;
	memcpy(buf, p + 6, (size_t)(q - p - 6));
	buf[q - p - 6] = '\0';
	*after = q + 1;
	return buf;
}

/* See sign.h. */
int
bsign_needed(const char *line)
{
	char op[48];
	const char *after;

	if (bsign_op(line, op, sizeof(op), &after) == NULL)
		return 0;
	for (int i = 0; bsign_ops[i]; i++)
		if (strcmp(op, bsign_ops[i]) == 0)
			return 1;
	return 0;
}

/* A nonce no earlier run used: 16 random hex digits, then a counter. */
static void
bsign_nonce(char *out)
{
	static char prefix[17];
	static uint64_t counter;
	unsigned char rnd[8];

	if (prefix[0] == '\0') {
		RAND_bytes(rnd, sizeof(rnd));
		for (int i = 0; i < 8; i++)
			snprintf(prefix + 2 * i, 3, "%02x", rnd[i]);
	}
	snprintf(out, 40, "%s%016llx", prefix, (unsigned long long)++counter);
}

/* See sign.h. */
size_t
bsign_line(struct ident *id, const char *line, size_t n, char *out, size_t cap)
{
	char op[48], nonce[40], at[TIME_BUF], st[4096];
	const char *after;
	BIO *in = NULL;
	CMS_ContentInfo *cms = NULL;
	unsigned char *der = NULL;
	int stlen, dlen;
	size_t o = 0;

	if (n < 2 || line[n - 1] != '}' || bsign_op(line, op, sizeof(op), &after) == NULL)
		return 0;
	bsign_nonce(nonce);
	time_format(time_now_ms(), at);
	/* after the op: ',' and the other members, then '}' */
	stlen = snprintf(st, sizeof(st), "{\"op\":\"%s\",\"nonce\":\"%s\",\"time\":\"%s\"%.*s", op,
	    nonce, at, (int)(line + n - after), after);
	if (stlen <= 0 || stlen >= (int)sizeof(st))
		return 0;
	if ((in = BIO_new_mem_buf(st, stlen)) == NULL ||
	    (cms = CMS_sign(id->cert, id->key, NULL, in, CMS_DETACHED | CMS_BINARY)) == NULL ||
	    (dlen = i2d_CMS_ContentInfo(cms, &der)) <= 0)
		goto fail;
	/* the request without its '}', the statement escaped, the signature, '}' LF */
	if (n - 1 + 16 + 2 * (size_t)stlen + 16 + ((size_t)dlen + 2) / 3 * 4 + 4 > cap)
		goto fail;
	memcpy(out, line, n - 1);
	o = n - 1;
	o += (size_t)sprintf(out + o, ",\"statement\":\"");
	for (int i = 0; i < stlen; i++) {
		if (st[i] == '"' || st[i] == '\\')
			out[o++] = '\\';
		out[o++] = st[i];
	}
	o += (size_t)sprintf(out + o, "\",\"signature\":\"");
	o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, der, dlen);
	out[o++] = '"';
	out[o++] = '}';
	out[o++] = '\n';
fail:
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return o;
}
