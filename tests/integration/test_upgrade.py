"""Upgrading a live database to the log of every change (migration 010): the tenderd of the
commit before that migration, built from this repository's history, runs auctions, an RFQ and
a suspension; then today's `tenderd migrate` and today's tenderd take over the database. Every
auction and procedure must come back exactly as the old server showed it, the copied log must
be gapless and consistent, and new changes must continue the sequence.

Needs the repository's history (a clone; CI runs from one) and builds the old tenderd (about a
minute on two cores)."""
import json
import os
import pathlib
import subprocess
import time

import pytest

import conftest
import procutil as pu
from tdclient import create_auction

from test_procurement_amend_storage import psql_db

NAMES = ("operator", "buyer", "supplier1", "supplier2", "supplier3")


def git(*args):
    return subprocess.run(["git", "-C", str(conftest.ROOT)] + list(args), capture_output=True,
                          text=True, timeout=60)


@pytest.fixture(scope="module")
def old_tree(env):
    """The tree of the commit before migration 010, built; its directory."""
    added = git("log", "--diff-filter=A", "--format=%H", "--", "sql/010_changes.sql")
    if added.returncode != 0 or not added.stdout.strip():
        pytest.skip("no git history with migration 010 (not a clone)")
    before = added.stdout.split()[-1] + "^"
    tree = env.dir / "old-tree"
    tree.mkdir()
    archive = subprocess.Popen(["git", "-C", str(conftest.ROOT), "archive", before],
                               stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(tree)], stdin=archive.stdout, check=True,
                   timeout=120)
    assert archive.wait(60) == 0
    assert not (tree / "sql" / "010_changes.sql").exists()
    # a plain build, whatever make (make asan) runs this test with
    clean = {k: v for k, v in os.environ.items()
             if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "BUILD", "CFLAGS")}
    conftest.run(["make", "-C", str(tree), "-j2", "BUILD=build", "build/tenderd"],
                 timeout=900, env=clean)
    return tree


class OldTenderd(conftest.Tenderd):
    """tenderd of the old tree, with its own migrations, on database `db`."""

    def __init__(self, env, tree, conninfo):
        super().__init__(env, "old-tenderd")
        self.settings.pop("required_policy")  # settings the old tenderd does not know
        self.settings.pop("metrics_listen")
        self.tree = tree
        self.conninfo = conninfo

    def args(self):
        new = super().args()
        a = [str(self.tree / "build" / "tenderd")] + new[1:]
        a[a.index("--db") + 1] = self.conninfo
        a[a.index("--sql_dir") + 1] = str(self.tree / "sql")
        # the old tree has no transparency log: no log key
        i = a.index("--log_key")
        del a[i:i + 4]
        return a


def comparable(view):
    v = dict(view)
    v.pop("server_time", None)
    return v


def snapshot(server, auctions, procurements):
    """What each participant sees of every auction and procedure."""
    out = {}
    for n in NAMES:
        with server.client(n) as c:
            for aid in auctions:
                out["a", aid, n] = comparable(c.ok("auction.get", auction=aid)["auction"])
            for pid in procurements:
                out["p", pid, n] = comparable(pu.get(c, pid))
    return out


def test_upgrade_from_the_old_logs(env, tenderd_factory, old_tree, unique):
    db = "tdupg_" + unique
    as_role = env.new_database(db)
    conninfo = as_role("tenderd")
    old_bin = str(old_tree / "build" / "tenderd")
    try:
        conftest.run([old_bin, "migrate", "--db", as_role(conftest.OWNER), "--sql_dir",
                      old_tree / "sql"])
        for name in NAMES:
            role, org, display = conftest.PARTICIPANTS[name]
            conftest.run([old_bin, "register", "--db", conninfo, "--sql_dir", old_tree / "sql",
                          "--role", role, "--organization", org, "--name", display,
                          "--cert", env.cert(name)])

        # the old server's day: a running auction with bids and a refusal, a cancelled one,
        # an RFQ with a question, offers, a revision and a withdrawal, a suspension
        old = OldTenderd(env, old_tree, conninfo)
        env.servers.append(old)
        old.start()
        buyer = old.connect("buyer")
        s = {n: old.connect(n) for n in ("supplier1", "supplier2", "supplier3")}
        a1 = create_auction(buyer, "Upgrade live " + unique, duration=120,
                            step_min="1000.00", step_max="20000.00")["id"]
        a2 = create_auction(buyer, "Upgrade cancelled " + unique, duration=120)["id"]
        s["supplier1"].ok("auction.bid", auction=a1, amount="995000.00")
        s["supplier2"].ok("auction.bid", auction=a1, amount="990000.00")
        assert s["supplier3"].error("auction.bid", auction=a1, amount="989999.00")["code"] \
            == "bid_step_too_small"
        buyer.ok("auction.cancel", auction=a2, reason="budget moved")
        p = pu.create(buyer, "rfq", "Upgrade RFQ " + unique, enquiry=1500, deadline=60000,
                      opening=60000)
        q = s["supplier1"].ok("question.ask", procurement=p["id"], text="Which paper?")
        buyer.ok("question.answer", procurement=p["id"],
                 question=q["question"], text="A4, 80 g")
        pu.wait_tendering(buyer, p)
        s["supplier1"].ok("quote.submit", procurement=p["id"], lot=1, price="900.00")
        s["supplier2"].ok("quote.submit", procurement=p["id"], lot=1, price="950.00")
        s["supplier2"].ok("quote.submit", procurement=p["id"], lot=1, price="940.00",
                          comment="revised")
        s["supplier3"].ok("quote.submit", procurement=p["id"], lot=1, price="930.00")
        s["supplier3"].ok("quote.withdraw", procurement=p["id"], lot=1)
        op = old.connect("operator")
        sup3 = int(psql_db(env, conninfo, "SELECT id FROM participants WHERE name = '%s'"
                           % conftest.PARTICIPANTS["supplier3"][2])[0][0])
        op.ok("participant.suspend", participant=sup3, reason="papers " + unique)
        op.ok("participant.reinstate", participant=sup3, reason="cleared")
        before = snapshot(old, (a1, a2), (p["id"],))
        old_rows = {t: int(psql_db(env, conninfo, "SELECT count(*) FROM %s" % t)[0][0])
                    for t in ("auction_log", "procurement_log", "participant_log")}
        old.close_clients()
        old.stop()

        # today's migration and today's tenderd
        conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER), "--sql_dir",
                                     conftest.SQL_DIR))
        server = tenderd_factory(db=conninfo)
        after = snapshot(server, (a1, a2), (p["id"],))
        for k in before:
            # an auction made before migration 015 requires signed bids from now on
            if k[0] == "a":
                assert after[k].pop("signed_bids") is True, after[k]
                # ... and is an english_reverse auction without extension limits (018)
                assert [after[k].pop(f) for f in ("format", "higher_wins", "max_extensions",
                        "latest_end")] == ["english_reverse", False, None, None], after[k]
                # ... with today's visibility, open to every supplier (020)
                assert [after[k].pop(f) for f in ("visibility", "invitation_only",
                        "min_bidders", "paused", "paused_at")] == \
                    ["rank_and_best", False, None, False, None], after[k]
                # ... and without a second-place tail (021)
                assert [after[k].pop(f) for f in ("tail", "tail_ends_at", "main_result")] == \
                    [0, None, None], after[k]
                assert after[k].pop("phase") == ("main" if after[k]["state"] in
                                                  ("scheduled", "running") else None), after[k]
                # ... whose bids were all placed by hand, with no proxy (024)
                assert after[k].pop("last_bid_auto") in (False, None), after[k]
                assert after[k].pop("proxies", []) == [], after[k]
                assert after[k].pop("your_proxy_floor", None) is None, after[k]
                # ... without an outage rule, not paused (026)
                assert [after[k].pop(f) for f in ("outage_share", "outage_window",
                        "outage_max_pause", "outage_min_bidders", "pause_reason",
                        "outage")] == [None] * 6, after[k]
            # seq, the log position of its last change, is new: read from the migrated log
            assert after[k].pop("seq") > 0 and "seq" not in before[k], after[k]
            assert after[k] == before[k], (k, after[k], before[k])

        seqs = [int(r[0]) for r in psql_db(env, conninfo, "SELECT seq FROM changes ORDER BY seq")]
        n = len(seqs)
        assert seqs == list(range(1, n + 1))
        assert n == sum(old_rows.values()) + len(NAMES), (n, old_rows)
        assert psql_db(env, as_role("auditor"), "SELECT * FROM audit.integrity") == []

        # new changes continue the sequence; a restart rebuilds from the log again
        r = server.connect("supplier3").ok("auction.bid", auction=a1, amount="985000.00")
        row = psql_db(env, conninfo, "SELECT seq, stream, kind, bid_id, body FROM changes "
                      "WHERE seq > %d ORDER BY seq" % n)
        assert [x[:3] for x in row] == [[str(n + 1), "auction", "bid_accepted"]], row
        assert int(row[0][3]) == r["bid"]["id"]
        assert json.loads(row[0][4])["amount"] == "985000.00"
        again = snapshot(server, (a1,), ())
        server.close_clients()
        server.kill9()
        server.start()
        assert snapshot(server, (a1,), ()) == again
    finally:
        env.drop_database(db)
