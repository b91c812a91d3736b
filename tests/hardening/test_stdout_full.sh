#!/usr/bin/env bash
# test_stdout_full.sh: output that cannot be written is a failure (issue 15,
# item 11): to /dev/full every printing command exits 7 with a sentence,
# never 0; the same command to a file still exits 0.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token outtok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
PS=(--pin-source "file:$PIN_FILE")
cd "$T" || exit 1
[ -w /dev/full ] || { echo "no /dev/full"; exit 1; }

run "$EK" keygen 'pkcs11:token=outtok' --label out "${PS[@]}"
expect_rc "keygen" 0
KEY='pkcs11:token=outtok;object=out;type=private'
run "$EK" cert create "$KEY" --subject CN=out --out "$T/out.cer" "${PS[@]}"
expect_rc "cert create" 0
run "$EK" profile add p1 --tenant contoso.onmicrosoft.com --client-id \
  11111111-2222-3333-4444-555555555555 --key "$KEY"
expect_rc "profile add" 0

check() {
  local name=$1; shift
  "$@" >"$T/file-out" 2>/dev/null </dev/null
  local frc=$?
  "$@" >/dev/full 2>"$T/err" </dev/null
  RC=$?; ERR=$(cat "$T/err"); OUT=""
  if [ "$frc" -ne 0 ]; then fail "$name: exit $frc to a file"; return; fi
  [ -s "$T/file-out" ] || fail "$name: printed nothing to a file"
  expect_rc "$name to /dev/full: exit 7" 7
  expect_match "$name to /dev/full: says so" "$ERR" \
    '^entrakey: cannot write to standard output: No space left on device; what was printed is incomplete$'
}
check "tokens" "$EK" tokens
check "tokens --json" "$EK" tokens --json
check "keys" "$EK" keys 'pkcs11:token=outtok' "${PS[@]}"
check "keys --json" "$EK" keys 'pkcs11:token=outtok' --json "${PS[@]}"
check "cert show FILE" "$EK" cert show "$T/out.cer"
check "cert show --manifest" "$EK" cert show "$T/out.cer" --manifest
check "cert show --json" "$EK" cert show "$T/out.cer" --json
check "profile list" "$EK" profile list
check "profile show" "$EK" profile show p1
check "profile list --json" "$EK" profile list --json
check "--version" "$EK" --version
check "--help of a command" "$EK" tokens --help
# assert writes with write(2) and says so itself
"$EK" assert "$KEY" --tenant contoso.onmicrosoft.com --client-id \
  11111111-2222-3333-4444-555555555555 --cert "$T/out.cer" "${PS[@]}" \
  >/dev/full 2>"$T/err"
RC=$?; ERR=$(cat "$T/err")
expect_rc "assert to /dev/full: exit 7" 7
expect_match "assert to /dev/full: says so once" "$(grep -c 'cannot write' "$T/err")" '^1$'

# a failure that came first keeps its own code
"$EK" keys 'pkcs11:token=nosuch' "${PS[@]}" >/dev/full 2>"$T/err"
RC=$?; ERR=$(cat "$T/err")
expect_rc "a failed command keeps its code (3)" 3
finish
