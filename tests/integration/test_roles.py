"""Roles and ownership: what each role may not do, registering participants over the
wire, and cancellation."""
import pathlib

import pytest

from tdclient import cert_fingerprint, create_auction


@pytest.mark.parametrize("who, op, fields", [
    ("supplier1", "auction.create", {"title": "x", "currency": "RUB", "start_price": "100.00"}),
    ("operator", "auction.create", {"title": "x", "currency": "RUB", "start_price": "100.00"}),
    ("buyer", "auction.bid", {"amount": "99.00"}),
    ("operator", "auction.bid", {"amount": "99.00"}),
    ("supplier1", "participant.register", {}),
    ("buyer", "participant.register", {}),
    ("supplier1", "auction.cancel", {"reason": "no"}),
    ("supplier_b", "auction.cancel", {"reason": "same organization, but a supplier"}),
    ("buyer2", "auction.cancel", {"reason": "not mine"}),
])
def test_forbidden(env, server, unique, who, op, fields):
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Roles " + unique, start_price="100000.00", duration=60)
    c = server.connect(who)
    req = dict(fields)
    if op in ("auction.bid", "auction.cancel"):
        req["auction"] = a["id"]
    if op == "participant.register":
        req.update(organization="Rogue Org", role="supplier", name="x",
                   certificate=pathlib.Path(env.cert("stranger")).read_text())
    e = c.error(op, **req)
    assert e["code"] == "forbidden", (who, op, e)
    # nothing changed
    v = buyer.ok("auction.get", auction=a["id"])["auction"]
    assert v["state"] == "running" and v["bids"] == 0 and v["cancel_reason"] is None
    if op == "participant.register":
        with server.client("stranger") as s:
            msgs = s.wait_closed(timeout=10)
            assert msgs and msgs[0]["error"]["code"] == "unregistered_certificate"
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")


def test_operator_registers_participants(env, server, unique):
    op = server.connect("operator")
    name = "newcomer" + unique
    env.make_cert(name)
    pem = pathlib.Path(env.cert(name)).read_text()
    fp = cert_fingerprint(env.cert(name))

    # a new organization
    org = "Epsilon Logistics " + unique
    r = op.ok("participant.register", organization=org, role="supplier",
              name="Epsilon bids", certificate=pem, tax_id="7701234567", country="RU")
    assert r["fingerprint"] == fp
    assert r["participant"]["role"] == "supplier" and r["participant"]["name"] == "Epsilon bids"
    assert r["organization"]["name"] == org
    with server.client(name) as c:
        h = c.ok("hello")
        assert h["participant"] == r["participant"]
        assert h["organization"] == r["organization"]
        assert h["fingerprint"] == fp and h["subject"] == "CN=" + name

    # the same certificate again, under any organization or role
    e = op.error("participant.register", organization=org, role="supplier", name="again",
                 certificate=pem)
    assert (e["code"], e.get("field")) == ("conflict", "certificate"), e
    e = op.error("participant.register", organization="Other " + unique, role="buyer",
                 name="again", certificate=pem)
    assert e["code"] == "conflict", e
    # an already registered platform certificate
    e = op.error("participant.register", organization=org, role="supplier", name="again",
                 certificate=pathlib.Path(env.cert("supplier1")).read_text())
    assert e["code"] == "conflict", e

    # a second certificate joins an existing organization
    name2 = "alpha" + unique
    env.make_cert(name2)
    r2 = op.ok("participant.register", organization=env.org("supplier1"), role="supplier",
               name="Alpha second desk",
               certificate=pathlib.Path(env.cert(name2)).read_text())
    with server.client("supplier1") as s1:
        assert r2["organization"] == s1.ok("hello")["organization"]
    with server.client(name2) as c2:
        assert c2.ok("hello")["organization"]["name"] == env.org("supplier1")

    # refused certificates
    e = op.error("participant.register", organization=org, role="supplier", name="rogue",
                 certificate=pathlib.Path(env.cert("rogue")).read_text())
    assert (e["code"], e.get("field")) == ("bad_field", "certificate"), e
    e = op.error("participant.register", organization=org, role="supplier", name="junk",
                 certificate="-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert (e["code"], e.get("field")) == ("bad_field", "certificate"), e
    e = op.error("participant.register", organization=org, role="auditor", name="x",
                 certificate=pathlib.Path(env.cert("stranger")).read_text())
    assert (e["code"], e.get("field")) == ("bad_field", "role"), e
    e = op.error("participant.register", organization=org, role="supplier", name="x")
    assert (e["code"], e.get("field")) == ("missing_field", "certificate"), e

    # registrations survive a restart
    server.close_clients()
    server.restart()
    with server.client(name) as c:
        assert c.ok("hello")["organization"]["name"] == org


def test_cancel_by_owner(env, server, unique):
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Cancel " + unique, duration=60)
    aid = a["id"]
    s1 = server.connect("supplier1")
    s1.ok("auction.bid", auction=aid, amount="995000.00")
    watchers = {"supplier1": s1, "supplier2": server.connect("supplier2"),
                "buyer2": server.connect("buyer2")}
    for c in watchers.values():
        c.ok("auction.watch", auction=aid)

    e = buyer.error("auction.cancel", auction=aid)
    assert (e["code"], e.get("field")) == ("missing_field", "reason"), e
    e = buyer.error("auction.cancel", auction=aid, reason="")
    assert (e["code"], e.get("field")) == ("bad_field", "reason"), e
    e = buyer.error("auction.cancel", auction=10 ** 12, reason="x")
    assert e["code"] == "not_found", e

    reason = "Specification error in lot 1"
    r = buyer.ok("auction.cancel", auction=aid, reason=reason)
    assert r["auction"]["state"] == "cancelled" and r["auction"]["cancel_reason"] == reason
    for name, c in watchers.items():
        ev = c.event(timeout=10)
        assert ev["event"] == "auction.closed", (name, ev)
        assert ev["auction"]["state"] == "cancelled"
        assert ev["auction"]["cancel_reason"] == reason
        assert ev["auction"]["result"] is None
        c.no_event(0.2)

    e = buyer.error("auction.cancel", auction=aid, reason="again")
    assert e["code"] == "bad_state", e
    e = server.connect("operator").error("auction.cancel", auction=aid, reason="again")
    assert e["code"] == "bad_state", e
    e = s1.error("auction.bid", auction=aid, amount="990000.00")
    assert e["code"] == "auction_cancelled", e
    ids = [x["id"] for x in buyer.ok("auction.list", state="cancelled")["auctions"]]
    assert aid in ids


def test_operator_cancels_any_auction(env, server, unique):
    buyer2 = server.connect("buyer2")
    a = create_auction(buyer2, "Operator cancel " + unique, duration=60)
    op = server.connect("operator")
    r = op.ok("auction.cancel", auction=a["id"], reason="Complaint upheld")
    assert r["auction"]["state"] == "cancelled"
    v = buyer2.ok("auction.get", auction=a["id"])["auction"]
    assert v["state"] == "cancelled" and v["cancel_reason"] == "Complaint upheld"
