"""PostgreSQL goes away under a running tenderd and comes back: changes are refused with
`unavailable` (nothing half-done), connections stay up, reads still work, and bidding
resumes by itself. Every acknowledged bid is in the database, no refused one is.

This stops the session's PostgreSQL cluster; it is started again (same port) before the
test ends, whatever happens."""
import threading
import time

from tdclient import create_auction


def amounts_in_db(env, aid):
    rows = env.psql("SELECT amount FROM audit.bids WHERE auction_id = %d ORDER BY seq" % aid,
                    user="auditor")
    return [r[0] for r in rows]


def test_db_outage(env, tenderd_factory, unique):
    # one update per committed bid (no pacing): the watcher must see exactly the accepted ones
    server = tenderd_factory(db_retry=1, update_interval=0)
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Outage " + unique, duration=120, step_min="100.00",
                       step_max="50000.00")
    aid = a["id"]
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    watcher = server.connect("supplier4")
    watcher.ok("auction.watch", auction=aid)
    acked, refused = [], []

    def bid(c, amount, timeout=15):
        r = c.request("auction.bid", auction=aid, amount=amount, timeout=timeout)
        (acked if r["ok"] else refused).append(amount)
        return r

    assert bid(s1, "995000.00")["ok"]
    assert bid(s2, "990000.00")["ok"]
    assert amounts_in_db(env, aid) == ["995000.00", "990000.00"]
    for _ in range(2):
        assert watcher.event(timeout=10)["event"] == "auction.update"

    env.pg_stop()
    try:
        assert not env.pg_running()
        # changes are refused, promptly, with `unavailable`; nothing else is said
        for c, amount in ((s1, "989000.00"), (s1, "988000.00"), (s2, "987000.00")):
            r = bid(c, amount, timeout=15)
            assert r["ok"] is False and r["error"]["code"] == "unavailable", r
        e = buyer.error("auction.create", title="During outage " + unique, currency="RUB",
                        start_price="1000.00", duration=60)
        assert e["code"] == "unavailable", e
        e = buyer.error("auction.cancel", auction=aid, reason="during outage")
        assert e["code"] == "unavailable", e
        # the connections stay open and reads are served from memory
        for c in (s1, s2, buyer, watcher):
            assert c.ok("hello")["ok"]
        v = s1.ok("auction.get", auction=aid)["auction"]
        assert (v["state"], v["bids"], v["best_price"], v["your_rank"]) == \
            ("running", 2, "990000.00", 2)
        assert watcher.pending_events() == []
        # new connections are accepted too
        with server.client("supplier3") as c3:
            assert c3.ok("hello")["ok"]
    finally:
        env.pg_start()

    # bidding resumes by itself within a bounded time
    deadline = time.monotonic() + 30
    step = 0
    while True:
        amount = "%d.00" % (986000 - 100 * step)
        step += 1
        r = bid(s1, amount)
        if r["ok"]:
            break
        assert r["error"]["code"] == "unavailable", r
        assert time.monotonic() < deadline, "no bid accepted 30 s after PostgreSQL came back"
        time.sleep(0.2)
    assert r["bid"]["seq"] == 3 and r["rank"] == 1, r
    assert bid(s2, "980000.00")["ok"]
    assert buyer.ok("auction.get", auction=aid)["auction"]["bids"] == 4

    # the watcher saw exactly the accepted bids
    evs = [watcher.event(timeout=10) for _ in range(2)]
    assert [e["auction"]["bids"] for e in evs] == [3, 4]
    assert [e["auction"]["best_price"] for e in evs] == [acked[2], acked[3]]

    # every acknowledged bid, in order, and no refused one
    assert amounts_in_db(env, aid) == acked
    assert not set(refused) & set(amounts_in_db(env, aid))
    rows = env.psql("SELECT count(*) FROM auction_log WHERE auction_id = %d "
                    "AND kind = 'bid_accepted'" % aid)
    assert rows == [[str(len(acked))]]
    rows = env.psql("SELECT count(*) FROM auctions WHERE title = 'During outage %s'" % unique)
    assert rows == [["0"]]
    buyer.ok("auction.cancel", auction=aid, reason="test over")


def test_db_crash_under_load(env, tenderd_factory, unique):
    """PostgreSQL is killed (no shutdown) while bids stream in, so a batch is in flight or
    in doubt. Every bid gets an answer, `unavailable` or ok; afterwards the database holds
    exactly the acknowledged bids and tenderd's view agrees with it."""
    server = tenderd_factory(db_retry=1)
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Crash " + unique, duration=120, step_max="50000.00")
    aid = a["id"]
    assert server.connect("supplier1").ok("auction.bid", auction=aid,
                                          amount="950000.00")["ok"]
    stop = threading.Event()
    results = {"supplier2": [], "supplier3": []}
    errors = []

    hard_deadline = time.monotonic() + 60

    def stream(name, base):
        # prices only go down and stay above the best: valid whatever else is accepted
        try:
            with server.client(name, timeout=30) as c:
                k = 0
                while not stop.is_set() or not any(ok for _, ok, _ in results[name][-1:]):
                    if time.monotonic() > hard_deadline:
                        errors.append("%s: still no accepted bid after 60 s" % name)
                        return
                    amount = "%d.00" % (base - k)
                    k += 1
                    r = c.request("auction.bid", auction=aid, amount=amount, timeout=30)
                    code = None if r["ok"] else r["error"]["code"]
                    results[name].append((amount, r["ok"], code))
                    if code == "unavailable":
                        time.sleep(0.05)
        except Exception as e:  # reported by the main thread
            errors.append("%s: %r" % (name, e))

    threads = [threading.Thread(target=stream, args=("supplier2", 999000), daemon=True),
               threading.Thread(target=stream, args=("supplier3", 998000), daemon=True)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        env.pg_kill()
        time.sleep(1.0)
    finally:
        env.pg_start()
    # let both streams get bids through again, then stop them
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not errors:
        if all(sum(1 for _, ok, _ in r[-3:] if ok) == 3 for r in results.values()):
            break
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(40)
        assert not t.is_alive(), "a bid got no answer"
    assert not errors, errors

    for name, rs in results.items():
        codes = {code for _, ok, code in rs if not ok}
        assert codes <= {"unavailable"}, (name, codes)
        assert rs[-1][1], "%s: the last bid was not accepted" % name
    db = env.psql("SELECT organization, amount FROM audit.bids WHERE auction_id = %d "
                  "ORDER BY seq" % aid, user="auditor")
    for name, rs in results.items():
        in_db = [amt for org, amt in db if org == env.org(name)]
        acked = [amt for amt, ok, _ in rs if ok]
        assert in_db == acked, "%s: acknowledged %d bids, the database has %d" % (
            name, len(acked), len(in_db))
    v = buyer.ok("auction.get", auction=aid)["auction"]
    assert v["bids"] == len(db), (v["bids"], len(db))
    assert [e["price"] for e in v["ranking"]][1:] == sorted(
        [results["supplier3"][-1][0], results["supplier2"][-1][0]])
    seqs = env.psql("SELECT seq FROM bids WHERE auction_id = %d ORDER BY seq" % aid)
    assert [int(r[0]) for r in seqs] == list(range(1, len(db) + 1))
    buyer.ok("auction.cancel", auction=aid, reason="test over")
