"""Parsing tenderd's log lines (docs/operations.md "Logs"): logfmt, one `key=value` pair
after another separated by one space, a value bare (no space, '=', '"' or control
character) or in double quotes with \\" \\\\ \\n \\r \\t and \\u00XX escapes."""
import json
import re

_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\\x00-\x1f]|\\["\\nrt]|\\u[0-9a-f]{4})*"'
                   r'|[^\s="\\\x00-\x1f]+)')


def parse(line):
    """The fields of one logfmt line as a dict; ValueError when the line is not logfmt."""
    out, pos = {}, 0
    while pos < len(line):
        m = _PAIR.match(line, pos)
        if m is None:
            raise ValueError("not logfmt at column %d: %r" % (pos, line))
        key, val = m.group(1), m.group(2)
        if val.startswith('"'):
            val = json.loads(val)  # the same escapes as JSON
        if key in out:
            raise ValueError("key %r twice: %r" % (key, line))
        out[key] = val
        pos = m.end()
        if pos < len(line):
            if line[pos] != " ":
                raise ValueError("no space after %s= at column %d: %r" % (key, pos, line))
            pos += 1
    return out


def tenderd_lines(text):
    """The lines tenderd wrote (not the harness's "----- tenderd start" markers, nor
    sanitizer reports)."""
    return [l for l in text.splitlines() if l.startswith("ts=") or l.startswith("{")]


def op_lines(text):
    """The fields of every operation line (msg=op)."""
    return [f for f in (parse(l) for l in tenderd_lines(text) if " msg=op " in l)]
