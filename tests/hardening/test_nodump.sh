#!/usr/bin/env bash
# test_nodump.sh: a command that may read a PIN is not dumpable from its
# start (issue 15, item 12): no core file, and its /proc/PID files and
# ptrace are root's only. Seen from outside: run as another user (nobody),
# entrakey's /proc/PID/status belongs to root while it waits for the PIN
# on a descriptor, where a dumpable process's belongs to its user.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1; then
  skip "needs root to run entrakey as another user"; finish
fi
fresh_token dumptok
NB=$(id -u nobody)
# the token store, the binary's directory and $T reachable by nobody
chmod -R a+rwX "$T/softhsm"
chmod a+rx "$T"
if ! setpriv --reuid="$NB" --regid="$NB" --clear-groups test -x "$EK" -a -x "$EK_FULL" -a -r "$SOFTHSM2_CONF"; then
  skip "nobody cannot reach the build directory (run the suite from a path others can enter)"
  finish
fi
KEY='pkcs11:token=dumptok'

# owner_while_waiting EXE CMD...: starts CMD as nobody with fd 3 a pipe
# that stays silent (so it waits to read the PIN), and once the process is
# EXE prints the owner of its /proc/PID/status
owner_while_waiting() {
  local exe pid owner=none i
  exe=$(readlink -f "$1"); shift
  mkfifo -m 666 "$T/silent"
  ( exec 4<>"$T/silent"; exec setpriv --reuid="$NB" --regid="$NB" --clear-groups \
      env HOME=/nonexistent "$@" 3<&4 4<&- >/dev/null 2>&1 ) &
  pid=$!
  for i in $(seq 1 50); do
    sleep 0.1
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then
      sleep 0.5; owner=$(stat -c %u "/proc/$pid/status" 2>/dev/null); break
    fi
  done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  rm -f "$T/silent"
  echo "$owner"
}

# entrakey hands these commands to entrakey-full (same PID): wait for it
o=$(owner_while_waiting "$EK_FULL" "$EK" keys "$KEY" --pin-source fd:3)
expect_match "keys waiting for its PIN: /proc/PID is root's (not dumpable)" "$o" '^0$'
o=$(owner_while_waiting "$EK_FULL" "$EK" keygen "$KEY" --label k --pin-source fd:3)
expect_match "keygen waiting for its PIN: not dumpable" "$o" '^0$'
# the check can see a dumpable process: the same wait in another program
o=$(owner_while_waiting "$(command -v cat)" sh -c 'exec cat <&3')
[ "$o" = "$NB" ] && pass "a dumpable process's /proc/PID is its user's ($o)" ||
  fail "the check cannot see a dumpable process (owner '$o')"
finish
