#!/usr/bin/env bash
# The local infrastructure every service and test needs: PostgreSQL and a Kafka broker with the
# topics of deploy/topics.toml and the collection agencies of deploy/collections.toml (their
# topics, SCRAM credentials and ACLs; passwords kept in .run/agencies/<id>.json). Idempotent: `up`
# on a running stack only re-checks it.
#
#   deploy/infra.sh up       install if needed, start, wait until ready, provision, apply topics,
#                            give the agencies their access
#   deploy/infra.sh down     stop Kafka, then PostgreSQL (both keep their data)
#   deploy/infra.sh status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY="$ROOT/deploy"
PYTHON="$ROOT/.venv/bin/python"
KAFKA_BOOTSTRAP="127.0.0.1:${KAFKA_PORT:-9092}"
KAFKA_AGENCY_BOOTSTRAP="127.0.0.1:${KAFKA_AGENCY_PORT:-9094}"

up() {
    # Kafka's JVM starts in the background first, so its startup overlaps PostgreSQL's.
    "$DEPLOY/kafka.sh" start
    "$DEPLOY/postgres.sh" install
    "$DEPLOY/postgres.sh" start
    "$DEPLOY/postgres.sh" wait
    "$DEPLOY/postgres.sh" provision
    "$DEPLOY/kafka.sh" wait
    if ! "$PYTHON" -c 'import aiokafka' 2>/dev/null; then
        echo "infra: $PYTHON with aiokafka is needed to apply topics; create the venv first" >&2
        exit 1
    fi
    "$PYTHON" "$DEPLOY/topics.py" --bootstrap "$KAFKA_BOOTSTRAP" --catalogue "$DEPLOY/topics.toml"
    "$PYTHON" "$DEPLOY/agencies.py" --bootstrap "$KAFKA_BOOTSTRAP" \
        --agency-bootstrap "$KAFKA_AGENCY_BOOTSTRAP" --catalogue "$DEPLOY/collections.toml" \
        --secrets-dir "$ROOT/.run/agencies"
}

down() {
    "$DEPLOY/kafka.sh" stop
    "$DEPLOY/postgres.sh" stop
}

status() {
    # Report both even if the first is down; fail if either is.
    local rc=0
    "$DEPLOY/postgres.sh" status || rc=$?
    "$DEPLOY/kafka.sh" status || rc=$?
    return "$rc"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *)
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2
        exit 2
        ;;
esac
