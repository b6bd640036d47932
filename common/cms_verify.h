/*
 * Checking a detached CMS (PKCS#7) signature over exact bytes: what a signed
 * statement carries (docs/trust.md). Shared by the server's check of a
 * request and by `tenderd verify`. Thread-safe: no state of its own.
 */
#ifndef TENDERD_CMS_VERIFY_H
#define TENDERD_CMS_VERIFY_H

#include <stddef.h>

struct x509_st;

/*
 * 0 when `sig` (DER, a CMS SignedData without its content) is a valid
 * signature of `data` by the key of `signer`, and `signer` is the only
 * certificate its one signer may be (certificates inside the CMS are ignored;
 * the chain of `signer` is the caller's business). Else -1 with a reason in
 * `why` ("not a CMS SignedData", "signed by another certificate",
 * "the signature does not match the statement", ...).
 */
int cms_verify_detached(const unsigned char *sig, size_t siglen, const void *data, size_t len,
    struct x509_st *signer, char *why, size_t n);

#endif
