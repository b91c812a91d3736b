#!/usr/bin/env bash
# docs/exchange-online.md §4 "The assertion for other tools": the MSAL
# Python and azure-identity snippets run as written (taken from the doc
# itself), with `entrakey assert --profile contoso`, against the test
# token endpoint posing as login.microsoftonline.com:443 in private mount
# and network namespaces (its own loopback and /etc/hosts). The az CLI
# line runs too: `az login --service-principal --federated-token` with
# Debian's az, which then lists subscriptions from Azure Resource Manager
# (server.py answers /subscriptions as management.azure.com:443, for an
# ARM token only).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"

DOC="$EK_SOURCE_DIR/docs/exchange-online.md"
HOST=login.microsoftonline.com
APP=11111111-2222-3333-4444-555555555555 # the doc's client id
[ "$CLIENT_ID" = "$APP" ] || { fail "lib.sh's CLIENT_ID is not the doc's"; finish; }

if [ "$(id -u)" -ne 0 ] || ! unshare -m -n true 2>/dev/null; then
  skip "the doc's snippets: need root for mount and network namespaces"
  finish
fi
/usr/bin/python3 -c 'import msal, azure.identity' 2>/dev/null ||
  { fail "python3-msal and python3-azure are needed (scripts/dev.sh)"; finish; }

# the snippets, from the doc: each ```python block of section 4
awk '/^## 4\./{s=1; next} /^## /{s=0} s && /^```python/{b++; p=1; next}
     s && /^```/{p=0; next} p {print > (dir "/snippet" b ".py")}' \
  dir="$T" "$DOC"
[ -s "$T/snippet1.py" ] && [ -s "$T/snippet2.py" ] ||
  { fail "section 4 of the doc has no two python blocks"; finish; }
# the second block uses the first's assertion(); each prints its token
{ cat "$T/snippet1.py"; echo 'print("msal:", result.get("access_token", result))'; } > "$T/doc_msal.py"
{ sed -n '/^def assertion/,/^$/p;/^import/p' "$T/snippet1.py"; cat "$T/snippet2.py"
  echo 'print("azure-identity:", token.token)'; } > "$T/doc_azid.py"
# the az line: the second ```sh block of section 4
awk '/^## 4\./{s=1; next} /^## /{s=0} s && /^```sh/{b++; p=(b==2); next}
     s && /^```/{p=0; next} p {print > (dir "/doc_az.sh")}' dir="$T" "$DOC"
grep -q '^az login' "$T/doc_az.sh" 2>/dev/null ||
  { fail "section 4 of the doc has no az login block"; finish; }
command -v az >/dev/null || { fail "az is needed (azure-cli, scripts/dev.sh)"; finish; }

# the token, key and certificate; the endpoint's certificate also names
# login.microsoftonline.com
fresh_token e2e
TOKEN_LABEL=e2e
make_key app
make_ca
openssl req -newkey rsa:2048 -nodes -keyout "$T/ca/host.key" -out "$T/ca/host.csr" \
  -subj "/CN=$HOST" 2>/dev/null &&
printf '%s\n' "subjectAltName=DNS:$HOST,DNS:management.azure.com,IP:127.0.0.1" "extendedKeyUsage=serverAuth" > "$T/ca/host.ext" &&
openssl x509 -req -in "$T/ca/host.csr" -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" \
  -CAcreateserial -days 2 -out "$T/ca/host.pem" -extfile "$T/ca/host.ext" 2>/dev/null ||
  { fail "openssl could not make the host certificate"; finish; }

# the profile the doc names: the real login host, this test's CA
mkdir -p "$T/bin"
ln -s "$EK" "$T/bin/entrakey"
run "$EK" profile add contoso --key "$KEY_URI" --tenant contoso.onmicrosoft.com \
  --client-id "$APP" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE"
expect_rc "profile add contoso" 0

printf '127.0.0.1 localhost %s management.azure.com\n' "$HOST" > "$T/hosts"
cat > "$T/ns.sh" <<'NS'
set -u
mount --bind "$T/hosts" /etc/hosts || exit 99
ip link set lo up || exit 99
/usr/bin/python3 "$E2E_DIR/server.py" --tls-cert "$T/ca/host.pem" \
  --tls-key "$T/ca/host.key" --tenant contoso.onmicrosoft.com --tenant "$TENANT_ID" \
  --client-id "$CLIENT_ID" --cert "$CERT" --port 443 --host "$HOST" \
  --port-file "$T/ns.port" --lifetime 120 2>"$T/ns.server.log" &
for i in $(seq 100); do [ -s "$T/ns.port" ] && break; sleep 0.1; done
export PATH="$T/bin:$PATH" REQUESTS_CA_BUNDLE="$CA_PEM"
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY AZURE_AUTHORITY_HOST
cd "$T"
/usr/bin/python3 "$T/doc_msal.py" > "$T/msal.out" 2> "$T/msal.err"; echo $? > "$T/msal.rc"
/usr/bin/python3 "$T/doc_azid.py" > "$T/azid.out" 2> "$T/azid.err"; echo $? > "$T/azid.rc"
AZURE_CONFIG_DIR="$T/az" AZURE_CORE_COLLECT_TELEMETRY=no timeout 120 \
  bash "$T/doc_az.sh" > "$T/az.out" 2> "$T/az.err"; echo $? > "$T/az.rc"
kill %1
NS
T=$T E2E_DIR=$E2E_DIR CA_PEM=$CA_PEM TENANT_ID=$TENANT_ID CERT=$CERT CLIENT_ID=$CLIENT_ID HOST=$HOST \
  unshare -m -n bash "$T/ns.sh"
if [ $? -eq 99 ]; then
  skip "the doc's snippets: no bind mount or loopback in a namespace here"
  finish
fi

RC=$(cat "$T/msal.rc"); OUT=$(cat "$T/msal.out"); ERR=$(cat "$T/msal.err")
expect_rc "MSAL Python, as the doc writes it" 0
expect_match "... gets the endpoint's access token" "$OUT" '^msal: eyJ'
RC=$(cat "$T/azid.rc"); OUT=$(cat "$T/azid.out"); ERR=$(cat "$T/azid.err")
expect_rc "azure-identity, as the doc writes it" 0
expect_match "... gets the endpoint's access token" "$OUT" '^azure-identity: eyJ'
RC=$(cat "$T/az.rc"); OUT=$(cat "$T/az.out"); ERR=$(cat "$T/az.err")
expect_rc "az login --federated-token, as the doc writes it" 0
expect_match "... lists the subscription the test ARM answered" "$OUT" '"id": "8e1f5a2c-3b4d-4e6f-9a0b-1c2d3e4f5a6b"'
expect_match "... as the app (a service principal)" "$OUT" '"name": "11111111-2222-3333-4444-555555555555"'
finish
