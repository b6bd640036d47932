"""An amendment during tendering: a new version with its reason, every live bid marked for
re-confirmation, suppliers with bids told at once; at the opening only re-confirmed (or
resubmitted) bids open."""
import pytest

from tdclient import format_time, parse_time

import procutil as pu
from procutil import get


def criteria(max_days):
    return [{"kind": "price", "weight": "80"},
            {"code": "delivery", "name": "Delivery days", "kind": "stated", "weight": "20",
             "better": "lower", "min": 1, "max": max_days}]


@pytest.fixture(scope="module")
def server(module_tenderd_factory):
    return module_tenderd_factory()


def test_amendment_requires_reconfirmation(env, server, unique):
    buyer = server.connect("buyer")
    names = ("supplier1", "supplier2", "supplier3", "supplier4", "supplier_b")
    s = {n: server.connect(n) for n in names}
    title = "Amended tender " + unique
    p = pu.create(buyer, "tender", title, deadline=3500, opening=4500, min_bids=1,
                  lots=[pu.lot("Syringes", "1000.00", criteria=criteria(60))])
    pid = p["id"]
    watcher = server.connect("buyer2")
    watcher.ok("procurement.watch", procurement=pid)
    s1w = server.connect("supplier1")  # a bidder's connection that also watches
    s1w.ok("procurement.watch", procurement=pid)
    pu.wait_tendering(buyer, p)
    watcher.pending_events()
    s1w.pending_events()

    acks = {}
    for who, price, days in (("supplier1", "800.00", 10), ("supplier2", "850.00", 20),
                             ("supplier3", "950.00", 10), ("supplier4", "700.00", 40)):
        acks[who] = s[who].ok("bid.submit", procurement=pid, lot=1, price=price,
                              values={"delivery": days})
    for c in s.values():
        assert c.pending_events() == []

    amendment = {"title": title + " (v2)", "description": "Budget cut",
                 "enquiry_end": p["enquiry_end"],
                 "submission_deadline": p["submission_deadline"],
                 "opening_at": p["opening_at"], "min_bids": 1,
                 "lots": [pu.lot("Syringes", "900.00", criteria=criteria(30))]}
    e = buyer.error("procurement.amend", procurement=pid, **amendment)
    assert (e["code"], e.get("field")) == ("missing_field", "reason"), e
    e = server.connect("buyer2").error("procurement.amend", procurement=pid,
                                       reason="Not mine", **amendment)
    assert e["code"] == "forbidden", e
    e = s["supplier1"].error("procurement.amend", procurement=pid, reason="x", **amendment)
    assert e["code"] == "forbidden", e
    moved = dict(amendment, enquiry_end=format_time(
        parse_time(p["enquiry_end"]) + 100))
    e = buyer.error("procurement.amend", procurement=pid, reason="Move enquiries", **moved)
    assert e["code"] == "bad_value", e
    two = dict(amendment, lots=amendment["lots"] * 2)
    e = buyer.error("procurement.amend", procurement=pid, reason="Another lot", **two)
    assert e["code"] == "bad_value", e
    v = get(buyer, pid)
    assert v["version"] == 1 and v["lots"][0]["max_price"] == "1000.00"

    reason = "Budget cut to 900.00; delivery within 30 days " + unique
    v = buyer.ok("procurement.amend", procurement=pid, reason=reason,
                 **amendment)["procurement"]
    assert v["version"] == 2 and v["title"] == title + " (v2)", v
    assert v["state"] == "tendering" and v["lots"][0]["max_price"] == "900.00", v
    assert v["lots"][0]["criteria"][1]["max"] == 30
    assert v["lots"][0]["offers"] == 4

    # every supplier with a bid is told, connected but not watching; the watcher too
    for who in ("supplier1", "supplier2", "supplier3", "supplier4"):
        ev, seen = pu.wait_update(s[who], pid, "amended", timeout=5)
        assert seen == [], (who, seen)
        pv = ev["procurement"]
        assert pv["version"] == 2 and pv["lots"][0]["max_price"] == "900.00", (who, pv)
        assert [(x["offer"], x["needs_confirm"], x["status"]) for x in pv["your_offers"]] == [
            (acks[who]["offer"], True, "active")], (who, pv)
    ev, _ = pu.wait_update(watcher, pid, "amended", timeout=5)
    assert ev["procurement"]["version"] == 2 and "your_offers" not in ev["procurement"]
    ev, seen = pu.wait_update(s1w, pid, "amended", timeout=5)
    mine = [x for x in seen if x["procurement"]["id"] == pid]
    assert [x["reason"] for x in mine if x["reason"] != "offers"] in ([], ["changed"])
    counts = [x["procurement"]["lots"][0]["offers"] for x in mine if x["reason"] == "offers"]
    assert counts == sorted(set(counts)) and counts[-1:] == [4], mine  # one per new bid
    s1w.no_event(0.3)  # once, though it both watches and has a bid
    s["supplier_b"].no_event(0.3)  # a supplier without a bid hears nothing

    # supplier1 confirms its bid unchanged
    c1 = s["supplier1"].ok("bid.confirm", procurement=pid, lot=1)
    assert (c1["offer"], c1["revision"], c1["status"]) == (acks["supplier1"]["offer"], 1,
                                                          "active"), c1
    mine = get(s["supplier1"], pid)["your_offers"][0]
    assert (mine["needs_confirm"], mine["revision"], mine["submitted_at"], mine["price"]) == (
        False, 1, acks["supplier1"]["at"], "800.00"), mine
    e = s["supplier1"].error("quote.confirm", procurement=pid, lot=1)
    assert e["code"] == "wrong_kind", e
    # supplier3's price is above the new maximum: it must resubmit
    e = s["supplier3"].error("bid.confirm", procurement=pid, lot=1)
    assert e["code"] == "bad_price", e
    r3 = s["supplier3"].ok("bid.submit", procurement=pid, lot=1, price="890.00",
                           values={"delivery": 10})
    assert (r3["offer"], r3["revision"]) == (acks["supplier3"]["offer"], 2), r3
    assert get(s["supplier3"], pid)["your_offers"][0]["needs_confirm"] is False
    # supplier4's delivery is outside the narrowed bounds: it withdraws instead
    e = s["supplier4"].error("bid.confirm", procurement=pid, lot=1)
    assert e["code"] == "bad_value", e
    s["supplier4"].ok("bid.withdraw", procurement=pid, lot=1)
    e = s["supplier_b"].error("bid.confirm", procurement=pid, lot=1)
    assert e["code"] in ("no_offer", "own_procurement"), e
    # supplier2 does nothing
    assert get(s["supplier2"], pid)["your_offers"][0]["needs_confirm"] is True

    # after the deadline no amendment
    pu.sleep_until(buyer, parse_time(p["submission_deadline"]) + 5, max_wait=4)
    late = dict(amendment, submission_deadline=format_time(
        parse_time(p["opening_at"])))
    e = buyer.error("procurement.amend", procurement=pid, reason="Too late", **late)
    assert e["code"] == "bad_state", e
    e = s["supplier2"].error("bid.confirm", procurement=pid, lot=1)
    assert e["code"] == "deadline_passed", e

    v = pu.wait_opened(buyer, p)
    rec = v["lots"][0]["opening"]
    assert [(r["offer"], r["price"], r["organization"]) for r in rec] == [
        (acks["supplier1"]["offer"], "800.00", env.org("supplier1")),
        (acks["supplier3"]["offer"], "890.00", env.org("supplier3"))], rec
    assert v["lots"][0]["offers"] == 2
    # ranked under the amended criteria (delivery 1..30)
    expect = pu.evaluate(criteria(30), {
        acks["supplier1"]["offer"]: {"price": "800.00", "values": {"delivery": 10}},
        acks["supplier3"]["offer"]: {"price": "890.00", "values": {"delivery": 10}}})
    assert [r["rank"] for r in rec] == [1, 2], rec
    for r in rec:
        assert (r["breakdown"], r["total"]) == expect[r["offer"]], r
    # the unconfirmed bid did not open: withdrawn, still marked
    m2 = get(s["supplier2"], pid)["your_offers"]
    assert [(x["status"], x["needs_confirm"], x["price"]) for x in m2] == [
        ("withdrawn", True, "850.00")], m2
    m4 = get(s["supplier4"], pid)["your_offers"]
    assert [(x["status"], x["needs_confirm"]) for x in m4] == [("withdrawn", False)], m4

    rows = env.psql("SELECT version, reason, document -> 'lots' -> 0 ->> 'max_price', "
                    "document ->> 'title' FROM audit.procurement_versions "
                    "WHERE procurement_id = %d ORDER BY version" % pid, user="auditor")
    assert rows == [["1", "", "100000", title], ["2", reason, "90000", title + " (v2)"]], rows
    rows = env.psql("SELECT version, title FROM audit.procurements WHERE procurement_id = %d"
                    % pid, user="auditor")
    assert rows == [["2", title + " (v2)"]], rows
    rows = env.psql("SELECT organization, revision, action FROM audit.offer_revisions "
                    "WHERE procurement_id = %d AND action <> 'submitted' "
                    "ORDER BY organization" % pid,
                    user="auditor")
    assert rows == [[env.org("supplier1"), "1", "confirmed"],
                    [env.org("supplier4"), "1", "withdrawn"]], rows
