"""Watches are bounded and leave with their connection: max_watchers_per_procedure and
max_watches_per_conn refuse with limit_exceeded naming the limit, and a closed connection
frees its slots in every watch list (auctions and procurements alike) at once, so a
watch/disconnect cycle never makes a list grow."""
import time

import pytest

import procutil
import tdclient

WATCHERS = 3
WATCHES = 2


@pytest.fixture
def limited(tenderd_factory):
    return tenderd_factory(max_watchers_per_procedure=WATCHERS, max_watches_per_conn=WATCHES)


def targets(server, unique):
    """(op, field, id) of one auction and one published procurement."""
    buyer = server.connect("buyer")
    a = tdclient.create_auction(buyer, "Watched auction " + unique, duration=600)
    p = procutil.create(buyer, "rfq", "Watched rfq " + unique, enquiry=600000, deadline=700000,
                        opening=700000)
    return [("auction", "auction", a["id"]), ("procurement", "procurement", p["id"])]


def watch_when_free(server, name, op, field, tid, timeout=5.0):
    """Watch once a slot is free: a closed connection's slots are freed when the server
    sees the close, which may come a moment after the client's."""
    deadline = time.monotonic() + timeout
    while True:
        c = server.client(name)
        r = c.request(op + ".watch", **{field: tid})
        if r.get("ok"):
            return c
        c.close()
        assert r["error"]["code"] == "limit_exceeded", r
        assert time.monotonic() < deadline, "no slot freed: %r" % r
        time.sleep(0.05)


@pytest.mark.parametrize("kind", [0, 1], ids=["auction", "procurement"])
def test_watchers_per_procedure_limit_and_slots_freed(limited, unique, kind):
    op, field, tid = targets(limited, unique)[kind]
    holders = []
    for name in ("supplier1", "supplier2", "supplier3"):
        c = limited.connect(name)
        c.ok(op + ".watch", **{field: tid})
        holders.append(c)
    extra = limited.connect("supplier4")
    e = extra.error(op + ".watch", **{field: tid})
    assert e["code"] == "limit_exceeded", e
    assert "max_watchers_per_procedure (%d)" % WATCHERS in e["message"], e
    # watching again on a connection that already watches takes no second slot
    holders[0].ok(op + ".watch", **{field: tid})
    # unwatch frees a slot at once
    holders[0].ok(op + ".unwatch", **{field: tid})
    extra.ok(op + ".watch", **{field: tid})
    e = holders[0].error(op + ".watch", **{field: tid})
    assert e["code"] == "limit_exceeded", e
    # a disconnect frees its slot: cycle through it many times at the limit
    holders[1].close()
    for i in range(300):
        c = watch_when_free(limited, "supplier%d" % (1 + i % 4), op, field, tid)
        c.close()
    # the list did not grow: the remaining watchers plus one new one fill it exactly
    last = watch_when_free(limited, "supplier2", op, field, tid)
    limited.clients.append(last)
    e = limited.connect("supplier4").error(op + ".watch", **{field: tid})
    assert e["code"] == "limit_exceeded", e


def test_watches_per_connection_limit(limited, unique):
    (aop, af, aid), (pop, pf, pid) = targets(limited, unique)
    buyer = limited.connect("buyer")
    a2 = tdclient.create_auction(buyer, "Third target " + unique, duration=600)
    c = limited.connect("supplier1")
    c.ok("auction.watch", auction=aid)
    c.ok("procurement.watch", procurement=pid)
    e = c.error("auction.watch", auction=a2["id"])
    assert e["code"] == "limit_exceeded", e
    assert "max_watches_per_conn (%d)" % WATCHES in e["message"], e
    c.ok("auction.watch", auction=aid)  # already watched: fine
    c.ok("procurement.unwatch", procurement=pid)
    c.ok("auction.watch", auction=a2["id"])
    e = c.error("procurement.watch", procurement=pid)
    assert e["code"] == "limit_exceeded", e
    # the limit is per connection: another connection of the same certificate may watch
    limited.connect("supplier1").ok("procurement.watch", procurement=pid)


def test_events_reach_watchers_after_churn(limited, unique):
    """After many watch/disconnect cycles, the watchers still connected get their events
    and the ones gone are not in the way."""
    (aop, af, aid), _ = targets(limited, unique)
    stay = limited.connect("supplier2")
    stay.ok("auction.watch", auction=aid)
    for i in range(100):
        c = watch_when_free(limited, "supplier3", "auction", "auction", aid)
        c.close()
    bidder = limited.connect("supplier1")
    bidder.ok("auction.bid", auction=aid, amount="990000.00")
    ev = stay.event(name="auction.update")
    assert ev["auction"]["id"] == aid and ev["auction"]["bids"] == 1, ev
