#!/usr/bin/env bash
# The bash completion: sourced into a shell, its function called as bash
# calls it (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT) offers the
# commands, subcommands, options read from --help, the values of
# --resource/--cloud/--format/--alg, the profile names of a test config,
# and the token URIs of the test's SoftHSM token, without a PIN prompt (a
# SoftHSM private key is listed only after a login, which completion never
# does: its key URI is a SKIP line unless `keys` lists it without one).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
comp="$EK_SOURCE_DIR/completion/entrakey.bash"
fresh_token comptok
"$EK" profile add contoso --tenant contoso.onmicrosoft.com \
  --client-id 11111111-2222-3333-4444-555555555555 >/dev/null
"$EK" profile add fabrikam.prod --tenant fabrikam.onmicrosoft.com >/dev/null

# complete LINE: the replies for the command line LINE (cursor at its end),
# one per line, as bash would get them
complete_line() {
  bash --norc --noprofile -c '
    source "$1" || exit 9
    line=$2
    read -ra COMP_WORDS <<<"$line"
    [ "${line: -1}" = " " ] && COMP_WORDS+=("")
    COMP_WORDS[0]=$3
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line COMP_POINT=${#line}
    _entrakey entrakey "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$1" "$EK" </dev/null
}
expect_words() { # NAME LINE WORD...: every WORD is offered
  local name=$1 line=$2 got w miss=""; shift 2
  got=$(complete_line "$line")
  for w in "$@"; do grep -qxF -- "$w" <<<"$got" || miss+=" $w"; done
  if [ -z "$miss" ]; then pass "$name"; else
    fail "$name: '$line' did not offer:$miss"; printf '%s\n' "$got" | sed 's/^/#   /'; fi
}
expect_exact() { # NAME LINE WORDS: exactly these, in any order
  local got want
  got=$(complete_line "$2" | sort | tr '\n' ' ')
  want=$(printf '%s\n' $3 | sort | tr '\n' ' ')
  [ "$got" = "$want" ] && pass "$1" || fail "$1: '$2' offered '$got', expected '$want'"
}

bash -n "$comp" && pass "the completion parses" || fail "syntax error in $comp"
run bash --norc -c "source '$comp' && complete -p entrakey"
expect_match "registers _entrakey for entrakey" "$OUT" "complete -F _entrakey entrakey"

expect_exact "commands" "entrakey " "quickstart tokens keys keygen cert init assert token exec agent rotate profile check help"
expect_exact "commands by prefix" "entrakey to" "tokens token"
expect_exact "after a global option" "entrakey -v --module /x.so k" "keys keygen"
expect_exact "cert subcommands" "entrakey cert " "create csr import show export"
expect_words "keys offers delete" "entrakey keys " delete
expect_words "keys delete options from its --help" "entrakey keys delete --" --yes --force --config
expect_words "cert export options" "entrakey cert export --" --out --pem --force
expect_exact "--format values of check" "entrakey check --format " "text json prometheus"
expect_words "check options" "entrakey check --" --warn-days --format --out --login --token --profile
expect_exact "profile subcommands" "entrakey profile " "add show list remove"
expect_words "token options from its --help" "entrakey token --" --tenant --client-id --resource --scope --cloud --format --alg --profile --config --timeout --max-wait
expect_words "keygen options" "entrakey keygen 'pkcs11:token=x' --" --label --bits --id
expect_exact "--resource values" "entrakey token --resource " "exo graph arm compliance"
expect_exact "--cloud values" "entrakey token --cloud us" "usgov usgov-dod"
expect_exact "--format values of token" "entrakey token --format " "raw json env powershell"
expect_exact "--alg values" "entrakey assert --alg " "PS256 RS256"
expect_exact "--bits values" "entrakey keygen --bits " "2048 3072 4096"
expect_exact "--pin-source kinds" "entrakey token --pin-source " "env: file: fd:"
expect_exact "profile names for --profile" "entrakey token --profile " "contoso fabrikam.prod"
expect_exact "profile names by prefix" "entrakey exec --profile fa" "fabrikam.prod"
expect_words "exec and agent offer --managed-identity" "entrakey exec --man" --managed-identity
expect_words "... agent" "entrakey agent --man" --managed-identity
expect_exact "profile show NAME" "entrakey profile show " "contoso fabrikam.prod"
expect_exact "nothing after a value-taking option's value" "entrakey token --tenant " ""

# ENTRAKEY_CONFIG / --config: another file's profiles
mkdir -p "$T/other"
"$EK" profile add elsewhere --tenant x --config "$T/other/config" >/dev/null
expect_exact "--config on the line is followed" "entrakey token --config $T/other/config --profile " "elsewhere"

# URIs: the SoftHSM token's, no PIN asked (stdin is not a terminal and no
# PIN source is given; a prompt would hang and hit the timeout)
tokuri=$("$EK" tokens --json </dev/null | sed -n 's/.*"uri":[[:space:]]*"\(pkcs11:[^"]*token=comptok[^"]*\)".*/\1/p')
[ -n "$tokuri" ] && pass "the test token has a URI" || fail "no URI for comptok"
start=$(date +%s)
expect_words "token URIs for keys, quoted" "entrakey keys " "'$tokuri'"
expect_words "token URIs inside an open quote" "entrakey keygen '${tokuri:0:12}" "$tokuri"
[ $(( $(date +%s) - start )) -lt 10 ] && pass "quickly (no prompt waited for)" || fail "URI completion took $(( $(date +%s) - start )) s"

"$EK" keygen "pkcs11:token=comptok" --label compkey --pin-source "file:$PIN_FILE" >/dev/null 2>&1
keyuri=$("$EK" keys "pkcs11:token=comptok" --json --pin-source "file:$PIN_FILE" </dev/null |
  sed -n 's/.*"uri":[[:space:]]*"\(pkcs11:[^"]*object=compkey[^"]*\)".*/\1/p' | head -1)
got=$(complete_line "entrakey token ")
if grep -qxF "'$keyuri'" <<<"$got"; then pass "key URIs for token (listed without a login)"
else echo "# SKIP: the key's URI is not offered: this token lists private keys only after a login, and completion never logs in"; fi
finish
