-- Bids and the auction log: integrity checked by a view instead of per-row foreign keys.
--
-- Only tenderd writes these two append-only tables, holding the writer's advisory lock, and
-- its engine has checked the auction and the bidder of every row before it is written. At
-- the rate of a closing auction the six per-row foreign-key checks cost PostgreSQL more than
-- the rest of the insert (docs/benchmarks.md). They are replaced by audit.integrity, which an
-- operator (or the auditor role) runs to list every row that breaks a rule the foreign keys
-- enforced, and more: a bid's organization must be its participant's, its fingerprint one of
-- that participant's certificates, and every bid must have its 'bid_accepted' log row.

ALTER TABLE bids
    DROP CONSTRAINT bids_auction_id_fkey,
    DROP CONSTRAINT bids_participant_id_fkey,
    DROP CONSTRAINT bids_organization_id_fkey;
ALTER TABLE auction_log
    DROP CONSTRAINT auction_log_auction_id_fkey,
    DROP CONSTRAINT auction_log_participant_id_fkey,
    DROP CONSTRAINT auction_log_organization_id_fkey;

-- One row per violation; an empty result means the bids and the log are consistent.
CREATE VIEW audit.integrity AS
SELECT 'bids'::text AS table_name, b.id AS row_id, b.auction_id, 'no such auction'::text AS problem
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
SELECT 'bids', b.id, b.auction_id, 'no bid_accepted log row'
FROM bids b WHERE NOT EXISTS (SELECT 1 FROM auction_log l
                              WHERE l.auction_id = b.auction_id AND l.kind = 'bid_accepted'
                                AND l.bid_id = b.id)
UNION ALL
SELECT 'auction_log', l.id, l.auction_id, 'no such auction'
FROM auction_log l WHERE NOT EXISTS (SELECT 1 FROM auctions a WHERE a.id = l.auction_id)
UNION ALL
SELECT 'auction_log', l.id, l.auction_id, 'no such participant'
FROM auction_log l WHERE l.participant_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM participants p WHERE p.id = l.participant_id)
UNION ALL
SELECT 'auction_log', l.id, l.auction_id, 'no such organization'
FROM auction_log l WHERE l.organization_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = l.organization_id)
UNION ALL
SELECT 'auction_log', l.id, l.auction_id, 'bid_accepted without its bid'
FROM auction_log l WHERE l.kind = 'bid_accepted'
  AND NOT EXISTS (SELECT 1 FROM bids b WHERE b.id = l.bid_id AND b.auction_id = l.auction_id);

GRANT SELECT ON audit.integrity TO tenderd_auditor;
