"""tenderd verify and audit.verify_log() (docs/audit.md, "Verifying the log"): an intact log
verifies (exit 0, no rows); each tampering an attacker who owns the tables could do (triggers
disabled: a bid's amount changed, a row deleted, two rows' seq swapped, a signature replaced, a
tree head's root replaced) is found and the row named, by both.

One database is built once for the module: a closed auction with bids, a running one, an RFQ
opened and awarded, and signed tree heads (a log key of the test CA signs them, as
docs/trust.md describes) and one signed statement (a detached CMS signature by a participant's
registered certificate); tenderd verify runs as the auditor role. Each tampering is done on a
copy of that database, as the superuser."""
import hashlib
import subprocess
import tempfile
import time

import pytest

import conftest
import procutil as pu
from conftest import run, sanitizer_env
from tdclient import create_auction

SU = conftest.SUPERUSER
NAMES = ["operator", "buyer", "supplier1", "supplier2", "supplier3"]


def psql_db(env, db, sql, user=SU, check=True):
    ci = "host=%s port=%d dbname=%s user=%s" % (env.pg_socket, env.pg_port, db, user)
    p = run([conftest.PSQL, "-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
             "-d", ci, "-c", sql], timeout=120, check=check)
    if not check:
        return p
    return [line.split("\x1f") for line in p.stdout.splitlines() if line != ""]


def mth(leaves):
    """RFC 9162 Merkle tree hash of a list of leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def head_bytes(size, root, at_ms):
    return ("tenderd tree head v1\nsize %d\nroot %s\ntime %d\n" % (size, root.hex(), at_ms)).encode()


def openssl(*args, data=None):
    return subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                          check=True, timeout=60).stdout


def fingerprint_der(env, name):
    der = openssl("x509", "-in", env.cert(name), "-outform", "DER")
    return hashlib.sha256(der).hexdigest()


def sign_head(env, key, size, root, at_ms):
    return openssl("dgst", "-sha256", "-sign", env.key(key), data=head_bytes(size, root, at_ms))


def add_heads(env, db, sizes, key="log"):
    """Signed tree heads at `sizes` over the stored leaf hashes, signed with `key` (by default
    the platform's log key of certs/mkpki.sh, timeStamping; registered in log_keys)."""
    leaves = [bytes.fromhex(r[0]) for r in psql_db(
        env, db, "SELECT encode(leaf_hash, 'hex') FROM changes ORDER BY seq")]
    fp = fingerprint_der(env, key)
    pem = open(env.cert(key)).read()
    psql_db(env, db, "INSERT INTO log_keys (fingerprint, pem) VALUES ('%s', $pem$%s$pem$)"
            " ON CONFLICT DO NOTHING" % (fp, pem))
    at_ms = int(time.time() * 1000)
    for size in sizes:
        root = mth(leaves[:size])
        sig = sign_head(env, key, size, root, at_ms)
        # a head tenderd signed itself at that size stays (it is as good)
        psql_db(env, db, "INSERT INTO tree_heads (tree_size, root, at, signature, key_fingerprint)"
                " VALUES (%d, '\\x%s', to_timestamp(%d / 1000.0), '\\x%s', '%s')"
                " ON CONFLICT (tree_size) DO NOTHING" % (size, root.hex(), at_ms, sig.hex(), fp))


def statement_row(env, db, who, text, *flags):
    """Append a change signed by `who` (a detached CMS signature over `text`; `flags` to
    openssl cms, such as -nocerts: the signature without the signer's certificate)."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(text.encode())
        f.flush()
        sig = openssl("cms", "-sign", "-binary", "-in", f.name, "-signer", env.cert(who),
                      "-inkey", env.key(who), "-outform", "DER", *flags)
    fp = env.fingerprint(who)
    pid, oid = psql_db(env, db, "SELECT p.id, p.organization_id FROM participants p JOIN"
                       " certificates c ON c.participant_id = p.id WHERE c.fingerprint = '%s'"
                       % fp)[0]
    psql_db(env, db, """
        INSERT INTO changes (seq, at, stream, kind, participant_id, organization_id, fingerprint,
            subject_organization_id, reason, body, statement, signature, signer, leaf_hash)
        SELECT s, t, 'organization', 'reinstated', {pid}, {oid}, '{fp}', {oid}, 'signed',
               '{{"organization":{oid},"status":"active","reason":"signed"}}', $st${text}$st$,
               '\\x{sig}', '{fp}',
               tenderd_leaf(s, t, 'organization', 'reinstated', NULL, NULL, NULL, NULL, NULL,
                   {pid}, {oid}, '{fp}', NULL, {oid}, NULL, 'signed', false,
                   '{{"organization":{oid},"status":"active","reason":"signed"}}', $st${text}$st$,
                   '\\x{sig}', '{fp}')
        FROM (SELECT coalesce(max(seq), 0) + 1 AS s, now() AS t FROM changes) x
        RETURNING seq""".format(pid=pid, oid=oid, fp=fp, text=text, sig=sig.hex()))
    return int(psql_db(env, db, "SELECT max(seq) FROM changes")[0][0])


@pytest.fixture(scope="module")
def base(env, tenderd_factory_module):
    """The database every test copies: (name, facts)."""
    db = "tdverify_base"
    env.drop_database(db)
    as_role = env.new_database(db)
    run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER), "--sql_dir",
                        conftest.SQL_DIR), env=sanitizer_env())
    for name in NAMES:
        role, org, display = conftest.PARTICIPANTS[name]
        run(env.tenderd_cmd("register", "--db", as_role("tenderd"), "--role", role,
                            "--organization", org, "--name", display, "--cert", env.cert(name)),
            env=sanitizer_env())
    server = tenderd_factory_module(db=as_role("tenderd"))
    buyer, s1, s2, s3 = (server.connect(n) for n in ("buyer", "supplier1", "supplier2",
                                                      "supplier3"))
    closed = create_auction(buyer, "Verified paper", duration=2, step_max="50000.00")
    s1.ok("auction.bid", auction=closed["id"], amount="990000.00")
    s2.ok("auction.bid", auction=closed["id"], amount="985000.00")
    s1.ok("auction.bid", auction=closed["id"], amount="980000.00")
    s2.error("auction.bid", auction=closed["id"], amount="2000000.00")
    running = create_auction(buyer, "Verified chairs", duration=600, step_max="50000.00")
    s3.ok("auction.bid", auction=running["id"], amount="990000.00")
    p = pu.create(buyer, "rfq", "Verified RFQ", enquiry=800, deadline=2500, opening=2500)
    sealed = pu.create(buyer, "rfq", "Sealed RFQ", enquiry=800, deadline=600000, opening=600000)
    pu.wait_tendering(s1, p)
    pu.wait_tendering(s3, sealed)
    s3.ok("quote.submit", procurement=sealed["id"], lot=1, price="700.00")
    s1.ok("quote.submit", procurement=p["id"], lot=1, price="900.00")
    s2.ok("quote.submit", procurement=p["id"], lot=1, price="850.00")
    v = pu.wait_opened(buyer, p)
    best = v["lots"][0]["opening"][0]["offer"]
    buyer.ok("award.decide", procurement=p["id"], lot=1, offer=best, decision="award")
    deadline = time.monotonic() + 10
    while buyer.ok("auction.get", auction=closed["id"])["auction"]["state"] != "closed":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    server.close_clients()
    server.stop()
    n = int(psql_db(env, db, "SELECT max(seq) FROM changes")[0][0])
    signed = statement_row(env, db, "operator", "reinstate organization; nonce 1")
    statement_row(env, db, "operator", "reinstate organization; nonce 3", "-nocerts")
    add_heads(env, db, [0, n // 2, n + 2])
    facts = {"rows": n + 2, "signed": signed, "closed": closed["id"], "head": n + 2,
             "half": n // 2,
             "heads": int(psql_db(env, db, "SELECT count(*) FROM tree_heads")[0][0]),
             # the two above, and any request tenderd took signed
             "signatures": int(psql_db(env, db, "SELECT count(*) FROM audit.changes WHERE NOT"
                                       " withheld AND (statement IS NOT NULL OR signature IS"
                                       " NOT NULL OR signer IS NOT NULL)", user="auditor")[0][0])}
    facts["bid_seq"], facts["bid_id"] = (int(x) for x in psql_db(
        env, db, "SELECT seq, bid_id FROM changes WHERE auction_id = %d AND kind ="
        " 'bid_accepted' ORDER BY seq LIMIT 1" % closed["id"])[0])
    yield db, facts
    env.drop_database(db)


@pytest.fixture(scope="module")
def tenderd_factory_module(env, request):
    f = conftest.Factory(env, request.node)
    yield f
    f.finish()


@pytest.fixture
def copy(env, base):
    """A copy of the base database for one test: (name, facts)."""
    name = "tdverify_" + hashlib.sha1(str(time.time()).encode()).hexdigest()[:8]
    psql_db(env, "postgres", "CREATE DATABASE %s TEMPLATE %s" % (name, base[0]))
    yield name, base[1]
    env.drop_database(name)


def verify(env, db, *extra):
    """tenderd verify as the auditor: (exit code, stdout)."""
    ci = "host=%s port=%d dbname=%s" % (env.pg_socket, env.pg_port, db)
    p = run(env.tenderd_cmd("verify", "--db", ci, "--ca", env.ca, *extra), check=False,
            env=sanitizer_env(), timeout=120)
    assert not any(m in p.stderr for m in conftest.SANITIZER_MARKS), p.stderr
    assert p.returncode in (0, 1), p.stdout + p.stderr
    return p.returncode, p.stdout


def verify_log(env, db):
    return psql_db(env, db, "SELECT seq, tree_size, problem FROM audit.verify_log()",
                   user="auditor")


def first(out):
    return out.strip().splitlines()[-1]


def test_intact_log_verifies(env, base):
    db, facts = base
    rc, out = verify(env, db)
    assert rc == 0, out
    assert "verified %d rows" % facts["rows"] in out, out
    # one signature carries its signer's certificate, the other not (-nocerts)
    assert facts["signatures"] >= 2   # more once tenderd takes signed requests
    assert "%d signed tree heads, %d signatures, 2 auctions with 4 bids" % (
        facts["heads"], facts["signatures"]) in out, out
    assert "1 procedures (1 openings; 1 not opened yet" in out, out
    # the sealed quote's row: its body, statement, author withheld from the auditor
    assert "(1 withheld until their opening: covered by the tree only)" in out, out
    assert verify_log(env, db) == []


def test_auditor_cannot_read_the_tables_behind(env, base):
    db, _ = base
    for t in ("changes", "tree_heads", "log_keys", "bids"):
        p = psql_db(env, db, "SELECT 1 FROM %s LIMIT 1" % t, user="auditor", check=False)
        assert p.returncode != 0 and "permission denied" in p.stderr, (t, p.stderr)


def test_bid_amount_changed_in_changes_and_bids(env, copy):
    db, f = copy
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE changes SET amount = amount - 100 WHERE seq = %d;"
            " UPDATE bids SET amount = amount - 100 WHERE id = %d" % (f["bid_seq"], f["bid_id"]))
    rc, out = verify(env, db)
    assert rc == 1, out
    assert "DIFFERS: changes seq %d column leaf_hash" % f["bid_seq"] in out, out
    assert first(out).endswith("the first: changes seq %d column leaf_hash" % f["bid_seq"]), out
    rows = verify_log(env, db)
    assert [r[:2] for r in rows] == [[str(f["bid_seq"]), ""]], rows
    assert "leaf hash" in rows[0][2]


def test_bid_amount_changed_with_its_leaf_hash(env, copy):
    """The attacker recomputes the leaf hash too: the signed tree head no longer matches, and
    the head is named with the range of rows since the last good head."""
    db, f = copy
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE changes SET amount = amount - 100 WHERE seq = %d;"
            " UPDATE changes SET leaf_hash = tenderd_leaf(seq, at, stream, kind, auction_id,"
            " procurement_id, lot_id, offer_id, bid_id, participant_id, organization_id,"
            " fingerprint, subject_participant_id, subject_organization_id, amount, reason,"
            " sealed, body, statement, signature, signer) WHERE seq = %d;"
            " UPDATE bids SET amount = amount - 100 WHERE id = %d"
            % (f["bid_seq"], f["bid_seq"], f["bid_id"]))
    rc, out = verify(env, db)
    assert rc == 1, out
    # the first head at or after the row, and the rows since the head before it (tenderd's
    # own heads, once it signs them, are among them)
    sizes = sorted(int(r[0]) for r in psql_db(env, db, "SELECT tree_size FROM tree_heads"))
    hi = min(x for x in sizes if x >= f["bid_seq"])
    lo = max([x for x in sizes if x < f["bid_seq"]] + [0]) + 1
    assert "DIFFERS: tree_heads tree_size %d column root" % hi in out, out
    assert "rows %d to %d differ" % (lo, hi) in out, out
    rows = verify_log(env, db)
    assert [r[1] for r in rows if r[1]][0] == str(hi), rows


def test_bid_amount_changed_in_bids_only(env, copy):
    """The log intact, the typed table edited: the replay names the bid and the column."""
    db, f = copy
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE bids SET amount = amount - 100 WHERE id = %d" % f["bid_id"])
    rc, out = verify(env, db)
    assert rc == 1, out
    assert first(out).endswith("the first: bids id %d column amount" % f["bid_id"]), out
    assert verify_log(env, db) == []   # the hashes alone do not cover the typed tables


def test_final_price_changed(env, copy):
    db, f = copy
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE auctions SET final_price = final_price + 1 WHERE id = %d" % f["closed"])
    rc, out = verify(env, db)
    assert rc == 1, out
    assert first(out).endswith("the first: auctions id %d column final_price" % f["closed"]), out


def test_row_deleted(env, copy):
    db, f = copy
    seq = f["bid_seq"] + 1
    psql_db(env, db, "ALTER TABLE changes DISABLE TRIGGER changes_append_only;"
            " DELETE FROM changes WHERE seq = %d;"
            " ALTER TABLE changes ENABLE TRIGGER changes_append_only" % seq)
    rc, out = verify(env, db)
    assert rc == 1, out
    assert "DIFFERS: changes seq %d: row missing" % seq in out, out
    assert first(out).endswith("the first: changes seq %d" % seq), out
    rows = verify_log(env, db)
    assert rows[0][:2] == [str(seq), ""] and "missing" in rows[0][2], rows


def test_two_rows_swapped(env, copy):
    db, f = copy
    a, b = f["bid_seq"], f["bid_seq"] + 2
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE changes SET seq = 999999 WHERE seq = %d;"
            " UPDATE changes SET seq = %d WHERE seq = %d;"
            " UPDATE changes SET seq = %d WHERE seq = 999999" % (a, a, b, b))
    rc, out = verify(env, db)
    assert rc == 1, out
    assert "DIFFERS: changes seq %d column leaf_hash" % a in out, out
    assert "DIFFERS: changes seq %d column leaf_hash" % b in out, out
    assert first(out).endswith("the first: changes seq %d column leaf_hash" % a), out
    rows = verify_log(env, db)
    assert [r[0] for r in rows if r[0]] == [str(a), str(b)], rows


def test_signature_replaced(env, copy):
    """Another valid signature by the same certificate, over other bytes."""
    db, f = copy
    with tempfile.NamedTemporaryFile() as t:
        t.write(b"reinstate organization; nonce 2")
        t.flush()
        sig = openssl("cms", "-sign", "-binary", "-in", t.name, "-signer", env.cert("operator"),
                      "-inkey", env.key("operator"), "-outform", "DER")
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE changes SET signature = '\\x%s' WHERE seq = %d" % (sig.hex(), f["signed"]))
    rc, out = verify(env, db)
    assert rc == 1, out
    assert "DIFFERS: changes seq %d column leaf_hash" % f["signed"] in out, out
    assert "DIFFERS: changes seq %d column signature: the signature does not match the " \
        "statement" % f["signed"] in out, out
    rows = verify_log(env, db)
    assert [r[0] for r in rows if r[0]] == [str(f["signed"])], rows


def test_signature_replaced_with_its_leaf_hash(env, copy):
    db, f = copy
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE changes SET signature = signature || '\\x00'::bytea WHERE seq = %d;"
            " UPDATE changes SET leaf_hash = tenderd_leaf(seq, at, stream, kind, auction_id,"
            " procurement_id, lot_id, offer_id, bid_id, participant_id, organization_id,"
            " fingerprint, subject_participant_id, subject_organization_id, amount, reason,"
            " sealed, body, statement, signature, signer) WHERE seq = %d"
            % (f["signed"], f["signed"]))
    rc, out = verify(env, db)
    assert rc == 1, out
    assert "DIFFERS: changes seq %d column signature" % f["signed"] in out, out
    assert "DIFFERS: tree_heads tree_size %d column root" % f["head"] in out, out


def test_tree_head_root_replaced(env, copy):
    db, f = copy
    psql_db(env, db, "ALTER TABLE tree_heads DISABLE TRIGGER tree_heads_append_only;"
            " UPDATE tree_heads SET root = sha256('forged') WHERE tree_size = %d;"
            " ALTER TABLE tree_heads ENABLE TRIGGER tree_heads_append_only" % f["half"])
    rc, out = verify(env, db)
    assert rc == 1, out
    assert "DIFFERS: tree_heads tree_size %d column signature" % f["half"] in out, out
    assert "DIFFERS: tree_heads tree_size %d column root" % f["half"] in out, out
    rows = verify_log(env, db)
    assert [r[:2] for r in rows] == [["", str(f["half"])]], rows


def test_log_key_from_another_ca(env, copy):
    """Heads signed by a key whose certificate does not chain to the given CA are not trusted."""
    db, f = copy
    rc, out = verify(env, db, "--ca", str(env.pki / "rogue-ca.crt"))
    assert rc == 1, out
    assert "DIFFERS: log_keys fingerprint %s column pem: the log key's certificate is not one " \
        "the CA %s issued for signing tree heads" % (fingerprint_der(env, "log"),
                                                     env.pki / "rogue-ca.crt") in out, out
    assert " the first: log_keys fingerprint " in first(out), out
    assert "DIFFERS: tree_heads tree_size %d column key_fingerprint" % f["head"] in out, out


def test_head_signed_by_a_participant_certificate(env, copy):
    """A certificate of the platform CA that is not a log key's (no timeStamping) signs no
    head an auditor accepts."""
    db, f = copy
    env.make_cert("vlogkey")
    psql_db(env, db, "ALTER TABLE tree_heads DISABLE TRIGGER tree_heads_append_only;"
            " DELETE FROM tree_heads WHERE tree_size = 1;"
            " ALTER TABLE tree_heads ENABLE TRIGGER tree_heads_append_only")
    add_heads(env, db, [1], key="vlogkey")
    rc, out = verify(env, db)
    assert rc == 1, out
    assert "DIFFERS: log_keys fingerprint %s column pem: the log key's certificate is not one " \
        "the CA" % fingerprint_der(env, "vlogkey") in out, out
    assert "unsuitable certificate purpose" in out, out
    assert "DIFFERS: tree_heads tree_size 1 column key_fingerprint" in out, out


def test_opening_record_changed_with_its_leaf_hash(env, copy):
    """The ranks and prices of the logged opening record are not what the engine makes of the
    offers when the log is replayed."""
    db, f = copy
    seq = int(psql_db(env, db, "SELECT seq FROM changes WHERE kind = 'opened'")[0][0])
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE changes SET body = replace(body, '850.00', '849.00') WHERE seq = %d;"
            " UPDATE changes SET leaf_hash = tenderd_leaf(seq, at, stream, kind, auction_id,"
            " procurement_id, lot_id, offer_id, bid_id, participant_id, organization_id,"
            " fingerprint, subject_participant_id, subject_organization_id, amount, reason,"
            " sealed, body, statement, signature, signer) WHERE seq = %d" % (seq, seq))
    rc, out = verify(env, db)
    assert rc == 1, out
    assert "DIFFERS: changes seq %d column body: procurement" % seq in out, out
    assert "column root" in out, out


def test_sealed_row_changed(env, copy):
    """A sealed offer's row edited before the opening: the auditor does not see its columns,
    verify_log() (which runs as the owner) names it, tenderd verify finds the tree changed."""
    db, f = copy
    seq = int(psql_db(env, db, "SELECT c.seq FROM changes c JOIN procurements p ON p.id ="
                      " c.procurement_id WHERE c.kind = 'offer_submitted' AND p.opened_at IS NULL"
                      )[0][0])
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE changes SET body = body || ' ' WHERE seq = %d" % seq)
    rows = verify_log(env, db)
    assert [r[0] for r in rows if r[0]] == [str(seq)], rows
    rc, out = verify(env, db)
    assert rc == 0, out   # the stored leaf hash is intact: the tree agrees; opening will tell
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE changes SET leaf_hash = sha256(body::bytea) WHERE seq = %d" % seq)
    rc, out = verify(env, db)
    assert rc == 1 and "column root" in out, out


def test_exit_codes_when_it_cannot_verify(env, base):
    """3: no database to verify; 2: a malformed command line."""
    ci = "host=%s port=%d dbname=tdverify_nosuch" % (env.pg_socket, env.pg_port)
    p = run(env.tenderd_cmd("verify", "--db", ci, "--ca", env.ca), check=False,
            env=sanitizer_env(), timeout=60)
    assert p.returncode == 3 and "cannot connect to PostgreSQL" in p.stderr, (p.returncode, p.stderr)
    p = run(env.tenderd_cmd("verify", "extra"), check=False, env=sanitizer_env(), timeout=60)
    assert p.returncode == 2 and "usage: tenderd" in p.stderr, (p.returncode, p.stderr)
    p = run(env.tenderd_cmd("verify", "--no_such_setting", "1"), check=False,
            env=sanitizer_env(), timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr)


def test_signed_bid_signature_replaced(env, copy):
    """A bid tenderd took signed (its statement, signature and signer stored with it): its
    signature swapped for another participant's is named."""
    db, f = copy
    rows = psql_db(env, db, "SELECT seq FROM changes WHERE kind = 'bid_accepted' AND signature"
                   " IS NOT NULL ORDER BY seq LIMIT 1")
    if not rows:
        pytest.skip("tenderd stores no signed bids on this tree")
    seq = int(rows[0][0])
    psql_db(env, db, "SET session_replication_role = replica;"
            " UPDATE changes SET signature = (SELECT signature FROM changes WHERE seq = %d)"
            " WHERE seq = %d" % (f["signed"], seq))
    rc, out = verify(env, db)
    assert rc == 1, out
    assert "DIFFERS: changes seq %d column signature: signed by another certificate" % seq \
        in out, out
    assert first(out).endswith("the first: changes seq %d column leaf_hash" % seq), out
