#!/usr/bin/env python3
"""Measure a standby's takeover (make bench, docs/benchmarks.md "takeover").

Holds two supplier connections open to the standby, checks that it answers `standby`, kills
the primary with SIGKILL, then asks the standby for the auction every 20 ms on the held
connections until it is served, and bids one step below the best price from the supplier
that does not lead. Prints RESULT takeover_ms (kill -> first request served), ack_ms (kill ->
the bid acknowledged) and the replies' codes.

Before the kill it bids once on the primary (PRIMARY_HOST:PORT), so that the standby has a
change to replay at the takeover.

usage: takeover_probe.py HOST:PORT CA CERT1 KEY1 CERT2 KEY2 AUCTION STEP_MINOR PRIMARY_PID
           PRIMARY_HOST:PORT
"""
import json
import os
import signal
import socket
import ssl
import sys
import time


class Conn:
    """One TLS connection speaking JSON lines."""

    def __init__(self, addr, ca, cert, key):
        host, port = addr.rsplit(":", 1)
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False
        ctx.load_cert_chain(cert, key)
        self.s = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=60))
        self.buf = b""
        self.n = 0

    def request(self, op, **fields):
        self.n += 1
        msg = dict(fields, id=self.n, op=op)
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            while b"\n" not in self.buf:
                data = self.s.recv(65536)
                if not data:
                    raise EOFError("connection closed")
                self.buf += data
            line, self.buf = self.buf.split(b"\n", 1)
            reply = json.loads(line)
            if reply.get("id") == self.n:
                return reply


def minor(text):
    units, _, cents = text.partition(".")
    return int(units) * 100 + int((cents + "00")[:2])


def money(v):
    return "%d.%02d" % (v // 100, v % 100)


def bid(conns, auction, step):
    """One lead-taking bid from whichever of `conns` does not lead; the reply."""
    view = conns[0].request("auction.get", auction=auction)["auction"]
    bidder = conns[1] if view["your_rank"] == 1 else conns[0]
    best = minor(view["best_price"]) if view["best_price"] else minor(view["start_price"])
    return bidder.request("auction.bid", auction=auction, amount=money(best - step))


def main():
    addr, ca, c1, k1, c2, k2, auction, step, pid, paddr = sys.argv[1:11]
    auction, step, pid = int(auction), int(step), int(pid)
    before = bid([Conn(paddr, ca, c1, k1), Conn(paddr, ca, c2, k2)], auction, step)
    if not before.get("ok"):
        sys.exit("the primary refused the bid: %r" % before)
    conns = [Conn(addr, ca, c1, k1), Conn(addr, ca, c2, k2)]
    first = conns[0].request("auction.get", auction=auction)
    if first.get("error", {}).get("code") != "standby":
        sys.exit("the standby answered %r" % first)
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    codes = {}
    while True:
        r = conns[0].request("auction.get", auction=auction)
        if r.get("ok"):
            break
        code = r["error"]["code"]
        codes[code] = codes.get(code, 0) + 1
        if time.monotonic() - t0 > 120:
            sys.exit("no takeover within 120 s: %r" % r)
        time.sleep(0.02)
    served = time.monotonic()
    if r["auction"]["bids"] != before["bid"]["seq"]:
        sys.exit("the standby lost the last bid: %r" % r)
    b = bid(conns, auction, step)
    acked = time.monotonic()
    if not b.get("ok"):
        sys.exit("the bid was refused: %r" % b)
    print("RESULT takeover_ms=%d ack_ms=%d refused=%s" % (
        (served - t0) * 1000, (acked - t0) * 1000,
        ",".join("%s:%d" % kv for kv in sorted(codes.items())) or "none"))


if __name__ == "__main__":
    main()
