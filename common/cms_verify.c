/* Detached CMS signatures (see cms_verify.h). */
#include "common/cms_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>

/* One DER element at `p` (at most `n` bytes): tag, and the offset and length of its content.
 * -1 unless a one-byte tag and a definite length within `n`. */
static int
cms_tlv(const unsigned char *p, size_t n, unsigned char *tag, size_t *hdr, size_t *len)
{
	size_t k, l = 0;

	if (n < 2 || (p[0] & 0x1f) == 0x1f)
		return -1;
	*tag = p[0];
	if (p[1] < 0x80) {
		l = p[1];
		k = 2;
	} else {
		size_t nb = p[1] & 0x7f;
		if (nb == 0 || nb > 4 || n < 2 + nb)
			return -1;
		for (size_t i = 0; i < nb; i++)
			l = l << 8 | p[2 + i];
		k = 2 + nb;
	}
	if (l > n - k)
		return -1;
	*hdr = k;
	*len = l;
	return 0;
}

/* A DER header (tag, length) at `out`; its size. */
static size_t
cms_hdr(unsigned char *out, unsigned char tag, size_t len)
{
	size_t nb = 0;

	out[0] = tag;
	if (len < 0x80) {
		out[1] = (unsigned char)len;
		return 2;
	}
	for (size_t l = len; l; l >>= 8)
		nb++;
	out[1] = (unsigned char)(0x80 | nb);
	for (size_t i = 0; i < nb; i++)
		out[2 + i] = (unsigned char)(len >> (8 * (nb - 1 - i)));
	return 2 + nb;
}

/*
 * The signature without the certificates it carries (SignedData's `certificates`, [0]),
 * which are ignored (CMS_NOINTERN) and cost most of the parsing: OpenSSL decodes each
 * certificate's key. ContentInfo { OID, [0] { SignedData { version, digestAlgorithms,
 * encapContentInfo, [0] certificates, ... } } }: the three enclosing lengths shrink. A
 * malloc'd copy in `*out`, or 0 (then `*out` NULL) when there is nothing to strip or the
 * DER is not as expected (it is then parsed as it is).
 */
static size_t
cms_strip_certs(const unsigned char *sig, size_t n, unsigned char **out)
{
	unsigned char tag, *o;
	size_t h0, l0, h1, l1, h2, l2, h3, l3, off, cut, clen, pos = 0;
	const unsigned char *sd, *c;

	*out = NULL;
	if (cms_tlv(sig, n, &tag, &h0, &l0) < 0 || tag != 0x30 || h0 + l0 != n)
		return 0;
	c = sig + h0;                                              /* the OID */
	if (cms_tlv(c, l0, &tag, &h1, &l1) < 0 || tag != 0x06)
		return 0;
	off = h1 + l1;                                             /* [0] EXPLICIT */
	if (cms_tlv(c + off, l0 - off, &tag, &h2, &l2) < 0 || tag != 0xa0 || off + h2 + l2 != l0)
		return 0;
	sd = c + off + h2;                                         /* SignedData */
	if (cms_tlv(sd, l2, &tag, &h3, &l3) < 0 || tag != 0x30 || h3 + l3 != l2)
		return 0;
	for (cut = h3; cut < l2; cut += h1 + l1) {
		if (cms_tlv(sd + cut, l2 - cut, &tag, &h1, &l1) < 0)
			return 0;
		if (tag == 0xa0)
			break;
	}
	if (cut >= l2 || (o = malloc(n)) == NULL)
		return 0;
	clen = h1 + l1;                                            /* the certificates' TLV */
	/* lengths: SignedData l3 - clen; [0] holds its header and that; ContentInfo the OID
	 * and [0]. No header grows, so the copy is no longer than `n`. */
	{
		unsigned char hsd[8], hx[8], hci[8];
		size_t nsd = cms_hdr(hsd, 0x30, l3 - clen);
		size_t nx = cms_hdr(hx, 0xa0, nsd + l3 - clen);
		size_t nci = cms_hdr(hci, 0x30, off + nx + nsd + l3 - clen);
		memcpy(o + pos, hci, nci), pos += nci;
		memcpy(o + pos, c, off), pos += off;
		memcpy(o + pos, hx, nx), pos += nx;
		memcpy(o + pos, hsd, nsd), pos += nsd;
		memcpy(o + pos, sd + h3, cut - h3), pos += cut - h3;
		memcpy(o + pos, sd + cut + clen, l2 - cut - clen), pos += l2 - cut - clen;
	}
	*out = o;
	return pos;
}

/* See cms_verify.h. */
int
cms_verify_detached(const unsigned char *sig, size_t siglen, const void *data, size_t len,
    X509 *signer, char *why, size_t n)
{
	unsigned char *stripped = NULL;
	size_t dn = cms_strip_certs(sig, siglen, &stripped);
	const unsigned char *der = stripped ? stripped : sig, *p = der;
	CMS_ContentInfo *cms;
	STACK_OF(X509) *certs = NULL;
	STACK_OF(CMS_SignerInfo) *sis;
	BIO *in = NULL;
	int rc = -1;

	if (stripped == NULL)
		dn = siglen;
	cms = dn <= 0x7fffffff ? d2i_CMS_ContentInfo(NULL, &p, (long)dn) : NULL;
	if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		snprintf(why, n, "not a CMS SignedData");
		goto out;
	}
	if (p != der + dn) {
		snprintf(why, n, "bytes after the CMS SignedData");
		goto out;
	}
	if ((sis = CMS_get0_SignerInfos(cms)) == NULL || sk_CMS_SignerInfo_num(sis) != 1) {
		snprintf(why, n, "not exactly one signer");
		goto out;
	}
	if (CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(sis, 0), signer) != 0) {
		snprintf(why, n, "signed by another certificate");
		goto out;
	}
	if ((certs = sk_X509_new_null()) == NULL || !sk_X509_push(certs, signer) ||
	    (in = BIO_new_mem_buf(data, (int)len)) == NULL) {
		snprintf(why, n, "out of memory");
		goto out;
	}
	/* the signer is the given certificate, whatever the CMS holds; its chain is checked
	 * by the caller (registration, identity policy) */
	if (CMS_verify(cms, certs, NULL, in, NULL, CMS_DETACHED | CMS_BINARY | CMS_NOINTERN |
	    CMS_NO_SIGNER_CERT_VERIFY) != 1) {
		snprintf(why, n, "the signature does not match the statement");
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(in);
	sk_X509_free(certs);
	CMS_ContentInfo_free(cms);
	free(stripped);
	return rc;
}
