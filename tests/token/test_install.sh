#!/usr/bin/env bash
# The installed library exports only ek_* symbols and carries a SONAME;
# `cmake --install` lays down the binary, the library, the header, the
# pkg-config file, the gzip'd man page, the bash completion, the docs and
# the systemd unit templates; the install is
# relocatable: installed with --prefix somewhere else than the configured
# prefix, entrakey starts and finds the library it came with (RPATH
# $ORIGIN/../lib), and a program builds with nothing but the installed
# entrakey.pc and runs.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
unset LD_LIBRARY_PATH PKG_CONFIG_PATH
lib="$EK_BUILD_DIR/libentrakey.so"
others=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^ek_' || true)
[ -z "$others" ] && pass "only ek_* symbols exported" || fail "other exported symbols: $others"
nm -D --defined-only "$lib" | grep -q ' T ek_key_sign$' && pass "ek_key_sign is exported" || fail "ek_key_sign missing"
readelf -d "$lib" | grep -q 'SONAME.*libentrakey.so.0' && pass "SONAME libentrakey.so.0" || fail "no SONAME"

dest="$T/inst"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$EK_BUILD_DIR/CMakeCache.txt")
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$EK_BUILD_DIR/CMakeCache.txt")
DESTDIR="$dest" cmake --install "$EK_BUILD_DIR" >"$T/inst.log" 2>&1
expect_rc_val=$?
[ $expect_rc_val -eq 0 ] && pass "cmake --install" || { fail "cmake --install"; cat "$T/inst.log"; }
libexec=$(sed -n 's/^CMAKE_INSTALL_LIBEXECDIR:PATH=//p' "$EK_BUILD_DIR/CMakeCache.txt")
full=$libexec/entrakey/entrakey-full
# entrakey's own HTTPS libcurl, beside the library, in a build that has it
owncurl=
grep -q '^EK_AGENT_CURL:PATH=.' "$EK_BUILD_DIR/CMakeCache.txt" &&
  owncurl="$libdir/libentrakey-curl.so.4"
for f in bin/entrakey "$full" "$full.so" $owncurl include/entrakey.h "$libdir/libentrakey.so.0" \
    "$libdir/pkgconfig/entrakey.pc" share/man/man1/entrakey.1.gz \
    share/doc/entrakey/getting-started.md share/doc/entrakey/copyright \
    share/bash-completion/completions/entrakey \
    share/doc/entrakey/examples/systemd/entrakey-exo@.service \
    share/doc/entrakey/examples/systemd/entrakey-exo@.timer \
    share/doc/entrakey/examples/polkit/50-entrakey-pcscd.rules; do
  [ -e "$dest$prefix/$f" ] && pass "installed $f" || fail "missing $f"
done
if gzip -dc "$dest$prefix/share/man/man1/entrakey.1.gz" | cmp -s - "$EK_SOURCE_DIR/docs/entrakey.1"; then
  pass "the man page is docs/entrakey.1, gzip'd"; else fail "entrakey.1.gz is not docs/entrakey.1"; fi

# Relocated: installed under another prefix than the configured one.
reloc="$T/elsewhere/.local"
cmake --install "$EK_BUILD_DIR" --prefix "$reloc" >"$T/reloc.log" 2>&1
expect_rc_val=$?
[ $expect_rc_val -eq 0 ] && pass "cmake --install --prefix elsewhere" || { fail "cmake --install --prefix"; cat "$T/reloc.log"; }
# entrakey itself needs no library of ours and no run path; the whole
# command (entrakey-full) finds the library relative to itself
rpath=$(readelf -d "$reloc/bin/entrakey" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
expect_match "entrakey has no RUNPATH" "[$rpath]" '^\[\]$'
rpath=$(readelf -d "$reloc/$full" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
expect_match "entrakey-full's RUNPATH is relative to it" "$rpath" '^\$ORIGIN/\.\./\.\./'"$libdir"'$'
expect_nomatch "no build directory in the RUNPATH" "$rpath" "$EK_BUILD_DIR"
rpath=$(readelf -d "$reloc/$full.so" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
expect_match "entrakey-full.so's RUNPATH is relative to it" "$rpath" '^\$ORIGIN/\.\./\.\./'"$libdir"'$'
run env PATH="$reloc/bin:/usr/bin:/bin" entrakey --version
expect_rc "the relocated entrakey runs by name" 0
expect_match "and says its version (entrakey-full found beside it)" "$OUT" "^entrakey [0-9]+\.[0-9]+\.[0-9]+"
run ldd "$reloc/$full"
expect_match "entrakey-full loads the library installed next to it" "$OUT" \
  "libentrakey\.so\.0 => $reloc/$libexec/entrakey/\.\./\.\./$libdir/libentrakey\.so\.0 "
run ldd "$reloc/bin/entrakey"
if nm -D "$EK" 2>/dev/null | grep -q __asan_init; then
  # a sanitizer build keeps every section, so its client links them all
  skip "what entrakey loads: not in a sanitizer build"
else
  expect_nomatch "entrakey loads neither p11-kit, OpenSSL nor libmicrohttpd" "$OUT" \
    'libp11-kit|libcrypto|libmicrohttpd|libentrakey|libsystemd'
fi
# the direct path of assert runs the whole command inside entrakey, loaded
# from the install (entrakey-full.so), and without entrakey-full.so by
# running entrakey-full
fresh_token inst
run "$reloc/bin/entrakey" keygen "pkcs11:token=inst" --label k \
  --pin-source "file:$PIN_FILE"
expect_rc "keygen with the relocated install" 0
run "$reloc/bin/entrakey" cert create "pkcs11:token=inst;object=k;type=private" \
  --subject CN=inst --out "$T/inst.cer" --pin-source "file:$PIN_FILE"
expect_rc "cert create with the relocated install" 0
a=(assert "pkcs11:token=inst;object=k;type=private" --tenant contoso.onmicrosoft.com
  --client-id 11111111-2222-3333-4444-555555555555 --no-agent
  --pin-source "file:$PIN_FILE")
LD_DEBUG=files run "$reloc/bin/entrakey" "${a[@]}"
expect_rc "assert, direct, with the relocated install" 0
expect_match "... a JWT" "$OUT" '^eyJ'
# (by entrakey, or by AddressSanitizer's dlopen in a sanitizer build)
expect_match "... with the installed entrakey-full.so, in entrakey's process" "$ERR" \
  "file=$reloc/bin/\.\./$libexec/entrakey/entrakey-full\.so \[0\]; +dynamically loaded by "
n=$(printf '%s\n' "$ERR" | grep -c 'initialize program:')
[ "$n" -eq 1 ] && pass "... one program started" || fail "... $n programs started"
if [ -e "$prefix/$full.so" ]; then
  skip "an entrakey-full.so is installed at $prefix: a missing one cannot be seen"
else
  mv "$reloc/$full.so" "$reloc/$full.so.away"
  LD_DEBUG=files run "$reloc/bin/entrakey" "${a[@]}"
  expect_rc "without entrakey-full.so: assert still works" 0
  n=$(printf '%s\n' "$ERR" | grep -c 'initialize program:')
  [ "$n" -eq 2 ] && pass "... through entrakey-full (a second program)" ||
    fail "... $n programs started"
  mv "$reloc/$full.so.away" "$reloc/$full.so"
fi

# without entrakey-full, a clear sentence, not a crash (unless one is
# installed where this build was configured to go: that one is run)
if [ -e "$prefix/$full" ]; then
  skip "an entrakey-full is installed at $prefix: a missing one cannot be seen"
else
  mv "$reloc/$full" "$reloc/$full.away"
  run "$reloc/bin/entrakey" --version
  expect_rc "without entrakey-full: exit 1" 1
  expect_match "and says what is missing" "$ERR" \
    "cannot run the whole command .*/bin/\.\./.*entrakey-full or $prefix/.*entrakey-full"
  mv "$reloc/$full.away" "$reloc/$full"
fi
# a copy of entrakey elsewhere runs the entrakey-full installed where the
# build was configured to go: the DESTDIR install bound there, in a mount
# namespace of its own
mkdir -p "$T/copy" && cp "$reloc/bin/entrakey" "$T/copy/entrakey"
if [ "${EK_TEST_NS:-none}" = 1 ] && [ -d "$prefix" ]; then
  run unshare -m sh -c 'mount --bind "$1" "$2" && exec "$3" --version' \
    _ "$dest$prefix" "$prefix" "$T/copy/entrakey"
  expect_rc "a copy of entrakey elsewhere runs the installed entrakey-full" 0
  expect_match "which says its version" "$OUT" "^entrakey [0-9]+\.[0-9]+\.[0-9]+"
else
  skip "no mount namespace to put an install at $prefix"
fi
# without /proc (a bare chroot or container) it runs where entrakey-full
# was to be installed, and says so when that is not there either
if [ -e "$prefix/$full" ]; then
  skip "an entrakey-full is installed at $prefix: the sentence cannot be seen"
elif [ "${EK_TEST_NS:-none}" = 1 ]; then
  run unshare -m sh -c 'mount -t tmpfs tmpfs /proc && exec "$0" --version' "$reloc/bin/entrakey"
  expect_rc "without /proc, entrakey-full not at the configured prefix: exit 1" 1
  expect_match "and says /proc/self/exe cannot be read" "$ERR" \
    "cannot run the whole command .*/entrakey-full: .*/proc/self/exe"
else
  skip "no mount namespace to hide /proc in"
fi

cat > "$T/user.c" <<'C'
#include <stdio.h>
#include <entrakey.h>
int main(void) { struct ek_ctx *c = NULL; if (ek_ctx_new(&c) != EK_OK) return 1;
  printf("%s %s\n", ek_version(), ek_strerror(EK_ERR_PIN_LOCKED)); ek_ctx_free(&c); return c != NULL; }
C
pcdir="$reloc/$libdir/pkgconfig"
pcvar() { PKG_CONFIG_PATH="$pcdir" pkg-config --variable="$1" entrakey; }
[ "$(realpath "$(pcvar includedir)")" = "$reloc/include" ] &&
  pass "entrakey.pc: includedir is the relocated one" || fail "entrakey.pc includedir: $(pcvar includedir)"
[ "$(realpath "$(pcvar libdir)")" = "$reloc/$libdir" ] &&
  pass "entrakey.pc: libdir is the relocated one" || fail "entrakey.pc libdir: $(pcvar libdir)"
# a sanitizer build's library needs the program linked with the same runtime
san=()
grep -q '^EK_SANITIZE:BOOL=ON' "$EK_BUILD_DIR/CMakeCache.txt" &&
  san=(-fsanitize=address,undefined,float-cast-overflow)
# shellcheck disable=SC2046
if cc "${san[@]}" "$T/user.c" -o "$T/user" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs entrakey) \
     -Wl,-rpath,"$(pcvar libdir)" 2>"$T/cc.err"; then
  pass "a program builds with the installed header and pkg-config file"
  run "$T/user"
  expect_match "and runs against the installed library" "$OUT" "^0\.1\.0 PIN locked or at its final try$"
else
  fail "build against the install: $(cat "$T/cc.err")"
fi
finish
