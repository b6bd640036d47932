/* tenderd verify: every auction and procedure replayed through the engine, as tenderd does
 * at start-up (main.c, db_boot.c), and compared with the typed tables (see verify_report.h). */
#include "server/verify_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "server/server.h"

#define MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

/* An int64 column; `*null` set when SQL NULL. */
static int64_t
verify_i64(PGresult *r, int i, int c, int *null)
{
	*null = PQgetisnull(r, i, c);
	return *null ? 0 : strtoll(PQgetvalue(r, i, c), NULL, 10);
}

/* After a procedure's change is replayed: an `opened` change holds the opening record (every
 * lot's offers in rank order with their scores); the engine must make the same. */
static int
verify_on_proc_log(void *arg, struct server *s, const struct db_boot_proc_log *r)
{
	struct verify *v = arg;
	json_t *d, *got;

	if (strcmp(r->kind, "opened") != 0)
		return 0;
	v->openings++;
	d = json_loads(r->detail, 0, NULL);
	got = proc_opening_record(s, r->procurement_id);
	if (!json_equal(d ? json_object_get(d, "opening") : NULL, got))
		verify_problem(v, "changes", "seq", VID(r->seq), "body", "procurement %lld: the "
		    "opening record (ranks, prices, scores) the engine makes on replay is not the "
		    "logged one", (long long)r->procurement_id);
	json_decref(d);
	json_decref(got);
	return 0;
}

/* Compare two values of one row's column (NULLs included); report a difference. */
static void
verify_cmp(struct verify *v, const char *table, int64_t id, const char *column, int64_t stored,
    int stored_null, int64_t replayed, int replayed_null)
{
	char a[24] = "NULL", b[24] = "NULL";

	if (stored_null == replayed_null && (stored_null || stored == replayed))
		return;
	if (!stored_null)
		snprintf(a, sizeof(a), "%lld", (long long)stored);
	if (!replayed_null)
		snprintf(b, sizeof(b), "%lld", (long long)replayed);
	verify_problem(v, table, "id", VID(id), column, "stored %s, the log replays %s", a, b);
}

/* Every auction: state, end, extensions, and once closed its winner and final price. */
static int
verify_auctions(struct verify *v, struct server *s)
{
	PGresult *r = verify_query(v, "SELECT auction_id, state, " MS("ends_at") ", extensions,"
	    " winner_bid_id, final_price, price_paid, (SELECT " MS("t.tail_ends_at")
	    " FROM audit.auction_tail t WHERE t.auction_id = auction_rows.auction_id)"
	    " FROM audit.auction_rows ORDER BY auction_id");
	int null;

	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t id = verify_i64(r, i, 0, &null);
		struct book *b = book_get(s, id);
		const char *st = PQgetvalue(r, i, 1), *rst;
		const struct auction_entry *w;
		int wn, pn, tn;
		int64_t win, price, tend;
		v->auctions++;
		if (b == NULL) {
			verify_problem(v, "auctions", "id", VID(id), NULL, "no change of the log creates it");
			continue;
		}
		rst = auction_state_name(b->a.state);
		if (strcmp(st, rst) != 0 && (b->a.state >= AUCTION_CLOSED ||
		    strcmp(st, "closed") == 0 || strcmp(st, "cancelled") == 0))
			verify_problem(v, "auctions", "id", VID(id), "state", "stored %s, the log "
			    "replays %s", st, rst);
		verify_cmp(v, "auctions", id, "ends_at (ms)", verify_i64(r, i, 2, &null), null,
		    b->a.ends_at, 0);
		verify_cmp(v, "auctions", id, "extensions", verify_i64(r, i, 3, &null), null,
		    b->a.extensions, 0);
		/* second-place tail: its end, once it opened (read first: `tn` is set by the read) */
		tend = verify_i64(r, i, 7, &tn);
		verify_cmp(v, "auctions", id, "tail_ends_at (ms)", tend, tn, b->a.tail_end,
		    b->a.tail_end == 0);
		if (b->a.state != AUCTION_CLOSED)
			continue;
		w = auction_winner(&b->a);  /* none when unsuccessful (no bids, min_bidders) */
		win = verify_i64(r, i, 4, &wn);
		price = verify_i64(r, i, 5, &pn);
		verify_cmp(v, "auctions", id, "winner_bid_id", win, wn,
		    w ? b->a.bids[w->bid_index].id : 0, w == NULL);
		verify_cmp(v, "auctions", id, "final_price", price, pn, w ? w->amount : 0, w == NULL);
		/* sealed_second_price pays the runner-up's price (the others: final_price) */
		price = verify_i64(r, i, 6, &pn);
		verify_cmp(v, "auctions", id, "price_paid", price, pn, w ? auction_price_paid(&b->a) : 0,
		    w == NULL);
	}
	PQclear(r);
	return 0;
}

/* One row of bids against the bid the engine replayed at its seq. `*last` is the last seq
 * seen in this auction (gaps are bids missing from the table). */
static void
verify_bid_row(struct verify *v, struct server *s, PGresult *r, int i, int64_t *last)
{
	int null;
	int64_t id = verify_i64(r, i, 0, &null), aid = verify_i64(r, i, 1, &null);
	int64_t seq = verify_i64(r, i, 2, &null);
	struct book *b = book_get(s, aid);
	const struct auction_bid *e;

	v->bids++;
	if (b != NULL)
		for (int64_t k = *last + 1; k < seq && k <= (int64_t)b->a.nbids; k++)
			verify_problem(v, "bids", "id", VID(b->a.bids[k - 1].id), NULL, "missing: the log "
			    "replays it as bid %lld of auction %lld", (long long)k, (long long)aid);
	*last = seq;
	if (b == NULL || seq < 1 || seq > (int64_t)b->a.nbids) {
		verify_problem(v, "bids", "id", VID(id), NULL, "the log does not replay a bid %lld "
		    "of auction %lld", (long long)seq, (long long)aid);
		return;
	}
	e = &b->a.bids[seq - 1];
	verify_cmp(v, "bids", id, "id (the bid at its seq)", id, 0, e->id, 0);
	verify_cmp(v, "bids", id, "amount", verify_i64(r, i, 4, &null), null, e->amount, 0);
	verify_cmp(v, "bids", id, "organization_id", verify_i64(r, i, 3, &null), null, e->org, 0);
	/* proxy bidding: an automatic bid replays as one */
	verify_cmp(v, "bids", id, "automatic", verify_i64(r, i, 5, &null), null, e->automatic, 0);
}

/* Every bid, by auction and seq; then the bids the table lacks at the end of an auction. */
static int
verify_bids(struct verify *v, struct server *s)
{
	PGresult *r = verify_query(v, "DECLARE verify_bids NO SCROLL CURSOR FOR SELECT bid_id,"
	    " auction_id, seq, organization_id, amount, automatic::int FROM audit.bid_rows"
	    " ORDER BY auction_id, seq");
	struct map last;
	int64_t aid = 0, *cur = NULL;
	size_t it = 0;
	void *val;
	int oom = 0;

	if (r == NULL)
		return -1;
	PQclear(r);
	map_init(&last, 0);
	for (int rows = 1; rows > 0 && !oom;) {
		if ((r = verify_query(v, "FETCH 20000 FROM verify_bids")) == NULL)
			break;
		rows = PQntuples(r);
		for (int i = 0; i < rows && !oom; i++) {
			int null;
			int64_t a = verify_i64(r, i, 1, &null);
			if (cur == NULL || a != aid) {
				aid = a;
				if ((cur = map_get(&last, aid)) == NULL) {
					if ((cur = calloc(1, sizeof(*cur))) == NULL || map_put(&last, aid, cur) < 0) {
						free(cur);
						oom = 1;
						break;
					}
				}
			}
			verify_bid_row(v, s, r, i, cur);
		}
		PQclear(r);
	}
	if (oom)
		fprintf(stderr, "tenderd verify: out of memory\n");
	while (map_next(&s->books, &it, &aid, NULL, &val)) {
		struct book *b = val;
		int64_t *l = map_get(&last, aid), seen = l ? *l : 0;
		for (int64_t k = seen + 1; k <= (int64_t)b->a.nbids; k++)
			verify_problem(v, "bids", "id", VID(b->a.bids[k - 1].id), NULL, "missing: the log "
			    "replays it as bid %lld of auction %lld", (long long)k, (long long)aid);
	}
	it = 0;
	while (map_next(&last, &it, NULL, NULL, &val))
		free(val);
	map_free(&last);
	return r == NULL || oom ? -1 : 0;
}

/* Every procedure replayed (the opened ones): its state and version. */
static int
verify_procedures(struct verify *v, struct server *s)
{
	PGresult *r = verify_query(v, "SELECT procurement_id, state, version,"
	    " opened_at IS NOT NULL FROM audit.procurements ORDER BY procurement_id");
	int null;

	if (r == NULL)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t id = verify_i64(r, i, 0, &null);
		struct proc *p = map_get(&s->procs, id);
		if (strcmp(PQgetvalue(r, i, 3), "t") != 0) {
			v->procedures_sealed++;
			continue;
		}
		v->procedures++;
		if (p == NULL) {
			verify_problem(v, "procurements", "id", VID(id), NULL, "no change of the log "
			    "creates it");
			continue;
		}
		if (strcmp(PQgetvalue(r, i, 1), proc_state_name(p->pr.state)) != 0)
			verify_problem(v, "procurements", "id", VID(id), "state", "stored %s, the log "
			    "replays %s", PQgetvalue(r, i, 1), proc_state_name(p->pr.state));
		verify_cmp(v, "procurements", id, "version", verify_i64(r, i, 2, &null), null,
		    p->pr.version, 0);
	}
	PQclear(r);
	return 0;
}

/* The state replayed: compare it with the typed tables. */
static int
verify_check(void *arg, struct server *s)
{
	struct verify *v = arg;

	return verify_auctions(v, s) == 0 && verify_bids(v, s) == 0 &&
	    verify_procedures(v, s) == 0 ? 0 : -1;
}

/* See verify_report.h. */
int
verify_replay(struct verify *v)
{
	struct restore_hook hook = { verify_on_proc_log, verify_check, v };
	char cause[512];
	int rc = v->replay(v->cfg, (struct pg_conn *)v->pg, &hook, cause, sizeof(cause));

	if (rc == -1)
		verify_problem(v, "replay", NULL, NULL, NULL, "the log does not replay through the "
		    "engine: %s", cause);
	return rc == -2 ? -1 : 0;
}
