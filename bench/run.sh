#!/bin/bash
# run.sh: the benchmark's one entry point. Builds entrakey (Release) and the
# bench programs, makes a fresh SoftHSM token with a key and certificate
# made by entrakey, starts the loopback token endpoint of the e2e tests, and
# runs the five measurements, the two sides of each comparison interleaved
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
# shellcheck source=bench/setup.sh
. "$SRC/bench/setup.sh"

for tool in cmake cc softhsm2-util openssl curl; do
  command -v "$tool" >/dev/null || die "$tool is missing (see scripts/dev.sh)"
done
[ -r "$MODULE" ] || die "no SoftHSM module at $MODULE (apt-get install softhsm2)"
"$PY" -c 'import msal' 2>/dev/null || die "$PY cannot import msal (apt-get install python3-msal)"

# ---------------------------------------------------------------- build
bench_build "$BUILD"
TIMEIT=$BIN/timeit
if [ ${#RTPRIO[@]} -gt 0 ]; then
  "${RTPRIO[@]}" true 2>/dev/null || die "-R: chrt -f needs root or CAP_SYS_NICE"
fi

# ------------------------------------------- a fresh token and the endpoint
T=$(mktemp -d "${TMPDIR:-/tmp}/entrakey-bench.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$OUT/phases"
bench_token "$T"
bench_endpoint "$T"
# fairness: the floor signs with the mechanism entrakey chose
bench_mechanism "$T"
# the floor finds the key by label, as a minimal program would
FLOOR=("$BIN/floor" "$MODULE" bench bench-key "$T/pin" "$FLOOR_MODE")
ASSERT=("$EK" --module "$MODULE" assert "$KEY" --tenant "$TENANT"
  --client-id "$CLIENT" --pin-source "file:$T/pin")
TOKEN=("$EK" --module "$MODULE" token "$KEY" --tenant "$TENANT"
  --client-id "$CLIENT" --authority-host "$AUTH" --ca-file "$T/ca.pem"
  --scope "$SCOPE" --pin-source "file:$T/pin")
MSAL=("$PY" "$SRC/bench/msal_token.py" "$AUTH/$TENANT" "$CLIENT"
  "$T/msal.key" "$T/msal.pem" "$SCOPE" "$T/ca.pem")
# the token floor: the floor's signature as a real assertion, and one
# libcurl TLS POST of it (floor.c -t)
X5T=$(openssl x509 -in "$T/ek.pem" -outform DER | openssl dgst -sha256 -binary |
  openssl base64 -A | tr '+/' '-_' | tr -d '=')
TFLOOR=("$BIN/floor" -t "$AUTH/$TENANT/oauth2/v2.0/token" -c "$CLIENT"
  -x "$X5T" -s "$SCOPE" -a "$T/ca.pem" "$MODULE" bench bench-key "$T/pin"
  "$FLOOR_MODE")
case $FLOOR_MODE in *pss) ;; *) TFLOOR=() ;; esac

# each must work once before it is timed (and warms the file cache)
for cmd in FLOOR ASSERT TOKEN MSAL $([ ${#TFLOOR[@]} -gt 0 ] && echo TFLOOR); do
  declare -n c=$cmd
  "${c[@]}" >"$T/check.out" 2>"$T/check.err" ||
    { cat "$T/check.err" >&2; die "$cmd failed: ${c[*]}"; }
  [ -n "$(cat "$T/check.out")" ] || [ "$cmd" = FLOOR ] || [ "$cmd" = TFLOOR ] ||
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
say "1/5 entrakey assert vs the floor ($RUNS runs each, interleaved)"
printf "$HEAD" > "$OUT/assert.tsv"
for i in $(seq "$RUNS"); do
  pair floor FLOOR entrakey ASSERT timed "$OUT/assert.tsv"
done

# -------------------------------------------- 2. token against MSAL Python
say "2/5 entrakey token vs MSAL Python ($RUNS runs each, interleaved)"
printf "$HEAD" > "$OUT/token.tsv"
for i in $(seq "$RUNS"); do
  pair entrakey TOKEN msal MSAL timed "$OUT/token.tsv"
done

# ------------------------------------- 3. throughput against raw C_Sign
say "3/5 throughput: $SIGNS assertions vs $SIGNS C_Sign per run ($RUNS runs each)"
case $FLOOR_MODE in *pkcs1) ALG=rs256 ;; *) ALG=ps256 ;; esac
THROUGHPUT=("$BIN/throughput" -a "$ALG" "$MODULE" "$KEY" "file:$T/pin")
printf 'side\trun\tper_s\trc\n' > "$OUT/throughput.tsv"
for i in $(seq "$RUNS"); do
  pair floor FLOOR entrakey THROUGHPUT rate
done

# ----------------------------------------- 4. where a cold token goes
say "4/5 phases of a cold 'entrakey -v token' and 'assert' ($RUNS runs each)"
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
# ------------------------------------- 5. cold token against the token floor
if [ ${#TFLOOR[@]} -gt 0 ]; then
  say "5/5 entrakey token vs the token floor ($RUNS runs each, interleaved)"
  printf "$HEAD" > "$OUT/tfloor.tsv"
  for i in $(seq "$RUNS"); do
    pair tfloor TFLOOR entrakey TOKEN timed "$OUT/tfloor.tsv"
  done
else
  say "5/5 skipped: the token floor signs PS256 only (mechanism $MECH)"
fi
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
