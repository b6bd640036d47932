-- What an auditor reads to verify the log (tenderd verify, audit.verify_log()).
--
-- The auditor role reads schema audit only. tenderd verify recomputes every leaf, the roots at
-- every signed tree head, checks every signature and replays every auction and procedure: it
-- reads all of it through the views below. What the protocol hides stays hidden: before the
-- opening a sealed row's body, statement and signature, and who made a change about an offer
-- (`withheld` says so: such a row is covered by the tree only, through its stored leaf hash).
-- audit.verify_log() recomputes the hashes of every row, sealed ones too, in PostgreSQL alone
-- (it runs as the owner and returns only seq numbers, tree sizes and problems).

-- Every change, with what was signed and its leaf (new columns at the end).
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
       CASE WHEN c.stream = 'procurement' AND c.sealed AND pr.opened_at IS NULL THEN NULL
            ELSE c.amount END AS amount_minor,
       c.reason,
       CASE WHEN c.sealed AND pr.opened_at IS NULL THEN NULL ELSE c.body END AS body,
       c.sealed AND pr.opened_at IS NULL AS sealed,
       CASE WHEN c.sealed AND pr.opened_at IS NULL THEN NULL ELSE c.statement END AS statement,
       CASE WHEN c.sealed AND pr.opened_at IS NULL THEN NULL ELSE c.signature END AS signature,
       CASE WHEN h.hidden THEN NULL ELSE c.signer END AS signer,
       c.leaf_hash,
       c.sealed AS sealed_row,
       h.hidden OR (c.sealed AND pr.opened_at IS NULL) AS withheld
FROM changes c
LEFT JOIN procurements pr ON pr.id = c.procurement_id
CROSS JOIN LATERAL (SELECT c.stream = 'procurement' AND c.offer_id IS NOT NULL
                           AND pr.opened_at IS NULL AS hidden) h
LEFT JOIN participants pa ON pa.id = c.participant_id
LEFT JOIN organizations o ON o.id = c.organization_id
LEFT JOIN participants sp ON sp.id = c.subject_participant_id
LEFT JOIN organizations so ON so.id = c.subject_organization_id;

-- The signed tree heads and the certificates of the keys that signed them.
CREATE VIEW audit.tree_heads AS
SELECT tree_size, root, at, signature, key_fingerprint FROM tree_heads;

CREATE VIEW audit.log_keys AS
SELECT fingerprint, pem, added_at FROM log_keys;

-- Organizations with their ids and status (replay of the log).
CREATE VIEW audit.organizations AS
SELECT id AS organization_id, name AS organization, status, tax_id, country, created_at
FROM organizations;

-- The auctions' rows as tenderd wrote them (replay, and the results it is compared with).
CREATE VIEW audit.auction_rows AS
SELECT id AS auction_id, buyer_participant_id, buyer_organization_id, title, currency,
       currency_exp, start_price, step_min_percent, step_min_value, step_min_amount,
       step_max_percent, step_max_value, step_max_amount, starts_at, scheduled_end, ends_at,
       extensions, ext_window_ms, ext_length_ms, state, closed_at, winner_bid_id, final_price,
       cancel_reason, procurement_id, lot_id, created_at
FROM auctions;

-- The bids' rows as tenderd wrote them.
CREATE VIEW audit.bid_rows AS
SELECT id AS bid_id, auction_id, seq, participant_id, organization_id, fingerprint, amount,
       placed_at, seeded
FROM bids;

-- Certificates (012), with their PEM at the end: the signer of a signed statement is one.
CREATE OR REPLACE VIEW audit.certificates AS
SELECT c.fingerprint, c.participant_id, p.name AS participant, p.role, p.status,
       p.organization_id, o.name AS organization, c.subject, c.serial, c.not_before,
       c.not_after, c.registered_by, rb.name AS registered_by_name, c.registered_at, c.pem
FROM certificates c
JOIN participants p ON p.id = c.participant_id
JOIN organizations o ON o.id = p.organization_id
LEFT JOIN participants rb ON rb.id = c.registered_by;

GRANT SELECT ON audit.changes, audit.tree_heads, audit.log_keys, audit.organizations,
    audit.auction_rows, audit.bid_rows, audit.certificates TO tenderd_auditor;

-- SHA-256(0x01 || left || right): an inner node of the tree (RFC 6962).
CREATE FUNCTION audit.merkle_node(l bytea, r bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT sha256('\x01'::bytea || l || r) $$;

-- The root of a frontier: its first n subtree hashes, largest first, folded from the right.
CREATE FUNCTION audit.merkle_fold(f bytea[], n int) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    h bytea;
BEGIN
    IF n = 0 THEN
        RETURN sha256(''::bytea);
    END IF;
    h := f[n];
    FOR i IN REVERSE n - 1 .. 1 LOOP
        h := audit.merkle_node(f[i], h);
    END LOOP;
    RETURN h;
END $$;

/*
 * Verify the log in PostgreSQL alone: every row's leaf hash recomputed with tenderd_leaf()
 * and compared with the stored one, the sequence gapless from 1, and the root of the tree
 * over the stored leaf hashes recomputed at the size of every signed tree head and compared
 * with its root. One pass in seq order, keeping a frontier (the hashes of the complete
 * subtrees, largest first, and their heights). One row per problem; none: the log is intact.
 * Signatures are not checked here (tenderd verify does).
 */
CREATE FUNCTION audit.verify_log()
RETURNS TABLE (seq bigint, tree_size bigint, problem text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r record;
    expect bigint := 1;
    n bigint := 0;          -- leaves added to the frontier
    f bytea[] := '{}';      -- subtree hashes, largest first: f[1..k]
    ht int[] := '{}';       -- their heights
    k int := 0;
    sizes bigint[];
    roots bytea[];
    hi int := 1;            -- next head to compare
    nh int;
    good bigint := 0;       -- size of the last head that matched
BEGIN
    SELECT coalesce(array_agg(t.tree_size ORDER BY t.tree_size), '{}'),
           coalesce(array_agg(t.root ORDER BY t.tree_size), '{}')
    INTO sizes, roots FROM tree_heads t;
    nh := coalesce(array_length(sizes, 1), 0);
    WHILE hi <= nh AND sizes[hi] = 0 LOOP
        IF roots[hi] <> sha256(''::bytea) THEN
            RETURN QUERY SELECT NULL::bigint, 0::bigint, 'tree head 0: root is not the empty tree''s';
        END IF;
        hi := hi + 1;
    END LOOP;
    FOR r IN SELECT c.seq AS s, c.leaf_hash AS stored,
                    tenderd_leaf(c.seq, c.at, c.stream, c.kind, c.auction_id, c.procurement_id,
                        c.lot_id, c.offer_id, c.bid_id, c.participant_id, c.organization_id,
                        c.fingerprint, c.subject_participant_id, c.subject_organization_id,
                        c.amount, c.reason, c.sealed, c.body, c.statement, c.signature,
                        c.signer) AS leaf
             FROM changes c ORDER BY c.seq LOOP
        IF r.s > expect THEN
            RETURN QUERY SELECT expect, NULL::bigint, CASE WHEN r.s = expect + 1
                THEN 'row missing (the sequence jumps from ' || expect - 1 || ' to ' || r.s || ')'
                ELSE 'rows ' || expect || ' to ' || r.s - 1 || ' missing' END;
        END IF;
        expect := r.s + 1;
        IF r.leaf IS DISTINCT FROM r.stored THEN
            RETURN QUERY SELECT r.s, NULL::bigint,
                'leaf hash does not match the row''s columns (edited after it was logged)'::text;
        END IF;
        -- add the stored leaf, then merge the two last subtrees while of equal height
        -- (in place: the entries after k are stale)
        k := k + 1;
        f[k] := r.stored;
        ht[k] := 0;
        n := n + 1;
        WHILE k > 1 AND ht[k - 1] = ht[k] LOOP
            f[k - 1] := sha256('\x01'::bytea || f[k - 1] || f[k]);
            ht[k - 1] := ht[k - 1] + 1;
            k := k - 1;
        END LOOP;
        WHILE hi <= nh AND sizes[hi] = n LOOP
            IF audit.merkle_fold(f, k) <> roots[hi] THEN
                RETURN QUERY SELECT NULL::bigint, n,
                    'root does not match the signed tree head (rows ' || good + 1 || ' to ' || n
                    || ' differ from what was signed)';
            ELSE
                good := n;
            END IF;
            hi := hi + 1;
        END LOOP;
    END LOOP;
    WHILE hi <= nh LOOP
        RETURN QUERY SELECT NULL::bigint, sizes[hi],
            'the log has only ' || n || ' rows (rows ' || good + 1 || ' to ' || sizes[hi]
            || ' differ from what was signed)';
        hi := hi + 1;
    END LOOP;
END $$;

REVOKE ALL ON FUNCTION audit.verify_log() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.verify_log() TO tenderd_auditor;
