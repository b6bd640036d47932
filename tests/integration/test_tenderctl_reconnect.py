"""tenderctl with a list of servers (docs/tenderctl.md, Reconnecting): each server in turn, a
`standby` answer moves it to the primary the standby names, and `watch` / `procurement watch`
survive a restart of tenderd, resuming from the last `seq` they showed: every view is shown once,
none is missed."""
import json
import os
import select
import socket
import ssl
import subprocess
import threading
import time

import procutil as pu
import tdclient
from conftest import free_port


def ctl_cmd(env, name, servers, *args, json_out=False):
    cmd = [str(env.tenderctl_bin), "--cert", env.cert(name), "--key", env.key(name),
           "--ca", env.ca, "--server", servers, "--timeout", "10"]
    if json_out:
        cmd.append("--json")
    return cmd + list(args)


def run_ctl(env, name, servers, *args, json_out=False):
    return subprocess.run(ctl_cmd(env, name, servers, *args, json_out=json_out),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)


class Lines:
    """The JSON lines a running tenderctl prints, read without blocking for ever."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""
        self.got = []

    def pump(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.05)
            if r:
                data = os.read(self.proc.stdout.fileno(), 65536)
                if not data:
                    break
                self.buf += data
                while b"\n" in self.buf:
                    line, self.buf = self.buf.split(b"\n", 1)
                    self.got.append(json.loads(line))
            elif self.proc.poll() is not None:
                break
        return self.got

    def wait_for(self, pred, timeout=20, what="line"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.1)
            if any(pred(m) for m in self.got):
                return
        raise AssertionError("no %s within %s s: %r\nstderr: %s" % (
            what, timeout, self.got[-5:], self.proc.stderr.read1(65536) if
            self.proc.poll() is not None else "(running)"))


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()


class FakeStandby(threading.Thread):
    """A TLS server that answers every request with the `standby` error naming `primary`."""

    def __init__(self, env, primary):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(env.cert("server"), env.key("server"))
        self.ctx.load_verify_locations(env.ca)
        self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.primary = primary
        self.requests = 0

    def run(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as c:
                    f = c.makefile("rwb")
                    for line in f:
                        req = json.loads(line)
                        self.requests += 1
                        f.write(json.dumps({"id": req.get("id"), "ok": False, "error": {
                            "code": "standby", "message": "this tenderd is a standby",
                            "primary": self.primary}}).encode() + b"\n")
                        f.flush()
            except (OSError, ValueError, ssl.SSLError):
                pass

    def close(self):
        self.sock.close()


def test_server_list_tries_each_in_turn(env, server):
    dead = free_port()
    p = run_ctl(env, "supplier1", "127.0.0.1:%d,127.0.0.1:%d" % (dead, server.port), "hello",
                json_out=True)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.splitlines()[-1])["ok"] is True
    assert "warning: 127.0.0.1:%d: " % dead in p.stderr and "trying the next server" in p.stderr
    # every server down: status 3, the last reason
    p = run_ctl(env, "supplier1", "127.0.0.1:%d,127.0.0.1:%d" % (dead, free_port()), "hello")
    assert p.returncode == 3, (p.returncode, p.stderr)
    # a malformed entry is a usage error naming it
    p = run_ctl(env, "supplier1", "127.0.0.1:%d,:x" % server.port, "hello")
    assert p.returncode == 2 and "bad server address ':x'" in p.stderr, (p.returncode, p.stderr)


def test_standby_answer_moves_to_the_primary(env, server, unique):
    fake = FakeStandby(env, "127.0.0.1:%d" % server.port)
    fake.start()
    try:
        # the standby names the primary, which is not in the list
        p = run_ctl(env, "supplier1", "127.0.0.1:%d" % fake.port, "hello", json_out=True)
        assert p.returncode == 0, p.stderr
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        assert len(lines) == 1 and lines[0]["ok"] is True, lines  # the standby's is not shown
        assert "127.0.0.1:%d is a standby" % fake.port in p.stderr, p.stderr
        assert fake.requests >= 1
        # a watch too
        with server.client("buyer") as b:
            a = tdclient.create_auction(b, "standby watch " + unique, duration=600)
        w = subprocess.Popen(ctl_cmd(env, "supplier2", "127.0.0.1:%d" % fake.port, "watch",
                                     str(a["id"]), json_out=True),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        try:
            out = Lines(w)
            out.wait_for(lambda m: m.get("ok") is True and "auction" in m, what="watch reply")
            assert all(m.get("ok") is not False for m in out.got), out.got
        finally:
            stop(w)
        with server.client("buyer") as b:
            b.ok("auction.cancel", auction=a["id"], reason="test over")
    finally:
        fake.close()


def _seqs(lines, key):
    return [m[key]["seq"] for m in lines if isinstance(m.get(key), dict)]


def test_watch_resumes_across_a_restart(env, server, unique):
    with server.client("buyer") as b:
        a = tdclient.create_auction(b, "resume watch " + unique, duration=600)
    aid = a["id"]
    dead = free_port()
    w = subprocess.Popen(ctl_cmd(env, "supplier3", "127.0.0.1:%d,127.0.0.1:%d" % (
        server.port, dead), "watch", str(aid), json_out=True),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        out = Lines(w)
        out.wait_for(lambda m: m.get("ok") is True, what="watch reply")
        with server.client("supplier1") as s1:
            s1.ok("auction.bid", auction=aid, amount="995000.00")
        out.wait_for(lambda m: m.get("auction", {}).get("bids") == 1, what="first bid")
        # a restart with nothing new: tenderctl reconnects, and shows nothing twice
        server.restart()
        time.sleep(3)  # its backoff: reconnected by now
        out.pump(0.5)
        # a bid right after a restart: shown once, whether tenderctl sees it as an event or
        # as the catch-up of its resumed watch
        server.restart()
        with server.client("supplier2") as s2:
            s2.ok("auction.bid", auction=aid, amount="990000.00")
        out.wait_for(lambda m: m.get("auction", {}).get("bids") == 2, what="second bid")
        with server.client("buyer") as b:
            final = b.ok("auction.cancel", auction=aid, reason="test over")["auction"]
        rc = w.wait(30)
        out.pump(1)
        assert rc == 0, (rc, w.stderr.read())
        err = w.stderr.read().decode()
    finally:
        stop(w)
    seqs = _seqs(out.got, "auction")
    views = [m["auction"] for m in out.got if "auction" in m]
    assert seqs == sorted(set(seqs)), "a view shown twice or out of order: %r" % seqs
    assert [v["bids"] for v in views if v["state"] == "running"] == [0, 1, 2], views
    assert views[-1]["state"] == "cancelled" and views[-1]["seq"] == final["seq"]
    assert err.count("reconnecting") >= 2, err


def test_procurement_watch_resumes_across_a_restart(env, server, unique):
    with server.client("buyer") as b:
        p = pu.create(b, "rfq", "resume procwatch " + unique)
    pid = p["id"]
    w = subprocess.Popen(ctl_cmd(env, "supplier1", "127.0.0.1:%d" % server.port,
                                 "procurement", "watch", str(pid), json_out=True),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    try:
        out = Lines(w)
        out.wait_for(lambda m: m.get("ok") is True, what="watch reply")
        server.restart()
        with server.client("buyer") as b:
            final = b.ok("procurement.cancel", procurement=pid, reason="test over")["procurement"]
        rc = w.wait(30)
        out.pump(1)
        assert rc == 0, (rc, w.stderr.read())
    finally:
        stop(w)
    seqs = _seqs(out.got, "procurement")
    assert seqs == sorted(set(seqs)) and seqs[-1] == final["seq"], seqs
    assert [m["procurement"]["state"] for m in out.got if "procurement" in m] == [
        "published", "cancelled"], out.got
