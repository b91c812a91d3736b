#!/usr/bin/env bash
# test_client.sh: p11-kit-client.so without a server says that the remote
# server is not reachable, and where it looked, not only "no tokens".
source "$EK_SOURCE_DIR/tests/lib/common.sh"
cd "$T" || exit 1
CLIENT=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
export P11_KIT_SERVER_ADDRESS="unix:path=$T/nobody-listens"
run "$EK" tokens --module "$CLIENT"
expect_rc "tokens: exit 0 (nothing to list)" 0
expect_match "tokens: the server is not reachable, and where" "$ERR" \
  "remote p11-kit server: the server is not reachable at unix:path=$T/nobody-listens"
run "$EK" keys 'pkcs11:token=remote' --module "$CLIENT" --pin-source env:NOPE
expect_rc "keys: exit 3" 3
expect_match "keys: the server is not reachable" "$ERR" \
  "^entrakey: the p11-kit client module .* has no token: the remote p11-kit server is not reachable at unix:path=$T/nobody-listens"
unset P11_KIT_SERVER_ADDRESS
export XDG_RUNTIME_DIR="$T/run"
run "$EK" tokens --module "$CLIENT"
expect_match "no variable: the default address under XDG_RUNTIME_DIR" "$ERR" \
  "not reachable at unix:path=$T/run/p11-kit/pkcs11"
finish
