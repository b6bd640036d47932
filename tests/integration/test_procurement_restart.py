"""Crash safety of procedures: offers acknowledged before kill -9 are all there after the
restart, the opening happens at its time with them (also when opening_at passed while tenderd
was down), and an opened procedure comes back with the same opening record."""
import time

import tdclient
from tdclient import parse_time

import procutil as pu
from procutil import get


def comparable(view):
    v = dict(view)
    v.pop("server_time")
    return v


def test_restart_between_submission_and_opening(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer = server.connect("buyer")
    s = {n: server.connect(n) for n in ("supplier1", "supplier2", "supplier3")}
    # P1 opens well after the restart, P2 while tenderd is down
    p1 = pu.create(buyer, "rfq", "Restart live " + unique, deadline=8500, opening=8500,
                   min_bids=2, lots=[pu.lot("Beds", "2000.00"), pu.lot("Linen", "500.00")])
    p2 = pu.create(buyer, "rfq", "Restart down " + unique, deadline=3500, opening=3500,
                   min_bids=2, lots=[pu.lot("Beds", "2000.00")])
    pu.wait_tendering(buyer, p1)
    pu.wait_tendering(buyer, p2)
    acks = {}
    for pid in (p1["id"], p2["id"]):
        acks[pid] = [
            s["supplier1"].ok("quote.submit", procurement=pid, lot=1, price="1900.00",
                              delivery_days=20),
            s["supplier2"].ok("quote.submit", procurement=pid, lot=1, price="1950.00"),
            s["supplier2"].ok("quote.submit", procurement=pid, lot=1, price="1800.00",
                              comment="revised"),
            s["supplier3"].ok("quote.submit", procurement=pid, lot=1, price="1850.00"),
        ]
    acks[p1["id"]].append(s["supplier1"].ok("quote.submit", procurement=p1["id"], lot=2,
                                            price="450.00"))
    s["supplier3"].ok("quote.withdraw", procurement=p2["id"], lot=1)
    s["supplier3"].ok("quote.submit", procurement=p2["id"], lot=1, price="1700.00")
    # P1 is amended: supplier1 and supplier2 re-confirm, supplier3 does not
    v = buyer.ok("procurement.amend", procurement=p1["id"], reason="Delivery address",
                 title=p1["title"], description="Deliver to building B",
                 enquiry_end=p1["enquiry_end"], submission_deadline=p1["submission_deadline"],
                 opening_at=p1["opening_at"], min_bids=2,
                 lots=[pu.lot("Beds", "2000.00"), pu.lot("Linen", "500.00")])["procurement"]
    assert v["version"] == 2
    s["supplier1"].ok("quote.confirm", procurement=p1["id"], lot=1)
    s["supplier1"].ok("quote.confirm", procurement=p1["id"], lot=2)
    s["supplier2"].ok("quote.confirm", procurement=p1["id"], lot=1)
    before = {}
    for pid in (p1["id"], p2["id"]):
        for n in ("buyer", "supplier1", "supplier2", "supplier3", "operator"):
            c = s.get(n) or (buyer if n == "buyer" else server.connect(n))
            before[pid, n] = comparable(get(c, pid))
    assert [l["offers"] for l in before[p1["id"], "buyer"]["lots"]] == [3, 1]
    assert before[p2["id"], "buyer"]["lots"][0]["offers"] == 3

    server.close_clients()
    server.kill9()
    # stay down until P2's opening has passed
    wait = (parse_time(p2["opening_at"]) - tdclient.now_ms()) / 1000.0 + 0.3
    assert wait < 3, "too slow to reach the kill before P2's opening (%.1f s left)" % wait
    assert parse_time(p2["opening_at"]) > tdclient.now_ms(), "killed after P2's opening"
    time.sleep(max(wait, 0))
    server.start()
    buyer = server.connect("buyer")
    s = {n: server.connect(n) for n in ("supplier1", "supplier2", "supplier3", "supplier4")}
    assert tdclient.now_ms() < parse_time(p1["opening_at"]) - 1000, "restart took too long"

    # P1: still tendering, every offer as it was, for its author and in the counts
    for n in ("buyer", "supplier1", "supplier2", "supplier3"):
        c = buyer if n == "buyer" else s[n]
        after = comparable(get(c, p1["id"]))
        assert after == before[p1["id"], n], (n, after, before[p1["id"], n])
    mine = get(s["supplier2"], p1["id"])["your_offers"]
    assert [(x["offer"], x["revision"], x["price"], x["submitted_at"], x.get("comment"),
             x["needs_confirm"]) for x in mine] == [
        (acks[p1["id"]][2]["offer"], 2, "1800.00", acks[p1["id"]][2]["at"], "revised",
         False)], mine
    mine = get(s["supplier3"], p1["id"])["your_offers"]
    assert [(x["offer"], x["status"], x["needs_confirm"]) for x in mine] == [
        (acks[p1["id"]][3]["offer"], "active", True)], mine
    assert get(buyer, p1["id"])["version"] == 2
    # offer ids go on, never reused
    a4 = s["supplier4"].ok("quote.submit", procurement=p1["id"], lot=1, price="1990.00")
    assert a4["offer"] > max(a["offer"] for v in acks.values() for a in v), a4
    watcher = server.connect("operator")
    watcher.ok("procurement.watch", procurement=p1["id"])

    # P2: opened while tenderd was down, recorded at its opening time, with the same offers
    v2 = pu.wait_opened(buyer, p2, watch_timeout=5)
    assert v2["state"] == "opened" and v2["opened_at"] == p2["opening_at"], v2
    a = acks[p2["id"]]
    assert [(r["rank"], r["offer"], r["price"]) for r in v2["lots"][0]["opening"]] == [
        (1, a[3]["offer"], "1700.00"), (2, a[2]["offer"], "1800.00"),
        (3, a[0]["offer"], "1900.00")], v2
    rows = env.psql("SELECT count(*), min(at) = '%s' FROM procurement_log WHERE "
                    "procurement_id = %d AND kind = 'opened'" % (p2["opening_at"], p2["id"]))
    assert rows == [["1", "t"]], rows

    # P1 opens at its time, by itself, with the offers of before the restart
    ev, _ = pu.wait_update(watcher, p1["id"], "opened", timeout=8)
    v1 = ev["procurement"]
    assert v1["opened_at"] == p1["opening_at"], v1
    a = acks[p1["id"]]
    # supplier3's unconfirmed quote did not open
    assert [(r["rank"], r["offer"], r["price"], r["submitted_at"])
            for r in v1["lots"][0]["opening"]] == [
        (1, a[2]["offer"], "1800.00", a[2]["at"]), (2, a[0]["offer"], "1900.00", a[0]["at"]),
        (3, a4["offer"], "1990.00", a4["at"])], v1
    assert v1["lots"][0]["offers"] == 3
    assert v1["lots"][1]["state"] == "unsuccessful"  # one quote, min_bids 2
    assert [(r["offer"], r["price"]) for r in v1["lots"][1]["opening"]] == [
        (a[4]["offer"], "450.00")]

    # an opened procedure survives kill -9 unchanged
    opened = {}
    for pid in (p1["id"], p2["id"]):
        for n in ("buyer", "supplier2", "operator"):
            c = buyer if n == "buyer" else (s.get(n) or server.connect(n))
            opened[pid, n] = comparable(get(c, pid))
    server.close_clients()
    server.kill9()
    server.start()
    for (pid, n), v in opened.items():
        with server.client(n) as c:
            after = comparable(get(c, pid))
        assert after == v, (pid, n, after, v)
    rows = env.psql("SELECT count(*) FROM procurement_log WHERE procurement_id IN (%d, %d) "
                    "AND kind = 'opened'" % (p1["id"], p2["id"]))
    assert rows == [["2"]], rows
    with server.client("buyer") as c:
        v = c.ok("award.decide", procurement=p1["id"], lot=1, offer=a[2]["offer"],
                 decision="award")["procurement"]
    assert v["state"] == "awarded", v
