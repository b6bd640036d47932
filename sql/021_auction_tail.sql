-- The second-place tail (docs/auction-rules.md, "Second-place tail"; english formats): after
-- the main phase ends with a winner, a window in which the other bidders may improve their
-- places at prices not better than the final best. The winner and final price are those of
-- the main end (ends_at); the auction closes (closed_at) at the tail's end.
--   tail_ms       the tail's length, a parameter of auction.create; NULL: no tail
--   tail_ends_at  when the tail ends, written when it opens (the `tail` change) and again
--                 when a pause or an operator's extension in the tail moves it; NULL until
--                 a tail opens (and for good when none does)
ALTER TABLE auctions
    ADD COLUMN tail_ms bigint CHECK (tail_ms >= 1),
    ADD COLUMN tail_ends_at timestamptz CHECK (tail_ends_at >= ends_at);
-- tail_ms written once, right after the auction's row (DB_S_TAIL_MS); tail_ends_at by the
-- tail's changes.
GRANT UPDATE (tail_ms, tail_ends_at) ON auctions TO tenderd;

-- The tail of every auction, for auditors (and tenderd verify, which replays from the audit
-- views). A view of its own, so that the other audit views keep their columns. tail_bids:
-- the bids placed in the tail (at or after the main end), which rank after the winner.
CREATE VIEW audit.auction_tail AS
SELECT a.id AS auction_id, a.tail_ms, a.tail_ms / 1000 AS tail_s, a.ends_at, a.tail_ends_at,
       (SELECT count(*) FROM bids b WHERE b.auction_id = a.id AND a.tail_ends_at IS NOT NULL
        AND b.placed_at >= a.ends_at) AS tail_bids
FROM auctions a;
GRANT SELECT ON audit.auction_tail TO tenderd_auditor;
