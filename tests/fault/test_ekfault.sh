#!/usr/bin/env bash
# The fault module itself, checked with pkcs11-tool (an independent client):
# each kind of rule does what ekfault.c says, so that a fault test that
# passes did meet its fault. A spec that does not parse makes the module
# fail to load, so that a mistyped test cannot pass.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/fault/lib.sh"
ulimit -c 0 # the abort case below: no core file

fault_token faultself
make_key
# In the ASan build the module needs the sanitizer runtimes first.
preload=$(ldd "$FAULT_SO" | awk '/lib(asan|ubsan)\.so/ { print $3 }' | paste -sd: -)
# tool ARGS...: pkcs11-tool on the fault module (a script: fault runs it).
tool="$T/tool"
cat > "$tool" <<SH
#!/bin/sh
${preload:+export LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0}
exec pkcs11-tool --module "$FAULT_SO" --token-label "$TOKEN_LABEL" "\$@"
SH
chmod +x "$tool"
echo hello > "$T/data"

fault "" "$tool" -L
expect_rc "no fault: pkcs11-tool lists the slots" 0
expect_match "no fault: the token is there" "$OUT" "$TOKEN_LABEL"
expect_match "no fault: the log has one line per call, name and CK_RV" \
  "$(head -2 "$FLOG")" $'^C_GetFunctionList 0x00000000\nC_Initialize 0x00000000$'
expect_calls "no fault: C_Finalize logged" C_Finalize -eq 1

fault "C_Bogus=CKR_OK" "$tool" -L
expect_rc "bad spec: the module does not load" 1
expect_match "bad spec: says why" "$ERR" "ekfault: EKFAULT: cannot parse"
fault "C_Login=CKR_NO_SUCH_THING" "$EK" tokens --module "$FAULT_SO"
expect_rc "bad spec: entrakey cannot load it (exit 3)" 3
fault "tokenflags=FINAL_TRY" "$tool" -L
expect_rc "bad spec: a flag without + or -" 1

fault "tokenflags=+FINAL_TRY,+COUNT_LOW" "$tool" -T
expect_match "tokenflags: pkcs11-tool sees final try" "$OUT" "final user PIN try"
expect_match "tokenflags: pkcs11-tool sees count low" "$OUT" "user PIN count low"
fault "tokenflags=+LOCKED" "$tool" --login --pin "$TEST_PIN" -O
expect_match "LOCKED: C_Login refused as a locked card does" "$ERR" "CKR_PIN_LOCKED"
expect_match "LOCKED: logged as injected, with the user type" \
  "$(grep '^C_Login' "$FLOG")" '^C_Login 0x000000a4 injected user=1$'

fault "hide=CKM_RSA_PKCS_PSS" "$tool" -M
expect_nomatch "hide: the mechanism is not listed" "$OUT" "^ *RSA-PKCS-PSS,"
expect_match "hide: the others are" "$OUT" "SHA256-RSA-PKCS-PSS"
fault "hide=CKM_SHA256_RSA_PKCS" "$tool" --login --pin "$TEST_PIN" --sign \
  -m SHA256-RSA-PKCS --id 01 -i "$T/data" -o "$T/sig"
expect_match "hide: C_SignInit refuses it" "$ERR" "CKR_MECHANISM_INVALID"
expect_match "hide: the log names the mechanism" "$(grep '^C_SignInit' "$FLOG")" \
  "^C_SignInit 0x00000070 injected mechanism=0x00000040$"
fault "refuse=CKM_SHA256_RSA_PKCS" "$tool" -M
expect_match "refuse: the mechanism is still listed" "$OUT" "SHA256-RSA-PKCS,"

fault "C_Login=CKR_PIN_INCORRECT" "$tool" --login --pin "$TEST_PIN" -O
expect_rc "C_Login=: pkcs11-tool fails" 1
expect_match "C_Login=: with the injected CK_RV" "$ERR" "CKR_PIN_INCORRECT"
expect_nomatch "the log never holds the PIN" "$(cat "$FLOG")" "$TEST_PIN"

fault "C_GetSlotList@2=CKR_DEVICE_ERROR" "$tool" -L
expect_match "@N: the first call passes, the second fails" \
  "$(grep '^C_GetSlotList' "$FLOG")" $'^C_GetSlotList 0x00000000\nC_GetSlotList 0x00000030 injected$'

fault "C_OpenSession@1=unplug:CKR_DEVICE_REMOVED" "$tool" --login --pin "$TEST_PIN" -O
expect_match "unplug: the call itself succeeds" "$(grep '^C_OpenSession' "$FLOG")" \
  '^C_OpenSession 0x00000000$'
expect_match "unplug: every later call fails" "$(grep -A1 '^C_OpenSession' "$FLOG" | tail -1)" \
  "0x00000032 injected"
expect_match "unplug: C_Finalize still reaches the module" "$(tail -1 "$FLOG")" \
  '^C_Finalize 0x00000000$'

fault "C_Initialize=after:CKR_CRYPTOKI_ALREADY_INITIALIZED" "$tool" -L
expect_match "after: the module was initialised, the result replaced" \
  "$(grep '^C_Initialize' "$FLOG")" '^C_Initialize 0x00000191 injected$'

fault "rejectattr=CKA_SIGN" "$tool" --login --pin "$TEST_PIN" --keypairgen \
  --key-type rsa:2048 --id 09 --label rejected --usage-sign
expect_match "rejectattr: C_GenerateKeyPair refuses the template" "$ERR" \
  "CKR_ATTRIBUTE_TYPE_INVALID"
expect_nomatch "rejectattr: no key was made" \
  "$(p11tool --login --pin "$TEST_PIN" -O 2>/dev/null)" "rejected"

fault "privattr=CKA_EXTRACTABLE:TRUE" "$tool" --login --pin "$TEST_PIN" -O --type privkey
expect_match "privattr: the private key reads extractable" \
  "$(printf '%s\n' "$OUT" | grep 'Access:')" "(:|,) *extractable"
fault "" "$tool" --login --pin "$TEST_PIN" -O --type privkey
expect_nomatch "privattr: not without the rule" \
  "$(printf '%s\n' "$OUT" | grep 'Access:')" "(:|,) *extractable"

# An injected C_Sign failure ends the real operation: pkcs11-tool's retry
# with C_SignInit (multi-part) then works instead of CKR_OPERATION_ACTIVE.
fault "C_Sign@1=CKR_DEVICE_REMOVED" "$tool" --login --pin "$TEST_PIN" --sign \
  -m SHA256-RSA-PKCS --id 01 -i "$T/data" -o "$T/sig"
expect_rc "C_Sign failure: the module's operation was ended" 0
expect_match "C_Sign failure: logged as injected" "$(grep '^C_Sign ' "$FLOG")" \
  '^C_Sign 0x00000032 injected$'
# An injected CKR_BUFFER_TOO_SMALL keeps it: pkcs11-tool re-inits and the
# real module says CKR_OPERATION_ACTIVE (pkcs11-tool's mistake, shown).
fault "C_Sign@1=CKR_BUFFER_TOO_SMALL" "$tool" --login --pin "$TEST_PIN" --sign \
  -m SHA256-RSA-PKCS --id 01 -i "$T/data" -o "$T/sig"
expect_match "BUFFER_TOO_SMALL: the real operation is still active" "$ERR" \
  "CKR_OPERATION_ACTIVE"

start=$(date +%s)
fault "C_GetInfo=sleep:1500" "$tool" -I
took=$(( $(date +%s) - start ))
expect_rc "sleep: the call still succeeds" 0
if [ "$took" -ge 1 ]; then pass "sleep: it waited (${took}s)"; else
  fail "sleep: took ${took}s"; fi

fault "C_Initialize=abort" "$tool" -L
expect_rc "abort: pkcs11-tool dies by SIGABRT" 134

finish
