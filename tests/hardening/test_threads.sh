#!/usr/bin/env bash
# The library from several threads (tests/hardening/threads.c): one context
# per thread as entrakey.h documents, 8 threads on one SoftHSM token, each
# making and freeing its context 6 times and signing 5 assertions in each;
# every assertion is verified by the library and again by python3-jwt.
# Then the race that this found, made certain: PKCS#11 login state belongs
# to the process, so a thread whose search for the private key began before
# another thread logged in must not conclude that the key is not there (the
# fault module holds the first C_FindObjectsFinal for 0.5 s).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/hardening/lib.sh"
: "${HD_THREADS:?run through ctest}"
: "${EKFAULT_SO:?run through ctest (the fault module)}"
hd_key thrtok tk

run "$HD_THREADS" "$KEY_URI" "file:$PIN_FILE" "$CERT" "$T/jwts" 8 6 5
expect_rc "8 threads, 6 contexts each, 5 assertions each" 0
expect_match "the program says all 240 were signed and verified" "$OUT" '^8 threads: 240 assertions signed and verified$'
expect_verified "python3-jwt verifies all 240, every jti different" "$T/jwts" 240

EKFAULT="C_FindObjectsFinal@1=sleep:500" EKFAULT_MODULE="$SOFTHSM_MODULE" \
  EKFAULT_LOG="$T/flog" ENTRAKEY_MODULE="$EKFAULT_SO" \
  run "$HD_THREADS" "$KEY_URI" "file:$PIN_FILE" "$CERT" "$T/race" 2 1 1
expect_rc "a search that began before another thread's login still finds the key" 0
expect_match "... both threads signed" "$OUT" '^2 threads: 2 assertions signed and verified$'
expect_match "... and the held search was the first one" "$(grep -c 'C_FindObjectsFinal' "$T/flog")" '^([2-9]|[1-9][0-9]+)$'

# the check can fail: a certificate of another key is refused
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -subj /CN=other \
  -days 2 -out "$T/other.pem" 2>/dev/null
run "$HD_THREADS" "$KEY_URI" "file:$PIN_FILE" "$T/other.pem" "$T/bad" 2 1 1
expect_rc "verifying against another certificate fails" 1
expect_match "... and says why, per thread" "$ERR" 'thread [01]: ek_assertion_verify: .*'
finish
