# lib.sh: agent test helpers, sourced after tests/lib/common.sh and
# tests/e2e/lib.sh: an agent on the test token, its socket, requests.

# start_agent [agent options...]: `entrakey agent` on $KEY_URI in the
# foreground (as systemd runs it) with the PIN from $PIN_FILE; waits for
# its socket. Sets AGENT_PID, SOCK (exported as ENTRAKEY_AGENT_SOCK),
# AGENT_LOG; stops it on exit. AGENT_RUN_DIR: the runtime directory
# (default $T/run), AGENT_RUN_MODE its mode (default 700); AGENT_PIN_SOURCE:
# the PIN source (default the file).
start_agent() {
  local i seen=0
  local run=${AGENT_RUN_DIR:-$T/run}
  SOCK="$run/entrakey/agent.sock"
  AGENT_LOG="$T/agent.log"
  # the log is appended to: only a 'serving' line this agent wrote counts
  # (a killed agent's line and stale socket would otherwise pass for it)
  if [ -f "$AGENT_LOG" ]; then seen=$(wc -l < "$AGENT_LOG"); fi
  mkdir -p "$run" && chmod "${AGENT_RUN_MODE:-700}" "$run"
  export XDG_RUNTIME_DIR="$run"
  export ENTRAKEY_AGENT_SOCK="$SOCK"
  "$EK" agent "$KEY_URI" --pin-source "${AGENT_PIN_SOURCE:-file:$PIN_FILE}" "$@" \
    </dev/null >>"$AGENT_LOG" 2>&1 &
  AGENT_PID=$!
  on_exit stop_agent
  for i in $(seq 200); do
    [ -S "$SOCK" ] && tail -n +"$((seen + 1))" "$AGENT_LOG" | grep -q 'serving' &&
      return 0
    kill -0 "$AGENT_PID" 2>/dev/null ||
      { echo "the agent died:"; cat "$AGENT_LOG"; AGENT_PID=; return 1; }
    sleep 0.05
  done
  echo "the agent did not start:"; cat "$AGENT_LOG"; return 1
}

# stop_agent: stops the agent start_agent started, if it still runs.
stop_agent() { stop_pid AGENT_PID; }

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

# ------------------------------------------------- managed identity
# For test_mi.sh and test_mi_http.sh, sourced after tests/e2e/lib.sh.

# mi_setup LIFETIME: none of the caller's endpoint, agent or Azure
# variables; the loopback token endpoint (e2e_setup, tokens valid LIFETIME
# seconds); APP, the app's options for exec and agent.
mi_setup() {
  unset IDENTITY_ENDPOINT IDENTITY_HEADER MSI_ENDPOINT MSI_SECRET \
    APPSETTING_WEBSITE_SITE_NAME AZURE_CLIENT_ID AZURE_TENANT_ID \
    AZURE_AUTHORITY_HOST AZURE_FEDERATED_TOKEN_FILE ENTRAKEY_AGENT_SOCK
  e2e_setup --lifetime "$1"
  APP=(--tenant "$TENANT" --client-id "$CLIENT_ID" --authority-host "$AUTH"
    --ca-file "$CA_PEM")
}

# start_exec SECONDS [exec options...]: `exec --managed-identity` whose
# child writes its PID to $T/child.pid and its environment to $T/child,
# then sleeps SECONDS. Sets EXEC_PID and the child's IE
# (IDENTITY_ENDPOINT), IH (IDENTITY_HEADER), ME, MS, CHILD_PID; 1 (and
# exec's standard error) when the child did not start.
start_exec() {
  local i secs=$1
  shift
  rm -f "$T/child" "$T/child.pid"
  "$EK" exec --managed-identity "$KEY_URI" "${APP[@]}" "$@" -- \
    bash -c 'echo $$ > "$1.pid"; env > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep "$2"' \
    _ "$T/child" "$secs" > "$T/exec.out" 2> "$T/exec.err" &
  EXEC_PID=$!
  for i in $(seq 200); do
    [ -s "$T/child" ] && break
    kill -0 "$EXEC_PID" 2>/dev/null || break
    sleep 0.05
  done
  [ -s "$T/child" ] || { echo "exec did not start its child:"; cat "$T/exec.err"; return 1; }
  IE=$(sed -n 's/^IDENTITY_ENDPOINT=//p' "$T/child")
  IH=$(sed -n 's/^IDENTITY_HEADER=//p' "$T/child")
  ME=$(sed -n 's/^MSI_ENDPOINT=//p' "$T/child")
  MS=$(sed -n 's/^MSI_SECRET=//p' "$T/child")
  CHILD_PID=$(cat "$T/child.pid")
}

# stop_exec: stops the exec start_exec started, if it still runs.
stop_exec() { stop_pid EXEC_PID; }

# start_mi_agent: profile mi for $KEY_URI and the app (RC: profile add's
# exit code), then `agent --profile mi --managed-identity`. Sets F, the
# agent's managed-identity.env, and IE and IH from it.
start_mi_agent() {
  run "$EK" profile add mi --key "$KEY_URI" --tenant "$TENANT" \
    --client-id "$CLIENT_ID" --authority-host "$AUTH" --ca-file "$CA_PEM"
  start_agent --profile mi --managed-identity || return 1
  F="$XDG_RUNTIME_DIR/entrakey/managed-identity.env"
  IE=$(sed -n 's/^IDENTITY_ENDPOINT=//p' "$F")
  IH=$(sed -n 's/^IDENTITY_HEADER=//p' "$F")
}
