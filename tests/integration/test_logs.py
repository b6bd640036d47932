"""The log format (docs/operations.md "Logs"): every line tenderd writes is logfmt (or JSON
with log_format = json) with ts, level and msg first; operation lines carry their fields;
log_file is reopened on SIGUSR1 (logrotate); log_operations = off drops the operation
lines only."""
import json
import os
import re
import signal
import time

import logfmt
from tdclient import create_auction

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def some_traffic(server, unique):
    """Requests that log: hello, a create, bids accepted and refused, an unknown op with
    quotes and spaces in its id, a line that is not JSON, a refused handshake."""
    b = server.connect("buyer")
    s1 = server.connect("supplier1")
    a = create_auction(b, "Logs \"quoted\" " + unique, start_price="1000.00",
                       step_min="10.00", step_max="100.00")
    assert s1.ok("auction.bid", auction=a["id"], amount="990.00")["ok"]
    s1.error("auction.bid", auction=a["id"], amount="989.00")
    s1.send_raw(b'{"id":"a b=\\"c\\"\\\\ \\u00e9\\n","op":"x y"}\n')
    s1.read_msg()
    s1.send_raw(b"not json\n")
    s1.read_msg()
    b.ok("auction.cancel", auction=a["id"], reason="test over")
    return a


def wait_for(pred, timeout=10):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_every_line_is_logfmt(server, unique):
    a = some_traffic(server, unique)
    wait_for(lambda: "auction=%d cancelled" % a["id"] in server.log_text()
             or '"x y"' in server.log_text())
    lines = logfmt.tenderd_lines(server.log_text())
    assert len(lines) > 10
    for line in lines:
        f = logfmt.parse(line)
        assert list(f)[:3] == ["ts", "level", "msg"], line
        assert TS.match(f["ts"]) and f["level"] in ("debug", "info", "warn", "error"), line
    ops = logfmt.op_lines(server.log_text())
    (odd,) = [f for f in ops if f["op"] == "x?y"]
    assert odd["id"] == 'a b="c"\\ \u00e9\n' and odd["result"] == "unknown_op", odd
    (bad,) = [f for f in ops if f["result"] == "bad_json"]
    assert bad["op"] == "-" and bad["id"] == "-", bad
    # the messages of before keep their text, in msg
    assert any(logfmt.parse(l)["msg"] == "tenderd listening on 127.0.0.1:%d" % server.port
               for l in lines)
    assert any(logfmt.parse(l)["msg"].startswith("state rebuilt: ") for l in lines)


def test_json_every_line_parses(tenderd_factory, unique):
    server = tenderd_factory(log_format="json")
    some_traffic(server, unique)
    wait_for(lambda: '"result":"bad_json"' in server.log_text())
    lines = logfmt.tenderd_lines(server.log_text())
    assert len(lines) > 10
    objs = [json.loads(l) for l in lines]
    for o in objs:
        assert list(o)[:3] == ["ts", "level", "msg"], o
        assert TS.match(o["ts"]), o
    bids = [o for o in objs if o["msg"] == "op" and o["op"] == "auction.bid"]
    assert [o["result"] for o in bids] == ["ok", "bid_while_leading"], bids
    for o in bids:
        assert isinstance(o["conn"], int) and isinstance(o["participant"], int)
        assert isinstance(o["auction"], int) and isinstance(o["id"], int)
        assert isinstance(o["ms"], float) and o["ms"] >= 0 and o["role"] == "supplier"
    (odd,) = [o for o in objs if o.get("op") == "x?y"]
    assert odd["id"] == 'a b="c"\\ \u00e9\n', odd


def test_log_operations_off(tenderd_factory, unique):
    server = tenderd_factory(log_operations="off")
    some_traffic(server, unique)
    wait_for(lambda: "cancelled" in server.log_text())
    assert " msg=op " not in server.log_text()
    assert "accepted" in server.log_text()  # the other lines stay


def test_sigusr1_reopens_log_file(env, tenderd_factory, unique, tmp_path):
    path = tmp_path / "tenderd.log"
    server = tenderd_factory(start=False, log_file=str(path))
    server.start(ready=False)
    wait_for(lambda: path.exists() and '"db ready"' in path.read_text(), timeout=30)
    c = server.connect("supplier1")
    assert c.ok("hello", id="before-" + unique)["ok"]
    wait_for(lambda: "before-" + unique in path.read_text())
    # nothing on standard error but what the harness wrote
    assert "db ready" not in server.log_text()
    rotated = tmp_path / "tenderd.log.1"
    os.rename(path, rotated)
    assert c.ok("hello", id="between-" + unique)["ok"]
    wait_for(lambda: "between-" + unique in rotated.read_text())  # still the open file
    server.proc.send_signal(signal.SIGUSR1)
    wait_for(lambda: path.exists() and "log file reopened on SIGUSR1" in path.read_text())
    assert c.ok("hello", id="after-" + unique)["ok"]
    wait_for(lambda: "after-" + unique in path.read_text())
    assert "after-" + unique not in rotated.read_text()
    assert "before-" + unique not in path.read_text()
    for line in path.read_text().splitlines() + rotated.read_text().splitlines():
        logfmt.parse(line)
