#!/usr/bin/env bash
# Profiles: `entrakey profile add|show|list|remove`, the file they write,
# and `entrakey token --profile` with the precedence options > environment
# > profile, checked at the endpoint (which tenant, scope, host it saw).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup

CFG="$XDG_CONFIG_HOME/entrakey/config"
seen() { stats "s['requests'][-1]['$1']"; }
tokp() { run "$EK" token --profile prod "$@"; }

run "$EK" profile add prod --key "$KEY_URI" --tenant "$TENANT_ID" \
  --client-id "$CLIENT_ID" --authority-host "$AUTH" --ca-file "$CA_PEM" \
  --pin-source "file:$PIN_FILE" --scope "https://graph.microsoft.com/.default" \
  --organization contoso.onmicrosoft.com
expect_rc "profile add" 0
expect_match "... says where" "$OUT" "^profile 'prod' added in $CFG"
expect_match "the file is 0600" "$(stat -c %a "$CFG")" '^600$'
expect_match "its directory is 0700" "$(stat -c %a "$(dirname "$CFG")")" '^700$'
expect_match "the file has the section and the keys" "$(tr '\n' ' ' < "$CFG")" "\[profile prod\] tenant = $TENANT_ID client_id = $CLIENT_ID "
run "$EK" profile list
expect_match "profile list" "$OUT" '^prod$'
run "$EK" profile show prod --json
run "$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["name"], d["tenant"], d["pin_source"])' "$OUT"
expect_match "profile show --json" "$OUT" "^prod $TENANT_ID file:$PIN_FILE\$"
run "$EK" profile show prod
expect_match "profile show" "$(printf '%s' "$OUT" | tr '\n' ' ')" "^\[profile prod\] tenant = $TENANT_ID client_id = $CLIENT_ID key = "

# everything from the profile: key, tenant, client id, host, CA, PIN source
control '{}'
tokp
expect_rc "token --profile prod alone" 0
expect_match "... the profile's tenant" "$(seen tenant)" "^$TENANT_ID\$"
expect_match "... the profile's scope" "$(seen scope)" '^https://graph.microsoft.com/.default$'
tokp --format powershell --resource exo
expect_match "... the profile's organization" "$OUT" "-Organization 'contoso.onmicrosoft.com'\$"

# the environment beats the profile; an option beats both
AZURE_TENANT_ID=$TENANT tokp
expect_rc "AZURE_TENANT_ID over the profile" 0
expect_match "... the environment's tenant" "$(seen tenant)" "^$TENANT\$"
AZURE_TENANT_ID=$TENANT tokp --tenant "$TENANT_ID"
expect_match "--tenant over AZURE_TENANT_ID" "$(seen tenant)" "^$TENANT_ID\$"
AZURE_CLIENT_ID=99999999-8888-7777-6666-555555555555 tokp
expect_rc "AZURE_CLIENT_ID over the profile (a wrong one): Entra refuses" 5
expect_match "... AADSTS700016" "$ERR" 'AADSTS700016'
AZURE_CLIENT_ID=99999999-8888-7777-6666-555555555555 tokp --client-id "$CLIENT_ID"
expect_rc "--client-id over AZURE_CLIENT_ID" 0
dead=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AZURE_AUTHORITY_HOST="https://127.0.0.1:$dead" tokp --timeout 2
expect_rc "AZURE_AUTHORITY_HOST over the profile (nothing there)" 6
AZURE_AUTHORITY_HOST="https://127.0.0.1:$dead" tokp --authority-host "$AUTH"
expect_rc "--authority-host over AZURE_AUTHORITY_HOST" 0
tokp --resource exo
expect_match "--resource over the profile's scope" "$(seen scope)" '^https://outlook.office365.com/.default$'

# the module: ENTRAKEY_MODULE beats the profile, --module beats both
run "$EK" profile add prod --force --module /nonexistent/pkcs11.so
expect_rc "profile add --force changes a setting" 0
expect_match "... says updated, and what" "$(printf '%s' "$OUT" | tr '\n' ' ')" "^profile 'prod' updated in $CFG +module = /nonexistent/pkcs11.so$"
tokp
expect_rc "ENTRAKEY_MODULE over the profile's module" 0
(unset ENTRAKEY_MODULE; tokp; echo "$RC" > "$T/rc"; printf '%s' "$ERR" > "$T/e")
RC=$(cat "$T/rc"); ERR=$(cat "$T/e")
expect_rc "without ENTRAKEY_MODULE, the profile's module is used" 3
expect_match "... and named" "$ERR" '/nonexistent/pkcs11\.so'
(unset ENTRAKEY_MODULE; tokp --module "$SOFTHSM_MODULE"; echo "$RC" > "$T/rc")
RC=$(cat "$T/rc")
expect_rc "--module over the profile's module" 0

# the PIN source: the option beats the profile
tokp --pin-source env:EK_NO_SUCH_PIN_VAR
expect_rc "--pin-source over the profile's" 4

# the file keeps what the user wrote
sed -i '1i # my own note' "$CFG"
run "$EK" profile add prod --alg RS256
expect_rc "profile add on an existing profile, without --force" 8
expect_match "... says it exists, --force" "$ERR" "profile 'prod' exists in $CFG.*--force"
run "$EK" profile add prod --alg RS256 --force
expect_match "the user's comment is kept" "$(head -1 "$CFG")" '^# my own note$'
tokp
expect_match "... and alg from the profile" "$(seen alg)" '^RS256$'
run "$EK" profile add dev --cloud mars
expect_rc "a bad cloud: usage" 2
expect_match "... names the choices" "$ERR" "cloud 'mars' is not one of global, usgov, usgov-dod, china"
run "$EK" profile add dev
expect_rc "profile add without settings: usage" 2

# a hand-edited mistake names its line
printf '[profile broken]\ntenant = x\ntennant = y\n' >> "$CFG"
lines=$(wc -l < "$CFG")
tokp
expect_rc "an unknown key in the file: exit 2" 2
expect_match "... the file, the line, the key, the known keys" "$ERR" "config $CFG line $lines: unknown key 'tennant' \(known: tenant, client_id"
sed -i '$d' "$CFG"
run "$EK" token --profile nope
expect_rc "no such profile: exit 2" 2
expect_match "... says so" "$ERR" "no profile 'nope' in $CFG"
run "$EK" token --profile prod --config "$T/missing.conf"
expect_rc "a missing --config file: exit 2" 2
expect_match "... says so" "$ERR" "config file '$T/missing.conf' does not exist"

run "$EK" profile remove broken
expect_rc "profile remove" 0
run "$EK" profile list --json
expect_match "profile list --json" "$(printf '%s' "$OUT" | tr -d ' \n\t')" '^\["prod"\]$'

finish
