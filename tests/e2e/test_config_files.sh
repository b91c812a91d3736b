#!/usr/bin/env bash
# Configuration files: the user's file, then the system's (the user's wins,
# per profile, never mixing two files' values), ENTRAKEY_CONFIG and
# --config naming the only file read, ENTRAKEY_PROFILE, and `profile show`
# naming the file. The real /etc/entrakey/config is read only inside a
# mount namespace with an overlay over /etc, so the machine's is never seen.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup

USER_CFG="$XDG_CONFIG_HOME/entrakey/config"
SYS="$T/etc/entrakey/config"
mkdir -p "$T/etc/entrakey" "$(dirname "$USER_CFG")"
export ENTRAKEY_SYSTEM_CONFIG="$SYS"
seen() { stats "s['requests'][-1]['$1']"; }
# prof NAME TENANT: a whole profile for the test endpoint
prof() {
  printf '[profile %s]\nkey = %s\ntenant = %s\nclient_id = %s\nauthority_host = %s\nca_file = %s\npin_source = file:%s\n' \
    "$1" "$KEY_URI" "$2" "$CLIENT_ID" "$AUTH" "$CA_PEM" "$PIN_FILE"
}
{ prof svc "$TENANT"; prof both "$TENANT"; prof partial "$TENANT"; } > "$SYS"

run "$EK" token --profile svc
expect_rc "a profile in the system file only" 0
expect_match "... its tenant" "$(seen tenant)" "^$TENANT\$"
run "$EK" profile show svc
expect_match "profile show names the system file" "$(head -1 <<< "$OUT")" "^# from $SYS\$"
run "$EK" profile show svc --json
run "$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["file"], d["tenant"])' "$OUT"
expect_match "profile show --json names the file" "$OUT" "^$SYS $TENANT\$"

# the user's file wins, per profile
{ prof both "$TENANT_ID"; printf '[profile partial]\ntenant = %s\n' "$TENANT_ID"; } > "$USER_CFG"
chmod 600 "$USER_CFG"
run "$EK" token --profile both
expect_rc "a profile in both files" 0
expect_match "... the user's" "$(seen tenant)" "^$TENANT_ID\$"
run "$EK" profile show both
expect_match "profile show: the user's file" "$(head -1 <<< "$OUT")" "^# from $USER_CFG\$"
expect_match "... and the system's copy, not used" "$OUT" "^# \(also in $SYS, not used"
run "$EK" token --profile partial
expect_rc "per profile, not per value: the user's partial profile has no key" 2
expect_match "... says so (the system's key is not mixed in)" "$ERR" 'no key: give KEY-URI'
run "$EK" profile list
expect_match "profile list: every file's profiles, each once" "$(printf '%s' "$OUT" | tr '\n' ' ')" '^both partial svc$'

# ENTRAKEY_CONFIG and --config name the only file read
ENTRAKEY_CONFIG="$SYS" run "$EK" token --profile both
expect_match "ENTRAKEY_CONFIG: only that file" "$(seen tenant)" "^$TENANT\$"
ENTRAKEY_CONFIG="$USER_CFG" run "$EK" token --profile svc
expect_rc "ENTRAKEY_CONFIG: the system file is not read" 2
expect_match "... no such profile in that file" "$ERR" "no profile 'svc' in $USER_CFG;"
ENTRAKEY_CONFIG="$USER_CFG" run "$EK" token --profile svc --config "$SYS"
expect_rc "--config over ENTRAKEY_CONFIG" 0
ENTRAKEY_CONFIG="$T/none" run "$EK" token --profile svc
expect_rc "ENTRAKEY_CONFIG naming a missing file: exit 2" 2
expect_match "... says so" "$ERR" "config file '$T/none' does not exist"

# ENTRAKEY_PROFILE, and the default profile from the system file
ENTRAKEY_PROFILE=svc run "$EK" assert
expect_rc "ENTRAKEY_PROFILE names the profile for assert" 0
prof default "$TENANT" >> "$SYS"
run "$EK" token -v
expect_rc "the default profile from the system file" 0
expect_match "-v: ... and says so" "$ERR" "tenant = $TENANT \(from default profile in $SYS\)"

# a file that cannot be read: an error when a profile is named, a warning
# (and the options alone) when none is
printf '[profile x]\nnot ini\n' > "$USER_CFG"
run "$EK" token --profile svc
expect_rc "a broken user file, a profile named: exit 2" 2
expect_match "... names the file and line" "$ERR" "config $USER_CFG line 2"
ENTRAKEY_SYSTEM_CONFIG= tok
expect_rc "a broken user file, no profile named: the options work" 0
expect_match "... with a warning naming the file" "$ERR" "warning: config $USER_CFG line 2.*not read"
rm -f "$USER_CFG"

# profile add writes the user's file, never the system's
run "$EK" profile add mine --tenant "$TENANT"
expect_rc "profile add" 0
expect_match "... in the user's file" "$OUT" "in $USER_CFG\$"
expect_nomatch "... the system file unchanged" "$(cat "$SYS")" 'mine'

# the real path /etc/entrakey/config, in a private mount namespace with an
# overlay over /etc (as root; nothing on the machine's /etc changes)
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
  skip "/etc/entrakey/config: needs root and unshare for a mount namespace"
else
  had_etc=$([ -e /etc/entrakey/config ] && echo yes)
  mkdir -p "$T/ov/up" "$T/ov/work"
  prof etcprof "$TENANT" > "$T/etcprof"
  # shellcheck disable=SC2016
  unshare -m bash -c '
    mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/up,workdir=$1/work" /etc || exit 99
    mkdir -p /etc/entrakey && cp "$2" /etc/entrakey/config || exit 99
    env -u ENTRAKEY_SYSTEM_CONFIG "$3" profile show etcprof' _ "$T/ov" "$T/etcprof" "$EK" > "$T/ns.out" 2>&1
  rc=$?
  if [ "$rc" -eq 99 ]; then
    skip "/etc/entrakey/config: no overlay mount here: $(cat "$T/ns.out")"
  else
    RC=$rc; OUT=$(cat "$T/ns.out")
    expect_rc "/etc/entrakey/config is read by default" 0
    expect_match "... and named" "$OUT" '^# from /etc/entrakey/config$'
  fi
  if [ -z "$had_etc" ]; then
    [ ! -e /etc/entrakey/config ] && pass "the machine's /etc is untouched" ||
      fail "the machine's /etc/entrakey/config appeared"
  fi
fi

finish
