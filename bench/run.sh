#!/bin/bash
# run.sh: the benchmark's one entry point. Builds entrakey (Release) and the
# bench programs, makes a fresh SoftHSM token with a key and certificate
# made by entrakey, starts the loopback token endpoint of the e2e tests, and
# runs the four measurements, the two sides of each comparison interleaved
# (A B, B A, A B ...). Prints medians, ratios and PASS/MISS against each target;
# raw numbers go to bench/results/<time>/. Not part of the test suite: a
# missed target never fails a build.
#
# usage: bench/run.sh [-R] [-n RUNS] [-s SIGNATURES] [-b BUILD-DIR] [-o OUT-DIR]
#   -R             run what is timed (both sides, and the token endpoint) at
#                  real-time priority (chrt -f 10; root or CAP_SYS_NICE), so
#                  that other work on the machine disturbs the figures less
#   -n RUNS        runs of each side of each comparison (default 41, >= 20)
#   -s SIGNATURES  signatures per throughput run (default 300)
#   -b BUILD-DIR   a build directory of its own (default build-bench in the
#                  source tree; configured Release, without the tests)
#   -o OUT-DIR     where the raw numbers go (default bench/results/<time>)
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build-bench
RUNS=41
SIGNS=300
OUT=
RTPRIO=()
PY=/usr/bin/python3                  # Debian's, where python3-msal lives
MODULE=/usr/lib/softhsm/libsofthsm2.so
TENANT=contoso.onmicrosoft.com
CLIENT=11111111-2222-3333-4444-555555555555
SCOPE=https://outlook.office365.com/.default
PIN=123456

while getopts "Rn:s:b:o:h" opt; do
  case $opt in
    R) RTPRIO=(chrt -f 10) ;;
    n) RUNS=$OPTARG ;;
    s) SIGNS=$OPTARG ;;
    b) BUILD=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
case $RUNS in ''|*[!0-9]*) echo "run.sh: -n needs a number" >&2; exit 2 ;; esac
case $SIGNS in ''|*[!0-9]*) echo "run.sh: -s needs a number" >&2; exit 2 ;; esac
[ "$RUNS" -ge 20 ] || echo "run.sh: warning: fewer than 20 runs ($RUNS)" >&2
OUT=${OUT:-$SRC/bench/results/$(date +%Y%m%d-%H%M%S)}

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

for tool in cmake cc softhsm2-util openssl curl; do
  command -v "$tool" >/dev/null || die "$tool is missing (see scripts/dev.sh)"
done
[ -r "$MODULE" ] || die "no SoftHSM module at $MODULE (apt-get install softhsm2)"
"$PY" -c 'import msal' 2>/dev/null || die "$PY cannot import msal (apt-get install python3-msal)"

# ---------------------------------------------------------------- build
say "building entrakey (Release) in $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  >"$BUILD.cmake.log" 2>&1 || { cat "$BUILD.cmake.log" >&2; die "cmake failed"; }
rm -f "$BUILD.cmake.log"
cmake --build "$BUILD" -j"$(nproc)" --target entrakey_cli >/dev/null ||
  die "the build failed (run: cmake --build $BUILD)"
EK=$BUILD/entrakey
BIN=$BUILD/bench
mkdir -p "$BIN"
CFLAGS="-O2 -g -Wall -Wextra -Werror -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
# shellcheck disable=SC2086,SC2046
cc $CFLAGS -o "$BIN/timeit" "$SRC/bench/timeit.c"
# shellcheck disable=SC2086,SC2046
cc $CFLAGS $(pkg-config --cflags p11-kit-1) -o "$BIN/floor" \
  "$SRC/bench/floor.c" -lcrypto -ldl
# shellcheck disable=SC2086
cc $CFLAGS -I"$SRC/include" -o "$BIN/throughput" "$SRC/bench/throughput.c" \
  -L"$BUILD" -lentrakey -Wl,-rpath,"$BUILD"
printf 'int main(void) { return 0; }\n' > "$BIN/empty.c"
cc -O2 -o "$BIN/empty" "$BIN/empty.c"
TIMEIT=$BIN/timeit
if [ ${#RTPRIO[@]} -gt 0 ]; then
  "${RTPRIO[@]}" true 2>/dev/null || die "-R: chrt -f needs root or CAP_SYS_NICE"
fi

# ---------------------------------------------------------- a fresh token
T=$(mktemp -d "${TMPDIR:-/tmp}/entrakey-bench.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/tokens" "$T/home" "$OUT/phases"
cat > "$T/softhsm2.conf" <<CONF
directories.tokendir = $T/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
export SOFTHSM2_CONF=$T/softhsm2.conf
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_DATA_HOME=$T/home/.local/share
unset ENTRAKEY_MODULE AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_AUTHORITY_HOST || true
# requests lets REQUESTS_CA_BUNDLE override the verify= MSAL is given
unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE || true
softhsm2-util --init-token --free --label bench --pin "$PIN" \
  --so-pin 12345678 >/dev/null || die "softhsm2-util cannot make a token"
printf '%s\n' "$PIN" > "$T/pin"
chmod 600 "$T/pin"

say "key and certificate on the token, made by entrakey"
KEY="pkcs11:token=bench;object=bench-key;type=private"
"$EK" --module "$MODULE" keygen "pkcs11:token=bench" --label bench-key \
  --bits 2048 --pin-source "file:$T/pin" >"$T/keygen.out" 2>&1 ||
  { cat "$T/keygen.out" >&2; die "entrakey keygen failed"; }
"$EK" --module "$MODULE" cert create "$KEY" --subject "CN=entrakey bench" \
  --out "$T/ek.cer" --pem "$T/ek.pem" --pin-source "file:$T/pin" \
  >"$T/cert.out" 2>&1 || { cat "$T/cert.out" >&2; die "entrakey cert create failed"; }

say "MSAL's software key and certificate (PEM files)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/msal.key" \
  -out "$T/msal.pem" -subj "/CN=msal bench" -days 30 2>/dev/null ||
  die "openssl cannot make MSAL's key"

# ------------------------------------------------- the loopback endpoint
say "starting the loopback token endpoint (tests/e2e/server.py)"
# shellcheck source=bench/server.sh
. "$SRC/bench/server.sh"
start_server "$T" "$TENANT" "$CLIENT" "$T/ek.pem" "$T/msal.pem"
AUTH=https://127.0.0.1:$PORT

# ----------------------------------------------- fairness: same mechanism
"$EK" -v --module "$MODULE" assert "$KEY" --tenant "$TENANT" \
  --client-id "$CLIENT" --pin-source "file:$T/pin" >/dev/null 2>"$T/mech.err" ||
  { cat "$T/mech.err" >&2; die "entrakey assert failed"; }
# "signing with CKM_RSA_PKCS_PSS (PS256) on token 'bench'"
MECH=$(sed -n 's/.*signing with \(CKM_[A-Z0-9_]*\).*/\1/p' "$T/mech.err" | tail -1)
case $MECH in
  CKM_RSA_PKCS_PSS) FLOOR_MODE=pss ;;
  CKM_RSA_PKCS) FLOOR_MODE=pkcs1 ;;
  CKM_SHA256_RSA_PKCS_PSS) FLOOR_MODE=sha256-pss ;;
  CKM_SHA256_RSA_PKCS) FLOOR_MODE=sha256-pkcs1 ;;
  *) die "cannot tell from 'entrakey -v assert' which mechanism it used ('$MECH')" ;;
esac
# the floor finds the key by label, as a minimal program would
FLOOR=("$BIN/floor" "$MODULE" bench bench-key "$T/pin" "$FLOOR_MODE")
ASSERT=("$EK" --module "$MODULE" assert "$KEY" --tenant "$TENANT"
  --client-id "$CLIENT" --pin-source "file:$T/pin")
TOKEN=("$EK" --module "$MODULE" token "$KEY" --tenant "$TENANT"
  --client-id "$CLIENT" --authority-host "$AUTH" --ca-file "$T/ca.pem"
  --scope "$SCOPE" --pin-source "file:$T/pin")
MSAL=("$PY" "$SRC/bench/msal_token.py" "$AUTH/$TENANT" "$CLIENT"
  "$T/msal.key" "$T/msal.pem" "$SCOPE" "$T/ca.pem")

# each must work once before it is timed (and warms the file cache)
for cmd in FLOOR ASSERT TOKEN MSAL; do
  declare -n c=$cmd
  "${c[@]}" >"$T/check.out" 2>"$T/check.err" ||
    { cat "$T/check.err" >&2; die "$cmd failed: ${c[*]}"; }
  [ -n "$(cat "$T/check.out")" ] || [ "$cmd" = FLOOR ] ||
    die "$cmd printed nothing"
  unset -n c
done

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); git: $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo none)"
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
  echo "software: $(softhsm2-util --version | head -1 | sed 's/^/SoftHSM /'), $(openssl version | cut -d' ' -f1-2), $(curl --version | head -1 | cut -d' ' -f1-2), p11-kit $(pkg-config --modversion p11-kit-1), python3-msal $(dpkg-query -W -f '${Version}' python3-msal 2>/dev/null), $("$PY" --version)"
  echo "key: RSA 2048 on SoftHSM; entrakey signs with $MECH, the floor with the same (mode $FLOOR_MODE)"
  echo "runs: $RUNS per side, interleaved; throughput: $SIGNS signatures per run"
  echo "load average at start: $(cut -d' ' -f1 /proc/loadavg)$([ ${#RTPRIO[@]} -gt 0 ] && echo "; timed at real-time priority (-R)")"
} > "$OUT/machine.txt"

# one timed run of side $1 (the array named $2): a line of FILE $3
timed() {
  local -n cmd=$2
  local w m rc c
  read -r w m rc c < <("${RTPRIO[@]}" "$TIMEIT" -- "${cmd[@]}")
  printf '%s\t%d\t%s\t%s\t%s\t%s\n' "$1" "$i" "$w" "$m" "$rc" "$c" >> "$3"
}
# one throughput run of side $1 (the array named $2, run with N appended)
rate() {
  local -n cmd=$2
  local rc
  rm -f "$T/rate"
  read -r _ _ rc _ < <("${RTPRIO[@]}" "$TIMEIT" -o "$T/rate" -- "${cmd[@]}" "$SIGNS")
  printf '%s\t%d\t%s\t%s\n' "$1" "$i" "$(awk '{print $1}' "$T/rate")" "$rc" \
    >> "$OUT/throughput.tsv"
}
# the order within each pair alternates, so neither side always runs
# right after the other (A B, B A, A B, ...)
pair() { # SIDE1 ARRAY1 SIDE2 ARRAY2 FN [FILE]
  if [ $((i % 2)) -eq 1 ]; then "$5" "$1" "$2" "${6:-}"; "$5" "$3" "$4" "${6:-}"
  else "$5" "$3" "$4" "${6:-}"; "$5" "$1" "$2" "${6:-}"; fi
}
HEAD='side\trun\twall_ms\trss_kb\trc\tcpu_ms\n'

# -------------------------------------------- 1. assert against the floor
say "1/4 entrakey assert vs the floor ($RUNS runs each, interleaved)"
printf "$HEAD" > "$OUT/assert.tsv"
for i in $(seq "$RUNS"); do
  pair floor FLOOR entrakey ASSERT timed "$OUT/assert.tsv"
done

# -------------------------------------------- 2. token against MSAL Python
say "2/4 entrakey token vs MSAL Python ($RUNS runs each, interleaved)"
printf "$HEAD" > "$OUT/token.tsv"
for i in $(seq "$RUNS"); do
  pair entrakey TOKEN msal MSAL timed "$OUT/token.tsv"
done

# ------------------------------------- 3. throughput against raw C_Sign
say "3/4 throughput: $SIGNS assertions vs $SIGNS C_Sign per run ($RUNS runs each)"
case $FLOOR_MODE in *pkcs1) ALG=rs256 ;; *) ALG=ps256 ;; esac
THROUGHPUT=("$BIN/throughput" -a "$ALG" "$MODULE" "$KEY" "file:$T/pin")
printf 'side\trun\tper_s\trc\n' > "$OUT/throughput.tsv"
for i in $(seq "$RUNS"); do
  pair floor FLOOR entrakey THROUGHPUT rate
done

# ----------------------------------------- 4. where a cold token goes
say "4/4 phases of a cold 'entrakey -v token' and 'assert' ($RUNS runs each)"
printf 'run\twall_ms\trss_kb\trc\tcpu_ms\n' > "$OUT/phases-token.tsv"
printf 'run\twall_ms\trss_kb\trc\tcpu_ms\n' > "$OUT/phases-assert.tsv"
printf "$HEAD" > "$OUT/version.tsv"
VERSION=("$EK" --version)
EMPTY=("$BIN/empty")
for i in $(seq "$RUNS"); do
  read -r w m rc c < <("${RTPRIO[@]}" "$TIMEIT" -e "$OUT/phases/token-$i.err" -- \
    "${TOKEN[0]}" -v "${TOKEN[@]:1}")
  printf '%d\t%s\t%s\t%s\t%s\n' "$i" "$w" "$m" "$rc" "$c" >> "$OUT/phases-token.tsv"
  read -r w m rc c < <("${RTPRIO[@]}" "$TIMEIT" -e "$OUT/phases/assert-$i.err" -- \
    "${ASSERT[0]}" -v "${ASSERT[@]:1}")
  printf '%d\t%s\t%s\t%s\t%s\n' "$i" "$w" "$m" "$rc" "$c" >> "$OUT/phases-assert.tsv"
  # the floor's own phases, for comparison
  "${RTPRIO[@]}" "${FLOOR[0]}" -p "${FLOOR[@]:1}" 2>>"$OUT/phases/floor.txt" >/dev/null
  # start-up and exit alone: a process that does nothing else
  pair entrakey VERSION empty EMPTY timed "$OUT/version.tsv"
done
# the curl tool's view of the same exchange (same libcurl): TLS done and
# first byte, trusting the test CA alone, then the system bundle + the test
# CA as one file (what entrakey's --ca-file builds)
cat /etc/ssl/certs/ca-certificates.crt "$T/ca.pem" > "$T/both.pem" 2>/dev/null ||
  cp "$T/ca.pem" "$T/both.pem"
printf 'cafile\tconnect_s\ttls_s\tfirst_s\ttotal_s\n' > "$OUT/curl.tsv"
for i in $(seq 11); do
  for ca in ca both; do
    "${RTPRIO[@]}" curl -s -o /dev/null --cacert "$T/$ca.pem" -d 'grant_type=x' \
      -w "$ca\t%{time_connect}\t%{time_appconnect}\t%{time_starttransfer}\t%{time_total}\n" \
      "$AUTH/$TENANT/oauth2/v2.0/token" >> "$OUT/curl.tsv" || true
  done
done

"$PY" "$SRC/bench/report.py" "$OUT"
