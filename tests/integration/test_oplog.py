"""One log line per operation, when its reply is sent (writes: after the commit), in the
format of docs/operations.md: conn=ID cert=FP op=NAME id=REQID result=ok|CODE ms=X.X."""
import re
import time

import procutil as pu
from tdclient import create_auction

LINE = re.compile(r"^\S+ info conn=(\d+) cert=([0-9a-f]{16}|-) op=(\S+) id=(\S+) "
                  r"result=(\S+) ms=(\d+\.\d)$")


def op_lines(server):
    return [LINE.match(l).groups() for l in server.log_text().splitlines() if LINE.match(l)]


def find(server, op, rid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        found = [g for g in op_lines(server) if g[2] == op and g[3] == rid]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_every_reply_is_logged(server, env, unique):
    b = server.connect("buyer")
    s1 = server.connect("supplier1")
    fp = env.fingerprint("supplier1")[:16]
    bfp = env.fingerprint("buyer")[:16]

    rid = s1.send("hello", id="hello-" + unique)
    assert s1.reply(rid)["ok"]
    (g,) = find(server, "hello", '"hello-%s"' % unique)
    assert g[1] == fp and g[4] == "ok", g

    a = create_auction(b, "Log " + unique, start_price="1000.00", step_min="10.00",
                       step_max="100.00")
    rid = s1.send("auction.bid", auction=a["id"], amount="999.00")
    assert s1.reply(rid)["error"]["code"] == "bid_step_too_small"
    (g,) = find(server, "auction.bid", str(rid))
    assert g[1] == fp and g[4] == "bid_step_too_small", g
    rid = s1.send("auction.bid", auction=a["id"], amount="990.00")
    assert s1.reply(rid)["ok"]
    (g,) = find(server, "auction.bid", str(rid))
    assert g[4] == "ok", g
    rid = s1.send("auction.get")
    assert s1.reply(rid)["error"]["code"] == "missing_field"
    assert find(server, "auction.get", str(rid))[0][4] == "missing_field"

    # procurement operations and their refusals
    p = pu.create(b, "rfq", "Log " + unique, enquiry=60000, deadline=120000, opening=120000)
    assert [g for g in op_lines(server) if g[2] == "procurement.publish" and g[1] == bfp
            and g[4] == "ok"]
    rid = s1.send("quote.submit", procurement=p["id"], lot=1, price="900.00")
    assert s1.reply(rid)["error"]["code"] == "submissions_not_open"
    assert find(server, "quote.submit", str(rid))[0][4] == "submissions_not_open"
    rid = b.send("procurement.get", procurement=p["id"])
    assert b.reply(rid)["ok"]
    assert find(server, "procurement.get", str(rid))[0][4] == "ok"

    # lines that are not requests at all, and unknown operations
    s1.send_raw(b"not json\n")
    s1.read_msg()
    s1.send_raw(b'{"id":"x y","op":"no such op"}\n')
    s1.read_msg()
    assert find(server, "-", "-")[0][4] == "bad_json"
    assert find(server, "no?such?op", '"x?y"')[0][4] == "unknown_op"
    b.ok("auction.cancel", auction=a["id"], reason="test over")
    b.ok("procurement.cancel", procurement=p["id"], reason="test over")
