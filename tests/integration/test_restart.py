"""Crash safety: every acknowledged bid survives kill -9, the auction comes back exactly as
it was, and an auction whose end passed while tenderd was down closes at its end with
the winner it had."""
import threading
import time

import tdclient
from tdclient import create_auction, parse_time


def comparable(view):
    """An auction view without the fields that change with the clock."""
    v = dict(view)
    v.pop("server_time")
    return v


def views(server, aid, names):
    out = {}
    for n in names:
        with server.client(n) as c:
            out[n] = comparable(c.ok("auction.get", auction=aid)["auction"])
    return out


def test_kill9_mid_auction_keeps_every_acknowledged_bid(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer = server.connect("buyer")
    # the first bid (60 s left, window 60 s) moves the end to its time + 90 s
    a = create_auction(buyer, "Restart " + unique, duration=60, extension_window=60,
                       extension=90, step_min="1000.00", step_max="20000.00")
    aid = a["id"]
    s = {n: server.connect(n) for n in ("supplier1", "supplier2", "supplier3")}
    acks = []
    for who, amount in (("supplier1", "995000.00"), ("supplier2", "990000.00"),
                        ("supplier3", "998000.00"), ("supplier1", "985000.00"),
                        ("supplier3", "984000.00")):
        acks.append(s[who].ok("auction.bid", auction=aid, amount=amount))
    assert [r["bid"]["seq"] for r in acks] == [1, 2, 3, 4, 5]
    assert [r["extended"] for r in acks] == [True, False, False, False, False]
    before = views(server, aid, ["buyer", "operator", "supplier1", "supplier2", "supplier3"])
    assert before["buyer"]["extensions"] == 1
    assert before["buyer"]["ends_at"] == acks[-1]["ends_at"]
    assert before["buyer"]["bids"] == 5 and before["buyer"]["bidders"] == 3

    server.close_clients()
    server.kill9()
    server.start()

    after = views(server, aid, ["buyer", "operator", "supplier1", "supplier2", "supplier3"])
    for n in before:
        assert after[n] == before[n], "%s's view changed across kill -9:\nbefore %r\nafter  %r" % (
            n, before[n], after[n])
    b = after["buyer"]
    assert (b["best_price"], b["bids"], b["bidders"], b["extensions"]) == ("984000.00", 5, 3, 1)
    assert [(e["alias"], e["price"]) for e in b["ranking"]] == [
        ("Participant 3", "984000.00"), ("Participant 1", "985000.00"),
        ("Participant 2", "990000.00")]
    assert parse_time(b["ends_at"]) == parse_time(acks[0]["bid"]["at"]) + 90000

    # bidding continues where it stopped: next seq, bid ids not reused
    s2 = server.connect("supplier2")
    r = s2.ok("auction.bid", auction=aid, amount="980000.00")
    assert r["bid"]["seq"] == 6 and r["rank"] == 1 and r["best_price"] == "980000.00"
    assert r["bid"]["id"] > max(x["bid"]["id"] for x in acks)
    assert r["extended"] is False and r["ends_at"] == b["ends_at"]
    s1 = server.connect("supplier1")
    e = s1.error("auction.bid", auction=aid, amount="985000.00")
    assert e["code"] == "bid_not_below_own", e
    e = server.connect("supplier3").error("auction.bid", auction=aid, amount="950000.00")
    assert e["code"] == "bid_step_too_large", e  # steps restored too
    buyer = server.connect("buyer")
    v = buyer.ok("auction.get", auction=aid)["auction"]
    assert (v["state"], v["bids"], v["extensions"]) == ("running", 6, 1)
    buyer.ok("auction.cancel", auction=aid, reason="test over")


def test_auction_ending_while_down_closes_at_its_end(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Ends while down " + unique, duration=3)
    aid = a["id"]
    end = parse_time(a["ends_at"])
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    s1.ok("auction.bid", auction=aid, amount="995000.00")
    w = s2.ok("auction.bid", auction=aid, amount="990000.00")
    assert w["rank"] == 1
    server.close_clients()
    server.kill9()
    # stay down until well past the end
    wait = (end - tdclient.now_ms()) / 1000.0 + 1.0
    assert wait < 5
    if wait > 0:
        time.sleep(wait)
    server.start()

    c = server.connect("buyer")
    deadline = time.monotonic() + 10
    while True:
        v = c.ok("auction.get", auction=aid)["auction"]
        if v["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert v["state"] == "closed", v
    assert v["result"]["closed_at"] == a["ends_at"], v["result"]
    assert v["ends_at"] == a["ends_at"] and v["extensions"] == 0
    assert v["result"]["winner"]["alias"] == "Participant 2"
    assert v["result"]["winner"]["price"] == "990000.00"
    assert v["result"]["winner"]["organization"] == env.org("supplier2")
    assert [e["price"] for e in v["ranking"]] == ["990000.00", "995000.00"]
    e = server.connect("supplier1").error("auction.bid", auction=aid, amount="985000.00")
    assert e["code"] == "auction_ended", e
    rows = env.psql("SELECT state, closed_at = ends_at, final_price FROM auctions "
                    "WHERE id = %d" % aid)
    assert rows == [["closed", "t", "99000000"]], rows


def test_running_auction_without_bids_is_logged_once_across_restart(env, tenderd_factory, unique):
    """A running auction nobody bid in comes back running after kill -9, and its start and
    its closing are each recorded once."""
    server = tenderd_factory()
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Quiet restart " + unique, duration=3)
    aid = a["id"]
    assert a["state"] == "running", a
    server.close_clients()
    server.kill9()
    server.start()

    c = server.connect("buyer")
    assert c.ok("auction.get", auction=aid)["auction"]["state"] == "running"
    deadline = time.monotonic() + 10
    while True:
        v = c.ok("auction.get", auction=aid)["auction"]
        if v["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert v["state"] == "closed", v
    assert v["result"] == {"winner": None, "closed_at": a["ends_at"], "price_paid": None}, \
        v["result"]
    rows = env.psql("SELECT kind, count(*) FROM auction_log WHERE auction_id = %d "
                    "GROUP BY kind ORDER BY kind" % aid)
    assert rows == [["closed", "1"], ["created", "1"], ["started", "1"]], rows


def test_shutdown_event_on_sigterm(env, tenderd_factory, unique):
    server = tenderd_factory()
    watcher = server.connect("supplier4")
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Shutdown " + unique, duration=60)
    watcher.ok("auction.watch", auction=a["id"])
    rc = server.stop()
    for c in (watcher, buyer):
        msgs = c.wait_closed(timeout=10)
        assert msgs == [{"event": "shutdown"}], msgs
    leaks = [l for l in server.log_text().splitlines() if "SUMMARY: AddressSanitizer" in l]
    assert rc == 0, "tenderd exited %r on SIGTERM with two clients connected %s" % (rc, leaks)
    server.start()
    with server.client("buyer") as c:
        assert c.ok("auction.get", auction=a["id"])["auction"]["state"] == "running"
        c.ok("auction.cancel", auction=a["id"], reason="test over")


def test_kill9_with_bids_in_flight(env, tenderd_factory, unique):
    """kill -9 while bids stream in: every acknowledged bid is in the database, and after
    the restart tenderd's view is exactly the database (bids committed but not yet
    acknowledged included)."""
    server = tenderd_factory()
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Kill in flight " + unique, duration=120, step_max="50000.00")
    aid = a["id"]
    assert server.connect("supplier1").ok("auction.bid", auction=aid,
                                          amount="950000.00")["ok"]
    server.close_clients()
    acked = {"supplier2": [], "supplier3": []}
    errors = []

    def stream(name, base):
        try:
            with server.client(name, timeout=10) as c:
                for k in range(100000):
                    r = c.request("auction.bid", auction=aid, amount="%d.00" % (base - k))
                    if not r["ok"]:
                        errors.append("%s: %r" % (name, r))
                        return
                    acked[name].append(r["bid"])
        except (tdclient.Closed, OSError):
            return  # the server died under us
        except Exception as e:
            errors.append("%s: %r" % (name, e))

    threads = [threading.Thread(target=stream, args=("supplier2", 999000), daemon=True),
               threading.Thread(target=stream, args=("supplier3", 998000), daemon=True)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while min(len(v) for v in acked.values()) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill9()
    for t in threads:
        t.join(15)
        assert not t.is_alive()
    assert not errors, errors
    assert min(len(v) for v in acked.values()) >= 20
    server.start()

    db = env.psql("SELECT b.id, b.seq, o.name, b.amount FROM bids b JOIN organizations o "
                  "ON o.id = b.organization_id WHERE b.auction_id = %d ORDER BY b.seq" % aid)
    in_db = {int(r[0]): r for r in db}
    for name, bids in acked.items():
        for b in bids:
            assert b["id"] in in_db, "acknowledged bid %r is not in the database" % b
            assert in_db[b["id"]][1] == str(b["seq"]) and in_db[b["id"]][2] == env.org(name)
    with server.client("buyer") as c:
        v = c.ok("auction.get", auction=aid)["auction"]
    assert v["bids"] == len(db)
    last = {}
    for r in db:
        last[r[2]] = int(r[3])
    prices = sorted(last.values())
    assert [e["price"] for e in v["ranking"]] == ["%d.%02d" % (p // 100, p % 100)
                                                  for p in prices]
    # the next bid takes the next sequence number
    with server.client("supplier2") as c:
        r = c.ok("auction.bid", auction=aid, amount="960000.00")
    assert r["bid"]["seq"] == len(db) + 1
    assert r["bid"]["id"] > max(in_db)
    with server.client("buyer") as c:
        c.ok("auction.cancel", auction=aid, reason="test over")
