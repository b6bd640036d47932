-- Amendments record what they change, not the whole document again.
--
-- Before: every 'amended' row of procurement_log repeated the whole document with the
-- contents (base64) of every document added so far, and every procurement_versions row
-- listed every document, so each amendment cost storage and start-up replay time in
-- proportion to all the amendments before it.
--
-- Now an 'amended' row's detail holds
--   "document":  the fields the amendment restates (title, description, deadlines, lots,
--                auction settings), without "documents";
--   "documents": only the documents it adds, with their contents and the ids tenderd gave
--                them (numbered after the documents of the earlier versions).
-- A 'created' row is unchanged ("document" with its documents). Each document row of
-- procurement_documents records the version that added it, and
-- audit.procurement_versions lists a version's documents from there: those added by that
-- version or an earlier one. procurement_versions.document no longer holds "documents".

ALTER TABLE procurement_documents ADD COLUMN version integer;

-- The version that added each document: the first version whose document listed it.
UPDATE procurement_documents d SET version = f.version
FROM (SELECT v.procurement_id, (e ->> 'id')::int AS id, min(v.version) AS version
      FROM procurement_versions v
      CROSS JOIN LATERAL jsonb_array_elements(coalesce(v.document -> 'documents', '[]')) e
      GROUP BY 1, 2) f
WHERE f.procurement_id = d.procurement_id AND f.id = d.id;
UPDATE procurement_documents SET version = 1 WHERE version IS NULL;
ALTER TABLE procurement_documents ALTER COLUMN version SET NOT NULL;

UPDATE procurement_versions SET document = document - 'documents' WHERE document ? 'documents';

-- Existing 'amended' rows keep only the documents they added: the ones after the
-- documents of the procedure's previous 'created' or 'amended' row (an amendment appended
-- its documents to the list it repeated). Nothing is lost: the documents of earlier
-- versions stay in the rows that added them. This one rewrite of the append-only log is
-- done here by the owner of the table, with its append-only trigger off for the
-- conversion only. Each row is read once (a detail may be megabytes of documents).
ALTER TABLE procurement_log DISABLE TRIGGER procurement_log_append_only;
DO $$
DECLARE
    r record;
    d jsonb;            -- one row's detail, read from its TOAST once
    pid bigint := NULL;
    had int := 0;       -- documents of the procedure's previous 'created'/'amended' row
    n int;
BEGIN
    FOR r IN SELECT id, procurement_id, kind FROM procurement_log
             WHERE kind IN ('created', 'amended') ORDER BY procurement_id, id LOOP
        IF pid IS DISTINCT FROM r.procurement_id THEN
            pid := r.procurement_id;
            had := 0;
        END IF;
        SELECT detail INTO d FROM procurement_log WHERE id = r.id;
        n := coalesce(jsonb_array_length(d -> 'document' -> 'documents'), had);
        IF r.kind = 'amended' AND d -> 'document' ? 'documents' THEN
            UPDATE procurement_log SET detail = d - 'document' || jsonb_build_object(
                'document', (d -> 'document') - 'documents',
                'documents', (SELECT coalesce(jsonb_agg(e ORDER BY i), '[]')
                              FROM jsonb_array_elements(d -> 'document' -> 'documents')
                                   WITH ORDINALITY AS t (e, i)
                              WHERE i > had))
            WHERE id = r.id;
        END IF;
        had := n;
    END LOOP;
END $$;
ALTER TABLE procurement_log ENABLE TRIGGER procurement_log_append_only;

CREATE OR REPLACE VIEW audit.procurement_versions AS
SELECT v.procurement_id, v.version, v.at, v.reason,
       v.document || jsonb_build_object('documents', (
           SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name,
                      'media_type', d.media_type, 'size', d.size, 'sha256', d.sha256)
                      ORDER BY d.id), '[]')
           FROM procurement_documents d
           WHERE d.procurement_id = v.procurement_id AND d.version <= v.version)) AS document
FROM procurement_versions v;

-- The projection of the log into the tables, for the new form of 'amended' rows. Only the
-- 'created' and 'amended' branches change (the documents and the versions); it stays a
-- projection: every rule is checked in tenderd before the row is written.
CREATE OR REPLACE FUNCTION procurement_log_project() RETURNS trigger LANGUAGE plpgsql AS $$
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
        INSERT INTO procurement_versions VALUES (NEW.procurement_id, 1, NEW.at, NULL, doc - 'documents');
        FOR x IN SELECT * FROM jsonb_array_elements(doc -> 'documents') LOOP
            INSERT INTO procurement_documents (procurement_id, id, name, media_type, size, sha256,
                content, added_at, version)
            VALUES (NEW.procurement_id, (x ->> 'id')::int, x ->> 'name',
                x ->> 'media_type', (x ->> 'size')::bigint, x ->> 'sha256',
                CASE WHEN x ? 'content' AND x ->> 'content' IS NOT NULL THEN decode(x ->> 'content', 'base64') END,
                NEW.at, 1);
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
            d ->> 'reason', doc - 'documents');
        FOR x IN SELECT * FROM jsonb_array_elements(coalesce(d -> 'documents', '[]')) LOOP
            INSERT INTO procurement_documents (procurement_id, id, name, media_type, size, sha256,
                content, added_at, version)
            VALUES (NEW.procurement_id, (x ->> 'id')::int, x ->> 'name',
                x ->> 'media_type', (x ->> 'size')::bigint, x ->> 'sha256',
                CASE WHEN x ->> 'content' IS NOT NULL THEN decode(x ->> 'content', 'base64') END,
                NEW.at, (d ->> 'version')::int);
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
