-- Roles: the owner applies migrations and owns everything; tenderd runs with only the
-- privileges below; the auditor reads schema audit. The roles themselves, and the settings
-- that need a superuser, come from sql/roles.sql (docs/operations.md, "Database roles").
--
-- CONVENTION FOR EVERY MIGRATION FROM HERE ON (docs/operations.md):
--   * migrations run as tenderd_owner (tenderd migrate --db "... user=tenderd_owner"), never as
--     tenderd or a superuser, so that everything they create belongs to tenderd_owner;
--   * a new table in public gets SELECT and INSERT for tenderd, and a new sequence USAGE,
--     by the default privileges below: nothing to write;
--   * a column tenderd (or a trigger running for it) UPDATEs needs, in the same migration,
--     GRANT UPDATE (column, ...) ON table TO tenderd;  never UPDATE on a whole table, never
--     DELETE or TRUNCATE;
--   * an append-only table gets the tenderd_append_only trigger (BEFORE UPDATE OR DELETE);
--   * a new view in audit is readable by tenderd_auditor by the default privileges below; a
--     view must never show what the protocol hides (sealed offers and their authors before
--     the opening).

DO $$
BEGIN
    IF current_user <> 'tenderd_owner' THEN
        RAISE EXCEPTION 'migrations run as tenderd_owner, not as %: tenderd migrate --db "... user=tenderd_owner" (docs/operations.md)', current_user;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenderd')
       OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenderd_auditor') THEN
        RAISE EXCEPTION 'roles tenderd and tenderd_auditor are missing: run sql/roles.sql as a superuser first';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname IN ('public', 'audit') AND c.relowner <> current_user::regrole) THEN
        RAISE EXCEPTION 'some tables or views are not owned by tenderd_owner: run sql/roles.sql as a superuser first';
    END IF;
END $$;

-- tenderd: read everything, add rows, change only what changes.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM tenderd, tenderd_auditor;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM tenderd, tenderd_auditor;
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO tenderd;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO tenderd;
REVOKE INSERT ON schema_migrations, tenderd_state FROM tenderd;
-- the batch marker (db.c)
GRANT UPDATE (last_batch) ON tenderd_state TO tenderd;
-- suspension and reinstatement
GRANT UPDATE (status) ON participants TO tenderd;
-- an auction's end moves (extensions), it starts, closes or is cancelled
GRANT UPDATE (ends_at, extensions, state, closed_at, winner_bid_id, final_price, cancel_reason,
              cancelled_by) ON auctions TO tenderd;
-- procurement_log_project(): amendments, state changes, cancellation, answers
GRANT UPDATE (version, title, enquiry_end, submission_deadline, opening_at, min_bids, state,
              published_at, opened_at, decided_at, closed_at, cancel_reason) ON procurements TO tenderd;
GRANT UPDATE (answer, answered_at) ON questions TO tenderd;

-- The auditor: schema audit only.
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO tenderd_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA audit TO tenderd_auditor;

-- What later migrations create gets the same.
ALTER DEFAULT PRIVILEGES FOR ROLE tenderd_owner IN SCHEMA public
    GRANT SELECT, INSERT ON TABLES TO tenderd;
ALTER DEFAULT PRIVILEGES FOR ROLE tenderd_owner IN SCHEMA public
    GRANT USAGE ON SEQUENCES TO tenderd;
ALTER DEFAULT PRIVILEGES FOR ROLE tenderd_owner IN SCHEMA audit
    GRANT SELECT ON TABLES TO tenderd_auditor;

-- Before the opening an offer is a count (docs/procedures.md): who submitted it, with which
-- certificate, stays hidden like its price.
CREATE OR REPLACE VIEW audit.offer_revisions AS
SELECT f.procurement_id, f.lot_id, f.id AS offer_id,
       CASE WHEN p.opened_at IS NULL THEN NULL ELSE o.name END AS organization, r.revision,
       r.action, r.at, CASE WHEN p.opened_at IS NULL THEN NULL ELSE r.fingerprint END AS fingerprint,
       CASE WHEN p.opened_at IS NULL THEN NULL ELSE audit.major(r.price, p.currency_exp) END AS price,
       CASE WHEN p.opened_at IS NULL THEN NULL ELSE r.detail END AS detail,
       p.opened_at IS NOT NULL AS opened
FROM offer_revisions r
JOIN offers f ON f.id = r.offer_id
JOIN procurements p ON p.id = f.procurement_id
JOIN organizations o ON o.id = f.organization_id;

CREATE OR REPLACE VIEW audit.procurement_log AS
SELECT l.id AS log_id, l.procurement_id, l.at, l.kind,
       CASE WHEN l.offer_id IS NOT NULL AND p.opened_at IS NULL THEN NULL ELSE o.name END AS organization,
       CASE WHEN l.offer_id IS NOT NULL AND p.opened_at IS NULL THEN NULL ELSE pa.name END AS participant,
       CASE WHEN l.offer_id IS NOT NULL AND p.opened_at IS NULL THEN NULL ELSE l.fingerprint END AS fingerprint,
       l.lot_id, l.offer_id,
       CASE WHEN l.sealed AND p.opened_at IS NULL THEN NULL ELSE l.detail END AS detail,
       l.sealed AND p.opened_at IS NULL AS sealed
FROM procurement_log l
JOIN procurements p ON p.id = l.procurement_id
LEFT JOIN organizations o ON o.id = l.organization_id
LEFT JOIN participants pa ON pa.id = l.participant_id;
