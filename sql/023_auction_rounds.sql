-- The rounds format (docs/auction-rules.md, "Rounds with turns"): sealed initial bids during
-- rounds_initial_ms from the start, a pause of rounds_pause_ms, then rounds_count rounds in
-- which each initial bidder has one turn of rounds_turn_ms (worst price first, the leader
-- last), with rounds_round_pause_ms between rounds. The timeline is a function of these,
-- the start and the number of initial bidders alone, so a restart continues it where it
-- was. NULL in the other formats' rows.
ALTER TABLE auctions
    ADD COLUMN rounds_initial_ms bigint CHECK (rounds_initial_ms >= 1),
    ADD COLUMN rounds_pause_ms bigint CHECK (rounds_pause_ms >= 0),
    ADD COLUMN rounds_count integer CHECK (rounds_count >= 1),
    ADD COLUMN rounds_turn_ms bigint CHECK (rounds_turn_ms >= 1),
    ADD COLUMN rounds_round_pause_ms bigint CHECK (rounds_round_pause_ms >= 0);
-- Written once, right after the auction's row (DB_S_ROUNDS), for a rounds auction.
GRANT UPDATE (rounds_initial_ms, rounds_pause_ms, rounds_count, rounds_turn_ms,
    rounds_round_pause_ms) ON auctions TO tenderd;

-- The timeline of every rounds auction, for auditors (and tenderd verify, which replays from
-- the audit views). A view of its own, so that audit.auctions keeps its columns.
CREATE VIEW audit.auction_rounds AS
SELECT id AS auction_id, rounds_initial_ms AS initial_ms, rounds_pause_ms AS pause_ms,
       rounds_count AS rounds, rounds_turn_ms AS turn_ms, rounds_round_pause_ms AS round_pause_ms
FROM auctions
WHERE format = 'rounds';
GRANT SELECT ON audit.auction_rounds TO tenderd_auditor;
