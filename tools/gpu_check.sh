#!/usr/bin/env bash
# tools/gpu_check.sh STAGE: the GPU proof (issue 18), as two commands that each end by themselves
# inside one call of the device tool (a lease is 15 minutes of device time in all, a command at
# most 10 minutes, a fresh machine a minute or more to start):
#
#   tools/gpu_bundle.sh                                    here, first: binaries, libraries, data, CPU reference
#   device run, carry [".gpu-bundle"], timeout_s 420:      bash tools/gpu_check.sh 1     (ends within 360 s)
#   device run, carry [".gpu-bundle"], timeout_s 360:      bash tools/gpu_check.sh 2     (ends within 300 s)
#
# Nothing is built on the device: tools/gpu_bundle.sh builds the CUDA binaries for sm_90 here and
# carries them with the libraries the device lacks (its header says why, with the measurements).
#
# Stage 1 (budget 360 s):
#   env     the GPU, driver, CUDA runtime, cuDNN and PyTorch versions; finds cuDNN (a pip wheel
#           there) and the CUDA libraries for the carried binaries; fails, and stops the stage, when
#           there is no GPU; fails when the bundle was built from other sources than these
#   tests   every '*Cuda*' test of every test executable that has one (gpu_report.py cuda-tests),
#           with gtest XML; classified by name (gpu_report.py gtest): a skipped test fails the step
#           unless it skips on a GPU machine by design (CudaBackend.WithoutAGpuTheErrorSaysSo)
#   train   mmgan train --device cuda on the carried Fashion-MNIST subset, twice, each against the
#           same run made on the CPU when the bundle was built: 20 iterations in float64 compared
#           iteration by iteration (1e-9 on the first, 1e-7 on all: gpu_report.py train-exact), and 300 iterations in
#           float32 (TF32 convolutions) compared by the statistics of their second half
#           (gpu_report.py train-stats; the docstrings say why each criterion)
#   bench   bench_train (the CUDA iteration replayed from a graph and eager, batch 32 and 64) next to
#           tools/bench_iteration_torch.py (PyTorch eager with its FLOP count and the TF32 rate, and
#           PyTorch with the iteration captured in a CUDA graph); ratios and % of the TF32 rate
# Stage 2 (budget 300 s):
#   env     as above
#   memcheck   compute-sanitizer memcheck --leak-check full on 3 training steps (eager, capture,
#              replay) of batch 8: any error or leak fails (mmgan frees everything at exit)
#   racecheck  compute-sanitizer racecheck on 2 steps
#   synccheck  compute-sanitizer synccheck on 2 steps
#   kernels    bench_kernels against the device's copy bandwidth and cuBLAS's TF32 rate
#
# Each step runs under its own timeout: min(its cap, what is left of the stage's budget less a
# reserve for the report), so the stage ends within its budget whatever hangs; inside a step each
# command gets the same arithmetic against the step's end. A step with no time left is not run and
# fails. Results go to $OUT (the device tool brings back at most 8 files; default results/gpu/stageN
# here): summary.txt, appended after every step and ending with one PASS/FAIL line per step and an
# overall line, and logs-stageN.tar.gz (every log, gtest XML, metrics.jsonl and benchmark JSON),
# rewritten after every step, so a command cut short still leaves all that finished before.
# Exit status 0 when every step passed.
#
# Environment (the rehearsal, tests/test_gpu_check.py, uses these with stub binaries):
#   GPU_CHECK_STEPS      the steps to run, of the stage's (default: all of them, in order)
#   GPU_CHECK_BUDGET_S   the stage's wall budget in seconds (default 360 / 300)
#   GPU_CHECK_BUNDLE     the bundle (default .gpu-bundle)
#   GPU_CHECK_TEST_BIN   a folder of test executables to run instead of the bundle's, e.g.
#                        build-cpu/tests (on a machine without a GPU every CUDA test then skips,
#                        and the step fails as it must)
#   GPU_CHECK_TESTS      the test executables to run (default: gpu_report.py cuda-tests tests)
#   GPU_CHECK_PYTHON     the python3 that has PyTorch (default python3)
#   GPU_CHECK_WORK       scratch folder (default /tmp/mmgan-gpu-check/stageN)
#   GPU_CHECK_CAP_<STEP> a step's cap in seconds, e.g. GPU_CHECK_CAP_TESTS=150
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
self="$here/tools/gpu_check.sh"
report="$here/tools/gpu_report.py"
kill_after=3  # seconds between a timeout's TERM and its KILL
now() { date +%s; }

# --- Budget arithmetic -----------------------------------------------------------------------------
# budget_timeout CAP LEFT [MIN]: the seconds a step or command may run: its own cap, or LEFT (what is
# left of the budget, the reserve already taken off) when that is less; 0 (do not start it) when that
# is under MIN seconds (default 2).
budget_timeout() {
  local cap=$1 left=$2 min=${3:-2} t
  t=$((cap < left ? cap : left))
  ((t >= min)) || t=0
  echo "$t"
}
# The reserve kept back from every timeout: the KILL grace of `timeout -k` and the report after it.
reserve_s() { echo $((kill_after + 4)); }
# stage_left: seconds left of the stage's budget for the next step (net of the reserve).
stage_left() { echo $((deadline - $(now) - $(reserve_s))); }
# sub_timeout CAP: a command's timeout inside a step (GC_STEP_DEADLINE), net of the reserve.
sub_timeout() { budget_timeout "$1" $((GC_STEP_DEADLINE - $(now) - $(reserve_s))); }

# --- Shared with tools/gpu_bundle.sh -----------------------------------------------------------------
# The two training runs of the train step, less --device; the bundle makes the CPU reference with
# exactly these (DATA is the Fashion-MNIST subset's folder).
train_args() {  # train_args exact|stats|short DATA [N_ITER of short]: sets the array targs
  targs=(--input_folder "$2" --seed 1 --print_every 100000 --save_every 100000 --margin_every 100)
  case $1 in
    exact) targs+=(--dtype float64 --n_iter 20 --log_every 1) ;;
    stats) targs+=(--dtype float32 --n_iter 300 --log_every 10) ;;
    short) targs+=(--dtype float32 --n_iter "$3" --log_every 1 --batch_size 8) ;;
  esac
}
# sources_hash: one hash of every C++/CUDA source and CMake file (the bundle records it; env compares).
sources_hash() {
  (cd "$here" && find CMakeLists.txt engine kernels data models losses eval trainer lab tools tests fuzz \
    -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name 'CMakeLists.txt' \) \
    2>/dev/null | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -c1-16)
}
# shellcheck disable=SC2317  # `exit` is reached when the file is run rather than sourced
if [ "${GPU_CHECK_LIB:-}" = 1 ]; then return 0 2>/dev/null || exit 0; fi

# --- Steps: each runs as `gpu_check.sh --step NAME` under its own timeout; state comes in GC_*. ---------
say() { echo "$*"; }
mm() { env LD_LIBRARY_PATH="$GC_LD" "$@"; }  # a carried binary, with the carried and found libraries
timed() {                                      # timed CAP CMD...: CMD under sub_timeout CAP
  local t
  t=$(sub_timeout "$1")
  shift
  if ((t == 0)); then
    say "not started (no time left in the step): $*"
    return 124
  fi
  timeout -k "$kill_after" "$t" "$@"
}
mmt() { local c=$1; shift; timed "$c" env LD_LIBRARY_PATH="$GC_LD" "$@"; }  # mmt CAP CMD...: both

do_env() {
  local rc=0
  if [ -f "$GC_BUNDLE/manifest.txt" ]; then
    say "bundle $GC_BUNDLE: $(sed -n 's/^commit: //p; s/^built: /built /p' "$GC_BUNDLE/manifest.txt" | paste -sd ' ')"
    sed 's/^/  /' "$GC_BUNDLE/manifest.txt"
  elif ! [ -x "$GC_BIN/mmgan" ]; then
    say "NO BUNDLE in $GC_BUNDLE: run tools/gpu_bundle.sh first and name .gpu-bundle in the run's carry"
    rc=1
  fi
  if ! command -v nvidia-smi >/dev/null; then
    say "no GPU: nvidia-smi is not on this machine"
    touch "$GC_WORK/no-gpu"
    return 1
  fi
  local gpus
  if ! gpus=$(timed 20 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap \
    --format=csv,noheader 2>&1) || [ -z "$gpus" ]; then
    say "no GPU: nvidia-smi answered: ${gpus:-nothing}"
    touch "$GC_WORK/no-gpu"
    return 1
  fi
  say "gpu: $gpus"
  command -v nvcc >/dev/null && say "nvcc: $(nvcc --version | tail -n 1)"
  say "library path for the carried binaries: $GC_LD"
  [ -n "${GC_LIBNOTE:-}" ] && say "found: $GC_LIBNOTE"
  if [ -d "$GC_BIN" ]; then
    local b miss
    for b in "$GC_BIN"/*; do
      [ -x "$b" ] || continue
      miss=$(mm ldd "$b" 2>/dev/null | grep 'not found')
      if [ -n "$miss" ]; then
        say "MISSING libraries of $(basename "$b"): $(echo "$miss" | awk '{print $1}' | tr '\n' ' ')"
        rc=1
      fi
    done
    local name path
    while read -r name path; do  # the versions of the CUDA libraries the binaries load
      say "$name: $(readlink -f "$path")"
    done < <(mm ldd "$GC_BIN/mmgan" 2>/dev/null |
      awk '$1 ~ /^lib(cudart|cublas|cublasLt|cudnn)\.so/ && $2 == "=>" {print $1, $3}')
  fi
  timed 60 "$GC_PY" - <<'PY' || say "PyTorch: not usable"
import importlib.metadata as md
import torch
print(f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}), "
      f"device {torch.cuda.get_device_name() if torch.cuda.is_available() else 'NONE'}")
for p in ("nvidia-cudnn-cu13", "nvidia-cublas", "nvidia-cuda-runtime"):
    try:
        print(f"wheel {p} {md.version(p)}")
    except md.PackageNotFoundError:
        pass
PY
  if [ -f "$GC_BUNDLE/manifest.txt" ]; then
    local want have
    want=$(sed -n 's/^sources_hash: //p' "$GC_BUNDLE/manifest.txt")
    have=$(sources_hash)
    if [ -n "$want" ] && [ "$want" != "$have" ]; then
      say "STALE bundle: built from sources $want, this tree is $have; run tools/gpu_bundle.sh again"
      rc=1
    else
      say "sources: $have (the bundle's)"
    fi
  fi
  return $rc
}

do_tests() {
  local names n b rc
  names=${GPU_CHECK_TESTS:-$(python3 "$report" cuda-tests "$here/tests")}
  say "test executables: $names (from $GC_TEST_BIN)"
  for n in $names; do
    b="$GC_TEST_BIN/$n"
    if ! [ -x "$b" ]; then
      say "$n: MISSING from $GC_TEST_BIN"
      echo missing >"$GC_WORK/gtest-$n.rc"
      continue
    fi
    mmt 30 "$b" --gtest_list_tests --gtest_filter='*Cuda*' >"$GC_WORK/gtest-$n.list" 2>"$GC_WORK/tests-$n.log"
    say "$n: $(grep -c '^  ' "$GC_WORK/gtest-$n.list") tests selected"
    mmt "${GPU_CHECK_CAP_BINARY:-150}" env OMP_NUM_THREADS="${GPU_CHECK_OMP:-8}" "$b" --gtest_filter='*Cuda*' \
      --gtest_output="xml:$GC_WORK/gtest-$n.xml" >>"$GC_WORK/tests-$n.log" 2>&1
    rc=$?
    echo $rc >"$GC_WORK/gtest-$n.rc"
    say "$n: exit status $rc; $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$GC_WORK/tests-$n.log" | tr '\n' ' ')"
  done
}
report_tests() { python3 "$report" gtest "$GC_WORK"; }

run_train() {  # run_train NAME exact|stats CAP
  local rc
  train_args "$2" "$GC_DATA"
  mmt "$3" "$GC_BIN/mmgan" train --device cuda "${targs[@]}" \
    --output_folder "$GC_WORK/runs" --run_name "$1"
  rc=$?
  say "train $1: exit status $rc"
  return $rc
}
do_train() {
  local rc=0
  [ -x "$GC_BIN/mmgan" ] || { say "no mmgan in $GC_BIN"; return 1; }
  rm -rf "$GC_WORK/runs"
  run_train exact exact "${GPU_CHECK_CAP_EXACT:-60}" || rc=1
  run_train stats stats "${GPU_CHECK_CAP_STATS:-120}" || rc=1
  return $rc
}
report_train() {
  local rc=0
  python3 "$report" train-exact "$GC_REF/exact/metrics.jsonl" "$GC_WORK/runs/exact-0/metrics.jsonl" || rc=1
  python3 "$report" train-stats "$GC_REF/stats/metrics.jsonl" "$GC_WORK/runs/stats-0/metrics.jsonl" || rc=1
  return $rc
}

do_bench() {
  local b rc=0
  if [ -x "$GC_BIN/bench_train" ]; then
    mmt 80 "$GC_BIN/bench_train" --benchmark_filter='^TrainIteration_cuda' \
      --benchmark_out="$GC_WORK/bench_train.json" --benchmark_out_format=json || rc=1
  else
    say "no bench_train in $GC_BIN"
    rc=1
  fi
  for b in 32 64; do
    PYTHONUNBUFFERED=1 timed 60 "$GC_PY" "$here/tools/bench_iteration_torch.py" --device cuda --batch "$b" \
      --iters 200 --flops 2>&1 | tee "$GC_WORK/torch-eager-$b.log" || rc=1
    PYTHONUNBUFFERED=1 timed 60 "$GC_PY" "$here/tools/bench_iteration_torch.py" --device cuda --graph --batch "$b" \
      --iters 500 2>&1 | tee "$GC_WORK/torch-graph-$b.log" || rc=1
  done
  return $rc
}
report_bench() { python3 "$report" bench "$GC_WORK"; }

sanitize() {  # sanitize TOOL N_ITER: compute-sanitizer TOOL on N_ITER training steps of batch 8
  local extra=()
  [ "$1" = memcheck ] && extra=(--leak-check full)
  [ -x "$GC_BIN/mmgan" ] || { say "no mmgan in $GC_BIN"; return 1; }
  command -v compute-sanitizer >/dev/null || { say "no compute-sanitizer on this machine"; return 1; }
  train_args short "$GC_DATA" "$2"
  mmt 9999 compute-sanitizer --tool "$1" "${extra[@]}" --error-exitcode 9 --print-limit 50 \
    "$GC_BIN/mmgan" train --device cuda "${targs[@]}" --output_folder "$GC_WORK/runs" \
    --run_name "$1"
}
do_memcheck() { sanitize memcheck 3; }
do_racecheck() { sanitize racecheck 2; }
do_synccheck() { sanitize synccheck 2; }
report_sanitizer() {  # the sanitizer's summary lines, and its first findings
  grep -E '(ERROR|LEAK|RACECHECK) SUMMARY' "$GC_WORK/$1.log"
  grep -E '^========= +[^ =]' "$GC_WORK/$1.log" | grep -vE 'COMPUTE-SANITIZER|SUMMARY' | head -n 12
  return 0
}
report_memcheck() {
  report_sanitizer memcheck
  if grep -q COMPUTE-SANITIZER "$GC_WORK/memcheck.log" && ! grep -q 'LEAK SUMMARY' "$GC_WORK/memcheck.log"; then
    echo "  note: no LEAK SUMMARY line: the leak check may not have run (the context not destroyed at exit?)"
  fi
}
report_racecheck() { report_sanitizer racecheck; }
report_synccheck() { report_sanitizer synccheck; }

do_kernels() {
  [ -x "$GC_BIN/bench_kernels" ] || { say "no bench_kernels in $GC_BIN"; return 1; }
  mmt 9999 "$GC_BIN/bench_kernels" --benchmark_min_time=0.05 --benchmark_out="$GC_WORK/bench_kernels.json" \
    --benchmark_out_format=json
}
report_kernels() { python3 "$report" kernels "$GC_WORK/bench_kernels.json"; }

if [ "${1:-}" = --step ]; then
  "do_$2"
  exit $?
fi

# --- The stage ---------------------------------------------------------------------------------------
usage() {
  sed -n '2,/^set -uo/p' "$self" | sed '$d; s/^# \{0,1\}//'
  exit 2
}
stage=${1:-}
case $stage in
  1) all_steps="env tests train bench" budget=${GPU_CHECK_BUDGET_S:-360} ;;
  2) all_steps="env memcheck racecheck synccheck kernels" budget=${GPU_CHECK_BUDGET_S:-300} ;;
  *) usage ;;
esac
start=$(now)
deadline=$((start + budget))
steps=${GPU_CHECK_STEPS:-$all_steps}
for s in $steps; do
  if [[ " $all_steps " != *" $s "* ]]; then
    echo "gpu_check: stage $stage has no step '$s' (its steps: $all_steps)" >&2
    exit 2
  fi
done
declare -A cap=([env]=45 [tests]=170 [train]=150 [bench]=200 [memcheck]=180 [racecheck]=90 [synccheck]=60 [kernels]=90)
for s in $all_steps; do
  v="GPU_CHECK_CAP_${s^^}"
  [ -n "${!v:-}" ] && cap[$s]=${!v}
done

out=${OUT:-$here/results/gpu/stage$stage}
mkdir -p "$out"
out=$(cd "$out" && pwd)
summary="$out/summary.txt"
export GC_WORK=${GPU_CHECK_WORK:-/tmp/mmgan-gpu-check/stage$stage}
rm -rf "$GC_WORK"
mkdir -p "$GC_WORK"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
pack() {  # the whole work folder, less checkpoints, into $out: rewritten after every step
  tar -czf "$out/.logs.tmp" -C "$GC_WORK" --exclude='*.safetensors' . 2>/dev/null &&
    mv -f "$out/.logs.tmp" "$out/logs-stage$stage.tar.gz"
}

commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo "?")
note "mmgan gpu_check stage $stage: $steps; budget $budget s; $(date -u +%FT%TZ); tree $commit; $(uname -n)"

# The bundle: binaries and libraries in bin.tar.xz (unpacked once to /tmp), data/, ref/, manifest.txt.
export GC_BUNDLE GC_BIN GC_LD GC_DATA GC_REF GC_TEST_BIN GC_PY GC_LIBNOTE=""
GC_BUNDLE=${GPU_CHECK_BUNDLE:-$here/.gpu-bundle}
[ -d "$GC_BUNDLE" ] && GC_BUNDLE=$(cd "$GC_BUNDLE" && pwd)
root=$GC_BUNDLE
if [ -f "$GC_BUNDLE/bin.tar.xz" ]; then
  root=/tmp/mmgan-gpu-bundle/$(sha256sum "$GC_BUNDLE/bin.tar.xz" | cut -c1-12)
  if ! [ -f "$root/.unpacked" ]; then
    t0=$(now)
    mkdir -p "$root"
    if command -v xz >/dev/null; then
      timeout 120 tar -xJf "$GC_BUNDLE/bin.tar.xz" -C "$root"
    else
      timeout 120 python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' \
        "$GC_BUNDLE/bin.tar.xz" "$root"
    fi && touch "$root/.unpacked"
    note "bundle: unpacked $GC_BUNDLE/bin.tar.xz into $root in $(($(now) - t0)) s"
  fi
fi
GC_BIN=$root/bin
GC_DATA=$GC_BUNDLE/data/fashion-mnist
GC_REF=$GC_BUNDLE/ref
GC_TEST_BIN=${GPU_CHECK_TEST_BIN:-$GC_BIN}
[ -d "$GC_TEST_BIN" ] && GC_TEST_BIN=$(cd "$GC_TEST_BIN" && pwd)
GC_PY=${GPU_CHECK_PYTHON:-python3}

# Library path: the bundle's lib/ first, then the folders of whatever CUDA library the carried
# binaries do not find by themselves (the toolkit's folders, the nvidia-* pip wheels: cuDNN is one
# there). Only the carried binaries get it; python3 keeps its own.
GC_LD="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -x "$GC_BIN/mmgan" ] && command -v ldd >/dev/null; then
  search=(/usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib)
  while read -r sp; do [ -d "$sp/nvidia" ] && search+=("$sp/nvidia"); done < <(
    timeout 30 "$GC_PY" -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' \
      2>/dev/null)
  for lib in $(for b in "$GC_BIN"/*; do LD_LIBRARY_PATH="$GC_LD" ldd "$b" 2>/dev/null; done |
    awk '/not found/ {print $1}' | sort -u); do
    d=""
    for s in "${search[@]}"; do
      [ -d "$s" ] || continue
      f=$(find "$s" -maxdepth 4 -name "$lib" -print -quit 2>/dev/null)
      [ -n "$f" ] && d=$(dirname "$f") && break
    done
    if [ -n "$d" ]; then
      [[ ":$GC_LD:" == *":$d:"* ]] || GC_LD="$GC_LD:$d"
      GC_LIBNOTE+="$lib in $d; "
    else
      GC_LIBNOTE+="$lib NOWHERE; "
    fi
  done
fi

# The paths compiled into the test executables (MMGAN_BINARY, the CIFAR-10 sample of test_cli) made
# to exist where they do not: links into the bundle (paths.tsv: compiled-in path, bundle path).
if [ -f "$GC_BUNDLE/paths.tsv" ] && [ -z "${GPU_CHECK_TEST_BIN:-}" ]; then
  while IFS=$'\t' read -r want have; do
    if [ -z "$want" ] || [ -e "$want" ] || [ -L "$want" ]; then continue; fi
    case $have in /*) ;; bin/*) have="$root/$have" ;; *) have="$GC_BUNDLE/$have" ;; esac
    mkdir -p "$(dirname "$want")" && ln -s "$have" "$want" && note "linked $want -> $have"
  done <"$GC_BUNDLE/paths.tsv"
fi

declare -A result
order=()
record() {  # record STEP VERDICT SECONDS
  result[$1]="$2"
  order+=("$1")
  note "-- $1: $2 in $3 s"
  pack
}
no_gpu=0
for s in $steps; do
  if ((no_gpu)); then
    record "$s" "FAIL (not run: no GPU)" 0
    continue
  fi
  t=$(budget_timeout "${cap[$s]}" "$(stage_left)" $(($(reserve_s) + 3)))  # less is no use: see sub_timeout
  if ((t == 0)); then
    record "$s" "FAIL (not run: the stage's budget is spent)" 0
    continue
  fi
  note ""
  note "== $s: at most $t s (cap ${cap[$s]} s, $(stage_left) s left)"
  t0=$(now)
  export GC_STEP_DEADLINE=$((t0 + t))
  timeout -k "$kill_after" "$t" bash "$self" --step "$s" >"$GC_WORK/$s.log" 2>&1
  rc=$?
  took=$(($(now) - t0))
  tail -n 40 "$GC_WORK/$s.log" | sed 's/^/   | /'
  verdict=PASS
  if ((rc == 124 || rc == 137)); then
    verdict="FAIL (timed out after $t s)"
  elif ((rc != 0)); then
    verdict="FAIL (exit status $rc)"
  fi
  if declare -F "report_$s" >/dev/null; then
    "report_$s" >"$GC_WORK/$s.report" 2>&1
    rrc=$?
    tee -a "$summary" <"$GC_WORK/$s.report"
    if ((rrc != 0)) && [ "$verdict" = PASS ]; then verdict="FAIL (report)"; fi
  elif [ "$s" = env ]; then
    grep -vE '^  ' "$GC_WORK/env.log" | head -n 30 >>"$summary"
  fi
  [ "$s" = env ] && [ -f "$GC_WORK/no-gpu" ] && no_gpu=1
  record "$s" "$verdict" "$took"
done

note ""
note "== result of stage $stage ($(($(now) - start)) s of $budget)"
failed=0
for s in "${order[@]}"; do
  v=${result[$s]}
  [ "$v" = PASS ] || failed=$((failed + 1))
  note "$(printf '%-10s %s' "$s" "$v")"
done
if ((failed == 0)); then
  note "OVERALL PASS (stage $stage: ${#order[@]} steps)"
else
  note "OVERALL FAIL (stage $stage: $failed of ${#order[@]} steps failed)"
fi
pack
((failed == 0))
