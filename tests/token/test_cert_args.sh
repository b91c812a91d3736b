#!/usr/bin/env bash
# test_cert_args.sh: arguments that name files mean what they say (issue
# 15, item 12): `cert show ARG` reads a pkcs11: URI as a URI even when a
# file has that name (./NAME for the file), and --out/--pem naming one file
# by two spellings (./a.cer, dir/../a.cer, a link) are refused as the same
# file, before anything is done.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token argtok
cd "$T" || exit 1
PS=(--pin-source "file:$PIN_FILE")
URI='pkcs11:token=argtok;object=k;type=private'

run "$EK" keygen 'pkcs11:token=argtok' --label k "${PS[@]}"
expect_rc "keygen k" 0
run "$EK" keygen 'pkcs11:token=argtok' --label other "${PS[@]}"
expect_rc "keygen other" 0
run "$EK" cert create "$URI" --subject CN=OnToken "${PS[@]}"
expect_rc "cert create on the token" 0
run "$EK" cert create 'pkcs11:token=argtok;object=other' --subject CN=Impostor \
  --out "$T/impostor.cer" --no-store "${PS[@]}"
expect_rc "a certificate for another key" 0
# a file named exactly like the key's URI, in the working directory
cp "$T/impostor.cer" "./$URI"

run "$EK" cert show "$URI" "${PS[@]}"
expect_rc "cert show URI with a file of that name" 0
expect_match "the URI is read as a URI: the key's certificate" "$OUT" '^subject: +CN=OnToken$'
expect_nomatch "not the file's" "$OUT" 'Impostor'
expect_match "it names the key" "$OUT" "^key: +pkcs11:"
run "$EK" cert show "./$URI"
expect_rc "cert show ./NAME reads the file" 0
expect_match "./NAME: the file's certificate" "$OUT" '^subject: +CN=Impostor$'

# --out and --pem naming one file
mkdir -p sub
for pair in "a.cer ./a.cer" "a.cer sub/../a.cer" "$T/a.cer a.cer"; do
  set -- $pair
  run "$EK" cert create "$URI" --subject CN=x --out "$1" --pem "$2" --force "${PS[@]}"
  expect_rc "cert create --out $1 --pem $2: exit 2" 2
  expect_match "cert create --out $1 --pem $2: says so" "$ERR" '--out and --pem name the same file'
  [ -e a.cer ] && fail "cert create --out $1 --pem $2 wrote a file" || pass "nothing written"
done
: > real.cer; ln -s real.cer link.cer
run "$EK" cert create "$URI" --subject CN=x --out real.cer --pem link.cer --force "${PS[@]}"
expect_rc "--out FILE --pem LINK-TO-FILE: exit 2" 2
run "$EK" init 'pkcs11:token=argtok' --label i --subject CN=i --out b.cer --pem ./b.cer "${PS[@]}"
expect_rc "init --out b.cer --pem ./b.cer: exit 2" 2
expect_match "init: says so" "$ERR" '--out and --pem name the same file'
run "$EK" cert create "$URI" --subject CN=x --out c.cer --pem c.pem --force "${PS[@]}"
expect_rc "two different files are fine" 0
finish
