#!/usr/bin/env bash
# PS256 on tokens whose only RSA-PSS mechanism hashes on the token,
# CKM_SHA256_RSA_PKCS_PSS (libekfault.so hides CKM_RSA_PKCS_PSS, and then
# CKM_RSA_X_509 too): the documented order is CKM_RSA_PKCS_PSS, else
# CKM_SHA256_RSA_PKCS_PSS, else CKM_RSA_X_509; such a token can do PSS, so
# it is used, never raw RSA before it and never an RS256 fallback.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/fault/lib.sh"

fault_token faulthash
make_key
M=(--module "$FAULT_SO" --pin-source "file:$PIN_FILE")
ASSERT=("$EK" assert "$KEY_URI" "${M[@]}" --tenant "$TENANT" --client-id "$CLIENT")

fallback_case "no CKM_RSA_PKCS_PSS" "hide=CKM_RSA_PKCS_PSS" \
  CKM_SHA256_RSA_PKCS_PSS 1
fallback_case "no CKM_RSA_PKCS_PSS, no CKM_RSA_X_509" \
  "hide=CKM_RSA_PKCS_PSS,CKM_RSA_X_509" CKM_SHA256_RSA_PKCS_PSS 2
expect_nomatch "no CKM_RSA_PKCS_PSS, no CKM_RSA_X_509: no RS256 fallback" \
  "$ERR" "using RS256|falls? back"

finish
