#!/usr/bin/env bash
# quickstart: the embedded SoftHSM token is made once (random PIN in a 0600
# file), the key and certificate are made on it, ExchangeAuth.cer (in
# $XDG_DATA_HOME/entrakey, never the current directory) is what openssl
# reads, the printed commands run as pasted, and later runs reuse all of it.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
unset ENTRAKEY_MODULE SOFTHSM2_CONF
store="$XDG_DATA_HOME/entrakey/softhsm"
cer="$XDG_DATA_HOME/entrakey/ExchangeAuth.cer"
mkdir -p "$T/work" && cd "$T/work" || exit 1

run "$EK" quickstart
expect_rc "first quickstart succeeds" 0
expect_match "says a software token is for trying" "$OUT" "software token is for trying entrakey, not for production"
expect_match "shows the PIN once" "$OUT" "user PIN: [a-z0-9]{12} +\(shown once"
expect_match "portal steps name Exchange.ManageAsApp" "$OUT" "Exchange.ManageAsApp"
expect_match "prints the next token command" "$OUT" "entrakey token 'pkcs11:token=entrakey-quickstart"
expect_match "prints the Connect-ExchangeOnline line" "$OUT" "Connect-ExchangeOnline -AccessToken"
pin=$(cat "$store/user-pin")
expect_match "the PIN file holds the shown PIN" "$OUT" "user PIN: $pin "
[ "$(stat -c %a "$store/user-pin")" = 600 ] && pass "user-pin is 0600" || fail "user-pin mode $(stat -c %a "$store/user-pin")"
[ "$(stat -c %a "$store/so-pin")" = 600 ] && pass "so-pin is 0600" || fail "so-pin mode"
[ "$(stat -c %a "$store")" = 700 ] && pass "store is 0700" || fail "store mode $(stat -c %a "$store")"
[ -z "$(ls -A)" ] && pass "nothing written in the current directory" || fail "wrote in the cwd: $(ls -A)"
expect_match "names where the .cer is" "$OUT" "file: +$cer\$"


# the .cer, read by openssl: the printed thumbprint is its SHA-1 fingerprint
if openssl x509 -inform DER -in "$cer" -noout -subject >"$T/subj" 2>&1; then
  pass "ExchangeAuth.cer parses as DER"; else fail "ExchangeAuth.cer does not parse"; fi
expect_match "subject" "$(cat "$T/subj")" "CN ?= ?entrakey quickstart"
fp=$(openssl x509 -inform DER -in "$cer" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
expect_match "thumbprint is openssl's SHA-1 fingerprint" "$OUT" "thumbprint: +$fp "

# the printed commands, pasted into a shell: no redirect, no placeholder
# the shell would choke on; they get as far as the network (exit 6 against
# a closed port), so the key, the PIN file and every option were good
snippet=$(printf '%s\n' "$OUT" | sed -n '/^Then, with your tenant/,/^which prints/p' | sed '1d;$d')
expect_nomatch "no < or > in the commands" "$snippet" "[<>]"
expect_match "the application ID is a named placeholder" "$snippet" "APPLICATION_ID=11111111-"
mkdir -p "$T/bin" && ln -sf "$EK" "$T/bin/entrakey"
run env PATH="$T/bin:$PATH" AZURE_AUTHORITY_HOST=https://127.0.0.1:9 \
  bash -euc "$snippet --timeout 5"
expect_rc "the pasted commands run (exit 6: nothing listens on port 9)" 6

# the key on the token, read by pkcs11-tool: sensitive, never extractable
export SOFTHSM2_CONF="$store/softhsm2.conf"
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label entrakey-quickstart \
  --login --pin "$pin" --list-objects --type privkey >"$T/objs" 2>&1
expect_match "pkcs11-tool sees the key" "$(cat "$T/objs")" "label: +entrakey-quickstart"
expect_match "key is sensitive" "$(cat "$T/objs")" "Access: +.*sensitive"
expect_match "key is never extractable" "$(cat "$T/objs")" "never extractable"
unset SOFTHSM2_CONF

# a second run reuses the token, the key and the identical .cer
sum1=$(sha256sum "$cer")
run "$EK" quickstart
expect_rc "second quickstart succeeds" 0
expect_match "reuses the token" "$OUT" "Using the embedded software token made before"
expect_nomatch "does not show the PIN again" "$OUT" "user PIN:"
expect_nomatch "does not make another key" "$OUT" "Generating"
[ "$sum1" = "$(sha256sum "$cer")" ] && pass ".cer unchanged" || fail ".cer changed"

# another certificate in ExchangeAuth.cer is not replaced without --force
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -subj /CN=other \
  -days 1 -outform DER -out "$cer" 2>/dev/null
sum2=$(sha256sum "$cer")
run "$EK" quickstart
expect_rc "a foreign ExchangeAuth.cer: exit 8" 8
expect_match "says why and what to do" "$ERR" "holds another certificate.*--force"
[ "$sum2" = "$(sha256sum "$cer")" ] && pass "foreign .cer left as it is" || fail "foreign .cer changed"
run "$EK" quickstart --force
expect_rc "--force replaces it" 0
[ "$sum1" = "$(sha256sum "$cer")" ] && pass ".cer is the token's again" || fail ".cer not replaced"

# --out puts it where asked (a relative name: in the current directory)
run "$EK" quickstart --out mine.cer
expect_rc "--out FILE" 0
cmp -s mine.cer "$cer" && pass "--out wrote the same certificate" || fail "--out mine.cer differs or is missing"
expect_match "and names it" "$OUT" "file: +$T/work/mine.cer\$"

# quickstart refuses options that would point it elsewhere
run "$EK" quickstart --module /nonexistent.so
expect_rc "--module is a usage error" 2

# no HOME and no XDG_DATA_HOME: a clear error
run env -u HOME -u XDG_DATA_HOME "$EK" quickstart
expect_rc "no home: file error" 7
expect_match "names the variables" "$ERR" "XDG_DATA_HOME nor HOME"
finish
