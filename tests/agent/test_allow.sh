# --allow-uid: the users allowed reach the socket (its directory 0711, the
# socket 0666) and are served; any other user reaches it too and is
# refused by the SO_PEERCRED check, logged and audited; without the list
# the socket stays 0600 in a 0700 directory. A socket the users allowed
# cannot reach (a directory closed above it) is said at start.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

if ! id nobody >/dev/null 2>&1 || ! id daemon >/dev/null 2>&1 ||
  ! command -v setpriv >/dev/null; then
  skip "no users nobody and daemon, or no setpriv"
  finish
fi
e2e_setup --lifetime 3600
# as another user: curl through the socket; sets OUT and CODE as req does
as() {
  local who=$1
  shift
  OUT=$(setpriv --reuid "$who" --regid nogroup --clear-groups \
    curl -s --max-time 10 --unix-socket "$SOCK" -w '\n%{http_code}' "$@" 2>&1)
  CODE=${OUT##*$'\n'}
  OUT=${OUT%$'\n'*}
}
# a runtime directory other users may pass through, as /run is
RUN=$(mktemp -d /tmp/ek-agent-allow.XXXXXX)
rm_run() { rm -rf "$RUN"; }
on_exit rm_run
NOBODY=$(id -u nobody)

# --- the default: 0700 and 0600, and nobody cannot even connect
AGENT_RUN_DIR=$RUN AGENT_RUN_MODE=711 start_agent || exit 1
expect_match "no list: the directory is 0700" "$(stat -c %a "$RUN/entrakey")" '^700$'
expect_match "no list: the socket is 0600" "$(stat -c %a "$SOCK")" '^600$'
as nobody http://localhost/v1/status
expect_match "no list: nobody cannot connect" "$CODE" '^000$'
stop_agent

# --- --allow-uid nobody: nobody is served, daemon refused
AGENT_RUN_DIR=$RUN AGENT_RUN_MODE=711 start_agent --allow-uid "$NOBODY" \
  --audit "json:$T/audit.jsonl" || exit 1
expect_match "allow list: the directory is 0711" "$(stat -c %a "$RUN/entrakey")" '^711$'
expect_match "allow list: the socket is 0666" "$(stat -c %a "$SOCK")" '^666$'
expect_nomatch "allow list: no warning (the socket can be reached)" \
  "$(cat "$AGENT_LOG")" 'cannot reach|cannot connect'
control '{}'
as nobody -X POST --data "$(token_body)" http://localhost/v1/token
expect_match "nobody (allowed): 200" "$CODE" '^200$'
expect_match "nobody (allowed): a token" "$OUT" '"access_token"'
as daemon -X POST --data "$(token_body)" http://localhost/v1/token
expect_match "daemon (not allowed): 403" "$CODE" '^403$'
expect_nomatch "daemon gets no token" "$OUT" 'access_token'
grep -q "refused a connection from uid $(id -u daemon)" "$AGENT_LOG" &&
  pass "the refusal is logged" || fail "no refusal in the log"
grep -q '"event":"refusal".*"caller_uid":'"$(id -u daemon)" "$T/audit.jsonl" &&
  pass "the refusal is audited" || fail "no refusal in the audit log"
req POST /v1/token "$(token_body)"
expect_match "the agent's own user: 200" "$CODE" '^200$'
stop_agent

# --- the list, but the socket under a directory closed to others
CLOSED="$T/closed"
mkdir -p "$CLOSED" && chmod 700 "$CLOSED"
AGENT_RUN_DIR=$CLOSED start_agent --allow-uid "$NOBODY" || exit 1
expect_match "a closed directory above: said at start" "$(cat "$AGENT_LOG")" \
  "warning: $CLOSED is mode 0700, closed to other users: the users of --allow-uid cannot reach the socket"
req POST /v1/token "$(token_body)"
expect_match "the agent's own user is served all the same" "$CODE" '^200$'
stop_agent
finish
