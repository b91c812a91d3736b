# token, assert and exec use the agent by themselves, fall back to the
# direct path without it, and say which at -v.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

e2e_setup --lifetime 3600
start_agent || exit 1
LOG="$T/spy.log"

# via the agent: no PIN source given at all
etok() {
  run "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --ca-file "$CA_PEM" "$@"
}
control '{}'
etok -v
expect_rc "token via the agent" 0
expect_match "-v names the agent" "$ERR" "served by the agent at $SOCK"
T1=$OUT
etok
[ "$OUT" = "$T1" ] && pass "second token is the cached one" ||
  fail "second token differs"
[ "$(stats 's["token_requests"]')" = 1 ] && pass "one POST for two tokens" ||
  fail "POSTs: $(stats 's["token_requests"]')"
# a client served by the agent asks it through libcurl
# (CURLOPT_UNIX_SOCKET_PATH). With the static libcurl of HTTP only that
# the build links in (EK_AGENT_CURL, scripts/lean-curl.sh), it loads no
# library but the C library, cJSON and inih (linked in where its archive
# is): no system libcurl, OpenSSL, p11-kit, GnuTLS, libmicrohttpd or
# libsystemd (their loading was most of the client's time; see
# docs/performance.md), and it does not hand over to entrakey-full.
# Without it, the client opens the system's libcurl at the request.
LD_DEBUG=files etok
# (the loader's trace works: it names libc, which is always loaded)
T1_PROXY=$(http_proxy=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
  "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" --agent 2>&1)
[ "$T1_PROXY" = "$T1" ] && pass "a proxy in the environment is not used for the socket" ||
  fail "with http_proxy set: $T1_PROXY"
heavy='file=lib(curl|crypto|ssl|p11-kit|microhttpd|gnutls|systemd|entrakey)'
if [ -n "${EK_AGENT_CURL:-}" ]; then
  nm "$EK" > "$T/nm" 2>&1
  # libcurl's own code (its internal Curl_* functions), not http_dl.c's
  # forwarders to the system's
  grep -Eq ' [Tt] Curl_http_done$' "$T/nm" &&
    pass "the client has libcurl linked in" ||
    fail "the client has no libcurl of its own (EK_AGENT_CURL=$EK_AGENT_CURL)"
else
  grep -q 'file=libcurl\.so\.4 .*dynamically loaded by' "$T/err" &&
    pass "the client opens the system's libcurl (no EK_AGENT_CURL)" ||
    fail "the client did not open libcurl.so.4"
fi
# a sanitizer build keeps every section, so its client links them all
light=
if nm -D "$EK" 2>/dev/null | grep -q __asan_init; then
  light="not in a sanitizer build"
elif [ -z "${EK_AGENT_CURL:-}" ]; then
  light="the build has no static libcurl (EK_AGENT_CURL)"
fi
if [ -n "$light" ]; then
  skip "what a served token loads: $light"
  [ "$OUT" = "$T1" ] && ! grep -q 'entrakey-full' "$T/err" &&
    pass "a token from the agent without entrakey-full" ||
    fail "a token from the agent: handed over to entrakey-full"
else
  [ "$OUT" = "$T1" ] && grep -q 'file=libc\.so' "$T/err" &&
    ! grep -Eq "$heavy" "$T/err" && ! grep -q 'entrakey-full' "$T/err" &&
    pass "a token from the agent: only libc, cJSON and at most inih loaded" ||
    fail "a token from the agent: a library it should not need, or no loader trace: $(grep -Em1 "$heavy|entrakey-full" "$T/err")"
fi

# common options before the command (entrakey --module M token ...) are
# the fast client's too: the same token from the agent, nothing heavy
LD_DEBUG=files run "$EK" --module "$ENTRAKEY_MODULE" --allow-final-pin-try \
  token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM"
expect_rc "entrakey --module M token: via the agent" 0
[ "$OUT" = "$T1" ] && pass "... the cached token" || fail "... another token"
if [ -n "$light" ]; then
  skip "what it loads: $light"
else
  ! grep -Eq "$heavy" "$ERR" && ! grep -q 'entrakey-full' "$ERR" &&
    pass "... answered by the client alone (nothing heavy, no entrakey-full)" ||
    fail "... loaded $(printf '%s\n' "$ERR" | grep -Eom1 "$heavy|entrakey-full")"
fi

# --no-agent: the direct path (needs the PIN)
etok -v --no-agent --pin-source "file:$PIN_FILE"
expect_rc "--no-agent token" 0
expect_nomatch "--no-agent does not ask it" "$ERR" "served by the agent"
expect_match "--no-agent: -v says the path taken" "$ERR" "^entrakey: --no-agent: signing directly$"
[ "$(stats 's["token_requests"]')" = 2 ] && pass "--no-agent posted itself" ||
  fail "POSTs: $(stats 's["token_requests"]')"

# assert via the agent; verified by the endpoint's own checks (a token)
run "$EK" assert "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" -v
expect_rc "assert via the agent" 0
expect_match "assert -v names the agent" "$ERR" "served by the agent"
JWT=$OUT
"$PY" - "$JWT" "$CERT" "$AUTH/$TENANT/oauth2/v2.0/token" <<'PY' &&
import sys, jwt
from cryptography import x509
c = x509.load_der_x509_certificate(open(sys.argv[2], "rb").read())
jwt.decode(sys.argv[1], c.public_key(), algorithms=["PS256"],
           audience=sys.argv[3])
PY
  pass "the agent's assertion verifies with the certificate, aud right" ||
  fail "assertion does not verify"

# exec --agent: the child gets the socket, never a PIN
run "$EK" exec "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" --agent -- \
  sh -c 'echo "sock=$ENTRAKEY_AGENT_SOCK"; env'
expect_rc "exec --agent" 0
expect_match "the child has ENTRAKEY_AGENT_SOCK" "$OUT" "sock=$SOCK"
expect_nomatch "no PIN in the child's environment" "$OUT" "$TEST_PIN"
# exec runs the whole command (entrakey-full): the library's own client
# (ek_agent_token through the system's libcurl, src/http_dl.c), which is
# served the agent's cached token; a proxy in the environment is not used
# for the socket (a proxy that is not there would fail the request)
http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
  ALL_PROXY=http://127.0.0.1:9 LD_DEBUG=files \
  run "$EK" exec "$KEY_URI" --tenant "$TENANT" \
  --client-id "$CLIENT_ID" --authority-host "$AUTH" --ca-file "$CA_PEM" \
  --agent -v -- sh -c 'printf %s "$ENTRAKEY_ACCESS_TOKEN"'
expect_rc "exec --agent -v" 0
[ "$OUT" = "$T1" ] && pass "exec: the agent's cached token" ||
  fail "exec: another token: $OUT"
expect_match "exec -v names the agent" "$ERR" "served by the agent at $SOCK"
grep -q 'file=libcurl\.so\.4 .*dynamically loaded by' "$T/err" &&
  pass "exec: the library asks the agent through the system's libcurl" ||
  fail "exec: libcurl.so.4 not opened"

# a key the agent does not hold: the direct path (default), exit 3 (--agent)
run "$EK" token "pkcs11:token=$TOKEN_LABEL;object=nosuch;type=private" \
  --tenant "$TENANT" --client-id "$CLIENT_ID" --authority-host "$AUTH" \
  --ca-file "$CA_PEM" --agent
expect_rc "--agent with a key the agent does not hold" 3
expect_match "says the agent does not hold it" "$ERR" "does not hold key"

# the agent killed: clients fall back, or fail clearly with --agent
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
etok -v --pin-source "file:$PIN_FILE"
expect_rc "agent SIGKILLed: token by the direct path" 0
expect_match "-v says it signed directly" "$ERR" "signing directly"
etok --agent
expect_rc "agent SIGKILLed, --agent: exit 3" 3
expect_match "says no agent listens" "$ERR" "no agent listens at $SOCK"
# a new agent replaces the stale socket
start_agent || exit 1
etok
expect_rc "a new agent over the stale socket serves" 0
# a token with no agent is the whole command (so the check above can fail)
LD_DEBUG=files etok --no-agent --pin-source "file:$PIN_FILE"
grep -Eq "$heavy" "$T/err" && pass "the direct path loads them (entrakey-full)" ||
  fail "the direct path: no heavy library in the loader's trace"
finish
