#!/usr/bin/env bash
# Secrets stay secret, seen from outside the process:
#  1. stderr, with -v and -v -v, of every command that touches the PIN, an
#     assertion or a token, on success and on error paths (wrong PIN,
#     pin-value= in a URI): never the PIN, the access token or any JWT;
#  2. /proc/PID/cmdline and /proc/PID/environ of entrakey while it signs
#     (the fault module holds C_Sign for a while) and while it writes the
#     token (stdout blocked): never the PIN (file: and fd:) or the token;
#     with env:NAME the PIN is in the environment the caller gave, and
#     nowhere else;
#  3. the `exec` child's environ has ENTRAKEY_ACCESS_TOKEN (the issued
#     token) and not the PIN variable; its cmdline has neither;
#  4. a core image of entrakey taken while it signs (logged in) holds no
#     copy of the PIN (gcore);
#  5. the files entrakey writes (strace of open/creat/rename/link, and the
#     files new under HOME, the working directory and TMPDIR) are the
#     output asked for and SoftHSM's own store, and none holds the PIN, a
#     token or an assertion (the user PIN files of quickstart excepted: by
#     design, mode 0600).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
source "$EK_SOURCE_DIR/tests/hardening/lib.sh"
: "${EKFAULT_SO:?run through ctest (the fault module)}"
for tool in strace gdb; do
  command -v $tool >/dev/null || { fail "$tool is not installed (apt-get install $tool)"; finish; }
done
# a PIN that cannot occur anywhere by chance
TEST_PIN="hd-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
e2e_setup
KEYLBL=app
WORK="$T/cwd"
mkdir -p "$WORK" "$T/tmp"
export TMPDIR="$T/tmp"
cd "$WORK" || exit 1
JWT_RE='eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.'
COMMON=(--tenant "$TENANT" --client-id "$CLIENT_ID")
ENDPOINT=(--authority-host "$AUTH" --ca-file "$CA_PEM")

# the secrets to look for: the PIN, every token the endpoint issued, and
# the assertions printed so far (SECRETS_EXTRA)
SECRETS_EXTRA=()
secrets_file() {
  { printf '%s\n' "$TEST_PIN"
    stats '"\n".join(s["issued"])'
    printf '%s\n' "${SECRETS_EXTRA[@]}"; } | grep -v '^$' > "$T/secrets"
}
# no_secret NAME TEXT: neither a secret nor a JWT in TEXT
no_secret() {
  secrets_file
  if printf '%s' "$2" | grep -aqFf "$T/secrets"; then
    fail "$1: a secret appears:"; printf '%s\n' "$2" | grep -aFf "$T/secrets" | cut -c1-160 | sed 's/^/#   /'
  elif printf '%s' "$2" | grep -aqE "$JWT_RE"; then
    fail "$1: a JWT appears:"; printf '%s\n' "$2" | grep -aE "$JWT_RE" | cut -c1-160 | sed 's/^/#   /'
  else pass "$1"; fi
}

# the detector can fail: a planted PIN and a planted JWT are found
secrets_file
printf 'x%sx' "$TEST_PIN" | grep -aqFf "$T/secrets" && pass "the detector finds a planted PIN" ||
  fail "the detector misses a planted PIN"
printf 'x eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJ4In0.sig' | grep -aqE "$JWT_RE" &&
  pass "the detector finds a planted JWT" || fail "the detector misses a planted JWT"

# ------------------------------------------------------------- 1. stderr
PF=(--pin-source "file:$PIN_FILE")
for v in -v "-v -v"; do
  # shellcheck disable=SC2086
  run "$EK" $v tokens
  no_secret "tokens $v: stderr" "$ERR"
  # shellcheck disable=SC2086
  run "$EK" $v keys "pkcs11:token=$TOKEN_LABEL" "${PF[@]}"
  expect_rc "keys $v" 0
  no_secret "keys $v: stderr" "$ERR"
  # shellcheck disable=SC2086
  EK_HD_PIN=$TEST_PIN run "$EK" $v assert "$KEY_URI" "${COMMON[@]}" --pin-source env:EK_HD_PIN
  expect_rc "assert $v (env:)" 0
  SECRETS_EXTRA+=("$OUT" "${OUT##*.}")
  no_secret "assert $v: stderr" "$ERR"
  # shellcheck disable=SC2086
  run "$EK" $v token "$KEY_URI" "${COMMON[@]}" "${ENDPOINT[@]}" "${PF[@]}" --format json
  expect_rc "token $v --format json" 0
  expect_match "token $v: -v traced the exchange" "$ERR" 'HTTP 200 from'
  no_secret "token $v: stderr" "$ERR"
  # shellcheck disable=SC2086
  run "$EK" $v exec "$KEY_URI" "${COMMON[@]}" "${ENDPOINT[@]}" "${PF[@]}" -- true
  expect_rc "exec $v" 0
  no_secret "exec $v: stderr" "$ERR"
done
run "$EK" -v keygen "pkcs11:token=$TOKEN_LABEL" --label k2 --pin-source fd:3 3<"$PIN_FILE"
expect_rc "keygen -v (fd:)" 0
no_secret "keygen -v: stderr" "$ERR"
run "$EK" -v cert create "pkcs11:token=$TOKEN_LABEL;object=k2" --subject CN=k2 \
  --out "$WORK/k2.cer" "${PF[@]}"
expect_rc "cert create -v" 0
no_secret "cert create -v: stderr" "$ERR"
run "$EK" -v init "pkcs11:token=$TOKEN_LABEL" --label k3 --subject CN=k3 \
  --out "$WORK/k3.cer" "${PF[@]}"
expect_rc "init -v" 0
no_secret "init -v: stderr" "$ERR"
for f in raw env powershell; do
  run "$EK" -v token "$KEY_URI" "${COMMON[@]}" "${ENDPOINT[@]}" "${PF[@]}" \
    --format "$f" --organization "$TENANT"
  expect_rc "token -v --format $f" 0
  no_secret "token -v --format $f: stderr" "$ERR"
done
# pin-value= in a URI is the user's choice, but it is never echoed back,
# not even when the URI is malformed
run "$EK" -v keys "pkcs11:token=$TOKEN_LABEL?pin-value=$TEST_PIN"
expect_rc "keys -v with pin-value= in the URI" 0
no_secret "pin-value=: not in the -v trace" "$ERR"
run "$EK" -v assert "pkcs11:token=$TOKEN_LABEL;object=nosuch?pin-value=$TEST_PIN" "${COMMON[@]}"
expect_rc "a key that is not there (pin-value= in the URI)" 3
no_secret "pin-value=: not in the error sentence" "$ERR"
run "$EK" -v keys "pkcs11:token=$TOKEN_LABEL;pin-value=$TEST_PIN"
expect_rc "pin-value= as a path attribute: a usage error" 2
no_secret "pin-value=: not in the sentence about a malformed URI" "$ERR"
# a wrong PIN is not echoed either (SoftHSM only counts, never locks)
WRONG="hd-wrong-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
EK_HD_PIN=$WRONG run "$EK" -v -v assert "$KEY_URI" "${COMMON[@]}" --pin-source env:EK_HD_PIN
expect_rc "a wrong PIN: exit 4" 4
expect_match "... says CKR_PIN_INCORRECT" "$ERR" 'CKR_PIN_INCORRECT'
case "$ERR" in *"$WRONG"*) fail "the wrong PIN is on stderr" ;; *) pass "the wrong PIN is not on stderr" ;; esac
run "$EK" keys "pkcs11:token=$TOKEN_LABEL" "${PF[@]}" # a good login resets SoftHSM's count

# ------------------------------------------- 2./4. /proc and core, signing
# slow_sign SRCKIND: starts `entrakey assert` on the fault module with
# C_Sign held for 4 s, waits until it is inside C_Sign (logged in); sets PID
slow_sign() {
  local src=$1 i
  : > "$T/flog"
  : > "$T/hold" # C_Sign waits until the checks below remove it (at most 60 s)
  case $src in
    file) EKFAULT="C_Sign=sleep:60000" EKFAULT_HOLD="$T/hold" EKFAULT_LOG="$T/flog" "$EK" assert "$KEY_URI" \
            "${COMMON[@]}" --module "$EKFAULT_SO" "${PF[@]}" >"$T/slow.out" 2>"$T/slow.err" & ;;
    fd)   EKFAULT="C_Sign=sleep:60000" EKFAULT_HOLD="$T/hold" EKFAULT_LOG="$T/flog" "$EK" assert "$KEY_URI" \
            "${COMMON[@]}" --module "$EKFAULT_SO" --pin-source fd:3 3<"$PIN_FILE" \
            >"$T/slow.out" 2>"$T/slow.err" & ;;
    env)  EK_HD_PIN=$TEST_PIN EKFAULT="C_Sign=sleep:60000" EKFAULT_HOLD="$T/hold" EKFAULT_LOG="$T/flog" "$EK" \
            assert "$KEY_URI" "${COMMON[@]}" --module "$EKFAULT_SO" \
            --pin-source env:EK_HD_PIN >"$T/slow.out" 2>"$T/slow.err" & ;;
  esac
  PID=$!
  for i in $(seq 200); do
    grep -q '^C_SignInit ' "$T/flog" 2>/dev/null && break
    sleep 0.02
  done
  grep -q '^C_Login ' "$T/flog" && grep -q '^C_SignInit ' "$T/flog" ||
    fail "$src: entrakey did not reach C_Sign: $(cat "$T/slow.err")"
}
proc_has_pin() { tr '\0' '\n' < "/proc/$1/$2" | grep -qF "$TEST_PIN"; }

for src in file fd env; do
  slow_sign $src
  proc_has_pin "$PID" cmdline && fail "$src: the PIN is in /proc/PID/cmdline" ||
    pass "$src: the PIN is not in /proc/PID/cmdline while signing"
  if [ $src = env ]; then
    # the caller put it there; entrakey adds no other copy
    expect_match "env: the PIN is in environ once, as EK_HD_PIN" \
      "$(tr '\0' '\n' < /proc/$PID/environ | grep -F "$TEST_PIN")" "^EK_HD_PIN=$TEST_PIN\$"
  else
    proc_has_pin "$PID" environ && fail "$src: the PIN is in /proc/PID/environ" ||
      pass "$src: the PIN is not in /proc/PID/environ while signing"
  fi
  if [ $src != fd ] && in_asan; then
    skip "$src: no core image under ASan (its shadow memory would make it tens of GB)"
  elif [ $src != fd ]; then
    # a core image while logged in and signing: no copy of the PIN with
    # file:; with env: the environment's copy is found (the check works).
    # At most 1 GiB is written (an entrakey core is some 50 MB).
    rm -f "$T/core".*
    if (ulimit -f 1048576; gcore -o "$T/core" "$PID") >"$T/gcore.log" 2>&1 &&
       [ -s "$T/core.$PID" ]; then
      n=$(grep -caF "$TEST_PIN" "$T/core.$PID")
      if [ $src = file ]; then
        expect_match "file: a core image of entrakey while signing holds no copy of the PIN" "$n" '^0$'
      else
        expect_match "env: the core image holds the environment's copy (the check finds a PIN)" "$n" '^[1-9]'
      fi
      rm -f "$T/core.$PID"
    else
      fail "gcore could not dump entrakey: $(tail -3 "$T/gcore.log")"
      rm -f "$T/core".*
    fi
  fi
  rm -f "$T/hold"
  wait "$PID"
  RC=$?; OUT=$(cat "$T/slow.out"); ERR=$(cat "$T/slow.err")
  expect_rc "$src: the slow assert succeeds" 0
  SECRETS_EXTRA+=("$OUT")
done

# ------------------------------ 2. /proc while the token is being written
# stdout is a pipe filled to the last byte beforehand (whatever its size),
# so entrakey blocks writing the token
FILL='import fcntl, os, sys
fl = fcntl.fcntl(1, fcntl.F_GETFL)
fcntl.fcntl(1, fcntl.F_SETFL, fl | os.O_NONBLOCK)
for chunk in (4096, 1):
    try:
        while True:
            os.write(1, b"\0" * chunk)
    except BlockingIOError:
        pass
fcntl.fcntl(1, fcntl.F_SETFL, fl)
os.execvp(sys.argv[1], sys.argv[1:])'
rm -f "$T/go" "$T/tokpid"
( echo "$BASHPID" > "$T/tokpid"
  exec "$PY" -c "$FILL" "$EK" token "$KEY_URI" "${COMMON[@]}" "${ENDPOINT[@]}" "${PF[@]}" 2>"$T/blk.err" ) |
  { while [ ! -e "$T/go" ]; do sleep 0.05; done; cat > "$T/blk.out"; } &
PIPE=$!
for _ in $(seq 300); do
  [ -s "$T/tokpid" ] && [ "$(cut -d' ' -f1 "/proc/$(cat "$T/tokpid")/syscall" 2>/dev/null)" = 1 ] &&
    grep -q entrakey "/proc/$(cat "$T/tokpid")/cmdline" 2>/dev/null && break
  sleep 0.05
done
TP=$(cat "$T/tokpid")
if [ "$(cut -d' ' -f1 "/proc/$TP/syscall" 2>/dev/null)" = 1 ]; then
  pass "entrakey token is blocked writing the token to stdout"
  issued=$(stats 's["issued"][-1]')
  for f in cmdline environ; do
    if tr '\0' '\n' < "/proc/$TP/$f" | grep -qF -e "$issued" -e "$TEST_PIN"; then
      fail "token: the token or the PIN is in /proc/PID/$f"
    else pass "token: neither the token nor the PIN in /proc/PID/$f"; fi
  done
else
  fail "entrakey token never blocked in write(2): $(cat "$T/blk.err")"
fi
touch "$T/go"
wait "$PIPE"
expect_match "... and then wrote the issued token" "$(tr -d '\0' < "$T/blk.out")" "^$(stats 's["issued"][-1]')\$"

# ------------------------------------------- 3. the exec child's /proc
EK_HD_PIN=$TEST_PIN "$EK" exec "$KEY_URI" "${COMMON[@]}" "${ENDPOINT[@]}" \
  --pin-source env:EK_HD_PIN -- sh -c 'until [ -e "$1" ]; do sleep 0.05; done' \
  child "$T/ex.go" >"$T/ex.out" 2>"$T/ex.err" &
XP=$!
# the child waits for ex.go, so its /proc stays readable however slow this is
child_cmd="sh -c until [ -e \"\$1\" ]; do sleep 0.05; done child $T/ex.go "
for _ in $(seq 600); do
  [ "$(tr '\0' ' ' < /proc/$XP/cmdline 2>/dev/null)" = "$child_cmd" ] && break
  sleep 0.05
done
if [ "$(tr '\0' ' ' < /proc/$XP/cmdline 2>/dev/null)" = "$child_cmd" ]; then
  issued=$(stats 's["issued"][-1]')
  envx=$(tr '\0' '\n' < /proc/$XP/environ)
  expect_match "exec child: ENTRAKEY_ACCESS_TOKEN is the issued token" \
    "$(printf '%s\n' "$envx" | grep '^ENTRAKEY_ACCESS_TOKEN=')" "^ENTRAKEY_ACCESS_TOKEN=$issued\$"
  expect_nomatch "exec child: no EK_HD_PIN (the PIN variable) in environ" "$envx" '^EK_HD_PIN='
  case "$envx" in *"$TEST_PIN"*) fail "exec child: the PIN is in environ" ;;
    *) pass "exec child: the PIN is nowhere in environ" ;; esac
  expect_match "exec child: the token is in environ once" "$(printf '%s\n' "$envx" | grep -cF "$issued")" '^1$'
  tr '\0' '\n' < /proc/$XP/cmdline | grep -qF -e "$issued" -e "$TEST_PIN" &&
    fail "exec child: a secret in cmdline" || pass "exec child: no secret in cmdline"
else
  fail "the exec child did not start: $(cat "$T/ex.err")"
fi
touch "$T/ex.go"
wait "$XP"
expect_match "exec: exit 0, nothing on stderr" "$?:$(cat "$T/ex.err")" '^0:$'

# ------------------------------------------------ 5. the files written
# traced CMD...: runs CMD under strace (open, creat, rename, link); sets
# WRITTEN to the files it opened for writing or renamed/linked into place
# (LeakSanitizer cannot work under ptrace: leaks are left to the other runs)
traced() {
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
  strace -f -qq -o "$T/strace.log" -e trace=open,openat,creat,rename,renameat,renameat2,link,linkat \
    "$@" >"$T/out" 2>"$T/err" </dev/null
  RC=$?; OUT=$(cat "$T/out"); ERR=$(cat "$T/err")
  WRITTEN=$("$PY" - "$T/strace.log" "$WORK" <<'PY'
import os, re, sys
out = set()
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r'\b(open|openat|creat)\((?:AT_FDCWD, )?"([^"]*)"(.*)\) = (\d+)', line)
    if m and (m.group(1) == "creat" or re.search(r"O_WRONLY|O_RDWR|O_CREAT", m.group(3))):
        out.add(m.group(2))
    m = re.search(r'\b(rename|renameat|renameat2|link|linkat)\((?:AT_FDCWD, )?"[^"]*", (?:AT_FDCWD, )?"([^"]*)".*\) = 0', line)
    if m:
        out.add(m.group(2))
for p in sorted(out):
    print(os.path.normpath(os.path.join(sys.argv[2], p)))
PY
)
}
# written_ok NAME ALLOWED-REGEX: every file written matches the regex (or
# is SoftHSM's store or a device), and none holds a secret or a JWT
written_ok() {
  local f bad=() leak=()
  secrets_file
  while IFS= read -r f; do
    [ -z "$f" ] && continue
    # keygen's lock (empty; see pkcs11/tok_keygen.c)
    case $f in "$T"/softhsm/tokens/*|/dev/*|*/entrakey/keygen.lock) ;;
      *) printf '%s' "$f" | grep -Eq "$2" || bad+=("$f") ;; esac
    if [ -f "$f" ] && { grep -aqFf "$T/secrets" "$f" || grep -aqE "$JWT_RE" "$f"; }; then
      leak+=("$f"); fi
  done <<< "$WRITTEN"
  [ ${#bad[@]} -eq 0 ] && pass "$1: writes only what was asked for" ||
    { fail "$1: wrote files not asked for:"; printf '#   %s\n' "${bad[@]}"; }
  [ ${#leak[@]} -eq 0 ] && pass "$1: no written file holds a secret" ||
    { fail "$1: a secret in:"; printf '#   %s\n' "${leak[@]}"; }
}
touch "$T/mark"
sleep 1 # -newer has a one-second grain on some filesystems
traced "$EK" keygen "pkcs11:token=$TOKEN_LABEL" --label k4 "${PF[@]}"
expect_rc "keygen (traced)" 0
written_ok "keygen" '^$'
traced "$EK" cert create "pkcs11:token=$TOKEN_LABEL;object=k4" --subject CN=k4 --out k4.cer "${PF[@]}"
expect_rc "cert create (traced)" 0
expect_match "the trace sees the file cert create writes" "$WRITTEN" "^$WORK/k4\\.cer\$"
written_ok "cert create --out k4.cer" "^$WORK/(\\.k4\\.cer\\..*|k4\\.cer)\$"
traced "$EK" init "pkcs11:token=$TOKEN_LABEL" --label k5 --subject CN=k5 --out k5.cer "${PF[@]}"
expect_rc "init (traced)" 0
written_ok "init --out k5.cer" "^$WORK/(\\.k5\\.cer\\..*|k5\\.cer)\$"
traced "$EK" assert "$KEY_URI" "${COMMON[@]}" "${PF[@]}"
expect_rc "assert (traced)" 0
SECRETS_EXTRA+=("$OUT")
written_ok "assert" '^$'
for f in raw json env powershell; do
  traced "$EK" token "$KEY_URI" "${COMMON[@]}" "${ENDPOINT[@]}" "${PF[@]}" --format $f --organization "$TENANT"
  expect_rc "token --format $f (traced)" 0
  written_ok "token --format $f" '^$'
done
traced "$EK" exec "$KEY_URI" "${COMMON[@]}" "${ENDPOINT[@]}" "${PF[@]}" -- true
expect_rc "exec (traced)" 0
written_ok "exec" '^$'
CONF="$XDG_CONFIG_HOME/entrakey/config"
traced "$EK" profile add job --key "$KEY_URI" "${COMMON[@]}" "${ENDPOINT[@]}" --pin-source env:EK_HD_PIN
expect_rc "profile add (traced)" 0
written_ok "profile add" "^$XDG_CONFIG_HOME/entrakey/(config|\\.config\\..*)\$"
EK_HD_PIN=$TEST_PIN traced "$EK" token --profile job
expect_rc "token --profile (traced)" 0
written_ok "token --profile" '^$'
# what is new under HOME, the working directory and TMPDIR: the asked-for
# outputs only (SoftHSM's store lives elsewhere, in $T/softhsm)
new=$(find "$HOME" "$WORK" "$TMPDIR" -newer "$T/mark" -type f | sort)
want=$(printf '%s\n' "$XDG_CONFIG_HOME/entrakey/config" "$WORK/k4.cer" "$WORK/k5.cer" | sort)
[ "$new" = "$want" ] && pass "new files: the two .cer and the config, nothing else" ||
  { fail "new files under HOME, the working directory and TMPDIR:"; printf '#   %s\n' $new; }

# quickstart: the user PIN is in user-pin (mode 0600) by design, and in no
# other file it writes
QH="$T/qshome"
mkdir -p "$QH/cwd"
(cd "$QH/cwd" && HOME="$QH" XDG_DATA_HOME="$QH/share" XDG_CONFIG_HOME="$QH/config" \
  run "$EK" quickstart && printf '%s' "$RC" > "$QH/rc")
expect_match "quickstart" "$(cat "$QH/rc" 2>/dev/null)" '^0$'
QPIN=$(cat "$QH/share/entrakey/softhsm/user-pin" 2>/dev/null)
if [ -n "$QPIN" ]; then
  expect_match "quickstart: user-pin is mode 0600" "$(stat -c %a "$QH/share/entrakey/softhsm/user-pin")" '^600$'
  holders=$(grep -rlaF "$QPIN" "$QH" | sed "s#^$QH/##" | sort | tr '\n' ' ')
  expect_match "quickstart: the PIN is in user-pin only" "$holders" '^share/entrakey/softhsm/user-pin $'
else
  fail "quickstart left no user-pin file"
fi
finish
