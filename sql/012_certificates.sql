-- Several certificates per participant (rotation: a new one registered before the old one
-- expires), each recorded with who registered it and when.
--
-- participant.register records its operator as the certificate's registered_by; the new
-- operation certificate.add registers another certificate for an existing participant, with
-- a `certificate_added` change (stream 'participant'). A registration made offline
-- (`tenderd register`) has no operator: NULL. Certificates registered before this migration
-- take their participant's registered_by. registered_at stays: when the certificate was
-- registered.

ALTER TABLE certificates ADD COLUMN registered_by bigint REFERENCES participants (id);

UPDATE certificates c SET registered_by = p.registered_by
FROM participants p WHERE p.id = c.participant_id;

-- Every registered certificate, with its participant and who registered it.
CREATE VIEW audit.certificates AS
SELECT c.fingerprint, c.participant_id, p.name AS participant, p.role, p.status,
       p.organization_id, o.name AS organization, c.subject, c.serial, c.not_before,
       c.not_after, c.registered_by, rb.name AS registered_by_name, c.registered_at
FROM certificates c
JOIN participants p ON p.id = c.participant_id
JOIN organizations o ON o.id = p.organization_id
LEFT JOIN participants rb ON rb.id = c.registered_by;

GRANT SELECT ON audit.certificates TO tenderd_auditor;
