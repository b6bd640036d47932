-- Signed statements and the leaves of the transparency log.
--
-- A change made by a signed request keeps what was signed: `statement` (the exact bytes the
-- participant signed, as text), `signature` (the detached CMS signature, DER) and `signer`
-- (the SHA-256 fingerprint of the certificate that signed, a row of `certificates`).
--
-- Every row of `changes` is a leaf of the transparency log (docs/trust.md). Its leaf hash is
-- computed once, when the row is inserted, by tenderd_leaf() over the row's own columns, and
-- stored in `leaf_hash`: a later edit of the row (by someone who can disable the append-only
-- trigger) leaves the stored hash stale, and tenderd verify names the row. The hash is
-- RFC 6962's leaf hash, SHA-256(0x00 || input), where input is every column below, in this
-- order, each written as `~` when NULL and otherwise as `<length>:<bytes>,` (its length in
-- bytes, in decimal, a colon, its bytes, a comma):
--
--   seq, at (microseconds since 1970-01-01 UTC), stream, kind, auction_id, procurement_id,
--   lot_id, offer_id, bid_id, participant_id, organization_id, fingerprint,
--   subject_participant_id, subject_organization_id, amount, reason, sealed (`t` or `f`),
--   body, statement, signature (its DER bytes), signer
--
-- Numbers are written in decimal, text in UTF-8.

ALTER TABLE changes
    ADD COLUMN statement text,      -- the signed statement's exact bytes
    ADD COLUMN signature bytea,     -- detached CMS (PKCS#7) SignedData over `statement`, DER
    ADD COLUMN signer    text,      -- SHA-256 fingerprint of the signing certificate
    ADD COLUMN leaf_hash bytea;     -- tenderd_leaf() of the row, when it was inserted

-- One field of a leaf's input: `~` for NULL, else `<length>:<bytes>,`.
CREATE FUNCTION tenderd_leaf_field(v bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN v IS NULL THEN '\x7e'::bytea
                ELSE convert_to(octet_length(v)::text || ':', 'UTF8') || v || '\x2c'::bytea END
$$;

-- The leaf hash of one change, from its columns (see above).
CREATE FUNCTION tenderd_leaf(seq bigint, at timestamptz, stream text, kind text,
    auction_id bigint, procurement_id bigint, lot_id integer, offer_id bigint, bid_id bigint,
    participant_id bigint, organization_id bigint, fingerprint text,
    subject_participant_id bigint, subject_organization_id bigint, amount bigint, reason text,
    sealed boolean, body text, statement text, signature bytea, signer text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256('\x00'::bytea
        || tenderd_leaf_field(convert_to(seq::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(((extract(epoch FROM at) * 1000000)::bigint)::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(stream, 'UTF8'))
        || tenderd_leaf_field(convert_to(kind, 'UTF8'))
        || tenderd_leaf_field(convert_to(auction_id::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(procurement_id::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(lot_id::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(offer_id::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(bid_id::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(participant_id::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(organization_id::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(fingerprint, 'UTF8'))
        || tenderd_leaf_field(convert_to(subject_participant_id::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(subject_organization_id::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(amount::text, 'UTF8'))
        || tenderd_leaf_field(convert_to(reason, 'UTF8'))
        || tenderd_leaf_field(convert_to(CASE WHEN sealed THEN 't' ELSE 'f' END, 'UTF8'))
        || tenderd_leaf_field(convert_to(body, 'UTF8'))
        || tenderd_leaf_field(convert_to(statement, 'UTF8'))
        || tenderd_leaf_field(signature)
        || tenderd_leaf_field(convert_to(signer, 'UTF8')))
$$;

-- The rows logged so far get their leaf hashes (the append-only trigger forbids updates:
-- this one migration sets a column that did not exist before).
ALTER TABLE changes DISABLE TRIGGER changes_append_only;
UPDATE changes SET leaf_hash = tenderd_leaf(seq, at, stream, kind, auction_id, procurement_id,
    lot_id, offer_id, bid_id, participant_id, organization_id, fingerprint,
    subject_participant_id, subject_organization_id, amount, reason, sealed, body, statement,
    signature, signer);
ALTER TABLE changes ENABLE TRIGGER changes_append_only;
ALTER TABLE changes ALTER COLUMN leaf_hash SET NOT NULL;
