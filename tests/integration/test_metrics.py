"""The metrics endpoint (docs/operations.md "Metrics and health"): /metrics in the
Prometheus text format 0.0.4, counters that move by exactly what was done, cumulative and
consistent histograms, /healthz and /readyz (503 while PostgreSQL is away), and the same
figures in the operators' `stats`."""
import os
import re
import socket
import time
import urllib.error
import urllib.request

from tdclient import create_auction, parse_time

SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (-?[0-9.e+]+|\+Inf)$')
LABEL = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')


def get(server, path, timeout=5):
    """(status, content type, body) of a GET on the metrics endpoint."""
    url = "http://%s%s" % (server.metrics_addr(), path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def scrape(server):
    """{(name, frozenset(labels)): value} of /metrics, after checking the format: every
    sample's family has HELP and TYPE lines before it."""
    status, ctype, body = get(server, "/metrics")
    assert status == 200 and ctype == "text/plain; version=0.0.4; charset=utf-8", (status, ctype)
    assert body.endswith("\n")
    types, helps, out = {}, set(), {}
    for line in body.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            types[name] = typ
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name) \
            if re.sub(r"_(bucket|sum|count)$", "", name) in types else name
        assert family in types and family in helps, "no TYPE/HELP for %s" % name
        key = (name, frozenset(LABEL.findall(labels)))
        assert key not in out, "sample twice: %r" % line
        out[key] = float(value)
    return out


def val(m, name, **labels):
    return m.get((name, frozenset(labels.items())), 0.0)


def histogram(m, name, **labels):
    """The buckets [(le, count)] in order, the sum and the count; checks that the buckets
    are cumulative and end with +Inf equal to the count."""
    rest = set(labels.items())
    buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in m.items()
                      if k[0] == name + "_bucket" and rest <= set(k[1])
                      and len(k[1]) == len(rest) + 1))
    if not buckets and (name + "_count", frozenset(rest)) not in m:
        return [], 0.0, 0.0  # an operation not used yet has no series
    assert buckets and buckets[-1][0] == float("inf"), (name, buckets)
    counts = [c for _, c in buckets]
    assert counts == sorted(counts), "not cumulative: %s %r" % (name, buckets)
    count = val(m, name + "_count", **labels)
    assert buckets[-1][1] == count, (name, buckets, count)
    s = val(m, name + "_sum", **labels)
    assert s >= 0 and (count > 0 or s == 0), (name, s, count)
    return buckets, s, count


def test_counters_move_by_what_was_done(tenderd_factory, unique):
    server = tenderd_factory(handshake_timeout=1)
    buyer = server.connect("buyer")
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    a = create_auction(buyer, "Metrics " + unique, start_price="1000.00", step_min="10.00",
                       step_max="100.00")
    before = scrape(server)

    assert s1.ok("auction.bid", auction=a["id"], amount="990.00")["ok"]
    assert s2.ok("auction.bid", auction=a["id"], amount="980.00")["ok"]
    assert s1.ok("auction.bid", auction=a["id"], amount="970.00")["ok"]
    assert s2.error("auction.bid", auction=a["id"], amount="969.00")["code"] == \
        "bid_step_too_small"
    assert buyer.error("auction.bid", auction=a["id"], amount="900.00")["code"] == "forbidden"
    watcher = server.connect("supplier3")
    watcher.ok("auction.watch", auction=a["id"])
    # a TCP connection that never starts its handshake: handshake_timeout (1 s)
    raw = socket.create_connection(("127.0.0.1", server.port))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = scrape(server)
        if val(after, "tenderd_handshakes_total", outcome="timeout") > \
                val(before, "tenderd_handshakes_total", outcome="timeout"):
            break
        time.sleep(0.2)
    raw.close()

    def delta(name, **labels):
        return val(after, name, **labels) - val(before, name, **labels)

    assert delta("tenderd_operations_total", op="auction.bid", result="ok") == 3
    assert delta("tenderd_operations_total", op="auction.bid", result="bid_step_too_small") == 1
    assert delta("tenderd_operations_total", op="auction.bid", result="forbidden") == 1
    assert delta("tenderd_operations_total", op="auction.watch", result="ok") == 1
    assert delta("tenderd_operations_total", op="hello", result="ok") == 0
    b0, s0, c0 = histogram(before, "tenderd_operation_duration_seconds", op="auction.bid")
    b1, s1_, c1 = histogram(after, "tenderd_operation_duration_seconds", op="auction.bid")
    assert c1 - c0 == 5 and s1_ > s0
    assert all(y >= x for (_, x), (_, y) in zip(b0, b1))
    _, ack_sum, ack_count = histogram(after, "tenderd_bid_ack_seconds")
    assert ack_count - histogram(before, "tenderd_bid_ack_seconds")[2] == 3
    assert 0 < ack_sum < 30
    # every accepted bid went through a committed batch of at least one command
    _, size_sum, size_count = histogram(after, "tenderd_commit_batch_size")
    assert size_sum - histogram(before, "tenderd_commit_batch_size")[1] >= 3
    assert size_count - histogram(before, "tenderd_commit_batch_size")[2] >= 1
    _, _, commits = histogram(after, "tenderd_commit_seconds")
    assert commits - histogram(before, "tenderd_commit_seconds")[2] >= 1
    assert delta("tenderd_commit_failures_total") == 0
    # connections: the three of before, the watcher; one more handshake completed (the
    # watcher), one timed out
    assert val(after, "tenderd_connections_open") == 4
    assert delta("tenderd_handshakes_total", outcome="completed") == 1
    assert delta("tenderd_handshakes_total", outcome="timeout") == 1
    assert delta("tenderd_handshakes_total", outcome="failed") == 0
    assert val(after, "tenderd_watchers") == 1
    assert val(after, "tenderd_lane_depth") == 0
    assert val(after, "tenderd_db_up") == 1 and val(after, "tenderd_writer_lock_held") == 1
    assert val(after, "tenderd_db_reconnects_total") == 0
    assert val(after, "tenderd_auctions") >= 1
    assert abs(val(after, "tenderd_start_time_seconds") - time.time()) < 600
    assert [k for k in after if k[0] == "tenderd_build_info"]

    # the same figures in `stats`
    st = server.connect("operator").ok("stats")["stats"]
    bid = st["operations"]["by_op"]["auction.bid"]
    assert bid["ok"] == val(after, "tenderd_operations_total", op="auction.bid", result="ok")
    assert bid["forbidden"] == 1 and bid["bid_step_too_small"] == 1
    assert st["operations"]["total"] == st["operations"]["ok"] + st["operations"]["refused"]
    assert st["db"] == {"available": True, "writer_lock": True, "reconnects": 0}
    assert st["watchers"] == 1 and st["lane"] == 0
    assert st["batches"]["committed"] >= commits and st["batches"]["failed"] == 0
    assert st["batches"]["commands"] >= size_sum
    assert st["handshakes"]["timeout"] == 1
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")


def test_refusal_by_limit_is_counted(tenderd_factory):
    server = tenderd_factory(max_conns_per_addr=2)
    before = scrape(server)
    c1, c2 = server.connect("supplier1"), server.connect("supplier2")
    raw = socket.create_connection(("127.0.0.1", server.port))
    raw.settimeout(5)
    assert raw.recv(100) == b""  # closed at once
    raw.close()
    after = scrape(server)
    assert val(after, "tenderd_connections_refused_total", limit="max_conns_per_addr") - \
        val(before, "tenderd_connections_refused_total", limit="max_conns_per_addr") == 1
    assert val(after, "tenderd_connections_refused_total", limit="max_conns") == 0
    assert c1.ok("hello")["ok"] and c2.ok("hello")["ok"]


def test_health_and_readiness(env, tenderd_factory):
    server = tenderd_factory(db_retry=1)
    assert get(server, "/healthz") == (200, "text/plain", "ok\n")
    assert get(server, "/readyz")[:3:2] == (200, "ready\n")
    assert get(server, "/nope")[0] == 404
    assert get(server, "/metrics?x=1")[0] == 200
    env.pg_stop()
    try:
        deadline = time.monotonic() + 20
        while True:
            status, _, body = get(server, "/readyz")
            if status == 503:
                break
            assert time.monotonic() < deadline, "still ready 20 s after PostgreSQL stopped"
            time.sleep(0.2)
        assert body.startswith("not ready: ") and body.count("\n") == 1, body
        assert get(server, "/healthz")[0] == 200
        m = scrape(server)
        assert val(m, "tenderd_db_up") == 0 and val(m, "tenderd_writer_lock_held") == 0
        st = server.connect("operator").ok("stats")["stats"]
        assert st["db"]["available"] is False and st["db"]["writer_lock"] is False
    finally:
        env.pg_start()
    deadline = time.monotonic() + 30
    while get(server, "/readyz")[0] != 200:
        assert time.monotonic() < deadline, "not ready 30 s after PostgreSQL came back"
        time.sleep(0.2)
    m = scrape(server)
    assert val(m, "tenderd_db_up") == 1 and val(m, "tenderd_db_reconnects_total") == 1


def test_empty_metrics_listen_disables(tenderd_factory):
    server = tenderd_factory(metrics_listen="")
    assert server.metrics_addr() is None
    assert "metrics listening" not in server.log_text()
    assert server.connect("supplier1").ok("hello")["ok"]


def test_address_in_use_is_logged_not_fatal(tenderd_factory):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        server = tenderd_factory(metrics_listen="127.0.0.1:%d" % busy.getsockname()[1])
        assert "METRICS DISABLED" in server.log_text()
        assert server.connect("supplier1").ok("hello")["ok"]
    finally:
        busy.close()


def test_only_get_and_head(tenderd_factory):
    server = tenderd_factory()
    head = urllib.request.Request("http://%s/healthz" % server.metrics_addr(), method="HEAD")
    with urllib.request.urlopen(head, timeout=5) as r:
        assert r.status == 200 and r.read() == b""
    req = urllib.request.Request("http://%s/metrics" % server.metrics_addr(), data=b"x",
                                 method="POST")
    try:
        urllib.request.urlopen(req, timeout=5)
        assert False, "POST answered"
    except urllib.error.HTTPError as e:
        assert e.code == 405 and e.headers.get("Allow") == "GET, HEAD", e.code


def test_crl_age_and_next_update(env, tenderd_factory, tmp_path):
    """With a CRL, its age and nextUpdate, the same as `stats` shows."""
    first = tenderd_factory()
    assert "tenderd_crl_age_seconds" not in get(first, "/metrics")[2]
    first.stop()
    env.make_cert("--crl")
    crl = tmp_path / "crl.pem"
    crl.write_bytes(open(os.path.join(str(env.pki), "crl.pem"), "rb").read())
    server = tenderd_factory(crl=str(crl))
    m = scrape(server)
    st = server.connect("operator").ok("stats")["stats"]["crl"]
    this_update = parse_time(st["this_update"]) / 1000
    assert abs(val(m, "tenderd_crl_age_seconds") - (time.time() - this_update)) <= 5
    assert val(m, "tenderd_crl_next_update_seconds") == parse_time(st["next_update"]) // 1000
