#include "engine/shape.h"

#include <sstream>

#include "engine/checked_math.h"
#include "engine/error.h"

namespace mmgan {

int64_t shape_numel(const Shape& s) {
  // Shapes come from files (safetensors) and flags: a product that wraps would pass size checks.
  int64_t n = 1;
  for (auto d : s) {
    MMGAN_CHECK(d >= 0, "shape ", shape_str(s), " has a negative size");
    n = checked_mul(n, d, "shape " + shape_str(s));
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    MMGAN_CHECK(da == db || da == 1 || db == 1, "shapes ", shape_str(a), " and ", shape_str(b),
                " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc = checked_mul(acc, s[i], "shape " + shape_str(s));
  }
  return st;
}

int wrap_dim(int64_t dim, int ndim, const char* op) {
  const int64_t w = dim < 0 ? dim + ndim : dim;
  MMGAN_CHECK(w >= 0 && w < std::max(ndim, 1), op, ": dimension ", dim, " out of range for a ", ndim, "-d tensor");
  return int(w);
}

}  // namespace mmgan
