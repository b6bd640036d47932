#!/bin/sh
# Fill a template of dist/ from the built binaries, so that the man pages and the example
# configuration list exactly the settings and operations tenderd has:
#
#   dist/gen.sh TEMPLATE OUTPUT
#
# Lines of the template that are exactly
#   @SETTINGS@        become the settings of `tenderd --list-settings`, in roff (tenderd.conf(5))
#   @SETTINGS_CONF@   become the same settings, commented out with their defaults (the example)
#   @OPERATIONS@      become the operations of `tenderd --list-ops`, in roff (tenderd(8))
#   @TENDERCTL_HELP@  become `tenderctl --help`, verbatim in roff (tenderctl(1))
# and @VERSION@, @BINDIR@, @SQLDIR@, @SYSCONFDIR@, @DOCDIR@ anywhere are replaced by the
# values of the environment variables TENDERD_VERSION, BINDIR, SQLDIR, SYSCONFDIR, DOCDIR.
# TENDERD and TENDERCTL name the binaries (default: build/tenderd, build/tenderctl).
set -eu

[ $# -eq 2 ] || { echo "usage: dist/gen.sh TEMPLATE OUTPUT" >&2; exit 2; }
template=$1
out=$2
TENDERD=${TENDERD:-build/tenderd}
TENDERCTL=${TENDERCTL:-build/tenderctl}
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp".*' EXIT

"$TENDERD" --list-settings >"$tmp.settings"
"$TENDERD" --list-ops >"$tmp.ops"
"$TENDERCTL" --help >"$tmp.ctl"
version=$("$TENDERD" --version | sed 's/^tenderd //')

awk -v settings="$tmp.settings" -v ops="$tmp.ops" -v ctl="$tmp.ctl" \
    -v version="$version" -v bindir="${BINDIR:-/usr/local/bin}" \
    -v sqldir="${SQLDIR:-/usr/local/share/tenderd/sql}" \
    -v sysconfdir="${SYSCONFDIR:-/etc}" -v docdir="${DOCDIR:-/usr/local/share/doc/tenderd}" '
# text safe for roff: backslashes escaped, no control character at the start of a line
function roff(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    if (s ~ /^[.\047]/)
        s = "\\&" s
    return s
}
function subst(s) {
    gsub(/@VERSION@/, version, s); gsub(/@BINDIR@/, bindir, s); gsub(/@SQLDIR@/, sqldir, s)
    gsub(/@SYSCONFDIR@/, sysconfdir, s); gsub(/@DOCDIR@/, docdir, s)
    return s
}
function settings_roff(   line, f, kind, b) {
    while ((getline line < settings) > 0) {
        split(line, f, "\t")
        b = f[4]
        gsub(/\|/, ", ", b)
        sub(/-/, " to ", b)
        print ".TP"
        print ".B " f[1]
        print roff(f[6]) "."
        print ".br"
        if (f[2] == "integer")
            kind = "Integer, " b
        else if (f[2] == "word" || f[2] == "level")
            kind = "One of " b
        else if (f[2] == "oid")
            kind = "A dotted OID, or empty"
        else
            kind = "Text"
        printf "%s; default \\fB%s\\fR; %s.\n", roff(kind), f[3] == "-" ? "(none)" : roff(f[3]),
            f[5] == "restart" ? "a change needs a restart" : "a reload (SIGHUP) changes it"
    }
    close(settings)
}
function settings_conf(   line, f) {
    while ((getline line < settings) > 0) {
        split(line, f, "\t")
        printf "# %s =%s\n#     %s (%s%s)\n", f[1], f[3] == "-" ? "" : " " f[3], f[6],
            f[4] == "-" ? "" : f[4] "; ", f[5] == "restart" ? "restart to change" : "reload to change"
    }
    close(settings)
}
function ops_roff(   line, f) {
    while ((getline line < ops) > 0) {
        split(line, f, " +")
        print ".TP"
        print ".B " f[1]
        printf "Roles: %s. Kind: %s.\n", f[2], f[3] == "-" ? "none (watch only)" : f[3]
    }
    close(ops)
}
function ctl_roff(   line) {
    print ".nf"
    print ".RS 0"
    while ((getline line < ctl) > 0)
        print (line == "" ? ".sp" : roff(line))
    print ".RE"
    print ".fi"
    close(ctl)
}
$0 == "@SETTINGS@"       { settings_roff(); next }
$0 == "@SETTINGS_CONF@"  { settings_conf(); next }
$0 == "@OPERATIONS@"     { ops_roff(); next }
$0 == "@TENDERCTL_HELP@" { ctl_roff(); next }
{ print subst($0) }
' "$template" >"$tmp.out"
mv "$tmp.out" "$out"
