/* tenderctl: signed statements (docs/protocol.md, "Signed statements"). A request of a signed
 * operation gets a `statement` of what it does and a detached CMS signature over it, made with
 * the user's key and certificate (the ones it connects with). */
#ifndef TENDERCTL_SIGN_H
#define TENDERCTL_SIGN_H

#include <jansson.h>
#include <stddef.h>

/* Whether operation `op` is signed (auction.bid always is: an auction without signed_bids
 * accepts a signed bid too). */
int sign_op(const char *op);

/* Add `statement` and `signature` to req (which has its "op"; "id" is left out of the
 * statement), signed with the key and certificate files. 0, or -1 with `err`. */
int sign_request(json_t *req, const char *cert, const char *key, char *err, size_t errlen);

#endif
