// Shapes and the broadcasting rule (NumPy/PyTorch semantics).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mmgan {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);                   // "[3, 4]"
Shape broadcast_shapes(const Shape& a, const Shape& b);  // throws naming both shapes
Shape contiguous_strides(const Shape& s);
// Wraps a possibly negative dimension index; throws naming the op when out of range.
int wrap_dim(int64_t dim, int ndim, const char* op);

}  // namespace mmgan
