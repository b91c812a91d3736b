#!/usr/bin/env bash
# valgrind.sh: the build's tests with LABEL valgrind: the token tests
# (tests/token/test_*.sh), the
# managed-identity server's (tests/agent/test_mi_http.sh) and the agent's
# basic test (tests/agent/test_basic.sh: its worker pool and signing thread,
# started and stopped) with every entrakey
# command, and the tok_sign_paths helper, run under valgrind's memcheck:
# invalid reads and writes, uninitialised values, and definite or indirect
# leaks. A valgrind finding makes that command exit 99, which its test sees
# as a failure; every report is printed at the end.
#
#   tests/valgrind.sh [BUILD-DIR] [TEST-REGEX]     (default: build, all)
#
# BUILD-DIR is a build without sanitizers, tests built (valgrind and ASan do
# not mix). A command whose stdin is a terminal (the PIN prompt tests, which
# type the PIN after a fixed delay) runs without valgrind, and so do
# keygen, init and quickstart: their RSA key
# generation happens inside SoftHSM's OpenSSL and takes 15 s or more under
# valgrind per key; one keygen and one init are run under valgrind beside
# the tests, on a token of their own, so that entrakey's side of them is
# covered. The longest tests start first; test_pin_echo runs 72 of its
# 200 cases (every form with every length), in 2 parts.
# VG_ALL=1 runs those under valgrind too (slow: about 15 minutes).
# Suppressions (third-party code only): tests/hardening/valgrind.supp.
set -u
cd "$(dirname "$0")/.." || exit 2
SRC=$PWD
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "valgrind.sh: no build directory ${1:-build}" >&2; exit 2; }
PATTERN=${2:-.}
EKBIN="$BUILD/entrakey"
HELPER="$BUILD/tests/token/tok_sign_paths"
SUPP="$SRC/tests/hardening/valgrind.supp"
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
[ -x "$EKBIN" ] && [ -x "$HELPER" ] || { echo "valgrind.sh: build $BUILD first (entrakey and the tests)" >&2; exit 2; }
if nm -D "$EKBIN" | grep -q __asan_init; then
  echo "valgrind.sh: $EKBIN is a sanitizer build; give a plain one" >&2; exit 2
fi

VG="$BUILD/valgrind"
rm -rf "$VG"
mkdir -p "$VG/logs" "$VG/tmp"
# Most of a command's time under valgrind is valgrind's own start, and
# half of that is reading the DWARF of libc6-dbg: 0.68 s of CPU for
# `valgrind /bin/true` here, 0.44 s without reading inlined functions'
# records and without the embedded gdbserver (nobody attaches to a test).
# What is found is the same; a report names the file and line of an
# inlined function's code but not the function. VG_START overrides
# (VG_START= for valgrind's defaults).
VG_START=${VG_START---read-inline-info=no --vgdb=no}
# wrapper WRAPPER REAL [FULL]: a program that runs REAL under valgrind.
# With FULL (entrakey-full, the whole command that entrakey runs): token
# and assert run REAL, the agent's client, with valgrind following it into
# FULL when it hands over (they start no other program); any other command
# runs FULL itself, whose children (exec's) are not followed.
wrapper() {
  cat > "$1" <<EOF
#!/bin/sh
# made by tests/valgrind.sh: runs $2 under valgrind
# a PIN prompt on a terminal runs natively: the tests type the PIN after a
# fixed delay that valgrind's start-up would outlast
[ -t 0 ] && exec "$2" "\$@"
cmd=
for a; do case \$a in -*) ;; *) cmd=\$a; break ;; esac; done
case \$cmd in
  keygen|init|quickstart) [ -n "\${VG_ALL:-}" ] || exec "$2" "\$@" ;;
esac
prog="$2" follow=
if [ -n "${3:-}" ]; then
  case \$cmd in
    token|assert) follow=--trace-children=yes ;;
    *) prog="${3:-}" ;;
  esac
fi
exec valgrind -q --error-exitcode=99 --leak-check=full \\
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \\
  --suppressions="$SUPP" --num-callers=30 --log-file="$VG/logs/vg.%p.log" \\
  $VG_START \$follow "\$prog" "\$@"
EOF
  chmod +x "$1"
}
wrapper "$VG/entrakey" "$EKBIN" "$BUILD/entrakey-full"
wrapper "$VG/tok_sign_paths" "$HELPER"

export EK_SOURCE_DIR="$SRC" EK_BUILD_DIR="$BUILD" EK_TEST_TMP="$VG/tmp"
# test_pin_echo: every form of PIN-like value with every length once
export EK_PIN_ECHO_CASES=72
export ENTRAKEY_BIN="$VG/entrakey" TOK_SIGN_PATHS="$VG/tok_sign_paths"
start=$(date +%s)

# keygen and init once under valgrind, on a token of their own
smoke() {
  local d="$VG/tmp/smoke" rc=0
  mkdir -p "$d/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$d/tokens" > "$d/softhsm2.conf"
  export SOFTHSM2_CONF="$d/softhsm2.conf"
  softhsm2-util --init-token --free --label vgsmoke --pin 123456 --so-pin 12345678 >/dev/null || return 1
  printf '123456\n' > "$d/pin"; chmod 600 "$d/pin"
  (cd "$d" && VG_ALL=1 ENTRAKEY_MODULE=/usr/lib/softhsm/libsofthsm2.so "$VG/entrakey" keygen \
     pkcs11:token=vgsmoke --label k1 --pin-source "file:$d/pin" >"$d/out" 2>&1) || rc=1
  (cd "$d" && VG_ALL=1 ENTRAKEY_MODULE=/usr/lib/softhsm/libsofthsm2.so "$VG/entrakey" init \
     pkcs11:token=vgsmoke --label k2 --subject CN=vg --pin-source "file:$d/pin" >>"$d/out" 2>&1) || rc=1
  [ $rc -eq 0 ] || sed 's/^/  /' "$d/out"
  unset SOFTHSM2_CONF
  return $rc
}
failed=()

# the tests, as many at once as there are CPUs: the build's ctest tests
# with LABEL valgrind (tests/token/CMakeLists.txt: the token tests;
# tests/agent/CMakeLists.txt: the managed-identity endpoint's server and
# the agent's socket), which `scripts/dev.sh test` therefore leaves out of
# its plain ctest: one list, so no test can escape both
tests=()
while IFS= read -r t; do
  n=$(basename "$t" .sh)
  printf '%s' "$n" | grep -Eq -- "$PATTERN" && tests+=("$t")
done < <(cd "$BUILD" && ctest -N -V -L valgrind -FA . |
  sed -n 's/^[0-9]*: Test command: .*bash "\(.*\.sh\)"$/\1/p')
if [ ${#tests[@]} -eq 0 ]; then
  echo "valgrind.sh: no test with LABEL valgrind in $BUILD matches '$PATTERN'" >&2
  exit 2
fi
# The longest first, so that no long one starts last and runs on alone at
# the end (their seconds under valgrind, two at once: test_pin 106,
# test_check 89, test_pin_echo 110 for its 72 cases (233 for 200),
# test_keys_delete 70, test_init 59, test_mi_http 52, test_assert 50,
# test_pin_rule 47, the others 45 or less); a count after the name runs
# the test as that many parts at once (EK_TEST_SHARD, shard_range in
# tests/lib/common.sh). The rest follow in name order.
LONG="test_pin test_check test_pin_echo:2 test_keys_delete test_init
  test_mi_http test_assert test_pin_rule test_uri test_uri_strict
  test_cert_show test_cli_usage test_sign test_keys"
jobs=()
declare -A queued=()
for l in $LONG; do
  for t in "${tests[@]}"; do
    [ "$(basename "$t" .sh)" = "${l%%:*}" ] || continue
    queued[$t]=1
    parts=1
    [ "$l" = "${l%%:*}" ] || parts=${l#*:}
    if [ "$parts" -eq 1 ]; then jobs+=("$t"); else
      for k in $(seq "$parts"); do jobs+=("$t|$k/$parts"); done
    fi
  done
done
for t in "${tests[@]}"; do
  [ -n "${queued[$t]:-}" ] || jobs+=("$t")
done
# run_one SCRIPT[|K/M]: one test (or its K-th of M parts), its log in $VG
run_one() {
  local t=${1%%|*} part='' n log s
  [ "$t" = "$1" ] || part=${1#*|}
  n=$(basename "$t" .sh)${part:+ part $part}
  log="$VG/$(basename "$t" .sh)${part:+.${part%/*}}.log"
  s=$(date +%s)
  if EK_TEST_SHARD=$part bash "$t" > "$log" 2>&1; then
    echo "ok - $n ($(( $(date +%s) - s )) s)"
  else
    echo "not ok - $n ($(( $(date +%s) - s )) s): see $log"
    grep -E '^not ok' "$log" | head -5 | sed 's/^/  /'
  fi
}
export -f run_one
export VG
# keygen and init under valgrind beside the tests (two RSA keys in
# SoftHSM under valgrind: most of a minute of one CPU)
smoke > "$VG/smoke.out" 2>&1 &
smoke_pid=$!
results=$(printf '%s\n' "${jobs[@]}" | xargs -P "$(nproc)" -I{} bash -c 'run_one "$1"' _ {})
smoke_rc=0
wait "$smoke_pid" || smoke_rc=$?
cat "$VG/smoke.out"
if [ "$smoke_rc" -eq 0 ]; then echo "ok - keygen and init under valgrind"; else
  echo "not ok - keygen and init under valgrind"; failed+=(smoke); fi
printf '%s\n' "$results"
while IFS= read -r line; do
  case $line in "not ok - "*) n=${line#not ok - }; failed+=("${n%% *}") ;; esac
done <<< "$results"

# every report valgrind wrote
find "$VG/logs" -name 'vg.*.log' -empty -delete
reports=$(find "$VG/logs" -name 'vg.*.log' | sort)
if [ -n "$reports" ]; then
  echo "valgrind reported:"
  for r in $reports; do echo "--- $r"; head -80 "$r"; done
  failed+=(valgrind-reports)
fi
echo "valgrind.sh: ${#tests[@]} token tests in $(( $(date +%s) - start )) s; ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
