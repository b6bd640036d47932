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
- events of one procurement arrive in commit order."""
import pytest

import procutil as pu

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
