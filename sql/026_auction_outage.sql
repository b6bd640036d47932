-- Outage pause (docs/auction-rules.md, "Outage pause"): an auction pauses by itself when more
-- than a set share of its connected bidders lose their connections within a short window,
-- and resumes with the paused time given back. NULL outage_share: no rule (every auction
-- created before this migration).
--   outage_share         percent (1-100) of the bidders whose loss within the window pauses it
--   outage_window_ms     the window, in ms
--   outage_max_pause_ms  the longest outage pause: after it the auction resumes anyway
--   outage_min_bidders   the rule applies only with at least this many bidders connected
-- The pauses and resumes themselves are changes of kind 'paused' and 'resumed' with reason
-- 'outage' and no participant (the clock), like an operator's but without an actor.
ALTER TABLE auctions
    ADD COLUMN outage_share smallint CHECK (outage_share BETWEEN 1 AND 100),
    ADD COLUMN outage_window_ms bigint CHECK (outage_window_ms > 0),
    ADD COLUMN outage_max_pause_ms bigint CHECK (outage_max_pause_ms > 0),
    ADD COLUMN outage_min_bidders integer CHECK (outage_min_bidders >= 1),
    ADD CONSTRAINT auctions_outage_complete CHECK ((outage_share IS NULL) =
        (outage_window_ms IS NULL) AND (outage_share IS NULL) = (outage_max_pause_ms IS NULL)
        AND (outage_share IS NULL) = (outage_min_bidders IS NULL));
-- Written once, right after the auction's row (DB_S_OUTAGE), when it has a rule.
GRANT UPDATE (outage_share, outage_window_ms, outage_max_pause_ms, outage_min_bidders)
    ON auctions TO tenderd;

-- The outage rule of every auction, for auditors (and tenderd verify), in a view of its own.
CREATE VIEW audit.auction_outage AS
SELECT id AS auction_id, outage_share, outage_window_ms, outage_max_pause_ms,
       outage_min_bidders
FROM auctions;
GRANT SELECT ON audit.auction_outage TO tenderd_auditor;

-- Every outage pause and its end, for auditors: the changes of reason 'outage'.
CREATE VIEW audit.auction_outages AS
SELECT seq, auction_id, at, kind, body
FROM changes
WHERE stream = 'auction' AND kind IN ('paused', 'resumed') AND reason = 'outage'
  AND participant_id IS NULL;
GRANT SELECT ON audit.auction_outages TO tenderd_auditor;
