// Maps a Device to its backend. The CUDA backend registers itself when it is built (MMGAN_HAS_CUDA).
#include "backend.h"
#include "error.h"

#ifdef MMGAN_HAS_CUDA
#include "../kernels/cuda/device.h"
#endif

namespace mmgan {

Backend& cpu_backend();

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    try {
      return cuda(std::stoi(s.substr(5)));
    } catch (const std::exception&) {
    }
  }
  MMGAN_FAIL("unknown device '", s, "' (expected cpu, cuda or cuda:N)");
}

bool cuda_available() {
#ifdef MMGAN_HAS_CUDA
  return kernels::cuda::device_count() > 0;
#else
  return false;
#endif
}

Backend& backend_for(Device d) {
  if (d.type == DeviceType::CPU) return cpu_backend();
#ifdef MMGAN_HAS_CUDA
  MMGAN_FAIL("device ", d.str(), ": the CUDA backend's ops are not implemented yet in this build");
#else
  MMGAN_FAIL("device ", d.str(), ": mmgan was built without CUDA (-DMMGAN_CUDA=OFF or no nvcc found)");
#endif
}

}  // namespace mmgan
