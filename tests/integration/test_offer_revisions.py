"""offer_revisions keeps every change of an offer, even two of one kind at one revision in
the same millisecond: such a pair once collided on the table's key and failed the whole
batch, the changes of every other participant in it included (migration 009)."""
import json

import procutil as pu


def test_two_identical_revision_rows_do_not_collide(env, server, unique):
    buyer = server.connect("buyer")
    supplier = server.connect("supplier1")
    p = pu.create(buyer, "rfq", "Revisions " + unique, lots=[pu.lot("Paper", "1000.00")])
    pu.wait_tendering(buyer, p)
    supplier.ok("quote.submit", procurement=p["id"], lot=1, price="900.00")
    (offer, part, _org, fp), = env.psql(
        "SELECT r.offer_id, r.participant_id, f.organization_id, r.fingerprint "
        "FROM offer_revisions r JOIN offers f ON f.id = r.offer_id "
        "WHERE f.procurement_id = %d" % p["id"])
    # two confirmations of the same revision at the same instant, as tenderd writes them
    # into offer_revisions (rolled back: the table stays as tenderd wrote it)
    row = ("INSERT INTO offer_revisions (offer_id, revision, action, at, participant_id, "
           "fingerprint, price, detail) VALUES (%s, 1, 'confirmed', '2026-01-01T00:00:00Z', "
           "%s, '%s', NULL, '%s');" % (offer, part, fp, json.dumps({"revision": 1})))
    r = env.psql("BEGIN; %s %s SELECT count(*) FROM offer_revisions WHERE offer_id = %s "
                 "AND action = 'confirmed'; ROLLBACK;" % (row, row, offer), check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2"], r.stdout
    # nothing of it stayed
    assert env.psql("SELECT count(*) FROM offer_revisions WHERE offer_id = %s" % offer) == \
        [["1"]]
