// Tensor handles: views share storage, geometry, dtype casts, factories, and the seeded RNG.
#include <omp.h>

#include "tests/test_util.h"

namespace mmgan {
namespace {

Tensor iota(const Shape& s) {
  std::vector<double> v(size_t(shape_numel(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = double(i);
  return from_vector(v, s, DType::F64);
}

TEST(Tensor, ViewsShareStorageAndIndexCorrectly) {
  Tensor x = iota({3, 4});
  Tensor t = x.transpose(0, 1);
  EXPECT_EQ(t.shape(), (Shape{4, 3}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.to_vector(), (std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  Tensor s = slice(x, 1, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(s.to_vector(), (std::vector<double>{1, 3, 5, 7, 9, 11}));
  Tensor e = iota({3, 1}).expand({3, 4});
  EXPECT_EQ(e.strides()[1], 0);
  EXPECT_EQ(e.to_vector(), (std::vector<double>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
  // Writing through a view changes the base.
  {
    NoGradGuard ng;
    s.fill_(-1.0);
  }
  EXPECT_EQ(x.to_vector(), (std::vector<double>{0, -1, 2, -1, 4, -1, 6, -1, 8, -1, 10, -1}));
  // reshape of a contiguous tensor is a view; of a transposed one, a copy.
  Tensor r = x.reshape({4, 3});
  EXPECT_EQ(r.impl()->storage, x.impl()->storage);
  Tensor rt = t.reshape({12});
  EXPECT_NE(rt.impl()->storage, x.impl()->storage);
  EXPECT_EQ(rt.to_vector(), t.to_vector());
}

TEST(Tensor, BroadcastingFollowsNumpyRules) {
  Tensor a = iota({2, 1, 3}), b = iota({4, 1});
  Tensor c = a + b;
  EXPECT_EQ(c.shape(), (Shape{2, 4, 3}));
  const auto v = c.to_vector();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(v[size_t(i * 12 + j * 3 + k)], double(i * 3 + k + j));
  EXPECT_THROW(iota({2, 3}) + iota({4}), Error);
}

TEST(Tensor, DtypeCastsAndFactories) {
  Tensor x = from_vector(std::vector<double>{1.0 / 3.0, -2.5}, {2}, DType::F64);
  Tensor f = x.to(DType::F32);
  EXPECT_EQ(f.dtype(), DType::F32);
  EXPECT_EQ(f.to_vector()[0], double(float(1.0 / 3.0)));
  EXPECT_EQ(zeros({2, 2}).to_vector(), std::vector<double>(4, 0.0));
  EXPECT_EQ(full({3}, 2.5, DType::F64).to_vector(), std::vector<double>(3, 2.5));
  EXPECT_EQ(scalar(4.0).item(), 4.0);
  EXPECT_THROW(from_vector(std::vector<double>{1, 2, 3}, {2, 2}), Error);
  EXPECT_THROW(zeros({2}).item(), Error);
  EXPECT_EQ(Device::parse("cuda:1").index, 1);
  EXPECT_THROW(Device::parse("tpu"), Error);
}

// --device auto: the first CUDA device when the build has CUDA and one is present, else the cpu.
TEST(Device, AutoIsTheFirstGpuElseTheCpu) {
  EXPECT_TRUE(Device::parse("auto") == (cuda_available() ? Device::cuda(0) : Device::cpu()));
  EXPECT_NE(test::error_of([] { Device::parse("gpu"); }).find("expected auto, cpu, cuda or cuda:N"), std::string::npos);
}

TEST(Tensor, InPlaceWritesRefuseRecordedTensors) {
  Generator g(1);
  Tensor x = test::uniform({3}, -1, 1, g, true);
  EXPECT_THROW(x.fill_(0.0), Error);  // requires grad, grad mode on
  Tensor y = exp(x);
  NoGradGuard ng;
  EXPECT_THROW(y.fill_(0.0), Error);  // has history
  EXPECT_NO_THROW(x.fill_(0.0));
}

TEST(Random, SeededAndReproducibleAcrossThreadCounts) {
  Generator a(42), b(42), c(43);
  const auto va = rand({1000}, a).to_vector();
  EXPECT_EQ(va, rand({1000}, b).to_vector());
  EXPECT_NE(va, rand({1000}, c).to_vector());
  EXPECT_NE(va, rand({1000}, a).to_vector());  // the generator advanced
  Generator r(7);
  r.set_state(42, 0);
  EXPECT_EQ(va, rand({1000}, r).to_vector());  // state restore (checkpoints)
  const int threads = omp_get_max_threads();
  Generator t1(9), t2(9);
  omp_set_num_threads(1);
  const auto one = randn({1 << 16}, t1).to_vector();
  omp_set_num_threads(2);
  const auto two = randn({1 << 16}, t2).to_vector();
  omp_set_num_threads(threads);
  EXPECT_EQ(one, two);
}

// Moments within 6 standard errors: fails only if the distribution is wrong.
TEST(Random, UniformAndNormalHaveTheRightMoments) {
  const int64_t n = 1 << 20;
  for (DType t : {DType::F32, DType::F64}) {
    Generator g(5);
    const auto u = rand({n}, g, t).to_vector();
    double m = 0, m2 = 0, lo = 1, hi = 0;
    for (double x : u) {
      m += x;
      m2 += x * x;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    m /= double(n);
    m2 /= double(n);
    EXPECT_GE(lo, 0.0);
    EXPECT_LT(hi, 1.0);
    EXPECT_NEAR(m, 0.5, 6 * std::sqrt(1.0 / 12 / double(n)));
    EXPECT_NEAR(m2 - m * m, 1.0 / 12, 6 * std::sqrt(1.0 / 180 / double(n)));
    const auto z = randn({n}, g, t).to_vector();
    double zm = 0, zv = 0, z4 = 0;
    for (double x : z) zm += x;
    zm /= double(n);
    for (double x : z) {
      zv += (x - zm) * (x - zm);
      z4 += x * x * x * x;
    }
    zv /= double(n);
    z4 /= double(n);
    EXPECT_NEAR(zm, 0.0, 6 / std::sqrt(double(n)));
    EXPECT_NEAR(zv, 1.0, 6 * std::sqrt(2.0 / double(n)));
    EXPECT_NEAR(z4, 3.0, 6 * std::sqrt(96.0 / double(n)));  // Var(z^4) = 105 - 9
  }
}

}  // namespace
}  // namespace mmgan
