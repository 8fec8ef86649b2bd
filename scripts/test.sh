#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root: installs what
# it needs, builds, runs the unit and VM tests, an ASan+UBSan build of the
# unit tests, and every fuzz target (its kept corpus replayed, then 30 s).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/setup.sh

echo "== build"
VIGIL_BUILD_DIR=$top/build scripts/build.sh

echo "== ASan + UBSan build of the unit tests"
VIGIL_BUILD_DIR=$top/build-asan scripts/build.sh -DVIGIL_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan -L unit --output-on-failure -j "$(nproc)"

echo "== fuzz: every target replays its corpus, then fuzzes 30 s (FUZZING.md)"
scripts/fuzz.sh 30

echo "== unit and VM tests"
ctest --test-dir build -L unit --output-on-failure -j "$(nproc)"
ctest --test-dir build -L vm --output-on-failure
