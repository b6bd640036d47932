-- Multi-lot auctions (docs/auction-rules.md, "Multi-lot auctions"): one auction.create with
-- `lots` makes one event of N auctions, one per lot, with consecutive ids. Rows written
-- before this migration, and every auction made otherwise, are no lot (lot_count NULL).
--   event_id     the event: the auction id of its lot 1
--   lot_number   1..lot_count, the lot's place in the event
--   lot_count    the number of lots of the event
--   event_title  the event's title (the auction's own title is its lot's)
--   lot_closing  'parallel' (every lot ends at the event's end) or 'staggered'
--   stagger_ms   staggered: lot k is scheduled to end (k-1) * stagger_ms after lot 1, and
--                never closes less than stagger_ms after lot k-1 (the extensions of lot k-1
--                move it: a 'prolonged' change with reason 'stagger'); 0 when parallel
ALTER TABLE auctions
    ADD COLUMN event_id bigint REFERENCES auctions(id),
    ADD COLUMN lot_number integer CHECK (lot_number >= 1),
    ADD COLUMN lot_count integer CHECK (lot_count >= 1),
    ADD COLUMN event_title text,
    ADD COLUMN lot_closing text CHECK (lot_closing IN ('parallel', 'staggered')),
    ADD COLUMN stagger_ms bigint CHECK (stagger_ms >= 0),
    ADD CONSTRAINT auctions_lot_check CHECK (
        (event_id IS NULL) = (lot_number IS NULL) AND (event_id IS NULL) = (lot_count IS NULL)
        AND (event_id IS NULL) = (lot_closing IS NULL) AND lot_number <= lot_count);
-- Written once, right after the auction's row (DB_S_LOT), for a lot.
GRANT UPDATE (event_id, lot_number, lot_count, event_title, lot_closing, stagger_ms)
    ON auctions TO tenderd;

-- The lots of every multi-lot event, for auditors (and tenderd verify, which replays from the
-- audit views). A view of its own, so that audit.auctions keeps its columns.
CREATE VIEW audit.auction_lots AS
SELECT id AS auction_id, event_id, lot_number, lot_count, event_title, title AS lot_title,
       lot_closing, stagger_ms, scheduled_end, ends_at, state
FROM auctions
WHERE event_id IS NOT NULL;
GRANT SELECT ON audit.auction_lots TO tenderd_auditor;
