"""auction.list and procurement.list page with limit/after/next and filter by state, kind and
buyer: nothing is ever cut silently, pages neither overlap nor skip, and what each role may
see is unchanged (drafts stay with their buyer's organization)."""
import json

import pytest

import procutil as pu
import tdclient


def fresh_buyer(env, server, unique, tag):
    """A buyer certificate in an organization of its own; (name, organization id)."""
    name = "list%s%s" % (tag, unique)
    env.make_cert(name)
    with server.client("operator") as op:
        r = op.ok("participant.register", organization="Listing %s %s" % (tag, unique),
                  role="buyer", name="Lister " + tag, certificate=open(env.cert(name)).read())
    return name, r["organization"]["id"]


def pages(client, op, member, **fields):
    """Every page of a list; returns (rows, number of pages)."""
    rows, n, after = [], 0, None
    while True:
        req = dict(fields)
        if after is not None:
            req["after"] = after
        r = client.ok(op, **req)
        n += 1
        rows += r[member]
        assert "next" in r, r
        after = r["next"]
        if after is None:
            return rows, n
        assert isinstance(after, str), r
        assert n < 1000


def test_auction_list_pages_and_filters(env, server, unique):
    name, org = fresh_buyer(env, server, unique, "a")
    buyer = server.connect(name)
    req = {"title": "Paged " + unique, "currency": "RUB", "start_price": "1000.00",
           "duration": 600, "extension_window": 0, "extension": 0}
    ids = [buyer.send("auction.create", **req) for _ in range(105)]
    created = [buyer.reply(i)["auction"]["id"] for i in ids]
    supplier = server.connect("supplier1")
    # the default page is 100, and the rest is one `next` away: nothing cut
    r = supplier.ok("auction.list", buyer=org)
    assert len(r["auctions"]) == 100 and r["next"] is not None, (len(r["auctions"]), r["next"])
    rows, n = pages(supplier, "auction.list", "auctions", buyer=org, limit=7)
    got = [a["id"] for a in rows]
    assert got == sorted(created, reverse=True) and n == 15, (n, got[:5])
    assert all("ranking" not in a for a in rows)
    # a page ends exactly at the last one: next is null, not an empty page
    r = supplier.ok("auction.list", buyer=org, limit=105)
    assert len(r["auctions"]) == 105 and r["next"] is None, r["next"]
    # filters: state (and its alias status), kind, buyer
    buyer.ok("auction.cancel", auction=created[0], reason="listing test")
    for key in ("state", "status"):
        r = supplier.ok("auction.list", buyer=org, **{key: "cancelled"})
        assert [a["id"] for a in r["auctions"]] == [created[0]], r
    r = supplier.ok("auction.list", buyer=org, kind="tender_auction")
    assert r["auctions"] == [] and r["next"] is None, r
    assert len(supplier.ok("auction.list", buyer=org, kind="auction", limit=1000)["auctions"]) == 105
    # bad fields
    for fields, field in (({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
                          ({"after": "abc"}, "after"), ({"after": 5}, "after"),
                          ({"state": "open"}, "state"), ({"kind": "dutch"}, "kind"),
                          ({"state": "running", "status": "closed"}, "status"),
                          ({"buyer": "x"}, "buyer")):
        e = supplier.error("auction.list", **fields)
        assert e["code"] == "bad_field" and e.get("field") == field, (fields, e)


def test_procurement_list_pages_filters_and_visibility(env, server, unique):
    name, org = fresh_buyer(env, server, unique, "p")
    buyer = server.connect(name)
    published = [pu.create(buyer, "rfq", "Paged rfq %d %s" % (i, unique), enquiry=600000,
                           deadline=700000, opening=700000)["id"] for i in range(4)]
    tender = pu.create(buyer, "tender", "Paged tender " + unique, enquiry=600000,
                       deadline=700000, opening=700000)["id"]
    drafts = [pu.create(buyer, "rfq", "Draft %d %s" % (i, unique), publish=False, enquiry=600000,
                        deadline=700000, opening=700000)["id"] for i in range(2)]
    every = sorted(published + [tender] + drafts, reverse=True)
    # the owner sees its drafts too, page by page
    rows, n = pages(buyer, "procurement.list", "procurements", buyer=org, limit=2)
    assert [p["id"] for p in rows] == every and n == 4, rows
    # a supplier does not: drafts stay hidden, and the pages are still complete
    s = server.connect("supplier2")
    rows, n = pages(s, "procurement.list", "procurements", buyer=org, limit=2)
    assert [p["id"] for p in rows] == sorted(published + [tender], reverse=True) and n == 3, rows
    r = s.ok("procurement.list", buyer=org, kind="tender")
    assert [p["id"] for p in r["procurements"]] == [tender] and r["next"] is None, r
    r = s.ok("procurement.list", buyer=org, status="draft")
    assert r["procurements"] == [], r
    r = buyer.ok("procurement.list", buyer=org, state="draft", kind="rfq", limit=1)
    assert [p["id"] for p in r["procurements"]] == [max(drafts)] and r["next"], r
    for fields, field in (({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
                          ({"after": "-3"}, "after"), ({"state": "open"}, "state"),
                          ({"kind": "auction"}, "kind")):
        e = s.error("procurement.list", **fields)
        assert e["code"] == "bad_field" and e.get("field") == field, (fields, e)


def test_tenderctl_lists_page_with_the_cursor(env, server, unique):
    name, org = fresh_buyer(env, server, unique, "c")
    buyer = server.connect(name)
    pids = [pu.create(buyer, "rfq", "Ctl rfq %d %s" % (i, unique), enquiry=600000,
                      deadline=700000, opening=700000)["id"] for i in range(3)]
    aids = [tdclient.create_auction(buyer, "Ctl auction %d %s" % (i, unique))["id"]
            for i in range(3)]
    for what, ids in (("procurement", pids), ("auction", aids)):
        p = env.tenderctl("supplier1", what, "list", "--buyer", str(org), "--limit", "2",
                          server=server)
        assert p.returncode == 0, p.stderr
        assert "(more: --after %d for the next page, or --all)" % ids[1] in p.stdout, p.stdout
        p = env.tenderctl("supplier1", what, "list", "--buyer", str(org), "--limit", "2",
                          "--after", str(ids[1]), server=server)
        assert p.returncode == 0 and "(more:" not in p.stdout, p.stdout
        assert "%s %d %s" % ("rfq" if what == "procurement" else "auction", 0, unique) in p.stdout
        p = env.tenderctl("supplier1", what, "list", "--buyer", str(org), "--limit", "1", "--all",
                          server=server, json_out=True)
        assert p.returncode == 0, p.stderr
        lines = [json.loads(x) for x in p.stdout.splitlines()]
        member = what + "s" if what == "auction" else "procurements"
        assert len(lines) == 3 and [x[member][0]["id"] for x in lines] == ids[::-1], lines


class CyclingServer:
    """A TLS server that answers every list request with one row and a `next` cursor that
    goes round "2", "1", "2", ... for at most `pages` requests, counting them."""

    def __init__(self, env, pages=40):
        import socket
        import ssl
        import threading
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(env.cert("server"), env.key("server"))
        self.ctx.load_verify_locations(env.ca)
        self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.pages, self.served = pages, 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        raw, _ = self.sock.accept()
        with self.ctx.wrap_socket(raw, server_side=True) as tls:
            f = tls.makefile("rwb")
            for line in f:
                req = json.loads(line)
                if self.served == self.pages:
                    return
                self.served += 1
                row = {"id": 100 - self.served, "state": "scheduled", "currency": "RUB",
                       "start_price": "1000.00", "best_price": None, "bids": 0,
                       "title": "Row %d" % self.served}
                f.write(json.dumps({"id": req.get("id"), "ok": True, "auctions": [row],
                                    "next": "2" if self.served % 2 else "1"}).encode() + b"\n")
                f.flush()


def test_tenderctl_all_stops_when_cursors_come_back(env):
    """--all follows `next` only to cursors it has not followed yet: a server going round in
    circles ends the listing instead of making tenderctl page (and hold rows) forever."""
    fake = CyclingServer(env)
    p = env.tenderctl("supplier1", "auction", "list", "--all", server=fake)
    fake.thread.join(5)
    assert fake.served == 3, (fake.served, p.stdout, p.stderr)
    assert p.returncode == 0, p.stderr
    assert "the server gave the cursor 2 a second time" in p.stderr, p.stderr
    rows = [x for x in p.stdout.splitlines() if "Row " in x]
    assert len(rows) == 3 and p.stdout.count("start price") == 1, p.stdout
