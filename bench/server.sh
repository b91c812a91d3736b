# server.sh: sourced by bench/run.sh. Starts the e2e tests' loopback token
# endpoint (tests/e2e/server.py) with a test CA of its own.
#
# start_server DIR TENANT CLIENT-ID CERT...: makes DIR/ca.pem (the CA to
# trust) and a server certificate for 127.0.0.1, registers each CERT on the
# app, starts the server, and sets PORT and SERVER_PID. The server exits by
# itself after 15 minutes; run.sh kills it at exit. It runs with TCP_NODELAY
# (bench/nodelay.py says why).
start_server() {
  local dir=$1 tenant=$2 client=$3 i
  shift 3
  local certs=()
  for i in "$@"; do certs+=(--cert "$i"); done
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" \
    -out "$dir/ca.pem" -subj "/CN=entrakey bench CA" -days 2 \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null ||
    die "openssl cannot make the test CA"
  openssl req -newkey rsa:2048 -nodes -keyout "$dir/server.key" \
    -out "$dir/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null ||
    die "openssl cannot make the server key"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" \
    -CAkey "$dir/ca.key" -CAcreateserial -days 2 -extfile "$dir/server.ext" \
    -out "$dir/server.pem" 2>/dev/null || die "openssl cannot sign the server certificate"
  rm -f "$dir/port"
  "${RTPRIO[@]}" "$PY" "$SRC/bench/nodelay.py" "$SRC/tests/e2e/server.py" \
    --tls-cert "$dir/server.pem" \
    --tls-key "$dir/server.key" --tenant "$tenant" --client-id "$client" \
    "${certs[@]}" --port-file "$dir/port" --lifetime 900 \
    >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 100); do
    [ -s "$dir/port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null ||
      { cat "$dir/server.log" >&2; die "the token endpoint did not start"; }
    sleep 0.1
  done
  [ -s "$dir/port" ] || die "the token endpoint did not start within 10 s"
  PORT=$(cat "$dir/port")
}
