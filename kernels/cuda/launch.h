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

// Calls f with a zero of the index type for a grid-stride loop over n elements: uint32_t when n
// fits in 31 bits (so i + stride cannot wrap), else int64_t. 64-bit division costs tens of
// instructions on the GPU, and kernels that split a linear index into coordinates divide often.
template <class F>
void with_index_type(int64_t n, F f) {
  if (n < (int64_t(1) << 31))
    f(uint32_t(0));
  else
    f(int64_t(0));
}

}  // namespace mmgan::kernels::cuda
