"""Resuming a watch (docs/protocol.md, auction.watch and procurement.watch with `since`): every
AUCTION and PROCUREMENT object carries `seq`, the change-log position of its last committed
change, in replies and events alike; it survives a restart (read from the log); a watch with
`since` says whether anything changed after it."""
import faultutil as fu
import procutil as pu


def _event_of(c, name, key, oid):
    """The next `name` event about object `oid` (others skipped)."""
    while True:
        ev = c.event(timeout=10, name=name)
        if ev[key]["id"] == oid:
            return ev


def test_auction_seq_and_since(server, env, unique):
    (a,) = fu.create_auctions(server, env, "resume " + unique, [{}])
    aid = a["id"]
    with server.client("supplier1") as s1, server.client("supplier2") as w:
        seq0 = s1.ok("auction.get", auction=aid)["auction"]["seq"]
        assert isinstance(seq0, int) and seq0 > 0 and a["seq"] == seq0
        # a watch with since: changed says whether seq is above it
        r = w.ok("auction.watch", auction=aid, since=seq0)
        assert r["changed"] is False and r["auction"]["seq"] == seq0
        r = w.ok("auction.watch", auction=aid, since=seq0 - 1)
        assert r["changed"] is True and r["auction"]["seq"] == seq0
        # without since there is no changed
        assert "changed" not in w.ok("auction.watch", auction=aid)
        bid = s1.ok("auction.bid", auction=aid, amount="999999.00")
        ev = _event_of(w, "auction.update", "auction", aid)
        seq1 = ev["auction"]["seq"]
        assert seq1 > seq0 and seq1 >= bid["receipt"]["seq"], (seq0, seq1, bid)
        assert s1.ok("auction.get", auction=aid)["auction"]["seq"] == seq1
        # a refused bid is recorded in the log too: seq moves, without an event
        assert s1.error("auction.bid", auction=aid, amount="999999.00")["code"] == \
            "bid_not_below_own"
        seq2 = s1.ok("auction.get", auction=aid)["auction"]["seq"]
        assert seq2 > seq1
        w.no_event(within=0.5)
        seq1 = seq2
        for bad in (-1, "5", 1.5):
            e = w.error("auction.watch", auction=aid, since=bad)
            assert e["code"] == "bad_field" and e["field"] == "since", e
    # the seq survives a restart: it is read from the log
    server.restart()
    with server.client("supplier2") as w:
        r = w.ok("auction.watch", auction=aid, since=seq1)
        assert r["changed"] is False and r["auction"]["seq"] == seq1
    fu.cancel_auctions(server, [aid])


def test_procurement_seq_and_since(server, env, unique):
    with server.client("buyer") as b, server.client("supplier1") as w:
        p = pu.create(b, "rfq", "resume " + unique)
        pid = p["id"]
        assert p["seq"] > 0
        r = w.ok("procurement.watch", procurement=pid, since=p["seq"])
        assert r["changed"] is False and r["procurement"]["seq"] == p["seq"]
        b.ok("procurement.cancel", procurement=pid, reason="test of seq")
        ev = _event_of(w, "procurement.update", "procurement", pid)
        assert ev["procurement"]["seq"] > p["seq"], ev
        r = w.ok("procurement.watch", procurement=pid, since=p["seq"])
        assert r["changed"] is True and r["procurement"]["seq"] == ev["procurement"]["seq"]
    server.restart()
    with server.client("supplier1") as w:
        r = w.ok("procurement.watch", procurement=pid, since=ev["procurement"]["seq"])
        assert r["changed"] is False
