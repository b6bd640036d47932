"""Signals and reload: SIGHUP re-reads the settings file and the TLS files (the CA bundle
and the CRL) and the server survives it; a changed CRL is also noticed on disk without a
signal; connections of certificates revoked meanwhile are closed with certificate_revoked;
SIGTERM and SIGINT shut down cleanly with exit status 0."""
import os
import signal
import socket
import ssl
import time

import pytest

import tdclient
from test_handshakes import refused_handshake, wait_log


def write_conf(path, **settings):
    tmp = str(path) + ".tmp"
    with open(tmp, "w") as f:
        for k, v in settings.items():
            f.write("%s = %s\n" % (k, v))
    os.replace(tmp, str(path))


def hup(server):
    """SIGHUP; returns the log offset from which the reload's lines are found."""
    offset = len(server.log_text())
    server.proc.send_signal(signal.SIGHUP)
    return offset


def refusal(server, name):
    """The error codes a new connection as `name` gets before the server closes it."""
    with server.client(name, timeout=10) as c:
        return [m.get("error", {}).get("code") for m in c.wait_closed(timeout=10)]


def register(env, server, name, unique):
    env.make_cert(name)
    with server.client("operator") as op:
        op.ok("participant.register", organization="Reload Org " + unique, role="supplier",
              name="Reload " + name, certificate=open(env.cert(name)).read())


def test_sighup_applies_settings_and_survives(env, tenderd_factory, tmp_path):
    conf = tmp_path / "tenderd.conf"
    write_conf(conf, log_level="info", max_conns_per_cert=2, tls_watch_interval=0)
    server = tenderd_factory(config=str(conf))
    a, b = server.connect("supplier1"), server.connect("supplier1")
    assert a.ok("hello")["ok"] and b.ok("hello")["ok"]
    assert refusal(server, "supplier1") == ["too_many_connections"]
    assert " level=debug " not in server.log_text()

    write_conf(conf, log_level="debug", max_conns_per_cert=3, tls_watch_interval=0,
               max_line=4096)
    off = hup(server)
    wait_log(server, "reloaded on SIGHUP", offset=off)
    log = server.log_text()[off:]
    assert "reload: max_conns_per_cert: 2 -> 3" in log, log
    assert "reload: log_level: info -> debug" in log, log
    assert "max_line changed (65536 -> 4096): ignored until restart" in log, log
    # the new limit and log level are in force; the open connections are untouched
    c = server.connect("supplier1")
    assert c.ok("hello")["ok"]
    assert a.ok("hello")["ok"] and b.ok("hello")["ok"]
    # a connection that closes before its handshake is logged at debug level
    socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    wait_log(server, ' level=debug msg="conn=', offset=off)
    assert server.running()


def test_sighup_with_a_broken_file_keeps_everything(env, tenderd_factory, tmp_path):
    conf = tmp_path / "tenderd.conf"
    write_conf(conf, max_conns_per_cert=1, tls_watch_interval=0)
    server = tenderd_factory(config=str(conf))
    a = server.connect("supplier2")
    assert a.ok("hello")["ok"]
    for bad in ("max_conns_per_cert = many\n", "no_such_setting = 1\n", "crl_expired = maybe\n"):
        conf.write_text(bad)
        off = hup(server)
        wait_log(server, "RELOAD FAILED", offset=off)
        assert server.running()
        assert refusal(server, "supplier2") == ["too_many_connections"]
    # a CA bundle that does not load: nothing changes either
    write_conf(conf, max_conns_per_cert=5, tls_watch_interval=0, crl=str(tmp_path / "nope.pem"))
    off = hup(server)
    wait_log(server, "RELOAD FAILED", offset=off)
    assert refusal(server, "supplier2") == ["too_many_connections"]
    assert a.ok("hello")["ok"]
    with server.client("operator") as op:
        tls = op.ok("stats")["stats"]["tls"]
    assert tls["reload_failures"] >= 4, tls


def revoke_setup(env, tenderd_factory, tmp_path, unique, **settings):
    """A server with a CRL at tmp_path/crl.pem and a fresh registered certificate."""
    env.make_cert("--crl")
    crl = tmp_path / "crl.pem"
    crl.write_bytes(open(os.path.join(str(env.pki), "crl.pem"), "rb").read())
    server = tenderd_factory(crl=str(crl), **settings)
    name = "revokee" + unique
    register(env, server, name, unique)
    return server, crl, name


def install(env, crl):
    """Copy the PKI's current CRL over `crl` the way an editor or a deploy tool would:
    a new file renamed into place."""
    tmp = str(crl) + ".new"
    with open(tmp, "wb") as f:
        f.write(open(os.path.join(str(env.pki), "crl.pem"), "rb").read())
    os.replace(tmp, str(crl))


def check_revoked(env, server, name, victim, watcher):
    """The revoked certificate's open connection got certificate_revoked and was closed; a
    new connection with it fails the handshake; others carry on."""
    msgs = victim.wait_closed(timeout=10)
    assert [m.get("error", {}).get("code") for m in msgs] == ["certificate_revoked"], msgs
    assert "revoked" in msgs[0]["error"]["message"]
    err = refused_handshake(server, tdclient.make_context(env.ca, env.cert(name),
                                                         env.key(name)))
    assert "CERTIFICATE_REVOKED" in str(err).upper(), err
    assert watcher.ok("hello")["ok"]
    assert "certificate revoked after the reload" in server.log_text()


def session_of(server, ctx):
    """Connect, say hello, and return the TLS session (its ticket) for a later resumption."""
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b'{"id":1,"op":"hello"}\n')
        assert b'"ok":true' in tls.recv(65536)
        return tls.session


def resumed_hello(server, ctx, session):
    """A hello over a connection that offers `session`: (resumed, reply bytes or the error)."""
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        tls = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
        tls.sendall(b'{"id":1,"op":"hello"}\n')
        return tls.session_reused, tls.recv(65536)
    except (ssl.SSLError, OSError) as e:
        return False, e
    finally:
        raw.close()


def test_sighup_reloads_crl_and_closes_revoked_sessions(env, tenderd_factory, tmp_path, unique):
    server, crl, name = revoke_setup(env, tenderd_factory, tmp_path, unique,
                                     tls_watch_interval=0)
    victim = server.connect(name)
    assert victim.ok("hello")["ok"]
    # a session ticket issued before the revocation must not let the certificate back in
    vctx = tdclient.make_context(env.ca, env.cert(name), env.key(name))
    ticket = session_of(server, vctx)
    reused, reply = resumed_hello(server, vctx, ticket)
    assert reused and b'"ok":true' in reply, (reused, reply)
    other = server.connect("supplier3")
    assert other.ok("hello")["ok"]
    with server.client("operator") as op:
        before = op.ok("stats")["stats"]["crl"]["revoked"]
    env.make_cert("--revoke", name)
    install(env, crl)
    time.sleep(0.3)
    assert victim.ok("hello")["ok"], "reloaded without SIGHUP (tls_watch_interval = 0)"
    off = hup(server)
    wait_log(server, "reloaded on SIGHUP", offset=off)
    check_revoked(env, server, name, victim, other)
    # refused in a full handshake (the alert itself may be lost to the reset that the
    # request written after it causes; check_revoked has seen it)
    reused, reply = resumed_hello(server, vctx, ticket)
    assert not reused and not (isinstance(reply, bytes) and reply), (reused, reply)
    with server.client("operator") as op:
        crl_stats = op.ok("stats")["stats"]["crl"]
    assert crl_stats["revoked"] == before + 1, crl_stats
    assert crl_stats["expired"] is False
    assert tdclient.parse_time(crl_stats["loaded_at"]) > tdclient.now_ms() - 10000


def test_crl_file_change_is_noticed(env, tenderd_factory, tmp_path, unique):
    """Without a signal: the file is checked every tls_watch_interval seconds. A broken
    file keeps the CRL in force (and says so loudly); the next good one is loaded."""
    server, crl, name = revoke_setup(env, tenderd_factory, tmp_path, unique,
                                     tls_watch_interval=1)
    victim = server.connect(name)
    assert victim.ok("hello")["ok"]
    other = server.connect("supplier3")
    # an editor's half-written file: refused, the CRL in force stays
    off = len(server.log_text())
    crl.write_text("-----BEGIN X509 CRL-----\nMIIB\n")
    wait_log(server, "TLS RELOAD FAILED", offset=off)
    assert victim.ok("hello")["ok"]
    with server.client(name) as c:
        assert c.ok("hello")["ok"]
    # the revocation, installed by renaming a new file into place
    env.make_cert("--revoke", name)
    install(env, crl)
    check_revoked(env, server, name, victim, other)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signals_shut_down_cleanly(env, tenderd_factory, sig):
    """SIGTERM and SIGINT: connected clients get {"event":"shutdown"}, then the server
    closes their connections and exits 0. SIGHUP before them changed nothing of that."""
    server = tenderd_factory()
    c = server.connect("supplier1")
    assert c.ok("hello")["ok"]
    off = hup(server)
    wait_log(server, "reloaded on SIGHUP", offset=off)
    server.proc.send_signal(sig)
    msgs = c.wait_closed(timeout=15)
    assert msgs and msgs[-1] == {"event": "shutdown"}, msgs
    assert server.proc.wait(20) == 0
    assert "tenderd stopped" in server.log_text()
