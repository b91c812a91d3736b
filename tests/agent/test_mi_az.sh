# Debian's az CLI (2.45, msrestazure: api-version 2017-09-01 with the
# secret header) runs `az login --identity` in a child of `exec
# --managed-identity`: the endpoint's token (verified assertion at the
# loopback token endpoint), then ARM's /subscriptions, which the test
# endpoint answers through the CONNECT proxy as management.azure.com only
# for a token whose audience is ARM.
EK_TEST_NETNS=1 # its own loopback: nothing leaves the machine
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

command -v az >/dev/null || { fail "az is needed (azure-cli, scripts/dev.sh)"; finish; }
unset IDENTITY_ENDPOINT IDENTITY_HEADER MSI_ENDPOINT MSI_SECRET \
  APPSETTING_WEBSITE_SITE_NAME AZURE_CLIENT_ID AZURE_TENANT_ID \
  AZURE_AUTHORITY_HOST ENTRAKEY_AGENT_SOCK
e2e_setup --lifetime 280
start_proxy
SUB=8e1f5a2c-3b4d-4e6f-9a0b-1c2d3e4f5a6b # server.py's TEST_SUBSCRIPTION
APP=(--tenant "$TENANT" --client-id "$CLIENT_ID" --authority-host "$AUTH"
  --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE")
# az: its own config directory, no telemetry; ARM through the proxy with
# the test CA; the endpoint on 127.0.0.1 directly
export AZURE_CONFIG_DIR="$T/az" AZURE_CORE_COLLECT_TELEMETRY=no \
  AZURE_CORE_NO_COLOR=1 HTTPS_PROXY="$PROXY" https_proxy="$PROXY" \
  NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
  REQUESTS_CA_BUNDLE="$CA_PEM"

control '{}'
run timeout 120 "$EK" exec --managed-identity "$KEY_URI" "${APP[@]}" -- \
  az login --identity --output json
expect_rc "az login --identity in a child of exec --managed-identity" 0
"$PY" - "$OUT" "$SUB" "$TENANT_ID" <<'PY' && pass "... lists the subscription ARM answered, as the system-assigned identity" || fail "az said: $OUT $ERR"
import json, sys
d = json.loads(sys.argv[1])
assert d[0]["id"] == sys.argv[2] and d[0]["tenantId"] == sys.argv[3], d
u = d[0]["user"]
assert u["name"] == "systemAssignedIdentity" and u["type"] == "servicePrincipal", d
PY
[ "$(stats '[r["status"] for r in s["arm_requests"]]')" = "[200]" ] &&
  pass "ARM was asked once, with an ARM token" || fail "ARM: $(stats 's["arm_requests"]')"
[ "$(stats 's["token_requests"]')" = 1 ] &&
  [ "$(stats 's["requests"][0]["scope"]')" = "https://management.core.windows.net/.default" ] &&
  pass "one POST (for management.core.windows.net/.default), though az asked the endpoint twice" ||
  fail "POSTs: $(stats '[r.get("scope") for r in s["requests"]]')"
grep -q "connect management.azure.com:443\|management.azure.com" "$PROXY_LOG" &&
  pass "ARM reached as management.azure.com through the proxy" || fail "proxy log: $(cat "$PROXY_LOG")"

# ARM checks the audience: a Graph token is refused
graph=$(tok --scope https://graph.microsoft.com/.default >/dev/null; stats 's["issued"][-1]')
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA_PEM" -x "$PROXY" \
  -H "Authorization: Bearer $graph" \
  "https://management.azure.com/subscriptions?api-version=2022-12-01")
expect_match "the test ARM refuses a token for Graph" "$code" '^401$'

# the allow-list holds: with --resource graph, az's ARM request is refused
control '{}'
rm -rf "$AZURE_CONFIG_DIR"
run timeout 120 "$EK" exec --managed-identity --resource graph "$KEY_URI" "${APP[@]}" -- \
  az login --identity --output json
[ "$RC" != 0 ] && [ "$(stats 's["token_requests"]')" = 0 ] &&
  pass "exec --managed-identity --resource graph: az's ARM request refused, nothing posted" ||
  fail "rc $RC, $(stats 's["token_requests"]') POSTs: $ERR"
expect_match "... az says the endpoint refused" "$ERR" '400|Bad Request|not one this endpoint serves'
finish
