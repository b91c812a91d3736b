#!/usr/bin/env bash
# test_powershell_quote.sh: `--format powershell` cannot be broken out of
# (issue 15, item 5). PowerShell ends a single-quoted string at ' and at
# U+2018-U+201B; the line entrakey prints is read back by those rules
# (tests/e2e/ps_verbatim.py, from the language specification) and must be
# one Connect-ExchangeOnline command whose strings are the very values.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup
issued() { stats 's["issued"][-1]'; }
PSV="$EK_SOURCE_DIR/tests/e2e/ps_verbatim.py"

# the tokenizer itself tells a broken-out line from a whole one
printf "Connect-ExchangeOnline -AccessToken 'a' -Organization 'x\u2019+(Write-Output PWNED)+\u2019'\n" |
  "$PY" "$PSV" a "x" >/dev/null && fail "the tokenizer missed a break-out" ||
  pass "the tokenizer sees a break-out through U+2019"
printf "Connect-ExchangeOnline -AccessToken 'a' -Organization 'x\u2019\u2019y'\n" |
  "$PY" "$PSV" a "x$(printf '\u2019')y" >/dev/null &&
  pass "the tokenizer reads a doubled U+2019 as one" ||
  fail "the tokenizer misread a doubled U+2019"

tok --format powershell
expect_rc "an ordinary token" 0
if printf '%s\n' "$OUT" | "$PY" "$PSV" "$(issued)" "$TENANT" >"$T/why"; then
  pass "an ordinary line reads back"; else fail "an ordinary line: $(cat "$T/why")"; fi

for org in \
  "contoso$(printf '\u2019')+[Console]::Write(1)+$(printf '\u2019').onmicrosoft.com" \
  "a$(printf '\u2018')b$(printf '\u2019')c$(printf '\u201a')d$(printf '\u201b')e.onmicrosoft.com" \
  "$(printf '\u2019')" \
  "$(printf '\u2019\u2019\u2019')" \
  "contoso.onmicrosoft.com$(printf '\u201b')" \
  "x$(printf '\u2019')'$(printf '\u2018')y" ; do
  tok --format powershell --organization "$org"
  if [ "$RC" -eq 2 ]; then
    # refusing a value that is not a domain name is safe too
    expect_match "organization '$org': refused as not a domain" "$ERR" 'is not a domain name'
    continue
  fi
  expect_rc "organization '$org'" 0
  if printf '%s\n' "$OUT" | "$PY" "$PSV" "$(issued)" "$org" >"$T/why"; then
    pass "organization '$org' stays one string"
  else
    fail "organization '$org': $(cat "$T/why")"
  fi
done
finish
