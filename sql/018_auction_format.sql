-- Auction formats (docs/auction-rules.md): every auction names its format, and may limit its
-- extensions. Rows written before this migration are english_reverse auctions without limits.
--   format          the format's name ("english_reverse", "english_forward")
--   higher_wins     the format ranks the highest price first (written by tenderd from the
--                   format; the audit views rank with it and never name a format)
--   max_extensions  at most this many extensions; NULL: no limit
--   latest_end      no extension moves the end past it; NULL: none
ALTER TABLE auctions
    ADD COLUMN format text NOT NULL DEFAULT 'english_reverse',
    ADD COLUMN higher_wins boolean NOT NULL DEFAULT false,
    ADD COLUMN max_extensions integer CHECK (max_extensions >= 1),
    ADD COLUMN latest_end timestamptz CHECK (latest_end >= scheduled_end);
-- Written once, right after the auction's row (DB_S_FORMAT), when not the defaults.
GRANT UPDATE (format, higher_wins, max_extensions, latest_end) ON auctions TO tenderd;

-- The audit views gain the new columns at their end.
CREATE OR REPLACE VIEW audit.auctions AS
SELECT a.id AS auction_id, a.title, o.name AS buyer_organization, p.name AS buyer,
       a.currency, audit.major(a.start_price, a.currency_exp) AS start_price,
       audit.major(a.step_min_amount, a.currency_exp) AS step_min,
       audit.major(a.step_max_amount, a.currency_exp) AS step_max,
       a.starts_at, a.scheduled_end, a.ends_at, a.extensions,
       a.ext_window_ms / 1000 AS extension_window_s, a.ext_length_ms / 1000 AS extension_s,
       a.state, a.closed_at, audit.major(a.final_price, a.currency_exp) AS final_price,
       wo.name AS winner_organization, a.cancel_reason, a.created_at,
       a.format, a.max_extensions, a.latest_end
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
       format, higher_wins, max_extensions, latest_end
FROM auctions;

-- Final standing of every bidder: its latest bid, best first as its format ranks (the
-- highest first where the highest wins); equal prices by sequence.
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
    ORDER BY b.auction_id, b.organization_id, b.seq DESC
) s;
