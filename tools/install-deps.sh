#!/usr/bin/env bash
# Installs every build, test and data dependency of mmgan from Debian packages.
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build ccache pkg-config
  clang libfuzzer-14-dev libclang-rt-14-dev libomp-14-dev  # the fuzz build (tools/fuzz.sh)
  clang-format                                 # tools/format.sh (CI checks the formatting)
  libgtest-dev libgmock-dev libbenchmark-dev   # tests and microbenchmarks
  libopenblas-dev libopenblas-openmp-dev        # CPU GEMM (the OpenMP build shares the engine's threads)
  nlohmann-json3-dev libcli11-dev libstb-dev   # safetensors headers, CLI, images
  zlib1g-dev                                   # gzipped Fashion-MNIST idx files
  python3 python3-numpy python3-torch          # PyTorch as an independent oracle in parity tests
  python3-torchvision python3-scipy            # FID oracles: Inception blocks, scipy.linalg.sqrtm
  python3-matplotlib                           # run curves and margin-lab figures
  python3-pil                                  # fuzz/make_corpus.py: the image seeds
  slurm-wlm munge                              # mmgan-sweep's Slurm executor and its one-node test cluster
  dataset-fashion-mnist                        # the default training data
  libopenmpi-dev openmpi-bin                   # data-parallel training (mpirun; docs/data-parallel.md)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
