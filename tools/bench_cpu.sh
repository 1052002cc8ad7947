#!/usr/bin/env bash
# The CPU speed comparison of the README: one full DCGAN32 training iteration (D step with the
# L-infinity hinge penalty + G step, batch 32 and 64) in mmgan and in Debian's PyTorch, side by side
# on the same cores, and the ratio. Run on an otherwise idle machine:  tools/bench_cpu.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-$(nproc)}"
build="${BUILD_DIR:-build}"
[ -x "$build/tools/bench_train" ] || tools/run.sh build >/dev/null
for b in 32 64; do
  m=$(OMP_NUM_THREADS=$threads "$build/tools/bench_train" --benchmark_filter="TrainIteration_cpu_graph/$b/" \
        --benchmark_format=csv 2>/dev/null | awk -F, '/TrainIteration_cpu_graph/ {print $3/1000}')
  p=$(/usr/bin/python3 tools/bench_iteration_torch.py --batch "$b" --threads "$threads" --iters 10)
  ps=$(echo "$p" | awk '{for (i = 1; i <= NF; ++i) if ($(i+1) == "s/iteration") print $i}')
  echo "batch $b: mmgan $m s/iteration; $p; mmgan / pytorch = $(awk -v a="$m" -v b="$ps" 'BEGIN {printf "%.2f", a / b}')"
done
