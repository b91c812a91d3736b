#!/usr/bin/env bash
# Which libcurl `entrakey token` posts with (src/http_dl.c): entrakey's own
# HTTPS-only build (libentrakey-curl.so.4 beside libentrakey, from
# scripts/lean-curl.sh) when the build has one; the system's libcurl.so.4
# with a proxy in the environment, with ENTRAKEY_LIBCURL=system, or in a
# build without it. Both verify the server's certificate and its name.
# Its own calls bind to itself even when a program has the system's
# libcurl loaded. And the direct path of token runs the whole command
# inside the client's own process (entrakey-full.so), saying each thing
# once.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
unset NO_PROXY no_proxy ENTRAKEY_LIBCURL
e2e_setup

if grep -q '^EK_AGENT_CURL:PATH=.' "$EK_BUILD_DIR/CMakeCache.txt"; then
  own=1
  OWN_RE="libcurl: .*/libentrakey-curl\.so\.4 \(entrakey's own, HTTPS only\)"
else
  own=0
fi
# the loader's trace would name the libraries loaded
loaded() { printf '%s\n' "$ERR" | grep -E "file=[^ ]*($1)[^ ]* \[" >/dev/null; }
# a sanitizer or valgrind build loads its own runtime; what is loaded
# beside it is the same
heavy='libcurl\.so\.4|libgnutls|libldap|libssh2|libnghttp2|librtmp|libgssapi'

# 1. by default: entrakey's own, when the build has it
tok -v
expect_rc "token (-v)" 0
if [ "$own" = 1 ]; then
  expect_match "-v names entrakey's own libcurl" "$ERR" "$OWN_RE"
  LD_DEBUG=files tok
  expect_rc "token (loader trace)" 0
  loaded 'libentrakey-curl\.so\.4' && pass "libentrakey-curl.so.4 is loaded" ||
    fail "libentrakey-curl.so.4 is not loaded"
  loaded "$heavy" && fail "a library of the system's libcurl is loaded: $(printf '%s\n' "$ERR" | grep -Eom1 "file=[^ ]*($heavy)[^ ]*")" ||
    pass "nothing of the system's libcurl (GnuTLS, LDAP, SSH, nghttp2...) is loaded"
else
  expect_match "-v: the system's (a build without its own)" "$ERR" \
    "libcurl: the system's libcurl\.so\.4 \(built without entrakey's own\)"
fi

# 1b. a program that has the system's libcurl.so.4 loaded (here through
# LD_PRELOAD, as a program linked with it and with libentrakey would):
# entrakey's own binds its curl_* calls to itself (-Bsymbolic), so the
# two never mix (without it, curl_easy_perform called the system's
# curl_multi_* with its own handles, and the process crashed)
syscurl=$(lib_path libcurl.so.4)
if nm -D "$EK" 2>/dev/null | grep -q __asan_init; then
  # AddressSanitizer wants its runtime first in the list of libraries
  skip "the system's libcurl preloaded: not in a sanitizer build"
elif [ "$own" = 1 ] && [ -n "$syscurl" ]; then
  LD_PRELOAD=$syscurl tok -v
  expect_rc "with the system's libcurl already loaded: a token" 0
  expect_match "... through entrakey's own" "$ERR" "$OWN_RE"
  [ "$OUT" = "$(stats 's["issued"][-1]')" ] && pass "... the issued one" ||
    fail "... not the issued token"
fi

# 2. ENTRAKEY_LIBCURL=system
ENTRAKEY_LIBCURL=system tok -v
expect_rc "ENTRAKEY_LIBCURL=system: token" 0
if [ "$own" = 1 ]; then
  expect_match "... with the system's libcurl, and why" "$ERR" \
    "libcurl: the system's libcurl\.so\.4 \(ENTRAKEY_LIBCURL=system\)"
  ENTRAKEY_LIBCURL=system LD_DEBUG=files tok
  loaded 'libcurl\.so\.4' && pass "... which is loaded" || fail "libcurl.so.4 not loaded"
  loaded 'libentrakey-curl' && fail "... and entrakey's own too" ||
    pass "... and entrakey's own is not"
fi
# another value (a misspelt "system") is said, without -v too, and the
# default is used: a choice not understood is never taken for one
ENTRAKEY_LIBCURL=sytem tok -v
expect_rc "ENTRAKEY_LIBCURL with another value: the default" 0
[ "$own" = 1 ] && expect_match "... entrakey's own" "$ERR" "$OWN_RE"
ENTRAKEY_LIBCURL=sytem tok
expect_rc "ENTRAKEY_LIBCURL=sytem, without -v: a token" 0
expect_match "... and a warning that names the value" "$ERR" \
  "warning: ENTRAKEY_LIBCURL='sytem' is not understood, and is ignored: its one value is 'system'"
[ "$OUT" = "$(stats 's["issued"][-1]')" ] && pass "... the issued token on stdout alone" ||
  fail "... stdout is not the issued token: $OUT"
# said once per process: not again at the retry of a 500
control '{"actions": ["json500"]}'
ENTRAKEY_LIBCURL=sytem tok
expect_rc "ENTRAKEY_LIBCURL=sytem, a 500 then a token: a token" 0
n=$(printf '%s\n' "$ERR" | grep -c "ENTRAKEY_LIBCURL='sytem' is not understood")
[ "$n" = 1 ] && pass "... the warning said once, not at the retry" ||
  fail "... the warning said $n times: $ERR"
expect_match "... and the retry was made" "$ERR" "answered HTTP 500; trying once more"
control '{}'
ENTRAKEY_LIBCURL= tok
expect_rc "ENTRAKEY_LIBCURL empty: a token" 0
[ -z "$ERR" ] && pass "... and nothing said" || fail "... stderr: $ERR"
tok
[ -z "$ERR" ] && pass "unset: nothing said" || fail "unset: stderr: $ERR"

# 3. a proxy in the environment: the system's libcurl, through the proxy
start_proxy
for var in HTTPS_PROXY https_proxy ALL_PROXY; do
  : > "$PROXY_LOG"
  run env "$var=$PROXY" "$EK" -v token "$KEY_URI" --tenant "$TENANT" \
    --client-id "$CLIENT_ID" --authority-host https://login.microsoftonline.com \
    --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE"
  expect_rc "$var: a token through the CONNECT proxy" 0
  expect_match "... the tunnel went through it" "$(cat "$PROXY_LOG")" 'login\.microsoftonline\.com:443'
  expect_match "... with the system's libcurl, and -v says why" "$ERR" \
    "libcurl: the system's libcurl\.so\.4 \(($var is set; proxies go through it|built without entrakey's own)\)"
done
run env HTTPS_PROXY= "$EK" -v token "$KEY_URI" --tenant "$TENANT" \
  --client-id "$CLIENT_ID" --authority-host "$AUTH" --ca-file "$CA_PEM" \
  --pin-source "file:$PIN_FILE"
expect_rc "an empty HTTPS_PROXY is no proxy" 0
[ "$own" = 1 ] && expect_match "... entrakey's own" "$ERR" "$OWN_RE"

# 4. the server's name is checked by both: a second endpoint whose
# certificate (from the same CA) is for another name than 127.0.0.1
d="$T/other"
mkdir -p "$d"
openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.csr" \
  -subj "/CN=elsewhere.invalid" 2>/dev/null &&
  printf '%s\n' "subjectAltName=DNS:elsewhere.invalid" "extendedKeyUsage=serverAuth" \
    > "$d/server.ext" &&
  openssl x509 -req -in "$d/server.csr" -CA "$T/ca/ca.pem" -CAkey "$T/ca/ca.key" \
    -CAcreateserial -days 2 -out "$d/server.pem" -extfile "$d/server.ext" 2>/dev/null ||
  { echo "openssl could not make the other certificate"; exit 1; }
"$PY" "$E2E_DIR/server.py" --tls-cert "$d/server.pem" --tls-key "$d/server.key" \
  --tenant "$TENANT" --client-id "$CLIENT_ID" --cert "$CERT" \
  --port-file "$d/port" --lifetime 120 2>"$d/log" &
OTHER_PID=$!
on_exit stop_other
stop_other() { stop_pid OTHER_PID; }
for _ in $(seq 100); do [ -s "$d/port" ] && break; sleep 0.1; done
[ -s "$d/port" ] || { echo "the second endpoint did not start:"; cat "$d/log"; exit 1; }
for which in default system; do
  if [ "$which" = system ]; then export ENTRAKEY_LIBCURL=system; fi
  run "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "https://127.0.0.1:$(cat "$d/port")" --ca-file "$CA_PEM" \
    --pin-source "file:$PIN_FILE"
  expect_rc "$which libcurl: a certificate for another name: exit 6" 6
  expect_match "... TLS, and curl's reason names the name" "$ERR" \
    "TLS with https://127\.0\.0\.1:[0-9]+/.* failed: .*(subject name|match).*CURLE_PEER_FAILED_VERIFICATION"
  unset ENTRAKEY_LIBCURL
done

# 5. the direct path runs in the client's process: the loader starts one
# program (an exec would start a second), which loads entrakey-full.so
LD_DEBUG=files tok
expect_rc "token, direct" 0
n=$(printf '%s\n' "$ERR" | grep -c 'initialize program:')
[ "$n" -eq 1 ] && pass "one program started (no exec of entrakey-full)" ||
  fail "$n programs started"
loaded 'entrakey-full\.so' && pass "entrakey-full.so is loaded into entrakey" ||
  fail "entrakey-full.so is not loaded"
[ "$OUT" = "$(stats 's["issued"][-1]')" ] && pass "... and prints the issued token" ||
  fail "... the output is not the issued token"
# what the client said before the hand-over is not said again, and what
# the whole command says is said once
run "$EK" token "pkcs11:token=$TOKEN_LABEL;object=nosuch;type=private" \
  --tenant "$TENANT" --client-id "$CLIENT_ID" --authority-host "$AUTH" \
  --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE"
expect_rc "no such key: exit 3" 3
n=$(printf '%s\n' "$ERR" | grep -c 'nosuch')
[ "$n" -eq 1 ] && pass "... said once" || fail "... said $n times: $ERR"
finish
