// Timing work on a stream with CUDA events: the conv dispatch's choice between cuDNN and the
// implicit GEMM (conv.cu) and the kernel microbenchmarks (tools/bench_kernels.cu) measure the same
// way. The events are owned (handle.h), so a timed call that throws leaks nothing.
#pragma once
#include <cuda_runtime_api.h>

#include <algorithm>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/handle.h"

namespace mmgan::kernels::cuda {

// Seconds per call of f(), which queues its work on stream s: after one warm-up call, `rounds`
// rounds of `reps` back-to-back calls, each round between two events; the median round.
template <class F>
double time_calls(cudaStream_t s, F&& f, int reps = 1, int rounds = 5) {
  f();
  Event start, stop;
  MMGAN_CUDA_CHECK(cudaEventCreate(start.out()));
  MMGAN_CUDA_CHECK(cudaEventCreate(stop.out()));
  std::vector<float> ms;
  for (int r = 0; r < rounds; ++r) {
    MMGAN_CUDA_CHECK(cudaEventRecord(start.get(), s));
    for (int i = 0; i < reps; ++i) f();
    MMGAN_CUDA_CHECK(cudaEventRecord(stop.get(), s));
    MMGAN_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float t = 0;
    MMGAN_CUDA_CHECK(cudaEventElapsedTime(&t, start.get(), stop.get()));
    ms.push_back(t);
  }
  std::nth_element(ms.begin(), ms.begin() + rounds / 2, ms.end());
  return double(ms[size_t(rounds / 2)]) * 1e-3 / reps;
}

}  // namespace mmgan::kernels::cuda
