#!/usr/bin/env bash
# Data parallelism on the CPU (docs/data-parallel.md): one DCGAN32 training iteration (h = 128,
# 3 colours, BatchNorm in D and G, HingeGAN + L-infinity hinge penalty at interpolates; the CUDA
# graph's CPU twin replays it) at batch 32 and 64, as 2 ranks x 1 OpenMP thread (mpirun, each
# rank bound to a core) against 1 process x 2 threads. The figure is the steady-state seconds per
# iteration that rank 0 logs (the mean of iterations 3..N, after the eager first one and the
# capture). Run on an otherwise idle machine:  tools/bench_dp.sh [iterations]
set -euo pipefail
cd "$(dirname "$0")/.."
iters="${1:-6}"
build="${BUILD_DIR:-build}"
[ -x "$build/tools/mmgan" ] || tools/run.sh build >/dev/null
data="${CIFAR_SAMPLE:-../shared/data/cifar10-sample/data_batch_1_first474.bin}"
[ -f "$data" ] || data=/work/shared/data/cifar10-sample/data_batch_1_first474.bin
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpirun=(mpirun --oversubscribe --allow-run-as-root --mca btl_vader_single_copy_mechanism none)
# Mean sec_per_iter of the metric lines after the first two iterations.
rate() { /usr/bin/python3 -c "
import json, sys
v = [json.loads(l)['sec_per_iter'] for l in open(sys.argv[1])][2:]
print('%.3f' % (sum(v) / len(v)))" "$1"; }
for b in 32 64; do
  args=(train --dataset cifar10 --input_folder "$data" --batch_size "$b" --n_iter "$iters" --log_every 1
        --print_every 100000 --save_every 100000 --output_folder "$out")
  OMP_NUM_THREADS=2 "$build/tools/mmgan" "${args[@]}" --run_name "one-b$b" >/dev/null
  "${mpirun[@]}" -np 2 --bind-to core -x OMP_NUM_THREADS=1 "$build/tools/mmgan" "${args[@]}" --run_name "two-b$b" >/dev/null
  one=$(rate "$out/one-b$b-0/metrics.jsonl")
  two=$(rate "$out/two-b$b-0/metrics.jsonl")
  echo "batch $b: 1 process x 2 threads $one s/iteration; 2 ranks x 1 thread $two s/iteration;" \
       "ranks / threads = $(awk -v a="$two" -v b="$one" 'BEGIN {printf "%.2f", a / b}')"
done
