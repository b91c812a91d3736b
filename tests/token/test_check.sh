#!/usr/bin/env bash
# test_check.sh: `entrakey check` on SoftHSM, without a network: the exit
# codes of a valid (0), an expiring (10), an expired (12) certificate, a
# missing token or key (13) and an extractable key (14, the fault module),
# the worst of several keys and profiles; the JSON parsed; the Prometheus
# text parsed by prometheus_client's own parser (python3-prometheus-client),
# with labels that need escaping; --out written atomically; no C_Login
# without --login, one with it (pkcs11-spy).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token chk
P11=(pkcs11-tool --module "$SOFTHSM_MODULE")
PS=(--pin-source "file:$PIN_FILE")
cd "$T" || exit 1
uri() { printf 'pkcs11:token=chk;object=%s' "$1"; }
for k in good:61 soon:62 old:63; do
  run "$EK" keygen 'pkcs11:token=chk' --label "${k%%:*}" --id "${k#*:}" "${PS[@]}"
  expect_rc "keygen ${k%%:*}" 0
done
run "$EK" cert create "$(uri good)" --subject 'CN=good' --days 400 "${PS[@]}"
expect_rc "cert create good (400 days)" 0
run "$EK" cert create "$(uri soon)" --subject 'CN=soon' --days 10 "${PS[@]}"
expect_rc "cert create soon (10 days)" 0
# an expired certificate for the third key, made by python3-cryptography
"${P11[@]}" --read-object --type pubkey --id 63 -o old.pub >/dev/null 2>&1
$PY - old.pub old.cer <<'PY'
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
pub = serialization.load_der_public_key(open(sys.argv[1], "rb").read())
ca = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
n = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
c = (x509.CertificateBuilder().subject_name(n("old")).issuer_name(n("CA"))
     .public_key(pub).serial_number(9)
     .not_valid_before(now - datetime.timedelta(days=400))
     .not_valid_after(now - datetime.timedelta(days=2)).sign(ca, hashes.SHA256()))
open(sys.argv[2], "wb").write(c.public_bytes(serialization.Encoding.DER))
PY
run "$EK" cert import "$(uri old)" old.cer "${PS[@]}"
expect_rc "import the expired certificate" 0

# --- one key each ---
run "$EK" check "$(uri good)"
expect_rc "valid: exit 0" 0
expect_match "says ok" "$OUT" 'status: +0 ok'
expect_match "days left" "$OUT" 'valid until: .*\((399|400) days left\), valid'
expect_match "attributes after a login only" "$OUT" 'key: +unknown .*--login'
[ -z "$ERR" ] && pass "nothing on stderr" || fail "stderr: $ERR"
run "$EK" check "$(uri soon)"
expect_rc "expires within 30 days: exit 10" 10
expect_match "says when" "$OUT" 'expires on .* \(in (9|10) days\)'
run "$EK" check "$(uri soon)" --warn-days 5
expect_rc "--warn-days 5: the same certificate is fine (0)" 0
run "$EK" check "$(uri soon)" --warn-days 11
expect_rc "--warn-days 11: exit 10" 10
run "$EK" check "$(uri old)"
expect_rc "expired: exit 12" 12
expect_match "says expired and AADSTS700027" "$OUT" 'expired on .*AADSTS700027'
run "$EK" check 'pkcs11:token=nosuchtoken;object=good'
expect_rc "token missing: exit 13" 13
expect_match "says no token matches" "$OUT" "no token matches"
run "$EK" check "$(uri nosuchkey)"
expect_rc "key missing: exit 13" 13
run "$EK" check "$(uri nosuchkey)" --module /nonexistent/module.so
expect_rc "module missing: exit 13" 13
run "$EK" check "$(uri good)" --format yaml
expect_rc "an unknown format: usage (2)" 2
run "$EK" check "$(uri good)" --warn-days x
expect_rc "a bad --warn-days: usage (2)" 2

# --- PINs: none without --login (pkcs11-spy counts), one with it ---
need_spy
spy s1.log "$EK" --module "$SPY" check "$(uri good)" "$(uri nosuchkey)" "${PS[@]}"
expect_rc "a PIN source but no --login: exit 13 (the missing key)" 13
[ "$(logins s1.log)" -eq 0 ] && pass "no C_Login without --login" || fail "$(logins s1.log) C_Login calls"
grep -q C_FindObjectsInit s1.log && pass "(the spy saw the calls)" || fail "pkcs11-spy logged nothing"
spy s2.log "$EK" --module "$SPY" check "$(uri good)" --login "${PS[@]}"
expect_rc "--login: exit 0" 0
[ "$(logins s2.log)" -eq 1 ] && pass "--login: one C_Login" || fail "$(logins s2.log) C_Login calls"
expect_match "--login: the attributes read" "$OUT" 'key: +non-exportable'
expect_match "--login: said" "$OUT" 'login: +ok'
printf '999999\n' > wrong && chmod 600 wrong
run "$EK" check "$(uri good)" --login --pin-source file:wrong
expect_rc "--login with a wrong PIN: exit 13" 13
expect_match "says the PIN was wrong, not retried" "$OUT" 'CKR_PIN_INCORRECT.*does not retry'

# --- several keys: the worst wins; JSON ---
run "$EK" check "$(uri good)" "$(uri soon)" "$(uri old)" --json
expect_rc "good + soon + old: exit 12 (the worst)" 12
printf '%s' "$OUT" > all.json
check=$($PY - all.json <<'PY' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == 12 and d["warn_days"] == 30, d
st = {k["key"].split("object=")[1].split(";")[0]: k for k in d["keys"]}
assert [k["status"] for k in d["keys"]] == [0, 10, 12], d
assert st["good"]["certificate"]["state"] == "valid"
assert st["soon"]["certificate"]["state"] == "expiring"
assert st["old"]["certificate"]["state"] == "expired"
assert st["old"]["certificate"]["days_left"] < 0
assert st["good"]["certificate"]["matches_key"] is True
assert st["good"]["problem"] is None and "expired" in st["old"]["problem"]
assert st["good"]["token"] == "chk" and st["good"]["key_present"] is True
assert st["good"]["login"] == "not-run" and st["good"]["token_exchange"] == "not-run"
print("ok")
PY
)
expect_match "the JSON report parses and says each key's state" "$check" '^ok$'

# profiles: one named per --profile, the worst wins; a label with a quote,
# a backslash and a newline is escaped in the Prometheus output
"$EK" profile add p-good --key "$(uri good)" >/dev/null
"$EK" profile add p-soon --key "$(uri soon)" >/dev/null
"$EK" profile add p-gone --key "$(uri gone)" >/dev/null
run "$EK" check --profile p-good --profile p-soon
expect_rc "two profiles: exit 10" 10
expect_match "names the profiles" "$OUT" 'profile p-good'
run "$EK" check --profile p-good --profile nosuch
expect_rc "an unknown profile: usage (2), nothing checked" 2
run "$EK" check --profile p-good "$(uri good)"
expect_rc "profiles and KEY-URIs together: usage" 2

# a token whose label holds a quote and a backslash: label values escaped
softhsm2-util --init-token --free --label 'q"t\k' --pin "$TEST_PIN" \
  --so-pin "$TEST_SO_PIN" >/dev/null || fail "softhsm2-util: a second token"
run "$EK" keygen 'pkcs11:token=q%22t%5Ck' --label w --id 65 "${PS[@]}"
expect_rc "keygen on the token 'q\"t\\k'" 0
run "$EK" cert create 'pkcs11:token=q%22t%5Ck;object=w' --subject CN=w "${PS[@]}"
expect_rc "cert create there" 0
run "$EK" check --profile p-good --profile p-soon --profile p-gone --format prometheus --out node.prom
expect_rc "prometheus --out: exit 13 (p-gone)" 13
[ -z "$OUT" ] && pass "nothing on stdout with --out" || fail "stdout: $OUT"
expect_match "the problem on stderr (the journal)" "$ERR" 'object=gone.*no public key or certificate matches'
[ "$(stat -c %a node.prom)" = 644 ] && pass "node.prom is mode 0644" || fail "mode $(stat -c %a node.prom)"
[ -z "$(ls -A | grep '^\.node\.prom')" ] && pass "no temporary file left" || fail "left: $(ls -A)"
"$EK" check 'pkcs11:token=q%22t%5Ck;object=w' --format prometheus > weird.prom
grep -q 'token="q\\"t\\\\k"' weird.prom && pass 'the token label escaped: token="q\"t\\k"' ||
  fail "token label not escaped: $(grep '^entrakey_check_status' weird.prom)"
cat > parse.py <<'PY'
import sys, time
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
for name in ("entrakey_check_status", "entrakey_key_present",
             "entrakey_cert_not_after_timestamp_seconds", "entrakey_cert_valid",
             "entrakey_check_timestamp_seconds", "entrakey_check_warn_days"):
    assert name in fams, (name, sorted(fams))
    assert fams[name].type == "gauge" and fams[name].documentation, name
st = {s.labels["profile"]: s.value for s in fams["entrakey_check_status"].samples}
assert st == {"p-good": 0, "p-soon": 10, "p-gone": 13}, st
present = {s.labels["profile"]: s.value for s in fams["entrakey_key_present"].samples}
assert present == {"p-good": 1, "p-soon": 1, "p-gone": 0}, present
s = [s for s in fams["entrakey_check_status"].samples if s.labels["profile"] == "p-good"][0]
assert s.labels["token"] == "chk" and s.labels["key"].startswith("pkcs11:token=chk;"), s
na = {s.labels["profile"]: s.value for s in fams["entrakey_cert_not_after_timestamp_seconds"].samples}
assert set(na) == {"p-good", "p-soon"}, na   # none for the missing key
assert 9 * 86400 < na["p-soon"] - time.time() < 11 * 86400, na
w = {f.name: f for f in text_string_to_metric_families(open(sys.argv[2]).read())}
(s,) = w["entrakey_check_status"].samples
assert s.labels["token"] == 'q"t\\k' and s.value == 0, s.labels
print("ok")
PY
run $PY parse.py node.prom weird.prom
expect_rc "prometheus_client parses the textfile" 0
expect_match "and finds each key's status, the labels as they were" "$OUT" '^ok$'
[ -n "$ERR" ] && printf '%s\n' "$ERR" | sed 's/^/# /'

# --out replaces a file atomically, and a directory that is missing is 7
echo stale > node.prom
run "$EK" check --profile p-good --format prometheus --out node.prom
expect_rc "--out over an existing file: exit 0" 0
grep -q '^entrakey_check_status{profile="p-good"' node.prom && pass "replaced" || fail "node.prom: $(cat node.prom)"
run "$EK" check --profile p-good --format prometheus --out nodir/x.prom
expect_rc "--out into a missing directory: exit 7" 7

# --- the fault module: a key that reports CKA_EXTRACTABLE=TRUE ---
FAULT_SO=${EKFAULT_SO:-$EK_BUILD_DIR/tests/fault/libekfault.so}
if [ -f "$FAULT_SO" ]; then
  EKFAULT_MODULE="$SOFTHSM_MODULE" EKFAULT="privattr=CKA_EXTRACTABLE:TRUE" \
    run "$EK" --module "$FAULT_SO" check "$(uri good)" --login "${PS[@]}" --json
  expect_rc "an extractable key: exit 14" 14
  expect_match "verdict extractable" "$OUT" '"key_verdict":[[:space:]]*"extractable"'
  EKFAULT_MODULE="$SOFTHSM_MODULE" EKFAULT="C_GetSlotList=CKR_DEVICE_ERROR" \
    run "$EK" --module "$FAULT_SO" check "$(uri good)"
  expect_rc "the module fails: exit 13" 13
else
  fail "the fault module is not built ($FAULT_SO)"
fi
finish
