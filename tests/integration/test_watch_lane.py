"""Procurement events take the same way to watchers as auction events (docs/architecture.md,
"Fan-out to watchers"): rendered from committed state once the batch has committed, held
back with the batch's replies and then written through the lane, behind whatever the
connection was sent before.

What a client sees of it:
- a change's reply comes before the event that change causes, on the connection that made
  it (as a bid's acknowledgement comes before the auction.update it causes): an event
  never shows a change whose reply has not arrived yet;
- a reply never overtakes an event sent before it: a procurement.get that shows a change
  arrives after the event that announced it;
- events of one procurement arrive in commit order;
- a procurement watcher that stops reading is dropped at the output limits, like an
  auction watcher (test_faults_slow_reader.py), and slows nobody down."""
import socket
import ssl
import threading
import time

import pytest

import faultutil as fu
import procutil as pu
import tdclient

QUESTIONS = 15


@pytest.fixture(scope="module")
def server(module_tenderd_factory):
    return module_tenderd_factory(max_questions_per_supplier=QUESTIONS + 5)


def read_until(client, done, timeout=10.0):
    """Every message of `client` in arrival order until done(messages) holds."""
    msgs = []
    while not done(msgs):
        msgs.append(client.read_msg(timeout=timeout))
    return msgs


def nquestions(msg):
    return len(msg["procurement"]["questions"])


def test_reply_before_the_event_it_causes(server, unique):
    buyer = server.connect("buyer")
    p = pu.create(buyer, "rfq", "Lane order " + unique, enquiry=60000, deadline=90000,
                  opening=90000)
    pid = p["id"]
    asker = server.connect("supplier1")
    asker.ok("procurement.watch", procurement=pid)
    # pipelined: several batches, each committing some of them
    rids = [asker.send("question.ask", procurement=pid, text="Question %d %s" % (i, unique))
            for i in range(QUESTIONS)]

    def done(msgs):
        replies = [m for m in msgs if "id" in m]
        events = [m for m in msgs if m.get("event") == "procurement.update"]
        return len(replies) == QUESTIONS and events and nquestions(events[-1]) == QUESTIONS

    msgs = read_until(asker, done)
    replies, last = 0, 0
    for m in msgs:
        if "id" in m:
            assert m["ok"] is True and m["id"] == rids[replies], m
            replies += 1
            continue
        assert m["event"] == "procurement.update" and m["reason"] == "changed", m
        assert m["procurement"]["id"] == pid
        n = nquestions(m)
        assert n <= replies, (
            "an event showing %d questions arrived after only %d replies: %r" % (
                n, replies, [("reply", x["id"]) if "id" in x else ("event", nquestions(x))
                             for x in msgs]))
        assert n >= last, "events out of commit order: %d after %d" % (n, last)
        last = n
    assert last == QUESTIONS


def test_reply_never_overtakes_an_event(server, unique):
    buyer = server.connect("buyer")
    p = pu.create(buyer, "rfq", "Lane overtaking " + unique, enquiry=60000, deadline=90000,
                  opening=90000)
    pid = p["id"]
    watcher = server.connect("supplier2")
    watcher.ok("procurement.watch", procurement=pid)
    asker = server.connect("supplier3")
    for i in range(QUESTIONS):
        asker.send("question.ask", procurement=pid, text="Question %d %s" % (i, unique))
    gets = [watcher.send("procurement.get", procurement=pid) for _ in range(3 * QUESTIONS)]

    def done(msgs):
        return sum(1 for m in msgs if "id" in m) == len(gets) and any(
            m.get("event") and nquestions(m) == QUESTIONS for m in msgs)

    msgs = read_until(watcher, done)
    announced, last = 0, 0
    for m in msgs:
        n = nquestions(m)
        if "id" in m:
            assert m["ok"] is True, m
            assert n <= announced, (
                "a reply showing %d questions overtook the event announcing them (%d so "
                "far)" % (n, announced))
            continue
        assert m["event"] == "procurement.update" and m["procurement"]["id"] == pid, m
        assert n >= last, "events out of commit order: %d after %d" % (n, last)
        announced = last = n
    assert announced == QUESTIONS
    for i in range(QUESTIONS):
        asker.reply(i + 1)



def without_time(view):
    return {k: v for k, v in view.items() if k != "server_time"}


def test_event_views_per_viewer_class(server, unique):
    """Events are rendered once per class of viewer: each watcher's event is exactly what
    procurement.get shows that watcher, sealed offers and "you" included."""
    buyer = server.connect("buyer")
    p = pu.create(buyer, "rfq", "Lane classes " + unique)
    pid = p["id"]
    names = ("supplier1", "supplier2", "supplier3", "supplier4", "supplier_b", "buyer",
             "buyer2", "operator")
    watchers = {n: server.connect(n) for n in names}
    for c in watchers.values():
        c.ok("procurement.watch", procurement=pid)
    pu.wait_tendering(buyer, p)
    watchers["supplier1"].ok("quote.submit", procurement=pid, lot=1, price="900.00")
    watchers["supplier2"].ok("quote.submit", procurement=pid, lot=1, price="850.00")
    for reason, ready in (("offers", lambda v: v["lots"][0]["offers"] == 2),
                          ("opened", lambda v: v["state"] == "opened")):
        for who, c in watchers.items():
            while True:
                ev, _ = pu.wait_update(c, pid, reason, timeout=8)
                if ready(ev["procurement"]):
                    break
            assert without_time(ev["procurement"]) == without_time(pu.get(c, pid)), who
        own = {who: [x["price"] for x in pu.get(watchers[who], pid).get("your_offers", [])]
               for who in names}
        assert own == {"supplier1": ["900.00"], "supplier2": ["850.00"], "supplier3": [],
                       "supplier4": [], "supplier_b": [], "buyer": [], "buyer2": [],
                       "operator": []}, own


def test_procurement_watcher_that_stops_reading(env, tenderd_factory, unique):
    """A procurement watcher that reads nothing is dropped at the output limits, like an
    auction watcher (test_faults_slow_reader.py); meanwhile the changes are answered at
    once and a watcher that reads gets every event, in commit order."""
    server = tenderd_factory(output_high_water=16384, stuck_timeout=2,
                             max_questions_per_supplier=1000)
    buyer = server.connect("buyer")
    # a long description makes every view (and every event) large
    p = pu.create(buyer, "rfq", "Stuck procurement watcher " + unique, enquiry=60000,
                  deadline=90000, opening=90000, description="y" * 15000)
    pid = p["id"]
    honest = server.connect("buyer2")
    honest.ok("procurement.watch", procurement=pid)

    # the stuck watcher: watches, reads nothing, and says hello a few thousand times so that
    # the kernel's socket buffers are full from the start
    sw = fu.tls_socket(server, env, "operator", rcvbuf=1024)
    port = sw.getsockname()[1]
    sw.sendall(b'{"id":1,"op":"procurement.watch","procurement":%d}\n' % pid)
    sw.settimeout(30)
    threading.Thread(target=lambda: send_quietly(sw, b"".join(
        b'{"id":%d,"op":"hello"}\n' % i for i in range(10, 8010))), daemon=True).start()

    asker = server.connect("supplier1")
    latencies, asked, why = [], 0, None
    t0 = time.monotonic()
    while time.monotonic() < t0 + 15 and why is None:
        t = time.monotonic()
        asker.ok("question.ask", procurement=pid, text="Question %d %s" % (asked, unique))
        latencies.append(time.monotonic() - t)
        asked += 1
        cid = fu.conn_id_of(server, port)
        why = fu.close_reason(server, cid) if cid else None
    assert why is not None, "the stuck watcher was not dropped after %d events" % asked
    assert why.startswith(("output overflow", "stuck")), why
    print("stuck procurement watcher dropped after %d events: %s" % (asked, why))
    for _ in range(3):  # and the changes go on after the drop
        asker.ok("question.ask", procurement=pid, text="After %d %s" % (asked, unique))
        asked += 1
    assert max(latencies) < 2.0, "a question waited %.2f s for its answer" % max(latencies)

    last = 0
    while last < asked:
        try:
            ev = honest.event(timeout=5, name="procurement.update")
        except tdclient.Timeout:
            raise AssertionError("the reading watcher saw %d of %d questions" % (last, asked))
        n = nquestions(ev)
        assert n >= last, "events out of commit order: %d after %d" % (n, last)
        last = n
    n, how = drain_to_eof(sw, 15)
    assert n < 8 * 1024 * 1024, n
    sw.close()


def send_quietly(sock, data):
    try:
        sock.sendall(data)
    except OSError:
        pass  # closed by the server meanwhile


def drain_to_eof(sock, timeout):
    """Read a stuck client's socket until the server has closed it: (bytes, how)."""
    deadline = time.monotonic() + timeout
    total = 0
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the server did not close the stuck connection (%d bytes)" % total
        sock.settimeout(min(left, 1.0))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
            return total, repr(e)
        if not data:
            return total, "EOF"
        total += len(data)
