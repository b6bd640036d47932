"""Rules that apply to every auction format, over TLS (docs/auction-rules.md, docs/protocol.md
auction.create): visibility."""
import json
import time

from tdclient import create_auction, parse_time


def wait_state(c, aid, state, timeout=15):
    v = c.ok("auction.get", auction=aid)["auction"]
    deadline = time.time() + timeout
    while v["state"] != state and time.time() < deadline:
        time.sleep(0.2)
        v = c.ok("auction.get", auction=aid)["auction"]
    assert v["state"] == state, v
    return v


def test_default_visibility_is_rank_and_best(server, unique):
    """Without visibility: a supplier sees the best price and its own rank, no ranking."""
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Default vis " + unique)
    assert a["visibility"] == "rank_and_best"
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    s1.ok("auction.bid", auction=a["id"], amount="990000.00")
    r = s2.ok("auction.bid", auction=a["id"], amount="995000.00")
    assert (r["rank"], r["best_price"]) == (2, "990000.00")
    v = s2.ok("auction.get", auction=a["id"])["auction"]
    assert (v["best_price"], v["your_rank"], v["visibility"]) == ("990000.00", 2,
                                                                    "rank_and_best")
    assert "ranking" not in v
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")


def test_visibility_rank_hides_the_best_price(server, unique):
    """visibility rank: a supplier sees its own rank and price, never the best price (not in
    the view, the bid reply, a refusal's message or a watch event); the buyer and operators
    see everything; once closed everyone sees the ranking."""
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Rank only " + unique, visibility="rank", duration=3,
                       step_min="1000.00", step_max="50000.00")
    assert a["visibility"] == "rank"
    aid = a["id"]
    s1, s2, s3 = (server.connect(n) for n in ("supplier1", "supplier2", "supplier3"))
    s3.ok("auction.watch", auction=aid)
    r = s1.ok("auction.bid", auction=aid, amount="990000.00")
    assert (r["rank"], r["best_price"]) == (1, None)
    r = s2.ok("auction.bid", auction=aid, amount="995000.00")
    assert (r["rank"], r["best_price"]) == (2, None)
    r = s2.request("auction.bid", auction=aid, amount="989500.00")
    assert r["error"]["code"] == "bid_step_too_small", r
    assert r["error"]["message"] == \
        "amount must improve the best price by at least the minimum step 1000.00", r
    assert "990000" not in r["error"]["message"]
    r = s2.request("auction.bid", auction=aid, amount="900000.00")
    assert r["error"]["message"] == \
        "amount must improve the best price by at most the maximum step 50000.00", r
    v = s2.ok("auction.get", auction=aid)["auction"]
    assert (v["best_price"], v["your_rank"], v["your_price"]) == (None, 2, "995000.00")
    assert "ranking" not in v
    ev = s3.event(timeout=5, name="auction.update")
    assert ev["auction"]["best_price"] is None, ev
    lst = [x for x in s2.ok("auction.list")["auctions"] if x["id"] == aid]
    assert lst and lst[0]["best_price"] is None, lst
    other = server.connect("buyer2").ok("auction.get", auction=aid)["auction"]
    assert other["best_price"] is None and "ranking" not in other
    bv = buyer.ok("auction.get", auction=aid)["auction"]
    assert bv["best_price"] == "990000.00" and len(bv["ranking"]) == 2
    ov = server.connect("operator").ok("auction.get", auction=aid)["auction"]
    assert ov["best_price"] == "990000.00"
    v = wait_state(s2, aid, "closed")
    assert v["best_price"] == "990000.00"
    assert [e["price"] for e in v["ranking"]] == ["990000.00", "995000.00"]


def test_visibility_ranking_shows_aliases_only(server, unique):
    """visibility ranking: a supplier sees the full ranking by alias, its own entry marked,
    no organization anywhere while the auction runs."""
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Full ranking " + unique, visibility="ranking")
    aid = a["id"]
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    s1.ok("auction.bid", auction=aid, amount="990000.00")
    s2.ok("auction.bid", auction=aid, amount="995000.00")
    v = s2.ok("auction.get", auction=aid)["auction"]
    assert v["best_price"] == "990000.00" and v["visibility"] == "ranking"
    assert [(e["rank"], e["alias"], e["price"]) for e in v["ranking"]] == \
        [(1, "Participant 1", "990000.00"), (2, "Participant 2", "995000.00")]
    assert all("organization" not in e for e in v["ranking"]), v["ranking"]
    assert v["ranking"][1].get("you") is True and "you" not in v["ranking"][0]
    ov = server.connect("operator").ok("auction.get", auction=aid)["auction"]
    assert ov["ranking"][0]["organization"] == "Alpha Supplies LLC"
    buyer.ok("auction.cancel", auction=aid, reason="test over")


def test_bad_visibility(server, unique):
    buyer = server.connect("buyer")
    for value in ("everything", 3):
        r = buyer.request("auction.create", title="Bad vis " + unique, currency="RUB",
                          start_price="1000.00", duration=60, visibility=value)
        assert r["ok"] is False and r["error"]["code"] == "bad_field", r
        assert r["error"]["field"] == "visibility", r


def test_visibility_stored_logged_and_restored(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Stored vis " + unique, visibility="rank")
    d = create_auction(buyer, "Stored default " + unique)
    server.connect("supplier1").ok("auction.bid", auction=a["id"], amount="990000.00")
    server.restart()
    s2 = server.connect("supplier2")
    v = s2.ok("auction.get", auction=a["id"])["auction"]
    assert (v["visibility"], v["best_price"], v["bidders"]) == ("rank", None, 1)
    rows = env.psql("SELECT auction_id, visibility FROM audit.auction_rules WHERE auction_id IN"
                    " (%d, %d) ORDER BY auction_id" % (a["id"], d["id"]), user="auditor")
    assert rows == [[str(a["id"]), "rank"], [str(d["id"]), "rank_and_best"]], rows
    rows = env.psql("SELECT auction_id, detail FROM audit.auction_log WHERE kind = 'created'"
                    " AND auction_id IN (%d, %d) ORDER BY auction_id" % (a["id"], d["id"]),
                    user="auditor")
    logged = [json.loads(x) for _, x in rows]
    assert logged[0]["visibility"] == "rank" and "visibility" not in logged[1], logged
    buyer = server.connect("buyer")
    for x in (a, d):
        buyer.ok("auction.cancel", auction=x["id"], reason="test over")


def test_tenderctl_shows_the_visibility(env, server, unique):
    """tenderctl: --visibility on create; the view names the visibility, and a supplier of a
    rank auction reads that the best price is hidden, with no range to lead."""
    p = env.tenderctl("buyer", "auction", "create", "--title", "ctl vis " + unique,
                      "--currency", "RUB", "--start-price", "100000.00", "--step-min", "1000.00",
                      "--step-max", "5000.00", "--duration", "120", "--visibility", "rank",
                      server=server)
    assert p.returncode == 0, p.stderr
    assert "visibility    rank: bidders see their own rank only" in p.stdout, p.stdout
    aid = p.stdout.split(":")[0].split()[-1]
    p = env.tenderctl("supplier1", "bid", aid, "99000.00", server=server)
    assert p.returncode == 0, p.stderr
    p = env.tenderctl("supplier2", "auction", "get", aid, server=server)
    assert p.returncode == 0, p.stderr
    assert "best price    hidden (you see your own rank only)" in p.stdout, p.stdout
    assert "to lead" not in p.stdout and "99000.00" not in p.stdout, p.stdout
    p = env.tenderctl("buyer", "auction", "get", aid, server=server)
    assert "best price    99000.00" in p.stdout, p.stdout
    with server.client("buyer") as b:
        b.ok("auction.cancel", auction=int(aid), reason="test over")


def org_ids(server):
    """Organization ids by participant name, as hello shows them."""
    out = {}
    for name in ("supplier1", "supplier2", "supplier3", "buyer", "buyer2"):
        out[name] = server.connect(name).ok("hello")["organization"]["id"]
    return out


def test_invitation_only(env, tenderd_factory, unique):
    """invited: only the listed organizations see the auction (get, list, watch) and bid; to
    the others it does not exist (not_found), before and after a restart; the owner and
    operators see the list."""
    server = tenderd_factory()
    ids = org_ids(server)
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Invited " + unique,
                       invited=[ids["supplier2"], ids["supplier1"], ids["supplier1"]])
    aid = a["id"]
    assert a["invitation_only"] is True
    assert a["invited"] == sorted([ids["supplier1"], ids["supplier2"]]), a
    s1, s2, s3 = (server.connect(n) for n in ("supplier1", "supplier2", "supplier3"))
    v = s1.ok("auction.get", auction=aid)["auction"]
    assert v["invitation_only"] is True and "invited" not in v
    s1.ok("auction.bid", auction=aid, amount="990000.00")
    s2.ok("auction.watch", auction=aid)
    for c in (s3, server.connect("buyer2")):
        for op in ("auction.get", "auction.watch"):
            r = c.request(op, auction=aid)
            assert r["ok"] is False and r["error"]["code"] == "not_found", r
            assert r["error"]["message"] == "no such auction", r
        assert aid not in [x["id"] for x in c.ok("auction.list", limit=1000)["auctions"]]
    r = s3.request("auction.bid", auction=aid, amount="980000.00")
    assert r["ok"] is False and r["error"]["code"] == "not_found", r
    assert aid in [x["id"] for x in s1.ok("auction.list", limit=1000)["auctions"]]
    ov = server.connect("operator").ok("auction.get", auction=aid)["auction"]
    assert ov["invited"] == a["invited"]
    server.restart()
    r = server.connect("supplier3").request("auction.get", auction=aid)
    assert r["error"]["code"] == "not_found", r
    v = server.connect("supplier2").ok("auction.get", auction=aid)["auction"]
    assert v["bidders"] == 1
    assert server.connect("buyer").ok("auction.get", auction=aid)["auction"]["invited"] == \
        a["invited"]
    rows = env.psql("SELECT array_to_string(invited, ',') FROM audit.auction_rules WHERE"
                    " auction_id = %d" % aid, user="auditor")
    assert rows == [[",".join(str(x) for x in a["invited"])]], rows
    rows = env.psql("SELECT detail FROM audit.auction_log WHERE kind = 'created' AND"
                    " auction_id = %d" % aid, user="auditor")
    assert json.loads(rows[0][0])["invited"] == a["invited"]
    open_a = create_auction(server.connect("buyer"), "Open " + unique)
    assert open_a["invitation_only"] is False and "invited" not in open_a
    b = server.connect("buyer")
    for x in (aid, open_a["id"]):
        b.ok("auction.cancel", auction=x, reason="test over")


def test_bad_invited(server, unique):
    ids = org_ids(server)
    buyer = server.connect("buyer")
    for value, message in (
            ([], "invited must be an array of 1 to 1000 organization ids"),
            ("3", "invited must be an array of 1 to 1000 organization ids"),
            ([999999], "invited: element 0 is not the id of an organization"),
            ([ids["supplier1"], "x"], "invited: element 1 is not the id of an organization"),
            ([ids["buyer"]], "invited: the buyer's own organization cannot be invited")):
        r = buyer.request("auction.create", title="Bad inv " + unique, currency="RUB",
                          start_price="1000.00", duration=60, invited=value)
        assert r["ok"] is False and r["error"]["code"] == "bad_field", r
        assert (r["error"]["field"], r["error"]["message"]) == ("invited", message), r


def test_tenderctl_shows_invitation_only(env, server, unique):
    ids = org_ids(server)
    with server.client("buyer") as b:
        a = create_auction(b, "ctl inv " + unique, invited=[ids["supplier1"]])
    p = env.tenderctl("buyer", "auction", "get", str(a["id"]), server=server)
    assert "invited       invitation only: 1 organization" in p.stdout, p.stdout
    p = env.tenderctl("supplier1", "auction", "get", str(a["id"]), server=server)
    assert "invited       invitation only\n" in p.stdout, p.stdout
    p = env.tenderctl("supplier2", "auction", "get", str(a["id"]), server=server)
    assert p.returncode != 0 and "not_found" in p.stderr, (p.returncode, p.stderr)
    with server.client("buyer") as b:
        b.ok("auction.cancel", auction=a["id"], reason="test over")


def test_verify_replays_the_rules(env, tenderd_factory):
    """tenderd verify reads the rules from audit.auction_rules and replays a closed
    invitation-only auction with visibility rank to the stored winner."""
    import conftest
    from test_verify import NAMES, psql_db, verify

    db = "tdrules_verify"
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
        inv = sorted(c.ok("hello")["organization"]["id"] for c in (s1, s2))
        a = create_auction(buyer, "Verified rules", duration=2, start_price="1000.00",
                           step_min="10.00", step_max="500.00", visibility="rank",
                           invited=inv)
        s1.ok("auction.bid", auction=a["id"], amount="900.00")
        s2.ok("auction.bid", auction=a["id"], amount="850.00")
        deadline = time.monotonic() + 10
        while buyer.ok("auction.get", auction=a["id"])["auction"]["state"] != "closed":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        server.close_clients()
        server.stop()
        rc, out = verify(env, db)
        assert rc == 0, out
        # a list that leaves out the winner's organization cannot replay its bid
        psql_db(env, db, "UPDATE auctions SET invited = '{%d}' WHERE id = %d"
                % (inv[0], a["id"]))
        rc, out = verify(env, db)
        assert rc != 0, out
    finally:
        env.drop_database(db)


def test_min_bidders(env, tenderd_factory, unique):
    """min_bidders 2: one bidder (two bids) at the end closes the auction unsuccessful (no
    winner, result.unsuccessful "min_bidders", no winner in the table), also when it closes
    while tenderd is down; two bidders at the same price close with the earlier one as
    winner; a bad value is refused."""
    server = tenderd_factory()
    buyer = server.connect("buyer")
    r = buyer.request("auction.create", title="Bad min " + unique, currency="RUB",
                      start_price="1000.00", duration=60, min_bidders=0)
    assert r["error"]["code"] == "bad_field" and r["error"]["field"] == "min_bidders", r
    assert r["error"]["message"] == "min_bidders must be between 1 and 1000", r
    ids = org_ids(server)
    r = buyer.request("auction.create", title="Bad min " + unique, currency="RUB",
                      start_price="1000.00", duration=60, min_bidders=2,
                      invited=[ids["supplier1"]])
    assert r["error"]["field"] == "min_bidders", r
    assert r["error"]["message"] == \
        "min_bidders must not exceed the number of invited organizations", r
    one = create_auction(buyer, "Min one " + unique, min_bidders=2, duration=2,
                         start_price="1000.00", step_min="10.00", step_max="500.00")
    down = create_auction(buyer, "Min down " + unique, min_bidders=2, duration=3,
                          start_price="1000.00", step_min="10.00", step_max="500.00")
    tie = create_auction(buyer, "Min tie " + unique, min_bidders=2, duration=2,
                         start_price="1000.00", step_min="10.00", step_max="500.00")
    assert one["min_bidders"] == 2
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    s1.ok("auction.bid", auction=one["id"], amount="900.00")
    s2.ok("auction.bid", auction=one["id"], amount="950.00")
    s2.request("auction.bid", auction=one["id"], amount="940.00")
    s1.ok("auction.bid", auction=down["id"], amount="900.00")
    s1.ok("auction.bid", auction=tie["id"], amount="900.00")
    s2.ok("auction.bid", auction=tie["id"], amount="900.00")
    v = wait_state(buyer, one["id"], "closed")
    assert v["result"]["winner"] is not None and "unsuccessful" not in v["result"], v
    t = wait_state(buyer, tie["id"], "closed")
    assert t["result"]["winner"]["organization"] == "Alpha Supplies LLC", t["result"]
    server.stop()
    time.sleep(3.5)
    server.start()
    v = wait_state(server.connect("supplier1"), down["id"], "closed")
    assert v["result"]["winner"] is None and v["result"]["unsuccessful"] == "min_bidders", v
    assert v["ranking"][0]["you"] is True
    rows = env.psql("SELECT winner_bid_id, final_price FROM auctions WHERE id = %d"
                    % down["id"])
    assert rows == [["", ""]], rows
    rows = env.psql("SELECT min_bidders FROM audit.auction_rules WHERE auction_id = %d"
                    % down["id"], user="auditor")
    assert rows == [["2"]], rows
    rows = env.psql("SELECT detail FROM audit.auction_log WHERE kind = 'closed' AND"
                    " auction_id = %d" % down["id"], user="auditor")
    assert json.loads(rows[0][0])["unsuccessful"] == "min_bidders", rows
    server.restart()
    v = server.connect("buyer").ok("auction.get", auction=down["id"])["auction"]
    assert v["result"]["unsuccessful"] == "min_bidders" and v["min_bidders"] == 2


def test_pause_resume_extend(env, tenderd_factory, unique):
    """An operator pauses a running auction across its scheduled end: no bids
    (auction_paused), the auction does not close; resume gives the paused time back (ends_at
    moves by the pause's length); extend moves the end; each is a change with its reason,
    replayed at restart and by tenderd verify; only operators may do it."""
    server = tenderd_factory()
    buyer, op = server.connect("buyer"), server.connect("operator")
    s1 = server.connect("supplier1")
    a = create_auction(buyer, "Pause " + unique, duration=2, start_price="1000.00",
                       step_min="10.00", step_max="500.00")
    aid = a["id"]
    s1.ok("auction.bid", auction=aid, amount="900.00")
    r = buyer.request("auction.pause", auction=aid, reason="x")
    assert r["error"]["code"] == "forbidden", r
    r = op.request("auction.resume", auction=aid, reason="not paused")
    assert r["error"]["code"] == "auction_not_paused", r
    v = op.ok("auction.pause", auction=aid, reason="regional power cut")["auction"]
    assert v["paused"] is True and v["paused_at"] is not None and v["state"] == "running"
    r = op.request("auction.pause", auction=aid, reason="again")
    assert r["error"]["code"] == "auction_paused", r
    r = server.connect("supplier2").request("auction.bid", auction=aid, amount="890.00")
    assert r["error"]["code"] == "auction_paused", r
    assert r["error"]["message"].startswith("the auction is paused since "), r
    time.sleep(2.5)   # across the scheduled end
    v = buyer.ok("auction.get", auction=aid)["auction"]
    assert v["state"] == "running" and v["paused"] is True, v
    server.restart()
    op = server.connect("operator")
    v = op.ok("auction.get", auction=aid)["auction"]
    assert v["state"] == "running" and v["paused"] is True, v
    before = parse_time(v["ends_at"])
    paused_at = parse_time(v["paused_at"])
    v = op.ok("auction.resume", auction=aid, reason="power is back")["auction"]
    assert v["paused"] is False and v["state"] == "running", v
    moved = parse_time(v["ends_at"]) - before
    assert moved >= 2500, (moved, v)
    v = op.ok("auction.extend", auction=aid, reason="a supplier asked", duration=60)["auction"]
    after = parse_time(v["ends_at"])
    assert after - before - moved == 60000, v
    assert v["extensions"] == 0
    r = op.request("auction.extend", auction=aid, reason="x", duration=0)
    assert r["error"]["code"] == "bad_field" and r["error"]["field"] == "duration", r
    s2 = server.connect("supplier2")
    s2.ok("auction.bid", auction=aid, amount="890.00")
    rows = env.psql("SELECT kind, reason, amount FROM changes WHERE auction_id = %d AND kind IN"
                    " ('paused', 'resumed', 'prolonged') ORDER BY seq" % aid)
    assert [r[0] for r in rows] == ["paused", "resumed", "prolonged"], rows
    assert rows[0][1] == "regional power cut" and rows[2][2] == "60000", rows
    assert paused_at > 0
    server.restart()
    v = server.connect("buyer").ok("auction.get", auction=aid)["auction"]
    assert parse_time(v["ends_at"]) == after and v["bids"] == 2, v
    server.connect("operator").ok("auction.cancel", auction=aid, reason="test over")


def test_tenderctl_pause_resume_extend(env, server, unique):
    with server.client("buyer") as b:
        a = create_auction(b, "ctl pause " + unique)
    aid = str(a["id"])
    p = env.tenderctl("operator", "auction", "pause", aid, "--reason", "power cut",
                      server=server)
    assert p.returncode == 0, p.stderr
    assert "paused        since " in p.stdout, p.stdout
    p = env.tenderctl("supplier1", "bid", aid, "990000.00", server=server)
    assert p.returncode != 0 and "auction_paused" in p.stderr, (p.returncode, p.stderr)
    p = env.tenderctl("operator", "auction", "resume", aid, "--reason", "back", server=server)
    assert p.returncode == 0 and "paused        " not in p.stdout, (p.stderr, p.stdout)
    p = env.tenderctl("operator", "auction", "extend", aid, "--duration", "60", "--reason",
                      "asked", server=server)
    assert p.returncode == 0, p.stderr
    p = env.tenderctl("buyer", "auction", "pause", aid, "--reason", "x", server=server)
    assert p.returncode != 0 and "forbidden" in p.stderr, (p.returncode, p.stderr)
    with server.client("buyer") as b:
        b.ok("auction.cancel", auction=a["id"], reason="test over")


def test_verify_replays_a_pause(env, tenderd_factory):
    """tenderd verify replays a pause across the end, the resume and an extension in order
    with the bids, to the stored end and winner."""
    import conftest
    from test_verify import NAMES, verify

    db = "tdrules_pause"
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
        buyer, op, s1, s2 = (server.connect(n) for n in
                             ("buyer", "operator", "supplier1", "supplier2"))
        a = create_auction(buyer, "Verified pause", duration=2, start_price="1000.00",
                           step_min="10.00", step_max="500.00")
        s1.ok("auction.bid", auction=a["id"], amount="900.00")
        op.ok("auction.pause", auction=a["id"], reason="outage")
        time.sleep(2.2)
        op.ok("auction.resume", auction=a["id"], reason="back")
        op.ok("auction.extend", auction=a["id"], reason="fairness", duration=1)
        s2.ok("auction.bid", auction=a["id"], amount="850.00")
        wait_state(buyer, a["id"], "closed")
        server.close_clients()
        server.stop()
        rc, out = verify(env, db)
        assert rc == 0, out
    finally:
        env.drop_database(db)
