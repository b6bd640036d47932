-- Proxy bidding (docs/auction-rules.md, "Proxy bidding"): a supplier leaves a floor (the
-- lowest price it will go to; english_forward: the highest) and tenderd bids for it by the
-- least step whenever it loses the lead.
--   bids.automatic  the bid was placed by tenderd on the supplier's standing instruction
--                   (its proxy); a real bid in the book like any other
-- The floors are changes of the auction's log (kind proxy_set, with the floor in `amount`,
-- and proxy_withdrawn), sealed: the audit views below show a floor, and the body and
-- statement of its change, only once the auction is closed or cancelled. Start-up and
-- tenderd verify replay them in order with the bids.
ALTER TABLE bids ADD COLUMN automatic boolean NOT NULL DEFAULT false;

-- The bids' rows (022: a sealed-bid auction's only once it is closed), with the new column at
-- the end.
CREATE OR REPLACE VIEW audit.bid_rows AS
SELECT b.id AS bid_id, b.auction_id, b.seq, b.participant_id, b.organization_id,
       b.fingerprint, b.amount, b.placed_at, b.seeded, b.automatic
FROM bids b
JOIN auctions a ON a.id = b.auction_id
WHERE NOT a.sealed OR a.state = 'closed';

-- Every change (014), a sealed change of an auction withheld as a sealed offer is until its
-- procedure's opening: a proxy's floor until the auction is final (closed or cancelled), a
-- sealed-bid auction's bid until it is closed (022: a cancelled one never opens). The columns
-- are those of 014.
CREATE OR REPLACE VIEW audit.changes AS
SELECT c.seq, c.at, c.stream, c.kind, c.auction_id, c.procurement_id, c.lot_id, c.offer_id,
       c.bid_id,
       CASE WHEN h.hidden THEN NULL ELSE c.participant_id END AS participant_id,
       CASE WHEN h.hidden THEN NULL ELSE pa.name END AS participant,
       CASE WHEN h.hidden THEN NULL ELSE c.organization_id END AS organization_id,
       CASE WHEN h.hidden THEN NULL ELSE o.name END AS organization,
       CASE WHEN h.hidden THEN NULL ELSE c.fingerprint END AS fingerprint,
       c.subject_participant_id, sp.name AS subject_participant,
       c.subject_organization_id, so.name AS subject_organization,
       CASE WHEN c.stream IN ('procurement', 'auction') AND z.sealed_now THEN NULL
            ELSE c.amount END AS amount_minor,
       c.reason,
       CASE WHEN z.sealed_now THEN NULL ELSE c.body END AS body,
       z.sealed_now AS sealed,
       CASE WHEN z.sealed_now THEN NULL ELSE c.statement END AS statement,
       CASE WHEN z.sealed_now THEN NULL ELSE c.signature END AS signature,
       CASE WHEN h.hidden THEN NULL ELSE c.signer END AS signer,
       c.leaf_hash,
       c.sealed AS sealed_row,
       h.hidden OR z.sealed_now AS withheld
FROM changes c
LEFT JOIN procurements pr ON pr.id = c.procurement_id
LEFT JOIN auctions au ON au.id = c.auction_id AND c.stream = 'auction'
CROSS JOIN LATERAL (SELECT c.stream = 'procurement' AND c.offer_id IS NOT NULL
                           AND pr.opened_at IS NULL AS hidden) h
CROSS JOIN LATERAL (SELECT c.sealed AND CASE WHEN c.stream = 'auction'
                           THEN au.state IS DISTINCT FROM 'closed' AND
                                (au.sealed OR au.state IS DISTINCT FROM 'cancelled')
                           ELSE pr.opened_at IS NULL END AS sealed_now) z
LEFT JOIN participants pa ON pa.id = c.participant_id
LEFT JOIN organizations o ON o.id = c.organization_id
LEFT JOIN participants sp ON sp.id = c.subject_participant_id
LEFT JOIN organizations so ON so.id = c.subject_organization_id;

-- The auction log (010): a sealed change's amount and detail once it opens, as in
-- audit.changes above (a proxy's floor once the auction is final, a sealed bid once closed).
CREATE OR REPLACE VIEW audit.auction_log AS
SELECT l.seq AS log_id, l.auction_id, l.at, l.kind, o.name AS organization,
       p.name AS participant, l.fingerprint, l.bid_id,
       CASE WHEN s.sealed_now THEN NULL
            ELSE audit.major(l.amount, a.currency_exp) END AS amount, l.reason,
       CASE WHEN s.sealed_now THEN NULL ELSE l.body::jsonb END AS detail
FROM changes l
JOIN auctions a ON a.id = l.auction_id
CROSS JOIN LATERAL (SELECT l.sealed AND a.state <> 'closed' AND
                           (a.sealed OR a.state <> 'cancelled') AS sealed_now) s
LEFT JOIN organizations o ON o.id = l.organization_id
LEFT JOIN participants p ON p.id = l.participant_id
WHERE l.stream = 'auction';

-- Every proxy instruction: who set or withdrew a floor, when; the floor once the auction is
-- closed or cancelled (NULL before, and for a withdrawal).
CREATE VIEW audit.auction_proxies AS
SELECT c.seq, c.auction_id, c.at, c.kind, c.participant_id, c.organization_id,
       CASE WHEN a.state IN ('closed', 'cancelled') THEN c.amount END AS floor_minor,
       CASE WHEN a.state IN ('closed', 'cancelled')
            THEN audit.major(c.amount, a.currency_exp) END AS floor
FROM changes c
JOIN auctions a ON a.id = c.auction_id
WHERE c.stream = 'auction' AND c.kind IN ('proxy_set', 'proxy_withdrawn');
GRANT SELECT ON audit.auction_proxies TO tenderd_auditor;
