#!/usr/bin/env bash
# dev.sh: set up a fresh Debian 12 machine, build, and run entrakey.
#   scripts/dev.sh quickstart   install what is missing, build, run the quickstart
#   scripts/dev.sh test         install what is missing, build twice (-Werror;
#                               ASan+UBSan) and run the whole test suite in
#                               each; the token tests under valgrind;
#                               cppcheck and clang-tidy; and every fuzz target
#                               for a fixed time (EK_FUZZ_SECONDS, default 15)
#   scripts/dev.sh build        install what is missing and build only
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PKGS="build-essential cmake pkg-config libp11-kit-dev libssl-dev
  libcurl4-openssl-dev libcjson-dev libinih-dev libmicrohttpd-dev
  libsystemd-dev"
RUN_PKGS="softhsm2 p11-kit p11-kit-modules openssl ca-certificates
  libmicrohttpd12"
TEST_PKGS="curl opensc opensc-pkcs11 libengine-pkcs11-openssl python3
  python3-jwt python3-cryptography python3-msal valgrind clang
  libclang-rt-14-dev util-linux strace gdb cppcheck clang-tidy
  libtpm2-pkcs11-1 libtpm2-pkcs11-tools python3-tpm2-pkcs11-tools tpm2-abrmd
  swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0 libtss2-tcti-tabrmd0 dbus
  iproute2 pcscd vsmartcard-vpcd ykcs11 libnss3 libnss3-tools opencryptoki"

install_missing() {
  local want=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || want+=("$p")
  done
  [ ${#want[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${want[*]}" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q >/dev/null
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${want[@]}" >/dev/null
}

build() { # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

case "${1:-}" in
  quickstart)
    # shellcheck disable=SC2086
    install_missing $BUILD_PKGS $RUN_PKGS
    build build
    exec ./build/entrakey quickstart
    ;;
  build)
    # shellcheck disable=SC2086
    install_missing $BUILD_PKGS $RUN_PKGS
    build build
    ;;
  test)
    # shellcheck disable=SC2086
    install_missing $BUILD_PKGS $RUN_PKGS $TEST_PKGS
    build build -DEK_WERROR=ON
    (cd build && ctest --output-on-failure -j"$(nproc)")
    tests/valgrind.sh build
    tests/lint.sh build
    tests/fuzz/run-fuzzers.sh "${EK_FUZZ_SECONDS:-15}"
    build build-asan -DEK_WERROR=ON -DEK_SANITIZE=ON
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$(nproc)")
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
