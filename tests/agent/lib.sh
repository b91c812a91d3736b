# lib.sh: agent test helpers, sourced after tests/lib/common.sh and
# tests/e2e/lib.sh: an agent on the test token, its socket, requests.

# start_agent [agent options...]: `entrakey agent` on $KEY_URI in the
# foreground (as systemd runs it) with the PIN from $PIN_FILE; waits for
# its socket. Sets AGENT_PID, SOCK (exported as ENTRAKEY_AGENT_SOCK),
# AGENT_LOG; stops it on exit. AGENT_RUN_DIR: the runtime directory
# (default $T/run); AGENT_PIN_SOURCE: the PIN source (default the file).
start_agent() {
  local i
  local run=${AGENT_RUN_DIR:-$T/run}
  SOCK="$run/entrakey/agent.sock"
  AGENT_LOG="$T/agent.log"
  mkdir -p "$run" && chmod 700 "$run"
  export XDG_RUNTIME_DIR="$run"
  export ENTRAKEY_AGENT_SOCK="$SOCK"
  "$EK" agent "$KEY_URI" --pin-source "${AGENT_PIN_SOURCE:-file:$PIN_FILE}" "$@" \
    </dev/null >>"$AGENT_LOG" 2>&1 &
  AGENT_PID=$!
  on_exit stop_agent
  for i in $(seq 200); do
    [ -S "$SOCK" ] && grep -q 'serving' "$AGENT_LOG" && return 0
    kill -0 "$AGENT_PID" 2>/dev/null ||
      { echo "the agent died:"; cat "$AGENT_LOG"; AGENT_PID=; return 1; }
    sleep 0.05
  done
  echo "the agent did not start:"; cat "$AGENT_LOG"; return 1
}

stop_agent() {
  if [ -n "${AGENT_PID:-}" ]; then
    kill "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
    AGENT_PID=
  fi
  return 0
}

# req METHOD PATH [JSON]: one request with curl; sets OUT (body), CODE.
req() {
  local m=$1 p=$2 body=${3:-}
  if [ -n "$body" ]; then
    OUT=$(curl -s --max-time 30 --unix-socket "$SOCK" -X "$m" \
      -H 'Content-Type: application/json' --data "$body" \
      -w '\n%{http_code}' "http://localhost$p")
  else
    OUT=$(curl -s --max-time 30 --unix-socket "$SOCK" -X "$m" \
      -w '\n%{http_code}' "http://localhost$p")
  fi
  CODE=${OUT##*$'\n'}
  OUT=${OUT%$'\n'*}
}

# token_body [SCOPE]: the JSON a client sends for the app key.
token_body() {
  printf '{"key":"%s","tenant":"%s","client_id":"%s","scope":"%s",' \
    "$KEY_URI" "$TENANT" "$CLIENT_ID" "${1:-https://outlook.office365.com/.default}"
  printf '"authority_host":"%s","ca_file":"%s"}' "$AUTH" "$CA_PEM"
}

# jget EXPR: a Python expression over the JSON in $OUT ('d').
jget() {
  printf '%s' "$OUT" | "$PY" -c \
    'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}
