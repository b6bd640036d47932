-- Audit: views for operators, and a read-only role that can read them and nothing else.

CREATE SCHEMA audit;

-- Minor units to a major-unit numeric (exact).
CREATE FUNCTION audit.major(amount bigint, exp smallint) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS $$ SELECT round(amount::numeric / (10::numeric ^ exp), exp) $$;

CREATE VIEW audit.participants AS
SELECT p.id AS participant_id, p.name AS participant, p.role, p.status,
       o.id AS organization_id, o.name AS organization, o.tax_id, o.country,
       c.fingerprint, c.subject, c.serial, c.not_before, c.not_after, c.registered_at
FROM participants p
JOIN organizations o ON o.id = p.organization_id
LEFT JOIN certificates c ON c.participant_id = p.id;

CREATE VIEW audit.auctions AS
SELECT a.id AS auction_id, a.title, o.name AS buyer_organization, p.name AS buyer,
       a.currency, audit.major(a.start_price, a.currency_exp) AS start_price,
       audit.major(a.step_min_amount, a.currency_exp) AS step_min,
       audit.major(a.step_max_amount, a.currency_exp) AS step_max,
       a.starts_at, a.scheduled_end, a.ends_at, a.extensions,
       a.ext_window_ms / 1000 AS extension_window_s, a.ext_length_ms / 1000 AS extension_s,
       a.state, a.closed_at, audit.major(a.final_price, a.currency_exp) AS final_price,
       wo.name AS winner_organization, a.cancel_reason, a.created_at
FROM auctions a
JOIN organizations o ON o.id = a.buyer_organization_id
JOIN participants p ON p.id = a.buyer_participant_id
LEFT JOIN bids wb ON wb.id = a.winner_bid_id
LEFT JOIN organizations wo ON wo.id = wb.organization_id;

CREATE VIEW audit.bids AS
SELECT b.auction_id, b.seq, b.id AS bid_id, a.currency,
       audit.major(b.amount, a.currency_exp) AS amount, b.amount AS amount_minor, b.placed_at,
       o.name AS organization, p.name AS participant, b.fingerprint
FROM bids b
JOIN auctions a ON a.id = b.auction_id
JOIN organizations o ON o.id = b.organization_id
JOIN participants p ON p.id = b.participant_id;

CREATE VIEW audit.auction_log AS
SELECT l.id AS log_id, l.auction_id, l.at, l.kind, o.name AS organization,
       p.name AS participant, l.fingerprint, l.bid_id,
       audit.major(l.amount, a.currency_exp) AS amount, l.reason, l.detail
FROM auction_log l
JOIN auctions a ON a.id = l.auction_id
LEFT JOIN organizations o ON o.id = l.organization_id
LEFT JOIN participants p ON p.id = l.participant_id;

CREATE VIEW audit.extensions AS
SELECT l.auction_id, l.at, l.bid_id, (l.detail ->> 'from')::timestamptz AS old_end,
       (l.detail ->> 'to')::timestamptz AS new_end, (l.detail ->> 'extensions')::int AS number
FROM auction_log l
WHERE l.kind = 'extended';

-- Final standing of every bidder: its lowest (latest) bid; equal prices by sequence.
CREATE VIEW audit.standings AS
SELECT s.auction_id, rank() OVER (PARTITION BY s.auction_id ORDER BY s.amount, s.seq) AS rank,
       s.organization, audit.major(s.amount, s.currency_exp) AS price, s.placed_at, s.seq,
       s.fingerprint
FROM (
    SELECT DISTINCT ON (b.auction_id, b.organization_id) b.auction_id, b.organization_id,
           o.name AS organization, b.amount, b.seq, b.placed_at, b.fingerprint, a.currency_exp
    FROM bids b
    JOIN auctions a ON a.id = b.auction_id
    JOIN organizations o ON o.id = b.organization_id
    ORDER BY b.auction_id, b.organization_id, b.seq DESC
) s;

CREATE VIEW audit.results AS
SELECT a.id AS auction_id, a.title, a.state, a.closed_at, a.currency,
       audit.major(a.start_price, a.currency_exp) AS start_price,
       audit.major(a.final_price, a.currency_exp) AS final_price,
       wo.name AS winner_organization, wb.fingerprint AS winner_fingerprint,
       CASE WHEN a.final_price IS NULL THEN NULL
            ELSE round(100 * (a.start_price - a.final_price)::numeric / a.start_price, 2)
       END AS saving_percent,
       (SELECT count(*) FROM bids b WHERE b.auction_id = a.id) AS bids,
       (SELECT count(DISTINCT organization_id) FROM bids b WHERE b.auction_id = a.id) AS bidders,
       a.extensions, a.cancel_reason
FROM auctions a
LEFT JOIN bids wb ON wb.id = a.winner_bid_id
LEFT JOIN organizations wo ON wo.id = wb.organization_id;

-- The roles come from sql/roles.sql (run by a superuser before the first migration), which
-- also makes their sessions read-only; a database set up before it existed had them made here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenderd_auditor') THEN
        CREATE ROLE tenderd_auditor NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'auditor') THEN
        CREATE ROLE auditor LOGIN IN ROLE tenderd_auditor;
    END IF;
    IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
        ALTER ROLE tenderd_auditor SET default_transaction_read_only = on;
        ALTER ROLE auditor SET default_transaction_read_only = on;
    END IF;
END $$;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO tenderd_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA audit TO tenderd_auditor;
GRANT EXECUTE ON FUNCTION audit.major(bigint, smallint) TO tenderd_auditor;
