"""The transparency log (docs/trust.md): receipts on every acknowledgement of a state change,
signed tree heads stored before they are published, inclusion and consistency proofs over
the protocol, all checked here the way an outsider would (hashlib, the openssl CLI), and the
tree rebuilt at start-up from changes.leaf_hash."""
import base64
import hashlib

import tdclient
import tlogutil as tl


def receipt_of(reply):
    r = reply["receipt"]
    assert set(r) == {"seq", "leaf_hash"}, r
    assert len(r["leaf_hash"]) == 64, r
    return r


def stored_leaf(env, seq):
    return env.psql("SELECT encode(leaf_hash, 'hex') FROM changes WHERE seq = %d" % seq)[0][0]


def check_inclusion(client, receipt, head):
    p = client.ok("log.proof", seq=receipt["seq"], tree_size=head["tree_size"])
    assert (p["seq"], p["tree_size"], p["leaf_hash"]) == (
        receipt["seq"], head["tree_size"], receipt["leaf_hash"]), p
    return tl.verify_inclusion(receipt["seq"] - 1, head["tree_size"],
                               bytes.fromhex(receipt["leaf_hash"]),
                               [bytes.fromhex(h) for h in p["path"]], bytes.fromhex(head["root"]))


def test_receipts_heads_and_proofs(env, server, unique):
    buyer = server.connect("buyer")
    sup = server.connect("supplier1")
    r = buyer.ok("auction.create", title="Receipts " + unique, currency="RUB",
                 start_price="1000000.00", duration=600)
    created = receipt_of(r)
    bid = sup.ok("auction.bid", auction=r["auction"]["id"], amount="995000.00")
    rb = receipt_of(bid)
    assert rb["seq"] > created["seq"]
    # the receipt names the row PostgreSQL hashed as it inserted it
    assert stored_leaf(env, rb["seq"]) == rb["leaf_hash"]
    assert env.psql("SELECT kind, bid_id FROM changes WHERE seq = %d" % rb["seq"]) == \
        [["bid_accepted", str(bid["bid"]["id"])]]
    # a refusal carries none, though its refused bid is logged
    e = sup.request("auction.bid", auction=r["auction"]["id"], amount="990000.00")
    assert e["ok"] is False and "receipt" not in e, e
    # a read carries none
    assert "receipt" not in sup.ok("auction.get", auction=r["auction"]["id"])

    head = tl.wait_head(sup, rb["seq"])
    assert tl.openssl_verify_head(head, env.ca), head
    assert head["key_fingerprint"] == tdclient.cert_fingerprint(env.cert("log"))
    assert tdclient.parse_time(head["time"]) == head["timestamp"]
    # stored before it was published
    row = env.psql("SELECT encode(root, 'hex'), encode(signature, 'hex'), key_fingerprint,"
                   " (extract(epoch FROM at) * 1000)::bigint FROM tree_heads"
                   " WHERE tree_size = %d" % head["tree_size"])
    assert row and row[0][0] == head["root"] and row[0][2] == head["key_fingerprint"], row
    assert bytes.fromhex(row[0][1]) == base64.b64decode(head["signature"])
    assert int(row[0][3]) == head["timestamp"]
    assert env.psql("SELECT count(*) FROM log_keys WHERE fingerprint = '%s'"
                    % head["key_fingerprint"]) == [["1"]]
    assert check_inclusion(sup, rb, head)
    assert check_inclusion(buyer, created, head)
    # a forged leaf does not verify
    forged = dict(rb, leaf_hash=hashlib.sha256(b"forged").hexdigest())
    p = sup.ok("log.proof", seq=rb["seq"], tree_size=head["tree_size"])
    assert not tl.verify_inclusion(rb["seq"] - 1, head["tree_size"],
                                   bytes.fromhex(forged["leaf_hash"]),
                                   [bytes.fromhex(h) for h in p["path"]],
                                   bytes.fromhex(head["root"]))

    # the log grows: the new head is consistent with the old one
    sup2 = server.connect("supplier2")
    later = receipt_of(sup2.ok("auction.bid", auction=r["auction"]["id"], amount="990000.00"))
    new = tl.wait_head(sup, later["seq"])
    c = sup.ok("log.consistency", **{"from": head["tree_size"], "to": new["tree_size"]})
    assert (c["from"], c["to"]) == (head["tree_size"], new["tree_size"])
    proof = [bytes.fromhex(h) for h in c["proof"]]
    assert tl.verify_consistency(head["tree_size"], new["tree_size"],
                                 bytes.fromhex(head["root"]), bytes.fromhex(new["root"]), proof)
    assert not tl.verify_consistency(head["tree_size"], new["tree_size"],
                                     hashlib.sha256(b"x").digest(), bytes.fromhex(new["root"]),
                                     proof)
    # `to` defaults to the latest head; a head of a given size is served again
    assert sup.ok("log.consistency", **{"from": head["tree_size"]})["to"] >= new["tree_size"]
    assert sup.ok("log.head", tree_size=head["tree_size"])["head"] == head
    assert check_inclusion(buyer, later, new)


def test_log_errors(env, server, unique):
    c = server.connect("operator")
    sup = server.connect("supplier2")
    buyer = server.connect("buyer")
    rc = receipt_of(buyer.ok("auction.create", title="Errors " + unique, currency="RUB",
                             start_price="1000.00", duration=600))
    head = tl.wait_head(c, rc["seq"])
    n = head["tree_size"]
    e = c.error("log.proof", seq=n + 1, tree_size=n)
    assert (e["code"], e["field"], e["message"]) == (
        "out_of_range", "seq", "seq %d is not in the tree of size %d (1 to %d)" % (n + 1, n, n)), e
    e = c.error("log.proof", seq=0)
    assert (e["code"], e["field"]) == ("out_of_range", "seq"), e
    e = sup.error("log.proof")
    assert (e["code"], e["field"]) == ("missing_field", "seq"), e
    e = sup.error("log.proof", seq="1")
    assert (e["code"], e["field"]) == ("bad_field", "seq"), e
    e = sup.error("log.proof", seq=1, tree_size=n + 1000)
    assert (e["code"], e["field"]) == ("unknown_tree_head", "tree_size"), e
    assert e["message"].startswith("no tree head of size %d was signed (the latest has size "
                                   % (n + 1000)), e
    e = sup.error("log.head", tree_size=n + 1000)
    assert (e["code"], e["field"]) == ("unknown_tree_head", "tree_size"), e
    e = sup.error("log.consistency", to=n)
    assert (e["code"], e["field"]) == ("missing_field", "from"), e
    e = sup.error("log.consistency", **{"from": n + 1000})
    assert (e["code"], e["field"]) == ("unknown_tree_head", "from"), e
    later = receipt_of(buyer.ok("auction.create", title="Errors 2 " + unique, currency="RUB",
                                start_price="1000.00", duration=600))
    new = tl.wait_head(c, later["seq"])
    e = sup.error("log.consistency", **{"from": new["tree_size"], "to": n})
    assert (e["code"], e["field"], e["message"]) == (
        "out_of_range", "from", "from (%d) must not be larger than to (%d)"
        % (new["tree_size"], n)), e


def test_rebuilt_at_start(env, tenderd_factory, unique):
    """After a restart the tree comes from changes.leaf_hash: the same heads, proofs that
    verify against heads signed before, new receipts that continue it."""
    srv = tenderd_factory()
    buyer = srv.connect("buyer")
    first = receipt_of(buyer.ok("auction.create", title="Rebuild " + unique, currency="RUB",
                                start_price="1000.00", duration=600))
    head = tl.wait_head(buyer, first["seq"])
    srv.close_clients()
    srv.restart()
    buyer = srv.connect("buyer")
    assert buyer.ok("log.head", tree_size=head["tree_size"])["head"] == head
    assert check_inclusion(buyer, first, head)
    again = receipt_of(buyer.ok("auction.create", title="Rebuild 2 " + unique, currency="RUB",
                                start_price="1000.00", duration=600))
    new = tl.wait_head(buyer, again["seq"])
    assert check_inclusion(buyer, again, new)
    c = buyer.ok("log.consistency", **{"from": head["tree_size"], "to": new["tree_size"]})
    assert tl.verify_consistency(head["tree_size"], new["tree_size"], bytes.fromhex(head["root"]),
                                 bytes.fromhex(new["root"]), [bytes.fromhex(h) for h in c["proof"]])
    assert "does not match the log" not in srv.log_text()


def test_sealed_offer_content_hash(env, server, unique):
    """A sealed submission's receipt commits to its content (content_hash, SHA-256 of the
    change's body, which holds 128 random bits); after the opening the opening record shows
    that body (sealed_content) and anyone checks it against the receipt."""
    import json
    import procutil as pu
    buyer = server.connect("buyer")
    s1 = server.connect("supplier1")
    s2 = server.connect("supplier2")
    p = pu.create(buyer, "tender", "Sealed receipts " + unique, enquiry=1000, deadline=3500,
                  opening=3500)
    pu.wait_tendering(buyer, p)
    lot = p["lots"][0]["id"]
    first = s1.ok("bid.submit", procurement=p["id"], lot=lot, price="900.00")["receipt"]
    assert set(first) == {"seq", "leaf_hash", "content_hash"}, first
    last = s1.ok("bid.submit", procurement=p["id"], lot=lot, price="880.00",
                 comment="revised")["receipt"]
    other = s2.ok("bid.submit", procurement=p["id"], lot=lot, price="870.00")["receipt"]
    assert len({first["content_hash"], last["content_hash"], other["content_hash"]}) == 3
    # a withdrawal or a question is not sealed: no content hash
    assert "content_hash" not in s2.ok("bid.withdraw", procurement=p["id"], lot=lot)["receipt"]
    other = s2.ok("bid.submit", procurement=p["id"], lot=lot, price="870.00")["receipt"]
    # before the opening nothing shows the body
    assert "sealed_content" not in json.dumps(pu.get(s2, p["id"]))
    v = pu.wait_opened(s2, p)
    rows = {r["offer"]: r for r in v["lots"][0]["opening"]}
    assert len(rows) == 2
    checked = 0
    for receipt in (last, other):
        match = [r for r in rows.values()
                 if hashlib.sha256(r["sealed_content"].encode()).hexdigest() ==
                 receipt["content_hash"]]
        assert len(match) == 1, (receipt, rows)
        row = match[0]
        body = json.loads(row["sealed_content"])
        assert body["price"] == pu.minor(row["price"]) and body["offer"] == row["offer"], body
        assert body["lot"] == lot and len(body["salt"]) == 32, body
        # the body is the leaf's: the stored row of the receipt holds these exact bytes
        assert env.psql("SELECT body = %s FROM changes WHERE seq = %d" % (
            "'" + row["sealed_content"].replace("'", "''") + "'", receipt["seq"])) == [["t"]]
        checked += 1
    assert checked == 2
    # the superseded revision's commitment matches no opened offer
    assert all(hashlib.sha256(r["sealed_content"].encode()).hexdigest() != first["content_hash"]
               for r in rows.values())


def test_tenderctl_verify_receipt(env, server, unique, tmp_path):
    """tenderctl verify-receipt through the real binary: a receipt checked against a fresh
    head (saved), then with that saved head against a later one; a forged receipt, a forged
    head and a head signed by a participant's key fail with their own exit status."""
    import json
    import subprocess
    buyer = server.connect("buyer")
    r = buyer.ok("auction.create", title="Verify " + unique, currency="RUB",
                 start_price="1000.00", duration=600)
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps(r))        # a whole reply carries its receipt
    saved = tmp_path / "head.json"
    p = env.tenderctl("supplier1", "verify-receipt", str(receipt), "--save-head", str(saved),
                      server=server)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "head: size" in p.stdout and "(chains to the CA): ok" in p.stdout, p.stdout
    assert "receipt: seq %d is in the signed tree of size" % r["receipt"]["seq"] in p.stdout
    head = json.loads(saved.read_text())
    assert head["tree_size"] >= r["receipt"]["seq"] and tl.openssl_verify_head(head, env.ca)

    later = buyer.ok("auction.create", title="Verify 2 " + unique, currency="RUB",
                     start_price="1000.00", duration=600)["receipt"]
    tl.wait_head(buyer, later["seq"])
    p = env.tenderctl("supplier1", "verify-receipt", json.dumps(later), "--head", str(saved),
                      server=server)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "saved head: size %d" % head["tree_size"] in p.stdout, p.stdout
    assert "consistency: the saved head of size %d is a prefix of size" % head["tree_size"] \
        in p.stdout, p.stdout

    # a forged receipt: another leaf hash at the same seq
    forged = dict(later, leaf_hash=hashlib.sha256(b"forged").hexdigest())
    p = env.tenderctl("supplier1", "verify-receipt", json.dumps(forged), server=server)
    assert p.returncode == 6, p.stdout + p.stderr
    assert "FAILED: inclusion: the receipt's leaf hash is not in the signed tree" in p.stderr

    # a forged saved head: its root changed, its signature no longer matches
    bad = dict(head, root=hashlib.sha256(b"other tree").hexdigest())
    badf = tmp_path / "bad-head.json"
    badf.write_text(json.dumps(bad))
    p = env.tenderctl("supplier1", "verify-receipt", json.dumps(later), "--head", str(badf),
                      server=server)
    assert p.returncode == 5, p.stdout + p.stderr
    assert "FAILED: saved head: the signature does not match the head's size, root and time" \
        in p.stderr, p.stderr

    # a head signed by a participant's key (its certificate is the CA's, but no log
    # certificate): refused even though the signature matches
    fake = dict(bad)
    text = tl.head_bytes(fake)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", env.key("supplier2")],
                         input=text, capture_output=True, check=True).stdout
    fake["signature"] = base64.b64encode(sig).decode()
    fake["certificate"] = open(env.cert("supplier2")).read()
    fake["key_fingerprint"] = tdclient.cert_fingerprint(env.cert("supplier2"))
    badf.write_text(json.dumps(fake))
    p = env.tenderctl("supplier1", "verify-receipt", json.dumps(later), "--head", str(badf),
                      server=server)
    assert p.returncode == 5, p.stdout + p.stderr
    assert "FAILED: saved head: its certificate is not a log certificate of the CA" in p.stderr

    # a head that no longer extends: a genuine head of another tree would fail consistency;
    # a saved head larger than the latest one does too
    big = dict(head, tree_size=head["tree_size"] + 10 ** 6)
    text = tl.head_bytes(big)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", env.key("log")],
                         input=text, capture_output=True, check=True).stdout
    big["signature"] = base64.b64encode(sig).decode()
    badf.write_text(json.dumps(big))
    p = env.tenderctl("supplier1", "verify-receipt", json.dumps(later), "--head", str(badf),
                      server=server)
    assert p.returncode == 7, p.stdout + p.stderr
    assert "FAILED: consistency:" in p.stderr, p.stderr
    # not a receipt: usage
    p = env.tenderctl("supplier1", "verify-receipt", '{"seq":1}', server=server)
    assert p.returncode == 2 and "not a receipt" in p.stderr, p.stderr


def test_leaf_hash_is_inlined(env):
    """tenderd_leaf() (migration 016) is one expression PostgreSQL inlines into the statement
    that calls it with parameters, as every change statement does: no function call per row
    (migration 011's form ran 21 SQL function calls per row, about 0.3 ms: docs/benchmarks.md)."""
    rows = env.psql("SET plan_cache_mode = force_generic_plan;"
                    " PREPARE leaf_x(bigint, timestamptz, text) AS SELECT tenderd_leaf($1, $2,"
                    " 'auction', 'bid_accepted', 7, NULL, NULL, NULL, 9, 5, 5, 'fp', NULL, NULL,"
                    " 99000, NULL, false, $3, NULL, NULL, NULL);"
                    " EXPLAIN VERBOSE EXECUTE leaf_x(1, now(), '{}')")
    plan = "\n".join(r[0] for r in rows)
    assert "sha256(" in plan and "tenderd_leaf" not in plan, plan
    assert env.psql("SELECT provolatile FROM pg_proc WHERE proname = 'tenderd_leaf'") == [["s"]]
