// FeatureStats: streaming float64 mean and scatter matrix of feature vectors.
// Per batch b (n_b rows): its mean m_b and centred scatter S_b = sum (x - m_b)(x - m_b)^T (one BLAS
// dsyrk), merged into the running (n, m, S) with Chan et al.'s pairwise formula
//   delta = m_b - m,  S += S_b + delta delta^T n n_b / (n + n_b),  m += delta n_b / (n + n_b).
// Every quantity is centred before it is squared, so features with a large common offset keep
// their precision (E[x x^T] - m m^T would lose it). Checked against numpy.cov in test_frechet.cpp.
#include "eval/feature_stats.h"

#include <cblas.h>

#include <cmath>

#include "engine/error.h"
#include "engine/shape.h"

namespace mmgan::eval {

FeatureStats::FeatureStats(int64_t dim) : dim_(dim) {
  MMGAN_CHECK(dim > 0, "FeatureStats: feature dimension must be positive, got ", dim);
  mean_.assign(size_t(dim), 0.0);
  scatter_.assign(size_t(dim * dim), 0.0);
}

void FeatureStats::add(const Tensor& features) {
  MMGAN_CHECK(features.defined(), "FeatureStats::add: undefined features tensor");
  MMGAN_CHECK(features.dim() == 2 && features.size(1) == dim_, "FeatureStats::add: features must be [n, ", dim_,
              "], got ", features.str());
  const int64_t nb = features.size(0), d = dim_;
  if (nb == 0) return;
  batch_ = features.to_vector();  // host float64, row-major [nb, d]; gradients are never needed here
  std::vector<double> mb(size_t(d), 0.0);
  for (int64_t r = 0; r < nb; ++r) {
    const double* row = batch_.data() + r * d;
    for (int64_t j = 0; j < d; ++j) mb[size_t(j)] += row[j];
  }
  for (double& v : mb) v /= double(nb);
  for (int64_t r = 0; r < nb; ++r) {
    double* row = batch_.data() + r * d;
    for (int64_t j = 0; j < d; ++j) {
      MMGAN_CHECK(std::isfinite(row[j]), "FeatureStats::add: non-finite feature ", row[j], " at row ", r, ", column ",
                  j, " of batch ", features.str());
      row[j] -= mb[size_t(j)];
    }
  }
  // The row-major [nb, d] batch is the column-major [d, nb] matrix Y: S_b = Y Y^T, added to S.
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, int(d), int(nb), 1.0, batch_.data(), int(d), 1.0,
              scatter_.data(), int(d));
  const double n = double(n_), total = double(n_ + nb);
  for (int64_t j = 0; j < d; ++j) mb[size_t(j)] -= mean_[size_t(j)];  // mb is now delta
  if (n_ > 0)
    cblas_dsyr(CblasColMajor, CblasUpper, int(d), n * double(nb) / total, mb.data(), 1, scatter_.data(), int(d));
  for (int64_t j = 0; j < d; ++j) mean_[size_t(j)] += mb[size_t(j)] * (double(nb) / total);
  n_ += nb;
}

GaussianStats FeatureStats::finish(std::string features_name) const {
  MMGAN_CHECK(n_ >= 2, "FeatureStats::finish: a covariance needs at least 2 samples, got ", n_, " (features '",
              features_name, "')");
  const int64_t d = dim_;
  GaussianStats s;
  s.mu = empty({d}, DType::F64);
  s.sigma = empty({d, d}, DType::F64);
  std::copy(mean_.begin(), mean_.end(), s.mu.data<double>());
  double* sig = s.sigma.data<double>();
  const double inv = 1.0 / double(n_ - 1);
  for (int64_t j = 0; j < d; ++j)
    for (int64_t i = 0; i <= j; ++i) sig[i * d + j] = sig[j * d + i] = scatter_[size_t(j * d + i)] * inv;
  s.count = n_;
  s.features = std::move(features_name);
  return s;
}

}  // namespace mmgan::eval
