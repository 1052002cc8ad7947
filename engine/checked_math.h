// Overflow-checked size arithmetic for every size read from a file or a flag: a product or sum
// that does not fit int64 throws (naming what was being sized) instead of wrapping to a small,
// plausible number that would pass a later size check (a crafted idx header once did exactly that).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

#include "engine/error.h"

namespace mmgan {

// a * b for non-negative sizes; throws naming `what` if either is negative or the product overflows.
inline int64_t checked_mul(int64_t a, int64_t b, const std::string& what) {
  MMGAN_CHECK(a >= 0 && b >= 0, what, ": negative size (", a, " x ", b, ")");
  int64_t r = 0;
  MMGAN_CHECK(!__builtin_mul_overflow(a, b, &r), what, ": size ", a, " x ", b, " overflows 64 bits");
  return r;
}

inline int64_t checked_add(int64_t a, int64_t b, const std::string& what) {
  MMGAN_CHECK(a >= 0 && b >= 0, what, ": negative size (", a, " + ", b, ")");
  int64_t r = 0;
  MMGAN_CHECK(!__builtin_add_overflow(a, b, &r), what, ": size ", a, " + ", b, " overflows 64 bits");
  return r;
}

// The product of all sizes, checked.
inline int64_t checked_product(std::initializer_list<int64_t> sizes, const std::string& what) {
  int64_t r = 1;
  for (int64_t s : sizes) r = checked_mul(r, s, what);
  return r;
}

}  // namespace mmgan
