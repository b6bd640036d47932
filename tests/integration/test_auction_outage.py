"""Outage pause over TLS with real client processes (docs/auction-rules.md, "Outage pause";
docs/protocol.md auction.create's outage fields): when more than outage_share of an auction's
connected bidders lose their connections within outage_window, it pauses by itself (a change
with reason outage, no actor); it resumes once they are back or after outage_max_pause, with
the paused time given back. A clean disconnect (TLS close_notify) is no loss."""
import signal
import ssl
import subprocess
import time

import conftest
import tdclient
from tdclient import create_auction, parse_time

SUPPLIERS = ["supplier1", "supplier2", "supplier3", "supplier4"]


def watch_proc(env, server, name, aid, out):
    """`tenderctl watch AID` as `name`: a real client process holding its connection."""
    cmd = [str(env.tenderctl_bin), "--cert", env.cert(name), "--key", env.key(name), "--ca",
           env.ca, "--server", "127.0.0.1:%d" % server.port, "--timeout", "10", "watch",
           str(aid)]
    f = open(out, "wb")
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=conftest.sanitizer_env())
    p.out_file = f
    p.out_path = out
    return p


def wait_output(p, text, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(p.out_path, "rb") as f:
            data = f.read().decode(errors="replace")
        if text in data:
            return data
        assert p.poll() is None, data
        time.sleep(0.1)
    raise AssertionError("%r not in the output of tenderctl watch:\n%s" % (text, data))


def stop_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.out_file.close()


def wait_event(c, pred, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ev = c.event(timeout=max(0.1, deadline - time.time()))
        if pred(ev):
            return ev
    raise AssertionError("no such event")


def clean_close(c):
    """Close with a TLS close_notify first (events still on their way may make the
    shutdown's read fail: the alert has been sent by then)."""
    try:
        c.sock.unwrap()
    except (ssl.SSLError, OSError):
        pass
    c.close()


def drain(c, quiet=0.5):
    """Read events until none comes for `quiet` seconds."""
    while True:
        try:
            c.event(timeout=quiet)
        except tdclient.Timeout:
            return


def wait_view(c, aid, pred, timeout=15):
    deadline = time.time() + timeout
    v = c.ok("auction.get", auction=aid)["auction"]
    while not pred(v) and time.time() < deadline:
        time.sleep(0.1)
        v = c.ok("auction.get", auction=aid)["auction"]
    assert pred(v), v
    return v


def metric(server, name):
    import urllib.request
    text = urllib.request.urlopen("http://%s/metrics" % server.metrics_addr(),
                                  timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no metric " + name)


def outage_auction(server, title, **fields):
    buyer = server.connect("buyer")
    req = dict(outage_share="50%", outage_window=10, outage_max_pause=120, duration=120,
               start_price="1000.00", step_min="1.00", step_max="500.00")
    req.update(fields)
    return buyer, create_auction(buyer, title, **req)


def bid_all(server, aid, names):
    """Each supplier bids through a connection of its own, closed cleanly afterwards."""
    for i, name in enumerate(names):
        c = server.client(name)
        c.ok("auction.bid", auction=aid, amount="%d.00" % (990 - 10 * i))
        clean_close(c)


def start_watchers(env, server, aid, names, tmp_path, tag):
    procs = [watch_proc(env, server, n, aid, tmp_path / ("%s-%s.out" % (tag, n))) for n in names]
    for p in procs:
        wait_output(p, "watching: ")
    time.sleep(0.3)  # each watch answered: the bidders are in
    return procs


def test_outage_pauses_and_resumes_when_bidders_return(env, server, unique, tmp_path):
    """4 suppliers bid and watch with tenderctl; 3 of the processes are killed (SIGKILL)
    within the window: the auction pauses (auction.update with pause_reason outage reaches the
    remaining watcher), bids are refused auction_paused; when they reconnect it resumes and
    ends_at moved by the pause's length; one change each, reason outage, no actor."""
    buyer, a = outage_auction(server, "Outage " + unique)
    aid = a["id"]
    assert (a["outage_share"], a["outage_window"], a["outage_max_pause"],
            a["outage_min_bidders"], a["pause_reason"], a["outage"]) == (50, 10, 120, 2, None,
                                                                         None), a
    procs = start_watchers(env, server, aid, SUPPLIERS, tmp_path, "a")
    try:
        bid_all(server, aid, SUPPLIERS)
        s4 = server.connect("supplier4")
        s4.ok("auction.watch", auction=aid)
        ends_before = parse_time(s4.ok("auction.get", auction=aid)["auction"]["ends_at"])
        for p in procs[:3]:
            p.kill()
        ev = wait_event(s4, lambda e: e.get("event") == "auction.update" and
                        e["auction"]["paused"])
        v = ev["auction"]
        assert ev["reason"] == "paused", ev
        assert v["pause_reason"] == "outage" and v["state"] == "running", v
        assert v["outage"]["lost"] == 3 and v["outage"]["bidders"] == 4, v
        paused_at = parse_time(v["paused_at"])
        assert parse_time(v["outage"]["resumes_by"]) == paused_at + 120000, v
        r = s4.request("auction.bid", auction=aid, amount="900.00")
        assert r["error"]["code"] == "auction_paused", r
        assert "connection outage (3 of 4 bidders lost)" in r["error"]["message"], r
        # the remaining tenderctl watch shows it in its live view, tenderctl auction get too
        wait_output(procs[3], "paused: connection outage (3 bidders lost), time given back")
        g = env.tenderctl("buyer", "auction", "get", str(aid), server=server)
        assert "paused        connection outage (3 bidders lost), time given back" in g.stdout, \
            g.stdout
        assert metric(server, "tenderd_outage_pauses_total") == 1
        time.sleep(1.0)
        back = start_watchers(env, server, aid, SUPPLIERS[:3], tmp_path, "b")
        procs += back
        ev = wait_event(s4, lambda e: e.get("event") == "auction.update" and
                        e.get("reason") == "resumed")
        v = ev["auction"]
        assert v["paused"] is False and v["pause_reason"] is None and v["outage"] is None, v
        rows = env.psql("SELECT kind, reason, participant_id IS NULL, amount FROM changes"
                        " WHERE auction_id = %d AND kind IN ('paused', 'resumed')"
                        " ORDER BY seq" % aid)
        assert [r[:3] for r in rows] == [["paused", "outage", "t"], ["resumed", "outage", "t"]], rows
        pause_ms = int(rows[1][3])
        assert pause_ms >= 1000
        assert parse_time(v["ends_at"]) == ends_before + pause_ms, (v, ends_before, pause_ms)
        s1 = server.connect("supplier1")
        s1.ok("auction.bid", auction=aid, amount="950.00")  # bids are taken again
        body = env.psql("SELECT body FROM changes WHERE auction_id = %d AND kind = 'paused'"
                        % aid)[0][0]
        assert '"reason":"outage"' in body and '"lost":3' in body and '"bidders":4' in body, body
    finally:
        stop_all(procs)
    buyer.ok("auction.cancel", auction=aid, reason="test over")


def test_clean_disconnect_is_no_outage(env, server, unique):
    """Three of four bidders close their connections with a TLS close_notify: no pause."""
    buyer, a = outage_auction(server, "Clean " + unique)
    aid = a["id"]
    cs = []
    for i, name in enumerate(SUPPLIERS):
        c = server.client(name)
        c.ok("auction.watch", auction=aid)
        c.ok("auction.bid", auction=aid, amount="%d.00" % (990 - 10 * i))
        cs.append(c)
    drain(cs[3])  # the bids' updates
    for c in cs[:3]:
        clean_close(c)
    cs[3].no_event(within=1.5)
    v = cs[3].ok("auction.get", auction=aid)["auction"]
    assert v["paused"] is False, v
    cs[3].close()
    buyer.ok("auction.cancel", auction=aid, reason="test over")


def test_tenderctl_watch_stopped_with_ctrl_c_is_no_outage(env, server, unique, tmp_path):
    """tenderctl watch stopped with SIGINT (Ctrl-C) or SIGTERM closes its connection cleanly
    (close_notify): three of four such stops are no outage."""
    buyer, a = outage_auction(server, "Ctrl-C " + unique)
    aid = a["id"]
    procs = start_watchers(env, server, aid, SUPPLIERS, tmp_path, "c")
    try:
        bid_all(server, aid, SUPPLIERS)
        s4 = server.connect("supplier4")
        s4.ok("auction.watch", auction=aid)
        drain(s4)
        mark = len(server.log_text())
        procs[0].send_signal(signal.SIGINT)
        procs[1].send_signal(signal.SIGINT)
        procs[2].send_signal(signal.SIGTERM)
        for p in procs[:3]:
            assert p.wait(10) == 0
        s4.no_event(within=1.5)
        assert s4.ok("auction.get", auction=aid)["auction"]["paused"] is False
        closes = [l for l in server.log_text()[mark:].splitlines() if " close: " in l]
        assert len(closes) == 3 and all("closed by peer\"" in l for l in closes), closes
    finally:
        stop_all(procs)
    buyer.ok("auction.cancel", auction=aid, reason="test over")


def test_losses_outside_the_window_and_below_the_share(env, server, unique):
    """Two of four lost (50%, not more than 50%): no pause; a third lost after the window:
    still none (the first two are out of it)."""
    buyer, a = outage_auction(server, "Window " + unique, outage_window=1)
    aid = a["id"]
    cs = [server.client(n) for n in SUPPLIERS]
    for c in cs:
        c.ok("auction.watch", auction=aid)
    cs[0].close()  # without close_notify: lost
    cs[1].close()
    time.sleep(1.5)
    cs[2].close()
    cs[3].no_event(within=1.0)
    assert cs[3].ok("auction.get", auction=aid)["auction"]["paused"] is False
    cs[3].close()
    buyer.ok("auction.cancel", auction=aid, reason="test over")


def test_max_pause_resumes_and_operator_may_resume(env, server, unique, tmp_path):
    """The lost bidders never come back: the auction resumes after outage_max_pause, the end
    moved by the pause. An operator may resume an outage pause before that."""
    buyer, a = outage_auction(server, "Max pause " + unique, outage_max_pause=2)
    aid = a["id"]
    s4 = server.connect("supplier4")
    s4.ok("auction.watch", auction=aid)
    cs = [server.client(n) for n in SUPPLIERS[:3]]
    for c in cs:
        c.ok("auction.watch", auction=aid)
    ends = parse_time(a["ends_at"])
    for c in cs:
        c.close()
    ev = wait_event(s4, lambda e: e.get("event") == "auction.update" and e["auction"]["paused"])
    assert ev["auction"]["outage"]["lost"] == 3, ev
    ev = wait_event(s4, lambda e: e.get("event") == "auction.update" and
                    e.get("reason") == "resumed", timeout=6)
    v = ev["auction"]
    rows = env.psql("SELECT amount, body FROM changes WHERE auction_id = %d AND kind = 'resumed'"
                    % aid)
    assert int(rows[0][0]) >= 2000 and '"outage":"max_pause"' in rows[0][1], rows
    assert parse_time(v["ends_at"]) == ends + int(rows[0][0])

    # an operator resumes an outage pause at once
    buyer2, b = outage_auction(server, "Op resume " + unique)
    s4.ok("auction.watch", auction=b["id"])
    cs = [server.client(n) for n in SUPPLIERS[:3]]
    for c in cs:
        c.ok("auction.watch", auction=b["id"])
    for c in cs:
        c.close()
    wait_view(s4, b["id"], lambda v: v["paused"] and v["pause_reason"] == "outage")
    op = server.connect("operator")
    v = op.ok("auction.resume", auction=b["id"], reason="outage handled")["auction"]
    assert v["paused"] is False, v
    buyer.ok("auction.cancel", auction=aid, reason="test over")
    buyer2.ok("auction.cancel", auction=b["id"], reason="test over")


def test_bad_outage_fields(server, unique):
    buyer = server.connect("buyer")
    base = {"title": "Bad outage " + unique, "currency": "RUB", "start_price": "1000.00"}
    for extra, field, msg in [
        ({"outage_share": "150%"}, "outage_share",
         'outage_share must be a percent from 0 to 100 ("50%" or 50; 0: no outage pause)'),
        ({"outage_share": "half"}, "outage_share", None),
        ({"outage_share": 50, "outage_window": 0}, "outage_window",
         "outage_window must be between 1 and 600 seconds"),
        ({"outage_share": 50, "outage_max_pause": 100000}, "outage_max_pause",
         "outage_max_pause must be between 1 and 86400 seconds"),
        ({"outage_share": 50, "outage_min_bidders": 0}, "outage_min_bidders",
         "outage_min_bidders must be between 1 and 1000"),
        ({"outage_window": 5}, "outage_window", "outage_window applies only with outage_share"),
        ({"outage_share": 50, "format": "dutch_reverse", "clock_step": "10.00",
          "clock_interval": 1000, "clock_limit": "2000.00"}, "outage_share",
         "outage_share does not apply to the clock formats: a clock auction is never paused"),
    ]:
        r = buyer.request("auction.create", **dict(base, **extra))
        assert r["error"]["code"] == "bad_field" and r["error"]["field"] == field, (extra, r)
        if msg:
            assert r["error"]["message"] == msg, r
    a = create_auction(buyer, "No outage " + unique, outage_share=0)
    assert a["outage_share"] is None and a["outage_window"] is None, a
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")


def test_outage_pause_survives_kill9_and_verifies(env, tenderd_factory, unique, tmp_path):
    """kill -9 while outage-paused: the auction comes back paused (reason outage), its max pause
    still ends it, and tenderd verify replays the pause and resume."""
    from test_verify import verify

    db = "tdoutage_restart"
    env.drop_database(db)
    as_role = env.new_database(db)
    try:
        conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER), "--sql_dir",
                                     conftest.SQL_DIR), env=conftest.sanitizer_env())
        for name in ["operator", "buyer"] + SUPPLIERS:
            role, org, display = conftest.PARTICIPANTS[name]
            conftest.run(env.tenderd_cmd("register", "--db", as_role("tenderd"), "--role", role,
                                         "--organization", org, "--name", display, "--cert",
                                         env.cert(name)), env=conftest.sanitizer_env())
        server = tenderd_factory(db=as_role("tenderd"))
        buyer, a = outage_auction(server, "Restart " + unique, outage_max_pause=8, duration=30)
        aid = a["id"]
        s4 = server.connect("supplier4")
        s4.ok("auction.watch", auction=aid)
        cs = [server.client(n) for n in SUPPLIERS[:3]]
        for i, c in enumerate(cs):
            c.ok("auction.watch", auction=aid)
            c.ok("auction.bid", auction=aid, amount="%d.00" % (990 - 10 * i))
        for c in cs:
            c.close()
        v = wait_view(s4, aid, lambda v: v["paused"])
        paused_at = parse_time(v["paused_at"])
        server.close_clients()
        server.kill9()
        server.start()
        op = server.connect("operator")
        v = op.ok("auction.get", auction=aid)["auction"]
        assert v["paused"] is True and v["pause_reason"] == "outage", v
        assert parse_time(v["paused_at"]) == paused_at
        assert v["outage"]["lost"] is None
        assert parse_time(v["outage"]["resumes_by"]) == paused_at + 8000, v
        v = wait_view(op, aid, lambda v: not v["paused"], timeout=15)
        assert tdclient.now_ms() >= paused_at + 8000 - 500
        op.ok("auction.cancel", auction=aid, reason="test over")
        server.close_clients()
        server.stop()
        rc, out = verify(env, db)
        assert rc == 0, out
    finally:
        env.drop_database(db)
