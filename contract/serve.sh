#!/usr/bin/env bash
# Runs the contract tests against a release server on a fresh PostgreSQL database:
#
#   contract/serve.sh [STAGE...]        (stages as for contract/run.sh; default all)
#
# 1. drops and recreates the database of CONTRACT_DATABASE_URL,
# 2. creates an API key of organization 1 on it with the server's own `keys create`,
# 3. starts the server in the background on CONTRACT_BIND_ADDR and waits for /health/ready,
# 4. runs contract/run.sh with API_BASE_URL and API_KEY exported, and stops the server on exit.
#
# Env (defaults in brackets):
#   CONTRACT_SERVER_BIN    the server binary             [<repo>/target/release/clients-api]
#   CONTRACT_DATABASE_URL  a database it may drop        [postgres://postgres@127.0.0.1:5432/clients_api_contract]
#   CONTRACT_BIND_ADDR     where the server listens      [127.0.0.1:8091]
# The server's log is artifacts/contract/server.log.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="${CONTRACT_SERVER_BIN:-$ROOT/target/release/clients-api}"
DATABASE_URL="${CONTRACT_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/clients_api_contract}"
BIND_ADDR="${CONTRACT_BIND_ADDR:-127.0.0.1:8091}"
LOGS="$ROOT/artifacts/contract"
mkdir -p "$LOGS"

if [ ! -x "$BIN" ]; then
  echo "contract: no server binary at $BIN (build it with cargo build --release, or set CONTRACT_SERVER_BIN)" >&2
  exit 1
fi
case "$DATABASE_URL" in
  postgres://* | postgresql://*) ;;
  *) echo "contract: CONTRACT_DATABASE_URL must be a postgres:// URL, got $DATABASE_URL" >&2; exit 1 ;;
esac

# A fresh database: same server and user, through the maintenance database `postgres`.
no_query="${DATABASE_URL%%\?*}"
db="${no_query##*/}"
admin_url="${no_query%/*}/postgres"
if [ -z "$db" ] || [ "$db" = "postgres" ] || ! [[ "$db" =~ ^[A-Za-z0-9_]+$ ]]; then
  echo "contract: refusing to drop database '$db' of CONTRACT_DATABASE_URL; name a dedicated one" >&2
  exit 1
fi
PGOPTIONS='--client-min-messages=warning' psql "$admin_url" -X -q -v ON_ERROR_STOP=1 \
  -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\""

# The webhooks stage's receiver listens on loopback, which only this (test-only) setting allows;
# the key of webhook secrets stays with the run's artifacts.
WEBHOOK_ALLOW_PRIVATE_URLS=true
WEBHOOK_SECRETS_KEY_FILE="$LOGS/webhook-secrets.key"
export DATABASE_URL BIND_ADDR WEBHOOK_ALLOW_PRIVATE_URLS WEBHOOK_SECRETS_KEY_FILE
# Creating the key also creates the schema (migrations run on open).
key_output="$("$BIN" keys create --organization-id 1 --name "contract tests")"
API_KEY="$(grep -o 'crk_[0-9A-Za-z_]*' <<<"$key_output" | head -n 1)"
if [ -z "$API_KEY" ]; then
  echo "contract: could not read the key from \`keys create\`:" >&2
  echo "$key_output" >&2
  exit 1
fi

"$BIN" >"$LOGS/server.log" 2>&1 &
server_pid=$!
stop_server() {
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # Requests in flight get a moment; then it is gone for good.
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
}
trap stop_server EXIT
trap 'exit 130' INT TERM

API_BASE_URL="http://$BIND_ADDR"
for _ in $(seq 1 300); do
  if curl -fs -o /dev/null --max-time 2 "$API_BASE_URL/health/ready"; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "contract: the server exited before it was ready; its log:" >&2
    cat "$LOGS/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
if ! curl -fsS -o /dev/null --max-time 2 "$API_BASE_URL/health/ready"; then
  echo "contract: the server at $API_BASE_URL was not ready after 30 s; its log:" >&2
  tail -n 50 "$LOGS/server.log" >&2
  exit 1
fi
echo "contract: server $("$BIN" --version) ready at $API_BASE_URL (database $db)"

export API_BASE_URL API_KEY
"$HERE/run.sh" "$@"
