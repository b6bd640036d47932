/*
 * The outage pause rule (docs/auction-rules.md, "Outage pause"): pure arithmetic on counts of
 * bidders, no clock and no I/O. The server (server/presence.c) counts which bidders are
 * connected and which lost their connections; this decides when that is an outage.
 */
#ifndef TENDERD_AUCTION_OUTAGE_H
#define TENDERD_AUCTION_OUTAGE_H

#include <stdint.h>

/* Defaults and bounds of auction.create's outage fields. */
#define AUCTION_OUTAGE_WINDOW_MS     10000      /* outage_window: 10 s */
#define AUCTION_OUTAGE_WINDOW_MAX_MS 600000     /* at most 10 minutes */
#define AUCTION_OUTAGE_MAX_PAUSE_MS  900000     /* outage_max_pause: 15 minutes */
#define AUCTION_OUTAGE_PAUSE_MAX_MS  86400000   /* at most a day */
#define AUCTION_OUTAGE_MIN_BIDDERS   2          /* outage_min_bidders */

/* An auction's outage rule; share 0: no rule. */
struct auction_outage {
	int share;             /* percent (1-100) of the bidders whose loss is an outage; 0: off */
	int64_t window;        /* ms in which the losses must happen */
	int64_t max_pause;     /* ms after which an outage pause ends anyway */
	int min_bidders;       /* the rule applies only with at least this many bidders */
};

/* Validate an enabled rule; NULL when valid, else a static message. */
const char *auction_outage_check(const struct auction_outage *o);

/*
 * Whether `lost` of `bidders` bidders losing their connections is an outage: more than
 * `share` percent of them (lost * 100 > share * bidders), with at least min_bidders bidders.
 * `bidders` counts the bidders connected before the losses (those still connected plus the
 * lost ones). 0 when the rule is off.
 */
int auction_outage_trips(const struct auction_outage *o, int bidders, int lost);

/* When an outage pause that began at `paused_at` ends anyway (paused_at + max_pause). */
int64_t auction_outage_deadline(const struct auction_outage *o, int64_t paused_at);

#endif
