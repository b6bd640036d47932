-- audit.results for every format (docs/audit.md). The price paid is what changes hands:
-- final_price, but the runner-up's price in sealed_second_price (auctions.price_paid, 022).
--   saving_percent   a purchase (the lowest price wins): how much the price paid is below the
--                    start price (the buyer's ceiling); NULL for a sale
--   premium_percent  a sale (higher_wins: english_forward, dutch_forward): how much the price
--                    paid is above the seller's reserve (english_forward's start price,
--                    dutch_forward's clock_limit, the floor its clock falls to); NULL for a
--                    purchase
--   price_paid       the price paid, in major units
-- The columns before them are those of 002, with the same meaning; before this migration a
-- sale's saving_percent came out negative.
CREATE OR REPLACE VIEW audit.results AS
SELECT a.id AS auction_id, a.title, a.state, a.closed_at, a.currency,
       audit.major(a.start_price, a.currency_exp) AS start_price,
       audit.major(a.final_price, a.currency_exp) AS final_price,
       wo.name AS winner_organization, wb.fingerprint AS winner_fingerprint,
       CASE WHEN a.final_price IS NULL OR a.higher_wins THEN NULL
            ELSE round(100 * (a.start_price - x.paid)::numeric / a.start_price, 2)
       END AS saving_percent,
       (SELECT count(*) FROM bids b WHERE b.auction_id = a.id) AS bids,
       (SELECT count(DISTINCT organization_id) FROM bids b WHERE b.auction_id = a.id) AS bidders,
       a.extensions, a.cancel_reason,
       CASE WHEN a.final_price IS NULL OR NOT a.higher_wins THEN NULL
            ELSE round(100 * (x.paid - x.reserve)::numeric / x.reserve, 2)
       END AS premium_percent,
       audit.major(x.paid, a.currency_exp) AS price_paid
FROM auctions a
CROSS JOIN LATERAL (SELECT coalesce(a.price_paid, a.final_price) AS paid,
                           CASE WHEN a.format = 'dutch_forward' THEN a.clock_limit
                                ELSE a.start_price END AS reserve) x
LEFT JOIN bids wb ON wb.id = a.winner_bid_id
LEFT JOIN organizations wo ON wo.id = wb.organization_id;
