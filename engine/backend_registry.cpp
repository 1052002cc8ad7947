// Maps a Device to its backend. The CUDA backend registers itself when it is built (MMGAN_HAS_CUDA).
#include "engine/backend.h"
#include "engine/error.h"

#ifdef MMGAN_HAS_CUDA
#include "kernels/cuda/device.h"
#endif

namespace mmgan {

Backend& cpu_backend();
#ifdef MMGAN_HAS_CUDA
Backend& cuda_backend(int index);
CudaMath cuda_backend_math();
void cuda_backend_set_math(CudaMath m);
void cuda_backend_synchronize(int index);
#endif

Device Device::parse(const std::string& s) {
  if (s == "auto") return cuda_available() ? cuda(0) : cpu();
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    try {
      return cuda(std::stoi(s.substr(5)));
    } catch (const std::exception&) {}
  }
  MMGAN_FAIL("unknown device '", s, "' (expected auto, cpu, cuda or cuda:N)");
}

bool cuda_available() {
#ifdef MMGAN_HAS_CUDA
  return kernels::cuda::device_count() > 0;
#else
  return false;
#endif
}

std::string describe_devices() {
  std::string out = "cpu: reference backend (OpenBLAS GEMM, OpenMP)\n";
#ifdef MMGAN_HAS_CUDA
  const int n = kernels::cuda::device_count();
  if (n == 0) out += "cuda: built, no device found\n";
  for (int i = 0; i < n; ++i) out += "cuda:" + std::to_string(i) + ": " + kernels::cuda::device_description(i) + "\n";
#else
  out += "cuda: not built (-DMMGAN_CUDA=OFF or no nvcc)\n";
#endif
  return out;
}

Backend& backend_for(Device d) {
  if (d.type == DeviceType::CPU) return cpu_backend();
#ifdef MMGAN_HAS_CUDA
  return cuda_backend(d.index);
#else
  MMGAN_FAIL("device ", d.str(), ": mmgan was built without CUDA (-DMMGAN_CUDA=OFF or no nvcc found)");
#endif
}

CudaMath cuda_math() {
#ifdef MMGAN_HAS_CUDA
  return cuda_backend_math();
#else
  return {};
#endif
}

void set_cuda_math(CudaMath m) {
#ifdef MMGAN_HAS_CUDA
  cuda_backend_set_math(m);
#else
  (void)m;
#endif
}

void synchronize(Device d) {
  if (d.type == DeviceType::CPU) return;
#ifdef MMGAN_HAS_CUDA
  cuda_backend_synchronize(d.index);
#endif
}

}  // namespace mmgan
