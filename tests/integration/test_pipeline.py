"""Several write batches in flight on the one pipeline (max_batches_in_flight).

A slow change (a trigger on `changes` that sleeps on one reason) holds batch k in
PostgreSQL while later batches are sent behind it. When k fails, the later
batches must not commit on top of it: they are rolled back in memory, their
commands refused as a failed batch's are, nothing of theirs is stored and the
sequence stays gapless. When the connection is lost with several batches in
flight, every one of them is in doubt and resolved through tenderd_state.
"""
import re
import time

from tdclient import create_auction

OWNER = "tenderd_owner"
SUPERUSER = "postgres"


def all_seqs(env):
    return [int(r[0]) for r in env.psql("SELECT seq FROM changes ORDER BY seq")]


def assert_gapless(env):
    seqs = all_seqs(env)
    assert seqs == list(range(1, len(seqs) + 1)), seqs[-20:]


def add_trigger(env, reason, body):
    """A trigger on `changes` that runs `body` for a change with this reason."""
    env.psql("CREATE FUNCTION pipe_%s() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN %s "
             "RETURN NEW; END $$; "
             "CREATE TRIGGER pipe_%s BEFORE INSERT ON changes FOR EACH ROW "
             "WHEN (NEW.reason = '%s') EXECUTE FUNCTION pipe_%s()"
             % (reason, body, reason, reason, reason), user=OWNER)


def drop_trigger(env, reason):
    env.psql("DROP TRIGGER pipe_%s ON changes; DROP FUNCTION pipe_%s()" % (reason, reason),
             user=OWNER)


def suppliers(server, n):
    """n supplier connections, made before the slow batch so that no handshake on a loaded
    machine delays a bid past the batch it is meant to follow."""
    return [server.connect("supplier%d" % (i % 3 + 1)) for i in range(n)]


def bids_behind(conns, auction_id, amounts, gap=0.15):
    """Each bid on its own connection, `gap` apart, so each usually forms its own batch."""
    sent = []
    for c, amount in zip(conns, amounts):
        sent.append((c, c.send("auction.bid", auction=auction_id, amount=amount)))
        time.sleep(gap)
    return sent


def rolled_back_batches(server, why):
    """How many batches the log says were rolled back for `why`: the failed one and every
    one behind it (requests 0.15 s apart usually form a batch each, two may share one on a
    loaded machine, and a signed tree head due meanwhile is a batch of its own)."""
    found = re.findall(re.escape(why) + r"\): (\d+) batches", server.log_text())
    assert found, server.log_tail()
    return int(found[-1])


def stored_bids(env, auction_id):
    return env.psql("SELECT count(*) FROM bids WHERE auction_id = %d" % auction_id)[0][0], \
        env.psql("SELECT count(*) FROM changes WHERE auction_id = %d AND kind = 'bid_accepted'"
                 % auction_id)[0][0]


def test_a_failed_batch_rolls_back_the_batches_behind_it(env, tenderd_factory, unique):
    server = tenderd_factory(max_batches_in_flight=4)
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Pipe fail A " + unique, step_min="100.00", step_max="50000.00",
                       signed_bids=False)
    b = create_auction(buyer, "Pipe fail B " + unique, step_min="100.00", step_max="50000.00",
                       signed_bids=False)
    conns = suppliers(server, 3)
    add_trigger(env, "boom", "PERFORM pg_sleep(3); RAISE EXCEPTION 'refused for the test';")
    try:
        rid = buyer.send("auction.cancel", auction=a["id"], reason="boom")
        time.sleep(0.3)
        sent = bids_behind(conns, b["id"], ["990000.00", "980000.00", "970000.00"])
        e = buyer.reply(rid, timeout=15)
        assert e["ok"] is False and e["error"]["code"] == "internal", e
        for c, r in sent:
            m = c.reply(r, timeout=15)
            # applied on top of the failed batch: refused as a failed batch's commands are
            assert m["ok"] is False and m["error"]["code"] == "internal", m
    finally:
        drop_trigger(env, "boom")
    # nothing of the later batches was stored, and the sequence has no gap
    assert stored_bids(env, b["id"]) == ("0", "0")
    assert "the previous batch did not commit" in server.log_text()
    # the failed batch and every batch behind it
    assert rolled_back_batches(server, "refused for the test") >= 2, server.log_tail()
    assert env.psql("SELECT count(*) FROM changes WHERE reason = 'boom'") == [["0"]]
    assert_gapless(env)
    # memory was rolled back too: the auction has no bid, and the next ones commit
    s1 = server.connect("supplier1")
    view = s1.ok("auction.get", auction=b["id"])["auction"]
    assert view.get("best_price") in (None, ""), view
    s1.ok("auction.bid", auction=b["id"], amount="990000.00")
    view = s1.ok("auction.get", auction=b["id"])["auction"]
    assert view["best_price"] == "990000.00", view
    buyer.ok("auction.cancel", auction=a["id"], reason="after the failure")
    assert stored_bids(env, b["id"]) == ("1", "1")
    assert_gapless(env)


def test_batches_behind_a_committed_one_commit_in_order(env, tenderd_factory, unique):
    server = tenderd_factory(max_batches_in_flight=4)
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Pipe ok A " + unique, step_min="100.00", step_max="50000.00",
                       signed_bids=False)
    b = create_auction(buyer, "Pipe ok B " + unique, step_min="100.00", step_max="50000.00",
                       signed_bids=False)
    watcher = server.connect("supplier4")
    watcher.ok("auction.watch", auction=b["id"])
    conns = suppliers(server, 3)
    add_trigger(env, "slow", "PERFORM pg_sleep(1.0);")
    try:
        rid = buyer.send("auction.cancel", auction=a["id"], reason="slow")
        time.sleep(0.3)
        sent = bids_behind(conns, b["id"], ["990000.00", "980000.00", "970000.00"])
        # a read of the auction the batches in flight changed waits for all of them
        g = watcher.send("auction.get", auction=b["id"])
        assert buyer.reply(rid, timeout=15)["ok"] is True
        for c, r in sent:
            m = c.reply(r, timeout=15)
            assert m["ok"] is True, m
        view = watcher.reply(g, timeout=15)["auction"]
        assert view["best_price"] == "970000.00", view
    finally:
        drop_trigger(env, "slow")
    assert stored_bids(env, b["id"]) == ("3", "3")
    seqs = env.psql("SELECT seq FROM changes WHERE auction_id IN (%d, %d) ORDER BY seq DESC "
                    "LIMIT 4" % (a["id"], b["id"]))
    kinds = env.psql("SELECT kind FROM changes WHERE seq >= %s ORDER BY seq" % seqs[-1][0])
    assert [k[0] for k in kinds] == ["cancelled", "bid_accepted", "bid_accepted",
                                     "bid_accepted"], kinds
    assert_gapless(env)


def test_batches_in_doubt_after_a_lost_connection(env, tenderd_factory, unique):
    server = tenderd_factory(max_batches_in_flight=4, db_retry=1)
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Pipe doubt A " + unique, step_min="100.00", step_max="50000.00",
                       signed_bids=False)
    b = create_auction(buyer, "Pipe doubt B " + unique, step_min="100.00", step_max="50000.00",
                       signed_bids=False)
    conns = suppliers(server, 2)
    add_trigger(env, "stall", "PERFORM pg_sleep(10);")
    try:
        rid = buyer.send("auction.cancel", auction=a["id"], reason="stall")
        time.sleep(0.3)
        sent = bids_behind(conns, b["id"], ["990000.00", "980000.00"])
        # the backend writing the batches goes away while three are in flight
        killed = env.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE pid <> pg_backend_pid() AND application_name LIKE 'tenderd%' "
                          "AND application_name NOT LIKE '% role' "
                          "AND datname = current_database()", user=SUPERUSER)
        assert killed == [["t"]], killed
        e = buyer.reply(rid, timeout=20)
        assert e["ok"] is False and e["error"]["code"] == "unavailable", e
        for c, r in sent:
            m = c.reply(r, timeout=20)
            assert m["ok"] is False and m["error"]["code"] == "unavailable", m
    finally:
        drop_trigger(env, "stall")
    # the cancellation and the two bids behind it were all in doubt, none committed
    log = server.log_text()
    assert "was in doubt: not committed" in log, server.log_tail()
    assert rolled_back_batches(server, "connection to PostgreSQL lost") >= 2, \
        server.log_tail()
    assert stored_bids(env, b["id"]) == ("0", "0")
    [[state]] = env.psql("SELECT state FROM auctions WHERE id = %d" % a["id"])
    assert state != "cancelled", state
    assert_gapless(env)
    # the batch ids line up again: the next changes commit
    s1 = server.connect("supplier1")
    for _ in range(100):
        r = s1.request("auction.bid", auction=b["id"], amount="990000.00", timeout=15)
        if r["ok"]:
            break
        assert r["error"]["code"] == "unavailable", r
        time.sleep(0.2)
    assert r["ok"], r
    buyer.ok("auction.cancel", auction=a["id"], reason="after the doubt")
    assert stored_bids(env, b["id"]) == ("1", "1")
    assert_gapless(env)


def test_a_procedure_changed_by_two_batches_behind_a_failed_one(env, tenderd_factory, unique):
    import procutil as pu
    server = tenderd_factory(max_batches_in_flight=4)
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Pipe proc A " + unique, step_min="100.00", step_max="50000.00",
                       signed_bids=False)
    p = pu.create(buyer, "rfq", "Pipe proc " + unique, enquiry=60000, deadline=70000,
                  opening=70000)
    s1 = server.connect("supplier1")
    assert s1.ok("question.ask", procurement=p["id"], text="first")["question"] == 1
    conns = [server.connect("supplier%d" % (i + 2)) for i in range(2)]
    add_trigger(env, "boom", "PERFORM pg_sleep(3); RAISE EXCEPTION 'refused for the test';")
    try:
        rid = buyer.send("auction.cancel", auction=a["id"], reason="boom")
        time.sleep(0.3)
        sent = []
        for c, text in zip(conns, ["second", "third"]):
            sent.append((c, c.send("question.ask", procurement=p["id"], text=text)))
            time.sleep(0.15)
        # the procedure is changed by both batches in flight: its read waits for both
        g = s1.send("procurement.get", procurement=p["id"])
        assert buyer.reply(rid, timeout=15)["error"]["code"] == "internal"
        for c, r in sent:
            m = c.reply(r, timeout=15)
            assert m["ok"] is False and m["error"]["code"] == "internal", m
        view = s1.reply(g, timeout=15)["procurement"]
        assert [q["text"] for q in view["questions"]] == ["first"], view
    finally:
        drop_trigger(env, "boom")
    assert rolled_back_batches(server, "refused for the test") >= 2, server.log_tail()
    assert env.psql("SELECT count(*) FROM questions WHERE procurement_id = %d" % p["id"]) \
        == [["1"]]
    assert_gapless(env)
    # both marks restored in turn: the next question is number 2
    assert s1.ok("question.ask", procurement=p["id"], text="again")["question"] == 2
    assert_gapless(env)
