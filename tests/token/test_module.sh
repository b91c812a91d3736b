#!/usr/bin/env bash
# test_module.sh: which PKCS#11 module is loaded (--module, ENTRAKEY_MODULE,
# module-path=, p11-kit's registry) and the errors for a path that is not a
# PKCS#11 module: missing, not a library, no C_GetFunctionList.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token modtok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
cd "$T" || exit 1

run "$EK" --module "$T/missing.so" tokens
expect_rc "missing file: exit 3" 3
expect_match "missing file: path, origin and errno" "$ERR" \
  "^entrakey: cannot load the PKCS#11 module '$T/missing.so' \\(from --module\\): No such file or directory; check the path"

printf 'this is not a library\n' > "$T/notalib.so"
run "$EK" tokens --module "$T/notalib.so"
expect_rc "not a library: exit 3" 3
expect_match "not a library: says what to check" "$ERR" \
  "^entrakey: cannot load the PKCS#11 module '$T/notalib.so' \\(from --module\\): .*; check that it is a PKCS#11 module \\(a shared library that exports C_GetFunctionList\\)"

run "$EK" tokens --module ./notalib.so
expect_rc "a relative path is relative to the working directory" 3
expect_match "the relative path is resolved here" "$ERR" "$T/\\./notalib.so"

LIBZ=/usr/lib/x86_64-linux-gnu/libz.so.1
run "$EK" tokens --module "$LIBZ"
expect_rc "a library without C_GetFunctionList: exit 3" 3
expect_match "names the missing entry point" "$ERR" \
  "cannot load the PKCS#11 module '$LIBZ' \\(from --module\\): .*C_GetFunctionList"

run "$EK" tokens --module "$T"
expect_rc "a directory: exit 3" 3
expect_match "a directory: says so" "$ERR" 'not a regular file'

run env ENTRAKEY_MODULE="$T/missing.so" "$EK" tokens
expect_rc "a bad ENTRAKEY_MODULE: exit 3" 3
expect_match "names ENTRAKEY_MODULE as the origin" "$ERR" "\\(from ENTRAKEY_MODULE\\)"
run env ENTRAKEY_MODULE="$T/missing.so" "$EK" tokens --module "$SOFTHSM_MODULE"
expect_rc "--module wins over ENTRAKEY_MODULE" 0
expect_match "--module: the token is listed" "$OUT" "token 'modtok'"

run "$EK" --module "" tokens
expect_rc "an empty --module is a usage error" 2

# no --module, no variable: every module registered with p11-kit
# (softhsm2.module is registered and reads SOFTHSM2_CONF)
run env -u ENTRAKEY_MODULE "$EK" tokens --json
expect_rc "the p11-kit registry" 0
mods=$(printf '%s' "$OUT" | $PY -c '
import json, sys
for t in json.load(sys.stdin)["tokens"]:
    if t["label"] == "modtok": print("found", t["module"])')
expect_match "the registry finds the SoftHSM token" "$mods" '^found .*libsofthsm2\.so$'

# -v says which module and traces C_Initialize
run "$EK" -v tokens
expect_match "-v names the module and its origin" "$ERR" \
  "PKCS#11 module $SOFTHSM_MODULE \\(from ENTRAKEY_MODULE\\)"
expect_match "-v traces C_Initialize" "$ERR" 'C_Initialize: CKR_OK'
finish
