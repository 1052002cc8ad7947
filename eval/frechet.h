// Gaussian statistics of network features (mean, covariance) and the Fréchet distance between two
// of them, the quantity behind FID: |mu1 - mu2|^2 + tr(s1) + tr(s2) - 2 tr(sqrtm(s1 s2)), in
// float64. Statistics are stored as safetensors ("mu", "sigma", float64; count, features and
// source in the header metadata). frechet.cpp explains how the matrix square root is computed.
#pragma once
#include <cstdint>
#include <string>

#include "engine/tensor.h"

namespace mmgan::eval {

struct GaussianStats {
  Tensor mu;             // F64 CPU [d]
  Tensor sigma;          // F64 CPU [d, d], unbiased (n - 1) covariance
  int64_t count = 0;     // number of samples the statistics came from
  std::string features;  // the feature extractor, e.g. "inception-2048", "fmnist-128"
  std::string source;    // the data they came from
};

// Atomic write; load errors name the file and what is wrong (missing key, shapes, metadata).
void save_stats(const std::string& path, const GaussianStats& stats);
GaussianStats load_stats(const std::string& path);

struct FrechetResult {
  double distance;
  bool used_eps_fallback;  // the product of the covariances was numerically singular: eps * I added
};

// Errors on statistics of different dimensions or features, or with non-finite values.
FrechetResult frechet_distance(const GaussianStats& a, const GaussianStats& b, double eps = 1e-6);

}  // namespace mmgan::eval
