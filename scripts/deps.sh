#!/bin/bash
# Checks that the Debian packages tenderd needs to build, test and run are installed.
# Silent when everything is present. When something is missing it installs it if run
# as root, and otherwise prints the apt-get command to run and exits 1.
#
#   scripts/deps.sh          check (and install as root)
#   scripts/deps.sh --list   print the package names, one per line
set -euo pipefail

# Compiler and build, libraries, private PostgreSQL cluster and its client, PKI, tests.
# postgresql-15 provides the server binaries in /usr/lib/postgresql/15/bin (initdb, pg_ctl);
# postgresql-contrib provides pgbench. The system cluster the postgresql package may create
# on port 5432 is never used: tenderd's scripts run their own cluster (scripts/pgctl.sh).
# clang and libclang-rt-14-dev (the sanitizer and libFuzzer runtimes, only recommended by
# clang) build the fuzz targets that `make test` runs; llvm provides llvm-symbolizer for
# readable sanitizer reports. man-db and groff-base render the man pages (`man -l`, tested);
# the tests also check the systemd unit with systemd-analyze when systemd is installed.
PACKAGES=(
    build-essential pkg-config
    clang libclang-rt-14-dev llvm
    libevent-dev libssl-dev libpq-dev libjansson-dev libcmocka-dev libunistring-dev
    postgresql-15 postgresql-client-15 postgresql-contrib
    openssl
    python3 python3-pytest python3-cryptography
    man-db groff-base
)

if [[ ${1:-} == --list ]]; then
    printf '%s\n' "${PACKAGES[@]}"
    exit 0
fi
if [[ $# -gt 0 ]]; then
    echo "usage: scripts/deps.sh [--list]" >&2
    exit 2
fi

# One dpkg-query call for all packages; a package dpkg has never heard of prints nothing
# on stdout (only a complaint on stderr), so it counts as missing.
declare -A installed=()
while IFS=$'\t' read -r pkg status; do
    [[ $status == "install ok installed" ]] && installed[${pkg%%:*}]=1
done < <(dpkg-query -W -f='${Package}\t${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)

missing=()
for pkg in "${PACKAGES[@]}"; do
    [[ -n ${installed[$pkg]:-} ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

install_cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [[ $EUID -ne 0 ]]; then
    {
        echo "tenderd: missing Debian packages: ${missing[*]}"
        echo "install them as root with:"
        echo "  apt-get update && DEBIAN_FRONTEND=noninteractive ${install_cmd[*]}"
    } >&2
    exit 1
fi

echo "tenderd: installing missing Debian packages: ${missing[*]}" >&2
apt-get update
DEBIAN_FRONTEND=noninteractive "${install_cmd[@]}"
