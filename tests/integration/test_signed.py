"""Signed statements (docs/protocol.md, "Signed statements"): every operation that commits a
participant carries a detached CMS signature over a statement of what it does; tenderd
checks the signature, the statement against the request, the signer, the nonce and the
time, and stores statement, signature and signer with the change."""
import base64
import json
import os
import pathlib
import re
import subprocess
import time

import pytest

import procutil
import tdclient
from conftest import ROOT, run
from tdclient import format_time, now_ms


@pytest.fixture(scope="module")
def srv(module_tenderd_factory):
    return module_tenderd_factory(signature_skew=30)


def auction(buyer, title, **extra):
    return tdclient.create_auction(buyer, title, **extra)


def change_of(env, seq):
    """statement, signature (bytes), signer of change `seq`."""
    rows = env.psql("SELECT coalesce(statement, ''),"
                    " coalesce(translate(encode(signature, 'base64'), E'\\n', ''), ''),"
                    " coalesce(signer, ''), kind FROM changes WHERE seq = %d" % seq)
    st, sig, signer, kind = rows[0]
    return st, base64.b64decode(sig.replace("\n", "")), signer, kind


def last_change(env, kind, auction_id=None):
    where = "kind = '%s'" % kind
    if auction_id is not None:
        where += " AND auction_id = %d" % auction_id
    return int(env.psql("SELECT max(seq) FROM changes WHERE " + where)[0][0])


def test_unsigned_request_is_refused(env, srv, unique):
    buyer = srv.connect("buyer")
    e = buyer.error("auction.create", sign=False, title="unsigned " + unique, currency="RUB",
                    start_price="1000.00", duration=60)
    assert e["code"] == "signature_required" and e["field"] == "statement", e
    assert "must be signed" in e["message"]
    # a statement without its signature
    st, _ = buyer.signer.signed("procurement.cancel", {"procurement": 1, "reason": "x"})
    e = buyer.error("procurement.cancel", sign=False, procurement=1, reason="x", statement=st)
    assert e["code"] == "signature_required" and e["field"] == "signature", e
    # nothing was created
    assert not any(a["title"] == "unsigned " + unique
                   for a in buyer.ok("auction.list")["auctions"])


def test_signed_bids_by_default_and_unsigned_when_the_auction_says(env, srv, unique):
    buyer, s1 = srv.connect("buyer"), srv.connect("supplier1")
    a = auction(buyer, "signed bids " + unique)
    assert a["signed_bids"] is True
    e = s1.error("auction.bid", sign=False, auction=a["id"], amount="990000.00")
    assert e["code"] == "signature_required", e
    s1.ok("auction.bid", auction=a["id"], amount="990000.00")
    b = auction(buyer, "unsigned bids " + unique, signed_bids=False)
    assert b["signed_bids"] is False
    s1.ok("auction.bid", sign=False, auction=b["id"], amount="990000.00")
    # the unsigned bid has no statement; a signed one in the same auction keeps its own
    st, sig, signer, _ = change_of(env, last_change(env, "bid_accepted", b["id"]))
    assert st == "" and sig == b"" and signer == ""
    e = buyer.error("auction.create", title="x", currency="RUB", start_price="1.00",
                    signed_bids="yes")
    assert e["code"] == "bad_field" and e["field"] == "signed_bids", e
    # the setting survives a restart
    srv.close_clients()
    srv.restart()
    s2 = srv.connect("supplier2")
    assert s2.ok("auction.get", auction=b["id"])["auction"]["signed_bids"] is False
    s2.ok("auction.bid", sign=False, auction=b["id"], amount="980000.00")
    e = s2.error("auction.bid", sign=False, auction=a["id"], amount="980000.00")
    assert e["code"] == "signature_required", e


def test_accepted_and_refused_bids_store_what_was_signed(env, srv, unique):
    buyer, s1 = srv.connect("buyer"), srv.connect("supplier1")
    a = auction(buyer, "stored " + unique)
    s1.ok("auction.bid", auction=a["id"], amount="990000.00")
    sent = s1.last_statement
    st, sig, signer, kind = change_of(env, last_change(env, "bid_accepted", a["id"]))
    assert kind == "bid_accepted" and st == sent
    assert signer == env.fingerprint("supplier1")
    assert sig[:1] == b"\x30"  # DER
    # a bid the rules refuse (not below the best) keeps its statement with its refusal
    e = s1.error("auction.bid", auction=a["id"], amount="995000.00")
    assert e["code"] != "bad_signature", e
    st, sig, signer, kind = change_of(env, last_change(env, "bid_refused", a["id"]))
    assert st == s1.last_statement and json.loads(st)["amount"] == "995000.00"
    assert signer == env.fingerprint("supplier1") and sig
    # the creation carries the buyer's statement, the leaf hash covers it
    seq = int(env.psql("SELECT seq FROM changes WHERE kind = 'created' AND auction_id = %d"
                       % a["id"])[0][0])
    st, _, signer, _ = change_of(env, seq)
    assert json.loads(st)["op"] == "auction.create" and signer == env.fingerprint("buyer")


def test_bad_signature(env, srv, unique):
    buyer, s1 = srv.connect("buyer"), srv.connect("supplier1")
    a = auction(buyer, "bad sig " + unique)
    fields = {"auction": a["id"], "amount": "990000.00"}
    st = tdclient.statement_bytes("auction.bid", fields)
    other = tdclient.statement_bytes("auction.bid", dict(fields, amount="1.00"))
    # a signature over other bytes
    e = s1.error("auction.bid", statement=st.decode(), signature=s1.signer.sign(other), **fields)
    assert e["code"] == "bad_signature" and e["field"] == "signature", e
    assert "does not verify" in e["message"]
    # not base64, not CMS (each with a fresh nonce: the first one is used)
    st1 = tdclient.statement_bytes("auction.bid", fields)
    e = s1.error("auction.bid", statement=st1.decode(), signature="%%%%", **fields)
    assert e["code"] == "bad_signature", e
    st2 = tdclient.statement_bytes("auction.bid", fields)
    e = s1.error("auction.bid", statement=st2.decode(),
                 signature=base64.b64encode(b"not a signature").decode(), **fields)
    assert e["code"] == "bad_signature" and "CMS" in e["message"], e
    # a refused check enters no batch: no change row carries these statements
    assert env.psql("SELECT count(*) FROM changes WHERE statement IN ('%s', '%s')"
                    % (st.decode(), st2.decode()))[0][0] == "0"
    # the connection goes on
    s1.ok("auction.bid", **fields)


def test_statement_mismatch_names_the_field(env, srv, unique):
    buyer, s1 = srv.connect("buyer"), srv.connect("supplier1")
    a = auction(buyer, "mismatch " + unique)
    fields = {"auction": a["id"], "amount": "990000.00"}
    # the statement says another amount
    st, sig = s1.signer.signed("auction.bid", dict(fields, amount="900000.00"))
    e = s1.error("auction.bid", statement=st, signature=sig, **fields)
    assert e["code"] == "statement_mismatch" and e["field"] == "amount", e
    # the amount as a number is not the decimal string of the request
    st, sig = s1.signer.signed("auction.bid", dict(fields, amount=990000))
    e = s1.error("auction.bid", statement=st, signature=sig, **fields)
    assert e["code"] == "statement_mismatch" and e["field"] == "amount", e
    # another operation
    st, sig = s1.signer.signed("auction.cancel", fields)
    e = s1.error("auction.bid", statement=st, signature=sig, **fields)
    assert e["code"] == "statement_mismatch" and e["field"] == "op", e
    # a member the request does not have
    st, sig = s1.signer.signed("auction.bid", dict(fields, lot=1))
    e = s1.error("auction.bid", statement=st, signature=sig, **fields)
    assert e["code"] == "statement_mismatch" and e["field"] == "lot", e
    # a field the statement does not have
    st, sig = s1.signer.signed("auction.bid", {"auction": a["id"]})
    e = s1.error("auction.bid", statement=st, signature=sig, **fields)
    assert e["code"] == "statement_mismatch" and e["field"] == "amount", e
    # malformed statements
    for bad, field in [({"nonce": "short"}, "nonce"), ({"time": "yesterday"}, "time")]:
        st, sig = s1.signer.signed("auction.bid", fields, **{
            "nonce": bad.get("nonce"), "at": bad.get("time")})
        e = s1.error("auction.bid", statement=st, signature=sig, **fields)
        assert e["code"] == "bad_statement" and e["field"] == field, e
    e = s1.error("auction.bid", statement="[1]", signature=s1.signer.sign(b"[1]"), **fields)
    assert e["code"] == "bad_statement" and e["field"] == "statement", e


def test_wrong_signer(env, srv, unique):
    buyer, s1 = srv.connect("buyer"), srv.connect("supplier1")
    a = auction(buyer, "wrong signer " + unique)
    other = tdclient.Signer(env.cert("supplier2"), env.key("supplier2"))
    fields = {"auction": a["id"], "amount": "990000.00"}
    st, sig = other.signed("auction.bid", fields)
    e = s1.error("auction.bid", statement=st, signature=sig, **fields)
    assert e["code"] == "wrong_signer" and e["field"] == "signature", e
    assert "not a registered certificate of this participant" in e["message"]
    # a certificate of the platform CA that is registered to nobody
    stranger = tdclient.Signer(env.cert("stranger"), env.key("stranger"))
    st, sig = stranger.signed("auction.bid", fields)
    assert s1.error("auction.bid", statement=st, signature=sig, **fields)["code"] == \
        "wrong_signer"
    # a certificate of another CA
    rogue = tdclient.Signer(env.cert("rogue"), env.key("rogue"))
    st, sig = rogue.signed("auction.bid", fields)
    assert s1.error("auction.bid", statement=st, signature=sig, **fields)["code"] == \
        "wrong_signer"


def test_nonce_reused_and_stale_statement(env, srv, unique):
    buyer, s1 = srv.connect("buyer"), srv.connect("supplier1")
    a = auction(buyer, "replay " + unique)
    nonce = tdclient.new_nonce()
    s1.ok("auction.bid", sign={"nonce": nonce}, auction=a["id"], amount="990000.00")
    replay = s1.last_statement
    # the same statement and signature again: a replay
    sig = s1.signer.sign(replay.encode())
    e = s1.error("auction.bid", statement=replay, signature=sig, auction=a["id"],
                 amount="990000.00")
    assert e["code"] == "nonce_reused" and e["field"] == "nonce", e
    # the same nonce in a new statement
    e = s1.error("auction.bid", sign={"nonce": nonce}, auction=a["id"], amount="980000.00")
    assert e["code"] == "nonce_reused", e
    # another participant may use it
    s2 = srv.connect("supplier2")
    s2.ok("auction.bid", sign={"nonce": nonce}, auction=a["id"], amount="970000.00")
    # outside the skew, either way
    for off in (-60000, 60000):
        e = s1.error("auction.bid", sign={"at": format_time(now_ms() + off)}, auction=a["id"],
                     amount="960000.00")
        assert e["code"] == "stale_statement" and e["field"] == "time", e
    # the nonces stored with recent changes are remembered across a restart
    srv.close_clients()
    srv.restart()
    s1 = srv.connect("supplier1")
    e = s1.error("auction.bid", sign={"nonce": nonce}, auction=a["id"], amount="950000.00")
    assert e["code"] == "nonce_reused", e


def test_procurement_operations_are_signed(env, srv, unique):
    buyer, s1 = srv.connect("buyer"), srv.connect("supplier1")
    p = procutil.create(buyer, "rfq", "signed rfq " + unique, deadline=60000, opening=60000,
                        enquiry=300)
    time.sleep(0.5)
    e = s1.error("quote.submit", sign=False, procurement=p["id"], lot=p["lots"][0]["id"],
                 price="900.00")
    assert e["code"] == "signature_required", e
    r = s1.ok("quote.submit", procurement=p["id"], lot=p["lots"][0]["id"], price="900.00")
    seq = int(env.psql("SELECT seq FROM changes WHERE kind = 'offer_submitted' AND offer_id = %d"
                       % r["offer"])[0][0])
    st, sig, signer, _ = change_of(env, seq)
    assert json.loads(st)["op"] == "quote.submit" and json.loads(st)["price"] == "900.00"
    assert signer == env.fingerprint("supplier1")
    # the buyer's publication was signed too
    seq = int(env.psql("SELECT seq FROM changes WHERE kind = 'published' AND procurement_id = %d"
                       % p["id"])[0][0])
    st, _, signer, _ = change_of(env, seq)
    assert json.loads(st) == dict(json.loads(st), op="procurement.publish", procurement=p["id"])
    assert signer == env.fingerprint("buyer")


def test_tender_auction_signed_bids_setting(env, srv, unique):
    buyer = srv.connect("buyer")
    p = procutil.create(buyer, "tender_auction", "ta " + unique, publish=False,
                        auction={"signed_bids": False})
    assert p["auction"]["signed_bids"] is False
    e = buyer.error("procurement.create", kind="tender_auction", title="ta2 " + unique,
                    currency="RUB", description="x", lots=[procutil.lot()],
                    enquiry_end=p["enquiry_end"], submission_deadline=p["submission_deadline"],
                    opening_at=p["opening_at"], auction={"signed_bids": 1})
    assert e["code"] == "bad_field" and e["field"] == "auction", e


@pytest.mark.parametrize("signed", [True, False])
def test_tender_auction_lot_auction_bids(env, srv, unique, signed):
    """The live auction of a tender_auction lot requires signed bids unless the procedure's
    auction settings say signed_bids false."""
    buyer = srv.connect("buyer")
    s1, s2 = srv.connect("supplier1"), srv.connect("supplier2")
    settings = {"step_min": "1.00", "step_max": "100.00", "duration": 3, "extension_window": 0,
                "extension": 0, "delay": 0, "signed_bids": signed}
    p = procutil.create(buyer, "tender_auction", "lot auction %s %s" % (signed, unique),
                        min_bids=2, lots=[procutil.lot("Monitors", "1000.00")], auction=settings)
    assert ("signed_bids" in p["auction"]) is (not signed), p["auction"]
    procutil.wait_tendering(buyer, p)
    s1.ok("bid.submit", procurement=p["id"], lot=1, price="900.00", values={})
    s2.ok("bid.submit", procurement=p["id"], lot=1, price="850.00", values={})
    aid = procutil.wait_opened(buyer, p)["lots"][0]["auction"]
    assert s1.ok("auction.get", auction=aid)["auction"]["signed_bids"] is signed
    if signed:
        e = s1.error("auction.bid", sign=False, auction=aid, amount="849.00")
        assert e["code"] == "signature_required", e
        s1.ok("auction.bid", auction=aid, amount="849.00")
    else:
        s1.ok("auction.bid", sign=False, auction=aid, amount="849.00")


def docs_block(path, marker):
    """The fenced block of `path` that follows the line holding `marker`."""
    text = (ROOT / path).read_text()
    m = re.search(re.escape(marker) + r".*?\n```[a-z]*\n(.*?)\n```", text, re.S)
    assert m, "no block after %r in %s" % (marker, path)
    return m.group(1)


def test_protocol_doc_openssl_cli_signing(env, srv, unique, tmp_path):
    """The openssl CLI example of docs/protocol.md, run as written."""
    buyer = srv.connect("buyer")
    a = auction(buyer, "cli " + unique)
    script = docs_block("docs/protocol.md", "<!-- tested: openssl cli signing -->")
    e = dict(os.environ, TENDERD="127.0.0.1:%d" % srv.port, CERT=env.cert("supplier1"),
             KEY=env.key("supplier1"), CA=env.ca, AUCTION=str(a["id"]), AMOUNT="990000.00")
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    replies = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    assert replies and replies[-1]["ok"] is True, (p.stdout, p.stderr)
    assert replies[-1]["your_rank"] == 1 if "your_rank" in replies[-1] else True
    st, _, signer, _ = change_of(env, last_change(env, "bid_accepted", a["id"]))
    assert signer == env.fingerprint("supplier1") and json.loads(st)["auction"] == a["id"]


def test_audit_doc_export_and_openssl_verify(env, srv, unique, tmp_path):
    """The commands of docs/audit.md export one row's statement, signature and signer
    certificate and check them with openssl cms -verify alone."""
    buyer, s1 = srv.connect("buyer"), srv.connect("supplier1")
    a = auction(buyer, "audit " + unique)
    s1.ok("auction.bid", auction=a["id"], amount="990000.00")
    seq = last_change(env, "bid_accepted", a["id"])
    script = docs_block("docs/audit.md", "<!-- tested: export and verify -->")
    e = dict(os.environ, DB=env.conninfo_for("tenderd"), SEQ=str(seq), CA=env.ca)
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "Verification successful" in p.stderr, p.stderr
    assert (tmp_path / "statement.json").read_text() == s1.last_statement
    # the same commands catch an altered statement
    st = (tmp_path / "statement.json").read_text().replace("990000.00", "990000.01")
    (tmp_path / "statement.json").write_text(st)
    p = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                        "signature.der", "-content", "statement.json", "-certfile", "signer.pem",
                        "-CAfile", env.ca, "-purpose", "any", "-out", "/dev/null"],
                       cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.returncode != 0 and "Verification successful" not in p.stderr


def test_tenderctl_signs(env, srv, unique):
    """tenderctl signs with the user's key: the bid's change holds its statement, signed by
    the user's certificate; a raw request that has a statement is sent as it is."""
    buyer = srv.connect("buyer")
    a = auction(buyer, "tenderctl " + unique)
    p = env.tenderctl("supplier2", "bid", str(a["id"]), "990000.00", server=srv)
    assert p.returncode == 0, p.stdout + p.stderr
    st, sig, signer, _ = change_of(env, last_change(env, "bid_accepted", a["id"]))
    s = json.loads(st)
    assert s["op"] == "auction.bid" and s["auction"] == a["id"] and s["amount"] == "990000.00"
    assert re.fullmatch(r"[0-9a-f]{32}", s["nonce"]) and "id" not in s
    assert signer == env.fingerprint("supplier2") and sig[:1] == b"\x30"
    # the same statement and signature again, as a raw request: a replay
    raw = json.dumps({"op": "auction.bid", "auction": a["id"], "amount": "990000.00",
                      "statement": st, "signature": base64.b64encode(sig).decode()})
    p = env.tenderctl("supplier2", "raw", raw, server=srv)
    assert p.returncode != 0 and "nonce_reused" in p.stderr, p.stdout + p.stderr


def test_an_expired_certificate_of_the_participant_cannot_sign(env, srv, unique):
    """A participant holds two certificates; the second one expires. Signing with it is
    refused with signer_invalid, while the first one still opens the connection and signs."""
    old, short = "sigold" + unique, "sigshort" + unique
    env.make_cert(old)
    env.make_cert("--expires-in", "4", short)
    with srv.client("operator") as op:
        pid = op.ok("participant.register", organization="Signer Org " + unique,
                    role="supplier", name="Signer " + unique,
                    certificate=pathlib.Path(env.cert(old)).read_text())["participant"]["id"]
        op.ok("certificate.add", participant=pid,
              certificate=pathlib.Path(env.cert(short)).read_text())
    buyer, c = srv.connect("buyer"), srv.connect(old)
    a = auction(buyer, "expired signer " + unique)
    fields = {"auction": a["id"], "amount": "990000.00"}
    signer = tdclient.Signer(env.cert(short), env.key(short))
    deadline = time.time() + 20
    # before it expires, the second certificate signs for the same participant
    st, sig = signer.signed("auction.bid", fields)
    c.ok("auction.bid", statement=st, signature=sig, **fields)
    while time.time() < deadline and int(env.psql(
            "SELECT (not_after < now())::int FROM certificates WHERE fingerprint = '%s'"
            % env.fingerprint(short))[0][0]) == 0:
        time.sleep(0.5)
    time.sleep(1)
    fields["amount"] = "985000.00"
    st, sig = signer.signed("auction.bid", fields)
    e = c.error("auction.bid", statement=st, signature=sig, **fields)
    assert e["code"] == "signer_invalid", e
    assert "not valid" in e["message"], e
    # the participant's other certificate still signs (once another supplier leads)
    srv.connect("supplier2").ok("auction.bid", auction=a["id"], amount="980000.00")
    fields["amount"] = "975000.00"
    c.ok("auction.bid", **fields)
