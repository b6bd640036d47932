#!/bin/bash
# The development platform behind `make run`: a PKI in var/pki, a private PostgreSQL
# cluster in var/pg, the schema, five demo participants, var/tenderd.conf, then tenderd in
# the foreground (Ctrl-C stops it; `make stop-db` stops PostgreSQL).
#
# Environment: TENDERD_PORT   TCP port tenderd listens on (127.0.0.1; default 7443)
#              BUILD          build directory holding tenderd and tenderctl (default build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PORT=${TENDERD_PORT:-7443}
# The certificate policy the development PKI (certs/mkpki.sh) puts in client certificates.
POLICY=1.3.6.1.4.1.32473.1.1
BUILD=${BUILD:-build}
SERVER=127.0.0.1:$PORT
VAR=var
PKI=$VAR/pki
TENDERD=$BUILD/tenderd
TENDERCTL=$BUILD/tenderctl

die() {
    echo "run: $*" >&2
    exit 1
}

[[ $PORT =~ ^[0-9]+$ && $PORT -ge 1 && $PORT -le 65535 ]] || die "TENDERD_PORT must be a TCP port, not '$PORT'"
[[ -x $TENDERD ]] || die "$TENDERD is missing: run 'make' first"
[[ $ROOT != *'"'* ]] || die "the source tree's path may not contain a double quote"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "something already listens on $SERVER (another 'make run'?); stop it or set TENDERD_PORT"
fi

# name|role|organization|display name
PARTICIPANTS=(
    "operator|operator|tenderd Operations|Platform Operator"
    "buyer|buyer|Omega Municipal Hospital|Omega Procurement"
    "supplier1|supplier|Alpha Supplies LLC|Alpha Sales"
    "supplier2|supplier|Beta Trade JSC|Beta Sales"
    "supplier3|supplier|Gamma Office Ltd|Gamma Sales"
)

mkdir -p "$VAR"
chmod 0755 "$VAR"

# 1. PKI. Only tenderd and the clients read it, never the cluster user.
names=()
for p in "${PARTICIPANTS[@]}"; do
    names+=("${p%%|*}")
done
certs/mkpki.sh "$PKI" "${names[@]}"
chmod 0700 "$PKI"
for name in "${names[@]}"; do
    if ! openssl x509 -in "$PKI/$name.crt" -noout -ext certificatePolicies 2>/dev/null | grep -qF "$POLICY"; then
        die "$PKI/$name.crt lacks the certificate policy $POLICY that tenderd now requires (it was made before): run 'make stop-db', remove $VAR/ and run again"
    fi
done

# 2. PostgreSQL, private to this tree, with tenderd's roles (sql/roles.sql, applied by
#    pgctl.sh as the superuser): tenderd runs as "tenderd", migrations as "tenderd_owner".
CONNINFO=$(scripts/pgctl.sh start "$VAR/pg")
OWNER=${CONNINFO/user=tenderd/user=tenderd_owner}

# 3. Schema and participants. register exits 3 when the certificate is already registered.
"$TENDERD" migrate --db "$OWNER" --sql_dir "$ROOT/sql"
for p in "${PARTICIPANTS[@]}"; do
    IFS='|' read -r name role org display <<<"$p"
    rc=0
    out=$("$TENDERD" register --db "$CONNINFO" --required_policy "$POLICY" --role "$role" --organization "$org" \
        --name "$display" --cert "$PKI/$name.crt" 2>&1) || rc=$?
    case $rc in
    0) echo "run: $out" ;;
    3) echo "run: $name is already registered" ;;
    *)
        printf '%s\n' "$out" >&2
        die "registering $name failed (exit $rc)"
        ;;
    esac
done

# 4. Configuration (see docs/config.md).
cat >"$VAR/tenderd.conf" <<EOF
# Written by scripts/run.sh (make run); rewritten at every run.
listen = $SERVER
cert = "$ROOT/$PKI/server.crt"
key = "$ROOT/$PKI/server.key"
ca = "$ROOT/$PKI/ca.crt"
log_key = "$ROOT/$PKI/log.key"
log_cert = "$ROOT/$PKI/log.crt"
db = "$CONNINFO"
sql_dir = "$ROOT/sql"
required_policy = $POLICY
log_level = info
EOF
# Revocations made with certs/mkpki.sh var/pki --revoke NAME.
if [[ -s $PKI/crl.pem ]]; then
    echo "crl = \"$ROOT/$PKI/crl.pem\"" >>"$VAR/tenderd.conf"
fi

AUDITOR=${CONNINFO/user=tenderd/user=auditor}
TLS="--ca $PKI/ca.crt --server $SERVER"
cat <<EOF

==============================================================================
 tenderd development platform
   server      $SERVER   (configuration $VAR/tenderd.conf)
   PKI         $PKI/      (CA, server and participant certificates)
   PostgreSQL  $CONNINFO
               migrations: $TENDERD migrate --db "$OWNER" --sql_dir sql
               log $VAR/pg/log/postgresql.log

 In another terminal, from $ROOT:

 As the buyer (Omega Municipal Hospital):
   $TENDERCTL --cert $PKI/buyer.crt --key $PKI/buyer.key $TLS hello
   $TENDERCTL --cert $PKI/buyer.crt --key $PKI/buyer.key $TLS \\
       auction create --title "Office paper A4" --currency RUB --start-price 1000000.00 --duration 600
 As a supplier (Alpha Supplies LLC; supplier2 = Beta Trade JSC, supplier3 = Gamma Office Ltd):
   $TENDERCTL --cert $PKI/supplier1.crt --key $PKI/supplier1.key $TLS hello
   $TENDERCTL --cert $PKI/supplier2.crt --key $PKI/supplier2.key $TLS hello
   $TENDERCTL --cert $PKI/supplier3.crt --key $PKI/supplier3.key $TLS hello
   $TENDERCTL --cert $PKI/supplier1.crt --key $PKI/supplier1.key $TLS bid 1 995000.00
 As the operator:
   $TENDERCTL --cert $PKI/operator.crt --key $PKI/operator.key $TLS hello
 Or set the identity once per terminal:
   export TENDERCTL_CERT=$PKI/supplier2.crt TENDERCTL_KEY=$PKI/supplier2.key \\
          TENDERCTL_CA=$PKI/ca.crt TENDERCTL_SERVER=$SERVER
   $TENDERCTL watch 1

 Raw JSON lines (type {"id":1,"op":"hello"} and Enter):
   openssl s_client -quiet -connect $SERVER -cert $PKI/supplier1.crt -key $PKI/supplier1.key -CAfile $PKI/ca.crt

 Audit trail, read-only (docs/audit.md):
   psql "$AUDITOR"

 Ctrl-C stops tenderd. PostgreSQL keeps running: 'make stop-db' stops it.
==============================================================================

EOF

exec "$TENDERD" -c "$VAR/tenderd.conf"
