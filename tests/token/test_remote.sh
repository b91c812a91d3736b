#!/usr/bin/env bash
# test_remote.sh: a token reached through p11-kit remoting (p11-kit server
# + p11-kit-client.so). p11-kit 0.24's RPC drops CKM_SHA256_RSA_PKCS_PSS,
# so PS256 must go through CKM_RSA_PKCS_PSS over the local digest, and the
# signature must verify; ek_token_init finds no free slot there.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token remtok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
CLIENT=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
SOCK="$XDG_RUNTIME_DIR/p11.sock"
H="$TOK_SIGN_PATHS"
export TOK_PIN_SOURCE="file:$PIN_FILE"

run "$EK" keygen 'pkcs11:token=remtok' --label rk --pin-source "file:$PIN_FILE"
expect_rc "keygen on the local token" 0

p11-kit server -f -n "$SOCK" --provider "$SOFTHSM_MODULE" 'pkcs11:token=remtok' \
  >"$T/server.log" 2>&1 &
SERVER=$!
stop_server() { kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; }
on_exit stop_server
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] && pass "p11-kit server is listening" || { fail "no socket: $(cat "$T/server.log")"; finish; }
export P11_KIT_SERVER_ADDRESS="unix:path=$SOCK" ENTRAKEY_MODULE="$CLIENT"

run "$EK" tokens
expect_rc "tokens through the client" 0
expect_match "the remote token is listed" "$OUT" "token 'remtok'"
expect_match "PS256 through CKM_RSA_PKCS_PSS" "$OUT" '^    PS256: +CKM_RSA_PKCS_PSS$'
expect_match "the client module is named" "$OUT" "^module .*p11-kit-client\\.so$"

run "$H" choose 'pkcs11:token=remtok;object=rk'
expect_match "the key's PS256 mechanism is CKM_RSA_PKCS_PSS" "$OUT" '^PS256 CKM_RSA_PKCS_PSS$'

d="$T/sig"; mkdir -p "$d"
run "$H" sign 'pkcs11:token=remtok;object=rk' "$d" pss x509-pss pkcs-di
expect_rc "PSS, raw RSA and PKCS#1 sign remotely" 0
expect_match "PS256 signed with CKM_RSA_PKCS_PSS" "$OUT" '^pss CKM_RSA_PKCS_PSS 256 bytes$'
openssl dgst -sha256 -binary "$d/msg.bin" > "$d/msg.sha256"
for s in pss x509-pss; do
  openssl pkeyutl -verify -pubin -keyform DER -inkey "$d/pub.der" -in "$d/msg.sha256" \
    -sigfile "$d/$s.sig" -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss \
    -pkeyopt rsa_pss_saltlen:32 -pkeyopt rsa_mgf1_md:sha256 >/dev/null 2>&1 &&
    pass "the remote $s signature verifies" || fail "the remote $s signature does not verify"
done
openssl pkeyutl -verify -pubin -keyform DER -inkey "$d/pub.der" -in "$d/msg.sha256" \
  -sigfile "$d/pkcs-di.sig" -pkeyopt digest:sha256 >/dev/null 2>&1 &&
  pass "the remote RS256 signature verifies" || fail "the remote RS256 signature does not verify"

# the mechanism the RPC cannot carry: CKR_MECHANISM_INVALID, named
run "$H" sign 'pkcs11:token=remtok;object=rk' "$d" sha256-pss
expect_rc "CKM_SHA256_RSA_PKCS_PSS fails through p11-kit 0.24" 1
expect_match "the failure is EK_ERR_MECHANISM (9) naming the CKR" "$OUT" \
  '^sha256-pss failed \(9\): cannot start a PS256 signature .*\(C_SignInit, CKM_SHA256_RSA_PKCS_PSS\): CKR_MECHANISM_INVALID \(0x70\)'

# the server exports one initialised token: no free slot to initialise
run "$H" init newtok 12345678 123456
expect_match "ek_token_init: no free slot is EK_ERR_NOT_FOUND (5)" "$OUT" '^code 5: there is no free slot'

# the server goes away: a clear error, no hang
stop_server
run timeout 20 "$EK" tokens
[ "$RC" -ne 124 ] && pass "no hang when the server is gone" || fail "hung without the server"
expect_nomatch "no crash when the server is gone" "$RC" '^(13[0-9])$'
finish
