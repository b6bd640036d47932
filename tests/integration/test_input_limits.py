"""Per-participant input is bounded by configuration: questions per supplier organization
in one procurement, open procurements and open auctions per buyer organization, documents
per procurement. Each refusal is limit_exceeded naming the limit and its value, and the
count includes changes queued in the same batch."""
import hashlib
import json

import pytest

import procutil as pu
import tdclient


def new_participant(env, server, role, unique, tag):
    """Register a fresh certificate in a fresh organization; returns its name."""
    name = "%s%s%s" % (tag, role, unique)
    env.make_cert(name)
    with server.client("operator") as op:
        op.ok("participant.register", organization="Limit %s %s %s" % (tag, role, unique),
              role=role, name="Limit " + name, certificate=open(env.cert(name)).read())
    return name


def pipelined(client, op, n, **fields):
    """Send n requests without waiting (one batch), then collect the replies in order."""
    ids = [client.send(op, **fields) for _ in range(n)]
    return [client.reply(i) for i in ids]


def limit_error(r, name, value):
    assert r.get("ok") is False, r
    assert r["error"]["code"] == "limit_exceeded", r
    assert r["error"]["message"].startswith("%s (%d) reached" % (name, value)), r


def test_questions_per_supplier(env, tenderd_factory, unique):
    server = tenderd_factory(max_questions_per_supplier=3)
    buyer = server.connect("buyer")
    p = pu.create(buyer, "rfq", "Questions " + unique, enquiry=600000, deadline=700000,
                  opening=700000)
    s1 = server.connect("supplier1")
    # five at once: the count includes those queued in the same batch
    replies = pipelined(s1, "question.ask", 5, procurement=p["id"], text="Which paper?")
    assert [r.get("ok") for r in replies] == [True, True, True, False, False], replies
    limit_error(replies[3], "max_questions_per_supplier", 3)
    # another certificate of the same organization shares the count
    s1b = server.connect("supplier1")
    limit_error(s1b.request("question.ask", procurement=p["id"], text="Again?"),
                "max_questions_per_supplier", 3)
    # another organization has its own
    server.connect("supplier2").ok("question.ask", procurement=p["id"], text="Delivery?")
    # the questions still name nobody
    view = pu.get(server.connect("supplier3"), p["id"])
    assert len(view["questions"]) == 4, view
    for q in view["questions"]:
        assert set(q) == {"id", "text", "asked_at", "answer", "answered_at"}, q
    # the count survives a restart (replayed from the log)
    server.restart()
    limit_error(server.connect("supplier1").request("question.ask", procurement=p["id"],
                                                    text="After restart?"),
                "max_questions_per_supplier", 3)
    server.connect("supplier2").ok("question.ask", procurement=p["id"], text="And this?")


def test_open_procedures_per_buyer(env, tenderd_factory, unique):
    server = tenderd_factory(max_open_procedures_per_buyer=2)
    buyer = server.connect(new_participant(env, server, "buyer", unique, "proc"))
    now = pu.srv_now(buyer)
    req = {"kind": "rfq", "title": "Open " + unique, "currency": "RUB",
           "enquiry_end": tdclient.format_time(now + 600000),
           "submission_deadline": tdclient.format_time(now + 700000),
           "opening_at": tdclient.format_time(now + 700000), "lots": [pu.lot()]}
    replies = pipelined(buyer, "procurement.create", 3, **req)
    assert [r.get("ok") for r in replies] == [True, True, False], replies
    limit_error(replies[2], "max_open_procedures_per_buyer", 2)
    # a cancelled one is no longer open: its place is free
    buyer.ok("procurement.cancel", procurement=replies[0]["procurement"]["id"], reason="x")
    buyer.ok("procurement.create", **req)
    limit_error(buyer.request("procurement.create", **req), "max_open_procedures_per_buyer", 2)
    # other buyers are not affected
    other = server.connect("buyer2")
    pu.create(other, "rfq", "Other buyer " + unique, publish=False)


def test_open_auctions_per_buyer(env, tenderd_factory, unique):
    server = tenderd_factory(max_open_auctions_per_buyer=2)
    buyer = server.connect(new_participant(env, server, "buyer", unique, "auc"))
    req = {"title": "Auction " + unique, "currency": "RUB", "start_price": "1000.00",
           "duration": 600, "extension_window": 0, "extension": 0}
    replies = pipelined(buyer, "auction.create", 3, **req)
    assert [r.get("ok") for r in replies] == [True, True, False], replies
    limit_error(replies[2], "max_open_auctions_per_buyer", 2)
    buyer.ok("auction.cancel", auction=replies[0]["auction"]["id"], reason="x")
    buyer.ok("auction.create", **req)
    limit_error(buyer.request("auction.create", **req), "max_open_auctions_per_buyer", 2)
    tdclient.create_auction(server.connect("buyer2"), "Other buyer " + unique)


def test_documents_per_procedure(env, tenderd_factory, unique):
    server = tenderd_factory(max_documents_per_procedure=3)
    buyer = server.connect("buyer")

    def docs(*names):
        return [{"name": n, "media_type": "application/pdf", "size": 10,
                 "sha256": hashlib.sha256(n.encode()).hexdigest()} for n in names]

    p = pu.create(buyer, "rfq", "Documents " + unique, publish=False, enquiry=600000,
                  deadline=700000, opening=700000, documents=docs("a.pdf", "b.pdf"))
    amend = {k: p[k] for k in ("title", "enquiry_end", "submission_deadline", "opening_at")}
    amend["lots"] = [pu.lot()]
    buyer.ok("procurement.publish", procurement=p["id"])
    e = buyer.error("procurement.amend", procurement=p["id"], reason="more", documents=docs(
        "c.pdf", "d.pdf"), **amend)
    assert e["code"] == "limit_exceeded", e
    assert e["message"].startswith("max_documents_per_procedure (3) reached"), e
    v = buyer.ok("procurement.amend", procurement=p["id"], reason="one more",
                 documents=docs("c.pdf"), **amend)["procurement"]
    assert [d["name"] for d in v["documents"]] == ["a.pdf", "b.pdf", "c.pdf"], v
    e = buyer.error("procurement.amend", procurement=p["id"], reason="full",
                    documents=docs("e.pdf"), **amend)
    assert e["code"] == "limit_exceeded", e
    e = buyer.error("procurement.create", kind="rfq", title="Too many " + unique,
                    currency="RUB", enquiry_end=p["enquiry_end"],
                    submission_deadline=p["submission_deadline"], opening_at=p["opening_at"],
                    lots=[pu.lot()], documents=docs("1", "2", "3", "4"))
    assert e["code"] == "limit_exceeded" and "max_documents_per_procedure (3)" in e["message"], e


def test_default_question_limit(env, server, unique):
    """Without any setting, the documented default (20) holds."""
    buyer = server.connect("buyer")
    p = pu.create(buyer, "rfq", "Default questions " + unique, enquiry=600000, deadline=700000,
                  opening=700000)
    replies = pipelined(server.connect("supplier3"), "question.ask", 21, procurement=p["id"],
                        text="Question?")
    assert all(r.get("ok") for r in replies[:20]), replies
    limit_error(replies[20], "max_questions_per_supplier", 20)
    buyer.ok("procurement.cancel", procurement=p["id"], reason="test over")


def amendment_of(p, reason):
    """An amendment that restates procurement p's dates (as many lots as it has)."""
    fields = {k: p[k] for k in ("title", "enquiry_end", "submission_deadline", "opening_at")}
    return dict(fields, procurement=p["id"], reason=reason, lots=[pu.lot() for _ in p["lots"]])


def test_amendments_per_procedure(env, tenderd_factory, unique):
    server = tenderd_factory(max_amendments_per_procedure=3)
    buyer = server.connect(new_participant(env, server, "buyer", unique, "amend"))
    p = pu.create(buyer, "rfq", "Amendments " + unique, enquiry=600000, deadline=700000,
                  opening=700000)
    # four at once: the count includes those queued in the same batch
    replies = pipelined(buyer, "procurement.amend", 4, **amendment_of(p, "again"))
    assert [r.get("ok") for r in replies] == [True, True, True, False], replies
    assert replies[2]["procurement"]["version"] == 4, replies[2]
    limit_error(replies[3], "max_amendments_per_procedure", 3)
    # another procurement of the same buyer has its own count
    q = pu.create(buyer, "rfq", "Amendments other " + unique, enquiry=600000, deadline=700000,
                  opening=700000)
    buyer.ok("procurement.amend", **amendment_of(q, "first"))
    # the count survives a restart (replayed from the log)
    server.restart()
    buyer = server.connect(buyer.name)
    limit_error(buyer.request("procurement.amend", **amendment_of(p, "after restart")),
                "max_amendments_per_procedure", 3)
    assert pu.get(buyer, p["id"])["version"] == 4
    buyer.ok("procurement.amend", **amendment_of(q, "second"))


def tendering_rfq(buyer, title):
    """A published RFQ open for quotes for a minute."""
    p = pu.create(buyer, "rfq", title, lots=[pu.lot("One"), pu.lot("Two")], enquiry=800,
                  deadline=60000, opening=60000)
    pu.wait_tendering(buyer, p)
    return p


def test_offer_revisions(env, tenderd_factory, unique):
    server = tenderd_factory(max_offer_revisions=3)
    buyer = server.connect("buyer")
    p = tendering_rfq(buyer, "Revisions " + unique)
    s1 = server.connect("supplier1")
    # four submissions at once: the first and two revisions pass
    ids = [s1.send("quote.submit", procurement=p["id"], lot=1, price="9%02d.00" % n)
           for n in range(4)]
    replies = [s1.reply(i) for i in ids]
    assert [r.get("ok") for r in replies] == [True, True, True, False], replies
    assert [r.get("revision") for r in replies[:3]] == [1, 2, 3], replies
    limit_error(replies[3], "max_offer_revisions", 3)
    # a withdrawal does not reopen the count: the next submission is refused
    s1.ok("quote.withdraw", procurement=p["id"], lot=1)
    limit_error(s1.request("quote.submit", procurement=p["id"], lot=1, price="800.00"),
                "max_offer_revisions", 3)
    # another certificate of the same organization shares the count
    limit_error(server.connect("supplier1").request("quote.submit", procurement=p["id"], lot=1,
                                                    price="800.00"),
                "max_offer_revisions", 3)
    # another lot, another organization: their own counts
    s1.ok("quote.submit", procurement=p["id"], lot=2, price="800.00")
    server.connect("supplier2").ok("quote.submit", procurement=p["id"], lot=1, price="850.00")
    # the count survives a restart (replayed from the log)
    server.restart()
    limit_error(server.connect("supplier1").request("quote.submit", procurement=p["id"], lot=1,
                                                    price="700.00"),
                "max_offer_revisions", 3)
    buyer = server.connect("buyer")
    buyer.ok("procurement.cancel", procurement=p["id"], reason="test over")


def test_confirm_only_when_needed(env, server, unique):
    """A confirmation that changes nothing is refused: confirmations stay bounded by the
    amendments, and two of them in one batch no longer fail everybody's changes in it."""
    buyer = server.connect("buyer")
    p = tendering_rfq(buyer, "Confirmations " + unique)
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    s1.ok("quote.submit", procurement=p["id"], lot=1, price="900.00")
    e = s1.error("quote.confirm", procurement=p["id"], lot=1)
    assert e["code"] == "bad_state", e
    assert e["message"].startswith("the offer needs no confirmation"), e
    v = buyer.ok("procurement.amend", **amendment_of(p, "confirm please"))["procurement"]
    assert v["version"] == 2, v
    # a burst of confirmations and, in the same batch, another supplier's quote
    ids = [s1.send("quote.confirm", procurement=p["id"], lot=1) for _ in range(4)]
    other = s2.send("quote.submit", procurement=p["id"], lot=1, price="950.00")
    replies = [s1.reply(i) for i in ids]
    assert replies[0].get("ok") is True and replies[0]["revision"] == 1, replies
    for r in replies[1:]:
        assert r.get("ok") is False and r["error"]["code"] == "bad_state", replies
        assert "version 2" in r["error"]["message"], r
    assert s2.reply(other).get("ok") is True
    mine = pu.get(s1, p["id"])["your_offers"][0]
    assert (mine["needs_confirm"], mine["revision"]) == (False, 1), mine
    rows = env.psql("SELECT count(*) FROM offer_revisions r JOIN offers o ON o.id = r.offer_id "
                    "WHERE o.procurement_id = %d AND r.action = 'confirmed'" % p["id"])
    assert int(rows[0][0]) == 1, rows
    buyer.ok("procurement.cancel", procurement=p["id"], reason="test over")


def test_bids_per_bidder(env, tenderd_factory, unique):
    """Accepted and refused bids are both recorded, so both count; beyond the limit a bid
    is refused without a trace."""
    server = tenderd_factory(max_bids_per_bidder=3)
    a = tdclient.create_auction(server.connect("buyer"), "Bids " + unique, duration=120)
    s1 = server.connect("supplier1")
    # one bid, then the same amount again (refused, recorded), then the limit
    replies = pipelined(s1, "auction.bid", 5, auction=a["id"], amount="990000.00")
    assert replies[0].get("ok") is True, replies
    assert [r["error"]["code"] for r in replies[1:3]] == ["bid_not_below_own"] * 2, replies
    for r in replies[3:]:
        limit_error(r, "max_bids_per_bidder", 3)
    # another certificate of the same organization shares the count; another
    # organization has its own
    limit_error(server.connect("supplier1").request("auction.bid", auction=a["id"],
                                                    amount="900000.00"),
                "max_bids_per_bidder", 3)
    server.connect("supplier2").ok("auction.bid", auction=a["id"], amount="985000.00")
    rows = env.psql("SELECT (SELECT count(*) FROM bids WHERE auction_id = %d), (SELECT "
                    "count(*) FROM auction_log WHERE auction_id = %d AND kind = 'bid_refused')"
                    % (a["id"], a["id"]))
    assert [int(x) for x in rows[0]] == [2, 2], rows  # the refusals of the limit leave none
    # the count survives a restart (bids and recorded refusals)
    server.restart()
    limit_error(server.connect("supplier1").request("auction.bid", auction=a["id"],
                                                    amount="980000.00"),
                "max_bids_per_bidder", 3)
    server.connect("supplier3").ok("auction.bid", auction=a["id"], amount="980000.00")


def test_documents_of_pipelined_amendments(env, tenderd_factory, unique):
    """Amendments sent together are checked against the documents of those before them,
    not only against the procurement as it was when they arrived."""
    server = tenderd_factory(max_documents_per_procedure=3)
    buyer = server.connect("buyer")

    def docs(*names):
        return [{"name": n, "media_type": "application/pdf", "size": 10,
                 "sha256": hashlib.sha256(n.encode()).hexdigest()} for n in names]

    p = pu.create(buyer, "rfq", "Pipelined documents " + unique, enquiry=600000,
                  deadline=700000, opening=700000, documents=docs("a.pdf", "b.pdf"))
    # in one write: all three are read before the first is applied
    buyer.send_raw("".join(buyer.signed_line("procurement.amend", 100 + n,
                                             **dict(amendment_of(p, "annex %d" % n),
                                                    documents=docs("annex%d.pdf" % n)))
                           for n in range(3)))
    replies = [buyer.reply(100 + n) for n in range(3)]
    assert [r.get("ok") for r in replies] == [True, False, False], replies
    for r in replies[1:]:
        limit_error(r, "max_documents_per_procedure", 3)
        assert r["error"]["message"].endswith("the procurement has 3 documents and this adds 1"), r
        assert r["error"].get("field") == "documents", r
    v = pu.get(buyer, p["id"])
    assert [d["name"] for d in v["documents"]] == ["a.pdf", "b.pdf", "annex0.pdf"], v
    assert v["version"] == 2, v


SCORED = [{"kind": "price", "weight": "80"},
          {"code": "quality", "name": "Quality", "kind": "scored", "weight": "10", "max": 10},
          {"code": "service", "name": "Service", "kind": "scored", "weight": "10", "max": 10}]


def opened_tender(server, title):
    """A tender with two buyer-scored criteria, one bid, opened; (buyer, procurement, offer)."""
    buyer = server.connect("buyer")
    p = pu.create(buyer, "tender", title, lots=[pu.lot("Lot", "1000.00", criteria=SCORED)])
    pu.wait_tendering(buyer, p)
    offer = server.connect("supplier1").ok("bid.submit", procurement=p["id"], lot=1,
                                           price="900.00")["offer"]
    pu.wait_opened(buyer, p)
    return buyer, p, offer


def scores_of(buyer, pid):
    row = pu.get(buyer, pid)["lots"][0]["opening"][0]
    return {b["criterion"]: b["score"] for b in row["breakdown"] if b["criterion"] != "price"}


def test_scorings_per_offer(env, tenderd_factory, unique):
    server = tenderd_factory(max_scorings_per_offer=2)
    buyer, p, offer = opened_tender(server, "Scorings " + unique)
    replies = pipelined(buyer, "bid.score", 3, procurement=p["id"], offer=offer,
                        scores={"quality": 7})
    assert [r.get("ok") for r in replies] == [True, True, False], replies
    limit_error(replies[2], "max_scorings_per_offer", 2)
    # the count survives a restart (replayed from the log)
    server.restart()
    buyer = server.connect("buyer")
    limit_error(buyer.request("bid.score", procurement=p["id"], offer=offer,
                              scores={"service": 5}), "max_scorings_per_offer", 2)
    assert scores_of(buyer, p["id"])["service"] is None


def test_refused_scores_change_nothing(env, server, unique):
    """A bid.score with one bad score among good ones is refused whole: the good ones are not
    given either (they were kept in memory, unrecorded, and lost at the next restart)."""
    buyer, p, offer = opened_tender(server, "Partial scores " + unique)
    e = buyer.error("bid.score", procurement=p["id"], offer=offer,
                    scores={"quality": 7, "service": 11})
    assert e["code"] == "bad_score", e
    e = buyer.error("bid.score", procurement=p["id"], offer=offer,
                    scores={"quality": 7, "nonesuch": 1})
    assert e["code"] == "bad_score", e
    assert scores_of(buyer, p["id"]) == {"quality": None, "service": None}
    buyer.ok("bid.score", procurement=p["id"], offer=offer, scores={"quality": 7, "service": 5})
    got = scores_of(buyer, p["id"])
    assert got["quality"] is not None and got["service"] is not None, got
    assert float(got["quality"]) > float(got["service"]) > 0, got
