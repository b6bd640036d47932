/* tenderctl watch: follow one auction live until it closes. */
#ifndef TENDERCTL_WATCH_H
#define TENDERCTL_WATCH_H

#include <jansson.h>

struct rpc;

/* Send the auction.watch request req and show the auction until it closes: a view redrawn in
 * place on a terminal, one line per event otherwise (raw lines with --json). Returns the
 * exit status: CTL_OK once the auction has closed. */
int watch_run(struct rpc *r, json_t *req);

#endif
