#!/usr/bin/env bash
# Profiles: `entrakey profile add|show|list|remove`, the file they write,
# and `entrakey token|assert --profile` with the precedence options > a
# named profile > environment > the default profile, checked at the
# endpoint (which tenant, scope, host it saw) and in the assertion.
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
expect_match "profile show: the file, then the profile" "$(printf '%s' "$OUT" | tr '\n' ' ')" "^# from $CFG \[profile prod\] tenant = $TENANT_ID client_id = $CLIENT_ID key = "

# everything from the profile: key, tenant, client id, host, CA, PIN source
control '{}'
tokp
expect_rc "token --profile prod alone" 0
expect_match "... the profile's tenant" "$(seen tenant)" "^$TENANT_ID\$"
expect_match "... the profile's scope" "$(seen scope)" '^https://graph.microsoft.com/.default$'
tokp --format powershell --resource exo
expect_match "... the profile's organization" "$OUT" "-Organization 'contoso.onmicrosoft.com'\$"

# a named profile beats the environment (Azure VMs and AKS set AZURE_*
# for their own identity); an option beats both
AZURE_TENANT_ID=$TENANT tokp
expect_rc "the named profile over AZURE_TENANT_ID" 0
expect_match "... the profile's tenant" "$(seen tenant)" "^$TENANT_ID\$"
AZURE_TENANT_ID=$TENANT_ID tokp --tenant "$TENANT"
expect_match "--tenant over the profile" "$(seen tenant)" "^$TENANT\$"
AZURE_CLIENT_ID=99999999-8888-7777-6666-555555555555 tokp
expect_rc "the named profile over AZURE_CLIENT_ID (a wrong one)" 0
ENTRAKEY_PROFILE=prod AZURE_CLIENT_ID=99999999-8888-7777-6666-555555555555 run "$EK" token
expect_rc "ENTRAKEY_PROFILE names a profile, over AZURE_CLIENT_ID" 0
tokp --client-id 99999999-8888-7777-6666-555555555555
expect_rc "--client-id over the profile: Entra refuses the wrong one" 5
expect_match "... AADSTS700016" "$ERR" 'AADSTS700016'
expect_nomatch "... no word about the environment, which it did not use" "$ERR" 'AZURE_CLIENT_ID'
dead=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AZURE_AUTHORITY_HOST="https://127.0.0.1:$dead" tokp --timeout 2
expect_rc "the named profile over AZURE_AUTHORITY_HOST" 0
tokp --authority-host "https://127.0.0.1:$dead" --timeout 2
expect_rc "--authority-host over the profile (nothing there)" 6
tokp --resource exo
expect_match "--resource over the profile's scope" "$(seen scope)" '^https://outlook.office365.com/.default$'

# -v says where each value came from
AZURE_TENANT_ID=$TENANT tokp -v --client-id "$CLIENT_ID"
expect_match "-v: the profile and its file" "$ERR" "entrakey: profile prod from $CFG \(named by --profile\)"
expect_match "-v: the tenant from the profile" "$ERR" "entrakey: tenant = $TENANT_ID \(from profile prod in $CFG\)"
expect_match "-v: the client id from the option" "$ERR" "entrakey: client_id = $CLIENT_ID \(from --client-id\)"
expect_match "-v: the PIN source's origin, not its value" "$ERR" "entrakey: pin_source = \(not shown\) \(from profile prod"
expect_nomatch "-v: ... and never its value" "$ERR" "$PIN_FILE"

# the module: the named profile's beats ENTRAKEY_MODULE, --module beats both
run "$EK" profile add prod --force --module /nonexistent/pkcs11.so
expect_rc "profile add --force changes a setting" 0
expect_match "... says updated, and what" "$(printf '%s' "$OUT" | tr '\n' ' ')" "^profile 'prod' updated in $CFG +module = /nonexistent/pkcs11.so$"
tokp
expect_rc "the named profile's module over ENTRAKEY_MODULE" 3
expect_match "... and named" "$ERR" '/nonexistent/pkcs11\.so'
tokp --module "$SOFTHSM_MODULE"
expect_rc "--module over the profile's module" 0

# the PIN source: the option beats the profile
tokp --module "$SOFTHSM_MODULE" --pin-source env:EK_NO_SUCH_PIN_VAR
expect_rc "--pin-source over the profile's" 4
run "$EK" profile add prod --force --module "$SOFTHSM_MODULE"

# the default profile: the last level, below the environment
run "$EK" profile add default --key "$KEY_URI" --tenant "$TENANT" \
  --client-id "$CLIENT_ID" --authority-host "$AUTH" --ca-file "$CA_PEM" \
  --pin-source "file:$PIN_FILE"
expect_rc "profile add default" 0
run "$EK" token
expect_rc "no profile named: the default profile" 0
expect_match "... its tenant" "$(seen tenant)" "^$TENANT\$"
expect_match "... its scope (exo, as it names none)" "$(seen scope)" '^https://outlook.office365.com/.default$'
AZURE_TENANT_ID=$TENANT_ID run "$EK" token -v
expect_rc "AZURE_TENANT_ID over the default profile" 0
expect_match "... the environment's tenant" "$(seen tenant)" "^$TENANT_ID\$"
expect_match "-v: from the environment" "$ERR" "entrakey: tenant = $TENANT_ID \(from environment AZURE_TENANT_ID\)"
expect_match "-v: from the default profile" "$ERR" "entrakey: client_id = $CLIENT_ID \(from default profile in $CFG\)"
AZURE_CLIENT_ID=99999999-8888-7777-6666-555555555555 run "$EK" token
expect_rc "AZURE_CLIENT_ID over the default profile (a wrong one): Entra refuses" 5
expect_match "... AADSTS700016" "$ERR" 'AADSTS700016'
expect_match "... and the hint says the client id came from the environment" "$ERR" 'note: the client id 99999999-8888-7777-6666-555555555555 came from AZURE_CLIENT_ID in the environment.*--profile'
ENTRAKEY_PROFILE=prod run "$EK" token
expect_rc "ENTRAKEY_PROFILE over the default profile" 0
expect_match "... the named profile's scope" "$(seen scope)" '^https://graph.microsoft.com/.default$'
ENTRAKEY_PROFILE=nope run "$EK" token
expect_rc "ENTRAKEY_PROFILE naming no profile: exit 2" 2
expect_match "... says so" "$ERR" "no profile 'nope' in $CFG"

# assert takes the same options and the same precedence
claims() { "$PY" -c 'import base64, json, sys
p = sys.argv[1].split(".")[1]; d = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
print(d["iss"], d["aud"])' "$OUT"; }
AUD="$AUTH/%s/oauth2/v2.0/token"
run "$EK" assert --profile prod
expect_rc "assert --profile" 0
expect_match "... the profile's client id and tenant" "$(claims)" "^$CLIENT_ID $AUTH/$TENANT_ID/oauth2/v2.0/token\$"
AZURE_TENANT_ID=$TENANT run "$EK" assert --profile prod
expect_match "assert: the named profile over the environment" "$(claims)" "^$CLIENT_ID $AUTH/$TENANT_ID/oauth2/v2.0/token\$"
AZURE_TENANT_ID=$TENANT run "$EK" assert --profile prod --tenant other.example
expect_match "assert: an option over the profile" "$(claims)" " $AUTH/other.example/oauth2/v2.0/token\$"
AZURE_TENANT_ID=$TENANT_ID run "$EK" assert
expect_match "assert: the environment over the default profile" "$(claims)" " $AUTH/$TENANT_ID/oauth2/v2.0/token\$"
run "$EK" assert
expect_match "assert: the default profile" "$(claims)" "^$CLIENT_ID $AUTH/$TENANT/oauth2/v2.0/token\$"
run "$EK" assert --profile prod --config "$CFG" --ca-file "$CA_PEM" --timeout 5
expect_rc "assert takes --config, --ca-file, --timeout like token" 0
run "$EK" profile remove default
run "$EK" profile add prod --alg RS256 --force
tokp
expect_match "... alg from the profile" "$(seen alg)" '^RS256$'

# the file keeps what the user wrote
sed -i '1i # my own note' "$CFG"
run "$EK" profile add prod --alg RS256
expect_rc "profile add on an existing profile, without --force" 8
expect_match "... says it exists, --force" "$ERR" "profile 'prod' exists in $CFG.*--force"
run "$EK" profile add prod --alg PS256 --force
expect_match "the user's comment is kept" "$(head -1 "$CFG")" '^# my own note$'
tokp
expect_match "... and alg from the profile" "$(seen alg)" '^PS256$'
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
