"""Proxy bidding over TLS with real clients (docs/auction-rules.md "Proxy bidding",
docs/protocol.md auction.proxy): a supplier's floor bids for it by the least step, a proxy war
is resolved at once, the floor stays sealed from competitors (and auditors) until the end,
automatic bids are real bids marked automatic, floors survive kill -9, and tenderd verify
replays it all."""
import time

import conftest
from tdclient import create_auction, parse_time, walk


def wait_state(c, aid, state, timeout=15):
    v = c.ok("auction.get", auction=aid)["auction"]
    deadline = time.time() + timeout
    while v["state"] != state and time.time() < deadline:
        time.sleep(0.2)
        v = c.ok("auction.get", auction=aid)["auction"]
    assert v["state"] == state, v
    return v


def create(buyer, title, **fields):
    req = dict(start_price="1000.00", step_min="10.00", step_max="500.00")
    req.update(fields)
    return create_auction(buyer, title, **req)


def mentions(value, text):
    return any(v == text for _, v in walk(value)) or text in repr(value)


def test_proxy_answers_war_and_seal(server, unique):
    """A proxy bids at once when it does not lead, answers a manual bid by the least step,
    wins a war against a worse floor one step beyond it; competitors never see a floor."""
    buyer = server.connect("buyer")
    a = create(buyer, "Proxy " + unique)
    aid = a["id"]
    s1, s2, s3 = (server.connect(n) for n in ("supplier1", "supplier2", "supplier3"))
    s1.ok("auction.watch", auction=aid)
    s1.ok("auction.bid", auction=aid, amount="990.00")
    r = s2.ok("auction.proxy", auction=aid, floor="900.00")
    assert r["proxy"] == {"floor": "900.00", "auto_bids": 1}, r
    # signed and receipted like a bid; sealed: the receipt commits to the salted body
    assert set(r["receipt"]) == {"seq", "leaf_hash", "content_hash"}, r
    v = r["auction"]
    assert (v["your_proxy_floor"], v["your_rank"], v["your_price"], v["best_price"],
            v["last_bid_auto"]) == ("900.00", 1, "980.00", "980.00", True), v
    ev = s1.event(timeout=5, name="auction.update")
    assert ev["auction"]["last_bid_auto"] is True and ev["auction"]["your_rank"] == 2, ev
    assert not mentions(ev, "900.00"), ev
    # a war: supplier3's floor 950.00 is worse: it ends at 950.00, supplier2 one step beyond
    r = s3.ok("auction.proxy", auction=aid, floor="950.00")
    assert r["proxy"]["auto_bids"] == 2, r
    assert (r["auction"]["your_price"], r["auction"]["your_rank"]) == ("950.00", 2), r
    v = s2.ok("auction.get", auction=aid)["auction"]
    assert (v["your_price"], v["your_rank"], v["best_price"]) == ("940.00", 1, "940.00"), v
    # a manual bid: supplier2's proxy answers in the same batch, before anyone is told
    r = s1.ok("auction.bid", auction=aid, amount="930.00")
    assert r["rank"] == 1 and r["bid"]["amount"] == "930.00", r
    v = s1.ok("auction.get", auction=aid)["auction"]
    assert (v["your_rank"], v["best_price"], v["last_bid_auto"]) == (2, "920.00", True), v
    assert v["your_proxy_floor"] is None
    for c in (s1, s3):
        seen = c.ok("auction.get", auction=aid)["auction"]
        assert not mentions(seen, "900.00"), seen
        assert "proxies" not in seen
    assert "proxies" not in buyer.ok("auction.get", auction=aid)["auction"]
    # the same floor again (a new instruction), then the proxy bids down to it and stops
    s2.ok("auction.proxy", auction=aid, floor="900.00")
    r = s1.ok("auction.bid", auction=aid, amount="910.00")
    v = s2.ok("auction.get", auction=aid)["auction"]
    assert (v["your_rank"], v["your_price"]) == (1, "900.00"), v
    r = s1.ok("auction.bid", auction=aid, amount="890.00")
    v = s2.ok("auction.get", auction=aid)["auction"]
    assert (v["your_rank"], v["your_price"]) == (2, "900.00"), v   # never below its floor
    # a manual bid beyond its own floor works alongside the proxy
    s2.ok("auction.bid", auction=aid, amount="880.00")
    # withdraw (floor null), then nothing to withdraw
    r = s2.ok("auction.proxy", auction=aid, floor=None)
    assert r["proxy"] == {"floor": None, "auto_bids": 0}, r
    assert r["auction"]["your_proxy_floor"] is None
    assert s2.error("auction.proxy", auction=aid)["code"] == "no_proxy"
    buyer.ok("auction.cancel", auction=aid, reason="test over")
    bv = buyer.ok("auction.get", auction=aid)["auction"]
    assert [(p["organization"], p["floor"]) for p in bv["proxies"]] == \
        [("Gamma Trade JSC", "950.00")] or len(bv["proxies"]) == 1, bv["proxies"]
    assert bv["proxies"][0]["floor"] == "950.00"


def test_proxy_refusals(server, unique):
    buyer = server.connect("buyer")
    a = create(buyer, "Proxy refusals " + unique)
    aid = a["id"]
    s1 = server.connect("supplier1")
    for floor, code in (("abc", "bad_field"), ("0.00", "bad_field"), ("1000.00",
                        "bid_not_below_start_price"), ("1.001", "bad_field")):
        e = s1.error("auction.proxy", auction=aid, floor=floor)
        assert e["code"] == code, (floor, e)
    e = s1.error("auction.proxy", auction=aid, floor=950)
    assert (e["code"], e["field"]) == ("bad_field", "floor"), e
    assert s1.error("auction.proxy", auction=aid + 100000, floor="900.00")["code"] == \
        "not_found"
    e = s1.error("auction.proxy", auction=aid, floor="900.00", sign=False)
    assert e["code"] == "signature_required", e
    assert buyer.error("auction.proxy", auction=aid, floor="900.00")["code"] != "ok"
    d = create_auction(buyer, "Dutch proxy " + unique, format="dutch_reverse",
                       start_price="1000.00", clock_step="10.00", clock_interval=1000,
                       clock_limit="1100.00")
    e = s1.error("auction.proxy", auction=d["id"], floor="1050.00")
    assert e["code"] == "proxy_not_for_clock_formats", e
    # a sealed-bid auction takes every price from the bidder itself
    sb = buyer.ok("auction.create", title="Sealed proxy " + unique, currency="RUB",
                  start_price="1000.00", duration=60, format="sealed_first_price")["auction"]
    e = s1.error("auction.proxy", auction=sb["id"], floor="900.00")
    assert e["code"] == "proxy_not_for_format", e
    buyer.ok("auction.cancel", auction=aid, reason="test over")
    buyer.ok("auction.cancel", auction=d["id"], reason="test over")
    buyer.ok("auction.cancel", auction=sb["id"], reason="test over")


def test_proxy_extends_in_window(server, unique):
    """An automatic bid in the extension window moves the end like any lead-taking bid."""
    buyer = server.connect("buyer")
    a = create(buyer, "Proxy ext " + unique, duration=60, extension_window=120, extension=300)
    aid = a["id"]
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    s2.ok("auction.proxy", auction=aid, floor="900.00")
    v = s1.ok("auction.get", auction=aid)["auction"]
    assert v["extensions"] == 1 and v["last_bid_auto"] is True, v
    assert parse_time(v["ends_at"]) >= parse_time(v["scheduled_end"]) + 239000, v
    s1.ok("auction.bid", auction=aid, amount="980.00")
    v = s1.ok("auction.get", auction=aid)["auction"]
    assert (v["your_rank"], v["best_price"], v["last_bid_auto"]) == (2, "970.00", True), v
    buyer.ok("auction.cancel", auction=aid, reason="test over")


def test_proxy_survives_kill9_and_verify(env, tenderd_factory):
    """Floors survive kill -9 and keep bidding after the restart; the automatic bids are
    marked in bids and the log; the floor is withheld from the auditor until the end;
    tenderd verify replays the automatic bids."""
    from test_verify import NAMES, psql_db, verify

    db = "tdproxy_kill9"
    env.drop_database(db)
    as_role = env.new_database(db)
    try:
        conftest.run(env.tenderd_cmd("migrate", "--db", as_role(conftest.OWNER), "--sql_dir",
                                     conftest.SQL_DIR), env=conftest.sanitizer_env())
        for name in NAMES:
            role, org, display = conftest.PARTICIPANTS[name]
            conftest.run(env.tenderd_cmd("register", "--db", as_role("tenderd"), "--role", role,
                                         "--organization", org, "--name", display, "--cert",
                                         env.cert(name)), env=conftest.sanitizer_env())
        server = tenderd_factory(db=as_role("tenderd"))
        buyer, s1, s2 = (server.connect(n) for n in ("buyer", "supplier1", "supplier2"))
        a = create(buyer, "Proxy kill9", duration=6)
        aid = a["id"]
        s1.ok("auction.bid", auction=aid, amount="990.00")
        assert s2.ok("auction.proxy", auction=aid, floor="900.00")["proxy"]["auto_bids"] == 1
        rows = psql_db(env, db, "SELECT kind, amount_minor, body IS NULL, sealed FROM"
                       " audit.changes WHERE auction_id = %d AND kind LIKE 'proxy%%'" % aid,
                       user="auditor")
        assert rows == [["proxy_set", "", "t", "t"]], rows
        server.close_clients()
        server.kill9()
        server.start()
        s1, s2 = server.connect("supplier1"), server.connect("supplier2")
        assert s2.ok("auction.get", auction=aid)["auction"]["your_proxy_floor"] == "900.00"
        s1.ok("auction.bid", auction=aid, amount="970.00")
        v = s1.ok("auction.get", auction=aid)["auction"]
        assert (v["your_rank"], v["best_price"], v["last_bid_auto"]) == (2, "960.00", True), v
        wait_state(s1, aid, "closed")
        rows = psql_db(env, db, "SELECT amount, automatic FROM audit.bid_rows WHERE"
                       " auction_id = %d ORDER BY seq" % aid, user="auditor")
        assert rows == [["99000", "f"], ["98000", "t"], ["97000", "f"], ["96000", "t"]], rows
        rows = psql_db(env, db, "SELECT kind, floor FROM audit.auction_proxies WHERE"
                       " auction_id = %d" % aid, user="auditor")
        assert rows == [["proxy_set", "900.00"]], rows
        rows = psql_db(env, db, "SELECT coalesce(detail->>'auto', 'no') FROM audit.auction_log WHERE"
                       " auction_id = %d AND kind = 'bid_accepted' ORDER BY log_id" % aid,
                       user="auditor")
        assert rows == [["no"], ["true"], ["no"], ["true"]], rows
        server.close_clients()
        server.stop()
        rc, out = verify(env, db)
        assert rc == 0, out
    finally:
        env.drop_database(db)


def test_tenderctl_proxy(env, server, unique):
    """tenderctl proxy / proxy withdraw sign the op and print the floor and the standing;
    auction get shows the supplier's own floor."""
    buyer = server.connect("buyer")
    a = create(buyer, "Proxy ctl " + unique)
    aid = str(a["id"])
    server.connect("supplier1").ok("auction.bid", auction=a["id"], amount="990.00")
    p = env.tenderctl("supplier2", "proxy", aid, "900", server=server)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ("proxy floor 900.00 RUB active: 1 automatic bid placed, "
                                "your rank 1 at 980.00, best 980.00"), p.stdout
    p = env.tenderctl("supplier2", "auction", "get", aid, server=server)
    assert "floor 900.00 active" in p.stdout, p.stdout
    p = env.tenderctl("supplier1", "auction", "get", aid, server=server)
    assert "900.00" not in p.stdout, p.stdout
    p = env.tenderctl("supplier2", "proxy", "withdraw", aid, server=server)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("proxy withdrawn: 0 automatic bids placed"), p.stdout
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")


def test_proxy_instructions_count_towards_the_bid_limit(tenderd_factory, unique):
    """auction.proxy counts towards max_bids_per_bidder, and so do automatic bids."""
    server = tenderd_factory(max_bids_per_bidder=3)
    buyer = server.connect("buyer")
    a = create(buyer, "Proxy limit " + unique)
    aid = a["id"]
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    s1.ok("auction.bid", auction=aid, amount="990.00")
    assert s2.ok("auction.proxy", auction=aid, floor="900.00")["proxy"]["auto_bids"] == 1
    s2.ok("auction.proxy", auction=aid, floor="890.00")   # 3: two instructions, one bid
    e = s2.error("auction.proxy", auction=aid, floor="880.00")
    assert e["code"] == "limit_exceeded", e
    assert e["message"].startswith("max_bids_per_bidder (3) reached"), e
    buyer.ok("auction.cancel", auction=aid, reason="test over")
