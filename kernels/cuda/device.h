// CUDA device discovery. Compiled only when the CUDA backend is built; tests use
// cuda_device_count() to skip cleanly on machines without a GPU.
#pragma once
#include <cstdint>

namespace mmgan::kernels::cuda {

// Number of usable CUDA devices; 0 when there is no driver or no device (never throws).
int device_count();
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" for device `index`.
const char* device_description(int index);
// Bytes of global memory on device `index`.
int64_t device_total_memory(int index);

}  // namespace mmgan::kernels::cuda
