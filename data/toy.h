// Two-dimensional toy data sets (float samples in [-1, 1]) for quick GAN runs and plots.
#pragma once
#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace mmgan::data {

// n points drawn reproducibly from seed (Philox: point i depends only on (seed, i)).
//  "segment": the real data of the paper's Section 4.2 example, uniform on the segment from (1, -1)
//             to (1, 1), scaled by 0.9 to x1 = 0.9, x2 uniform in [-0.9, 0.9]: a tanh generator never
//             reaches +-1 exactly, so the unscaled segment would lie outside what it can produce.
//  "ring8":   a mixture of 8 Gaussians (equal weights) centred on the circle of radius 0.8 at
//             angles k pi/4, std 0.05 per coordinate, clipped to [-1, 1].
// Dataset names are "toy-segment" and "toy-ring8".
Dataset make_toy(const std::string& name, int64_t n, uint64_t seed);

}  // namespace mmgan::data
