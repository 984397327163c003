#!/usr/bin/env bash
# Serve every service of the platform in the foreground until Ctrl-C; `make run` calls this after
# `deploy/infra.sh up`. Each service runs as `python -m services.<name>` on its own port, with its
# relay and consumers, against its own database. Logs are JSON lines in .run/logs/<service>.log.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
LOGS="$ROOT/.run/logs"
mkdir -p "$LOGS"

# name:port — the services that exist; each reads <NAME>_* settings (see README).
SERVICES=("registration:8001" "eligibility:8002" "invoicing:8003" "payments:8004" "collections:8005")
# The payer simulator: a stand-in for a clearinghouse that answers X12 270s with 271s from
# simulators/clearinghouse/members.toml. Real deployments point payers at real clearinghouses.
SIMULATOR_PORT="${CLEARINGHOUSE_SIMULATOR_PORT:-8090}"

pids=()
stop_all() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait || true
    echo "all services stopped"
}
trap stop_all INT TERM EXIT

(cd "$ROOT" && exec "$PYTHON" -m simulators.clearinghouse --port "$SIMULATOR_PORT") \
    >>"$LOGS/clearinghouse-simulator.log" 2>&1 &
pids+=("$!")
# A development mail server that keeps what invoicing sends in .run/mail/ instead of delivering it.
MAILBOX_PORT="${INVOICING_SMTP_PORT:-1025}"
(cd "$ROOT" && exec "$PYTHON" -m simulators.mailbox --port "$MAILBOX_PORT" --directory "$ROOT/.run/mail") \
    >>"$LOGS/mailbox.log" 2>&1 &
pids+=("$!")

# Collections also answers the demo collection agency (deploy/collections.toml), whose HTTP token is
# this one; its Kafka credentials were written to .run/agencies/northwind.json by deploy/agencies.py.
demo_collections_tokens='{"dev-token-change-me": {"system": "development", "scopes": ["*"]}, "dev-agency-northwind": {"system": "agency-northwind", "scopes": ["agency:northwind"]}}'
export COLLECTIONS_API_TOKENS="${COLLECTIONS_API_TOKENS:-$demo_collections_tokens}"

for entry in "${SERVICES[@]}"; do
    name="${entry%%:*}"
    port="${entry##*:}"
    port_variable="$(echo "$name" | tr '[:lower:]' '[:upper:]')_HTTP_PORT"
    export "$port_variable=${!port_variable:-$port}"
    (cd "$ROOT" && exec "$PYTHON" -m "services.$name") >>"$LOGS/$name.log" 2>&1 &
    pids+=("$!")
done

# Wait until each answers its readiness probe (database and Kafka reachable), with a deadline.
for entry in "${SERVICES[@]}"; do
    name="${entry%%:*}"
    port_variable="$(echo "$name" | tr '[:lower:]' '[:upper:]')_HTTP_PORT"
    port="${!port_variable}"
    deadline=$((SECONDS + 60))
    until curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null; do
        if ((SECONDS > deadline)); then
            echo "$name did not become ready; last log lines:" >&2
            tail -n 20 "$LOGS/$name.log" >&2
            exit 1
        fi
        sleep 0.2
    done
    echo "$name  ready  API docs: http://127.0.0.1:$port/docs   OpenAPI: http://127.0.0.1:$port/openapi.json"
done

# A demo payer in the directory, answered by the simulator; the Idempotency-Key makes a second
# `make run` replay the first answer instead of registering it twice.
curl -sf -o /dev/null -X POST "http://127.0.0.1:${ELIGIBILITY_HTTP_PORT}/v1/payers" \
    -H "Authorization: Bearer dev-token-change-me" -H "Content-Type: application/json" \
    -H "Idempotency-Key: demo-payer-acme-health" \
    -d '{"payer_id": "acme-health", "name": "Acme Health (simulated)", "kind": "insurer",
         "connection": {"method": "x12", "endpoint": "http://127.0.0.1:'"$SIMULATOR_PORT"'/x12/270",
                        "payer_identifier": "60054", "receiver_id": "CLEARINGHOUSE",
                        "claims_endpoint": "http://127.0.0.1:'"$SIMULATOR_PORT"'/x12/837"},
         "code_system": "HCPCS",
         "billing_contact": {"name": "Acme Claims", "email": "claims@acme.example"}}' \
    && echo "demo payer acme-health answers through the clearinghouse simulator on :$SIMULATOR_PORT"

# Invoicing's code catalogue: the shipped HCPCS Level II, ICD-10-CM and sample tariff files (CPT is
# licensed: load your own with PUT /v1/code-systems/CPT/codes).
for file in "$ROOT"/services/invoicing/codes/*.csv; do
    stem="$(basename "$file" .csv)"
    case "$stem" in
        hcpcs) system="HCPCS" ;;
        icd-10-cm) system="ICD-10-CM" ;;
        tariff-*) system="tariff:${stem#tariff-}" ;;
        *) continue ;;
    esac
    curl -sf -o /dev/null -X PUT "http://127.0.0.1:${INVOICING_HTTP_PORT}/v1/code-systems/$system/codes?source_name=$(basename "$file")" \
        -H "Authorization: Bearer dev-token-change-me" -H "Content-Type: text/csv" --data-binary "@$file" \
        && echo "invoicing catalogue: $system loaded from $(basename "$file")"
done
echo "invoicing sends mail to the development mailbox on :$MAILBOX_PORT (kept in .run/mail/)"

# How the demo clinic's customers pay, as demands and statements print it.
curl -sf -o /dev/null -X PUT "http://127.0.0.1:${PAYMENTS_HTTP_PORT}/v1/businesses/clinic/payment-instructions" \
    -H "Authorization: Bearer dev-token-change-me" -H "Content-Type: application/json" \
    -H "Idempotency-Key: demo-instructions-clinic" \
    -d '{"business_name": "Example Community Clinic",
         "options": [{"method": "card", "label": "Pay online", "url": "https://pay.clinic.example"},
                     {"method": "bank_transfer", "label": "Bank transfer", "account_name": "Example Community Clinic",
                      "bank_name": "First Example Bank", "routing_number": "011000015", "account_number": "123456789",
                      "reference_hint": "your invoice number"},
                     {"method": "cheque", "label": "By cheque", "payable_to": "Example Community Clinic",
                      "address_lines": ["100 Main Street", "Springfield, IL 62701"]}]}' \
    && echo "payments: how to pay at the demo clinic is published (GET /v1/businesses/clinic/payment-instructions)"

echo "collections places debts with the demo agency northwind; run its reference consumer as examples/agency/README.md shows"
echo "development token: Authorization: Bearer dev-token-change-me (the demo agency's: dev-agency-northwind)"
echo "logs: .run/logs/   Ctrl-C stops the services (deploy/infra.sh down stops PostgreSQL and Kafka)"
wait -n "${pids[@]}"
echo "a service exited; see .run/logs/" >&2
exit 1
