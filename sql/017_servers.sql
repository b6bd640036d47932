-- Where the primary tenderd of this database is (docs/operations.md, "Standby and takeover").
--
-- The primary holds advisory lock 7443003 on a session of its own (its role session) and
-- writes here the address clients reach it at (setting advertise), and that session's
-- backend. A standby reads the row each time it tries for the lock, and tells its clients.
-- One row at most: `one` is always true. Not part of the log of changes: it says nothing
-- about the procedures, only where they are served from.
CREATE TABLE tenderd_primary (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    advertise text NOT NULL,
    backend_pid integer NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);

GRANT UPDATE (advertise, backend_pid, since) ON tenderd_primary TO tenderd;
