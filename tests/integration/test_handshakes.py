"""Connection refusals: what a client with a bad or unregistered certificate sees."""
import os
import shutil
import socket
import ssl
import subprocess
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
    # docs/protocol.md: "expired (or not yet valid) certificate": certificate expired
    ("not yet valid", "CERTIFICATE_EXPIRED"),
])
def test_bad_certificate_fails_handshake(env, server, case, alert):
    if case == "no certificate":
        ctx = tdclient.make_context(env.ca)
    elif case == "rogue CA":
        ctx = tdclient.make_context(env.ca, env.cert("rogue"), env.key("rogue"))
    elif case == "not yet valid":
        env.make_cert("--future", "future")
        ctx = tdclient.make_context(env.ca, env.cert("future"), env.key("future"))
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


# ---- protocol versions and cipher suites ----

def s_client(env, server, name, *args):
    """openssl s_client as `name` with its standard input closed: it completes the
    handshake (or fails it) and exits. Returns (exit status, output)."""
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % server.port,
                        "-servername", "localhost", "-CAfile", env.ca, "-cert", env.cert(name),
                        "-key", env.key(name), "-brief"] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    return p.returncode, p.stdout


@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                                    "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA",
                                    "AES128-SHA", "AES128-GCM-SHA256"])
def test_tls12_refuses_cbc_and_static_rsa_suites(env, server, cipher):
    """TLS 1.2 offers only ECDHE with AEAD ciphers: CBC (SHA-1 or SHA-256 MACs) and
    suites without forward secrecy are refused."""
    rc, out = s_client(env, server, "supplier1", "-tls1_2", "-cipher", cipher)
    assert rc != 0, "TLS 1.2 with %s was accepted:\n%s" % (cipher, out)
    assert "CONNECTION ESTABLISHED" not in out, out


@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-GCM-SHA256",
                                    "ECDHE-ECDSA-AES256-GCM-SHA384",
                                    "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_tls12_accepts_ecdhe_aead_suites(env, server, cipher):
    rc, out = s_client(env, server, "supplier1", "-tls1_2", "-cipher", cipher)
    assert rc == 0 and "CONNECTION ESTABLISHED" in out, out
    assert "Ciphersuite: %s" % cipher in out, out


def test_tls_min_version_13(env, tenderd_factory):
    """tls_min_version = 1.3 refuses TLS 1.2 whatever the cipher."""
    server = tenderd_factory(tls_min_version="1.3")
    rc, out = s_client(env, server, "supplier1", "-tls1_2", "-cipher",
                       "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert rc != 0 and "CONNECTION ESTABLISHED" not in out, out
    rc, out = s_client(env, server, "supplier1", "-tls1_3")
    assert rc == 0 and "Protocol version: TLSv1.3" in out, out
    assert server.connect("supplier1").ok("hello")["ok"]


# ---- an expired CRL ----

def wait_log(server, text, timeout=10.0, offset=0):
    deadline = time.monotonic() + timeout
    while text not in server.log_text()[offset:]:
        assert server.running(), "tenderd exited:\n%s" % server.log_tail()
        assert time.monotonic() < deadline, "no %r in the log:\n%s" % (text, server.log_tail())
        time.sleep(0.05)


def stale_crl(env, tmp_path, revoke=None):
    """A CRL that expired in 2020 (after revoking `revoke`, a fresh certificate)."""
    if revoke:
        env.make_cert(revoke)
        env.make_cert("--revoke", revoke)
    path = tmp_path / "stale-crl.pem"
    env.make_cert("--stale-crl", str(path))
    return str(path)


def test_expired_crl_warns_and_serves_by_default(env, tenderd_factory, tmp_path, unique):
    """A CRL past its nextUpdate does not lock everybody out: clients are served with a loud
    warning, the certificates it lists stay refused, and the stats say it expired."""
    revoked = "revoked" + unique
    server = tenderd_factory(crl=stale_crl(env, tmp_path, revoke=revoked))
    with server.client("supplier1") as c:
        assert c.ok("hello")["ok"]
    assert "CRL EXPIRED" in server.log_text()
    err = refused_handshake(server, tdclient.make_context(env.ca, env.cert(revoked),
                                                         env.key(revoked)))
    assert "CERTIFICATE_REVOKED" in str(err).upper(), err
    with server.client("operator") as op:
        crl = op.ok("stats")["stats"]["crl"]
    assert crl["expired"] is True and crl["on_expiry"] == "warn", crl
    assert crl["next_update"] == "2020-02-01T00:00:00.000Z", crl
    assert crl["this_update"] == "2020-01-01T00:00:00.000Z", crl
    assert crl["revoked"] >= 1


def test_expired_crl_refuses_when_configured(env, tenderd_factory, tmp_path):
    """crl_expired = refuse: every handshake fails while the CRL is out of date."""
    server = tenderd_factory(start=False, crl=stale_crl(env, tmp_path), crl_expired="refuse")
    server.start(ready=False)
    wait_log(server, "\"db ready\"", timeout=30)
    wait_log(server, "EVERY CLIENT IS REFUSED")
    err = refused_handshake(server, tdclient.make_context(env.ca, env.cert("supplier1"),
                                                         env.key("supplier1")))
    assert "CERTIFICATE_EXPIRED" in str(err).upper(), err
