"""The table of operations (server/optab.c, `tenderd --list-ops`) against docs/protocol.md,
and the role check made once, from the table, before any handler runs."""
import re

import pytest

from conftest import ROOT, run, sanitizer_env

ROLES = ("buyer", "supplier", "operator")
# a participant of each role (conftest.PARTICIPANTS)
CERT_OF = {"buyer": "buyer", "supplier": "supplier1", "operator": "operator"}

# How docs/protocol.md names who may use an operation, in the parentheses of its heading
# ("### `procurement.amend` (owning buyer)"): role phrases, and qualifiers that name no role.
ROLE_PHRASES = {
    "anyone": set(ROLES),
    "anyone who can see the procurement": set(ROLES),
    "buyer": {"buyer"},
    "owning buyer": {"buyer"},
    "supplier": {"supplier"},
    "operator": {"operator"},
}
QUALIFIERS = {"RFQ", "tender and tender_auction", "tenders", "after the opening"}


def list_ops(env):
    """`tenderd --list-ops`: name -> (set of roles, set of flags)."""
    p = run(env.tenderd_cmd("--list-ops"), env=sanitizer_env())
    table = {}
    for line in p.stdout.splitlines():
        name, roles, flags = line.split()
        assert name not in table, line
        table[name] = (set(roles.split(",")) - {"-"}, set(flags.split(",")) - {"-"})
    return table


def heading_roles(text):
    """The roles of one heading's parentheses."""
    roles = set()
    for part in text.split(", "):
        if part in ROLE_PHRASES:
            roles |= ROLE_PHRASES[part]
        else:
            assert part in QUALIFIERS, "unknown role phrase %r" % part
    assert roles, "no role in %r" % text
    return roles


def documented_ops():
    """The operations docs/protocol.md documents (its "### `op` ... (roles)" headings
    between "## Operations" and "## Events"): name -> set of roles. In a heading, an
    operation without parentheses of its own takes the next ones
    ("### `auction.watch` / `auction.unwatch` (anyone)")."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split("\n## Operations\n", 1)[1].split("\n## Events\n", 1)[0]
    ops = {}
    for line in section.splitlines():
        if not line.startswith("### ") or "`" not in line:
            continue
        pending = []
        for name, paren in re.findall(r"`([a-z_.]+)`(?:\s*\(([^)]*)\))?", line):
            pending.append(name)
            if paren:
                if paren != "event":
                    for n in pending:
                        assert n not in ops, "%s documented twice" % n
                        ops[n] = heading_roles(paren)
                pending = []
        assert not pending, "no roles for %s in %r" % (pending, line)
    return ops


def test_docs_and_table_agree(env):
    table = list_ops(env)
    docs = documented_ops()
    assert set(table) - set(docs) == set(), "in the table but not documented"
    assert set(docs) - set(table) == set(), "documented but not in the table"
    for name, roles in docs.items():
        assert table[name][0] == roles, (name, "docs:", roles, "table:", table[name][0])
    # every row says how it touches state
    for name, (roles, flags) in table.items():
        assert roles and flags <= {"read", "write", "park", "watch"} and flags, (name, flags)


def test_list_ops_flags(env):
    table = list_ops(env)
    assert table["auction.bid"] == ({"supplier"}, {"write"})
    assert table["procurement.get"][1] == {"read", "park"}
    assert table["procurement.watch"][1] == {"read", "park", "watch"}
    assert table["auction.unwatch"][1] == {"watch"}
    assert table["stats"] == ({"operator"}, {"read"})


def test_forbidden_for_every_excluded_role(env, server):
    """Every operation refuses every role its row excludes with `forbidden`, before it
    reads any field (the requests carry none) or looks anything up."""
    table = list_ops(env)
    clients = {r: server.connect(CERT_OF[r]) for r in ROLES}
    checked = 0
    for name, (roles, _) in sorted(table.items()):
        for r in ROLES:
            if r in roles:
                continue
            e = clients[r].error(name)
            assert (e["code"], e["message"]) == ("forbidden", "%s %s may not use %s" % (
                "an" if r == "operator" else "a", r, name)), \
                (name, r, e)
            assert "field" not in e, (name, r, e)
            checked += 1
    assert checked >= 40
    # an allowed role gets past the table to the handler's own checks
    e = clients["supplier"].error("procurement.get")
    assert (e["code"], e.get("field")) == ("missing_field", "procurement"), e
    e = clients["buyer"].error("procurement.publish", procurement=10 ** 12)
    assert e["code"] == "not_found", e
