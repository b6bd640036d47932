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

-- The runtime role gets SELECT and INSERT on the new table and USAGE on its sequence by the
-- default privileges of 005_roles.sql; the one column it updates is granted here.
GRANT UPDATE (status) ON organizations TO tenderd;
