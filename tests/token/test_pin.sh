#!/usr/bin/env bash
# test_pin.sh: every PIN source, the refusals (a PIN file others can read,
# no source without a terminal), the prompt on a terminal, and a wrong PIN
# costing exactly one C_Login, counted by OpenSC's pkcs11-spy.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token pintok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
need_spy
TOK='pkcs11:token=pintok'
KEYLINE='^key pkcs11:token=pintok;id=%01;object=pk;type=private$'

run "$EK" keygen "$TOK" --label pk --pin-source "file:$PIN_FILE"
expect_rc "keygen" 0

# SoftHSM hides private keys until login: `keys` lists the key only after
# a successful C_Login with the PIN from the source.
run env EK_PIN="$TEST_PIN" "$EK" keys "$TOK" --pin-source env:EK_PIN
expect_rc "env: source" 0
expect_match "env: the key is listed" "$OUT" "$KEYLINE"
run "$EK" keys "$TOK" --pin-source "file:$PIN_FILE"
expect_rc "file: source" 0
expect_match "file: the key is listed" "$OUT" "$KEYLINE"
"$EK" keys "$TOK" --pin-source fd:3 3<"$PIN_FILE" >"$T/out" 2>"$T/err" </dev/null
RC=$?; OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
expect_rc "fd: source" 0
expect_match "fd: the key is listed" "$OUT" "$KEYLINE"
printf '%s' "$TEST_PIN" | "$EK" keys "$TOK" --pin-source fd:0 >"$T/out" 2>"$T/err"
RC=$?; OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
expect_rc "fd:0 source without a newline" 0
run "$EK" keys "$TOK?pin-source=file:$PIN_FILE"
expect_rc "URI pin-source=file:" 0
expect_match "URI pin-source=: the key is listed" "$OUT" "$KEYLINE"
run "$EK" keys "$TOK?pin-source=$PIN_FILE"
expect_rc "URI pin-source= with a bare path" 0
run "$EK" keys "$TOK?pin-value=$TEST_PIN"
expect_rc "URI pin-value=" 0
expect_match "URI pin-value=: the key is listed" "$OUT" "$KEYLINE"
expect_match "URI pin-value=: warns that others can read it" "$ERR" "pin-value= in the URI, which other users of this machine can read"
expect_nomatch "URI pin-value=: the warning does not show the PIN" "$ERR" "$TEST_PIN"
printf '%s\r\n' "$TEST_PIN" > "$T/crlf"; chmod 600 "$T/crlf"
run "$EK" keys "$TOK" --pin-source "file:$T/crlf"
expect_rc "a PIN file ending in CRLF" 0

# --pin-source wins over the URI's pin-value=
run "$EK" keys "$TOK?pin-value=000000" --pin-source "file:$PIN_FILE"
expect_rc "--pin-source takes precedence over pin-value=" 0

# --- refusals ---
cp "$PIN_FILE" "$T/pin644"; chmod 644 "$T/pin644"
run "$EK" keys "$TOK" --pin-source "file:$T/pin644"
expect_rc "a 0644 PIN file is refused (exit 4)" 4
expect_match "says chmod 600" "$ERR" "^entrakey: the PIN file '$T/pin644' can be read or changed by group or others \\(mode 0644\\); it was not read. Run chmod 600"
run "$EK" keys "$TOK?pin-source=$T/pin644"
expect_rc "a 0644 PIN file in the URI is refused too" 4
run "$EK" keys "$TOK" --pin-source env:EK_NO_SUCH_VAR
expect_rc "an unset variable (exit 4)" 4
expect_match "names the variable" "$ERR" 'EK_NO_SUCH_VAR.*not set'
run "$EK" keys "$TOK" --pin-source "file:$T/missing"
expect_rc "a missing PIN file (exit 4)" 4
expect_match "names the file" "$ERR" "cannot open the PIN file '$T/missing': No such file or directory"
run "$EK" keys "$TOK" --pin-source foo:bar
expect_rc "a malformed --pin-source is a usage error" 2

# no terminal and no source: at once, exit 4, no hang (a command that must
# log in: listing a named token shows its public view instead, test_pin_rule)
start=$(date +%s)
timeout 10 "$EK" keygen "$TOK" --label nopin </dev/null >"$T/out" 2>"$T/err"
RC=$?; OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
expect_rc "no TTY, no source: exit 4, not a hang" 4
expect_match "names the sources" "$ERR" \
  "^entrakey: token 'pintok' needs a PIN and there is no source: name a PIN source \\(env:NAME, file:PATH or fd:N, or pin-source= in the URI"
expect_match "... and the option to give" "$ERR" \
  "^entrakey: give --pin-source env:NAME, file:PATH or fd:N, or run on a terminal$"
[ $(( $(date +%s) - start )) -lt 5 ] && pass "no TTY: fails at once" || fail "no TTY: took too long"

# on a terminal the PIN is prompted for without echo
(sleep 1; printf '%s\n' "$TEST_PIN") | timeout 20 script -q -e -c "$EK keys $TOK" /dev/null >"$T/tty" 2>&1
RC=$?; OUT=$(tr -d '\r' < "$T/tty")
expect_rc "prompt on a terminal" 0
expect_match "the prompt names the token" "$OUT" "PIN for token 'pintok': "
expect_match "the key is listed after the prompt" "$OUT" "$KEYLINE"
expect_nomatch "the PIN is not echoed" "$OUT" "$TEST_PIN"

# --- a wrong PIN costs exactly one C_Login (counted by pkcs11-spy) ---
printf '000000\n' > "$T/wrong"; chmod 600 "$T/wrong"
spy "$T/spy1.log" "$EK" --module "$SPY" keys "$TOK" --pin-source "file:$T/wrong"
expect_rc "wrong PIN: exit 4" 4
expect_match "wrong PIN: says it does not retry" "$ERR" \
  "^entrakey: the PIN for token 'pintok' was wrong \\(C_Login: CKR_PIN_INCORRECT\\); entrakey does not retry \\(a wrong PIN in a loop locks a card\\)"
n=$(logins "$T/spy1.log")
[ "$n" -eq 1 ] && pass "wrong PIN: exactly one C_Login" || fail "wrong PIN: $n C_Login calls"
expect_match "the spy saw CKR_PIN_INCORRECT" "$(cat "$T/spy1.log")" 'CKR_PIN_INCORRECT'

# SoftHSM now reports CKF_USER_PIN_COUNT_LOW: the next login warns
run "$EK" tokens
expect_match "tokens shows PIN count low" "$OUT" 'flags: +login required, PIN count low'
spy "$T/spy2.log" "$EK" --module "$SPY" keygen "$TOK" --label pk2 --pin-source "file:$PIN_FILE"
expect_rc "keygen with the right PIN after a wrong one" 0
expect_match "warns that the PIN was wrong before" "$ERR" \
  "^entrakey: warning: token 'pintok': the user PIN has been entered wrong before"
n=$(logins "$T/spy2.log")
[ "$n" -eq 1 ] && pass "keygen: exactly one C_Login" || fail "keygen: $n C_Login calls"

# -v traces the calls but never the PIN
run "$EK" -v keys "$TOK" --pin-source "file:$PIN_FILE"
expect_rc "keys -v" 0
expect_match "-v traces C_Login" "$ERR" '^entrakey: .*C_Login: CKR_OK$'
expect_nomatch "-v never shows the PIN" "$ERR" "$TEST_PIN"
run "$EK" -v keys "$TOK?pin-value=$TEST_PIN"
expect_nomatch "-v never shows a pin-value=" "$ERR$OUT" "$TEST_PIN"
finish
