"""A request that arrives after a deadline, but before tenderd's timer for that deadline has
run (it runs at the deadline's next millisecond), moves the procedure along the clock on its
way to being refused. That move is a change like any other: logged once and told to watchers,
not lost with the refusal.

Requests are sent every 0.2 ms across each opening, so that some are read in that window."""
import time

import tdclient
from tdclient import parse_time

import procutil as pu


def flood_across(client, other, p, seconds=0.03):
    """Send quote.submit requests from `client` across p's opening; their error codes."""
    opening = parse_time(p["opening_at"])
    now, local = tdclient.server_now(other)
    left = (opening - now) / 1000.0 - (tdclient.now_ms() - local) / 1000.0
    assert left > 0.05, "too slow to reach the opening (%.3f s left)" % left
    time.sleep(left - seconds / 3)
    ids = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ids.append(client.send("quote.submit", procurement=p["id"], lot=1, price="850.00"))
        time.sleep(0.0002)
    return [client.reply(i).get("error", {}).get("code", "ok") for i in ids]


def test_requests_refused_across_the_opening_leave_it_logged_once(env, tenderd_factory,
                                                                   unique):
    server = tenderd_factory()
    buyer = server.connect("buyer")
    watcher = server.connect("buyer")
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    procs = [pu.create(buyer, "rfq", "Clock %d %s" % (i, unique), deadline=d, opening=d)
             for i, d in enumerate((4000, 4400, 4800))]
    for p in procs:
        watcher.ok("procurement.watch", procurement=p["id"])
    for p in procs:
        pu.wait_tendering(buyer, p)
        s1.ok("quote.submit", procurement=p["id"], lot=1, price="900.00")

    for p in procs:
        codes = flood_across(s2, buyer, p)
        assert set(codes) <= {"ok", "deadline_passed"}, codes
        assert "deadline_passed" in codes, codes
    for p in procs:
        pu.wait_update(watcher, p["id"], "opened", timeout=5)
        kinds = [k for (k,) in env.psql("SELECT kind FROM procurement_log WHERE "
                                        "procurement_id = %d ORDER BY id" % p["id"])]
        assert kinds.count("opened") == 1, (p["id"], kinds)
        assert pu.get(buyer, p["id"])["state"] == "opened"
    # and the openings are there after a restart
    server.close_clients()
    server.kill9()
    server.start()
    buyer = server.connect("buyer")
    assert [pu.get(buyer, p["id"])["state"] for p in procs] == ["opened"] * 3
