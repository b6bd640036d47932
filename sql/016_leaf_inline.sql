-- The leaf hash of a change, computed as fast as PostgreSQL allows (docs/benchmarks.md).
--
-- tenderd_leaf() of migration 011 called tenderd_leaf_field() once per column: an SQL
-- function that PostgreSQL cannot inline (its argument is used three times and is itself a
-- function call), so every inserted change ran 21 SQL function calls, each with its own
-- executor start-up: about 0.3 ms per row on the development machine, more than the rest of
-- the insert. The same hash (the same bytes, the format of docs/trust.md) is now one
-- expression, and the function is STABLE (convert_to() and extract() on timestamptz are), so
-- that PostgreSQL inlines it into the INSERT wherever its arguments are parameters, constants
-- or columns, as in every statement tenderd prepares.
--
-- The text columns (1 to 19) are written as one text and converted to UTF-8 once: a NULL
-- column makes its `<length>:<value>,` NULL, which coalesce() turns into `~`; the length is
-- that of the value's UTF-8 bytes; digits, ':', ',' and '~' are the same bytes in UTF-8. The
-- signature is bytes, written between them as bytea; the signer follows.

CREATE OR REPLACE FUNCTION tenderd_leaf(seq bigint, at timestamptz, stream text, kind text,
    auction_id bigint, procurement_id bigint, lot_id integer, offer_id bigint, bid_id bigint,
    participant_id bigint, organization_id bigint, fingerprint text,
    subject_participant_id bigint, subject_organization_id bigint, amount bigint, reason text,
    sealed boolean, body text, statement text, signature bytea, signer text) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256('\x00'::bytea
        || convert_to(
            coalesce(length(seq::text) || ':' || seq::text || ',', '~')
            || coalesce(length(((extract(epoch FROM at) * 1000000)::bigint)::text) || ':' || ((extract(epoch FROM at) * 1000000)::bigint)::text || ',', '~')
            || coalesce(octet_length(convert_to(stream, 'UTF8')) || ':' || stream || ',', '~')
            || coalesce(octet_length(convert_to(kind, 'UTF8')) || ':' || kind || ',', '~')
            || coalesce(length(auction_id::text) || ':' || auction_id::text || ',', '~')
            || coalesce(length(procurement_id::text) || ':' || procurement_id::text || ',', '~')
            || coalesce(length(lot_id::text) || ':' || lot_id::text || ',', '~')
            || coalesce(length(offer_id::text) || ':' || offer_id::text || ',', '~')
            || coalesce(length(bid_id::text) || ':' || bid_id::text || ',', '~')
            || coalesce(length(participant_id::text) || ':' || participant_id::text || ',', '~')
            || coalesce(length(organization_id::text) || ':' || organization_id::text || ',', '~')
            || coalesce(octet_length(convert_to(fingerprint, 'UTF8')) || ':' || fingerprint || ',', '~')
            || coalesce(length(subject_participant_id::text) || ':' || subject_participant_id::text || ',', '~')
            || coalesce(length(subject_organization_id::text) || ':' || subject_organization_id::text || ',', '~')
            || coalesce(length(amount::text) || ':' || amount::text || ',', '~')
            || coalesce(octet_length(convert_to(reason, 'UTF8')) || ':' || reason || ',', '~')
            || CASE WHEN sealed THEN '1:t,' ELSE '1:f,' END
            || coalesce(octet_length(convert_to(body, 'UTF8')) || ':' || body || ',', '~')
            || coalesce(octet_length(convert_to(statement, 'UTF8')) || ':' || statement || ',', '~'), 'UTF8')
        || CASE WHEN signature IS NULL THEN '\x7e'::bytea
                ELSE convert_to(octet_length(signature) || ':', 'UTF8') || signature || '\x2c'::bytea END
        || convert_to(coalesce(octet_length(convert_to(signer, 'UTF8')) || ':' || signer || ',', '~'),
                      'UTF8'))
$$;
