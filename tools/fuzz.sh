#!/usr/bin/env bash
# Runs the libFuzzer targets (fuzz/harness.h) for a bounded time each, from the committed seed
# corpus, and fails on any finding: a crash, an ASan/UBSan report, a leak, an input slower than
# FUZZ_TIMEOUT seconds, more memory than FUZZ_RSS_MB, or an exception other than mmgan::Error.
#   tools/fuzz.sh                 configure and build build-fuzz (clang), run every target
#   tools/fuzz.sh image config    only these targets
# Environment: FUZZ_SECONDS (per target, default 45), BUILD_DIR (default build-fuzz), FUZZ_OUT
# (working corpora, logs and crashing inputs; default $BUILD_DIR/fuzz-runs). A crashing input is
# saved as $FUZZ_OUT/<target>/findings/crash-<sha1>: once fixed, it goes to fuzz/regressions/<target>/,
# which tests/test_fuzz_replay.cpp replays in every build.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-45}"
build="${BUILD_DIR:-build-fuzz}"
out="${FUZZ_OUT:-$build/fuzz-runs}"
all=(safetensors idx cifar10 image config checkpoint)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMGAN_CUDA=OFF \
  -DMMGAN_FUZZ=ON -DMMGAN_MPI=OFF -DMMGAN_TESTS=OFF -DMMGAN_BENCHMARKS=OFF > /dev/null
cmake --build "$build" --target "${targets[@]/#/fuzz_}"
export OMP_NUM_THREADS=1
failed=()
for t in "${targets[@]}"; do
  rm -rf "${out:?}/$t"
  mkdir -p "$out/$t/corpus" "$out/$t/findings"
  # New inputs go to the working corpus (the first folder); the committed seeds are only read.
  if "$build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
       -artifact_prefix="$out/$t/findings/" -print_final_stats=1 "$out/$t/corpus" "fuzz/corpus/$t" \
       > "$out/$t/log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t/log")
    echo "fuzz $t: ${runs:-?} inputs in ${secs} s, no finding"
  else
    failed+=("$t")
    echo "fuzz $t: FINDING (log $out/$t/log)"
    grep -E "^==[0-9]+==ERROR|runtime error|==mmgan-fuzz==|SUMMARY|Test unit written" "$out/$t/log" | head -8 || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}: inputs in $out/<target>/findings/" >&2
  exit 1
fi
