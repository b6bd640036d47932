"""Per-address limits: a flood of connections from one source address (127.0.0.2, a
loopback address of its own on Linux) is refused beyond max_handshakes_per_addr and
max_conns_per_addr, counted in the operators' stats, logged a line a second at most, and
leaves clients of other addresses (127.0.0.1) untouched."""
import socket

import pytest
import time

import tdclient

FLOOD = "127.0.0.2"


def flood(server, n, source=FLOOD):
    """n TCP connections from `source` that never start the TLS handshake."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((source, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", server.port))
        socks.append(s)
    return socks


def closed_at_once(sock, within=1.0):
    """True when the server closed the connection (EOF or reset) within `within` s."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def stats(server):
    with server.client("operator") as op:
        return op.ok("stats")["stats"]


def test_handshake_flood_from_one_address(env, tenderd_factory):
    """max_conns is 40 and one address opens 120 connections that never handshake: only
    max_handshakes_per_addr of them are kept, the rest are closed at once, and clients
    from another address connect, handshake and are served as usual."""
    server = tenderd_factory(max_conns=40, max_handshakes_per_addr=10, handshake_timeout=30)
    socks = flood(server, 120)
    try:
        t0 = time.monotonic()
        # the last ones were refused: closed by the server without waiting
        refused = sum(1 for s in socks[-20:] if closed_at_once(s, 0.5))
        assert refused == 20, "%d of the last 20 flood connections were closed" % refused
        kept = [s for s in socks[:10] if not closed_at_once(s, 0.05)]
        assert len(kept) == 10, "the first 10 handshakes should wait for their timeout"
        # another address is not affected: a full handshake and a request, promptly
        for name in ("supplier1", "supplier2", "buyer"):
            t = time.monotonic()
            with server.client(name, timeout=5) as c:
                assert c.ok("hello")["ok"]
            assert time.monotonic() - t < 2.0
        st = stats(server)
        assert st["refused"]["max_handshakes_per_addr"] >= 100, st["refused"]
        assert st["refused"]["by_addr"].get(FLOOD, 0) >= 100, st["refused"]
        assert "127.0.0.1" not in st["refused"]["by_addr"], st["refused"]
        assert st["refused"]["max_conns"] == 0, st["refused"]
        assert st["connections"]["handshaking"] == 10, st["connections"]
        assert st["handshakes"]["completed"] >= 4, st["handshakes"]
        # refusals are logged at most a line a second
        lines = server.log_text().count("refusing connection from %s" % FLOOD)
        assert 1 <= lines <= 2 + (time.monotonic() - t0), lines
    finally:
        for s in socks:
            s.close()


def test_connections_per_address(env, tenderd_factory):
    """max_conns_per_addr counts every connection of an address, open or in the
    handshake; closing one frees its place."""
    server = tenderd_factory(max_conns_per_addr=4, max_conns_per_cert=100)
    mine = [tdclient.Client(server.port, env.ca, env.cert("supplier1"), env.key("supplier1"),
                            name="supplier1", source=FLOOD) for _ in range(4)]
    try:
        for c in mine:
            assert c.ok("hello")["ok"]
        extra = flood(server, 1)[0]
        assert closed_at_once(extra), "a fifth connection from %s was kept" % FLOOD
        extra.close()
        # other addresses are not counted with it (127.0.0.1 has its own 4: these and
        # the operator's connection for the stats)
        others = [server.connect("supplier2") for _ in range(3)]
        for c in others:
            assert c.ok("hello")["ok"]
        assert stats(server)["refused"]["max_conns_per_addr"] == 1
        # a closed connection frees its place
        mine.pop().close()
        deadline = time.monotonic() + 5
        while True:
            try:
                c = tdclient.Client(server.port, env.ca, env.cert("supplier1"),
                                    env.key("supplier1"), source=FLOOD, timeout=5)
                r = c.request("hello")
                mine.append(c)
                if r.get("ok"):
                    break
            except (OSError, tdclient.Closed):
                pass
            assert time.monotonic() < deadline, "the closed connection's place was not freed"
            time.sleep(0.1)
    finally:
        for c in mine:
            c.close()


def test_stats_is_for_operators(env, server):
    st = stats(server)
    assert st["version"] and st["uptime_s"] >= 0
    assert tdclient.parse_time(st["started_at"]) <= tdclient.now_ms()
    assert st["connections"]["open"] >= 1 and st["connections"]["max_conns"] == 20000
    assert st["tls"]["min_version"] == "1.2"
    assert st["crl"] is None
    for name in ("buyer", "supplier1"):
        with server.client(name) as c:
            assert c.error("stats")["code"] == "forbidden"


def test_descriptor_limit_raised_towards_the_hard_limit(env, tenderd_factory):
    """A soft descriptor limit below max_conns + 64 is raised at start-up (up to the hard
    limit) instead of leaving accept() to fail with EMFILE."""
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 2064:
        pytest.skip("hard descriptor limit %d is too low for this test" % hard)
    server = tenderd_factory(start=False, max_conns=2000)
    server.preexec = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    server.start()
    log = server.log_text()
    assert "descriptor limit raised from 1024 to 2064" in log, log
    assert "descriptor limit (" not in log, log
    with open("/proc/%d/limits" % server.proc.pid) as f:
        line = [l for l in f if l.startswith("Max open files")][0]
    assert line.split()[3] == "2064", line
