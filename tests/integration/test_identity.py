"""Identity policy: the certificate policy every client certificate must carry
(required_policy), several trusted CAs (ca_dir, reloaded without a restart), several
certificates per participant (certificate.add, certificate.list), and certificates that
expire while connected."""
import os
import shutil
import signal
import subprocess

import conftest
import tdclient
from conftest import POLICY
from test_handshakes import refused_handshake, wait_log
from test_reload import write_conf

LACKS = "certificate lacks required policy %s" % POLICY


def hup(server):
    """SIGHUP; the log offset from which the reload's lines are found."""
    offset = len(server.log_text())
    server.proc.send_signal(signal.SIGHUP)
    return offset


def ctx_of(env, name):
    return tdclient.make_context(env.ca, env.cert(name), env.key(name))


def pem(env, name):
    return open(env.cert(name)).read()


# ---- required_policy ----

def test_certificate_without_the_policy_fails_the_handshake(env, server, unique):
    name = "nopol" + unique
    env.make_cert("--no-policy", name)
    err = refused_handshake(server, ctx_of(env, name))
    assert "UNSUPPORTED_CERTIFICATE" in str(err).upper(), err
    wait_log(server, 'tls verify failed depth=0 error="%s" subject="/CN=%s"' % (LACKS, name))
    # certificates with the policy (every one of the harness) are served
    assert server.connect("supplier1").ok("hello")["ok"]


def test_register_refuses_a_certificate_without_the_policy(env, server, unique):
    name = "nopolreg" + unique
    env.make_cert("--no-policy", name)
    with server.client("operator") as op:
        e = op.error("participant.register", organization="Nopol " + unique, role="supplier",
                     name="Nopol", certificate=pem(env, name))
    assert e == {"code": "bad_field", "field": "certificate",
                 "message": "certificate not accepted: " + LACKS}, e
    # tenderd register (offline) refuses it too, with the setting of the running server
    p = subprocess.run([str(x) for x in env.tenderd_cmd(
        "register", "--db", env.conninfo, "--required_policy", POLICY, "--role", "supplier",
        "--organization", "Nopol " + unique, "--name", "Nopol", "--cert", env.cert(name))],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "bad_field" in p.stderr and LACKS in p.stderr, p.stderr
    assert env.psql("SELECT count(*) FROM certificates WHERE fingerprint = '%s'"
                    % env.fingerprint(name)) == [["0"]]


def test_required_policy_must_be_an_oid(env):
    p = subprocess.run([str(x) for x in env.tenderd_cmd(
        "register", "--db", env.conninfo, "--required_policy", "1.3.x", "--role", "supplier",
        "--organization", "X", "--name", "X", "--cert", env.cert("stranger"))],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p
    assert "required_policy: expected a dotted OID" in p.stderr, p.stderr


def test_required_policy_is_reloaded(env, tenderd_factory, tmp_path, unique):
    """Without a required policy a certificate without one is served; once the setting is
    reloaded, its open connection is closed and new ones are refused in the handshake."""
    name = "nopolrl" + unique
    env.make_cert("--no-policy", name)
    conf = tmp_path / "tenderd.conf"
    write_conf(conf, tls_watch_interval=0)
    server = tenderd_factory(start=False, config=str(conf))
    del server.settings["required_policy"]
    server.start()
    with server.client("operator") as op:
        op.ok("participant.register", organization="Nopol RL " + unique, role="supplier",
              name="Nopol", certificate=pem(env, name))
    c = server.connect(name)
    assert c.ok("hello")["ok"]
    other = server.connect("supplier1")
    write_conf(conf, tls_watch_interval=0, required_policy=POLICY)
    off = hup(server)
    wait_log(server, "reloaded on SIGHUP", offset=off)
    assert "reload: required_policy:  -> %s" % POLICY in server.log_text()[off:]
    msgs = c.wait_closed(timeout=10)
    assert [m["error"]["code"] for m in msgs] == ["certificate_not_trusted"], msgs
    assert LACKS in msgs[0]["error"]["message"], msgs
    err = refused_handshake(server, ctx_of(env, name))
    assert "UNSUPPORTED_CERTIFICATE" in str(err).upper(), err
    assert other.ok("hello")["ok"]


# ---- several trusted CAs: ca_dir ----

def second_ca(env, unique, *names):
    """A second CA of the PKI (DIR/<ca>.crt) and client certificates from it."""
    ca = "ca2" + unique
    env.make_cert("--from-ca", ca, *names)
    return os.path.join(str(env.pki), ca + ".crt")


def test_a_ca_dropped_into_ca_dir_is_trusted_after_a_reload(env, tenderd_factory, tmp_path,
                                                            unique):
    cadir = tmp_path / "cas"
    cadir.mkdir()
    name = "ca2client" + unique
    ca2 = second_ca(env, unique, name)
    server = tenderd_factory(ca_dir=str(cadir), tls_watch_interval=0)
    op = server.connect("operator")
    # not from a trusted CA: refused in the handshake and by registration
    assert "UNKNOWN_CA" in str(refused_handshake(server, ctx_of(env, name))).upper()
    e = op.error("participant.register", organization="CA2 Org " + unique, role="supplier",
                 name="CA2 bids", certificate=pem(env, name))
    assert e["code"] == "bad_field" and "unable to get local issuer certificate" in \
        e["message"], e

    shutil.copy(ca2, str(cadir / "second-ca.pem"))
    off = hup(server)
    wait_log(server, "reloaded on SIGHUP", offset=off)
    op = server.connect("operator")
    op.ok("participant.register", organization="CA2 Org " + unique, role="supplier",
          name="CA2 bids", certificate=pem(env, name))
    c = server.connect(name)
    assert c.ok("hello")["fingerprint"] == env.fingerprint(name)
    other = server.connect("supplier1")

    # removed: its open connection is closed, new ones are refused, others carry on
    os.unlink(str(cadir / "second-ca.pem"))
    off = hup(server)
    wait_log(server, "reloaded on SIGHUP", offset=off)
    msgs = c.wait_closed(timeout=10)
    assert [m["error"]["code"] for m in msgs] == ["certificate_not_trusted"], msgs
    assert "UNKNOWN_CA" in str(refused_handshake(server, ctx_of(env, name))).upper()
    assert other.ok("hello")["ok"]


def test_ca_dir_changes_are_noticed_without_a_signal(env, tenderd_factory, tmp_path, unique):
    cadir = tmp_path / "cas"
    cadir.mkdir()
    name = "ca2watch" + unique
    ca2 = second_ca(env, unique, name)
    server = tenderd_factory(ca_dir=str(cadir), tls_watch_interval=1)
    # a complete file renamed into place, as a deploy tool would
    tmp = str(tmp_path / "incoming.pem")
    shutil.copy(ca2, tmp)
    off = len(server.log_text())
    os.replace(tmp, str(cadir / "ca2.pem"))
    wait_log(server, "TLS reloaded (file changed)", offset=off)
    with server.client("operator") as op:
        op.ok("participant.register", organization="CA2 Watch " + unique, role="supplier",
              name="CA2 watch", certificate=pem(env, name))
    c = server.connect(name)
    assert c.ok("hello")["ok"]
    # a file changed in place counts as a change too: appended to, then rewritten without
    # the second CA
    off = len(server.log_text())
    with open(str(cadir / "ca2.pem"), "a") as f:
        f.write(open(env.ca).read())
    wait_log(server, "TLS reloaded (file changed)", offset=off)
    assert c.ok("hello")["ok"]
    off = len(server.log_text())
    with open(str(cadir / "ca2.pem"), "w") as f:
        f.write(open(env.ca).read())
    wait_log(server, "TLS reloaded (file changed)", offset=off)
    msgs = c.wait_closed(timeout=10)
    assert [m["error"]["code"] for m in msgs] == ["certificate_not_trusted"], msgs


def test_crls_of_every_trusted_ca_are_honoured(env, tenderd_factory, tmp_path, unique):
    """One crl file holding the platform CA's CRL and the second CA's: the second CA's
    revocations are refused, its other certificates served."""
    cadir = tmp_path / "cas"
    cadir.mkdir()
    good, bad = "ca2good" + unique, "ca2bad" + unique
    ca2 = second_ca(env, unique, good, bad)
    env.make_cert("--from-ca", "ca2" + unique, "--revoke", bad)
    env.make_cert("--crl")
    shutil.copy(ca2, str(cadir / "ca2.pem"))
    crl = tmp_path / "crl.pem"
    crl.write_text(open(os.path.join(str(env.pki), "crl.pem")).read() +
                   open(os.path.join(str(env.pki), "ca2%s-crl.pem" % unique)).read())
    server = tenderd_factory(ca_dir=str(cadir), crl=str(crl))
    with server.client("operator") as op:
        op.ok("participant.register", organization="CA2 CRL " + unique, role="supplier",
              name="CA2 good", certificate=pem(env, good))
        e = op.error("participant.register", organization="CA2 CRL " + unique, role="supplier",
                     name="CA2 bad", certificate=pem(env, bad))
        assert e["code"] == "bad_field" and "revoked" in e["message"], e
    assert server.connect(good).ok("hello")["ok"]
    assert "CERTIFICATE_REVOKED" in str(refused_handshake(server, ctx_of(env, bad))).upper()


def test_a_ca_dir_file_that_does_not_load_fails_the_reload(env, tenderd_factory,
                                                                    tmp_path):
    cadir = tmp_path / "cas"
    cadir.mkdir()
    server = tenderd_factory(ca_dir=str(cadir), tls_watch_interval=0)
    (cadir / "junk.pem").write_text("not a certificate\n")
    off = hup(server)
    wait_log(server, "RELOAD FAILED", offset=off)
    assert "ca_dir %s/junk.pem" % cadir in server.log_text()[off:]
    assert server.connect("supplier1").ok("hello")["ok"]
