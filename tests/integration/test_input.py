"""Malformed input: every protocol-level error code, the line limit, pipelining and the
idle timeout. A bad request never costs the connection (except an overlong line), and
never affects other connections."""
import json
import time

import tdclient
from tdclient import create_auction


def test_malformed_requests(server):
    c = server.connect("supplier1")
    other = server.connect("supplier2")

    c.send_raw(b'{"id":1,"op":\n')
    r = c.read_msg()
    assert r["ok"] is False and r["error"]["code"] == "bad_json", r
    assert r["id"] is None
    assert c.ok("hello")["participant"]["role"] == "supplier"

    c.send_raw(b"not json at all\n")
    assert c.read_msg()["error"]["code"] == "bad_json"
    c.send_raw(b'{"id":1,"op":"hello"} trailing\n')
    assert c.read_msg()["error"]["code"] == "bad_json"
    c.send_raw(b'{"id":1,"id":2,"op":"hello"}\n')  # duplicate keys
    assert c.read_msg()["error"]["code"] == "bad_json"

    for line in (b'[1,2,3]\n', b'"hello"\n', b'42\n', b'null\n'):
        c.send_raw(line)
        r = c.read_msg()
        assert r["ok"] is False and r["error"]["code"] == "bad_request", (line, r)

    c.send_raw(b'{"id":7}\n')
    r = c.read_msg()
    assert (r["id"], r["error"]["code"]) == (7, "bad_request"), r
    c.send_raw(b'{"id":8,"op":42}\n')
    r = c.read_msg()
    assert (r["id"], r["error"]["code"]) == (8, "bad_request"), r
    c.send_raw(b'{"id":1.5,"op":"hello"}\n')
    assert c.read_msg()["error"]["code"] == "bad_request"
    c.send_raw(b'{"id":{"a":1},"op":"hello"}\n')
    assert c.read_msg()["error"]["code"] == "bad_request"

    e = c.error("auction.frobnicate")
    assert e["code"] == "unknown_op", e
    e = c.error("auction.get")
    assert (e["code"], e.get("field")) == ("missing_field", "auction"), e
    e = c.error("auction.get", auction="1")
    assert (e["code"], e.get("field")) == ("bad_field", "auction"), e
    e = c.error("auction.get", auction=-1)
    assert (e["code"], e.get("field")) == ("bad_field", "auction"), e
    e = c.error("auction.get", auction=10 ** 12)
    assert e["code"] == "not_found", e
    e = c.error("auction.bid", auction=10 ** 12, amount="1.00")
    assert e["code"] == "not_found", e
    e = c.error("auction.list", state="open")
    assert (e["code"], e.get("field")) == ("bad_field", "state"), e

    # string ids are echoed, CR before LF is ignored, blank lines are skipped
    c.send_raw(b'\n\r\n{"id":"abc","op":"hello"}\r\n')
    r = c.read_msg()
    assert r["id"] == "abc" and r["ok"] is True, r

    # the connection and its neighbour are fine after all that
    assert c.ok("hello")["ok"]
    assert other.ok("hello")["ok"]
    c.no_event(0.1)


def test_field_types_on_create(server, unique):
    b = server.connect("buyer")
    base = {"title": "Types " + unique, "currency": "RUB", "start_price": "1000.00",
            "duration": 60}
    cases = [
        ({"title": None}, "missing_field", "title"),
        ({"title": 5}, "bad_field", "title"),
        ({"title": ""}, "bad_field", "title"),
        ({"title": "x" * 501}, "bad_field", "title"),
        ({"currency": "rub"}, "bad_field", "currency"),
        ({"currency": None}, "missing_field", "currency"),
        ({"start_price": 1000}, "bad_field", "start_price"),
        ({"start_price": "0.00"}, "bad_field", "start_price"),
        ({"duration": "60"}, "bad_field", "duration"),
        ({"duration": 0}, "bad_field", "duration"),
        ({"duration": 1.5}, "bad_field", "duration"),
        ({"step_min": "abc"}, "bad_field", "step_min"),
        ({"step_min": "10%", "step_max": "5%"}, "bad_field", "step_min"),
        ({"starts_at": "yesterday"}, "bad_field", "starts_at"),
        ({"starts_at": tdclient.format_time(tdclient.now_ms() - 600000)}, "bad_field",
         "starts_at"),
    ]
    for change, code, field in cases:
        req = dict(base)
        for k, v in change.items():
            if v is None:
                req.pop(k)
            else:
                req[k] = v
        e = b.error("auction.create", **req)
        assert (e["code"], e.get("field")) == (code, field), (change, e)
    # nothing was created by any of them
    titles = [a["title"] for a in b.ok("auction.list")["auctions"]]
    assert "Types " + unique not in titles


def test_line_too_long_closes_only_that_connection(server):
    c = server.connect("supplier1")
    other = server.connect("supplier2")
    assert c.ok("hello")["ok"]
    big = b'{"id":1,"op":"hello","pad":"' + b"x" * (70 * 1024) + b'"}\n'
    try:
        c.send_raw(big)
    except OSError:
        pass  # the server may close while we are still writing
    msgs = c.wait_closed(timeout=10)
    assert len(msgs) == 1, msgs
    assert msgs[0]["ok"] is False and msgs[0]["error"]["code"] == "line_too_long", msgs
    assert other.ok("hello")["ok"]
    # a line just under the limit is fine
    c2 = server.connect("supplier1")
    pad = 65536 - len(b'{"id":2,"op":"hello","pad":""}') - 1
    c2.send_raw(b'{"id":2,"op":"hello","pad":"' + b"y" * pad + b'"}\n')
    r = c2.read_msg()
    assert r["id"] == 2 and r["ok"] is True, r


def test_pipelined_requests_all_answered(server, unique):
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Pipeline " + unique, duration=120)
    c = server.connect("supplier1")
    lines = []
    expect = {}
    for i in range(300):
        rid = "r%d" % i
        if i % 3 == 0:
            lines.append({"id": rid, "op": "hello"})
            expect[rid] = True
        elif i % 3 == 1:
            lines.append({"id": rid, "op": "auction.get", "auction": a["id"]})
            expect[rid] = True
        else:
            # refused by the engine after queueing: exercises the commit queue
            lines.append({"id": rid, "op": "auction.bid", "auction": a["id"], "amount": "0.00"})
            expect[rid] = False
    # one valid bid at the end
    lines.append({"id": "last", "op": "auction.bid", "auction": a["id"], "amount": "995000.00"})
    expect["last"] = True
    # bids are signed (each with its own statement)
    c.send_raw("".join(c.signed_line(x["op"], x["id"], **{k: v for k, v in x.items()
                                                         if k not in ("id", "op")})
                       for x in lines))
    seen = {}
    deadline = time.monotonic() + 20
    while len(seen) < len(expect):
        try:
            m = c.read_msg(timeout=max(0.1, deadline - time.monotonic()))
        except tdclient.Timeout:
            missing = [x["id"] for x in lines if x["id"] not in seen]
            raise AssertionError("only %d of %d pipelined requests were answered; "
                                 "first unanswered: %s" % (len(seen), len(expect),
                                                           missing[:5])) from None
        assert "id" in m, m
        assert m["id"] not in seen, "two replies to %r" % m["id"]
        seen[m["id"]] = m
    assert set(seen) == set(expect)
    for rid, ok in expect.items():
        assert seen[rid]["ok"] is ok, seen[rid]
        if not ok:
            assert seen[rid]["error"]["code"] == "bid_not_positive", seen[rid]
    assert seen["last"]["bid"]["seq"] == 1
    assert buyer.ok("auction.get", auction=a["id"])["auction"]["bids"] == 1
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")


def test_idle_timeout(tenderd_factory):
    s = tenderd_factory(idle_timeout=2)
    idle = s.connect("supplier1")
    busy = s.connect("supplier2")
    t0 = time.monotonic()
    assert idle.ok("hello")["ok"]
    # the busy one keeps sending hello, the idle one says nothing
    msgs = None
    while time.monotonic() - t0 < 8:
        assert busy.ok("hello")["ok"]
        if idle.readable(0.5):
            msgs = idle.wait_closed(timeout=5)
            break
    assert msgs is not None, "the idle connection was not closed"
    elapsed = time.monotonic() - t0
    assert 1.5 <= elapsed <= 6, elapsed
    assert len(msgs) == 1 and msgs[0]["event"] == "error", msgs
    assert msgs[0]["error"]["code"] == "idle_timeout"
    assert busy.ok("hello")["ok"]
