/* The outage pause rule: see auction/outage.h. */
#include "auction/outage.h"

#include <stddef.h>

/* See outage.h. */
const char *
auction_outage_check(const struct auction_outage *o)
{
	if (o->share < 1 || o->share > 100)
		return "outage_share must be a percent between 1 and 100";
	if (o->window < 1000 || o->window > AUCTION_OUTAGE_WINDOW_MAX_MS)
		return "outage_window must be between 1 and 600 seconds";
	if (o->max_pause < 1000 || o->max_pause > AUCTION_OUTAGE_PAUSE_MAX_MS)
		return "outage_max_pause must be between 1 and 86400 seconds";
	if (o->min_bidders < 1 || o->min_bidders > 1000)
		return "outage_min_bidders must be between 1 and 1000";
	return NULL;
}

/* See outage.h. */
int
auction_outage_trips(const struct auction_outage *o, int bidders, int lost)
{
	if (o->share <= 0 || bidders <= 0 || lost <= 0 || bidders < o->min_bidders)
		return 0;
	return (int64_t)lost * 100 > (int64_t)o->share * bidders;
}

/* See outage.h. */
int64_t
auction_outage_deadline(const struct auction_outage *o, int64_t paused_at)
{
	return paused_at + o->max_pause;
}
