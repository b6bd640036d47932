"""Rules that apply to every auction format, over TLS (docs/auction-rules.md, docs/protocol.md
auction.create): visibility."""
import json
import time

from tdclient import create_auction


def wait_state(c, aid, state, timeout=15):
    v = c.ok("auction.get", auction=aid)["auction"]
    deadline = time.time() + timeout
    while v["state"] != state and time.time() < deadline:
        time.sleep(0.2)
        v = c.ok("auction.get", auction=aid)["auction"]
    assert v["state"] == state, v
    return v


def test_default_visibility_is_rank_and_best(server, unique):
    """Without visibility: a supplier sees the best price and its own rank, no ranking."""
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Default vis " + unique)
    assert a["visibility"] == "rank_and_best"
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    s1.ok("auction.bid", auction=a["id"], amount="990000.00")
    r = s2.ok("auction.bid", auction=a["id"], amount="995000.00")
    assert (r["rank"], r["best_price"]) == (2, "990000.00")
    v = s2.ok("auction.get", auction=a["id"])["auction"]
    assert (v["best_price"], v["your_rank"], v["visibility"]) == ("990000.00", 2,
                                                                    "rank_and_best")
    assert "ranking" not in v
    buyer.ok("auction.cancel", auction=a["id"], reason="test over")


def test_visibility_rank_hides_the_best_price(server, unique):
    """visibility rank: a supplier sees its own rank and price, never the best price (not in
    the view, the bid reply, a refusal's message or a watch event); the buyer and operators
    see everything; once closed everyone sees the ranking."""
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Rank only " + unique, visibility="rank", duration=3,
                       step_min="1000.00", step_max="50000.00")
    assert a["visibility"] == "rank"
    aid = a["id"]
    s1, s2, s3 = (server.connect(n) for n in ("supplier1", "supplier2", "supplier3"))
    s3.ok("auction.watch", auction=aid)
    r = s1.ok("auction.bid", auction=aid, amount="990000.00")
    assert (r["rank"], r["best_price"]) == (1, None)
    r = s2.ok("auction.bid", auction=aid, amount="995000.00")
    assert (r["rank"], r["best_price"]) == (2, None)
    r = s2.request("auction.bid", auction=aid, amount="989500.00")
    assert r["error"]["code"] == "bid_step_too_small", r
    assert r["error"]["message"] == \
        "amount must improve the best price by at least the minimum step 1000.00", r
    assert "990000" not in r["error"]["message"]
    r = s2.request("auction.bid", auction=aid, amount="900000.00")
    assert r["error"]["message"] == \
        "amount must improve the best price by at most the maximum step 50000.00", r
    v = s2.ok("auction.get", auction=aid)["auction"]
    assert (v["best_price"], v["your_rank"], v["your_price"]) == (None, 2, "995000.00")
    assert "ranking" not in v
    ev = s3.event(timeout=5, name="auction.update")
    assert ev["auction"]["best_price"] is None, ev
    lst = [x for x in s2.ok("auction.list")["auctions"] if x["id"] == aid]
    assert lst and lst[0]["best_price"] is None, lst
    other = server.connect("buyer2").ok("auction.get", auction=aid)["auction"]
    assert other["best_price"] is None and "ranking" not in other
    bv = buyer.ok("auction.get", auction=aid)["auction"]
    assert bv["best_price"] == "990000.00" and len(bv["ranking"]) == 2
    ov = server.connect("operator").ok("auction.get", auction=aid)["auction"]
    assert ov["best_price"] == "990000.00"
    v = wait_state(s2, aid, "closed")
    assert v["best_price"] == "990000.00"
    assert [e["price"] for e in v["ranking"]] == ["990000.00", "995000.00"]


def test_visibility_ranking_shows_aliases_only(server, unique):
    """visibility ranking: a supplier sees the full ranking by alias, its own entry marked,
    no organization anywhere while the auction runs."""
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Full ranking " + unique, visibility="ranking")
    aid = a["id"]
    s1, s2 = server.connect("supplier1"), server.connect("supplier2")
    s1.ok("auction.bid", auction=aid, amount="990000.00")
    s2.ok("auction.bid", auction=aid, amount="995000.00")
    v = s2.ok("auction.get", auction=aid)["auction"]
    assert v["best_price"] == "990000.00" and v["visibility"] == "ranking"
    assert [(e["rank"], e["alias"], e["price"]) for e in v["ranking"]] == \
        [(1, "Participant 1", "990000.00"), (2, "Participant 2", "995000.00")]
    assert all("organization" not in e for e in v["ranking"]), v["ranking"]
    assert v["ranking"][1].get("you") is True and "you" not in v["ranking"][0]
    ov = server.connect("operator").ok("auction.get", auction=aid)["auction"]
    assert ov["ranking"][0]["organization"] == "Alpha Supplies LLC"
    buyer.ok("auction.cancel", auction=aid, reason="test over")


def test_bad_visibility(server, unique):
    buyer = server.connect("buyer")
    for value in ("everything", 3):
        r = buyer.request("auction.create", title="Bad vis " + unique, currency="RUB",
                          start_price="1000.00", duration=60, visibility=value)
        assert r["ok"] is False and r["error"]["code"] == "bad_field", r
        assert r["error"]["field"] == "visibility", r


def test_visibility_stored_logged_and_restored(env, tenderd_factory, unique):
    server = tenderd_factory()
    buyer = server.connect("buyer")
    a = create_auction(buyer, "Stored vis " + unique, visibility="rank")
    d = create_auction(buyer, "Stored default " + unique)
    server.connect("supplier1").ok("auction.bid", auction=a["id"], amount="990000.00")
    server.restart()
    s2 = server.connect("supplier2")
    v = s2.ok("auction.get", auction=a["id"])["auction"]
    assert (v["visibility"], v["best_price"], v["bidders"]) == ("rank", None, 1)
    rows = env.psql("SELECT auction_id, visibility FROM audit.auction_rules WHERE auction_id IN"
                    " (%d, %d) ORDER BY auction_id" % (a["id"], d["id"]), user="auditor")
    assert rows == [[str(a["id"]), "rank"], [str(d["id"]), "rank_and_best"]], rows
    rows = env.psql("SELECT auction_id, detail FROM audit.auction_log WHERE kind = 'created'"
                    " AND auction_id IN (%d, %d) ORDER BY auction_id" % (a["id"], d["id"]),
                    user="auditor")
    logged = [json.loads(x) for _, x in rows]
    assert logged[0]["visibility"] == "rank" and "visibility" not in logged[1], logged
    buyer = server.connect("buyer")
    for x in (a, d):
        buyer.ok("auction.cancel", auction=x["id"], reason="test over")


def test_tenderctl_shows_the_visibility(env, server, unique):
    """tenderctl: --visibility on create; the view names the visibility, and a supplier of a
    rank auction reads that the best price is hidden, with no range to lead."""
    p = env.tenderctl("buyer", "auction", "create", "--title", "ctl vis " + unique,
                      "--currency", "RUB", "--start-price", "100000.00", "--step-min", "1000.00",
                      "--step-max", "5000.00", "--duration", "120", "--visibility", "rank",
                      server=server)
    assert p.returncode == 0, p.stderr
    assert "visibility    rank: bidders see their own rank only" in p.stdout, p.stdout
    aid = p.stdout.split(":")[0].split()[-1]
    p = env.tenderctl("supplier1", "bid", aid, "99000.00", server=server)
    assert p.returncode == 0, p.stderr
    p = env.tenderctl("supplier2", "auction", "get", aid, server=server)
    assert p.returncode == 0, p.stderr
    assert "best price    hidden (you see your own rank only)" in p.stdout, p.stdout
    assert "to lead" not in p.stdout and "99000.00" not in p.stdout, p.stdout
    p = env.tenderctl("buyer", "auction", "get", aid, server=server)
    assert "best price    99000.00" in p.stdout, p.stdout
    with server.client("buyer") as b:
        b.ok("auction.cancel", auction=int(aid), reason="test over")
