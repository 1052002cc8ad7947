#!/usr/bin/env bash
# Everything that needs an NVIDIA GPU, in one command (a lent GPU machine gives a session about
# 30 minutes, and each fresh machine costs minutes to start):
#   1. the dependencies: when the machine lacks them, the Debian packages in .gpu-deps/
#      (fetched here by tools/gpu_deps.sh) are unpacked into a private root;
#   2. the build, for the GPU in the machine;
#   3. the whole test suite (the CUDA tests run instead of skipping);
#   4. compute-sanitizer memcheck on a few training steps;
#   5. the kernel microbenchmarks and the training-iteration benchmark;
#   6. the same iteration in PyTorch (eager, and captured by hand in a CUDA graph), with its FLOP
#      count and the device's TF32 rate, and the side-by-side ratios (tools/bench_iteration_torch.py);
#   7. a short `mmgan train --device cuda` on Fashion-MNIST;
#   8. data parallelism's NCCL path with one rank per GPU (docs/data-parallel.md), where the
#      machine has OpenMPI: the all-reduce backend call on the GPU under mpirun, and a short
#      training run on every GPU against one process.
# Each step's output goes to $OUT (the device tool brings it back) or results/gpu/, with a
# summary.txt of what passed. A failing step does not stop the later ones.
#   device run, carry [".gpu-deps"]:   tools/gpu_check.sh
# Environment: GPU_CHECK_STEPS (default "deps build test memcheck bench torch train dp"),
# GPU_CHECK_TRAIN_ITERS (default 500).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-results/gpu}"
mkdir -p "$out"
steps="${GPU_CHECK_STEPS:-deps build test memcheck bench torch train dp}"
summary="$out/summary.txt"
: >"$summary"
build=build-gpu
jobs=$(nproc)
note() { echo "$*" | tee -a "$summary"; }
run_step() {  # run_step NAME COMMAND...: logs to $out/NAME.log, records pass/fail and seconds
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  "$@" >"$out/$name.log" 2>&1
  rc=$?
  note "$name: $([ $rc -eq 0 ] && echo passed || echo "FAILED (exit $rc)") in $(($(date +%s) - t0)) s"
  tail -n 30 "$out/$name.log"
  return $rc
}
has() { [[ " $steps " == *" $1 "* ]]; }

note "mmgan gpu_check $(git rev-parse --short HEAD 2>/dev/null || echo '?') on $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$summary"
nvcc --version | tail -n 1 | tee -a "$summary"

# 1. Dependencies.
cmake_args=()
if has deps && ! [ -f /usr/include/gtest/gtest.h ]; then
  root=/tmp/mmgan-deps
  mkdir -p "$root"
  for f in .gpu-deps/*.deb; do dpkg -x "$f" "$root"; done
  # The packages' pkg-config files say prefix=/usr; point them at the private root.
  find "$root" -name '*.pc' -exec sed -i "s|=/usr|=$root/usr|g; s|-I/usr|-I$root/usr|g; s|-L/usr|-L$root/usr|g" {} +
  arch=x86_64-linux-gnu
  export PATH="$root/usr/bin:$PATH"
  export LD_LIBRARY_PATH="$root/usr/lib/$arch:$root/usr/lib/$arch/openblas-openmp:${LD_LIBRARY_PATH:-}"
  export PKG_CONFIG_PATH="$root/usr/lib/$arch/pkgconfig:$root/usr/share/pkgconfig"
  export CPATH="$root/usr/include:${CPATH:-}"
  command -v pkg-config >/dev/null || ln -sf "$root/usr/bin/pkgconf" "$root/usr/bin/pkg-config"
  cmake_args+=(-DMMGAN_DEPS_ROOT="$root" -DCMAKE_PREFIX_PATH="$root/usr")
  note "deps: unpacked $(ls .gpu-deps/*.deb | wc -l) packages into $root"
fi
# cuDNN may live in a Python wheel's folder rather than next to the toolkit.
if ! ldconfig -p | grep -q libcudnn.so.9 && ! [ -e /usr/local/cuda/lib64/libcudnn.so ]; then
  d=$(dirname "$(find / -name 'libcudnn.so.9' -not -path '*/proc/*' 2>/dev/null | head -n 1)")
  if [ -n "$d" ] && [ "$d" != . ]; then
    export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
    cmake_args+=(-DCUDNN_LIBRARY="$(ls "$d"/libcudnn.so* | head -n 1)" -DCUDNN_INCLUDE_DIR="$(dirname "$d")/include")
    note "cuDNN from $d"
  fi
fi

# 2. Build (native architecture only: faster, and it is the one measured).
if has build; then
  cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d .)
  run_step build bash -c "cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMMGAN_CUDA=ON \
      -DCMAKE_CUDA_ARCHITECTURES=${cc:-90} ${cmake_args[*]} && cmake --build $build -j $jobs" || {
    note "build failed: nothing else can run"
    exit 1
  }
fi

# 3. Tests: everything, so that the CUDA tests run next to the CPU ones they compare with.
if has test; then
  run_step test ctest --test-dir "$build" --output-on-failure -j "$jobs"
  grep -E "tests passed|tests failed" "$out/test.log" | tee -a "$summary"
  # The CUDA tests by name: none may have been skipped on this machine.
  run_step test-cuda-not-skipped bash -c "! ctest --test-dir $build -R 'Cuda' -j $jobs 2>&1 | tee /dev/stderr | grep -q 'Not Run\|Skipped'"
fi

# 4. memcheck on a few training steps of the default configuration on synthetic-size data.
if has memcheck; then
  data=(--input_folder .gpu-deps)
  run_step memcheck compute-sanitizer --tool memcheck --error-exitcode 9 --leak-check full \
    "$build/tools/mmgan" train --device cuda --n_iter 3 --batch_size 8 "${data[@]}" --print_every 1000 \
    --save_every 1000 --output_folder /tmp/mmgan-memcheck
fi

# 5. Benchmarks.
if has bench; then
  for b in bench_kernels bench_train bench_eval bench_engine; do
    [ -x "$build/tools/$b" ] || continue
    run_step "$b" env MMGAN_CONV_LOG=1 "$build/tools/$b" --benchmark_out="$out/$b.json" --benchmark_out_format=json
  done
fi

# 6. PyTorch's iteration on the same GPU, and the ratios (issue 6's targets: mmgan >= 8x faster
# than eager, >= 2x faster than PyTorch's CUDA graph, < 1 ms per iteration at batch 32 on an H100).
if has torch; then
  for b in 32 64; do
    run_step "torch-eager-$b" python3 tools/bench_iteration_torch.py --device cuda --batch "$b" --iters 200 \
      $([ "$b" = 32 ] && echo --flops)
    run_step "torch-graph-$b" python3 tools/bench_iteration_torch.py --device cuda --graph --batch "$b" --iters 500
  done
  cat "$out"/torch-*.log | grep pytorch | tee -a "$summary"
  python3 - "$out" <<'PY' | tee -a "$summary"
import json, re, sys, glob, os
out = sys.argv[1]
try:
    rows = json.load(open(os.path.join(out, "bench_train.json")))["benchmarks"]
except Exception as e:
    sys.exit(f"no bench_train.json: {e}")
mm = {r["name"].split("/min_time")[0]: r["real_time"] / 1e3 for r in rows}  # ms -> s
torch = {}
for f in glob.glob(os.path.join(out, "torch-*.log")):
    for line in open(f):
        m = re.search(r"batch (\d+) (eager|cuda-graph): ([0-9.]+) s/iteration", line)
        if m:
            torch[(int(m.group(1)), m.group(2))] = float(m.group(3))
        m = re.search(r"([0-9.]+) GFLOP/iteration; TF32 matmul ([0-9.]+) TFLOP/s", line)
        if m:
            gflop, tf32 = float(m.group(1)), float(m.group(2))
for b in (32, 64):
    g, e = mm.get(f"TrainIteration_cuda_graph/{b}"), mm.get(f"TrainIteration_cuda/{b}")
    te, tg = torch.get((b, "eager")), torch.get((b, "cuda-graph"))
    parts = [f"batch {b}: mmgan graph {g * 1e3:.3f} ms" if g else f"batch {b}: mmgan graph ?"]
    if e: parts.append(f"mmgan eager {e * 1e3:.3f} ms")
    if te and g: parts.append(f"pytorch eager {te * 1e3:.3f} ms ({te / g:.1f}x)")
    if tg and g: parts.append(f"pytorch cuda-graph {tg * 1e3:.3f} ms ({tg / g:.1f}x)")
    if b == 32 and g and "gflop" in dir():
        parts.append(f"{gflop:.2f} GFLOP: {gflop / g / 1e3:.1f} TFLOP/s = {gflop / g / 1e3 / tf32 * 100:.1f} % of TF32 {tf32:.0f}")
    print("; ".join(parts))
PY
fi

# 7. A short training run on the GPU.
if has train; then
  run_step train "$build/tools/mmgan" train --device cuda --n_iter "${GPU_CHECK_TRAIN_ITERS:-500}" \
    --input_folder .gpu-deps --output_folder "$out/runs" --print_every 250
fi
note "done"

# 8. Data parallelism on the GPU: NCCL runs even with one rank under mpirun.
if has dp; then
  if command -v mpirun >/dev/null && [ -x "$build/tests/test_collective" ]; then
    mpi=(mpirun --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1)
    run_step dp-nccl-call "${mpi[@]}" -np 1 "$build/tests/test_collective" --gtest_filter='Collective.BackendCallOnEveryDevice'
    ngpu=$(nvidia-smi --list-gpus | wc -l)
    common=(train --device cuda --n_iter 50 --batch_size $((8 * ngpu)) --log_every 10 --output_folder /tmp/mmgan-dp)
    run_step dp-train-one "$build/tools/mmgan" "${common[@]}" --run_name one
    run_step dp-train-ranks "${mpi[@]}" -np "$ngpu" "$build/tools/mmgan" "${common[@]}" --run_name ranks
    tail -n 2 /tmp/mmgan-dp/one-0/metrics.jsonl /tmp/mmgan-dp/ranks-0/metrics.jsonl | tee -a "$summary"
  else
    note "dp: skipped (no mpirun, or the build has no MPI)"
  fi
fi
