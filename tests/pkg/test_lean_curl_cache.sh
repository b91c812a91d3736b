#!/usr/bin/env bash
# scripts/lean-curl.sh's cache and errors, with no network and no compiler:
# apt-get, dpkg-source and cmake are stand-ins that note each call. A build
# fills PREFIX (headers, archive, licence, VERSION, OPTIONS); a PREFIX that
# holds the asked version (a .dsc's, or the installed
# libcurl4-openssl-dev's) built with the same options is left as it is and
# nothing runs; other options, or a part missing, and it is made again;
# EK_CURL_DSC naming a missing file is one clear line and exit 1; a build
# that fails leaves the old PREFIX whole and no temporary directory.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
LC=$EK_SOURCE_DIR/scripts/lean-curl.sh
stubs=$T/stubs calls=$T/calls
mkdir -p "$stubs"
: >"$calls"
for tool in apt-get dpkg-source cmake; do
  cat >"$stubs/$tool" <<SH
#!/bin/sh
echo "$tool \$*" >>"$calls"
exec "$T/behave-$tool" "\$@"
SH
  chmod +x "$stubs/$tool"
  printf '#!/bin/sh\nexit 3\n' >"$T/behave-$tool"
  chmod +x "$T/behave-$tool"
done
export PATH="$stubs:$PATH"
# and should anything still reach for the network, it finds no proxy
export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9

# the stand-ins' behaviour: dpkg-source -x DSC DIR unpacks a tree of
# curl's shape; cmake configures, and cmake --build makes the archive
unpack_ok() {
  cat >"$T/behave-dpkg-source" <<'SH'
#!/bin/sh
d=$3
mkdir -p "$d/include/curl" && echo '/* new */' >"$d/include/curl/curl.h" &&
  echo new >"$d/COPYING" && touch "$d/CMakeLists.txt"
SH
}
build_ok() {
  cat >"$T/behave-cmake" <<'SH'
#!/bin/sh
if [ "$1" = --build ]; then
  mkdir -p "$2/lib" && echo new >"$2/lib/libcurl.a" &&
    echo new >"$2/lib/libentrakey-curl.so.4"
fi
SH
}
fails() { printf '#!/bin/sh\nexit 3\n' >"$T/behave-$1"; }
fake_dsc() { printf 'Format: 3.0 (quilt)\nSource: curl\nVersion: %s\n' "$2" >"$1"; }
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
leftovers() { find "$(dirname "$1")" -mindepth 1 -maxdepth 1 -name '.lean-curl*'; }

run bash "$LC"
expect_rc "no PREFIX: usage, exit 2" 2

P=$T/cache/lean-curl
fake_dsc "$T/curl_1.0-1.dsc" 1.0-1
unpack_ok
build_ok
run env EK_CURL_DSC="$T/curl_1.0-1.dsc" bash "$LC" "$P"
expect_rc "a build from EK_CURL_DSC: exit 0" 0
expect_match "says where" "$ERR" "libcurl 1.0-1 in $P"
grep -q '^dpkg-source -x' "$calls" && pass "unpacked with dpkg-source -x" || fail "calls: $(cat "$calls")"
grep -q -- '-DCURL_ENABLE_SSL=OFF' "$calls" && grep -q -- '-DHTTP_ONLY=ON' "$calls" &&
  grep -q -- '-DBUILD_SHARED_LIBS=OFF' "$calls" && grep -q -- '-DCURL_DISABLE_PROXY=ON' "$calls" &&
  pass "configured static, HTTP only, without TLS or proxies" || fail "cmake was called: $(cat "$calls")"
grep -q -- '--target libcurl' "$calls" && pass "builds the library only" || fail "cmake was called: $(cat "$calls")"
grep -- '-DBUILD_SHARED_LIBS=ON' "$calls" | grep -- '-DCURL_USE_OPENSSL=ON' |
  grep -- '-DLIBCURL_OUTPUT_NAME=libentrakey-curl' | grep -q -- '-DCURL_DISABLE_PROXY=ON' &&
  pass "and the HTTPS one: shared, OpenSSL, its own name, without proxies" ||
  fail "no such configure call: $(cat "$calls")"
! grep -q '^apt-get' "$calls" && pass "and no apt-get" || fail "apt-get ran: $(cat "$calls")"
[ "$(cat "$P/VERSION")" = 1.0-1 ] && pass "VERSION 1.0-1" || fail "VERSION $(cat "$P/VERSION" 2>&1)"
grep -q -- '-DHTTP_ONLY=ON' "$P/OPTIONS" 2>/dev/null && pass "OPTIONS" || fail "no OPTIONS"
grep -q new "$P/lib/libcurl.a" && grep -q new "$P/include/curl/curl.h" && grep -q new "$P/share/doc/COPYING" &&
  grep -q new "$P/lib/libentrakey-curl.so.4" &&
  pass "the archive, the shared library, headers and licence" || fail "PREFIX is not the build's"
[ -z "$(leftovers "$P")" ] && pass "nothing left beside it" || fail "left: $(leftovers "$P")"

before=$(sums "$P")
: >"$calls"
run env EK_CURL_DSC="$T/curl_1.0-1.dsc" bash "$LC" "$P"
expect_rc "PREFIX holds the .dsc's version: exit 0" 0
[ -z "$OUT$ERR" ] && pass "and says nothing" || fail "it said: $OUT $ERR"
[ ! -s "$calls" ] && pass "and runs no apt-get, dpkg-source or cmake" || fail "it ran: $(cat "$calls")"
[ "$(sums "$P")" = "$before" ] && pass "PREFIX unchanged" || fail "PREFIX changed"

if installed=$(dpkg-query -W -f='${source:Version}' libcurl4-openssl-dev 2>/dev/null) &&
   [ -n "$installed" ]; then
  Q=$T/cache2/lean-curl
  mkdir -p "$T/cache2"
  cp -r "$P" "$Q"
  echo "$installed" >"$Q/VERSION"
  run bash "$LC" "$Q"
  expect_rc "PREFIX holds the installed libcurl4-openssl-dev's version ($installed): exit 0" 0
  [ ! -s "$calls" ] && pass "without apt (no network)" || fail "it ran: $(cat "$calls")"
else
  skip "libcurl4-openssl-dev is not installed"
fi

R=$T/cache3/lean-curl
mkdir -p "$T/cache3"
cp -r "$P" "$R"
sed -i 's/-DCURL_DISABLE_PROXY=ON/-DCURL_DISABLE_PROXY=OFF/' "$R/OPTIONS"
run env EK_CURL_DSC="$T/curl_1.0-1.dsc" bash "$LC" "$R"
expect_rc "the same version built with other options: exit 0" 0
grep -q '^dpkg-source -x' "$calls" && pass "is made again" || fail "not made again: $(cat "$calls")"
cmp -s "$R/OPTIONS" "$P/OPTIONS" && pass "with these options" || fail "OPTIONS not replaced"

run env EK_CURL_DSC="$T/no-such.dsc" bash "$LC" "$P"
expect_rc "EK_CURL_DSC names a missing file: exit 1" 1
expect_match "one clear line" "$ERR" "^lean-curl.sh: EK_CURL_DSC=$T/no-such.dsc: no such file$"
[ "$(sums "$P")" = "$before" ] && pass "PREFIX unchanged" || fail "PREFIX changed"

printf 'not a dsc\n' >"$T/bad.dsc"
run env EK_CURL_DSC="$T/bad.dsc" bash "$LC" "$P"
expect_rc "a .dsc without Version: exit 1" 1
expect_match "says so" "$ERR" "is not a source package description"

# a new version whose unpacking fails: the old PREFIX stays whole
fake_dsc "$T/curl_2.0-1.dsc" 2.0-1
fails dpkg-source
: >"$calls"
run env EK_CURL_DSC="$T/curl_2.0-1.dsc" bash "$LC" "$P"
expect_rc "dpkg-source fails: exit 1" 1
expect_match "says what failed and where the log is" "$ERR" "dpkg-source -x .* failed \(log: $P\.log\)"
grep -q '^dpkg-source -x' "$calls" && pass "it did try dpkg-source" || fail "no dpkg-source call: $(cat "$calls")"
[ "$(sums "$P")" = "$before" ] && pass "the old PREFIX is whole" || fail "the old PREFIX changed"
[ -z "$(leftovers "$P")" ] && pass "no half-made directory beside it" || fail "left: $(leftovers "$P")"

# and one whose build fails
unpack_ok
fails cmake
run env EK_CURL_DSC="$T/curl_2.0-1.dsc" bash "$LC" "$P"
expect_rc "cmake fails: exit 1" 1
expect_match "says so" "$ERR" "building the static libcurl failed \(log: "
[ "$(sums "$P")" = "$before" ] && pass "the old PREFIX is whole" || fail "the old PREFIX changed"
[ -z "$(leftovers "$P")" ] && pass "no half-made directory beside it" || fail "left: $(leftovers "$P")"

# a PREFIX of the right version but half there (no archive, no shared
# library) is made again
build_ok
for part in libcurl.a libentrakey-curl.so.4; do
  rm "$P/lib/$part"
  : >"$calls"
  run env EK_CURL_DSC="$T/curl_1.0-1.dsc" bash "$LC" "$P"
  expect_rc "a PREFIX without lib/$part is made again" 0
  grep -q '^cmake --build' "$calls" && [ -f "$P/lib/$part" ] && pass "and has it" ||
    fail "no $part, or no build: $(cat "$calls")"
done
finish
