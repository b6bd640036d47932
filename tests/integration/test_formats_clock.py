"""Clock formats over TLS (docs/auction-rules.md, docs/protocol.md "Clock formats"): a
dutch_reverse auction whose clock continues across a restart of tenderd and closes at the
first acceptance; a dutch_forward auction that reaches its floor unaccepted; a
japanese_reverse auction with drop-outs and a last one standing."""
import json
import time

from tdclient import parse_time, server_now, sleep_until_server


def create(buyer, title, **fields):
    r = buyer.ok("auction.create", title=title, currency="RUB", **fields)
    return r["auction"]


def get(c, aid):
    return c.ok("auction.get", auction=aid)["auction"]


def bid(c, aid, amount):
    return c.request("auction.bid", auction=aid, amount=amount)


def expected_price(a, at_ms, up):
    """The clock price at `at_ms` from the auction's parameters (minor units of RUB)."""
    start = int(a["start_price"].replace(".", ""))
    step = int(a["clock_step"].replace(".", ""))
    limit = int(a["clock_limit"].replace(".", ""))
    k = (at_ms - parse_time(a["starts_at"])) // a["clock_interval"]
    return min(start + k * step, limit) if up else max(start - k * step, limit)


def accept(c, aid, tries=4):
    """Bid the clock price of the moment (read just before; retried at a step boundary)."""
    for _ in range(tries):
        v = get(c, aid)
        r = bid(c, aid, v["clock_price"])
        if r["ok"] or r["error"]["code"] != "bid_not_clock_price":
            return v["clock_price"], r
    raise AssertionError(r)


def test_dutch_reverse_restart_and_acceptance(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer = server.connect("buyer")
    a = create(buyer, "Dutch " + unique, format="dutch_reverse", start_price="1000.00",
               clock_step="10.00", clock_interval=1000, clock_limit="1100.00")
    aid = a["id"]
    assert (a["format"], a["higher_wins"]) == ("dutch_reverse", False)
    assert (a["clock_step"], a["clock_interval"], a["clock_limit"]) == ("10.00", 1000, "1100.00")
    # the clock ends one interval after it reaches the ceiling: 10 steps, 11 levels
    assert parse_time(a["ends_at"]) == parse_time(a["starts_at"]) + 11000
    assert a["extension_window"] == 0
    s1 = server.connect("supplier1")
    v = get(s1, aid)
    assert v["your_clock_status"] == "accept", v
    sleep_until_server(s1, parse_time(a["starts_at"]) + 2300, 5)
    before = get(s1, aid)
    assert before["clock_price"] in ("1020.00", "1030.00"), before
    server.restart()
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    after = get(s1, aid)
    now, _ = server_now(s1)
    # the clock continues from the stored parameters, it does not start again at 1000.00
    assert int(after["clock_price"].replace(".", "")) >= int(before["clock_price"].replace(".", ""))
    assert abs(int(after["clock_price"].replace(".", "")) - expected_price(a, now, True)) <= 1000
    assert parse_time(after["next_step_at"]) > now - 1000
    r = bid(s2, aid, "999.00")
    assert r["ok"] is False and r["error"]["code"] == "bid_not_clock_price", r
    assert r["error"]["message"].startswith("amount must be the clock price "), r
    price, r = accept(s2, aid)
    assert r["ok"] is True, r
    v = get(s1, aid)
    assert v["state"] == "closed", v
    assert v["result"]["winner"]["price"] == price
    assert v["clock_price"] is None and v["your_clock_status"] is None
    r = bid(s1, aid, price)
    assert r["ok"] is False and r["error"]["code"] == "auction_ended", r
    rows = env.psql("SELECT format, clock_step, clock_interval_ms, clock_limit, state"
                    " FROM auctions WHERE id = %d" % aid)
    assert rows == [["dutch_reverse", "1000", "1000", "110000", "closed"]], rows
    body = env.psql("SELECT body FROM changes WHERE auction_id = %d AND kind = 'created'" % aid)
    created = json.loads(body[0][0])
    assert (created["format"], created["clock_step"], created["clock_interval"],
            created["clock_limit"]) == ("dutch_reverse", 1000, 1000, 110000), created
    # and once more after a restart: closed, the same winner
    server.restart()
    v = get(server.connect("supplier1"), aid)
    assert v["state"] == "closed" and v["result"]["winner"]["price"] == price, v


def test_dutch_forward_reaches_floor(server, unique):
    buyer = server.connect("buyer")
    a = create(buyer, "Dutch fwd " + unique, format="dutch_forward", start_price="1000.00",
               clock_step="5.00", clock_interval=300, clock_limit="990.00")
    aid = a["id"]
    assert a["higher_wins"] is True
    assert parse_time(a["ends_at"]) == parse_time(a["starts_at"]) + 900
    s1 = server.connect("supplier1")
    deadline = time.time() + 10
    v = get(s1, aid)
    while v["state"] != "closed" and time.time() < deadline:
        time.sleep(0.2)
        v = get(s1, aid)
    assert v["state"] == "closed" and v["result"]["winner"] is None, v
    r = bid(s1, aid, "990.00")
    assert r["ok"] is False and r["error"]["code"] == "auction_ended", r


def test_dutch_bad_parameters(server, unique):
    buyer = server.connect("buyer")
    base = dict(title="Bad " + unique, currency="RUB", format="dutch_reverse",
                start_price="1000.00", clock_step="10.00", clock_interval=1000,
                clock_limit="1100.00")
    for field, value, code in (("clock_step", None, "missing_field"),
                               ("clock_interval", 99, "bad_field"),
                               ("clock_limit", "900.00", "bad_field"),
                               ("clock_step", "-1.00", "bad_field")):
        req = dict(base)
        if value is None:
            del req[field]
        else:
            req[field] = value
        r = buyer.request("auction.create", **req)
        assert r["ok"] is False and r["error"]["code"] == code, (field, r)
    for extra in ({"extension_window": 60}, {"extension": 60}, {"max_extensions": 1}):
        r = buyer.request("auction.create", **dict(base, **extra))
        assert r["ok"] is False and r["error"]["code"] == "bad_field", (extra, r)
        assert r["error"]["message"] == "a clock format has no extensions", (extra, r)
    r = buyer.request("auction.create", title="Eng " + unique, currency="RUB",
                      start_price="1000.00", clock_step="10.00")
    assert r["ok"] is False and r["error"]["field"] == "clock_step", r


def wait_next_round(c, aid):
    """Sleep until 150 ms after the current round ends; returns the auction then."""
    v = get(c, aid)
    sleep_until_server(c, parse_time(v["next_step_at"]) + 150, 5)
    return get(c, aid)


def test_japanese_dropouts_last_one_standing(server, unique):
    buyer = server.connect("buyer")
    a = create(buyer, "Japanese " + unique, format="japanese_reverse", start_price="1000.00",
               clock_step="10.00", clock_interval=1500, clock_limit="900.00")
    aid = a["id"]
    s1, s2, s3 = (server.connect(n) for n in ("supplier1", "supplier2", "supplier3"))
    v = get(s1, aid)
    assert (v["round"], v["clock_price"], v["your_clock_status"]) == (1, "1000.00", "confirm"), v
    for c in (s1, s2, s3):
        r = bid(c, aid, "1000.00")
        assert r["ok"] is True, r
    r = bid(s1, aid, "1000.00")
    assert r["ok"] is False and r["error"]["code"] == "level_already_confirmed", r
    v = get(s1, aid)
    assert (v["in"], v["your_clock_status"]) == (3, "confirmed"), v
    # round 2 (990.00): supplier1 and supplier2 confirm, supplier3 lets it pass
    v = wait_next_round(s1, aid)
    assert (v["round"], v["clock_price"], v["in"]) == (2, "990.00", 3), v
    r = bid(s1, aid, "1000.00")
    assert r["ok"] is False and r["error"]["code"] == "bid_not_clock_price", r
    assert r["error"]["message"].startswith("amount must be the clock price 990.00 (until "), r
    assert bid(s1, aid, "990.00")["ok"] is True
    assert bid(s2, aid, "990.00")["ok"] is True
    # round 3 (980.00): supplier3 is out for good; supplier2 confirms, supplier1 does not
    v = wait_next_round(s3, aid)
    assert (v["round"], v["in"], v["your_clock_status"]) == (3, 2, "dropped_out"), v
    r = bid(s3, aid, "980.00")
    assert r["ok"] is False and r["error"]["code"] == "dropped_out", r
    assert bid(s2, aid, "980.00")["ok"] is True
    # the round ends with supplier2 the last one standing: it wins at 980.00
    deadline = time.time() + 5
    while v["state"] != "closed" and time.time() < deadline:
        time.sleep(0.2)
        v = get(s2, aid)
    assert v["state"] == "closed", v
    w = v["result"]["winner"]
    assert (w["price"], w.get("you")) == ("980.00", True), w


def test_verify_replays_clock_auctions(env, tenderd_factory):
    """tenderd verify replays a dutch_reverse acceptance and a japanese_reverse auction to
    the stored winners; with clock_step changed in the table the acceptance does not
    replay (its amount is not the clock price of its time any more)."""
    import conftest
    from test_verify import NAMES, psql_db, verify

    db = "tdclock_verify"
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
        d = create(buyer, "Verified dutch", format="dutch_reverse", start_price="1000.00",
                   clock_step="10.00", clock_interval=300, clock_limit="1100.00")
        sleep_until_server(s1, parse_time(d["starts_at"]) + 700, 5)
        price, r = accept(s1, d["id"])
        assert r["ok"] is True and price != "1000.00", (price, r)
        j = create(buyer, "Verified japanese", format="japanese_reverse",
                   start_price="1000.00", clock_step="10.00", clock_interval=1000,
                   clock_limit="900.00")
        assert bid(s1, j["id"], "1000.00")["ok"] is True
        assert bid(s2, j["id"], "1000.00")["ok"] is True
        v = wait_next_round(s2, j["id"])
        assert bid(s2, j["id"], v["clock_price"])["ok"] is True
        deadline = time.monotonic() + 10
        while buyer.ok("auction.get", auction=j["id"])["auction"]["state"] != "closed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        server.close_clients()
        server.stop()
        rc, out = verify(env, db)
        assert rc == 0, out
        psql_db(env, db, "UPDATE auctions SET clock_step = 1500 WHERE id = %d" % d["id"])
        rc, out = verify(env, db)
        assert rc == 1 and "does not replay" in out, out
    finally:
        env.drop_database(db)


def test_cancelled_clock_auction_stays_cancelled_after_restart(tenderd_factory, unique):
    """A japanese_reverse auction cancelled during its first round, restarted after that
    round's end, is still cancelled (not closed by its clock on replay)."""
    server = tenderd_factory()
    buyer = server.connect("buyer")
    a = create(buyer, "Japanese cancel " + unique, format="japanese_reverse",
               start_price="1000.00", clock_step="10.00", clock_interval=500,
               clock_limit="900.00")
    s1 = server.connect("supplier1")
    assert bid(s1, a["id"], "1000.00")["ok"] is True
    buyer.ok("auction.cancel", auction=a["id"], reason="wrong lot")
    time.sleep(1.0)
    server.restart()
    v = get(server.connect("supplier1"), a["id"])
    assert v["state"] == "cancelled", v


def test_tenderctl_shows_the_clock(env, server, unique):
    """tenderctl creates a Dutch auction and says what a bidder must do; a Japanese one says
    what to confirm and by when."""
    p = env.tenderctl("buyer", "auction", "create", "--title", "ctl dutch " + unique,
                      "--currency", "RUB", "--start-price", "1000.00", "--format",
                      "dutch_reverse", "--clock-step", "10.00", "--clock-interval", "60000",
                      "--clock-limit", "1100.00", server=server)
    assert p.returncode == 0, p.stderr
    aid = p.stdout.split(":")[0].split()[-1]
    p = env.tenderctl("supplier1", "auction", "get", aid, server=server)
    assert p.returncode == 0, p.stderr
    assert "clock         1000.00 RUB, rising 10.00 every 60.0 s to 1100.00 (the ceiling)" \
        in p.stdout, p.stdout
    assert "to do         accept 1000.00 RUB now (until " in p.stdout, p.stdout
    assert "to lead" not in p.stdout
    p = env.tenderctl("supplier1", "bid", aid, "1000.00", server=server)
    assert p.returncode == 0, p.stderr
    p = env.tenderctl("buyer", "auction", "create", "--title", "ctl japanese " + unique,
                      "--currency", "RUB", "--start-price", "1000.00", "--format",
                      "japanese_reverse", "--clock-step", "10.00", "--clock-interval", "60000",
                      "--clock-limit", "900.00", server=server)
    assert p.returncode == 0, p.stderr
    jid = p.stdout.split(":")[0].split()[-1]
    p = env.tenderctl("supplier2", "auction", "get", jid, server=server)
    assert "round 1: 1000.00 RUB, 0 in; falling 10.00 every 60.0 s to 900.00" in p.stdout, p.stdout
    assert "to do         confirm 1000.00 RUB by " in p.stdout and "to take part" in p.stdout
    p = env.tenderctl("supplier2", "bid", jid, "1000.00", server=server)
    assert p.returncode == 0, p.stderr
    p = env.tenderctl("supplier2", "auction", "get", jid, server=server)
    assert "to do         confirmed 1000.00 RUB; the next round starts at " in p.stdout, p.stdout
    with server.client("buyer") as b:
        b.ok("auction.cancel", auction=int(jid), reason="test over")


def test_operator_rules_refused_for_a_clock_auction(server, unique):
    """An operator cannot pause, resume or extend a clock auction (its price moves with the
    time): not_for_clock_formats, the auction unchanged, and it can still be accepted."""
    buyer = server.connect("buyer")
    a = create(buyer, "Dutch no pause " + unique, format="dutch_reverse",
               start_price="1000.00", clock_step="10.00", clock_interval=60000,
               clock_limit="1100.00")
    op = server.connect("operator")
    for name, extra in (("auction.pause", {}), ("auction.resume", {}),
                        ("auction.extend", {"duration": 60})):
        r = op.request(name, auction=a["id"], reason="regional power cut", **extra)
        assert r["ok"] is False and r["error"] == {
            "code": "not_for_clock_formats",
            "message": "a clock auction cannot be paused, resumed or extended: its price "
                       "moves with the time; cancel it instead"}, (name, r)
    v = get(op, a["id"])
    assert v["paused"] is False and v["ends_at"] == a["ends_at"], v
    r = bid(server.connect("supplier1"), a["id"], v["clock_price"])
    assert r["ok"] is True, r


def test_watchers_get_every_step_of_the_clock(server, unique):
    """A watcher of a clock auction gets an auction.update with reason step at each step of the
    clock: the new price, and in a Japanese auction the new round with who is still in (the
    drop-outs of the round that ended) and its own status, without asking."""
    buyer = server.connect("buyer")
    a = create(buyer, "Japanese steps " + unique, format="japanese_reverse",
               start_price="1000.00", clock_step="10.00", clock_interval=1000,
               clock_limit="950.00")
    aid = a["id"]
    s1, s2, s3 = (server.connect(n) for n in ("supplier1", "supplier2", "supplier3"))
    s3.ok("auction.watch", auction=aid)
    for c in (s1, s2, s3):
        assert bid(c, aid, "1000.00")["ok"] is True
    steps = []
    deadline = time.time() + 10
    while len(steps) < 2 and time.time() < deadline:
        ev = s3.event(name="auction.update", timeout=5)
        if ev["reason"] == "step":
            steps.append(ev["auction"])
            if len(steps) == 1:
                # round 2 (990.00): supplier1 and supplier2 stay in; supplier3 lets it pass
                assert (ev["auction"]["round"], ev["auction"]["clock_price"],
                        ev["auction"]["your_clock_status"]) == (2, "990.00", "confirm"), ev
                assert bid(s1, aid, "990.00")["ok"] is True
                assert bid(s2, aid, "990.00")["ok"] is True
    assert len(steps) == 2, steps
    # round 3 (980.00): supplier3 learns from the step that it is out, and who is still in
    v = steps[1]
    assert (v["round"], v["clock_price"], v["in"], v["your_clock_status"]) == \
        (3, "980.00", 2, "dropped_out"), v
    assert parse_time(v["next_step_at"]) - parse_time(steps[0]["next_step_at"]) == 1000, steps
    buyer.ok("auction.cancel", auction=aid, reason="test over")
