"""Every row of `changes` is a leaf of the transparency log: its `leaf_hash`, computed as the
row is inserted, is SHA-256(0x00 || input) over the row's 21 columns in the documented order
(sql/011_leaves.sql, docs/trust.md). This test computes the hash of every row itself, from the
documented format alone, and requires the stored one to be equal: for each kind of change
tenderd writes (a run of bids sent as one multi-row insert included) and for rows written by
`tenderd register` offline."""
import base64
import hashlib
import pathlib

import procutil as pu
from conftest import run, sanitizer_env
from tdclient import create_auction

NULL = "~"


def fields_sql():
    """Each column as base64 of its bytes (NULL as '~'), so any text survives psql."""
    text_cols = ["seq::text", "((extract(epoch FROM at) * 1000000)::bigint)::text", "stream",
                 "kind", "auction_id::text", "procurement_id::text", "lot_id::text",
                 "offer_id::text", "bid_id::text", "participant_id::text",
                 "organization_id::text", "fingerprint", "subject_participant_id::text",
                 "subject_organization_id::text", "amount::text", "reason",
                 "CASE WHEN sealed THEN 't' ELSE 'f' END", "body", "statement"]
    out = ["coalesce(translate(encode(convert_to(%s, 'UTF8'), 'base64'), E'\\n', ''), '~')" % c
           for c in text_cols]
    out.append("coalesce(translate(encode(signature, 'base64'), E'\\n', ''), '~')")
    out.append("coalesce(translate(encode(convert_to(signer, 'UTF8'), 'base64'), E'\\n', ''),"
               " '~')")
    out.append("encode(leaf_hash, 'hex')")
    return ", ".join(out)


def leaf_hash(values):
    """The documented leaf hash of one row, from its 21 column values (bytes or None)."""
    data = b"\x00"
    for v in values:
        data += b"~" if v is None else str(len(v)).encode() + b":" + v + b","
    return hashlib.sha256(data).hexdigest()


def check_all(env, since=0):
    rows = env.psql("SELECT %s FROM changes WHERE seq > %d ORDER BY seq" % (fields_sql(), since))
    assert rows
    kinds = set()
    for r in rows:
        values = [None if x == NULL else base64.b64decode(x) for x in r[:21]]
        kinds.add((values[2].decode(), values[3].decode()))
        assert leaf_hash(values) == r[21], "seq %s" % values[0].decode()
    return kinds


def test_every_kind_of_change_has_the_documented_leaf(env, tenderd_factory, unique):
    server = tenderd_factory()
    start = int(env.psql("SELECT coalesce(max(seq), 0) FROM changes")[0][0])
    buyer, s1, s2 = (server.connect(n) for n in ("buyer", "supplier1", "supplier2"))
    op = server.connect("operator")

    a = create_auction(buyer, "Leaves " + unique, step_min="100.00", step_max="50000.00")
    # a burst of bids sent without waiting: several land in one batch, one multi-row insert
    sent = []
    for i in range(20):
        sent.append((s1, s1.send("auction.bid", auction=a["id"], amount="%d.00" % (999000 - i * 1000))))
        sent.append((s2, s2.send("auction.bid", auction=a["id"], amount="%d.00" % (998500 - i * 1000))))
    for c, rid in sent:
        c.reply(rid)
    s2.error("auction.bid", auction=a["id"], amount="2000000.00")     # bid_refused
    buyer.ok("auction.cancel", auction=a["id"], reason="leaf \u00e9 " + unique)

    p = pu.create(buyer, "rfq", "Leaves RFQ " + unique, publish=False, enquiry=60000,
                  deadline=120000, opening=130000)
    buyer.ok("procurement.publish", procurement=p["id"])
    s1.ok("question.ask", procurement=p["id"], text="Which paper? \u043f\u0430\u043f\u0438\u0440")

    env.make_cert("leaf" + unique)
    reg = op.ok("participant.register", organization="Leaf Org " + unique, role="supplier",
                name="Leaf " + unique,
                certificate=pathlib.Path(env.cert("leaf" + unique)).read_text())
    op.ok("participant.suspend", participant=reg["participant"]["id"], reason="x")
    op.ok("organization.suspend", organization=reg["organization"]["id"], reason="y")

    kinds = check_all(env, start)
    for k in [("auction", "created"), ("auction", "bid_accepted"), ("auction", "bid_refused"),
              ("auction", "cancelled"), ("procurement", "created"),
              ("procurement", "published"), ("procurement", "question_asked"),
              ("participant", "registered"), ("participant", "suspended"),
              ("organization", "suspended")]:
        assert k in kinds, k
    # the multi-row insert wrote the burst's bids
    n = int(env.psql("SELECT count(*) FROM changes WHERE auction_id = %d AND kind ="
                     " 'bid_accepted'" % a["id"])[0][0])
    assert n >= 2


def test_offline_registration_has_the_documented_leaf(env, tenderd_factory, unique):
    server = tenderd_factory()
    server.stop()
    start = int(env.psql("SELECT coalesce(max(seq), 0) FROM changes")[0][0])
    name = "offleaf" + unique
    env.make_cert(name)
    run(env.tenderd_cmd("register", "--db", env.conninfo, "--role", "supplier",
                        "--organization", "Off Leaf " + unique, "--name", "Off " + unique,
                        "--cert", env.cert(name)), env=sanitizer_env())
    assert ("participant", "registered") in check_all(env, start)
