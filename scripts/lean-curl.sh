#!/usr/bin/env bash
# lean-curl.sh PREFIX: two small builds of libcurl for entrakey (CMake:
# -DEK_AGENT_CURL=PREFIX):
#  - lib/libcurl.a: static, HTTP/1.1 over a Unix socket and nothing else,
#    linked into the `entrakey` command, the agent's client;
#  - lib/libentrakey-curl.so.4: shared, HTTPS alone with the system's
#    OpenSSL (libssl.so.3, libcrypto.so.3: TLS and X.509 stay the system's
#    and get its updates), which libentrakey opens for the token endpoint
#    instead of the system's libcurl.so.4 and its 31 libraries (src/http_dl.c;
#    docs/performance.md, docs/security.md). Its own SONAME, so that it is
#    never taken for a program's own libcurl.so.4.
#
# The source is the curl Debian has installed (libcurl4-openssl-dev's source
# version), fetched by apt itself from the machine's own archives as deb-src,
# so the archive's signed Release file vouches for it and dpkg-source applies
# Debian's patches (security fixes included). apt runs on a private state in
# a temporary directory: the system's apt configuration and lists are only
# read. EK_CURL_DSC=/path/to/curl_*.dsc takes an already downloaded source
# instead (offline machines).
#
# PREFIX gets include/curl/*.h, lib/libcurl.a, lib/libentrakey-curl.so.4,
# share/doc/COPYING (curl's licence), VERSION (the Debian source version)
# and OPTIONS (curl's CMake options of both builds, one a line). A PREFIX that already holds that version built
# with these options is left as it is; a new one is built in a temporary
# directory and moved into place whole, so PREFIX is never half made.
set -euo pipefail

me=lean-curl.sh
die() {
  echo "$me: $*" >&2
  exit 1
}

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $me PREFIX" >&2
  exit 2
fi
prefix=$(realpath -m -- "$1")
parent=$(dirname -- "$prefix")
log=$prefix.log

if [ -n "${EK_CURL_DSC:-}" ]; then
  [ -f "$EK_CURL_DSC" ] || die "EK_CURL_DSC=$EK_CURL_DSC: no such file"
  dsc=$(realpath -- "$EK_CURL_DSC")
  version=$(sed -n 's/^Version:[[:space:]]*//p' "$dsc" | head -n 1)
  [ -n "$version" ] || die "EK_CURL_DSC=$EK_CURL_DSC is not a source package description (no Version: field)"
else
  dsc=
  version=$(dpkg-query -W -f='${source:Version}' libcurl4-openssl-dev 2>/dev/null) ||
    die "libcurl4-openssl-dev is not installed (apt-get install libcurl4-openssl-dev), or set EK_CURL_DSC"
  srcpkg=$(dpkg-query -W -f='${source:Package}' libcurl4-openssl-dev)
fi

# HTTP/1.1 over a Unix socket, static, position-independent (it goes into
# an executable and may go into a shared library), hardened as Debian
# builds it, each function in its own section so that the linker's
# --gc-sections drops what the client does not call. Nothing else: no TLS,
# no other protocol, no library beyond libc. PREFIX/OPTIONS keeps them: a
# PREFIX made with others is made again.
options=(-DCMAKE_BUILD_TYPE=Release
  "-DCMAKE_C_FLAGS=-ffunction-sections -fdata-sections -fstack-protector-strong"
  "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG -D_FORTIFY_SOURCE=2"
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DBUILD_SHARED_LIBS=OFF -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF
  -DENABLE_MANUAL=OFF -DCURL_ENABLE_EXPORT_TARGET=OFF -DPICKY_COMPILER=OFF
  -DHTTP_ONLY=ON -DENABLE_UNIX_SOCKETS=ON -DENABLE_THREADED_RESOLVER=OFF
  -DENABLE_ARES=OFF -DENABLE_WEBSOCKETS=OFF
  -DCURL_ENABLE_SSL=OFF -DCURL_USE_OPENSSL=OFF
  -DCURL_DISABLE_LDAP=ON -DCURL_DISABLE_LDAPS=ON
  -DUSE_LIBIDN2=OFF -DCURL_USE_LIBPSL=OFF -DCURL_ZLIB=OFF
  -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DUSE_NGHTTP2=OFF -DUSE_NGTCP2=OFF
  -DUSE_QUICHE=OFF -DUSE_MSH3=OFF -DCURL_USE_LIBSSH2=OFF
  -DCURL_USE_LIBSSH=OFF -DUSE_LIBRTMP=OFF -DCURL_USE_GSSAPI=OFF
  -DCURL_DISABLE_COOKIES=ON -DCURL_DISABLE_ALTSVC=ON -DCURL_DISABLE_HSTS=ON
  -DCURL_DISABLE_PROXY=ON -DCURL_DISABLE_NTLM=ON -DCURL_DISABLE_CRYPTO_AUTH=ON
  -DCURL_DISABLE_DOH=ON -DCURL_DISABLE_NETRC=ON
  -DCURL_DISABLE_PROGRESS_METER=ON)

# The HTTPS one: the same source and the same features left out, but
# shared, with TLS through the system's OpenSSL (Unix sockets stay: the
# library's own agent client speaks through it), the threaded resolver
# (a DNS lookup that the request's timeout bounds, as Debian's libcurl
# does) and Debian's CA locations (what curl-config of the installed
# libcurl says). No proxy: with a proxy in the environment libentrakey
# uses the system's libcurl, which speaks to every kind of proxy.
ca_bundle=/etc/ssl/certs/ca-certificates.crt
ca_path=/etc/ssl/certs
if command -v curl-config >/dev/null; then
  ca_bundle=$(curl-config --ca 2>/dev/null || echo "$ca_bundle")
  p=$(curl-config --configure 2>/dev/null | tr ' ' '\n' |
    sed -n "s/^'\{0,1\}--with-ca-path=\([^']*\)'\{0,1\}$/\1/p" | head -n 1)
  ca_path=${p:-$ca_path}
fi
https_options=()
for o in "${options[@]}"; do
  case $o in
  -DCMAKE_C_FLAGS=*) o="-DCMAKE_C_FLAGS=-fstack-protector-strong" ;;
  -DBUILD_SHARED_LIBS=*) o=-DBUILD_SHARED_LIBS=ON ;;
  -DENABLE_THREADED_RESOLVER=*) o=-DENABLE_THREADED_RESOLVER=ON ;;
  -DCURL_ENABLE_SSL=*) o=-DCURL_ENABLE_SSL=ON ;;
  -DCURL_USE_OPENSSL=*) o=-DCURL_USE_OPENSSL=ON ;;
  esac
  https_options+=("$o")
done
https_options+=(-DLIBCURL_OUTPUT_NAME=libentrakey-curl
  "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,-z,relro -Wl,-z,now -Wl,--as-needed -Wl,-Bsymbolic"
  "-DCURL_CA_BUNDLE=$ca_bundle" "-DCURL_CA_PATH=$ca_path")
# -Bsymbolic: its calls to its own curl_* functions (curl_easy_perform
# calls curl_multi_*) bind to itself, never to a libcurl.so.4 a program
# using libentrakey has loaded, whose symbols come first otherwise
https_lib=libentrakey-curl.so.4

have() { # have DIR: DIR is a finished lean curl of $version and these options
  [ -f "$1/VERSION" ] && [ "$(cat -- "$1/VERSION")" = "$version" ] &&
    [ -f "$1/OPTIONS" ] &&
    [ "$(cat -- "$1/OPTIONS")" = "$(printf '%s\n' "${options[@]}" -- "${https_options[@]}")" ] &&
    [ -f "$1/lib/libcurl.a" ] && [ -f "$1/lib/$https_lib" ] &&
    [ -f "$1/include/curl/curl.h" ] &&
    [ -f "$1/share/doc/COPYING" ]
}
if have "$prefix"; then
  exit 0
fi

mkdir -p -- "$parent" || die "cannot make $parent"
# one build at a time per PREFIX (two dev.sh runs side by side)
if command -v flock >/dev/null; then
  exec 9>"$prefix.lock" || die "cannot write $prefix.lock"
  flock 9
  if have "$prefix"; then
    exit 0
  fi
fi
command -v dpkg-source >/dev/null ||
  die "dpkg-source is missing (apt-get install dpkg-dev)"
command -v cmake >/dev/null || die "cmake is missing (apt-get install cmake)"

work=$(mktemp -d "${TMPDIR:-/tmp}/lean-curl.XXXXXX")
stage=
cleanup() {
  rm -rf -- "$work"
  if [ -n "$stage" ]; then rm -rf -- "$stage"; fi
}
trap cleanup EXIT
: >"$log"
mkdir -p "$work/src"

# deb_src_lines FILE: a one-line sources.list's deb entries as deb-src
# entries (its own deb-src lines would only repeat them)
deb_src_lines() {
  sed -n 's/^[[:space:]]*deb[[:space:]]\{1,\}/deb-src /p' "$1"
}
# deb_src_stanzas FILE: a deb822 .sources file with deb-src for every
# stanza's types
deb_src_stanzas() {
  # the Types: field of every stanza becomes deb-src (a stanza of deb-src
  # only stays as it is); everything else is kept, Enabled: no included
  sed 's/^\([Tt]ypes:\).*$/\1 deb-src/' "$1"
}

fetch_apt() {
  local a=$work/apt sl sp f n=0
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/sources.list.d"
  eval "$(apt-config shell sl Dir::Etc::SourceList/f sp Dir::Etc::SourceParts/d)"
  : >"$a/sources.list"
  if [ -f "${sl:-}" ]; then deb_src_lines "$sl" >>"$a/sources.list"; fi
  for f in "${sp:-/nonexistent}"/*.list; do
    [ -f "$f" ] && deb_src_lines "$f" >>"$a/sources.list"
  done
  for f in "${sp:-/nonexistent}"/*.sources; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    deb_src_stanzas "$f" >"$a/sources.list.d/$n-$(basename -- "$f")"
  done
  if ! [ -s "$a/sources.list" ] && [ "$n" -eq 0 ]; then
    die "no apt sources on this machine to take curl's source from; set EK_CURL_DSC"
  fi
  local opts=(-q -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache"
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
    -o "Dir::Etc::SourceList=$a/sources.list"
    -o "Dir::Etc::SourceParts=$a/sources.list.d"
    -o Debug::NoLocking=1
    -o Acquire::Retries=1 -o Acquire::http::Timeout=30
    -o Acquire::https::Timeout=30 -o Acquire::Languages=none)
  # as root apt downloads as _apt: let it write where it downloads
  if [ "$(id -u)" -eq 0 ] && getent passwd _apt >/dev/null; then
    chmod 755 "$work" "$a" "$a/lists" "$a/cache" "$a/cache/archives"
    chown _apt "$a/lists/partial" "$a/cache/archives/partial" "$work/src"
  fi
  echo "$me: fetching the source of $srcpkg $version (apt-get source)" >&2
  # update's exit status is not the verdict: a third-party archive without
  # deb-src fails it and does not matter; whether the source is found does
  local urc=0
  apt-get "${opts[@]}" update >>"$log" 2>&1 || urc=$?
  if ! (cd "$work/src" && apt-get "${opts[@]}" source --only-source \
    "$srcpkg=$version") >>"$log" 2>&1; then
    if grep -qE 'Could not resolve|Temporary failure|Could not connect|Unable to connect|Connection (failed|timed out)|No route to host|Network is unreachable' "$log"; then
      die "apt cannot reach the archive (no network?); set EK_CURL_DSC for an offline build (log: $log)"
    fi
    if grep -qE 'Unable to find a source package|Can not find version|You must put some .deb-src' "$log"; then
      die "no deb-src of $srcpkg $version is reachable (an archive without sources, or the installed libcurl4-openssl-dev is not the archive's: apt-get upgrade); set EK_CURL_DSC (log: $log)"
    fi
    die "apt-get source $srcpkg=$version failed (apt-get update exit $urc; log: $log)"
  fi
}

if [ -n "$dsc" ]; then
  echo "$me: unpacking $dsc" >&2
  dpkg-source -x "$dsc" "$work/src/curl" >>"$log" 2>&1 ||
    die "dpkg-source -x $dsc failed (log: $log)"
else
  fetch_apt
fi
src=
for d in "$work"/src/*/; do
  if [ -f "$d/include/curl/curl.h" ] && [ -f "$d/CMakeLists.txt" ]; then
    src=${d%/}
  fi
done
[ -n "$src" ] || die "the unpacked source has no include/curl/curl.h and CMakeLists.txt (log: $log)"

echo "$me: building libcurl $version (HTTP over Unix sockets only) and libentrakey-curl (HTTPS only, the system's OpenSSL)" >&2
# build NAME DIR OPTIONS...: one of the two, its output in $log.NAME; the
# two side by side (CMake's configure step runs on one core)
build() {
  local name=$1 dir=$2
  shift 2
  cmake -S "$src" -B "$dir" "$@" >"$log.$name" 2>&1 &&
    cmake --build "$dir" -j"$(nproc)" --target libcurl >>"$log.$name" 2>&1
}
build unix "$work/build" "${options[@]}" &
pid_unix=$!
build https "$work/build-https" "${https_options[@]}" &
pid_https=$!
rc_unix=0 rc_https=0
wait "$pid_unix" || rc_unix=$?
wait "$pid_https" || rc_https=$?
cat -- "$log.unix" "$log.https" >>"$log" 2>/dev/null || true
rm -f -- "$log.unix" "$log.https"
[ "$rc_unix" -eq 0 ] || die "building the static libcurl failed (log: $log)"
[ "$rc_https" -eq 0 ] ||
  die "building the HTTPS libcurl failed (is libssl-dev installed? log: $log)"
[ -f "$work/build/lib/libcurl.a" ] ||
  die "the build made no lib/libcurl.a (log: $log)"
so=$(readlink -f -- "$work/build-https/lib/$https_lib" 2>/dev/null || true)
if [ -z "$so" ] || [ ! -f "$so" ]; then
  die "the HTTPS build made no lib/$https_lib (log: $log)"
fi

stage=$(mktemp -d "$parent/.lean-curl.XXXXXX")
chmod 755 "$stage"
mkdir -p "$stage/include/curl" "$stage/lib" "$stage/share/doc"
cp -- "$src"/include/curl/*.h "$stage/include/curl/"
cp -- "$work/build/lib/libcurl.a" "$stage/lib/"
# one file under the SONAME: what CMake copies beside libentrakey
cp -- "$so" "$stage/lib/$https_lib"
cp -- "$src/COPYING" "$stage/share/doc/COPYING"
printf '%s\n' "$version" >"$stage/VERSION"
printf '%s\n' "${options[@]}" -- "${https_options[@]}" >"$stage/OPTIONS"
# into place: the old PREFIX (another version) goes only once the new one
# is complete
old=
if [ -e "$prefix" ]; then
  old=$(mktemp -d "$parent/.lean-curl-old.XXXXXX")
  mv -- "$prefix" "$old/" || die "cannot move the old $prefix aside"
fi
if ! mv -- "$stage" "$prefix"; then
  if [ -n "$old" ]; then mv -- "$old/$(basename -- "$prefix")" "$prefix" || true; fi
  die "cannot move the new libcurl to $prefix"
fi
stage=
if [ -n "$old" ]; then rm -rf -- "$old"; fi
echo "$me: libcurl $version in $prefix" >&2
