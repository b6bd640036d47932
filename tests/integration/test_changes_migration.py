"""Migration 010: the four logs of before (auction_log, procurement_log, participant_log,
organization_log) are copied into the one log of every change (docs/audit.md, "The log of
every change"), numbered 1..N without gaps, each old log in its own order, and the old names
become views that answer as the tables did."""
import json
import pathlib
import shutil
import tempfile

import conftest

from test_procurement_amend_storage import psql_db


def old_schema(env, unique):
    """A database at migration 009, its conninfo function and the directory of 001..009."""
    db = "tdchg_" + unique
    as_role = env.new_database(db)
    sqldir = pathlib.Path(tempfile.mkdtemp(prefix="sql-", dir=env.dir))
    for f in sorted((conftest.ROOT / "sql").glob("[0-9][0-9][0-9]_*.sql")):
        if int(f.name[:3]) < 10:
            shutil.copy(f, sqldir)
    conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER),
                                 "--sql_dir", sqldir))
    return db, as_role


# Rows in the old logs, written as tenderd of that time wrote them (times are offsets in ms
# from a fixed point; the auction log's third row goes back in time, as a stepped clock would).
SETUP = """
INSERT INTO organizations (id, name) VALUES (1, 'Ops'), (2, 'Buyer Org'), (3, 'Alpha'), (4, 'Beta');
INSERT INTO participants (id, organization_id, name, role, registered_by, created_at) VALUES
  (1, 1, 'Operator', 'operator', NULL, '2026-01-01 00:00:00+00'),
  (2, 2, 'Buyer', 'buyer', 1, '2026-01-01 00:00:01+00'),
  (3, 3, 'Alpha bids', 'supplier', 1, '2026-01-01 00:00:02+00'),
  (4, 4, 'Beta bids', 'supplier', 1, '2026-01-01 00:00:03+00');
INSERT INTO certificates (fingerprint, participant_id, subject, pem) VALUES
  (repeat('1', 64), 1, 'CN=op', 'x'), (repeat('2', 64), 2, 'CN=b', 'x'),
  (repeat('3', 64), 3, 'CN=a', 'x'), (repeat('4', 64), 4, 'CN=c', 'x');
INSERT INTO auctions (id, buyer_participant_id, buyer_organization_id, title, currency,
  currency_exp, start_price, step_min_percent, step_min_value, step_min_amount,
  step_max_percent, step_max_value, step_max_amount, starts_at, scheduled_end, ends_at,
  ext_window_ms, ext_length_ms, state, created_at, created_fingerprint) VALUES
  (7, 2, 2, 'Paper', 'EUR', 2, 100000, false, 100, 100, false, 10000, 10000,
   '2026-01-02 10:00:00+00', '2026-01-02 11:00:00+00', '2026-01-02 11:00:00+00', 0, 0,
   'running', '2026-01-02 09:00:00+00', repeat('2', 64));
INSERT INTO bids (id, auction_id, seq, participant_id, organization_id, fingerprint, amount,
  placed_at) VALUES
  (1, 7, 1, 3, 3, repeat('3', 64), 99000, '2026-01-02 10:01:00+00'),
  (2, 7, 2, 4, 4, repeat('4', 64), 98050, '2026-01-02 10:00:59+00');
INSERT INTO auction_log (auction_id, at, kind, participant_id, organization_id, fingerprint,
  bid_id, amount, reason, detail) VALUES
  (7, '2026-01-02 09:00:00+00', 'created', 2, 2, repeat('2', 64), NULL, NULL, NULL, '{"title":"Paper"}'),
  (7, '2026-01-02 10:01:00+00', 'bid_accepted', 3, 3, repeat('3', 64), 1, 99000, NULL,
   '{"seq":1,"rank":1,"best_price":"990.00","took_lead":true}'),
  (7, '2026-01-02 10:00:59+00', 'bid_accepted', 4, 4, repeat('4', 64), 2, 98050, NULL,
   '{"seq":2,"rank":1,"best_price":"980.50","took_lead":true}'),
  (7, '2026-01-02 10:02:00+00', 'bid_refused', 3, 3, repeat('3', 64), NULL, 98049, 'bid_step_too_small', NULL);
INSERT INTO procurement_log (procurement_id, at, kind, participant_id, organization_id, detail) VALUES
  (5, '2026-01-02 10:00:59.5+00', 'created', 2, 2, '{"procurement":5,"buyer_participant":2,"buyer_org":2,"state":"draft","document":{"title":"Desks","description":"d","kind":"rfq","exp":2,"currency":"EUR","enquiry_end":1767350000000,"submission_deadline":1767360000000,"opening_at":1767360000000,"min_bids":1,"lots":[],"documents":[]}}'),
  (5, '2026-01-02 10:05:00+00', 'published', 2, 2, '{"state":"published","published_at":1767348300000}');
INSERT INTO procurement_log (procurement_id, at, kind, participant_id, organization_id,
  fingerprint, lot_id, offer_id, sealed, detail) VALUES
  (5, '2026-01-02 10:06:00+00', 'offer_submitted', 3, 3, repeat('3', 64), 1, 11, true,
   '{"revision":1,"price":12345,"state":"tendering"}');
INSERT INTO participant_log (participant_id, at, status, reason, operator_id, fingerprint) VALUES
  (4, '2026-01-02 10:01:00+00', 'suspended', 'forged papers', 1, repeat('1', 64)),
  (4, '2026-01-02 10:03:00+00', 'active', 'cleared', 1, repeat('1', 64));
INSERT INTO organization_log (organization_id, at, status, reason, operator_id, fingerprint) VALUES
  (4, '2026-01-02 10:04:00+00', 'suspended', 'court order', 1, repeat('1', 64));
"""

OLD_VIEWS = {
    "auction_log": "SELECT auction_id, at, kind, participant_id, organization_id, fingerprint, "
                   "bid_id, amount, reason FROM auction_log ORDER BY id",
    "procurement_log": "SELECT procurement_id, at, kind, participant_id, organization_id, "
                       "fingerprint, lot_id, offer_id, sealed, detail FROM procurement_log "
                       "ORDER BY id",
    "participant_log": "SELECT participant_id, at, status, reason, operator_id, fingerprint "
                       "FROM participant_log ORDER BY id",
    "organization_log": "SELECT organization_id, at, status, reason, operator_id, fingerprint "
                        "FROM organization_log ORDER BY id",
}


def test_old_logs_become_one_gapless_log(env, unique):
    db, as_role = old_schema(env, unique)
    owner = as_role(conftest.OWNER)
    try:
        psql_db(env, owner, SETUP)
        before = {name: psql_db(env, owner, sql) for name, sql in OLD_VIEWS.items()}
        conftest.run(env.tenderd_cmd("migrate", "--db", owner, "--sql_dir", conftest.SQL_DIR))

        # the old names answer exactly as the tables did
        for name, sql in OLD_VIEWS.items():
            assert psql_db(env, owner, sql) == before[name], name

        rows = psql_db(env, owner, "SELECT seq, stream, kind, coalesce(auction_id::text, ''), "
                       "coalesce(subject_participant_id::text, ''), body FROM changes ORDER BY seq")
        # 4 registrations + 4 auction + 3 procurement + 2 participant + 1 organization rows
        assert [int(r[0]) for r in rows] == list(range(1, 15)), rows
        order = [(r[1], r[2]) for r in rows]
        assert order == [
            ("participant", "registered"), ("participant", "registered"),
            ("participant", "registered"), ("participant", "registered"),
            ("auction", "created"),
            # the procurement's first row is older than the first bid, and the second bid's
            # time went back: it stays after the first bid (the auction log's own order)
            ("procurement", "created"),
            ("auction", "bid_accepted"), ("auction", "bid_accepted"),
            ("participant", "suspended"),
            ("auction", "bid_refused"),
            ("participant", "reinstated"),
            ("organization", "suspended"),
            ("procurement", "published"), ("procurement", "offer_submitted"),
        ], order
        bodies = [json.loads(r[5]) for r in rows]
        assert bodies[0] == {"participant": 1, "name": "Operator", "role": "operator",
                             "organization": "Ops", "organization_id": 1,
                             "fingerprint": "1" * 64}
        # an auction row's body: its old detail, with the auction, the bid and the amount
        assert bodies[6] == {"seq": 1, "rank": 1, "best_price": "990.00", "took_lead": True,
                             "auction": 7, "bid": 1, "amount": "990.00"}
        assert bodies[9] == {"auction": 7, "amount": "980.49"}
        assert bodies[8] == {"participant": 4, "status": "suspended", "reason": "forged papers"}
        # a procurement row's body is its old detail
        assert bodies[13] == {"revision": 1, "price": 12345, "state": "tendering"}

        # the auditor sees every change in order, sealed contents hidden until the opening
        audit = psql_db(env, as_role("auditor"),
                        "SELECT seq, kind, coalesce(participant, ''), coalesce(body, ''), sealed "
                        "FROM audit.changes WHERE procurement_id = 5 ORDER BY seq")
        assert [r[1] for r in audit] == ["created", "published", "offer_submitted"]
        assert audit[2][2:] == ["", "", "t"], audit
        assert audit[0][2] == "Buyer"
        # everything one participant did, in order
        did = psql_db(env, as_role("auditor"), "SELECT kind FROM audit.changes "
                      "WHERE participant_id = 1 ORDER BY seq")
        assert [r[0] for r in did] == ["registered", "registered", "registered", "suspended",
                                       "reinstated", "suspended"]
        # the copy is consistent; the audit views of the old logs read the new one
        assert psql_db(env, as_role("auditor"), "SELECT * FROM audit.integrity") == []
        assert psql_db(env, as_role("auditor"), "SELECT kind, amount, reason FROM "
                       "audit.auction_log WHERE kind = 'bid_refused'") == [
            ["bid_refused", "980.49", "bid_step_too_small"]]
        assert psql_db(env, as_role("auditor"), "SELECT participant, status, reason, operator "
                       "FROM audit.participant_log ORDER BY at") == [
            ["Beta bids", "suspended", "forged papers", "Operator"],
            ["Beta bids", "active", "cleared", "Operator"]]
    finally:
        env.drop_database(db)
