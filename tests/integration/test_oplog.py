"""One log line per operation, when its reply is sent (writes: after the commit), in the
format of docs/operations.md: msg=op op=NAME conn=ID participant=ID role=ROLE cert=FP
id=REQID [auction=ID|procurement=ID] result=ok|CODE ms=X.XXX."""
import re
import time

import logfmt
import procutil as pu
from tdclient import create_auction

KEYS = ["ts", "level", "msg", "op", "conn", "participant", "role", "cert", "id"]


def find(server, op, rid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        found = [f for f in logfmt.op_lines(server.log_text())
                 if f["op"] == op and f["id"] == str(rid)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_every_reply_is_logged(server, env, unique):
    b = server.connect("buyer")
    s1 = server.connect("supplier1")
    fp = env.fingerprint("supplier1")[:16]
    bfp = env.fingerprint("buyer")[:16]

    rid = s1.send("hello", id="hello-" + unique)
    hello = s1.reply(rid)
    assert hello["ok"]
    (g,) = find(server, "hello", "hello-" + unique)
    assert list(g)[:len(KEYS)] == KEYS, g
    assert g["level"] == "info" and g["cert"] == fp and g["result"] == "ok", g
    assert g["role"] == "supplier" and g["participant"] == str(hello["participant"]["id"]), g
    assert re.fullmatch(r"\d+\.\d{3}", g["ms"]), g

    a = create_auction(b, "Log " + unique, start_price="1000.00", step_min="10.00",
                       step_max="100.00")
    rid = s1.send("auction.bid", auction=a["id"], amount="999.00")
    assert s1.reply(rid)["error"]["code"] == "bid_step_too_small"
    (g,) = find(server, "auction.bid", rid)
    assert g["cert"] == fp and g["result"] == "bid_step_too_small", g
    assert g["auction"] == str(a["id"]), g
    rid = s1.send("auction.bid", auction=a["id"], amount="990.00")
    assert s1.reply(rid)["ok"]
    (g,) = find(server, "auction.bid", rid)
    assert g["result"] == "ok" and g["auction"] == str(a["id"]), g
    assert list(g)[-2:] == ["result", "ms"], g
    rid = s1.send("auction.get")
    assert s1.reply(rid)["error"]["code"] == "missing_field"
    assert find(server, "auction.get", rid)[0]["result"] == "missing_field"
    # a creation names what it created
    assert [g for g in logfmt.op_lines(server.log_text())
            if g["op"] == "auction.create" and g.get("auction") == str(a["id"])]

    # procurement operations and their refusals
    p = pu.create(b, "rfq", "Log " + unique, enquiry=60000, deadline=120000, opening=120000)
    assert [g for g in logfmt.op_lines(server.log_text()) if g["op"] == "procurement.publish"
            and g["cert"] == bfp and g["result"] == "ok" and g["role"] == "buyer"
            and g["procurement"] == str(p["id"])]
    rid = s1.send("quote.submit", procurement=p["id"], lot=1, price="900.00")
    assert s1.reply(rid)["error"]["code"] == "submissions_not_open"
    (g,) = find(server, "quote.submit", rid)
    assert g["result"] == "submissions_not_open" and g["procurement"] == str(p["id"]), g
    rid = b.send("procurement.get", procurement=p["id"])
    assert b.reply(rid)["ok"]
    assert find(server, "procurement.get", rid)[0]["result"] == "ok"

    # lines that are not requests at all, and unknown operations (shown as sent, quoted)
    s1.send_raw(b"not json\n")
    s1.read_msg()
    s1.send_raw(b'{"id":"x y=\\"z\\"","op":"no such op"}\n')
    s1.read_msg()
    assert find(server, "-", "-")[0]["result"] == "bad_json"
    assert find(server, "no?such?op", 'x y="z"')[0]["result"] == "unknown_op"
    b.ok("auction.cancel", auction=a["id"], reason="test over")
    b.ok("procurement.cancel", procurement=p["id"], reason="test over")
