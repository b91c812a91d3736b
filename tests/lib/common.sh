# common.sh: sourced by every bash test. Gives a fresh SoftHSM token in a
# private directory, the entrakey binary, and assertions that print what the
# user would have seen when they fail.
set -u
: "${ENTRAKEY_BIN:?run through ctest}"
# A p11-kit registry of the tests' own: what the host registers (a TPM's
# module that complains and leaks without a TPM, a smart card's module, a
# user's own) must not change what a test sees. p11-kit reads no user
# configuration as root, so each test runs in a mount namespace of its own
# where p11-kit's system module directories are replaced by $EK_REGISTRY
# (see register_module). Without namespaces (unshare refused) the host's
# registry is used and EK_PRIVATE_REGISTRY is 0.
# A test that starts network services sets EK_TEST_NETNS=1 before sourcing
# this file: it then also gets a network namespace of its own, with only a
# loopback interface, so its fixed ports meet no one else's.
if [ -z "${EK_TEST_NS:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then _ns=(unshare -m); else _ns=(unshare -rm); fi
  [ "${EK_TEST_NETNS:-0}" = 1 ] && _ns+=(-n)
  if "${_ns[@]}" true 2>/dev/null; then
    EK_TEST_NS=1 exec "${_ns[@]}" bash "$0" "$@"
  fi
  if [ "${EK_TEST_NETNS:-0}" = 1 ]; then
    echo "not ok - unshare -n is refused here: this test needs a network namespace"
    exit 1
  fi
  echo "# unshare -m is refused here: the host's p11-kit registry is used" >&2
  export EK_TEST_NS=none
fi
EK="$ENTRAKEY_BIN"
# the whole command that entrakey runs for all but the agent's clients
# (src/cli/fast/): what /proc/PID/exe names once it has handed over
EK_FULL="${ENTRAKEY_FULL_BIN:-$(dirname "$EK")/entrakey-full}"
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
PY=/usr/bin/python3                 # Debian's, where python3-jwt lives
TEST_PIN=123456
TEST_SO_PIN=12345678
mkdir -p "${EK_TEST_TMP}"
T=$(mktemp -d "${EK_TEST_TMP}/$(basename "$0" .sh).XXXXXX")
export ENTRAKEY_MODULE="$SOFTHSM_MODULE"
export HOME="$T/home" XDG_CONFIG_HOME="$T/home/.config" XDG_DATA_HOME="$T/home/.local/share"
mkdir -p "$HOME"
# keygen's lock lives under $XDG_RUNTIME_DIR/entrakey: the test's own
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
if [ "${EK_TEST_NETNS:-0}" = 1 ]; then
  ip link set lo up || { echo "not ok - cannot bring up lo"; exit 1; }
fi
EK_REGISTRY="$T/p11-kit-modules"
EK_PRIVATE_REGISTRY=0
mkdir -p "$EK_REGISTRY" "$T/etc-pkcs11"
if [ "$EK_TEST_NS" = 1 ] &&
   mount --bind "$EK_REGISTRY" /usr/share/p11-kit/modules 2>/dev/null &&
   { [ ! -d /etc/pkcs11 ] || mount --bind "$T/etc-pkcs11" /etc/pkcs11; }; then
  EK_PRIVATE_REGISTRY=1
fi
# register_module NAME PATH [CONFIG-LINE...]: registers a module with the
# test's p11-kit registry (a NAME.module file: "module: PATH" and the lines).
register_module() {
  local name=$1 path=$2; shift 2
  { printf 'module: %s\n' "$path"; printf '%s\n' "$@"; } \
    > "$EK_REGISTRY/$name.module"
}
# unregister_module NAME
unregister_module() { rm -f "$EK_REGISTRY/$1.module"; }
# the registry starts with SoftHSM alone, as softhsm2 registers itself
register_module softhsm2 "$SOFTHSM_MODULE"
unset AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_AUTHORITY_HOST || true
# no profile or file named from outside, and never the machine's
# /etc/entrakey/config (test_config_files.sh reads that path in a mount
# namespace)
unset ENTRAKEY_PROFILE ENTRAKEY_CONFIG || true
export ENTRAKEY_SYSTEM_CONFIG=
_cleanup_fns=()
_cleanup() { local f; for f in "${_cleanup_fns[@]}"; do $f || true; done; }
trap _cleanup EXIT
on_exit() { _cleanup_fns+=("$1"); }

# lib_path SONAME: where the loader finds SONAME (ldconfig's cache), or
# nothing. can_hide_lib: whether a mount namespace can be made here.
lib_path() { ldconfig -p | awk -v n="$1" '$1 == n { print $NF; exit }'; }
can_hide_lib() { unshare -m true 2>/dev/null; }
# with_lib_as LIBFILE REPLACEMENT COMMAND...: runs COMMAND (through run:
# OUT, ERR, RC) with LIBFILE replaced by REPLACEMENT (/dev/null: cannot be
# loaded; another library: lacks its functions), for that one command, in
# a mount namespace of its own.
with_lib_as() {
  run unshare -m sh -c 'mount --bind "$2" "$1" && shift 2 && exec "$@"' _ "$@"
}

# stop_pid VAR [SIGNAL]: stops the process whose PID the variable VAR
# holds, if it is set: sends it SIGNAL (default TERM), waits for it (it is
# the caller's child) and empties VAR. Always 0, as a cleanup step must be:
# the process may have gone already.
stop_pid() {
  local _sp_pid=${!1:-}
  if [ -n "$_sp_pid" ]; then
    kill -s "${2:-TERM}" "$_sp_pid" 2>/dev/null
    wait "$_sp_pid" 2>/dev/null
  fi
  printf -v "$1" '%s' ''
  return 0
}

# shard_range N: which of the items 1..N this run checks, as SHARD_FROM and
# SHARD_TO. A long loop over independent items can run as M processes at
# once: EK_TEST_SHARD=K/M (1 <= K <= M) takes the K-th of M contiguous
# parts (tests/valgrind.sh and the CMake registrations set it); unset, all
# of 1..N. A malformed EK_TEST_SHARD fails the test, never skips items.
shard_range() {
  local n=$1 k=1 m=1
  if [ -n "${EK_TEST_SHARD:-}" ]; then
    if [[ "$EK_TEST_SHARD" =~ ^([1-9][0-9]*)/([1-9][0-9]*)$ ]] &&
       [ "${BASH_REMATCH[1]}" -le "${BASH_REMATCH[2]}" ]; then
      k=${BASH_REMATCH[1]} m=${BASH_REMATCH[2]}
    else
      echo "not ok - EK_TEST_SHARD='$EK_TEST_SHARD' is not K/M"; exit 1
    fi
  fi
  SHARD_FROM=$(( (k - 1) * n / m + 1 ))
  SHARD_TO=$(( k * n / m ))
  [ "$m" -eq 1 ] || echo "# part $k of $m: items $SHARD_FROM to $SHARD_TO of $n"
}

failures=0
passes=0
skips=0
fail() { echo "not ok - $*"; failures=$((failures + 1)); }
pass() { echo "ok - $*"; passes=$((passes + 1)); }
# skip WHY: a check that cannot run here; counted apart, never as a pass
skip() { echo "ok - # SKIP $*"; skips=$((skips + 1)); }
finish() {
  echo "$passes passed, $failures failed, $skips skipped"
  [ "$failures" -eq 0 ]
  exit $?
}

# fresh_token LABEL: a new SoftHSM store with one token; exports
# SOFTHSM2_CONF and PIN_FILE (mode 0600, holding $TEST_PIN).
fresh_token() {
  local label=$1 dir="$T/softhsm"
  mkdir -p "$dir/tokens"
  cat > "$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
  export SOFTHSM2_CONF="$dir/softhsm2.conf"
  softhsm2-util --init-token --free --label "$label" --pin "$TEST_PIN" \
    --so-pin "$TEST_SO_PIN" >/dev/null || { echo "softhsm2-util failed" >&2; exit 1; }
  PIN_FILE="$T/pin"
  printf '%s\n' "$TEST_PIN" > "$PIN_FILE"
  chmod 600 "$PIN_FILE"
  export PIN_FILE
}

# need_spy: OpenSC's pkcs11-spy in $SPY, to stand between entrakey
# (--module "$SPY") and SoftHSM in spy; ends the test when it is missing.
# From here on, LeakSanitizer leaves the spy's own allocations alone
# (tests/token/lsan-third-party.supp) and still reports entrakey's.
need_spy() {
  SPY=/usr/lib/x86_64-linux-gnu/pkcs11-spy.so
  [ -f "$SPY" ] || SPY=$(find /usr/lib -name pkcs11-spy.so 2>/dev/null | head -1)
  [ -n "$SPY" ] || { fail "pkcs11-spy.so is missing (apt-get install opensc-pkcs11)"; finish; }
  export LSAN_OPTIONS="suppressions=$EK_SOURCE_DIR/tests/token/lsan-third-party.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
}
# spy LOG CMD...: run CMD with every PKCS#11 call it makes to SoftHSM
# logged in LOG (afresh) by pkcs11-spy
spy() {
  local log=$1; shift
  rm -f "$log"
  PKCS11SPY="$SOFTHSM_MODULE" PKCS11SPY_OUTPUT="$log" run "$@"
}
# logins LOG: how many C_Login calls a spy LOG holds
logins() { grep -c '^[0-9]*: C_Login$' "$1"; }

# run CMD...: runs it, keeping stdout in $OUT, stderr in $ERR, status in $RC.
# ($(<FILE) is read by bash itself, as $(cat FILE) would read it, without
# the fork and exec of cat: 6 ms of CPU each on a 2-vCPU VM, where the
# suite calls run some thousand times.)
run() {
  "$@" >"$T/out" 2>"$T/err" </dev/null
  RC=$?
  OUT=$(<"$T/out"); ERR=$(<"$T/err")
}

# expect_rc NAME CODE: passes when the last run exited with CODE.
expect_rc() {
  if [ "$RC" -eq "$2" ]; then pass "$1"; else
    fail "$1: exit $RC, expected $2"; echo "# stdout: $OUT"; echo "# stderr: $ERR"; fi
}
# _matches TEXT REGEX: grep -E finds REGEX in a line of TEXT. A TEXT that is
# not empty and does not end in a newline goes in as a here-string (the
# newline bash adds ends its last line, as grep would end it), which spares
# the fork of a pipeline; others as they are, so an empty TEXT is no line.
_matches() {
  case $1 in
  '' | *$'\n') printf '%s' "$1" | grep -Eq -- "$2" ;;
  *) grep -Eq -- "$2" <<<"$1" ;;
  esac
}
# expect_match NAME TEXT REGEX
expect_match() {
  if _matches "$2" "$3"; then pass "$1"; else
    fail "$1: no match for /$3/ in:"; printf '%s\n' "$2" | sed 's/^/#   /'; fi
}
expect_nomatch() {
  if _matches "$2" "$3"; then
    fail "$1: unexpected match for /$3/ in:"; printf '%s\n' "$2" | sed 's/^/#   /'
  else pass "$1"; fi
}
