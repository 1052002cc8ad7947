// The 2-d toy sets. Each point takes one Philox block (four 32-bit lanes) at counter i, under a key
// that separates these draws from the Generator's, so a toy set and a network initialised from
// the same seed do not share random numbers.
#include "data/toy.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"
#include "kernels/philox.h"

namespace mmgan::data {

namespace {

constexpr uint64_t kToyKey = 0x70F1'5E75'0000'0000ull;  // mixed into the seed: the toy-set stream

double unit(uint32_t lane) { return (double(lane) + 0.5) / 4294967296.0; }  // in (0, 1): safe for log

}  // namespace

Dataset make_toy(const std::string& name, int64_t n, uint64_t seed) {
  MMGAN_CHECK(name == "segment" || name == "ring8", "make_toy: unknown toy set '", name, "' (known: segment, ring8)");
  MMGAN_CHECK(n > 0, "make_toy: '", name, "' needs n > 0 points, got ", n);
  Dataset ds;
  ds.name = "toy-" + name;
  ds.source = "make_toy(" + name + ", seed " + std::to_string(seed) + ")";
  ds.sample_shape = {2};
  ds.count = n;
  ds.values.resize(size_t(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    const kernels::Philox4 r = kernels::philox4x32_10(uint64_t(i), 0, seed ^ kToyKey);
    double x, y;
    if (name == "segment") {
      x = 0.9;
      y = 0.9 * (2.0 * (double(r.v[0]) / 4294967296.0) - 1.0);
    } else {
      const int k = int(r.v[0] >> 29);  // top 3 bits: the mixture component, uniform on 0..7
      const double angle = k * std::numbers::pi / 4;
      // Box-Muller on lanes 1 and 2.
      const double rad = std::sqrt(-2.0 * std::log(unit(r.v[1]))), phi = 2.0 * std::numbers::pi * unit(r.v[2]);
      x = std::clamp(0.8 * std::cos(angle) + 0.05 * rad * std::cos(phi), -1.0, 1.0);
      y = std::clamp(0.8 * std::sin(angle) + 0.05 * rad * std::sin(phi), -1.0, 1.0);
    }
    ds.values[size_t(2 * i)] = float(x);
    ds.values[size_t(2 * i + 1)] = float(y);
  }
  return ds;
}

}  // namespace mmgan::data
