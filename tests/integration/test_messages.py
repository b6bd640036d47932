"""Refusals say what would have been accepted: bid bounds as decimal amounts, and the time a
phase opens or closed (docs/protocol.md, docs/auction-rules.md)."""
import procutil as pu
import tdclient
from tdclient import create_auction


def msg(c, op, **fields):
    r = c.request(op, **fields)
    assert r["ok"] is False, r
    return r["error"]["code"], r["error"]["message"]


def test_bid_refusals_name_the_bounds(server, unique):
    b = server.connect("buyer")
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    a = create_auction(b, "Bounds " + unique, start_price="100000.00", step_min="1000.00",
                       step_max="5000.00", duration=120)
    aid = a["id"]
    assert msg(s1, "auction.bid", auction=aid, amount="99999.99") == (
        "bid_step_too_small", "amount must be at most 99000.00 (start price 100000.00 minus "
        "step 1000.00)")
    assert msg(s1, "auction.bid", auction=aid, amount="1.00") == (
        "bid_step_too_large", "amount must be at least 95000.00 (start price 100000.00 minus "
        "maximum step 5000.00)")
    assert msg(s1, "auction.bid", auction=aid, amount="100000") == (
        "bid_not_below_start_price", "amount must be below the start price 100000.00")
    assert msg(s1, "auction.bid", auction=aid, amount="0") == (
        "bid_not_positive", "amount must be above 0.00")
    assert s1.ok("auction.bid", auction=aid, amount="99000")["best_price"] == "99000.00"
    assert msg(s2, "auction.bid", auction=aid, amount="98500.00") == (
        "bid_step_too_small", "amount must be at most 98000.00 (best 99000.00 minus step 1000.00)")
    assert msg(s2, "auction.bid", auction=aid, amount="93000.00") == (
        "bid_step_too_large", "amount must be at least 94000.00 (best 99000.00 minus maximum "
        "step 5000.00)")
    assert msg(s1, "auction.bid", auction=aid, amount="98000.00") == (
        "bid_while_leading", "you hold the best price 99000.00 and may not lower it")
    assert s2.ok("auction.bid", auction=aid, amount="99500.00")["rank"] == 2
    assert msg(s2, "auction.bid", auction=aid, amount="99600.00") == (
        "bid_not_below_own", "amount must be below your previous bid 99500.00")
    # a buyer participant cannot bid at all, not even in its own auction
    assert msg(b, "auction.bid", auction=aid, amount="98000.00") == (
        "forbidden", "a buyer may not use auction.bid")
    # logs print amounts as decimals too
    assert "amount=99000.00 rank=1 accepted" in server.log_text()
    b.ok("auction.cancel", auction=aid, reason="test over")
    code, text = msg(s1, "auction.bid", auction=aid, amount="98000.00")
    assert code == "auction_cancelled" and text.startswith("the auction was cancelled at "), text
    tdclient.parse_time(text.rsplit(" ", 1)[1])

    later = tdclient.format_time(tdclient.server_now(b)[0] + 3600000)
    a = create_auction(b, "Later " + unique, starts_at=later)
    assert msg(s1, "auction.bid", auction=a["id"], amount="990000.00") == (
        "auction_not_started", "the auction starts at %s" % a["starts_at"])
    b.ok("auction.cancel", auction=a["id"], reason="test over")


def test_phase_refusals_say_when(server, unique):
    b = server.connect("buyer")
    s1 = server.connect("supplier1")
    p = pu.create(b, "rfq", "Phases " + unique, enquiry=60000, deadline=120000,
                  opening=120000)
    assert msg(s1, "quote.submit", procurement=p["id"], lot=1, price="900.00") == (
        "submissions_not_open", "submissions open at %s (enquiry_end)" % p["enquiry_end"])
    q = pu.create(b, "rfq", "Phases asked " + unique, enquiry=800, deadline=60000,
                  opening=60000)
    pu.wait_tendering(s1, q)
    assert msg(s1, "question.ask", procurement=q["id"], text="Too late?") == (
        "bad_state", "questions are taken during the enquiry period only, which ended at %s"
        % q["enquiry_end"])
    assert msg(s1, "quote.submit", procurement=q["id"], lot=1, price="1000.01") == (
        "bad_price", "price must be above 0.00 and at most 1000.00 (the lot's maximum price)")
    for x in (p, q):
        b.ok("procurement.cancel", procurement=x["id"], reason="test over")
