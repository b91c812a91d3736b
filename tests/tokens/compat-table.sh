#!/usr/bin/env bash
# compat-table.sh [BUILD-DIR]: prints the module x operation table of
# docs/compatibility.md from what the last run of `ctest -L tokens` saw
# (BUILD-DIR/compat/*, written by observe in tests/tokens/lib.sh).
set -u
dir=${1:-build}/compat
[ -d "$dir" ] || { echo "compat-table.sh: run ctest -L tokens in ${1:-build} first" >&2; exit 2; }
cols=(keygen-2048 keygen-3072 keygen-4096 cert-store ps256 rs256 always-auth pin-counters quirks)
echo "| Module | keygen 2048 | keygen 3072 | keygen 4096 | certificate store | PS256 mechanism | RS256 mechanism | always-authenticate | PIN counters | quirks |"
echo "|---|---|---|---|---|---|---|---|---|---|"
get() { awk -F'\t' -v k="$2" '$1 == k { v = $2 } END { print v }' "$1"; }
for f in "$dir"/*; do
  line="| $(basename "$f") ($(get "$f" version))"
  for c in "${cols[@]}"; do
    v=$(get "$f" "$c")
    line="$line | ${v:-not tested}"
  done
  echo "$line |"
done
