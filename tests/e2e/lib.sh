# lib.sh: end-to-end helpers, sourced after tests/lib/common.sh: a test CA
# and server certificate made with openssl, the loopback token endpoint
# (server.py) with its control file and counters, and a key with a
# certificate on the test's SoftHSM token made by entrakey itself.

TENANT=contoso.onmicrosoft.com
TENANT_ID=72f988bf-86f1-41af-91ab-2d7cd011db47 # the same tenant, as a GUID
CLIENT_ID=11111111-2222-3333-4444-555555555555
E2E_DIR="$EK_SOURCE_DIR/tests/e2e"

# The names the server certificate holds besides 127.0.0.1 and localhost:
# the clouds' login hosts and Azure Resource Manager, reached through
# connect_proxy.py (start_proxy).
E2E_HOSTS="login.microsoftonline.com login.microsoftonline.us login.chinacloudapi.cn management.azure.com"

# make_ca: a test CA and a server certificate for 127.0.0.1, ::1, localhost
# and $E2E_HOSTS, in $T/ca (the test's own copy: it may sign more with the
# CA's key). Sets CA_PEM. Made once a day for all the tests under
# $EK_TEST_TMP, not two RSA keys for each of some 35 tests a run: the
# first test that needs it makes it in a directory of its own and renames
# that into place; a test that loses that race uses the winner's. Valid
# for two days.
make_ca() {
  local d="$T/ca" shared tmp
  shared="$EK_TEST_TMP/shared-ca.$(date -u +%Y%m%d)"
  if [ ! -s "$shared/server.pem" ]; then
    tmp=$(mktemp -d "$EK_TEST_TMP/.shared-ca.XXXXXX")
    _make_ca "$tmp" || { rm -rf "$tmp"; exit 1; }
    mv -T "$tmp" "$shared" 2>/dev/null || rm -rf "$tmp"
  fi
  mkdir -p "$d"
  cp "$shared/ca.key" "$shared/ca.pem" "$shared/server.key" \
    "$shared/server.pem" "$d/" ||
    { echo "cannot copy the test CA from $shared"; exit 1; }
  CA_PEM="$d/ca.pem"
}
# _make_ca DIR: make_ca's files, made in DIR.
_make_ca() {
  local d=$1
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" \
    -out "$d/ca.pem" -days 2 -subj "/CN=entrakey e2e test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$d/log" &&
  openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" \
    -out "$d/server.csr" -subj "/CN=127.0.0.1" 2>>"$d/log" &&
  local san="IP:127.0.0.1,IP:::1,DNS:localhost" h
  for h in $E2E_HOSTS; do san="$san,DNS:$h"; done
  printf '%s\n' "subjectAltName=$san" \
    "basicConstraints=CA:FALSE" "extendedKeyUsage=serverAuth" \
    "keyUsage=digitalSignature,keyEncipherment" > "$d/server.ext" &&
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
    -CAcreateserial -days 2 -out "$d/server.pem" \
    -extfile "$d/server.ext" 2>>"$d/log" ||
    { echo "openssl could not make the test CA:"; cat "$d/log"; return 1; }
}

# start_server [server.py options...]: starts the token endpoint (knowing
# $TENANT and $TENANT_ID, and $CLIENT_ID) and waits until it listens. Sets
# PORT, AUTH (https://127.0.0.1:PORT) and CONTROL; stops it on exit.
start_server() {
  local d="$T/srv" i
  [ -n "${CA_PEM:-}" ] || make_ca
  mkdir -p "$d"
  rm -f "$d/port"
  CONTROL="$d/control.json"
  : > "$CONTROL"
  "$PY" "$E2E_DIR/server.py" --tls-cert "$T/ca/server.pem" \
    --tls-key "$T/ca/server.key" --tenant "$TENANT" --tenant "$TENANT_ID" \
    --client-id "$CLIENT_ID" --port-file "$d/port" --control "$CONTROL" \
    --lifetime 280 "$@" 2>"$d/log" &
  SERVER_PID=$!
  on_exit stop_server
  for i in $(seq 100); do
    [ -s "$d/port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null ||
      { echo "the test token endpoint died:"; cat "$d/log"; exit 1; }
    sleep 0.1
  done
  [ -s "$d/port" ] || { echo "the test token endpoint did not start"; exit 1; }
  PORT=$(cat "$d/port")
  AUTH="https://127.0.0.1:$PORT"
}

# start_proxy: a CONNECT proxy that takes every tunnel to the endpoint
# (connect_proxy.py). Sets PROXY (http://127.0.0.1:PORT) and PROXY_LOG.
start_proxy() {
  local d="$T/proxy" i
  mkdir -p "$d"
  PROXY_LOG="$d/connects"
  : > "$PROXY_LOG"
  "$PY" "$E2E_DIR/connect_proxy.py" --target "$PORT" --port-file "$d/port" \
    --log "$PROXY_LOG" --lifetime 280 2>"$d/log" &
  PROXY_PID=$!
  on_exit stop_proxy
  for i in $(seq 100); do
    [ -s "$d/port" ] && break
    sleep 0.1
  done
  [ -s "$d/port" ] || { echo "the CONNECT proxy did not start:"; cat "$d/log"; exit 1; }
  PROXY="http://127.0.0.1:$(cat "$d/port")"
}

stop_proxy() { stop_pid PROXY_PID; }

stop_server() { stop_pid SERVER_PID; }

# server_get PATH: GET from the endpoint (TLS verified against the test CA
# alone, never via a proxy, no curlrc). curl rather than Python's urllib:
# it is called some hundreds of times a run, and starts in a tenth of the
# CPU time.
server_get() {
  curl -q -fsS --max-time 10 --noproxy '*' --cacert "$CA_PEM" "$AUTH$1"
}

# control JSON: what the endpoint does next (see server.py); counters reset.
control() {
  printf '%s\n' "$1" > "$CONTROL"
  server_get /_reset >/dev/null || { echo "cannot reset the endpoint"; exit 1; }
}

# stats EXPR: a Python expression over the endpoint's /_stats dict 's'.
stats() {
  server_get /_stats | "$PY" -c \
    'import json, sys; s = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# make_key LABEL: a key made with `entrakey keygen` on the test token, and
# its certificate made with `entrakey cert create` (stored on the token and
# written to $T/LABEL.cer). Sets KEY_URI and CERT.
make_key() {
  local label=$1
  KEY_URI="pkcs11:token=$TOKEN_LABEL;object=$label;type=private"
  CERT="$T/$label.cer"
  run "$EK" keygen "pkcs11:token=$TOKEN_LABEL" --label "$label" \
    --pin-source "file:$PIN_FILE"
  [ "$RC" -eq 0 ] || { echo "entrakey keygen failed: $ERR"; exit 1; }
  run "$EK" cert create "$KEY_URI" --subject "CN=entrakey e2e $label" \
    --out "$CERT" --pin-source "file:$PIN_FILE"
  [ "$RC" -eq 0 ] || { echo "entrakey cert create failed: $ERR"; exit 1; }
}

# e2e_setup [server.py options...]: a fresh token with one key ("app") and
# its certificate, and the endpoint with that certificate registered.
e2e_setup() {
  TOKEN_LABEL=e2e
  fresh_token "$TOKEN_LABEL"
  make_key app
  make_ca
  start_server --cert "$CERT" "$@"
}

# tok [options...]: `entrakey token` on the app key against the endpoint.
tok() {
  run "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --ca-file "$CA_PEM" \
    --pin-source "file:$PIN_FILE" "$@"
}

# SIGIGN_CHILD: a command that prints its own ignored-signal mask; then
# expect_sigpipe_default WHAT checks in $OUT that SIGPIPE (13) is not
# ignored (entrakey ignores it itself; an ignored signal would stay
# ignored in the programs it runs, and their pipelines rely on it).
SIGIGN_CHILD=(sh -c 'grep "^SigIgn:" /proc/self/status')
expect_sigpipe_default() {
  local m
  m=$(printf '%s\n' "$OUT" | awk '/^SigIgn:/ {print $2; exit}')
  if [ -z "$m" ]; then
    fail "$1: no SigIgn line from the child (rc $RC): $ERR"
  elif (( (16#$m >> 12) & 1 )); then
    fail "$1: the child starts with SIGPIPE ignored (SigIgn $m)"
  else
    pass "$1: the child starts with SIGPIPE at its default"
  fi
}
