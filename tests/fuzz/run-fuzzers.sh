#!/usr/bin/env bash
# run-fuzzers.sh: builds the libFuzzer targets (clang, ASan+UBSan) and runs
# each for SECONDS on a scratch copy of its committed corpus; exits non-zero,
# naming the input, when a target crashes, leaks, hangs or runs out of memory.
#
#   tests/fuzz/run-fuzzers.sh SECONDS [TARGET...]
#
# SECONDS 0 builds the targets and runs none (scripts/dev.sh test builds
# them early, at a low priority, beside its other stages).
# TARGET is a parser name (entra_response, uri, …); all by default. New
# inputs stay in the scratch copy: the committed corpus is never written. A
# finding is kept under build-fuzz/findings/<target>/ (cleared when that
# target runs again); add it to tests/fuzz/corpus/<target>/ so that ctest
# replays it from then on.
# Needs clang and libclang-rt-14-dev (Debian 12); no network.
# Environment: EK_FUZZ_BUILD (build dir, default <repo>/build-fuzz),
# EK_FUZZ_RSS_MB (default 2048), EK_FUZZ_TIMEOUT (seconds per input,
# default 10), EK_FUZZ_CC (default clang), EK_FUZZ_JOBS (targets run at
# once, default one per CPU).
set -u -o pipefail

usage() {
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
}

[[ $# -ge 1 && $1 =~ ^(0|[1-9][0-9]*)$ ]] || usage
seconds=$1
shift

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${EK_FUZZ_BUILD:-$src/build-fuzz}
rss=${EK_FUZZ_RSS_MB:-2048}
timeout=${EK_FUZZ_TIMEOUT:-10}
cc=${EK_FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null; then
    echo "$0: $cc not found; install clang and libclang-rt-14-dev" >&2
    exit 2
fi

# Every fuzz_<parser>.c with a corpus/<parser>/ is a target.
targets=()
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    for f in "$src"/tests/fuzz/fuzz_*.c; do
        t=$(basename "$f" .c)
        targets+=("${t#fuzz_}")
    done
fi
for t in "${targets[@]}"; do
    if [[ ! -f $src/tests/fuzz/fuzz_$t.c || ! -d $src/tests/fuzz/corpus/$t ]]; then
        echo "$0: no target '$t' (tests/fuzz/fuzz_$t.c and corpus/$t/)" >&2
        exit 2
    fi
done

echo "== building ${#targets[@]} fuzz targets in $build"
mkdir -p "$build"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DEK_FUZZ=ON \
    -DEK_SANITIZE=ON -DBUILD_TESTING=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >"$build/configure.log" 2>&1 || {
    tail -n 40 "$build/configure.log" >&2
    echo "$0: cmake configure failed" >&2
    exit 2
}
cmake --build "$build" -j "$(nproc)" \
    --target "${targets[@]/#/fuzz_}" >"$build/build.log" 2>&1 || {
    tail -n 40 "$build/build.log" >&2
    echo "$0: build failed (log: $build/build.log)" >&2
    exit 2
}
if [[ $seconds -eq 0 ]]; then
    echo "== built ${#targets[@]} fuzz targets"
    exit 0
fi

# The sanitizers stop at the first report; LSan runs at the end of each
# input (libFuzzer's -detect_leaks, on by default).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ek-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# fuzz_one TARGET: one target's run; its summary goes to
# $scratch/TARGET.summary and its exit status to $scratch/TARGET.failed
fuzz_one() {
    local t=$1 corpus=$scratch/$1 findings=$build/findings/$1 rc found
    local log=$build/findings/$1.log out=$scratch/$1.summary
    {
        echo "== fuzz_$t for ${seconds}s ($(ls "$corpus" | wc -l) seeds)"
        # The scratch corpus is the only directory given, so new inputs go
        # there; -artifact_prefix keeps what breaks a property.
        "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" \
            -rss_limit_mb="$rss" -timeout="$timeout" -print_final_stats=1 \
            -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1
        rc=$?
        # (a crash prints the final stats twice: keep the first of each)
        grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' \
            "$log" | awk '!seen[$1]++ { print "   " $0 }'
        if [[ $rc -ne 0 ]]; then
            found=$(ls -t "$findings"/{crash,leak,timeout,oom}-* \
                2>/dev/null | head -n 1)
            grep -m 3 -E 'ERROR: |runtime error|property broken' "$log" |
                sed 's/^/   /'
            echo "   FAILED (exit $rc): input ${found:-(none written)}; log $log"
            echo "$t: ${found:-see $log}" >"$scratch/$t.failed"
        else
            echo "   ok"
        fi
    } >"$out"
}

for t in "${targets[@]}"; do
    rm -rf "${build:?}/findings/$t"
    mkdir -p "$scratch/$t" "$build/findings/$t"
    if ! cp -R "$src/tests/fuzz/corpus/$t/." "$scratch/$t/"; then
        echo "$0: cannot copy the corpus of $t to $scratch/$t" >&2
        exit 2
    fi
done
# EK_FUZZ_JOBS targets at a time (default: one per CPU); each runs for
# SECONDS of wall time, so one per CPU gives each the whole of one CPU
jobs=${EK_FUZZ_JOBS:-$(nproc)}
running=0
for t in "${targets[@]}"; do
    if [[ $running -ge $jobs ]]; then
        wait -n
        running=$((running - 1))
    fi
    fuzz_one "$t" &
    running=$((running + 1))
done
wait
failed=()
for t in "${targets[@]}"; do
    cat "$scratch/$t.summary"
    [[ -f $scratch/$t.failed ]] && failed+=("$(cat "$scratch/$t.failed")")
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "== ${#failed[@]} of ${#targets[@]} targets found a problem:"
    printf '   %s\n' "${failed[@]}"
    echo "   replay one: $build/tests/fuzz/fuzz_TARGET INPUT"
    exit 1
fi
echo "== all ${#targets[@]} targets ran ${seconds}s without a finding"
