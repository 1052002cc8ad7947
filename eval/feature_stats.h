// Streaming mean and covariance of feature vectors in float64, batch by batch, for FID statistics.
// Numerically stable: each batch contributes its own mean and centred scatter matrix, merged with
// Chan et al.'s pairwise update, so a large common offset does not cancel catastrophically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/frechet.h"

namespace mmgan::eval {

class FeatureStats {
 public:
  explicit FeatureStats(int64_t dim);
  // features: [n, dim], float32 or float64, any device (copied to host float64). n = 0 is a no-op.
  void add(const Tensor& features);
  int64_t count() const { return n_; }
  int64_t dim() const { return dim_; }
  // Mean and unbiased covariance (as numpy.cov(x, rowvar=False)); needs at least 2 samples.
  GaussianStats finish(std::string features_name) const;

 private:
  int64_t dim_;
  int64_t n_ = 0;
  std::vector<double> mean_;     // [dim]
  std::vector<double> scatter_;  // [dim, dim] column-major, upper triangle: sum of centred outer products
  std::vector<double> batch_;    // scratch: the centred batch
};

}  // namespace mmgan::eval
