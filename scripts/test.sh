#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: install every dependency, build,
# with ASan/UBSan and run every test (unit, integration against a private containerd, end to
# end, botocore compatibility, packaging, the fuzz targets' corpora replayed) under them. Set
# SKIFF_SKIP_SANITIZERS=1 for a quicker developer run without them. Fuzzing proper, with clang
# and libFuzzer, is scripts/fuzz.sh: its build of its own (~10 minutes on 2 cores) no longer
# fits in CI's hour beside this one.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc)
# One build runs every test: with ASan/UBSan unless SKIFF_SKIP_SANITIZERS=1. src/ at -O1, which
# keeps the end-to-end tests near full speed; the tests' own code at -O0 and protoc's output
# uninstrumented (CMakeLists.txt), which halves the build. Building twice, plain and sanitized,
# took half of CI's hour on 2 cores; every test the plain pass ran now runs sanitized.
if [[ "${SKIFF_SKIP_SANITIZERS:-0}" != 1 ]]; then
  echo "test: building with ASan/UBSan"
  # -g1: line tables, all a sanitizer's stack trace needs, at 15-28% less compile time than -g.
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1"
         -DSKIFF_SANITIZE=ON)
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
else
  echo "test: building (RelWithDebInfo)"
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
# Ninja: it keeps both cores busy across targets, and its log (.ninja_log) says what took long.
if [[ -f build-test/CMakeCache.txt ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' \
    build-test/CMakeCache.txt; then
  rm -rf build-test  # made by an older test.sh with Makefiles; a generator cannot be changed
fi
cmake -S . -B build-test -G Ninja "${flags[@]}" >/dev/null
cmake --build build-test -j"$jobs"
./scripts/install-test-clients.sh build-test/aws_sdk  # @aws-sdk/client-ecs for its e2e test

echo "test: running every test"
(cd build-test && ctest --output-on-failure -j"$jobs")

