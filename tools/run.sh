#!/usr/bin/env bash
# One entry point for a fresh Debian machine: installs the Debian packages mmgan needs, builds,
# then runs the tests or trains.
#   tools/run.sh test                 build and run the whole test suite (CTest)
#   tools/run.sh train [flags...]     build mmgan and run `mmgan train` with the given flags
#   tools/run.sh build                build everything (tests, benchmarks) without running anything
# Environment: BUILD_DIR (default build), MMGAN_CMAKE_ARGS (extra CMake arguments, e.g. -DMMGAN_CUDA=OFF),
# MMGAN_CTEST_ARGS (extra ctest arguments, e.g. -E REGEX).
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-}"
case "$what" in
  test|train|build) shift ;;
  *) echo "usage: tools/run.sh test | train [mmgan train flags] | build" >&2; exit 2 ;;
esac
tools/install-deps.sh
build="${BUILD_DIR:-build}"
# shellcheck disable=SC2086
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${MMGAN_CMAKE_ARGS:-}
if [ "$what" = train ]; then
  cmake --build "$build" --target mmgan  # only what training needs
else
  cmake --build "$build"
fi
if [ "$what" = build ]; then
  exit 0
elif [ "$what" = test ]; then
  # shellcheck disable=SC2086
  exec ctest --test-dir "$build" --output-on-failure -j "$(nproc)" ${MMGAN_CTEST_ARGS:-}
else
  exec "$build/tools/mmgan" train "$@"
fi
