-- Procurement requests: RFQs, sealed tenders, tenders followed by a live auction.
-- The log (procurement_log) is the source of truth that tenderd replays at start-up;
-- the other tables hold the same facts in relational form for auditing.

CREATE TABLE procurements (
    id                    bigint PRIMARY KEY,
    buyer_participant_id  bigint NOT NULL REFERENCES participants (id),
    buyer_organization_id bigint NOT NULL REFERENCES organizations (id),
    kind                  text NOT NULL CHECK (kind IN ('rfq', 'tender', 'tender_auction')),
    currency              char(3) NOT NULL,
    currency_exp          smallint NOT NULL,
    state                 text NOT NULL,
    version               integer NOT NULL DEFAULT 1,
    title                 text NOT NULL,
    enquiry_end           timestamptz NOT NULL,
    submission_deadline   timestamptz NOT NULL,
    opening_at            timestamptz NOT NULL,
    min_bids              integer NOT NULL CHECK (min_bids BETWEEN 1 AND 9),
    published_at          timestamptz,
    opened_at             timestamptz,
    decided_at            timestamptz,
    closed_at             timestamptz,
    cancel_reason         text,
    created_at            timestamptz NOT NULL
);

-- Every version of the published document (title, description, lots, items, criteria,
-- deadlines, documents' descriptions), with the reason of each amendment.
CREATE TABLE procurement_versions (
    procurement_id bigint NOT NULL REFERENCES procurements (id),
    version        integer NOT NULL,
    at             timestamptz NOT NULL,
    reason         text,
    document       jsonb NOT NULL,
    PRIMARY KEY (procurement_id, version)
);

CREATE TABLE procurement_documents (
    procurement_id bigint NOT NULL REFERENCES procurements (id),
    id             integer NOT NULL,
    name           text NOT NULL,
    media_type     text NOT NULL,
    size           bigint NOT NULL,
    sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content        bytea,                       -- NULL when only described
    added_at       timestamptz NOT NULL,
    PRIMARY KEY (procurement_id, id)
);

CREATE TABLE questions (
    procurement_id  bigint NOT NULL REFERENCES procurements (id),
    id              integer NOT NULL,
    text            text NOT NULL,
    asked_at        timestamptz NOT NULL,
    asked_by        bigint NOT NULL REFERENCES participants (id),  -- never shown to participants
    answer          text,
    answered_at     timestamptz,
    PRIMARY KEY (procurement_id, id)
);

-- One offer (an RFQ quote or a tender bid) of an organization on a lot, and every revision.
CREATE TABLE offers (
    id              bigint PRIMARY KEY,
    procurement_id  bigint NOT NULL REFERENCES procurements (id),
    lot_id          integer NOT NULL,
    organization_id bigint NOT NULL REFERENCES organizations (id),
    UNIQUE (procurement_id, lot_id, organization_id)
);
CREATE TABLE offer_revisions (
    offer_id       bigint NOT NULL REFERENCES offers (id),
    revision       integer NOT NULL,
    action         text NOT NULL CHECK (action IN ('submitted', 'withdrawn', 'confirmed')),
    at             timestamptz NOT NULL,
    participant_id bigint NOT NULL REFERENCES participants (id),
    fingerprint    text NOT NULL,
    price          bigint,
    detail         jsonb,          -- stated values, delivery, validity, comment
    PRIMARY KEY (offer_id, revision, action, at)
);

-- Every procedure state change, in order. Replayed at start-up. Append-only.
CREATE TABLE procurement_log (
    id              bigserial PRIMARY KEY,
    procurement_id  bigint NOT NULL REFERENCES procurements (id),
    at              timestamptz NOT NULL,
    kind            text NOT NULL,
    participant_id  bigint REFERENCES participants (id),
    organization_id bigint REFERENCES organizations (id),
    fingerprint     text,
    lot_id          integer,
    offer_id        bigint,
    sealed          boolean NOT NULL DEFAULT false,   -- detail holds sealed contents
    detail          jsonb NOT NULL
);
CREATE INDEX procurement_log_procurement ON procurement_log (procurement_id, id);
CREATE TRIGGER procurement_log_append_only BEFORE UPDATE OR DELETE ON procurement_log
    FOR EACH ROW EXECUTE FUNCTION tenderd_append_only();
CREATE TRIGGER offer_revisions_append_only BEFORE UPDATE OR DELETE ON offer_revisions
    FOR EACH ROW EXECUTE FUNCTION tenderd_append_only();

-- A tender_auction lot's live auction.
ALTER TABLE auctions ADD COLUMN procurement_id bigint REFERENCES procurements (id),
                     ADD COLUMN lot_id integer;
ALTER TABLE bids ADD COLUMN seeded boolean NOT NULL DEFAULT false;

-- Suspensions and reinstatements of participants by operators.
CREATE TABLE participant_log (
    id             bigserial PRIMARY KEY,
    participant_id bigint NOT NULL REFERENCES participants (id),
    at             timestamptz NOT NULL,
    status         text NOT NULL CHECK (status IN ('active', 'suspended')),
    reason         text NOT NULL,
    operator_id    bigint NOT NULL REFERENCES participants (id),
    fingerprint    text NOT NULL
);
CREATE TRIGGER participant_log_append_only BEFORE UPDATE OR DELETE ON participant_log
    FOR EACH ROW EXECUTE FUNCTION tenderd_append_only();

-- ---- audit views: sealed contents appear only once the procedure is opened ----

CREATE VIEW audit.procurements AS
SELECT p.id AS procurement_id, p.kind, p.title, o.name AS buyer_organization, p.state,
       p.version, p.currency, p.enquiry_end, p.submission_deadline, p.opening_at, p.min_bids,
       p.published_at, p.opened_at, p.decided_at, p.closed_at, p.cancel_reason, p.created_at
FROM procurements p JOIN organizations o ON o.id = p.buyer_organization_id;

CREATE VIEW audit.procurement_versions AS
SELECT procurement_id, version, at, reason, document FROM procurement_versions;

CREATE VIEW audit.questions AS
SELECT q.procurement_id, q.id AS question_id, q.text, q.asked_at, o.name AS asked_by_organization,
       q.answer, q.answered_at
FROM questions q JOIN participants pa ON pa.id = q.asked_by
JOIN organizations o ON o.id = pa.organization_id;

CREATE VIEW audit.offer_revisions AS
SELECT f.procurement_id, f.lot_id, f.id AS offer_id, o.name AS organization, r.revision,
       r.action, r.at, r.fingerprint,
       CASE WHEN p.opened_at IS NULL THEN NULL ELSE audit.major(r.price, p.currency_exp) END AS price,
       CASE WHEN p.opened_at IS NULL THEN NULL ELSE r.detail END AS detail,
       p.opened_at IS NOT NULL AS opened
FROM offer_revisions r
JOIN offers f ON f.id = r.offer_id
JOIN procurements p ON p.id = f.procurement_id
JOIN organizations o ON o.id = f.organization_id;

CREATE VIEW audit.procurement_log AS
SELECT l.id AS log_id, l.procurement_id, l.at, l.kind, o.name AS organization, pa.name AS participant,
       l.fingerprint, l.lot_id, l.offer_id,
       CASE WHEN l.sealed AND p.opened_at IS NULL THEN NULL ELSE l.detail END AS detail,
       l.sealed AND p.opened_at IS NULL AS sealed
FROM procurement_log l
JOIN procurements p ON p.id = l.procurement_id
LEFT JOIN organizations o ON o.id = l.organization_id
LEFT JOIN participants pa ON pa.id = l.participant_id;

-- Counts are public before the opening; contents are not.
CREATE VIEW audit.offer_counts AS
SELECT f.procurement_id, f.lot_id, count(*) AS offers
FROM offers f GROUP BY 1, 2;

CREATE VIEW audit.participant_log AS
SELECT l.at, p.name AS participant, o.name AS organization, l.status, l.reason,
       op.name AS operator, l.fingerprint AS operator_fingerprint
FROM participant_log l
JOIN participants p ON p.id = l.participant_id
JOIN organizations o ON o.id = p.organization_id
JOIN participants op ON op.id = l.operator_id;

GRANT SELECT ON ALL TABLES IN SCHEMA audit TO tenderd_auditor;

-- The relational tables are a projection of the log, kept in the same transaction.
CREATE FUNCTION procurement_log_project() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d jsonb := NEW.detail;
    doc jsonb;
    x jsonb;
BEGIN
    IF NEW.kind = 'created' THEN
        doc := d -> 'document';
        INSERT INTO procurements (id, buyer_participant_id, buyer_organization_id, kind, currency,
            currency_exp, state, version, title, enquiry_end, submission_deadline, opening_at,
            min_bids, created_at)
        VALUES (NEW.procurement_id, (d ->> 'buyer_participant')::bigint, (d ->> 'buyer_org')::bigint,
            doc ->> 'kind', doc ->> 'currency', (doc ->> 'exp')::smallint, 'draft', 1, doc ->> 'title',
            'epoch'::timestamptz + (doc ->> 'enquiry_end')::bigint * interval '1 millisecond',
            'epoch'::timestamptz + (doc ->> 'submission_deadline')::bigint * interval '1 millisecond',
            'epoch'::timestamptz + (doc ->> 'opening_at')::bigint * interval '1 millisecond',
            (doc ->> 'min_bids')::int, NEW.at);
        INSERT INTO procurement_versions VALUES (NEW.procurement_id, 1, NEW.at, NULL, doc - 'documents' ||
            jsonb_build_object('documents', (SELECT coalesce(jsonb_agg(e - 'content'), '[]') FROM jsonb_array_elements(doc -> 'documents') e)));
        FOR x IN SELECT * FROM jsonb_array_elements(doc -> 'documents') LOOP
            INSERT INTO procurement_documents VALUES (NEW.procurement_id, (x ->> 'id')::int, x ->> 'name',
                x ->> 'media_type', (x ->> 'size')::bigint, x ->> 'sha256',
                CASE WHEN x ? 'content' AND x ->> 'content' IS NOT NULL THEN decode(x ->> 'content', 'base64') END, NEW.at);
        END LOOP;
    ELSIF NEW.kind = 'amended' THEN
        doc := d -> 'document';
        UPDATE procurements SET version = (d ->> 'version')::int, title = doc ->> 'title',
            enquiry_end = 'epoch'::timestamptz + (doc ->> 'enquiry_end')::bigint * interval '1 millisecond',
            submission_deadline = 'epoch'::timestamptz + (doc ->> 'submission_deadline')::bigint * interval '1 millisecond',
            opening_at = 'epoch'::timestamptz + (doc ->> 'opening_at')::bigint * interval '1 millisecond',
            min_bids = (doc ->> 'min_bids')::int
        WHERE id = NEW.procurement_id;
        INSERT INTO procurement_versions VALUES (NEW.procurement_id, (d ->> 'version')::int, NEW.at,
            d ->> 'reason', doc - 'documents' ||
            jsonb_build_object('documents', (SELECT coalesce(jsonb_agg(e - 'content'), '[]') FROM jsonb_array_elements(doc -> 'documents') e)));
        FOR x IN SELECT * FROM jsonb_array_elements(doc -> 'documents') LOOP
            INSERT INTO procurement_documents VALUES (NEW.procurement_id, (x ->> 'id')::int, x ->> 'name',
                x ->> 'media_type', (x ->> 'size')::bigint, x ->> 'sha256',
                CASE WHEN x ->> 'content' IS NOT NULL THEN decode(x ->> 'content', 'base64') END, NEW.at)
            ON CONFLICT (procurement_id, id) DO NOTHING;
        END LOOP;
    ELSIF NEW.kind = 'question_asked' THEN
        INSERT INTO questions (procurement_id, id, text, asked_at, asked_by)
        VALUES (NEW.procurement_id, (d ->> 'question')::int, d ->> 'text', NEW.at, NEW.participant_id);
    ELSIF NEW.kind = 'question_answered' THEN
        UPDATE questions SET answer = d ->> 'text', answered_at = NEW.at
        WHERE procurement_id = NEW.procurement_id AND id = (d ->> 'question')::int;
    ELSIF NEW.kind IN ('offer_submitted', 'offer_withdrawn', 'offer_confirmed') THEN
        INSERT INTO offers VALUES (NEW.offer_id, NEW.procurement_id, NEW.lot_id, NEW.organization_id)
        ON CONFLICT (id) DO NOTHING;
        INSERT INTO offer_revisions VALUES (NEW.offer_id, (d ->> 'revision')::int,
            substr(NEW.kind, 7), NEW.at, NEW.participant_id, NEW.fingerprint,
            (d ->> 'price')::bigint, d - 'price');
    ELSIF NEW.kind = 'cancelled' THEN
        UPDATE procurements SET cancel_reason = d ->> 'reason' WHERE id = NEW.procurement_id;
    END IF;
    -- every row carries the procedure's state after it
    UPDATE procurements SET state = d ->> 'state',
        published_at = CASE WHEN d ? 'published_at' THEN 'epoch'::timestamptz + (d ->> 'published_at')::bigint * interval '1 millisecond' ELSE published_at END,
        opened_at = CASE WHEN d ? 'opened_at' THEN 'epoch'::timestamptz + (d ->> 'opened_at')::bigint * interval '1 millisecond' ELSE opened_at END,
        decided_at = CASE WHEN d ? 'decided_at' THEN 'epoch'::timestamptz + (d ->> 'decided_at')::bigint * interval '1 millisecond' ELSE decided_at END,
        closed_at = CASE WHEN d ? 'closed_at' THEN 'epoch'::timestamptz + (d ->> 'closed_at')::bigint * interval '1 millisecond' ELSE closed_at END
    WHERE id = NEW.procurement_id AND d ? 'state';
    RETURN NEW;
END $$;

-- BEFORE, so that the procurement row exists when the log row's foreign key is checked.
CREATE TRIGGER procurement_log_project BEFORE INSERT ON procurement_log
    FOR EACH ROW EXECUTE FUNCTION procurement_log_project();
