#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan in build-fuzz, and runs each
# for SECONDS (default 60) on a temp copy of its seed corpus (fuzz/corpus/<target>), so that the
# checked-in seeds stay as they are. Exits non-zero when a target crashes, leaks, times out or
# runs out of memory; the input that did it is left in build-fuzz/findings/<target>/ (replay it
# with build-fuzz/bin/<target> FILE).
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
targets=(codec_fuzz aws_request_fuzz responder_fuzz)
build=build-fuzz
jobs=$(nproc)

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
echo "fuzz: building ${targets[*]} (clang-14, ASan/UBSan) in $build"
# -O1 with line tables only, as libFuzzer's docs advise: half the build time of -O2 -g (5 instead
# of ~10 minutes on 2 cores without a cache), and stack traces still name the lines.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=None "-DCMAKE_CXX_FLAGS=-O1 -gline-tables-only" \
  -DCMAKE_CXX_COMPILER=clang++-14 -DSKIFF_FUZZ=ON -DSKIFF_BUILD_TESTS=OFF "${launcher[@]}" \
  >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

work=$(mktemp -d /tmp/skiff-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
for target in "${targets[@]}"; do
  mkdir -p "$work/$target" "$build/findings/$target"
  cp fuzz/corpus/"$target"/* "$work/$target/"
  echo "fuzz: $target for ${seconds}s"
  # -timeout: one input slower than 10 s is a hang. -rss_limit_mb: a leak or a blow-up.
  if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$build/bin/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -max_len=131072 -print_final_stats=1 -artifact_prefix="$build/findings/$target/" \
      "$work/$target" 2>"$work/$target.log"; then
    tail -n 60 "$work/$target.log" >&2
    echo "fuzz: $target FAILED; the input is in $build/findings/$target/" >&2
    status=1
  else
    # The last coverage line (edges "cov", features "ft", corpus size), then the totals.
    grep -a ' cov: ' "$work/$target.log" | tail -n 1 || true
    grep -aE '^Done|^stat::(average_exec_per_sec|peak_rss_mb)' "$work/$target.log" || true
  fi
done
exit $status
