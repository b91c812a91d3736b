#!/usr/bin/env bash
# `entrakey token` against the loopback endpoint: PS256 and RS256 tokens
# that the endpoint (python3-jwt) verified, the scope per resource and
# cloud, every output format, TLS always verified, and -v never showing the
# token or the PIN.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup

last() { stats "s['requests'][-1]$1"; }
issued() { stats 's["issued"][-1]'; }

# PS256 (the default): x5t#S256, no x5t
tok
expect_rc "PS256 token" 0
expect_match "raw: one JWT-shaped line" "$OUT" '^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
[ "$OUT" = "$(issued)" ] && pass "raw: the very token the endpoint issued" ||
  fail "raw output is not the issued token"
expect_match "the endpoint verified a PS256 assertion" "$(last '["alg"]')" '^PS256$'
expect_match "PS256 header: x5t#S256 only" "$(last '["header"]')" "^\['alg', 'typ', 'x5t#S256'\]$"
expect_match "claims aud exp iat iss jti nbf sub" "$(last '["claims"]')" "\['aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'sub'\]"
expect_match "default scope: Exchange Online" "$(last '["scope"]')" '^https://outlook.office365.com/.default$'
expect_match "User-Agent entrakey/VERSION" "$(last '["user_agent"]')" '^entrakey/[0-9]+\.[0-9]+\.[0-9]+$'
expect_match "form fields as Entra documents them" "$(last '["form_keys"]')" "\['client_assertion', 'client_assertion_type', 'client_id', 'grant_type', 'scope'\]"
expect_nomatch "nothing on stderr" "$ERR" '.'

tok --alg RS256
expect_rc "RS256 token" 0
expect_match "the endpoint verified an RS256 assertion" "$(last '["alg"]')" '^RS256$'
expect_match "RS256 header has x5t too" "$(last '["header"]')" "'x5t'"

# the resource picks the scope; the cloud picks the resource's host
tok --resource graph
expect_rc "--resource graph" 0
expect_match "graph scope" "$(last '["scope"]')" '^https://graph.microsoft.com/.default$'
tok --resource arm --format json
expect_match "arm scope" "$(last '["scope"]')" '^https://management.azure.com/.default$'
tok --cloud usgov
expect_rc "--cloud usgov with --authority-host" 0
expect_match "usgov: GCC High Exchange Online scope" "$(last '["scope"]')" '^https://outlook.office365.us/.default$'
tok --scope "api://my-api/.default"
expect_match "--scope as given" "$(last '["scope"]')" '^api://my-api/.default$'
tok --scope "api://x/.default" --resource graph
expect_rc "--scope and --resource together: usage" 2
tok --scope "https://graph.microsoft.com/User.Read"
expect_rc "a scope without /.default: Entra refuses" 5
expect_match "invalid_scope AADSTS1002012 with a hint" "$ERR" 'invalid_scope.*AADSTS1002012.*/\.default'
tok --cloud usgov --resource compliance
expect_rc "no known compliance scope in usgov" 2
expect_match "... says to give the scope" "$ERR" 'no known compliance scope in the usgov cloud; give the scope'

# json
tok --format json
expect_rc "--format json" 0
run "$PY" -c '
import json, sys, time
d = json.loads(sys.argv[1])
assert set(d) == {"access_token", "token_type", "expires_in", "expires_on", "scope", "resource", "tenant"}, d.keys()
assert d["token_type"] == "Bearer" and d["expires_in"] == 3599
assert abs(d["expires_on"] - (time.time() + 3599)) < 60, d["expires_on"]
assert d["scope"] == "https://outlook.office365.com/.default", d["scope"]
assert d["resource"] == "https://outlook.office365.com", d["resource"]
assert d["tenant"] == sys.argv[2] and d["access_token"] == sys.argv[3]
print("json ok")' "$OUT" "$TENANT" "$(issued)"
expect_match "json: the fields, the token, expires_on in epoch seconds" "$OUT" '^json ok$'
tok --json
expect_match "--json is --format json" "$OUT" '"token_type":'
tok --format json --scope "api://my-api/.default"
run "$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); print(d.get("scope"), d.get("resource", "missing"))' "$OUT"
expect_match "json: --scope: scope as given, resource without /.default" "$OUT" '^api://my-api/.default api://my-api$'

# env: sh reads it back
tok --format env
expect_rc "--format env" 0
run sh -c "$OUT"'
printf "%s|%s|%s|%s" "$ENTRAKEY_ACCESS_TOKEN" "$ENTRAKEY_TENANT" "$ENTRAKEY_EXPIRES_ON" "$ENTRAKEY_ORGANIZATION"'
expect_match "env: sh gets the token, tenant, expiry, organization" "$OUT" "^$(issued)\|$TENANT\|[0-9]{10}\|$TENANT\$"

# powershell
tok --format powershell
expect_rc "--format powershell" 0
expect_match "powershell: Connect-ExchangeOnline with the token and the tenant's domain" "$OUT" "^Connect-ExchangeOnline -AccessToken '$(issued)' -Organization '$TENANT'\$"
tok --format powershell --cloud usgov-dod
expect_match "powershell: DoD environment name" "$OUT" "-Organization '$TENANT' -ExchangeEnvironmentName O365USGovDoD\$"
run "$EK" token "$KEY_URI" --tenant "$TENANT_ID" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE" \
  --format powershell
expect_rc "powershell with a GUID tenant and no organization: usage" 2
expect_match "... asks for the onmicrosoft.com domain" "$ERR" '--organization.*onmicrosoft\.com'
run "$EK" token "$KEY_URI" --tenant "$TENANT_ID" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE" \
  --format powershell --organization contoso.onmicrosoft.com
expect_rc "GUID tenant with --organization" 0
expect_match "... -Organization from the option" "$OUT" "-Organization 'contoso.onmicrosoft.com'\$"
tok --format powershell --resource graph
expect_rc "powershell for a Graph token" 0
expect_match "... is the Connect-MgGraph line" "$OUT" "^Connect-MgGraph -AccessToken \\(ConvertTo-SecureString '$(issued)' -AsPlainText -Force\\)\$"
tok --format powershell --scope api://11111111-2222-3333-4444-555555555555/.default
expect_rc "powershell for a scope no module connects with: usage" 2
expect_match "... names the resources it knows" "$ERR" 'Exchange Online, Security & Compliance, Microsoft Graph or Azure'
tok --format yaml
expect_rc "unknown format: usage" 2

# TLS is always verified: without the test CA the endpoint is refused
run "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --pin-source "file:$PIN_FILE"
expect_rc "an unknown CA: exit 6" 6
expect_match "... TLS, curl's reason, the URL, the CA file" "$ERR" "TLS with $AUTH/$TENANT/oauth2/v2.0/token failed: .*(certificate|issuer).*CURLE_PEER_FAILED_VERIFICATION.*give its certificate \(PEM\) as the CA file"
# the name must match: localhost is in the certificate, 127.0.0.2 is not
run "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "https://localhost:$PORT" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE"
expect_rc "localhost (in the certificate's names)" 0
run "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "http://127.0.0.1:$PORT" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE"
expect_rc "http:// authority: usage" 2
expect_match "... HTTPS only" "$ERR" 'https:// URL'
printf 'not a certificate\n' > "$T/junk.pem"
tok --ca-file "$T/junk.pem"
expect_rc "a --ca-file without PEM certificates: exit 7" 7
expect_match "... says so" "$ERR" 'holds no PEM certificate'

# -v: the exchange is traced, secrets are not
tok -v
expect_rc "-v token" 0
token=$(issued)
expect_match "-v: the POST and the status are traced" "$ERR" "POST $AUTH/$TENANT/oauth2/v2.0/token .*client_assertion=\[redacted [0-9]+ bytes\]"
expect_match "-v: HTTP 200 with sizes" "$ERR" 'HTTP 200 from 127\.0\.0\.1:[0-9]+: application/json.*bytes'
case "$ERR" in
  *"$token"*) fail "-v: the access token appears on stderr" ;;
  *) pass "-v: the access token is not on stderr" ;;
esac
case "$ERR" in
  *"$TEST_PIN"*) fail "-v: the PIN appears on stderr" ;;
  *) pass "-v: the PIN is not on stderr" ;;
esac
expect_nomatch "-v: no assertion on stderr" "$ERR" 'eyJ[A-Za-z0-9_-]{20,}\.'

# environment fallbacks (AZURE_*, the Azure SDKs' names)
AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT_ID AZURE_AUTHORITY_HOST="127.0.0.1:$PORT" \
  run "$EK" token "$KEY_URI" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE"
expect_rc "AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST (bare host)" 0
run "$EK" token "$KEY_URI" --client-id "$CLIENT_ID" --pin-source "file:$PIN_FILE"
expect_rc "no tenant: usage" 2
expect_match "... names --tenant and AZURE_TENANT_ID" "$ERR" 'no tenant: give --tenant.*AZURE_TENANT_ID'
run "$EK" token --tenant "$TENANT" --client-id "$CLIENT_ID"
expect_rc "no key: usage" 2
tok --timeout 0
expect_rc "--timeout 0: usage" 2

finish
