#!/usr/bin/env bash
# test_registry.sh: the tests' own p11-kit registry (tests/lib/common.sh),
# and what entrakey does with registered modules that cannot work: a module
# whose C_Initialize fails is skipped with a warning, a missing one is
# skipped, one marked critical stops the command, and the tpm2-pkcs11
# module registered without a TPM (as Debian's package registers it)
# neither stops nor spoils the listing of the other tokens.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token regtok
cd "$T" || exit 1
: "${EKFAULT_SO:?run through ctest}"

if [ "$EK_PRIVATE_REGISTRY" = 1 ]; then pass "the test has a registry of its own"
else fail "no private registry (unshare -m / mount --bind refused)"; finish; fi

# only what the test registered: the host's modules are out of sight
mods=$(p11-kit list-modules 2>/dev/null | grep -E '^[a-z0-9]' | cut -d: -f1 | sort | tr '\n' ' ')
expect_match "p11-kit lists only the test's module" "$mods" '^softhsm2 $'

run env -u ENTRAKEY_MODULE "$EK" tokens
expect_rc "registry: exit 0" 0
expect_match "registry: the SoftHSM token" "$OUT" "token 'regtok'"
expect_nomatch "registry: nothing on stderr" "$ERR" '.'

# a module whose C_Initialize fails: skipped with a warning naming it
register_module broken "$EKFAULT_SO"
run env -u ENTRAKEY_MODULE EKFAULT="C_Initialize=CKR_DEVICE_ERROR" "$EK" tokens
expect_rc "a failing module: exit 0" 0
expect_match "a failing module: the other token is listed" "$OUT" "token 'regtok'"
expect_match "a failing module: a warning names it and why" "$ERR" \
  "^entrakey: warning: the registered PKCS#11 module 'broken' \\($EKFAULT_SO\\) cannot be initialised \\(CKR_DEVICE_ERROR\\); skipped"

# the same module marked critical stops the command
register_module broken "$EKFAULT_SO" "critical: yes"
run env -u ENTRAKEY_MODULE EKFAULT="C_Initialize=CKR_DEVICE_ERROR" "$EK" tokens
expect_rc "a failing critical module: exit 3" 3
expect_match "a failing critical module: says so" "$ERR" \
  "^entrakey: cannot initialise the registered PKCS#11 module 'broken' .*marked critical: CKR_DEVICE_ERROR"
unregister_module broken

# a module file that does not exist: p11-kit skips it
register_module gone "$T/gone.so"
run env -u ENTRAKEY_MODULE "$EK" tokens
expect_rc "a missing module file: exit 0" 0
expect_match "a missing module file: the other token is listed" "$OUT" "token 'regtok'"
unregister_module gone

# tpm2-pkcs11 without a TPM (TCTI pointed at a closed loopback port so that
# nothing on the host is reached), registered the way Debian registers it
TPM2_SO=/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so
if [ -e "$TPM2_SO" ]; then
  register_module tpm2_pkcs11 "$TPM2_SO" "critical: no"
  mkdir -p "$T/tpmstore"
  # (leaks of tpm2-pkcs11's failed C_Initialize: not ours, and unnamed
  # once p11-kit unloaded it, so no leak check for this run)
  run env -u ENTRAKEY_MODULE "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    TPM2_PKCS11_STORE="$T/tpmstore" \
    TPM2_PKCS11_TCTI="swtpm:host=127.0.0.1,port=9" "$EK" tokens
  expect_rc "tpm2-pkcs11 without a TPM: exit 0" 0
  expect_match "tpm2-pkcs11 without a TPM: the other token is listed" "$OUT" "token 'regtok'"
  expect_match "tpm2-pkcs11 without a TPM: skipped with a warning" "$ERR" \
    "entrakey: warning: the registered PKCS#11 module 'tpm2_pkcs11' .*skipped"
  unregister_module tpm2_pkcs11
else
  fail "tpm2-pkcs11 is not installed (apt-get install libtpm2-pkcs11-1)"
fi
finish
