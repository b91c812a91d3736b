#!/usr/bin/env bash
# The PIN is the first line of its source, for every source (issue 15):
# `printf '123456\n\n'` in a file sent "123456\n" to C_Login and cost a try.
# Each case must log in exactly once, and that C_Login must succeed
# (CKR_OK in ekfault's log), for file:, fd:, env: and the URI's
# pin-source=; an empty first line tries nothing.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/fault/lib.sh"

fault_token pinlines
make_key
make_cert
ASSERT=("$EK" assert --module "$FAULT_SO" --tenant "$TENANT"
  --client-id "$CLIENT")
PF="$T/pinlines"

# one_login NAME: the last run signed after exactly one successful C_Login.
one_login() {
  expect_rc "$1: exit 0" 0
  expect_calls "$1: one C_Login" C_Login -eq 1
  expect_match "$1: that C_Login was given the right PIN (CKR_OK)" \
    "$(grep '^C_Login ' "$FLOG")" '^C_Login 0x00000000'
}

# pin_file CONTENT (printf format)
pin_file() { printf "$1" > "$PF"; chmod 600 "$PF"; }

pin_file "$TEST_PIN\n\n"
fault "" "${ASSERT[@]}" "$KEY_URI" --pin-source "file:$PF"
one_login "file: PIN, newline, empty line"

pin_file "$TEST_PIN\r\nsecond line\n"
fault "" "${ASSERT[@]}" "$KEY_URI" --pin-source "file:$PF"
one_login "file: PIN, CRLF, a second line"

pin_file "$TEST_PIN"
fault "" "${ASSERT[@]}" "$KEY_URI" --pin-source "file://$PF"
one_login "file:///PATH (RFC 8089), no newline"

pin_file "$TEST_PIN\n\n"
fault "" "${ASSERT[@]}" "$KEY_URI" --pin-source fd:3 3<"$PF"
one_login "fd: PIN, newline, empty line"

pin_file "$TEST_PIN\r\n"
fault "" "${ASSERT[@]}" "$KEY_URI" --pin-source fd:3 3<"$PF"
one_login "fd: PIN, CRLF"

export EK_LINES_PIN="$TEST_PIN"$'\n'"second"
fault "" "${ASSERT[@]}" "$KEY_URI" --pin-source env:EK_LINES_PIN
one_login "env: PIN, newline, a second line"

export EK_LINES_PIN="$TEST_PIN"$'\r\n'
fault "" "${ASSERT[@]}" "$KEY_URI" --pin-source env:EK_LINES_PIN
one_login "env: PIN, CRLF"

# the URI's pin-source= is read by the same rules
pin_file "$TEST_PIN\n\n"
fault "" "${ASSERT[@]}" "$KEY_URI?pin-source=file:$PF"
one_login "URI pin-source=file: PIN, newline, empty line"

fault "" "${ASSERT[@]}" "$KEY_URI?pin-source=$PF"
one_login "URI pin-source= as a bare path (RFC 7512)"

export EK_LINES_PIN="$TEST_PIN"$'\n\n'
fault "" "${ASSERT[@]}" "$KEY_URI?pin-source=env:EK_LINES_PIN"
one_login "URI pin-source=env: PIN, newline, empty line"

# an empty first line is no PIN: nothing is tried
pin_file "\n$TEST_PIN\n"
fault "" "${ASSERT[@]}" "$KEY_URI" --pin-source "file:$PF"
expect_rc "file: empty first line: exit 4 (PIN)" 4
expect_match "file: empty first line: says it is empty" "$ERR" "empty"
expect_calls "file: empty first line: no C_Login" C_Login -eq 0

# a command is never run for a PIN, and another host is never asked
fault "" "${ASSERT[@]}" "$KEY_URI?pin-source=|cat%20$PF"
expect_rc "URI pin-source=|command: exit 2 (usage)" 2
expect_calls "URI pin-source=|command: no C_Login" C_Login -eq 0
fault "" "${ASSERT[@]}" "$KEY_URI" --pin-source "file://host$PF"
expect_rc "file://HOST/PATH: exit 2 (usage)" 2
expect_match "file://HOST/PATH: refused as not understood" "$ERR" "not understood"
expect_nomatch "file://HOST/PATH: the source is not repeated" "$ERR" "file://host"
fault "" "${ASSERT[@]}" "$KEY_URI?pin-source=file://host$PF"
expect_rc "URI pin-source=file://HOST/PATH: exit 2 (usage)" 2
expect_match "URI pin-source=file://HOST/PATH: says it names a host" "$ERR" "names a host"
expect_nomatch "URI pin-source=file://HOST/PATH: the source is not repeated" "$ERR" "file://host"

finish
