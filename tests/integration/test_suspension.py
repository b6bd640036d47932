"""Suspension closes every live session, however many (there was a cap of 256), and works
per organization: organization.suspend refuses every certificate of every participant of
the organization, closes their sessions, survives a restart, and organization.reinstate
lets them back."""
import pathlib

import pytest


def register(env, server, name, org, role="supplier"):
    env.make_cert(name)
    with server.client("operator") as op:
        return op.ok("participant.register", organization=org, role=role, name="P " + name,
                     certificate=pathlib.Path(env.cert(name)).read_text())


def closed_with(client, code):
    msgs = client.wait_closed(timeout=10)
    assert [m.get("error", {}).get("code") for m in msgs] == [code], msgs


def test_suspension_closes_every_session(env, tenderd_factory, unique):
    server = tenderd_factory(max_conns_per_cert=400)
    name = "many" + unique
    part = register(env, server, name, "Many Sessions " + unique)["participant"]["id"]
    conns = [server.client(name) for _ in range(300)]
    try:
        for c in conns[::50]:
            assert c.ok("hello")["participant"]["id"] == part
        server.connect("operator").ok("participant.suspend", participant=part, reason="x")
        for c in conns:
            closed_with(c, "participant_suspended")
    finally:
        for c in conns:
            c.close()


def test_organization_suspension(env, tenderd_factory, unique):
    server = tenderd_factory()
    org = "Suspended Org " + unique
    first = register(env, server, "orga" + unique, org)
    second = register(env, server, "orgb" + unique, org)
    oid = first["organization"]["id"]
    assert second["organization"]["id"] == oid
    op = server.connect("operator")
    # who may, and bad requests
    for who in ("buyer", "supplier1"):
        e = server.connect(who).error("organization.suspend", organization=oid, reason="x")
        assert e["code"] == "forbidden", e
    e = op.error("organization.suspend", organization=oid)
    assert (e["code"], e.get("field")) == ("missing_field", "reason"), e
    e = op.error("organization.suspend", organization=99999999, reason="x")
    assert (e["code"], e.get("field")) == ("not_found", "organization"), e
    own = op.ok("hello")["organization"]["id"]
    e = op.error("organization.suspend", organization=own, reason="x")
    assert (e["code"], e.get("field")) == ("bad_field", "organization"), e

    victims = [server.connect(n) for n in ("orga" + unique, "orga" + unique,
                                          "orgb" + unique, "orgb" + unique)]
    for v in victims:
        assert v.ok("hello")["organization"]["id"] == oid
    bystander = server.connect("supplier1")
    reason = "Debarred " + unique
    r = op.ok("organization.suspend", organization=oid, reason=reason)
    assert r["organization"] == {"id": oid, "name": org, "status": "suspended",
                                 "participants": 2}, r
    for v in victims:
        closed_with(v, "organization_suspended")
    assert bystander.ok("hello")["ok"]
    for n in ("orga", "orgb"):
        with server.client(n + unique) as c:
            closed_with(c, "organization_suspended")
    # a participant registered into the suspended organization is refused as well
    register(env, server, "orgc" + unique, org)
    with server.client("orgc" + unique) as c:
        closed_with(c, "organization_suspended")
    # it is persisted: still refused after a restart
    server.restart()
    with server.client("orga" + unique) as c:
        closed_with(c, "organization_suspended")
    r = server.connect("operator").ok("organization.reinstate", organization=oid,
                                      reason="Lifted " + unique)
    assert r["organization"]["status"] == "active" and r["organization"]["participants"] == 3, r
    for n in ("orga", "orgb", "orgc"):
        assert server.connect(n + unique).ok("hello")["organization"]["id"] == oid
    rows = env.psql("SELECT status, reason, operator FROM audit.organization_log "
                    "WHERE organization = '%s' ORDER BY at" % org, user="auditor")
    opname = env.participants["operator"]["name"]
    assert rows == [["suspended", reason, opname], ["active", "Lifted " + unique, opname]], rows


def test_participant_suspension_within_organization(env, tenderd_factory, unique):
    """Reinstating the organization does not lift a participant's own suspension."""
    server = tenderd_factory()
    org = "Mixed Org " + unique
    a = register(env, server, "mixa" + unique, org)
    register(env, server, "mixb" + unique, org)
    op = server.connect("operator")
    op.ok("participant.suspend", participant=a["participant"]["id"], reason="own")
    op.ok("organization.suspend", organization=a["organization"]["id"], reason="all")
    op.ok("organization.reinstate", organization=a["organization"]["id"], reason="all back")
    with server.client("mixa" + unique) as c:
        closed_with(c, "participant_suspended")
    assert server.connect("mixb" + unique).ok("hello")["ok"]


def test_tenderctl_organization_suspend(env, tenderd_factory, unique):
    server = tenderd_factory()
    org = "Ctl Org " + unique
    oid = register(env, server, "ctlorg" + unique, org)["organization"]["id"]
    p = env.tenderctl("operator", "organization", "suspend", str(oid), "--reason", "x",
                      server=server)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "organization %d %s: suspended (1 participant)\n" % (oid, org), p.stdout
    p = env.tenderctl("ctlorg" + unique, "hello", server=server)
    assert p.returncode == 3 and "organization_suspended" in p.stderr, (p.stdout, p.stderr)
    p = env.tenderctl("operator", "organization", "reinstate", str(oid), "--reason", "y",
                      server=server)
    assert p.returncode == 0 and "active" in p.stdout, p.stdout
