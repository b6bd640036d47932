/* tenderctl verify-receipt: a receipt checked offline against signed tree heads
 * (docs/tenderctl.md, docs/trust.md). */
#ifndef TENDERCTL_VERIFY_H
#define TENDERCTL_VERIFY_H

#include <jansson.h>

#include "client/rpc.h"

/* Exit statuses of verify-receipt beyond those of opts.h. */
enum {
	CTL_BAD_HEAD = 5,          /* a head's signature or certificate does not verify */
	CTL_BAD_INCLUSION = 6,     /* the receipt's leaf is not in the signed tree */
	CTL_BAD_CONSISTENCY = 7,   /* the saved head's tree is not a prefix of the new one */
};

/* Run verify-receipt: `local` holds "receipt" (JSON text, a file or "-"), and optionally
 * "head" (a saved head's file) and "save_head" (where to write the new head). Returns the
 * exit status. */
int verify_receipt_run(struct rpc *r, json_t *local);

#endif
