-- DRAFT (replaced by the lead's migration): one append-only log of every change.
CREATE TABLE changes (
    seq             bigint PRIMARY KEY CHECK (seq > 0),
    at              timestamptz NOT NULL,
    stream          text NOT NULL CHECK (stream IN ('auction', 'procurement', 'participant', 'organization')),
    kind            text NOT NULL,
    auction_id      bigint,
    procurement_id  bigint,
    lot_id          integer,
    offer_id        bigint,
    bid_id          bigint,
    participant_id  bigint,
    organization_id bigint,
    fingerprint     text,
    subject_participant_id  bigint,
    subject_organization_id bigint,
    amount          bigint,
    reason          text,
    sealed          boolean NOT NULL DEFAULT false,
    body            text NOT NULL
);
CREATE INDEX changes_auction ON changes (auction_id, seq) WHERE auction_id IS NOT NULL;
CREATE INDEX changes_procurement ON changes (procurement_id, seq) WHERE procurement_id IS NOT NULL;
CREATE INDEX changes_participant ON changes (participant_id, seq) WHERE participant_id IS NOT NULL;
CREATE TRIGGER changes_append_only BEFORE UPDATE OR DELETE ON changes
    FOR EACH ROW EXECUTE FUNCTION tenderd_append_only();

INSERT INTO changes (seq, at, stream, kind, auction_id, procurement_id, lot_id, offer_id, bid_id,
    participant_id, organization_id, fingerprint, subject_participant_id, subject_organization_id,
    amount, reason, sealed, body)
SELECT row_number() OVER (ORDER BY at, o, id), at, stream, kind, auction_id, procurement_id, lot_id,
    offer_id, bid_id, participant_id, organization_id, fingerprint, sp, so, amount, reason, sealed, body
FROM (
    SELECT 1 AS o, l.id, l.at, 'auction' AS stream, l.kind, l.auction_id, a.procurement_id,
        NULL::int AS lot_id, NULL::bigint AS offer_id, l.bid_id, l.participant_id, l.organization_id,
        l.fingerprint, NULL::bigint AS sp, NULL::bigint AS so, l.amount, l.reason, false AS sealed,
        (jsonb_build_object('auction', l.auction_id) || coalesce(l.detail, '{}'))::text AS body
    FROM auction_log l JOIN auctions a ON a.id = l.auction_id
    UNION ALL
    SELECT 2, l.id, l.at, 'procurement', l.kind, NULL, l.procurement_id, l.lot_id, l.offer_id, NULL,
        l.participant_id, l.organization_id, l.fingerprint, NULL, NULL, NULL, NULL, l.sealed,
        l.detail::text
    FROM procurement_log l
    UNION ALL
    SELECT 3, l.id, l.at, 'participant', CASE WHEN l.status = 'suspended' THEN 'suspended' ELSE 'reinstated' END,
        NULL, NULL, NULL, NULL, NULL, l.operator_id, op.organization_id, l.fingerprint, l.participant_id,
        NULL, NULL, l.reason, false,
        jsonb_build_object('participant', l.participant_id, 'status', l.status, 'reason', l.reason)::text
    FROM participant_log l JOIN participants op ON op.id = l.operator_id
    UNION ALL
    SELECT 4, l.id, l.at, 'organization', CASE WHEN l.status = 'suspended' THEN 'suspended' ELSE 'reinstated' END,
        NULL, NULL, NULL, NULL, NULL, l.operator_id, op.organization_id, l.fingerprint, NULL,
        l.organization_id, NULL, l.reason, false,
        jsonb_build_object('organization', l.organization_id, 'status', l.status, 'reason', l.reason)::text
    FROM organization_log l JOIN participants op ON op.id = l.operator_id
) x;

DROP TABLE auction_log, procurement_log, participant_log, organization_log CASCADE;
DROP FUNCTION procurement_log_project();

CREATE VIEW auction_log AS
SELECT seq AS id, auction_id, at, kind, participant_id, organization_id, fingerprint, bid_id,
       amount, reason, body::jsonb AS detail
FROM changes WHERE stream = 'auction';
CREATE VIEW procurement_log AS
SELECT seq AS id, procurement_id, at, kind, participant_id, organization_id, fingerprint, lot_id,
       offer_id, sealed, body::jsonb AS detail
FROM changes WHERE stream = 'procurement';
CREATE VIEW participant_log AS
SELECT seq AS id, subject_participant_id AS participant_id, at,
       CASE WHEN kind = 'suspended' THEN 'suspended' ELSE 'active' END AS status, reason,
       participant_id AS operator_id, fingerprint
FROM changes WHERE stream = 'participant' AND kind IN ('suspended', 'reinstated');
CREATE VIEW organization_log AS
SELECT seq AS id, subject_organization_id AS organization_id, at,
       CASE WHEN kind = 'suspended' THEN 'suspended' ELSE 'active' END AS status, reason,
       participant_id AS operator_id, fingerprint
FROM changes WHERE stream = 'organization';

CREATE VIEW audit.auction_log AS
SELECT l.id AS log_id, l.auction_id, l.at, l.kind, o.name AS organization,
       p.name AS participant, l.fingerprint, l.bid_id,
       audit.major(l.amount, a.currency_exp) AS amount, l.reason, l.detail
FROM auction_log l
JOIN auctions a ON a.id = l.auction_id
LEFT JOIN organizations o ON o.id = l.organization_id
LEFT JOIN participants p ON p.id = l.participant_id;

CREATE VIEW audit.extensions AS
SELECT l.auction_id, l.at, l.bid_id, (l.detail ->> 'from')::timestamptz AS old_end,
       (l.detail ->> 'to')::timestamptz AS new_end, (l.detail ->> 'extensions')::int AS number
FROM auction_log l
WHERE l.kind = 'extended';

CREATE VIEW audit.procurement_log AS
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

CREATE VIEW audit.participant_log AS
SELECT l.at, p.name AS participant, o.name AS organization, l.status, l.reason,
       op.name AS operator, l.fingerprint AS operator_fingerprint
FROM participant_log l
JOIN participants p ON p.id = l.participant_id
JOIN organizations o ON o.id = p.organization_id
JOIN participants op ON op.id = l.operator_id;

CREATE VIEW audit.organization_log AS
SELECT l.at, o.name AS organization, l.status, l.reason, op.name AS operator,
       l.fingerprint AS operator_fingerprint
FROM organization_log l
JOIN organizations o ON o.id = l.organization_id
JOIN participants op ON op.id = l.operator_id;

CREATE VIEW audit.integrity AS
SELECT 'bids'::text AS table_name, b.id AS row_id, b.auction_id, 'no such auction'::text AS problem
FROM bids b WHERE NOT EXISTS (SELECT 1 FROM auctions a WHERE a.id = b.auction_id)
UNION ALL
SELECT 'bids', b.id, b.auction_id, 'no bid_accepted log row'
FROM bids b WHERE NOT EXISTS (SELECT 1 FROM auction_log l
                              WHERE l.auction_id = b.auction_id AND l.kind = 'bid_accepted'
                                AND l.bid_id = b.id)
UNION ALL
SELECT 'changes', c.seq, c.auction_id, 'gap before this seq'
FROM changes c WHERE c.seq > 1 AND NOT EXISTS (SELECT 1 FROM changes d WHERE d.seq = c.seq - 1);

CREATE VIEW audit.changes AS SELECT * FROM changes WHERE NOT sealed;

GRANT SELECT ON ALL TABLES IN SCHEMA audit TO tenderd_auditor;
GRANT UPDATE (version, title, enquiry_end, submission_deadline, opening_at, min_bids, state,
              published_at, opened_at, decided_at, closed_at, cancel_reason) ON procurements TO tenderd;
GRANT UPDATE (answer, answered_at) ON questions TO tenderd;
GRANT SELECT, INSERT ON changes TO tenderd;
