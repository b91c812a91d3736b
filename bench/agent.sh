#!/bin/bash
# agent.sh: the agent's benchmark (docs/performance.md, "The agent").
# Builds entrakey (Release), makes a fresh SoftHSM token with a key and
# certificate, starts the loopback token endpoint and `entrakey agent`, and
# measures, side by side in one run:
#   1. `entrakey token` served from the agent's cache (a whole client
#      process) against MSAL Python acquiring a token (a whole process):
#      wall time and peak RSS, interleaved runs; targets >= 50x, RSS <= 1/4
#   2. cache misses through the agent: assertions/s with 16 concurrent
#      clients (bench/agent_load.c) against the raw C_Sign rate of the same
#      token (bench/floor.c); target >= 90 %
#   3. the agent's RSS after 100 requests and after 100,000; target growth
#      <= 1 MiB
#   4. a managed-identity request (docs/managed-identity.md) answered from
#      the agent's cache against the same request answered by a trivial
#      loopback HTTP server (bench/trivial_http.c) with the same body, by
#      bench/mi_load.c: a connection per request, and keep-alive; target
#      <= 2x the trivial server's time
#   5. azure-identity get_token through the endpoint (a whole process)
#      against azure-identity with a software certificate against the same
#      token endpoint (a whole process)
# Not part of the test suite: a missed target never fails a build.
#
# usage: bench/agent.sh [-n RUNS] [-s SIGNATURES] [-b BUILD-DIR]
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$SRC/build-bench
RUNS=31
SIGNS=2000
RTPRIO=()

while getopts "n:s:b:h" opt; do
  case $opt in
    n) RUNS=$OPTARG ;;
    s) SIGNS=$OPTARG ;;
    b) BUILD=$OPTARG ;;
    *) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
say() { printf '== %s\n' "$*" >&2; }
die() { printf 'agent.sh: %s\n' "$*" >&2; exit 1; }
# shellcheck source=bench/setup.sh
. "$SRC/bench/setup.sh"

bench_build "$BUILD"
CFLAGS="-O2 -Wall -Wextra -Werror -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
# shellcheck disable=SC2086
cc $CFLAGS -o "$BIN/mi_load" "$SRC/bench/mi_load.c"
# shellcheck disable=SC2086
cc $CFLAGS -o "$BIN/trivial_http" "$SRC/bench/trivial_http.c"

T=$(mktemp -d "${TMPDIR:-/tmp}/entrakey-agent-bench.XXXXXX")
SERVER_PID= AGENT_PID= TRIVIAL_PID=
cleanup() {
  [ -z "$TRIVIAL_PID" ] || kill "$TRIVIAL_PID" 2>/dev/null || true
  [ -z "$AGENT_PID" ] || kill "$AGENT_PID" 2>/dev/null || true
  [ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
bench_token "$T"
bench_endpoint "$T"
bench_mechanism "$T"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

SOCK=$T/run/entrakey/agent.sock
# the key through a profile: the managed-identity endpoint serves its app
"$EK" profile add bench --key "$KEY" --module "$MODULE" --tenant "$TENANT" \
  --client-id "$CLIENT" --authority-host "$AUTH" --ca-file "$T/ca.pem" \
  >/dev/null || die "profile add failed"
"$EK" --module "$MODULE" agent --profile bench --managed-identity \
  --pin-source "file:$T/pin" </dev/null >"$T/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$T/agent.log" >&2; die "the agent did not start"; }

TOKEN=("$EK" token "$KEY" --tenant "$TENANT" --client-id "$CLIENT"
  --authority-host "$AUTH" --ca-file "$T/ca.pem" --scope "$SCOPE" --agent)
MSAL=("$PY" "$SRC/bench/msal_token.py" "$AUTH/$TENANT" "$CLIENT"
  "$T/msal.key" "$T/msal.pem" "$SCOPE" "$T/ca.pem")
"${TOKEN[@]}" >/dev/null || die "entrakey token --agent failed"
"${MSAL[@]}" >/dev/null || die "MSAL failed"

say "1/5 agent-cached 'entrakey token' vs MSAL Python ($RUNS runs each)"
printf 'side\twall_ms\trss_kb\trc\tcpu_ms\n' > "$T/token.tsv"
for i in $(seq "$RUNS"); do
  for side in $([ $((i % 2)) -eq 1 ] && echo "TOKEN MSAL" || echo "MSAL TOKEN"); do
    declare -n c=$side
    read -r w m rc cpu < <("$BIN/timeit" -- "${c[@]}")
    printf '%s\t%s\t%s\t%s\t%s\n' "$side" "$w" "$m" "$rc" "$cpu" >> "$T/token.tsv"
    unset -n c
  done
done

say "2/5 cache misses: /v1/assertion, 16 clients, vs raw C_Sign ($SIGNS each, 5 runs)"
printf '{"key":"%s","tenant":"%s","client_id":"%s","scope":"%s","authority_host":"%s"}' \
  "$KEY" "$TENANT" "$CLIENT" "$SCOPE" "$AUTH" > "$T/assert.json"
printf 'side\tper_s\n' > "$T/miss.tsv"
for i in 1 2 3 4 5; do
  r=$("$BIN/agent_load" "$SOCK" /v1/assertion "$T/assert.json" 16 "$SIGNS")
  printf 'agent16\t%s\n' "${r%% *}" >> "$T/miss.tsv"
  r=$("$BIN/floor" "$MODULE" bench bench-key "$T/pin" "$FLOOR_MODE" "$SIGNS")
  printf 'floor\t%s\n' "${r%% *}" >> "$T/miss.tsv"
done

say "3/5 the agent's RSS after 100 and after 100,000 requests"
printf '{"key":"%s","tenant":"%s","client_id":"%s","scope":"%s","authority_host":"%s","ca_file":"%s"}' \
  "$KEY" "$TENANT" "$CLIENT" "$SCOPE" "$AUTH" "$T/ca.pem" > "$T/token.json"
rss() { awk '/VmRSS/ {print $2}' "/proc/$AGENT_PID/status"; }
"$BIN/agent_load" "$SOCK" /v1/token "$T/token.json" 4 100 >/dev/null
RSS100=$(rss)
"$BIN/agent_load" "$SOCK" /v1/token "$T/token.json" 16 100000 > "$T/rate100k"
RSS100K=$(rss)

say "4/5 a managed-identity request from the cache vs a trivial HTTP server"
MIENV=$T/run/entrakey/managed-identity.env
IE=$(sed -n 's/^IDENTITY_ENDPOINT=//p' "$MIENV")
IH=$(sed -n 's/^IDENTITY_HEADER=//p' "$MIENV")
MIPORT=${IE#http://127.0.0.1:}; MIPORT=${MIPORT%%/*}
MIPATH="/msi/token?resource=https://graph.microsoft.com&api-version=2019-08-01"
curl -s --noproxy '*' -H "X-IDENTITY-HEADER: $IH" "http://127.0.0.1:$MIPORT$MIPATH" \
  > "$T/mi_body.json" || die "the managed-identity endpoint did not answer"
grep -q access_token "$T/mi_body.json" || die "the endpoint said: $(cat "$T/mi_body.json")"
"$BIN/trivial_http" "$T/mi_body.json" > "$T/trivial.port" &
TRIVIAL_PID=$!
for _ in $(seq 50); do [ -s "$T/trivial.port" ] && break; sleep 0.05; done
TPORT=$(cat "$T/trivial.port")
printf 'side\tmode\tper_s\tmedian_us\n' > "$T/mi.tsv"
for i in 1 2 3 4 5; do
  for mode in close keepalive; do
    for side in mi trivial; do
      p=$([ $side = mi ] && echo "$MIPORT" || echo "$TPORT")
      r=$("$BIN/mi_load" "$p" "$MIPATH" "$IH" $mode 2000) || die "mi_load failed"
      set -- $r
      printf '%s\t%s\t%s\t%s\n' $side $mode "$1" "$4" >> "$T/mi.tsv"
    done
  done
done

say "5/5 azure-identity get_token: the endpoint vs a software certificate ($RUNS runs each)"
cat "$T/msal.key" "$T/msal.pem" > "$T/azid.pem"
AZMI=(env IDENTITY_ENDPOINT="$IE" IDENTITY_HEADER="$IH" "$PY"
  "$SRC/bench/azid_token.py" mi https://graph.microsoft.com/.default)
AZCERT=(env REQUESTS_CA_BUNDLE="$T/ca.pem" "$PY" "$SRC/bench/azid_token.py" cert
  https://graph.microsoft.com/.default "127.0.0.1:$PORT" "$TENANT" "$CLIENT" "$T/azid.pem")
"${AZMI[@]}" >/dev/null || die "azure-identity through the endpoint failed"
"${AZCERT[@]}" >/dev/null || die "azure-identity with a certificate failed"
printf 'side\twall_ms\trss_kb\trc\tcpu_ms\n' > "$T/azid.tsv"
for i in $(seq "$RUNS"); do
  for side in $([ $((i % 2)) -eq 1 ] && echo "AZMI AZCERT" || echo "AZCERT AZMI"); do
    declare -n c=$side
    read -r w m rc cpu < <("$BIN/timeit" -- "${c[@]}")
    printf '%s\t%s\t%s\t%s\t%s\n' "$side" "$w" "$m" "$rc" "$cpu" >> "$T/azid.tsv"
    unset -n c
  done
done

"$PY" - "$T" "$RSS100" "$RSS100K" "$(cat "$T/rate100k")" "$MECH" "$LOAD0" <<'PY'
import csv, statistics, sys
d, rss100, rss100k, rate, mech, load0 = sys.argv[1:]
rows = list(csv.DictReader(open(d + "/token.tsv"), delimiter="\t"))
def med(side, k):
    return statistics.median(float(r[k]) for r in rows if r["side"] == side)
tw, mw = med("TOKEN", "wall_ms"), med("MSAL", "wall_ms")
tr, mr = med("TOKEN", "rss_kb"), med("MSAL", "rss_kb")
tc, mc = med("TOKEN", "cpu_ms"), med("MSAL", "cpu_ms")
print("load average (1, 5, 15 min): %s at the start, %s at the end"
      % (load0, " ".join(open("/proc/loadavg").read().split()[:3])))
print("1. agent-cached entrakey token: %.2f ms (CPU %.1f ms), %d KiB peak "
      "RSS; MSAL Python %.1f ms (CPU %.1f ms), %d KiB"
      % (tw, tc, tr, mw, mc, mr))
print("   CPU time MSAL / entrakey: %.0fx" % (mc / tc if tc > 0 else 0))
print("   MSAL / entrakey: %.0fx (target >= 50x: %s); RSS %.2f of MSAL's "
      "(target <= 0.25: %s)" % (mw / tw, "PASS" if mw / tw >= 50 else "MISS",
                                tr / mr, "PASS" if tr / mr <= 0.25 else "MISS"))
rows = list(csv.DictReader(open(d + "/miss.tsv"), delimiter="\t"))
a = statistics.median(float(r["per_s"]) for r in rows if r["side"] == "agent16")
f = statistics.median(float(r["per_s"]) for r in rows if r["side"] == "floor")
print("2. cache misses through the agent, 16 clients: %.0f assertions/s; raw "
      "C_Sign (%s): %.0f/s; %.0f %% (target >= 90 %%: %s)"
      % (a, mech, f, 100 * a / f, "PASS" if a / f >= 0.9 else "MISS"))
g = int(rss100k) - int(rss100)
print("3. agent RSS: %s KiB after 100 requests, %s KiB after 100,000 (%s); "
      "growth %d KiB (target <= 1024: %s)"
      % (rss100, rss100k, rate.strip(), g, "PASS" if g <= 1024 else "MISS"))
rows = list(csv.DictReader(open(d + "/mi.tsv"), delimiter="\t"))
for mode in ("close", "keepalive"):
    m = statistics.median(float(r["median_us"]) for r in rows
                          if r["side"] == "mi" and r["mode"] == mode)
    t = statistics.median(float(r["median_us"]) for r in rows
                          if r["side"] == "trivial" and r["mode"] == mode)
    print("4. managed-identity request from the cache (%s): %.0f us; trivial "
          "server %.0f us: %.2fx (target <= 2x: %s)"
          % ("a connection each" if mode == "close" else "keep-alive", m, t,
             m / t, "PASS" if m / t <= 2 else "MISS"))
rows = list(csv.DictReader(open(d + "/azid.tsv"), delimiter="\t"))
ok = all(r["rc"] == "0" for r in rows)
def med2(side, k):
    return statistics.median(float(r[k]) for r in rows if r["side"] == side)
print("5. azure-identity get_token, whole process: through the endpoint "
      "%.0f ms (CPU %.0f ms, %d KiB); with a software certificate %.0f ms "
      "(CPU %.0f ms, %d KiB): %.2fx%s"
      % (med2("AZMI", "wall_ms"), med2("AZMI", "cpu_ms"),
         med2("AZMI", "rss_kb"), med2("AZCERT", "wall_ms"),
         med2("AZCERT", "cpu_ms"), med2("AZCERT", "rss_kb"),
         med2("AZCERT", "wall_ms") / med2("AZMI", "wall_ms"),
         "" if ok else " (some runs failed)"))
PY
