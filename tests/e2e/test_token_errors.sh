#!/usr/bin/env bash
# `entrakey token` when Entra ID says no: an unregistered certificate, a
# wrong tenant or app id, an expired certificate, a clock far from the
# server's. Each says what failed, the AADSTS text and what to do, with the
# documented exit code, and none is retried.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup

count() { stats 's["token_requests"]'; }

# a second key whose certificate is not registered at the endpoint
first_uri=$KEY_URI first_cert=$CERT
make_key other
other_uri=$KEY_URI
KEY_URI=$first_uri CERT=$first_cert

control '{}'
run "$EK" token "$other_uri" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE"
expect_rc "unregistered certificate: exit 5" 5
expect_match "... Entra's words: invalid_client, AADSTS700027" "$ERR" '^entrakey: Entra ID refused the token request \(HTTP 401 invalid_client: .*\): AADSTS700027: Client assertion failed signature validation'
expect_match "... the hint: upload the .cer, compare the thumbprint" "$ERR" 'upload the \.cer to the app registration.*the one of the certificate on the token'
expect_match "... the codes and the trace for support" "$ERR" '\[error_codes 700027; trace ID [0-9a-f-]{36}; correlation ID [0-9a-f-]{36}\]'
expect_match "... not retried: 1 request" "$(count)" '^1$'
expect_nomatch "... no output on stdout" "$OUT" '.'

control '{}'
tok --tenant fabrikam.onmicrosoft.com
expect_rc "wrong tenant: exit 5" 5
expect_match "... AADSTS90002 with the tenant/cloud hint" "$ERR" "invalid_request.*AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found.*check the tenant .* and the cloud"
expect_match "... a 400 is never retried: 1 request" "$(count)" '^1$'

control '{}'
tok --client-id 99999999-8888-7777-6666-555555555555
expect_rc "wrong client id: exit 5" 5
expect_match "... AADSTS700016 with the app id hint" "$ERR" 'unauthorized_client.*AADSTS700016.*check the client id'
expect_match "... 1 request" "$(count)" '^1$'

# An expired certificate: a certificate for the same key (the public key of
# the one entrakey made), valid for a few seconds, registered at the
# endpoint. While valid it works; once expired, entrakey refuses it before
# asking Entra ID, which would refuse it anyway (AADSTS700027 "The key used
# is expired", as the server self-test shows).
"$PY" - "$CERT" "$T/short.pem" <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
app = x509.load_der_x509_certificate(open(sys.argv[1], "rb").read())
issuer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "short-lived")])
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(app.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(seconds=6))
        .sign(issuer_key, hashes.SHA256()))
open(sys.argv[2], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
PY
stop_server
start_server --cert "$CERT" --cert "$T/short.pem"
tok --cert "$T/short.pem"
expect_rc "a short-lived certificate, still valid: a token" 0
expect_match "... the endpoint saw its thumbprint" "$(stats 's["requests"][-1]["status"]')" '^200$'
sleep 7
control '{}'
tok --cert "$T/short.pem"
expect_rc "the same certificate, expired: exit 9" 9
expect_match "... says it expired" "$ERR" 'expired'
expect_match "... refused before any request" "$(count)" '^0$'

# a server clock 20 minutes ahead of ours (what a slow local clock looks
# like from the server): the assertion is refused as outside its time
# window, and the skew, from the server's Date header, is said once: in
# the error sentence, with no warning besides it
control '{"clock_offset": 1200}'
tok
expect_rc "clock 20 minutes behind: exit 5" 5
expect_match "... AADSTS700024, check the clock, with the skew" "$ERR" "AADSTS700024: Client assertion is not within its valid time range.*check this machine's clock.*This machine's clock is 1[12][0-9][0-9] s behind the server's"
expect_nomatch "... no warning besides the sentence" "$ERR" "warning:.*clock"
expect_match "... the skew said once" "$(printf '%s\n' "$ERR" | grep -o '[0-9]* s behind' | wc -l)" '^1$'
# a skew Entra still accepts (4 minutes) gets a token and one warning,
# even when the endpoint answered three times (two throttled answers
# before the token)
control '{"clock_offset": 240, "actions": ["throttle", "throttle"], "retry_after": "1"}'
tok
expect_rc "clock 4 minutes behind: a token" 0
expect_match "... a warning names the skew and the host" "$ERR" "warning: this machine's clock is 2[34][0-9] s behind 127\.0\.0\.1:$PORT's \(HTTP Date\).*AADSTS700024"
expect_match "... once, after 3 answers" "$(count) $(printf '%s\n' "$ERR" | grep -c "clock is")" '^3 1$'
# a small skew is within Entra's tolerance and goes unmentioned
control '{"clock_offset": 30}'
tok
expect_rc "clock 30 s off: a token" 0
expect_nomatch "... no clock warning" "$ERR" 'clock'

# libcurl is opened at the first request (src/http_dl.c): the system's
# (ENTRAKEY_LIBCURL=system here) missing, or a library in its place that
# lacks libcurl's functions, token says which. Its file is replaced for
# that one command, in a mount namespace of its own: /dev/null (cannot be
# loaded), then libz (no curl_*). entrakey's own (libentrakey-curl.so.4,
# when the build has it) broken the same way: the system's is used, and
# -v says why.
# tok_curl_as LIBFILE REPLACEMENT [NAME=VALUE | -v]...
tok_curl_as() {
  local lib=$1 repl=$2 envs=() opts=() a
  shift 2
  for a; do case $a in -v) opts+=(-v) ;; *) envs+=("$a") ;; esac; done
  with_lib_as "$lib" "$repl" env "${envs[@]}" "$EK" "${opts[@]}" token \
    "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE"
}
curl=$(lib_path libcurl.so.4)
zlib=$(lib_path libz.so.1)
own=$EK_BUILD_DIR/libentrakey-curl.so.4
if [ -z "$curl" ] || [ -z "$zlib" ] || ! can_hide_lib; then
  skip "token without libcurl: no mount namespace to hide it in"
else
  tok_curl_as "$curl" /dev/null ENTRAKEY_LIBCURL=system
  expect_rc "token without libcurl: exit 1" 1
  expect_match "... names the library and why" "$ERR" \
    '^entrakey: libcurl cannot be initialised: libcurl\.so\.4 cannot be loaded: .*libcurl\.so\.4: file too short'
  tok_curl_as "$curl" "$zlib" ENTRAKEY_LIBCURL=system
  expect_rc "token with a libcurl lacking curl_*: exit 1" 1
  expect_match "... names the function and the version needed" "$ERR" \
    '^entrakey: libcurl cannot be initialised: libcurl\.so\.4 has no curl_global_init \(libcurl 7\.84 or later is needed\)'
  if [ -e "$own" ]; then
    tok_curl_as "$own" /dev/null -v
    expect_rc "entrakey's own libcurl cannot be loaded: a token all the same" 0
    expect_match "... through the system's, and -v says why" "$ERR" \
      "libcurl: the system's libcurl\.so\.4 \(.*libentrakey-curl\.so\.4: .*file too short"
    tok_curl_as "$own" "$zlib" -v
    expect_rc "entrakey's own libcurl lacks curl_*: a token all the same" 0
    expect_match "... through the system's, and -v says why" "$ERR" \
      "libcurl: the system's libcurl\.so\.4 \(.*libentrakey-curl\.so\.4: a symbol is missing\)"
  else
    skip "entrakey's own libcurl broken: this build has none"
  fi
fi

finish
