#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: install every dependency, build,
# and run every test (unit, integration against a private containerd, end to end, botocore
# compatibility), then the unit, end-to-end, lb, http and dns tests again under ASan/UBSan, then
# the fuzz targets for a bounded time (scripts/fuzz.sh).
# Set SKIFF_SKIP_SANITIZERS=1 for a quicker developer run.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc)
echo "test: building (RelWithDebInfo)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-test -j"$jobs"
./scripts/install-test-clients.sh build-test/aws_sdk  # @aws-sdk/client-ecs for its e2e test
echo "test: running every test"
(cd build-test && ctest --output-on-failure -j"$jobs")

if [[ "${SKIFF_SKIP_SANITIZERS:-0}" != 1 ]]; then
  echo "test: building with ASan/UBSan"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSKIFF_SANITIZE=ON -DSKIFF_BUILD_BENCH=OFF \
    >/dev/null
  cmake --build build-asan -j"$jobs"
  ./scripts/install-test-clients.sh build-asan/aws_sdk
  echo "test: unit, end-to-end, load-balancer (lb), HTTP and resolver (dns) tests under ASan/UBSan"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j"$jobs" -L 'unit|e2e|lb|http|dns')
  echo "test: fuzzing the JSON codec, the AWS request edge and skiff-dns's answers, 30 s each"
  ./scripts/fuzz.sh 30
fi
