# setup.sh: sourced by bench/run.sh and bench/agent.sh: what both need
# before they measure. Not part of the product.
#
#   bench_build BUILD-DIR   entrakey (Release, without the tests, with the
#                           lean libcurl of scripts/lean-curl.sh) and the
#                           bench programs; sets EK and BIN
#   bench_token DIR         a fresh SoftHSM token in DIR with an RSA 2048
#                           key and its certificate made by entrakey, and
#                           MSAL's software key; sets KEY and exports the
#                           environment (SOFTHSM2_CONF, HOME, XDG_*)
#   bench_endpoint DIR      the loopback token endpoint (bench/server.sh),
#                           both certificates registered; sets AUTH
#   bench_mechanism DIR     the mechanism `entrakey -v assert` signs with;
#                           sets MECH and FLOOR_MODE (floor.c's MODE)
# The caller sets SRC and defines say and die; RTPRIO may be set (-R).
PY=/usr/bin/python3 # Debian's, where python3-msal lives
MODULE=/usr/lib/softhsm/libsofthsm2.so
TENANT=contoso.onmicrosoft.com
CLIENT=11111111-2222-3333-4444-555555555555
SCOPE=https://outlook.office365.com/.default
PIN=123456

bench_build() {
  local build=$1 cflags curl
  # the lean static libcurl the client reaches the agent with, from the
  # cache scripts/dev.sh uses (made there once if missing)
  curl=${EK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/entrakey}/lean-curl
  "$SRC/scripts/lean-curl.sh" "$curl" ||
    die "scripts/lean-curl.sh cannot make the lean libcurl in $curl"
  say "building entrakey (Release) in $build"
  cmake -S "$SRC" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DEK_AGENT_CURL="$curl" \
    >"$build.cmake.log" 2>&1 || { cat "$build.cmake.log" >&2; die "cmake failed"; }
  rm -f "$build.cmake.log"
  cmake --build "$build" -j"$(nproc)" --target entrakey_cli >/dev/null ||
    die "the build failed (run: cmake --build $build)"
  EK=$build/entrakey
  BIN=$build/bench
  mkdir -p "$BIN"
  cflags="-O2 -g -Wall -Wextra -Werror -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
  # shellcheck disable=SC2086
  cc $cflags -o "$BIN/timeit" "$SRC/bench/timeit.c"
  # shellcheck disable=SC2086,SC2046
  cc $cflags $(pkg-config --cflags p11-kit-1 libcurl) -o "$BIN/floor" \
    "$SRC/bench/floor.c" -lcrypto -lcurl -ldl
  # shellcheck disable=SC2086
  cc $cflags -I"$SRC/include" -o "$BIN/throughput" "$SRC/bench/throughput.c" \
    -L"$build" -lentrakey -Wl,-rpath,"$build"
  # shellcheck disable=SC2086
  cc $cflags -pthread -o "$BIN/agent_load" "$SRC/bench/agent_load.c"
  printf 'int main(void) { return 0; }\n' > "$BIN/empty.c"
  cc -O2 -o "$BIN/empty" "$BIN/empty.c"
}

bench_token() {
  local t=$1
  mkdir -p "$t/tokens" "$t/home" "$t/run"
  chmod 700 "$t/run"
  cat > "$t/softhsm2.conf" <<CONF
directories.tokendir = $t/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
  export SOFTHSM2_CONF=$t/softhsm2.conf
  export HOME=$t/home XDG_CONFIG_HOME=$t/home/.config \
    XDG_DATA_HOME=$t/home/.local/share XDG_RUNTIME_DIR=$t/run
  unset ENTRAKEY_MODULE AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_AUTHORITY_HOST \
    ENTRAKEY_AGENT_SOCK || true
  # requests lets REQUESTS_CA_BUNDLE override the verify= MSAL is given
  unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE || true
  softhsm2-util --init-token --free --label bench --pin "$PIN" \
    --so-pin 12345678 >/dev/null || die "softhsm2-util cannot make a token"
  printf '%s\n' "$PIN" > "$t/pin"
  chmod 600 "$t/pin"
  say "key and certificate on the token, made by entrakey"
  KEY="pkcs11:token=bench;object=bench-key;type=private"
  "$EK" --module "$MODULE" keygen "pkcs11:token=bench" --label bench-key \
    --bits 2048 --pin-source "file:$t/pin" >"$t/keygen.out" 2>&1 ||
    { cat "$t/keygen.out" >&2; die "entrakey keygen failed"; }
  "$EK" --module "$MODULE" cert create "$KEY" --subject "CN=entrakey bench" \
    --out "$t/ek.cer" --pem "$t/ek.pem" --pin-source "file:$t/pin" \
    >"$t/cert.out" 2>&1 || { cat "$t/cert.out" >&2; die "entrakey cert create failed"; }
  say "MSAL's software key and certificate (PEM files)"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$t/msal.key" \
    -out "$t/msal.pem" -subj "/CN=msal bench" -days 30 2>/dev/null ||
    die "openssl cannot make MSAL's key"
}

bench_endpoint() {
  say "starting the loopback token endpoint (tests/e2e/server.py)"
  # shellcheck source=bench/server.sh
  . "$SRC/bench/server.sh"
  start_server "$1" "$TENANT" "$CLIENT" "$1/ek.pem" "$1/msal.pem"
  AUTH=https://127.0.0.1:$PORT
}

bench_mechanism() {
  "$EK" -v --module "$MODULE" assert "$KEY" --tenant "$TENANT" \
    --client-id "$CLIENT" --no-agent --pin-source "file:$1/pin" \
    >/dev/null 2>"$1/mech.err" ||
    { cat "$1/mech.err" >&2; die "entrakey assert failed"; }
  # "signing with CKM_RSA_PKCS_PSS (PS256) on token 'bench'"
  MECH=$(sed -n 's/.*signing with \(CKM_[A-Z0-9_]*\).*/\1/p' "$1/mech.err" | tail -1)
  case $MECH in
    CKM_RSA_PKCS_PSS) FLOOR_MODE=pss ;;
    CKM_RSA_PKCS) FLOOR_MODE=pkcs1 ;;
    CKM_SHA256_RSA_PKCS_PSS) FLOOR_MODE=sha256-pss ;;
    CKM_SHA256_RSA_PKCS) FLOOR_MODE=sha256-pkcs1 ;;
    *) die "cannot tell from 'entrakey -v assert' which mechanism it used ('$MECH')" ;;
  esac
}
