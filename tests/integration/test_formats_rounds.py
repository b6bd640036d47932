"""The rounds format over TLS (docs/auction-rules.md "Rounds with turns", docs/protocol.md
"Rounds with turns"): sealed initial bids, the reveal by alias, turns worst price first,
bids from the bidder's own price, a kill -9 during a round that recovers the exact timeline
(the round's order stays the one fixed at its start), identities revealed after the end, and
tenderd verify replaying it."""
import json

from tdclient import parse_time, sleep_until_server

INITIAL, PAUSE, TURN, ROUND_PAUSE = 2000, 1000, 2000, 1000


def create(buyer, title, **fields):
    return buyer.ok("auction.create", title=title, currency="RUB", **fields)["auction"]


def get(c, aid):
    return c.ok("auction.get", auction=aid)["auction"]


def bid(c, aid, amount):
    return c.request("auction.bid", auction=aid, amount=amount)


def refused(r, code):
    assert r["ok"] is False and r["error"]["code"] == code, r
    return r["error"]["message"]


def test_rounds_turns_kill9_and_verify(env, tenderd_factory):
    import conftest
    from test_verify import NAMES, psql_db, verify

    db = "tdrounds_verify"
    env.drop_database(db)
    as_role = env.new_database(db)
    try:
        conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER), "--sql_dir",
                                     conftest.SQL_DIR), env=conftest.sanitizer_env())
        for name in NAMES + ["supplier4"]:
            role, org, display = conftest.PARTICIPANTS[name]
            conftest.run(env.tenderd_cmd("register", "--db", as_role("tenderd"), "--role", role,
                                         "--organization", org, "--name", display, "--cert",
                                         env.cert(name)), env=conftest.sanitizer_env())
        server = tenderd_factory(db=as_role("tenderd"))
        run_rounds(server, psql=lambda q: psql_db(env, db, q))
        server.close_clients()
        server.stop()
        rc, out = verify(env, db)
        assert rc == 0, out
    finally:
        env.drop_database(db)


def run_rounds(server, psql):
    buyer = server.connect("buyer")
    a = create(buyer, "Rounds", format="rounds", start_price="1000.00", initial=2, pause=1,
               rounds=2, turn=2, round_pause=1)
    aid, S = a["id"], parse_time(a["starts_at"])
    assert (a["format"], a["initial"], a["pause"], a["rounds"], a["turn"],
            a["round_pause"]) == ("rounds", 2, 1, 2, 2, 1), a
    assert a["extension_window"] == 0 and a["sealed"] is True
    s1, s2, s3, s4 = (server.connect(n) for n in ("supplier1", "supplier2", "supplier3",
                                                   "supplier4"))
    # the initial phase: sealed bids (aliases in order of first bid: s1 1, s2 2, s3 3)
    r = bid(s1, aid, "950.00")
    assert r["ok"] is True and r["rank"] is None and r["best_price"] is None, r
    assert bid(s2, aid, "960.00")["ok"] is True
    assert bid(s3, aid, "990.00")["ok"] is True
    refused(bid(s3, aid, "995.00"), "bid_not_below_own")
    assert bid(s3, aid, "980.00")["ok"] is True
    v = get(s1, aid)
    assert v["phase"] == "initial" and v["sealed"] is True, v
    assert v["best_price"] is None and v["your_rank"] is None and "ranking" not in v, v
    assert v["your_price"] == "950.00"
    assert parse_time(v["phase_ends_at"]) == S + INITIAL
    b = get(buyer, aid)
    assert b["best_price"] is None and "ranking" not in b, b
    # three initial bidders: 2 rounds of 3 turns
    R = S + INITIAL + PAUSE
    end = R + 2 * 3 * TURN + ROUND_PAUSE
    assert parse_time(v["ends_at"]) == end, v
    # the pause: no bids; a newcomer never enters
    sleep_until_server(s1, S + INITIAL + 100, 5)
    msg = refused(bid(s1, aid, "940.00"), "rounds_pause")
    assert "round 1 starts at" in msg, msg
    refused(bid(s4, aid, "900.00"), "not_initial_bidder")
    # round 1: order s3 (980.00), s2 (960.00), s1 (950.00, the leader)
    sleep_until_server(s1, R + 100, 5)
    v = get(s1, aid)
    assert (v["phase"], v["round"], v["turn_of"], v["sealed"]) == \
        ("round", 1, "Participant 3", False), v
    assert [(e["alias"], e["price"]) for e in v["ranking"]] == \
        [("Participant 1", "950.00"), ("Participant 2", "960.00"), ("Participant 3", "980.00")]
    assert all("organization" not in e for e in v["ranking"]), v
    assert parse_time(v["your_turn_at"]) == R + 2 * TURN, v
    assert v["your_turn"] is False
    msg = refused(bid(s1, aid, "940.00"), "not_your_turn")
    assert "Participant 3" in msg and "your turn starts at" in msg, msg
    refused(bid(s3, aid, "929.00"), "bid_own_step_too_large")  # from its own 980.00
    assert bid(s3, aid, "930.00")["ok"] is True  # and now the leader
    refused(bid(s3, aid, "920.00"), "turn_already_used")
    # kill -9 in the middle of round 1: the order fixed at its start survives
    server.kill9()
    server.restart()
    s1, s2, s3 = (server.connect(n) for n in ("supplier1", "supplier2", "supplier3"))
    v = get(s1, aid)
    assert v["phase"] == "round" and v["round"] == 1, v
    # s3's turn, or (after a slow restart) s2's: never recomputed from the new standings
    assert (v["turn_of"], parse_time(v["turn_ends_at"])) in \
        (("Participant 3", R + TURN), ("Participant 2", R + 2 * TURN)), v
    assert parse_time(v["ends_at"]) == end and v["ranking"][0]["price"] == "930.00", v
    sleep_until_server(s2, R + TURN + 100, 5)
    v = get(s2, aid)
    assert v["turn_of"] == "Participant 2" and v["your_turn"] is True, v
    assert parse_time(v["turn_ends_at"]) == R + 2 * TURN
    refused(bid(s2, aid, "958.00"), "bid_own_step_too_small")
    assert bid(s2, aid, "925.00")["ok"] is True
    # s1's turn (the standings would now put it first, the order fixed at the round's
    # start keeps it last): it passes
    sleep_until_server(s1, R + 2 * TURN + 100, 5)
    v = get(s1, aid)
    assert v["turn_of"] == "Participant 1" and v["your_turn"] is True, v
    # round 2: the order is recomputed: s1 (950.00), s3 (930.00), s2 (925.00)
    R2 = R + 3 * TURN + ROUND_PAUSE
    sleep_until_server(s1, R + 3 * TURN + 100, 5)
    v = get(s1, aid)
    assert (v["phase"], v["round"]) == ("pause", 2), v
    assert parse_time(v["your_turn_at"]) == R2, v
    sleep_until_server(s1, R2 + 100, 5)
    v = get(s3, aid)
    assert (v["round"], v["turn_of"]) == (2, "Participant 1"), v
    assert parse_time(v["your_turn_at"]) == R2 + TURN
    assert bid(s1, aid, "920.00")["ok"] is True
    sleep_until_server(s1, end + 300, 12)
    v = get(s2, aid)
    assert v["state"] == "closed" and v["phase"] == "over", v
    assert v["result"]["winner"]["price"] == "920.00"
    # identities revealed to everybody after the end
    assert v["result"]["winner"]["organization"] == "Alpha Supplies LLC", v
    assert [e["organization"] for e in v["ranking"]] == \
        ["Alpha Supplies LLC", "Beta Trading JSC", "Gamma Industrial"], v
    assert parse_time(v["result"]["closed_at"]) == end
    rows = psql("SELECT rounds_initial_ms, rounds_pause_ms, rounds_count, rounds_turn_ms,"
                " rounds_round_pause_ms FROM auctions WHERE id = %d" % aid)
    assert rows == [["2000", "1000", "2", "2000", "1000"]], rows
    body = psql("SELECT body FROM changes WHERE auction_id = %d AND kind = 'created'" % aid)
    created = json.loads(body[0][0])
    assert (created["format"], created["turn_ms"], created["rounds"]) == ("rounds", 2000, 2)


def test_rounds_parameters(server, unique):
    buyer = server.connect("buyer")
    a = create(buyer, "Rounds defaults " + unique, format="rounds", start_price="1000.00")
    assert (a["initial"], a["pause"], a["rounds"], a["turn"], a["round_pause"]) == \
        (600, 300, 3, 120, 120), a
    assert a["phase"] == "initial" and a["turn_of"] is None, a
    base = dict(title="Bad rounds " + unique, currency="RUB", format="rounds",
                start_price="1000.00")
    for field, value in (("extension_window", 60), ("extension", 60), ("max_extensions", 2),
                         ("duration", 600)):
        r = buyer.request("auction.create", **dict(base, **{field: value}))
        assert r["ok"] is False and r["error"]["code"] == "rounds_no_extensions", r
        assert r["error"]["field"] == field, r
    for field, value in (("rounds", 0), ("rounds", 11), ("turn", 0), ("initial", 0),
                         ("pause", -1)):
        r = buyer.request("auction.create", **dict(base, **{field: value}))
        assert r["ok"] is False and r["error"]["code"] == "bad_field", r
        assert r["error"]["field"] == field, r
    r = buyer.request("auction.create", title="English " + unique, currency="RUB",
                      start_price="1000.00", turn=60)
    assert r["ok"] is False and r["error"]["code"] == "bad_field", r
    assert r["error"]["field"] == "turn"
    # no operator pause: the timeline is a function of the start and the time
    r = server.connect("operator").request("auction.pause", auction=a["id"], reason="regional power cut")
    assert r["ok"] is False and r["error"]["code"] == "not_for_rounds", r


def test_rounds_single_bidder_closes_after_initial(server, unique):
    buyer = server.connect("buyer")
    a = create(buyer, "Rounds alone " + unique, format="rounds", start_price="1000.00",
               initial=1, pause=1, rounds=1, turn=1, round_pause=0)
    s1 = server.connect("supplier1")
    assert bid(s1, a["id"], "990.00")["ok"] is True
    sleep_until_server(s1, parse_time(a["starts_at"]) + 1300, 5)
    v = get(s1, a["id"])
    assert v["state"] == "closed" and v["result"]["winner"]["price"] == "990.00", v
    assert parse_time(v["result"]["closed_at"]) == parse_time(a["starts_at"]) + 1000


def test_tenderctl_shows_the_rounds(env, server, unique):
    """tenderctl creates a rounds auction and shows the phase and what a bidder may do: the
    sealed initial bid, then whose turn it is, and in its own turn the range from its own
    price."""
    p = env.tenderctl("buyer", "auction", "create", "--title", "ctl rounds " + unique,
                      "--currency", "RUB", "--start-price", "1000.00", "--format", "rounds",
                      "--initial", "2", "--pause", "1", "--rounds", "1", "--turn", "3",
                      "--round-pause", "0", server=server)
    assert p.returncode == 0, p.stderr
    aid = p.stdout.split(":")[0].split()[-1]
    p = env.tenderctl("supplier1", "auction", "get", aid, server=server)
    assert "phase         sealed initial bids until " in p.stdout, p.stdout
    assert "to do         place a sealed initial bid below 1000.00 RUB" in p.stdout, p.stdout
    assert "to lead" not in p.stdout
    assert env.tenderctl("supplier1", "bid", aid, "950.00", server=server).returncode == 0
    assert env.tenderctl("supplier2", "bid", aid, "960.00", server=server).returncode == 0
    p = env.tenderctl("supplier1", "auction", "get", aid, server=server)
    assert "to do         your sealed initial bid 950.00 RUB; you may lower it" in p.stdout, \
        p.stdout
    with server.client("supplier2") as s2:
        a = get(s2, int(aid))
        sleep_until_server(s2, parse_time(a["starts_at"]) + 3100, 5)
    p = env.tenderctl("supplier2", "auction", "get", aid, server=server)
    assert "phase         round 1 of 1: turn of Participant 2 until " in p.stdout, p.stdout
    assert "to do         YOUR TURN: bid 910.00 .. 955.00 RUB (from your 960.00), or pass" \
        in p.stdout, p.stdout
    p = env.tenderctl("supplier1", "auction", "get", aid, server=server)
    assert "to do         your turn at " in p.stdout, p.stdout
    with server.client("buyer") as b:
        b.ok("auction.cancel", auction=int(aid), reason="test over")


def test_rounds_watchers_told_each_phase_and_turn(server, unique):
    """A watcher gets an auction.update (reason turn) when the pause begins, at the reveal
    with the first turn, at the next turn, then auction.closed."""
    buyer = server.connect("buyer")
    a = create(buyer, "Rounds watched " + unique, format="rounds", start_price="1000.00",
               initial=1, pause=1, rounds=1, turn=1, round_pause=0)
    s1, s2, w = (server.connect(n) for n in ("supplier1", "supplier2", "supplier3"))
    assert bid(s1, a["id"], "950.00")["ok"] is True
    assert bid(s2, a["id"], "960.00")["ok"] is True
    w.ok("auction.watch", auction=a["id"])
    seen = []
    while True:
        ev = w.event(timeout=10)
        if ev["event"] == "auction.closed":
            break
        if ev.get("reason") == "turn":
            v = ev["auction"]
            seen.append((v["phase"], v["turn_of"], v["sealed"], "ranking" in v))
    assert seen == [("pause", None, True, False), ("round", "Participant 2", False, True),
                    ("round", "Participant 1", False, True)], seen
