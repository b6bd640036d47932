/* tenderctl: command-line client for tenderd (see docs/tenderctl.md). */
#include "client/cmd.h"
#include "client/opts.h"
#include "common/version.h"

#include <stdio.h>

/* Parse the command line and run the command; the exit status says how it went. */
int main(int argc, char **argv)
{
	struct opts o;
	int rc = opts_parse(argc, argv, &o);

	if (rc == CTL_OK && o.version)
		printf("tenderctl %s\n", TENDERD_VERSION);
	else if (rc == CTL_OK && o.help)
		opts_usage(stdout);
	else if (rc == CTL_OK)
		rc = cmd_run(&o);
	opts_free(&o);
	return rc;
}
