// Pillow's BILINEAR resampling (libImaging/Resample.c), reproduced exactly so that loaded images are
// byte for byte what PIL + torchvision would feed the reference implementation.
//
// Pillow convolves each axis with a triangle filter. For upscaling the filter has support 1 and
// this is plain bilinear interpolation with the half-pixel-centre convention (src = (dst + 0.5) *
// in / out - 0.5, clamped at the borders). For downscaling by a factor s > 1 the triangle is
// widened to support s, so every source pixel contributes (antialiasing); a naive 4-tap bilinear
// would alias instead. Two passes, horizontal then vertical, each rounding to uint8 with
// coefficients in 22-bit fixed point; an axis whose size does not change is not filtered at all.
#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.h"

namespace mmgan::data {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

// Per output position: the first source index, the number of taps, and fixed-point weights.
struct Taps {
  int64_t ksize = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;  // [out, ksize]
};

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// precompute_coeffs + normalize_coeffs_8bpc of Resample.c, same arithmetic and same rounding.
Taps make_taps(int64_t in, int64_t out) {
  const double scale = double(in) / double(out);
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  Taps t;
  t.ksize = int64_t(std::ceil(support)) * 2 + 1;
  t.first.resize(size_t(out));
  t.count.resize(size_t(out));
  t.weights.assign(size_t(out * t.ksize), 0);
  std::vector<double> k(size_t(t.ksize));
  for (int64_t xx = 0; xx < out; ++xx) {
    const double center = (double(xx) + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int64_t xmin = std::max<int64_t>(int64_t(int(center - support + 0.5)), 0);  // C truncation, as Pillow
    const int64_t xmax = std::min<int64_t>(int64_t(int(center + support + 0.5)), in) - xmin;
    double ww = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      k[size_t(x)] = triangle((double(x + xmin) - center + 0.5) * ss);
      ww += k[size_t(x)];
    }
    for (int64_t x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[size_t(x)] / ww : k[size_t(x)];
      // Triangle weights are never negative, so Pillow's rounding reduces to +0.5 and truncation.
      t.weights[size_t(xx * t.ksize + x)] = int32_t(0.5 + w * double(1 << kPrecisionBits));
    }
    t.first[size_t(xx)] = xmin;
    t.count[size_t(xx)] = xmax;
  }
  return t;
}

uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return uint8_t(std::clamp(v, 0, 255));
}

// One pass over `lines` lines of `in` elements spaced `step` apart (1 for rows, width for columns).
void pass(const uint8_t* src, uint8_t* dst, int64_t lines, int64_t line_stride_in, int64_t line_stride_out,
          int64_t step, const Taps& t, int64_t out) {
  for (int64_t l = 0; l < lines; ++l) {
    const uint8_t* s = src + l * line_stride_in;
    uint8_t* d = dst + l * line_stride_out;
    for (int64_t o = 0; o < out; ++o) {
      const int32_t* k = t.weights.data() + o * t.ksize;
      const uint8_t* p = s + t.first[size_t(o)] * step;
      int32_t acc = 1 << (kPrecisionBits - 1);
      for (int64_t x = 0; x < t.count[size_t(o)]; ++x) acc += int32_t(p[x * step]) * k[x];
      d[o * step] = clip8(acc);
    }
  }
}

}  // namespace

void resize_bilinear(const uint8_t* src, int64_t c, int64_t h, int64_t w, uint8_t* dst, int64_t out_h, int64_t out_w) {
  MMGAN_CHECK(c > 0 && h > 0 && w > 0 && out_h > 0 && out_w > 0, "resize_bilinear: bad sizes [", c, ", ", h, ", ", w,
              "] -> [", c, ", ", out_h, ", ", out_w, "]");
  if (h == out_h && w == out_w) {  // Pillow filters neither axis: an exact copy
    std::memcpy(dst, src, size_t(c * h * w));
    return;
  }
  // Horizontal pass into [c, h, out_w] (skipped when the width is unchanged), then vertical.
  std::vector<uint8_t> tmp;
  const uint8_t* mid = src;
  if (w != out_w) {
    const Taps tx = make_taps(w, out_w);
    if (h == out_h) {
      pass(src, dst, c * h, w, out_w, 1, tx, out_w);
      return;
    }
    tmp.resize(size_t(c * h * out_w));
    pass(src, tmp.data(), c * h, w, out_w, 1, tx, out_w);
    mid = tmp.data();
  }
  // Vertical: for each channel and column, a line of h elements spaced out_w apart.
  const Taps ty = make_taps(h, out_h);
  for (int64_t ch = 0; ch < c; ++ch)
    pass(mid + ch * h * out_w, dst + ch * out_h * out_w, out_w, 1, 1, out_w, ty, out_h);
}

std::vector<uint8_t> resize_bilinear(const std::vector<uint8_t>& src, int64_t c, int64_t h, int64_t w, int64_t out_h,
                                     int64_t out_w) {
  MMGAN_CHECK(int64_t(src.size()) == c * h * w, "resize_bilinear: ", src.size(), " bytes for an image [", c, ", ", h,
              ", ", w, "]");
  std::vector<uint8_t> out(size_t(c * out_h * out_w));
  resize_bilinear(src.data(), c, h, w, out.data(), out_h, out_w);
  return out;
}

}  // namespace mmgan::data
