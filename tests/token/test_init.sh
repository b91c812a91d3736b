#!/usr/bin/env bash
# test_init.sh: `entrakey init` (keygen + certificate + .cer) on SoftHSM:
# what it makes (checked with pkcs11-tool and OpenSSL), --json, refusals
# that must come before a key is made, and a failure after the key was
# made (the key is reported with commands that really remove it).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token inittok
P11=(pkcs11-tool --module "$SOFTHSM_MODULE" --login --pin "$TEST_PIN")
PS=(--pin-source "file:$PIN_FILE")
mkdir -p "$T/work" && cd "$T/work" || exit 1
objects() { "${P11[@]}" --list-objects 2>/dev/null | grep -c 'Object;' ; }
ids_of() { "${P11[@]}" --list-objects --type "$1" 2>/dev/null | sed -n 's/^ *ID: *//p' | sort | tr '\n' ' '; }

# --- the default: LABEL.cer in the current directory ---
run "$EK" init 'pkcs11:token=inittok' --label ExchangeAuth --subject CN=ExchangeAuth "${PS[@]}"
expect_rc "init" 0
expect_match "prints the key URI" "$OUT" '^key: +pkcs11:token=inittok;id=%[0-9a-f]{2}.*object=ExchangeAuth;type=private'
expect_match "prints the attributes" "$OUT" 'CKA_NEVER_EXTRACTABLE +TRUE'
expect_match "prints the verdict (keys' and keygen's words)" "$OUT" '^verdict: +non-exportable: made on the token and never extractable$'
expect_match "names the .cer" "$OUT" '^written: +ExchangeAuth.cer'
[ -f ExchangeAuth.cer ] && pass "ExchangeAuth.cer written here" || fail "no ExchangeAuth.cer"
id=$("${P11[@]}" --list-objects --type privkey 2>/dev/null | sed -n 's/^ *ID: *//p')
[ -n "$id" ] && pass "a private key on the token (id $id)" || fail "no private key"
expect_match "the certificate object has the key's id" "$(ids_of cert)" "^$id \$"
expect_match "and so has the public key" "$(ids_of pubkey)" "^$id \$"
"${P11[@]}" --read-object --type cert --id "$id" -o tok.der >/dev/null 2>&1
cmp -s tok.der ExchangeAuth.cer && pass "the token holds the written certificate" || fail "token certificate differs"
fp=$(openssl x509 -inform DER -in ExchangeAuth.cer -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
expect_match "thumbprint = openssl's" "$OUT" "^thumbprint: +$fp\$"
openssl x509 -inform DER -in ExchangeAuth.cer -out e.pem
run openssl verify -check_ss_sig -partial_chain -trusted e.pem e.pem
expect_rc "the certificate's signature verifies" 0
"${P11[@]}" --read-object --type pubkey --id "$id" -o pub.der >/dev/null 2>&1
if openssl x509 -in e.pem -noout -pubkey | openssl pkey -pubin -outform DER | cmp -s - pub.der; then
  pass "its public key is the token key's"; else fail "public key differs"; fi
attrs=$("${P11[@]}" --list-objects --type privkey 2>/dev/null)
expect_match "pkcs11-tool: sensitive, never extractable" "$attrs" 'sensitive.*never extractable'

# --- --json, 3072 bits, an id, PSS, PEM too ---
run "$EK" init 'pkcs11:token=inittok' --label second --id 0a --bits 3072 --sig rsa-pss \
  --subject 'CN=Second,O=Contoso' --out second.cer --pem second.pem --json "${PS[@]}"
expect_rc "init --json" 0
check=$(printf '%s' "$OUT" | $PY -c '
import json, sys
d = json.load(sys.stdin)
k, c = d["key"], d["certificate"]
assert k["label"] == "second" and k["id"] == "0a" and k["bits"] == 3072, k
assert k["verdict"] == "non-exportable", k
assert k["attributes"]["CKA_EXTRACTABLE"] is False, k
assert c["subject"] == "CN=Second, O=Contoso" and c["signatureAlgorithm"] == "rsassaPss", c
assert c["stored"] is True, c
assert d["files"] == [{"path": "second.cer", "format": "DER"}, {"path": "second.pem", "format": "PEM"}], d
print(c["thumbprint"])' 2>&1)
fp=$(openssl x509 -inform DER -in second.cer -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
expect_match "--json fields, thumbprint = openssl's" "$check" "^$fp\$"
# init --json describes the key as keygen --json does, and as keys --json
# reads it back from the token: the same fields, the same values
printf '%s' "$OUT" > init.json
run "$EK" keys 'pkcs11:token=inittok;id=%0a' --json "${PS[@]}"
expect_rc "keys --json for the key init made" 0
printf '%s' "$OUT" > keys.json
run "$EK" keygen 'pkcs11:token=inittok' --label fieldcheck --json "${PS[@]}"
expect_rc "keygen --json beside it" 0
printf '%s' "$OUT" > keygen.json
same=$($PY - init.json keys.json keygen.json <<'PY' 2>&1
import json, sys
init = json.load(open(sys.argv[1]))["key"]
listed = json.load(open(sys.argv[2]))["keys"]
made = json.load(open(sys.argv[3]))
assert len(listed) == 1, listed
listed = listed[0]
assert sorted(init) == sorted(made), (sorted(init), sorted(made))
common = set(init) - {"template_dropped"}
assert common <= set(listed), (common, sorted(listed))
for f in sorted(common):
    assert init[f] == listed[f], (f, init[f], listed[f])
assert init["token"] == "inittok" and init["private_key_visible"] is True, init
print("same", len(common))
PY
)
expect_match "init --json: keygen's fields, keys' values" "$same" '^same [0-9]+$'
expect_match "3072-bit key in the certificate" "$(openssl x509 -in second.pem -noout -text)" 'Public-Key: \(3072 bit\)'
expect_match "the certificate for id 0a" "$(ids_of cert)" '0a'

# --- refusals before any key is made ---
n=$(objects)
sum=$(sha256sum ExchangeAuth.cer)
run "$EK" init 'pkcs11:token=inittok' --label ExchangeAuth --subject CN=x "${PS[@]}"
expect_rc "existing output file" 8
expect_match "says so, and that no key was made" "$ERR" "'ExchangeAuth.cer' exists and was left as it is.*no key was made"
[ "$(sha256sum ExchangeAuth.cer)" = "$sum" ] && pass "file unchanged" || fail "file changed"
run "$EK" init 'pkcs11:token=inittok' --label third --subject CN=x --out "$T/missing/third.cer" "${PS[@]}"
expect_rc "a missing directory" 7
expect_match "says why" "$ERR" "cannot write '$T/missing/third.cer'.*no key was made"
run "$EK" init 'pkcs11:token=inittok' --label third --subject 'CN=x,,O=y' "${PS[@]}"
expect_rc "a bad DN" 2
expect_match "with the position" "$ERR" 'empty component at character 5'
run "$EK" init 'pkcs11:token=inittok' --label third "${PS[@]}"
expect_rc "no --subject" 2
run "$EK" init 'pkcs11:token=inittok' --label third --subject CN=x --bits 1024 "${PS[@]}"
expect_rc "--bits 1024" 2
run "$EK" init 'pkcs11:token=inittok' --label 'a/b' --subject CN=x "${PS[@]}"
expect_rc "a label that is no file name, without --out" 2
[ "$(objects)" -eq "$n" ] && pass "no object was made by the refusals" || fail "objects: $n -> $(objects)"
[ ! -e third.cer ] && pass "no third.cer" || fail "third.cer exists"

# --- the token refuses to store the certificate (libekfault.so makes
# C_CreateObject fail): the .cer is taken back, the key is reported ---
FAULT_SO="$EK_BUILD_DIR/tests/fault/libekfault.so"
if [ -e "$FAULT_SO" ]; then
  run env EKFAULT_MODULE="$SOFTHSM_MODULE" EKFAULT="C_CreateObject=CKR_DEVICE_MEMORY" \
    "$EK" --module "$FAULT_SO" init 'pkcs11:token=inittok' --label full --id 66 \
    --subject CN=full "${PS[@]}"
  expect_rc "storing the certificate fails" 3
  expect_match "says CKR_DEVICE_MEMORY" "$ERR" 'CKR_DEVICE_MEMORY'
  expect_match "names the key made" "$ERR" 'still on the token: pkcs11:token=inittok;id=%66;object=full'
  [ ! -e full.cer ] && pass "full.cer taken back" || fail "full.cer left"
  expect_match "the key is there" "$(ids_of privkey)" '66'
else
  fail "missing $FAULT_SO (build the ekfault target)"
fi

# --- a failure after the key was made: reported, never silently left ---
# the token loses RSA-PSS: keygen works, the rsa-pss certificate cannot
sed -i 's/^slots.mechanisms.*/slots.mechanisms = -CKM_MD5,CKM_RSA_X_509,CKM_RSA_PKCS_PSS,CKM_SHA1_RSA_PKCS_PSS,CKM_SHA224_RSA_PKCS_PSS,CKM_SHA256_RSA_PKCS_PSS,CKM_SHA384_RSA_PKCS_PSS,CKM_SHA512_RSA_PKCS_PSS/' "$SOFTHSM2_CONF"
run "$EK" init 'pkcs11:token=inittok' --label lost --id 77 --sig rsa-pss --subject CN=lost "${PS[@]}"
expect_rc "the certificate step fails" 3
expect_match "says why" "$ERR" 'cannot make RSA-PSS signatures'
expect_match "names the key made in this run" "$ERR" "the key made in this run is still on the token: pkcs11:token=inittok;id=%77;object=lost;type=private"
expect_match "how to remove the private key" "$ERR" "pkcs11-tool --module $SOFTHSM_MODULE --token-label 'inittok' --login --delete-object --type privkey --id 77"
expect_match "and the public key" "$ERR" "--delete-object --type pubkey --id 77"
[ ! -e lost.cer ] && pass "no lost.cer" || fail "lost.cer written"
expect_match "the key is there" "$(ids_of privkey)" '77'
[ -z "$(ids_of cert | grep 77)" ] && pass "no certificate stored for it" || fail "a certificate for 77"
# the printed commands do remove it
printf '%s\n' "$ERR" | grep '^  pkcs11-tool ' | sed "s/--login/--login --pin $TEST_PIN/" > rm.sh
run bash rm.sh
expect_rc "the printed commands run" 0
expect_nomatch "the key is gone" "$(ids_of privkey) $(ids_of pubkey)" '77'

finish
