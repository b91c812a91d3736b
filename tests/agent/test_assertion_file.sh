#!/usr/bin/env bash
# agent --assertion-file when no new assertion can be signed (issue 13 §2):
# the token is "pulled" after the first signature (libekfault.so: every
# C_Sign from the second on is CKR_DEVICE_REMOVED). The failure is logged
# and audited, the old file is kept while it has 10 minutes left (a reader
# still gets a working assertion), then removed (a clear "file not found",
# never an expired assertion). With a 660 s lifetime that is 60 s after the
# first write: this test waits for it (up to 150 s), it does not time it.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/fault/lib.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

e2e_setup
AF="$T/wi/azure-identity-token"
: > "$FLOG"
export EKFAULT="C_Sign@2+=CKR_DEVICE_REMOVED" EKFAULT_LOG="$FLOG"
ENTRAKEY_MODULE=$FAULT_SO start_agent --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --assertion-file "$AF" --assertion-lifetime 660 --assertion-refresh 1 \
  --audit "json:$T/audit.jsonl" || exit 1
unset EKFAULT EKFAULT_LOG
[ -s "$AF" ] && pass "the first assertion is written" || { fail "no file: $(cat "$AGENT_LOG")"; finish; }
first=$(cat "$AF")
for i in $(seq 300); do grep -q 'no new assertion' "$AGENT_LOG" && break; sleep 0.1; done
expect_match "the failed rewrite is logged, with the token's error" "$(cat "$AGENT_LOG")" "no new assertion for $AF: .*; the file is kept while it has 10 minutes left"
[ "$(cat "$AF" 2>/dev/null)" = "$first" ] &&
  pass "the old file is kept while it has 10 minutes left" || fail "the file changed or went at the first failure"
expect_match "the failure is in the audit trail" "$(cat "$T/audit.jsonl")" '"event":"assertion_file".*"result":"failed"'
"$PY" - "$AF" <<'PY' && pass "... and it still has more than 9 minutes left" || fail "the kept assertion is too old"
import sys, time, jwt
c = jwt.decode(open(sys.argv[1], "rb").read(), options={"verify_signature": False})
sys.exit(0 if c["exp"] - time.time() > 540 else 1)
PY
# about 60 s after the first write it would have less than 10 minutes left
for i in $(seq 1500); do [ -e "$AF" ] || break; sleep 0.1; done
[ ! -e "$AF" ] && pass "then it is removed, not left to expire" || fail "the file is still there after 150 s"
expect_match "... and the log says why" "$(cat "$AGENT_LOG")" "removed $AF: it would have less than 10 minutes left"
expect_match "... as does the audit trail" "$(cat "$T/audit.jsonl")" '"event":"assertion_file".*"result":"removed"'
kill -0 "$AGENT_PID" 2>/dev/null && pass "the agent keeps running (and retrying)" || fail "the agent died"
finish
