"""Amendments cost storage in proportion to their own size: the log row of an amendment holds
what it changes (its fields and the documents it adds), never the documents of earlier
versions again; every version stays visible in audit.procurement_versions, a restart rebuilds
the same procurement, and migration 007 converts amendments written in the old form."""
import base64
import hashlib
import json
import os
import pathlib
import shutil
import tempfile
import time

import conftest
import procutil as pu
from procutil import get
from tdclient import format_time

DOC = 24 * 1024
INITIAL = 4
AMENDMENTS = 50
TABLES = ("procurement_log", "procurement_versions", "procurement_documents")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def document(name, data):
    return {"name": name, "media_type": "application/octet-stream",
            "content": base64.b64encode(data).decode(), "sha256": sha(data)}


def comparable(view):
    v = dict(view)
    v.pop("server_time")
    return v


def fields_of(p, title):
    return {"title": title, "description": "Storage of amendments",
            "enquiry_end": p["enquiry_end"], "submission_deadline": p["submission_deadline"],
            "opening_at": p["opening_at"], "min_bids": 1,
            "lots": [pu.lot("Reagents", "5000.00")]}


def table_bytes(env):
    return int(env.psql("SELECT " + " + ".join("pg_total_relation_size('%s')" % t
                                               for t in TABLES))[0][0])


def test_amendment_storage_is_proportional_to_the_amendment(env, tenderd_factory, unique):
    # one document per amendment, more than the default max_documents_per_procedure
    server = tenderd_factory(max_line=1 << 20, max_documents_per_procedure=1000)
    buyer = server.connect("buyer")
    supplier = server.connect("supplier1")
    contents = [os.urandom(DOC) for _ in range(INITIAL + AMENDMENTS)]
    title = "Amendment storage " + unique
    p = pu.create(buyer, "tender", title, enquiry=600000, deadline=1200000, opening=1200000,
                  lots=[pu.lot("Reagents", "5000.00")],
                  documents=[document("annex-%02d.bin" % i, contents[i])
                             for i in range(INITIAL)])
    pid = p["id"]
    start = table_bytes(env)
    own = []  # bytes of each amendment's request line
    for k in range(1, AMENDMENTS + 1):
        n = INITIAL + k - 1
        req = dict(fields_of(p, "%s v%d" % (title, k + 1)), procurement=pid,
                   reason="Annex %d" % (n + 1),
                   documents=[document("annex-%02d.bin" % n, contents[n])])
        own.append(len(json.dumps(dict(req, op="procurement.amend"))))
        v = buyer.ok("procurement.amend", **req)["procurement"]
        assert v["version"] == k + 1 and len(v["documents"]) == n + 1, v["version"]
        assert v["documents"][-1]["id"] == n + 1 and v["documents"][-1]["sha256"] == sha(
            contents[n]), v["documents"][-1]
    grown = table_bytes(env) - start

    # each amendment's log row and version row: about its own size, whatever came before
    rows = env.psql(
        "SELECT (l.detail ->> 'version')::int, pg_column_size(l.detail), "
        "pg_column_size(v.document) FROM procurement_log l JOIN procurement_versions v "
        "ON v.procurement_id = l.procurement_id AND v.version = (l.detail ->> 'version')::int "
        "WHERE l.procurement_id = %d AND l.kind = 'amended' ORDER BY l.id" % pid)
    assert [int(r[0]) for r in rows] == list(range(2, AMENDMENTS + 2)), rows
    stored = [int(r[1]) + int(r[2]) for r in rows]
    for k, (b, o) in enumerate(zip(stored, own), 1):
        assert b <= 1.5 * o + 2048, (
            "amendment %d stores %d bytes for a request of %d bytes (all: %r)" % (
                k, b, o, stored))
    assert max(stored) <= min(stored) * 1.1 + 1024, stored
    # what the tables grew by, documents included (contents once as base64 in the log and
    # once as bytes): a small constant times the amendments' own size
    assert grown <= 3 * sum(own) + 64 * 1024, (grown, sum(own))

    # every version in the audit view: its reason and the documents it had
    rows = env.psql("SELECT version, coalesce(reason, ''), document ->> 'title', "
                    "jsonb_array_length(document -> 'documents'), "
                    "document -> 'documents' -> -1 ->> 'sha256', "
                    "document -> 'documents' -> -1 ->> 'id', "
                    "jsonb_path_exists(document, '$.documents[*].content') "
                    "FROM audit.procurement_versions WHERE procurement_id = %d "
                    "ORDER BY version" % pid, user="auditor")
    assert len(rows) == AMENDMENTS + 1, rows
    for ver, reason, t, ndocs, last_sha, last_id, has_content in rows:
        n = INITIAL + int(ver) - 1
        assert (reason, t) == (("", title) if ver == "1" else (
            "Annex %d" % n, "%s v%s" % (title, ver))), (ver, reason, t)
        assert (int(ndocs), last_sha, int(last_id)) == (n, sha(contents[n - 1]), n), ver
        assert has_content == "f", ver

    # a restart rebuilds the same procurement, documents and all
    before = {who: comparable(get(c, pid)) for who, c in (("buyer", buyer),
                                                          ("supplier1", supplier))}
    server.close_clients()
    server.restart()
    buyer = server.connect("buyer")
    supplier = server.connect("supplier1")
    for who, c in (("buyer", buyer), ("supplier1", supplier)):
        assert comparable(get(c, pid)) == before[who], who
    for n in (1, INITIAL, INITIAL + 1, INITIAL + AMENDMENTS):
        d = supplier.ok("document.get", procurement=pid, document=n)["document"]
        assert base64.b64decode(d["content"]) == contents[n - 1] and d["id"] == n, n

    # and amendments go on numbering documents after the replayed ones
    extra = os.urandom(100)
    v = buyer.ok("procurement.amend", procurement=pid, reason="After the restart",
                 documents=[document("late.bin", extra)],
                 **fields_of(p, title + " late"))["procurement"]
    assert v["version"] == AMENDMENTS + 2, v["version"]
    assert v["documents"][-1]["id"] == INITIAL + AMENDMENTS + 1, v["documents"][-1]
    d = supplier.ok("document.get", procurement=pid, document=INITIAL + AMENDMENTS + 1)
    assert base64.b64decode(d["document"]["content"]) == extra
    buyer.ok("procurement.cancel", procurement=pid, reason="test over")


def test_pipelined_amendments_keep_each_others_documents(env, server, unique):
    """Two amendments with documents sent in one write are parsed before either is applied:
    each adds its documents after the other's, none is lost and no id is given twice."""
    buyer = server.connect("buyer")
    title = "Pipelined amendments " + unique
    first = b"first annex " + unique.encode()
    p = pu.create(buyer, "tender", title, enquiry=60000, deadline=120000, opening=120000,
                  documents=[document("base.txt", first)])
    pid = p["id"]
    annexes = [os.urandom(500) for _ in range(4)]
    lines = []
    for n in range(2):
        req = dict(fields_of(p, "%s v%d" % (title, n + 2)),
                   procurement=pid, reason="Annexes %d" % n,
                   documents=[document("a%d-%d.bin" % (n, i), annexes[2 * n + i])
                              for i in range(2)])
        lines.append(buyer.signed_line("procurement.amend", 100 + n, **req))
    buyer.send_raw("".join(lines))
    for n in range(2):
        r = buyer.reply(100 + n)
        assert r.get("ok") is True and r["procurement"]["version"] == n + 2, r
    v = get(buyer, pid)
    assert [(d["id"], d["sha256"]) for d in v["documents"]] == [(1, sha(first))] + [
        (i + 2, sha(a)) for i, a in enumerate(annexes)], v["documents"]
    for i, a in enumerate(annexes):
        d = buyer.ok("document.get", procurement=pid, document=i + 2)["document"]
        assert base64.b64decode(d["content"]) == a, i
    rows = env.psql("SELECT id, encode(sha256(content), 'hex') FROM procurement_documents "
                    "WHERE procurement_id = %d ORDER BY id" % pid)
    assert rows == [[str(i + 1), sha(c)] for i, c in enumerate([first] + annexes)], rows
    buyer.ok("procurement.cancel", procurement=pid, reason="test over")


# ---- migration 007: amendments written in the old form ----

def psql_db(env, db, sql):
    p = conftest.run([conftest.PSQL, "-X", "-q", "-A", "-t", "-F", "\x1f", "-v",
                      "ON_ERROR_STOP=1", "-d", db, "-c", sql], timeout=120)
    return [line.split("\x1f") for line in p.stdout.splitlines() if line != ""]


def old_doc(fields, documents):
    """A document as tenderd wrote it in a log row before migration 007."""
    return dict(fields, documents=documents)


def test_migration_converts_old_amendments(env, tenderd_factory, unique):
    db = "tdmig_" + unique
    as_role = env.new_database(db)
    conninfo = as_role("tenderd")
    sqldir = pathlib.Path(tempfile.mkdtemp(prefix="sql-", dir=env.dir))
    try:
        # the schema as it was before 007, and the participants
        for f in sorted((conftest.ROOT / "sql").glob("[0-9][0-9][0-9]_*.sql")):
            if int(f.name[:3]) < 7:
                shutil.copy(f, sqldir)
        conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER),
                                     "--sql_dir", sqldir))
        # registered as tenderd of that time did (today's `tenderd register` writes a change
        # of migration 010)
        for name in ("operator", "buyer", "supplier1"):
            role, org, display = conftest.PARTICIPANTS[name]
            pem = pathlib.Path(env.cert(name)).read_text().replace("'", "''")
            psql_db(env, conninfo,
                    "WITH o AS (INSERT INTO organizations (name) VALUES ('%s') RETURNING id), "
                    "p AS (INSERT INTO participants (organization_id, name, role) "
                    "SELECT id, '%s', '%s' FROM o RETURNING id) "
                    "INSERT INTO certificates (fingerprint, participant_id, subject, pem) "
                    "SELECT '%s', id, '%s', '%s' FROM p"
                    % (org, display, role, env.fingerprint(name), name, pem))
        assert psql_db(env, conninfo, "SELECT max(version) FROM schema_migrations") < [["7"]]
        buyer_id, org_id = psql_db(env, conninfo, "SELECT p.id, p.organization_id FROM "
                                   "participants p WHERE p.role = 'buyer'")[0]

        # log rows in the old form: every amendment repeats every document so far
        now = int(time.time() * 1000)
        fields = {"title": "Old form " + unique, "description": "d", "kind": "tender",
                  "exp": 2, "currency": "RUB", "enquiry_end": now + 600000,
                  "submission_deadline": now + 1200000, "opening_at": now + 1200000,
                  "min_bids": 1,
                  "lots": [{"id": 1, "title": "Lot", "max_price": 100000,
                            "items": [{"description": "x", "quantity": "1", "unit": "pcs",
                                       "classification": None}],
                            "criteria": [{"code": "price", "name": "Price", "kind": "price",
                                          "weight_bp": 10000}]}]}
        contents = [os.urandom(2000) for _ in range(4)]
        docs = [dict(document("d%d.bin" % i, c), id=i + 1, size=len(c))
                for i, c in enumerate(contents)]
        described = {"id": 5, "name": "plans.dwg", "media_type": "application/acad",
                     "size": 123456, "sha256": "ab" * 32, "content": None}
        pid = 1
        rows = [
            ("created", now - 5000, {"procurement": pid, "buyer_participant": int(buyer_id),
                                     "buyer_org": int(org_id), "state": "draft",
                                     "document": old_doc(fields, docs[:2])}),
            ("published", now - 4000, {"procurement": pid, "state": "published",
                                       "published_at": now - 4000}),
            ("amended", now - 3000, {"procurement": pid, "reason": "r1", "version": 2,
                                     "state": "published", "published_at": now - 4000,
                                     "document": old_doc(dict(fields, title="v2"), docs[:3])}),
            ("amended", now - 2000, {"procurement": pid, "reason": "r2", "version": 3,
                                     "state": "published", "published_at": now - 4000,
                                     "document": old_doc(dict(fields, title="v3"), docs[:3])}),
            ("amended", now - 1000, {"procurement": pid, "reason": "r3", "version": 4,
                                     "state": "published", "published_at": now - 4000,
                                     "document": old_doc(dict(fields, title="v4"),
                                                         docs + [described])}),
        ]
        for kind, at, detail in rows:
            psql_db(env, conninfo, "INSERT INTO procurement_log (procurement_id, at, kind, "
                    "participant_id, organization_id, detail) VALUES (%d, '%s', '%s', %s, %s, "
                    "'%s')" % (pid, format_time(at), kind, buyer_id, org_id,
                               json.dumps(detail)))
        versions_sql = ("SELECT version, coalesce(reason, ''), document::text FROM "
                        "audit.procurement_versions WHERE procurement_id = %d "
                        "ORDER BY version" % pid)
        versions = psql_db(env, as_role("auditor"), versions_sql)

        conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER),
                                     "--sql_dir", conftest.SQL_DIR))
        # the rows now hold only the documents each amendment added, with their contents
        got = psql_db(env, conninfo, "SELECT detail ->> 'version', "
                      "detail -> 'document' ? 'documents', coalesce(detail -> 'documents', 'null') "
                      "FROM procurement_log WHERE kind = 'amended' ORDER BY id")
        assert [(v, has, json.loads(d)) for v, has, d in got] == [
            ("2", "f", [docs[2]]), ("3", "f", []), ("4", "f", [docs[3], described])], got
        # the audit view shows every version as before
        assert psql_db(env, as_role("auditor"), versions_sql) == versions

        # tenderd replays the converted log
        server = tenderd_factory(db=conninfo)
        buyer = server.connect("buyer")
        v = get(buyer, pid)
        assert (v["version"], v["title"]) == (4, "v4"), v
        assert [(d["id"], d["sha256"]) for d in v["documents"]] == [
            (d["id"], d["sha256"]) for d in docs + [described]], v["documents"]
        for i, c in enumerate(contents, 1):
            d = buyer.ok("document.get", procurement=pid, document=i)["document"]
            assert base64.b64decode(d["content"]) == c, i
        v = buyer.ok("procurement.amend", procurement=pid, reason="r4",
                     documents=[document("new.bin", b"new")],
                     **{"title": "v5", "description": "d",
                        "enquiry_end": v["enquiry_end"],
                        "submission_deadline": v["submission_deadline"],
                        "opening_at": v["opening_at"], "min_bids": 1,
                        "lots": [pu.lot("Lot", "1000.00")]})["procurement"]
        assert v["version"] == 5 and v["documents"][-1]["id"] == 6, v
        before = comparable(get(buyer, pid))
        server.close_clients()
        server.restart()
        assert comparable(get(server.connect("buyer"), pid)) == before
        server.close_clients()
        server.stop()
    finally:
        shutil.rmtree(sqldir, ignore_errors=True)
        env.drop_database(db)
