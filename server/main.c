/* tenderd: wiring. Parse settings, migrate, rebuild state, serve. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "common/version.h"
#include "server/notify.h"
#include "server/metrics.h"
#include "server/optab.h"
#include "server/server.h"
#include "server/sig.h"
#include "server/tlog.h"

/* Print usage and exit. */
static void
usage(int rc)
{
	fprintf(stderr,
	    "usage: tenderd [-c FILE] [--KEY VALUE]...            run the server\n"
	    "       tenderd --version                            print the release and exit\n"
	    "       tenderd --list-ops                           print the operations and exit\n"
	    "       tenderd --list-settings                      print the settings and exit\n"
	    "       tenderd migrate [-c FILE] [--KEY VALUE]...    apply migrations and exit\n"
	    "       tenderd register [-c FILE] [--KEY VALUE]... --role ROLE --organization NAME\n"
	    "               --name NAME --cert PEMFILE           register a participant and exit\n"
	    "       tenderd verify [-c FILE] [--db CONNINFO] [--ca FILE]\n"
	    "                                                    check the log as the auditor: every\n"
	    "               leaf, the sequence, the roots and signatures of the signed tree heads,\n"
	    "               every signed statement, the replay of every auction and procedure;\n"
	    "               exit 0 when all agree, 1 naming the first row that differs, 2 for a bad\n"
	    "               command line, 3 when it cannot verify (docs/audit.md)\n"
	    "settings (file: key = value; command line overrides):\n");
	config_usage();
	exit(rc);
}

/* Options of the register command. */
struct reg_opts {
	const char *role, *org, *name, *cert;
};

/* The value of --KEY for register's own options, or NULL. */
static const char **
reg_field(struct reg_opts *reg, const char *key)
{
	if (reg == NULL)
		return NULL;
	if (strcmp(key, "role") == 0)
		return &reg->role;
	if (strcmp(key, "organization") == 0)
		return &reg->org;
	if (strcmp(key, "name") == 0)
		return &reg->name;
	if (strcmp(key, "cert") == 0)
		return &reg->cert;
	return NULL;
}

/* Parse -c and --KEY VALUE options into `cfg` (and register's own options into `reg`).
 * 0, -1 with `cause`, or -2 for a malformed command line. */
static int
args_parse(int argc, char **argv, int first, struct config *cfg, struct reg_opts *reg,
    char *cause, size_t n)
{
	int i;

	config_defaults(cfg);
	/* the file first, so that command-line options override it */
	for (i = first; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc)
				return -2;
			if (config_load_file(cfg, argv[i + 1], cause, n) < 0)
				return -1;
		}
	}
	for (i = first; i < argc; i++) {
		char key[64];
		const char *arg = argv[i], *val, *eq, **field;

		if (strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0)
			return -2;
		arg += 2;
		if ((eq = strchr(arg, '=')) != NULL) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - arg), arg);
			val = eq + 1;
		} else {
			snprintf(key, sizeof(key), "%s", arg);
			if (i + 1 >= argc)
				return -2;
			val = argv[++i];
		}
		if ((field = reg_field(reg, key)) != NULL)
			*field = val;
		else if (config_set(cfg, key, val, cause, n) < 0)
			return -1;
	}
	return 0;
}

/* The settings from the command line, without exiting (SIGHUP reads them again). */
int
args_to_config(int argc, char **argv, int first, struct config *cfg, char *cause, size_t n)
{
	int rc = args_parse(argc, argv, first, cfg, NULL, cause, n);

	if (rc == -2)
		snprintf(cause, n, "malformed command line");
	return rc < 0 ? -1 : 0;
}

/* Parse the command line into `cfg` (and register's options); exit on an error. */
static void
parse_args(int argc, char **argv, int first, struct config *cfg, struct reg_opts *reg)
{
	char cause[512];
	int rc;

	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			i++;
			continue;
		}
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			usage(0);
		if (strcmp(argv[i], "--version") == 0) {
			printf("tenderd %s\n", TENDERD_VERSION);
			exit(0);
		}
		if (strcmp(argv[i], "--list-ops") == 0) {
			optab_print(stdout);
			exit(0);
		}
		if (strcmp(argv[i], "--list-settings") == 0) {
			config_print(stdout);
			exit(0);
		}
	}
	if ((rc = args_parse(argc, argv, first, cfg, reg, cause, sizeof(cause))) == -2)
		usage(2);
	if (rc < 0) {
		fprintf(stderr, "tenderd: %s\n", cause);
		exit(2);
	}
	log_set_level((enum log_level)log_level_parse(cfg->log_level));
	log_set_format((enum log_format)log_format_parse(cfg->log_format));
	if (log_open(cfg->log_file, cause, sizeof(cause)) < 0) {
		fprintf(stderr, "tenderd: %s\n", cause);
		exit(1);
	}
}

/* A name given to `tenderd register`, in NFC (malloc'd in `*out`) and checked like
 * the protocol's names (1 to 200 characters, nothing invisible); -1 after a message. */
static int
register_text(const char *what, const char *in, char **out)
{
	size_t n = strlen(in), nn;
	char why[120], *nfc = NULL;
	int rc = text_nfc(in, n, &nfc, &nn);

	if (rc < 0) {
		fprintf(stderr, "tenderd: --%s is not valid UTF-8\n", what);
		return -1;
	}
	*out = rc == 1 ? nfc : strdup(in);
	if (*out == NULL)
		return -1;
	n = strlen(*out);
	if (n == 0 || text_len(*out, n) > 200) {
		fprintf(stderr, "tenderd: --%s must be 1 to 200 characters\n", what);
		goto bad;
	}
	if (text_check(*out, n, TEXT_NAME, why, sizeof(why)) < 0) {
		fprintf(stderr, "tenderd: --%s %s\n", what, why);
		goto bad;
	}
	return 0;
bad:
	free(*out);
	*out = NULL;
	return -1;
}

/* tenderd register: offline registration with a blocking connection. */
static int
cmd_register(const struct config *cfg, const struct reg_opts *r)
{
	struct tls_cert_info info;
	char cause[512], nb[TIME_BUF], na[TIME_BUF];
	int64_t pid = 0, oid = 0;
	char *pem = NULL, *org = NULL, *name = NULL;
	enum role role;
	int rc;

	if (!r->role || !r->org || !r->name || !r->cert)
		usage(2);
	if (role_parse(r->role, &role) < 0) {
		fprintf(stderr, "tenderd: role must be buyer, supplier or operator\n");
		return 2;
	}
	if (register_text("organization", r->org, &org) < 0 ||
	    register_text("name", r->name, &name) < 0) {
		free(org);
		return 2;
	}
	if (tls_cert_file_info(r->cert, &info, &pem, cause, sizeof(cause)) < 0) {
		free(org);
		free(name);
		fprintf(stderr, "tenderd: %s\n", cause);
		return 1;
	}
	/* the policy a running tenderd would require (required_policy) */
	if (tls_set_required_policy(cfg->required_policy) < 0)
		snprintf(cause, sizeof(cause), "required_policy '%.200s' is not an OID",
		    cfg->required_policy);
	else if (tls_pem_policy_ok(pem, cause, sizeof(cause)))
		cause[0] = '\0';
	if (cause[0] != '\0') {
		fprintf(stderr, "tenderd: bad_field: --cert %s: %s\n", r->cert, cause);
		free(pem);
		free(org);
		free(name);
		return 2;
	}
	time_format(info.not_before, nb);
	time_format(info.not_after, na);
	rc = db_boot_register(cfg->db, r->role, org, name, info.fp, info.subject,
	    info.serial, nb, na, pem, &pid, &oid, cause, sizeof(cause));
	free(pem);
	free(org);
	free(name);
	if (rc == 1) {
		fprintf(stderr, "tenderd: %s\n", cause);
		return 3;
	}
	if (rc < 0) {
		fprintf(stderr, "tenderd: %s\n", cause);
		return 1;
	}
	printf("registered participant %lld (%s) of organization %lld, fingerprint %s\n",
	    (long long)pid, r->role, (long long)oid, info.fp);
	return 0;
}

/* ---- rebuilding the state at start-up ---- */

/*
 * What the loaders share: the server, and the state each auction was
 * persisted in (auction id -> enum auction_state + 1), applied to the engine
 * once its bids are replayed (restore_finish). Nothing keeps it afterwards.
 */
struct restore_ctx {
	struct server *s;
	struct map persisted;
	const struct restore_hook *hook;   /* NULL at start-up */
	int gap;                 /* the log has a gap: the tree stopped before it */
	int catchup;             /* a standby replaying what changed since its state was loaded */
};

/* Loader: organizations. */
static int
load_org(void *arg, const struct db_boot_org *o)
{
	struct org *g = registry_org(((struct restore_ctx *)arg)->s, o->id, o->name);

	if (g == NULL)
		return -1;
	g->suspended = o->status && strcmp(o->status, "suspended") == 0;
	return 0;
}

/* Loader: participants and their certificates. */
static int
load_participant(void *arg, const struct db_boot_participant *p)
{
	struct server *s = ((struct restore_ctx *)arg)->s;
	struct tls_cert_info info;

	memset(&info, 0, sizeof(info));
	snprintf(info.subject, sizeof(info.subject), "%s", p->subject);
	snprintf(info.serial, sizeof(info.serial), "%s", p->serial);
	info.not_before = p->not_before;
	info.not_after = p->not_after;
	struct participant *who = registry_participant(s, p->id, p->org_id, p->name, p->role,
	    p->status, p->fingerprint);

	if (who == NULL)
		return -1;
	/* a standby taking over loads its participants again: their status may have changed */
	who->suspended = p->status && strcmp(p->status, "suspended") == 0;
	return registry_cert_describe(s, p->fingerprint, &info, p->registered_by,
	    p->registered_at);
}

/* The state an auction's change (started, closed, cancelled) leaves it in. */
static enum auction_state
restore_state_parse(const char *st)
{
	if (strcmp(st, "started") == 0)
		return AUCTION_RUNNING;
	if (strcmp(st, "closed") == 0)
		return AUCTION_CLOSED;
	if (strcmp(st, "cancelled") == 0)
		return AUCTION_CANCELLED;
	return AUCTION_SCHEDULED;
}

/* Loader: auctions (built at their first change; their state comes from the log). A
 * standby catching up keeps the auctions it has, with what of their row the log does not
 * carry (the reason of a cancellation, whether bids must be signed). */
static int
load_auction(void *arg, const struct db_boot_auction *a)
{
	struct restore_ctx *x = arg;
	struct book *b = x->catchup ? book_get(x->s, a->id) : NULL;

	if (b == NULL)
		return book_restore(x->s, a) ? 0 : -1;
	if (a->cancel_reason && !b->cancel_reason &&
	    (b->cancel_reason = strdup(a->cancel_reason)) == NULL)
		return -1;
	b->unsigned_bids = a->unsigned_bids;
	return 0;
}

/* A persisted state's flag: the auction's second-place tail opened (its `tail` change). */
#define RESTORE_TAIL 0x100

/* Loader: an auction's started, tail, closed or cancelled change: the state it was persisted
 * in, applied after its bids (restore_finish). A later change of the same auction wins; a
 * `tail` change is a running auction whose tail opened, which the later ones keep. */
static int
load_transition(void *arg, int64_t auction_id, const char *kind)
{
	struct restore_ctx *x = arg;
	intptr_t was = (intptr_t)map_get(&x->persisted, auction_id);

	if (strcmp(kind, "tail") == 0)
		return map_put(&x->persisted, auction_id,
		    (void *)(intptr_t)((AUCTION_RUNNING + 1) | RESTORE_TAIL));
	return map_put(&x->persisted, auction_id,
	    (void *)(intptr_t)((restore_state_parse(kind) + 1) | (was & RESTORE_TAIL)));
}

/* Loader: replay one bid through the engine; it must be accepted again. */
static int
load_bid(void *arg, const struct db_boot_bid *r)
{
	struct book *b = book_get(((struct restore_ctx *)arg)->s, r->auction_id);
	struct auction_events ev = { 0 };
	const struct auction_event *got;
	enum auction_err e;

	if (b == NULL)
		return -1;
	if (r->seeded)
		e = auction_seed(&b->a, r->id, r->org_id, r->amount, r->at, &ev);
	else if (r->automatic)
		e = auction_bid_auto(&b->a, r->id, r->org_id, r->amount, r->at, &ev);
	else
		e = auction_bid(&b->a, r->id, r->org_id, r->amount, r->at, &ev);
	got = auction_events_find(&ev, r->seeded ? AUCTION_EV_SEEDED : AUCTION_EV_BID);
	if (e != AUCTION_OK || got == NULL || (r->seq && got->seq != r->seq)) {
		log_error("auction=%lld bid=%lld seq=%lld replay refused: %s", (long long)r->auction_id,
		    (long long)r->id, (long long)r->seq, auction_err_code(e));
		return -1;
	}
	/* a sealed bid: its salt, for the opening (NULL while an auditor may not see it) */
	if (r->body != NULL && auction_format_of(&b->a)->sealed) {
		json_t *d = json_loads(r->body, 0, NULL);
		const char *salt = json_string_value(json_object_get(d, "salt"));

		if (salt != NULL && book_set_salt(b, got->seq, salt) < 0)
			log_error("auction=%lld bid=%lld: its salt is not kept", (long long)r->auction_id,
			    (long long)r->id);
		json_decref(d);
	}
	return r->seeded ? 0 : book_count_bids(b, r->org_id, 1);
}

/* Loader: an operator's pause, resume or extension, replayed through the engine in order
 * with the bids; it must be accepted again. */
static int
load_rule(void *arg, int64_t auction_id, const char *kind, int64_t at, int64_t ms, int64_t by)
{
	struct book *b = book_get(((struct restore_ctx *)arg)->s, auction_id);
	enum auction_err e;

	if (b == NULL)
		return -1;
	if (strcmp(kind, "paused") == 0)
		e = auction_pause(&b->a, at, NULL);
	else if (strcmp(kind, "resumed") == 0)
		e = auction_resume(&b->a, at, NULL);
	else
		e = auction_prolong(&b->a, at, ms, NULL);
	if (e != AUCTION_OK)
		log_error("auction=%lld %s at %lld replay refused: %s", (long long)auction_id, kind,
		    (long long)at, auction_err_code(e));
	else if (by == 0 && strcmp(kind, "paused") == 0)
		b->outage_at = at;  /* the clock's pause: an outage pause (its counts not known) */
	return e == AUCTION_OK ? 0 : -1;
}

/* Loader: a proxy set or withdrawn, replayed through the engine in order with the bids (which
 * hold the automatic bids it placed: replay does not run the proxies). A floor withheld from
 * the auditor (-1, the auction still running) is not replayed: no replayed bid rests on it. */
static int
load_proxy(void *arg, int64_t auction_id, int64_t org, int64_t participant, int64_t floor,
    int64_t at)
{
	struct book *b = book_get(((struct restore_ctx *)arg)->s, auction_id);
	enum auction_err e;

	if (b == NULL)
		return -1;
	if (floor < 0)
		return 0;
	if (floor > 0)
		e = auction_proxy_set(&b->a, org, floor, participant, at, NULL);
	else
		e = auction_proxy_withdraw(&b->a, org, at, NULL);
	if (e != AUCTION_OK) {
		log_error("auction=%lld proxy of organization=%lld at %lld replay refused: %s",
		    (long long)auction_id, (long long)org, (long long)at, auction_err_code(e));
		return -1;
	}
	return book_count_bids(b, org, 1);  /* an instruction counts as a bid does */
}

/* Loader: an auction's outage rule (migration 026). */
static int
load_outage(void *arg, int64_t auction_id, int share, int64_t window_ms, int64_t max_pause_ms,
    int min_bidders)
{
	struct book *b = book_get(((struct restore_ctx *)arg)->s, auction_id);

	if (b == NULL)
		return 0;
	b->outage = (struct auction_outage){ share, window_ms, max_pause_ms, min_bidders };
	return auction_outage_check(&b->outage) == NULL ? 0 : -1;
}

/* A connection closed: it leaves every watch list, and every auction it was in (a loss
 * when its peer vanished: the outage pause). */
static void
on_conn_close(struct server *s, struct conn *c)
{
	presence_drop_conn(s, c);
	watch_drop_conn(s, c);
}

/* Loader: the refused bids an organization placed in an auction count towards its limit. */
static int
load_refused(void *arg, int64_t auction_id, int64_t org_id, int64_t count)
{
	struct book *b = book_get(((struct restore_ctx *)arg)->s, auction_id);

	return b == NULL ? 0 : book_count_bids(b, org_id, (long)count);
}

/* Loader: a recent signed statement: its nonce may not be used again. */
static int
load_statement(void *arg, int64_t participant, const char *statement)
{
	sig_remember(((struct restore_ctx *)arg)->s, participant, statement);
	return 0;
}

/* Loader: one procurement log row, replayed. */
static int
load_proc_log(void *arg, const struct db_boot_proc_log *r)
{
	struct restore_ctx *x = arg;

	if (proc_replay(x->s, r) < 0)
		return -1;
	return x->hook && x->hook->proc_log ? x->hook->proc_log(x->hook->arg, x->s, r) : 0;
}

/* Loader: one change's leaf, in seq order. A gap (a row removed behind tenderd's
 * back) stops the tree there: logged once, and later leaves are not appended. */
static int
load_leaf(void *arg, int64_t seq, const uint8_t *leaf)
{
	struct server *s = ((struct restore_ctx *)arg)->s;

	if (tlog_append(s->tlog, seq, leaf) == 0)
		return 0;
	if (seq == tlog_size(s->tlog) + 1)
		return -1;  /* out of memory */
	if (seq > tlog_size(s->tlog) + 1 && ((struct restore_ctx *)arg)->gap++ == 0)
		log_error("changes: seq %lld follows %lld: the log has a gap; the tree stops at "
		    "size %lld", (long long)seq, (long long)tlog_size(s->tlog),
		    (long long)tlog_size(s->tlog));
	return 0;
}

/* Loader: a log key's certificate. */
static int
load_log_key(void *arg, const char *fp, const char *pem)
{
	return tlog_add_key(((struct restore_ctx *)arg)->s->tlog, fp, pem);
}

/* Loader: a signed tree head. */
static int
load_head(void *arg, const struct db_boot_head *r)
{
	struct tlog_head h = { .size = r->size, .at = r->at };
	const struct tlog_head *latest = tlog_latest(((struct restore_ctx *)arg)->s->tlog);

	if (((struct restore_ctx *)arg)->catchup && latest && r->size <= latest->size)
		return 0;  /* a standby catching up has it */
	if (r->siglen > sizeof(h.sig))
		return -1;
	memcpy(h.root, r->root, MERKLE_HASH);
	memcpy(h.sig, r->sig, r->siglen);
	h.siglen = r->siglen;
	snprintf(h.key_fp, sizeof(h.key_fp), "%s", r->key_fingerprint);
	return tlog_add_head(((struct restore_ctx *)arg)->s->tlog, &h);
}

/* The latest stored head against the rebuilt tree: a difference is logged, naming
 * the size (the log was changed behind tenderd's back). */
static void
restore_check_head(struct server *s)
{
	const struct tlog_head *h = tlog_latest(s->tlog);
	merkle_hash root;

	if (h == NULL)
		return;
	if (h->size > tlog_size(s->tlog)) {
		log_error("tree head of size %lld does not match the log: it has %lld changes",
		    (long long)h->size, (long long)tlog_size(s->tlog));
		return;
	}
	tlog_root(s->tlog, h->size, root);
	if (memcmp(root, h->root, MERKLE_HASH) != 0)
		log_error("tree head of size %lld does not match the log: the root of its first "
		    "%lld changes differs", (long long)h->size, (long long)h->size);
}

/* After the replay: bring each auction to its persisted state (started, closed
 * or cancelled), so that the engine reports only what is not persisted yet. */
static int
restore_finish(struct restore_ctx *x)
{
	size_t it = 0;
	int64_t id;
	void *v;
	int bad = 0;

	while (map_next(&x->persisted, &it, &id, NULL, &v)) {
		struct book *b = book_get(x->s, id);
		enum auction_state st = (enum auction_state)(((intptr_t)v & ~RESTORE_TAIL) - 1);
		if (b == NULL)
			continue;
		/* a persisted tail: open it at the main end the replay came to (no bid or rule in
		 * the tail may have opened it yet) */
		if (((intptr_t)v & RESTORE_TAIL) && b->a.state == AUCTION_RUNNING &&
		    !b->a.paused && b->a.tail_end == 0)
			auction_advance(&b->a, auction_end(&b->a), NULL);
		if (st == AUCTION_RUNNING) {
			auction_advance(&b->a, b->a.p.starts_at, NULL);
		} else if (st == AUCTION_CANCELLED) {
			/* before the engine would close it (a clock format's end comes from its
			 * standings and may be long past): a cancelled auction stays cancelled */
			int64_t end = auction_close_at(&b->a) - 1, now = time_now_ms();

			auction_cancel(&b->a, end < now ? end : now, NULL);
		} else if (st == AUCTION_CLOSED) {
			auction_advance(&b->a, b->a.ends_at, NULL);
			if (b->a.state == AUCTION_RUNNING && b->a.tail_end != 0)
				auction_advance(&b->a, b->a.tail_end, NULL);  /* closed after its tail */
			if (b->a.state != AUCTION_CLOSED) {
				log_error("auction=%lld persisted as closed but replay ends at a later time",
				    (long long)b->a.id);
				bad = 1;
			}
		}
	}
	return bad ? -1 : 0;
}

/* Loader: an auction's or a procurement's change (its seq, txn_obj.seq). */
static void
load_seen(void *arg, const char *stream, int64_t id, int64_t seq)
{
	struct server *s = ((struct restore_ctx *)arg)->s;
	const struct txn_kind *k = strcmp(stream, "auction") == 0 ? &book_txn : &proc_txn;
	struct txn_obj *o = k->find(s, id);

	if (o != NULL)
		o->seq = seq;
}

/* The loaders, for the context `x`. */
static struct db_boot_sink
restore_sink(struct restore_ctx *x)
{
	return (struct db_boot_sink){
		.arg = x, .org = load_org, .participant = load_participant, .auction = load_auction,
		.bid = load_bid, .refused = load_refused, .proc_log = load_proc_log,
		.transition = load_transition, .rule = load_rule, .statement = load_statement, .leaf = load_leaf,
		.log_key = load_log_key, .head = load_head, .seen = load_seen,
		.proxy = load_proxy,
		.outage = load_outage,
	};
}

/* After the log is read (`rc` 0): link the lots' auctions, bring the auctions to their
 * persisted states. 0, or -1 with `cause`. */
static int
restore_end(struct restore_ctx *x, int rc, char *cause, size_t n)
{
	if (rc == 0) {
		size_t it = 0;
		void *b;

		proc_restore_finish(x->s);
		if ((rc = restore_finish(x)) < 0)
			snprintf(cause, n, "persisted state does not replay");
		while (rc == 0 && map_next(&x->s->books, &it, NULL, NULL, &b))
			presence_restore(x->s, b);  /* an outage pause's max-pause timer */
	}
	map_free(&x->persisted);
	return rc;
}

static void server_state_init(struct server *s);
static void server_state_free(struct server *s);

/* tenderd verify's replay (verify_replay_fn, server.h): a state of its own, the log replayed
 * into it as the auditor, checked, freed. */
static int
restore_audit(const struct config *cfg, struct pg_conn *pg, const struct restore_hook *hook,
    char *cause, size_t n)
{
	struct server *s = calloc(1, sizeof(*s));
	struct restore_ctx x = { .s = s, .hook = hook };
	struct db_boot_sink sink = restore_sink(&x);
	int rc = -2;

	/* no nonces to remember (nothing is accepted here), no tree to keep (verify.c
	 * rebuilds it from the leaves itself) */
	sink.statement = NULL;
	sink.leaf = NULL;
	sink.log_key = NULL;
	sink.head = NULL;
	if (s == NULL)
		return -2;
	s->cfg = *cfg;
	server_state_init(s);
	if ((s->base = event_base_new()) != NULL) {
		map_init(&x.persisted, 0);
		rc = restore_end(&x, db_boot_load_audit(pg, &sink, cause, n), cause, n);
		if (rc == 0 && hook->check && hook->check(hook->arg, s) < 0)
			rc = -2;
	}
	server_state_free(s);
	if (s->base)
		event_base_free(s->base);
	free(s);
	return rc;
}

/* Check the schema is migrated and rebuild every auction from PostgreSQL: holding the
 * writer lock (`lock`) or in a snapshot (a standby); everything, or (`after` not 0) the
 * changes after seq `after` replayed onto the state that has them up to it. */
static int
restore(struct server *s, int lock, int64_t after, int64_t *last_batch, int64_t *last_seq,
    char *cause, size_t n)
{
	struct restore_ctx x = { .s = s, .catchup = after > 0 };
	struct db_boot_sink sink = restore_sink(&x);
	struct db_boot_ids ids = { 0 };
	int64_t t0 = time_mono_ms();
	int rc;

	if (db_boot_check(s->cfg.db, s->cfg.sql_dir, cause, n) < 0)
		return -1;
	map_init(&x.persisted, 0);
	rc = db_boot_load_after(s->cfg.db, lock, after, &sink, &ids, cause, n);
	if (rc == 0)
		restore_check_head(s);
	if (restore_end(&x, rc, cause, n) < 0)
		return -1;
	*last_batch = ids.last_batch;
	*last_seq = ids.seq;
	s->next_bid_id = ids.bid + 1;
	s->next_auction_id = ids.auction + 1;
	s->next_proc_id = ids.procurement + 1;
	s->next_offer_id = ids.offer + 1;
	log_msg(after && ids.seq == after ? LOG_DEBUG : LOG_INFO, "state %s: organizations=%zu participants=%zu auctions=%zu procurements=%zu"
	    " bids_max_id=%lld tree_size=%lld changes=%lld ms=%lld", after ? "caught up" : "rebuilt",
	    s->orgs.len, s->participants.len, s->books.len, s->procs.len, (long long)ids.bid,
	    (long long)tlog_size(s->tlog), (long long)(ids.seq - after),
	    (long long)(time_mono_ms() - t0));
	return 0;
}

/* The empty maps of a server's state. */
static void
server_state_init(struct server *s)
{
	map_init(&s->conns, 0);
	map_init(&s->certs, 1);
	map_init(&s->orgs, 0);
	map_init(&s->orgs_by_name, 1);
	map_init(&s->participants, 0);
	map_init(&s->books, 0);
	map_init(&s->procs, 0);
	map_init(&s->addrs, 1);
	map_init(&s->refused_addrs, 1);
	if (presence_init(s) < 0)
		abort();  /* out of memory at start-up */
}

/* Free the procedures, auctions, participants and organizations, and the maps. */
static void
server_state_free(struct server *s)
{
	size_t it = 0;
	void *p;

	presence_free(s);
	proc_free_all(s);
	while (map_next(&s->books, &it, NULL, NULL, &p))
		book_free(p);
	it = 0;
	while (map_next(&s->certs, &it, NULL, NULL, &p))
		registry_cert_free(p);
	it = 0;
	while (map_next(&s->participants, &it, NULL, NULL, &p)) {
		free(((struct participant *)p)->name);
		free(p);
	}
	it = 0;
	while (map_next(&s->orgs, &it, NULL, NULL, &p)) {
		free(((struct org *)p)->name);
		free(p);
	}
	map_free(&s->conns);
	map_free(&s->certs);
	map_free(&s->orgs);
	map_free(&s->orgs_by_name);
	map_free(&s->participants);
	map_free(&s->books);
	map_free(&s->procs);
}

/* ---- running ---- */

/* Finish stopping once nothing is in flight. */
static void
on_stop_check(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	static int rounds;
	struct timeval tv = { 0, 50000 };

	static int closed;

	if (!closed && s->db && !txn_idle(s) && ++rounds < 200) {  /* at most 10 s for commits in flight */
		evtimer_add(s->stop_timer, &tv);
		return;
	}
	if (!closed) {
		closed = 1;
		rounds = 0;
		book_update_all(s);  /* watchers leave with the last committed state */
		conn_close_all(s, "shutdown");
	}
	/* let the closing connections flush and say goodbye, at most 3 s */
	if (s->conn_head != NULL && ++rounds < 60) {
		evtimer_add(s->stop_timer, &tv);
		return;
	}
	event_base_loopexit(s->base, NULL);
}

/* Stop accepting and reading, finish commits, close. */
static void
serve_stop(struct server *s)
{
	if (s->stopping)
		return;
	notify_stopping();
	s->stopping = 1;
	conn_stop_listening(s);
	on_stop_check(-1, 0, s);
}

/* SIGTERM/SIGINT: stop. */
static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;

	if (!s->stopping)
		log_info("signal %d: stopping", (int)sig);
	serve_stop(s);
}

/*
 * The event base, the write path with its kinds of objects, and the callbacks
 * through which what happens below reaches the files above (docs/architecture.md).
 */
static int
wire(struct server *s)
{
	char cause[256];
	/*
	 * The epoll changelist applies event changes once per loop iteration, just
	 * before epoll_wait: the write event that output arms and that is disarmed as
	 * soon as the output is written in the same iteration (conn_send_text) never
	 * reaches the kernel. tenderd never dup()s a watched descriptor.
	 */
	struct event_config *ec = event_config_new();

	if (ec != NULL) {
		event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		s->base = event_base_new_with_config(ec);
		event_config_free(ec);
	}
	if (s->base == NULL || txn_init(s) < 0 || txn_add_kind(s, &book_txn) < 0 ||
	    txn_add_kind(s, &proc_txn) < 0)
		return -1;
	/* a finished signature check may let the write path go on */
	if (sig_init(s, txn_kick, cause, sizeof(cause)) < 0) {
		log_error("cannot start: %s", cause);
		return -1;
	}
	ops_init(s);                                  /* an auction's deadline */
	s->lot_auction_closed = proc_auction_closed;  /* the end of a tender lot's auction */
	s->on_line = proto_handle_line;
	s->on_sent = proto_sent;
	s->on_conn_close = on_conn_close;
	s->cmdline_config = args_to_config;
	return 0;
}

/* db.c's committed leaves: appended to the tree before the batch's replies. */
static void
on_leaf(void *arg, int64_t seq, const uint8_t *leaf, const uint8_t *content)
{
	struct server *s = arg;
	static int broken;

	if (tlog_append(s->tlog, seq, leaf) < 0) {
		if (broken++ == 0)
			log_error("change %lld cannot join the tree of size %lld: receipts and heads "
			    "stop until tenderd is restarted", (long long)seq,
			    (long long)tlog_size(s->tlog));
		return;
	}
	if (content != NULL && tlog_set_content(s->tlog, seq, content) < 0)
		log_error("change %lld: out of memory for its content hash", (long long)seq);
}

/* ---- primary and standby ---- */

/* The exit status of serve(): 1 once this tenderd stepped down or failed to take over. */
static int serve_rc;
/* When a standby took the primary lock (monotonic ms). */
static int64_t takeover_t0;
/* A standby's state: every change up to this seq is replayed into it. */
static int64_t standby_seq;
/* Seconds between a standby's catch-ups while it waits (what a takeover has left to replay). */
#define STANDBY_CATCHUP_S 5
static struct event *standby_timer;

/* While waiting: replay what the primary committed since the last catch-up. PostgreSQL out of
 * reach: tried again at the next tick; a change that does not replay (the state is no longer
 * the log's): stop, exit 1, and be started again. */
static void
on_standby_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct timeval tv = { STANDBY_CATCHUP_S, 0 };
	int64_t last_batch = 0, seq = standby_seq;
	char cause[512];

	if (!s->standby || s->stopping || s->db != NULL)
		return;
	if (db_boot_check(s->cfg.db, s->cfg.sql_dir, cause, sizeof(cause)) < 0) {
		log_warn("standby: cannot catch up: %s", cause);
	} else if (restore(s, 0, standby_seq, &last_batch, &seq, cause, sizeof(cause)) < 0) {
		log_error("standby: catching up failed: %s; stopping", cause);
		serve_rc = 1;
		serve_stop(s);
		return;
	}
	standby_seq = seq;
	evtimer_add(standby_timer, &tv);
}

/* The write path's database came up or went down. A standby taking over serves from the
 * moment its write path is ready: until then its clients are still told `standby` (a request
 * would only get `unavailable`). */
static void
on_db_state(void *arg, int up)
{
	struct server *s = arg;

	if (up && s->standby) {
		s->standby = 0;
		log_info("takeover: serving as the primary on %s, %lld ms after the primary lock was "
		    "taken", s->cfg.listen, (long long)(time_mono_ms() - takeover_t0));
	}
	txn_db_state(arg, up);
}

/* Become the primary: rebuild the state, start the write path and the tree heads, publish
 * the advertised address. 0, or -1 with `cause`. */
static int
primary_start(struct server *s, char *cause, size_t n)
{
	int64_t last_batch = 0, last_seq = 0;
	const char *adv = s->cfg.advertise[0] ? s->cfg.advertise : s->cfg.listen;
	char why[512];

	/* a standby has the state up to standby_seq: what changed since is replayed onto it */
	if (restore(s, 1, standby_seq, &last_batch, &last_seq, cause, n) < 0)
		return -1;
	db_use_proc_stmts(db_proc_stmts);
	s->db = db_new(s->base, s->cfg.db, (int)s->cfg.db_retry, last_batch + 1, last_seq + 1,
	    on_db_state, s);
	if (s->db == NULL) {
		snprintf(cause, n, "db client");
		return -1;
	}
	db_on_leaves(s->db, on_leaf, s);
	if (logops_init(s) < 0) {
		snprintf(cause, n, "tree heads");
		return -1;
	}
	/* standbys tell clients where the primary is: not being able to say so stops nothing */
	if (db_role_publish(s->role, adv, why, sizeof(why)) < 0)
		log_warn("%s", why);
	return 0;
}

/* Wait as a standby, warm: the state rebuilt from a snapshot of what is committed (without
 * the writer lock), so that a takeover replays only what changed since; connections are
 * identified as usual, every operation but hello refused. 0, or -1 with `cause`. */
static int
standby_start(struct server *s, char *cause, size_t n)
{
	int64_t last_batch = 0;

	log_info("standby: the primary is at '%s'; rebuilding the state while waiting",
	    db_role_primary(s->role));
	if (restore(s, 0, 0, &last_batch, &standby_seq, cause, n) < 0)
		return -1;
	s->standby = 1;
	log_info("standby: state up to change %lld; waiting for the primary lock",
	    (long long)standby_seq);
	return 0;
}

/* The role session's news: a standby has the primary lock (take over), or the primary has
 * lost it to another tenderd (step down: stop, exit 1). */
static void
on_role(void *arg, enum db_role_event ev)
{
	struct server *s = arg;
	char cause[512];

	takeover_t0 = time_mono_ms();
	if (s->stopping)
		return;  /* the lock goes with the process */
	if (ev == DB_ROLE_DEPOSED) {
		serve_rc = 1;
		serve_stop(s);
		return;
	}
	log_info("takeover: the primary lock is mine; replaying the changes after %lld",
	    (long long)standby_seq);
	/* the old primary's write path may still be finishing: wait for it however long */
	db_boot_set_writer_wait(0);
	if (primary_start(s, cause, sizeof(cause)) < 0) {
		log_error("takeover failed: %s", cause);
		serve_rc = 1;
		serve_stop(s);
		return;
	}
	txn_rearm(s);
	log_info("takeover: state caught up %lld ms after the primary lock was taken; starting "
	    "the write path", (long long)(time_mono_ms() - takeover_t0));
}

/* TCP keepalives on PostgreSQL's side of every session (unless PGOPTIONS or the conninfo's
 * options set them): a dead tenderd machine loses its sessions, and with them its locks,
 * within about 8 s (docs/operations.md, "Standby and takeover"). */
static void
keepalive_options(void)
{
	static const char ka[] = "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=1 "
	    "-c tcp_keepalives_count=3";
	const char *old = getenv("PGOPTIONS");
	char buf[1024];

	if (old != NULL && strstr(old, "tcp_keepalives") != NULL)
		return;
	snprintf(buf, sizeof(buf), "%s%s%s", old ? old : "", old && old[0] ? " " : "", ka);
	setenv("PGOPTIONS", buf, 1);
}

/* Take the primary lock, or wait as a standby (standby on), or give up naming the other
 * tenderd (standby off). 0, or -1 with `cause`. */
static int
role_start(struct server *s, char *cause, size_t n)
{
	int on = strcmp(s->cfg.standby, "on") == 0, primary = 0;

	keepalive_options();
	s->role = db_role_open(s->base, s->cfg.db, on ? 0 : DB_WRITER_LOCK_WAIT_S, &primary,
	    cause, n);
	if (s->role == NULL)
		return -1;
	if (primary)
		return primary_start(s, cause, n);
	if (on)
		return standby_start(s, cause, n);
	db_role_writer_holder(s->role, cause, n);
	return -1;
}

/* Serve until a signal. */
static int
serve(struct server *s, int argc, char **argv)
{
	char cause[512], app_name[64];

	snprintf(app_name, sizeof(app_name), "tenderd %.48s", s->cfg.listen);
	server_state_init(s);
	s->started_at = time_now_ms();
	if (tls_set_required_policy(s->cfg.required_policy) < 0) {
		log_error("cannot start: required_policy '%s' is not an OID", s->cfg.required_policy);
		return 1;
	}
	if ((s->ssl_ctx = tls_server_ctx(&s->cfg, &s->crl, cause, sizeof(cause))) == NULL) {
		log_error("cannot start: %s", cause);
		return 1;
	}
	if ((s->tlog = tlog_new()) == NULL ||
	    tlog_load_key(s->tlog, s->cfg.log_key, s->cfg.log_cert, cause, sizeof(cause)) < 0) {
		log_error("cannot start: %s", s->tlog ? cause : "out of memory");
		return 1;
	}
	if (wire(s) < 0) {
		log_error("cannot start: event base");
		return 1;
	}
	/* the port first: a second tenderd on it fails at once, not after loading the state;
	 * connections wait in the backlog until the loop runs */
	db_set_application_name(app_name);
	if (conn_listen(s, cause, sizeof(cause)) < 0 || role_start(s, cause, sizeof(cause)) < 0) {
		log_error("cannot start: %s", cause);
		return 1;
	}
	s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
	s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
	s->stop_timer = evtimer_new(s->base, on_stop_check, s);
	evsignal_add(s->sig_term, NULL);
	evsignal_add(s->sig_int, NULL);
	if (metrics_init(s) < 0 || admin_init(s, argc, argv) < 0) {
		log_error("cannot start: metrics or reload handler");
		return 1;
	}
	db_role_watch(s->role, on_role, s);
	if (!s->standby) {
		txn_rearm(s);
	} else {
		struct timeval tv = { STANDBY_CATCHUP_S, 0 };
		standby_timer = evtimer_new(s->base, on_standby_tick, s);
		evtimer_add(standby_timer, &tv);
	}
	log_info("tenderd listening on %s%s", s->cfg.listen, s->standby ? " as a standby" : "");
	if (s->standby)
		notify_standby(db_role_primary(s->role));
	event_base_dispatch(s->base);

	/* teardown */
	conn_free_all(s);
	conn_lane_free(s);
	server_state_free(s);
	db_free(s->db);
	db_role_free(s->role);
	if (standby_timer)
		event_free(standby_timer);
	logops_free(s);
	tlog_free(s->tlog);
	event_free(s->sig_term);
	event_free(s->sig_int);
	event_free(s->stop_timer);
	admin_free(s);
	metrics_free(s);
	conn_addrs_free(s);
	if (s->accept_pause)
		event_free(s->accept_pause);
	sig_free(s);
	txn_free(s);
	event_base_free(s->base);
	tls_ctx_free(s->ssl_ctx);
	free(s->out);
	log_info("tenderd stopped");
	return serve_rc;
}

int
main(int argc, char **argv)
{
	static struct server srv;
	struct reg_opts reg = { 0 };
	char cause[512];

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	/*
	 * Every committed batch allocates its replies and events and frees them once they
	 * are written: keep that memory in the heap for the next batch instead of handing it
	 * back to the kernel (and faulting it in again) each time.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	if (argc > 1 && strcmp(argv[1], "migrate") == 0) {
		parse_args(argc, argv, 2, &srv.cfg, NULL);
		if (db_boot_migrate(srv.cfg.db, srv.cfg.sql_dir, srv.cfg.migrate_lock_timeout, cause,
		    sizeof(cause)) < 0) {
			fprintf(stderr, "tenderd: %s\n", cause);
			return 1;
		}
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "verify") == 0) {
		parse_args(argc, argv, 2, &srv.cfg, NULL);
		return verify_main(&srv.cfg, restore_audit);
	}
	if (argc > 1 && strcmp(argv[1], "register") == 0) {
		parse_args(argc, argv, 2, &srv.cfg, &reg);
		return cmd_register(&srv.cfg, &reg);
	}
	/* SIGHUP reloads once the server runs (admin.c); until then it must not kill it */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);  /* reopens the log file once the server runs (admin.c) */
	parse_args(argc, argv, 1, &srv.cfg, NULL);
	return serve(&srv, argc, argv);
}
