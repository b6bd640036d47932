"""A thousand connections that never finish the handshake, and TLS connections that send
half a line and stall: tenderd closes them when their time is up (handshake_timeout=2,
idle_timeout=3), frees them, and honest bidders are not delayed meanwhile.

The flood: plain TCP connections that send nothing, or half a TLS ClientHello, or a whole
ClientHello and nothing after the server's answer, or a ClientHello one byte at a time
(slowloris), and mutual-TLS connections that send the first half of a request line and
nothing more, or a line one byte at a time that never ends. While they are open, an honest supplier makes a new
connection (full handshake) and places a bid every ~0.2 s; each round trip must complete
within HONEST_BOUND_S. The test ends by comparing the honest bids acknowledged with what
PostgreSQL holds."""
import json
import os
import resource
import selectors
import socket
import ssl
import threading
import time

import faultutil as fu
import tdclient

SILENT = 800
PARTIAL = 150
MID_HANDSHAKE = 40   # a whole ClientHello, then nothing (the server has answered it)
TRICKLE_HELLO = 10   # a ClientHello one byte every TRICKLE_S: activity must not help
HALF_LINE = 30
TRICKLE_LINE = 10    # a request line one byte every TRICKLE_S, never finished
TRICKLE_S = 0.3
HANDSHAKE_TIMEOUT = 2
IDLE_TIMEOUT = 3
HONEST_BOUND_S = 2.0
CLOSE_SLACK_S = 3.0  # a connection is closed at most this long after its timeout


def raise_nofile(need):
    """Make sure this process (and the tenderd it starts, which inherits the limit) may
    open `need` descriptors; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        want = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


class Honest(threading.Thread):
    """A supplier that connects afresh and bids, again and again, timing each round."""

    def __init__(self, server, env, ledger, aid, stop):
        super().__init__(daemon=True, name="honest")
        self.server, self.env, self.ledger, self.aid, self.stop = server, env, ledger, aid, stop
        self.rounds = []  # (started, seconds for connect + handshake + hello + bid)
        self.error = None

    def run(self):
        names = ["supplier1", "supplier2"]
        info = self.ledger.auctions[self.aid]
        best = info.start
        i = 0
        try:
            while not self.stop.is_set():
                name = names[i % 2]
                i += 1
                amount = best - info.step_min
                t0 = time.monotonic()
                with self.server.client(name, timeout=10) as c:
                    assert c.ok("hello", timeout=10)["participant"]["role"] == "supplier"
                    rec = {"conn": "honest", "org": self.env.org(name), "aid": self.aid,
                           "amount": amount, "sent": time.monotonic(), "replied": None,
                           "ok": None, "code": None, "bid": None}
                    self.ledger.add(rec)
                    r = c.request("auction.bid", auction=self.aid, amount=fu.money(amount),
                                  timeout=10)
                    rec["replied"] = time.monotonic()
                    rec["ok"] = r.get("ok") is True
                    assert rec["ok"], r
                    rec["bid"] = r["bid"]
                    best = fu.minor(r["best_price"])
                self.rounds.append((t0, time.monotonic() - t0))
                self.stop.wait(0.2)
        except Exception as e:
            self.error = "honest round %d: %r" % (i, e)


def server_fds(server):
    return len(os.listdir("/proc/%d/fd" % server.proc.pid))


def test_connection_flood_times_out(env, tenderd_factory, unique):
    plain = [("silent", SILENT), ("partial", PARTIAL), ("mid_handshake", MID_HANDSHAKE),
             ("trickle_hello", TRICKLE_HELLO)]
    tls = [("half_line", HALF_LINE), ("trickle_line", TRICKLE_LINE)]
    total = sum(n for _, n in plain + tls)
    soft = raise_nofile(total + 1024)
    assert soft >= total + 256, "RLIMIT_NOFILE %d is too low for %d connections" % (soft, total)
    # the flood and the honest supplier share 127.0.0.1: no per-address limits here
    # (test_addr_limits.py has them)
    server = tenderd_factory(handshake_timeout=HANDSHAKE_TIMEOUT, idle_timeout=IDLE_TIMEOUT,
                             max_conns_per_cert=HALF_LINE + TRICKLE_LINE + 8,
                             max_conns_per_addr=0, max_handshakes_per_addr=0)
    auctions = fu.create_auctions(server, env, "Connection flood " + unique, [{}])
    aid = auctions[0]["id"]
    ledger = fu.Ledger([fu.AuctionInfo(a) for a in auctions])
    fds_before = server_fds(server)
    hello = fu.client_hello()
    stop = threading.Event()
    honest = Honest(server, env, ledger, aid, stop)
    sel = selectors.DefaultSelector()
    socks = {}   # fileno -> {"sock", "kind", "opened", "closed", "got"}
    try:
        honest.start()
        time.sleep(0.3)

        # the flood: plain TCP connections first (all at once, non-blocking)
        t_flood = time.monotonic()
        for kind, n in plain:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex(("127.0.0.1", server.port))
                assert err in (0, 115), os.strerror(err)  # EINPROGRESS
                socks[s.fileno()] = {"sock": s, "kind": kind, "opened": time.monotonic(),
                                     "closed": None, "got": 0, "tls": False, "sent": 0}
        # wait for the connections to be established, then send half a ClientHello
        pending = dict(socks)
        wsel = selectors.DefaultSelector()
        for fd, st in pending.items():
            wsel.register(st["sock"], selectors.EVENT_WRITE)
        deadline = time.monotonic() + 10
        while pending and time.monotonic() < deadline:
            for key, _ in wsel.select(0.2):
                st = pending.pop(key.fd)
                wsel.unregister(key.fileobj)
                err = st["sock"].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                assert err == 0, "connect: %s" % os.strerror(err)
                if st["kind"] == "partial":
                    st["sock"].send(hello[:len(hello) // 2])
                elif st["kind"] == "mid_handshake":
                    st["sock"].send(hello)
        wsel.close()
        assert not pending, "%d connections not established within 10 s" % len(pending)
        print("%d plain connections open after %.2f s" % (len(socks), time.monotonic() - t_flood))

        # mutual-TLS connections that send half a request line and stall
        ctx = tdclient.make_context(env.ca, env.cert("supplier4"), env.key("supplier4"))
        for kind, n in tls:
            for i in range(n):
                raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                s = ctx.wrap_socket(raw, server_hostname="localhost")
                s.sendall(b'{"id":1,"op":"auction.get","auc')
                s.setblocking(False)
                socks[s.fileno()] = {"sock": s, "kind": kind, "opened": time.monotonic(),
                                     "closed": None, "got": 0, "tls": True, "data": b"",
                                     "sent": 0}
        for fd, st in socks.items():
            sel.register(st["sock"], selectors.EVENT_READ)
        print("flood of %d connections open after %.2f s" % (len(socks),
                                                               time.monotonic() - t_flood))

        # every one of them is closed by the server when its time is up
        deadline = time.monotonic() + IDLE_TIMEOUT + CLOSE_SLACK_S + 5
        open_left = len(socks)
        next_trickle = time.monotonic()
        while open_left and time.monotonic() < deadline:
            assert honest.error is None, honest.error
            if time.monotonic() >= next_trickle:
                next_trickle += TRICKLE_S
                for st in socks.values():
                    if st["closed"] is None and st["kind"].startswith("trickle"):
                        data = (hello[st["sent"]:st["sent"] + 1] if st["kind"] == "trickle_hello"
                                else b"x")
                        try:
                            st["sock"].send(data)
                            st["sent"] += 1
                        except (OSError, ssl.SSLWantWriteError):
                            pass  # closed meanwhile: noticed by the read below
            for key, _ in sel.select(0.1):
                st = socks[key.fd]
                s = st["sock"]
                while True:
                    try:
                        data = s.recv(65536)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        break
                    except (ssl.SSLError, ConnectionResetError) as e:
                        data = b""
                        st["how"] = repr(e)
                    if not data:
                        st["closed"] = time.monotonic()
                        sel.unregister(s)
                        open_left -= 1
                        break
                    st["got"] += len(data)
                    if st["tls"]:
                        st["data"] += data
        assert honest.error is None, honest.error
    finally:
        stop.set()
        honest.join(20)
        sel.close()
        for st in socks.values():
            st["sock"].close()
    assert not honest.is_alive()
    assert honest.error is None, honest.error

    still_open = [st["kind"] for st in socks.values() if st["closed"] is None]
    assert not still_open, "%d connections never closed by the server (kinds %r)" % (
        len(still_open), sorted(set(still_open)))
    for kind, _ in plain + tls:
        timeout = IDLE_TIMEOUT if (kind, _) in tls else HANDSHAKE_TIMEOUT
        mine = [st for st in socks.values() if st["kind"] == kind]
        lives = sorted(st["closed"] - st["opened"] for st in mine)
        print("%s: %d closed after %.2f .. %.2f s (at most %d bytes trickled)" % (
            kind, len(mine), lives[0], lives[-1], max(st["sent"] for st in mine)))
        assert lives[0] >= timeout - 0.5, "%s connection closed after %.2f s, before its " \
            "%d s timeout" % (kind, lives[0], timeout)
        assert lives[-1] <= timeout + CLOSE_SLACK_S, "%s connection closed only after " \
            "%.2f s (timeout %d s)" % (kind, lives[-1], timeout)
        if kind in ("silent", "partial", "trickle_hello"):
            # nothing is said to a peer whose ClientHello is incomplete
            assert all(st["got"] == 0 for st in mine), kind
        if kind == "mid_handshake":
            # the server answered the ClientHello, then gave up waiting
            assert all(st["got"] > 0 for st in mine), kind
    for st in socks.values():
        if st["tls"]:
            lines = [l for l in st["data"].split(b"\n") if l]
            assert len(lines) == 1, lines
            ev = json.loads(lines[0])
            assert ev["event"] == "error" and ev["error"]["code"] == "idle_timeout", ev

    # the honest supplier was never delayed
    rounds = honest.rounds
    during = [d for t, d in rounds if t_flood <= t <= t_flood + IDLE_TIMEOUT]
    print("honest rounds: %d (%d during the flood), slowest %.1f ms" % (
        len(rounds), len(during), max(d for _, d in rounds) * 1e3))
    assert len(during) >= 5, rounds
    slow = [d for _, d in rounds if d > HONEST_BOUND_S]
    assert not slow, "honest handshake + bid took %.2f s" % max(slow)

    # tenderd freed them all: its descriptors are back to what they were
    deadline = time.monotonic() + 10
    while server_fds(server) > fds_before + 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server_fds(server) <= fds_before + 5, (server_fds(server), fds_before)
    with server.client("supplier3") as c:
        assert c.ok("hello")["ok"]

    fu.check_against_db(env, ledger, [aid], exact=True)
    fu.check_views(server, env, [aid], fu.replay_from_db(env, [aid]))
    fu.cancel_auctions(server, [aid])


# ---- a flood beyond tenderd's descriptor limit ----

NOFILE_LIMIT = 128  # tenderd's soft RLIMIT_NOFILE in the next test
FLOOD_OVER_LIMIT = 200


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_flood_beyond_descriptor_limit(env, tenderd_factory, unique):
    """More connections than tenderd may open descriptors for (Debian's default soft limit
    is 1024 while max_conns defaults to 20000, so a thousand idle connections get there;
    here the limit is NOFILE_LIMIT). While accept() fails with EMFILE, tenderd must stay
    calm: no busy loop, no flood of log lines; the connections it did accept time out,
    those waiting in the kernel's queue are accepted and time out in turn, and bids on an
    established connection are answered all along."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(NOFILE_LIMIT, soft), hard))
    try:
        # no per-address limits: the flood must reach the descriptor limit
        server = tenderd_factory(handshake_timeout=1, idle_timeout=30, max_conns_per_addr=0,
                                 max_handshakes_per_addr=0)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    auctions = fu.create_auctions(server, env, "Descriptor limit " + unique, [{}])
    aid = auctions[0]["id"]
    ledger = fu.Ledger([fu.AuctionInfo(a) for a in auctions])
    info = ledger.auctions[aid]
    bidders = [server.connect(n, timeout=10) for n in ("supplier1", "supplier2")]
    for b in bidders:
        b.ok("hello")
    log_before = server.log_path.stat().st_size
    cpu_before = cpu_seconds(server.proc.pid)
    t_flood = time.monotonic()
    socks = []
    sel = selectors.DefaultSelector()
    latencies = []
    closed = 0
    try:
        for i in range(FLOOD_OVER_LIMIT):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            assert s.connect_ex(("127.0.0.1", server.port)) in (0, 115)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ)
        # bid on the established connection while the flood waits to time out
        best = info.start
        deadline = time.monotonic() + 15
        next_bid = time.monotonic()
        while closed < len(socks) and time.monotonic() < deadline:
            if time.monotonic() >= next_bid:
                next_bid += 0.1
                amount = best - info.step_min
                bidder = bidders[len(latencies) % 2]
                rec = {"conn": bidder.name, "org": env.org(bidder.name), "aid": aid,
                       "amount": amount, "sent": time.monotonic(), "replied": None,
                       "ok": None, "code": None, "bid": None}
                ledger.add(rec)
                r = bidder.request("auction.bid", auction=aid, amount=fu.money(amount))
                rec["replied"] = time.monotonic()
                rec["ok"] = r.get("ok") is True
                assert rec["ok"], r
                rec["bid"] = r["bid"]
                best = amount
                latencies.append(rec["replied"] - rec["sent"])
            for key, _ in sel.select(0.05):
                try:
                    data = key.fileobj.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    closed += 1
        elapsed = time.monotonic() - t_flood
        cpu = cpu_seconds(server.proc.pid) - cpu_before
        log_growth = server.log_path.stat().st_size - log_before
    finally:
        sel.close()
        for s in socks:
            s.close()
    emfile_lines = server.log_text().count("accept failed")
    print("flood of %d over a limit of %d descriptors: all closed: %s after %.1f s; tenderd "
          "used %.2f s of CPU; its log grew by %d bytes (%d 'accept failed' lines); bids: %d, "
          "slowest %.1f ms" % (FLOOD_OVER_LIMIT, NOFILE_LIMIT, closed == len(socks), elapsed,
                               cpu, log_growth, emfile_lines, len(latencies),
                               max(latencies) * 1e3))

    assert closed == len(socks), "%d of %d connections were never closed by the server" % (
        len(socks) - closed, len(socks))
    assert max(latencies) <= HONEST_BOUND_S, max(latencies)
    with server.client("supplier3", timeout=10) as c:
        assert c.ok("hello")["ok"]
    fu.check_against_db(env, ledger, [aid], exact=True)
    fu.cancel_auctions(server, [aid])
    # while accept() fails, tenderd must not spin on the listening socket nor log every
    # failed attempt: a few lines and a little CPU are enough to handle this flood
    assert log_growth < 256 * 1024, "tenderd's log grew by %d bytes (%d 'accept failed' " \
        "lines) in %.1f s while its descriptors were exhausted" % (
            log_growth, emfile_lines, elapsed)
    assert cpu < 0.25 * elapsed, "tenderd used %.2f s of CPU in %.1f s while its " \
        "descriptors were exhausted (busy loop on the listening socket)" % (cpu, elapsed)
