// CUDA device discovery and the error formatter behind MMGAN_CUDA_CHECK.
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/device.h"

namespace mmgan::kernels {

void throw_cuda_error(const char* file, int line, const char* expr, const std::string& what) {
  throw CudaError(std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " + what);
}

namespace cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver" error so later probes start clean
    return 0;
  }
  return n;
}

const char* device_description(int index) {
  static thread_local char buf[320];  // prop.name is up to 256 chars
  cudaDeviceProp prop{};
  MMGAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  return buf;
}

int64_t device_total_memory(int index) {
  cudaDeviceProp prop{};
  MMGAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  return int64_t(prop.totalGlobalMem);
}

}  // namespace cuda
}  // namespace mmgan::kernels
