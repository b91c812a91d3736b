#!/usr/bin/env bash
# test_deb.sh: the Debian package `scripts/dev.sh deb` builds: its
# dependencies (libcurl4 although it is opened with dlopen), then installed
# with dpkg -i: entrakey runs, `man -w entrakey` finds the page, the
# library is in ld.so's cache, a program builds with the system's
# pkg-config, the quickstart runs on it; then removed and purged: nothing
# of it is left. Needs root and dpkg, so scripts/dev.sh test runs it after
# ctest. Never touches an entrakey package the machine had before the test
# (it says SKIP and stops), and removes its own even when a check fails.
set -u
cd "$(dirname "$0")/../.." || exit 2
failures=0 passes=0
fail() { echo "not ok - $*"; failures=$((failures + 1)); }
pass() { echo "ok - $*"; passes=$((passes + 1)); }
skip() { echo "SKIP: test_deb.sh: $*"; exit 0; }

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n "$0" "$@"
  fi
  skip "needs root (dpkg -i); run it as root or with sudo"
fi
command -v dpkg >/dev/null || skip "not a dpkg system"
before=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' entrakey 2>/dev/null || true)
case "$before" in
  "" | "un "*) ;;
  *) skip "an entrakey package is on this machine already ($before); the test would replace it" ;;
esac

T=$(mktemp -d "${TMPDIR:-/tmp}/ek-deb.XXXXXX")
installed=0
# a shadow library's entry for ld.so (below), removed by the trap too
shadow_conf=/etc/ld.so.conf.d/00-entrakey-test-deb-shadow.conf
shadow_off() { rm -f "$shadow_conf"; ldconfig; }
cleanup() {
  [ -e "$shadow_conf" ] && shadow_off
  if [ $installed -eq 1 ] && dpkg-query -W entrakey >/dev/null 2>&1; then
    dpkg --purge entrakey >/dev/null 2>&1 || echo "test_deb.sh: could not purge entrakey" >&2
  fi
  rm -rf "$T"
}
trap cleanup EXIT

deb=$(scripts/dev.sh deb 2>"$T/deb.err" | tail -n 1)
if [ ! -f "$deb" ]; then
  fail "scripts/dev.sh deb built no package"; sed 's/^/#   /' "$T/deb.err"; exit 1
fi
pass "scripts/dev.sh deb: $deb"

field() { dpkg-deb -f "$deb" "$1"; }
for p in libcurl4 libmicrohttpd12 libp11-kit0 libssl3 libcjson1 libinih1 libc6; do
  field Depends | tr ',' '\n' | grep -q "^ *$p\b" && pass "Depends: $p" || fail "no $p in Depends: $(field Depends)"
done
for p in softhsm2 ykcs11 pcscd libsystemd0; do
  field Recommends | tr ',' '\n' | grep -q "^ *$p\b" && pass "Recommends: $p" || fail "no $p in Recommends: $(field Recommends)"
done
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' > "$T/contents"
for f in /usr/bin/entrakey /usr/libexec/entrakey/entrakey-full \
    /usr/libexec/entrakey/entrakey-full.so /usr/share/man/man1/entrakey.1.gz \
    /usr/share/bash-completion/completions/entrakey /usr/share/doc/entrakey/copyright \
    /usr/share/zsh/vendor-completions/_entrakey \
    /usr/share/doc/entrakey/examples/systemd/entrakey-exo@.service \
    /usr/share/doc/entrakey/examples/systemd/entrakey-exo@.timer \
    /usr/include/entrakey.h; do
  grep -qxF "$f" "$T/contents" && pass "holds $f" || fail "does not hold $f"
done
grep -q '^/usr/lib/[^/]*/libentrakey\.so\.0$' "$T/contents" && pass "holds libentrakey.so.0" || fail "no libentrakey.so.0"
# the lean libcurl linked into the client (scripts/dev.sh deb uses it when
# it can be made): its licence goes with it
if grep -q '^EK_AGENT_CURL:PATH=.' build-deb/CMakeCache.txt 2>/dev/null; then
  grep -qxF /usr/share/doc/entrakey/curl-COPYING "$T/contents" &&
    pass "holds curl's licence (/usr/share/doc/entrakey/curl-COPYING)" ||
    fail "built with the lean libcurl but does not hold curl's licence"
  owncurl=1
  grep -q '^/usr/lib/[^/]*/libentrakey-curl\.so\.4$' "$T/contents" &&
    pass "holds libentrakey-curl.so.4 beside libentrakey.so.0" ||
    fail "built with the lean libcurls but no libentrakey-curl.so.4"
fi

if dpkg -i "$deb" >"$T/dpkg.log" 2>&1; then
  installed=1
  pass "dpkg -i"
else
  installed=1
  fail "dpkg -i"; sed 's/^/#   /' "$T/dpkg.log"; exit 1
fi
dpkg -L entrakey | sort > "$T/files"

sys=(env -i PATH=/usr/bin:/bin LANG=C.UTF-8 HOME="$T/home")
mkdir -p "$T/home"
out=$("${sys[@]}" entrakey --version 2>&1) && pass "entrakey --version: $out" || fail "entrakey --version: $out"
[ "$("${sys[@]}" sh -c 'command -v entrakey')" = /usr/bin/entrakey ] && pass "it is /usr/bin/entrakey" || fail "entrakey is not /usr/bin/entrakey"
libdir=$(dirname "$(grep -m1 '/libentrakey\.so\.0$' "$T/files")")
readelf -d /usr/bin/entrakey | grep -Eq 'R(UN)?PATH' && fail "/usr/bin/entrakey has an RPATH" ||
  pass "/usr/bin/entrakey: no RPATH (Debian policy)"
# the two private objects name the package's library directory (RUNPATH,
# after LD_LIBRARY_PATH; never the older RPATH, which comes before it)
for b in /usr/libexec/entrakey/entrakey-full /usr/libexec/entrakey/entrakey-full.so; do
  dyn=$(readelf -d "$b")
  rp=$(sed -n 's/.*(RUNPATH).*\[\(.*\)\]$/\1/p' <<<"$dyn")
  rpath=$(grep '(RPATH)' <<<"$dyn")
  [ "$rp" = "$libdir" ] && [ -z "$rpath" ] &&
    pass "$b: RUNPATH $rp, the package's library directory" ||
    fail "$b: RUNPATH '$rp' (want $libdir), RPATH '$rpath'"
done
# hardening of every ELF file the package installs (readelf, not our
# reader): full RELRO (GNU_RELRO and BIND_NOW: the GOT read-only after
# load), executables PIE, the stack protector, and glibc's checked
# functions (FORTIFY) in the command and the library
elfs=$(while read -r f; do
  [ -f "$f" ] && [ ! -L "$f" ] && head -c 4 "$f" | grep -q 'ELF' && echo "$f"
done < "$T/files")
[ -n "$elfs" ] && pass "ELF files: $(echo $elfs | tr ' ' ',')" || fail "no ELF file in the package"
for f in $elfs; do
  readelf -lW "$f" | grep -q GNU_RELRO && readelf -dW "$f" | grep -Eq 'BIND_NOW|Flags:.* NOW' &&
    pass "$f: full RELRO" || fail "$f: not full RELRO: $(readelf -dW "$f" | grep FLAGS)"
  case $f in
    */bin/*|*/entrakey-full)
      readelf -hW "$f" | grep -q 'Type: *DYN' && pass "$f: PIE" || fail "$f: not PIE" ;;
  esac
  case $f in
    */libentrakey-curl.so.*) ;;   # curl's own build flags (scripts/lean-curl.sh)
    *)
      nm -D --undefined-only "$f" | grep -q ' __stack_chk_fail@' &&
        pass "$f: stack protector" || fail "$f: no __stack_chk_fail"
      n=$(nm -D --undefined-only "$f" | grep -Ec ' __[a-z_]+_chk@')
      [ "$n" -gt 0 ] && pass "$f: FORTIFY ($n checked calls)" ||
        fail "$f: no checked glibc call (FORTIFY)" ;;
  esac
done
# the agent's client part of the command: libsystemd is opened only for
# --audit journal (Recommends), the rest is entrakey-full's
out=$("${sys[@]}" entrakey keys --help 2>&1) && pass "entrakey keys --help (runs entrakey-full)" || fail "entrakey keys --help: $out"
out=$("${sys[@]}" man -w entrakey 2>&1)
[ "$out" = /usr/share/man/man1/entrakey.1.gz ] && pass "man -w entrakey: $out" || fail "man -w entrakey: $out"
# the package's own, by its directory: /lib/... on a merged-/usr system,
# /usr/lib/... elsewhere (an entrakey under /usr/local may be there too)
incache() { ldconfig -p | grep -Eq 'libentrakey\.so\.0 .*=> (/usr)?/lib/[^/]*/libentrakey\.so\.0$'; }
incache && pass "libentrakey.so.0 is in ld.so's cache" || fail "the package's libentrakey.so.0 is not in ldconfig -p"
dpkg -V entrakey >"$T/verify" 2>&1 && [ ! -s "$T/verify" ] && pass "dpkg -V: files as shipped" || fail "dpkg -V: $(cat "$T/verify")"

cat > "$T/user.c" <<'C'
#include <stdio.h>
#include <entrakey.h>
int main(void) { printf("%s\n", ek_version()); return 0; }
C
# shellcheck disable=SC2046
# the package's entrakey.pc, not one under /usr/local that comes first
if cc "$T/user.c" -o "$T/user" $(env -u PKG_CONFIG_PATH PKG_CONFIG_LIBDIR="$libdir/pkgconfig:/usr/share/pkgconfig" \
    pkg-config --cflags --libs entrakey) 2>"$T/cc.err" &&
   out=$(env -u LD_LIBRARY_PATH "$T/user"); then
  pass "a program builds with the system's entrakey.pc and runs: $out"
else
  fail "program against the package: $(cat "$T/cc.err")"
fi
# Another build's libentrakey.so.0 ahead of the package's in ld.so's
# cache, as one installed under /usr/local is (the quickstart from source
# puts it there; ld.so.conf.d/libc.conf comes first): a program with no
# RUNPATH gets it, the package's own commands must not, or they would run
# with another build's library and its libcurl.
shadow_on() {
  mkdir -p "$T/shadow" && cp "$libdir/libentrakey.so.0" "$T/shadow/" &&
    echo "$T/shadow" > "$shadow_conf" && ldconfig
}
loaded() { ldd "$1" | sed -n 's/^[[:space:]]*libentrakey\.so\.0 => \([^ ]*\).*/\1/p'; }
if shadow_on; then
  if [ "$(loaded "$T/user" 2>/dev/null)" = "$T/shadow/libentrakey.so.0" ]; then
    pass "a copy in $T/shadow shadows the package's library (a program with no RUNPATH loads it)"
  else
    fail "the shadow does not work, the next checks prove nothing: $(ldd "$T/user" 2>&1 | grep libentrakey)"
  fi
  for b in /usr/libexec/entrakey/entrakey-full /usr/libexec/entrakey/entrakey-full.so; do
    out=$(loaded "$b")
    [ "$out" = "$libdir/libentrakey.so.0" ] && pass "$b loads the package's library under the shadow" ||
      fail "$b loads $out, not $libdir/libentrakey.so.0"
  done
else
  fail "could not put a shadow library in $shadow_conf"
fi
if [ -e /usr/lib/softhsm/libsofthsm2.so ]; then
  if "${sys[@]}" entrakey quickstart >"$T/qs.out" 2>&1; then
    pass "entrakey quickstart runs from the package"
    # a token request from the package goes through its own libcurl (-v
    # says which; nothing listens on port 9, so it ends there)
    qs=$T/home/.local/share/entrakey/softhsm
    "${sys[@]}" ENTRAKEY_MODULE=/usr/lib/softhsm/libsofthsm2.so \
      SOFTHSM2_CONF="$qs/softhsm2.conf" entrakey -v token \
      'pkcs11:token=entrakey-quickstart;object=entrakey-quickstart;type=private' \
      --pin-source "file:$qs/user-pin" --tenant contoso.onmicrosoft.com \
      --client-id 11111111-2222-3333-4444-555555555555 \
      --authority-host https://127.0.0.1:9 >/dev/null 2>"$T/tok.err"
    if [ "${owncurl:-0}" = 1 ]; then
      # the library's directory as the loader found it: /lib/... on a
      # merged-/usr system (ld.so's cache), /usr/lib/... elsewhere
      grep -Eq "libcurl: (/usr)?/lib/[^/]*/libentrakey-curl\.so\.4 \(entrakey's own, HTTPS only\)" "$T/tok.err" &&
        pass "a token request goes through the package's libentrakey-curl.so.4" ||
        fail "a token request does not use libentrakey-curl.so.4: $(grep -m1 'libcurl:' "$T/tok.err")"
    else
      grep -q "libcurl: the system's libcurl\.so\.4" "$T/tok.err" &&
        pass "a token request goes through the system's libcurl (no lean libcurl in this build)" ||
        fail "no 'libcurl:' line: $(tail -2 "$T/tok.err")"
    fi
  else
    fail "entrakey quickstart: $(tail -3 "$T/qs.out")"
  fi
else
  echo "SKIP: softhsm2 is not installed: no quickstart from the package"
fi
shadow_off
bash -c 'source /usr/share/bash-completion/completions/entrakey && complete -p entrakey' >/dev/null 2>&1 &&
  pass "the bash completion loads" || fail "the bash completion does not load"
if command -v zsh >/dev/null; then
  # Debian's zsh looks in vendor-completions with no fpath of ours
  zsh -f -c "autoload -U compinit && compinit -u -D -d '$T/zcompdump' && [[ \$_comps[entrakey] == _entrakey ]]" &&
    pass "the zsh completion loads (compinit finds it)" || fail "compinit does not find _entrakey"
else
  fail "zsh is not installed (scripts/dev.sh installs it)"
fi

if dpkg -r entrakey >"$T/rm.log" 2>&1; then pass "dpkg -r"; else fail "dpkg -r"; sed 's/^/#   /' "$T/rm.log"; fi
left=""
while IFS= read -r f; do
  [ -d "$f" ] && [ ! -L "$f" ] && continue    # directories others share
  [ -e "$f" ] || [ -L "$f" ] && left+=" $f"
done < "$T/files"
[ -z "$left" ] && pass "no file of the package left after dpkg -r" || fail "left after dpkg -r:$left"
for d in /usr/share/doc/entrakey /usr/share/doc/entrakey/examples; do
  [ ! -e "$d" ] && pass "$d removed" || fail "$d is left"
done
incache && fail "libentrakey.so.0 still in ld.so's cache: $(ldconfig -p | grep 'libentrakey\.so\.0 ')" ||
  pass "ld.so's cache forgot the package's libentrakey.so.0"
dpkg --purge entrakey >/dev/null 2>&1
after=$(dpkg-query -W -f='${db:Status-Abbrev}' entrakey 2>/dev/null || true)
case "$after" in "" | "un "*) pass "purged: dpkg knows no entrakey" ;; *) fail "dpkg still has entrakey: $after" ;; esac
installed=0

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
