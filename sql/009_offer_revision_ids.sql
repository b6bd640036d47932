-- offer_revisions is an append-only record of every submission, withdrawal and
-- confirmation of an offer. Its key was (offer_id, revision, action, at): two changes of the
-- same kind to one offer at one revision in the same millisecond (a confirmation, an
-- amendment, a confirmation again, all in one batch) collided, and the collision failed the
-- whole batch, every participant's changes in it included. A record of events needs no
-- natural key: each row gets its own id, in insertion order.
--
-- The new column comes last, so the projection's positional INSERT (007) fills it from its
-- default. The runtime role gets USAGE on the new sequence by the default privileges of 005.

ALTER TABLE offer_revisions DROP CONSTRAINT offer_revisions_pkey;
ALTER TABLE offer_revisions ADD COLUMN id bigserial PRIMARY KEY;
CREATE INDEX offer_revisions_offer ON offer_revisions (offer_id, revision);
