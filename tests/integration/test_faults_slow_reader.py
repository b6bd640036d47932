"""Clients that stop reading: tenderd stops writing to them past the output high-water
mark, drops them when they stay stuck, and nobody else slows down.

tenderd runs with output_high_water=16384 and stuck_timeout=2. Two clients stop reading,
each with a tiny receive buffer:
- a watcher of four busy auctions (operator: the largest view): its output keeps
  growing with every update, so it is dropped (at four times the high-water mark at
  once, or after the stuck timeout);
- a client that sends a burst of requests and never reads the replies: once the
  kernel's buffers are full its output stays above the high-water mark, tenderd stops
  reading its requests, and drops it after stuck_timeout.
A last test checks the converse: a client that reads all the time is not dropped, even
when many replies become due at once.
Meanwhile three suppliers bid (every acknowledgement within ACK_BOUND_S) and three
honest watchers keep receiving every update."""
import socket
import ssl
import threading
import time

import faultutil as fu
import tdclient

ACK_BOUND_S = 2.0
DROP_BOUND_S = 15.0   # from the start of the load until both stuck clients are dropped
STUCK_TIMEOUT = 2


class Watcher(threading.Thread):
    """A connection that watches the auctions and reads every event."""

    def __init__(self, server, name, aids, stop):
        super().__init__(daemon=True, name="watcher-" + name)
        self.server, self.cert, self.aids, self.stop = server, name, aids, stop
        self.updates = []   # (monotonic time, auction, bids)
        self.last = {}      # auction -> bids in the latest view
        self.error = None
        self.ready = threading.Event()

    def run(self):
        try:
            with self.server.client(self.cert, timeout=10) as c:
                for aid in self.aids:
                    v = c.ok("auction.watch", auction=aid)["auction"]
                    self.last[aid] = v["bids"]
                self.ready.set()
                while not self.stop.is_set():
                    try:
                        ev = c.event(timeout=0.2)
                    except tdclient.Timeout:
                        continue
                    a = ev.get("auction") or {}
                    if a.get("id") in self.last:
                        self.last[a["id"]] = max(self.last[a["id"]], a["bids"])
                        self.updates.append((time.monotonic(), a["id"], a["bids"]))
        except Exception as e:
            self.error = "%s: %r" % (self.name, e)
        finally:
            self.ready.set()


def send_quietly(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass  # closed by the server (or by the test) meanwhile


def drain_to_eof(sock, timeout):
    """Read everything from a stuck client's socket; returns (bytes read, how it ended)
    when the server has closed it, or raises AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    total = 0
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the server did not close the stuck connection (%d bytes read)" % total
        sock.settimeout(min(left, 1.0))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
            return total, repr(e)
        if not data:
            return total, "EOF"
        total += len(data)


def test_clients_that_stop_reading_are_dropped(env, tenderd_factory, unique):
    server = tenderd_factory(output_high_water=16384, stuck_timeout=STUCK_TIMEOUT)
    # long titles make every view (and every update) large
    title = ("Stuck readers %s: " % unique) + "x" * 420
    auctions = fu.create_auctions(server, env, title, [{}, {}, {}, {}])
    aids = [a["id"] for a in auctions]
    ledger = fu.Ledger([fu.AuctionInfo(a) for a in auctions])
    stop = threading.Event()      # the bidders
    wstop = threading.Event()     # the honest watchers
    stuck = []
    watchers = []
    bidders = []
    try:
        watchers = [Watcher(server, n, aids, wstop) for n in ("buyer", "operator", "supplier4")]
        for w in watchers:
            w.start()
        for w in watchers:
            assert w.ready.wait(10) and not w.error, w.error

        # the stuck watcher: watches every auction, reads nothing; it also says hello a
        # few thousand times, so that the kernel's socket buffers (megabytes on loopback,
        # whatever the client's receive buffer) are full from the start and tenderd's
        # own output buffer grows with every update from then on
        sw = fu.tls_socket(server, env, "operator", rcvbuf=1024)
        stuck.append(sw)
        sw.sendall("".join('{"id":%d,"op":"auction.watch","auction":%d}\n' % (i, aid)
                           for i, aid in enumerate(aids)).encode())
        sw.settimeout(30)
        threading.Thread(target=send_quietly, daemon=True, args=(sw, b"".join(
            b'{"id":%d,"op":"hello"}\n' % i for i in range(10, 8010)))).start()
        # the stuck requester: a burst of requests, never reads a reply
        sr = fu.tls_socket(server, env, "supplier4", rcvbuf=1024)
        stuck.append(sr)
        ports = [s.getsockname()[1] for s in stuck]

        t0 = time.monotonic()
        bidders = fu.start_bidders(server, env, ledger, stop,
                                   ["supplier1", "supplier2", "supplier3"], per_name=1,
                                   window=4, reply_timeout=10)
        # hello is answered at once (an auction.get may wait for the batch in flight):
        # enough replies to fill the kernel's buffers and pass the high-water mark; the
        # requests tenderd does not read any more stay in the socket (a sending thread,
        # so that a full send buffer blocks nobody)
        burst = b"".join(b'{"id":%d,"op":"hello"}\n' % i for i in range(12000))
        sr.settimeout(30)
        threading.Thread(target=send_quietly, args=(sr, burst), daemon=True).start()

        # both stuck clients are dropped within a bound, while the others carry on
        drops = {}
        while time.monotonic() < t0 + DROP_BOUND_S and len(drops) < 2:
            for port in ports:
                cid = fu.conn_id_of(server, port)
                why = fu.close_reason(server, cid) if cid else None
                if why and port not in drops:
                    drops[port] = (time.monotonic() - t0, why)
            bad = [x.error or x.closed for x in bidders + watchers if x.error or
                   getattr(x, "closed", None)]
            assert not bad, bad
            time.sleep(0.05)
        assert len(drops) == 2, "stuck clients not dropped within %.0f s: %r (%s)" % (
            DROP_BOUND_S, drops, fu.summary(ledger))
        dropped_at = t0 + max(d[0] for d in drops.values())
        # the stuck watcher: dropped at the hard limit or after the stuck timeout
        w_why = drops[ports[0]][1]
        assert w_why.startswith(("output overflow", "stuck")), w_why
        # the stuck requester: its output stopped growing, so the stuck timer dropped it
        r_why = drops[ports[1]][1]
        assert r_why.startswith("stuck"), r_why
        # bidding goes on for a while after the drops
        time.sleep(1.0)
        stop.set()
        fu.join_all(bidders, timeout=20)
        # the honest watchers see the last update too
        stored = fu.check_against_db(env, ledger, aids, exact=True)
        final = {aid: len([b for b in stored if b["aid"] == aid]) for aid in aids}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(w.last != final for w in watchers):
            time.sleep(0.05)
    finally:
        stop.set()
        wstop.set()
    fu.join_all(bidders + watchers, timeout=20)
    print("slow readers:", fu.summary(ledger), "drops:", drops)

    errors = [x.error for x in bidders + watchers if x.error]
    errors += ["%s lost its connection: %s" % (b.name, b.closed[1]) for b in bidders
               if b.closed]
    assert not errors, errors

    # the stuck clients' sockets are closed by the server: reading them ends in EOF (or
    # a reset), after a bounded amount of data (what the kernel had taken plus what
    # tenderd had buffered, at most 4 x output_high_water)
    for s, port in zip(stuck, ports):
        n, how = drain_to_eof(s, timeout=15)
        print("stuck client on port %d: %d bytes, then %s" % (port, n, how))
        assert n < 8 * 1024 * 1024, n
        s.close()

    # honest bidders were never slowed down
    lat = sorted(x for b in bidders for x in b.latencies)
    assert len(lat) >= 100, fu.summary(ledger)
    print("bid latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
        lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3, lat[-1] * 1e3))
    assert lat[-1] <= ACK_BOUND_S, "a bid waited %.2f s for its answer" % lat[-1]
    for b in bidders:
        assert not b.closed and b.latencies, b.name

    # honest watchers kept receiving updates, also after the drops, up to the last bid
    for w in watchers:
        assert w.last == final, "%s saw %r, the database has %r" % (w.name, w.last, final)
        assert any(t > dropped_at for t, _, _ in w.updates), "%s: no update after the drops" % (
            w.name)
        times = [t0] + [t for t, _, _ in w.updates if t >= t0]
        gap = max(b - a for a, b in zip(times, times[1:]))
        assert gap < ACK_BOUND_S, "%s waited %.2f s between updates" % (w.name, gap)
    fu.replay_from_db(env, aids)
    fu.cancel_auctions(server, aids)


# ---- a client that reads is never taken for one that does not ----

PARKED_GETS = 6000


def test_reading_client_not_dropped_when_parked_reads_complete(env, tenderd_factory, unique):
    """A read of an auction that the batch in flight has changed waits for that batch
    (architecture.md). A client that pipelines many auction.get requests while a batch is
    slow to commit gets all their replies at once when it commits; it reads all the time,
    so it must get every reply and keep its connection (default settings: output high
    water 1 MiB; the replies here add up to about 8 MB). The commit is made slow by a
    psql session holding the row lock on tenderd_state, which every batch updates."""
    server = tenderd_factory()
    title = ("Parked reads %s: " % unique) + "z" * 450
    aid = fu.create_auctions(server, env, title, [{}])[0]["id"]
    with server.client("supplier1") as c:
        c.ok("auction.bid", auction=aid, amount="999900.00")
    reader = server.connect("operator", timeout=10)
    got = []
    errors = []

    def read_all():
        try:
            while len(got) < PARKED_GETS:
                got.append(reader.read_msg(timeout=20))
        except Exception as e:
            errors.append(repr(e))

    lock = fu.LockHolder(env, "SELECT last_batch FROM tenderd_state FOR UPDATE;")
    try:
        s2 = server.connect("supplier2", timeout=30)
        rid = s2.send("auction.bid", auction=aid, amount="999800.00")
        time.sleep(0.3)  # the batch is in flight, waiting for the lock
        t = threading.Thread(target=read_all, daemon=True)
        t.start()
        reader.send_raw(b"".join(b'{"id":%d,"op":"auction.get","auction":%d}\n' % (i, aid)
                                 for i in range(PARKED_GETS)))
        time.sleep(1.0)
        parked = PARKED_GETS - len(got)
    finally:
        lock.commit()
    assert s2.reply(rid, timeout=20)["ok"] is True
    t.join(30)
    closes = [l.split(" close: ", 1)[1] for l in server.log_text().splitlines()
              if " close: " in l and "participant=1 " in l]
    print("%d reads unanswered while the batch waited; %d replies received; %s; operator "
          "connections closed: %r" % (parked, len(got), errors or "no error", closes))
    assert parked > 0, "no read waited for the batch in flight"
    assert not errors and len(got) == PARKED_GETS, \
        "the reading client got %d of %d replies, then %s (tenderd: %r)" % (
            len(got), PARKED_GETS, errors, closes)
    assert all(m.get("ok") is True and m["auction"]["bids"] == 2 for m in got)
    assert reader.ok("hello")["ok"]
    fu.cancel_auctions(server, [aid])
