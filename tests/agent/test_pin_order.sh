# The agent takes its PIN by the one-shot commands' rule: --pin-source (or
# a profile's pin_source) before the URI's pin-source=/pin-value=, and the
# URI's before the systemd credential and the terminal.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

e2e_setup --lifetime 3600
BASE_URI=$KEY_URI
printf '%s\n' 99999999 >"$T/wrong"
chmod 600 "$T/wrong"

# the one-shot rule, for reference: --pin-source wins over the URI's
run "$EK" assert "$BASE_URI?pin-source=file:$T/wrong" --tenant "$TENANT" \
  --client-id "$CLIENT_ID" --authority-host "$AUTH" --no-agent \
  --pin-source "file:$PIN_FILE"
expect_rc "assert: --pin-source before the URI's pin-source" 0

# 1. the agent: --pin-source before the URI's pin-source= (a wrong PIN)
KEY_URI="$BASE_URI?pin-source=file:$T/wrong"
start_agent || exit 1
req GET /v1/status
[ "$(jget 'd["keys"][0]["logged_in"]')" = True ] &&
  pass "agent: --pin-source before the URI's pin-source=" ||
  fail "status: $OUT; log: $(cat "$AGENT_LOG")"
stop_agent

# 2. ... and before the URI's pin-value=
KEY_URI="$BASE_URI?pin-value=99999999"
start_agent || exit 1
req GET /v1/status
[ "$(jget 'd["keys"][0]["logged_in"]')" = True ] &&
  pass "agent: --pin-source before the URI's pin-value=" ||
  fail "status: $OUT"
stop_agent

# 3. a profile's pin_source before the URI's pin-source=
cat >"$T/config" <<CFG
[profile p]
key = $BASE_URI?pin-source=file:$T/wrong
pin_source = file:$PIN_FILE
CFG
chmod 600 "$T/config"
run_dir="$T/run3"; mkdir -p "$run_dir"; chmod 700 "$run_dir"
SOCK="$run_dir/entrakey/agent.sock"
XDG_RUNTIME_DIR="$run_dir" ENTRAKEY_AGENT_SOCK="$SOCK" \
  "$EK" agent --profile p --config "$T/config" </dev/null >"$T/a3.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 200); do
  grep -q serving "$T/a3.log" && break
  kill -0 "$AGENT_PID" 2>/dev/null || break
  sleep 0.05
done
req GET /v1/status
[ "$(jget 'd["keys"][0]["logged_in"]')" = True ] &&
  pass "agent: a profile's pin_source before the URI's pin-source=" ||
  fail "status: $OUT; log: $(cat "$T/a3.log")"
stop_agent

# 4. the URI's pin-source= before the systemd credential
mkdir -p "$T/creds"; cp "$T/wrong" "$T/creds/entrakey-pin"
KEY_URI="$BASE_URI?pin-source=file:$PIN_FILE"
run_dir="$T/run4"; mkdir -p "$run_dir"; chmod 700 "$run_dir"
SOCK="$run_dir/entrakey/agent.sock"
XDG_RUNTIME_DIR="$run_dir" ENTRAKEY_AGENT_SOCK="$SOCK" \
  CREDENTIALS_DIRECTORY="$T/creds" \
  "$EK" agent "$KEY_URI" </dev/null >"$T/a4.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 200); do
  grep -q serving "$T/a4.log" && break
  kill -0 "$AGENT_PID" 2>/dev/null || break
  sleep 0.05
done
req GET /v1/status
[ "$(jget 'd["keys"][0]["logged_in"]')" = True ] &&
  pass "agent: the URI's pin-source= before the systemd credential" ||
  fail "status: $OUT; log: $(cat "$T/a4.log")"
stop_agent
on_exit stop_agent

# 5. a PIN source the agent cannot read is said as the one-shot commands
# say it (not as a terminal's), and nothing is tried
cp "$PIN_FILE" "$T/pin644"
chmod 644 "$T/pin644"
run "$EK" agent "$BASE_URI" --pin-source "file:$T/pin644"
expect_rc "agent: a PIN file others can read: exit 4" 4
expect_match "agent: says the file's mode, as assert does" "$ERR" \
  "the PIN file '$T/pin644' can be read or changed by group or others \(mode 0644\); it was not read"
expect_nomatch "agent: not said as a terminal's" "$ERR" "terminal"
run "$EK" agent "$BASE_URI" --pin-source "file:$T/no-such-pin"
expect_rc "agent: a PIN file that is not there: exit 4" 4
expect_match "agent: says the file is not there" "$ERR" \
  "cannot open the PIN file '$T/no-such-pin': No such file or directory"
finish
