#!/usr/bin/env bash
# Mechanism fallbacks on tokens that lack mechanisms (libekfault.so hides
# them from C_GetMechanismList / C_GetMechanismInfo and refuses them in
# C_SignInit): PS256 by CKM_RSA_PKCS_PSS, else CKM_RSA_X_509 with local PSS,
# else RS256 said on stderr (CKM_SHA256_RSA_PKCS_PSS: test_mech_hashpss.sh).
# Every signature made under a fallback verifies with OpenSSL (certificate)
# and python3-jwt (assertion), with the certificate `cert create --out`
# exported.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/fault/lib.sh"

fault_token faultmech
make_key
M=(--module "$FAULT_SO" --pin-source "file:$PIN_FILE")
ASSERT=("$EK" assert "$KEY_URI" "${M[@]}" --tenant "$TENANT" --client-id "$CLIENT")

fallback_case "all there" "" CKM_RSA_PKCS_PSS 0
fallback_case "no CKM_RSA_PKCS_PSS nor CKM_SHA256_RSA_PKCS_PSS" \
  "hide=CKM_RSA_PKCS_PSS,CKM_SHA256_RSA_PKCS_PSS" CKM_RSA_X_509 2
fallback_case "no RSA-PSS mechanism at all" "hide=$PSS_ALL" CKM_RSA_X_509 3

# No PSS and no raw RSA: PS256 is impossible; the assertion falls back to
# RS256 and says so, and verifies as RS256 with x5t. CKM_SHA256_RSA_PKCS is
# hidden too, so RS256 takes its own fallback: CKM_RSA_PKCS over a
# DigestInfo made on the host.
spec="hide=$PSS_ALL,CKM_RSA_X_509,CKM_SHA256_RSA_PKCS"
fault "$spec" "$EK" tokens --json "${M[@]}"
expect_rc "no PSS, no X_509: tokens exit 0" 0
expect_match "no PSS, no X_509: tokens offers no PS256 mechanism" \
  "$(token_field ps256)" "^null$"
expect_match "no PSS, no X_509: tokens offers RS256 by CKM_RSA_PKCS" \
  "$(token_field rs256)" "^CKM_RSA_PKCS$"
fault "$spec" "$EK" cert create "$KEY_URI" --subject "CN=fallback 4" \
  --force --out "$T/fb4.cer" "${M[@]}"
expect_rc "no PSS, no X_509: cert create (sha256WithRSA) exit 0" 0
expect_cert_ok "no PSS, no X_509: the certificate verifies (OpenSSL)" "$T/fb4.cer"
fault "$spec" "${ASSERT[@]}"
expect_rc "no PSS, no X_509: assert exit 0" 0
expect_jwt "no PSS, no X_509: the RS256 assertion verifies (python3-jwt)" RS256 "$T/fb4.cer"
expect_match "no PSS, no X_509: stderr says RS256 is used" "$ERR" "RS256"
expect_calls "no PSS, no X_509: assert signs once" C_SignInit -eq 1
expect_calls "no PSS, no X_509: assert logs in once" C_Login -eq 1

# A mechanism listed but refused at C_SignInit (a policy-restricted HSM):
# the failure names CKR_MECHANISM_INVALID; no second login, no loop.
fault "refuse=CKM_RSA_PKCS_PSS" "${ASSERT[@]}"
expect_rc "refused at C_SignInit: exit 3" 3
expect_match "refused at C_SignInit: names CKR_MECHANISM_INVALID" "$ERR" "CKR_MECHANISM_INVALID"
expect_calls "refused at C_SignInit: at most one C_Login" C_Login -le 1
expect_calls "refused at C_SignInit: one C_SignInit" C_SignInit -eq 1
expect_match "refused at C_SignInit: nothing on stdout" "[$OUT]" '^\[\]$'

finish
