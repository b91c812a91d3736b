#!/usr/bin/env bash
# dev.sh: set up a fresh Debian 12 machine, build, and run entrakey.
#   scripts/dev.sh quickstart   install what is missing, build and install
#                               entrakey (as `install` does), run the quickstart
#   scripts/dev.sh install [PREFIX]  build without the tests (build-install/)
#                               and install to PREFIX (default ~/.local, or
#                               /usr/local for root)
#   scripts/dev.sh deb          build the Debian package (build-deb/*.deb)
#   scripts/dev.sh test         install what is missing, build twice (-Werror;
#                               ASan+UBSan) and run the whole test suite in
#                               each, the token tests of the first build
#                               under valgrind (tests/valgrind.sh);
#                               cppcheck and clang-tidy; every fuzz target
#                               for a fixed time (EK_FUZZ_SECONDS, default
#                               15); and the .deb built, installed, run and
#                               removed (tests/pkg/test_deb.sh, as root)
#   scripts/dev.sh build        install what is missing and build only
#   scripts/dev.sh tsan         install what is missing, build with
#                               ThreadSanitizer (build-tsan/) and run the
#                               tests with threads in them (LABEL agent or
#                               threads); not part of test (its time)
# Every build links into the entrakey command the lean libcurl of
# scripts/lean-curl.sh (made once per curl version in
# ${EK_CACHE_DIR:-~/.cache/entrakey}/lean-curl; EK_CURL_DSC=FILE.dsc
# offline); test needs it, the others warn and build without it.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PKGS="build-essential cmake pkg-config libp11-kit-dev libssl-dev
  libcurl4-openssl-dev libcjson-dev libinih-dev libmicrohttpd-dev
  libsystemd-dev dpkg-dev"
RUN_PKGS="softhsm2 p11-kit p11-kit-modules openssl ca-certificates
  libmicrohttpd12"
DEB_PKGS="dpkg-dev file man-db"
TEST_PKGS="curl zsh opensc opensc-pkcs11 libengine-pkcs11-openssl python3
  python3-jwt python3-cryptography python3-msal python3-azure azure-cli python3-prometheus-client
  valgrind clang
  libclang-rt-14-dev util-linux strace gdb cppcheck clang-tidy clang-format
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

# took STAGE START: how long a stage took (CI's log shows where the time
# goes)
took() { echo "dev.sh: $1: $((SECONDS - $2)) s" >&2; }

# The lean static libcurl the client talks to the agent with (HTTP over a
# Unix socket only): scripts/lean-curl.sh fetches curl's Debian source and
# builds it once per curl version into this cache; every build here is
# configured with it (-DEK_AGENT_CURL).
LEAN_CURL=${EK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/entrakey}/lean-curl
# lean_curl required|optional: sets CURL_ARG. Optional: without it (an
# offline machine) one warning, and the client opens the system libcurl.
lean_curl() {
  local t=$SECONDS
  if scripts/lean-curl.sh "$LEAN_CURL"; then
    CURL_ARG=-DEK_AGENT_CURL=$LEAN_CURL
    took "lean libcurl" "$t"
  elif [ "$1" = required ]; then
    echo "dev.sh: the lean libcurl (scripts/lean-curl.sh $LEAN_CURL) could not be made; the tests need it" >&2
    exit 1
  else
    CURL_ARG=-DEK_AGENT_CURL=
    echo "dev.sh: warning: no lean libcurl (see above): entrakey's client will load the system libcurl to reach the agent (a slower start)" >&2
  fi
}

build() { # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

default_prefix() {
  if [ "$(id -u)" -eq 0 ]; then echo /usr/local; else echo "$HOME/.local"; fi
}

# install_to PREFIX: a build of the library and the command only (no tests,
# no fuzzers) in its own directory, installed to PREFIX.
install_to() {
  local prefix=$1 dir=${EK_INSTALL_BUILD_DIR:-build-install}
  case "$prefix" in
    /*) ;;
    *) echo "dev.sh: PREFIX must be an absolute path, not '$prefix'" >&2; exit 2 ;;
  esac
  mkdir -p "$prefix" 2>/dev/null || true
  if [ ! -w "$prefix" ]; then
    echo "dev.sh: cannot write to $prefix; run as root (sudo scripts/dev.sh install $prefix) or give a PREFIX of yours" >&2
    exit 1
  fi
  lean_curl optional
  build "$dir" -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX="$prefix" "$CURL_ARG"
  cmake --install "$dir" >/dev/null
  # a program linked against libentrakey finds it after ldconfig (entrakey
  # itself finds it through its RPATH)
  if [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi
}

# path_note PREFIX: where entrakey is, and how to reach it by name.
path_note() {
  local bin=$1/bin
  echo
  echo "dev.sh: entrakey is installed in $bin/entrakey"
  case ":$PATH:" in
    *":$bin:"*) ;;
    *)
      echo "dev.sh: $bin is not on your PATH; to run entrakey by name:"
      echo "    export PATH=\"$bin:\$PATH\""
      echo "  (and add that line to ~/.profile or ~/.bashrc to keep it)"
      ;;
  esac
}

case "${1:-}" in
  quickstart)
    # shellcheck disable=SC2086
    install_missing $BUILD_PKGS $RUN_PKGS
    prefix=$(default_prefix)
    install_to "$prefix"
    rc=0
    "$prefix/bin/entrakey" quickstart "${@:2}" || rc=$?
    path_note "$prefix"
    exit "$rc"
    ;;
  install)
    # shellcheck disable=SC2086
    install_missing $BUILD_PKGS
    prefix=${2:-$(default_prefix)}
    install_to "$prefix"
    path_note "$prefix"
    ;;
  deb)
    # shellcheck disable=SC2086
    install_missing $BUILD_PKGS $DEB_PKGS
    lean_curl optional
    rm -f build-deb/entrakey_*.deb
    build build-deb -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX=/usr \
      -DEK_RELOCATABLE=OFF "$CURL_ARG"
    (cd build-deb && cpack -G DEB >/dev/null)
    ls build-deb/entrakey_*.deb
    ;;
  build)
    # shellcheck disable=SC2086
    install_missing $BUILD_PKGS $RUN_PKGS
    lean_curl optional
    build build "$CURL_ARG"
    ;;
  tsan)
    # shellcheck disable=SC2086
    install_missing $BUILD_PKGS $RUN_PKGS $TEST_PKGS
    lean_curl required
    t=$SECONDS
    build build-tsan -DEK_WERROR=ON -DEK_TSAN=ON "$CURL_ARG"
    took "build (ThreadSanitizer)" "$t"
    t=$SECONDS
    # a report fails the process it is in (exit 66), so the test that ran
    # it; tests/tsan.supp holds the token's own races, none of entrakey's
    (cd build-tsan && TSAN_OPTIONS="suppressions=$PWD/../tests/tsan.supp second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
      ctest --output-on-failure -j"$(($(nproc) + 1))" -L 'agent|threads')
    took "ctest (ThreadSanitizer)" "$t"
    ;;
  test)
    # shellcheck disable=SC2086
    install_missing $BUILD_PKGS $RUN_PKGS $TEST_PKGS $DEB_PKGS
    # background builds, each in its own process group, stopped if a
    # stage fails
    bg=()
    trap 'for p in "${bg[@]}"; do kill -- -"$p" 2>/dev/null || true; done' EXIT
    # `setsid nice -n 19 CMD &` runs CMD niced in a session and process
    # group of its own ($! is the group's id). A new session is also a new
    # autogroup where the kernel has them (sched_autogroup_enabled, as on
    # this CI's machines), and nice counts only within an autogroup: each
    # background build gets a fair share of the CPU beside the tests, and
    # ends early. Setting the group's nice as well (/proc/self/autogroup)
    # made the builds truly low priority, and the plain ctest slower:
    # 422-460 s against 355 s in whole CI runs (2026-12-06), as the builds
    # then trickled beside all of it.
    # The fuzz targets (clang, ASan) build from now on at the lowest CPU
    # priority beside every stage before their run: first beside the lean
    # libcurl's download and its configure, which keep one CPU busy at
    # most; they need no lean libcurl. tests/fuzz/run-fuzzers.sh then finds
    # them built (or builds them itself, and says why, if this failed).
    mkdir -p build-fuzz
    setsid nice -n 19 tests/fuzz/run-fuzzers.sh 0 >build-fuzz/dev-build.log 2>&1 &
    fuzz_build_pid=$!
    bg+=("$fuzz_build_pid")
    lean_curl required
    t=$SECONDS
    build build -DEK_WERROR=ON "$CURL_ARG"
    took "build (-Werror)" "$t"
    # The ASan+UBSan build runs from now on at the lowest CPU priority, in
    # its own process group, beside the stages before its ctest: it takes
    # the CPU time they leave (tests waiting on servers, agents and
    # children; one valgrind keygen; dpkg), so that its ctest at the end
    # does not wait for a whole build.
    mkdir -p build-asan
    setsid nice -n 19 bash -c "$(declare -f build); set -euo pipefail
      build build-asan -DEK_WERROR=ON -DEK_SANITIZE=ON $(printf %q "$CURL_ARG")" \
      >build-asan/dev-build.log 2>&1 &
    asan_pid=$!
    bg+=("$asan_pid")
    # one more job than CPUs: many tests wait on servers, agents and
    # children rather than compute
    jobs=$(($(nproc) + 1))
    # The tests with LABEL valgrind are the ones tests/valgrind.sh runs on
    # this same build under memcheck below (it takes its list from the
    # label): the plain ctest leaves them out rather than run them twice (a
    # quarter of its CPU time; the ASan ctest runs them all).
    t=$SECONDS
    (cd build && ctest --output-on-failure -j"$jobs" -LE valgrind)
    took "ctest (without LABEL valgrind)" "$t"
    t=$SECONDS
    tests/pkg/test_deb.sh
    took "tests/pkg/test_deb.sh" "$t"
    t=$SECONDS
    tests/valgrind.sh build
    took "tests/valgrind.sh" "$t"
    t=$SECONDS
    wait "$fuzz_build_pid" || cat build-fuzz/dev-build.log
    took "the rest of the fuzz build" "$t"
    # lint and the fuzzers side by side, the fuzzers one per CPU: each
    # fuzzer runs for a fixed time whatever else runs, so lint's CPU time
    # costs them executions, not wall time. (Lint in the background from
    # the build on, even at the lowest priority, slowed the plain ctest
    # from 353 to 404 s here while getting almost no CPU itself.)
    t=$SECONDS
    tests/lint.sh build >build/lint.log 2>&1 &
    lint_pid=$!
    fuzz_rc=0
    tests/fuzz/run-fuzzers.sh "${EK_FUZZ_SECONDS:-15}" || fuzz_rc=$?
    lint_rc=0
    wait "$lint_pid" || lint_rc=$?
    cat build/lint.log
    if [ "$lint_rc" -ne 0 ] || [ "$fuzz_rc" -ne 0 ]; then
      echo "dev.sh: lint exit $lint_rc, fuzzers exit $fuzz_rc" >&2
      exit 1
    fi
    took "lint and fuzzers" "$t"
    t=$SECONDS
    if ! wait "$asan_pid"; then
      cat build-asan/dev-build.log
      echo "dev.sh: the ASan build failed" >&2
      exit 1
    fi
    trap - EXIT
    took "the rest of the ASan build" "$t"
    t=$SECONDS
    # without LABEL static (checks of the sources alone: run above)
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs" -LE static)
    took "ctest (ASan)" "$t"
    ;;
  *)
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit 2
    ;;
esac
