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
    wait_log(server, 'msg="tls verify failed" depth=0 error="%s" subject="/CN=%s"' % (LACKS, name))
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


# ---- several certificates per participant: certificate.add, certificate.list ----

CERT_KEYS = {"fingerprint", "participant", "subject", "serial", "not_before", "not_after",
             "registered_by", "registered_at"}


def register_new(env, op, name, unique):
    """A fresh supplier with certificate `name`; its participant id."""
    env.make_cert(name)
    r = op.ok("participant.register", organization="Rotation " + unique, role="supplier",
              name="Rotating " + unique, certificate=pem(env, name))
    return r["participant"]["id"]


def test_a_second_certificate_opens_connections_as_the_same_participant(env, server, unique):
    old, new = "rotold" + unique, "rotnew" + unique
    op = server.connect("operator")
    me = op.ok("hello")["participant"]["id"]
    pid = register_new(env, op, old, unique)
    env.make_cert(new)
    r = op.ok("certificate.add", participant=pid, certificate=pem(env, new))
    cert = r["certificate"]
    assert set(cert) == CERT_KEYS, cert
    assert cert["fingerprint"] == env.fingerprint(new) and cert["participant"] == pid
    assert cert["subject"] == "CN=" + new and cert["registered_by"] == me, cert
    a, b = server.connect(old), server.connect(new)
    ha, hb = a.ok("hello"), b.ok("hello")
    assert ha["participant"] == hb["participant"] and ha["participant"]["id"] == pid
    assert (ha["fingerprint"], hb["fingerprint"]) == (env.fingerprint(old), env.fingerprint(new))

    # both listed, in the order registered, for the operator and for the participant itself
    listed = op.ok("certificate.list", participant=pid)
    assert listed["participant"]["id"] == pid
    fps = [c["fingerprint"] for c in listed["certificates"]]
    assert fps == [env.fingerprint(old), env.fingerprint(new)], listed
    assert listed["certificates"][1] == cert
    assert [c["registered_by"] for c in listed["certificates"]] == [me, me]
    assert b.ok("certificate.list")["certificates"] == listed["certificates"]
    e = b.error("certificate.list", participant=me)
    assert e["code"] == "forbidden", e
    assert op.error("certificate.list", participant=99999999)["code"] == "not_found"

    # the change row, its exact body, and the audit view
    rows = env.psql("SELECT stream, participant_id, subject_participant_id, body FROM changes"
                    " WHERE kind = 'certificate_added' AND subject_participant_id = %d" % pid)
    assert len(rows) == 1, rows
    stream, actor, subject, body = rows[0]
    assert (stream, int(actor), int(subject)) == ("participant", me, pid)
    assert body == ('{"participant":%d,"fingerprint":"%s","subject":"CN=%s","serial":"%s",'
                    '"not_before":"%s","not_after":"%s"}' % (
                        pid, cert["fingerprint"], new, cert["serial"], cert["not_before"],
                        cert["not_after"])), body
    audit = env.psql("SELECT fingerprint, participant_id, registered_by, subject FROM"
                     " audit.certificates WHERE participant_id = %d ORDER BY registered_at"
                     % pid, user="auditor")
    assert audit == [[env.fingerprint(old), str(pid), str(me), "CN=" + old],
                     [env.fingerprint(new), str(pid), str(me), "CN=" + new]], audit

    # a restart loads both certificates, as they were
    server.close_clients()
    server.restart()
    with server.client(new) as c:
        assert c.ok("hello")["participant"]["id"] == pid
        assert c.ok("certificate.list")["certificates"] == listed["certificates"]
    with server.client(old) as c:
        assert c.ok("hello")["participant"]["id"] == pid


def test_certificate_add_refusals(env, server, unique):
    op = server.connect("operator")
    pid = register_new(env, op, "rotref" + unique, unique)
    nopol = "rotnopol" + unique
    env.make_cert("--no-policy", nopol)
    env.make_cert("rotunk" + unique)
    e = op.error("certificate.add", participant=99999999,
                 certificate=pem(env, "rotunk" + unique))
    assert e == {"code": "not_found", "field": "participant",
                 "message": "no such participant"}, e
    e = op.error("certificate.add", participant=pid, certificate=pem(env, "supplier2"))
    assert e == {"code": "conflict", "field": "certificate",
                 "message": "this certificate is already registered"}, e
    e = op.error("certificate.add", participant=pid, certificate=pem(env, nopol))
    assert e == {"code": "bad_field", "field": "certificate",
                 "message": "certificate not accepted: " + LACKS}, e
    e = op.error("certificate.add", participant=pid, certificate=pem(env, "rogue"))
    assert e["code"] == "bad_field" and "unable to get local issuer" in e["message"], e
    e = op.error("certificate.add", participant=pid, certificate="not a pem")
    assert e == {"code": "bad_field", "field": "certificate",
                 "message": "not a PEM certificate"}, e
    assert op.error("certificate.add", certificate=pem(env, nopol))["code"] == "missing_field"
    e = server.connect("supplier1").error("certificate.add", participant=pid,
                                          certificate=pem(env, "rotunk" + unique))
    assert e["code"] == "forbidden", e
    # the same certificate twice in one batch: one is registered, the other refused
    first = op.send("certificate.add", participant=pid, certificate=pem(env, "rotunk" + unique))
    second = op.send("certificate.add", participant=pid,
                     certificate=pem(env, "rotunk" + unique))
    replies = [op.reply(first), op.reply(second)]
    assert sorted(r.get("ok", False) for r in replies) == [False, True], replies
    assert [r["error"]["code"] for r in replies if not r.get("ok")] == ["conflict"], replies
    assert len(op.ok("certificate.list", participant=pid)["certificates"]) == 2


def test_rotation_retires_the_old_certificate_by_revocation(env, tenderd_factory, tmp_path,
                                                            unique):
    """Rotation as docs/operations.md tells it: add the new certificate, move over, revoke
    the old one; the old one's connection is closed, the new one's carries on."""
    env.make_cert("--crl")
    crl = tmp_path / "crl.pem"
    shutil.copy(os.path.join(str(env.pki), "crl.pem"), str(crl))
    server = tenderd_factory(crl=str(crl), tls_watch_interval=1)
    old, new = "rotrev" + unique, "rotrev2" + unique
    op = server.connect("operator")
    pid = register_new(env, op, old, unique)
    env.make_cert(new)
    op.ok("certificate.add", participant=pid, certificate=pem(env, new))
    a, b = server.connect(old), server.connect(new)
    assert a.ok("hello")["ok"] and b.ok("hello")["ok"]
    env.make_cert("--revoke", old)
    tmp = str(tmp_path / "crl.new")
    shutil.copy(os.path.join(str(env.pki), "crl.pem"), tmp)
    os.replace(tmp, str(crl))
    msgs = a.wait_closed(timeout=10)
    assert [m["error"]["code"] for m in msgs] == ["certificate_revoked"], msgs
    assert b.ok("hello")["participant"]["id"] == pid
    assert "CERTIFICATE_REVOKED" in str(refused_handshake(server, ctx_of(env, old))).upper()


def test_migration_backfills_who_registered_each_certificate(env, unique, tmp_path):
    """Certificates registered before migration 012 take their participant's registered_by."""
    db = "tdcert_" + unique
    as_role = env.new_database(db)
    old_sql = tmp_path / "sql"
    old_sql.mkdir()
    for f in os.listdir(str(conftest.SQL_DIR)):
        if f.endswith(".sql") and f[:3].isdigit() and int(f[:3]) < 12:
            shutil.copy(os.path.join(str(conftest.SQL_DIR), f), str(old_sql / f))
    try:
        conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER),
                                     "--sql_dir", old_sql))
        psql = lambda sql: conftest.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                         "-d", as_role(conftest.OWNER), "-c", sql]).stdout
        psql("INSERT INTO organizations (id, name) VALUES (1, 'Ops'), (2, 'Alpha');"
             "INSERT INTO participants (id, organization_id, name, role) VALUES"
             " (1, 1, 'Op', 'operator');"
             "INSERT INTO participants (id, organization_id, name, role, registered_by) VALUES"
             " (2, 2, 'Al', 'supplier', 1);"
             "INSERT INTO certificates (fingerprint, participant_id, subject, pem) VALUES"
             " (repeat('a', 64), 1, 'CN=op', 'x'), (repeat('b', 64), 2, 'CN=al', 'x')")
        conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER),
                                     "--sql_dir", conftest.SQL_DIR))
        got = psql("SELECT fingerprint, coalesce(registered_by::text, '-') FROM"
                   " audit.certificates ORDER BY fingerprint")
        assert got.split() == ["%s|-" % ("a" * 64), "%s|1" % ("b" * 64)], got
    finally:
        env.drop_database(db)


# ---- a certificate that expires while connected ----

def test_a_certificate_that_expires_while_connected_is_disconnected(env, server, unique):
    name = "expiring" + unique
    env.make_cert("--expires-in", "8", name)
    with server.client("operator") as op:
        pid = op.ok("participant.register", organization="Expiring " + unique,
                    role="supplier", name="Expiring", certificate=pem(env, name))
        pid = pid["participant"]["id"]
        not_after = op.ok("certificate.list", participant=pid)["certificates"][0]["not_after"]
    c = server.connect(name)
    assert c.ok("hello")["participant"]["id"] == pid
    watcher = server.connect("supplier1")
    msgs = c.wait_closed(timeout=30)
    closed_at = tdclient.now_ms()
    assert msgs == [{"event": "error", "error": {
        "code": "certificate_expired",
        "message": "this certificate expired at %s" % not_after}}], msgs
    # at its notAfter, not before (the same clock; a little slack for the test's reads)
    assert closed_at >= tdclient.parse_time(not_after) - 50, (closed_at, not_after)
    wait_log(server, "certificate expired at %s; closing" % not_after)
    assert "EXPIRED" in str(refused_handshake(server, ctx_of(env, name))).upper()
    assert watcher.ok("hello")["ok"]
