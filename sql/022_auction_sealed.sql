-- Sealed-bid auctions (docs/auction-rules.md: sealed_first_price, sealed_second_price). Their
-- prices are sealed until the auction closes (the opening): the change row of a sealed bid is
-- marked `sealed` and its body holds a 128-bit salt next to the price (docs/trust.md), and the
-- audit views show nobody a sealed auction's prices before it closes (a cancelled one never
-- opens). Rows written before this migration are not sealed.
--   sealed      the auction's format seals its prices (written by tenderd from the format;
--               the audit views never name a format)
--   price_paid  the price the winner is paid: the winner's price (final_price), or in
--               sealed_second_price the runner-up's (the start price when it bid alone); NULL
--               while there is no winner. The audit views show final_price where it is NULL.
ALTER TABLE auctions
    ADD COLUMN sealed boolean NOT NULL DEFAULT false,
    ADD COLUMN price_paid bigint CHECK (price_paid >= 1);
-- sealed: written once, right after the auction's row (DB_S_SEALED); price_paid at its close.
GRANT UPDATE (sealed, price_paid) ON auctions TO tenderd;

-- Every change, in order: a sealed auction's bid rows are withheld (body, amount, statement,
-- signature) until the auction is closed, as a sealed offer's until its opening.
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
       CASE WHEN u.unopened THEN NULL ELSE c.amount END AS amount_minor,
       c.reason,
       CASE WHEN u.unopened THEN NULL ELSE c.body END AS body,
       u.unopened AS sealed,
       CASE WHEN u.unopened THEN NULL ELSE c.statement END AS statement,
       CASE WHEN u.unopened THEN NULL ELSE c.signature END AS signature,
       CASE WHEN h.hidden THEN NULL ELSE c.signer END AS signer,
       c.leaf_hash,
       c.sealed AS sealed_row,
       h.hidden OR u.unopened AS withheld
FROM changes c
LEFT JOIN procurements pr ON pr.id = c.procurement_id
LEFT JOIN auctions au ON au.id = c.auction_id AND c.stream = 'auction'
CROSS JOIN LATERAL (SELECT c.stream = 'procurement' AND c.offer_id IS NOT NULL
                           AND pr.opened_at IS NULL AS hidden) h
CROSS JOIN LATERAL (SELECT c.sealed AND CASE WHEN c.stream = 'auction'
                           THEN au.state IS DISTINCT FROM 'closed'
                           ELSE pr.opened_at IS NULL END AS unopened) u
LEFT JOIN participants pa ON pa.id = c.participant_id
LEFT JOIN organizations o ON o.id = c.organization_id
LEFT JOIN participants sp ON sp.id = c.subject_participant_id
LEFT JOIN organizations so ON so.id = c.subject_organization_id;

-- The bids of a sealed auction appear once it is closed.
CREATE OR REPLACE VIEW audit.bids AS
SELECT b.auction_id, b.seq, b.id AS bid_id, a.currency,
       audit.major(b.amount, a.currency_exp) AS amount, b.amount AS amount_minor, b.placed_at,
       o.name AS organization, p.name AS participant, b.fingerprint
FROM bids b
JOIN auctions a ON a.id = b.auction_id
JOIN organizations o ON o.id = b.organization_id
JOIN participants p ON p.id = b.participant_id
WHERE NOT a.sealed OR a.state = 'closed';

CREATE OR REPLACE VIEW audit.bid_rows AS
SELECT b.id AS bid_id, b.auction_id, b.seq, b.participant_id, b.organization_id,
       b.fingerprint, b.amount, b.placed_at, b.seeded
FROM bids b
JOIN auctions a ON a.id = b.auction_id
WHERE NOT a.sealed OR a.state = 'closed';

CREATE OR REPLACE VIEW audit.standings AS
SELECT s.auction_id, rank() OVER (PARTITION BY s.auction_id
           ORDER BY CASE WHEN s.higher_wins THEN -s.amount ELSE s.amount END, s.seq) AS rank,
       s.organization, audit.major(s.amount, s.currency_exp) AS price, s.placed_at, s.seq,
       s.fingerprint
FROM (
    SELECT DISTINCT ON (b.auction_id, b.organization_id) b.auction_id, b.organization_id,
           o.name AS organization, b.amount, b.seq, b.placed_at, b.fingerprint, a.currency_exp,
           a.higher_wins
    FROM bids b
    JOIN auctions a ON a.id = b.auction_id
    JOIN organizations o ON o.id = b.organization_id
    WHERE NOT a.sealed OR a.state = 'closed'
    ORDER BY b.auction_id, b.organization_id, b.seq DESC
) s;

-- The auctions gain the price paid at their end.
CREATE OR REPLACE VIEW audit.auctions AS
SELECT a.id AS auction_id, a.title, o.name AS buyer_organization, p.name AS buyer,
       a.currency, audit.major(a.start_price, a.currency_exp) AS start_price,
       audit.major(a.step_min_amount, a.currency_exp) AS step_min,
       audit.major(a.step_max_amount, a.currency_exp) AS step_max,
       a.starts_at, a.scheduled_end, a.ends_at, a.extensions,
       a.ext_window_ms / 1000 AS extension_window_s, a.ext_length_ms / 1000 AS extension_s,
       a.state, a.closed_at, audit.major(a.final_price, a.currency_exp) AS final_price,
       wo.name AS winner_organization, a.cancel_reason, a.created_at,
       a.format, a.max_extensions, a.latest_end,
       audit.major(a.clock_step, a.currency_exp) AS clock_step, a.clock_interval_ms,
       audit.major(a.clock_limit, a.currency_exp) AS clock_limit,
       audit.major(coalesce(a.price_paid, a.final_price), a.currency_exp) AS price_paid
FROM auctions a
JOIN organizations o ON o.id = a.buyer_organization_id
JOIN participants p ON p.id = a.buyer_participant_id
LEFT JOIN bids wb ON wb.id = a.winner_bid_id
LEFT JOIN organizations wo ON wo.id = wb.organization_id;

CREATE OR REPLACE VIEW audit.auction_rows AS
SELECT id AS auction_id, buyer_participant_id, buyer_organization_id, title, currency,
       currency_exp, start_price, step_min_percent, step_min_value, step_min_amount,
       step_max_percent, step_max_value, step_max_amount, starts_at, scheduled_end, ends_at,
       extensions, ext_window_ms, ext_length_ms, state, closed_at, winner_bid_id, final_price,
       cancel_reason, procurement_id, lot_id, created_at,
       format, higher_wins, max_extensions, latest_end,
       clock_step, clock_interval_ms, clock_limit,
       coalesce(price_paid, final_price) AS price_paid, sealed
FROM auctions;
