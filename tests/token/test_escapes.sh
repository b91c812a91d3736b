#!/usr/bin/env bash
# test_escapes.sh: what a token says reaches the terminal only escaped
# (issue 15, item 7, the token side). A SoftHSM token whose label carries
# terminal escapes (a title change, a screen clear, a C1 CSI) and a key
# whose label carries colour codes: `tokens`, `keys`, `keygen`, error
# sentences, -v, and the PIN prompt (which a hostile label could redraw)
# show them as \xHH / \u00HH, never as raw bytes.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token plain
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
cd "$T" || exit 1
EVIL_TOKEN=$'e\e]0;pwn\a\e[2J\xc2\x9b'      # 14 bytes, < 32
EVIL_KEY=$'k\e[31mred\e[0m\r'
softhsm2-util --init-token --free --label "$EVIL_TOKEN" --pin "$TEST_PIN" \
  --so-pin "$TEST_SO_PIN" >/dev/null || { echo "softhsm2-util failed"; exit 1; }
PS=(--pin-source "file:$PIN_FILE")
TOKURI='pkcs11:token=e%1B%5D0%3Bpwn%07%1B%5B2J%C2%9B'

# raw NAME TEXT: passes when TEXT holds no ESC, BEL, CR or C1 CSI byte
raw() {
  if printf '%s' "$2" | LC_ALL=C grep -q $'[\x1b\x07\r]\\|\xc2\x9b'; then
    fail "$1: a raw control character reaches the terminal:"
    printf '%s\n' "$2" | od -c | head -5 | sed 's/^/#   /'
  else pass "$1: no raw control character"; fi
}

run "$EK" tokens
expect_rc "tokens" 0
raw "tokens" "$OUT"
expect_match "tokens: the label escaped" "$OUT" \
  "token 'e\\\\x1b\\]0;pwn\\\\x07\\\\x1b\\[2J\\\\u009b'"

run "$EK" keygen "$TOKURI" --label "$EVIL_KEY" "${PS[@]}" -v
expect_rc "keygen with an escaped label" 0
raw "keygen stdout" "$OUT"
raw "keygen -v stderr" "$ERR"
expect_match "keygen: the key label escaped" "$OUT" 'label: +k\\x1b\[31mred\\x1b\[0m\\x0d$'

run "$EK" keys "$TOKURI" "${PS[@]}" -v
expect_rc "keys" 0
raw "keys stdout" "$OUT"
raw "keys -v stderr" "$ERR"
expect_match "keys: the token label escaped" "$OUT" "token: +e\\\\x1b"

# an error sentence that lists the tokens there are
run "$EK" keys 'pkcs11:token=nosuch' "${PS[@]}"
expect_rc "no such token: exit 3" 3
raw "the error sentence" "$ERR"
expect_match "the error lists the hostile token, escaped" "$ERR" "'e\\\\x1b\\]0;pwn"

# keygen refusing a second key with the same label names it
run "$EK" keygen "$TOKURI" --label "$EVIL_KEY" "${PS[@]}"
expect_rc "the label again: exit 8" 8
raw "the exists sentence" "$ERR"

# the PIN prompt on a terminal
(sleep 1; printf '%s\n' "$TEST_PIN") | timeout 20 script -q -e -c "$EK keys '$TOKURI'" /dev/null >"$T/tty" 2>&1
RC=$?; OUT=$(cat "$T/tty")
expect_rc "keys with the prompt" 0
expect_match "the prompt names the token, escaped" "$OUT" "PIN for token 'e\\\\x1b\\]0;pwn\\\\x07\\\\x1b\\[2J\\\\u009b': "
raw "the prompt" "$(printf '%s' "$OUT" | tr -d '\r')"
finish
