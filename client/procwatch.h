/* tenderctl procurement watch: follow one procurement live until it is decided or cancelled. */
#ifndef TENDERCTL_PROCWATCH_H
#define TENDERCTL_PROCWATCH_H

#include <jansson.h>

struct rpc;

/* Send the procurement.watch request req and show the procurement until it is awarded,
 * unsuccessful, complete or cancelled: a view redrawn in place on a terminal, one line per
 * event otherwise (raw lines with --json). Returns the exit status: CTL_OK once it is over. */
int procwatch_run(struct rpc *r, json_t *req);

#endif
