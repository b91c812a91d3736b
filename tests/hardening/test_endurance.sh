#!/usr/bin/env bash
# Endurance (tests/hardening/endurance.c): 2,000 assertions in one process
# through the public API, each verified; the heap in use (mallinfo2, with
# glibc's thread cache off so that freed memory is not counted) and the
# resident set after 200 and after 2,000 must agree within 4 KiB / 1 MiB;
# then 200 whole contexts (load, initialise, log in, sign, free), measured
# the same way. In the ASan build LeakSanitizer judges the same run at exit;
# valgrind --leak-check=full runs a shorter count (it is ~50x slower).
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/hardening/lib.sh"
: "${HD_ENDURANCE:?run through ctest}"
hd_key endtok ek

GLIBC_TUNABLES=glibc.malloc.tcache_count=0 \
  run "$HD_ENDURANCE" "$KEY_URI" "file:$PIN_FILE" "$CERT" 2000 200
expect_rc "2,000 assertions and 200 contexts in one process" 0
printf '%s\n' "$OUT" | sed 's/^/# /'
[ "$RC" -eq 0 ] || echo "# stderr: $ERR"
expect_match "phase 1: all 2,000 signed and verified" "$OUT" '^phase 1: 2000 assertions signed on the token and verified$'
expect_match "phase 2: 200 contexts" "$OUT" '^phase 2: 200 contexts made, used and freed$'
if in_asan; then
  expect_match "ASan build: the program says it checked no bounds" "$OUT" 'bounds not checked'
  skip "phase 1/2 memory flat: not measured under ASan (LeakSanitizer judged leaks: exit 0 above)"
else
  expect_match "phase 1: memory flat" "$OUT" '^phase 1 .*: flat'
  expect_match "phase 2: memory flat" "$OUT" '^phase 2 .*: flat'
fi

# valgrind over a shorter run: no error, no definite or indirect leak
if in_asan; then
  skip "valgrind: not over an ASan build (the sanitizers are on)"
elif ! command -v valgrind >/dev/null; then
  fail "valgrind is not installed (apt-get install valgrind)"
else
  HD_NO_BOUNDS=1 run valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --suppressions="$HD_DIR/valgrind.supp" --num-callers=30 \
    "$HD_ENDURANCE" "$KEY_URI" "file:$PIN_FILE" "$CERT" 40 5
  expect_rc "valgrind --leak-check=full: 40 assertions, 5 contexts, clean" 0
  [ "$RC" -eq 0 ] || printf '%s\n' "$ERR" | head -60 | sed 's/^/# /'
fi
finish
