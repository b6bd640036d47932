"""Helpers for the procurement integration tests: requests timed from the server's clock,
bounded waits for the clock transitions, and the evaluation formula of docs/procedures.md
redone independently in integers."""
import time

import tdclient
from tdclient import format_time, parse_time

CURRENCY = "RUB"

# timeline used by most tests, in ms from the server's "now" at creation
ENQUIRY = 1500
DEADLINE = 4000
OPENING = 4000


def srv_now(client):
    """The server's clock in epoch ms (from hello)."""
    return tdclient.server_now(client)[0]


def item(description="Item", quantity="10", unit="pcs", classification="30197630-1"):
    return {"description": description, "quantity": quantity, "unit": unit,
            "classification": classification}


def lot(title="Lot", max_price="1000.00", criteria=None, items=None):
    out = {"title": title, "max_price": max_price, "items": items or [item(title + " item")]}
    if criteria is not None:
        out["criteria"] = criteria
    return out


def create(buyer, kind, title, lots=None, enquiry=ENQUIRY, deadline=DEADLINE, opening=OPENING,
           min_bids=1, publish=True, **extra):
    """procurement.create (and publish) with deadlines relative to the server's clock;
    returns the procurement object of the last reply."""
    now = srv_now(buyer)
    req = {"kind": kind, "title": title, "currency": CURRENCY,
           "description": "Integration test procurement " + title,
           "enquiry_end": format_time(now + enquiry),
           "submission_deadline": format_time(now + deadline),
           "opening_at": format_time(now + opening), "min_bids": min_bids,
           "lots": lots or [lot()]}
    req.update(extra)
    p = buyer.ok("procurement.create", **req)["procurement"]
    assert p["state"] == "draft" and p["kind"] == kind and p["title"] == title, p
    assert p["version"] == 1 and p["published_at"] is None, p
    assert p["enquiry_end"] == req["enquiry_end"], p
    assert p["submission_deadline"] == req["submission_deadline"], p
    assert p["opening_at"] == req["opening_at"], p
    if publish:
        p = buyer.ok("procurement.publish", procurement=p["id"])["procurement"]
        assert p["state"] == "published", p
        assert p["published_at"] is not None
    return p


def get(client, pid):
    return client.ok("procurement.get", procurement=pid)["procurement"]


def wait_for(client, pid, pred, timeout=10.0, interval=0.05, what="condition"):
    """Poll procurement.get until pred(view) holds; returns the view."""
    deadline = time.monotonic() + timeout
    while True:
        v = get(client, pid)
        if pred(v):
            return v
        if time.monotonic() > deadline:
            raise AssertionError("procurement %d: no %s within %.1f s; last view %r" % (
                pid, what, timeout, v))
        time.sleep(interval)


def wait_state(client, pid, state, timeout=10.0):
    return wait_for(client, pid, lambda v: v["state"] == state, timeout, what="state " + state)


def sleep_until(client, at_ms, max_wait=10.0):
    """Sleep until the server's clock reads at_ms."""
    tdclient.sleep_until_server(client, at_ms, max_wait)


def wait_tendering(client, p, max_wait=6.0):
    """Wait for the enquiry period to end; returns the view in state tendering."""
    sleep_until(client, parse_time(p["enquiry_end"]) + 5, max_wait)
    v = wait_state(client, p["id"], "tendering", timeout=5)
    return v


def wait_update(client, pid, reason, timeout=10.0):
    """The next procurement.update event with `reason` for procurement pid (others are
    dropped and returned with it)."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("%s: no procurement.update %r for %d; saw %r" % (
                client.name, reason, pid, [(e.get("reason"), e["procurement"]["id"])
                                           for e in seen]))
        try:
            ev = client.event(timeout=left, name="procurement.update")
        except tdclient.Timeout:
            continue
        if ev["procurement"]["id"] == pid and ev["reason"] == reason:
            return ev, seen
        seen.append(ev)


def wait_opened(client, p, watch_timeout=8.0):
    """Wait (polling) until the procedure is opened; returns the view."""
    return wait_for(client, p["id"], lambda v: v["opened_at"] is not None,
                    timeout=watch_timeout + max(0, (parse_time(p["opening_at"]) -
                                                    tdclient.now_ms()) / 1000.0),
                    what="opening")


# ---- money and the evaluation formula (docs/procedures.md) ----

def minor(amount, exp=2):
    """"850.50" -> 85050."""
    whole, _, frac = amount.partition(".")
    frac = (frac + "0" * exp)[:exp]
    return int(whole) * 10 ** exp + int(frac or "0")


def major(value, exp=2):
    return "%d.%0*d" % (value // 10 ** exp, exp, value % 10 ** exp)


def points(hundredths):
    """Hundredths of a point as the wire shows them: 8283 -> "82.83"."""
    return "%d.%02d" % (hundredths // 100, hundredths % 100)


def rdiv(a, b):
    """a / b rounded half up (a >= 0, b > 0), as the documented (2a + b) / (2b)."""
    return (2 * a + b) // (2 * b)


def weight_bp(text):
    return minor(text, 2)


def evaluate(criteria, offers):
    """Score offers by the documented formula.

    criteria: [{"code", "kind", "weight", "min", "max", "better"}] as given at creation
    (weights in percent strings); offers: {key: {"price": "900.00", "values": {...},
    "scores": {...}}} of the ranked offers. Returns {key: (breakdown, total)} with breakdown a
    list of {"criterion", "score", "weighted"} strings like the opening record's."""
    lowest = min(minor(o["price"]) for o in offers.values())
    out = {}
    for key, o in offers.items():
        bd = []
        total = 0
        for c in criteria:
            kind = c["kind"]
            code = "price" if kind == "price" else c["code"]
            if kind == "price":
                s = rdiv(10000 * lowest, minor(o["price"]))
            elif kind == "stated":
                x = o["values"][code]
                span = c["max"] - c["min"]
                d = (x - c["min"]) if c["better"] == "higher" else (c["max"] - x)
                s = rdiv(10000 * d, span)
            else:
                s = rdiv(10000 * o["scores"][code], c["max"])
            w = rdiv(s * weight_bp(c["weight"]), 10000)
            total += w
            bd.append({"criterion": code, "score": points(s), "weighted": points(w)})
        out[key] = (bd, points(total))
    return out


def walk_strings(value):
    """Every string (keys included) in a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_strings(v)
    elif isinstance(value, str):
        yield value


def assert_sealed(view, prices, who, own=()):
    """No price of `prices` appears anywhere in the view except in `own` (the viewer's own
    offers), and nothing of the opening is shown."""
    assert view["opened_at"] is None, (who, view)
    for l in view["lots"]:
        assert "opening" not in l, (who, l)
    rest = dict(view)
    rest.pop("your_offers", None)
    strings = set(walk_strings(rest))
    for price in prices:
        assert price not in strings, "%s sees the sealed price %s: %r" % (who, price, view)
    for o in view.get("your_offers") or []:
        assert o["price"] in own, "%s sees an offer that is not its own: %r" % (who, o)
