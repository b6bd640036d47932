"""docs/protocol.md against the server: every example request/reply pair of the document
(inline "`{...}` → `{...}`" and "> {...}" / "< {...}" lines) that can be set up is replayed,
with the ids of the document mapped to auctions, procurements and participants made for it
and its times moved to the future; the real reply must have the example's top-level keys,
the same "error" keys and code, and, for a refusal, the example's message (times and ids
aside). Examples that cannot be replayed (placeholders such as {LOT 1 as before}, limits
that take thousands of requests) are counted as skipped; most must replay."""
import base64
import datetime
import json
import re
import time

import procutil as pu
import tdclient
from conftest import ROOT
from tdclient import format_time

DOC = ROOT / "docs" / "protocol.md"
TIME_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)"

# who sends an operation (conftest.PARTICIPANTS); anything else is sent by supplier1
SENDER = {"auction.create": "buyer", "auction.cancel": "buyer", "procurement.create": "buyer",
          "procurement.publish": "buyer", "procurement.complete": "buyer",
          "procurement.amend": "buyer", "procurement.cancel": "buyer",
          "question.answer": "buyer", "bid.score": "buyer", "award.decide": "buyer",
          "participant.register": "operator", "participant.suspend": "operator",
          "participant.reinstate": "operator", "organization.suspend": "operator",
          "organization.reinstate": "operator", "stats": "operator",
          "certificate.add": "operator", "certificate.list": "operator",
          "auction.pause": "operator", "auction.resume": "operator",
          "auction.extend": "operator"}
# refusals of a statement or signature that an example cannot show with its own bytes
SIGNATURE_REFUSALS = {"bad_statement", "statement_mismatch", "stale_statement", "nonce_reused",
                      "bad_signature", "wrong_signer", "signer_invalid"}
# objects whose keys are data, not field names
DATA_MAPS = {"by_addr", "values", "scores", "by_op"}


def examples(text):
    """(section, request text, reply text) of every example pair, in document order."""
    out = []
    section = ""
    lines = text.splitlines()
    i = 0
    pending = None
    for i, line in enumerate(lines):
        if line.startswith("#"):
            section = line.lstrip("# ").strip()
            pending = None
        s = line.strip()
        if s.startswith("> {"):
            pending = s[2:]
        elif s.startswith("< {") and pending is not None:
            reply = s[2:]
            j = i + 1
            while j < len(lines) and lines[j].startswith("   ") and \
                    not lines[j].strip().startswith(("<", ">")):
                reply += lines[j].strip()
                j += 1
            out.append((section, pending, reply))
            pending = None
        elif s.startswith("< "):
            pending = None
    flat = "\n".join(l for l in lines)
    # inline pairs, with the section each starts in
    pos_section = []
    off = 0
    section = ""
    for line in lines:
        if line.startswith("#"):
            section = line.lstrip("# ").strip()
        pos_section.append((off, section))
        off += len(line) + 1
    for m in re.finditer(r"`(\{[^`]*\})`\s*→\s*`(\{[^`]*\})`", flat):
        sec = [s for o, s in pos_section if o <= m.start()][-1]
        out.append((sec, m.group(1), m.group(2)))
    return out


def shape(text):
    """The keys of the objects of an example, read leniently (placeholders such as
    {AUCTION} and "..." are allowed): {path: keys}, a path being the keys leading to an
    object ("[]" for an element of an array; () for the top level), the paths of the
    objects that are not shown whole (a "..." or a placeholder in them), and the string
    values of "error"."""
    keys = {}
    partial = set()
    stack = []           # path of the container being read
    kinds = []           # "{" or "[" per open container
    last = None          # the last key read in the innermost object
    lasts = []
    strings = {}
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            token = json.loads(text[i:j + 1])
            k = j + 1
            while k < len(text) and text[k] == " ":
                k += 1
            if k < len(text) and text[k] == ":":
                keys.setdefault(tuple(stack[1:]), set()).add(token)
                last = token
            elif tuple(stack[1:]) == ("error",) and last:
                strings[last] = token
            i = j + 1
            continue
        if c in "{[":
            if kinds:
                stack.append("[]" if kinds[-1] == "[" else last)
            else:
                stack.append(None)
            kinds.append(c)
            lasts.append(last)
            last = None
            if c == "{":
                keys.setdefault(tuple(stack[1:]), set())
        elif c in "}]":
            stack.pop()
            kinds.pop()
            last = lasts.pop()
        elif kinds and kinds[-1] == "{" and (text.startswith("...", i) or
                                             re.match(r"[A-Z]{3,}", text[i:])):
            partial.add(tuple(stack[1:]))
            m = re.match(r"\.\.\.|[A-Z][A-Z0-9 ]*", text[i:])
            i += len(m.group(0))
            continue
        i += 1
    return keys, partial, strings


def objects_at(value, path):
    """The objects of a real reply at an example path."""
    if not path:
        return [value] if isinstance(value, dict) else []
    head, rest = path[0], path[1:]
    if head == "[]":
        items = value if isinstance(value, list) else []
    else:
        items = [value.get(head)] if isinstance(value, dict) else []
    out = []
    for v in items:
        out += objects_at(v, rest)
    return out


def time_ms(text):
    """Epoch ms of an RFC 3339 time, with or without a fraction or an offset."""
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def message_pattern(msg):
    """A regular expression for an example message: its times stand for any time."""
    parts = re.split(TIME_RE, msg)
    return "^" + TIME_RE.join(re.escape(p) for p in parts) + "$"


class Replay:
    """The state of one section's examples: the objects its ids stand for."""

    def __init__(self, env, server, unique, n):
        self.env = env
        self.server = server
        self.tag = "%s-%d" % (unique, n)
        self.clients = {}
        self.auctions = {}
        self.procs = {}
        self.questions = {}
        self.best_950 = set()

    def client(self, name):
        if name not in self.clients:
            self.clients[name] = self.server.client(name)
        return self.clients[name]

    def auction(self, doc_id, code):
        """The auction standing for the document's auction `doc_id`."""
        key = (doc_id, code == "auction_not_started")
        if key not in self.auctions:
            fields = {"duration": 600, "extension_window": 0, "extension": 0}
            if code == "auction_not_started":
                fields["starts_at"] = format_time(tdclient.now_ms() + 3600000)
            a = tdclient.create_auction(self.client("buyer"), "Docs " + self.tag, **fields)
            self.auctions[key] = a["id"]
        aid = self.auctions[key]
        if code in ("bid_step_too_small", "bid_step_too_large") and aid not in self.best_950:
            self.client("supplier2").ok("auction.bid", auction=aid, amount="950000.00")
            self.best_950.add(aid)
        return aid

    def procurement(self, doc_id, state, documents=False):
        """A procurement (RFQ, one lot of max_price 1000.00) in `state`."""
        key = (doc_id, state, documents)
        if key not in self.procs:
            buyer = self.client("buyer")
            extra = {}
            if documents:
                extra["documents"] = [{"name": "spec.txt", "media_type": "text/plain",
                                       "content": base64.b64encode(b"hello world").decode()}]
            if state == "tendering":
                p = pu.create(buyer, "rfq", "Docs " + self.tag, enquiry=1200,
                              deadline=600000, opening=600000, **extra)
                pu.wait_state(buyer, p["id"], "tendering")
            else:
                p = pu.create(buyer, "rfq", "Docs " + self.tag, enquiry=600000,
                              deadline=900000, opening=900000,
                              publish=(state == "published"), **extra)
            self.procs[key] = p
        return self.procs[key]

    def register(self, name):
        """A fresh participant in a fresh organization; returns the register reply."""
        cert = "docs%s" % name
        self.env.make_cert(cert)
        pem = open(self.env.cert(cert)).read()
        return self.client("operator").ok(
            "participant.register", organization="Docs Org %s" % name, role="supplier",
            name="Docs %s" % name, certificate=pem)

    def shift_times(self, req):
        """Every time of the request moved so that the earliest is an hour from now."""
        times = [v for v in req.values() if isinstance(v, str) and re.fullmatch(TIME_RE, v)]
        if not times:
            return
        base = min(time_ms(t) for t in times)
        now = tdclient.now_ms() + 3600000
        for k, v in list(req.items()):
            if v in times:
                req[k] = format_time(time_ms(v) - base + now)

    def prepare(self, req, code):
        """Adapt the example request to objects that exist; None when it cannot be."""
        op = req["op"]
        if "auction" in req and isinstance(req["auction"], int):
            req["auction"] = self.auction(req["auction"], code)
        if op == "participant.register":
            # the refusal shown is of a certificate without the required policy
            name = ("docsnopol" if code == "bad_field" else "docsreg") + self.tag
            self.env.make_cert(*(["--no-policy", name] if code == "bad_field" else [name]))
            req["certificate"] = open(self.env.cert(name)).read()
            req["organization"] += " " + self.tag
        elif op == "certificate.add":
            req["participant"] = self.register("c" + self.tag)["participant"]["id"]
            name = ("docscnopol" if code == "bad_field" else "docscert") + self.tag
            self.env.make_cert(*(["--no-policy", name] if code == "bad_field" else [name]))
            req["certificate"] = open(self.env.cert(name)).read()
        elif op == "certificate.list":
            req["participant"] = self.register("l" + self.tag)["participant"]["id"]
        elif op in ("participant.suspend", "participant.reinstate"):
            req["participant"] = self.register("p" + self.tag)["participant"]["id"]
        elif op in ("organization.suspend", "organization.reinstate"):
            req["organization"] = self.register("o" + self.tag)["organization"]["id"]
        elif op == "document.get":
            p = self.procurement(req["procurement"], "published", documents=True)
            req["procurement"] = p["id"]
            req["document"] = p["documents"][0]["id"]
        elif op == "procurement.create":
            self.shift_times(req)
            req["title"] += " " + self.tag
        elif op == "procurement.publish":
            req["procurement"] = self.procurement(req["procurement"], "draft")["id"]
        elif op in ("procurement.get", "procurement.watch", "procurement.unwatch",
                    "question.ask"):
            req["procurement"] = self.procurement(req["procurement"], "published")["id"]
        elif op == "question.answer":
            p = self.procurement(req["procurement"], "published")
            req["procurement"] = p["id"]
            if req["question"] not in self.questions:
                return None
            req["question"] = self.questions[req["question"]]
        elif op == "quote.submit":
            state = "published" if code == "submissions_not_open" else "tendering"
            p = self.procurement(req["procurement"], state)
            req["procurement"] = p["id"]
            req["lot"] = p["lots"][0]["id"]
        elif op in ("auction.create", "auction.get", "auction.watch", "auction.unwatch",
                    "auction.cancel", "auction.bid", "auction.list", "procurement.list",
                    "hello", "stats"):
            pass
        else:
            return None
        return req


def replay_one(rp, sender_hint, req_text, reply_text):
    """Replay one example; returns a problem (text), None when it matched, or "skip"."""
    try:
        req = json.loads(req_text)
    except ValueError:
        return "skip"
    want, partial, want_err = shape(reply_text)
    code = want_err.get("code")
    # a standby's refusals are replayed against a standby in test_standby.py
    if code in ("limit_exceeded", "standby") or "op" not in req:
        return "skip"
    doc_id = req.get("id")
    op = req["op"]
    req = rp.prepare(dict(req), code)
    if req is None:
        return "skip"
    name = sender_hint or SENDER.get(op, "supplier1")
    c = rp.client(name)
    fields = {k: v for k, v in req.items() if k not in ("id", "op")}
    # signed operations: the example's statement and signature (shortened, or made at
    # another time) are made again by the client; the refusals of a bad statement or
    # signature are covered by test_signed.py
    if code in SIGNATURE_REFUSALS:
        return "skip"
    fields.pop("statement", None)
    fields.pop("signature", None)
    got = c.request(op, sign=False if code == "signature_required" else None, **fields)
    if op == "question.ask" and got.get("ok"):
        rp.questions[len(rp.questions) + 1] = got["question"]
    problems = []
    for path, keys in sorted(want.items()):
        if any(p in DATA_MAPS for p in path):  # a data map, or an object in one
            continue
        for obj in objects_at(got, path):
            have = set(obj)
            if path == () and doc_id is None:
                have.discard("id")
            if path in partial:
                if not keys <= have:
                    problems.append("%s: keys %s missing" % (path, sorted(keys - have)))
            elif keys != have:
                problems.append("%s: keys %s, server %s" % (path, sorted(keys), sorted(have)))
    if ("error",) in want or "error" in got:
        if set(want.get(("error",), set())) != set(got.get("error", {})):
            problems.append("error keys %s, server %s" % (
                sorted(want.get(("error",), set())), sorted(got.get("error", {}))))
        if code != got.get("error", {}).get("code"):
            problems.append("code %r, server %r" % (code, got.get("error", {}).get("code")))
        elif "message" in want_err and not re.match(message_pattern(want_err["message"]),
                                                    got["error"]["message"]):
            problems.append("message %r, server %r" % (want_err["message"],
                                                       got["error"]["message"]))
    if problems:
        return "%s -> %s: %s" % (req_text, json.dumps(got)[:600], "; ".join(problems))
    return None


def test_protocol_examples_replay(env, server, unique):
    text = DOC.read_text()
    pairs = examples(text)
    assert len(pairs) > 30, "examples not found in docs/protocol.md"
    replays = {}
    replayed, skipped, problems = 0, [], []
    for section, req_text, reply_text in pairs:
        if section not in replays:
            replays[section] = Replay(env, server, unique, len(replays))
        rp = replays[section]
        hint = None
        if section == "An example session with openssl s_client":
            hint = "buyer" if '"auction.create"' in req_text or "watch" in req_text \
                else "supplier1"
        r = replay_one(rp, hint, req_text, reply_text)
        if r == "skip":
            skipped.append(req_text[:80])
        elif r is None:
            replayed += 1
        else:
            replayed += 1
            problems.append("[%s] %s" % (section, r))
    for rp in replays.values():
        for c in rp.clients.values():
            c.close()
    assert not problems, "\n".join(problems)
    print("replayed %d examples, skipped %d: %s" % (replayed, len(skipped), skipped))
    assert replayed >= 25 and replayed >= 2 * len(skipped), (replayed, skipped)


# ---- what the prose of docs/protocol.md quotes ----

def prose_message(quoted, got):
    """A message the document quotes, its numbers standing for any number."""
    parts = re.split(r"\d+", quoted)
    assert re.fullmatch(r"\d+".join(re.escape(p) for p in parts), got), (quoted, got)


def test_prose_refusals(env, server, unique):
    sup = server.client("supplier1")
    buyer = server.client("buyer")
    op = server.client("operator")
    # Roles: forbidden before anything else in the request is looked at
    e = sup.error("procurement.publish")
    assert e == {"code": "forbidden", "message": "a supplier may not use procurement.publish"}
    e = op.error("auction.bid", auction=999999, amount="x")
    assert e == {"code": "forbidden", "message": "an operator may not use auction.bid"}
    a = tdclient.create_auction(buyer, "Prose " + unique, duration=600)
    e = buyer.error("auction.bid", auction=a["id"], amount="990000.00")
    assert e == {"code": "forbidden", "message": "a buyer may not use auction.bid"}
    e = server.client("supplier_b").error("auction.bid", auction=a["id"], amount="990000.00")
    assert e == {"code": "own_auction",
                 "message": "the buyer's organization cannot bid in its own auction"}
    # Text: lengths in characters, NFC, refusals naming field and character
    e = buyer.error("auction.create", title="x" * 501, currency="RUB",
                    start_price="1000.00")
    assert e == {"code": "bad_field", "field": "title",
                 "message": "field 'title' must be 1 to 500 characters without NUL"}, e
    a2 = tdclient.create_auction(buyer, "\u10d0" * 500)
    assert len(a2["title"]) == 500
    a3 = buyer.ok("auction.create", title="Cafe\u0301 " + unique, currency="RUB",
                  start_price="1000.00")["auction"]
    assert a3["title"] == "Caf\u00e9 " + unique
    env.make_cert("prose" + unique)
    e = op.error("participant.register", organization="Ab\u200bc " + unique, role="supplier",
                 name="Prose", certificate=open(env.cert("prose" + unique)).read())
    assert e == {"code": "bad_field", "field": "organization",
                 "message": "field 'organization' contains an invisible or control character "
                            "(U+200B) at character 3"}, e
    # the example session's last line
    sup.send_raw("not json\n")
    assert sup.read_msg() == {"id": None, "ok": False, "error": {
        "code": "bad_json", "message": "invalid JSON at column 3: invalid token near 'not'"}}
    # replies to lines whose id could not be read have a null id
    sup.send_raw(b'{"id":1,"op":"hello","x":"\xff"}\n')
    r = sup.read_msg()
    assert r["id"] is None and r["error"]["code"] == "bad_json", r
    for line in ('[1]', '{"id":1.5,"op":"hello"}'):
        sup.send_raw(line + "\n")
        r = sup.read_msg()
        assert r["id"] is None and r["error"]["code"] == "bad_request", (line, r)
    sup.send_raw('{"id":"x","op":7}\n')
    assert sup.read_msg()["error"]["code"] == "bad_request"
    # a CR before the LF is ignored
    sup.send_raw('{"id":"crlf","op":"hello"}\r\n')
    assert sup.reply("crlf")["ok"] is True
    # list paging refusals name the field
    for bad in ({"limit": 0}, {"limit": 1001}, {"after": "zz"}, {"state": "nope"},
                {"kind": "nope"}, {"state": "running", "status": "closed"}):
        for what in ("auction.list", "procurement.list"):
            if what == "procurement.list" and "status" in bad:
                continue
            e = sup.error(what, **bad)
            assert e["code"] == "bad_field" and e["field"] in bad, (what, bad, e)


def test_prose_confirmation_and_suspension(env, tenderd_factory, unique):
    server = tenderd_factory(idle_timeout=2)
    sup = server.client("supplier1")
    buyer = server.client("buyer")
    p = pu.create(buyer, "rfq", "Prose " + unique, enquiry=1200, deadline=600000,
                  opening=600000)
    pu.wait_state(buyer, p["id"], "tendering")
    lot = p["lots"][0]["id"]
    sup.ok("quote.submit", procurement=p["id"], lot=lot, price="900.00")
    e = sup.error("quote.confirm", procurement=p["id"], lot=lot)
    assert e["code"] == "bad_state", e
    prose_message("the offer needs no confirmation: it was submitted or confirmed after the "
                  "last amendment (version 2)", e["message"])
    # organization suspension: the event's message, quoted in full
    name = "prosesusp" + unique
    env.make_cert(name)
    op = server.client("operator")
    r = op.ok("participant.register", organization="Prose Susp " + unique, role="supplier",
              name="P", certificate=open(env.cert(name)).read())
    victim = server.client(name)
    victim.ok("hello")
    op.ok("organization.suspend", organization=r["organization"]["id"], reason="Debarred")
    msgs = victim.wait_closed(timeout=10)
    assert msgs == [{"event": "error", "error": {
        "code": "organization_suspended",
        "message": "this participant's organization was suspended"}}], msgs
    # idle_timeout: "no request for N s"
    idle = server.client("supplier2")
    msgs = idle.wait_closed(timeout=10)
    assert msgs == [{"event": "error", "error": {"code": "idle_timeout",
                                                 "message": "no request for 2 s"}}], msgs


def quoted_limit_messages():
    """limit name -> the message docs/protocol.md quotes for it (the full one when given)."""
    out = {}
    for m in re.finditer(r'"(max_[a-z_]+ \(\d+\) reached: [^"]*)"', DOC.read_text()):
        name = m.group(1).split(" ", 1)[0]
        if name not in out or out[name].endswith("..."):
            out[name] = m.group(1)
    return out


def limit_message(quoted, got):
    """The refusal of a limit as quoted: numbers stand for any number; a quote cut with
    "..." is a prefix."""
    prefix = quoted.endswith("...")
    text = quoted[:-3] if prefix else quoted
    pattern = r"\d+".join(re.escape(p) for p in re.split(r"\d+", text))
    assert re.match(pattern if prefix else pattern + "$", got), (quoted, got)


def test_limit_refusals_as_quoted(env, tenderd_factory, unique):
    limits = dict(max_open_auctions_per_buyer=1, max_questions_per_supplier=1,
                  max_offer_revisions=1, max_bids_per_bidder=1, max_watches_per_conn=1,
                  max_watchers_per_procedure=1, max_documents_per_procedure=1,
                  max_amendments_per_procedure=1, max_open_procedures_per_buyer=3)
    quoted = quoted_limit_messages()
    assert set(limits) <= set(quoted), sorted(set(limits) - set(quoted))
    server = tenderd_factory(**limits)
    buyer = server.client("buyer2")
    sup = server.client("supplier1")
    seen = {}

    def refused(name, e, field=None):
        assert e["code"] == "limit_exceeded", (name, e)
        assert e.get("field") == field, (name, e)
        limit_message(quoted[name], e["message"])
        seen[name] = e["message"]

    # documents first, while this buyer has room for procurements
    e = buyer.error("procurement.create", kind="rfq", title="Docs " + unique, currency="RUB",
                    enquiry_end=format_time(tdclient.now_ms() + 600000),
                    submission_deadline=format_time(tdclient.now_ms() + 900000),
                    opening_at=format_time(tdclient.now_ms() + 900000), lots=[pu.lot()],
                    documents=[{"name": "a.txt", "media_type": "text/plain", "content": "YQ=="},
                               {"name": "b.txt", "media_type": "text/plain", "content": "Yg=="}])
    refused("max_documents_per_procedure", e, "documents")
    pub = pu.create(buyer, "rfq", "Limits " + unique, enquiry=600000, deadline=900000,
                    opening=900000)
    ten = pu.create(buyer, "rfq", "Limits T " + unique, enquiry=1200, deadline=600000,
                    opening=600000)
    # open procurements: the shared database may hold others of this buyer already
    for i in range(4):
        r = buyer.request("procurement.create", kind="rfq", title="More %d %s" % (i, unique),
                          currency="RUB",
                          enquiry_end=format_time(tdclient.now_ms() + 600000),
                          submission_deadline=format_time(tdclient.now_ms() + 900000),
                          opening_at=format_time(tdclient.now_ms() + 900000), lots=[pu.lot()])
        if not r["ok"]:
            refused("max_open_procedures_per_buyer", r["error"])
            break
    assert "max_open_procedures_per_buyer" in seen
    # questions
    sup.ok("question.ask", procurement=pub["id"], text="One?")
    refused("max_questions_per_supplier",
            sup.error("question.ask", procurement=pub["id"], text="Two?"))
    # amendments
    amendment = {"reason": "Again", "title": pub["title"], "enquiry_end": pub["enquiry_end"],
                 "submission_deadline": pub["submission_deadline"],
                 "opening_at": pub["opening_at"], "lots": [pu.lot()]}
    buyer.ok("procurement.amend", procurement=pub["id"], **amendment)
    refused("max_amendments_per_procedure",
            buyer.error("procurement.amend", procurement=pub["id"], **amendment))
    # watches: per connection, per procurement
    w = server.client("supplier2")
    w.ok("procurement.watch", procurement=pub["id"])
    refused("max_watches_per_conn", w.error("procurement.watch", procurement=ten["id"]))
    refused("max_watchers_per_procedure",
            server.client("supplier3").error("procurement.watch", procurement=pub["id"]))
    # offer revisions
    pu.wait_state(buyer, ten["id"], "tendering")
    lot = ten["lots"][0]["id"]
    sup.ok("quote.submit", procurement=ten["id"], lot=lot, price="900.00")
    refused("max_offer_revisions",
            sup.error("quote.submit", procurement=ten["id"], lot=lot, price="890.00"))
    # auctions of a buyer: the shared database may hold open ones of this buyer already
    for i in range(3):
        r = buyer.request("auction.create", title="Limits %d %s" % (i, unique), currency="RUB",
                          start_price="1000000.00")
        if not r["ok"]:
            refused("max_open_auctions_per_buyer", r["error"])
            break
    assert "max_open_auctions_per_buyer" in seen
    # bids of a bidder, on a server of its own (the auction limit above is reached)
    server.close_clients()
    server.stop()
    server = tenderd_factory(max_bids_per_bidder=1)
    sup = server.client("supplier1")
    a = tdclient.create_auction(server.client("buyer"), "Limits bids " + unique, duration=600)
    sup.ok("auction.bid", auction=a["id"], amount="990000.00")
    refused("max_bids_per_bidder", sup.error("auction.bid", auction=a["id"], amount="985000.00"))


def test_documented_defaults(env, server, unique):
    """auction.create and procurement.create defaults as the field tables give them."""
    buyer = server.client("buyer")
    a = buyer.ok("auction.create", title="Defaults " + unique, currency="RUB",
                 start_price="1000000.00")["auction"]
    assert (a["step_min"], a["step_max"], a["step_min_amount"], a["step_max_amount"]) == \
        ("0.5%", "5%", "5000.00", "50000.00"), a
    assert time_ms(a["scheduled_end"]) - time_ms(a["starts_at"]) == 600000, a
    assert (a["extension_window"], a["extension"], a["extensions"]) == (120, 120, 0), a
    assert a["state"] == "running" and a["best_price"] is None and a["result"] is None, a
    now = tdclient.now_ms()
    p = buyer.ok("procurement.create", kind="tender_auction", title="Defaults " + unique,
                 currency="RUB", enquiry_end=format_time(now + 600000),
                 submission_deadline=format_time(now + 900000),
                 opening_at=format_time(now + 900000), lots=[pu.lot()])["procurement"]
    assert p["min_bids"] == 1 and p["state"] == "draft" and p["version"] == 1, p
    assert p["auction"] == {"step_min": "0.5%", "step_max": "5%", "duration": 600,
                            "extension_window": 120, "extension": 120, "delay": 60}, p
    assert [c["kind"] for c in p["lots"][0]["criteria"]] == ["price"], p
    buyer.ok("procurement.cancel", procurement=p["id"], reason="Defaults checked")
    buyer.ok("auction.cancel", auction=a["id"], reason="Defaults checked")


def test_documented_error_codes(env, server, unique):
    """Error codes the operation sections list, each produced as described."""
    buyer = server.client("buyer")
    sup = server.client("supplier1")
    op = server.client("operator")
    assert sup.error("stats")["code"] == "forbidden"
    assert sup.error("auction.get", auction=99999999)["code"] == "not_found"
    e = sup.error("auction.get")
    assert (e["code"], e.get("field")) == ("missing_field", "auction"), e
    a = tdclient.create_auction(buyer, "Codes " + unique, duration=600)
    e = buyer.error("auction.cancel", auction=a["id"])
    assert (e["code"], e.get("field")) == ("missing_field", "reason"), e
    assert server.client("buyer2").error("auction.cancel", auction=a["id"],
                                         reason="x")["code"] == "forbidden"
    buyer.ok("auction.cancel", auction=a["id"], reason="Specification error")
    assert buyer.error("auction.cancel", auction=a["id"], reason="again")["code"] == "bad_state"
    assert sup.error("auction.bid", auction=a["id"], amount="990000.00")["code"] == \
        "auction_cancelled"
    # operators may not suspend themselves or their own organization
    me = op.ok("hello")
    assert op.error("participant.suspend", participant=me["participant"]["id"],
                    reason="x")["code"] == "bad_field"
    assert op.error("organization.suspend", organization=me["organization"]["id"],
                    reason="x")["code"] == "bad_field"
    assert op.error("organization.suspend", organization=99999999,
                    reason="x")["code"] == "not_found"
    # publish after enquiry_end: deadline_passed; a question answered once
    p = pu.create(buyer, "rfq", "Codes " + unique, enquiry=800, deadline=600000,
                  opening=600000, publish=False)
    pu.sleep_until(buyer, tdclient.parse_time(p["enquiry_end"]) + 100)
    assert buyer.error("procurement.publish", procurement=p["id"])["code"] == "deadline_passed"
    p = pu.create(buyer, "rfq", "Codes Q " + unique, enquiry=600000, deadline=900000,
                  opening=900000)
    q = sup.ok("question.ask", procurement=p["id"], text="Recycled?")["question"]
    buyer.ok("question.answer", procurement=p["id"], question=q, text="Yes")
    assert buyer.error("question.answer", procurement=p["id"], question=q,
                       text="Again")["code"] == "bad_state"
    assert sup.error("quote.withdraw", procurement=p["id"],
                     lot=p["lots"][0]["id"])["code"] == "submissions_not_open"
    assert sup.error("bid.submit", procurement=p["id"], lot=p["lots"][0]["id"],
                     price="900.00")["code"] == "wrong_kind"
