#!/usr/bin/env bash
# Contract tests of openapi.yaml with the tools partner teams use. See contract/README.md.
#
#   API_BASE_URL=http://127.0.0.1:8091 API_KEY=crk_... contract/run.sh [STAGE...]
#
# STAGE is any of: lint typescript webhooks schemathesis browser (default: all five, in that
# order). lint and typescript need no server; the others need API_BASE_URL and API_KEY
# (a bearer key of organization 1) of a running server (contract/serve.sh starts one).
#
# Installs its tools first, with pinned versions, and quickly when they are already there:
# Debian's chromium (apt-get), the npm packages of package-lock.json (npm ci) in
# contract/node_modules, schemathesis (requirements.txt) in contract/.venv.
# Prints one line per stage, `contract: <stage> ok (<s>s)` or `contract: <stage> FAILED ...`
# followed by the end of its log; every log is in artifacts/contract/, the Swagger UI
# screenshot is artifacts/swagger-ui-put.png. Runs every selected stage, then exits 1 if any
# failed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SPEC="$ROOT/openapi.yaml"
ARTIFACTS="$ROOT/artifacts"
LOGS="$ARTIFACTS/contract"
ALL_STAGES=(lint typescript webhooks schemathesis browser)

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

stages=("$@")
if [ ${#stages[@]} -eq 0 ]; then stages=("${ALL_STAGES[@]}"); fi
for s in "${stages[@]}"; do
  case " ${ALL_STAGES[*]} " in *" $s "*) ;; *) echo "contract: unknown stage '$s' (known: ${ALL_STAGES[*]})" >&2; exit 2 ;; esac
done
wants() { case " ${stages[*]} " in *" $1 "*) return 0 ;; esac; return 1; }

if wants webhooks || wants schemathesis || wants browser; then
  : "${API_BASE_URL:?contract: API_BASE_URL (the running server) is needed for webhooks, schemathesis and browser}"
  : "${API_KEY:?contract: API_KEY (a bearer key of organization 1) is needed for webhooks, schemathesis and browser}"
  API_BASE_URL="${API_BASE_URL%/}"
  export API_BASE_URL API_KEY
fi

mkdir -p "$LOGS"
failed=()

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# run_stage NAME FUNCTION: runs FUNCTION with errexit in a subshell, its output to the stage log.
run_stage() {
  local name="$1" fn="$2" log="$LOGS/$1.log" start rc
  start="$(now)"
  set +e
  ( set -euo pipefail; "$fn" ) >"$log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    echo "contract: $name ok ($(elapsed "$start")s)"
  else
    echo "contract: $name FAILED ($(elapsed "$start")s, exit $rc); log: ${log#"$ROOT"/}; its end:"
    tail -n "${CONTRACT_LOG_TAIL:-200}" "$log" | sed 's/^/    /'
    failed+=("$name")
  fi
}

# --- Tools ----------------------------------------------------------------------------------

sha() { sha256sum "$@" | sha256sum | cut -c1-16; }

install_chromium() {
  if command -v chromium >/dev/null 2>&1; then return 0; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q chromium
}

install_node_modules() {
  # npm ci only when package-lock.json changed since the last install (stamp in node_modules).
  local stamp="$HERE/node_modules/.contract-stamp" want
  want="$(sha "$HERE/package.json" "$HERE/package-lock.json")"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  # --ignore-scripts: no package may download anything (a browser build, say) at install time.
  (cd "$HERE" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

install_venv() {
  local stamp="$HERE/.venv/.contract-stamp" want
  want="$(sha "$HERE/requirements.txt")"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$HERE/.venv/bin/schemathesis" ]; then return 0; fi
  rm -rf "$HERE/.venv"
  python3 -m venv "$HERE/.venv"
  "$HERE/.venv/bin/pip" install -q --no-deps --require-virtualenv -r "$HERE/requirements.txt"
  "$HERE/.venv/bin/pip" check
  echo "$want" >"$stamp"
}

install_tools() {
  if wants browser; then install_chromium; chromium --version; fi
  if wants lint || wants typescript || wants browser; then install_node_modules; fi
  if wants schemathesis || wants webhooks; then install_venv; "$HERE/.venv/bin/schemathesis" --version; fi
}

# --- Stages ---------------------------------------------------------------------------------

# 1. The spec linter: Redocly CLI, rules in contract/redocly.yaml, the justified exceptions in
#    contract/.redocly.lint-ignore.yaml. Runs from contract/ so that both are found.
stage_lint() {
  cd "$HERE"
  node_modules/.bin/redocly lint "$SPEC" --config "$HERE/redocly.yaml" --format stylish --max-problems 1000
}

# 2. Frontend codegen: types from openapi.yaml, then client.ts must type-check against them.
#    Runs from contract/typescript/ so that openapi-typescript does not pick up redocly.yaml.
stage_typescript() {
  cd "$HERE/typescript"
  rm -rf generated
  ../node_modules/.bin/openapi-typescript "$SPEC" --output generated/api.ts
  ../node_modules/.bin/tsc --project tsconfig.json --noEmit --pretty false
}

# 3. Webhooks as a partner receives them: a receiver on loopback, deliveries verified with the
#    Standard Webhooks library from PyPI (contract/webhooks.py).
stage_webhooks() {
  cd "$HERE"
  .venv/bin/python webhooks.py
}

# 4. Schemathesis against the running server, with the committed spec (not the served one).
#    Settings (checks, seed, examples, stateful phase) are in contract/schemathesis.toml.
stage_schemathesis() {
  cd "$HERE"
  rm -rf "$LOGS/schemathesis"
  .venv/bin/schemathesis --config-file "$HERE/schemathesis.toml" run "$SPEC" \
    --url "$API_BASE_URL" --no-color \
    --report junit --report-junit-path "$LOGS/schemathesis/junit.xml"
}

# 5. Swagger UI in headless Chromium: authorize, PUT a client, see the 200 rendered.
stage_browser() {
  cd "$HERE"
  rm -f "$ARTIFACTS/swagger-ui-put.png"
  SCREENSHOT="$ARTIFACTS/swagger-ui-put.png" node browser/swagger.mjs
}

# --- Run ------------------------------------------------------------------------------------

run_stage install install_tools
if [ ${#failed[@]} -ne 0 ]; then exit 1; fi
for s in "${stages[@]}"; do run_stage "$s" "stage_$s"; done

if [ ${#failed[@]} -ne 0 ]; then
  echo "contract: FAILED: ${failed[*]}"
  exit 1
fi
echo "contract: all passed (${stages[*]})"
