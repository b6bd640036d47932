"""Database roles (docs/operations.md, "Database roles"): tenderd's runtime role cannot rewrite
the records, the auditor cannot keep tenderd from starting or writing, a migration does not wait
forever behind another session, and a second tenderd fails at once naming what is in use.

Every attempt to change a table runs in a transaction that is rolled back, so that the shared
database stays intact even where an attempt succeeds."""
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import OWNER, PSQL, SANITIZER_MARKS, SQL_DIR, SUPERUSER, run, sanitizer_env

WRITER_LOCK = 7443002
# append-only tables, with a column to "update"
APPEND_ONLY = {"bids": "amount", "changes": "reason", "offer_revisions": "price"}
# the logs of before migration 010, now views of `changes`
OLD_LOGS = {"auction_log": "reason", "procurement_log": "kind", "participant_log": "reason",
            "organization_log": "reason"}


def attempt(env, user, sql):
    """Run `sql` as `user` inside a transaction that is rolled back; the psql process."""
    return env.psql("SET client_min_messages = warning; BEGIN; %s; ROLLBACK;" % sql, user=user,
                    check=False)


class Session:
    """A psql session kept open: statements are sent one at a time, it stays connected (and
    holds what it took) until close()."""

    def __init__(self, env, user, application_name):
        self.p = subprocess.Popen(
            [PSQL, "-X", "-q", "-A", "-t", "-d", "%s application_name=%s" % (
                env.conninfo_for(user), application_name)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def send(self, sql, timeout=20):
        """Send SQL and wait until psql has run it; returns its output lines."""
        self.p.stdin.write("%s\n\\echo @done\n" % sql)
        self.p.stdin.flush()
        watchdog = threading.Timer(timeout, self.p.kill)
        watchdog.start()
        lines = []
        try:
            while True:
                line = self.p.stdout.readline()
                if not line:
                    raise AssertionError("psql ended: %r" % lines)
                if line.strip() == "@done":
                    return lines
                lines.append(line.strip())
        finally:
            watchdog.cancel()

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)


# ---- the runtime role ----

def test_runtime_role_is_no_superuser_and_owns_nothing(env):
    rows = env.psql("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                    "WHERE rolname = 'tenderd'", user=SUPERUSER)
    assert rows == [["f", "f", "f", "f"]], rows
    owned = env.psql(
        "SELECT (SELECT count(*) FROM pg_class WHERE relowner = 'tenderd'::regrole), "
        "(SELECT count(*) FROM pg_proc WHERE proowner = 'tenderd'::regrole), "
        "(SELECT count(*) FROM pg_namespace WHERE nspowner = 'tenderd'::regrole), "
        "(SELECT count(*) FROM pg_type WHERE typowner = 'tenderd'::regrole), "
        "(SELECT count(*) FROM pg_database WHERE datdba = 'tenderd'::regrole), "
        "(SELECT count(*) FROM pg_auth_members WHERE member = 'tenderd'::regrole)",
        user=SUPERUSER)
    assert owned == [["0", "0", "0", "0", "0", "0"]], owned
    # tables, views and functions belong to the owner role
    others = env.psql("SELECT c.relname, c.relowner::regrole FROM pg_class c WHERE "
                      "c.relnamespace IN ('public'::regnamespace, 'audit'::regnamespace) AND "
                      "c.relowner <> '%s'::regrole" % OWNER, user=SUPERUSER)
    assert others == [], others


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
def test_runtime_role_cannot_rewrite_append_only_table(env, table):
    col = APPEND_ONLY[table]
    for sql, why in [
        ("UPDATE %s SET %s = %s" % (table, col, col), "permission denied for table"),
        ("DELETE FROM %s" % table, "permission denied for table"),
        ("TRUNCATE %s" % table, "permission denied for table"),
        ("ALTER TABLE %s DISABLE TRIGGER ALL" % table, "must be owner of table"),
        ("ALTER TABLE %s DISABLE TRIGGER USER" % table, "must be owner of table"),
        ("ALTER TABLE %s ADD COLUMN scratch int" % table, "must be owner of table"),
        ("DROP TRIGGER %s_append_only ON %s" % (table, table), "must be owner of"),
        ("CREATE OR REPLACE FUNCTION tenderd_append_only() RETURNS trigger LANGUAGE plpgsql "
         "AS $$ BEGIN RETURN NEW; END $$", "permission denied for schema public"),
    ]:
        p = attempt(env, "tenderd", sql)
        assert p.returncode != 0 and why in p.stderr, (sql, p.returncode, p.stderr)


@pytest.mark.parametrize("view", sorted(OLD_LOGS))
def test_runtime_role_cannot_write_through_the_old_logs(env, view):
    col = OLD_LOGS[view]
    for sql in ["UPDATE %s SET %s = %s" % (view, col, col), "DELETE FROM %s" % view,
                "INSERT INTO %s (%s) VALUES (NULL)" % (view, col)]:
        p = attempt(env, "tenderd", sql)
        assert p.returncode != 0 and "permission denied for view" in p.stderr, (sql, p.stderr)


def test_runtime_role_updates_only_the_columns_that_change(env):
    # columns tenderd changes: allowed (nothing matches, nothing changes)
    for sql in ["UPDATE auctions SET state = state, ends_at = ends_at, extensions = extensions,"
                " closed_at = closed_at, final_price = final_price WHERE false",
                "UPDATE participants SET status = status WHERE false",
                "UPDATE organizations SET status = status WHERE false",
                "UPDATE tenderd_state SET last_batch = last_batch WHERE false"]:
        p = attempt(env, "tenderd", sql)
        assert p.returncode == 0, (sql, p.stderr)
    # the rest: refused
    for sql in ["UPDATE auctions SET start_price = 1", "UPDATE auctions SET title = 'x'",
                "UPDATE participants SET role = 'operator'", "UPDATE certificates SET pem = 'x'",
                "UPDATE organizations SET tax_id = 'x'", "UPDATE organizations SET name = 'x'",
                "DELETE FROM participants",
                "DELETE FROM certificates", "TRUNCATE auctions CASCADE",
                "INSERT INTO schema_migrations (version, name) VALUES (999, 'x')",
                "CREATE TABLE public.scratch (x int)", "CREATE TEMP TABLE scratch (x int)"]:
        p = attempt(env, "tenderd", sql)
        assert p.returncode != 0 and "permission denied" in p.stderr, (sql, p.stderr)


# ---- the auditor ----

def test_auditor_cannot_take_advisory_locks_nor_create(env):
    for fn in ["pg_advisory_lock(%d)" % WRITER_LOCK, "pg_advisory_lock_shared(%d)" % WRITER_LOCK,
               "pg_try_advisory_lock(%d)" % WRITER_LOCK,
               "pg_try_advisory_lock_shared(%d)" % WRITER_LOCK,
               "pg_advisory_xact_lock(%d)" % WRITER_LOCK, "pg_advisory_lock(0, %d)" % WRITER_LOCK]:
        p = env.psql("SELECT %s" % fn, user="auditor", check=False)
        assert p.returncode != 0 and "permission denied for function" in p.stderr, (fn, p.stderr)
    # neither temporary tables nor functions, even in a read-write transaction
    for sql in ["CREATE TEMP TABLE scratch (x int)",
                "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                "CREATE FUNCTION audit.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                "CREATE VIEW audit.v AS SELECT 1", "CREATE SCHEMA scratch"]:
        p = env.psql("SET default_transaction_read_only = off; BEGIN READ WRITE; %s; ROLLBACK"
                     % sql, user="auditor", check=False)
        assert p.returncode != 0 and "permission denied" in p.stderr, (sql, p.stderr)
    # its sessions are bounded
    assert env.psql("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'auditor'",
                    user=SUPERUSER) == [["10"]]
    rows = env.psql("SELECT current_setting('statement_timeout'), "
                    "current_setting('idle_in_transaction_session_timeout'), "
                    "current_setting('default_transaction_read_only')", user="auditor")
    assert rows == [["5min", "1min", "on"]], rows


def test_tenderd_starts_while_the_auditor_tries_the_writer_lock(env, tenderd_factory):
    auditor = Session(env, "auditor", "lock-grabber")
    try:
        out = auditor.send("SELECT pg_advisory_lock(%d);" % WRITER_LOCK)
        held = env.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                        "objid = %d AND granted" % WRITER_LOCK, user=SUPERUSER)
        assert held == [["0"]], (out, held)
        t0 = time.monotonic()
        server = tenderd_factory()  # waits until it answers, with its database ready
        assert time.monotonic() - t0 < 15
        with server.client("operator") as c:
            assert c.ok("hello")["ok"]
    finally:
        auditor.close()


# ---- migrations ----

def migrate_with(env, extra_sql, *args, timeout=60):
    """tenderd migrate as the owner over a copy of sql/ plus the migrations `extra_sql`
    (name -> SQL). Returns (process, seconds)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="tdmig-"))
    try:
        for f in SQL_DIR.glob("*.sql"):
            shutil.copy(f, d)
        for name, sql in extra_sql.items():
            (d / name).write_text(sql)
        t0 = time.monotonic()
        p = run(env.tenderd_cmd("migrate", "--db", env.conninfo_for(OWNER), "--sql_dir", d,
                                *args), check=False, timeout=timeout, env=sanitizer_env())
        assert not [m for m in SANITIZER_MARKS if m in p.stderr], p.stderr
        return p, time.monotonic() - t0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_migration_behind_an_auditor_transaction_fails_naming_it(env, unique):
    app = "audit-report-" + unique
    auditor = Session(env, "auditor", app)
    try:
        pid = auditor.send("SELECT pg_backend_pid(); BEGIN; SELECT count(*) FROM audit.bids;")[0]
        p, took = migrate_with(env, {"900_lock_test.sql": "LOCK TABLE bids IN ACCESS EXCLUSIVE MODE;"},
                               "--migrate_lock_timeout", "2", timeout=40)
    finally:
        auditor.close()
        env.psql("DELETE FROM schema_migrations WHERE version = 900", user=OWNER)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert took < 10, took
    err = p.stderr
    for want in ["migration 900_lock_test.sql", "waited 2 s", "migrate_lock_timeout",
                 "pid %s " % pid, "role auditor", "application_name '%s'" % app,
                 "transaction since 20", "idle in transaction", "bids"]:
        assert want in err, (want, err)


def test_migrate_refuses_a_superuser_and_the_runtime_role_cannot(env):
    p = run(env.tenderd_cmd("migrate", "--db", env.conninfo_for(SUPERUSER), "--sql_dir",
                            SQL_DIR), check=False, env=sanitizer_env())
    assert p.returncode == 1 and "not as the superuser postgres" in p.stderr, p.stderr
    p, _ = migrate_with(env, {"901_runtime.sql": "CREATE TABLE scratch (x int);"})
    assert p.returncode == 0, p.stderr  # as the owner: fine
    env.psql("DROP TABLE scratch; DELETE FROM schema_migrations WHERE version = 901", user=OWNER)


def test_tenderd_refuses_to_start_on_an_unmigrated_schema(env, tenderd_factory):
    d = pathlib.Path(tempfile.mkdtemp(prefix="tdmig-"))
    try:
        for f in SQL_DIR.glob("*.sql"):
            shutil.copy(f, d)
        (d / "902_pending.sql").write_text("CREATE TABLE pending (x int);")
        server = tenderd_factory(start=False, sql_dir=str(d))
        server.start(ready=False)
        rc = server.proc.wait(20)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert rc == 1
    assert "migration 902_pending.sql is not applied" in server.log_text(), server.log_tail()
    assert env.psql("SELECT to_regclass('pending') IS NULL", user=SUPERUSER) == [["t"]]


# ---- a second tenderd ----

def start_second(env, first, port):
    """A second tenderd on the database of `first`, listening on `port`; waits for its exit.
    Returns (exit code, seconds, output)."""
    args = first.args()
    args[args.index("--listen") + 1] = "127.0.0.1:%d" % port
    t0 = time.monotonic()
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60, env=sanitizer_env())
    assert not [m for m in SANITIZER_MARKS if m in p.stdout], p.stdout
    return p.returncode, time.monotonic() - t0, p.stdout


def test_second_tenderd_on_the_same_port_fails_at_once(env, tenderd_factory):
    first = tenderd_factory()
    rc, took, out = start_second(env, first, first.port)
    assert rc == 1 and took < 5, (rc, took, out)
    assert "listen on 127.0.0.1:%d: Address already in use" % first.port in out, out
    with first.client("operator") as c:
        assert c.ok("hello")["ok"]


def test_second_tenderd_on_the_same_database_names_the_first(env, tenderd_factory):
    from conftest import free_port
    first = tenderd_factory()
    holder = env.psql("SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a "
                      "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.objid = %d AND "
                      "l.granted" % WRITER_LOCK, user=SUPERUSER)
    assert holder == [[holder[0][0], "tenderd 127.0.0.1:%d" % first.port]], holder
    rc, took, out = start_second(env, first, free_port())
    assert rc == 1 and took < 10, (rc, took, out)
    for want in ["writer lock on this database is held by pid %s " % holder[0][0],
                 "role tenderd", "application_name 'tenderd 127.0.0.1:%d'" % first.port,
                 "connected since 20", "another tenderd is running"]:
        assert want in out, (want, out)
    with first.client("operator") as c:
        assert c.ok("hello")["ok"]
