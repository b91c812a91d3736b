# Something that is not an entrakey agent answering on the agent's socket
# (tests/agent/fake_agent.py): a client refuses what it cannot trust
# (--agent: exit 3 and why; otherwise it signs directly and gets a real
# token), never prints a terminal escape from it, never hangs on it. libcurl
# reads the HTTP (a cut answer, a banner, a length or a body beyond 64 KiB);
# agent_client.c checks what the JSON holds.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

e2e_setup --lifetime 3600
control '{}'
FAKE_SOCK="$T/fake/agent.sock"
mkdir -p "$T/fake" && chmod 700 "$T/fake"
export ENTRAKEY_AGENT_SOCK="$FAKE_SOCK"
FAKE_PID=
stop_fake() {
  [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null
  FAKE_PID=
  return 0
}
on_exit stop_fake
# each fake writes its own file: with one shared file, the wait could read
# the "listening" of the one just stopped before the new one truncates it,
# and the client then found no socket (seen once in CI under ASan)
fake() {
  stop_fake
  rm -f "$FAKE_SOCK"
  local out="$T/fake.$1.out"
  "$PY" "$EK_SOURCE_DIR/tests/agent/fake_agent.py" "$FAKE_SOCK" "$1" \
    > "$out" 2>&1 &
  FAKE_PID=$!
  for _ in $(seq 100); do grep -qs listening "$out" && return 0; sleep 0.05; done
  fail "the fake agent did not start: $(cat "$out")"
}
atok() {
  run "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --ca-file "$CA_PEM" "$@"
}
noesc() { ! grep -q $'\x1b' "$1" && ! grep -q $'\x07' "$1"; }

# mode  what the refusal says
cases=(
  "escape_token|a malformed value: a control character"
  "escape_error|agent: gone .x1B.0;owned.x07 .JWT redacted"
  "cut|the answer was cut short"
  "not_http|did not answer HTTP"
  "huge_length|the answer is too long"
  "chunked_big|the answer is too long"
)
for c in "${cases[@]}"; do
  mode=${c%%|*} says=${c#*|}
  fake "$mode"
  atok --agent
  # exit 3 (as for a token removed, which the fake error claims)
  expect_rc "$mode, --agent: exit 3" 3
  expect_match "$mode, --agent: says why" "$ERR" "$says"
  [ -z "$OUT" ] && pass "$mode, --agent: nothing on stdout" ||
    fail "$mode, --agent: printed $OUT"
  printf '%s%s' "$OUT" "$ERR" > "$T/both"
  noesc "$T/both" && pass "$mode: no escape reaches the terminal" ||
    fail "$mode: an escape in the output"
  # without --agent: the direct path, with the PIN; but an error that is
  # an agent's error (the token removed) is the answer, as from a real one
  atok -v --pin-source "file:$PIN_FILE"
  if [ "$mode" = escape_error ]; then
    expect_rc "$mode, no --agent: the agent's error, exit 3" 3
    printf '%s%s' "$OUT" "$ERR" > "$T/both"
    noesc "$T/both" && expect_match "$mode, no --agent: made safe" "$ERR" "$says" ||
      fail "$mode, no --agent: an escape in the output"
    continue
  fi
  expect_rc "$mode, no --agent: signed directly" 0
  expect_match "$mode, no --agent: says it signs directly" "$ERR" "signing directly"
  printf '%s' "$OUT" | grep -Eq '^eyJ[A-Za-z0-9_.-]+$' &&
    pass "$mode, no --agent: a real token" || fail "$mode, no --agent: $OUT"
done
finish
