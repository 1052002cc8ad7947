// The geometry of one 2-d convolution, shared by every backend's conv kernels.
// conv2d maps x [N, C, H, W] with weight [O, C, KH, KW] to y [N, O, OH, OW]:
//   y[n, o, i, j] = sum_{c, a, b} w[o, c, a, b] * x[n, c, i*sh - ph + a, j*sw - pw + b]   (zero outside x)
// Its two adjoints complete the family: the input gradient (= conv_transpose2d, y-shaped -> x-shaped)
// and the weight gradient (x and y-shaped -> w-shaped). OH, OW are stored, not derived, because a
// transposed convolution may ask for an x-shape that conv2d's size formula would round differently.
#pragma once
#include <cstdint>
#include <type_traits>

#include "kernels/activation.h"

namespace mmgan::kernels {

struct ConvGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input of conv2d
  int64_t o = 0, kh = 0, kw = 0;       // output channels and kernel
  int64_t oh = 0, ow = 0;              // output of conv2d
  int64_t sh = 1, sw = 1, ph = 0, pw = 0;
  int64_t col_rows() const { return c * kh * kw; }
  int64_t out_pixels() const { return oh * ow; }
};

// What a forward convolution may apply to its output as it stores it (the fused epilogue):
// y = act(y + bias[o]), bias [O] in the conv's dtype or null. As the separate add and activation
// ops compute it, so fusing changes no bit.
struct ConvEpilogue {
  const void* bias = nullptr;
  Act act = Act::None;
  double slope = 0;
  bool empty() const { return bias == nullptr && act == Act::None; }
};

// Calls f(Act constant, bool constant: whether there is a bias), so an epilogue loop is compiled
// for exactly what it applies.
template <class F>
void with_epilogue(const ConvEpilogue& ep, F f) {
  with_act(ep.act, [&](auto a) {
    if (ep.bias)
      f(a, std::true_type{});
    else
      f(a, std::false_type{});
  });
}

}  // namespace mmgan::kernels
