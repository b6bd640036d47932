"""A whole live auction over the wire: creation, bids from three suppliers on separate
connections, what each watcher sees, an extension, the close on the clock, and the
result as the buyer and the suppliers see it."""
import json
import time

import tdclient
from tdclient import create_auction, parse_time

SUPPLIERS = ["supplier1", "supplier2", "supplier3"]
ALIAS = {"supplier1": "Participant 1", "supplier2": "Participant 2",
         "supplier3": "Participant 3"}


def supplier_orgs(env):
    return {n: env.org(n) for n in ("supplier1", "supplier2", "supplier3", "supplier4")}


def assert_no_identities(env, viewer, auction):
    """A supplier's view: no "organization" key anywhere, no other supplier's name."""
    keys = [k for k, _ in tdclient.walk(auction)]
    assert "organization" not in keys, (viewer, auction)
    text = json.dumps(auction)
    for name, org in supplier_orgs(env).items():
        if name != viewer:
            assert org not in text, "%s sees %s's organization: %s" % (viewer, name, text)


def test_auction_flow(env, tenderd_factory, unique):
    # one update per committed bid (no pacing): each watcher's view after each bid is checked
    server = tenderd_factory(update_interval=0)
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Office paper A4, 12 000 reams " + unique, duration=6,
                       extension_window=2, extension=3)
    aid = a["id"]
    assert a["state"] == "running"
    assert a["buyer"] == env.org("buyer")
    assert a["currency"] == "RUB"
    assert a["start_price"] == "1000000.00"
    assert (a["step_min"], a["step_max"]) == ("0.5%", "5%")
    assert (a["step_min_amount"], a["step_max_amount"]) == ("5000.00", "50000.00")
    assert a["best_price"] is None and a["bids"] == 0 and a["bidders"] == 0
    assert a["extensions"] == 0 and a["result"] is None and a["cancel_reason"] is None
    assert a["ends_at"] == a["scheduled_end"]
    assert parse_time(a["scheduled_end"]) - parse_time(a["starts_at"]) == 6000
    assert a["ranking"] == []
    end0 = parse_time(a["ends_at"])

    # watchers: the buyer on a second connection, another buyer, a supplier that never
    # bids, and every bidder on its own connection
    bidders = {n: server.connect(n) for n in SUPPLIERS}
    watchers = {"buyer": server.connect("buyer"), "buyer2": server.connect("buyer2"),
                "supplier4": server.connect("supplier4")}
    watchers.update(bidders)
    for name, c in watchers.items():
        v = c.ok("auction.watch", auction=aid)["auction"]
        assert v["id"] == aid and v["bids"] == 0 and v["state"] == "running"
        if name.startswith("supplier"):
            assert v["your_rank"] is None and v["your_alias"] is None
            assert "ranking" not in v

    plan = [  # bidder, amount, seq, rank, best price
        ("supplier1", "995000.00", 1, 1, "995000.00"),
        ("supplier2", "990000.00", 2, 1, "990000.00"),
        ("supplier3", "998000.00", 3, 3, "990000.00"),   # above the best: rank 3
        ("supplier1", "985000.00", 4, 1, "985000.00"),
    ]
    # your_rank of each supplier after each bid
    ranks = [
        {"supplier1": 1, "supplier2": None, "supplier3": None},
        {"supplier1": 2, "supplier2": 1, "supplier3": None},
        {"supplier1": 2, "supplier2": 1, "supplier3": 3},
        {"supplier1": 1, "supplier2": 2, "supplier3": 3},
    ]
    last_bid_id = 0
    last_at = {}
    for who, amount, seq, rank, best in plan:
        r = bidders[who].ok("auction.bid", auction=aid, amount=amount)
        assert r["bid"]["seq"] == seq, r
        assert isinstance(r["bid"]["id"], int) and r["bid"]["id"] > last_bid_id, r
        last_bid_id = r["bid"]["id"]
        assert r["bid"]["amount"] == amount
        assert abs(parse_time(r["bid"]["at"]) - tdclient.now_ms()) < 5000
        assert (r["rank"], r["best_price"]) == (rank, best), r
        assert r["extended"] is False and r["ends_at"] == a["ends_at"], \
            "a bid with more than extension_window left must not extend: %r" % r
        last_at[who] = r["bid"]["at"]
    # all of that happened outside the extension window
    assert parse_time(r["bid"]["at"]) < end0 - 2000

    # every watcher saw every bid, in commit order, with its own view
    for name, c in watchers.items():
        for i, (who, amount, seq, rank, best) in enumerate(plan):
            ev = c.event(timeout=10)
            assert ev["event"] == "auction.update" and ev["reason"] == "bid", (name, ev)
            v = ev["auction"]
            assert v["id"] == aid and v["state"] == "running"
            assert v["bids"] == seq and v["best_price"] == best, (name, i, v)
            assert v["bidders"] == [1, 2, 3, 3][i]
            if name == "buyer":
                # the owner sees the ranking while it runs, as aliases only
                assert [(e["rank"], e["alias"]) for e in v["ranking"]][:1] == \
                    [(1, ALIAS[{1: "supplier1", 2: "supplier2", 3: "supplier2",
                                4: "supplier1"}[seq]])]
                assert all("organization" not in e for e in v["ranking"]), v
                assert_no_identities(env, "buyer", v)
            elif name == "buyer2":
                # a buyer that does not own the auction sees what a non-bidder sees
                assert "ranking" not in v and "your_rank" not in v, v
                assert_no_identities(env, name, v)
            else:
                assert "ranking" not in v, (name, v)
                assert v["your_rank"] == ranks[i].get(name), (name, i, v)
                if ranks[i].get(name):
                    assert v["your_alias"] == ALIAS[name]
                else:
                    assert v["your_alias"] is None and v["your_price"] is None
                assert_no_identities(env, name, v)
        c.no_event(0.2)

    # reads while running
    v = bidders["supplier2"].ok("auction.get", auction=aid)["auction"]
    assert (v["your_rank"], v["your_price"], v["your_alias"]) == (2, "990000.00", "Participant 2")
    assert (v["best_price"], v["bids"], v["bidders"]) == ("985000.00", 4, 3)
    assert "ranking" not in v
    assert_no_identities(env, "supplier2", v)
    v = buyer.ok("auction.get", auction=aid)["auction"]
    assert [(e["rank"], e["alias"], e["price"], e["at"]) for e in v["ranking"]] == [
        (1, "Participant 1", "985000.00", last_at["supplier1"]),
        (2, "Participant 2", "990000.00", last_at["supplier2"]),
        (3, "Participant 3", "998000.00", last_at["supplier3"]),
    ]
    assert all("organization" not in e for e in v["ranking"])
    assert "your_rank" not in v
    op = server.connect("operator")
    v = op.ok("auction.get", auction=aid)["auction"]
    assert [e["organization"] for e in v["ranking"]] == [
        env.org("supplier1"), env.org("supplier2"), env.org("supplier3")]
    listed = [x for x in bidders["supplier3"].ok("auction.list", state="running")["auctions"]
              if x["id"] == aid]
    assert len(listed) == 1 and "ranking" not in listed[0]
    assert listed[0]["your_rank"] == 3

    # a lead-taking bid with 1.2 s left (window 2 s) moves the end to its time + 3 s
    tdclient.sleep_until_server(buyer, end0 - 1200, max_wait=7)
    r = bidders["supplier2"].ok("auction.bid", auction=aid, amount="980000.00")
    at = parse_time(r["bid"]["at"])
    assert at < end0, "the bid was late; the auction should have been running"
    assert r["extended"] is True, r
    assert (r["rank"], r["best_price"], r["bid"]["seq"]) == (1, "980000.00", 5)
    end1 = parse_time(r["ends_at"])
    assert end1 == at + 3000 and end1 > end0, r
    # a rank-improving bid (above the best) inside the window does not extend
    r = bidders["supplier3"].ok("auction.bid", auction=aid, amount="990000.00")
    assert r["extended"] is False and parse_time(r["ends_at"]) == end1, r
    assert (r["rank"], r["best_price"], r["bid"]["seq"]) == (3, "980000.00", 6)

    for name, c in watchers.items():
        ev = c.event(timeout=10)
        assert (ev["event"], ev["reason"]) == ("auction.update", "extended"), (name, ev)
        v = ev["auction"]
        assert parse_time(v["ends_at"]) == end1 and v["extensions"] == 1 and v["bids"] == 5
        assert v["scheduled_end"] == a["scheduled_end"]
        assert v["best_price"] == "980000.00"
        ev = c.event(timeout=10)
        assert (ev["event"], ev["reason"]) == ("auction.update", "bid"), (name, ev)
        assert ev["auction"]["bids"] == 6 and ev["auction"]["extensions"] == 1
        if name == "supplier2":
            assert ev["auction"]["your_rank"] == 1
        if name == "supplier1":
            assert ev["auction"]["your_rank"] == 2

    # the auction closes by itself at its (extended) end
    wait = (end1 - tdclient.now_ms()) / 1000.0 + 10
    for name, c in watchers.items():
        ev = c.event(timeout=wait)
        assert ev["event"] == "auction.closed", (name, ev)
        assert tdclient.now_ms() >= end1 - 50, "closed before its end"
        v = ev["auction"]
        assert v["state"] == "closed", (name, v)
        assert parse_time(v["result"]["closed_at"]) == end1
        assert v["result"]["winner"]["alias"] == "Participant 2"
        assert v["result"]["winner"]["price"] == "980000.00"
        assert (v["bids"], v["bidders"], v["extensions"]) == (6, 3, 1)
        ranking = [(e["rank"], e["alias"], e["price"]) for e in v["ranking"]]
        assert ranking == [(1, "Participant 2", "980000.00"), (2, "Participant 1", "985000.00"),
                           (3, "Participant 3", "990000.00")], (name, v)
        if name == "buyer":
            # the owner now sees who the bidders were
            assert [e["organization"] for e in v["ranking"]] == [
                env.org("supplier2"), env.org("supplier1"), env.org("supplier3")]
            assert v["result"]["winner"]["organization"] == env.org("supplier2")
        else:
            assert_no_identities(env, name, v)
            if name in ALIAS:
                assert v["your_rank"] == {"supplier2": 1, "supplier1": 2, "supplier3": 3}[name]
        wait = 5
    for c in watchers.values():
        c.no_event(0.2)

    # after the close: reads agree, bids are refused
    v = buyer.ok("auction.get", auction=aid)["auction"]
    assert v["state"] == "closed" and v["result"]["winner"]["organization"] == env.org("supplier2")
    v = bidders["supplier1"].ok("auction.get", auction=aid)["auction"]
    assert v["state"] == "closed" and v["result"]["winner"]["alias"] == "Participant 2"
    assert_no_identities(env, "supplier1", v)
    for who, amount in (("supplier1", "975000.00"), ("supplier3", "979000.00")):
        e = bidders[who].error("auction.bid", auction=aid, amount=amount)
        assert e["code"] == "auction_ended", e
    e = watchers["supplier4"].error("auction.bid", auction=aid, amount="979000.00")
    assert e["code"] == "auction_ended"
    assert aid in [x["id"] for x in buyer.ok("auction.list", state="closed")["auctions"]]
    assert aid not in [x["id"] for x in buyer.ok("auction.list", state="running")["auctions"]]
    v = buyer.ok("auction.get", auction=aid)["auction"]
    assert v["bids"] == 6
    # a closed auction cannot be cancelled
    e = buyer.error("auction.cancel", auction=aid, reason="too late")
    assert e["code"] == "bad_state", e
    v = buyer.ok("auction.get", auction=aid)["auction"]
    assert v["state"] == "closed" and v["cancel_reason"] is None


def test_auction_without_bids_is_unsuccessful(env, server, unique):
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Nobody came " + unique, duration=1)
    w = server.connect("supplier1")
    watched = w.ok("auction.watch", auction=a["id"])["auction"]
    assert watched["state"] == "running", watched
    try:
        ev = w.event(timeout=10)
    except tdclient.Timeout:
        v = w.ok("auction.get", auction=a["id"])["auction"]
        raise AssertionError("no auction.closed event 10 s after the end; now: state %s, "
                             "ends_at %s, server_time %s" % (v["state"], v["ends_at"],
                                                             v["server_time"])) from None
    assert ev["event"] == "auction.closed", ev
    v = ev["auction"]
    assert v["state"] == "closed" and v["bids"] == 0 and v["best_price"] is None
    assert v["result"]["winner"] is None
    assert v["result"]["closed_at"] == a["ends_at"]
    assert v["ranking"] == []
    rows = env.psql("SELECT state, final_price IS NULL, winner_organization IS NULL, bids "
                    "FROM audit.results WHERE auction_id = %d" % a["id"], user="auditor")
    assert rows == [["closed", "t", "t", "0"]]


def test_auctions_close_on_time_without_activity(env, server, unique):
    """Forty auctions of 1 s, watched, nobody bids: each must close at its end by the
    clock alone (auction.closed to the watcher, state closed), not only when somebody
    happens to touch it later."""
    buyer = server.connect("buyer")
    w = server.connect("supplier4")
    auctions = {}
    for i in range(40):
        a = create_auction(buyer, "Clock %d %s" % (i, unique), duration=1)
        auctions[a["id"]] = a
        assert w.ok("auction.watch", auction=a["id"])["auction"]["state"] == "running"
    last_end = max(parse_time(a["ends_at"]) for a in auctions.values())
    deadline = time.monotonic() + (last_end - tdclient.now_ms()) / 1000.0 + 5
    closed = {}
    while len(closed) < len(auctions) and time.monotonic() < deadline:
        try:
            ev = w.event(timeout=max(0.01, deadline - time.monotonic()))
        except tdclient.Timeout:
            break
        assert ev["event"] == "auction.closed", ev
        closed[ev["auction"]["id"]] = ev["auction"]
    stuck = []
    for aid, a in auctions.items():
        if aid not in closed:
            v = buyer.ok("auction.get", auction=aid)["auction"]
            stuck.append("auction %d: state %s, ends_at %s, server_time %s" % (
                aid, v["state"], v["ends_at"], v["server_time"]))
    assert not stuck, "%d of 40 auctions did not close at their end:\n%s" % (
        len(stuck), "\n".join(stuck))
    for aid, v in closed.items():
        assert v["state"] == "closed" and v["result"]["winner"] is None
        assert v["result"]["closed_at"] == auctions[aid]["ends_at"]


def test_extension_shorter_than_window(env, server, unique):
    """Window 3 s, extension 1 s: a new best price with 2.5 s left would end before the
    current end, so it leaves the end alone and is no extension; one with 0.5 s left
    moves the end to its time + 1 s."""
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Short extension " + unique, duration=4, extension_window=3,
                       extension=1)
    end0 = parse_time(a["ends_at"])
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    tdclient.sleep_until_server(buyer, end0 - 2500, max_wait=4)
    r = s1.ok("auction.bid", auction=a["id"], amount="995000.00")
    assert end0 - parse_time(r["bid"]["at"]) <= 3000
    assert r["extended"] is False and parse_time(r["ends_at"]) == end0, r
    tdclient.sleep_until_server(buyer, end0 - 500, max_wait=3)
    r = s2.ok("auction.bid", auction=a["id"], amount="990000.00")
    at = parse_time(r["bid"]["at"])
    assert at < end0
    assert r["extended"] is True and parse_time(r["ends_at"]) == at + 1000, r
    v = buyer.ok("auction.get", auction=a["id"])["auction"]
    assert v["extensions"] == 1 and v["scheduled_end"] == a["ends_at"]


def test_concurrent_bids_are_sequenced_once(env, server, unique):
    """Bids from four connections at once (several in flight on each): every one gets a
    distinct sequence number, the watcher sees them in that order, and the database
    holds exactly what was acknowledged."""
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Concurrent " + unique, duration=120, step_max="50000.00")
    aid = a["id"]
    watcher = server.connect("operator")
    watcher.ok("auction.watch", auction=aid)
    s1 = server.connect("supplier1")
    assert s1.ok("auction.bid", auction=aid, amount="950000.00")["rank"] == 1
    # the others only improve their own price above the best: valid in any order
    plans = {}
    for i, name in enumerate(("supplier2", "supplier3", "supplier4")):
        plans[name] = ["%d.%02d" % (999000 - 1000 * k, i) for k in range(15)]
    conns = {n: server.connect(n) for n in plans}
    ids = {}
    for k in range(15):
        for n, c in conns.items():
            ids[(n, k)] = c.send("auction.bid", auction=aid, amount=plans[n][k])
    replies = {key: conns[key[0]].reply(rid, timeout=30) for key, rid in ids.items()}
    for key, r in replies.items():
        assert r["ok"] is True, (key, r)
        assert r["best_price"] == "950000.00" and r["rank"] >= 2
    seqs = sorted(r["bid"]["seq"] for r in replies.values())
    assert seqs == list(range(2, 47)), seqs
    for n in plans:  # each connection's bids were applied in the order sent
        own = [replies[(n, k)]["bid"]["seq"] for k in range(15)]
        assert own == sorted(own), (n, own)
    # bids committed together may come as one update: the counts only grow, and the
    # last update shows them all
    counts = []
    while not counts or counts[-1] < 46:
        ev = watcher.event(timeout=10)
        assert ev["event"] == "auction.update" and ev["reason"] == "bid", ev
        counts.append(ev["auction"]["bids"])
    assert counts == sorted(set(counts)) and counts[-1] == 46, counts
    watcher.no_event(0.2)
    rows = env.psql("SELECT seq, amount, organization FROM audit.bids WHERE auction_id = %d "
                    "ORDER BY seq" % aid, user="auditor")
    by_seq = {r["bid"]["seq"]: (r["bid"]["amount"], env.org(key[0]))
              for key, r in replies.items()}
    by_seq[1] = ("950000.00", env.org("supplier1"))
    assert rows == [[str(q), by_seq[q][0], by_seq[q][1]] for q in range(1, 47)]
    v = watcher.ok("auction.get", auction=aid)["auction"]
    assert [e["price"] for e in v["ranking"]] == [
        "950000.00", plans["supplier2"][-1], plans["supplier3"][-1], plans["supplier4"][-1]]
    buyer.ok("auction.cancel", auction=aid, reason="test over")


def test_scheduled_auction_starts_on_time(env, server, unique):
    buyer = server.connect("buyer")
    s1 = server.connect("supplier1")
    srv_now, _ = tdclient.server_now(buyer)
    starts = srv_now + 1500
    a = create_auction(buyer, "Scheduled " + unique, starts_at=tdclient.format_time(starts),
                       duration=30)
    assert a["state"] == "scheduled" and parse_time(a["starts_at"]) == starts
    assert parse_time(a["ends_at"]) == starts + 30000
    assert s1.ok("auction.watch", auction=a["id"])["auction"]["state"] == "scheduled"
    e = s1.error("auction.bid", auction=a["id"], amount="995000.00")
    assert e["code"] == "auction_not_started", e
    ev = s1.event(timeout=10)
    assert (ev["event"], ev["reason"]) == ("auction.update", "started"), ev
    assert ev["auction"]["state"] == "running"
    assert tdclient.now_ms() >= starts - 50
    r = s1.ok("auction.bid", auction=a["id"], amount="995000.00")
    assert parse_time(r["bid"]["at"]) >= starts
    assert [x["id"] for x in s1.ok("auction.list", state="running")["auctions"]].count(
        a["id"]) == 1
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")


def test_unwatch_stops_events(server, unique):
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Unwatch " + unique, duration=60)
    w = server.connect("supplier4")
    s1 = server.connect("supplier1")
    w.ok("auction.watch", auction=a["id"])
    w.ok("auction.watch", auction=a["id"])  # watching twice is watching once
    s1.ok("auction.bid", auction=a["id"], amount="995000.00")
    assert w.event(timeout=10)["auction"]["bids"] == 1
    w.no_event(0.3)
    w.ok("auction.unwatch", auction=a["id"])
    server.connect("supplier2").ok("auction.bid", auction=a["id"], amount="990000.00")
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")
    w.no_event(0.5)
