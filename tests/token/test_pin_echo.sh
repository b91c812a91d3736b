#!/usr/bin/env bash
# test_pin_echo.sh: no message repeats something that could be a PIN. 200
# random digit strings go where a PIN source belongs (--pin-source VALUE,
# the abbreviation --pin VALUE, --pin-source=VALUE, --so-pin-source, a
# profile's pin_source) and into a key URI's pin-value= (a wrong PIN, with
# and without -v); stderr and stdout must never contain them.
# EK_TEST_SHARD=K/M runs the K-th of M parts of the 200 (tests/valgrind.sh
# runs the parts at once), the checks after them in the last part.
# EK_PIN_ECHO_CASES=N (72 or more) runs the first N: tests/valgrind.sh runs
# 72, every one of the 8 forms with every one of the 9 lengths once (case
# i is form i % 8 and length 4 + i % 9): the 200 took 233 s of valgrind
# for no path the 72 (110 s) do not take.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token echotok
TOK='pkcs11:token=echotok'
KEY='pkcs11:token=echotok;object=k;type=private'
GUID=11111111-2222-3333-4444-555555555555

run "$EK" keygen "$TOK" --label k --pin-source "file:$PIN_FILE"
expect_rc "keygen" 0

leaks=0 cases=0
N=${EK_PIN_ECHO_CASES:-200}
[[ "$N" =~ ^[1-9][0-9]*$ ]] && [ "$N" -ge 72 ] ||
  { echo "not ok - EK_PIN_ECHO_CASES='$N': 72 or more"; exit 1; }
shard_range "$N"
# check VALUE NAME: the last run exited non-zero and never showed VALUE
check() {
  cases=$((cases + 1))
  if [ "$RC" -eq 0 ]; then
    fail "$2 with '$1': exit 0"; leaks=$((leaks + 1)); return
  fi
  if printf '%s\n%s' "$OUT" "$ERR" | grep -qF -- "$1"; then
    fail "$2: the value $1 was shown:"; printf '%s\n' "$ERR" | sed 's/^/#   /'
    leaks=$((leaks + 1))
  fi
}

for i in $(seq "$SHARD_FROM" "$SHARD_TO"); do
  # 4 to 12 digits, never the real PIN (a wrong PIN is what is tested)
  v=$(od -An -N8 -tu8 /dev/urandom | tr -dc 0-9 | head -c $((4 + i % 9)))
  [ "$v" = "$TEST_PIN" ] && continue
  case $((i % 8)) in
  0) run "$EK" keys "$TOK" --pin-source "$v"; check "$v" "keys --pin-source" ;;
  1) run "$EK" keys "$TOK" --pin "$v"; check "$v" "keys --pin (abbreviated)" ;;
  2) run "$EK" --pin-source="$v" keys "$TOK"; check "$v" "--pin-source= before the command" ;;
  3) run "$EK" keygen "$TOK" --label x --so-pin-source "$v" --pin-source "file:$PIN_FILE"
     check "$v" "keygen --so-pin-source" ;;
  4) run "$EK" assert "$KEY?pin-value=$v" --tenant contoso.onmicrosoft.com --client-id $GUID
     check "$v" "assert with a wrong pin-value=" ;;
  5) run "$EK" -v assert "$KEY?pin-value=$v" --tenant contoso.onmicrosoft.com --client-id $GUID
     check "$v" "assert -v with a wrong pin-value=" ;;
  6) run "$EK" profile add "p$i" --tenant contoso.onmicrosoft.com --pin-source "$v"
     check "$v" "profile add --pin-source" ;;
  7) run "$EK" token "$KEY" --tenant contoso.onmicrosoft.com --client-id $GUID --pin-s "$v"
     check "$v" "token --pin-s (abbreviated)" ;;
  esac
done
[ "$leaks" -eq 0 ] && pass "$cases random PIN-like values: none shown, none accepted"
want=$(( (SHARD_TO - SHARD_FROM + 1) * 95 / 100 ))
[ "$cases" -ge "$want" ] && pass "at least $want cases ran ($cases)" || fail "only $cases cases"
[ "$SHARD_TO" -eq "$N" ] || finish

# what the user sees instead
run "$EK" keys "$TOK" --pin 123456
expect_rc "--pin: usage" 2
expect_match "... says to write --pin-source in full" "$ERR" 'write --pin-source in full'
run "$EK" keys "$TOK" --pin-source 123456
expect_rc "a PIN as the source: usage" 2
expect_match "... says what a source is, without the value" "$ERR" 'PIN source given is not understood.*env:NAME'
run "$EK" keys "$TOK" --pine=123456
expect_rc "an unknown option with a value: usage" 2
expect_match "... names the option only" "$ERR" "unknown or ambiguous option '--pine'"
expect_match "... and where the help is, in one more line" "$ERR" 'see `entrakey keys --help`'
expect_match "... two lines, not the help" "$(printf '%s\n' "$ERR" | wc -l)" '^2$'

finish
