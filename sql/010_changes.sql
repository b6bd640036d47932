-- One log of every change.
--
-- Every state change of every procedure (auctions, procurements) and of every participant and
-- organization is one row of `changes`, numbered by a gapless global sequence in commit order.
-- tenderd, the only writer (it holds the writer's advisory lock), assigns `seq`: the next
-- number after the largest committed one, consecutive in the order the changes were applied;
-- a batch that rolls back gives its numbers back. `body` holds the exact bytes tenderd decided
-- (one compact JSON object), as text: never re-encoded, so that they can be hashed and signed.
-- The typed tables (auctions, bids, procurements, offers, questions, ...) are written by
-- tenderd in the same transaction; no trigger carries a business rule any more.
--
-- The four logs of before (auction_log, procurement_log, participant_log, organization_log)
-- are copied into `changes` and replaced by views of the same names and columns.

CREATE TABLE changes (
    seq                     bigint PRIMARY KEY CHECK (seq > 0),
    at                      timestamptz NOT NULL,
    stream                  text NOT NULL
                            CHECK (stream IN ('auction', 'procurement', 'participant', 'organization')),
    kind                    text NOT NULL,
    auction_id              bigint,     -- auction stream
    procurement_id          bigint,     -- procurement stream, and an auction of a procurement's lot
    lot_id                  integer,
    offer_id                bigint,
    bid_id                  bigint,
    participant_id          bigint,     -- who made the change; NULL: the clock or tenderd
    organization_id         bigint,     -- that participant's organization
    fingerprint             text,       -- that participant's certificate
    subject_participant_id  bigint,     -- participant stream: whom the change concerns
    subject_organization_id bigint,     -- organization stream (and participant stream: its org)
    amount                  bigint,     -- minor units
    reason                  text,       -- refusal code, cancellation or suspension reason
    sealed                  boolean NOT NULL DEFAULT false,  -- body holds sealed offer contents
    body                    text NOT NULL
);
CREATE INDEX changes_auction ON changes (auction_id, seq) WHERE auction_id IS NOT NULL;
CREATE INDEX changes_procurement ON changes (procurement_id, seq) WHERE procurement_id IS NOT NULL;
CREATE INDEX changes_participant ON changes (participant_id, seq) WHERE participant_id IS NOT NULL;
CREATE TRIGGER changes_append_only BEFORE UPDATE OR DELETE ON changes
    FOR EACH ROW EXECUTE FUNCTION tenderd_append_only();

-- ---- copy the old logs ----
--
-- The old logs had no common order. Rows are numbered by time; a log's own order (its id)
-- is kept even where its times went backwards (each row's key is the latest time of its log
-- up to it); rows of the same millisecond follow the order of registration, auctions,
-- procurements, suspensions. Bodies are rebuilt from the old columns (jsonb text): an
-- auction row's detail with "auction", "bid" and "amount" added; a procurement row's detail
-- as it was; participant and organization rows from their columns.

INSERT INTO changes (seq, at, stream, kind, auction_id, procurement_id, lot_id, offer_id, bid_id,
    participant_id, organization_id, fingerprint, subject_participant_id,
    subject_organization_id, amount, reason, sealed, body)
SELECT row_number() OVER (ORDER BY k.key, k.rank, k.old_id), k.at, k.stream, k.kind,
       k.auction_id, k.procurement_id, k.lot_id, k.offer_id, k.bid_id, k.participant_id,
       k.organization_id, k.fingerprint, k.subject_participant_id, k.subject_organization_id,
       k.amount, k.reason, k.sealed, k.body
FROM (SELECT c.*, max(c.at) OVER (PARTITION BY c.rank ORDER BY c.old_id) AS key FROM (
    SELECT p.created_at AS at, 0 AS rank, p.id AS old_id, 'participant'::text AS stream,
           'registered'::text AS kind, NULL::bigint AS auction_id, NULL::bigint AS procurement_id,
           NULL::integer AS lot_id, NULL::bigint AS offer_id, NULL::bigint AS bid_id,
           p.registered_by AS participant_id, rp.organization_id AS organization_id,
           NULL::text AS fingerprint, p.id AS subject_participant_id,
           p.organization_id AS subject_organization_id, NULL::bigint AS amount,
           NULL::text AS reason, false AS sealed,
           jsonb_build_object('participant', p.id, 'name', p.name, 'role', p.role,
               'organization', o.name, 'organization_id', o.id,
               'fingerprint', (SELECT min(c.fingerprint) FROM certificates c
                               WHERE c.participant_id = p.id))::text AS body
    FROM participants p
    JOIN organizations o ON o.id = p.organization_id
    LEFT JOIN participants rp ON rp.id = p.registered_by
  UNION ALL
    SELECT l.at, 1, l.id, 'auction', l.kind, l.auction_id, a.procurement_id, a.lot_id, NULL,
           l.bid_id, l.participant_id, l.organization_id, l.fingerprint, NULL, NULL, l.amount,
           l.reason, false,
           (coalesce(l.detail, '{}'::jsonb) || jsonb_strip_nulls(jsonb_build_object(
               'auction', l.auction_id, 'bid', l.bid_id,
               'amount', audit.major(l.amount, a.currency_exp)::text)))::text
    FROM auction_log l JOIN auctions a ON a.id = l.auction_id
  UNION ALL
    SELECT l.at, 2, l.id, 'procurement', l.kind, NULL, l.procurement_id, l.lot_id, l.offer_id,
           NULL, l.participant_id, l.organization_id, l.fingerprint, NULL, NULL,
           (l.detail ->> 'price')::bigint, l.detail ->> 'reason', l.sealed, l.detail::text
    FROM procurement_log l
  UNION ALL
    SELECT l.at, 3, l.id, 'participant',
           CASE l.status WHEN 'suspended' THEN 'suspended' ELSE 'reinstated' END,
           NULL, NULL, NULL, NULL, NULL, l.operator_id, op.organization_id, l.fingerprint,
           l.participant_id, p.organization_id, NULL, l.reason, false,
           jsonb_build_object('participant', l.participant_id, 'status', l.status,
                              'reason', l.reason)::text
    FROM participant_log l
    JOIN participants p ON p.id = l.participant_id
    JOIN participants op ON op.id = l.operator_id
  UNION ALL
    SELECT l.at, 4, l.id, 'organization',
           CASE l.status WHEN 'suspended' THEN 'suspended' ELSE 'reinstated' END,
           NULL, NULL, NULL, NULL, NULL, l.operator_id, op.organization_id, l.fingerprint,
           NULL, l.organization_id, NULL, l.reason, false,
           jsonb_build_object('organization', l.organization_id, 'status', l.status,
                              'reason', l.reason)::text
    FROM organization_log l
    JOIN participants op ON op.id = l.operator_id
) c) k;

-- ---- the old logs become views ----

DROP VIEW audit.auction_log, audit.extensions, audit.integrity, audit.procurement_log,
          audit.participant_log, audit.organization_log;
DROP TABLE auction_log, procurement_log, participant_log, organization_log;
DROP FUNCTION procurement_log_project();

CREATE VIEW auction_log AS
SELECT seq AS id, auction_id, at, kind, participant_id, organization_id, fingerprint, bid_id,
       amount, reason, body::jsonb AS detail
FROM changes WHERE stream = 'auction';

CREATE VIEW procurement_log AS
SELECT seq AS id, procurement_id, at, kind, participant_id, organization_id, fingerprint,
       lot_id, offer_id, sealed, body::jsonb AS detail
FROM changes WHERE stream = 'procurement';

CREATE VIEW participant_log AS
SELECT seq AS id, subject_participant_id AS participant_id, at,
       CASE kind WHEN 'suspended' THEN 'suspended' ELSE 'active' END AS status, reason,
       participant_id AS operator_id, fingerprint
FROM changes WHERE stream = 'participant' AND kind IN ('suspended', 'reinstated');

CREATE VIEW organization_log AS
SELECT seq AS id, subject_organization_id AS organization_id, at,
       CASE kind WHEN 'suspended' THEN 'suspended' ELSE 'active' END AS status, reason,
       participant_id AS operator_id, fingerprint
FROM changes WHERE stream = 'organization';

-- ---- audit views ----

-- Every change, in order. What the protocol hides stays hidden: a sealed row's body, and who
-- made a change about an offer, until the procedure is opened.
CREATE VIEW audit.changes AS
SELECT c.seq, c.at, c.stream, c.kind, c.auction_id, c.procurement_id, c.lot_id, c.offer_id,
       c.bid_id,
       CASE WHEN h.hidden THEN NULL ELSE c.participant_id END AS participant_id,
       CASE WHEN h.hidden THEN NULL ELSE pa.name END AS participant,
       CASE WHEN h.hidden THEN NULL ELSE c.organization_id END AS organization_id,
       CASE WHEN h.hidden THEN NULL ELSE o.name END AS organization,
       CASE WHEN h.hidden THEN NULL ELSE c.fingerprint END AS fingerprint,
       c.subject_participant_id, sp.name AS subject_participant,
       c.subject_organization_id, so.name AS subject_organization,
       CASE WHEN c.stream = 'procurement' AND c.sealed AND pr.opened_at IS NULL THEN NULL
            ELSE c.amount END AS amount_minor,
       c.reason,
       CASE WHEN c.sealed AND pr.opened_at IS NULL THEN NULL ELSE c.body END AS body,
       c.sealed AND pr.opened_at IS NULL AS sealed
FROM changes c
LEFT JOIN procurements pr ON pr.id = c.procurement_id
CROSS JOIN LATERAL (SELECT c.stream = 'procurement' AND c.offer_id IS NOT NULL
                           AND pr.opened_at IS NULL AS hidden) h
LEFT JOIN participants pa ON pa.id = c.participant_id
LEFT JOIN organizations o ON o.id = c.organization_id
LEFT JOIN participants sp ON sp.id = c.subject_participant_id
LEFT JOIN organizations so ON so.id = c.subject_organization_id;

CREATE VIEW audit.auction_log AS
SELECT l.seq AS log_id, l.auction_id, l.at, l.kind, o.name AS organization,
       p.name AS participant, l.fingerprint, l.bid_id,
       audit.major(l.amount, a.currency_exp) AS amount, l.reason, l.body::jsonb AS detail
FROM changes l
JOIN auctions a ON a.id = l.auction_id
LEFT JOIN organizations o ON o.id = l.organization_id
LEFT JOIN participants p ON p.id = l.participant_id
WHERE l.stream = 'auction';

CREATE VIEW audit.extensions AS
SELECT l.auction_id, l.at, l.bid_id, (l.body::jsonb ->> 'from')::timestamptz AS old_end,
       (l.body::jsonb ->> 'to')::timestamptz AS new_end,
       (l.body::jsonb ->> 'extensions')::int AS number
FROM changes l
WHERE l.stream = 'auction' AND l.kind = 'extended';

CREATE VIEW audit.procurement_log AS
SELECT l.seq AS log_id, l.procurement_id, l.at, l.kind,
       CASE WHEN l.offer_id IS NOT NULL AND p.opened_at IS NULL THEN NULL ELSE o.name END AS organization,
       CASE WHEN l.offer_id IS NOT NULL AND p.opened_at IS NULL THEN NULL ELSE pa.name END AS participant,
       CASE WHEN l.offer_id IS NOT NULL AND p.opened_at IS NULL THEN NULL ELSE l.fingerprint END AS fingerprint,
       l.lot_id, l.offer_id,
       CASE WHEN l.sealed AND p.opened_at IS NULL THEN NULL ELSE l.body::jsonb END AS detail,
       l.sealed AND p.opened_at IS NULL AS sealed
FROM changes l
JOIN procurements p ON p.id = l.procurement_id
LEFT JOIN organizations o ON o.id = l.organization_id
LEFT JOIN participants pa ON pa.id = l.participant_id
WHERE l.stream = 'procurement';

CREATE VIEW audit.participant_log AS
SELECT l.at, p.name AS participant, o.name AS organization,
       CASE l.kind WHEN 'suspended' THEN 'suspended' ELSE 'active' END AS status, l.reason,
       op.name AS operator, l.fingerprint AS operator_fingerprint
FROM changes l
JOIN participants p ON p.id = l.subject_participant_id
JOIN organizations o ON o.id = p.organization_id
JOIN participants op ON op.id = l.participant_id
WHERE l.stream = 'participant' AND l.kind IN ('suspended', 'reinstated');

CREATE VIEW audit.organization_log AS
SELECT l.at, o.name AS organization,
       CASE l.kind WHEN 'suspended' THEN 'suspended' ELSE 'active' END AS status, l.reason,
       op.name AS operator, l.fingerprint AS operator_fingerprint
FROM changes l
JOIN organizations o ON o.id = l.subject_organization_id
JOIN participants op ON op.id = l.participant_id
WHERE l.stream = 'organization';

-- One row per violation; an empty result means the log and the tables agree.
CREATE VIEW audit.integrity AS
SELECT 'changes'::text AS table_name, c.seq AS row_id, c.auction_id,
       'gap in the sequence before this row'::text AS problem
FROM changes c
WHERE c.seq > 1 AND NOT EXISTS (SELECT 1 FROM changes p WHERE p.seq = c.seq - 1)
UNION ALL
SELECT 'bids', b.id, b.auction_id, 'no such auction'
FROM bids b WHERE NOT EXISTS (SELECT 1 FROM auctions a WHERE a.id = b.auction_id)
UNION ALL
SELECT 'bids', b.id, b.auction_id, 'no such participant'
FROM bids b WHERE NOT EXISTS (SELECT 1 FROM participants p WHERE p.id = b.participant_id)
UNION ALL
SELECT 'bids', b.id, b.auction_id, 'organization is not the participant''s'
FROM bids b JOIN participants p ON p.id = b.participant_id
WHERE p.organization_id <> b.organization_id
UNION ALL
SELECT 'bids', b.id, b.auction_id, 'fingerprint is not a certificate of the participant'
FROM bids b WHERE NOT EXISTS (SELECT 1 FROM certificates c
                              WHERE c.fingerprint = b.fingerprint
                                AND c.participant_id = b.participant_id)
UNION ALL
SELECT 'bids', b.id, b.auction_id, 'no bid_accepted change'
FROM bids b WHERE NOT EXISTS (SELECT 1 FROM changes l
                              WHERE l.auction_id = b.auction_id AND l.kind = 'bid_accepted'
                                AND l.bid_id = b.id)
UNION ALL
SELECT 'changes', l.seq, l.auction_id, 'no such auction'
FROM changes l WHERE l.stream = 'auction'
  AND NOT EXISTS (SELECT 1 FROM auctions a WHERE a.id = l.auction_id)
UNION ALL
SELECT 'changes', l.seq, l.auction_id, 'no such procurement'
FROM changes l WHERE l.procurement_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM procurements p WHERE p.id = l.procurement_id)
UNION ALL
SELECT 'changes', l.seq, l.auction_id, 'no such participant'
FROM changes l WHERE l.participant_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM participants p WHERE p.id = l.participant_id)
UNION ALL
SELECT 'changes', l.seq, l.auction_id, 'no such organization'
FROM changes l WHERE l.organization_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = l.organization_id)
UNION ALL
SELECT 'changes', l.seq, l.auction_id, 'bid_accepted without its bid'
FROM changes l WHERE l.stream = 'auction' AND l.kind = 'bid_accepted'
  AND NOT EXISTS (SELECT 1 FROM bids b WHERE b.id = l.bid_id AND b.auction_id = l.auction_id);

-- The runtime role reads and appends changes (default privileges of 005 give SELECT, INSERT);
-- the views of the old logs are read-only by nature. The auditor reads schema audit only.
REVOKE INSERT ON auction_log, procurement_log, participant_log, organization_log FROM tenderd;
