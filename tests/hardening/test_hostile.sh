#!/usr/bin/env bash
# A hostile environment: an unreadable, malformed or misplaced config file;
# $HOME and the XDG variables unset; a read-only working directory;
# arguments that are not UTF-8; very long arguments; a module that crashes
# inside C_Initialize. Each must end in a clear sentence and a documented
# exit code, never a crash, a hang, partial output or a key made for
# nothing; and what does not need the missing thing must still work.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
source "$EK_SOURCE_DIR/tests/hardening/lib.sh"
: "${EKFAULT_SO:?run through ctest (the fault module)}"
ulimit -c 0
e2e_setup
CID=(--client-id "$CLIENT_ID")
PF=(--pin-source "file:$PIN_FILE")
EP=(--authority-host "$AUTH" --ca-file "$CA_PEM")
NOCAP=()
if [ "$(id -u)" -eq 0 ]; then
  # root reads and writes anything: drop that for the permission cases
  command -v setpriv >/dev/null || { fail "setpriv (util-linux) is needed as root"; finish; }
  NOCAP=(setpriv --bounding-set=-dac_override,-dac_read_search --)
fi
CONF="$XDG_CONFIG_HOME/entrakey/config"
mkdir -p "$(dirname "$CONF")"
expect_absent() { [ ! -e "$2" ] && pass "$1" || fail "$1: $2 exists"; }

# sane NAME: the last run did not crash (no signal), printed nothing on
# stdout, and said one "entrakey..." sentence first on stderr
sane() {
  if [ "$RC" -ge 128 ]; then fail "$1: killed by signal $((RC - 128))"; return; fi
  [ -z "$OUT" ] && pass "$1: nothing on stdout" || fail "$1: stdout: $(printf '%s' "$OUT" | head -c 200)"
  expect_match "$1: an entrakey sentence on stderr" "$(printf '%s\n' "$ERR" | head -1)" '^entrakey'
}

# --------------------------------------------------------- config files
profile_ok() { # a good profile 'p' in $CONF
  printf '[profile p]\nkey = %s\ntenant = %s\nclient_id = %s\nauthority_host = %s\nca_file = %s\npin_source = file:%s\n' \
    "$KEY_URI" "$TENANT" "$CLIENT_ID" "$AUTH" "$CA_PEM" "$PIN_FILE" > "$CONF"
  chmod 600 "$CONF"
}
profile_ok
run "$EK" token --profile p
expect_rc "a good profile works" 0

chmod 000 "$CONF"
run "${NOCAP[@]}" "$EK" token --profile p
expect_rc "unreadable config: exit 7 (file)" 7
expect_match "... names the file and errno" "$ERR" "cannot open '$CONF': Permission denied"
sane "unreadable config"
run "${NOCAP[@]}" "$EK" token "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${EP[@]}" "${PF[@]}"
expect_rc "unreadable config: token without --profile still works" 0
chmod 600 "$CONF"

printf '[profile p]\ntenant = %s\nthis is not ini\n' "$TENANT" > "$CONF"
run "$EK" token --profile p
expect_rc "malformed config: exit 2" 2
expect_match "... names the file and line 3" "$ERR" "config $CONF line 3: not understood"
sane "malformed config"
printf '\xff\xfe\x00[profile\n' > "$CONF"
run "$EK" profile list
expect_rc "binary config: exit 2" 2
expect_match "... says it is not text" "$ERR" 'line 1: a NUL byte; this is not a text file'
printf '[profile p]\nkye = x\n' > "$CONF"
run "$EK" token --profile p
expect_rc "a misspelt key: exit 2" 2
expect_match "... names it and lists the known keys" "$ERR" "line 2: unknown key 'kye' \\(known: tenant, client_id"
run "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${PF[@]}"
expect_rc "a malformed config does not stop assert" 0
head -c 3000000 /dev/zero | tr '\0' '#' > "$CONF"
run timeout 20 "$EK" profile list
expect_match "a 3 MB config: a clear refusal or an empty list, no hang" "$RC" '^(0|2|7)$'
[ "$RC" -ne 0 ] && sane "a 3 MB config"
rm -f "$CONF"; mkdir "$CONF"
run "$EK" token --profile p
expect_rc "config is a directory: exit 7" 7
expect_match "... says so" "$ERR" "'$CONF' is not a regular file"
rmdir "$CONF"
profile_ok

# a file named by an option that is not there: the sentence intact
run "$EK" token "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${PF[@]}" \
  --authority-host "$AUTH" --ca-file "$T/no-such-ca.pem"
expect_rc "a missing --ca-file: exit 7" 7
expect_match "... says it cannot open that file, and why" "$ERR" \
  "^entrakey: the CA file: cannot open '$T/no-such-ca.pem': No such file or directory; give a PEM file"

# --------------------------------------------------- HOME and XDG unset
NOHOME=(env -u HOME -u XDG_CONFIG_HOME -u XDG_DATA_HOME)
run "${NOHOME[@]}" "$EK" token --profile p
expect_rc "no HOME, a profile asked for: exit 2" 2
expect_match "... says which variables and what to do" "$(tr '\n' ' ' <<< "$ERR")" 'neither XDG_CONFIG_HOME nor HOME is set.*give --config FILE'
sane "no HOME, --profile"
run "${NOHOME[@]}" "$EK" token --profile p --config "$CONF"
expect_rc "no HOME, --config FILE: works" 0
run "${NOHOME[@]}" "$EK" token "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${EP[@]}" "${PF[@]}"
expect_rc "no HOME, no profile: token works" 0
run "${NOHOME[@]}" "$EK" exec "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${EP[@]}" "${PF[@]}" -- true
expect_rc "no HOME: exec works" 0
run "${NOHOME[@]}" "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${PF[@]}"
expect_rc "no HOME: assert works" 0
run "${NOHOME[@]}" "$EK" profile add q --tenant "$TENANT"
expect_rc "no HOME: profile add: exit 2" 2
sane "no HOME, profile add"
run "${NOHOME[@]}" "$EK" quickstart
expect_rc "no HOME: quickstart: exit 7 (no place for its files)" 7
expect_match "... says to set XDG_DATA_HOME or HOME" "$ERR" 'neither XDG_DATA_HOME nor HOME is set'
sane "no HOME, quickstart"
run env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME=relative/home "$EK" quickstart
expect_rc "a relative HOME: quickstart refuses" 7
expect_match "... says an absolute path is needed" "$ERR" 'absolute path'
expect_absent "... and made nothing under the relative path" "$T/relative"

# ----------------------------------------------- a read-only directory
RO="$T/ro"
mkdir -p "$RO"; chmod 555 "$RO"
on_exit "chmod 755 $RO"
cd "$RO" || exit 1
run "${NOCAP[@]}" "$EK" cert create "$KEY_URI" --subject CN=ro --out ro.cer --no-store "${PF[@]}"
expect_rc "cert create in a read-only directory: exit 7" 7
expect_match "... names the file and the directory" "$ERR" "cannot write 'ro.cer': '.' is not writable"
sane "cert create, read-only directory"
run "$EK" keys "pkcs11:token=$TOKEN_LABEL" "${PF[@]}"
before=$(printf '%s\n' "$OUT" | grep -c '^key ')
run "${NOCAP[@]}" "$EK" init "pkcs11:token=$TOKEN_LABEL" --label rok --subject CN=rok "${PF[@]}"
expect_rc "init in a read-only directory: exit 7" 7
expect_match "... and no key was made" "$ERR" 'no key was made'
run "$EK" keys "pkcs11:token=$TOKEN_LABEL" "${PF[@]}"
expect_match "... indeed: the token has as many keys as before" "$(printf '%s\n' "$OUT" | grep -c '^key ')" "^$before\$"
run "${NOCAP[@]}" "$EK" cert csr "$KEY_URI" --subject CN=x --out x.csr "${PF[@]}"
expect_rc "cert csr in a read-only directory: exit 7" 7
run "${NOCAP[@]}" "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${PF[@]}"
expect_rc "assert in a read-only directory works" 0
run "${NOCAP[@]}" "$EK" token "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${EP[@]}" "${PF[@]}"
expect_rc "token in a read-only directory works" 0
expect_match "nothing was left in the read-only directory" "$(ls -A "$RO" | wc -l)" '^0$'
cd "$T" || exit 1

# --------------------------------------------- arguments that are not UTF-8
run "$EK" assert "$KEY_URI" --tenant $'con\xfftoso.com' "${CID[@]}" "${PF[@]}"
expect_rc "a tenant that is not UTF-8: exit 2" 2
expect_match "... says what a tenant is" "$ERR" 'is not a GUID or a domain name'
run "$EK" assert "$KEY_URI" --tenant "$TENANT" --client-id $'\xff\xfe' "${PF[@]}"
expect_rc "a client id that is not UTF-8: exit 2" 2
sane "client id not UTF-8"
run "$EK" assert $'pkcs11:token=e2\xffe;object=app' --tenant "$TENANT" "${CID[@]}" "${PF[@]}"
expect_rc "a key URI with a raw 0xFF byte: exit 3 (no such token)" 3
expect_match "... lists the tokens there are" "$ERR" "the tokens there are: '$TOKEN_LABEL'"
run "$EK" cert create "$KEY_URI" --subject $'CN=\xff\xfe' --out bad.cer "${PF[@]}"
expect_rc "a subject that is not UTF-8: exit 2" 2
expect_match "... says invalid UTF-8" "$ERR" 'invalid utf8string'
expect_absent "... and wrote no file" "$T/bad.cer"
run "$EK" keygen "pkcs11:token=$TOKEN_LABEL" --label $'bad\xfflabel' "${PF[@]}"
expect_rc "a key label that is not UTF-8 (CKA_LABEL is UTF-8): exit 2" 2
expect_match "... says UTF-8" "$ERR" 'UTF-8'
run "$EK" profile add $'p\xff' --tenant "$TENANT"
expect_rc "a profile name that is not UTF-8: exit 2" 2
run "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${PF[@]}" --alg $'PS\xff'
expect_rc "--alg not UTF-8: exit 2" 2
run "$EK" $'\xff\xfe'
expect_rc "a command name not UTF-8: exit 2" 2
run "$EK" exec "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${EP[@]}" "${PF[@]}" -- printf '%s' $'\xff\xfe\x01'
expect_match "exec passes the child's non-UTF-8 arguments untouched" "$(od -An -tx1 "$T/out" | tr -d ' ')" '^fffe01$'
# a key another tool made with a label that is not UTF-8: --json stays JSON
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$TOKEN_LABEL" --login --pin "$TEST_PIN" \
  --keypairgen --key-type rsa:2048 --id 7f --label $'raw\xfflabel' --usage-sign \
  --sensitive --private >/dev/null 2>&1 || fail "pkcs11-tool could not make the key"
run "$EK" keys "pkcs11:token=$TOKEN_LABEL" "${PF[@]}" --json
expect_rc "keys --json with a non-UTF-8 label on the token" 0
"$PY" -c 'import json,sys; json.loads(open(sys.argv[1],"rb").read())' "$T/out" 2>/dev/null &&
  pass "... the output is valid JSON (UTF-8)" || fail "... the output is not valid UTF-8 JSON"

# ------------------------------------------------------ very long arguments
L=$(head -c 100000 /dev/zero | tr '\0' a)
long() { # long NAME CODES TAIL-REGEX CMD...: exit in CODES (a regex), the
  # sentence intact up to its end (what to do), no crash, nothing on stdout
  local name=$1 code=$2 tail=$3; shift 3
  run timeout 30 "$@"
  expect_match "$name: exit $code" "$RC" "^($code)\$"
  sane "$name"
  [ -n "$tail" ] && expect_match "$name: the sentence still says what to do" "$ERR" "$tail"
}
long "a 100 kB key URI" 3 'the private keys there are' \
  "$EK" assert "pkcs11:token=$TOKEN_LABEL;object=$L" --tenant "$TENANT" "${CID[@]}" "${PF[@]}"
long "a 100 kB tenant" 2 'is not a GUID or a domain name: it is longer than a domain name can be' \
  "$EK" assert "$KEY_URI" --tenant "$L.com" "${CID[@]}" "${PF[@]}"
long "a 100 kB client id" 2 'a GUID such as 11111111-2222-3333-4444-555555555555' \
  "$EK" assert "$KEY_URI" --tenant "$TENANT" --client-id "$L" "${PF[@]}"
long "a 100 kB authority host" 2 'authority' \
  "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${PF[@]}" --authority-host "https://$L.com"
long "a 100 kB --cert path" 7 '' \
  "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${PF[@]}" --cert "/$L"
long "a 100 kB PIN file path" 4 'check the PIN source' \
  "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" --pin-source "file:/$L"
long "a 100 kB PIN variable name" 4 'give another PIN source' \
  "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" --pin-source "env:$L"
long "a 100 kB module path" 2 '' \
  "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${PF[@]}" --module "/$L.so"
long "a 100 kB subject" 2 '' \
  "$EK" cert create "$KEY_URI" --subject "CN=$L" --out long.cer "${PF[@]}"
long "a 100 kB label" 2 '--label' \
  "$EK" keygen "pkcs11:token=$TOKEN_LABEL" --label "$L" "${PF[@]}"
# the test endpoint echoes the scope into the token: over the 64 KiB cap
long "a 100 kB scope" '5|6' '' \
  "$EK" token "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${EP[@]}" "${PF[@]}" --scope "https://x/$L"
long "a 100 kB profile name" 2 '' "$EK" profile add "$L" --tenant "$TENANT"
long "a 100 kB --config path" 7 '' "$EK" token --profile p --config "/$L"
long "a 100 kB --lifetime" 2 '' \
  "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" "${PF[@]}" --lifetime "$L"
big=$(head -c 100000 /dev/zero | tr '\0' b) # one string is at most 128 kB
export EK_HD_BIGPIN=$big
long "a 100 kB PIN in the environment" 4 'longer than 256 bytes' \
  "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" --pin-source env:EK_HD_BIGPIN
unset EK_HD_BIGPIN
printf '%s%s\n' "$big" "$big" > "$T/bigpin"; chmod 600 "$T/bigpin"
long "a 200 kB PIN file" 4 'more than 256 bytes' \
  "$EK" assert "$KEY_URI" --tenant "$TENANT" "${CID[@]}" --pin-source "file:$T/bigpin"
run "$EK" tokens --json
expect_match "an over-long PIN is never tried: the token's PIN count is not low" "$(printf '%s' "$OUT" | "$PY" -c '
import json, sys
t = [t for t in json.load(sys.stdin)["tokens"] if t["label"] == sys.argv[1]][0]
print(t.get("flags", {}).get("pin_count_low"))' "$TOKEN_LABEL")" '^(False|None)$'

# ----------------------------------------- a module crashing in C_Initialize
# tests/fault/test_crash.sh covers tokens and keys; here the commands that
# sign and exchange: the process dies by the module's signal (entrakey
# catches none), and with -v the last line before the crash names the
# module, so the crash is seen to be the module's
MOD=$(basename "$EKFAULT_SO")
for cmd in "assert $KEY_URI --tenant $TENANT --client-id $CLIENT_ID" \
           "token $KEY_URI --tenant $TENANT --client-id $CLIENT_ID --authority-host $AUTH --ca-file $CA_PEM" \
           "keygen pkcs11:token=$TOKEN_LABEL --label crash"; do
  name=${cmd%% *}
  # shellcheck disable=SC2086
  run env EKFAULT="C_Initialize=abort" EKFAULT_MODULE="$SOFTHSM_MODULE" timeout 30 \
    "$EK" -v $cmd --module "$EKFAULT_SO" "${PF[@]}"
  expect_rc "$name: a module aborting in C_Initialize kills the process (SIGABRT)" 134
  expect_match "$name: nothing on stdout" "[$OUT]" '^\[\]$'
  expect_match "$name: -v named the module before calling into it" \
    "$(printf '%s\n' "$ERR" | grep '^entrakey' | tail -2)" "$MOD"
  expect_nomatch "$name: entrakey does not blame itself" "$ERR" 'internal error|entrakey bug'
done
finish
