#!/usr/bin/env bash
# Valgrind memcheck check: builds the examples (RelWithDebInfo, build/valgrind)
# and runs every ctest test labelled `example` (xor, regression, resume,
# digits, diabetes, breast_cancer, predict on their three saved models, with
# the arguments of their ctest registration) under valgrind, which CMake puts in front of each test
# command through CMAKE_CROSSCOMPILING_EMULATOR. Any memory error, and any
# definitely or indirectly lost block, makes valgrind exit with 99 and the
# test fail. "Possibly lost" blocks (OpenBLAS keeps its thread pool and
# buffers alive until exit) and "still reachable" ones do not count.
set -euo pipefail
cd "$(dirname "$0")/.."

for p in valgrind cmake libopenblas-dev libcmocka-dev pkg-config; do
    if ! dpkg -s "$p" >/dev/null 2>&1; then
        echo "== valgrind: installing $p"
        [ -n "${apt_updated:-}" ] || { apt-get update; apt_updated=1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$p"
    fi
done

build=build/valgrind
vg="valgrind;--error-exitcode=99;--leak-check=full;--errors-for-leak-kinds=definite,indirect"
vg="$vg;--show-leak-kinds=definite,indirect;--track-origins=yes"
echo "== valgrind: configure and build ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMLP_BUILD_BENCH=OFF \
    "-DCMAKE_CROSSCOMPILING_EMULATOR=$vg" >/dev/null
cmake --build "$build" -j2

echo "== valgrind: the examples under memcheck"
ctest --test-dir "$build" -L example -j2 --output-on-failure --timeout 1200
echo "== valgrind: no memory error or leak in the examples"
