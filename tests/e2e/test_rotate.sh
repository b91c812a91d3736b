#!/bin/bash
# test_rotate.sh: `entrakey rotate` against the loopback endpoint's Graph
# (server.py): a dry run posts nothing; a full rotation with a new key on
# the same token (the object id looked up, the profile switched, the old key
# working until removeKey); a new key on another token with --remove-old;
# --remove-old=AFTER prints the later command. Each proof is verified by the
# server with python3-jwt; each new certificate by openssl.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.sh"

e2e_setup
OID=4a0c7a3e-9d3f-4d0b-8f5e-2c1b6e7d9a10
OLD_THUMB=$(openssl x509 -inform DER -in "$CERT" -noout -fingerprint -sha1 |
  sed 's/.*=//; s/://g')

# rot ARGS...: rotate with the endpoint for login and Graph
rot() {
  run "$EK" rotate --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --graph-host "$AUTH" --ca-file "$CA_PEM" \
    --pin-source "file:$PIN_FILE" "$@"
}
privkeys() {
  pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$1" --login \
    --pin "$TEST_PIN" --list-objects --type privkey 2>/dev/null | grep -c 'Object;'
}
app_keys() { stats 'len(s["app_keys"])'; }
# cert_is_keys NAME FILE TOKEN LABEL: FILE is a self-signed certificate
# OpenSSL verifies whose public key is the token key's
cert_is_keys() {
  local pem="$T/chk.pem" pub="$T/chk.pub" why=""
  if ! openssl x509 -inform DER -in "$2" -out "$pem" 2>/dev/null; then
    why="not a DER certificate"
  elif ! openssl verify -check_ss_sig -partial_chain -trusted "$pem" "$pem" >/dev/null 2>&1; then
    why="its signature does not verify"
  elif ! pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$3" --login \
      --pin "$TEST_PIN" --read-object --type pubkey --label "$4" -o "$pub" >/dev/null 2>&1; then
    why="no public key labelled $4 on $3"
  elif [ "$(openssl x509 -in "$pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)" != \
         "$(openssl pkey -pubin -inform DER -in "$pub" -outform DER | sha256sum)" ]; then
    why="its public key is not the token key's"
  fi
  if [ -z "$why" ]; then pass "$1"; else fail "$1: $why"; fi
}

# ------------------------------------------------------------ dry run
control '{}'
rot "$KEY_URI" --app-object-id "$OID" --remove-old --dry-run
expect_rc "dry run: exit 0" 0
expect_match "dry run: says what addKey would do" "$OUT" "would: +POST .*/addKey"
expect_match "dry run: says a key would be generated" "$OUT" "would: +generate a key labelled 'app-"
expect_match "dry run: and the removal" "$OUT" "would: +sign a proof with the new key and POST removeKey"
expect_match "dry run: no Graph request" "$(stats 's["graph_requests"]')" '^0$'
expect_match "dry run: no token request (nothing signed)" "$(stats 's["token_requests"]')" '^0$'
expect_match "dry run: no key made" "$(privkeys e2e)" '^1$'

# ----------------------------------------- a new key on the same token
mkdir -p "$XDG_CONFIG_HOME/entrakey"
CONF="$XDG_CONFIG_HOME/entrakey/config"
cat > "$CONF" <<EOF
[profile prod]
key = $KEY_URI
tenant = $TENANT
client_id = $CLIENT_ID
authority_host = $AUTH
ca_file = $CA_PEM

[profile other]
key = pkcs11:token=elsewhere;object=x;type=private
tenant = $TENANT
client_id = $CLIENT_ID
EOF
chmod 600 "$CONF"
control '{"honour_delay": 2}'
cd "$T" || exit 1
run "$EK" rotate --profile prod --graph-host "$AUTH" --label app2 \
  --pin-source "file:$PIN_FILE" --wait 120
expect_rc "same token: exit 0" 0
ROT_OUT=$OUT
expect_match "same token: the object id was looked up" "$OUT" "object id is $OID"
expect_match "same token: step 1 proved the current key" "$OUT" "step 1: .*registered"
expect_match "same token: addKey named its keyId" "$OUT" "step 4: .*keyId [0-9a-f-]{36}"
expect_match "same token: step 5 waited for the key and said how long" "$OUT" \
  "step 5: +the new key works: a token was issued after [0-9]+ s of waiting \([0-9]+ tr"
expect_match "same token: the wait was reported while it lasted" "$ERR" "not honoured yet"
expect_match "same token: the profile switched" "$OUT" "profile prod in .* now names the new key"
expect_match "same token: two keys on the token" "$(privkeys e2e)" '^2$'
expect_match "same token: the app has both keys" "$(app_keys)" '^2$'
cert_is_keys "same token: app2.cer is the new key's, self-signed (openssl)" "$T/app2.cer" e2e app2
NEW_THUMB=$(openssl x509 -inform DER -in "$T/app2.cer" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
expect_match "same token: the server registered app2.cer" \
  "$(stats '[g.get("added") for g in s["graph"] if g["path"].endswith("/addKey")]')" "$NEW_THUMB"
expect_match "same token: addKey's proof was signed by the old key (python3-jwt)" \
  "$(stats '[g.get("proof_signer") for g in s["graph"] if g["path"].endswith("/addKey")]')" "$OLD_THUMB"
expect_match "same token: the proof's iss is the object id, aud Graph's" \
  "$(stats '[(g["proof_claims"]["iss"], g["proof_claims"]["aud"], g["proof_claims"]["exp"] - g["proof_claims"]["nbf"]) for g in s["graph"] if g["path"].endswith("/addKey")]')" \
  "$OID.*00000002-0000-0000-c000-000000000000.*600"
expect_match "same token: the proof header is RS256 with x5t and kid" \
  "$(stats '[sorted(g["proof_header"].items()) for g in s["graph"] if g["path"].endswith("/addKey")]')" \
  "'alg', 'RS256'.*'kid', '$OLD_THUMB'.*'x5t'"
expect_match "same token: displayName is the subject" \
  "$(stats '[g.get("display_name") for g in s["graph"] if g["path"].endswith("/addKey")]')" "CN=entrakey e2e app"
NEW_URI=$(sed -n 's/^key = //p' "$CONF" | head -1)
expect_match "same token: the profile names the new key" "$NEW_URI" "object=app2"
expect_match "same token: the other profile was left alone" "$(cat "$CONF")" "key = pkcs11:token=elsewhere"
expect_match "same token: the config file stays 0600" "$(stat -c %a "$CONF")" '^600$'
tok
expect_rc "same token: the old key still works until removeKey" 0
run "$EK" token --profile prod --pin-source "file:$PIN_FILE"
expect_rc "same token: the profile's new key gets a token" 0
LATER=$(printf '%s\n' "$ROT_OUT" | sed -n 's/^  \(entrakey rotate .* --remove-key .*\)$/\1/p')
expect_match "same token: the removal command is printed" "$LATER" "--remove-key [0-9a-f-]{36}"
# the printed command, as a user would run it (with their PIN source)
eval "run \"\$EK\" ${LATER#entrakey } --pin-source \"file:\$PIN_FILE\""
expect_rc "same token: the printed --remove-key command works" 0
expect_match "same token: the app has the new key only" "$(stats '[k["thumbprint"] for k in s["app_keys"]]')" "^\['$NEW_THUMB'\]$"
expect_match "same token: removeKey's proof was signed by the new key" \
  "$(stats '[g.get("proof_signer") for g in s["graph"] if g["path"].endswith("/removeKey")]')" "$NEW_THUMB"
tok
expect_rc "same token: the old key is refused after removeKey" 5
expect_match "same token: with AADSTS700027" "$ERR" "AADSTS700027"

# ------------------------- a new key on another token, --remove-old now
stop_server
softhsm2-util --init-token --free --label e2e2 --pin "$TEST_PIN" \
  --so-pin "$TEST_SO_PIN" >/dev/null
start_server --cert "$CERT"
control '{}'
rot "$KEY_URI" --app-object-id "$OID" --new-token "pkcs11:token=e2e2" \
  --label other --subject "CN=rotated,O=Contoso" --days 90 --remove-old \
  --out "$T/other.cer"
expect_rc "other token: exit 0" 0
expect_match "other token: no lookup with --app-object-id and the old keyId found" \
  "$(stats '[g["method"] for g in s["graph"]]')" "^\['GET', 'POST', 'POST'\]$"
expect_match "other token: the key is on e2e2" "$(privkeys e2e2)" '^1$'
cert_is_keys "other token: other.cer is the new key's (openssl)" "$T/other.cer" e2e2 other
expect_match "other token: the subject asked for" \
  "$(openssl x509 -inform DER -in "$T/other.cer" -noout -subject -nameopt RFC2253)" "CN=rotated,O=Contoso"
days=$(( ($(date -d "$(openssl x509 -inform DER -in "$T/other.cer" -noout -enddate | sed 's/.*=//')" +%s) - $(date +%s)) / 86400 ))
expect_match "other token: valid 90 days" "$days" '^(89|90)$'
expect_match "other token: removeKey done" "$OUT" "step 7: +removeKey"
OTHER_THUMB=$(openssl x509 -inform DER -in "$T/other.cer" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
expect_match "other token: the app has the new key only" "$(stats '[k["thumbprint"] for k in s["app_keys"]]')" "^\['$OTHER_THUMB'\]$"
tok
expect_rc "other token: the old key is refused" 5
run "$EK" token "pkcs11:token=e2e2;object=other;type=private" --tenant "$TENANT" \
  --client-id "$CLIENT_ID" --authority-host "$AUTH" --ca-file "$CA_PEM" \
  --pin-source "file:$PIN_FILE"
expect_rc "other token: the new key works" 0

# --------------------------------------------- --remove-old=AFTER
stop_server
start_server --cert "$CERT"
control '{}'
rot "$KEY_URI" --app-object-id "$OID" --label graced --remove-old=7d
expect_rc "grace: exit 0" 0
expect_match "grace: the removal is printed for later" "$OUT" \
  "after [0-9T:-]+Z run:"
expect_match "grace: as a ready command with the old keyId" "$OUT" \
  "entrakey rotate .*object=graced.* --remove-key [0-9a-f-]{36}"
expect_match "grace: both keys stay registered" "$(app_keys)" '^2$'
expect_nomatch "grace: no removeKey" "$(stats '[g["path"] for g in s["graph"]]')" "removeKey"

# ------------------------------------------------ no secret in the trace
stop_server
start_server --cert "$CERT"
control '{}'
rot "$KEY_URI" --app-object-id "$OID" --label traced --remove-old -v
expect_rc "trace: a rotation with -v, exit 0" 0
expect_match "trace: the Graph calls are traced" "$ERR" "POST https://.*/addKey \([0-9]+ bytes of JSON, not shown, Authorization: Bearer \[redacted\]\)"
leaked=""
for t in $(stats '" ".join(s["issued"])'); do
  case "$ERR$OUT" in *"$t"*) leaked="an access token" ;; esac
done
if printf '%s' "$ERR$OUT" | grep -Eq 'eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.'; then leaked="$leaked a JWT"; fi
if [ -z "$leaked" ]; then pass "trace: no access token, proof or assertion in the output"; else
  fail "trace: the output holds$leaked"; fi

rot "$KEY_URI" --app-object-id "$OID" --remove-old=soon
expect_rc "grace: a bad AFTER is a usage error" 2
finish
