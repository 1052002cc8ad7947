// Launch geometry shared by the 1-D grid-stride kernels: 256 threads per block and at most 2^15
// blocks, enough to fill any current GPU; the grid-stride loop inside each kernel covers the rest.
#pragma once

#include <cstdint>

namespace mmgan::kernels::cuda {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = int64_t(1) << 15;

inline int blocks_for(int64_t work) {
  int64_t b = (work + kThreads - 1) / kThreads;
  if (b > kMaxBlocks) b = kMaxBlocks;
  return int(b < 1 ? 1 : b);
}

}  // namespace mmgan::kernels::cuda
