#!/usr/bin/env bash
# tools/gpu_bundle.sh: everything tools/gpu_check.sh needs on a lent GPU machine, made here before
# the lease, into .gpu-bundle/ (git-ignored; name it in the device run's `carry`):
#   bin.tar.xz   bin/: mmgan, bench_train, bench_kernels and every test executable with a '*Cuda*'
#                test (tools/gpu_report.py cuda-tests), built for sm_90 (Release, Ninja, MPI off) in
#                build-gpu/; lib/: the shared libraries they need that are not the C library, the
#                GCC runtime or CUDA's (OpenBLAS with its gfortran and quadmath, libgomp, zlib, stb,
#                Google Benchmark); one xz archive that gpu_check.sh unpacks to /tmp
#   data/        fashion-mnist/: the first 2048 training images of Debian's dataset-fashion-mnist as
#                gzipped idx files (the layout of data/fashion_mnist.cpp); cifar10-sample/: the CIFAR-10
#                sample test_cli reads
#   paths.tsv    paths compiled into the test executables (MMGAN_BINARY, the CIFAR-10 sample), with
#                their copies in the bundle: gpu_check.sh links them where the device lacks them
#   ref/         the CPU reference: the train step's two runs (gpu_check.sh's train_args) made with
#                the bundle's own mmgan on --device cpu (exact/ and stats/ metrics.jsonl); reused
#                from the previous bundle when the binary, the arguments and the data are the same
#   manifest.txt commit, date, sources hash (gpu_check.sh's env step refuses a stale bundle), nvcc,
#                sizes and sha256 of every binary and library, the glibc and libstdc++ versions needed
#
# Carried, not built on the device: the device machine has CUDA 13, cuDNN (a pip wheel) and PyTorch
# but none of mmgan's Debian dependencies (GoogleTest, Google Benchmark, OpenBLAS, nlohmann-json,
# CLI11, stb, zlib headers), no network to fetch them, and starts bare on every call: building there
# means carrying and unpacking the .deb files first and then compiling the CUDA code, device time
# spent again on every fresh machine of the 15-minute lease. Measured here (2026-12-02, 2 cores
# shared with a training grid and another build, nice -n 19 -j1): these targets took 372 s to build
# with the ccache warm for part of the C++ only, 196 s of it compiling the 15 CUDA files; a rebuild
# after edits to engine headers, 318 s. The bundle is 11 MiB: bin.tar.xz is 9.7 MiB for 106 MiB of
# files (11 executables of 4.4 to 7.2 MiB that share most of their code, and 40 MiB of libraries,
# OpenBLAS 36 MiB of it), which tar -xJ unpacks in 1 s here. The CPU reference took 1554 s under that
# load (300 float32 and 20 float64 iterations on one core); it is reused while mmgan is unchanged.
# Not carried: libc, libm, libstdc++ and libgcc_s (the binaries need glibc 2.35 and GLIBCXX_3.4.30,
# GCC 12: Ubuntu 22.04 and later have them) and the CUDA libraries (libcudart.so.13,
# libcublas(Lt).so.13, libcudnn.so.9: the device has CUDA 13 and cuDNN 9; cuBLAS and cuDNN
# would exceed the 64 MiB a call carries); gpu_check.sh finds them there, in the toolkit's
# folders or the nvidia-* wheels, and its env step fails naming any it cannot find.
#
# Environment: GPU_BUNDLE_JOBS (build jobs, default: every core), GPU_BUNDLE_BUILD (default build-gpu),
# GPU_BUNDLE_REF=0 (no CPU reference: the train step then fails), GPU_BUNDLE_IMAGES (default 2048).
set -euo pipefail
cd "$(dirname "$0")/.."
here=$PWD
build=${GPU_BUNDLE_BUILD:-build-gpu}
dest=.gpu-bundle
jobs=${GPU_BUNDLE_JOBS:-$(nproc)}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/mmgan-ccache} CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$here")}
GPU_CHECK_LIB=1 source tools/gpu_check.sh  # train_args, sources_hash
t_start=$(date +%s)

python3 tools/gpu_report.py check-names tests
mapfile -t tests < <(python3 tools/gpu_report.py cuda-tests tests)
echo "test executables with CUDA tests: ${tests[*]}"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMMGAN_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DMMGAN_MPI=OFF -DMMGAN_TESTS=ON -DMMGAN_BENCHMARKS=ON >/dev/null
targets=(mmgan bench_train bench_kernels "${tests[@]}")
known=$(cmake --build "$build" --target help | sed -n 's/: .*//p')
for t in "${targets[@]}"; do
  if ! grep -qx "$t" <<<"$known"; then
    echo "gpu_bundle: no target $t in $build (tests/CMakeLists.txt must register it)" >&2
    exit 1
  fi
done
t0=$(date +%s)
nice -n 19 cmake --build "$build" -j "$jobs" --target "${targets[@]}"
build_s=$(($(date +%s) - t0))
echo "build: ${build_s} s"

stage=$(mktemp -d /tmp/mmgan-gpu-bundle-stage.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/data/fashion-mnist" "$stage/ref"
for t in mmgan bench_train bench_kernels; do cp "$build/tools/$t" "$stage/bin/"; done
for t in "${tests[@]}"; do cp "$build/tests/$t" "$stage/bin/"; done

# Libraries: what ldd resolves, less the C library, the GCC runtime, the dynamic loader and CUDA's.
system='^(linux-vdso|ld-linux|libc|libm|libpthread|libdl|librt|libgcc_s|libstdc\+\+'
system+='|libcuda|libcudart|libcublas|libcublasLt|libcudnn[a-z_]*|libnvrtc|libnvJitLink)\.so'
for b in "$stage"/bin/*; do ldd "$b"; done | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
  while read -r name path; do
    [[ $name =~ $system ]] && continue
    cp -L "$path" "$stage/lib/$name"
  done
if for b in "$stage"/bin/*; do ldd "$b"; done | grep -q 'not found'; then
  echo "gpu_bundle: a binary misses a library here" >&2
  exit 1
fi

# Fashion-MNIST: the first N training images and labels, gzipped idx files.
python3 - "${GPU_BUNDLE_IMAGES:-2048}" "$stage/data/fashion-mnist" <<'PY'
import gzip, struct, sys
n, out = int(sys.argv[1]), sys.argv[2]
src = "/usr/share/datasets/fashion-mnist"
img = gzip.open(f"{src}/train-images-idx3-ubyte.gz").read()
lab = gzip.open(f"{src}/train-labels-idx1-ubyte.gz").read()
magic, count, h, w = struct.unpack(">IIII", img[:16])
assert magic == 2051 and count >= n and struct.unpack(">II", lab[:8])[0] == 2049
def write(path, data):
    with open(path, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0) as g:
        g.write(data)
write(f"{out}/train-images-idx3-ubyte.gz", struct.pack(">IIII", 2051, n, h, w) + img[16:16 + n * h * w])
write(f"{out}/train-labels-idx1-ubyte.gz", struct.pack(">II", 2049, n) + lab[8:8 + n])
PY

# Paths compiled into the test executables.
: >"$stage/paths.tsv"
printf '%s\t%s\n' "$here/$build/tools/mmgan" bin/mmgan >>"$stage/paths.tsv"
cifar=$(realpath -m "$here/../shared/data/cifar10-sample/data_batch_1_first474.bin")
[ -f "$cifar" ] || cifar=/work/shared/data/cifar10-sample/data_batch_1_first474.bin
if [ -f "$cifar" ]; then
  mkdir -p "$stage/data/cifar10-sample"
  cp "$cifar" "$stage/data/cifar10-sample/"
  printf '%s\t%s\n' "$cifar" data/cifar10-sample/data_batch_1_first474.bin >>"$stage/paths.tsv"
else
  echo "gpu_bundle: warning: no CIFAR-10 sample: test_cli's CUDA test will skip, and the tests step fail" >&2
fi

# The CPU reference, reused when nothing it depends on changed.
key=$( (sha256sum "$stage/bin/mmgan" "$stage"/data/fashion-mnist/* | cut -c1-64
  for m in exact stats; do train_args "$m" DATA; echo "${targs[*]}"; done) | sha256sum | cut -c1-16)
ref_s=0
if [ -f "$dest/ref/key" ] && [ "$(cat "$dest/ref/key")" = "$key" ]; then
  cp -r "$dest/ref/." "$stage/ref/"
  echo "CPU reference: reused (key $key)"
elif [ "${GPU_BUNDLE_REF:-1}" != 0 ]; then
  t0=$(date +%s)
  for m in exact stats; do
    train_args "$m" "$stage/data/fashion-mnist"
    echo "CPU reference $m: mmgan train --device cpu ${targs[*]}"
    OMP_NUM_THREADS=${GPU_BUNDLE_JOBS:-1} nice -n 19 "$stage/bin/mmgan" train --device cpu "${targs[@]}" \
      --output_folder "$stage/ref/runs" --run_name "$m" >"$stage/ref/$m.log" 2>&1 ||
      { tail -n 20 "$stage/ref/$m.log" >&2; exit 1; }
    mkdir -p "$stage/ref/$m"
    cp "$stage/ref/runs/$m-0/metrics.jsonl" "$stage/ref/runs/$m-0/config.json" "$stage/ref/$m/"
  done
  rm -rf "$stage/ref/runs"
  echo "$key" >"$stage/ref/key"
  ref_s=$(($(date +%s) - t0))
  echo "CPU reference: ${ref_s} s"
fi

# Manifest, then the archive.
{
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null ||
    echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%FT%TZ) on $(uname -n), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "sources_hash: $(sources_hash)"
  cudnn_h="$(dirname "$(command -v nvcc)")/../include/cudnn_version.h"
  echo "nvcc: $(nvcc --version | tail -n 1); CUDA architectures 90; cuDNN $(awk \
    '/define CUDNN_(MAJOR|MINOR|PATCHLEVEL) /{printf "%s%s", sep, $3; sep="."}' "$cudnn_h" 2>/dev/null)"
  echo "needs: $(for f in "$stage"/bin/* "$stage"/lib/*; do objdump -T "$f"; done 2>/dev/null |
    grep -oE 'GLIBC_[0-9.]+|GLIBCXX_[0-9.]+' | sort -Vu | awk -F_ '{v[$1]=$0} END {print v["GLIBC"], v["GLIBCXX"]}')"
  echo "build: ${build_s} s here for ${targets[*]}; CPU reference ${ref_s} s (0: reused or skipped)"
  echo "tests: ${tests[*]}"
  (cd "$stage" && for f in bin/* lib/*; do echo "$(sha256sum "$f" | cut -c1-16) $(du -k "$f" | cut -f1) KiB $f"; done)
} >"$stage/manifest.txt"
(cd "$stage" && tar -cf - bin lib | nice -n 19 xz -6 -T1 >bin.tar.xz && rm -rf bin lib)
rm -rf "$dest"
mkdir -p "$dest"
cp -r "$stage/." "$dest/"
size=$(du -sk "$dest" | cut -f1)
echo "bundle: $((size / 1024)) MiB in $dest (bin.tar.xz $(($(stat -c %s "$dest/bin.tar.xz") / 1048576)) MiB);" \
  "build ${build_s} s, reference ${ref_s} s, $(($(date +%s) - t_start)) s in all"
echo "size: $((size / 1024)) MiB" >>"$dest/manifest.txt"
if ((size > 55 * 1024)); then
  echo "gpu_bundle: $dest is over 55 MiB: with the working tree it may not fit the 64 MiB a device call carries" >&2
  exit 1
fi
