-- Suspension of whole organizations by operators (organization.suspend /
-- organization.reinstate): every certificate of every participant of a suspended
-- organization is refused. Recorded like participant suspensions: the current status
-- on the row, every change with its reason in an append-only log.

ALTER TABLE organizations ADD COLUMN status text NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'suspended'));

CREATE TABLE organization_log (
    id              bigserial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id),
    at              timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('active', 'suspended')),
    reason          text NOT NULL,
    operator_id     bigint NOT NULL REFERENCES participants (id),
    fingerprint     text NOT NULL
);
CREATE TRIGGER organization_log_append_only BEFORE UPDATE OR DELETE ON organization_log
    FOR EACH ROW EXECUTE FUNCTION tenderd_append_only();

CREATE VIEW audit.organization_log AS
SELECT l.at, o.name AS organization, l.status, l.reason, op.name AS operator,
       l.fingerprint AS operator_fingerprint
FROM organization_log l
JOIN organizations o ON o.id = l.organization_id
JOIN participants op ON op.id = l.operator_id;

GRANT SELECT ON audit.organization_log TO tenderd_auditor;

-- Whatever role may record participant suspensions may record these too: the same
-- privileges on the new table, its sequence and the status column.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
             WHERE table_schema = 'public' AND table_name = 'participant_log'
               AND privilege_type = 'INSERT' AND grantee <> current_user LOOP
        EXECUTE format('GRANT SELECT, INSERT ON organization_log TO %I', r.grantee);
        EXECUTE format('GRANT USAGE ON SEQUENCE organization_log_id_seq TO %I', r.grantee);
        EXECUTE format('GRANT UPDATE (status) ON organizations TO %I', r.grantee);
    END LOOP;
END
$$;
