#!/bin/bash
# What the transparency log costs PostgreSQL per change (docs/benchmarks.md): in a private
# cluster with the schema migrated, ROWS bid_accepted rows as the bid path writes them (their
# columns materialized first, as DB_S_BIDS's unnest does) are
#   1. hashed by tenderd_leaf() alone (migration 016), and by migration 011's form of it
#      (created here as leaf_011, on ROWS / 10 rows: it is slow), against the same columns
#      without a hash;
#   2. inserted into a copy of `changes` (its indexes, no trigger) with leaf_hash computed by
#      tenderd_leaf(), against a constant leaf_hash;
#   3. read back as tenderd reads a batch's leaves (DB_S_LEAVES), 250 rows at a time.
# Each measurement is the best of 5 (execution time of EXPLAIN ANALYZE, TIMING OFF), the
# form of 011 the best of 2.
#
#   bench/leaf_cost.sh [ROWS]        (run as root or as a user that may run PostgreSQL)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${1:-200000}
BUILD=${BENCH_BUILD:-$ROOT/build}
WORK=$(mktemp -d /tmp/tenderd-leaf.XXXXXX)
trap '"$ROOT/scripts/pgctl.sh" stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

CONN=$("$ROOT/scripts/pgctl.sh" start "$WORK/pg" | tail -n 1)
"$BUILD/tenderd" migrate --db "${CONN/user=tenderd/user=tenderd_owner}" --sql_dir "$ROOT/sql" \
    --log_level warn
PSQL=(psql -X -q -A -t -v ON_ERROR_STOP=1 -d "${CONN/user=tenderd/user=postgres}")

# The 21 columns of a bid_accepted row of bid g, as the bid path writes them.
ROW="g, now(), 'auction', 'bid_accepted', 7::bigint, NULL::bigint, NULL::integer, NULL::bigint,
     g::bigint, 5::bigint, 5::bigint, repeat('ab', 32), NULL::bigint, NULL::bigint,
     (99000000 - g)::bigint, NULL::text, false,
     '{\"auction\":7,\"bid\":' || g || ',\"amount\":\"990000.00\",\"seq\":' || g ||
     ',\"rank\":1,\"best_price\":\"990000.00\",\"took_lead\":true}', NULL::text, NULL::bytea,
     NULL::text"

# Best execution time (ms) of ${2:-5} runs of a statement.
best() {
    local sql=$1 t b=
    for _ in $(seq "${2:-5}"); do
        t=$("${PSQL[@]}" -c "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) $sql" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])')
        if [[ -z $b ]] || python3 -c "import sys; sys.exit(not $t < $b)"; then b=$t; fi
        "${PSQL[@]}" -c "TRUNCATE c_leaf, c_const" 2>/dev/null || true
    done
    echo "$b"
}

"${PSQL[@]}" -c "CREATE TABLE c_leaf (LIKE changes INCLUDING DEFAULTS INCLUDING INDEXES)" \
    -c "CREATE TABLE c_const (LIKE changes INCLUDING DEFAULTS INCLUDING INDEXES)"
COLS="seq, at, stream, kind, auction_id, procurement_id, lot_id, offer_id, bid_id, participant_id,
      organization_id, fingerprint, subject_participant_id, subject_organization_id, amount, reason,
      sealed, body, statement, signature, signer"

# migration 011's tenderd_leaf, under another name
sed -n '/^CREATE FUNCTION tenderd_leaf(/,/^\$\$;/p' "$ROOT/sql/011_leaves.sql" |
    sed 's/^CREATE FUNCTION tenderd_leaf(/CREATE FUNCTION leaf_011(/' | "${PSQL[@]}" -f -
VCOLS=$(echo "$COLS" | tr -d '\n')
src() { # N: the materialized rows, as v
    echo "WITH v ($VCOLS) AS MATERIALIZED (SELECT $ROW FROM generate_series(1, $1) g)"
}
H0=$(best "$(src "$ROWS") SELECT count(seq) FROM v")
H1=$(best "$(src "$ROWS") SELECT count(tenderd_leaf($VCOLS)) FROM v")
OLD=$((ROWS / 10))
H2=$(best "$(src "$OLD") SELECT count(seq) FROM v")
H3=$(best "$(src "$OLD") SELECT count(leaf_011($VCOLS)) FROM v" 2)
I0=$(best "$(src "$ROWS") INSERT INTO c_const ($COLS, leaf_hash) SELECT $VCOLS, '\\x00'::bytea FROM v")
I1=$(best "$(src "$ROWS") INSERT INTO c_leaf ($COLS, leaf_hash) SELECT $VCOLS, tenderd_leaf($VCOLS) FROM v")
# the same hashes both ways
SAME=$("${PSQL[@]}" -c "$(src 2000) SELECT bool_and(tenderd_leaf($VCOLS) = leaf_011($VCOLS)) FROM v")
# and for rows with every column NULL that may be, non-ASCII text and a signature
SAME=$SAME,$("${PSQL[@]}" -c "SELECT bool_and(tenderd_leaf($VCOLS) = leaf_011($VCOLS)) FROM (VALUES
    (1::bigint, now(), 'procurement', 'offer_submitted', NULL::bigint, 5::bigint, 2, 9::bigint,
     NULL::bigint, 3::bigint, 3::bigint, 'fp', NULL::bigint, NULL::bigint, 100::bigint,
     'réason ü', true, '{"a":"ü"}', 'stmt ✓', '\\x0102ff2c7e'::bytea, 'signer'),
    (2, '1970-01-01 00:00:00.000001+00', 'participant', 'registered', NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, 4, 4, NULL, NULL, NULL, '', NULL, ''::bytea, NULL)) v ($VCOLS)")
"${PSQL[@]}" -c "$(src "$ROWS") INSERT INTO c_leaf ($COLS, leaf_hash) SELECT $VCOLS, tenderd_leaf($VCOLS) FROM v" \
    -c "VACUUM ANALYZE c_leaf"
R=0
for start in 1 50001 100001 150001; do
    t=$(best "SELECT seq, leaf_hash, CASE WHEN sealed THEN sha256(convert_to(body, 'UTF8')) END FROM c_leaf WHERE seq >= $start AND seq < $start + 250 ORDER BY seq")
    R=$(python3 -c "print($R + $t)")
done

python3 - "$ROWS" "$H0" "$H1" "$I0" "$I1" "$R" "$H2" "$H3" "$SAME" <<'EOF'
import sys
rows, h0, h1, i0, i1, r, h2, h3 = int(sys.argv[1]), *map(float, sys.argv[2:9])
us = lambda ms: ms * 1000.0 / rows
print("rows %d; 011 and 016 give the same hashes: %s" % (rows, sys.argv[9]))
print("tenderd_leaf() alone: %.2f us per row (%.0f ms with, %.0f ms without)" % (us(h1 - h0), h1, h0))
print("011's tenderd_leaf() alone: %.2f us per row (%d rows: %.0f ms with, %.0f ms without)" % (
    (h3 - h2) * 1000.0 / (rows // 10), rows // 10, h3, h2))
print("insert with the leaf computed: %.2f us per row more (%.2f us against %.2f us)" % (
    us(i1 - i0), us(i1), us(i0)))
print("reading a batch's leaves: %.3f us per row (4 x 250 rows: %.2f ms)" % (r * 1000.0 / 1000, r))
EOF
