#!/usr/bin/env bash
# The installed library exports only ek_* symbols and carries a SONAME;
# `cmake --install` lays down the binary, the library, the header, the
# pkg-config file and the man page; a program built against the installed
# header and pkg-config file links and runs.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
lib="$EK_BUILD_DIR/libentrakey.so"
others=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^ek_' || true)
[ -z "$others" ] && pass "only ek_* symbols exported" || fail "other exported symbols: $others"
nm -D --defined-only "$lib" | grep -q ' T ek_key_sign$' && pass "ek_key_sign is exported" || fail "ek_key_sign missing"
readelf -d "$lib" | grep -q 'SONAME.*libentrakey.so.0' && pass "SONAME libentrakey.so.0" || fail "no SONAME"

dest="$T/inst"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$EK_BUILD_DIR/CMakeCache.txt")
DESTDIR="$dest" cmake --install "$EK_BUILD_DIR" >"$T/inst.log" 2>&1
expect_rc_val=$?
[ $expect_rc_val -eq 0 ] && pass "cmake --install" || { fail "cmake --install"; cat "$T/inst.log"; }
for f in bin/entrakey include/entrakey.h lib/libentrakey.so.0 lib/pkgconfig/entrakey.pc share/man/man1/entrakey.1; do
  [ -e "$dest$prefix/$f" ] || f=${f/lib\//lib\/x86_64-linux-gnu\/}
  [ -e "$dest$prefix/$f" ] && pass "installed $f" || fail "missing $f"
done
pc=$(dirname "$(find "$dest" -name entrakey.pc)")
cat > "$T/user.c" <<'C'
#include <stdio.h>
#include <entrakey.h>
int main(void) { struct ek_ctx *c = NULL; if (ek_ctx_new(&c) != EK_OK) return 1;
  printf("%s %s\n", ek_version(), ek_strerror(EK_ERR_PIN_LOCKED)); ek_ctx_free(&c); return c != NULL; }
C
sed "s|^prefix=.*|prefix=$dest$prefix|" "$pc/entrakey.pc" > "$T/entrakey.pc"
# a sanitizer build's library needs the program linked with the same runtime
san=()
grep -q '^EK_SANITIZE:BOOL=ON' "$EK_BUILD_DIR/CMakeCache.txt" &&
  san=(-fsanitize=address,undefined,float-cast-overflow)
if cc "${san[@]}" "$T/user.c" -o "$T/user" $(PKG_CONFIG_PATH="$T" pkg-config --cflags --libs entrakey) \
     -Wl,-rpath,"$(dirname "$pc")" 2>"$T/cc.err"; then
  pass "a program builds with the installed header and pkg-config file"
  run "$T/user"
  expect_match "and runs against the installed library" "$OUT" "^0\.1\.0 PIN locked or at its final try$"
else
  fail "build against the install: $(cat "$T/cc.err")"
fi
finish
