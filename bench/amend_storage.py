#!/usr/bin/python3
"""Storage and start-up cost of procurement amendments (docs/benchmarks.md).

Starts its own PostgreSQL cluster and tenderd (the integration harness of
tests/integration), creates a tender with INITIAL documents of max_document
bytes each (random, so nothing compresses), then applies AMENDMENTS
amendments through the protocol, each adding one more such document. It
prints, every STEP amendments, the bytes the procurement tables and the WAL
grew by per amendment, then restarts tenderd on the result and prints the
start-up time (process start to the first answered hello), its peak RSS, and
whether procurement.get answers the same before and after the restart.

With OLD_BUILD set to the build directory of a tenderd from before migration
007, that tenderd (on the migrations before 007) makes the amendments; the
current build then migrates the database (timed), VACUUM FULL gives the space
back, and the current build restarts on it.

    TENDERD_BUILD=build [OLD_BUILD=dir] /usr/bin/python3 bench/amend_storage.py \
        [AMENDMENTS] [INITIAL] [STEP]
"""
import base64
import hashlib
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import conftest  # noqa: E402
from tdclient import format_time  # noqa: E402

DOC = 32768  # max_document's default
TABLES = ("changes", "procurement_versions", "procurement_documents", "procurements")


def document(n):
    data = os.urandom(DOC)
    return {"name": "annex-%03d.bin" % n, "media_type": "application/octet-stream",
            "content": base64.b64encode(data).decode(), "sha256": hashlib.sha256(data).hexdigest()}


def sizes(env):
    q = " + ".join("pg_total_relation_size('%s')" % t for t in TABLES)
    rows = env.psql("SELECT %s, pg_current_wal_lsn() - '0/0'::pg_lsn" % q)
    return int(rows[0][0]), int(float(rows[0][1]))


def peak_rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main():
    amendments = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    initial = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    step = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    base = tempfile.mkdtemp(prefix="amendbench-", dir="/tmp")
    os.chmod(base, 0o755)
    env = conftest.Env(base)
    env.pg_start()
    server = None
    # a build from before the limits takes neither the setting nor the owner role
    old = {"max_documents_per_procedure": "10000",
           "max_amendments_per_procedure": str(max(amendments, 1))}
    if os.environ.get("OLD_BUILD"):
        sqldir = pathlib.Path(base) / "sql-before-007"
        sqldir.mkdir()
        for f in sorted((ROOT / "sql").glob("[0-9][0-9][0-9]_*.sql")):
            if int(f.name[:3]) < 7:
                shutil.copy(f, sqldir)
        old = {"sql_dir": str(sqldir)}
        env.migrate = lambda *a: conftest.run(env.tenderd_cmd(
            "migrate", "--db", env.conninfo_for(conftest.OWNER), "--sql_dir", sqldir))
        env.tenderd_bin = pathlib.Path(os.environ["OLD_BUILD"]).resolve() / "tenderd"
    extra = ["--sql_dir", old.get("sql_dir", str(conftest.SQL_DIR))]
    try:
        env.make_cert("operator", "buyer")
        env.migrate()
        for name in ("operator", "buyer"):
            role, org, display = conftest.PARTICIPANTS[name]
            conftest.run(env.tenderd_cmd("register", "--db", env.conninfo, "--role", role,
                                         "--organization", org, "--name", display,
                                         "--cert", env.cert(name), *extra))
        server = conftest.Tenderd(env, "amendbench", max_line=1 << 20, **old)
        server.start()
        buyer = server.client("buyer", timeout=120)
        now = int(time.time() * 1000)
        req = {"title": "Amendment storage", "description": "benchmark",
               "enquiry_end": format_time(now + 3600_000),
               "submission_deadline": format_time(now + 7200_000),
               "opening_at": format_time(now + 7200_000), "min_bids": 1,
               "lots": [{"title": "Lot", "max_price": "1000.00",
                         "items": [{"description": "x", "quantity": "1", "unit": "pcs"}]}]}
        before = sizes(env)
        p = buyer.ok("procurement.create", kind="tender", currency="RUB",
                     documents=[document(i) for i in range(initial)], **req)["procurement"]
        buyer.ok("procurement.publish", procurement=p["id"])
        created = sizes(env)
        print("created with %d documents of %d bytes: %d table bytes, %d WAL bytes" % (
            initial, DOC, created[0] - before[0], created[1] - before[1]), flush=True)
        last, t0 = created, time.monotonic()
        for i in range(1, amendments + 1):
            buyer.ok("procurement.amend", procurement=p["id"], reason="Annex %d" % i,
                     documents=[document(initial + i)], **req)
            if i % step == 0:
                now_sz = sizes(env)
                print("amendments %3d-%3d: %9d table bytes/amendment, %9d WAL bytes/amendment,"
                      " %.1f s" % (i - step + 1, i, (now_sz[0] - last[0]) / step,
                                   (now_sz[1] - last[1]) / step, time.monotonic() - t0),
                      flush=True)
                last, t0 = now_sz, time.monotonic()
        total = sizes(env)
        print("total after %d amendments: %d table bytes (%.1f MB)" % (
            amendments, total[0] - before[0], (total[0] - before[0]) / 1e6), flush=True)
        view = buyer.ok("procurement.get", procurement=p["id"])["procurement"]
        buyer.close()
        server.stop()
        if os.environ.get("OLD_BUILD"):
            env.tenderd_bin = conftest.BUILD / "tenderd"
            server.settings["sql_dir"] = str(conftest.SQL_DIR)
            t = time.monotonic()
            conftest.run(env.tenderd_cmd("migrate", "--db", env.conninfo_for(conftest.OWNER),
                                         "--sql_dir", conftest.SQL_DIR), timeout=3600)
            print("migration 007 by the current build: %.2f s, %d table bytes after it" % (
                time.monotonic() - t, sizes(env)[0] - before[0]), flush=True)
            env.psql("VACUUM FULL " + ", ".join(TABLES), user=conftest.OWNER)
            print("after VACUUM FULL: %d table bytes (%.1f MB)" % (
                sizes(env)[0] - before[0], (sizes(env)[0] - before[0]) / 1e6), flush=True)
        t = time.monotonic()
        server.start()
        startup = time.monotonic() - t
        rss = peak_rss_kb(server.proc.pid)
        with server.client("buyer", timeout=120) as c:
            again = c.ok("procurement.get", procurement=p["id"])["procurement"]
        view.pop("server_time")
        again.pop("server_time")
        print("restart: %.2f s to ready, peak RSS %d MB, same procurement.get: %s" % (
            startup, rss // 1024, json.dumps(view, sort_keys=True) ==
            json.dumps(again, sort_keys=True)), flush=True)
    finally:
        if server is not None and server.running():
            server.stop()
        env.pg_stop()
        if not os.environ.get("TENDERD_KEEP_TMP"):
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
