/* Detached CMS signatures (see cms_verify.h). */
#include "common/cms_verify.h"

#include <stdio.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>

/* See cms_verify.h. */
int
cms_verify_detached(const unsigned char *sig, size_t siglen, const void *data, size_t len,
    X509 *signer, char *why, size_t n)
{
	const unsigned char *p = sig;
	CMS_ContentInfo *cms = siglen <= 0x7fffffff ? d2i_CMS_ContentInfo(NULL, &p, (long)siglen) : NULL;
	STACK_OF(X509) *certs = NULL;
	STACK_OF(CMS_SignerInfo) *sis;
	BIO *in = NULL;
	int rc = -1;

	if (cms == NULL || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		snprintf(why, n, "not a CMS SignedData");
		goto out;
	}
	if (p != sig + siglen) {
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
	return rc;
}
