#!/usr/bin/env bash
# Fuzzing check: builds the libFuzzer targets of fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined; the library copy they link is
# instrumented too) in build/fuzz, then fuzzes each target for
# FUZZ_SECONDS (default 60) starting from its committed seed corpus and
# regressions. A crash, leak, sanitizer report or broken API promise fails
# the script; the input that caused it is left in build/fuzz/artifacts/ and
# belongs in fuzz/regressions/<target>/ once understood. New corpus entries
# go to build/fuzz/corpus-<target>/ (not committed automatically).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"

for p in clang libclang-rt-14-dev cmake libopenblas-dev libcmocka-dev pkg-config; do
    if ! dpkg -s "$p" >/dev/null 2>&1; then
        echo "== fuzz: installing $p"
        [ -n "${apt_updated:-}" ] || { apt-get update; apt_updated=1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$p"
    fi
done

build=build/fuzz
echo "== fuzz: configure and build ($build)"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DMLP_BUILD_FUZZ=ON \
    -DMLP_BUILD_EXAMPLES=OFF -DMLP_BUILD_BENCH=OFF >/dev/null
targets=(model_load optimizer_load csv api)
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}"

mkdir -p "$build/artifacts"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
status=0
for t in "${targets[@]}"; do
    corpus="$build/corpus-$t"
    mkdir -p "$corpus"
    echo "== fuzz: fuzz_$t for ${seconds}s (seeds: fuzz/corpus/$t, fuzz/regressions/$t)"
    # -rss_limit_mb and -malloc_limit_mb keep a hostile size from looking
    # like a hang; -timeout flags inputs slower than 10 s.
    if ! timeout $((seconds + 120)) "$build/fuzz/fuzz_$t" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$t-" "$corpus" "fuzz/corpus/$t" \
        "fuzz/regressions/$t" >"$build/fuzz-$t.log" 2>&1; then
        echo "!! fuzz_$t failed; its log ($build/fuzz-$t.log) ends with:"
        tail -n 40 "$build/fuzz-$t.log"
        status=1
    else
        grep -E '^stat::(number_of_executed_units|new_units_added)' "$build/fuzz-$t.log" || true
    fi
done
if [ "$status" -ne 0 ]; then
    echo "== fuzz: FAILED (inputs in $build/artifacts/)"
    exit 1
fi
echo "== fuzz: no crash in ${#targets[@]} targets"
