"""Sealed bids before the opening, read three ways: by the buyer over the protocol, by another
supplier, and by the auditor role in PostgreSQL; and the same reads after the opening."""
import json

import pytest

import procutil as pu
from procutil import get

CRITERIA = [{"kind": "price", "weight": "70"},
            {"code": "warranty", "name": "Warranty months", "kind": "stated", "weight": "30",
             "better": "higher", "min": 12, "max": 60}]


@pytest.fixture(scope="module")
def server(module_tenderd_factory):
    return module_tenderd_factory()


def auditor_rows(env, pid):
    revs = env.psql("SELECT organization, revision, action, price, detail, opened "
                    "FROM audit.offer_revisions WHERE procurement_id = %d "
                    "ORDER BY organization, revision" % pid, user="auditor")
    log = env.psql("SELECT kind, organization, offer_id, sealed, detail FROM "
                   "audit.procurement_log WHERE procurement_id = %d AND kind LIKE 'offer_%%' "
                   "ORDER BY log_id" % pid, user="auditor")
    counts = env.psql("SELECT lot_id, offers FROM audit.offer_counts WHERE procurement_id = %d"
                      % pid, user="auditor")
    return revs, log, counts


def identities(env, pid):
    """Offer revisions and offer log rows of the procedure the auditor sees with their
    organization, participant or certificate."""
    return env.psql(
        "SELECT (SELECT count(*) FROM audit.offer_revisions WHERE procurement_id = %d AND "
        "(organization IS NOT NULL OR fingerprint IS NOT NULL)), "
        "(SELECT count(*) FROM audit.procurement_log WHERE procurement_id = %d AND "
        "offer_id IS NOT NULL AND (organization IS NOT NULL OR participant IS NOT NULL OR "
        "fingerprint IS NOT NULL))" % (pid, pid), user="auditor")


def test_sealed_until_the_opening(env, server, unique):
    buyer = server.connect("buyer")
    op = server.connect("operator")
    s = {n: server.connect(n) for n in ("supplier1", "supplier2", "supplier3")}
    p = pu.create(buyer, "tender", "Sealed " + unique, min_bids=1,
                  lots=[pu.lot("Ventilators", "5000.00", criteria=CRITERIA)])
    pid = p["id"]
    watchers = {"buyer": server.connect("buyer"), "supplier3": server.connect("supplier3")}
    for w in watchers.values():
        w.ok("procurement.watch", procurement=pid)
    pu.wait_tendering(buyer, p)
    b1 = s["supplier1"].ok("bid.submit", procurement=pid, lot=1, price="4100.00",
                           values={"warranty": 24}, comment="Alpha secret terms")
    b1 = s["supplier1"].ok("bid.submit", procurement=pid, lot=1, price="4050.00",
                           values={"warranty": 36}, comment="Alpha secret terms")
    b2 = s["supplier2"].ok("bid.submit", procurement=pid, lot=1, price="3950.00",
                           values={"warranty": 12}, delivery_days=9)
    sealed = ["4100.00", "4050.00", "3950.00", "Alpha secret terms"]

    # the buyer and the operator: counts only
    for who, c in (("buyer", buyer), ("operator", op)):
        v = get(c, pid)
        assert v["lots"][0]["offers"] == 2 and "your_offers" not in v, (who, v)
        pu.assert_sealed(v, sealed, who)
        assert "values" not in json.dumps(v["lots"]) and "warranty\": " not in json.dumps(v)
        for x in c.ok("procurement.list")["procurements"]:
            assert not set(pu.walk_strings(x)) & set(sealed), x
    # another supplier: its own bid only
    v = get(s["supplier2"], pid)
    pu.assert_sealed(v, [x for x in sealed if x != "3950.00"], "supplier2", own=("3950.00",))
    assert [(x["offer"], x["price"], x["values"], x.get("delivery_days")) for x in
            v["your_offers"]] == [(b2["offer"], "3950.00", {"warranty": 12}, 9)], v
    v = get(s["supplier3"], pid)
    pu.assert_sealed(v, sealed, "supplier3")
    assert v["your_offers"] == [] and v["lots"][0]["offers"] == 2
    # the author: its current revision
    v = get(s["supplier1"], pid)
    assert [(x["offer"], x["revision"], x["price"], x["values"], x.get("comment"))
            for x in v["your_offers"]] == [(b1["offer"], 2, "4050.00", {"warranty": 36},
                                            "Alpha secret terms")], v
    # a new offer changes the count and is announced with reason "offers" (the revision of
    # supplier1's offer is not: the second announcement already counts supplier2's offer);
    # these and the other events so far (the start of tendering) carry nothing sealed
    for who, w in watchers.items():
        first, seen1 = pu.wait_update(w, pid, "offers")
        second, seen2 = pu.wait_update(w, pid, "offers")
        assert [first["procurement"]["lots"][0]["offers"],
                second["procurement"]["lots"][0]["offers"]] == [1, 2], (who, first, second)
        assert [e["reason"] for e in seen2] == [], (who, seen2)
        for ev in [first, second] + seen1 + w.pending_events():
            pu.assert_sealed(ev["procurement"], sealed, who)

    # the auditor: that offers were submitted and when, never by whom nor what
    revs, log, counts = auditor_rows(env, pid)
    assert sorted(revs) == [["", "1", "submitted", "", "", "f"],
                            ["", "1", "submitted", "", "", "f"],
                            ["", "2", "submitted", "", "", "f"]], revs
    assert log == [["offer_submitted", "", str(b1["offer"]), "t", ""],
                   ["offer_submitted", "", str(b1["offer"]), "t", ""],
                   ["offer_submitted", "", str(b2["offer"]), "t", ""]], log
    assert counts == [["1", "2"]], counts
    assert identities(env, pid) == [["0", "0"]]
    rows = env.psql("SELECT kind FROM audit.procurement_log WHERE procurement_id = %d "
                    "AND detail::text LIKE '%%405000%%'" % pid, user="auditor")
    assert rows == [], rows
    # and the tables behind the views are closed to it
    for table in ("offer_revisions", "procurement_log", "offers", "procurements",
                  "procurement_versions", "questions"):
        r = env.psql("SELECT count(*) FROM public.%s" % table, user="auditor", check=False)
        assert r.returncode != 0 and "permission denied" in r.stderr, (table, r.stderr)

    # after the opening everyone reads the same record, the auditor every revision
    v = pu.wait_opened(buyer, p)
    rec = v["lots"][0]["opening"]
    expect = pu.evaluate(CRITERIA, {b1["offer"]: {"price": "4050.00",
                                                  "values": {"warranty": 36}},
                                    b2["offer"]: {"price": "3950.00",
                                                  "values": {"warranty": 12}}})
    assert [(r["offer"], r["price"], r["values"], r["total"]) for r in rec] == [
        (b1["offer"], "4050.00", {"warranty": 36}, expect[b1["offer"]][1]),
        (b2["offer"], "3950.00", {"warranty": 12}, expect[b2["offer"]][1])], rec
    assert rec[0]["comment"] == "Alpha secret terms" and rec[1]["delivery_days"] == 9
    revs, log, counts = auditor_rows(env, pid)
    assert [r[:4] + [r[5]] for r in revs] == [
        [env.org("supplier1"), "1", "submitted", "4100.00", "t"],
        [env.org("supplier1"), "2", "submitted", "4050.00", "t"],
        [env.org("supplier2"), "1", "submitted", "3950.00", "t"]], revs
    assert json.loads(revs[1][4])["values"] == {"warranty": 36}, revs
    assert identities(env, pid) == [["3", "3"]]
    assert json.loads(revs[2][4])["delivery_days"] == 9, revs
    assert [r[3] for r in log] == ["f", "f", "f"], log
    assert [json.loads(r[4])["price"] for r in log] == [410000, 405000, 395000], log
    rows = env.psql("SELECT r ->> 'offer', r ->> 'price', r ->> 'total' FROM "
                    "audit.procurement_log l CROSS JOIN LATERAL jsonb_each(l.detail -> "
                    "'opening') lot CROSS JOIN LATERAL jsonb_array_elements(lot.value) r "
                    "WHERE l.procurement_id = %d AND l.kind = 'opened'" % pid, user="auditor")
    assert rows == [[str(r["offer"]), r["price"], r["total"]] for r in rec], rows
