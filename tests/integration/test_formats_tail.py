"""The second-place tail over TLS (docs/auction-rules.md "Second-place tail", docs/protocol.md
auction.create `tail`): after the main end the auction stays running in phase "tail", where
the bidders but the winner may improve their places at prices not below the final best; it
closes at the tail's end with the winner fixed at the main end; stored, restored after
kill -9, replayed by tenderd verify; tenderctl shows it."""
import json
import time

from tdclient import create_auction, parse_time


def wait_view(c, aid, pred, timeout=20):
    v = c.ok("auction.get", auction=aid)["auction"]
    deadline = time.time() + timeout
    while not pred(v) and time.time() < deadline:
        time.sleep(0.1)
        v = c.ok("auction.get", auction=aid)["auction"]
    assert pred(v), v
    return v


def in_tail(v):
    return v["state"] == "running" and v["phase"] == "tail"


def closed(v):
    return v["state"] == "closed"


def tail_auction(buyer, title, duration=2, tail=3, **kw):
    return create_auction(buyer, title, duration=duration, tail=tail, start_price="1000.00",
                          step_min="10.00", step_max="500.00", **kw)


def test_tail_over_tls(env, tenderd_factory, unique):
    """Two bidders in the main phase; the tail opens at the main end (event reason "tail"):
    the winner is refused (tail_winner), a price below the final best is refused, the final
    best itself is accepted and ranks after the winner, a newcomer enters; the auction closes
    at the tail's end with the winner of the main end and the final ranking; the log, the
    tables and the audit views say so, also after a restart."""
    server = tenderd_factory()
    buyer = server.connect("buyer")
    a = tail_auction(buyer, "Tail " + unique)
    aid = a["id"]
    assert (a["tail"], a["phase"], a["tail_ends_at"], a["main_result"]) == (3, "main", None, None)
    s1, s2, s3 = (server.connect(n) for n in ("supplier1", "supplier2", "supplier3"))
    s3.ok("auction.watch", auction=aid)
    r = s1.ok("auction.bid", auction=aid, amount="900.00")
    assert "tail" not in r and "tail_ends_at" not in r, r
    w = s2.ok("auction.bid", auction=aid, amount="850.00")
    v = wait_view(s1, aid, in_tail)
    main_end = parse_time(v["ends_at"])
    tail_end = parse_time(v["tail_ends_at"])
    assert tail_end - main_end == 3000, v
    assert v["best_price"] == "850.00" and v["your_rank"] == 2, v
    assert v["main_result"]["final_price"] == "850.00", v
    assert v["main_result"]["winner"]["price"] == "850.00", v
    assert parse_time(v["main_result"]["ended_at"]) == main_end, v
    assert "you" not in v["main_result"]["winner"] and v["result"] is None, v
    mine = s2.ok("auction.get", auction=aid)["auction"]["main_result"]["winner"]
    assert mine["you"] is True, mine
    # the watcher is told the tail opened
    ev = s3.event(timeout=5, name="auction.update")
    while ev["reason"] != "tail":
        ev = s3.event(timeout=5, name="auction.update")
    assert ev["auction"]["phase"] == "tail", ev
    # the winner may not bid in the tail, neither lower nor higher
    for amount in ("840.00", "860.00"):
        r = s2.request("auction.bid", auction=aid, amount=amount)
        assert r["error"]["code"] == "tail_winner", r
        assert r["error"]["message"].startswith(
            "you won with the final best price 850.00: the second-place tail (until "), r
    r = s1.request("auction.bid", auction=aid, amount="849.99")
    assert r["error"]["code"] == "bid_below_final_best", r
    assert r["error"]["message"].startswith("in the second-place tail (until "), r
    assert r["error"]["message"].endswith(
        ") the amount must not be below the final best price 850.00"), r
    # the final best itself: accepted, after the winner; no lead, no extension
    r = s1.ok("auction.bid", auction=aid, amount="850.00")
    assert (r["rank"], r["tail"], r["extended"]) == (2, True, False), r
    assert parse_time(r["tail_ends_at"]) == tail_end and parse_time(r["ends_at"]) == main_end
    r = s1.request("auction.bid", auction=aid, amount="850.00")
    assert r["error"]["code"] == "bid_not_below_own", r
    # a bidder that never bid enters the ranking in the tail, with no step rule
    r = s3.ok("auction.bid", auction=aid, amount="999.99")
    assert r["rank"] == 3, r
    r = s3.ok("auction.bid", auction=aid, amount="999.98")
    assert r["rank"] == 3, r
    v = wait_view(buyer, aid, closed)
    assert parse_time(v["result"]["closed_at"]) == tail_end, v
    assert parse_time(v["ends_at"]) == main_end and v["phase"] is None, v
    assert v["result"]["winner"]["organization"] == "Beta Trading JSC", v["result"]
    assert v["result"]["winner"]["price"] == "850.00"
    assert [(e["price"], e["organization"]) for e in v["ranking"]] == [
        ("850.00", "Beta Trading JSC"), ("850.00", "Alpha Supplies LLC"),
        ("999.98", "Gamma Industrial")], v["ranking"]
    assert v["main_result"]["winner"]["organization"] == "Beta Trading JSC"
    r = s1.request("auction.bid", auction=aid, amount="849.00")
    assert r["error"]["code"] == "auction_ended", r
    # stored: the tail change, the winner of the main end, the final ranking in closed
    rows = env.psql("SELECT kind, bid_id, amount FROM changes WHERE auction_id = %d AND kind IN"
                    " ('tail', 'closed') ORDER BY seq" % aid)
    assert rows == [["tail", str(w["bid"]["id"]), "85000"],
                    ["closed", str(w["bid"]["id"]), "85000"]], rows
    rows = env.psql("SELECT winner_bid_id, final_price, closed_at = tail_ends_at, tail_ms"
                    " FROM auctions WHERE id = %d" % aid)
    assert rows == [[str(w["bid"]["id"]), "85000", "t", "3000"]], rows
    rows = env.psql("SELECT tail_s, tail_bids FROM audit.auction_tail WHERE auction_id = %d"
                    % aid, user="auditor")
    assert rows == [["3", "3"]], rows
    rows = env.psql("SELECT kind, detail FROM audit.auction_log WHERE auction_id = %d AND kind"
                    " IN ('created', 'tail', 'closed') ORDER BY log_id" % aid, user="auditor")
    created, tail, done = (json.loads(x[1]) for x in rows)
    assert created["tail"] == 3, created
    assert parse_time(tail["tail_ends_at"]) == tail_end, tail
    assert [e["price"] for e in done["ranking"]] == ["850.00", "850.00", "999.98"], done
    assert parse_time(done["ends_at"]) == main_end, done
    rows = env.psql("SELECT rank, price FROM audit.standings WHERE auction_id = %d ORDER BY rank"
                    % aid, user="auditor")
    assert rows == [["1", "850.00"], ["2", "850.00"], ["3", "999.98"]], rows
    server.restart()
    v = server.connect("supplier1").ok("auction.get", auction=aid)["auction"]
    assert parse_time(v["tail_ends_at"]) == tail_end and v["state"] == "closed", v
    assert v["result"]["winner"]["price"] == "850.00" and v["your_rank"] == 2, v


def test_tail_forward_and_no_winner(server, unique):
    """english_forward mirrors the tail (bid_above_final_best); an auction nobody bid in has
    no tail: it closes at its end."""
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Tail fwd " + unique, format="english_forward", duration=2,
                       tail=2, start_price="1000.00", step_min="10.00", step_max="500.00")
    none = tail_auction(buyer, "Tail none " + unique, tail=30)
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    s1.ok("auction.bid", auction=a["id"], amount="1100.00")
    s2.ok("auction.bid", auction=a["id"], amount="1050.00")
    wait_view(s2, a["id"], in_tail)
    r = s2.request("auction.bid", auction=a["id"], amount="1100.01")
    assert r["error"]["code"] == "bid_above_final_best", r
    assert r["error"]["message"].endswith("must not be above the final best price 1100.00"), r
    r = s2.ok("auction.bid", auction=a["id"], amount="1100.00")
    assert r["rank"] == 2 and r["tail"] is True, r
    r = s2.request("auction.bid", auction=a["id"], amount="1090.00")
    assert r["error"]["code"] == "bid_not_above_own", r
    v = wait_view(buyer, a["id"], closed)
    assert v["result"]["winner"]["organization"] == "Alpha Supplies LLC", v
    v = wait_view(buyer, none["id"], closed)
    assert v["tail_ends_at"] is None and v["main_result"] is None, v
    assert v["result"]["closed_at"] == v["ends_at"], v


def test_tail_parameter_errors(server, unique):
    """tail: seconds, 0 (none) to 86400; refused for the clock formats with its own message."""
    buyer = server.connect("buyer")
    base = dict(title="Bad tail " + unique, currency="RUB", start_price="1000.00", duration=60)
    for value in (-1, 86401, "60", 1.5):
        r = buyer.request("auction.create", tail=value, **base)
        assert r["error"]["code"] == "bad_field" and r["error"]["field"] == "tail", r
    r = buyer.request("auction.create", tail=86401, **base)
    assert r["error"]["message"] == "tail must be between 0 and 86400 seconds", r
    for fmt in ("dutch_reverse", "dutch_forward", "japanese_reverse"):
        limit = "1100.00" if fmt == "dutch_reverse" else "900.00"
        r = buyer.request("auction.create", format=fmt, clock_step="10.00", clock_interval=1000,
                          clock_limit=limit, tail=60, **base)
        assert r["error"]["code"] == "bad_field" and r["error"]["field"] == "tail", r
        assert r["error"]["message"] == "tail: a clock format has no second-place tail " \
            "(english_reverse and english_forward have one)", r
    a = create_auction(buyer, "No tail " + unique, tail=0)
    assert (a["tail"], a["phase"]) == (0, "main"), a
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")


def test_tail_pause_in_tail(env, server, unique):
    """An operator's pause in the tail: no bids, the tail's end waits; resume moves the tail's
    end by the pause (the main end stays); extend in the tail moves the tail's end."""
    buyer, op = server.connect("buyer"), server.connect("operator")
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    a = tail_auction(buyer, "Tail pause " + unique, tail=3)
    aid = a["id"]
    s1.ok("auction.bid", auction=aid, amount="900.00")
    s2.ok("auction.bid", auction=aid, amount="890.00")
    v = wait_view(s1, aid, in_tail)
    main_end, tail_end = parse_time(v["ends_at"]), parse_time(v["tail_ends_at"])
    v = op.ok("auction.pause", auction=aid, reason="outage in the tail")["auction"]
    assert v["paused"] is True and v["phase"] == "tail", v
    r = s1.request("auction.bid", auction=aid, amount="895.00")
    assert r["error"]["code"] == "auction_paused", r
    time.sleep(3.5)   # across the tail's end
    v = op.ok("auction.resume", auction=aid, reason="back")["auction"]
    assert v["state"] == "running" and v["phase"] == "tail", v
    assert parse_time(v["ends_at"]) == main_end, v
    moved = parse_time(v["tail_ends_at"]) - tail_end
    assert moved >= 3000, v
    v = op.ok("auction.extend", auction=aid, reason="fair", duration=2)["auction"]
    assert parse_time(v["tail_ends_at"]) - tail_end - moved == 2000, v
    assert parse_time(v["ends_at"]) == main_end and v["extensions"] == 0, v
    s1.ok("auction.bid", auction=aid, amount="890.00")
    v = wait_view(buyer, aid, closed)
    assert parse_time(v["result"]["closed_at"]) == tail_end + moved + 2000, v
    rows = env.psql("SELECT tail_ends_at = closed_at, ends_at < tail_ends_at FROM auctions"
                    " WHERE id = %d" % aid)
    assert rows == [["t", "t"]], rows


def test_tail_survives_kill9(env, tenderd_factory, unique):
    """kill -9 in the tail: the restarted tenderd is in the tail again (its tail bids, the same
    tail end) and takes tail bids; killed in one tail and started after its end, the auction
    closes at the tail's end with the winner of the main end."""
    server = tenderd_factory()
    buyer = server.connect("buyer")
    a = tail_auction(buyer, "Tail kill " + unique, tail=8)
    b = tail_auction(buyer, "Tail down " + unique, tail=3)
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    for x in (a, b):
        s1.ok("auction.bid", auction=x["id"], amount="900.00")
        s2.ok("auction.bid", auction=x["id"], amount="880.00")
    v = wait_view(s1, a["id"], in_tail)
    tail_end = parse_time(v["tail_ends_at"])
    s1.ok("auction.bid", auction=a["id"], amount="890.00")
    vb = wait_view(s1, b["id"], in_tail)
    s1.ok("auction.bid", auction=b["id"], amount="885.00")
    server.kill9()
    server.start()
    s1, s3 = server.connect("supplier1"), server.connect("supplier3")
    v = s1.ok("auction.get", auction=a["id"])["auction"]
    assert in_tail(v) and parse_time(v["tail_ends_at"]) == tail_end, v
    assert (v["your_price"], v["your_rank"], v["bids"]) == ("890.00", 2, 3), v
    r = s1.request("auction.bid", auction=a["id"], amount="879.00")
    assert r["error"]["code"] == "bid_below_final_best", r
    r = s3.ok("auction.bid", auction=a["id"], amount="880.00")
    assert (r["rank"], r["tail"]) == (2, True), r
    v = wait_view(s1, a["id"], closed)
    assert parse_time(v["result"]["closed_at"]) == tail_end, v
    assert v["result"]["winner"]["price"] == "880.00" and v["your_rank"] == 3, v
    # b's tail ended while tenderd was down (or just after): closed at its tail's end
    v = wait_view(s1, b["id"], closed)
    assert v["result"]["closed_at"] == vb["tail_ends_at"], v
    assert [e["price"] for e in v["ranking"]] == ["880.00", "885.00"], v


def test_tail_killed_at_the_main_end(env, tenderd_factory, unique):
    """tenderd down across the main end and the whole tail: started again, the auction opens
    its tail and closes it at once (tail and closed changes), closed at the tail's end."""
    server = tenderd_factory()
    buyer = server.connect("buyer")
    a = tail_auction(buyer, "Tail late " + unique, duration=2, tail=1)
    server.connect("supplier1").ok("auction.bid", auction=a["id"], amount="900.00")
    server.kill9()
    time.sleep(3.5)
    server.start()
    v = wait_view(server.connect("buyer"), a["id"], closed)
    assert parse_time(v["result"]["closed_at"]) - parse_time(v["ends_at"]) == 1000, v
    rows = env.psql("SELECT kind FROM changes WHERE auction_id = %d AND kind IN ('tail',"
                    " 'closed') ORDER BY seq" % a["id"])
    assert rows == [["tail"], ["closed"]], rows


def test_tenderctl_shows_the_tail(env, server, unique):
    """tenderctl: --tail on create; before the end the view says what the tail is; in the tail
    a bidder reads until when and above which price it may improve its place, the winner that
    it won."""
    p = env.tenderctl("buyer", "auction", "create", "--title", "ctl tail " + unique,
                      "--currency", "RUB", "--start-price", "1000.00", "--step-min", "10.00",
                      "--step-max", "500.00", "--duration", "2", "--extension-window", "0",
                      "--tail", "5", server=server)
    assert p.returncode == 0, p.stderr
    assert "tail          5 s after the end: the bidders but the winner may improve their " \
        "places, at prices not below the final best" in p.stdout, p.stdout
    aid = p.stdout.split(":")[0].split()[-1]
    with server.client("supplier1") as s1, server.client("supplier2") as s2:
        s1.ok("auction.bid", auction=int(aid), amount="900.00")
        s2.ok("auction.bid", auction=int(aid), amount="880.00")
        wait_view(s1, int(aid), in_tail)
    p = env.tenderctl("supplier1", "auction", "get", aid, server=server)
    assert p.returncode == 0, p.stderr
    assert "tail          improve your place until " in p.stdout, p.stdout
    assert ", price not below 880.00 RUB" in p.stdout, p.stdout
    assert "to lead" not in p.stdout and "(the main phase is over)" in p.stdout, p.stdout
    p = env.tenderctl("supplier2", "auction", "get", aid, server=server)
    assert "tail          you won at 880.00 RUB; the others may improve their places until " \
        in p.stdout, p.stdout
    p = env.tenderctl("supplier1", "bid", aid, "870.00", server=server)
    assert p.returncode != 0 and "bid_below_final_best" in p.stderr, (p.returncode, p.stderr)
    p = env.tenderctl("supplier1", "bid", aid, "880.00", server=server)
    assert p.returncode == 0, p.stderr


def test_verify_replays_the_tail(env, tenderd_factory):
    """tenderd verify replays an auction with tail bids and a pause in the tail to the stored
    winner, bids and tail end; a tail end changed behind its back is reported."""
    import conftest
    from test_verify import NAMES, psql_db, verify

    db = "tdtail_verify"
    env.drop_database(db)
    as_role = env.new_database(db)
    try:
        conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER), "--sql_dir",
                                     conftest.SQL_DIR), env=conftest.sanitizer_env())
        for name in NAMES:
            role, org, display = conftest.PARTICIPANTS[name]
            conftest.run(env.tenderd_cmd("register", "--db", as_role("tenderd"), "--role", role,
                                         "--organization", org, "--name", display, "--cert",
                                         env.cert(name)), env=conftest.sanitizer_env())
        server = tenderd_factory(db=as_role("tenderd"))
        buyer, op, s1, s2, s3 = (server.connect(n) for n in
                                 ("buyer", "operator", "supplier1", "supplier2", "supplier3"))
        a = tail_auction(buyer, "Verified tail", tail=2)
        s1.ok("auction.bid", auction=a["id"], amount="900.00")
        s2.ok("auction.bid", auction=a["id"], amount="850.00")
        wait_view(buyer, a["id"], in_tail)
        s1.ok("auction.bid", auction=a["id"], amount="850.00")
        op.ok("auction.pause", auction=a["id"], reason="outage")
        time.sleep(0.5)
        op.ok("auction.resume", auction=a["id"], reason="back")
        s3.ok("auction.bid", auction=a["id"], amount="870.00")
        wait_view(buyer, a["id"], closed)
        server.close_clients()
        server.stop()
        rc, out = verify(env, db)
        assert rc == 0, out
        psql_db(env, db, "UPDATE auctions SET tail_ends_at = tail_ends_at + interval '1 s',"
                " closed_at = closed_at + interval '1 s' WHERE id = %d" % a["id"])
        rc, out = verify(env, db)
        assert rc != 0 and "tail_ends_at" in out, out
    finally:
        env.drop_database(db)
