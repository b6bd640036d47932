-- Signed tree heads of the transparency log (docs/trust.md).
--
-- tenderd signs, at least every second while changes happen, the head of the Merkle tree
-- whose leaves are the rows of `changes` in seq order: its size (the number of leaves, that
-- is the largest seq it covers), its root hash and the time, signed with the platform's log
-- key. Each head is written here before it is published. `log_keys` holds the certificates
-- of the keys that signed them, by the SHA-256 fingerprint of their DER.

CREATE TABLE log_keys (
    fingerprint text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    pem         text NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tree_heads (
    tree_size       bigint PRIMARY KEY CHECK (tree_size >= 0),
    root            bytea NOT NULL CHECK (octet_length(root) = 32),
    at              timestamptz NOT NULL,
    signature       bytea NOT NULL,
    key_fingerprint text NOT NULL REFERENCES log_keys (fingerprint)
);

CREATE TRIGGER log_keys_append_only BEFORE UPDATE OR DELETE ON log_keys
    FOR EACH ROW EXECUTE FUNCTION tenderd_append_only();
CREATE TRIGGER tree_heads_append_only BEFORE UPDATE OR DELETE ON tree_heads
    FOR EACH ROW EXECUTE FUNCTION tenderd_append_only();
