"""Sealed-bid formats over TLS (docs/auction-rules.md "Sealed-bid formats", docs/protocol.md
"Sealed-bid formats"): while the auction runs nobody sees a price or a rank (competitors, the
buyer, operators), across a kill -9 and restart too; at the deadline it opens with every bid,
the winner and the price paid (second price: the runner-up's); each bid's log row is salted,
its receipt's content_hash opens with the opening record, and tenderd verify replays it."""
import hashlib
import json
import re
import time

import conftest
from tdclient import parse_time, sleep_until_server
from test_verify import psql_db, verify

NAMES = ["operator", "buyer", "supplier1", "supplier2", "supplier3"]


def get(c, aid):
    return c.ok("auction.get", auction=aid)["auction"]


def sealed_view(v):
    """What a view shows of the prices while the auction is sealed: nothing but its own."""
    assert v["state"] == "running", v
    assert v["best_price"] is None, v
    assert "ranking" not in v, v
    assert v["result"] is None, v
    return v


def own_database(env, db):
    """A database of its own (tenderd verify reads all of it), with the test participants."""
    env.drop_database(db)
    as_role = env.new_database(db)
    conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER), "--sql_dir",
                                 conftest.SQL_DIR), env=conftest.sanitizer_env())
    for name in NAMES:
        role, org, display = conftest.PARTICIPANTS[name]
        conftest.run(env.tenderd_cmd("register", "--db", as_role("tenderd"), "--role", role,
                                     "--organization", org, "--name", display, "--cert",
                                     env.cert(name)), env=conftest.sanitizer_env())
    return as_role


def test_create_refuses_steps_and_extensions(server, unique):
    buyer = server.connect("buyer")
    for field, value in (("extension_window", 60), ("extension", 60), ("step_min", "1.00"),
                         ("step_max", "5%"), ("max_extensions", 2)):
        r = buyer.request("auction.create", title="sealed " + unique, currency="RUB",
                          start_price="1000.00", format="sealed_first_price", **{field: value})
        assert r["ok"] is False, r
        assert r["error"]["code"] == "bad_field" and r["error"]["field"] == field, r
        assert "does not apply to the sealed-bid formats" in r["error"]["message"], r
    a = buyer.ok("auction.create", title="sealed " + unique, currency="RUB",
                 start_price="1000.00", format="sealed_first_price")["auction"]
    assert (a["format"], a["extension_window"], a["extension"]) == ("sealed_first_price", 0, 0)
    assert a["sealed_bids"] == 0
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")


def test_first_price_pays_the_winners_price(env, server, unique):
    buyer, s1, s2 = (server.connect(n) for n in ("buyer", "supplier1", "supplier2"))
    a = buyer.ok("auction.create", title="sealed first " + unique, currency="RUB",
                 start_price="1000.00", format="sealed_first_price", duration=3)["auction"]
    aid = a["id"]
    r = s1.request("auction.bid", auction=aid, amount="1000.00")
    assert r["error"]["code"] == "bid_not_below_start_price", r
    p = env.tenderctl("supplier1", "bid", str(aid), "900.00", server=server)
    assert p.returncode == 0, p.stderr
    assert "accepted: 900.00 RUB sealed; the auction opens at " in p.stdout, p.stdout
    s2.ok("auction.bid", auction=aid, amount="950.00")
    sealed_view(get(s2, aid))
    # tenderctl: the bidder's own price, the count, the opening time; no best price
    p = env.tenderctl("supplier1", "auction", "get", str(aid), server=server)
    assert p.returncode == 0, p.stderr
    assert re.search(r"sealed +your price 900\.00 RUB submitted; 2 sealed bids; opens at "
                     r"\d\d:\d\d:\d\d", p.stdout), p.stdout
    assert "best price    sealed until the opening" in p.stdout, p.stdout
    assert "to lead" not in p.stdout and "ranking" not in p.stdout, p.stdout
    s2.ok("auction.watch", auction=aid)
    # tenderctl watch (not a terminal): one line per view, sealed until it opens
    p = env.tenderctl("supplier1", "watch", str(aid), server=server, timeout=20)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert re.search(r"watching: running, best - RUB, bids 2 \(2 bidders\), sealed: your price "
                     r"900\.00 RUB submitted; 2 sealed bids; opens at ", lines[0]), lines
    assert "closed: winner Participant 1 at 900.00 RUB" in lines[-2], lines
    assert lines[-1].endswith("sealed: opened: price paid 900.00 RUB"), lines
    ev = s2.event(name="auction.closed", timeout=10)
    res = ev["auction"]["result"]
    assert res["winner"]["price"] == "900.00" and res["price_paid"] == "900.00", res
    assert [e["price"] for e in ev["auction"]["ranking"]] == ["900.00", "950.00"]
    p = env.tenderctl("buyer", "auction", "get", str(aid), server=server)
    assert p.returncode == 0, p.stderr
    assert "sealed        opened: price paid 900.00 RUB" in p.stdout, p.stdout
    assert re.search(r"ranking\n.*\n +1  900\.00", p.stdout), p.stdout


def test_sealed_second_price_through_a_restart(env, tenderd_factory, unique):
    db = "tdsealed_verify"
    as_role = own_database(env, db)
    try:
        server = tenderd_factory(db=as_role("tenderd"))
        buyer, op, s1, s2, s3 = (server.connect(n) for n in
                                 ("buyer", "operator", "supplier1", "supplier2", "supplier3"))
        a = buyer.ok("auction.create", title="sealed second " + unique, currency="RUB",
                     start_price="1000.00", format="sealed_second_price",
                     duration=8)["auction"]
        aid, end = a["id"], parse_time(a["ends_at"])
        s3.ok("auction.watch", auction=aid)
        # two more: one still running at the verify, one cancelled (never opened)
        running = buyer.ok("auction.create", title="sealed open " + unique, currency="RUB",
                           start_price="1000.00", format="sealed_first_price",
                           duration=3600)["auction"]["id"]
        cancelled = buyer.ok("auction.create", title="sealed off " + unique, currency="RUB",
                             start_price="1000.00", format="sealed_first_price",
                             duration=3600)["auction"]["id"]
        s1.ok("auction.bid", auction=running, amount="500.00")
        s1.ok("auction.bid", auction=cancelled, amount="600.00")
        buyer.ok("auction.cancel", auction=cancelled, reason="withdrawn")
        v = get(s2, cancelled)
        assert v["state"] == "cancelled" and "ranking" not in v and "opening" not in v, v
        assert v["best_price"] is None and v["result"] is None, v

        r1 = s1.ok("auction.bid", auction=aid, amount="900.00")
        # the reply tells nothing of the others: no rank, no best price
        assert r1["rank"] is None and r1["best_price"] is None, r1
        assert set(r1["receipt"]) == {"seq", "leaf_hash", "content_hash"}, r1
        s2.ok("auction.bid", auction=aid, amount="800.00")
        r1b = s1.ok("auction.bid", auction=aid, amount="870.00")   # replaced: the latest counts
        for c in (s3, buyer, op):
            v = sealed_view(get(c, aid))
            assert v["sealed_bids"] == 2 and v["bids"] == 2 and v["bidders"] == 2, v
        v = sealed_view(get(s1, aid))
        assert v["your_price"] == "870.00" and v["your_rank"] is None, v
        assert [x["price"] for x in v["your_submissions"]] == ["900.00", "870.00"], v
        # a watcher's update carries no price either
        ev = s3.event(name="auction.update", timeout=5)
        assert ev["auction"]["best_price"] is None and "ranking" not in ev["auction"], ev

        # a refused bid's row names no price either (its leaf is not salted)
        r = s2.request("auction.bid", auction=aid, amount="1000.00")
        assert r["error"]["code"] == "bid_not_below_start_price", r
        assert psql_db(env, db, "SELECT amount IS NULL, body NOT LIKE '%%1000%%' FROM changes"
                       " WHERE auction_id = %d AND kind = 'bid_refused'" % aid) == [["t", "t"]]

        # the log row is salted and sealed; the auditor sees neither body nor amount yet
        rows = psql_db(env, db, "SELECT sealed, body FROM changes WHERE auction_id = %d AND kind ="
                        " 'bid_accepted' ORDER BY seq" % aid)
        assert len(rows) == 3
        for sealed, body in rows:
            assert sealed == "t" and re.search(r'"salt":"[0-9a-f]{32}"', body), body
        seen = psql_db(env, db, "SELECT withheld, body IS NULL, amount_minor IS NULL FROM audit.changes"
                        " WHERE auction_id = %d AND kind = 'bid_accepted'" % aid,
                        user="auditor")
        assert seen == [["t", "t", "t"]] * 3, seen
        assert psql_db(env, db, "SELECT count(*) FROM audit.bids WHERE auction_id = %d" % aid,
                        user="auditor") == [["0"]]

        # kill -9 while sealed: still sealed after the restart, and it takes bids
        server.close_clients()
        server.kill9()
        server.start()
        buyer, op, s1, s2, s3 = (server.connect(n) for n in
                                 ("buyer", "operator", "supplier1", "supplier2", "supplier3"))
        for c in (s2, buyer, op):
            v = sealed_view(get(c, aid))
            assert v["sealed_bids"] == 2, v
        assert get(s2, aid)["your_price"] == "800.00"
        r3 = s3.ok("auction.bid", auction=aid, amount="820.00")
        s3.ok("auction.watch", auction=aid)
        sleep_until_server(s3, end, 15)
        ev = s3.event(name="auction.closed", timeout=10)
        v = ev["auction"]
        res = v["result"]
        # opened: supplier2 wins at 800.00 and is paid the runner-up's 820.00
        assert res["winner"]["price"] == "800.00", res
        assert res["price_paid"] == "820.00", res
        assert [(e["rank"], e["price"]) for e in v["ranking"]] == \
            [(1, "800.00"), (2, "820.00"), (3, "870.00")], v["ranking"]
        opening = v["opening"]
        assert [o["price"] for o in opening] == ["900.00", "800.00", "870.00", "820.00"]
        assert [o["counts"] for o in opening] == [False, True, True, True]
        # every receipt opens: its content_hash is SHA-256 of the opened sealed body, which
        # says the price and carries the salt (from before the restart too)
        for receipt, o in zip((r1, r1b, r3), (opening[0], opening[2], opening[3])):
            body = o["sealed_content"]
            assert hashlib.sha256(body.encode()).hexdigest() == \
                receipt["receipt"]["content_hash"], (receipt, o)
            d = json.loads(body)
            assert d["salt"] == o["salt"] and d["amount"] == o["price"], d
        v = get(buyer, aid)
        assert v["result"]["price_paid"] == "820.00"
        assert psql_db(env, db, "SELECT final_price, price_paid, sealed FROM auctions WHERE id = %d"
                        % aid) == [["80000", "82000", "t"]]
        assert psql_db(env, db, "SELECT price_paid FROM audit.auctions WHERE auction_id = %d" % aid,
                        user="auditor") == [["820.00"]]
        # the buyer saved against the price it pays, the runner-up's (027)
        assert psql_db(env, db, "SELECT saving_percent, premium_percent, price_paid FROM"
                        " audit.results WHERE auction_id = %d" % aid,
                        user="auditor") == [["18.00", "", "820.00"]]
        body = json.loads(psql_db(env, db, "SELECT body FROM changes WHERE auction_id = %d AND kind ="
                                   " 'closed'" % aid)[0][0])
        assert body["price_paid"] == "820.00" and len(body["opening"]) == 4, body
        seen = psql_db(env, db, "SELECT bool_or(withheld) FROM audit.changes WHERE auction_id = %d"
                        % aid, user="auditor")
        assert seen == [["f"]], seen

        server.close_clients()
        server.stop()
        rc, out = verify(env, db)
        assert rc == 0, out
        # the open and the cancelled auction's bids are withheld: covered by the tree only
        assert re.search(r"\((\d+) withheld", out) and \
            int(re.search(r"\((\d+) withheld", out).group(1)) >= 2, out
        psql_db(env, db, "UPDATE auctions SET price_paid = 80000 WHERE id = %d" % aid)
        rc, out = verify(env, db)
        assert rc == 1 and "price_paid" in out, out
    finally:
        env.drop_database(db)
