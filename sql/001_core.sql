-- tenderd core schema: participants, auctions, bids and the append-only auction log.
-- Money is bigint minor units (currency_exp fraction digits); times are timestamptz.

CREATE TABLE tenderd_state (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_batch bigint NOT NULL DEFAULT 0   -- id of the last committed write batch
);
INSERT INTO tenderd_state DEFAULT VALUES;

CREATE TABLE organizations (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    tax_id     text,
    country    text CHECK (country ~ '^[A-Z]{2}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE participants (
    id              bigserial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role            text NOT NULL CHECK (role IN ('buyer', 'supplier', 'operator')),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    registered_by   bigint REFERENCES participants (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE certificates (
    fingerprint    text PRIMARY KEY CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
    participant_id bigint NOT NULL REFERENCES participants (id),
    subject        text NOT NULL,
    serial         text,
    not_before     timestamptz,
    not_after      timestamptz,
    pem            text NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX certificates_participant ON certificates (participant_id);

CREATE TABLE auctions (
    id                    bigint PRIMARY KEY,
    buyer_participant_id  bigint NOT NULL REFERENCES participants (id),
    buyer_organization_id bigint NOT NULL REFERENCES organizations (id),
    title                 text NOT NULL,
    currency              char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    currency_exp          smallint NOT NULL CHECK (currency_exp BETWEEN 0 AND 3),
    start_price           bigint NOT NULL CHECK (start_price > 0),
    step_min_percent      boolean NOT NULL,  -- true: step_min_value is in basis points
    step_min_value        bigint NOT NULL,
    step_min_amount       bigint NOT NULL CHECK (step_min_amount > 0),
    step_max_percent      boolean NOT NULL,
    step_max_value        bigint NOT NULL,
    step_max_amount       bigint NOT NULL CHECK (step_max_amount >= step_min_amount),
    starts_at             timestamptz NOT NULL,
    scheduled_end         timestamptz NOT NULL CHECK (scheduled_end > starts_at),
    ends_at               timestamptz NOT NULL,  -- current end, after extensions
    extensions            integer NOT NULL DEFAULT 0,
    ext_window_ms         bigint NOT NULL CHECK (ext_window_ms >= 0),
    ext_length_ms         bigint NOT NULL CHECK (ext_length_ms >= 0),
    state                 text NOT NULL CHECK (state IN ('scheduled', 'running', 'closed', 'cancelled')),
    closed_at             timestamptz,
    winner_bid_id         bigint,
    final_price           bigint,
    cancel_reason         text,
    cancelled_by          bigint REFERENCES participants (id),
    created_at            timestamptz NOT NULL,
    created_fingerprint   text NOT NULL
);

CREATE TABLE bids (
    id              bigint PRIMARY KEY,
    auction_id      bigint NOT NULL REFERENCES auctions (id),
    seq             integer NOT NULL CHECK (seq > 0),
    participant_id  bigint NOT NULL REFERENCES participants (id),
    organization_id bigint NOT NULL REFERENCES organizations (id),
    fingerprint     text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    placed_at       timestamptz NOT NULL,
    UNIQUE (auction_id, seq)
);

-- Every auction state change, in order. Never updated, never deleted.
CREATE TABLE auction_log (
    id              bigserial PRIMARY KEY,
    auction_id      bigint NOT NULL REFERENCES auctions (id),
    at              timestamptz NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('created', 'started', 'bid_accepted',
                        'bid_refused', 'extended', 'closed', 'cancelled')),
    participant_id  bigint REFERENCES participants (id),
    organization_id bigint REFERENCES organizations (id),
    fingerprint     text,
    bid_id          bigint,
    amount          bigint,
    reason          text,     -- refusal code, cancellation reason
    detail          jsonb
);
CREATE INDEX auction_log_auction ON auction_log (auction_id, id);

-- Bids and the log are append-only.
CREATE FUNCTION tenderd_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER bids_append_only BEFORE UPDATE OR DELETE ON bids
    FOR EACH ROW EXECUTE FUNCTION tenderd_append_only();
CREATE TRIGGER auction_log_append_only BEFORE UPDATE OR DELETE ON auction_log
    FOR EACH ROW EXECUTE FUNCTION tenderd_append_only();
