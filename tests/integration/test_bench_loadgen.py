"""The load generator's procurement mode (build/loadgen --procedures, bench/pload.c) and its
signed bids (--signed)
against a real tenderd: `make bench` reads its RESULT line, so it must keep speaking
the protocol of docs/protocol.md (procurement.create/publish, quote.* and bid.*,
question.ask/answer, procurement.watch) and time what it claims to time.
"""
import subprocess

from conftest import BUILD, run, sanitizer_env

SUPPLIERS = 8


def register_bulk(env, prefix, n):
    """Bulk supplier certificates PREFIX00001.. (mkpki.sh --bulk), one organization each."""
    env.make_cert("--bulk", prefix, str(n))
    for i in range(1, n + 1):
        name = "%s%05d" % (prefix, i)
        run(env.tenderd_cmd("register", "--db", env.conninfo, "--role", "supplier",
                            "--organization", "Loadgen supplier %s" % name, "--name", name,
                            "--cert", env.cert(name)), env=sanitizer_env())


def loadgen(env, server, buyer, *extra):
    """One procurement run; the key=value pairs of its RESULT line."""
    cmd = [str(BUILD / "loadgen"), "--server", "127.0.0.1:%d" % server.port, "--ca", env.ca,
           "--certs", str(env.pki), "--prefix", "lgsup", "--conns", str(SUPPLIERS),
           "--procedures", "4", "--watchers", "2", "--buyer-cert", env.cert(buyer),
           "--buyer-key", env.key(buyer), "--warmup", "1", "--duration", "2", "--enquiry", "2",
           "--question-gap", "200", "--withdraw-every", "3", "--connect-timeout", "30",
           "--quiet"] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    assert lines, p.stdout + p.stderr
    return {k: v for k, v in (kv.split("=", 1) for kv in lines[-1].split()[1:])}, p.stdout


def test_procurement_load(env, tenderd_factory):
    """Every kind of operation is acknowledged, none refused, and the watchers' updates
    are matched to the acknowledgements they show, closed loop and at a set rate."""
    register_bulk(env, "lgsup", SUPPLIERS)
    env.make_cert("lgbuyer")
    run(env.tenderd_cmd("register", "--db", env.conninfo, "--role", "buyer", "--organization",
                        "Loadgen Buyer Hospital", "--name", "loadgen buyer",
                        "--cert", env.cert("lgbuyer")), env=sanitizer_env())
    server = tenderd_factory(max_offer_revisions=1000000, max_questions_per_supplier=1000)
    for extra in ([], ["--rate", "100"]):
        r, out = loadgen(env, server, "lgbuyer", *extra)
        assert int(r["refused"]) == 0, out
        assert int(r["conn_lost"]) == 0, out
        for kind in ("submit", "revise", "withdraw", "ask", "answer"):
            assert int(r[kind + "_per_s"]) > 0, (kind, out)
        assert int(r["acked"]) > 0 and int(r["ack_p99_us"]) > 0, out
        # updates were seen and most of them matched an acknowledgement
        assert int(r["watch_n"]) > 0, out
        assert int(r["watch_n"]) > int(r["watch_early"]), out


def test_signed_bids(env, tenderd_factory):
    """Bid mode with --signed: every bid is signed as it is sent, acknowledged, and stored
    with its statement and signature; without it the auctions take unsigned bids."""
    register_bulk(env, "lgsig", SUPPLIERS)
    env.make_cert("lgsigbuyer")
    run(env.tenderd_cmd("register", "--db", env.conninfo, "--role", "buyer", "--organization",
                        "Loadgen Signing Hospital", "--name", "loadgen signing buyer",
                        "--cert", env.cert("lgsigbuyer")), env=sanitizer_env())
    server = tenderd_factory()
    before = int(env.psql("SELECT coalesce(max(seq), 0) FROM changes")[0][0])
    for signed in (True, False):
        cmd = [str(BUILD / "loadgen"), "--server", "127.0.0.1:%d" % server.port,
               "--ca", env.ca, "--certs", str(env.pki), "--prefix", "lgsig",
               "--conns", str(SUPPLIERS), "--auctions", "2", "--watchers", "1",
               "--buyer-cert", env.cert("lgsigbuyer"), "--buyer-key", env.key("lgsigbuyer"),
               "--warmup", "1", "--duration", "2", "--connect-timeout", "30", "--quiet"]
        p = subprocess.run(cmd + (["--signed"] if signed else []), capture_output=True,
                           text=True, timeout=90)
        assert p.returncode == 0, p.stdout + p.stderr
        r = dict(kv.split("=", 1) for kv in
                 [l for l in p.stdout.splitlines() if l.startswith("RESULT ")][-1].split()[1:])
        assert int(r["acked"]) > 0 and int(r["conn_lost"]) == 0, p.stdout
        rows = env.psql("SELECT count(*) FILTER (WHERE statement IS NOT NULL), count(*)"
                        " FROM changes WHERE seq > %d AND kind = 'bid_accepted'" % before)
        with_statement, total = int(rows[0][0]), int(rows[0][1])
        if signed:
            assert with_statement == total > 0, rows
        else:
            assert total > with_statement, rows
        before = int(env.psql("SELECT max(seq) FROM changes")[0][0])
