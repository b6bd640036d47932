"""The rulebook over the wire: every refusal code of the engine at its boundary, the
rank-improving rule, ties, and malformed amounts. Start price 100 000.00 RUB, steps
1 000.00 .. 5 000.00 unless said otherwise."""
import pytest

import tdclient
from tdclient import create_auction


@pytest.fixture
def auction(server, unique):
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Rules " + unique, start_price="100000.00", step_min="1000.00",
                       step_max="5000.00", duration=120)
    assert (a["step_min_amount"], a["step_max_amount"]) == ("1000.00", "5000.00")
    assert (a["step_min"], a["step_max"]) == ("1000.00", "5000.00")
    yield a
    buyer.request("auction.cancel", auction=a["id"], reason="test over")


def bid(c, aid, amount):
    return c.request("auction.bid", auction=aid, amount=amount)


def refused(c, aid, amount, code):
    r = bid(c, aid, amount)
    assert r["ok"] is False, "%s bid %s: expected %s, got %r" % (c.name, amount, code, r)
    assert r["error"]["code"] == code, "%s bid %s: %r" % (c.name, amount, r)
    assert r["error"]["message"]
    return r


def accepted(c, aid, amount, rank, best, seq=None, shown=None):
    """The bid must be accepted with this rank and best price; `shown` is the amount as
    the server writes it back (default: as sent)."""
    r = bid(c, aid, amount)
    assert r["ok"] is True, "%s bid %s: expected acceptance, got %r" % (c.name, amount, r)
    assert (r["rank"], r["best_price"]) == (rank, best), r
    assert r["bid"]["amount"] == (shown or amount), r
    if seq is not None:
        assert r["bid"]["seq"] == seq
    return r


def view(c, aid):
    return c.ok("auction.get", auction=aid)["auction"]


def test_price_limits(server, auction):
    aid = auction["id"]
    s1 = server.connect("supplier1")
    refused(s1, aid, "0.00", "bid_not_positive")
    refused(s1, aid, "0", "bid_not_positive")
    refused(s1, aid, "100000.00", "bid_not_below_start_price")
    refused(s1, aid, "100000.01", "bid_not_below_start_price")
    refused(s1, aid, "250000", "bid_not_below_start_price")
    v = view(s1, aid)
    assert v["bids"] == 0 and v["best_price"] is None and v["your_rank"] is None


def test_steps(server, auction):
    """step_min <= reference - amount <= step_max, both inclusive, measured from the start
    price for the first bid and from the best price afterwards."""
    aid = auction["id"]
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    refused(s1, aid, "99000.01", "bid_step_too_small")   # 999.99 below the start price
    refused(s1, aid, "99999.99", "bid_step_too_small")
    refused(s1, aid, "94999.99", "bid_step_too_large")   # 5 000.01
    refused(s1, aid, "1.00", "bid_step_too_large")
    accepted(s1, aid, "99000.00", 1, "99000.00", seq=1)  # exactly step_min
    refused(s2, aid, "98000.01", "bid_step_too_small")   # 999.99 below the best
    refused(s2, aid, "93999.99", "bid_step_too_large")   # 5 000.01 below the best
    accepted(s2, aid, "94000.00", 1, "94000.00", seq=2)  # exactly step_max
    v = view(s2, aid)
    assert (v["bids"], v["bidders"], v["best_price"], v["your_rank"]) == (2, 2, "94000.00", 1)


def test_own_price_and_lead(server, auction):
    aid = auction["id"]
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    accepted(s1, aid, "99000.00", 1, "99000.00")
    refused(s1, aid, "98000.00", "bid_while_leading")    # the leader may not lower its price
    refused(s1, aid, "99000.00", "bid_not_below_own")    # checked before the lead
    refused(s1, aid, "99500.00", "bid_not_below_own")
    accepted(s2, aid, "98000.00", 1, "98000.00")
    # once overtaken, the former leader may bid again; still not at or above its own price
    refused(s1, aid, "99000.00", "bid_not_below_own")
    accepted(s1, aid, "97000.00", 1, "97000.00")
    refused(s2, aid, "98000.00", "bid_not_below_own")
    v = view(s1, aid)
    assert (v["bids"], v["your_rank"], v["your_price"]) == (3, 1, "97000.00")


def test_own_auction(env, server, auction):
    aid = auction["id"]
    sb = server.connect("supplier_b")
    hello = sb.ok("hello")
    assert hello["organization"]["name"] == env.org("buyer")
    assert hello["participant"]["role"] == "supplier"
    refused(sb, aid, "99000.00", "own_auction")
    refused(sb, aid, "0.00", "own_auction")  # own_auction is checked before the amount
    # its organization may bid in someone else's auction
    b2 = server.connect("buyer2")
    other = create_auction(b2, auction["title"] + " (Sigma)", start_price="100000.00",
                           step_min="1000.00", step_max="5000.00", duration=120)
    accepted(sb, other["id"], "99000.00", 1, "99000.00")
    b2.ok("auction.cancel", auction=other["id"], reason="test over")
    assert view(sb, aid)["bids"] == 0


def test_rank_improving_bids_and_ties(server, auction):
    aid = auction["id"]
    s1, s2, s3, s4 = (server.connect("supplier%d" % i) for i in range(1, 5))
    buyer = server.connect("buyer")
    accepted(s1, aid, "99000.00", 1, "99000.00", seq=1)
    accepted(s2, aid, "94000.00", 1, "94000.00", seq=2)
    # above the best price: no step applies, it only improves the bidder's rank
    accepted(s3, aid, "99500.00", 3, "94000.00", seq=3)
    accepted(s3, aid, "98500.00", 2, "94000.00", seq=4)   # 100 below its own: rank 2
    # a tie ranks after the bid accepted earlier
    accepted(s4, aid, "98500.00", 3, "94000.00", seq=5)
    # bidding exactly the best price does not take the lead: behind the leader
    accepted(s1, aid, "94000.00", 2, "94000.00", seq=6)
    v = view(buyer, aid)
    assert [(e["rank"], e["alias"], e["price"]) for e in v["ranking"]] == [
        (1, "Participant 2", "94000.00"),
        (2, "Participant 1", "94000.00"),
        (3, "Participant 3", "98500.00"),
        (4, "Participant 4", "98500.00"),
    ]
    assert (v["best_price"], v["bids"], v["bidders"]) == ("94000.00", 6, 4)
    assert [view(c, aid)["your_rank"] for c in (s1, s2, s3, s4)] == [2, 1, 3, 4]
    # the leader still may not lower; the tied second may take the lead with a full step
    refused(s2, aid, "93000.00", "bid_while_leading")
    refused(s1, aid, "93500.00", "bid_step_too_small")
    accepted(s1, aid, "93000.00", 1, "93000.00", seq=7)


def test_not_started_then_cancelled(env, server, unique):
    buyer = server.connect("buyer")
    s1 = server.connect("supplier1")
    starts = tdclient.now_ms() + 120000
    a = create_auction(buyer, "Later " + unique, start_price="100000.00", step_min="1000.00",
                       step_max="5000.00", starts_at=tdclient.format_time(starts), duration=60)
    assert a["state"] == "scheduled"
    assert tdclient.parse_time(a["starts_at"]) == starts
    refused(s1, a["id"], "99000.00", "auction_not_started")
    assert view(s1, a["id"])["state"] == "scheduled"
    r = buyer.ok("auction.cancel", auction=a["id"], reason="Specification error in lot 1")
    assert r["auction"]["state"] == "cancelled"
    refused(s1, a["id"], "99000.00", "auction_cancelled")
    # a running auction, cancelled
    b = create_auction(buyer, "Cancelled " + unique, start_price="100000.00",
                       step_min="1000.00", step_max="5000.00", duration=60)
    accepted(s1, b["id"], "99000.00", 1, "99000.00")
    buyer.ok("auction.cancel", auction=b["id"], reason="Budget withdrawn")
    refused(s1, b["id"], "98000.00", "auction_cancelled")
    v = view(s1, b["id"])
    assert v["state"] == "cancelled" and v["bids"] == 1 and v["result"] is None


@pytest.mark.parametrize("amount", ["1.234", "99000.001", "abc", "", "-5.00", "1e5",
                                    " 99000.00", "99,000.00", "99000.", ".5"])
def test_bad_amount_strings(server, auction, amount):
    s1 = server.connect("supplier1")
    r = bid(s1, auction["id"], amount)
    assert r["ok"] is False and r["error"]["code"] == "bad_field", r
    assert r["error"].get("field") == "amount", r


@pytest.mark.parametrize("amount", [99000, 99000.0, 99000.5, True, None, ["99000.00"],
                                    {"v": "99000.00"}])
def test_amount_must_be_a_string(server, auction, amount):
    s1 = server.connect("supplier1")
    r = bid(s1, auction["id"], amount)
    assert r["ok"] is False, r
    expected = "missing_field" if amount is None else "bad_field"
    assert r["error"]["code"] == expected and r["error"].get("field") == "amount", r
    assert view(s1, auction["id"])["bids"] == 0


def test_amount_forms_and_currency_digits(server, unique):
    buyer = server.connect("buyer")
    s1 = server.connect("supplier1")
    a = create_auction(buyer, "Forms " + unique, start_price="100000", step_min="1000",
                       step_max="5000", duration=60)
    assert a["start_price"] == "100000.00"
    accepted(s1, a["id"], "98999.5", 1, "98999.50", shown="98999.50")
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")
    # no minor unit in JPY, three in BHD
    j = create_auction(buyer, "Yen " + unique, currency="JPY", start_price="100000",
                       step_min="1000", step_max="5000", duration=60)
    assert j["start_price"] == "100000"
    r = bid(s1, j["id"], "99000.5")
    assert r["ok"] is False and r["error"]["code"] == "bad_field"
    accepted(s1, j["id"], "99000", 1, "99000")
    buyer.ok("auction.cancel", auction=j["id"], reason="test over")
    k = create_auction(buyer, "Dinar " + unique, currency="BHD", start_price="100",
                       step_min="0.5%", step_max="5%", duration=60)
    assert (k["start_price"], k["step_min_amount"], k["step_max_amount"]) == \
        ("100.000", "0.500", "5.000")
    accepted(s1, k["id"], "99.5", 1, "99.500", shown="99.500")
    r = bid(s1, k["id"], "98.0001")
    assert r["ok"] is False and r["error"]["code"] == "bad_field"
    buyer.ok("auction.cancel", auction=k["id"], reason="test over")


def test_default_extension_window(server, unique):
    """By default a 10-minute auction extends only in its last 2 minutes, by 2 minutes: an
    early lead-taking bid leaves the end where it was."""
    b = server.connect("buyer")
    s1 = server.connect("supplier1")
    a = b.ok("auction.create", title="Defaults " + unique, currency="RUB",
             start_price="100000.00")["auction"]
    assert (a["extension_window"], a["extension"]) == (120, 120), a
    assert (tdclient.parse_time(a["scheduled_end"]) - tdclient.parse_time(a["starts_at"])
            == 600000), a
    r = s1.ok("auction.bid", auction=a["id"], amount="99000.00")
    assert r["extended"] is False and r["ends_at"] == a["scheduled_end"], (r, a)
    v = view(s1, a["id"])
    assert (v["extensions"], v["ends_at"]) == (0, a["scheduled_end"]), v
    b.ok("auction.cancel", auction=a["id"], reason="test over")
