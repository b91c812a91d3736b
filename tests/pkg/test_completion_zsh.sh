#!/usr/bin/env bash
# The zsh completion (completion/_entrakey) loads through compinit and
# registers itself for entrakey; called as zsh calls it (words, CURRENT,
# with compadd/_files/_normal/compset recording what is offered) it offers
# the commands, subcommands, options, values and profile names. And both
# completions, zsh's and bash's, against the binary's own --help: every
# command of `entrakey --help`, every subcommand in a usage line, and
# every option a help page documents on its own line is offered. The
# comparison is shown to fail when the completion misses an option.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
zcomp="$EK_SOURCE_DIR/completion/_entrakey"
bcomp="$EK_SOURCE_DIR/completion/entrakey.bash"
command -v zsh >/dev/null ||
  { fail "zsh is not installed (scripts/dev.sh installs it)"; finish; }

"$EK" profile add contoso --tenant contoso.onmicrosoft.com >/dev/null
"$EK" profile add fabrikam.prod --tenant fabrikam.onmicrosoft.com >/dev/null

# zsh_lines BIN LINE...: what the zsh completion offers for each LINE
# (cursor at its end), after a "@@ LINE" line, one word per line, from one
# zsh (as in a session: --help is read once per command); compadd keeps
# the words matching the current one as zsh would
zsh_lines() {
  BIN=$1 COMP=$zcomp zsh -f -c '
    compadd() {
      while (( $# )); do
        [[ $1 == -- ]] && { shift; break }
        [[ $1 == -[SPWXJ] ]] && shift
        shift
      done
      local w
      for w in "$@"; do [[ $w == ${words[CURRENT]}* ]] && print -r -- $w; done
    }
    _files() { print -r -- "<files>" }
    _normal() { print -r -- "<normal ${words[*]}>" }
    compset() { return 0 }
    words=($BIN --version) CURRENT=2
    source $COMP >/dev/null
    for LINE in "$@"; do
      print -r -- "@@ $LINE"
      words=(${(z)LINE})
      [[ $LINE == *" " ]] && words+=("")
      words[1]=$BIN
      CURRENT=$#words
      _entrakey
    done' _ "${@:2}" </dev/null
}
# bash_lines BIN LINE...: the same for the bash completion
bash_lines() {
  bash --norc --noprofile -c '
    source "$1" || exit 9
    bin=$2; shift 2
    for line in "$@"; do
      printf "@@ %s\n" "$line"
      read -ra COMP_WORDS <<<"$line"
      [ "${line: -1}" = " " ] && COMP_WORDS+=("")
      COMP_WORDS[0]=$bin
      COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
      COMP_LINE=$line COMP_POINT=${#line}
      COMPREPLY=()
      _entrakey entrakey "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
      [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"
    done' _ "$bcomp" "$@" </dev/null
}
# --- it loads as zsh loads it
run zsh -f -c "fpath=('$EK_SOURCE_DIR/completion' \$fpath)
  autoload -U compinit && compinit -u -D -d '$T/zcompdump' &&
  print -r -- \"\$_comps[entrakey]\""
expect_match "compinit registers _entrakey for entrakey" "$OUT" '^_entrakey$'
run zsh -n "$zcomp"
expect_rc "the completion parses (zsh -n)" 0
head -1 "$zcomp" | grep -qx '#compdef entrakey' &&
  pass "its first line is #compdef entrakey" || fail "no #compdef line"

# --- and in an interactive zsh (zsh/zpty: a terminal of its own), TAB
# after `entrakey cert cr` gives `entrakey cert create`; 60 s is a guard
# against a hang, not a timing
mkdir -p "$T/zbin"
ln -s "$EK" "$T/zbin/entrakey"
cat > "$T/zpty.zsh" <<'ZSH'
zmodload zsh/zpty || exit 3
zpty z "zsh -f -i"
zpty -w z "PS1='> '; bindkey -e; fpath=(\$COMPDIR \$fpath); autoload -U compinit; compinit -u -D -d \$ZD/zcd; path=(\$ZBIN \$path); print RE''ADY"
zpty -r -m z out '*READY*' || exit 4
# TAB, then the line made into a print of itself and run
zpty -w -n z $'entrakey cert cr\t'
zpty -w -n z $'\C-aprint -r -- LINE:\n'
zpty -r -m z out $'*\nLINE:entrakey cert create[ \r]*' || exit 5
zpty -d z
print -r -- completed
ZSH
run env COMPDIR="$EK_SOURCE_DIR/completion" ZD="$T" ZBIN="$T/zbin" \
  timeout 60 zsh -f "$T/zpty.zsh"
expect_match "interactive zsh: TAB completes 'entrakey cert cr' to 'create'" "$OUT" '^completed$'

# --- what it offers: NAME|LINE|WORDS (exactly these, in any order), all
# asked of one zsh, as in one session
mkdir -p "$T/other"
"$EK" profile add elsewhere --tenant x --config "$T/other/config" >/dev/null
cat > "$T/cases" <<CASES
commands by prefix|entrakey to|tokens token
after a global option|entrakey -v --module /x.so k|keys keygen
cert subcommands|entrakey cert |create csr import show export
keys delete|entrakey keys d|delete
profile subcommands|entrakey profile |add show list remove
--resource values|entrakey token --resource |exo graph arm compliance
--cloud values|entrakey token --cloud us|usgov usgov-dod
--format values of token|entrakey token --format |raw json env powershell
--alg values|entrakey assert --alg |PS256 RS256
--bits values|entrakey keygen --bits |2048 3072 4096
--pin-source kinds|entrakey token --pin-source |env: file: fd:
profile names for --profile|entrakey token --profile |contoso fabrikam.prod
profile show NAME|entrakey profile show f|fabrikam.prod
files for --out|entrakey cert create --out |<files>
nothing after a value-taking option's value|entrakey token --tenant |
exec's command after --|entrakey exec --profile contoso -- pw|<normal pw>
--config on the line is followed|entrakey token --config $T/other/config --profile |elsewhere
CASES
mapfile -t lines < <(cut -d'|' -f2 "$T/cases")
zsh_lines "$EK" "${lines[@]}" > "$T/offered"
while IFS='|' read -r name line want; do
  got=$(awk -v l="$line" '/^@@ / {on = (substr($0, 4) == l); next} on' "$T/offered" |
    sort | tr '\n' ' ')
  want=$([ -z "$want" ] || printf '%s\n' $want | sort | tr '\n' ' ')
  [ "$got" = "$want" ] && pass "zsh: $name" ||
    fail "zsh: $name: '$line' offered '$got', expected '$want'"
done < "$T/cases"

# --- both completions against the binary's --help
# help_cmds / help_subs CMD / help_opts CMD [SUB]: what --help documents
# helptext [CMD [SUB]]: entrakey's --help, read once
helptext() {
  local f="$T/help/entrakey $*"
  mkdir -p "$T/help"
  [ -f "$f" ] || "$EK" "$@" --help > "$f"
  cat "$f"
}
help_cmds() {
  helptext | awk '/^commands:/ {f = 1; next}
    f && /^  [a-z]/ {print $1; next} f && !/^ / {f = 0}'
}
help_subs() {
  helptext "$1" | grep -E '^(usage:)? +entrakey ' |
    sed -nE "s/^(usage:)? +entrakey $1 ([a-z][a-z0-9-]*)( .*)?$/\2/p" | sort -u
}
help_opts() {
  helptext "$@" | sed -nE 's/^ +(-[a-zA-Z], )?(--[a-z0-9][a-z0-9-]*).*/\2/p' | sort -u
}
# what --help documents, read once: "LINE<TAB>WORD" for each word the
# completion must offer at LINE
mkdir -p "$T/want"
{
  for c in $(help_cmds) help; do printf 'entrakey \t%s\n' "$c"; done
  for w in $(help_opts); do printf 'entrakey --\t%s\n' "$w"; done
  for c in $(help_cmds); do
    subs=$(help_subs "$c")
    for s in $subs; do printf 'entrakey %s \t%s\n' "$c" "$s"; done
    for s in ${subs:-""}; do
      for w in $(help_opts "$c" $s); do
        printf 'entrakey %s %s--\t%s\n' "$c" "${s:+$s }" "$w"
      done
    done
  done
} > "$T/want/all"
# misses BIN [WANT]: what each shell does not offer of WANT (default: all
# of it), as "shell: 'LINE': WORD"
misses() {
  local sh lines want=${2:-$T/want/all}
  mapfile -t lines < <(cut -f1 "$want" | sort -u)
  for sh in zsh bash; do
    ${sh}_lines "$1" "${lines[@]}" | awk -v sh="$sh" -F '\t' '
      FILENAME == "-" { if (/^@@ /) { l = substr($0, 4); next } got[l "\t" $0] = 1; next }
      !(($1 "\t" $2) in got) { printf "%s: \x27%s\x27: %s\n", sh, $1, $2 }' - "$want"
  done
}
n_cmds=$(help_cmds | wc -l)
[ "$n_cmds" -ge 11 ] && pass "entrakey --help lists $n_cmds commands" ||
  fail "entrakey --help lists $n_cmds commands: the test's reading of it is broken"
help_cmds | grep -qx agent && pass "--help lists agent" || fail "--help does not list agent"
m=$(misses "$EK")
if [ -z "$m" ]; then
  pass "zsh and bash offer every command, subcommand and option of --help"
else
  fail "the completions miss what --help documents:"; printf '%s\n' "$m" | sed 's/^/#   /'
fi

# the comparison can fail: an entrakey whose help, as the completions read
# it, lacks token's --max-wait line and the command exec
mkdir -p "$T/fake"
cat > "$T/fake/entrakey" <<SH
#!/bin/sh
"$EK" "\$@" | grep -v -e '^  --max-wait' -e '^  exec '
SH
chmod +x "$T/fake/entrakey"
grep -E '^entrakey (token )?--?	|^entrakey 	' "$T/want/all" > "$T/want/some"
m=$(misses "$T/fake/entrakey" "$T/want/some")
for want in "zsh: 'entrakey token --': --max-wait" "bash: 'entrakey token --': --max-wait" \
            "zsh: 'entrakey ': exec" "bash: 'entrakey ': exec"; do
  grep -qxF -- "$want" <<<"$m" && pass "a missing item is caught: $want" ||
    { fail "not caught: $want"; printf '%s\n' "$m" | sed 's/^/#   /'; }
done
finish
