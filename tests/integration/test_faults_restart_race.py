"""kill -9 while a batch is still being executed by PostgreSQL, then an immediate restart.

When tenderd dies, the PostgreSQL session that was running its last batch does not die
with it: the batch (statements and Sync) is already in the server's hands, and it commits
once it gets to run. If the new tenderd loads the state before that commit, its books miss
a committed bid: the view differs from the database, and the next bid on that auction
takes a sequence number (and perhaps a bid id) that is already stored.

The test makes the window wide and deterministic: a psql session holds the row lock on
tenderd_state (every batch first updates it), so the batch waits inside PostgreSQL while
tenderd is killed and restarted; then the lock is released. Whatever tenderd does about
it (wait for or end its previous sessions before loading, or reload), afterwards its view
must equal the database, and bidding must go on normally."""
import time

import faultutil as fu
import tdclient


def test_restart_while_last_batch_still_commits(env, tenderd_factory, unique):
    server = tenderd_factory()
    auctions = fu.create_auctions(server, env, "Restart race " + unique, [{}])
    aid = auctions[0]["id"]
    with server.client("supplier1") as c:
        first = c.ok("auction.bid", auction=aid, amount="999900.00")["bid"]

    lock = fu.LockHolder(env, "SELECT last_batch FROM tenderd_state FOR UPDATE;")
    try:
        s2 = server.client("supplier2", timeout=5)
        s2.send("auction.bid", auction=aid, amount="999800.00")
        # the batch is in PostgreSQL's hands, waiting for the lock: no reply yet
        try:
            r = s2.read_msg(timeout=1.0)
            raise AssertionError("the bid was answered while its batch waited: %r" % r)
        except tdclient.Timeout:
            pass
        server.kill9()
        s2.close()
        server.start()
    finally:
        lock.commit()

    # the previous incarnation's batch has had every chance to finish by now
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = env.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'tenderd' "
                        "AND wait_event_type = 'Lock'")
        if rows == [["0"]]:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    stored = fu.db_bids(env, [aid])
    print("stored bids after the restart:", [(b["seq"], b["org"], b["amount"]) for b in stored])
    assert stored[0]["id"] == first["id"]

    # the database replays; tenderd's view equals it
    replayed = fu.replay_from_db(env, [aid])
    fu.check_views(server, env, [aid], replayed)

    # and bidding goes on: the next bid gets the next sequence number
    with server.client("supplier3") as c:
        best = min(b["amount"] for b in stored)
        r = c.request("auction.bid", auction=aid, amount=fu.money(best - 10000))
        assert r.get("ok") is True, "the first bid after the restart: %r" % r
        assert r["bid"]["seq"] == len(stored) + 1, (r, len(stored))
        assert r["bid"]["id"] > max(b["id"] for b in stored), r
    fu.cancel_auctions(server, [aid])
