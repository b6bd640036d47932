"""build/tenderctl against a live tenderd: readable and --json output, watch, exit codes."""
import json
import re
import os
import select
import subprocess
import time

import pytest

import tdclient


@pytest.fixture
def ctl(env):
    if not os.access(env.tenderctl_bin, os.X_OK):
        pytest.skip("no %s" % env.tenderctl_bin)
    return env.tenderctl


class LineReader:
    """Lines from a child's stdout, each read with a bounded wait."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""

    def line(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, "no line from tenderctl within %s s (got %r)" % (timeout, self.buf)
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                data = os.read(self.proc.stdout.fileno(), 65536)
                assert data, "tenderctl closed its output (exit %r): %r" % (
                    self.proc.poll(), self.buf)
                self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()


def spawn_watch(env, server, name, aid, json_out):
    cmd = [str(env.tenderctl_bin), "--cert", env.cert(name), "--key", env.key(name),
           "--ca", env.ca, "--server", "127.0.0.1:%d" % server.port, "--timeout", "10"]
    if json_out:
        cmd.append("--json")
    cmd += ["watch", str(aid)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()


def test_hello(env, server, ctl):
    p = ctl("supplier1", "hello", server=server)
    assert p.returncode == 0, p.stderr
    assert env.org("supplier1") in p.stdout and "CN=supplier1" in p.stdout
    assert env.participants["supplier1"]["name"] in p.stdout
    p = ctl("supplier1", "hello", server=server, json_out=True)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["ok"] is True
    assert r["fingerprint"] == env.participants["supplier1"]["fingerprint"]
    assert r["organization"]["name"] == env.org("supplier1")


def test_create_bid_and_watch(env, server, ctl, unique):
    title = "tenderctl lot " + unique
    p = ctl("buyer", "auction", "create", "--title", title, "--currency", "RUB",
            "--start-price", "1000000.00", "--step-min", "0.5%", "--step-max", "5%",
            "--duration", "60", "--extension-window", "0", "--extension", "0",
            server=server, json_out=True)
    assert p.returncode == 0, p.stderr
    a = json.loads(p.stdout.strip().splitlines()[-1])["auction"]
    assert (a["title"], a["state"], a["step_min_amount"]) == (title, "running", "5000.00")
    aid = a["id"]

    watch = spawn_watch(env, server, "supplier2", aid, json_out=True)
    try:
        out = LineReader(watch)
        first = json.loads(out.line())
        assert first["ok"] is True and first["auction"]["id"] == aid, first
        assert first["auction"]["bids"] == 0

        p = ctl("supplier1", "bid", str(aid), "995000.00", server=server)
        assert p.returncode == 0, p.stderr
        assert "accepted" in p.stdout and "995000.00" in p.stdout and "rank 1" in p.stdout, \
            p.stdout
        ev = json.loads(out.line())
        assert ev["event"] == "auction.update" and ev["reason"] == "bid", ev
        assert (ev["auction"]["bids"], ev["auction"]["best_price"]) == (1, "995000.00")
        assert ev["auction"]["your_rank"] is None  # supplier2 has not bid

        p = ctl("supplier2", "bid", str(aid), "990000.00", server=server, json_out=True)
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout.strip().splitlines()[-1])
        assert (r["bid"]["seq"], r["rank"]) == (2, 1), r
        ev = json.loads(out.line())
        assert ev["auction"]["your_rank"] == 1 and ev["auction"]["bids"] == 2, ev
        assert watch.poll() is None
    finally:
        stop(watch)

    # a rule refusal is status 1 with the code on stderr
    p = ctl("supplier1", "bid", str(aid), "0.00", server=server)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "bid_not_positive" in p.stderr
    p = ctl("supplier2", "bid", str(aid), "989000.00", server=server)
    assert p.returncode == 1 and "bid_while_leading" in p.stderr, (p.returncode, p.stderr)
    p = ctl("buyer", "auction", "get", "999999999", server=server)
    assert p.returncode == 1 and "not_found" in p.stderr, (p.returncode, p.stderr)
    # the readable view of the owner shows the ranking
    p = ctl("buyer", "auction", "get", str(aid), server=server)
    assert p.returncode == 0, p.stderr
    assert title in p.stdout and "Participant 2" in p.stdout and "990000.00" in p.stdout
    p = ctl("buyer", "auction", "cancel", str(aid), "--reason", "test over", server=server)
    assert p.returncode == 0, p.stderr
    # what tenderctl did is what the server holds
    with server.client("operator") as c:
        v = c.ok("auction.get", auction=aid)["auction"]
    assert (v["state"], v["bids"], v["cancel_reason"]) == ("cancelled", 2, "test over")


def test_watch_exits_when_the_auction_closes(env, server, ctl, unique):
    with server.client("buyer") as b:
        a = tdclient.create_auction(b, "tenderctl short " + unique, duration=2)
    watch = spawn_watch(env, server, "supplier3", a["id"], json_out=False)
    try:
        out = LineReader(watch)
        assert "watching" in out.line()
        wait = (tdclient.parse_time(a["ends_at"]) - tdclient.now_ms()) / 1000.0 + 10
        rc = watch.wait(wait)
        rest = out.buf.decode() + watch.stdout.read().decode()
        assert rc == 0, (rc, rest, watch.stderr.read())
        assert "closed" in rest and "no bids" in rest, rest
    finally:
        stop(watch)


def test_exit_status_of_refused_connections(env, server, ctl):
    p = ctl("stranger", "hello", server=server)
    assert p.returncode == 3, (p.returncode, p.stdout, p.stderr)
    assert "unregistered_certificate" in p.stderr, p.stderr
    p = ctl("rogue", "hello", server=server)
    assert p.returncode == 3, (p.returncode, p.stderr)
    p = ctl("expired", "hello", server=server)
    assert p.returncode == 3, (p.returncode, p.stderr)
    # nothing listening
    p = env.tenderctl("supplier1", "--server", "127.0.0.1:1", "hello")
    assert p.returncode == 3, (p.returncode, p.stderr)
    # a usage error
    p = ctl("supplier1", "bid", server=server)
    assert p.returncode == 2, (p.returncode, p.stderr)


def test_rfq_through_tenderctl(env, server, ctl, tmp_path, unique):
    """A whole RFQ with tenderctl alone: the request read from the shipped example file
    (deadlines overridden), a document attached and fetched back with its hash checked,
    a question and its answer, quotes from two suppliers, the opening, the award."""
    example = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples", "rfq.json")
    doc = tmp_path / "terms.txt"
    doc.write_bytes(b"Delivery to the central warehouse within 10 days.\n")
    now = tdclient.now_ms()
    t = lambda ms: tdclient.format_time(now + ms)

    def ok(name, *args):
        p = ctl(name, *args, server=server, json_out=True)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        return json.loads(p.stdout.strip().splitlines()[-1])

    r = ok("buyer", "procurement", "create", "--file", example, "--title", "Paper " + unique,
           "--enquiry-end", t(1500), "--submission-deadline", t(4000), "--opening-at", t(4000),
           "--document", "%s:text/plain" % doc)
    pid = r["procurement"]["id"]
    assert r["procurement"]["state"] == "draft" and len(r["procurement"]["lots"]) == 2
    assert ok("buyer", "procurement", "publish", str(pid))["procurement"]["state"] == "published"
    assert ok("supplier1", "question", "ask", str(pid), "Is recycled paper acceptable?")["question"] == 1
    ok("buyer", "question", "answer", str(pid), "1", "Yes, if white")
    out = tmp_path / "got.txt"
    p = ctl("supplier2", "document", "get", str(pid), "1", "--output", str(out), server=server)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == doc.read_bytes() and "verified" in p.stdout
    # quotes are accepted from the tendering period on
    deadline = time.monotonic() + 10
    while True:
        p = ctl("supplier1", "quote", "submit", str(pid), "1", "950000.00", "--delivery-days", "7",
                server=server, json_out=True)
        if p.returncode == 0 or time.monotonic() > deadline:
            break
        assert "submissions_not_open" in p.stdout + p.stderr, p.stderr
        time.sleep(0.2)
    assert p.returncode == 0, p.stderr
    ok("supplier2", "quote", "submit", str(pid), "1", "940000.00")
    ok("supplier2", "quote", "submit", str(pid), "2", "240000.00")
    # the readable view of an author shows its own quotes, another's never
    p = ctl("supplier2", "procurement", "get", str(pid), server=server)
    assert "your offer" in p.stdout and "950000.00" not in p.stdout, p.stdout
    # the opening happens by itself
    deadline = time.monotonic() + 15
    while True:
        v = ok("buyer", "procurement", "get", str(pid))["procurement"]
        if v["state"] != "tendering" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    lot1 = v["lots"][0]
    assert v["state"] in ("opened", "evaluation"), v["state"]
    assert [o["price"] for o in lot1["opening"]] == ["940000.00", "950000.00"]
    assert v["lots"][1]["state"] == "unsuccessful"   # one quote, min_bids 2
    first = lot1["opening"][0]["offer"]
    p = ctl("buyer", "award", str(pid), "1", str(lot1["opening"][1]["offer"]), server=server)
    assert p.returncode == 1 and "not_first_ranked" in p.stderr, p.stderr
    r = ok("buyer", "award", str(pid), "1", str(first))
    assert r["procurement"]["state"] == "awarded"
    assert r["procurement"]["lots"][0]["awarded_offer"] == first
    p = ctl("buyer", "procurement", "complete", str(pid), server=server)
    assert p.returncode == 0 and "complete" in p.stdout, p.stdout


def test_version(env, ctl):
    """`--version` prints the release on standard output and exits 0, for both programs,
    wherever it stands among the options."""
    for cmd in ([env.tenderctl_bin, "--version"], [env.tenderctl_bin, "--json", "--version"],
                [env.tenderd_bin, "--version"]):
        p = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
        name = os.path.basename(str(cmd[0]))
        assert p.returncode == 0, (cmd, p.stdout, p.stderr)
        assert re.fullmatch(r"%s \d+\.\d+\.\d+\S*\n" % name, p.stdout), p.stdout
        assert p.stderr == "", p.stderr
    p = subprocess.run([str(env.tenderctl_bin), "--version=yes"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=10)
    assert p.returncode == 2 and "takes no value" in p.stderr, p.stderr


def test_raw(env, server, ctl, unique):
    """`raw JSON-OBJECT` sends the object, adding an id when it has none; the exit status
    follows `ok`; readable output is the reply as JSON."""
    p = ctl("supplier1", "raw", '{"op":"hello"}', server=server)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["ok"] is True and r["participant"]["role"] == "supplier", r
    p = ctl("supplier1", "raw", '{"id":"t-1","op":"hello"}', server=server, json_out=True)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["id"] == "t-1" and r["ok"] is True
    # an error reply: exit status 1, the code on standard error
    p = ctl("supplier1", "raw", '{"op":"auction.get","auction":999999999}', server=server)
    assert p.returncode == 1 and "not_found" in p.stderr, (p.stdout, p.stderr)
    # usage errors: no object, not an object, an extra argument
    p = ctl("supplier1", "raw", server=server)
    assert p.returncode == 2 and "missing JSON-OBJECT" in p.stderr, p.stderr
    p = ctl("supplier1", "raw", "[1,2]", server=server)
    assert p.returncode == 2 and "JSON object" in p.stderr, p.stderr
    p = ctl("supplier1", "raw", '{"op":"hello"}', "extra", server=server)
    assert p.returncode == 2 and "unexpected argument" in p.stderr, p.stderr
