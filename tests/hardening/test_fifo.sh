#!/usr/bin/env bash
# test_fifo.sh: a FIFO (or another non-regular file) where a file is read
# never hangs the command (issue 15, item 10): as a PIN file, --cert,
# --ca-file, --config and `cert show FILE` it is refused at once, naming
# it, where open() used to wait for a writer that never comes.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token fifotok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
PS=(--pin-source "file:$PIN_FILE")
cd "$T" || exit 1
mkfifo -m 600 "$T/fifo" || { echo "mkfifo failed"; exit 1; }
KEY='pkcs11:token=fifotok;object=f;type=private'
TEN=(--tenant contoso.onmicrosoft.com --client-id 11111111-2222-3333-4444-555555555555)

run "$EK" keygen 'pkcs11:token=fifotok' --label f "${PS[@]}"
expect_rc "keygen" 0
run "$EK" cert create "$KEY" --subject CN=f --out "$T/f.cer" "${PS[@]}"
expect_rc "cert create" 0

# trun NAME CODE REGEX CMD...: runs CMD under a 10 s timeout
trun() {
  local name=$1 code=$2 re=$3; shift 3
  run timeout 10 "$@"
  if [ "$RC" -eq 124 ]; then fail "$name: hung (killed after 10 s)"; return; fi
  expect_rc "$name: exit $code" "$code"
  expect_match "$name: says what it is" "$ERR" "$re"
  expect_match "$name: nothing on stdout" "${OUT:-empty}" '^empty$'
}
trun "a FIFO as the PIN file" 4 "the PIN file '$T/fifo' is not a regular file \\(a FIFO\\)" \
  "$EK" keys 'pkcs11:token=fifotok' --pin-source "file:$T/fifo"
trun "a FIFO as --cert" 7 "'$T/fifo' is not a regular file \\(a FIFO\\)" \
  "$EK" assert "$KEY" "${TEN[@]}" --cert "$T/fifo" "${PS[@]}"
trun "a FIFO as --config" 7 "'$T/fifo' is not a regular file \\(a FIFO\\)" \
  "$EK" profile list --config "$T/fifo"
trun "a FIFO as token --config" 7 "'$T/fifo' is not a regular file \\(a FIFO\\)" \
  "$EK" token "$KEY" "${TEN[@]}" --config "$T/fifo" --profile p "${PS[@]}"
trun "a FIFO for cert show" 7 "'$T/fifo' is not a regular file \\(a FIFO\\)" \
  "$EK" cert show "$T/fifo"
trun "a FIFO as --ca-file" 7 "'$T/fifo' is not a regular file \\(a FIFO\\)" \
  "$EK" token "$KEY" "${TEN[@]}" --cert "$T/f.cer" --ca-file "$T/fifo" \
  --authority-host https://127.0.0.1:9 --timeout 2 "${PS[@]}"
# a directory and a character device are refused the same way
trun "a directory as the PIN file" 4 "is not a regular file \\(a directory\\)" \
  "$EK" keys 'pkcs11:token=fifotok' --pin-source "file:$T"
trun "/dev/zero for cert show" 7 "'/dev/zero' is not a regular file \\(a character device\\)" \
  "$EK" cert show /dev/zero
finish
