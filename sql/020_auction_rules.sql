-- Rules that apply to every auction format (docs/auction-rules.md). Rows written before this
-- migration keep the behaviour they had: visibility rank_and_best, open to every supplier.
--   visibility  what competitors see while the auction runs: 'rank' (their own rank),
--               'rank_and_best' (and the best price), 'ranking' (the full ranking by alias)
--   invited     invitation-only: the organizations that may see the auction and bid,
--               ascending ids; NULL: open to all
--   min_bidders  minimum participation: with fewer distinct bidders at the end the auction
--               closes unsuccessful (no winner_bid_id, no final_price); NULL: no rule
ALTER TABLE auctions
    ADD COLUMN visibility text NOT NULL DEFAULT 'rank_and_best'
        CHECK (visibility IN ('rank', 'rank_and_best', 'ranking')),
    ADD COLUMN invited bigint[] CHECK (cardinality(invited) >= 1),
    ADD COLUMN min_bidders integer CHECK (min_bidders >= 1);
-- Written once, right after the auction's row (DB_S_RULES), when not the defaults.
GRANT UPDATE (visibility, invited, min_bidders) ON auctions TO tenderd;

-- The rules of every auction, for auditors (and tenderd verify, which replays from the audit
-- views). A view of its own, so that audit.auctions keeps its columns.
CREATE VIEW audit.auction_rules AS
SELECT id AS auction_id, visibility, invited, min_bidders
FROM auctions;
GRANT SELECT ON audit.auction_rules TO tenderd_auditor;
