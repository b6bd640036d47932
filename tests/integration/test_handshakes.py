"""Connection refusals: what a client with a bad or unregistered certificate sees."""
import socket
import ssl
import time

import pytest

import tdclient


def refused_handshake(server, ctx):
    """Connect with ctx, send a request as a client would, and return the SSL error the
    client sees in the handshake or on its first read. Fails when the server answers."""
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        try:
            tls = ctx.wrap_socket(raw, server_hostname="localhost")
        except ssl.SSLError as e:
            return e
        with tls:
            tls.settimeout(10)
            try:
                # With TLS 1.3 the server may already have refused us: writing can fail.
                tls.sendall(b'{"id":1,"op":"hello"}\n')
            except (ssl.SSLError, OSError):
                pass
            try:
                data = tls.recv(65536)
            except ssl.SSLError as e:
                return e
            except socket.timeout:
                pytest.fail("the server neither refused the handshake nor answered")
            pytest.fail("the server accepted the connection; it sent %r" % data)
    finally:
        raw.close()


@pytest.mark.parametrize("case, alert", [
    ("no certificate", "CERTIFICATE_REQUIRED"),
    ("rogue CA", "UNKNOWN_CA"),
    ("expired", "CERTIFICATE_EXPIRED"),
])
def test_bad_certificate_fails_handshake(env, server, case, alert):
    if case == "no certificate":
        ctx = tdclient.make_context(env.ca)
    elif case == "rogue CA":
        ctx = tdclient.make_context(env.ca, env.cert("rogue"), env.key("rogue"))
    else:
        ctx = tdclient.make_context(env.ca, env.cert("expired"), env.key("expired"))
    err = refused_handshake(server, ctx)
    assert alert in str(err).upper(), "expected a TLS alert %s, got %r" % (alert, err)
    # the server survives and still serves registered clients
    c = server.connect("supplier1")
    assert c.ok("hello")["participant"]["role"] == "supplier"


def test_unregistered_certificate_gets_error_line_then_eof(env, server):
    c = server.connect("stranger")
    msgs = c.wait_closed(timeout=10)
    assert len(msgs) == 1, msgs
    assert msgs[0]["event"] == "error"
    assert msgs[0]["error"]["code"] == "unregistered_certificate"
    assert msgs[0]["error"]["message"]
    assert "id" not in msgs[0]
    assert "refused: unregistered" in server.log_text()


def test_unregistered_certificate_line_survives_an_early_request(env, server):
    """A client normally writes its first request right after the handshake, before it
    could know that it is refused. It must still get the documented error line, every
    time (the server must not reset the connection over the unread request)."""
    outcomes = []
    for _ in range(20):
        c = server.client("stranger", timeout=10)
        try:
            try:
                c.send("hello")
            except OSError:
                pass  # already refused and closed: the line must still be readable
            msgs = c.wait_closed(timeout=10)
        finally:
            c.close()
        outcomes.append([m.get("error", {}).get("code") for m in msgs])
    lost = sum(1 for o in outcomes if o != ["unregistered_certificate"])
    assert lost == 0, ("%d of 20 refused clients that had sent a request did not get the "
                       "unregistered_certificate line (lines seen: %s)" % (lost, outcomes))


def test_server_survives_every_refusal(env, server):
    """All refusals in a row, then registered clients of every role still work."""
    ctxs = [tdclient.make_context(env.ca),
            tdclient.make_context(env.ca, env.cert("rogue"), env.key("rogue")),
            tdclient.make_context(env.ca, env.cert("expired"), env.key("expired"))]
    for _ in range(3):
        for ctx in ctxs:
            refused_handshake(server, ctx)
        with server.client("stranger") as s:
            msgs = s.wait_closed(timeout=10)
            assert [m["error"]["code"] for m in msgs] == ["unregistered_certificate"]
        # a client that connects and goes away without a handshake
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    for name in ("operator", "buyer", "supplier2"):
        c = server.connect(name)
        r = c.ok("hello")
        p = env.participants[name]
        assert r["participant"]["role"] == p["role"]
        assert r["participant"]["name"] == p["name"]
        assert r["organization"]["name"] == p["organization"]
        assert r["fingerprint"] == p["fingerprint"]
        assert r["subject"] == "CN=" + name
        assert abs(tdclient.parse_time(r["server_time"]) - tdclient.now_ms()) < 5000


def test_too_many_connections_per_certificate(env, tenderd_factory):
    server = tenderd_factory(max_conns_per_cert=2)
    a, b = server.connect("supplier1"), server.connect("supplier1")
    assert a.ok("hello")["ok"] and b.ok("hello")["ok"]
    third = server.connect("supplier1")
    msgs = third.wait_closed(timeout=10)
    assert [m["error"]["code"] for m in msgs] == ["too_many_connections"], msgs
    # another certificate of the same organization is counted on its own
    assert server.connect("supplier2").ok("hello")["ok"]
    # a closed connection frees its place
    a.close()
    deadline = time.monotonic() + 10
    while True:
        c = server.client("supplier1")
        try:
            r = c.request("hello", timeout=5)
        except (tdclient.Closed, tdclient.Timeout, OSError):
            r = None
        finally:
            c.close()
        if r and r.get("ok"):
            break
        assert time.monotonic() < deadline, "the closed connection's place was not freed"
        time.sleep(0.1)
    assert b.ok("hello")["ok"]


def test_suspended_participant_is_refused(env, tenderd_factory, unique):
    """Suspension is done in SQL and read at start-up (docs/operations.md)."""
    server = tenderd_factory()
    name = "suspendee" + unique
    env.make_cert(name)
    with server.client("operator") as op:
        r = op.ok("participant.register", organization="Zeta Trading " + unique,
                  role="supplier", name="Zeta bids",
                  certificate=open(env.cert(name)).read())
    with server.client(name) as c:
        assert c.ok("hello")["participant"]["id"] == r["participant"]["id"]
    env.psql("UPDATE participants SET status = 'suspended' WHERE id = %d"
             % r["participant"]["id"])
    server.restart()
    with server.client(name) as c:
        msgs = c.wait_closed(timeout=10)
    assert [m["error"]["code"] for m in msgs] == ["participant_suspended"], msgs
    with server.client("supplier1") as c:
        assert c.ok("hello")["ok"]
