#!/usr/bin/env bash
# test_powershell_quote.sh: `--format powershell` cannot be broken out of
# (issue 15, item 5). PowerShell ends a single-quoted string at ' and at
# U+2018-U+201B; the line entrakey prints is read back by those rules
# (tests/e2e/ps_verbatim.py, from the language specification) and must be
# one Connect-ExchangeOnline command whose strings are the very values.
# Issue 13: the same for each module's line (Security & Compliance,
# Microsoft Graph, Azure), each carrying the token exactly.
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
# issue 13: one line per module, read back by the same rules
pslines() { # pslines LABEL KIND [token options...] -- [ps_verbatim values after the token...]
  local label=$1 kind=$2; shift 2
  local opts=() vals=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift; vals=("$@")
  tok --format powershell "${opts[@]}"
  expect_rc "$label" 0
  if printf '%s\n' "$OUT" | "$PY" "$PSV" --line "$kind" "$(issued)" "${vals[@]}" >"$T/why"; then
    pass "$label: the $kind line reads back with the token exactly"
  else
    fail "$label: $(cat "$T/why")"
  fi
}
pslines "Exchange Online (--resource exo)" exo --resource exo -- "$TENANT"
pslines "Security & Compliance" compliance --resource compliance -- "$TENANT"
expect_match "... Connect-IPPSSession" "$OUT" "^Connect-IPPSSession -AccessToken '"
expect_match "... asked for the compliance resource" "$(stats 's["requests"][-1]["scope"]')" '^https://ps\.compliance\.protection\.outlook\.com/\.default$'
pslines "Microsoft Graph" graph --resource graph --
expect_match "... asked for Graph" "$(stats 's["requests"][-1]["scope"]')" '^https://graph\.microsoft\.com/\.default$'
pslines "Microsoft Graph by --scope" graph --scope https://graph.microsoft.com/.default --
pslines "Microsoft Graph, US Gov" graph --resource graph --cloud usgov --
expect_match "... -Environment USGov" "$OUT" ' -Environment USGov$'
pslines "Azure" arm --resource arm -- "$CLIENT_ID" "$TENANT"
expect_match "... asked for ARM" "$(stats 's["requests"][-1]["scope"]')" '^https://management\.azure\.com/\.default$'
pslines "Azure, China" arm --resource arm --cloud china -- "$CLIENT_ID" "$TENANT"
expect_match "... -Environment AzureChinaCloud" "$OUT" ' -Environment AzureChinaCloud$'
# a GUID tenant: Azure needs no organization, Security & Compliance does
run "$EK" token "$KEY_URI" --tenant "$TENANT_ID" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE" \
  --format powershell --resource arm
expect_rc "Azure with a GUID tenant" 0
if printf '%s\n' "$OUT" | "$PY" "$PSV" --line arm "$(issued)" "$CLIENT_ID" "$TENANT_ID" >"$T/why"; then
  pass "... -Tenant is the GUID"; else fail "Azure with a GUID tenant: $(cat "$T/why")"; fi
run "$EK" token "$KEY_URI" --tenant "$TENANT_ID" --client-id "$CLIENT_ID" \
  --authority-host "$AUTH" --ca-file "$CA_PEM" --pin-source "file:$PIN_FILE" \
  --format powershell --resource compliance
expect_rc "Security & Compliance with a GUID tenant and no organization: usage" 2
expect_match "... names Connect-IPPSSession and --organization" "$ERR" 'Connect-IPPSSession -Organization.*--organization'
# the organization's quotes stay inside the Security & Compliance string too
org="a$(printf '\u2018')b$(printf '\u2019')c.onmicrosoft.com"
tok --format powershell --resource compliance --organization "$org"
if [ "$RC" -eq 2 ]; then
  expect_match "compliance organization '$org': refused as not a domain" "$ERR" 'is not a domain name'
elif printf '%s\n' "$OUT" | "$PY" "$PSV" --line compliance "$(issued)" "$org" >"$T/why"; then
  pass "compliance organization '$org' stays one string"
else
  fail "compliance organization '$org': $(cat "$T/why")"
fi
# the reader is strict: a line whose token was broken out of is refused
printf "Connect-MgGraph -AccessToken (ConvertTo-SecureString 'a'+(Write-Output PWNED)+'b' -AsPlainText -Force)\n" |
  "$PY" "$PSV" --line graph "a" >/dev/null && fail "the tokenizer missed a break-out in the Graph line" ||
  pass "the tokenizer sees a break-out in the Graph line"
finish
