"""A tender followed by a live auction: at the opening the lot's auction starts seeded with
the tender prices, only the tender's bidders may bid, and the auction's ranking decides the
award."""
import time

import pytest

from tdclient import parse_time

import procutil as pu
from procutil import get

AUCTION = {"step_min": "1.00", "step_max": "100.00", "duration": 3, "extension_window": 0,
           "extension": 0, "delay": 1}


@pytest.fixture(scope="module")
def server(module_tenderd_factory):
    return module_tenderd_factory()


def test_tender_then_auction_decides_the_award(env, server, unique):
    buyer = server.connect("buyer")
    s = {n: server.connect(n) for n in ("supplier1", "supplier2", "supplier3", "supplier4")}
    p = pu.create(buyer, "tender_auction", "Tender+auction " + unique, min_bids=2,
                  lots=[pu.lot("Infusion pumps", "1000.00")], auction=AUCTION)
    pid = p["id"]
    assert p["auction"] == AUCTION, p
    assert "auction" not in p["lots"][0]
    watcher = server.connect("buyer2")
    watcher.ok("procurement.watch", procurement=pid)
    pu.wait_tendering(buyer, p)
    tender = {"supplier1": "900.00", "supplier2": "850.00", "supplier3": "950.00"}
    o = {}
    for who, price in tender.items():
        o[who] = s[who].ok("bid.submit", procurement=pid, lot=1, price=price,
                           values={})["offer"]
    e = s["supplier1"].error("quote.submit", procurement=pid, lot=1, price="800.00")
    assert e["code"] == "wrong_kind", e

    ev, _ = pu.wait_update(watcher, pid, "opened", timeout=8)
    v = ev["procurement"]
    assert v["state"] == "opened" and v["opened_at"] == p["opening_at"], v
    lot = v["lots"][0]
    assert lot["state"] == "auction", lot
    aid = lot["auction"]
    assert isinstance(aid, int), lot
    # while the auction runs the record shows the tender ranking, bidders by alias only
    rec = lot["opening"]
    assert [(r["rank"], r["offer"], r["price"]) for r in rec] == [
        (1, o["supplier2"], "850.00"), (2, o["supplier1"], "900.00"),
        (3, o["supplier3"], "950.00")], rec
    for r in rec:
        assert "organization" not in r and r["bidder"].startswith("Bidder "), r
        assert "auction_rank" not in r
    strings = set(pu.walk_strings(get(s["supplier1"], pid)))
    for who in ("supplier2", "supplier3"):
        assert env.org(who) not in strings
    e = buyer.error("award.decide", procurement=pid, lot=1, offer=o["supplier2"],
                    decision="award")
    assert e["code"] == "bad_state", e

    # the auction, seeded with the tender prices
    a = buyer.ok("auction.get", auction=aid)["auction"]
    assert a["start_price"] == "1000.00" and a["currency"] == "RUB", a
    assert (a["step_min_amount"], a["step_max_amount"]) == ("1.00", "100.00"), a
    assert parse_time(a["starts_at"]) == parse_time(p["opening_at"]) + 1000, a
    assert parse_time(a["scheduled_end"]) == parse_time(p["opening_at"]) + 4000, a
    assert a["state"] in ("scheduled", "running"), a
    for who, rank in (("supplier2", 1), ("supplier1", 2), ("supplier3", 3)):
        av = s[who].ok("auction.get", auction=aid)["auction"]
        assert (av["bids"], av["bidders"], av["best_price"]) == (3, 3, "850.00"), (who, av)
        assert (av["your_rank"], av["your_price"]) == (rank, tender[who]), (who, av)
    av = s["supplier4"].ok("auction.get", auction=aid)["auction"]
    assert av.get("your_rank") is None and av["bids"] == 3
    e = s["supplier4"].error("auction.bid", auction=aid, amount="800.00")
    assert e["code"] == "not_admitted", e
    aw = server.connect("supplier3")
    aw.ok("auction.watch", auction=aid)
    pu.sleep_until(buyer, parse_time(a["starts_at"]) + 5, max_wait=2)
    deadline = time.monotonic() + 2
    while s["supplier3"].ok("auction.get", auction=aid)["auction"]["state"] != "running":
        assert time.monotonic() < deadline, "the auction did not start"
        time.sleep(0.02)
    r = s["supplier3"].ok("auction.bid", auction=aid, amount="840.00")
    assert (r["rank"], r["best_price"]) == (1, "840.00"), r
    e = s["supplier1"].error("auction.bid", auction=aid, amount="900.00")
    assert e["code"] == "bid_not_below_own", e

    # the auction closes at its end; its ranking becomes the lot's
    deadline = time.monotonic() + 10
    while True:
        ev = aw.event(timeout=max(0.1, deadline - time.monotonic()))
        if ev["event"] == "auction.closed":
            break
    closed = ev["auction"]
    assert closed["result"]["winner"]["price"] == "840.00", closed
    assert closed["result"]["winner"].get("you") is True, closed
    v = pu.wait_for(buyer, pid, lambda x: x["lots"][0]["state"] == "active" and
                    all("auction_rank" in r for r in x["lots"][0]["opening"]),
                    timeout=5, what="auction result")
    rec = v["lots"][0]["opening"]
    assert [(r["rank"], r["auction_rank"], r["offer"], r["organization"], r["price"],
             r["auction_price"]) for r in rec] == [
        (1, 1, o["supplier3"], env.org("supplier3"), "950.00", "840.00"),
        (2, 2, o["supplier2"], env.org("supplier2"), "850.00", "850.00"),
        (3, 3, o["supplier1"], env.org("supplier1"), "900.00", "900.00")], rec
    assert v["state"] == "evaluation", v
    rows = env.psql("SELECT count(*) FILTER (WHERE seeded), count(*) FROM bids "
                    "WHERE auction_id = %d" % aid)
    assert rows == [["3", "4"]], rows
    rows = env.psql("SELECT kind, lot_id FROM audit.procurement_log WHERE procurement_id = %d "
                    "AND kind = 'auction_result'" % pid, user="auditor")
    assert rows == [["auction_result", "1"]], rows

    e = buyer.error("award.decide", procurement=pid, lot=1, offer=o["supplier2"],
                    decision="award")
    assert e["code"] == "not_first_ranked", e
    v = buyer.ok("award.decide", procurement=pid, lot=1, offer=o["supplier3"],
                 decision="award")["procurement"]
    assert v["state"] == "awarded" and v["lots"][0]["awarded_offer"] == o["supplier3"], v
    assert v["lots"][0]["auction"] == aid
    ev, _ = pu.wait_update(watcher, pid, "decided", timeout=5)
    assert ev["procurement"]["lots"][0]["awarded_offer"] == o["supplier3"]


def test_auction_without_delay_is_seeded_too(env, server, unique):
    """`delay` may be 0 (docs/protocol.md: 0-86400 s): the auction starts at the opening
    itself, and its first bids must still be the tender prices of the admitted bidders."""
    buyer = server.connect("buyer")
    s = {n: server.connect(n) for n in ("supplier1", "supplier2", "supplier4")}
    settings = dict(AUCTION, delay=0, duration=2)
    p = pu.create(buyer, "tender_auction", "No delay " + unique, min_bids=2,
                  lots=[pu.lot("Monitors", "1000.00")], auction=settings)
    pid = p["id"]
    assert p["auction"]["delay"] == 0
    pu.wait_tendering(buyer, p)
    o1 = s["supplier1"].ok("bid.submit", procurement=pid, lot=1, price="900.00", values={})
    o2 = s["supplier2"].ok("bid.submit", procurement=pid, lot=1, price="850.00", values={})
    v = pu.wait_opened(buyer, p)
    aid = v["lots"][0]["auction"]
    a = buyer.ok("auction.get", auction=aid)["auction"]
    assert a["starts_at"] == p["opening_at"], a
    for who, rank, price in (("supplier2", 1, "850.00"), ("supplier1", 2, "900.00")):
        av = s[who].ok("auction.get", auction=aid)["auction"]
        assert (av["bids"], av["bidders"], av["best_price"], av["your_rank"],
                av["your_price"]) == (2, 2, "850.00", rank, price), (who, av)
    e = s["supplier4"].error("auction.bid", auction=aid, amount="800.00")
    assert e["code"] == "not_admitted", e
    r = s["supplier1"].ok("auction.bid", auction=aid, amount="849.00")
    assert (r["rank"], r["best_price"]) == (1, "849.00"), r
    v = pu.wait_for(buyer, pid, lambda x: x["lots"][0]["state"] == "active", timeout=6,
                    what="auction result")
    rec = v["lots"][0]["opening"]
    assert [(r["offer"], r["auction_rank"], r["auction_price"]) for r in rec] == [
        (o1["offer"], 1, "849.00"), (o2["offer"], 2, "850.00")], rec
