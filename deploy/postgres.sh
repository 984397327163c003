#!/usr/bin/env bash
# Local PostgreSQL for development and tests: Debian's packaged server, driven with pg_ctlcluster
# (there is no systemd here). Must run as root.
#
#   deploy/postgres.sh install         apt-get install postgresql if missing; ensure a cluster
#   deploy/postgres.sh start           start the cluster if it is not running
#   deploy/postgres.sh wait [seconds]  block until it accepts connections (default 60 s)
#   deploy/postgres.sh provision       roles and databases for every service (idempotent)
#   deploy/postgres.sh stop
#   deploy/postgres.sh status
#
# Every service <name> gets a LOGIN role <name> and databases <name> and <name>_test owned by it;
# the password is <name> unless PG_PASSWORD_<NAME> is set (e.g. PG_PASSWORD_INVOICING). Role and
# database "bench" exist for benchmarks.
# Connect with postgresql://<name>:<name>@127.0.0.1:5432/<name> (the port is the cluster's).
#
# Environment: PG_CLUSTER (cluster name, default main).
set -euo pipefail

SERVICES=(registration eligibility invoicing payments collections bench)
PG_CLUSTER="${PG_CLUSTER:-main}"
MAX_CONNECTIONS=200

log() { echo "postgres: $*" >&2; }
die() { log "$*"; exit 1; }

# --- discovery ----------------------------------------------------------------------------------

server_installed() {
    command -v pg_ctlcluster >/dev/null &&
        compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null
}

# "<version> <port> <status>" of our cluster, from pg_lsclusters; empty if there is none.
cluster_line() {
    pg_lsclusters --no-header 2>/dev/null |
        awk -v c="$PG_CLUSTER" '$2 == c { print $1, $3, $4; exit }'
}

cluster_version() { cluster_line | cut -d' ' -f1; }
cluster_port() { cluster_line | cut -d' ' -f2; }
cluster_online() { [[ "$(cluster_line | cut -d' ' -f3)" == online* ]]; }

require_cluster() {
    [[ -n "$(cluster_line)" ]] || die "no cluster '$PG_CLUSTER'; run deploy/postgres.sh install"
}

psql_admin() {
    # As the postgres OS user over the Unix socket (peer auth); stop at the first error.
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$(cluster_port)" "$@"
}

# --- commands -----------------------------------------------------------------------------------

cmd_install() {
    if ! server_installed; then
        log "installing PostgreSQL with apt-get"
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    fi
    if [[ -z "$(cluster_line)" ]]; then
        # Debian's package creates "main" on install; an image may have skipped or removed it.
        local version
        version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
        log "creating cluster $version/$PG_CLUSTER"
        pg_createcluster "$version" "$PG_CLUSTER" >/dev/null
    fi
}

cmd_start() {
    require_cluster
    if cluster_online; then
        log "cluster $(cluster_version)/$PG_CLUSTER already running on port $(cluster_port)"
        return
    fi
    log "starting cluster $(cluster_version)/$PG_CLUSTER on port $(cluster_port)"
    pg_ctlcluster "$(cluster_version)" "$PG_CLUSTER" start
}

cmd_wait() {
    require_cluster
    local timeout="${1:-60}" port
    port="$(cluster_port)"
    local deadline=$((SECONDS + timeout))
    until pg_isready -q -h 127.0.0.1 -p "$port"; do
        if ((SECONDS >= deadline)); then
            log "not ready after ${timeout}s"
            local logfile="/var/log/postgresql/postgresql-$(cluster_version)-$PG_CLUSTER.log"
            tail -n 30 "$logfile" >&2 || true
            exit 1
        fi
        sleep 0.5
    done
    log "ready on 127.0.0.1:$port"
}

password_for() {
    local var="PG_PASSWORD_${1^^}"
    echo "${!var:-$1}"
}

cmd_provision() {
    require_cluster
    ensure_max_connections
    local name dbs
    for name in "${SERVICES[@]}"; do
        dbs="{$name,${name}_test}"
        [[ "$name" == bench ]] && dbs="{bench}"
        # CREATE DATABASE cannot run inside a DO block, hence the SELECT ... \gexec idiom;
        # the password is (re)set every time so that PG_PASSWORD_<NAME> changes take effect.
        psql_admin -v name="$name" -v password="$(password_for "$name")" -v dbs="$dbs" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'name', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', d, :'name')
  FROM unnest(:'dbs'::text[]) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \gexec
SQL
    done
    check_password_login
    log "provisioned roles and databases: ${SERVICES[*]}"
}

# max_connections needs a restart, so only restart when the value actually changes.
ensure_max_connections() {
    local current
    current="$(psql_admin -At -c 'SHOW max_connections')"
    if [[ "$current" != "$MAX_CONNECTIONS" ]]; then
        log "max_connections $current -> $MAX_CONNECTIONS (restarting)"
        psql_admin -c "ALTER SYSTEM SET max_connections = $MAX_CONNECTIONS"
        pg_ctlcluster "$(cluster_version)" "$PG_CLUSTER" restart
        cmd_wait 60
    fi
}

# Services connect over TCP with a password; prove pg_hba.conf allows it (Debian: scram, 127.0.0.1).
check_password_login() {
    local name port
    port="$(cluster_port)"
    for name in "${SERVICES[@]}"; do
        PGPASSWORD="$(password_for "$name")" psql -X -q -At -h 127.0.0.1 -p "$port" -U "$name" \
            -d "$name" -c 'SELECT 1' >/dev/null ||
            die "password login as $name over TCP failed; check pg_hba.conf for 127.0.0.1/32"
    done
}

cmd_stop() {
    if [[ -z "$(cluster_line)" ]] || ! cluster_online; then
        log "not running"
        return
    fi
    log "stopping cluster $(cluster_version)/$PG_CLUSTER"
    # Fast mode: roll back open transactions and disconnect clients instead of waiting for them.
    pg_ctlcluster "$(cluster_version)" "$PG_CLUSTER" stop -m fast
}

cmd_status() {
    if [[ -z "$(cluster_line)" ]]; then
        echo "postgres: no cluster '$PG_CLUSTER'"
        return 3
    fi
    read -r version port status <<<"$(cluster_line)"
    echo "postgres: cluster $version/$PG_CLUSTER $status on 127.0.0.1:$port"
    [[ "$status" == online* ]] || return 3
}

# The header comment is the usage text.
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }

require_root() { [[ $(id -u) -eq 0 ]] || die "run as root (apt-get, pg_ctlcluster, runuser)"; }

case "${1:-}" in
    install | start | provision | stop) require_root ;;
esac
case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    wait) shift; cmd_wait "$@" ;;
    provision) cmd_provision ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    -h | --help | help | "") usage ;;
    *) usage >&2; exit 2 ;;
esac
