-- tenderd's database roles: the bootstrap, run by a superuser connected to tenderd's database.
--
--   psql -X -v ON_ERROR_STOP=1 -d "dbname=tenderd user=postgres" -f sql/roles.sql
--
-- It is not a migration (tenderd migrate ignores this file: its name has no number) and it is
-- safe to run again: scripts/pgctl.sh runs it at every start of the development cluster.
-- See docs/operations.md ("Database roles").
--
--   tenderd_owner    LOGIN. Applies migrations (tenderd migrate) and owns the database, its
--                    schemas, every table, view, sequence and function. Not a superuser.
--   tenderd          LOGIN. The role tenderd runs as. Not a superuser, owns nothing, holds only
--                    the privileges the migrations grant it (SELECT and INSERT, UPDATE on the
--                    few columns that change): it can neither update nor delete an append-only
--                    row, nor disable a trigger.
--   tenderd_auditor  NOLOGIN. Reads the views of schema audit, nothing else.
--   auditor          LOGIN, member of tenderd_auditor, read-only sessions, bounded.
--
-- Besides the roles, in this database: PUBLIC may neither connect, nor create temporary
-- tables, nor create anything in schema public, nor take advisory locks (tenderd's writer
-- lock is one: whoever held it could keep tenderd from starting).
-- Passwords or certificates are set by the administrator (pg_hba.conf); none here.

SET client_min_messages = warning;

DO $$
DECLARE
    boot name := (SELECT rolname FROM pg_roles WHERE oid = 10);
BEGIN
    IF boot IN ('tenderd', 'tenderd_owner', 'auditor') THEN
        RAISE EXCEPTION 'role % is the cluster''s bootstrap superuser: it cannot become one of '
            'tenderd''s roles; rename it first (scripts/pgctl.sh does this for its clusters)', boot;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenderd_owner') THEN
        CREATE ROLE tenderd_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenderd') THEN
        CREATE ROLE tenderd LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenderd_auditor') THEN
        CREATE ROLE tenderd_auditor NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'auditor') THEN
        CREATE ROLE auditor LOGIN;
    END IF;
END $$;

-- No role of tenderd's is more than it says, whatever it was before.
ALTER ROLE tenderd_owner NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS LOGIN;
ALTER ROLE tenderd NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS LOGIN;
ALTER ROLE tenderd_auditor NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOLOGIN;
ALTER ROLE auditor NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS LOGIN
    CONNECTION LIMIT 10;
DO $$
DECLARE
    m record;
BEGIN
    -- tenderd and auditor inherit nothing but what is granted below
    FOR m IN SELECT r.rolname AS role, u.rolname AS member
             FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid
             JOIN pg_roles u ON u.oid = a.member
             WHERE u.rolname IN ('tenderd', 'auditor', 'tenderd_auditor')
               AND NOT (u.rolname = 'auditor' AND r.rolname = 'tenderd_auditor') LOOP
        EXECUTE format('REVOKE %I FROM %I', m.role, m.member);
    END LOOP;
END $$;
GRANT tenderd_auditor TO auditor;
-- The owner names the sessions that block a migration (pid, role, query start).
GRANT pg_read_all_stats TO tenderd_owner;

-- The auditor: read-only sessions that cannot hold a lock or a connection slot for long.
ALTER ROLE auditor SET default_transaction_read_only = on;
ALTER ROLE auditor SET statement_timeout = '5min';
ALTER ROLE auditor SET idle_in_transaction_session_timeout = '1min';
ALTER ROLE auditor SET lock_timeout = '10s';
ALTER ROLE tenderd_auditor SET default_transaction_read_only = on;

-- The database and everything already in its schemas belong to the owner (a database set up
-- before the roles were split had them owned by tenderd or by a superuser).
DO $$
DECLARE
    o record;
BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO tenderd_owner', current_database());
    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'audit') THEN
        ALTER SCHEMA audit OWNER TO tenderd_owner;
    END IF;
    FOR o IN SELECT c.oid::regclass AS rel, c.relkind
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname IN ('public', 'audit') AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
               AND c.relowner <> 'tenderd_owner'::regrole
               -- a sequence owned by a column follows its table
               AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.deptype IN ('a', 'i'))) LOOP
        EXECUTE format('ALTER %s %s OWNER TO tenderd_owner',
            CASE o.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                           WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                           ELSE 'TABLE' END, o.rel);
    END LOOP;
    FOR o IN SELECT p.oid::regprocedure AS fn, p.prokind
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname IN ('public', 'audit') AND p.proowner <> 'tenderd_owner'::regrole LOOP
        EXECUTE format('ALTER %s %s OWNER TO tenderd_owner',
            CASE o.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
            o.fn);
    END LOOP;
END $$;

-- Connecting, temporary tables, objects in public: the owner and those granted here only.
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO tenderd, tenderd_auditor', current_database());
END $$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO tenderd;

-- Advisory locks: tenderd's roles only. tenderd holds one while it writes (DB_WRITER_LOCK)
-- and its migrations another; anybody else holding them would make tenderd wait.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE 'pg\_%advisory\_%' LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO tenderd, tenderd_owner', f);
    END LOOP;
END $$;
