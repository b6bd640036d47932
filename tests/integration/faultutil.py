"""Helpers for the fault tests (tests/integration/test_faults_*.py).

- Ledger and Bidder: supplier connections that bid continuously on a few auctions with
  amounts that are valid under the 44-FZ rules as far as the bidder knows (best price from
  replies and watch events); refusals caused by stale knowledge are expected. Every
  request is recorded: when it was sent, when and how it was answered.
- check_against_db: what clients saw acknowledged against what PostgreSQL holds.
- replay_from_db / check_views: an independent replay of the `bids` table through the
  auction rules (auction-rules.md), and a comparison with tenderd's own view.
- LockHolder: a psql session holding a row lock, to keep a batch waiting inside
  PostgreSQL for as long as a test needs.

Every wait is bounded; traffic goes to 127.0.0.1 only.
"""
import random
import socket
import ssl
import subprocess
import threading
import time

import tdclient
from tdclient import parse_time

PSQL = "/usr/bin/psql"
CONN_ERRORS = (tdclient.Closed, tdclient.Timeout, OSError, ValueError)


def money(minor):
    """Minor units (kopecks) to the wire format of a 2-digit currency."""
    assert minor > 0, minor
    return "%d.%02d" % (minor // 100, minor % 100)


def minor(text):
    """Wire amount of a 2-digit currency to minor units."""
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


class AuctionInfo:
    """The parameters a bidder needs, in minor units."""

    def __init__(self, view):
        self.id = view["id"]
        self.start = minor(view["start_price"])
        self.step_min = minor(view["step_min_amount"])
        self.step_max = minor(view["step_max_amount"])


class Ledger:
    """Shared by every bidder of a test: what each organization knows about each auction,
    which amounts it has already tried (so that every (auction, organization, amount) is
    sent at most once and can be matched with the database), and every request made."""

    def __init__(self, auctions):
        self.auctions = {a.id: a for a in auctions}
        self.lock = threading.Lock()
        self.records = []
        self.tried = set()  # (org, aid, amount)
        self.know = {}      # (org, aid) -> {"n": bids seen, "best", "own", "rank"}

    def learn(self, org, aid, n, best, own, rank):
        """Knowledge as of `n` bids in the auction; older knowledge is ignored."""
        with self.lock:
            k = self.know.setdefault((org, aid), {"n": -1, "best": None, "own": None,
                                                   "rank": None})
            if n < k["n"]:
                return
            k["n"] = n
            if best is not None:
                k["best"] = best if k["best"] is None else min(best, k["best"])
            if own is not None:
                k["own"] = own if k["own"] is None else min(own, k["own"])
            if rank is not None:
                k["rank"] = rank

    def learn_view(self, org, view):
        if view.get("id") not in self.auctions:
            return
        best = minor(view["best_price"]) if view.get("best_price") else None
        own = minor(view["your_price"]) if view.get("your_price") else None
        self.learn(org, view["id"], view["bids"], best, own, view.get("your_rank"))

    def choose(self, org, aid, rnd):
        """An amount for org in auction aid that is valid as far as org knows, or None
        when org leads there. Reserves the amount (never sent twice)."""
        a = self.auctions[aid]
        with self.lock:
            k = self.know.get((org, aid), {"best": None, "own": None, "rank": None})
            best = k["best"] if k["best"] is not None else a.start
            own = k["own"]
            if own is not None and k["rank"] == 1 and own == best:
                return None
            r = rnd.random()
            if own is not None and own - best > 1 and r < 0.3:
                # improve the own rank without taking the lead: no step applies
                amount = rnd.randint(best, own - 1)
                step = -1
            elif r < 0.35:
                # a lead-taking bid that is too large a step (refused unless stale)
                amount = best - a.step_max - 1 - rnd.randint(0, 50)
                step = 1
            else:
                amount = best - a.step_min - rnd.randint(0, min(a.step_max - a.step_min, 500))
                step = -1
            while (org, aid, amount) in self.tried:
                amount += step
            if amount <= 0 or amount >= a.start or (own is not None and amount >= own):
                return None
            self.tried.add((org, aid, amount))
            return amount

    def probe(self, org, aid):
        """An amount just below org's own price (reserved): refused with
        bid_while_leading while org leads, accepted if it no longer does."""
        a = self.auctions[aid]
        with self.lock:
            own = self.know.get((org, aid), {}).get("own")
            amount = (own if own is not None else a.start) - 1
            while (org, aid, amount) in self.tried:
                amount -= 1
            if amount <= 0:
                return None
            self.tried.add((org, aid, amount))
            return amount

    def add(self, rec):
        with self.lock:
            self.records.append(rec)

    # ---- summaries ----

    def acked(self):
        return [r for r in self.records if r["ok"] is True]

    def refused(self):
        return [r for r in self.records if r["ok"] is False]

    def unanswered(self):
        return [r for r in self.records if r["ok"] is None]


class Bidder(threading.Thread):
    """One supplier connection bidding until `stop` is set (or the connection dies).

    window: bids sent before the replies are collected (several requests in flight).
    watch: watch the auctions to learn the best price from events.
    hello_after_unavailable: check the connection with hello after every `unavailable`.
    probe_when_leading: when no valid bid is left, send one the rules refuse rather than
    wait (so that every connection keeps sending).
    """

    def __init__(self, server, name, org, ledger, stop, seed, window=4, watch=True,
                 pause_unavailable=0.02, hello_after_unavailable=False, reply_timeout=20,
                 max_requests=100000, probe_when_leading=False):
        super().__init__(daemon=True, name="bidder-%s-%d" % (name, seed))
        self.server = server
        self.cert = name
        self.org = org
        self.ledger = ledger
        self.stop = stop
        self.rnd = random.Random(seed)
        self.window = window
        self.watch = watch
        self.pause_unavailable = pause_unavailable
        self.hello_after_unavailable = hello_after_unavailable
        self.reply_timeout = reply_timeout
        self.max_requests = max_requests
        self.probe_when_leading = probe_when_leading
        self.error = None        # an unexpected failure (not a closed connection)
        self.closed = None       # the connection died: when (monotonic) and how
        self.hellos = []         # (sent, replied, ok) of the hello checks
        self.latencies = []      # send -> reply of every bid answered
        self.sent = 0

    def _events(self, c):
        for ev in c.pending_events():
            if ev.get("event") in ("auction.update", "auction.closed") and "auction" in ev:
                self.ledger.learn_view(self.org, ev["auction"])

    def _round(self, c, aids):
        batch = []
        self.rnd.shuffle(aids)
        picks = [(aid, self.ledger.choose(self.org, aid, self.rnd)) for aid in aids[:self.window]]
        if self.probe_when_leading and all(amount is None for _, amount in picks):
            # leading (or out of room) everywhere: keep the traffic going with a bid the
            # rules refuse (bid_while_leading), or accept if the lead was lost meanwhile
            picks = [(aids[0], self.ledger.probe(self.org, aids[0]))]
        for aid, amount in picks:
            if amount is None:
                continue
            rec = {"conn": self.name, "org": self.org, "aid": aid, "amount": amount,
                   "sent": time.monotonic(), "replied": None, "ok": None, "code": None,
                   "bid": None}
            self.ledger.add(rec)
            rec["rid"] = c.send("auction.bid", auction=aid, amount=money(amount))
            rec["sent"] = time.monotonic()
            self.sent += 1
            batch.append(rec)
        if not batch:
            # leading everywhere: wait for someone to take the lead (events arrive)
            r = c.request("hello", timeout=self.reply_timeout)
            assert r.get("ok") is True, r
            time.sleep(0.01)
            self._events(c)
            return False
        unavailable = False
        for rec in batch:
            r = c.reply(rec["rid"], timeout=self.reply_timeout)
            rec["replied"] = time.monotonic()
            self.latencies.append(rec["replied"] - rec["sent"])
            if r.get("ok") is True:
                rec["ok"] = True
                rec["bid"] = r["bid"]
                assert minor(r["bid"]["amount"]) == rec["amount"], (rec, r)
                self.ledger.learn(self.org, rec["aid"], r["bid"]["seq"], minor(r["best_price"]),
                                  rec["amount"], r["rank"])
            else:
                rec["ok"] = False
                rec["code"] = r["error"]["code"]
                unavailable |= rec["code"] == "unavailable"
        self._events(c)
        return unavailable

    def run(self):
        aids = sorted(self.ledger.auctions)
        try:
            c = self.server.client(self.cert, timeout=self.reply_timeout)
        except CONN_ERRORS as e:
            self.closed = (time.monotonic(), "connect: %r" % e)
            return
        try:
            if self.watch:
                for aid in aids:
                    r = c.request("auction.watch", auction=aid, timeout=self.reply_timeout)
                    assert r.get("ok") is True, r
                    self.ledger.learn_view(self.org, r["auction"])
            while not self.stop.is_set() and self.sent < self.max_requests:
                if self._round(c, list(aids)):
                    if self.hello_after_unavailable:
                        t0 = time.monotonic()
                        r = c.request("hello", timeout=self.reply_timeout)
                        self.hellos.append((t0, time.monotonic(), r.get("ok") is True))
                    time.sleep(self.pause_unavailable)
        except CONN_ERRORS as e:
            self.closed = (time.monotonic(), repr(e))
        except Exception as e:  # reported by the test
            self.error = "%s: %r" % (self.name, e)
        finally:
            c.close()


def start_bidders(server, env, ledger, stop, names, per_name=2, **kw):
    bidders = []
    for i, name in enumerate(names):
        for j in range(per_name):
            b = Bidder(server, name, env.org(name), ledger, stop, seed=1000 + 10 * i + j, **kw)
            b.start()
            bidders.append(b)
    return bidders


def join_all(threads, timeout=30):
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    assert not alive, "threads still running (a request got no answer?): %s" % alive


# ---- the database side ----

def db_bids(env, aids):
    """Every bid of the auctions: dicts in (auction, seq) order."""
    rows = env.psql(
        "SELECT b.id, b.auction_id, b.seq, o.name, b.organization_id, b.amount, "
        "(extract(epoch FROM b.placed_at) * 1000)::bigint FROM bids b "
        "JOIN organizations o ON o.id = b.organization_id "
        "WHERE b.auction_id IN (%s) ORDER BY b.auction_id, b.seq" % ",".join(map(str, aids)))
    return [{"id": int(r[0]), "aid": int(r[1]), "seq": int(r[2]), "org": r[3],
             "org_id": int(r[4]), "amount": int(r[5]), "at": int(r[6])} for r in rows]


def db_auctions(env, aids):
    rows = env.psql(
        "SELECT id, start_price, step_min_amount, step_max_amount, "
        "(extract(epoch FROM starts_at) * 1000)::bigint, "
        "(extract(epoch FROM scheduled_end) * 1000)::bigint, ext_window_ms, ext_length_ms, "
        "buyer_organization_id, (extract(epoch FROM ends_at) * 1000)::bigint, extensions, "
        "state FROM auctions WHERE id IN (%s)" % ",".join(map(str, aids)))
    out = {}
    for r in rows:
        out[int(r[0])] = {"start": int(r[1]), "step_min": int(r[2]), "step_max": int(r[3]),
                          "starts_at": int(r[4]), "scheduled_end": int(r[5]),
                          "ext_window": int(r[6]), "ext_length": int(r[7]),
                          "buyer_org": int(r[8]), "ends_at": int(r[9]),
                          "extensions": int(r[10]), "state": r[11]}
    return out


def check_against_db(env, ledger, aids, exact):
    """Compare what the clients saw with the `bids` table.

    - every acknowledged bid is stored with its id, auction, sequence, organization,
      amount and time;
    - no refused bid is stored;
    - a stored bid that nobody acknowledged must be one that got no answer at all
      (exact=True: there must be none, every request was answered).
    Returns the stored bids."""
    stored = db_bids(env, aids)
    by_id = {b["id"]: b for b in stored}
    by_key = {(b["org"], b["aid"], b["amount"]): b for b in stored}
    problems = []
    for r in ledger.acked():
        b = r["bid"]
        s = by_id.get(b["id"])
        if s is None:
            problems.append("acknowledged bid %r (%s, auction %d) is not in the database" % (
                b, r["org"], r["aid"]))
            continue
        want = (r["aid"], b["seq"], r["org"], r["amount"], parse_time(b["at"]))
        got = (s["aid"], s["seq"], s["org"], s["amount"], s["at"])
        if want != got:
            problems.append("acknowledged bid %d differs: acknowledged %r, stored %r" % (
                b["id"], want, got))
    for r in ledger.refused():
        s = by_key.get((r["org"], r["aid"], r["amount"]))
        if s is not None:
            problems.append("bid refused with %s to %s is stored: %r" % (r["code"], r["conn"], s))
    acked_ids = {r["bid"]["id"] for r in ledger.acked()}
    unanswered = {(r["org"], r["aid"], r["amount"]) for r in ledger.unanswered()}
    extra = [s for s in stored if s["id"] not in acked_ids]
    for s in extra:
        if exact or (s["org"], s["aid"], s["amount"]) not in unanswered:
            problems.append("stored bid %r was never acknowledged%s" % (
                s, "" if exact else " and is not one of the unanswered requests"))
    # every stored bid has its bid_accepted log row, and no log row lacks its bid
    rows = env.psql(
        "SELECT (SELECT count(*) FROM bids b WHERE b.auction_id IN (%(a)s) AND NOT EXISTS "
        "(SELECT 1 FROM auction_log l WHERE l.kind = 'bid_accepted' AND l.bid_id = b.id)), "
        "(SELECT count(*) FROM auction_log l WHERE l.auction_id IN (%(a)s) "
        "AND l.kind = 'bid_accepted' AND NOT EXISTS (SELECT 1 FROM bids b "
        "WHERE b.id = l.bid_id))" % {"a": ",".join(map(str, aids))})
    if rows != [["0", "0"]]:
        problems.append("bids and bid_accepted log rows disagree: %r" % rows)
    # and the auditor's integrity view finds nothing wrong with these auctions
    bad = env.psql("SELECT table_name, row_id, problem FROM audit.integrity "
                   "WHERE auction_id IN (%s)" % ",".join(map(str, aids)), user="auditor")
    problems.extend("audit.integrity: %r" % (r,) for r in bad)
    assert not problems, "%d problems (showing 20):\n%s" % (
        len(problems), "\n".join(problems[:20]))
    return stored


def replay(params, bids):
    """Replay an auction's stored bids (in seq order) through the rules of
    auction-rules.md. Returns (state, problems): state has the ranking (org, amount,
    seq, at, alias per rank), ends_at and extensions."""
    ends = params["scheduled_end"]
    extensions = 0
    entries = {}  # org_id -> {"amount", "seq", "at", "alias"}
    problems = []

    def leader():
        if not entries:
            return None
        return min(entries.items(), key=lambda kv: (kv[1]["amount"], kv[1]["seq"]))

    for i, b in enumerate(bids):
        why = None
        at, amount, org = b["at"], b["amount"], b["org_id"]
        lead = leader()
        reference = lead[1]["amount"] if lead else params["start"]
        took_lead = amount < reference
        if b["seq"] != i + 1:
            why = "sequence %d where %d was due" % (b["seq"], i + 1)
        elif at >= ends:
            why = "auction_ended"
        elif at < params["starts_at"]:
            why = "auction_not_started"
        elif org == params["buyer_org"]:
            why = "own_auction"
        elif amount <= 0:
            why = "bid_not_positive"
        elif amount >= params["start"]:
            why = "bid_not_below_start_price"
        elif org in entries and amount >= entries[org]["amount"]:
            why = "bid_not_below_own"
        elif org in entries and lead[0] == org:
            why = "bid_while_leading"
        elif took_lead and reference - amount < params["step_min"]:
            why = "bid_step_too_small"
        elif took_lead and reference - amount > params["step_max"]:
            why = "bid_step_too_large"
        if why:
            problems.append("bid %d (seq %d, amount %d) does not replay: %s" % (
                b["id"], b["seq"], amount, why))
            continue
        alias = entries[org]["alias"] if org in entries else len(entries) + 1
        entries[org] = {"amount": amount, "seq": b["seq"], "at": at, "alias": alias}
        if took_lead and params["ext_window"] > 0 and ends - at <= params["ext_window"]:
            end = at + params["ext_length"]
            if end > ends:
                ends = end
                extensions += 1
    ranking = sorted(entries.values(), key=lambda e: (e["amount"], e["seq"]))
    return {"ranking": ranking, "ends_at": ends, "extensions": extensions,
            "bids": len(bids), "bidders": len(entries)}, problems


def replay_from_db(env, aids):
    """Replay every auction from the database; fails on a bid the rules refuse, or when
    the stored end and extension count differ from the replay's. Returns {aid: state}."""
    params = db_auctions(env, aids)
    bids = db_bids(env, aids)
    out, problems = {}, []
    for aid in aids:
        state, p = replay(params[aid], [b for b in bids if b["aid"] == aid])
        problems += ["auction %d: %s" % (aid, x) for x in p]
        got = (params[aid]["ends_at"], params[aid]["extensions"])
        if got != (state["ends_at"], state["extensions"]):
            problems.append("auction %d: stored end/extensions %r, replay gives %r" % (
                aid, got, (state["ends_at"], state["extensions"])))
        out[aid] = state
    assert not problems, "the database does not replay:\n" + "\n".join(problems[:20])
    return out


def check_views(server, env, aids, replayed):
    """tenderd's view for the owning buyer equals the replay of the database."""
    with server.client("buyer") as c:
        for aid in aids:
            v = c.ok("auction.get", auction=aid)["auction"]
            st = replayed[aid]
            want_rank = [(i + 1, "Participant %d" % e["alias"], money(e["amount"]),
                          tdclient.format_time(e["at"])) for i, e in enumerate(st["ranking"])]
            got_rank = [(e["rank"], e["alias"], e["price"], e["at"]) for e in v["ranking"]]
            assert got_rank == want_rank, "auction %d: ranking\nserver %r\nreplay %r" % (
                aid, got_rank, want_rank)
            best = money(st["ranking"][0]["amount"]) if st["ranking"] else None
            want = (best, st["bids"], st["bidders"], tdclient.format_time(st["ends_at"]),
                    st["extensions"])
            got = (v["best_price"], v["bids"], v["bidders"], v["ends_at"], v["extensions"])
            assert got == want, "auction %d: server %r, replay %r" % (aid, got, want)


def create_auctions(server, env, title, specs):
    """Create auctions as the buyer: specs is a list of auction.create fields."""
    out = []
    with server.client("buyer") as c:
        for i, spec in enumerate(specs):
            fields = {"currency": "RUB", "start_price": "1000000.00", "duration": 600,
                      "extension_window": 0, "extension": 0, "step_min": "1.00",
                      "step_max": "500.00"}
            fields.update(spec)
            out.append(c.ok("auction.create", title="%s #%d" % (title, i), **fields)["auction"])
    return out


def cancel_auctions(server, aids):
    with server.client("buyer") as c:
        for aid in aids:
            c.request("auction.cancel", auction=aid, reason="test over")


def summary(ledger):
    codes = {}
    for r in ledger.refused():
        codes[r["code"]] = codes.get(r["code"], 0) + 1
    return "%d sent, %d acknowledged, %d unanswered, refused %r" % (
        len(ledger.records), len(ledger.acked()), len(ledger.unanswered()), codes)


# ---- raw connections ----

def tls_socket(server, env, name, rcvbuf=None, timeout=10):
    """A TLS connection as `name` whose receive buffer may be made small before the
    connection is set up (so that the window advertised to the server stays small)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", server.port))
    ctx = tdclient.make_context(env.ca, env.cert(name), env.key(name))
    try:
        return ctx.wrap_socket(s, server_hostname="localhost")
    except BaseException:
        s.close()
        raise


def client_hello():
    """The bytes of a real TLS ClientHello (what a client sends first)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = out.read()
    assert len(data) > 100 and data[0] == 0x16, data[:8]
    return data


def conn_id_of(server, local_port):
    """tenderd's connection id for a client port, from its log ("conn=N peer=...:PORT")."""
    mark = "peer=127.0.0.1:%d " % local_port
    for line in server.log_text().splitlines():
        if mark in line and "conn=" in line:
            return int(line.split("conn=", 1)[1].split()[0])
    return None


def close_reason(server, conn_id):
    """The reason tenderd logged when it closed connection conn_id, or None."""
    mark = "conn=%d " % conn_id
    for line in server.log_text().splitlines():
        if mark in line and " close: " in line:
            return line.split(" close: ", 1)[1]
    return None


# ---- PostgreSQL ----

class LockHolder:
    """A psql session that holds a row lock until commit()."""

    def __init__(self, env, sql):
        self.p = subprocess.Popen(
            [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-d", env.conninfo_for("tenderd")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.p.stdin.write("BEGIN;\n%s\n\\echo locked\n" % sql)
        self.p.stdin.flush()
        watchdog = threading.Timer(20, self.p.kill)  # readline must not wait forever
        watchdog.start()
        lines = []
        try:
            while True:
                line = self.p.stdout.readline()
                if not line:
                    break
                lines.append(line)
                if line.strip() == "locked":
                    return
        finally:
            watchdog.cancel()
        self.p.kill()
        raise AssertionError("could not take the lock within 20 s: %r" % lines)

    def commit(self):
        if self.p.poll() is None:
            self.p.stdin.write("COMMIT;\n")
            self.p.stdin.close()
            self.p.wait(30)
