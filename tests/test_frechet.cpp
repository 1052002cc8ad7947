// eval/feature_stats and eval/frechet: the streaming mean and covariance against numpy.cov, the
// Fréchet distance against pytorch-fid's formula in scipy and against an exact reference computed
// from the samples alone (tests/oracle/frechet.py), the eps fallback against its closed form on
// diagonal covariances, and the statistics files (round trip, every load error).
#include <cmath>
#include <cstdlib>
#include <map>

#include "eval/feature_stats.h"
#include "eval/frechet.h"
#include "tests/test_util.h"

namespace mmgan {
namespace {

using eval::FeatureStats;
using eval::FrechetResult;
using eval::GaussianStats;

bool scipy_available() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import numpy, scipy.linalg' >/dev/null 2>&1") == 0;
  return ok;
}
#define REQUIRE_SCIPY()                                                                        \
  do {                                                                                         \
    if (!scipy_available()) GTEST_SKIP() << "python3-numpy / python3-scipy are not installed"; \
  } while (0)

// Correlated random features [n, d] (float64): independent columns with scales in [0.5, 2], a shared
// low-rank part mixing them, and per-feature means offset + U[-1, 1].
Tensor features(int64_t n, int64_t d, Generator& g, double offset = 0, int64_t mix_rank = 8) {
  Tensor x = randn({n, d}, g, DType::F64) * test::uniform({1, d}, 0.5, 2.0, g);
  x = x + matmul(randn({n, mix_rank}, g, DType::F64), randn({mix_rank, d}, g, DType::F64) * 0.5);
  return (x + test::uniform({1, d}, offset - 1, offset + 1, g)).detach();
}

GaussianStats stats_of(const Tensor& x, int64_t batch, const std::string& name = "test-features") {
  FeatureStats fs(x.size(1));
  for (int64_t i = 0; i < x.size(0); i += batch) fs.add(slice(x, 0, i, std::min(i + batch, x.size(0))));
  EXPECT_EQ(fs.count(), x.size(0));
  GaussianStats s = fs.finish(name);
  s.source = "random";
  return s;
}

double trace(const Tensor& s) {
  const std::vector<double> v = s.to_vector();
  double t = 0;
  for (int64_t i = 0; i < s.size(0); ++i) t += v[size_t(i * s.size(0) + i)];
  return t;
}

// Writes the cases, runs the oracle, returns its results.
std::map<std::string, Tensor> run_frechet_oracle(const SafeTensors& in, const std::string& name) {
  const auto dir = test::temp_dir("frechet-" + name);
  const std::string ip = (dir / "in.safetensors").string(), op = (dir / "out.safetensors").string();
  save_safetensors(ip, in);
  test::run_oracle("frechet.py", ip + " " + op);
  return load_safetensors(op).tensors;
}

void add_pair(SafeTensors& in, const std::string& c, const GaussianStats& a, const GaussianStats& b) {
  in.add(c + ".mu1", a.mu);
  in.add(c + ".sigma1", a.sigma);
  in.add(c + ".mu2", b.mu);
  in.add(c + ".sigma2", b.sigma);
}

// (1) Mean and covariance against numpy.cov for several batch splits, with and without a common
// offset of 1e4 and from float32 features. A one-pass E[x x^T] - mu mu^T would lose about 8 digits
// to the offset (|x|^2 ~ 1e8 against a covariance ~ 1) and fail the 1e-10 tolerance by far.
TEST(FeatureStats, MatchNumpyCovForEveryBatchSplitAndOffset) {
  REQUIRE_SCIPY();
  Generator g(1);
  const int64_t n = 103, d = 24;
  std::map<std::string, Tensor> x = {
      {"plain", features(n, d, g)}, {"offset", features(n, d, g, 1e4)}, {"f32", features(n, d, g, 1e4).to(DType::F32)}};
  SafeTensors in;
  for (const auto& [c, t] : x) in.add(c + ".x", t);
  const auto ref = run_frechet_oracle(in, "cov");
  for (const auto& [c, t] : x)
    for (int64_t batch : {int64_t(1), int64_t(7), n}) {
      const GaussianStats s = stats_of(t, batch);
      EXPECT_EQ(s.count, n);
      EXPECT_EQ(s.mu.dtype(), DType::F64);
      const double e_mu = test::rel_error(s.mu, ref.at(c + ".mu"));
      const double e_sig = test::rel_error(s.sigma, ref.at(c + ".sigma"));
      EXPECT_LT(e_mu, 1e-13) << c << " batch " << batch;
      EXPECT_LT(e_sig, 1e-10) << c << " batch " << batch;
      std::printf("  %s batch %3ld: mu rel error %.2e, sigma %.2e\n", c.c_str(), long(batch), e_mu, e_sig);
    }
}

TEST(FeatureStats, CudaFeaturesGiveTheCpuStatistics) {
  MMGAN_REQUIRE_CUDA();
  Generator g(2);
  const Tensor x = features(50, 16, g, 3.0).to(DType::F32);
  const GaussianStats a = stats_of(x, 16), b = stats_of(x.to(Device::cuda(0)), 16);
  EXPECT_EQ(a.mu.to_vector(), b.mu.to_vector());
  EXPECT_EQ(a.sigma.to_vector(), b.sigma.to_vector());
}

TEST(FeatureStats, BadInputGivesClearErrors) {
  Generator g(3);
  FeatureStats fs(8);
  EXPECT_NE(test::error_of([&] {
              fs.add(zeros({4, 7}, DType::F64));
            }).find("must be [n, 8], got float64[4, 7]"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { fs.add(zeros({8}, DType::F64)); }).find("must be [n, 8]"), std::string::npos);
  Tensor bad = zeros({3, 8}, DType::F64);
  bad.data<double>()[2 * 8 + 5] = NAN;
  EXPECT_NE(test::error_of([&] { fs.add(bad); }).find("non-finite feature nan at row 2, column 5"), std::string::npos);
  EXPECT_EQ(fs.count(), 0);
  fs.add(zeros({0, 8}));  // an empty batch is a no-op
  fs.add(ones({1, 8}));
  EXPECT_NE(test::error_of([&] { fs.finish("fmnist-128"); }).find("at least 2 samples, got 1 (features 'fmnist-128')"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { FeatureStats(0); }).find("must be positive, got 0"), std::string::npos);
}

// (2), (3): the distance against pytorch-fid's formula and the exact reference from the samples.
// Well-conditioned (d = 64 from 500 samples): both to 1e-9. Rank-deficient (d = 64 from 20
// samples, so s1 s2 has rank 19 and 45 zero eigenvalues): against the exact reference still to
// 1e-9; scipy's sqrtm of the singular, non-symmetric product is only accurate to about
// sqrt(machine eps) on the zero eigenvalues (each contributes the square root of its rounding
// noise; 3e-8 relative measured), so against pytorch-fid the tolerance is 1e-6.
struct DistanceCase {
  std::string name;
  int64_t n1, n2;
  double shift;  // of the second distribution's mean
  double fid_tol;
};

TEST(Frechet, MatchesPytorchFidAndTheExactReference) {
  REQUIRE_SCIPY();
  const int64_t d = 64;
  const std::vector<DistanceCase> cases = {{"full", 500, 500, 0.3, 1e-9},
                                           {"full_same_law", 500, 500, 0.0, 1e-9},
                                           {"rank19", 20, 20, 0.3, 1e-6},
                                           {"rank19_vs_full", 20, 500, 0.3, 1e-6}};
  Generator g(4);
  SafeTensors in;
  std::map<std::string, FrechetResult> got;
  for (const auto& c : cases) {
    const Tensor x1 = features(c.n1, d, g), x2 = (features(c.n2, d, g) + c.shift).detach();
    const GaussianStats a = stats_of(x1, 64), b = stats_of(x2, 64);
    add_pair(in, c.name, a, b);
    in.add(c.name + ".x1", x1);
    in.add(c.name + ".x2", x2);
    got[c.name] = eval::frechet_distance(a, b);
  }
  const auto ref = run_frechet_oracle(in, "distance");
  for (const auto& c : cases) {
    const double mine = got[c.name].distance, fid = ref.at(c.name + ".fid").item(),
                 exact = ref.at(c.name + ".nuclear").item();
    const double e_fid = std::fabs(mine - fid) / std::fabs(fid), e_exact = std::fabs(mine - exact) / std::fabs(exact);
    std::printf("  %-15s distance %.12g, rel error vs pytorch-fid %.2e, vs exact %.2e (pytorch-fid vs exact %.2e)\n",
                c.name.c_str(), mine, e_fid, e_exact, std::fabs(fid - exact) / std::fabs(exact));
    EXPECT_LT(e_fid, c.fid_tol) << c.name;
    EXPECT_LT(e_exact, 1e-9) << c.name;
    EXPECT_FALSE(got[c.name].used_eps_fallback) << c.name;
    EXPECT_EQ(ref.at(c.name + ".fid_eps").item(), 0.0) << c.name;
  }
}

// (4) Identical statistics give 0 up to rounding; equal covariances give |mu1 - mu2|^2.
TEST(Frechet, IdenticalStatisticsGiveZeroAndEqualCovariancesTheMeanDistance) {
  Generator g(5);
  for (int64_t n : {500, 20}) {
    const GaussianStats a = stats_of(features(n, 64, g, 2.0), 50);
    const FrechetResult r = eval::frechet_distance(a, a);
    std::printf("  n = %ld: d(a, a) = %.3g, trace %.4g\n", long(n), r.distance, trace(a.sigma));
    EXPECT_LT(std::fabs(r.distance), 1e-8 * trace(a.sigma)) << n;
    EXPECT_FALSE(r.used_eps_fallback);
    GaussianStats b = a;
    b.mu = (a.mu + test::uniform({64}, -1, 1, g)).detach();
    const double mean_dist = sum(square(a.mu - b.mu)).item();
    EXPECT_NEAR(eval::frechet_distance(a, b).distance, mean_dist, 1e-8 * trace(a.sigma)) << n;
  }
}

// Inputs are symmetrised first: an antisymmetric perturbation of a covariance changes nothing.
TEST(Frechet, SymmetrisesItsInputs) {
  Generator g(6);
  const GaussianStats a = stats_of(features(200, 32, g), 200), b = stats_of(features(200, 32, g, 0.5), 200);
  GaussianStats b2 = b;
  const Tensor p = test::uniform({32, 32}, -1e-3, 1e-3, g);
  b2.sigma = (b.sigma + p - p.t()).detach();
  const double d1 = eval::frechet_distance(a, b).distance, d2 = eval::frechet_distance(a, b2).distance;
  EXPECT_NEAR(d1, d2, 1e-12 * d1);
}

// The eps fallback: a covariance with an eigenvalue clearly below zero (-1e-9, far beyond rounding)
// is regularised with eps * I, as pytorch-fid does for singular products. On diagonal covariances
// the result has the closed form sum (m1 - m2)^2 + s1 + s2 - 2 sqrt((s1 + eps)(s2 + eps)).
TEST(Frechet, EpsFallbackOnDiagonalCovariancesMatchesTheClosedForm) {
  const std::vector<double> m1 = {0.5, -1.0, 2.0}, m2 = {0.0, 0.25, 1.0}, s2 = {1.0, 3.0, 0.0};
  auto closed_form = [&](const std::vector<double>& s1, double eps) {
    double d = 0;
    for (size_t i = 0; i < 3; ++i)
      d += (m1[i] - m2[i]) * (m1[i] - m2[i]) + s1[i] + s2[i] - 2 * std::sqrt((s1[i] + eps) * (s2[i] + eps));
    return d;
  };
  auto diagonal = [](const std::vector<double>& v) {
    Tensor s = zeros({3, 3}, DType::F64);
    for (int i = 0; i < 3; ++i) s.data<double>()[i * 4] = v[size_t(i)];
    return s;
  };
  GaussianStats a, b;
  a.mu = from_vector(m1, {3}, DType::F64);
  b.mu = from_vector(m2, {3}, DType::F64);
  a.sigma = diagonal({2.0, -1e-9, 0.5});
  b.sigma = diagonal(s2);
  const double eps = 1e-6;
  const FrechetResult r = eval::frechet_distance(a, b, eps);
  EXPECT_TRUE(r.used_eps_fallback);
  const double expect = closed_form({2.0, -1e-9, 0.5}, eps);
  EXPECT_NEAR(r.distance, expect, 1e-12 * std::fabs(expect));
  // Without the negative eigenvalue no fallback is needed, and the zero variances stay exact.
  a.sigma = diagonal({2.0, 0.0, 0.5});
  const FrechetResult r0 = eval::frechet_distance(a, b, eps);
  EXPECT_FALSE(r0.used_eps_fallback);
  const double expect0 = closed_form({2.0, 0.0, 0.5}, 0.0);
  EXPECT_NEAR(r0.distance, expect0, 1e-12 * std::fabs(expect0));
  // A covariance that eps cannot repair is rejected, naming both statistics.
  a.sigma = diagonal({2.0, -1e-3, 0.5});
  a.features = b.features = "fmnist-128";
  a.source = "real";
  b.source = "fake";
  const std::string e = test::error_of([&] { eval::frechet_distance(a, b, eps); });
  EXPECT_NE(e.find("not positive semidefinite"), std::string::npos) << e;
  EXPECT_NE(e.find("'fmnist-128' statistics of 'real'"), std::string::npos) << e;
  EXPECT_NE(e.find("of 'fake'"), std::string::npos) << e;
}

TEST(Frechet, MismatchedOrInvalidStatisticsGiveClearErrors) {
  Generator g(7);
  GaussianStats a = stats_of(features(30, 8, g), 30, "inception-2048");
  GaussianStats b = stats_of(features(30, 6, g), 30, "inception-2048");
  a.source = "cifar10-train";
  b.source = "samples";
  std::string e = test::error_of([&] { eval::frechet_distance(a, b); });
  EXPECT_NE(e.find("different dimensions: 'inception-2048' statistics of 'cifar10-train' (n = 30) has d = 8"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("'samples' (n = 30) has d = 6"), std::string::npos) << e;
  GaussianStats c = a;
  c.features = "fmnist-128";
  e = test::error_of([&] { eval::frechet_distance(a, c); });
  EXPECT_NE(e.find("different features: 'inception-2048' statistics of 'cifar10-train' (n = 30) vs 'fmnist-128'"),
            std::string::npos)
      << e;
  c = a;
  c.sigma = a.sigma.clone();
  c.sigma.data<double>()[9] = INFINITY;
  e = test::error_of([&] { eval::frechet_distance(a, c); });
  EXPECT_NE(e.find("second 'inception-2048' statistics of 'cifar10-train' (n = 30): sigma has a non-finite value inf "
                   "at flat index 9"),
            std::string::npos)
      << e;
  c = a;
  c.sigma = zeros({8, 7}, DType::F64);
  e = test::error_of([&] { eval::frechet_distance(c, a); });
  EXPECT_NE(e.find("sigma float64[8, 7] cpu does not match mu float64[8] cpu"), std::string::npos) << e;
}

// (5) d = 2048 (the Inception feature size) from 2500 samples each: runs, and matches pytorch-fid
// to 1e-9 (the product is full rank and well-conditioned, so scipy's sqrtm is accurate too).
TEST(Frechet, InceptionSizedStatisticsMatchPytorchFid) {
  REQUIRE_SCIPY();
  Generator g(8);
  const int64_t d = 2048, n = 2500;
  const GaussianStats a = stats_of(features(n, d, g, 0.0, 32), 256), b = stats_of(features(n, d, g, 0.1, 32), 256);
  const auto t0 = std::chrono::steady_clock::now();
  const FrechetResult r = eval::frechet_distance(a, b);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SafeTensors in;
  add_pair(in, "d2048", a, b);
  const auto ref = run_frechet_oracle(in, "d2048");
  const double fid = ref.at("d2048.fid").item(), e = std::fabs(r.distance - fid) / std::fabs(fid);
  std::printf("  d = 2048: distance %.12g in %.2f s, rel error vs pytorch-fid %.2e\n", r.distance, s, e);
  EXPECT_LT(e, 1e-9);
  EXPECT_FALSE(r.used_eps_fallback);
}

// (6) Statistics files: a bit-exact round trip with metadata, and a clear error for each bad file.
TEST(FrechetStats, SaveLoadRoundTripAndLoadErrors) {
  Generator g(9);
  GaussianStats s = stats_of(features(40, 5, g), 40, "fmnist-128");
  s.source = "fashion-mnist test";
  const auto dir = test::temp_dir("frechet-io");
  const std::string path = (dir / "stats.safetensors").string();
  eval::save_stats(path, s);
  const GaussianStats back = eval::load_stats(path);
  EXPECT_EQ(back.mu.to_vector(), s.mu.to_vector());
  EXPECT_EQ(back.sigma.to_vector(), s.sigma.to_vector());
  EXPECT_EQ(back.mu.shape(), Shape({5}));
  EXPECT_EQ(back.sigma.shape(), Shape({5, 5}));
  EXPECT_EQ(back.mu.dtype(), DType::F64);
  EXPECT_EQ(back.count, 40);
  EXPECT_EQ(back.features, "fmnist-128");
  EXPECT_EQ(back.source, "fashion-mnist test");
  EXPECT_EQ(load_safetensors(path).file_dtype.at("sigma"), "F64");
  EXPECT_EQ(eval::frechet_distance(s, back).distance, eval::frechet_distance(s, s).distance);

  auto write = [&](const std::string& name, const Tensor& mu, const Tensor& sigma,
                   std::map<std::string, std::string> meta = {}) {
    SafeTensors st;
    if (mu.defined()) st.add("mu", mu);
    if (sigma.defined()) st.add("sigma", sigma);
    st.metadata = meta;
    const std::string p = (dir / name).string();
    save_safetensors(p, st);
    return test::error_of([&] { eval::load_stats(p); });
  };
  const Tensor mu = zeros({5}, DType::F64), sig = zeros({5, 5}, DType::F64);
  EXPECT_NE(write("no_mu.st", {}, sig).find("'" + (dir / "no_mu.st").string() + "' has no tensor 'mu'"),
            std::string::npos);
  EXPECT_NE(write("no_sigma.st", mu, {}).find("no_sigma.st' has no tensor 'sigma'"), std::string::npos);
  EXPECT_NE(write("mu2d.st", zeros({5, 1}, DType::F64), sig).find("mu2d.st': 'mu' must be [d], got [5, 1]"),
            std::string::npos);
  EXPECT_NE(write("rect.st", mu, zeros({5, 4}, DType::F64)).find("rect.st': 'sigma' must be square, got [5, 4]"),
            std::string::npos);
  EXPECT_NE(
      write("mismatch.st", mu, zeros({4, 4}, DType::F64)).find("mismatch.st': 'sigma' [4, 4] does not match 'mu' [5]"),
      std::string::npos);
  EXPECT_NE(write("count.st", mu, sig, {{"count", "12x"}}).find("count.st': metadata count '12x' is not a non-neg"),
            std::string::npos);
  EXPECT_EQ(write("ok.st", mu, sig, {{"count", "7"}}), "<no error>");
  EXPECT_NE(test::error_of([&] { eval::load_stats((dir / "missing.st").string()); }).find("missing.st"),
            std::string::npos);
}

}  // namespace
}  // namespace mmgan
