// Dataset::gather: copies the chosen samples into one float32 batch, mapping bytes through a
// 256-entry table (the same float32 arithmetic as torchvision, computed once).
#include "data/dataset.h"

#include <array>
#include <cstring>

#include "engine/error.h"

namespace mmgan::data {

namespace {
const std::array<float, 256>& byte_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int b = 0; b < 256; ++b) t[size_t(b)] = byte_to_float(uint8_t(b));
    return t;
  }();
  return table;
}
}  // namespace

Tensor Dataset::gather(const std::vector<int64_t>& idx) const {
  const int64_t m = sample_numel();
  const bool images = !bytes.empty();
  const size_t stored = images ? bytes.size() : values.size();
  // A data set whose storage disagrees with its count would read out of bounds: refuse it.
  MMGAN_CHECK(count >= 0 && m > 0 && stored == size_t(count * m), "data set '", name, "' (", source,
              "): storage holds ", stored, " values, expected count ", count, " x sample ", shape_str(sample_shape));
  Shape shape{int64_t(idx.size())};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  Tensor out = empty(shape, DType::F32);
  float* dst = out.data<float>();
  const auto& table = byte_table();
  for (size_t r = 0; r < idx.size(); ++r) {
    const int64_t i = idx[r];
    MMGAN_CHECK(i >= 0 && i < count, "data set '", name, "': sample index ", i, " out of range [0, ", count, ")");
    float* row = dst + int64_t(r) * m;
    if (images) {
      const uint8_t* src = bytes.data() + i * m;
      for (int64_t j = 0; j < m; ++j) row[j] = table[src[j]];
    } else {
      std::memcpy(row, values.data() + i * m, size_t(m) * sizeof(float));
    }
  }
  return out;
}

}  // namespace mmgan::data
