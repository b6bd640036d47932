#!/bin/bash
# Development PKI for tenderd: a CA, the server certificate and client certificates.
# ECDSA P-256 keys, SHA-256 signatures, key files mode 0600. Idempotent: nothing that
# already exists is made again.
#
#   certs/mkpki.sh DIR [NAME...]        CA + server certificate if missing, then one client
#                                       certificate per NAME (DIR/NAME.crt, DIR/NAME.key, CN=NAME)
#   certs/mkpki.sh DIR --expired NAME   client certificate whose validity ended in 2020
#   certs/mkpki.sh DIR --future NAME    client certificate valid only from 2099 (not yet valid)
#   certs/mkpki.sh DIR --expires-in SECONDS NAME  client certificate that expires SECONDS from now
#   certs/mkpki.sh DIR --no-policy NAME client certificate without the platform's policy OID
#   certs/mkpki.sh DIR --rogue NAME     client certificate from another CA (DIR/rogue-ca.*)
#   certs/mkpki.sh DIR --from-ca CA ... the same with the CA DIR/CA.crt + DIR/CA.key (made when
#                                       missing, CN "tenderd CA CA") instead of DIR/ca: one client
#                                       certificate per NAME, or --revoke NAME / --crl writing
#                                       DIR/CA-crl.pem
#   certs/mkpki.sh DIR --bulk PREFIX N  N client certificates PREFIX00001 .. PREFIX<N>
#   certs/mkpki.sh DIR --rsa NAME...    client certificates with RSA-2048 keys (--rsa --bulk too)
#   certs/mkpki.sh DIR --revoke NAME    revoke DIR/NAME.crt and rewrite the CRL DIR/crl.pem
#   certs/mkpki.sh DIR --crl            rewrite DIR/crl.pem (the CA's revocations so far)
#   certs/mkpki.sh DIR --stale-crl FILE write to FILE a CRL of those revocations that expired in 2020
#
# Files in DIR:
#   ca.crt ca.key             "tenderd development CA", 10 years
#   server.crt server.key     CN=localhost, DNS:localhost, IP:127.0.0.1, serverAuth, 2 years
#   log.crt log.key           CN=tenderd log, timeStamping (critical): the key that signs the
#                             transparency log's tree heads (log_key, log_cert; docs/trust.md)
#   NAME.crt NAME.key         CN=NAME, clientAuth, 2 years, certificate policy
#                             1.3.6.1.4.1.32473.1.1 (the platform's required_policy in
#                             development; 32473 is the enterprise number for documentation,
#                             RFC 5612), except --no-policy certificates
#   rogue-ca.crt rogue-ca.key a CA no tenderd trusts (for refusal tests)
#   crl.pem, ca-db/           the CA's revocation list and its database (--revoke, --crl)
#   CA.crt CA.key, CA-crl.pem, CA-db/  the same for a CA made with --from-ca CA
set -euo pipefail

SELF=${BASH_SOURCE[0]}
CA_DAYS=3650
CERT_DAYS=730
CRL_DAYS=30
# The certificate policy of the development platform's client certificates.
POLICY=1.3.6.1.4.1.32473.1.1
# The CA that issues client certificates and CRLs (--from-ca changes it).
CA=ca

usage() {
    sed -n 's/^#   \(certs\/mkpki.sh .*\)/usage: \1/p' "$SELF" >&2
    exit 2
}

die() {
    echo "mkpki: $*" >&2
    exit 1
}

[[ $# -ge 1 && $1 != -* ]] || usage
DIR=$1
shift
# Client keys: ECDSA P-256, or RSA-2048 with --rsa (the CA and server keys stay ECDSA).
CLIENT_KEY=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
RSA_FLAG=()
if [[ ${1:-} == --rsa ]]; then
    CLIENT_KEY=(-newkey rsa:2048)
    RSA_FLAG=(--rsa)
    shift
    [[ $# -ge 1 ]] || usage
fi

umask 077
if [[ ! -d $DIR ]]; then
    mkdir -p "$DIR"
    chmod 0755 "$DIR"
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The openssl configuration every command uses, so that the host's openssl.cnf adds
# nothing of its own.
CNF=$TMP/openssl.cnf
cat >"$CNF" <<EOF
[req]
distinguished_name = req_dn
prompt = no
[req_dn]
CN = unused

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[log_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
certificatePolicies = $POLICY

[client_nopolicy_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

EOF

# Writes the configuration for "openssl ca" with its database in directory $1 and sets
# CA_CNF to it.
ca_config() {
    mkdir -p "$1"
    [[ -e $1/index.txt ]] || : >"$1/index.txt"
    [[ -e $1/crlnumber ]] || echo 1000 >"$1/crlnumber"
    [[ -e $1/serial ]] || hexserial >"$1/serial"
    CA_CNF=$TMP/ca.cnf
    cat "$CNF" - >"$CA_CNF" <<EOF
[ca]
default_ca = ca_default
[ca_default]
database = $1/index.txt
crlnumber = $1/crlnumber
serial = $1/serial
new_certs_dir = $1
default_md = sha256
default_crl_days = $CRL_DAYS
policy = policy_any
unique_subject = no
email_in_dn = no
copy_extensions = none
[policy_any]
commonName = supplied
EOF
}

# Runs openssl quietly: its progress chatter is shown only when it fails.
ossl() {
    local out
    if ! out=$(openssl "$@" 2>&1); then
        printf '%s\n' "$out" >&2
        die "openssl $1 failed"
    fi
}

# A random positive 127-bit serial number, without spawning a process.
serial() {
    printf '0x%08x%08x%08x%08x' $((SRANDOM & 0x7fffffff)) "$SRANDOM" "$SRANDOM" "$SRANDOM"
}

# The same, as "openssl ca" wants it in its serial file.
hexserial() {
    local s
    s=$(serial)
    printf '%s\n' "${s#0x}"
}

# Certificate names become file names and subjects: keep them plain.
check_name() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad certificate name '$1' (letters, digits, . _ -)"
    case $1 in
    ca | server | log | rogue-ca | crl) die "'$1' is reserved" ;;
    esac
}

# Makes a self-signed CA as DIR/BASE.crt + DIR/BASE.key unless it exists.
make_ca() { # BASE CN
    local crt=$DIR/$1.crt key=$DIR/$1.key
    if [[ -e $crt || -e $key ]]; then
        [[ -s $crt && -s $key ]] || die "$crt or $key is missing: remove both to make a new CA"
        return 0
    fi
    ossl req -x509 -new -config "$CNF" -extensions ca_ext -subj "/CN=$2" \
        -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days "$CA_DAYS" \
        -set_serial "$(serial)" -keyout "$key.tmp" -out "$crt.tmp"
    mv "$key.tmp" "$key"
    chmod 0644 "$crt.tmp"
    mv "$crt.tmp" "$crt"
    echo "mkpki: made $crt" >&2
}

# Makes DIR/NAME.crt + DIR/NAME.key signed by the CA DIR/CABASE unless both exist.
make_cert() { # NAME EXTENSIONS CABASE [CN]
    local crt=$DIR/$1.crt key=$DIR/$1.key keyopts=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
    [[ -s $crt && -s $key ]] && return 0
    [[ $2 == client_ext ]] && keyopts=("${CLIENT_KEY[@]}")
    ossl req -x509 -new -config "$CNF" -extensions "$2" -subj "/CN=${4:-$1}" \
        "${keyopts[@]}" -nodes -sha256 -days "$CERT_DAYS" \
        -set_serial "$(serial)" -CA "$DIR/$3.crt" -CAkey "$DIR/$3.key" \
        -keyout "$key" -out "$crt"
    chmod 0644 "$crt"
}

# The CRL file of the issuing CA: DIR/crl.pem for DIR/ca, DIR/CA-crl.pem for another.
crl_file() {
    if [[ $CA == ca ]]; then echo "$DIR/crl.pem"; else echo "$DIR/$CA-crl.pem"; fi
}

# Writes the issuing CA's CRL (or $1, with the extra "openssl ca" options after it) from
# its database, replacing the file in one step.
write_crl() {
    local out=${1:-$(crl_file)}
    shift || true
    ca_config "$DIR/$CA-db"
    ossl ca -config "$CA_CNF" -batch -gencrl -cert "$DIR/$CA.crt" -keyfile "$DIR/$CA.key" -out "$out.tmp" "$@"
    chmod 0644 "$out.tmp"
    mv "$out.tmp" "$out"
    echo "mkpki: wrote $out" >&2
}

# Makes DIR/NAME.crt + DIR/NAME.key, a client certificate valid from $2 to $3 (dates as
# YYYYMMDDHHMMSSZ), unless both exist.
make_dated_cert() { # NAME START END
    [[ -s $DIR/$1.crt && -s $DIR/$1.key ]] && return 0
    # "openssl x509" and "openssl req" of OpenSSL 3.0 cannot set a start date other than
    # now; "openssl ca" can, with a throwaway database.
    ca_config "$TMP/dated-db"
    ossl req -new -config "$CNF" -subj "/CN=$1" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -nodes -sha256 -keyout "$DIR/$1.key.tmp" -out "$TMP/req.csr"
    ossl ca -config "$CA_CNF" -batch -notext -extensions client_ext -cert "$DIR/$CA.crt" \
        -keyfile "$DIR/$CA.key" -startdate "$2" -enddate "$3" -in "$TMP/req.csr" -out "$DIR/$1.crt.tmp"
    chmod 0644 "$DIR/$1.crt.tmp"
    mv "$DIR/$1.key.tmp" "$DIR/$1.key"
    mv "$DIR/$1.crt.tmp" "$DIR/$1.crt"
}

make_ca ca "tenderd development CA"
make_cert server server_ext ca localhost
make_cert log log_ext ca "tenderd log"

if [[ ${1:-} == --from-ca ]]; then
    [[ $# -ge 3 ]] || usage
    check_name "$2"
    CA=$2
    shift 2
    make_ca "$CA" "tenderd CA $CA"
fi

case ${1:-} in
--expired)
    [[ $# -eq 2 ]] || usage
    check_name "$2"
    make_dated_cert "$2" 20200101000000Z 20200102000000Z
    ;;
--future)
    [[ $# -eq 2 ]] || usage
    check_name "$2"
    make_dated_cert "$2" 20990101000000Z 21000101000000Z
    ;;
--expires-in)
    [[ $# -eq 3 && $2 =~ ^[0-9]+$ ]] || usage
    check_name "$3"
    # valid from a minute ago (clocks differ a little) until SECONDS from now
    now=$(date -u +%s)
    make_dated_cert "$3" "$(date -u -d "@$((now - 60))" +%Y%m%d%H%M%SZ)" \
        "$(date -u -d "@$((now + 10#$2))" +%Y%m%d%H%M%SZ)"
    ;;
--no-policy)
    [[ $# -eq 2 ]] || usage
    check_name "$2"
    make_cert "$2" client_nopolicy_ext "$CA"
    ;;
--rogue)
    [[ $# -eq 2 ]] || usage
    check_name "$2"
    make_ca rogue-ca "tenderd rogue CA"
    make_cert "$2" client_ext rogue-ca
    ;;
--bulk)
    [[ $# -eq 3 && $3 =~ ^[0-9]+$ ]] || usage
    check_name "${2}00001"
    # Several batches in parallel, each a child of this script in its NAME... mode.
    count=$((10#$3))
    jobs=$(nproc 2>/dev/null || echo 2)
    batch=$(((count + jobs - 1) / jobs))
    ((batch > 0 && batch <= 250)) || batch=250
    for ((i = 1; i <= count; i++)); do
        printf '%s%05d\n' "$2" "$i"
    done | xargs -r -P "$jobs" -n "$batch" "$SELF" "$DIR" "${RSA_FLAG[@]}"
    ;;
--revoke)
    [[ $# -eq 2 ]] || usage
    [[ -s $DIR/$2.crt ]] || die "no certificate $DIR/$2.crt"
    ca_config "$DIR/$CA-db"
    if ! out=$(openssl ca -config "$CA_CNF" -batch -revoke "$DIR/$2.crt" -cert "$DIR/$CA.crt" \
        -keyfile "$DIR/$CA.key" 2>&1) && [[ $out != *"Already revoked"* ]]; then
        printf '%s\n' "$out" >&2
        die "openssl ca -revoke failed"
    fi
    write_crl
    ;;
--crl)
    [[ $# -eq 1 ]] || usage
    write_crl
    ;;
--stale-crl)
    [[ $# -eq 2 ]] || usage
    write_crl "$2" -crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z
    ;;
-*)
    usage
    ;;
*)
    for name in "$@"; do
        check_name "$name"
    done
    for name in "$@"; do
        make_cert "$name" client_ext "$CA"
    done
    ;;
esac
