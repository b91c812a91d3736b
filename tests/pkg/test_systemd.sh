#!/usr/bin/env bash
# The systemd unit templates in dist/systemd: systemd-analyze verify finds
# nothing to say about them (the only change: ExecStart's `entrakey`, which
# systemd looks up in /usr/local/bin and /usr/bin, is this build's binary);
# the PIN comes from an encrypted credential, never the command line, and
# the profiles and the job from credentials too (/etc/entrakey stays 0700); the
# sandbox scores well on `systemd-analyze security`; and the ExecStart line,
# with %i and %d filled in, is a command entrakey accepts: it gets as far
# as the network (exit 6 against a closed port) with the profile and PIN.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (apt-get install systemd)"
  exit 77
fi
src="$EK_SOURCE_DIR/dist/systemd"
svc="$src/entrakey-exo@.service" tmr="$src/entrakey-exo@.timer"
mkdir -p "$T/units"
sed "s|^ExecStart=entrakey |ExecStart=$EK |" "$svc" > "$T/units/entrakey-exo@.service"
cp "$tmr" "$T/units/"

grep -q '^ExecStart=entrakey exec ' "$svc" && pass "ExecStart runs entrakey by name (/usr/bin or /usr/local/bin)" ||
  fail "ExecStart does not start with 'entrakey exec'"
run systemd-analyze verify --man=no "$T/units/entrakey-exo@.service" "$T/units/entrakey-exo@.timer"
expect_rc "systemd-analyze verify" 0
[ -z "$OUT$ERR" ] && pass "and it has nothing to say" || fail "systemd-analyze verify said: $OUT $ERR"

for d in 'LoadCredentialEncrypted=pin:/etc/entrakey/%i.pin.cred' \
    'LoadCredential=config:/etc/entrakey/config' 'UMask=0177' \
    'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
    'CapabilityBoundingSet=$'; do
  grep -q "^$d" "$svc" && pass "service has $d" || fail "service lacks $d"
done
expect_match "the PIN is read from the credential" "$(grep -A2 '^ExecStart' "$svc")" "--pin-source file:%d/pin"
grep -q '^WantedBy=timers.target' "$tmr" && pass "the timer installs into timers.target" || fail "timer: no WantedBy=timers.target"

run systemd-analyze security --offline=true "$T/units/entrakey-exo@.service"
score=$(printf '%s\n' "$OUT" "$ERR" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security: exposure $score"
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' &&
  pass "systemd-analyze security: exposure $score (at most 2.5)" || fail "exposure '$score' above 2.5"

# The ExecStart command with its specifiers filled in, run: the profile
# from a config of the test, the PIN from a 0400 file in a credentials
# directory, nothing listening at the authority host.
fresh_token exotok
"$EK" keygen "pkcs11:token=exotok" --label exo --pin-source "file:$PIN_FILE" >/dev/null 2>&1
"$EK" cert create "pkcs11:token=exotok;object=exo" --subject CN=exo --out "$T/exo.cer" \
  --pin-source "file:$PIN_FILE" >/dev/null 2>&1
mkdir -p "$T/creds"
"$EK" profile add unit-test --config "$T/creds/config" --tenant contoso.onmicrosoft.com \
  --client-id 11111111-2222-3333-4444-555555555555 --key "pkcs11:token=exotok;object=exo" \
  --module "$SOFTHSM_MODULE" --authority-host https://127.0.0.1:9 >/dev/null
printf 'exit 0\n' > "$T/creds/job.ps1"
cp "$PIN_FILE" "$T/creds/pin" && chmod 400 "$T/creds/"* && chmod 500 "$T/creds"
cmdline=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$svc" | sed 's/^ExecStart=//; s/\\$//' | tr '\n' ' ' |
  sed "s|%i|unit-test|g; s|%d|$T/creds|g; s|^entrakey |$EK |")
read -ra argv <<<"$cmdline"
run "${argv[@]}"
expect_rc "the ExecStart command runs up to the network (exit 6)" 6
expect_nomatch "no usage error" "$ERR" "usage|unrecognized|unknown option"
expect_nomatch "the PIN is not on stderr" "$ERR" "$TEST_PIN"

# entrakey-check.service and .timer: verified, and the ExecStart line run
# (specifiers and variables filled in): it writes a textfile that
# prometheus_client parses, and the check's findings count as success
csvc="$src/entrakey-check.service" ctmr="$src/entrakey-check.timer"
sed "s|^ExecStart=entrakey |ExecStart=$EK |" "$csvc" > "$T/units/entrakey-check.service"
cp "$ctmr" "$T/units/"
run systemd-analyze verify --man=no "$T/units/entrakey-check.service" "$T/units/entrakey-check.timer"
expect_rc "entrakey-check: systemd-analyze verify" 0
[ -z "$OUT$ERR" ] && pass "entrakey-check: and it has nothing to say" || fail "systemd-analyze verify said: $OUT $ERR"
grep -q '^OnCalendar=daily' "$ctmr" && pass "the check's timer runs daily" || fail "entrakey-check.timer: not daily"
grep -q '^WantedBy=timers.target' "$ctmr" && pass "the check's timer installs into timers.target" || fail "no WantedBy"
grep -q '^SuccessExitStatus=10 11 12 13 14$' "$csvc" && pass "the check's findings are not unit failures" ||
  fail "no SuccessExitStatus for check's codes"
mkdir -p "$T/textfile"
"$EK" profile add default --config "$T/creds/config" --key "pkcs11:token=exotok;object=exo" \
  --module "$SOFTHSM_MODULE" >/dev/null
chmod 400 "$T/creds/config"
cmdline=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$csvc" | sed 's/^ExecStart=//; s/\\$//' | tr '\n' ' ' |
  sed "s|%d|$T/creds|g; s|\$PROFILES|--profile default|; s|\${TEXTFILE_DIR}|$T/textfile|; s|^entrakey |$EK |")
read -ra argv <<<"$cmdline"
run "${argv[@]}"
expect_rc "the check's ExecStart command: exit 0" 0
cat > "$T/parse.py" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
f = {m.name: m for m in text_string_to_metric_families(open(sys.argv[1]).read())}
(s,) = f["entrakey_check_status"].samples
assert s.value == 0 and s.labels["profile"] == "default", s
print("ok")
PY
run "$PY" "$T/parse.py" "$T/textfile/entrakey.prom"
expect_match "it wrote entrakey.prom, which prometheus_client parses" "$OUT" '^ok$'
finish
