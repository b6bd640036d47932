/* tenderctl commands: from the command words to a request, a connection and the output. */
#ifndef TENDERCTL_CMD_H
#define TENDERCTL_CMD_H

#include "client/opts.h"

/* Run the command named by o->words; returns the exit status. */
int cmd_run(const struct opts *o);

#endif
