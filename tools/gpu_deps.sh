#!/usr/bin/env bash
# Downloads, here, the Debian packages that tools/gpu_check.sh needs on a lent GPU machine (whose
# image has CUDA, cuDNN, CMake and a compiler but none of mmgan's other dependencies, and no
# network), into .gpu-deps/ (git-ignored; name it in the device run's `carry`). Also copies the
# Fashion-MNIST training images there for the short training run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-deps
pkgs=(libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian
      libopenblas-openmp-dev libopenblas0-openmp libopenblas-dev libgfortran5
      nlohmann-json3-dev libcli11-dev libstb-dev libstb0 zlib1g-dev
      pkgconf pkgconf-bin libpkgconf3)
(cd .gpu-deps && apt-get download "${pkgs[@]}" >/dev/null)
fm=/usr/share/datasets/fashion-mnist
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz; do
  [ -f "$fm/$f" ] && cp "$fm/$f" .gpu-deps/
done
du -sh .gpu-deps
