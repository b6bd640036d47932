/*
 * loadgen: load generator for tenderd. Mutual-TLS connections with the bulk
 * supplier certificates of certs/mkpki.sh (--bulk), JSON lines, one event loop.
 *
 *   loadgen [common] --auctions M | --auction-ids LIST  ...   bid (default mode)
 *   loadgen [common] --idle N                                 hold N idle connections
 *   loadgen [common] --handshakes N [--resume]                connect/close N times
 *   loadgen [common] --procedures M ...                       procurement operations
 *
 * Every mode ends with one "RESULT key=value ..." line on stdout for scripts.
 *
 * Files, from the top down (every other NAME.c declares its functions in NAME.h):
 *
 *   loadgen.c  main: options, the choice of mode
 *   bid.c      the bidding mode: suppliers, watchers, the bid strategy, latencies
 *   pload.c    the procurement mode: offers, revisions, withdrawals, questions and
 *              answers in RFQs and tenders, their watchers, latencies
 *   hs.c       handshake and idle-connection modes
 *   probe.c    the stall probe: late wake-ups of a sleeping process, kdamond's CPU
 *   cpu.c      CPU time of the server, PostgreSQL and the load generator over a window
 *   net.c      mutual-TLS client connections (bufferevent_openssl), identities,
 *              line framing, session resumption
 *   lg.c       clocks and progress messages
 *   hist.c     log-linear latency histogram (microseconds)
 *   procfs.c   RSS and CPU time of other processes from /proc
 *   jscan.c    field extraction from tenderd's compact JSON lines (no full parse)
 *   opts.h     the parsed options, read by every mode
 *
 * Money is int64 minor units inside and decimal strings on the wire (common/money).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/ssl.h>

#include "bench/bid.h"
#include "bench/hs.h"
#include "bench/opts.h"
#include "bench/pload.h"
#include "bench/probe.h"

/* Print usage and exit. */
static void
usage(int rc)
{
	fprintf(rc ? stderr : stdout,
	    "usage: loadgen --server HOST:PORT --ca CA.crt --certs DIR [--prefix supplier] [options]\n"
	    "\n"
	    "modes (bidding is the default):\n"
	    "  --auctions M             create M auctions as the buyer, then bid in them\n"
	    "  --auction-ids LIST       bid in existing auctions: \"1-100\" or \"3,5,9-12\"\n"
	    "  --idle N                 open N connections, hello once, hold for --duration, report\n"
	    "  --handshakes N           open/hello/close N connections as fast as possible\n"
	    "  --procedures M           create and publish M procedures (RFQs and tenders) as the\n"
	    "                           buyer; suppliers make offers in half of them (tendering)\n"
	    "                           and ask questions in the other half, which the buyer answers\n"
	    "  --resume                 with --handshakes: resume sessions (tickets)\n"
	    "  --stall-probe            no connections: sleep 1 ms at a time for --duration and\n"
	    "                           report how late the wake-ups were (and kdamond's CPU)\n"
	    "\n"
	    "common:\n"
	    "  --server HOST:PORT       tenderd address (default 127.0.0.1:7443)\n"
	    "  --ca FILE                CA certificate that signed the server's\n"
	    "  --certs DIR --prefix P   client certificates DIR/P00001.crt/.key ... (mkpki.sh --bulk)\n"
	    "  --first K                number of the first certificate used (default 1)\n"
	    "  --conns N                suppliers (bid mode; one certificate each) or identities\n"
	    "                           cycled through (idle, handshakes); default 1000\n"
	    "  --concurrency C          handshakes in progress at most (default 64; handshakes mode:\n"
	    "                           connections in parallel, default 16)\n"
	    "  --server-pid PID         report this process's RSS and CPU\n"
	    "  --pg-pid PID             report the CPU of this postmaster and its backends\n"
	    "  --duration S             measured seconds (bid; default 20), hold time (idle; 5),\n"
	    "                           or time limit (handshakes; default none)\n"
	    "  --connect-timeout S      longest setup (default 120)\n"
	    "  --retry-ms MS            idle mode: retry refused connections for this long\n"
	    "  --timeline MS            bid mode: after the report, one TIMELINE line per MS ms of\n"
	    "                           the window (acks, their worst and p99 send->ack latency)\n"
	    "  --quiet                  no progress messages\n"
	    "  --signed                 bid mode: sign every bid as it is sent (auctions created\n"
	    "                           with signed_bids); unsigned bids otherwise\n"
	    "\n"
	    "bidding:\n"
	    "  --buyer-cert F --buyer-key F      the buyer (creates auctions; default watcher)\n"
	    "  --watcher-cert F --watcher-key F  certificate of the watchers\n"
	    "  --watchers W             watcher connections per auction (default 10)\n"
	    "  --rate R                 bids per second in total; 0 = closed loop (default 0)\n"
	    "  --warmup S               seconds of load before measuring (default 3)\n"
	    "  --start-price A --step-min A --step-max A --auction-duration S\n"
	    "                           parameters of created auctions (default 1000000000.00,\n"
	    "                           1.00, 5%%, 7200)\n"
	    "\n"
	    "procurement (--procedures):\n"
	    "  --rate R                 operations per second in total; 0 = closed loop for offers\n"
	    "  --question-gap MS        ms between two questions of one supplier (default 2000)\n"
	    "  --withdraw-every N       every Nth offer operation is a withdrawal (default 8)\n"
	    "  --enquiry S              s from creation to the tendering state (default 3)\n");
	exit(rc);
}

/* A positive integer option. */
static int
opt_int(const char *name, const char *v, long min, long max)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < min || x > max) {
		fprintf(stderr, "loadgen: --%s must be an integer between %ld and %ld\n", name, min, max);
		exit(2);
	}
	return (int)x;
}

/* Raise the open-file limit as far as allowed. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	enum {
		O_SERVER = 256, O_CA, O_CERTS, O_PREFIX, O_FIRST, O_CONNS, O_AUCTIONS, O_AUCTION_IDS,
		O_WATCHERS, O_RATE, O_DURATION, O_WARMUP, O_IDLE, O_HANDSHAKES, O_RESUME,
		O_BUYER_CERT, O_BUYER_KEY, O_WATCHER_CERT, O_WATCHER_KEY, O_SERVER_PID, O_PG_PID,
		O_CONCURRENCY, O_CONNECT_TIMEOUT, O_RETRY_MS, O_START_PRICE, O_STEP_MIN, O_STEP_MAX,
		O_AUCTION_DURATION, O_TIMELINE, O_STALL_PROBE, O_QUIET, O_SIGNED, O_HELP,
		O_PROCEDURES, O_QUESTION_GAP, O_WITHDRAW_EVERY, O_ENQUIRY,
	};
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "ca", required_argument, NULL, O_CA },
		{ "certs", required_argument, NULL, O_CERTS },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ "first", required_argument, NULL, O_FIRST },
		{ "conns", required_argument, NULL, O_CONNS },
		{ "auctions", required_argument, NULL, O_AUCTIONS },
		{ "auction-ids", required_argument, NULL, O_AUCTION_IDS },
		{ "watchers", required_argument, NULL, O_WATCHERS },
		{ "rate", required_argument, NULL, O_RATE },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "handshakes", required_argument, NULL, O_HANDSHAKES },
		{ "resume", no_argument, NULL, O_RESUME },
		{ "buyer-cert", required_argument, NULL, O_BUYER_CERT },
		{ "buyer-key", required_argument, NULL, O_BUYER_KEY },
		{ "watcher-cert", required_argument, NULL, O_WATCHER_CERT },
		{ "watcher-key", required_argument, NULL, O_WATCHER_KEY },
		{ "server-pid", required_argument, NULL, O_SERVER_PID },
		{ "pg-pid", required_argument, NULL, O_PG_PID },
		{ "concurrency", required_argument, NULL, O_CONCURRENCY },
		{ "connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT },
		{ "retry-ms", required_argument, NULL, O_RETRY_MS },
		{ "start-price", required_argument, NULL, O_START_PRICE },
		{ "step-min", required_argument, NULL, O_STEP_MIN },
		{ "step-max", required_argument, NULL, O_STEP_MAX },
		{ "auction-duration", required_argument, NULL, O_AUCTION_DURATION },
		{ "timeline", required_argument, NULL, O_TIMELINE },
		{ "stall-probe", no_argument, NULL, O_STALL_PROBE },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "signed", no_argument, NULL, O_SIGNED },
		{ "procedures", required_argument, NULL, O_PROCEDURES },
		{ "question-gap", required_argument, NULL, O_QUESTION_GAP },
		{ "withdraw-every", required_argument, NULL, O_WITHDRAW_EVERY },
		{ "enquiry", required_argument, NULL, O_ENQUIRY },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = {
		.server = "127.0.0.1:7443", .ca = NULL, .prefix = "supplier", .first = 1,
		.conns = 1000, .watchers = 10, .duration = -1, .warmup = 3, .connect_timeout = 120,
		.concurrency = -1, .start_price = "1000000000.00", .step_min = "1.00",
		.step_max = "5%", .auction_duration = 7200,
		.question_gap_ms = 2000, .withdraw_every = 8, .enquiry_s = 3,
	};
	int ch, modes;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_SERVER: o.server = optarg; break;
		case O_CA: o.ca = optarg; break;
		case O_CERTS: o.certs = optarg; break;
		case O_PREFIX: o.prefix = optarg; break;
		case O_FIRST: o.first = opt_int("first", optarg, 1, 99999); break;
		case O_CONNS: o.conns = opt_int("conns", optarg, 1, 99999); break;
		case O_AUCTIONS: o.auctions = opt_int("auctions", optarg, 1, 100000); break;
		case O_AUCTION_IDS: o.auction_ids = optarg; break;
		case O_WATCHERS: o.watchers = opt_int("watchers", optarg, 0, 10000); break;
		case O_RATE: o.rate = opt_int("rate", optarg, 0, 10000000); break;
		case O_DURATION: o.duration = opt_int("duration", optarg, 0, 86400); break;
		case O_WARMUP: o.warmup = opt_int("warmup", optarg, 0, 3600); break;
		case O_IDLE: o.idle = opt_int("idle", optarg, 1, 1000000); break;
		case O_HANDSHAKES: o.handshakes = opt_int("handshakes", optarg, 1, 100000000); break;
		case O_RESUME: o.resume = 1; break;
		case O_BUYER_CERT: o.buyer_cert = optarg; break;
		case O_BUYER_KEY: o.buyer_key = optarg; break;
		case O_WATCHER_CERT: o.watcher_cert = optarg; break;
		case O_WATCHER_KEY: o.watcher_key = optarg; break;
		case O_SERVER_PID: o.server_pid = opt_int("server-pid", optarg, 1, 1 << 30); break;
		case O_PG_PID: o.pg_pid = opt_int("pg-pid", optarg, 1, 1 << 30); break;
		case O_CONCURRENCY: o.concurrency = opt_int("concurrency", optarg, 1, 100000); break;
		case O_CONNECT_TIMEOUT:
			o.connect_timeout = opt_int("connect-timeout", optarg, 1, 3600);
			break;
		case O_RETRY_MS: o.retry_ms = opt_int("retry-ms", optarg, 0, 3600000); break;
		case O_START_PRICE: o.start_price = optarg; break;
		case O_STEP_MIN: o.step_min = optarg; break;
		case O_STEP_MAX: o.step_max = optarg; break;
		case O_AUCTION_DURATION:
			o.auction_duration = opt_int("auction-duration", optarg, 1, 30 * 86400);
			break;
		case O_STALL_PROBE: o.stall_probe = 1; break;
		case O_TIMELINE: o.timeline_ms = opt_int("timeline", optarg, 1, 60000); break;
		case O_QUIET: o.quiet = 1; break;
		case O_SIGNED: o.signed_bids = 1; break;
		case O_PROCEDURES: o.procedures = opt_int("procedures", optarg, 1, 10000); break;
		case O_QUESTION_GAP:
			o.question_gap_ms = opt_int("question-gap", optarg, 1, 3600000);
			break;
		case O_WITHDRAW_EVERY:
			o.withdraw_every = opt_int("withdraw-every", optarg, 0, 1000000);
			break;
		case O_ENQUIRY: o.enquiry_s = opt_int("enquiry", optarg, 1, 3600); break;
		case O_HELP:
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (o.stall_probe) {
		if (o.duration < 0)
			o.duration = 20;
		return probe_run(&o);
	}
	modes = (o.idle > 0) + (o.handshakes > 0) + (o.auctions > 0 || o.auction_ids != NULL) +
	    (o.procedures > 0);
	if (modes != 1) {
		fprintf(stderr, "loadgen: choose one mode: --auctions/--auction-ids, --procedures, "
		    "--idle or --handshakes\n");
		usage(2);
	}
	if (o.ca == NULL) {
		fprintf(stderr, "loadgen: --ca is required\n");
		usage(2);
	}
	if ((o.buyer_cert == NULL) != (o.buyer_key == NULL) ||
	    (o.watcher_cert == NULL) != (o.watcher_key == NULL)) {
		fprintf(stderr, "loadgen: a certificate needs its key and the other way round\n");
		exit(2);
	}
	if (o.concurrency < 0)
		o.concurrency = o.handshakes > 0 ? 16 : 64;
	if (o.duration < 0)
		o.duration = o.idle > 0 ? 5 : o.handshakes > 0 ? 0 : 20;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (o.idle > 0)
		return idle_run(&o);
	if (o.handshakes > 0)
		return hs_run(&o);
	if (o.procedures > 0)
		return pload_run(&o);
	return bid_run(&o);
}
