"""The exact text of procurement log rows.

Every change of a procedure is a log row whose `detail` is replayed at start-up, so the
text tenderd writes must not drift: same keys, same key order, same values, for the same
requests. The log of every change keeps the bytes tenderd wrote (`changes.body`, text, never
re-encoded), so they are read from there. A rich tender (two lots, criteria,
documents, questions, offers with their details, an amendment, confirmation, withdrawal,
opening, scores, decisions) and a tender_auction's settings are played, and every row is
compared with the golden rows in proc_log_golden.json after replacing what differs from run
to run (ids, times) by tokens. The procedure must also come back the same after a restart
(the rows replay)."""
import base64
import hashlib
import json
import os
import pathlib

import tdclient
from tdclient import format_time

import procutil as pu
from procutil import get

GOLDEN = pathlib.Path(__file__).with_name("proc_log_golden.json")
TIME_KEYS = ("published_at", "opened_at", "decided_at", "closed_at", "enquiry_end",
             "submission_deadline", "opening_at", "submitted_at")
CRITERIA = [
    {"kind": "price", "weight": "60"},
    {"code": "delivery", "name": "Délai de livraison", "kind": "stated", "weight": "20",
     "better": "lower", "min": 1, "max": 60, "unit": "days"},
    {"code": "quality", "name": "Quality \"A\"", "kind": "scored", "weight": "20", "max": 10},
]
SPEC = b"Specification: 40 beds, \"grade A\"\n"


def b64(data):
    return base64.b64encode(data).decode()


def tender_req(now, title, documents, description="Beds and linen\nfor ward 3"):
    """The request of the tender (create, and amend without kind and currency)."""
    return {"kind": "tender", "title": title, "currency": pu.CURRENCY,
            "description": description,
            "enquiry_end": format_time(now + 1500),
            "submission_deadline": format_time(now + 5000),
            "opening_at": format_time(now + 5000), "min_bids": 2,
            "lots": [pu.lot("Beds", "2000.00", criteria=CRITERIA,
                            items=[pu.item("Bed, hospital", "40", "pcs"),
                                   {"description": "Mattress", "quantity": "40.5",
                                    "unit": "pcs"}]),
                     pu.lot("Linen", "500.50")],
            "documents": documents}


def normalize(detail, tokens):
    """The detail with ids and times replaced by tokens (dicts keep their order)."""
    def walk(v, key=None):
        if isinstance(v, dict):
            return {k: walk(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, key) for x in v]
        if key in TIME_KEYS:
            return "<time>"
        if key == "salt":
            # a sealed submission's 128 random bits (docs/trust.md)
            assert isinstance(v, str) and len(v) == 32 and int(v, 16) >= 0, v
            return "<salt>"
        if key in ("procurement", "offer", "buyer_participant", "buyer_org") and \
                isinstance(v, int):
            return tokens.setdefault((key, v), "<%s %d>" % (key, sum(
                1 for k in tokens if k[0] == key) + 1))
        return v
    return walk(detail)


def play(env, server):
    """The procedures whose rows are pinned; returns their ids."""
    buyer = server.connect("buyer")
    s = {n: server.connect(n) for n in ("supplier1", "supplier2")}
    now = pu.srv_now(buyer)
    docs = [{"name": "spec.txt", "media_type": "text/plain", "content": b64(SPEC)},
            {"name": "plans.dwg", "media_type": "application/acad", "size": 123456,
             "sha256": hashlib.sha256(b"plans").hexdigest()}]
    req = tender_req(now, "Hospital beds", docs)
    p = buyer.ok("procurement.create", **req)["procurement"]
    pid = p["id"]
    buyer.ok("procurement.publish", procurement=pid)
    q1 = s["supplier1"].ok("question.ask", procurement=pid, text="Which mattress?")["question"]
    s["supplier2"].ok("question.ask", procurement=pid, text="Delivery 'by' truck?")
    buyer.ok("question.answer", procurement=pid, question=q1, text="Foam, 12 cm")
    pu.wait_tendering(buyer, p)
    o1 = s["supplier1"].ok("bid.submit", procurement=pid, lot=1, price="1900.00",
                           values={"delivery": 20}, delivery_days=20, validity_days=90,
                           comment="Incl. \"assembly\"")["offer"]
    s["supplier2"].ok("bid.submit", procurement=pid, lot=1, price="1950.5",
                      values={"delivery": 30})
    s["supplier1"].ok("bid.submit", procurement=pid, lot=2, price="450.00")
    amend = {k: v for k, v in req.items() if k not in ("kind", "currency")}
    amend["description"] = "Beds and linen for ward 3 and 4"
    amend["documents"] = [{"name": "addendum.txt", "media_type": "text/plain",
                           "content": b64(b"Addendum 1")}]
    buyer.ok("procurement.amend", procurement=pid, reason="Second ward", **amend)
    s["supplier1"].ok("bid.confirm", procurement=pid, lot=1)
    s["supplier2"].ok("bid.withdraw", procurement=pid, lot=1)
    o2 = s["supplier2"].ok("bid.submit", procurement=pid, lot=1, price="1800.00",
                           values={"delivery": 45}, comment="second try")["offer"]
    s["supplier2"].ok("bid.submit", procurement=pid, lot=2, price="400.00",
                      validity_days=30)
    pu.wait_opened(buyer, p)
    buyer.ok("bid.score", procurement=pid, offer=o1, scores={"quality": 8})
    buyer.ok("bid.score", procurement=pid, offer=o2, scores={"quality": 6})
    rec = get(buyer, pid)["lots"][0]["opening"]
    first = rec[0]["offer"]
    buyer.ok("award.decide", procurement=pid, lot=1, offer=first, decision="disqualify",
             reason="Late certificate")
    buyer.ok("award.decide", procurement=pid, lot=1, offer=o1 if first == o2 else o2,
             decision="award")
    buyer.ok("procurement.complete", procurement=pid)

    # a tender_auction's auction settings: given in part, defaulted, then amended
    now = pu.srv_now(buyer)
    req2 = tender_req(now + 600000, "Beds, auctioned", [])
    req2["kind"] = "tender_auction"
    req2["auction"] = {"step_min": "1%", "duration": 300}
    del req2["documents"]
    p2 = buyer.ok("procurement.create", **req2)["procurement"]
    buyer.ok("procurement.publish", procurement=p2["id"])
    amend2 = {k: v for k, v in req2.items() if k not in ("kind", "currency")}
    amend2["auction"] = {"step_max": "100.00", "delay": 5}
    buyer.ok("procurement.amend", procurement=p2["id"], reason="Steps", **amend2)
    buyer.ok("procurement.cancel", procurement=p2["id"], reason="Not needed")
    return [pid, p2["id"]]


def test_log_rows_keep_their_exact_text(env, tenderd_factory):
    server = tenderd_factory()
    pids = play(env, server)
    views = {pid: get(server.connect("buyer"), pid) for pid in pids}
    rows = [(pid, kind, text) for pid, kind, text in (
        (int(r[0]), r[1], r[2]) for r in env.psql(
            "SELECT procurement_id, kind, body FROM changes WHERE stream = 'procurement' AND "
            "procurement_id IN (%d, %d) ORDER BY seq" % tuple(pids)))]
    # the bytes are not jsonb's text (which orders keys by length, then name)
    jsonb = env.psql("SELECT body::jsonb::text FROM changes WHERE stream = 'procurement' AND "
                     "procurement_id = %d ORDER BY seq LIMIT 1" % pids[0])[0][0]
    assert rows[0][2] != jsonb and json.loads(rows[0][2]) == json.loads(jsonb)
    tokens = {}
    got = []
    for pid, kind, text in rows:
        detail = json.loads(text)
        assert text == json.dumps(detail, ensure_ascii=False, separators=(",", ":")), text
        got.append([kind, normalize(detail, tokens)])
    if os.environ.get("TENDERD_WRITE_GOLDEN"):
        GOLDEN.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in got))
    want = [json.loads(line) for line in GOLDEN.read_text().splitlines()]
    for i, (g, w) in enumerate(zip(got, want)):
        # compared as text: a key out of order is a difference
        assert json.dumps(g, ensure_ascii=False) == json.dumps(w, ensure_ascii=False), (i, g, w)
    assert len(got) == len(want), [g[0] for g in got]

    # the rows replay into the same procedures
    server.close_clients()
    server.stop()
    server.start()
    buyer = server.connect("buyer")
    for pid in pids:
        before, after = dict(views[pid]), get(buyer, pid)
        before.pop("server_time")
        after.pop("server_time")
        assert after == before, (pid, after, before)
