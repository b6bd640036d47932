"""Operators' powers over procedures and participants: cancelling a procurement with a reason
(and who may not), suspending a supplier (its connection closed, reconnection refused) and
reinstating it."""
import pathlib

import pytest

from tdclient import parse_time

import procutil as pu
from procutil import get


@pytest.fixture(scope="module")
def server(module_tenderd_factory):
    return module_tenderd_factory()


def test_operator_cancels_with_a_reason(env, server, unique):
    buyer = server.connect("buyer")
    op = server.connect("operator")
    s1 = server.connect("supplier1")
    p = pu.create(buyer, "rfq", "Cancelled " + unique, deadline=2500, opening=2500)
    pid = p["id"]
    draft = pu.create(buyer, "rfq", "Draft cancelled " + unique, publish=False)
    watcher = server.connect("supplier4")
    watcher.ok("procurement.watch", procurement=pid)
    pu.wait_tendering(buyer, p)
    q = s1.ok("quote.submit", procurement=pid, lot=1, price="700.00")

    for who in ("buyer2", "supplier1", "supplier_b"):
        e = server.connect(who).error("procurement.cancel", procurement=pid, reason="Not mine")
        assert e["code"] == "forbidden", (who, e)
    e = op.error("procurement.cancel", procurement=pid)
    assert (e["code"], e.get("field")) == ("missing_field", "reason"), e
    e = op.error("procurement.cancel", procurement=pid, reason="")
    assert e["code"] in ("bad_field", "missing_field"), e
    assert get(buyer, pid)["state"] == "tendering"

    reason = "Budget withdrawn by the ministry " + unique
    v = op.ok("procurement.cancel", procurement=pid, reason=reason)["procurement"]
    assert (v["state"], v["cancel_reason"]) == ("cancelled", reason), v
    assert [l["state"] for l in v["lots"]] == ["cancelled"], v
    ev, _ = pu.wait_update(watcher, pid, "cancelled", timeout=5)
    assert (ev["procurement"]["state"], ev["procurement"]["cancel_reason"]) == (
        "cancelled", reason), ev
    for who, c in (("buyer", buyer), ("supplier1", s1), ("operator", op),
                   ("supplier4", watcher)):
        view = get(c, pid)
        assert (view["state"], view["cancel_reason"]) == ("cancelled", reason), (who, view)
    mine = get(s1, pid)["your_offers"]
    assert [(x["offer"], x["status"]) for x in mine] == [(q["offer"], "active")], mine
    listed = [x for x in s1.ok("procurement.list", state="cancelled")["procurements"]
              if x["id"] == pid]
    assert len(listed) == 1, listed

    for c, op_name, fields in (
            (s1, "quote.submit", {"lot": 1, "price": "650.00"}),
            (server.connect("supplier2"), "quote.submit", {"lot": 1, "price": "650.00"}),
            (s1, "quote.withdraw", {"lot": 1}),
            (op, "procurement.cancel", {"reason": "again"}),
            (buyer, "procurement.cancel", {"reason": "again"}),
            (buyer, "procurement.publish", {}),
            (buyer, "procurement.complete", {}),
            (buyer, "award.decide", {"lot": 1, "offer": q["offer"], "decision": "award"})):
        e = c.error(op_name, procurement=pid, **fields)
        assert e["code"] == "bad_state", (op_name, e)

    # the buyer may cancel its own draft
    v = buyer.ok("procurement.cancel", procurement=draft["id"], reason="Duplicate")["procurement"]
    assert (v["state"], v["cancel_reason"]) == ("cancelled", "Duplicate"), v

    rows = env.psql("SELECT state, cancel_reason, closed_at IS NOT NULL, opened_at IS NULL "
                    "FROM audit.procurements WHERE procurement_id = %d" % pid, user="auditor")
    assert rows == [["cancelled", reason, "t", "t"]], rows
    rows = env.psql("SELECT kind, participant, detail ->> 'reason' FROM audit.procurement_log "
                    "WHERE procurement_id = %d ORDER BY log_id DESC LIMIT 1" % pid,
                    user="auditor")
    assert rows == [["cancelled", env.participants["operator"]["name"], reason]], rows

    # the opening time passes: nothing opens
    pu.sleep_until(buyer, parse_time(p["opening_at"]) + 300, max_wait=3)
    v = get(buyer, pid)
    assert (v["state"], v["opened_at"]) == ("cancelled", None), v
    assert all("opening" not in l for l in v["lots"]), v


def test_suspension_closes_and_refuses_the_supplier(env, server, unique):
    op = server.connect("operator")
    name = "zeta" + unique
    env.make_cert(name)
    org = "Zeta Trading " + unique
    r = op.ok("participant.register", organization=org, role="supplier", name="Zeta bids",
              certificate=pathlib.Path(env.cert(name)).read_text())
    part = r["participant"]["id"]
    victim = server.connect(name)
    assert victim.ok("hello")["participant"]["id"] == part
    bystander = server.connect("supplier1")

    e = server.connect("buyer").error("participant.suspend", participant=part, reason="x")
    assert e["code"] == "forbidden", e
    e = server.connect("supplier2").error("participant.suspend", participant=part, reason="x")
    assert e["code"] == "forbidden", e
    e = op.error("participant.suspend", participant=part)
    assert (e["code"], e.get("field")) == ("missing_field", "reason"), e
    e = op.error("participant.suspend", participant=999999, reason="x")
    assert e["code"] == "not_found", e
    assert victim.ok("hello")["ok"]

    reason = "Fraud investigation " + unique
    r = op.ok("participant.suspend", participant=part, reason=reason)
    assert r["participant"]["id"] == part and r["participant"]["status"] == "suspended", r
    msgs = victim.wait_closed(timeout=5)
    assert [m.get("event") for m in msgs] == ["error"], msgs
    assert msgs[0]["error"]["code"] == "participant_suspended", msgs
    with server.client(name) as c:
        msgs = c.wait_closed(timeout=5)
    assert [m["error"]["code"] for m in msgs] == ["participant_suspended"], msgs
    assert bystander.ok("hello")["ok"]  # others are untouched

    r = op.ok("participant.reinstate", participant=part, reason="Cleared " + unique)
    assert r["participant"]["status"] == "active", r
    back = server.connect(name)
    h = back.ok("hello")
    assert h["participant"]["id"] == part and h["organization"]["name"] == org, h
    rows = env.psql("SELECT status, reason, operator FROM audit.participant_log "
                    "WHERE organization = '%s' ORDER BY at" % org, user="auditor")
    assert rows == [["suspended", reason, env.participants["operator"]["name"]],
                    ["active", "Cleared " + unique, env.participants["operator"]["name"]]], rows
