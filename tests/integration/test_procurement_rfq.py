"""An RFQ with three suppliers from the draft to the signed contract: visibility of drafts,
questions and answers, quotes revised and withdrawn, sealed quotes before the opening, the
opening by the server's clock, the opening record in rank order, the award and completion."""
import time

import pytest

import tdclient
from tdclient import parse_time

import procutil as pu
from procutil import get


@pytest.fixture(scope="module")
def server(module_tenderd_factory):
    return module_tenderd_factory()


def without_you(opening):
    out = []
    for row in opening:
        r = dict(row)
        r.pop("you", None)
        out.append(r)
    return out


def test_rfq_three_suppliers_to_award(env, server, unique):
    buyer = server.connect("buyer")
    s = {n: server.connect(n) for n in ("supplier1", "supplier2", "supplier3", "supplier4")}
    op = server.connect("operator")
    title = "RFQ paper " + unique
    # enquiries 1.5 s, quotes until 3.5 s, opening at 4.5 s
    p = pu.create(buyer, "rfq", title, deadline=3500, opening=4500, min_bids=2, publish=False,
                  lots=[pu.lot("A4 paper", "1000.00",
                               items=[pu.item("A4 paper, 80 g/m2", "1200", "ream")])])
    pid = p["id"]
    lot = p["lots"][0]
    assert lot["id"] == 1 and lot["max_price"] == "1000.00" and lot["offers"] == 0
    assert lot["items"] == [{"description": "A4 paper, 80 g/m2", "quantity": "1200",
                             "unit": "ream", "classification": "30197630-1"}]
    assert [c["kind"] for c in lot["criteria"]] == ["price"]
    assert lot["criteria"][0]["weight"] == "100.00"

    # a draft is the buyer's: suppliers and other buyers do not see it at all
    for c in (s["supplier1"], server.connect("buyer2")):
        e = c.error("procurement.get", procurement=pid)
        assert e["code"] == "not_found", e
        assert pid not in [x["id"] for x in c.ok("procurement.list")["procurements"]]
    e = s["supplier1"].error("quote.submit", procurement=pid, lot=1, price="900.00")
    assert e["code"] == "not_found", e
    assert get(op, pid)["state"] == "draft"
    e = s["supplier1"].error("question.ask", procurement=pid, text="Visible?")
    assert e["code"] == "not_found", e

    p = buyer.ok("procurement.publish", procurement=pid)["procurement"]
    assert p["state"] == "published"
    e = buyer.error("procurement.publish", procurement=pid)
    assert e["code"] == "bad_state", e
    listed = [x for x in s["supplier1"].ok("procurement.list", kind="rfq")["procurements"]
              if x["id"] == pid]
    assert listed and listed[0]["state"] == "published" and listed[0]["title"] == title

    # enquiries: a supplier asks, the buyer answers
    e = s["supplier3"].error("quote.submit", procurement=pid, lot=1, price="900.00")
    assert e["code"] == "submissions_not_open", e
    e = buyer.error("question.ask", procurement=pid, text="May a buyer ask?")
    assert e["code"] == "forbidden", e
    qtext = "Is recycled paper acceptable? " + unique
    q = s["supplier3"].ok("question.ask", procurement=pid, text=qtext)["question"]
    e = s["supplier3"].error("question.answer", procurement=pid, question=q, text="Me")
    assert e["code"] == "forbidden", e
    e = server.connect("buyer2").error("question.answer", procurement=pid, question=q,
                                       text="Not mine")
    assert e["code"] == "forbidden", e
    v = buyer.ok("question.answer", procurement=pid, question=q,
                 text="Yes, if it meets ISO 9706")["procurement"]
    e = buyer.error("question.answer", procurement=pid, question=q, text="Twice")
    assert e["code"] == "bad_state", e
    asker_org = env.org("supplier3")
    for who, c in [("buyer", buyer), ("supplier1", s["supplier1"]),
                   ("supplier3", s["supplier3"]), ("operator", op)]:
        view = get(c, pid)
        qs = view["questions"]
        assert len(qs) == 1, (who, qs)
        assert set(qs[0]) == {"id", "text", "asked_at", "answer", "answered_at"}, (who, qs)
        assert (qs[0]["id"], qs[0]["text"], qs[0]["answer"]) == (
            q, qtext, "Yes, if it meets ISO 9706"), (who, qs)
        assert parse_time(qs[0]["asked_at"]) <= parse_time(qs[0]["answered_at"])
        # the asker's identity is nowhere in the procurement
        strings = set(pu.walk_strings(view))
        for ident in (asker_org, env.participants["supplier3"]["name"],
                      env.participants["supplier3"]["fingerprint"]):
            assert ident not in strings, (who, ident, view)
    rows = env.psql("SELECT question_id, text, asked_by_organization, answer IS NOT NULL "
                    "FROM audit.questions WHERE procurement_id = %d" % pid, user="auditor")
    assert rows == [[str(q), qtext, asker_org, "t"]], rows

    # tendering
    pu.wait_tendering(buyer, p)
    e = s["supplier2"].error("question.ask", procurement=pid, text="Too late?")
    assert e["code"] == "bad_state", e
    e = buyer.error("quote.submit", procurement=pid, lot=1, price="900.00")
    assert e["code"] == "forbidden", e
    e = s["supplier1"].error("bid.submit", procurement=pid, lot=1, price="900.00")
    assert e["code"] == "wrong_kind", e

    a1 = s["supplier1"].ok("quote.submit", procurement=pid, lot=1, price="900.00",
                           delivery_days=10, validity_days=30, comment="From stock")
    assert (a1["lot"], a1["revision"], a1["status"]) == (1, 1, "active"), a1
    a2 = s["supplier2"].ok("quote.submit", procurement=pid, lot=1, price="850.00",
                           delivery_days=14)
    assert a2["revision"] == 1 and a2["offer"] != a1["offer"]
    time.sleep(0.02)  # a later millisecond: the revision loses its place among equal prices
    r1 = s["supplier1"].ok("quote.submit", procurement=pid, lot=1, price="850.00",
                           delivery_days=7, validity_days=45, comment="Revised")
    assert (r1["offer"], r1["revision"], r1["status"]) == (a1["offer"], 2, "active"), r1
    assert parse_time(r1["at"]) > parse_time(a2["at"])
    a3 = s["supplier3"].ok("quote.submit", procurement=pid, lot=1, price="950.00")
    w3 = s["supplier3"].ok("quote.withdraw", procurement=pid, lot=1)
    assert (w3["offer"], w3["status"]) == (a3["offer"], "withdrawn"), w3
    assert get(buyer, pid)["lots"][0]["offers"] == 2
    e = s["supplier3"].error("quote.withdraw", procurement=pid, lot=1)
    assert e["code"] == "no_offer", e
    e = s["supplier4"].error("quote.confirm", procurement=pid, lot=1)
    assert e["code"] == "no_offer", e
    r3 = s["supplier3"].ok("quote.submit", procurement=pid, lot=1, price="920.00")
    assert (r3["offer"], r3["revision"], r3["status"]) == (a3["offer"], 2, "active"), r3
    e = s["supplier4"].error("quote.submit", procurement=pid, lot=2, price="900.00")
    assert e["code"] == "not_found", e
    e = s["supplier4"].error("quote.submit", procurement=pid, lot=1, price="1000.01")
    assert e["code"] == "bad_price", e

    # sealed: the author sees its quote, nobody else sees any price
    prices = ["900.00", "850.00", "920.00", "950.00"]
    mine = get(s["supplier1"], pid)["your_offers"]
    assert len(mine) == 1, mine
    m = mine[0]
    assert (m["offer"], m["lot"], m["price"], m["revision"], m["status"], m["needs_confirm"],
            m["submitted_at"]) == (a1["offer"], 1, "850.00", 2, "active", False, r1["at"]), m
    assert (m.get("delivery_days"), m.get("validity_days"), m.get("comment")) == (
        7, 45, "Revised"), m
    m3 = get(s["supplier3"], pid)["your_offers"]
    assert [(x["offer"], x["price"], x["revision"], x["status"]) for x in m3] == [
        (a3["offer"], "920.00", 2, "active")], m3
    for who, c, own in [("buyer", buyer, ()), ("operator", op, ()),
                        ("supplier4", s["supplier4"], ()),
                        ("supplier2", s["supplier2"], ("850.00",))]:
        view = get(c, pid)
        assert view["state"] == "tendering" and view["lots"][0]["offers"] == 3, (who, view)
        pu.assert_sealed(view, [x for x in prices if x not in own], who, own)
        if who in ("buyer", "operator"):
            assert "your_offers" not in view, (who, view)
        elif who == "supplier4":
            assert view["your_offers"] == [], view
    assert [x["offer"] for x in get(s["supplier2"], pid)["your_offers"]] == [a2["offer"]]

    watcher = server.connect("buyer")
    watcher.ok("procurement.watch", procurement=pid)

    # after the deadline, before the opening
    pu.sleep_until(buyer, parse_time(p["submission_deadline"]) + 5, max_wait=4)
    e = s["supplier4"].error("quote.submit", procurement=pid, lot=1, price="800.00")
    assert e["code"] == "deadline_passed", e
    e = s["supplier1"].error("quote.withdraw", procurement=pid, lot=1)
    assert e["code"] == "deadline_passed", e

    # the opening comes by itself at opening_at, nobody asking
    ev, _ = pu.wait_update(watcher, pid, "opened", timeout=8)
    got = tdclient.now_ms()
    opened = ev["procurement"]
    assert opened["state"] == "opened", opened
    assert opened["opened_at"] == p["opening_at"], opened
    assert got - parse_time(p["opening_at"]) < 2000, "opened %d ms late" % (
        got - parse_time(p["opening_at"]))

    lowest = pu.minor("850.00")
    expect = [
        (1, a2["offer"], env.org("supplier2"), "850.00", a2["at"], "100.00"),
        (2, a1["offer"], env.org("supplier1"), "850.00", r1["at"], "100.00"),
        (3, a3["offer"], env.org("supplier3"), "920.00", r3["at"],
         pu.points(pu.rdiv(10000 * lowest, pu.minor("920.00")))),
    ]
    assert expect[2][5] == "92.39"
    rec = opened["lots"][0]["opening"]
    assert [(r["rank"], r["offer"], r["organization"], r["price"], r["submitted_at"],
             r["total"]) for r in rec] == expect, rec
    for r, x in zip(rec, expect):
        assert r["status"] == "active"
        assert r["breakdown"] == [{"criterion": "price", "score": x[5], "weighted": x[5]}], r
    assert (rec[1]["delivery_days"], rec[1]["validity_days"], rec[1]["comment"]) == (
        7, 45, "Revised"), rec[1]
    assert opened["lots"][0]["offers"] == 3
    # the same record for everyone
    for who in ("supplier1", "supplier4", "operator", "buyer2"):
        c = s.get(who) or server.connect(who)
        v = get(c, pid)
        assert without_you(v["lots"][0]["opening"]) == without_you(rec), who
        if who == "supplier1":
            assert [r.get("you") for r in v["lots"][0]["opening"]] == [None, True, None]
    rows = env.psql("SELECT organization, revision, action, price FROM audit.offer_revisions "
                    "WHERE procurement_id = %d ORDER BY organization, revision, action" % pid,
                    user="auditor")
    assert rows == [[env.org("supplier1"), "1", "submitted", "900.00"],
                    [env.org("supplier1"), "2", "submitted", "850.00"],
                    [env.org("supplier2"), "1", "submitted", "850.00"],
                    [env.org("supplier3"), "1", "submitted", "950.00"],
                    [env.org("supplier3"), "1", "withdrawn", ""],
                    [env.org("supplier3"), "2", "submitted", "920.00"]], rows

    # only the first-ranked quote may be awarded
    e = s["supplier1"].error("award.decide", procurement=pid, lot=1, offer=a2["offer"],
                             decision="award")
    assert e["code"] == "forbidden", e
    e = server.connect("buyer2").error("award.decide", procurement=pid, lot=1,
                                       offer=a2["offer"], decision="award")
    assert e["code"] == "forbidden", e
    e = buyer.error("award.decide", procurement=pid, lot=1, offer=a1["offer"], decision="award")
    assert e["code"] == "not_first_ranked", e
    e = buyer.error("award.decide", procurement=pid, lot=1, offer=a3["offer"], decision="award")
    assert e["code"] == "not_first_ranked", e
    e = buyer.error("award.decide", procurement=pid, lot=2, offer=a2["offer"], decision="award")
    assert e["code"] == "not_found", e
    e = buyer.error("procurement.complete", procurement=pid)
    assert e["code"] == "bad_state", e
    v = buyer.ok("award.decide", procurement=pid, lot=1, offer=a2["offer"],
                 decision="award")["procurement"]
    assert v["state"] == "awarded", v
    assert v["lots"][0]["state"] == "awarded" and v["lots"][0]["awarded_offer"] == a2["offer"]
    assert v["decided_at"] is not None
    assert [(r["rank"], r["offer"], r["status"]) for r in v["lots"][0]["opening"]] == [
        (1, a2["offer"], "awarded"), (2, a1["offer"], "active"), (3, a3["offer"], "active")]
    ev, _ = pu.wait_update(watcher, pid, "decided", timeout=5)
    assert ev["procurement"]["state"] == "awarded"
    e = buyer.error("award.decide", procurement=pid, lot=1, offer=a1["offer"], decision="award")
    assert e["code"] == "bad_state", e
    e = s["supplier4"].error("quote.submit", procurement=pid, lot=1, price="800.00")
    assert e["code"] == "bad_state", e
    e = op.error("procurement.cancel", procurement=pid, reason="too late")
    assert e["code"] == "bad_state", e
    mine = get(s["supplier2"], pid)["your_offers"]
    assert [(x["offer"], x["status"]) for x in mine] == [(a2["offer"], "awarded")], mine

    e = server.connect("buyer2").error("procurement.complete", procurement=pid)
    assert e["code"] == "forbidden", e
    v = buyer.ok("procurement.complete", procurement=pid)["procurement"]
    assert v["state"] == "complete", v
    e = buyer.error("procurement.complete", procurement=pid)
    assert e["code"] == "bad_state", e
    for c in (s["supplier3"], op):
        assert get(c, pid)["state"] == "complete"
    rows = env.psql("SELECT state, version, opened_at IS NOT NULL, decided_at IS NOT NULL, "
                    "closed_at IS NOT NULL FROM audit.procurements WHERE procurement_id = %d"
                    % pid, user="auditor")
    assert rows == [["complete", "1", "t", "t", "t"]], rows
    kinds = [r[0] for r in env.psql("SELECT kind FROM audit.procurement_log WHERE "
                                    "procurement_id = %d ORDER BY log_id" % pid,
                                    user="auditor")]
    assert kinds[:2] == ["created", "published"] and kinds[-2:] == ["awarded", "completed"], kinds
    for k in ("question_asked", "question_answered", "tendering", "offer_withdrawn", "opened"):
        assert k in kinds, (k, kinds)
    assert kinds.count("offer_submitted") == 5, kinds
    assert kinds.index("tendering") < kinds.index("offer_submitted") < kinds.index("opened")


def test_price_zero_or_negative_is_bad_price(env, server, unique):
    """docs/procedures.md, check 6 of an offer: "the price is zero or negative, or above the
    lot's maximum price" -> bad_price; docs/protocol.md lists bad_price for "not positive"."""
    buyer = server.connect("buyer")
    s1 = server.connect("supplier1")
    p = pu.create(buyer, "rfq", "Price sign " + unique, enquiry=1000)
    pu.wait_tendering(buyer, p)
    e = s1.error("quote.submit", procurement=p["id"], lot=1, price="1000.01")
    assert e["code"] == "bad_price", e
    got = {price: s1.error("quote.submit", procurement=p["id"], lot=1, price=price)
           for price in ("0.00", "0", "-1.00")}
    assert get(buyer, p["id"])["lots"][0]["offers"] == 0
    for price, e in got.items():
        assert e["code"] == "bad_price", (price, e)
