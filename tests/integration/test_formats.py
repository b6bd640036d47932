"""Auction formats over TLS (docs/auction-rules.md, docs/protocol.md auction.create):
an english_forward auction bids up, refuses with its codes, limits its extensions, closes
with the highest bidder as winner, and keeps its format across a restart."""
import json
import time

from tdclient import create_auction, format_time, parse_time


def bid(c, aid, amount):
    return c.request("auction.bid", auction=aid, amount=amount)


def refused(c, aid, amount, code, message=None):
    r = bid(c, aid, amount)
    assert r["ok"] is False and r["error"]["code"] == code, (amount, r)
    if message is not None:
        assert r["error"]["message"] == message, r
    return r


def test_forward_bids_up_and_refuses(server, unique):
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Forward " + unique, format="english_forward",
                       start_price="100000.00", step_min="1000.00", step_max="5000.00",
                       duration=120)
    assert (a["format"], a["higher_wins"]) == ("english_forward", True)
    assert (a["max_extensions"], a["latest_end"], a["extensions"]) == (None, None, 0)
    aid = a["id"]
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    refused(s1, aid, "100000.00", "bid_not_above_start_price",
            "amount must be above the start price 100000.00")
    refused(s1, aid, "99000.00", "bid_not_above_start_price")
    refused(s1, aid, "100999.99", "bid_step_too_small",
            "amount must be at least 101000.00 (start price 100000.00 plus step 1000.00)")
    refused(s1, aid, "105000.01", "bid_step_too_large",
            "amount must be at most 105000.00 (start price 100000.00 plus maximum step 5000.00)")
    r = s1.ok("auction.bid", auction=aid, amount="101000.00")
    assert (r["rank"], r["best_price"]) == (1, "101000.00")
    refused(s1, aid, "103000.00", "bid_while_leading",
            "you hold the best price 101000.00 and may not raise it")
    r = s2.ok("auction.bid", auction=aid, amount="104000.00")
    assert (r["rank"], r["best_price"]) == (1, "104000.00")
    refused(s1, aid, "101000.00", "bid_not_above_own",
            "amount must be above your previous bid 101000.00")
    # not taking the lead, but improving its own rank is allowed (still second)
    r = s1.ok("auction.bid", auction=aid, amount="103500.00")
    assert (r["rank"], r["best_price"]) == (2, "104000.00")
    v = s1.ok("auction.get", auction=aid)["auction"]
    assert (v["your_rank"], v["your_price"], v["best_price"]) == (2, "103500.00", "104000.00")
    buyer.request("auction.cancel", auction=aid, reason="test over")


def test_bad_format_fields(server, unique):
    buyer = server.connect("buyer")
    for field, value in (("format", "dutch_sideways"), ("max_extensions", 0),
                         ("max_extensions", 1001), ("latest_end", "yesterday")):
        r = buyer.request("auction.create", title="Bad " + unique, currency="RUB",
                          start_price="1000.00", duration=60, **{field: value})
        assert r["ok"] is False and r["error"]["code"] == "bad_field", r
        assert r["error"]["field"] == field, r


def test_extension_limit_close_result_restart(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer = server.connect("buyer")
    # every lead-taking bid is inside the window: only the first extends (max_extensions 1)
    a = create_auction(buyer, "Forward limit " + unique, format="english_forward",
                       start_price="1000.00", step_min="10.00", step_max="500.00",
                       duration=3, extension_window=60, extension=4, max_extensions=1)
    assert a["max_extensions"] == 1
    aid = a["id"]
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    r1 = s1.ok("auction.bid", auction=aid, amount="1010.00")
    assert r1["extended"] is True
    r2 = s2.ok("auction.bid", auction=aid, amount="1100.00")
    assert r2["extended"] is False
    v = s2.ok("auction.get", auction=aid)["auction"]
    assert v["extensions"] == 1 and v["ends_at"] == r1["ends_at"]
    server.restart()
    s2 = server.connect("supplier2")
    v = s2.ok("auction.get", auction=aid)["auction"]
    assert (v["format"], v["higher_wins"], v["max_extensions"]) == ("english_forward", True, 1)
    assert v["best_price"] == "1100.00" and v["your_rank"] == 1
    refused(s2, aid, "1200.00", "bid_while_leading")
    deadline = time.time() + 15
    while v["state"] != "closed" and time.time() < deadline:
        time.sleep(0.5)
        v = s2.ok("auction.get", auction=aid)["auction"]
    assert v["state"] == "closed", v
    assert v["result"]["winner"]["price"] == "1100.00", v["result"]
    rows = env.psql("SELECT format, max_extensions, extensions FROM auctions WHERE id = %d"
                    % aid)
    assert rows == [["english_forward", "1", "1"]], rows
    st = env.psql("SELECT rank, price FROM audit.standings WHERE auction_id = %d ORDER BY rank"
                  % aid, user="auditor")
    assert st == [["1", "1100.00"], ["2", "1010.00"]], st
    # a sale gains: no saving, a premium of 10 % over its reserve (the start price), 027
    res = env.psql("SELECT saving_percent, premium_percent, price_paid FROM audit.results"
                   " WHERE auction_id = %d" % aid, user="auditor")
    assert res == [["", "10.00", "1100.00"]], res


def test_latest_end_caps_extension(server, unique):
    """latest_end 2 s after the scheduled end: an extension of 600 s stops there, and the
    next lead-taking bid in the window (the end already at latest_end) does not extend."""
    buyer = server.connect("buyer")
    probe = create_auction(buyer, "Probe " + unique, duration=60)
    buyer.request("auction.cancel", auction=probe["id"], reason="probe")
    start = parse_time(probe["starts_at"]) + 1000
    latest = format_time(start + 62000)
    r = buyer.request("auction.create", title="Early " + unique, currency="RUB",
                      start_price="1000.00", starts_at=format_time(start), duration=60,
                      latest_end=format_time(start + 59000))
    assert r["ok"] is False and r["error"]["field"] == "latest_end", r
    a = create_auction(buyer, "Latest end " + unique, starts_at=format_time(start),
                       duration=60, extension_window=120, extension=600, latest_end=latest)
    assert a["latest_end"] == latest and a["max_extensions"] is None
    aid = a["id"]
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    deadline = time.time() + 5
    while True:
        r1 = bid(s1, aid, "995000.00")
        if r1["ok"] or r1["error"]["code"] != "auction_not_started" or time.time() > deadline:
            break
        time.sleep(0.2)
    assert r1["ok"] is True and r1["extended"] is True, r1
    assert r1["ends_at"] == latest
    r2 = s2.ok("auction.bid", auction=aid, amount="990000.00")
    assert r2["extended"] is False and r2["ends_at"] == latest
    v = s2.ok("auction.get", auction=aid)["auction"]
    assert v["extensions"] == 1 and v["ends_at"] == latest
    buyer.request("auction.cancel", auction=aid, reason="test over")


def test_tenderctl_shows_a_forward_auction(env, server, unique):
    """tenderctl's view of a forward auction: who wins, the floor, the gain, the range to
    lead above the best price."""
    p = env.tenderctl("buyer", "auction", "create", "--title", "ctl fwd " + unique,
                      "--currency", "RUB", "--start-price", "100000.00", "--step-min", "1000.00",
                      "--step-max", "5000.00", "--duration", "120", "--format", "english_forward",
                      "--max-extensions", "1", server=server)
    assert p.returncode == 0, p.stderr
    assert "format        english_forward: highest price wins, bids go up" in p.stdout, p.stdout
    assert "limits        at most 1 extension" in p.stdout, p.stdout
    assert "start price   100000.00 RUB (the floor: every bid is above it)" in p.stdout
    assert "to lead       bid 101000.00 .. 105000.00 (highest price wins)" in p.stdout
    aid = p.stdout.split(":")[0].split()[-1]
    p = env.tenderctl("supplier1", "bid", aid, "101000.00", server=server)
    assert p.returncode == 0, p.stderr
    p = env.tenderctl("supplier2", "auction", "get", aid, server=server)
    assert p.returncode == 0, p.stderr
    assert "best price    101000.00 (+1000.00, +1.00%)" in p.stdout, p.stdout
    assert "to lead       bid 102000.00 .. 106000.00 (highest price wins)" in p.stdout
    p = env.tenderctl("supplier1", "bid", aid, "100500.00", server=server)
    assert p.returncode == 1 and "bid_not_above_own" in p.stderr, (p.returncode, p.stderr)
    with server.client("buyer") as b:
        b.ok("auction.cancel", auction=int(aid), reason="test over")


def test_verify_replays_a_forward_auction(env, tenderd_factory):
    """tenderd verify replays a closed english_forward auction to the stored winner and
    price; the same log read as english_reverse (its format changed in the table) does not
    replay to them."""
    import conftest
    from test_verify import NAMES, psql_db, verify

    db = "tdformats_verify"
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
        buyer, s1, s2 = (server.connect(n) for n in ("buyer", "supplier1", "supplier2"))
        a = create_auction(buyer, "Verified sale", format="english_forward", duration=2,
                           start_price="1000.00", step_min="10.00", step_max="500.00",
                           max_extensions=1)
        s1.ok("auction.bid", auction=a["id"], amount="1100.00")
        s2.ok("auction.bid", auction=a["id"], amount="1200.00")
        s1.ok("auction.bid", auction=a["id"], amount="1150.00")   # second, improving
        deadline = time.monotonic() + 10
        while buyer.ok("auction.get", auction=a["id"])["auction"]["state"] != "closed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        server.close_clients()
        server.stop()
        rc, out = verify(env, db)
        assert rc == 0, out
        psql_db(env, db, "UPDATE auctions SET format = 'english_reverse', higher_wins = false"
                " WHERE id = %d" % a["id"])
        rc, out = verify(env, db)
        assert rc == 1 and "does not replay" in out, out
    finally:
        env.drop_database(db)


def test_created_change_names_the_format(env, server, unique):
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Logged sale " + unique, format="english_forward",
                       max_extensions=3, start_price="1000.00")
    r = create_auction(buyer, "Logged purchase " + unique, start_price="1000.00")
    rows = env.psql("SELECT auction_id, detail FROM audit.auction_log WHERE kind = 'created'"
                    " AND auction_id IN (%d, %d) ORDER BY auction_id" % (a["id"], r["id"]),
                    user="auditor")
    fwd, rev = (json.loads(d) for _, d in rows)
    assert (fwd["format"], fwd["max_extensions"]) == ("english_forward", 3), fwd
    assert "latest_end" not in fwd
    assert "format" not in rev and "max_extensions" not in rev, rev
    for x in (a, r):
        buyer.request("auction.cancel", auction=x["id"], reason="test over")
