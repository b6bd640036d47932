"""The audit trail in PostgreSQL: what the read-only `auditor` login sees of a finished
auction, what it may not do, and the append-only bid table and log."""
import uuid

import pytest

import tdclient
from tdclient import create_auction, parse_time

# wire time format, from a timestamptz column
WIRE = "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"


@pytest.fixture(scope="module")
def finished(env, module_tenderd_factory):
    """A closed auction with two extensions and a refused bid; returns what the
    participants were told."""
    server = module_tenderd_factory()
    buyer = server.connect("buyer")
    # every lead-taking bid is inside the window and moves the end to its time + 4 s
    a = create_auction(buyer, "Audited " + uuid.uuid4().hex[:10], duration=3,
                       extension_window=4,
                       extension=4)
    aid = a["id"]
    watcher = server.connect("buyer")
    watcher.ok("auction.watch", auction=aid)
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    acks = [("supplier1", s1.ok("auction.bid", auction=aid, amount="995000.00"))]
    e = s2.error("auction.bid", auction=aid, amount="994000.00")
    assert e["code"] == "bid_step_too_small"
    # a later millisecond than the first bid, so that the second extension moves the end
    tdclient.sleep_until_server(s2, parse_time(acks[0][1]["bid"]["at"]) + 20, max_wait=1)
    acks.append(("supplier2", s2.ok("auction.bid", auction=aid, amount="990000.00")))
    acks.append(("supplier1", s1.ok("auction.bid", auction=aid, amount="992000.00")))
    assert [r["extended"] for _, r in acks] == [True, True, False]
    deadline = (parse_time(acks[1][1]["ends_at"]) - tdclient.now_ms()) / 1000.0 + 10
    while True:
        ev = watcher.event(timeout=deadline)
        if ev["event"] == "auction.closed":
            break
    closed = ev["auction"]
    assert closed["state"] == "closed"
    assert closed["result"]["winner"]["organization"] == env.org("supplier2")
    server.close_clients()
    return {"auction": a, "closed": closed, "acks": acks, "id": aid}


def test_auditor_sees_the_whole_auction(env, finished):
    aid = finished["id"]
    acks = finished["acks"]
    closed = finished["closed"]

    rows = env.psql("SELECT seq, bid_id, currency, amount, amount_minor, %s, organization, "
                    "participant, fingerprint FROM audit.bids WHERE auction_id = %d "
                    "ORDER BY seq" % (WIRE % "placed_at", aid), user="auditor")
    expect = [[str(r["bid"]["seq"]), str(r["bid"]["id"]), "RUB", r["bid"]["amount"],
               str(int(r["bid"]["amount"].replace(".", ""))), r["bid"]["at"], env.org(who),
               env.participants[who]["name"], env.participants[who]["fingerprint"]]
              for who, r in acks]
    assert rows == expect

    rows = env.psql("SELECT %s, %s, number, bid_id FROM audit.extensions "
                    "WHERE auction_id = %d ORDER BY number" % (
                        WIRE % "old_end", WIRE % "new_end", aid), user="auditor")
    a = finished["auction"]
    assert rows == [
        [a["ends_at"], acks[0][1]["ends_at"], "1", str(acks[0][1]["bid"]["id"])],
        [acks[0][1]["ends_at"], acks[1][1]["ends_at"], "2", str(acks[1][1]["bid"]["id"])],
    ]

    rows = env.psql("SELECT state, %s, currency, start_price, final_price, "
                    "winner_organization, winner_fingerprint, saving_percent, bids, bidders, "
                    "extensions, cancel_reason IS NULL FROM audit.results "
                    "WHERE auction_id = %d" % (WIRE % "closed_at", aid), user="auditor")
    assert rows == [["closed", closed["result"]["closed_at"], "RUB", "1000000.00", "990000.00",
                     env.org("supplier2"), env.participants["supplier2"]["fingerprint"],
                     "1.00", "3", "2", "2", "t"]]
    assert closed["result"]["closed_at"] == closed["ends_at"] == acks[1][1]["ends_at"]

    rows = env.psql("SELECT rank, organization, price, seq FROM audit.standings "
                    "WHERE auction_id = %d ORDER BY rank" % aid, user="auditor")
    assert rows == [["1", env.org("supplier2"), "990000.00", "2"],
                    ["2", env.org("supplier1"), "992000.00", "3"]]

    rows = env.psql("SELECT state, winner_organization, final_price, extensions FROM "
                    "audit.auctions WHERE auction_id = %d" % aid, user="auditor")
    assert rows == [["closed", env.org("supplier2"), "990000.00", "2"]]

    rows = env.psql("SELECT kind, organization, amount, reason FROM audit.auction_log "
                    "WHERE auction_id = %d ORDER BY log_id" % aid, user="auditor")
    kinds = [r[0] for r in rows]
    for k in ("created", "started", "bid_accepted", "bid_refused", "extended", "closed"):
        assert k in kinds, (k, rows)
    assert kinds.count("bid_accepted") == 3 and kinds.count("extended") == 2
    assert kinds[0] == "created" and kinds[-1] == "closed"
    assert ["bid_refused", env.org("supplier2"), "994000.00", "bid_step_too_small"] in rows
    accepted = [r[2] for r in rows if r[0] == "bid_accepted"]
    assert accepted == ["995000.00", "990000.00", "992000.00"]
    closed_row = [r for r in rows if r[0] == "closed"][0]
    assert closed_row[2] == "990000.00"


def test_auditor_is_read_only(env, finished):
    aid = finished["id"]
    for table in ("bids", "auctions", "auction_log", "certificates", "participants"):
        p = env.psql("SELECT count(*) FROM public.%s" % table, user="auditor", check=False)
        assert p.returncode != 0 and "permission denied" in p.stderr, (table, p.stderr)
    attempts = [
        "INSERT INTO public.bids (id, auction_id, seq, participant_id, organization_id, "
        "fingerprint, amount, placed_at) VALUES (999999, %d, 99, 1, 1, 'x', 1, now())" % aid,
        "INSERT INTO public.auction_log (auction_id, at, kind) VALUES (%d, now(), 'closed')" % aid,
        "UPDATE public.auctions SET final_price = 1 WHERE id = %d" % aid,
        "DELETE FROM public.bids WHERE auction_id = %d" % aid,
        "CREATE TABLE audit.scratch (x int)",
        "CREATE TABLE public.scratch (x int)",
        "SET default_transaction_read_only = off; "
        "INSERT INTO public.auction_log (auction_id, at, kind) VALUES (%d, now(), 'closed')" % aid,
    ]
    for sql in attempts:
        p = env.psql(sql, user="auditor", check=False)
        assert p.returncode != 0, sql
        assert ("permission denied" in p.stderr or "read-only transaction" in p.stderr), \
            (sql, p.stderr)
    # nothing changed
    assert env.psql("SELECT count(*) FROM bids WHERE auction_id = %d" % aid) == [["3"]]
    assert env.psql("SELECT count(*) FROM auction_log WHERE auction_id = %d AND kind = 'closed'"
                    % aid) == [["1"]]
    assert env.psql("SELECT final_price FROM auctions WHERE id = %d" % aid) == [["99000000"]]


def test_bids_and_log_are_append_only_even_for_the_owner(env, finished):
    aid = finished["id"]
    before = env.psql("SELECT id, seq, amount, placed_at FROM bids WHERE auction_id = %d "
                      "ORDER BY seq" % aid)
    log_before = env.psql("SELECT id, kind, amount, reason FROM auction_log "
                          "WHERE auction_id = %d ORDER BY id" % aid)
    for sql, table in [
        ("UPDATE bids SET amount = 1 WHERE auction_id = %d" % aid, "bids"),
        ("DELETE FROM bids WHERE auction_id = %d" % aid, "bids"),
        ("UPDATE changes SET reason = 'edited' WHERE auction_id = %d" % aid, "changes"),
        ("DELETE FROM changes WHERE auction_id = %d" % aid, "changes"),
        # the old log's name is a view of the changes: writing through it meets the same rule
        ("UPDATE auction_log SET reason = 'edited' WHERE auction_id = %d" % aid, "changes"),
        ("DELETE FROM auction_log WHERE auction_id = %d" % aid, "changes"),
    ]:
        p = env.psql(sql, user="tenderd_owner", check=False)
        assert p.returncode != 0, sql
        assert "%s is append-only" % table in p.stderr, (sql, p.stderr)
    assert env.psql("SELECT id, seq, amount, placed_at FROM bids WHERE auction_id = %d "
                    "ORDER BY seq" % aid) == before
    assert env.psql("SELECT id, kind, amount, reason FROM auction_log WHERE auction_id = %d "
                    "ORDER BY id" % aid) == log_before


def test_integrity_view_is_empty_and_catches_broken_rows(env, finished):
    aid = finished["id"]
    # everything tenderd wrote in this database is consistent
    assert env.psql("SELECT table_name, row_id, problem FROM audit.integrity",
                    user="auditor") == []
    # rows that break each rule appear, with their problem (inserted by the owner inside a
    # transaction that is rolled back: the tables are append-only)
    bad = env.psql(
        "BEGIN;"
        "INSERT INTO bids (id, auction_id, seq, participant_id, organization_id, fingerprint,"
        " amount, placed_at) SELECT 990001, 987654321, 1, participant_id, organization_id,"
        " fingerprint, 1, now() FROM bids WHERE auction_id = %d ORDER BY seq LIMIT 1;"
        "INSERT INTO bids (id, auction_id, seq, participant_id, organization_id, fingerprint,"
        " amount, placed_at) SELECT 990002, auction_id, 99, participant_id, organization_id,"
        " 'not-a-fingerprint', 1, now() FROM bids WHERE auction_id = %d ORDER BY seq LIMIT 1;"
        "INSERT INTO changes (seq, at, stream, kind, auction_id, bid_id, amount, body, leaf_hash)"
        " SELECT max(seq) + 1, now(), 'auction', 'bid_accepted', %d, 990003, 1, '{}', '\\x00'"
        " FROM changes;"
        "INSERT INTO changes (seq, at, stream, kind, body, leaf_hash)"
        " SELECT max(seq) + 2, now(), 'participant', 'registered', '{}', '\\x00' FROM changes;"
        "SELECT table_name, row_id, problem FROM audit.integrity ORDER BY 1, 2, 3;"
        "ROLLBACK;" % (aid, aid, aid), user="tenderd_owner")
    problems = {(r[0], r[2]) for r in bad}
    assert ("bids", "no such auction") in problems
    assert ("bids", "fingerprint is not a certificate of the participant") in problems
    assert ("bids", "no bid_accepted change") in problems
    assert ("changes", "bid_accepted without its bid") in problems
    assert ("changes", "gap in the sequence before this row") in problems
    assert [r for r in bad if r[1] == "990001" and r[2] == "no such auction"]
    assert env.psql("SELECT count(*) FROM bids WHERE id IN (990001, 990002)") == [["0"]]
