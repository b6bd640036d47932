"""Decisions after the opening: a disqualification (with its reason) passes the award to the
next-ranked quote; a lot with fewer quotes than min_bids is unsuccessful at the opening, and a
procedure whose lots are all unsuccessful is unsuccessful as a whole."""
import pytest

from tdclient import parse_time

import procutil as pu
from procutil import get


@pytest.fixture(scope="module")
def server(module_tenderd_factory):
    return module_tenderd_factory()


def test_disqualification_and_unsuccessful_lots(env, server, unique):
    buyer = server.connect("buyer")
    s = {n: server.connect(n) for n in ("supplier1", "supplier2", "supplier3")}
    two_lots = [pu.lot("Gloves", "500.00"), pu.lot("Masks", "300.00")]
    # A: lot 1 gets three quotes, lot 2 one (min_bids 2: unsuccessful)
    pa = pu.create(buyer, "rfq", "Disqualify " + unique, lots=two_lots, min_bids=2)
    # B: one quote per lot, min_bids 2: every lot and the procedure unsuccessful
    pb = pu.create(buyer, "rfq", "Thin " + unique, lots=two_lots, min_bids=2)
    # C: a single quote, disqualified: the lot and the procedure are unsuccessful
    pc = pu.create(buyer, "rfq", "Lone " + unique, lots=[pu.lot("Soap", "100.00")])
    a, b, c = pa["id"], pb["id"], pc["id"]
    assert [x["id"] for x in pa["lots"]] == [1, 2]
    watcher = server.connect("supplier4")
    watcher.ok("procurement.watch", procurement=b)

    pu.wait_tendering(buyer, pc)
    q = {}
    q["s1"] = s["supplier1"].ok("quote.submit", procurement=a, lot=1, price="400.00")
    q["s2"] = s["supplier2"].ok("quote.submit", procurement=a, lot=1, price="410.00")
    q["s3"] = s["supplier3"].ok("quote.submit", procurement=a, lot=1, price="420.00")
    q["s1l2"] = s["supplier1"].ok("quote.submit", procurement=a, lot=2, price="250.00")
    s["supplier1"].ok("quote.submit", procurement=b, lot=1, price="450.00")
    s["supplier2"].ok("quote.submit", procurement=b, lot=2, price="280.00")
    lone = s["supplier3"].ok("quote.submit", procurement=c, lot=1, price="90.00")
    assert [l["offers"] for l in get(buyer, a)["lots"]] == [3, 1]

    # B: the opening leaves no lot standing
    # (one event: the opening that decides the procedure is reported as "decided")
    ev, seen = pu.wait_update(watcher, b, "decided", timeout=8)
    assert [x["reason"] for x in seen if x["reason"] != "offers"] in (
        ["changed"], ["changed", "opened"]), seen
    # each new quote on B was announced with its lot's count, nothing more
    assert [[l["offers"] for l in x["procurement"]["lots"]] for x in seen
            if x["reason"] == "offers"] == [[1, 0], [1, 1]], seen
    vb = ev["procurement"]
    opening_at = pb["opening_at"]
    assert vb["state"] == "unsuccessful", vb
    assert [l["state"] for l in vb["lots"]] == ["unsuccessful", "unsuccessful"], vb
    assert vb["opened_at"] == opening_at and vb["decided_at"] == opening_at, vb
    # the lone quotes stay on the record but cannot be decided
    assert [[(r["price"], r["status"]) for r in l["opening"]] for l in vb["lots"]] == [
        [("450.00", "active")], [("280.00", "active")]], vb
    e = buyer.error("award.decide", procurement=b, lot=1,
                    offer=vb["lots"][0]["opening"][0]["offer"], decision="award")
    assert e["code"] == "bad_state", e
    e = buyer.error("procurement.complete", procurement=b)
    assert e["code"] == "bad_state", e
    e = buyer.error("procurement.cancel", procurement=b, reason="after the fact")
    assert e["code"] == "bad_state", e
    rows = env.psql("SELECT state, %s, %s FROM audit.procurements WHERE procurement_id = %d"
                    % ("decided_at = opened_at", "closed_at = opened_at", b), user="auditor")
    assert rows == [["unsuccessful", "t", "t"]], rows

    # A: lot 2 is unsuccessful, lot 1 open for a decision
    va = pu.wait_state(buyer, a, "opened", timeout=5)
    assert [l["state"] for l in va["lots"]] == ["active", "unsuccessful"], va
    rec = va["lots"][0]["opening"]
    assert [(r["rank"], r["offer"], r["price"]) for r in rec] == [
        (1, q["s1"]["offer"], "400.00"), (2, q["s2"]["offer"], "410.00"),
        (3, q["s3"]["offer"], "420.00")], rec
    e = buyer.error("award.decide", procurement=a, lot=2, offer=q["s1l2"]["offer"],
                    decision="award")
    assert e["code"] == "bad_state", e
    # a disqualification needs a reason and the first-ranked quote
    e = buyer.error("award.decide", procurement=a, lot=1, offer=q["s1"]["offer"],
                    decision="disqualify")
    assert (e["code"], e.get("field")) == ("missing_field", "reason"), e
    e = buyer.error("award.decide", procurement=a, lot=1, offer=q["s2"]["offer"],
                    decision="disqualify", reason="Not first")
    assert e["code"] == "not_first_ranked", e
    e = buyer.error("award.decide", procurement=a, lot=1, offer=q["s1"]["offer"],
                    decision="reject", reason="x")
    assert e["code"] == "bad_field", e
    e = buyer.error("award.decide", procurement=a, lot=1, offer=q["s1l2"]["offer"],
                    decision="award")
    assert e["code"] == "no_offer", e
    assert get(buyer, a)["state"] == "opened"  # refusals changed nothing

    v = buyer.ok("award.decide", procurement=a, lot=1, offer=q["s1"]["offer"],
                 decision="disqualify", reason="No ISO 13485 certificate")["procurement"]
    assert v["state"] == "evaluation", v
    rec = v["lots"][0]["opening"]
    assert [(r["rank"], r["offer"], r["status"]) for r in rec] == [
        (1, q["s2"]["offer"], "active"), (2, q["s3"]["offer"], "active"),
        (None, q["s1"]["offer"], "disqualified")], rec
    assert rec[2]["disqualification_reason"] == "No ISO 13485 certificate", rec[2]
    assert rec[2]["price"] == "400.00"
    assert "disqualification_reason" not in rec[0]
    # the lowest price left sets the scale of the price scores
    assert [r.get("total") for r in rec[:2]] == [
        "100.00", pu.points(pu.rdiv(10000 * 41000, 42000))], rec
    # the disqualified quote's author sees it
    mine = get(s["supplier1"], a)["your_offers"]
    assert sorted((x["lot"], x["status"]) for x in mine) == [(1, "disqualified"),
                                                             (2, "active")], mine

    e = buyer.error("award.decide", procurement=a, lot=1, offer=q["s1"]["offer"],
                    decision="award")
    assert e["code"] == "not_first_ranked", e
    e = buyer.error("award.decide", procurement=a, lot=1, offer=q["s3"]["offer"],
                    decision="award")
    assert e["code"] == "not_first_ranked", e
    v = buyer.ok("award.decide", procurement=a, lot=1, offer=q["s2"]["offer"],
                 decision="award")["procurement"]
    assert v["state"] == "awarded", v
    assert [(l["state"], l["awarded_offer"]) for l in v["lots"]] == [
        ("awarded", q["s2"]["offer"]), ("unsuccessful", None)], v
    rows = env.psql("SELECT kind, lot_id, offer_id, organization, detail ->> 'reason' "
                    "FROM audit.procurement_log WHERE procurement_id = %d AND kind IN "
                    "('disqualified', 'awarded') ORDER BY log_id" % a, user="auditor")
    assert rows == [["disqualified", "1", str(q["s1"]["offer"]), env.org("buyer"),
                     "No ISO 13485 certificate"],
                    ["awarded", "1", str(q["s2"]["offer"]), env.org("buyer"), ""]], rows

    # C: the only quote disqualified leaves the lot, and so the procedure, unsuccessful
    vc = pu.wait_state(buyer, c, "opened", timeout=5)
    v = buyer.ok("award.decide", procurement=c, lot=1, offer=lone["offer"],
                 decision="disqualify", reason="Expired registration")["procurement"]
    assert v["state"] == "unsuccessful", v
    assert v["lots"][0]["state"] == "unsuccessful" and v["lots"][0]["awarded_offer"] is None
    assert parse_time(v["decided_at"]) > parse_time(vc["opened_at"])
    assert [(r["rank"], r["status"]) for r in v["lots"][0]["opening"]] == [
        (None, "disqualified")], v


def test_refused_decisions_and_scores_send_no_update(env, server, unique):
    """A refused award, disqualification or score changes nothing, so watchers hear
    nothing; the accepted decision that follows is announced."""
    buyer = server.connect("buyer")
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    p = pu.create(buyer, "rfq", "Quiet refusals " + unique, lots=[pu.lot("Gloves", "500.00")])
    pid = p["id"]
    pu.wait_tendering(buyer, p)
    first = s1.ok("quote.submit", procurement=pid, lot=1, price="400.00")
    second = s2.ok("quote.submit", procurement=pid, lot=1, price="450.00")
    pu.wait_opened(buyer, p)
    watcher = server.connect("supplier4")
    watcher.ok("procurement.watch", procurement=pid)

    e = buyer.error("award.decide", procurement=pid, lot=1, offer=second["offer"],
                    decision="award")
    assert e["code"] == "not_first_ranked", e
    e = buyer.error("award.decide", procurement=pid, lot=1, offer=second["offer"],
                    decision="disqualify", reason="Not first")
    assert e["code"] == "not_first_ranked", e
    e = buyer.error("bid.score", procurement=pid, offer=first["offer"], scores={"quality": 5})
    assert e["code"] == "bad_score", e  # an RFQ has no scored criterion
    watcher.no_event(within=0.6)

    v = buyer.ok("award.decide", procurement=pid, lot=1, offer=first["offer"],
                 decision="award")["procurement"]
    assert v["state"] == "awarded", v
    ev, seen = pu.wait_update(watcher, pid, "decided", timeout=5)
    assert seen == [], seen
    assert ev["procurement"]["state"] == "awarded"
