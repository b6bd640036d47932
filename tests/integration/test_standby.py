"""A second tenderd on the same database waits as a standby (docs/operations.md, "Standby
and takeover"): it answers hello with the primary's address and every other operation with
error `standby`, holds its connections open, and takes over when the primary goes (kill -9,
SIGTERM, or the loss of its role session), with every acknowledged bid."""
import re
import subprocess
import threading
import time

import faultutil as fu
import procutil as pu
import tdclient
from conftest import PSQL

PRIMARY_LOCK = 7443003


def start_standby(factory, **settings):
    """A tenderd with standby on, started while another is the primary; returns once it
    answers hello as a standby."""
    s = factory(start=False, standby="on", **settings)
    s.start(ready=False)
    wait_role(s, "standby")
    return s


def wait_role(server, role, timeout=30):
    """Poll hello until `server` says it is `role`; returns hello's "server"."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError("tenderd exited with %d:\n%s" % (server.proc.returncode,
                                                                 server.log_tail()))
        try:
            with server.client("operator", timeout=5) as c:
                r = c.request("hello", timeout=5)
                last = r
                if r.get("ok") and r["server"]["role"] == role:
                    return r["server"]
        except (OSError, tdclient.Closed, tdclient.Timeout) as e:
            last = e
        time.sleep(0.05)
    raise AssertionError("not %s after %d s (last %r):\n%s" % (role, timeout, last,
                                                               server.log_tail()))


def wait_log(server, pattern, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, server.log_text())
        if m:
            return m
        time.sleep(0.05)
    raise AssertionError("no %r in the log within %d s:\n%s" % (pattern, timeout,
                                                                server.log_tail()))


def addr(server):
    return "127.0.0.1:%d" % server.port


def bid_below(c, aid, step):
    """A lead-taking bid on `aid` over connection `c`; returns the reply."""
    v = c.ok("auction.get", auction=aid)["auction"]
    best = fu.minor(v["best_price"]) if v["best_price"] else fu.minor(v["start_price"])
    return c.request("auction.bid", auction=aid, amount=fu.money(best - step))


def test_standby_answers_with_the_primary(env, tenderd_factory):
    primary = tenderd_factory(standby="on")
    standby = start_standby(tenderd_factory, advertise="standby.example:7443")
    with standby.client("supplier1") as c:
        h = c.ok("hello")
        assert h["server"] == {"role": "standby", "primary": addr(primary)}, h
        assert h["participant"]["role"] == "supplier"
        for op, fields in [("auction.list", {}), ("auction.get", {"auction": 1}),
                           ("auction.bid", {"auction": 1, "amount": "1.00"}),
                           ("no.such.op", {})]:
            r = c.request(op, **fields)
            assert r == {"id": r["id"], "ok": False, "error": {
                "code": "standby", "primary": addr(primary),
                "message": "this tenderd is a standby; the primary is at %s" % addr(primary)}}, r
    with primary.client("supplier1") as c:
        assert c.ok("hello")["server"] == {"role": "primary", "primary": addr(primary)}
    # the address is published where a standby reads it
    assert env.psql("SELECT advertise FROM tenderd_primary") == [[addr(primary)]]
    # an unregistered certificate is refused by a standby as by the primary
    env.make_cert("stranger-standby")
    with tdclient.Client(standby.port, env.ca, env.cert("stranger-standby"),
                         env.key("stranger-standby")) as c:
        msg = c.read_msg(timeout=10)
        assert msg["error"]["code"] == "unregistered_certificate", msg


def test_second_tenderd_with_standby_off_still_exits(env, tenderd_factory):
    primary = tenderd_factory()
    second = tenderd_factory(start=False)
    second.start(ready=False)
    assert second.proc.wait(30) == 1
    assert "another tenderd is running" in second.log_text(), second.log_tail()
    with primary.client("operator") as c:
        assert c.ok("hello")["server"]["role"] == "primary"


def test_kill9_of_the_primary_during_bidding(env, tenderd_factory, unique):
    primary = tenderd_factory(standby="on")
    standby = start_standby(tenderd_factory)
    auctions = fu.create_auctions(primary, env, "Standby kill -9 " + unique, [{}, {}])
    aids = [a["id"] for a in auctions]
    ledger = fu.Ledger([fu.AuctionInfo(a) for a in auctions])
    # connections held open to the standby, served once it has taken over
    held = standby.connect("supplier3")
    assert held.error("auction.get", auction=aids[0])["code"] == "standby"
    held_watch = standby.connect("buyer")
    stop = threading.Event()
    bidders = fu.start_bidders(primary, env, ledger, stop, ["supplier1", "supplier2"],
                               per_name=2, window=4, probe_when_leading=True)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(ledger.acked()) < 200:
            time.sleep(0.05)
        primary.kill9()
        killed = time.monotonic()
        fu.join_all(bidders, timeout=20)
    finally:
        stop.set()
    assert len(ledger.acked()) >= 100, fu.summary(ledger)
    wait_role(standby, "primary", timeout=30)
    took = time.monotonic() - killed
    m = wait_log(standby, r"takeover: serving as the primary on \S+, (\d+) ms after")
    print("takeover %.2f s after the kill (%s ms after the lock)" % (took, m.group(1)))
    assert took < 10, took
    fu.check_against_db(env, ledger, aids, exact=False)
    # the held connections are served now: a bid, and a read
    r = bid_below(held, aids[0], 100)
    assert r["ok"], r
    assert held_watch.ok("auction.get", auction=aids[1])["auction"]["id"] == aids[1]
    assert held.ok("hello")["server"] == {"role": "primary", "primary": addr(standby)}
    assert env.psql("SELECT advertise FROM tenderd_primary") == [[addr(standby)]]
    replayed = fu.replay_from_db(env, aids)
    fu.check_views(standby, env, aids, replayed)
    # the old primary, restarted, is a standby of the new one
    primary.start(ready=False)
    assert wait_role(primary, "standby") == {"role": "standby", "primary": addr(standby)}
    fu.cancel_auctions(standby, aids)


def test_sigterm_of_the_primary_hands_over(env, tenderd_factory, unique):
    primary = tenderd_factory(standby="on")
    standby = start_standby(tenderd_factory)
    aid = fu.create_auctions(primary, env, "Standby SIGTERM " + unique, [{}])[0]["id"]
    held = standby.connect("supplier2")
    with primary.client("supplier1") as c:
        first = bid_below(c, aid, 100)
        assert first["ok"], first
    t0 = time.monotonic()
    assert primary.stop() == 0
    wait_role(standby, "primary", timeout=20)
    took = time.monotonic() - t0
    assert took < 5, took
    r = bid_below(held, aid, 100)
    assert r["ok"] and r["bid"]["seq"] == 2, r
    assert r["bid"]["id"] > first["bid"]["id"], (first, r)
    fu.cancel_auctions(standby, [aid])


def test_primary_that_loses_its_lock_steps_down(env, tenderd_factory, unique):
    primary = tenderd_factory(standby="on")
    standby = start_standby(tenderd_factory)
    aid = fu.create_auctions(primary, env, "Standby fencing " + unique, [{}])[0]["id"]
    # a session queued for the primary lock gets it as soon as the primary's role session
    # ends, before the primary can take it again
    grab = subprocess.Popen(
        [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", env.conninfo_for("tenderd")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        grab.stdin.write("SELECT pg_advisory_lock(%d);\n\\echo locked\n" % PRIMARY_LOCK)
        grab.stdin.flush()
        time.sleep(0.5)
        role_pid = env.psql("SELECT backend_pid FROM tenderd_primary")[0][0]
        env.psql("SELECT pg_terminate_backend(%s)" % role_pid, user="postgres")
        # (pg_advisory_lock's empty result, then the echo)
        out = [grab.stdout.readline(), grab.stdout.readline()]
        assert out[1] == "locked\n", out
        # the primary steps down: it stops (exit 1) rather than serve on
        assert primary.proc.wait(20) == 1, primary.log_tail()
        assert "stepping down" in primary.log_text(), primary.log_tail()
        assert standby.proc.poll() is None
        with standby.client("supplier1") as c:
            assert c.error("auction.get", auction=aid)["code"] == "standby"
    finally:
        grab.stdin.close()
        grab.wait(10)
    # the lock released, the standby takes over with the primary's state
    wait_role(standby, "primary", timeout=20)
    with standby.client("supplier1") as c:
        assert bid_below(c, aid, 100)["ok"]
    fu.cancel_auctions(standby, [aid])


def views(server, aids, pids):
    """What the buyer and two suppliers see of the auctions and procedures."""
    out = {}
    for n in ("buyer", "supplier1", "supplier2"):
        with server.client(n) as c:
            for aid in aids:
                v = dict(c.ok("auction.get", auction=aid)["auction"])
                v.pop("server_time", None)
                out["a", aid, n] = v
            for pid in pids:
                v = dict(pu.get(c, pid))
                v.pop("server_time", None)
                out["p", pid, n] = v
    return out


def test_warm_standby_replays_what_changed_while_it_waited(env, tenderd_factory, unique):
    """The standby rebuilds the state when it starts; at the takeover it replays only the
    changes made since, onto auctions and procedures it has and onto new ones."""
    primary = tenderd_factory(standby="on")
    old_a, cancelled = [a["id"] for a in fu.create_auctions(
        primary, env, "Warm before " + unique, [{}, {}])]
    with primary.client("buyer") as b:
        old_p = pu.create(b, "rfq", "Warm before " + unique, enquiry=600000, deadline=900000,
                          opening=900000)
    with primary.client("supplier1") as c:
        assert bid_below(c, old_a, 100)["ok"]
    standby = start_standby(tenderd_factory)
    assert "state rebuilt" in standby.log_text(), standby.log_tail()
    # after the standby has loaded the state: more bids, a cancellation, new procedures
    new_a = fu.create_auctions(primary, env, "Warm after " + unique, [{}])[0]["id"]
    with primary.client("buyer") as b:
        b.ok("auction.cancel", auction=cancelled, reason="Specification error")
        new_p = pu.create(b, "rfq", "Warm after " + unique, enquiry=600000, deadline=900000,
                          opening=900000)
        q = b.request("procurement.get", procurement=old_p["id"])
        assert q["ok"], q
    with primary.client("supplier2") as c:
        assert bid_below(c, old_a, 100)["ok"]
        assert bid_below(c, new_a, 100)["ok"]
        c.ok("question.ask", procurement=old_p["id"], text="Delivery by rail?")
        c.ok("question.ask", procurement=new_p["id"], text="Recycled?")
    # the standby catches up while it waits (every 5 s); then one more bid for the takeover
    wait_log(standby, r"state caught up: .* changes=[1-9]", timeout=20)
    with primary.client("supplier1") as c:
        assert bid_below(c, new_a, 100)["ok"]
    aids, pids = [old_a, cancelled, new_a], [old_p["id"], new_p["id"]]
    before = views(primary, aids, pids)
    assert primary.stop() == 0
    wait_role(standby, "primary", timeout=20)
    # replayed at the takeover (or, some of them, by a catch-up while it waited)
    caught = re.findall(r"state caught up: .* changes=(\d+) ", standby.log_text())
    assert sum(map(int, caught)) >= 10 and len(caught) >= 2, caught
    after = views(standby, aids, pids)
    for k in before:
        assert after[k] == before[k], (k, before[k], after[k])
    assert after["a", cancelled, "buyer"]["state"] == "cancelled"
    fu.check_views(standby, env, [old_a, new_a], fu.replay_from_db(env, [old_a, new_a]))
    fu.cancel_auctions(standby, [old_a, new_a])


def test_readyz_and_metrics_of_a_standby(env, tenderd_factory):
    """A standby is alive but not ready (it refuses writes): /healthz 200, /readyz 503 naming
    the standby, tenderd_standby 1; once it has taken over, /readyz 200 and tenderd_standby 0."""
    from test_metrics import get, scrape, val
    primary = tenderd_factory(standby="on")
    standby = start_standby(tenderd_factory)
    assert get(standby, "/healthz")[0] == 200
    status, _, body = get(standby, "/readyz")
    assert (status, body) == (503, "not ready: standby (waiting for the primary lock)\n"), body
    assert val(scrape(standby), "tenderd_standby") == 1
    assert val(scrape(primary), "tenderd_standby") == 0
    assert get(primary, "/readyz")[:3:2] == (200, "ready\n")
    assert primary.stop() == 0
    wait_role(standby, "primary", timeout=30)
    deadline = time.monotonic() + 20
    while get(standby, "/readyz")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert get(standby, "/readyz")[:3:2] == (200, "ready\n")
    assert val(scrape(standby), "tenderd_standby") == 0
