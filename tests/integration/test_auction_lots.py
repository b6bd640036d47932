"""Multi-lot auctions over TLS (docs/auction-rules.md "Multi-lot auctions", docs/protocol.md
auction.create lots): one event of N auctions created atomically, parallel or staggered
closing, the cross-lot move of the staggered rule after an extension, restart after kill -9
and tenderd verify."""
import json
import time

from tdclient import parse_time


def create_event(buyer, title, lots, **fields):
    """auction.create with lots and test-friendly defaults; returns the reply."""
    req = {"currency": "RUB", "duration": 60, "extension_window": 0, "extension": 0}
    req.update(fields)
    return buyer.ok("auction.create", title=title, lots=lots, **req)


def wait_state(c, aid, state, timeout=20):
    v = c.ok("auction.get", auction=aid)["auction"]
    deadline = time.time() + timeout
    while v["state"] != state and time.time() < deadline:
        time.sleep(0.2)
        v = c.ok("auction.get", auction=aid)["auction"]
    assert v["state"] == state, v
    return v


LOTS = [{"title": "Paper A4", "start_price": "1000.00", "step_min": "10.00",
         "step_max": "500.00"},
        {"title": "Toner", "start_price": "5000.00"}]


def test_parallel_lots(server, unique):
    """Every lot is an auction of its own with consecutive ids, its own title, price and
    steps, ending at the event's end; bids on two lots are independent; the event and lot are
    in every view, and auction.list filters by event."""
    buyer = server.connect("buyer")
    r = create_event(buyer, "Office supplies " + unique, LOTS, step_min="1%", step_max="10%")
    lots = r["auctions"]
    assert [x["lot"] for x in lots] == [{"number": 1, "title": "Paper A4"},
                                        {"number": 2, "title": "Toner"}], lots
    a1, a2 = lots
    assert r["auction"]["id"] == a1["id"] and a2["id"] == a1["id"] + 1
    assert (a1["title"], a2["title"]) == ("Paper A4", "Toner")
    assert (a1["start_price"], a2["start_price"]) == ("1000.00", "5000.00")
    # lot 1's own steps, lot 2 the event's (1% and 10% of its price)
    assert (a1["step_min_amount"], a1["step_max_amount"]) == ("10.00", "500.00")
    assert (a2["step_min_amount"], a2["step_max_amount"]) == ("50.00", "500.00")
    assert a1["ends_at"] == a2["ends_at"] == a1["scheduled_end"]
    ev = a1["event"]
    assert (ev["id"], ev["title"], ev["lot_count"], ev["lot_closing"], ev["stagger"]) == \
        (a1["id"], "Office supplies " + unique, 2, "parallel", 0), ev
    assert [(x["number"], x["auction"], x["title"]) for x in ev["lots"]] == \
        [(1, a1["id"], "Paper A4"), (2, a2["id"], "Toner")], ev
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    r1 = s1.ok("auction.bid", auction=a1["id"], amount="990.00")
    r2 = s2.ok("auction.bid", auction=a2["id"], amount="4950.00")
    assert (r1["rank"], r1["best_price"], r2["rank"], r2["best_price"]) == \
        (1, "990.00", 1, "4950.00")
    # a step too small on lot 2 by its own rule, not lot 1's
    r = s1.request("auction.bid", auction=a2["id"], amount="4940.00")
    assert r["error"]["code"] == "bid_step_too_small", r
    v1 = s2.ok("auction.get", auction=a1["id"])["auction"]
    v2 = s2.ok("auction.get", auction=a2["id"])["auction"]
    assert (v1["bids"], v1["your_rank"], v2["bids"], v2["your_rank"]) == (1, None, 1, 1)
    listed = s1.ok("auction.list", event=a1["id"])["auctions"]
    assert sorted(x["id"] for x in listed) == [a1["id"], a2["id"]], listed
    assert all(x["event"]["id"] == a1["id"] for x in listed)
    plain = buyer.ok("auction.create", title="Single " + unique, currency="RUB",
                     start_price="100.00")["auction"]
    assert "event" not in plain and "lot" not in plain, plain
    for x in (a1, a2, plain):
        buyer.ok("auction.cancel", auction=x["id"], reason="test over")


def test_staggered_ends(server, unique):
    """lot_closing staggered: lot k is scheduled to end (k-1) * stagger after the event's end;
    the lots close one after the other, each with its own result."""
    buyer = server.connect("buyer")
    lots = [{"title": "Lot %d" % i, "start_price": "1000.00"} for i in (1, 2, 3)]
    r = create_event(buyer, "Staggered " + unique, lots, duration=2, lot_closing="staggered",
                     stagger=2)
    a = r["auctions"]
    ends = [parse_time(x["ends_at"]) for x in a]
    assert ends[1] - ends[0] == 2000 and ends[2] - ends[1] == 2000, ends
    assert [parse_time(x["scheduled_end"]) for x in a] == ends
    assert a[0]["event"]["lot_closing"] == "staggered" and a[0]["event"]["stagger"] == 2
    s1 = server.connect("supplier1")
    for x in a:
        s1.ok("auction.bid", auction=x["id"], amount="990.00")
    v = wait_state(buyer, a[0]["id"], "closed")
    assert buyer.ok("auction.get", auction=a[1]["id"])["auction"]["state"] == "running"
    assert v["result"]["winner"]["price"] == "990.00"
    v = wait_state(buyer, a[2]["id"], "closed")
    closed = [parse_time(buyer.ok("auction.get", auction=x["id"])["auction"]["result"]
                         ["closed_at"]) for x in a]
    assert closed == ends, (closed, ends)


def test_stagger_moves_the_next_lots(env, server, unique):
    """A lead-taking bid in lot 1's extension window extends lot 1; lot 2 (and lot 3 after
    it) move in the same command so that each closes exactly the stagger after the lot
    before it: prolonged changes with reason stagger, auction.update with reason stagger to
    the watchers of the moved lots."""
    buyer = server.connect("buyer")
    lots = [{"title": "L%d" % i, "start_price": "1000.00"} for i in (1, 2, 3)]
    r = create_event(buyer, "Cross-lot " + unique, lots, duration=600, extension_window=600,
                     extension=900, lot_closing="staggered", stagger=60)
    a = r["auctions"]
    ends = [parse_time(x["ends_at"]) for x in a]
    assert ends[1] - ends[0] == 60000 and ends[2] - ends[1] == 60000, ends
    w = server.connect("supplier3")
    w.ok("auction.watch", auction=a[1]["id"])
    w.ok("auction.watch", auction=a[2]["id"])
    s1 = server.connect("supplier1")
    rb = s1.ok("auction.bid", auction=a[0]["id"], amount="990.00")
    assert rb["extended"] is True, rb
    end1 = parse_time(rb["ends_at"])
    assert end1 > ends[0]
    v2 = buyer.ok("auction.get", auction=a[1]["id"])["auction"]
    v3 = buyer.ok("auction.get", auction=a[2]["id"])["auction"]
    assert parse_time(v2["ends_at"]) == end1 + 60000, (v2["ends_at"], rb)
    assert parse_time(v3["ends_at"]) == end1 + 120000, (v3["ends_at"], rb)
    assert v2["extensions"] == 0 and v2["scheduled_end"] == a[1]["scheduled_end"]
    assert [x["ends_at"] for x in v2["event"]["lots"]] == \
        [rb["ends_at"], v2["ends_at"], v3["ends_at"]]
    seen = {}
    deadline = time.time() + 5
    while len(seen) < 2 and time.time() < deadline:
        ev = w.event(timeout=5, name="auction.update")
        if ev["reason"] == "stagger":
            seen[ev["auction"]["id"]] = ev["auction"]["ends_at"]
    assert seen == {a[1]["id"]: v2["ends_at"], a[2]["id"]: v3["ends_at"]}, seen
    rows = env.psql("SELECT auction_id, kind, reason, amount, participant_id IS NULL,"
                    " body::jsonb->>'reason' FROM changes"
                    " WHERE auction_id IN (%d, %d) AND kind = 'prolonged' ORDER BY seq"
                    % (a[1]["id"], a[2]["id"]))
    assert rows == [[str(a[1]["id"]), "prolonged", "stagger", str(end1 + 60000 - ends[1]), "t",
                     "stagger"],
                    [str(a[2]["id"]), "prolonged", "stagger", str(end1 + 120000 - ends[2]), "t",
                     "stagger"]], rows
    # a bid that does not extend lot 1 moves nothing
    s2 = server.connect("supplier2")
    rb2 = s2.ok("auction.bid", auction=a[0]["id"], amount="995.00")
    assert rb2["extended"] is False and rb2["rank"] == 2
    assert buyer.ok("auction.get", auction=a[2]["id"])["auction"]["ends_at"] == v3["ends_at"]
    for x in a:
        buyer.ok("auction.cancel", auction=x["id"], reason="test over")


def test_atomic_refusal(server, unique):
    """One bad lot refuses the whole event, naming the lot: nothing is created."""
    buyer = server.connect("buyer")
    before = {x["id"] for x in buyer.ok("auction.list", limit=1000)["auctions"]}
    good = {"title": "Good", "start_price": "100.00"}
    cases = [
        ([good, {"title": "Bad", "start_price": "-5"}], 2, "bad_field", "start_price"),
        ([good, good, {"start_price": "5.00"}], 3, "missing_field", "title is required"),
        ([{"title": "x", "start_price": "100.00", "step_min": "50.00", "step_max": "10.00"}],
         1, "bad_field", "step_min must not exceed step_max"),
        ([good, {"title": "y", "start_price": "1.00", "colour": "red"}], 2, "bad_field",
         "unknown field 'colour'"),
        # the event's step (an amount) is too large for lot 1's own price
        ([{"title": "z", "start_price": "40.00"}, good], 1, "bad_field",
         "minimum step must be below the start price"),
    ]
    for lots, n, code, text in cases:
        r = buyer.request("auction.create", title="Bad event " + unique, currency="RUB",
                          lots=lots, step_min="50.00", step_max="60.00")
        e = r["error"]
        assert (e["code"], e["field"], e["lot"]) == (code, "lots", n), r
        assert e["message"].startswith("lot %d: " % n) and text in e["message"], r
    for fields, field in [(dict(lots=[]), "lots"),
                          (dict(lots=[good], start_price="100.00"), "start_price"),
                          (dict(lots=[good], lot_closing="staggered"), "stagger"),
                          (dict(lots=[good], lot_closing="sometimes"), "lot_closing"),
                          (dict(lots=[good], stagger=5), "stagger"),
                          (dict(start_price="1.00", lot_closing="parallel"), "lot_closing"),
                          (dict(lots=[good], format="dutch_reverse", clock_step="1.00",
                                clock_interval=1000, clock_limit="200.00"), "lots")]:
        r = buyer.request("auction.create", title="Bad " + unique, currency="RUB", **fields)
        assert r["error"]["field"] == field, (fields, r)
    after = {x["id"] for x in buyer.ok("auction.list", limit=1000)["auctions"]}
    assert after == before


def test_restart_after_kill9_and_verify(env, tenderd_factory):
    """The event and its lots survive kill -9 (the moved ends, the stagger rule still applies
    after the restart), and tenderd verify replays the cross-lot moves."""
    import conftest
    from test_verify import NAMES, psql_db, verify

    db = "tdlots_verify"
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
        lots = [{"title": "K%d" % i, "start_price": "1000.00", "step_min": "10.00",
                 "step_max": "500.00"} for i in (1, 2)]
        r = create_event(buyer, "Restart lots", lots, duration=3, extension_window=3,
                         extension=4, lot_closing="staggered", stagger=2)
        a = r["auctions"]
        rb = s1.ok("auction.bid", auction=a[0]["id"], amount="990.00")
        assert rb["extended"] is True
        end2 = parse_time(rb["ends_at"]) + 2000
        server.close_clients()
        server.kill9()
        server.start()
        buyer, s1, s2 = (server.connect(n) for n in ("buyer", "supplier1", "supplier2"))
        v1 = buyer.ok("auction.get", auction=a[0]["id"])["auction"]
        v2 = buyer.ok("auction.get", auction=a[1]["id"])["auction"]
        assert v1["ends_at"] == rb["ends_at"] and parse_time(v2["ends_at"]) == end2, (v1, v2)
        assert (v2["lot"], v2["event"]["lot_closing"], v2["event"]["stagger"]) == \
            ({"number": 2, "title": "K2"}, "staggered", 2), v2
        assert v2["event"]["title"] == "Restart lots"
        # after the restart lot 1's extension still moves lot 2
        rb = s2.ok("auction.bid", auction=a[0]["id"], amount="980.00")
        v2 = buyer.ok("auction.get", auction=a[1]["id"])["auction"]
        assert parse_time(v2["ends_at"]) == parse_time(rb["ends_at"]) + 2000, (v2, rb)
        s1.ok("auction.bid", auction=a[1]["id"], amount="970.00")
        wait_state(buyer, a[1]["id"], "closed", timeout=30)
        rows = psql_db(env, db, "SELECT auction_id, event_id, lot_number, lot_count, event_title,"
                       " lot_title, lot_closing, stagger_ms FROM audit.auction_lots ORDER BY"
                       " auction_id", user="auditor")
        ids = [str(x["id"]) for x in a]
        assert rows == [[ids[0], ids[0], "1", "2", "Restart lots", "K1", "staggered", "2000"],
                        [ids[1], ids[0], "2", "2", "Restart lots", "K2", "staggered", "2000"]], rows
        body = psql_db(env, db, "SELECT detail FROM audit.auction_log WHERE kind = 'created'"
                       " AND auction_id = %s" % ids[1], user="auditor")
        detail = json.loads(body[0][0])
        assert detail["lot"] == 2 and detail["event"]["id"] == a[0]["id"], detail
        server.close_clients()
        server.stop()
        rc, out = verify(env, db)
        assert rc == 0, out
    finally:
        env.drop_database(db)


def test_tenderctl_lots(env, server, unique):
    """tenderctl: auction create with --lot PRICE:TITLE (repeatable), --lot-closing and
    --stagger; auction get and the live view show "lot k of N: <title>, closes HH:MM:SS"."""
    import os
    import pty
    import re
    import select
    import subprocess

    p = env.tenderctl("buyer", "auction", "create", "--title", "ctl event " + unique,
                      "--currency", "RUB", "--lot", "1000.00:Paper A4", "--lot",
                      "5000.00:Toner: black", "--lot-closing", "staggered", "--stagger", "60",
                      "--duration", "120", server=server)
    assert p.returncode == 0, p.stderr
    assert re.search(r"lot 1 of 2: Paper A4, closes \d\d:\d\d:\d\d \(staggered, 60 s after "
                     r"the lot before\) \(event ctl event ", p.stdout), p.stdout
    aid = int(p.stdout.split(":")[0].split()[-1])
    p = env.tenderctl("supplier1", "auction", "get", str(aid + 1), server=server)
    assert p.returncode == 0, p.stderr
    assert re.search(r"lot 2 of 2: Toner: black, closes \d\d:\d\d:\d\d", p.stdout), p.stdout
    p = env.tenderctl("buyer", "auction", "create", "--title", "ctl bad " + unique,
                      "--currency", "RUB", "--lot", "Paper", server=server)
    assert p.returncode != 0 and "--lot must be PRICE:TITLE" in p.stderr, p.stderr
    cmd = [str(env.tenderctl_bin), "--cert", env.cert("supplier2"), "--key",
           env.key("supplier2"), "--ca", env.ca, "--server", "127.0.0.1:%d" % server.port,
           "--timeout", "10", "watch", str(aid + 1)]
    # the live view on a terminal, then the one-line form on a pipe
    for tty in (True, False):
        if tty:
            master, slave = pty.openpty()
            w = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL)
            os.close(slave)
            fd = master
        else:
            w = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL)
            fd = w.stdout.fileno()
        try:
            out = b""
            deadline = time.time() + 10
            while b"closes" not in out and time.time() < deadline:
                r, _, _ = select.select([fd], [], [], 0.5)
                if r:
                    try:
                        out += os.read(fd, 65536)
                    except OSError:
                        break
            text = out.decode(errors="replace")
            assert re.search(r"lot 2 of 2: Toner: black, closes \d\d:\d\d:\d\d", text), text
        finally:
            w.kill()
            w.wait(10)
            w.stderr.close()
            if tty:
                os.close(master)
            else:
                w.stdout.close()
    with server.client("buyer") as b:
        for x in (aid, aid + 1):
            b.ok("auction.cancel", auction=x, reason="test over")


def test_tender_auction_staggered(env, server, unique):
    """A tender_auction's auction settings may say lot_closing staggered with a stagger: its
    lots' live auctions are one event (lot order), lot k scheduled to end (k-1) * stagger
    after lot 1, and an extension of lot 1 moves lot 2."""
    import procutil as pu

    buyer = server.connect("buyer")
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    auction = {"step_min": "1.00", "step_max": "100.00", "duration": 30,
               "extension_window": 30, "extension": 40, "delay": 1,
               "lot_closing": "staggered", "stagger": 20}
    now = pu.srv_now(buyer)
    e = buyer.error("procurement.create", kind="tender_auction", title="Bad " + unique,
                    currency=pu.CURRENCY, description="x", lots=[pu.lot("A", "1000.00")],
                    enquiry_end=pu.format_time(now + pu.ENQUIRY),
                    submission_deadline=pu.format_time(now + pu.DEADLINE),
                    opening_at=pu.format_time(now + pu.OPENING), min_bids=1,
                    auction=dict(auction, stagger=0))
    assert e["code"] == "bad_field" and e["field"] == "auction" and "stagger" in e["message"], e
    p = pu.create(buyer, "tender_auction", "Staggered tender " + unique, min_bids=2,
                  lots=[pu.lot("Pumps", "1000.00"), pu.lot("Gloves", "500.00")],
                  auction=auction)
    assert p["auction"]["lot_closing"] == "staggered" and p["auction"]["stagger"] == 20, p
    pid = p["id"]
    pu.wait_tendering(buyer, p)
    for who, c in (("supplier1", s1), ("supplier2", s2)):
        c.ok("bid.submit", procurement=pid, lot=1, price="900.00" if who == "supplier1"
             else "950.00", values={})
        c.ok("bid.submit", procurement=pid, lot=2, price="450.00" if who == "supplier1"
             else "480.00", values={})
    watcher = server.connect("buyer2")
    watcher.ok("procurement.watch", procurement=pid)
    ev, _ = pu.wait_update(watcher, pid, "opened", timeout=8)
    lots = ev["procurement"]["lots"]
    a1, a2 = lots[0]["auction"], lots[1]["auction"]
    v1 = buyer.ok("auction.get", auction=a1)["auction"]
    v2 = buyer.ok("auction.get", auction=a2)["auction"]
    assert (v1["lot"]["number"], v2["lot"]["number"], v2["event"]["id"]) == (1, 2, a1), v2
    assert v2["event"]["lot_closing"] == "staggered" and v2["event"]["stagger"] == 20
    assert parse_time(v2["ends_at"]) - parse_time(v1["ends_at"]) == 20000, (v1, v2)
    pu.sleep_until(buyer, parse_time(v1["starts_at"]) + 5, max_wait=3)
    rb = s2.ok("auction.bid", auction=a1, amount="890.00")
    assert rb["extended"] is True, rb
    v2 = buyer.ok("auction.get", auction=a2)["auction"]
    assert parse_time(v2["ends_at"]) == parse_time(rb["ends_at"]) + 20000, (rb, v2)
    buyer.ok("procurement.cancel", procurement=pid, reason="test over")


def test_lots_count_against_the_open_auction_limit(env, tenderd_factory, unique):
    """Every lot is an auction for max_open_auctions_per_buyer: an event that would pass the
    limit is refused whole (limit_exceeded), one that fits is created."""
    server = tenderd_factory()
    buyer = server.client("buyer")
    org = buyer.ok("hello")["organization"]["id"]
    open_now = sum(len(buyer.ok("auction.list", state=st, kind="auction", buyer=org,
                                limit=1000)["auctions"]) for st in ("scheduled", "running"))
    buyer.close()
    server.stop()
    limit = open_now + 2
    server = tenderd_factory(max_open_auctions_per_buyer=limit)
    buyer = server.connect("buyer")
    before = {x["id"] for x in buyer.ok("auction.list", limit=1000)["auctions"]}
    lots = [{"title": "Lot %d" % i, "start_price": "100.00"} for i in (1, 2, 3)]
    r = buyer.request("auction.create", title="Too many " + unique, currency="RUB", lots=lots)
    assert r["error"]["code"] == "limit_exceeded", r
    assert r["error"]["message"] == (
        "max_open_auctions_per_buyer (%d) reached: the 3 lots would give this buyer organization"
        " more scheduled or running auctions than allowed (every lot is an auction)" % limit), r
    assert {x["id"] for x in buyer.ok("auction.list", limit=1000)["auctions"]} == before
    r = create_event(buyer, "Fits " + unique, lots[:2])
    assert len(r["auctions"]) == 2
    for x in r["auctions"]:
        buyer.ok("auction.cancel", auction=x["id"], reason="test over")
