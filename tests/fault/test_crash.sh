#!/usr/bin/env bash
# A module that crashes inside C_Initialize (libekfault.so: abort(), or a
# write through NULL). Nothing can print after a crash, so what is sensible:
# entrakey does not catch the signal (no handler that would run in a broken
# process and blame entrakey): the process dies by the module's signal,
# which the shell or systemd reports; nothing is on stdout; and with -v the
# trace has named the module before calling into it, so that the last words
# on stderr say whose crash it was.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/fault/lib.sh"
ulimit -c 0 # no core files in the build tree

fault_token faultcrash
MOD=$(basename "$FAULT_SO")

# crash_case NAME SPEC SIGNAL WORD: the module crashes inside C_Initialize.
crash_case() {
  local name=$1 spec=$2 sig=$3 word=$4 cmd
  for cmd in tokens keys; do
    fault "$spec" "$EK" "$cmd" --module "$FAULT_SO" --pin-source "file:$PIN_FILE"
    if [ "$RC" -eq $((128 + sig)) ]; then pass "$name, $cmd: killed by signal $sig"
    else fail "$name, $cmd: exit $RC, expected $((128 + sig)) (signal $sig)"
      echo "# stderr: $ERR"; fi
    expect_match "$name, $cmd: the crash was in the module's C_Initialize" \
      "$(tail -1 "$FLOG")" "^C_Initialize .* $word\$"
    expect_match "$name, $cmd: nothing on stdout" "[$OUT]" '^\[\]$'
    expect_nomatch "$name, $cmd: entrakey does not blame itself" "$ERR" \
      "internal error|entrakey bug|out of memory"
  done
  fault "$spec" "$EK" -v tokens --module "$FAULT_SO"
  expect_match "$name, -v: killed by the signal" "$RC" "^$((128 + sig))\$"
  expect_match "$name, -v: stderr named the module before calling into it" \
    "$(printf '%s\n' "$ERR" | grep '^entrakey' | tail -3)" "$MOD"
}
crash_case "abort() in C_Initialize" "C_Initialize=abort" 6 abort
# ASan would turn SIGSEGV into its report and exit 1; the test wants what a
# user's build does (ASAN_OPTIONS is only set in the ASan build's runs).
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0" \
  crash_case "NULL write in C_Initialize" "C_Initialize=segv" 11 segv

finish
