-- Clock formats (docs/auction-rules.md: dutch_reverse, dutch_forward, japanese_reverse): the
-- clock starts at start_price and moves by clock_step every clock_interval_ms towards
-- clock_limit (the ceiling of dutch_reverse, the floor of the others). The clock price is a
-- function of these and the time alone, so a restart continues the clock where it was.
-- NULL in the other formats' rows.
ALTER TABLE auctions
    ADD COLUMN clock_step bigint CHECK (clock_step >= 1),
    ADD COLUMN clock_interval_ms bigint CHECK (clock_interval_ms >= 1),
    ADD COLUMN clock_limit bigint CHECK (clock_limit >= 1);
-- Written once, right after the auction's row (DB_S_CLOCK), for a clock format.
GRANT UPDATE (clock_step, clock_interval_ms, clock_limit) ON auctions TO tenderd;

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
       a.format, a.max_extensions, a.latest_end,
       audit.major(a.clock_step, a.currency_exp) AS clock_step, a.clock_interval_ms,
       audit.major(a.clock_limit, a.currency_exp) AS clock_limit
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
       clock_step, clock_interval_ms, clock_limit
FROM auctions;
