/* The release of tenderd and tenderctl (`--version`). */
#ifndef TENDERD_VERSION_H
#define TENDERD_VERSION_H

#define TENDERD_VERSION "1.0.0"

#endif
