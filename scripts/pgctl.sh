#!/bin/bash
# A private PostgreSQL 15 cluster for tenderd, kept entirely in one directory.
#
#   scripts/pgctl.sh start DIR [PORT]   initialise if needed, start, create database tenderd,
#                                       print the conninfo line on stdout
#   scripts/pgctl.sh conninfo DIR       print the conninfo line
#   scripts/pgctl.sh stop DIR           stop (fast shutdown); fine if not running
#   scripts/pgctl.sh kill DIR           stop without a shutdown checkpoint (immediate mode:
#                                       the next start runs crash recovery)
#   scripts/pgctl.sh status DIR         exit 0 if running, 3 if not
#   scripts/pgctl.sh replica DIR PRIMARY [PORT]
#                                       make DIR a synchronous streaming replica of the running
#                                       cluster in PRIMARY and start it; print its conninfo line
#   scripts/pgctl.sh promote DIR        promote the replica in DIR to a primary (pg_ctl promote)
#
# DIR/data   the cluster (owned by the user that runs it)
# DIR/run    its Unix socket
# DIR/log    postgresql.log (server log), initdb.log
# DIR/port   the TCP port on 127.0.0.1, picked free on the first start and reused after
#
# The conninfo line is: host=DIR/run port=PORT dbname=tenderd user=tenderd
# (DIR absolute): tenderd's runtime role. Every start also applies sql/roles.sql as the
# cluster's superuser "postgres", which sets up the roles (docs/operations.md): replace
# user=tenderd with user=tenderd_owner for `tenderd migrate`, with user=auditor for the
# audit views, with user=postgres for the superuser. A cluster made by an older pgctl.sh,
# whose superuser was "tenderd", is converted: that superuser is renamed "postgres".
# Authentication is "trust" on the socket and on 127.0.0.1: this is a development and test
# cluster. fsync and synchronous_commit stay on.
#
# PostgreSQL refuses to run as root. Run as root, the cluster runs as the owner of DIR/data
# if it exists, else as the "postgres" system user, else as a system user "tenderd"
# (created). DIR is handed to that user and its parent directories are made traversable.
set -euo pipefail

SELF=$(realpath -- "${BASH_SOURCE[0]}")
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DBNAME=tenderd
DBUSER=tenderd
SUPERUSER=postgres
ROLES_SQL=$(dirname "$SELF")/../sql/roles.sql
START_TIMEOUT=60

usage() {
    sed -n 's/^#   \(scripts\/pgctl.sh .*\)/usage: \1/p' "$SELF" >&2
    exit 2
}

die() {
    echo "pgctl: $*" >&2
    exit 1
}

note() {
    echo "pgctl: $*" >&2
}

[[ $# -ge 2 ]] || usage
CMD=$1
[[ -n $2 ]] || usage
[[ -x $PGBIN/pg_ctl ]] || die "$PGBIN/pg_ctl not found: install postgresql-15 (scripts/deps.sh)"

umask 022
if [[ $CMD == start || $CMD == replica ]]; then
    mkdir -p "$2"
fi
if [[ ! -d $2 ]]; then
    case $CMD in
    stop | kill)
        note "no cluster in $2"
        exit 0
        ;;
    status)
        echo "not running ($2)"
        exit 3
        ;;
    *) die "no directory $2" ;;
    esac
fi
DIR=$(realpath -e -- "$2")
DATA=$DIR/data
RUN=$DIR/run
LOG=$DIR/log
PORTFILE=$DIR/port
# Every path from here on is absolute; the cluster user may not be able to enter the
# caller's working directory.
cd /

# The user the cluster runs as (empty: the calling user).
RUNAS=
if [[ $EUID -eq 0 ]]; then
    if [[ -d $DATA ]]; then
        RUNAS=$(stat -c %U "$DATA")
        [[ $RUNAS != root && $RUNAS != UNKNOWN ]] || die "$DATA is owned by $RUNAS; chown it to the user that should run the cluster"
    elif getent passwd postgres >/dev/null; then
        RUNAS=postgres
    else
        RUNAS=tenderd
    fi
elif [[ -d $DATA && ! -O $DATA ]]; then
    die "$DATA belongs to $(stat -c %U "$DATA"): run this as that user or as root"
fi

# Runs a command as the cluster user, without the lock descriptor (the postmaster must
# not inherit it).
as_user() {
    if [[ -n $RUNAS ]]; then
        runuser -u "$RUNAS" -- "$@" 9>&-
    else
        "$@" 9>&-
    fi
}

# Prints the conninfo line; needs DIR/port.
conninfo() {
    [[ -s $PORTFILE ]] || die "no cluster in $DIR (no $PORTFILE): run scripts/pgctl.sh start $DIR"
    echo "host=$RUN port=$(<"$PORTFILE") dbname=$DBNAME user=$DBUSER"
}

# pg_ctl status: 0 running, 3 not running, 4 no usable data directory.
running() {
    [[ -f $DATA/PG_VERSION ]] || return 1
    as_user "$PGBIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

# Serialises start and stop on one DIR (parallel test runs may share it).
lock() {
    exec 9>>"$DIR/.pgctl.lock"
    flock -w "$START_TIMEOUT" 9 || die "another pgctl holds $DIR/.pgctl.lock"
}

# Prints a free TCP port on 127.0.0.1, outside the usual ephemeral range.
free_port() {
    local py=/usr/bin/python3
    [[ -x $py ]] || py=python3
    "$py" - <<'EOF'
import random, socket, sys
for _ in range(200):
    port = random.randrange(15432, 30000)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
sys.exit("no free port found")
EOF
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# As root: creates the cluster user if needed, gives DIR to it and lets it reach DIR.
prepare_owner() {
    [[ -n $RUNAS ]] || return 0
    if ! getent passwd "$RUNAS" >/dev/null; then
        useradd -r -M -d /nonexistent -s /usr/sbin/nologin -c "tenderd PostgreSQL cluster" "$RUNAS"
        note "created system user $RUNAS"
    fi
    chown "$RUNAS:" "$DIR" "$RUN" "$LOG"
    chown -f "$RUNAS:" "$LOG"/*.log || true
    # Every directory above DIR must be searchable by the cluster user.
    local d blocked=()
    # shellcheck disable=SC2016 # expanded by the inner shell
    mapfile -t blocked < <(runuser -u "$RUNAS" -- bash -c '
        d=$1
        while [[ $d != / ]]; do
            d=$(dirname "$d")
            [[ -x $d ]] || echo "$d"
        done' _ "$DIR")
    for d in "${blocked[@]}"; do
        if command -v setfacl >/dev/null && setfacl -m "u:$RUNAS:x" "$d" 2>/dev/null; then
            note "granted $RUNAS search permission on $d (ACL)"
        else
            chmod o+x "$d"
            note "made $d searchable (o+x) so that $RUNAS can reach $DIR"
        fi
    done
}

# Creates the cluster in DIR/data.
init_cluster() {
    local locale=C
    if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
        locale=C.UTF-8
    fi
    note "initialising a new cluster in $DATA (as ${RUNAS:-$(id -un)})"
    if ! as_user "$PGBIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust -E UTF8 --locale="$locale" \
        >"$LOG/initdb.log" 2>&1; then
        cat "$LOG/initdb.log" >&2
        die "initdb failed (log: $LOG/initdb.log)"
    fi
    # Appended settings override initdb's; pgctl.conf is rewritten at every start.
    as_user tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# --- tenderd private cluster (scripts/pgctl.sh) ---
listen_addresses = '127.0.0.1'
max_connections = 200
shared_buffers = 128MB
fsync = on
synchronous_commit = on
full_page_writes = on
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
log_connections = off
include_if_exists = 'pgctl.conf'
EOF
}

# Runs SQL as role $1 in database $2 of the running cluster; prints the rows.
sql_as() {
    "$PGBIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 -h "$RUN" -p "$(<"$PORTFILE")" -U "$1" -d "$2" \
        -c "$3"
}

# A cluster made by an older pgctl.sh has "tenderd" as its superuser: rename it "postgres"
# (through a temporary superuser: a session cannot rename its own role), so that tenderd
# can be an ordinary role.
convert_superuser() {
    sql_as "$SUPERUSER" postgres "SELECT 1" >/dev/null 2>&1 && return 0
    [[ $(sql_as "$DBUSER" postgres "SELECT rolname FROM pg_roles WHERE oid = 10") == "$DBUSER" ]] ||
        die "cannot connect as $SUPERUSER or $DBUSER to the cluster in $DIR"
    sql_as "$DBUSER" postgres "CREATE ROLE pgctl_rename SUPERUSER LOGIN" >/dev/null
    sql_as pgctl_rename postgres "ALTER ROLE $DBUSER RENAME TO $SUPERUSER" >/dev/null
    sql_as "$SUPERUSER" postgres "DROP ROLE pgctl_rename" >/dev/null
    note "renamed the cluster's superuser $DBUSER to $SUPERUSER; $DBUSER becomes tenderd's runtime role"
}

# Creates database tenderd if it does not exist, then its roles (sql/roles.sql).
ensure_db() {
    local port have
    port=$(<"$PORTFILE")
    convert_superuser
    have=$(sql_as "$SUPERUSER" postgres "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")
    if [[ $have != 1 ]]; then
        "$PGBIN/createdb" -h "$RUN" -p "$port" -U "$SUPERUSER" "$DBNAME"
        note "created database $DBNAME"
    fi
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$port" -U "$SUPERUSER" -d "$DBNAME" \
        -f "$ROLES_SQL" >/dev/null || die "applying $ROLES_SQL failed"
}

cmd_start() {
    local want=${1:-} port
    if [[ -n $want ]] && ! [[ $want =~ ^[0-9]+$ && $want -ge 1 && $want -le 65535 ]]; then
        die "bad port '$want'"
    fi
    # The socket path must fit in sun_path (107 bytes).
    if ((${#RUN} + 20 > 107)); then
        die "$DIR is too long a path for a Unix socket directory; use a shorter one"
    fi
    mkdir -p "$RUN" "$LOG"
    chmod 0755 "$DIR" "$RUN" "$LOG"
    lock

    if running; then
        if [[ -n $want && $want != "$(<"$PORTFILE")" ]]; then
            note "already running on port $(<"$PORTFILE"); stop it first to move it to $want"
        else
            note "already running in $DIR"
        fi
        ensure_db
        conninfo
        return 0
    fi

    if [[ -n $want ]]; then
        port=$want
    elif [[ -s $PORTFILE ]]; then
        port=$(<"$PORTFILE")
        if port_busy "$port"; then
            port=$(free_port)
            note "port $(<"$PORTFILE") is taken by another program; using $port"
        fi
    else
        port=$(free_port)
    fi
    echo "$port" >"$PORTFILE.tmp"
    mv "$PORTFILE.tmp" "$PORTFILE"
    # Created here so that it stays readable (pg_ctl would make it 0600).
    [[ -e $LOG/postgresql.log ]] || : >"$LOG/postgresql.log"
    chmod 0644 "$LOG/postgresql.log"

    prepare_owner
    [[ -f $DATA/PG_VERSION ]] || init_cluster
    as_user tee "$DATA/pgctl.conf" >/dev/null <<EOF
# Written by scripts/pgctl.sh at every start.
port = $port
unix_socket_directories = '$RUN'
EOF

    note "starting PostgreSQL in $DIR on 127.0.0.1:$port (log: $LOG/postgresql.log)"
    if ! as_user "$PGBIN/pg_ctl" start -D "$DATA" -l "$LOG/postgresql.log" -w -t "$START_TIMEOUT" -s >&2; then
        tail -n 30 "$LOG/postgresql.log" >&2 || true
        die "PostgreSQL did not start (log: $LOG/postgresql.log)"
    fi
    # pg_ctl -w has waited for the postmaster; poll until it accepts connections.
    local i
    for ((i = 0; i < 300; i++)); do
        "$PGBIN/pg_isready" -q -h "$RUN" -p "$port" -d postgres -U "$SUPERUSER" -t 1 && break
        sleep 0.1
    done
    ((i < 300)) || die "PostgreSQL is not accepting connections after 30 s (log: $LOG/postgresql.log)"
    ensure_db
    conninfo
}

# Stops the cluster in MODE (fast or immediate); fine when it is not running.
cmd_stop() {
    if [[ ! -f $DATA/PG_VERSION ]]; then
        note "no cluster in $DIR"
        return 0
    fi
    lock
    if ! running; then
        note "not running ($DIR)"
        return 0
    fi
    as_user "$PGBIN/pg_ctl" stop -D "$DATA" -m "$1" -w -t "$START_TIMEOUT" -s >&2
    note "stopped ($1) $DIR"
}

# Runs SQL as the superuser on the cluster with socket directory $1 and port $2; prints the rows.
sql_at() {
    "$PGBIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 -h "$1" -p "$2" -U "$SUPERUSER" -d postgres -c "$3"
}

# Makes DIR a synchronous replica of the running cluster in $1, on port $2 if given (see the
# header).
cmd_replica() {
    local primary want=${2:-} port pport name i
    primary=$(realpath -e -- "$1") || die "no cluster in $1"
    [[ -s $primary/port ]] || die "no cluster in $primary (no port file)"
    pport=$(<"$primary/port")
    [[ ! -f $DATA/PG_VERSION ]] || die "$DATA already holds a cluster"
    mkdir -p "$RUN" "$LOG"
    chmod 0755 "$DIR" "$RUN" "$LOG"
    lock
    port=${want:-$(free_port)}
    echo "$port" >"$PORTFILE.tmp"
    mv "$PORTFILE.tmp" "$PORTFILE"
    [[ -e $LOG/postgresql.log ]] || : >"$LOG/postgresql.log"
    chmod 0644 "$LOG/postgresql.log"
    [[ $EUID -ne 0 ]] || RUNAS=$(stat -c %U "$primary/data")  # the primary's user
    prepare_owner
    name=$(basename "$DIR")
    [[ $name =~ ^[a-z0-9_]+$ ]] || die "the replica's directory name '$name' must be [a-z0-9_]+ (its application_name)"
    sql_at "$primary/run" "$pport" "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE
        rolname = 'replicator') THEN CREATE ROLE replicator REPLICATION LOGIN; END IF; END\$\$" >/dev/null
    note "copying $primary into $DATA (pg_basebackup)"
    if ! as_user "$PGBIN/pg_basebackup" -D "$DATA" -R -X stream -c fast \
        -d "host=127.0.0.1 port=$pport user=replicator application_name=$name" >"$LOG/basebackup.log" 2>&1; then
        cat "$LOG/basebackup.log" >&2
        die "pg_basebackup failed"
    fi
    as_user tee "$DATA/pgctl.conf" >/dev/null <<EOF
# Written by scripts/pgctl.sh at every start.
port = $port
unix_socket_directories = '$RUN'
EOF
    note "starting the replica in $DIR on 127.0.0.1:$port (log: $LOG/postgresql.log)"
    if ! as_user "$PGBIN/pg_ctl" start -D "$DATA" -l "$LOG/postgresql.log" -w -t "$START_TIMEOUT" -s >&2; then
        tail -n 30 "$LOG/postgresql.log" >&2 || true
        die "the replica did not start (log: $LOG/postgresql.log)"
    fi
    sql_at "$primary/run" "$pport" "ALTER SYSTEM SET synchronous_standby_names = '$name'" >/dev/null
    sql_at "$primary/run" "$pport" "SELECT pg_reload_conf()" >/dev/null
    for ((i = 0; i < 300; i++)); do
        [[ $(sql_at "$primary/run" "$pport" "SELECT sync_state FROM pg_stat_replication
            WHERE application_name = '$name'" 2>/dev/null) == sync ]] && break
        sleep 0.1
    done
    ((i < 300)) || die "the replica does not stream synchronously after 30 s (log: $LOG/postgresql.log)"
    note "replica $name streams synchronously from $primary"
    conninfo
}

# Promotes the replica in DIR; returns once it takes writes.
cmd_promote() {
    [[ -f $DATA/standby.signal ]] || die "$DIR is not a replica (no standby.signal)"
    as_user "$PGBIN/pg_ctl" promote -D "$DATA" -w -t "$START_TIMEOUT" -s >&2 || die "pg_ctl promote failed"
    note "promoted $DIR"
}
case $CMD in
start)
    [[ $# -le 3 ]] || usage
    cmd_start "${3:-}"
    ;;
conninfo)
    [[ $# -eq 2 ]] || usage
    conninfo
    ;;
stop)
    [[ $# -eq 2 ]] || usage
    cmd_stop fast
    ;;
kill)
    [[ $# -eq 2 ]] || usage
    cmd_stop immediate
    ;;
replica)
    [[ $# -ge 3 && $# -le 4 ]] || usage
    cmd_replica "$3" "${4:-}"
    ;;
promote)
    [[ $# -eq 2 ]] || usage
    cmd_promote
    ;;
status)
    [[ $# -eq 2 ]] || usage
    if running; then
        echo "running: $(conninfo)"
    else
        echo "not running ($DIR)"
        exit 3
    fi
    ;;
*)
    usage
    ;;
esac
