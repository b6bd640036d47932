"""Text rules: limits in characters (Unicode code points of the NFC form), strings stored and
returned in NFC, invisible characters refused in names and titles, organization names unique
up to case and normalization (docs/protocol.md, "Text")."""
import pathlib
import subprocess

import conftest
import procutil
from tdclient import create_auction

KA = "\u10e2"       # Georgian letter: 3 bytes in UTF-8
ZWSP = "\u200b"


def test_limits_count_characters(server, unique):
    b = server.connect("buyer")
    # 500 Georgian letters are 1 500 bytes: within the 500-character limit
    title = (unique + " " + KA * 500)[:500]
    assert len(title.encode()) > 1000
    create_auction(b, title)
    e = b.error("auction.create", title=title + KA, currency="RUB", start_price="1000.00",
                duration=60)
    assert (e["code"], e.get("field")) == ("bad_field", "title"), e
    assert e["message"] == "field 'title' must be 1 to 500 characters without NUL", e

    p = procutil.create(b, "rfq", (unique + " " + "\u0645" * 500)[:500],
                        lots=[procutil.lot(title=KA * 500)], publish=False)
    assert p["lots"][0]["title"] == KA * 500
    e = b.error("procurement.create", kind="rfq", title="\u0645" * 501, currency="GEL",
                lots=[procutil.lot()], enquiry_end="2030-01-01T00:00:00Z",
                submission_deadline="2030-01-02T00:00:00Z", opening_at="2030-01-02T00:00:00Z")
    assert (e["code"], e.get("field")) == ("bad_field", "title"), e
    assert "500 characters" in e["message"], e


def test_strings_are_stored_in_nfc(server, unique):
    b = server.connect("buyer")
    decomposed = "Cafe\u0301 " + unique
    composed = "Caf\u00e9 " + unique
    r = b.ok("auction.create", title=decomposed, currency="RUB", start_price="1000.00",
             duration=60, extension_window=0, extension=0)
    assert r["auction"]["title"] == composed
    assert b.ok("auction.get", auction=r["auction"]["id"])["auction"]["title"] == composed
    # invalid UTF-8 is not JSON
    b.send_raw(b'{"id":9,"op":"auction.create","title":"\xc3("}\n')
    assert b.read_msg()["error"]["code"] == "bad_json"
    # a request id is echoed as sent
    rid = "e\u0301"
    b.send_raw(('{"id":"%s","op":"hello"}\n' % rid).encode())
    assert b.read_msg()["id"] == rid


def test_invisible_characters(server, env, unique):
    op = server.connect("operator")
    b = server.connect("buyer")
    name = "zw" + unique
    env.make_cert(name)
    pem = pathlib.Path(env.cert(name)).read_text()
    for field, value in (("organization", "Ac" + ZWSP + "me " + unique),
                         ("organization", "Acme\u202e " + unique),
                         ("organization", "\ufeffAcme " + unique),
                         ("organization", " Acme " + unique),
                         ("name", "Desk\u2060one")):
        req = {"organization": "Acme " + unique, "role": "supplier", "name": "Desk",
               "certificate": pem}
        req[field] = value
        e = op.error("participant.register", **req)
        assert (e["code"], e.get("field")) == ("bad_field", field), (value, e)
    e = op.error("participant.register", organization="Ac" + ZWSP + "me " + unique,
                 role="supplier", name="Desk", certificate=pem)
    assert e["message"] == ("field 'organization' contains an invisible or control character "
                            "(U+200B) at character 3"), e
    # titles refuse bidi overrides and line breaks, but keep the joiners scripts need
    e = b.error("auction.create", title="Paper \u202eA4", currency="RUB", start_price="1.00")
    assert (e["code"], e.get("field")) == ("bad_field", "title"), e
    e = b.error("auction.create", title="two\nlines", currency="RUB", start_price="1.00")
    assert (e["code"], e.get("field")) == ("bad_field", "title"), e
    create_auction(b, "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 " + unique)


def test_organization_names_fold(server, env, unique):
    op = server.connect("operator")
    regs = []
    for i, org in enumerate(("Acme Caf\u00e9 " + unique, "ACME CAFE\u0301 " + unique,
                             "acme caf\u00c9 " + unique.upper())):
        name = "fold%d%s" % (i, unique)
        env.make_cert(name)
        regs.append(op.ok("participant.register", organization=org, role="supplier",
                          name="Desk %d" % i,
                          certificate=pathlib.Path(env.cert(name)).read_text()))
    first = regs[0]["organization"]
    assert first["name"] == "Acme Caf\u00e9 " + unique
    for r in regs[1:]:
        assert r["organization"] == first, r
    with server.client("fold1" + unique) as c:
        assert c.ok("hello")["organization"] == first
    # from the command line, while tenderd is stopped (read by the next start)
    server.close_clients()
    server.stop()
    env.make_cert("fold3" + unique)
    p = subprocess.run(env.tenderd_cmd("register", "--db", env.conninfo, "--role", "supplier",
                                       "--organization", "ACME CAF\u00c9 " + unique.upper(),
                                       "--name", "Desk 3", "--cert", env.cert("fold3" + unique)),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "of organization %d," % first["id"] in p.stdout, p.stdout
    server.start()
    with server.client("fold3" + unique) as c:
        assert c.ok("hello")["organization"] == first
    p = subprocess.run(env.tenderd_cmd("register", "--db", env.conninfo, "--role", "supplier",
                                       "--organization", "Acme" + ZWSP, "--name", "x",
                                       "--cert", env.cert("fold3" + unique)),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "U+200B" in p.stderr, (p.returncode, p.stderr)
    # the database refuses a second spelling too
    p = env.psql("INSERT INTO organizations (name) VALUES ('acme caf\u00e9 %s')" % unique.lower(),
                 check=False)
    assert p.returncode != 0 and "organizations_name_folded" in p.stderr, p.stderr


def test_migration_names_clashing_organizations(env, unique):
    db = "tdmig" + unique.lower()
    ci = env.new_database(db)(conftest.OWNER)
    try:
        subprocess.run(env.tenderd_cmd("migrate", "--db", ci, "--sql_dir", conftest.SQL_DIR), check=True, timeout=120,
                       capture_output=True)
        sql = ("DROP INDEX organizations_name_folded;"
               " DELETE FROM schema_migrations WHERE version = 6;"
               " INSERT INTO organizations (name) VALUES ('Acme'), ('Beta'), ('ACME');")
        subprocess.run(["/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", ci, "-c",
                        sql], check=True, timeout=60, capture_output=True)
        p = subprocess.run(env.tenderd_cmd("migrate", "--db", ci, "--sql_dir", conftest.SQL_DIR), timeout=120,
                           capture_output=True, text=True)
        assert p.returncode != 0
        assert "006_organization_names.sql" in p.stderr, p.stderr
        assert "'Acme' (id 1) and 'ACME' (id 3)" in p.stderr, p.stderr
    finally:
        env.drop_database(db)
