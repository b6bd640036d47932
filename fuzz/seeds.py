#!/usr/bin/env python3
"""Writes the hand-made binary seeds of fuzz/corpus/{frame,auction,procedure}/.

Each seed is a scenario, encoded the way the target decodes its input (see the comments at
the top of fuzz/fuzz_*.c and fuzz/fuzz_input.h). The request-line seeds of fuzz/corpus/proto/
are plain text files and are kept by hand. Run from the repository root:
    python3 fuzz/seeds.py
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


def i64(v):
    """An int64 as fin_i64 reads it: mode byte, then the value."""
    if 0 <= v < 256:
        return [0, v]
    if 0 <= v < 1 << 16:
        return [1] + list(struct.pack("<H", v))
    if 0 <= v < 1 << 32:
        return [2] + list(struct.pack("<I", v))
    return [3] + list(struct.pack("<q", v))


# ---- framing: max_line selector, read-size seed, then the byte stream ----
def frame(name, max_line, stream, cut=0):
    write("frame", name, [max_line - 1, cut] + list(stream))


frame("two-lines", 64, b'{"id":1,"op":"hello"}\n{"id":2,"op":"hello"}\n')
frame("crlf-and-blank-lines", 64, b'\n\r\n{"id":"abc","op":"hello"}\r\n', cut=3)
frame("cr-inside-and-double-cr", 32, b"a\rb\r\r\n\r\r\n")
frame("nul-bytes", 32, b'{"op":"he\x00llo"}\n\x00\n')
frame("exactly-max", 16, b"x" * 16 + b"\n" + b"y" * 16 + b"\r\n")
frame("max-plus-one", 16, b"x" * 17 + b"\n")
frame("max-plus-one-crlf", 16, b"x" * 17 + b"\r\n")
frame("overlong-no-lf", 16, b"z" * 40, cut=5)
frame("partial-last-line", 16, b"ok\npartial", cut=1)
frame("smallest-max", 1, b"a\nb\r\n\n")

# ---- auction: parameters, then operations ----
START = 1795340400000          # 2026-11-22T10:00:00Z
BID, SEED, TICK, CANCEL, MARK, ROLLBACK = 0, 3, 4, 5, 6, 7


def auction_params(buyer=1, start_price=100000000, step_min=500000, step_span=4500000,
                   starts_at=START, duration=600000, ext_window=120000, ext_length=120000,
                   early=1000):
    return ([buyer - 1] + i64(start_price) + i64(step_min) + i64(step_span) + i64(starts_at)
            + i64(duration) + i64(ext_window) + i64(ext_length) + i64(early))


def op(kind, org):
    """An operation byte: kind in the low 3 bits, organization 1..6 in the high nibble."""
    return kind | ((org - 1) << 4)


def wait(ms):
    """pick_now: move the clock by ms (small steps, or 32-bit)."""
    return [0, 0] if ms == 0 else ([ms, 0] if ms < 256 else [0, 2] + list(struct.pack("<I", ms)))


def to_deadline():
    return [1, 1]   # pick_now mode 1: to the next deadline (d % 3 - 1 = 0)


def amount_step_min(d=0):
    return [128 + d, 0]   # pick_amount mode 0: the reference less step_min, plus d


def amount_own(d=-1):
    return [128 + d, 2]   # mode 2: the bidder's own price (or the reference), plus d


def amount_raw(v):
    return [128, 6] + i64(v)


def bid(org, when, amount):
    return [op(BID, org)] + when + amount


write("auction", "typical-run-with-extension",
      auction_params()
      + [op(TICK, 1)] + to_deadline()
      + bid(2, wait(5000), amount_step_min())
      + bid(3, wait(5000), amount_step_min())
      + bid(2, wait(1000), amount_raw(99000000))          # not below own: refused
      + bid(4, wait(1000), amount_raw(99600000))          # improves its own rank only
      + bid(3, wait(1000), amount_raw(98000000))          # while leading: refused
      + bid(1, wait(1000), amount_raw(90000000))          # the buyer: refused
      + bid(2, [0, 2] + list(struct.pack("<I", 500000)), amount_step_min())  # extends
      + [op(TICK, 1)] + to_deadline()
      + bid(4, wait(1), amount_step_min()))               # after the end: refused
write("auction", "refusals",
      auction_params()
      + bid(2, wait(10), amount_step_min())                # before the start
      + [op(TICK, 1)] + to_deadline()
      + bid(2, wait(10), amount_raw(100000000))           # at the start price
      + bid(2, wait(10), amount_raw(99999999))            # step too small
      + bid(2, wait(10), amount_raw(1000000))             # step too large
      + bid(2, wait(10), amount_raw(0))                   # not positive
      + bid(2, wait(10), amount_step_min())
      + bid(3, wait(10), amount_step_min())
      + bid(2, wait(10), amount_raw(99600000))            # not below its own
      + [op(SEED, 4)] + amount_raw(95000000) + i64(START))  # seed while running
write("auction", "seeded-then-bids",
      auction_params()
      + [op(SEED, 2)] + amount_raw(95000000) + i64(START - 5000)
      + [op(SEED, 3)] + amount_raw(97000000) + i64(START - 4000)
      + [op(SEED, 3)] + amount_raw(96000000) + i64(START - 3000)   # second seed: refused
      + [op(TICK, 1)] + to_deadline()
      + bid(3, wait(10), amount_step_min())
      + bid(2, wait(10), amount_step_min(-3)))
write("auction", "mark-bids-rollback",
      auction_params()
      + [op(TICK, 1)] + to_deadline()
      + bid(2, wait(10), amount_step_min())
      + [op(MARK, 1)]
      + bid(3, wait(10), amount_step_min())
      + bid(4, wait(10), amount_step_min())
      + [op(ROLLBACK, 1)]
      + bid(5, wait(10), amount_step_min()))
write("auction", "cancel-while-running",
      auction_params()
      + [op(TICK, 1)] + to_deadline()
      + bid(2, wait(10), amount_step_min())
      + [op(CANCEL, 1)] + wait(10)
      + bid(3, wait(10), amount_step_min())
      + [op(CANCEL, 1)] + wait(10))
write("auction", "tiny-prices",
      auction_params(start_price=2, step_min=1, step_span=0, ext_window=0, ext_length=0)
      + [op(TICK, 1)] + to_deadline()
      + bid(2, wait(1), amount_raw(1))
      + bid(3, wait(1), amount_raw(1))
      + bid(3, wait(1), amount_raw(0)))
write("auction", "limits",
      auction_params(start_price=999999999999999999, step_min=1,
                     step_span=999999999999999997, starts_at=(1 << 63) - 1000000,
                     duration=999999, ext_window=(1 << 63) - 1, ext_length=(1 << 63) - 1)
      + [op(TICK, 1)] + to_deadline()
      + bid(2, wait(1), amount_raw(1))
      + bid(3, wait(1), amount_own(-1)))

# ---- procedure: parameters and lots, then operations ----
RFQ, TENDER, TENDER_AUCTION = 0, 1, 2
(PUBLISH, AMEND, SUBMIT, _SUBMIT2, WITHDRAW, CONFIRM, SCORE, AWARD, DISQUALIFY, AUCTION_RESULT,
 PCANCEL, COMPLETE, ADVANCE) = range(13)
PMARK, PROLLBACK, EVALUATE = 200, 220, 240
DAY = 86400000


def nonneg(v):
    return i64(v)


def proc_params(kind, buyer=1, min_bids=1, enquiry_end=START + DAY, submission=DAY,
                opening=0, early=DAY // 2):
    out = [kind | ((buyer - 1) << 2), min_bids] + i64(enquiry_end) + i64(submission)
    out += [0, 0] if opening == 0 else [0, 1] + nonneg(opening)   # nonneg % 4 decides
    return out + nonneg(early)


def lot(max_price, crits=()):
    """crits: (stated, weight_units, higher_better, min, span) or (scored, weight_units, top)."""
    out = [1] + i64(max_price)
    if crits is None:
        return out
    out += [len(crits)]   # ncrit = 1 + byte % 4
    for c in crits:
        if c[0] == "stated":
            b = 1 | (c[1] << 1) | (c[2] << 7)
            out += [b] + i64(c[3]) + nonneg(c[4])
        else:
            out += [c[1] << 1] + nonneg(c[2] - 1)
    return out


def pop(kind, org):
    """The op byte (< 200) of a procedure operation for an organization."""
    for b in range(200):
        if b % 13 == kind and 1 + (b >> 4) % 6 == org:
            return b
    raise ValueError((kind, org))


def at(mode, d=1):
    """pick_now: 0 now+d, 1 enquiry_end, 2 submission deadline, 3 opening (d=1: exactly)."""
    return [d, mode]


def submit(org, when, lot_byte=0, price_units=None, values_ok=True):
    out = [pop(SUBMIT, org)] + when + [lot_byte]
    b = 1 if values_ok else 0          # b % 4 != 0: stated values land in their bounds
    out += [b] + [0, 5] * 8              # eight values, mapped into range
    out += list(struct.pack("<Q", price_units))   # price = 1 + u64 % max_price
    return out + [1]                     # values given (not NULL)


rfq = proc_params(RFQ, min_bids=2) + [0] + lot(100000, None)
write("procedure", "rfq-award",
      rfq + [pop(PUBLISH, 1)] + at(0)
      + submit(2, at(1), price_units=90000)
      + submit(3, at(0), price_units=80000)
      + submit(4, at(0), price_units=85000)
      + [pop(WITHDRAW, 4)] + at(0) + [0]
      + [pop(ADVANCE, 1)] + at(3)
      + [EVALUATE]
      + [pop(AWARD, 1)] + at(0) + [0, 1]
      + [pop(COMPLETE, 1)] + at(0))
write("procedure", "rfq-disqualify-to-unsuccessful",
      proc_params(RFQ) + [0] + lot(5000, None) + [pop(PUBLISH, 1)] + at(0)
      + submit(2, at(1), price_units=4000)
      + [pop(ADVANCE, 1)] + at(3)
      + [pop(DISQUALIFY, 1)] + at(0) + [0, 1])
tender = (proc_params(TENDER, min_bids=1) + [1]
          + lot(1000000, [("stated", 54, 0, 1, 59), ("scored", 54, 10)])
          + lot(500000, []))
write("procedure", "tender-scores-award",
      tender + [pop(PUBLISH, 1)] + at(0)
      + submit(2, at(1), price_units=900000)
      + submit(3, at(0), price_units=700000)
      + submit(3, at(0), 1, price_units=100)
      + [pop(ADVANCE, 1)] + at(3)
      + [EVALUATE]
      + [pop(SCORE, 1)] + at(0) + [0, 3, 9, 1]
      + [pop(SCORE, 1)] + at(0) + [1, 3, 12, 1]
      + [EVALUATE]
      + [pop(AWARD, 1)] + at(0) + [0, 1]
      + [pop(AWARD, 1)] + at(0) + [1, 1])
write("procedure", "amend-confirm-mark-rollback",
      tender + [pop(PUBLISH, 1)] + at(0)
      # enquiry end moved, deadlines later; lot 1 +7 minor units, lot 2 unchanged
      + [pop(AMEND, 1)] + at(0) + [1] + nonneg(5000) + i64(2 * DAY) + nonneg(0)
      + [1] + i64(7) + [1] + [0, 1]
      + [pop(ADVANCE, 1)] + at(1)
      + submit(2, at(0), price_units=400000)
      + [PMARK]
      + [pop(AMEND, 1)] + at(0) + [0] + i64(DAY) + nonneg(DAY) + [0, 1, 0, 1]
      + [pop(CONFIRM, 2)] + at(0) + [0]
      + [PROLLBACK]
      + [pop(ADVANCE, 1)] + at(3) + [EVALUATE])
write("procedure", "tender-auction-result",
      proc_params(TENDER_AUCTION, min_bids=2) + [0] + lot(100000, [("scored", 20, 5)])
      + [pop(PUBLISH, 1)] + at(0)
      + submit(2, at(1), price_units=90000)
      + submit(3, at(0), price_units=95000)
      + submit(4, at(0), price_units=99000)
      + [pop(ADVANCE, 1)] + at(3)
      + [pop(AUCTION_RESULT, 1)] + at(0) + [3, 3, 2, 3, 0]
      + [EVALUATE]
      + [pop(AWARD, 1)] + at(0) + [0, 1])
write("procedure", "cancel-before-opening",
      proc_params(RFQ) + [1] + lot(100, None) + lot(200, None)
      + [pop(PUBLISH, 1)] + at(0)
      + submit(2, at(1), 1, price_units=150)
      + [pop(PCANCEL, 1)] + at(0)
      + submit(3, at(0), price_units=50))
