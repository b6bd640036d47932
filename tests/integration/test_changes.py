"""The log of every change (`changes`): one row per change of every auction, procedure,
participant and organization, numbered by tenderd without gaps in commit order (a batch that
does not commit gives its numbers back), its body the exact bytes tenderd decided (compact
JSON, key order as written, never re-encoded), and the state tenderd rebuilds from it after
kill -9."""
import json
import pathlib
import subprocess
import time

import procutil as pu
from tdclient import create_auction

OWNER = "tenderd_owner"


def all_seqs(env):
    return [int(r[0]) for r in env.psql("SELECT seq FROM changes ORDER BY seq")]


def max_seq(env):
    return int(env.psql("SELECT coalesce(max(seq), 0) FROM changes")[0][0])


def assert_gapless(env):
    seqs = all_seqs(env)
    assert seqs == list(range(1, len(seqs) + 1)), [
        (a, b) for a, b in zip(seqs, seqs[1:]) if b != a + 1]


def compact(body):
    """`body` re-encoded compactly with its keys in their order: equal to `body` when it is
    compact JSON as tenderd writes it."""
    return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)


def register(env, server, name, org, role="supplier"):
    env.make_cert(name)
    with server.client("operator") as op:
        return op.ok("participant.register", organization=org, role=role, name="P " + name,
                     certificate=pathlib.Path(env.cert(name)).read_text())


def test_mixed_workload_is_numbered_in_commit_order(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer, s1, s2 = (server.connect(n) for n in ("buyer", "supplier1", "supplier2"))
    op = server.connect("operator")
    start = max_seq(env)
    expect = []   # (stream, kind) of each change, in the order they were acknowledged

    a = create_auction(buyer, "Changes " + unique, step_min="100.00", step_max="50000.00")
    expect += [("auction", "created"), ("auction", "started")]
    s1.ok("auction.bid", auction=a["id"], amount="990000.00")
    expect += [("auction", "bid_accepted")]
    s2.error("auction.bid", auction=a["id"], amount="2000000.00")
    expect += [("auction", "bid_refused")]
    p = pu.create(buyer, "rfq", "Changes RFQ " + unique, publish=False, enquiry=60000,
                  deadline=120000, opening=130000)
    expect += [("procurement", "created")]
    buyer.ok("procurement.publish", procurement=p["id"])
    expect += [("procurement", "published")]
    s1.ok("question.ask", procurement=p["id"], text="Which paper?")
    expect += [("procurement", "question_asked")]
    reg = register(env, server, "chg" + unique, "Changes Org " + unique)
    expect += [("participant", "registered")]
    pid, oid = reg["participant"]["id"], reg["organization"]["id"]
    op.ok("participant.suspend", participant=pid, reason="checking " + unique)
    op.ok("participant.reinstate", participant=pid, reason="checked")
    op.ok("organization.suspend", organization=oid, reason="org check")
    op.ok("organization.reinstate", organization=oid, reason="org checked")
    expect += [("participant", "suspended"), ("participant", "reinstated"),
               ("organization", "suspended"), ("organization", "reinstated")]
    buyer.ok("auction.cancel", auction=a["id"], reason="done " + unique)
    expect += [("auction", "cancelled")]

    # this test's changes (the clock may move other tests' procedures meanwhile)
    rows = env.psql("SELECT seq, stream, kind, at FROM changes WHERE seq > %d AND (auction_id = %d"
                    " OR procurement_id = %d OR subject_participant_id = %d"
                    " OR subject_organization_id = %d) ORDER BY seq"
                    % (start, a["id"], p["id"], pid, oid))
    assert [(r[1], r[2]) for r in rows] == expect, rows
    assert_gapless(env)
    # commit order is time order too for changes that take the time their request arrived
    # (an auction starts at its starts_at, fixed when the request was read)
    ats = [r[3] for r in rows if r[2] != "started"]
    assert ats == sorted(ats), rows

    # who did it, and to whom
    by = {(r[0], r[1]): r for r in env.psql(
        "SELECT stream, kind, participant_id, subject_participant_id, subject_organization_id,"
        " reason FROM changes WHERE seq > %d AND subject_organization_id = %d" % (start, oid))}
    op_id = str(op.ok("hello")["participant"]["id"])
    assert by["participant", "registered"][2:5] == [op_id, str(pid), str(oid)], by
    assert by["participant", "suspended"][2:6] == [op_id, str(pid), str(oid),
                                                   "checking " + unique], by
    assert by["organization", "suspended"][2:6] == [op_id, "", str(oid), "org check"], by
    # the registration's body, byte for byte
    body, = env.psql("SELECT body FROM changes WHERE seq > %d AND kind = 'registered'" % start)[0]
    fp = env.fingerprint("chg" + unique)
    assert body == ('{"participant":%d,"organization_id":%d,"name":"P chg%s","role":"supplier",'
                    '"organization":"Changes Org %s","fingerprint":"%s"}'
                    % (pid, oid, unique, unique, fp)), body
    # an operator's question "everything participant X did, in order"
    kinds = [r[0] for r in env.psql("SELECT kind FROM changes WHERE participant_id = %s AND "
                                    "seq > %d ORDER BY seq" % (op_id, start))]
    assert kinds == ["registered", "suspended", "reinstated", "suspended", "reinstated"], kinds


def test_bodies_are_the_bytes_tenderd_wrote(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer, s1 = server.connect("buyer"), server.connect("supplier1")
    start = max_seq(env)
    a = create_auction(buyer, "Bytes \u00e9 " + unique, step_min="100.00", step_max="50000.00")
    r = s1.ok("auction.bid", auction=a["id"], amount="990000.00")
    p = pu.create(buyer, "rfq", "Bytes RFQ \u00e9 " + unique)
    pu.wait_tendering(buyer, p)
    q = s1.ok("quote.submit", procurement=p["id"], lot=1, price="900.00")

    rows = env.psql("SELECT stream, kind, body, body::jsonb::text, bid_id, amount FROM changes "
                    "WHERE seq > %d ORDER BY seq" % start)
    by = {(x[0], x[1]): x for x in rows}
    for stream, kind, body, as_jsonb, _, _ in rows:
        # compact, keys in the order written, not PostgreSQL's jsonb text
        assert compact(body) == body, (kind, body)
        if len(json.loads(body)) > 1:
            assert body != as_jsonb, (kind, body)
    # the accepted bid: the old detail's keys and the bid, as the reply told them
    _, _, body, _, bid_id, amount = by[("auction", "bid_accepted")]
    assert body == ('{"auction":%d,"bid":%d,"amount":"990000.00","seq":1,"rank":1,'
                    '"best_price":"990000.00","took_lead":true}' % (a["id"], r["bid"]["id"])), body
    assert (int(bid_id), int(amount)) == (r["bid"]["id"], 99000000)
    body = by[("auction", "created")][2]
    assert list(json.loads(body)) == ["auction", "title", "currency", "starts_at"], body
    assert json.loads(body)["title"] == "Bytes \u00e9 " + unique
    # a procedure's change: its detail with the state, as tenderd replays it
    body = by[("procurement", "offer_submitted")][2]
    d = json.loads(body)
    assert (d["state"], d["price"], d["revision"]) == ("tendering", 90000, q["revision"]), d
    # the typed rows tenderd wrote beside it
    rev = env.psql("SELECT r.revision, r.action, r.price FROM offer_revisions r "
                   "WHERE r.offer_id = %d" % q["offer"])
    assert rev == [[str(q["revision"]), "submitted", "90000"]], rev


def test_a_batch_that_does_not_commit_leaves_no_gap(env, tenderd_factory, unique):
    server = tenderd_factory(db_retry=1)
    buyer, s1 = server.connect("buyer"), server.connect("supplier1")
    a = create_auction(buyer, "Gap " + unique, step_min="100.00", step_max="50000.00")
    s1.ok("auction.bid", auction=a["id"], amount="990000.00")
    before = max_seq(env)
    # a statement fails: the whole batch rolls back and its numbers are given back
    env.psql("CREATE FUNCTION gap_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "RAISE EXCEPTION 'refused for the test'; END $$; "
             "CREATE TRIGGER gap_refuse BEFORE INSERT ON changes FOR EACH ROW "
             "WHEN (NEW.reason = 'boom') EXECUTE FUNCTION gap_refuse()", user=OWNER)
    try:
        e = buyer.error("auction.cancel", auction=a["id"], reason="boom")
        assert e["code"] == "internal", e
    finally:
        env.psql("DROP TRIGGER gap_refuse ON changes; DROP FUNCTION gap_refuse()", user=OWNER)
    assert env.psql("SELECT count(*) FROM changes WHERE reason = 'boom'") == [["0"]]
    assert_gapless(env)
    s2 = server.connect("supplier2")
    s2.ok("auction.bid", auction=a["id"], amount="980000.00")
    mine = "SELECT seq, kind FROM changes WHERE auction_id = %d AND seq > %%d ORDER BY seq" % a["id"]
    (seq, kind), = env.psql(mine % before)
    assert kind == "bid_accepted"
    assert_gapless(env)

    # PostgreSQL goes away: changes are refused; the numbering goes on where it was
    env.pg_stop()
    try:
        e = s1.error("auction.bid", auction=a["id"], amount="970000.00", timeout=15)
        assert e["code"] == "unavailable", e
    finally:
        env.pg_start()
    for _ in range(150):
        r = s1.request("auction.bid", auction=a["id"], amount="970000.00", timeout=15)
        if r["ok"]:
            break
        assert r["error"]["code"] == "unavailable", r
        time.sleep(0.2)
    assert r["ok"], r
    assert [x[1] for x in env.psql(mine % int(seq))] == ["bid_accepted"]
    assert_gapless(env)


def test_kill9_rebuilds_the_same_state_from_changes(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer, s1, s2 = (server.connect(n) for n in ("buyer", "supplier1", "supplier2"))
    a = create_auction(buyer, "Replay " + unique, step_min="100.00", step_max="50000.00",
                       duration=120)
    s1.ok("auction.bid", auction=a["id"], amount="990000.00")
    s2.ok("auction.bid", auction=a["id"], amount="985000.00")
    s2.error("auction.bid", auction=a["id"], amount="2000000.00")
    p = pu.create(buyer, "rfq", "Replay RFQ " + unique)
    s2.ok("question.ask", procurement=p["id"], text="When?")
    pu.wait_tendering(buyer, p)
    s1.ok("quote.submit", procurement=p["id"], lot=1, price="900.00")
    views = [(c, "auction.get", {"auction": a["id"]}) for c in (buyer, s1, s2)] + \
        [(c, "procurement.get", {"procurement": p["id"]}) for c in (buyer, s1, s2)]
    names = ["buyer", "supplier1", "supplier2"] * 2
    before = [c.ok(op, **kw) for c, op, kw in views]
    server.kill9()
    server.start()
    after = []
    for name, (_, op, kw) in zip(names, views):
        after.append(server.connect(name).ok(op, **kw))
    def strip(v):   # the request's id and the clock's reading differ between two reads
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k != "server_time"}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    for v in before + after:
        v.pop("id", None)
    before = [strip(b) for b in before]
    after = [strip(x) for x in after]
    for b, x in zip(before, after):
        for k in set(b) | set(x):
            assert b.get(k) == x.get(k), (k, b.get(k), x.get(k))
    assert_gapless(env)


def test_auction_of_a_procedure_is_in_both_streams(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer, s1, s2 = (server.connect(n) for n in ("buyer", "supplier1", "supplier2"))
    auction = {"step_min": "1.00", "step_max": "100.00", "duration": 30,
               "extension_window": 0, "extension": 0, "delay": 0}
    p = pu.create(buyer, "tender_auction", "Both streams " + unique, min_bids=2,
                  lots=[pu.lot("Pumps", "1000.00")], auction=auction)
    pu.wait_tendering(buyer, p)
    s1.ok("bid.submit", procurement=p["id"], lot=1, price="900.00", values={})
    s2.ok("bid.submit", procurement=p["id"], lot=1, price="850.00", values={})
    v = pu.wait_for(buyer, p["id"], lambda v: v["lots"][0].get("auction"), timeout=10,
                    what="the lot's auction")
    aid = v["lots"][0]["auction"]
    rows = env.psql("SELECT kind, procurement_id, lot_id, body FROM changes "
                    "WHERE auction_id = %d ORDER BY seq" % aid)
    assert [r[0] for r in rows][:3] == ["created", "bid_accepted", "bid_accepted"], rows
    assert all(r[1:3] == [str(p["id"]), "1"] for r in rows), rows
    seeded = [json.loads(r[3]) for r in rows if r[0] == "bid_accepted"]
    assert [(d["amount"], d["seeded"]) for d in seeded] == [("850.00", True), ("900.00", True)]
    # "everything that happened in procedure Y": the opening's batch holds the auction's
    # creation and seeding, then the opening record
    kinds = [r[0] for r in env.psql(
        "SELECT stream || ':' || kind FROM changes WHERE procurement_id = %d ORDER BY seq"
        % p["id"])]
    i = kinds.index("auction:created")
    assert kinds[i:i + 5] == ["auction:created", "auction:bid_accepted", "auction:bid_accepted",
                              "auction:started", "procurement:opened"], kinds
    # and both replay from the one stream
    before = (buyer.ok("procurement.get", procurement=p["id"])["procurement"],
              buyer.ok("auction.get", auction=aid)["auction"])
    server.kill9()
    server.start()
    buyer = server.connect("buyer")
    after = (buyer.ok("procurement.get", procurement=p["id"])["procurement"],
             buyer.ok("auction.get", auction=aid)["auction"])
    for b, x in zip(before, after):
        b.pop("server_time", None)
        x.pop("server_time", None)
    assert after == before
    assert_gapless(env)


def test_offline_registration_is_a_change(env, tenderd_factory, unique):
    server = tenderd_factory()
    name = "offl" + unique
    env.make_cert(name)
    cmd = env.tenderd_cmd("register", "--db", env.conninfo, "--role", "supplier",
                          "--organization", "Offline Org " + unique, "--name", "Desk " + unique,
                          "--cert", env.cert(name))
    # not while tenderd runs: it numbers the changes
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "writer lock" in p.stderr, (p.returncode, p.stderr)
    # a certificate already registered is still told so (exit 3)
    p = subprocess.run(env.tenderd_cmd("register", "--db", env.conninfo, "--role", "supplier",
                                       "--organization", "x", "--name", "x",
                                       "--cert", env.cert("supplier1")),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 3, (p.returncode, p.stderr)
    server.stop()
    start = max_seq(env)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    (seq, stream, kind, actor, pid, oid, body), = env.psql(
        "SELECT seq, stream, kind, coalesce(participant_id::text, 'none'),"
        " subject_participant_id, subject_organization_id, body FROM changes WHERE seq > %d"
        % start)
    assert (int(seq), stream, kind, actor) == (start + 1, "participant", "registered", "none")
    assert body == ('{"participant":%s,"organization_id":%s,"name":"Desk %s","role":"supplier",'
                    '"organization":"Offline Org %s","fingerprint":"%s"}'
                    % (pid, oid, unique, unique, env.fingerprint(name))), body
    server.start()
    with server.client(name) as c:
        assert c.ok("hello")["participant"]["id"] == int(pid)
    assert_gapless(env)


# The projection of migration 007 (the PL/pgSQL trigger tenderd's C store replaces), writing
# into temporary copies of the tables: replayed over a procedure's changes, it must produce
# exactly the rows tenderd wrote.
OLD_PROJECTION = r"""
CREATE TEMP TABLE x_procurements AS SELECT * FROM procurements WHERE false;
CREATE TEMP TABLE x_procurement_versions AS SELECT * FROM procurement_versions WHERE false;
CREATE TEMP TABLE x_procurement_documents AS SELECT * FROM procurement_documents WHERE false;
CREATE TEMP TABLE x_questions AS SELECT * FROM questions WHERE false;
CREATE TEMP TABLE x_offers AS SELECT * FROM offers WHERE false;
CREATE TEMP TABLE x_offer_revisions AS SELECT offer_id, revision, action, at, participant_id,
    fingerprint, price, detail FROM offer_revisions WHERE false;
ALTER TABLE x_offer_revisions ADD COLUMN n serial;
CREATE FUNCTION pg_temp.project(NEW procurement_log) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d jsonb := NEW.detail;
    doc jsonb;
    x jsonb;
BEGIN
    IF NEW.kind = 'created' THEN
        doc := d -> 'document';
        INSERT INTO x_procurements (id, buyer_participant_id, buyer_organization_id, kind, currency,
            currency_exp, state, version, title, enquiry_end, submission_deadline, opening_at,
            min_bids, created_at)
        VALUES (NEW.procurement_id, (d ->> 'buyer_participant')::bigint, (d ->> 'buyer_org')::bigint,
            doc ->> 'kind', doc ->> 'currency', (doc ->> 'exp')::smallint, 'draft', 1, doc ->> 'title',
            'epoch'::timestamptz + (doc ->> 'enquiry_end')::bigint * interval '1 millisecond',
            'epoch'::timestamptz + (doc ->> 'submission_deadline')::bigint * interval '1 millisecond',
            'epoch'::timestamptz + (doc ->> 'opening_at')::bigint * interval '1 millisecond',
            (doc ->> 'min_bids')::int, NEW.at);
        INSERT INTO x_procurement_versions VALUES (NEW.procurement_id, 1, NEW.at, NULL, doc - 'documents');
        FOR x IN SELECT * FROM jsonb_array_elements(doc -> 'documents') LOOP
            INSERT INTO x_procurement_documents (procurement_id, id, name, media_type, size, sha256,
                content, added_at, version)
            VALUES (NEW.procurement_id, (x ->> 'id')::int, x ->> 'name',
                x ->> 'media_type', (x ->> 'size')::bigint, x ->> 'sha256',
                CASE WHEN x ? 'content' AND x ->> 'content' IS NOT NULL THEN decode(x ->> 'content', 'base64') END,
                NEW.at, 1);
        END LOOP;
    ELSIF NEW.kind = 'amended' THEN
        doc := d -> 'document';
        UPDATE x_procurements SET version = (d ->> 'version')::int, title = doc ->> 'title',
            enquiry_end = 'epoch'::timestamptz + (doc ->> 'enquiry_end')::bigint * interval '1 millisecond',
            submission_deadline = 'epoch'::timestamptz + (doc ->> 'submission_deadline')::bigint * interval '1 millisecond',
            opening_at = 'epoch'::timestamptz + (doc ->> 'opening_at')::bigint * interval '1 millisecond',
            min_bids = (doc ->> 'min_bids')::int
        WHERE id = NEW.procurement_id;
        INSERT INTO x_procurement_versions VALUES (NEW.procurement_id, (d ->> 'version')::int, NEW.at,
            d ->> 'reason', doc - 'documents');
        FOR x IN SELECT * FROM jsonb_array_elements(coalesce(d -> 'documents', '[]')) LOOP
            INSERT INTO x_procurement_documents (procurement_id, id, name, media_type, size, sha256,
                content, added_at, version)
            VALUES (NEW.procurement_id, (x ->> 'id')::int, x ->> 'name',
                x ->> 'media_type', (x ->> 'size')::bigint, x ->> 'sha256',
                CASE WHEN x ->> 'content' IS NOT NULL THEN decode(x ->> 'content', 'base64') END,
                NEW.at, (d ->> 'version')::int);
        END LOOP;
    ELSIF NEW.kind = 'question_asked' THEN
        INSERT INTO x_questions (procurement_id, id, text, asked_at, asked_by)
        VALUES (NEW.procurement_id, (d ->> 'question')::int, d ->> 'text', NEW.at, NEW.participant_id);
    ELSIF NEW.kind = 'question_answered' THEN
        UPDATE x_questions SET answer = d ->> 'text', answered_at = NEW.at
        WHERE procurement_id = NEW.procurement_id AND id = (d ->> 'question')::int;
    ELSIF NEW.kind IN ('offer_submitted', 'offer_withdrawn', 'offer_confirmed') THEN
        INSERT INTO x_offers SELECT NEW.offer_id, NEW.procurement_id, NEW.lot_id, NEW.organization_id
        WHERE NOT EXISTS (SELECT 1 FROM x_offers WHERE id = NEW.offer_id);
        INSERT INTO x_offer_revisions VALUES (NEW.offer_id, (d ->> 'revision')::int,
            substr(NEW.kind, 7), NEW.at, NEW.participant_id, NEW.fingerprint,
            (d ->> 'price')::bigint, d - 'price');
    ELSIF NEW.kind = 'cancelled' THEN
        UPDATE x_procurements SET cancel_reason = d ->> 'reason' WHERE id = NEW.procurement_id;
    END IF;
    UPDATE x_procurements SET state = d ->> 'state',
        published_at = CASE WHEN d ? 'published_at' THEN 'epoch'::timestamptz + (d ->> 'published_at')::bigint * interval '1 millisecond' ELSE published_at END,
        opened_at = CASE WHEN d ? 'opened_at' THEN 'epoch'::timestamptz + (d ->> 'opened_at')::bigint * interval '1 millisecond' ELSE opened_at END,
        decided_at = CASE WHEN d ? 'decided_at' THEN 'epoch'::timestamptz + (d ->> 'decided_at')::bigint * interval '1 millisecond' ELSE decided_at END,
        closed_at = CASE WHEN d ? 'closed_at' THEN 'epoch'::timestamptz + (d ->> 'closed_at')::bigint * interval '1 millisecond' ELSE closed_at END
    WHERE id = NEW.procurement_id AND d ? 'state';
END $$;
SELECT count(pg_temp.project(l)) FROM (SELECT * FROM procurement_log WHERE procurement_id = %(p)d
    ORDER BY id) l;
"""

# What differs between the rows tenderd wrote and the old projection's, per table.
COMPARE = """
SELECT '%(t)s', count(*) FROM ((SELECT %(cols)s FROM %(t)s WHERE %(where)s EXCEPT ALL
    SELECT %(cols)s FROM x_%(t)s) UNION ALL (SELECT %(cols)s FROM x_%(t)s EXCEPT ALL
    SELECT %(cols)s FROM %(t)s WHERE %(where)s)) d;
"""


def test_projection_is_the_old_triggers(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer, s1, s2 = (server.connect(n) for n in ("buyer", "supplier1", "supplier2"))
    doc = {"name": "spec.txt", "media_type": "text/plain",
           "content": "aGVsbG8gd29ybGQ="}
    described = {"name": "plans.dwg", "media_type": "application/acad", "size": 123456,
                 "sha256": "ab" * 32}
    p = pu.create(buyer, "rfq", "Projection " + unique, enquiry=2500, deadline=60000,
                  opening=61000, documents=[doc, described])
    q = s1.ok("question.ask", procurement=p["id"], text="Which \u00e9dition?")["question"]
    buyer.ok("question.answer", procurement=p["id"], question=q, text="The second")
    amended = {k: p[k] for k in ("enquiry_end", "submission_deadline", "opening_at")}
    buyer.ok("procurement.amend", procurement=p["id"], reason="A drawing " + unique,
             title=p["title"] + " v2", description="d", min_bids=1,
             lots=[pu.lot("Lot", "1000.00")],
             documents=[dict(doc, name="more.txt")], **amended)
    pu.wait_tendering(buyer, p)
    s1.ok("quote.submit", procurement=p["id"], lot=1, price="900.00",
          values={}, comment="first")
    s1.ok("quote.submit", procurement=p["id"], lot=1, price="880.00")
    s2.ok("quote.submit", procurement=p["id"], lot=1, price="950.00")
    s2.ok("quote.withdraw", procurement=p["id"], lot=1)
    buyer.ok("procurement.cancel", procurement=p["id"], reason="No budget " + unique)

    pid = p["id"]
    offers = "offer_id IN (SELECT id FROM offers WHERE procurement_id = %d)" % pid
    tables = [("procurements", "*", "id = %d" % pid),
              ("procurement_versions", "*", "procurement_id = %d" % pid),
              ("procurement_documents", "*", "procurement_id = %d" % pid),
              ("questions", "*", "procurement_id = %d" % pid),
              ("offers", "*", "procurement_id = %d" % pid),
              ("offer_revisions", "offer_id, revision, action, at, participant_id, fingerprint,"
               " price, detail", offers)]
    sql = OLD_PROJECTION % {"p": pid} + "".join(
        COMPARE % {"t": t, "cols": c, "where": w} for t, c, w in tables)
    # the revisions, in the order written
    sql += ("SELECT 'order', (SELECT array_agg(revision || action ORDER BY id) FROM offer_revisions"
            " WHERE %s) IS NOT DISTINCT FROM (SELECT array_agg(revision || action ORDER BY n)"
            " FROM x_offer_revisions);" % offers)
    rows = env.psql(sql, user=OWNER)
    assert rows[0] == [str(len(env.psql("SELECT 1 FROM changes WHERE procurement_id = %d"
                                        % pid)))], rows
    assert rows[1:] == [[t, "0"] for t, _, _ in tables] + [["order", "t"]], rows
    # and the projection is not empty
    counts = env.psql("SELECT (SELECT count(*) FROM procurement_versions WHERE procurement_id = %d),"
                      " (SELECT count(*) FROM procurement_documents WHERE procurement_id = %d),"
                      " (SELECT count(*) FROM offer_revisions WHERE %s),"
                      " (SELECT cancel_reason FROM procurements WHERE id = %d)"
                      % (pid, pid, offers, pid))
    assert counts == [["2", "3", "4", "No budget " + unique]], counts


def test_an_auctions_state_comes_from_the_log(env, tenderd_factory, unique):
    """The `auctions` row is a projection for operators; the log decides. A row edited by
    the owner behind tenderd's back changes nothing after a restart, and the log does: an
    auction whose `cancelled` change is there comes back cancelled."""
    server = tenderd_factory()
    buyer = server.connect("buyer")
    live = create_auction(buyer, "State from log " + unique, duration=60)["id"]
    gone = create_auction(buyer, "Cancelled " + unique, duration=60)["id"]
    server.connect("supplier1").ok("auction.bid", auction=live, amount="990000.00")
    buyer.ok("auction.cancel", auction=gone, reason="budget moved")
    server.close_clients()
    server.stop()
    env.psql("UPDATE auctions SET state = 'cancelled', cancel_reason = 'edited' WHERE id = %d;"
             "UPDATE auctions SET state = 'running' WHERE id = %d" % (live, gone),
             user="tenderd_owner")
    server.start()
    buyer = server.connect("buyer")
    assert buyer.ok("auction.get", auction=live)["auction"]["state"] == "running"
    assert buyer.ok("auction.get", auction=gone)["auction"]["state"] == "cancelled"
    r = server.connect("supplier2").ok("auction.bid", auction=live, amount="980000.00")
    assert r["bid"]["seq"] == 2
    buyer.ok("auction.cancel", auction=live, reason="test over")
