// The iteration space of an elementwise kernel over up to four strided operands (CPU and CUDA):
// size-1 dimensions dropped and adjacent dimensions merged wherever they are contiguous with each
// other in every operand, so the innermost loop is as long as possible and index arithmetic is
// done over as few dimensions as possible. Host code; the CUDA kernels receive the result by value.
#pragma once
#include <cstdint>

#include "kernels/tensor_view.h"

namespace mmgan::kernels {

// Merges adjacent dimensions that are contiguous with each other in every operand so that the
// inner loop is as long as possible.
struct Iter {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[4][kMaxDims];
  int nops = 0;
};

inline Iter make_iter(const View* const* ops, int nops) {
  Iter it;
  it.nops = nops;
  const View& ref = *ops[0];
  // Drop size-1 dims, then merge.
  for (int d = 0; d < ref.ndim; ++d) {
    if (ref.sizes[d] == 1) continue;
    const int k = it.ndim;
    if (k > 0) {
      bool mergeable = true;
      for (int o = 0; o < nops; ++o)
        if (it.strides[o][k - 1] != ops[o]->strides[d] * ref.sizes[d]) mergeable = false;
      if (mergeable) {
        it.sizes[k - 1] *= ref.sizes[d];
        for (int o = 0; o < nops; ++o) it.strides[o][k - 1] = ops[o]->strides[d];
        continue;
      }
    }
    it.sizes[k] = ref.sizes[d];
    for (int o = 0; o < nops; ++o) it.strides[o][k] = ops[o]->strides[d];
    ++it.ndim;
  }
  if (it.ndim == 0) {
    it.ndim = 1;
    it.sizes[0] = 1;
    for (int o = 0; o < nops; ++o) it.strides[o][0] = 1;
  }
  return it;
}

}  // namespace mmgan::kernels
