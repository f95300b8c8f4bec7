#!/usr/bin/env bash
# ThreadSanitizer check: builds the tests with the `tsan` preset (clang,
# -fsanitize=thread) in build/tsan and runs the tests labelled `threads`
# (tests/test_threads.c: separate networks trained on separate threads at
# once; one trained network serving mlp_infer and the other const functions
# from four threads). Any reported race fails the script (halt_on_error).
# The test sets mlp_set_threads(1) so that OpenBLAS, which is not
# instrumented, starts no worker threads of its own (see the test's comment).
set -euo pipefail
cd "$(dirname "$0")/.."

for p in clang libclang-rt-14-dev cmake libopenblas-dev libcmocka-dev pkg-config; do
    if ! dpkg -s "$p" >/dev/null 2>&1; then
        echo "== tsan: installing $p"
        [ -n "${apt_updated:-}" ] || { apt-get update; apt_updated=1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$p"
    fi
done

echo "== tsan: configure and build (build/tsan)"
cmake --preset tsan -DMLP_BUILD_EXAMPLES=OFF -DMLP_BUILD_BENCH=OFF >/dev/null
cmake --build --preset tsan --target test_threads

# clang 14's TSan cannot map its shadow memory under the 32-bit mmap
# randomization of recent kernels; running without ASLR avoids that.
norandom=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
    norandom=(setarch "$(uname -m)" -R)
fi

echo "== tsan: test_threads under ThreadSanitizer"
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
    "${norandom[@]}" ctest --test-dir build/tsan -L threads --output-on-failure --timeout 300
echo "== tsan: no data race reported"
