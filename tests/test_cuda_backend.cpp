// Every call of the CUDA backend against the CPU backend (the reference), in float64 and float32
// (TF32 off), on shapes chosen to reach each kernel path: empty, single element, odd sizes,
// sizes past one block and past one grid pass, broadcast (stride 0), transposed and sliced
// operands, NaN inputs. Random fills must equal the CPU's stream. Skipped without a GPU; the op
// harness in test_ops.cpp covers the same calls through the engine, with derivatives.
#include <cmath>
#include <cstdlib>
#include <limits>

#include "kernels/conv_igemm.h"
#include "test_util.h"

namespace mmgan {
namespace {

using kernels::BinaryOp;
using kernels::ReduceOp;
using kernels::RowOp;
using kernels::UnaryOp;
using test::uniform;

const Device kGpu = Device::cuda(0);

Backend& cpu() { return backend_for(Device::cpu()); }
Backend& gpu() { return backend_for(kGpu); }

// Relative error of two tensors on any devices; NaNs must sit at the same places.
double diff(const Tensor& got, const Tensor& want) {
  const auto a = got.to_vector(), b = want.to_vector();
  EXPECT_EQ(a.size(), b.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
    if (std::isnan(a[i])) continue;
    if (std::isinf(a[i]) || std::isinf(b[i])) {
      if (a[i] != b[i]) return INFINITY;
      continue;
    }
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return num / std::max(den, 1e-300);
}

double tol(DType t) { return t == DType::F64 ? 1e-12 : 2e-6; }

// floor(x) elementwise, through the host (the engine has no floor op).
Tensor floor_of(const Tensor& x) {
  std::vector<double> v = x.to_vector();
  for (double& e : v) e = std::floor(e);
  return from_vector(v, x.shape(), x.dtype());
}

class CudaBackendTest : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override { MMGAN_REQUIRE_CUDA(); }
  const ExactFloat32Scope exact_;
  DType t() const { return GetParam(); }
  Tensor rnd(const Shape& s, double lo = -2, double hi = 2, uint64_t seed = 1) const {
    Generator g(seed);
    return uniform(s, lo, hi, g).to(t());
  }
};

TEST_P(CudaBackendTest, UnaryEveryOpCode) {
  const std::vector<std::tuple<UnaryOp, double, double>> ops = {
      {UnaryOp::Neg, 0, 0},        {UnaryOp::Exp, 0, 0},         {UnaryOp::Log, 0, 0},
      {UnaryOp::Abs, 0, 0},        {UnaryOp::Sign, 0, 0},        {UnaryOp::Sqrt, 0, 0},
      {UnaryOp::Reciprocal, 0, 0}, {UnaryOp::Square, 0, 0},      {UnaryOp::PowScalar, 3, 0},
      {UnaryOp::PowScalar, -1.5, 0}, {UnaryOp::AddScalar, 0.5, 0}, {UnaryOp::MulScalar, -3, 0},
      {UnaryOp::RSubScalar, 2, 0}, {UnaryOp::Clamp, -0.5, 0.7},  {UnaryOp::Relu, 0, 0},
      {UnaryOp::LeakyRelu, 0.2, 0}, {UnaryOp::Tanh, 0, 0},       {UnaryOp::Sigmoid, 0, 0},
      {UnaryOp::Softplus, 0, 0},   {UnaryOp::LogSigmoid, 0, 0},  {UnaryOp::GtScalar, 0.1, 0},
      {UnaryOp::GeScalar, 0.1, 0}, {UnaryOp::LtScalar, 0.1, 0},  {UnaryOp::LeScalar, 0.1, 0},
      {UnaryOp::EqScalar, 0, 0},   {UnaryOp::InRange, -1, 1},    {UnaryOp::LeakyMask, 0.2, 0},
  };
  for (int64_t n : {0, 1, 257, 1000003}) {
    // Mixed signs, and a positive copy for the ops defined on x > 0 only.
    const Tensor pos = rnd({n}, 0.01, 3), x = pos * (gt(rnd({n}, -1, 1, 2), 0.0) * 2.0 - 1.0);
    for (const auto& [op, a, b] : ops) {
      const bool positive = op == UnaryOp::Log || op == UnaryOp::Sqrt || (op == UnaryOp::PowScalar && a < 0);
      const Tensor& in = positive ? pos : x;
      Tensor y = empty(x.shape(), t()), yg = empty(x.shape(), t(), kGpu);
      cpu().unary(op, a, b, in.view(), y.view());
      gpu().unary(op, a, b, in.to(kGpu).view(), yg.view());
      EXPECT_LT(diff(yg, y), tol(t())) << "unary op " << int(op) << " n " << n;
    }
  }
}

TEST_P(CudaBackendTest, BinaryBroadcastAndStrides) {
  const std::vector<BinaryOp> ops = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div,
                                     BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::Gt, BinaryOp::Ge,
                                     BinaryOp::Lt, BinaryOp::Le, BinaryOp::Eq, BinaryOp::Ne};
  struct Case {
    Shape out, a, b;
  };
  const std::vector<Case> cases = {
      {{0}, {0}, {0}},          {{1}, {1}, {1}},           {{7, 5}, {7, 5}, {7, 5}},
      {{7, 5}, {7, 5}, {5}},    {{7, 5}, {7, 1}, {1, 5}},  {{3, 4, 5, 6}, {3, 1, 5, 1}, {4, 1, 6}},
      {{64, 128, 8, 8}, {64, 128, 8, 8}, {128, 1, 1}},     {{1 << 20}, {1 << 20}, {1}},
  };
  for (const Case& c : cases) {
    const Tensor a = rnd(c.a, -2, 2, 3), b = rnd(c.b, 0.1, 2, 4);
    const Tensor ag = a.to(kGpu), bg = b.to(kGpu);
    for (BinaryOp op : ops) {
      Tensor y = empty(c.out, t()), yg = empty(c.out, t(), kGpu);
      cpu().binary(op, a.expand(c.out).view(), b.expand(c.out).view(), y.view());
      gpu().binary(op, ag.expand(c.out).view(), bg.expand(c.out).view(), yg.view());
      EXPECT_LT(diff(yg, y), tol(t())) << "binary op " << int(op) << " out " << shape_str(c.out);
    }
  }
  // A transposed operand (non-contiguous, not merely broadcast).
  const Tensor a = rnd({6, 9}, -1, 1, 5), b = rnd({9, 6}, -1, 1, 6);
  Tensor y = empty({6, 9}, t()), yg = empty({6, 9}, t(), kGpu);
  cpu().binary(BinaryOp::Sub, a.view(), b.t().view(), y.view());
  gpu().binary(BinaryOp::Sub, a.to(kGpu).view(), b.to(kGpu).t().view(), yg.view());
  EXPECT_LT(diff(yg, y), tol(t()));
}

TEST_P(CudaBackendTest, WhereCopyFill) {
  const Shape s{5, 7, 3};
  const Tensor c = gt(rnd(s, -1, 1, 7), 0.0), a = rnd(s, -1, 1, 8), b = rnd({3}, -1, 1, 9);
  Tensor y = empty(s, t()), yg = empty(s, t(), kGpu);
  cpu().where(c.view(), a.view(), b.expand(s).view(), y.view());
  gpu().where(c.to(kGpu).view(), a.to(kGpu).view(), b.to(kGpu).expand(s).view(), yg.view());
  EXPECT_EQ(diff(yg, y), 0.0);

  // Strided copies with and without dtype conversion: a permuted source into a sliced destination.
  for (DType to : {DType::F32, DType::F64}) {
    const Tensor src = rnd({4, 6, 5}, -1, 1, 10);
    Tensor dst = zeros({5, 4, 12}, to), dstg = zeros({5, 4, 12}, to, kGpu);
    const Tensor sv = permute(src, {2, 0, 1}), svg = permute(src.to(kGpu), {2, 0, 1});
    cpu().copy(sv.view(), slice(dst, 2, 0, 12, 2).view());
    gpu().copy(svg.view(), slice(dstg, 2, 0, 12, 2).view());
    EXPECT_EQ(diff(dstg, dst), 0.0) << "copy to " << kernels::dtype_name(to);
  }
  Tensor f = zeros({6, 8}, t()), fg = zeros({6, 8}, t(), kGpu);
  cpu().fill(slice(f, 1, 1, 8, 3).view(), 2.5);
  gpu().fill(slice(fg, 1, 1, 8, 3).view(), 2.5);
  EXPECT_EQ(diff(fg, f), 0.0);
}

TEST_P(CudaBackendTest, ReduceShapesAndNaN) {
  struct Case {
    int64_t outer, r, inner;
  };
  for (const Case& c : {Case{1, 1, 1}, Case{1, 100003, 1}, Case{7, 33, 5}, Case{2, 5, 70001}, Case{300, 2, 1},
                        Case{1, 64, 4096}, Case{3, 0, 4}}) {
    Tensor x = rnd({c.outer, c.r, c.inner}, -3, 3, 11);
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min}) {
      Tensor y = empty({c.outer, c.inner}, t()), yg = empty({c.outer, c.inner}, t(), kGpu);
      cpu().reduce(op, x.view(), c.outer, c.r, c.inner, y.view());
      gpu().reduce(op, x.to(kGpu).view(), c.outer, c.r, c.inner, yg.view());
      EXPECT_LT(diff(yg, y), tol(t())) << "reduce " << int(op) << " [" << c.outer << ", " << c.r << ", " << c.inner
                                        << "]";
    }
  }
  // A NaN anywhere in a max/min row makes that output NaN, on both backends.
  Tensor x = rnd({2, 1000, 3}, -1, 1, 12);
  x = where(gt(rnd({2, 1000, 3}, 0, 1, 13), 0.9995), full({2, 1000, 3}, std::numeric_limits<double>::quiet_NaN(), t()),
            x);
  for (ReduceOp op : {ReduceOp::Max, ReduceOp::Min, ReduceOp::Sum}) {
    Tensor y = empty({2, 3}, t()), yg = empty({2, 3}, t(), kGpu);
    cpu().reduce(op, x.view(), 2, 1000, 3, y.view());
    gpu().reduce(op, x.to(kGpu).view(), 2, 1000, 3, yg.view());
    EXPECT_LT(diff(yg, y), tol(t())) << "NaN propagation, reduce " << int(op);
  }
}

TEST_P(CudaBackendTest, RowReduceEveryNorm) {
  const std::vector<std::pair<RowOp, double>> ops = {{RowOp::L1, 0},        {RowOp::L2, 0},
                                                     {RowOp::LInf, 0},      {RowOp::SmoothMax, 1},
                                                     {RowOp::SmoothMax, 20}, {RowOp::LogSumExp, 0}};
  for (const auto& [n, d] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {32, 3072}, {64, 12288}, {2, 300001}}) {
    const Tensor x = rnd({n, d}, -3, 3, 14);
    for (const auto& [op, p] : ops) {
      Tensor y = empty({n}, t()), yg = empty({n}, t(), kGpu);
      cpu().row_reduce(op, p, x.view(), n, d, y.view());
      gpu().row_reduce(op, p, x.to(kGpu).view(), n, d, yg.view());
      EXPECT_LT(diff(yg, y), tol(t())) << "row_reduce " << int(op) << " s " << p << " [" << n << ", " << d << "]";
    }
  }
  Tensor x = rnd({4, 999}, -1, 1, 15);
  x = where(gt(rnd({4, 999}, 0, 1, 16), 0.999), full({4, 999}, std::numeric_limits<double>::quiet_NaN(), t()), x);
  Tensor y = empty({4}, t()), yg = empty({4}, t(), kGpu);
  cpu().row_reduce(RowOp::LInf, 0, x.view(), 4, 999, y.view());
  gpu().row_reduce(RowOp::LInf, 0, x.to(kGpu).view(), 4, 999, yg.view());
  EXPECT_LT(diff(yg, y), tol(t())) << "L-inf norm of a row holding a NaN";
}

TEST_P(CudaBackendTest, GemmTransposesAndLeadingDimensions) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (const auto& [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {7, 5, 3}, {129, 65, 257},
                                    {64, 8192, 48}, {3, 4, 0}}) {
        const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
        const Tensor a = rnd({ta ? k : m, lda}, -1, 1, 17), b = rnd({tb ? n : k, ldb}, -1, 1, 18);
        Tensor c = rnd({m, ldc}, -1, 1, 19);
        Tensor cg = c.to(kGpu);
        const Tensor ag = a.to(kGpu), bg = b.to(kGpu);
        const void* ap = a.view().data;  // the CPU copies must not be reused after the GPU copies
        cpu().gemm(t(), ta, tb, m, n, k, 0.75, ap, lda, b.view().data, ldb, -0.5, c.view().data, ldc);
        gpu().gemm(t(), ta, tb, m, n, k, 0.75, ag.view().data, lda, bg.view().data, ldb, -0.5, cg.view().data, ldc);
        EXPECT_LT(diff(cg, c), t() == DType::F64 ? 1e-12 : 1e-5)
            << "gemm ta " << ta << " tb " << tb << " m " << m << " n " << n << " k " << k;
      }
}

// (n, c, h, w, o, kh, kw, s, p): DCGAN32's D layers, the generator's first layer as a transposed
// conv's adjoint, and small odd shapes with rectangular kernels.
std::vector<kernels::ConvGeom> conv_shapes() {
  struct G {
    int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw;
  };
  std::vector<kernels::ConvGeom> out;
  for (const G& s : {G{4, 3, 32, 32, 16, 4, 4, 2, 2, 1, 1}, G{4, 16, 16, 16, 32, 4, 4, 2, 2, 1, 1},
                     G{4, 64, 4, 4, 1, 4, 4, 1, 1, 0, 0}, G{3, 2, 5, 4, 3, 3, 3, 2, 2, 1, 1},
                     G{2, 2, 5, 6, 2, 2, 3, 1, 2, 0, 1}, G{3, 5, 1, 1, 4, 4, 4, 1, 1, 3, 3}}) {
    kernels::ConvGeom g;
    g.n = s.n, g.c = s.c, g.h = s.h, g.w = s.w, g.o = s.o, g.kh = s.kh, g.kw = s.kw;
    g.sh = s.sh, g.sw = s.sw, g.ph = s.ph, g.pw = s.pw;
    g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1, g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
    out.push_back(g);
  }
  return out;
}

TEST_P(CudaBackendTest, ConvFamilyOnThePapersShapesAndOddOnes) {
  for (const kernels::ConvGeom& g : conv_shapes()) {
    const Tensor x = rnd({g.n, g.c, g.h, g.w}, -1, 1, 20), w = rnd({g.o, g.c, g.kh, g.kw}, -1, 1, 21);
    const Tensor gy = rnd({g.n, g.o, g.oh, g.ow}, -1, 1, 22);
    const Tensor xg = x.to(kGpu), wg = w.to(kGpu), gyg = gy.to(kGpu);
    const double eps = t() == DType::F64 ? 1e-12 : 1e-5;
    Tensor y = empty(gy.shape(), t()), yg = full(gy.shape(), 7.0, t(), kGpu);  // outputs are overwritten
    cpu().conv2d(g, x.view(), w.view(), y.view());
    gpu().conv2d(g, xg.view(), wg.view(), yg.view());
    EXPECT_LT(diff(yg, y), eps) << "conv2d " << shape_str(x.shape()) << " * " << shape_str(w.shape());
    Tensor gx = empty(x.shape(), t()), gxg = full(x.shape(), 7.0, t(), kGpu);
    cpu().conv2d_input_grad(g, gy.view(), w.view(), gx.view());
    gpu().conv2d_input_grad(g, gyg.view(), wg.view(), gxg.view());
    EXPECT_LT(diff(gxg, gx), eps) << "conv2d_input_grad " << shape_str(x.shape());
    Tensor gw = empty(w.shape(), t()), gwg = full(w.shape(), 7.0, t(), kGpu);
    cpu().conv2d_weight_grad(g, x.view(), gy.view(), gw.view());
    gpu().conv2d_weight_grad(g, xg.view(), gyg.view(), gwg.view());
    EXPECT_LT(diff(gwg, gw), eps) << "conv2d_weight_grad " << shape_str(w.shape());
  }
}

// Pooling and resizing: Inception's shapes, small odd ones, one past a full grid pass (2^23
// threads), adaptive windows that shrink and grow; max pooling on inputs with ties (values in
// {-1, 0, 1}) and NaNs, so the argmax rule (first maximum, a NaN wins) is checked too.
kernels::PoolGeom pool_geom(Shape x, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw) {
  kernels::PoolGeom g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3], g.kh = kh, g.kw = kw, g.sh = sh, g.sw = sw, g.ph = ph, g.pw = pw;
  g.oh = (g.h + 2 * ph - kh) / sh + 1, g.ow = (g.w + 2 * pw - kw) / sw + 1;
  return g;
}
kernels::PoolGeom adaptive_geom(Shape x, int64_t oh, int64_t ow) {
  kernels::PoolGeom g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3], g.oh = oh, g.ow = ow, g.adaptive = true;
  return g;
}

TEST_P(CudaBackendTest, PoolingEveryCall) {
  std::vector<kernels::PoolGeom> geoms = {
      pool_geom({2, 3, 147, 147}, 3, 3, 2, 2, 0, 0), pool_geom({2, 5, 35, 35}, 3, 3, 1, 1, 1, 1),
      pool_geom({3, 2, 7, 6}, 2, 3, 2, 1, 1, 1),     pool_geom({1, 1, 1, 1}, 1, 1, 1, 1, 0, 0),
      pool_geom({2, 3, 8, 8}, 3, 3, 1, 1, 1, 1),     pool_geom({64, 64, 64, 64}, 2, 2, 1, 1, 0, 0),
      adaptive_geom({2, 3, 5, 7}, 3, 2),             adaptive_geom({2, 4, 8, 8}, 1, 1),
      adaptive_geom({2, 2, 3, 4}, 5, 7),             adaptive_geom({2, 3, 17, 17}, 5, 5)};
  for (kernels::PoolGeom g : geoms) {
    const Shape xs{g.n, g.c, g.h, g.w}, ys{g.n, g.c, g.oh, g.ow};
    const std::string at = shape_str(xs) + " -> " + shape_str(ys);
    const Tensor x = rnd(xs, -1, 1, 30), gy = rnd(ys, -1, 1, 31), v = rnd(xs, -1, 1, 32);
    // Ties everywhere and a few NaNs for the max pool's argmax.
    Tensor xt = floor_of(rnd(xs, -1, 2, 33));
    xt = where(gt(rnd(xs, 0, 1, 34), 0.995), full(xs, std::numeric_limits<double>::quiet_NaN(), t()), xt);
    const Tensor xg = x.to(kGpu), xtg = xt.to(kGpu), gyg = gy.to(kGpu), vg = v.to(kGpu);
    for (bool include_pad : {true, false}) {
      g.count_include_pad = include_pad;
      Tensor y = empty(ys, t()), yg = full(ys, 7.0, t(), kGpu);  // outputs are overwritten
      cpu().avg_pool2d(g, x.view(), y.view());
      gpu().avg_pool2d(g, xg.view(), yg.view());
      EXPECT_LT(diff(yg, y), tol(t())) << "avg_pool2d " << at << " count_include_pad " << include_pad;
      Tensor gx = empty(xs, t()), gxg = full(xs, 7.0, t(), kGpu);
      cpu().avg_pool2d_adjoint(g, gy.view(), gx.view());
      gpu().avg_pool2d_adjoint(g, gyg.view(), gxg.view());
      EXPECT_LT(diff(gxg, gx), tol(t())) << "avg_pool2d_adjoint " << at << " count_include_pad " << include_pad;
    }
    if (g.adaptive) continue;
    for (const auto& [in, in_g, what] : {std::tuple{x, xg, "distinct"}, std::tuple{xt, xtg, "ties and NaN"}}) {
      Tensor y = empty(ys, t()), yg = full(ys, 7.0, t(), kGpu);
      cpu().max_pool2d(g, in.view(), y.view());
      gpu().max_pool2d(g, in_g.view(), yg.view());
      EXPECT_EQ(diff(yg, y), 0.0) << "max_pool2d " << at << " " << what;
      Tensor w = empty(ys, t()), wg = full(ys, 7.0, t(), kGpu);
      cpu().max_pool2d_gather(g, in.view(), v.view(), w.view());
      gpu().max_pool2d_gather(g, in_g.view(), vg.view(), wg.view());
      EXPECT_EQ(diff(wg, w), 0.0) << "max_pool2d_gather " << at << " " << what;
      Tensor gx = empty(xs, t()), gxg = full(xs, 7.0, t(), kGpu);
      cpu().max_pool2d_scatter(g, in.view(), gy.view(), gx.view());
      gpu().max_pool2d_scatter(g, in_g.view(), gyg.view(), gxg.view());
      EXPECT_LT(diff(gxg, gx), tol(t())) << "max_pool2d_scatter " << at << " " << what;
    }
  }
}

TEST_P(CudaBackendTest, ResizeBilinearBothWays) {
  struct R {
    int64_t n, c, h, w, oh, ow;
  };
  for (const R& r : {R{2, 3, 32, 32, 299, 299}, R{2, 2, 7, 6, 3, 4}, R{2, 2, 5, 5, 9, 9}, R{3, 2, 4, 6, 11, 3},
                     R{1, 1, 1, 1, 3, 2}, R{2, 2, 3, 4, 3, 4}, R{4, 3, 299, 299, 75, 80}, R{40, 64, 64, 64, 65, 63}}) {
    kernels::ResizeGeom g;
    g.n = r.n, g.c = r.c, g.h = r.h, g.w = r.w, g.oh = r.oh, g.ow = r.ow;
    const Shape xs{r.n, r.c, r.h, r.w}, ys{r.n, r.c, r.oh, r.ow};
    const Tensor x = rnd(xs, -1, 1, 35), gy = rnd(ys, -1, 1, 36);
    Tensor y = empty(ys, t()), yg = full(ys, 7.0, t(), kGpu);
    cpu().resize_bilinear(g, x.view(), y.view());
    gpu().resize_bilinear(g, x.to(kGpu).view(), yg.view());
    EXPECT_LT(diff(yg, y), tol(t())) << "resize_bilinear " << shape_str(xs) << " -> " << shape_str(ys);
    Tensor gx = empty(xs, t()), gxg = full(xs, 7.0, t(), kGpu);
    cpu().resize_bilinear_adjoint(g, gy.view(), gx.view());
    gpu().resize_bilinear_adjoint(g, gy.to(kGpu).view(), gxg.view());
    EXPECT_LT(diff(gxg, gx), tol(t())) << "resize_bilinear_adjoint " << shape_str(ys) << " -> " << shape_str(xs);
  }
}

TEST_P(CudaBackendTest, RandomStreamsEqualTheCpu) {
  // Plain keys, and keys whose start is read from memory (the base a captured step advances).
  const Tensor base = scalar(1000.0, DType::F64), base_g = base.to(kGpu);
  for (int64_t n : {1, 5, 4097, 1000001}) {
    for (bool with_base : {false, true}) {
      kernels::PhiloxKey k{1234, 77, nullptr}, kg = k;
      if (with_base) k.base = base.data<double>(), kg.base = static_cast<const double*>(base_g.view().data);
      Tensor u = empty({n}, t()), ug = empty({n}, t(), kGpu);
      cpu().fill_uniform(u.view(), k, -1, 3);
      gpu().fill_uniform(ug.view(), kg, -1, 3);
      EXPECT_EQ(diff(ug, u), 0.0) << "uniform n " << n << " base " << with_base;
      k.seed = kg.seed = 99, k.offset = kg.offset = 5;
      Tensor z = empty({n}, t()), zg = empty({n}, t(), kGpu);
      cpu().fill_normal(z.view(), k, 0.5, 2);
      gpu().fill_normal(zg.view(), kg, 0.5, 2);
      // Box-Muller goes through log, sqrt, sin and cos, whose last bit may differ between libm and CUDA.
      EXPECT_LT(diff(zg, z), 1e-13) << "normal n " << n << " base " << with_base;
    }
  }
}

// BatchNorm's kernels: the batch moments (double accumulation in another order: to rounding) and
// the fused apply + activation (no activation, ReLU and LeakyReLU; bit for bit).
TEST_P(CudaBackendTest, BatchNormKernelsEqualTheCpu) {
  for (const Shape& sh : {Shape{32, 256, 8, 8}, Shape{3, 5, 7, 1}, Shape{1, 1, 1, 1}, Shape{64, 3, 32, 32}}) {
    Tensor x = rnd(sh, -2, 2, 5) + 3.0;  // an offset mean, as real activations have
    Tensor m = empty({sh[1]}, t()), v = empty({sh[1]}, t());
    Tensor mg = full({sh[1]}, 7.0, t(), kGpu), vg = full({sh[1]}, 7.0, t(), kGpu);
    cpu().channel_moments(x.view(), sh[1], sh[2] * sh[3], m.view(), v.view());
    gpu().channel_moments(x.to(kGpu).view(), sh[1], sh[2] * sh[3], mg.view(), vg.view());
    EXPECT_LT(diff(mg, m), tol(t())) << "mean " << shape_str(sh);
    EXPECT_LT(diff(vg, v), tol(t())) << "variance " << shape_str(sh);
    const Tensor scale = rnd({sh[1]}, -1, 1, 6), shift = rnd({sh[1]}, -1, 1, 7);
    for (const auto& [act, slope] : {std::pair{false, 0.0}, std::pair{true, 0.0}, std::pair{true, 0.2}}) {
      Tensor y = empty(sh, t()), yg = full(sh, 7.0, t(), kGpu);
      cpu().channel_affine(x.view(), scale.view(), shift.view(), sh[1], sh[2] * sh[3], act, slope, y.view());
      gpu().channel_affine(x.to(kGpu).view(), scale.to(kGpu).view(), shift.to(kGpu).view(), sh[1], sh[2] * sh[3], act,
                           slope, yg.view());
      EXPECT_EQ(diff(yg, y), 0.0) << shape_str(sh) << " act " << act << " slope " << slope;
      // The backward's two kernels, the mask read from this y.
      const Tensor g = rnd(sh, -1, 1, 8), w = rnd({sh[1]}, -1, 1, 9), is = rnd({sh[1]}, 0.5, 2, 10);
      kernels::BatchNormGrad a;
      a.g = g.view(), a.y = y.view(), a.x = x.view(), a.mean = m.view(), a.invstd = is.view(), a.weight = w.view();
      a.channels = sh[1], a.inner = sh[2] * sh[3], a.act = act, a.slope = slope;
      const Tensor gg = g.to(kGpu), ygg = y.to(kGpu), xg = x.to(kGpu), wg = w.to(kGpu), isg = is.to(kGpu);
      kernels::BatchNormGrad ag = a;
      ag.g = gg.view(), ag.y = ygg.view(), ag.x = xg.view(), ag.mean = mg.view(), ag.invstd = isg.view(),
      ag.weight = wg.view();
      Tensor gw = empty({sh[1]}, t()), gb = empty({sh[1]}, t()), gx = empty(sh, t());
      Tensor gwg = full({sh[1]}, 7.0, t(), kGpu), gbg = full({sh[1]}, 7.0, t(), kGpu), gxg = full(sh, 7.0, t(), kGpu);
      cpu().batch_norm_grad_reduce(a, gw.view(), gb.view());
      cpu().batch_norm_grad_input(a, gw.view(), gb.view(), gx.view());
      gpu().batch_norm_grad_reduce(ag, gwg.view(), gbg.view());
      gpu().batch_norm_grad_input(ag, gwg.view(), gbg.view(), gxg.view());
      EXPECT_LT(diff(gbg, gb), tol(t())) << "grad bias " << shape_str(sh) << " act " << act << " slope " << slope;
      EXPECT_LT(diff(gwg, gw), tol(t())) << "grad weight " << shape_str(sh) << " act " << act << " slope " << slope;
      EXPECT_LT(diff(gxg, gx), tol(t())) << "grad input " << shape_str(sh) << " act " << act << " slope " << slope;
    }
  }
}

TEST_P(CudaBackendTest, InterpolatesEqualTheCpu) {
  const Tensor base = scalar(77.0, DType::F64), base_g = base.to(kGpu);
  for (const Shape& sh : {Shape{32, 3, 32, 32}, Shape{5, 7}, Shape{1, 1}, Shape{64, 1, 32, 32}}) {
    const Tensor xr = rnd(sh, -1, 1, 3), xf = rnd(sh, -1, 1, 4);
    Tensor u = empty({sh[0]}, t()), y = empty(sh, t());
    Tensor ug = full({sh[0]}, 7.0, t(), kGpu), yg = full(sh, 7.0, t(), kGpu);
    cpu().interpolate(xr.view(), xf.view(), kernels::PhiloxKey{5, 3, base.data<double>()}, u.view(), y.view());
    gpu().interpolate(xr.to(kGpu).view(), xf.to(kGpu).view(),
                      kernels::PhiloxKey{5, 3, static_cast<const double*>(base_g.view().data)}, ug.view(), yg.view());
    EXPECT_EQ(diff(ug, u), 0.0) << shape_str(sh);
    EXPECT_EQ(diff(yg, y), 0.0) << shape_str(sh);
  }
}

// Multi-tensor Adam: tensors of odd sizes, one starting off the 16-byte alignment (the scalar
// path), several launches' worth of tensors (chunks of 24), per-tensor step counts and the rate
// read from device memory; equal to the CPU's bit for bit.
TEST_P(CudaBackendTest, AdamStepsEqualTheCpu) {
  std::vector<int64_t> sizes{100003, 1, 7, 4096, 33};
  for (int i = 0; i < 40; ++i) sizes.push_back(1 + 37 * i);
  const size_t k = sizes.size();
  struct State {
    Tensor p, m, v;
  };
  std::vector<State> c(k), g(k);
  for (size_t i = 0; i < k; ++i) {
    const int64_t skew = i == 2 ? 1 : 0;  // a view one element in: misaligned for vector loads
    const Tensor p = slice(rnd({sizes[i] + skew}, -1, 1, 23 + i), 0, skew, sizes[i] + skew);
    c[i] = {p.clone(), zeros({sizes[i]}, t()), zeros({sizes[i]}, t())};
    g[i] = {slice(p.to(kGpu), 0, 0, sizes[i]), zeros({sizes[i]}, t(), kGpu), zeros({sizes[i]}, t(), kGpu)};
    if (skew) g[i].p = slice(rnd({sizes[i] + skew}, -1, 1, 23 + i).to(kGpu), 0, skew, sizes[i] + skew);
  }
  std::vector<double> steps(k);
  for (int64_t step = 1; step <= 5; ++step) {
    for (size_t i = 0; i < k; ++i) steps[i] = double(step + int64_t(i % 3));
    const Tensor st = from_vector(steps, {int64_t(k)}, DType::F64), st_g = st.to(kGpu);
    const Tensor lr = scalar(2e-4 * double(step), DType::F64), lr_g = lr.to(kGpu);
    std::vector<Tensor> grads;
    std::vector<kernels::AdamTensor> lc, lg;
    for (size_t i = 0; i < k; ++i) {
      grads.push_back(rnd({sizes[i]}, -1, 1, 100 + uint64_t(step) * 64 + i));
      grads.push_back(grads.back().to(kGpu));
      lc.push_back({c[i].p.view().data, grads[2 * i].view().data, c[i].m.view().data, c[i].v.view().data, sizes[i],
                    st.data<double>() + i});
      lg.push_back({g[i].p.view().data, grads[2 * i + 1].view().data, g[i].m.view().data, g[i].v.view().data,
                    sizes[i], static_cast<const double*>(st_g.view().data) + i});
    }
    kernels::AdamHyper h{0.5, 0.999, 1e-8, step == 3 ? 0.01 : 0.0, lr.data<double>()};
    cpu().adam_step(t(), lc.data(), int(k), h);
    h.lr = static_cast<const double*>(lr_g.view().data);
    gpu().adam_step(t(), lg.data(), int(k), h);
  }
  for (size_t i = 0; i < k; ++i) {
    EXPECT_EQ(diff(g[i].p, c[i].p), 0.0) << "tensor " << i;
    EXPECT_EQ(diff(g[i].m, c[i].m), 0.0) << "tensor " << i;
    EXPECT_EQ(diff(g[i].v, c[i].v), 0.0) << "tensor " << i;
  }
}

// The implicit GEMMs' index maps (kernels/conv_igemm.h), on the host: C = A B computed by a plain
// loop over a(), b() and stored through store() equals the CPU's convolutions, for all three
// directions, the forward also with its bias and LeakyReLU epilogue. Runs without a GPU.
TEST(ImplicitGemm, IndexMapsEqualTheCpuConvolutions) {
  for (const kernels::ConvGeom& g : conv_shapes()) {
    Generator r(8);
    const Tensor x = uniform({g.n, g.c, g.h, g.w}, -1, 1, r).to(DType::F32);
    const Tensor w = uniform({g.o, g.c, g.kh, g.kw}, -1, 1, r).to(DType::F32);
    const Tensor gy = uniform({g.n, g.o, g.oh, g.ow}, -1, 1, r).to(DType::F32);
    const Tensor bias = uniform({g.o}, -1, 1, r).to(DType::F32);
    auto gemm = [](const auto& p) {
      for (int64_t m = 0; m < p.rows(); ++m)
        for (int64_t n = 0; n < p.cols(); ++n) {
          double acc = 0;
          for (int64_t k = 0; k < p.depth(); ++k) acc += double(p.a(m, k)) * double(p.b(k, n));
          p.store(m, n, float(acc));
        }
    };
    const std::string at = shape_str(x.shape()) + " * " + shape_str(w.shape());
    Tensor y = empty(gy.shape()), y_ref = empty(gy.shape());
    gemm(kernels::ConvFwdGemm{g, x.data<float>(), w.data<float>(), y.data<float>(), bias.data<float>(),
                              kernels::Act::Leaky, 0.2f});
    cpu().conv2d(g, x.view(), w.view(), y_ref.view());
    const Tensor b4 = bias.reshape({1, g.o, 1, 1});
    EXPECT_LT(diff(y, leaky_relu(y_ref + b4, 0.2)), 1e-6) << "forward " << at;
    Tensor gx = empty(x.shape()), gx_ref = empty(x.shape());
    gemm(kernels::ConvBwdDataGemm{g, gy.data<float>(), w.data<float>(), gx.data<float>()});
    cpu().conv2d_input_grad(g, gy.view(), w.view(), gx_ref.view());
    EXPECT_LT(diff(gx, gx_ref), 1e-6) << "backward-data " << at;
    Tensor gw = empty(w.shape()), gw_ref = empty(w.shape());
    gemm(kernels::ConvBwdFilterGemm{g, x.data<float>(), gy.data<float>(), gw.data<float>()});
    cpu().conv2d_weight_grad(g, x.view(), gy.view(), gw_ref.view());
    EXPECT_LT(diff(gw, gw_ref), 1e-6) << "backward-filter " << at;
  }
}

// The hand-written convolution on the GPU (forced with MMGAN_CONV=igemm), and the per-shape
// dispatch (MMGAN_CONV unset: cuDNN or the implicit GEMM, whichever won), against the CPU in
// float32 at TF32 precision, on the odd shapes and on DCGAN32's layers at batch 32.
TEST(ImplicitGemm, CudaEqualsTheCpuAtTf32Precision) {
  MMGAN_REQUIRE_CUDA();
  std::vector<kernels::ConvGeom> shapes = conv_shapes();
  for (kernels::ConvGeom g : conv_shapes())
    if (g.h >= 4 && g.kh == 4) g.n = 32, shapes.push_back(g);
  for (const char* policy : {"igemm", ""}) {
    if (*policy) setenv("MMGAN_CONV", policy, 1);
    else unsetenv("MMGAN_CONV");
    for (const kernels::ConvGeom& g : shapes) {
      Generator r(9);
      const Tensor x = uniform({g.n, g.c, g.h, g.w}, -1, 1, r).to(DType::F32);
      const Tensor w = uniform({g.o, g.c, g.kh, g.kw}, -1, 1, r).to(DType::F32);
      const Tensor gy = uniform({g.n, g.o, g.oh, g.ow}, -1, 1, r).to(DType::F32);
      const std::string at = std::string(*policy ? policy : "dispatch") + " " + shape_str(x.shape()) + " * " +
                             shape_str(w.shape());
      Tensor y = empty(gy.shape()), yg = full(gy.shape(), 7.0, DType::F32, kGpu);
      cpu().conv2d(g, x.view(), w.view(), y.view());
      gpu().conv2d(g, x.to(kGpu).view(), w.to(kGpu).view(), yg.view());
      EXPECT_LT(diff(yg, y), 2e-3) << "forward " << at;
      // The fused epilogue: in the implicit GEMM's store, or a pass after cuDNN.
      const Tensor bias = uniform({g.o}, -1, 1, r).to(DType::F32), bias_g = bias.to(kGpu);
      kernels::ConvEpilogue ep;
      ep.bias = bias.view().data, ep.act = kernels::Act::Leaky, ep.slope = 0.2;
      kernels::ConvEpilogue ep_g = ep;
      ep_g.bias = bias_g.view().data;
      Tensor ya = empty(gy.shape()), yag = full(gy.shape(), 7.0, DType::F32, kGpu);
      cpu().conv2d(g, x.view(), w.view(), ya.view(), ep);
      gpu().conv2d(g, x.to(kGpu).view(), w.to(kGpu).view(), yag.view(), ep_g);
      EXPECT_LT(diff(yag, ya), 2e-3) << "forward with bias and LeakyReLU " << at;
      Tensor gx = empty(x.shape()), gxg = full(x.shape(), 7.0, DType::F32, kGpu);
      cpu().conv2d_input_grad(g, gy.view(), w.view(), gx.view());
      gpu().conv2d_input_grad(g, gy.to(kGpu).view(), w.to(kGpu).view(), gxg.view());
      EXPECT_LT(diff(gxg, gx), 2e-3) << "backward-data " << at;
      Tensor gw = empty(w.shape()), gwg = full(w.shape(), 7.0, DType::F32, kGpu);
      cpu().conv2d_weight_grad(g, x.view(), gy.view(), gw.view());
      gpu().conv2d_weight_grad(g, x.to(kGpu).view(), gy.to(kGpu).view(), gwg.view());
      EXPECT_LT(diff(gwg, gw), 2e-3) << "backward-filter " << at;
    }
  }
  unsetenv("MMGAN_CONV");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaBackendTest, ::testing::Values(DType::F64, DType::F32),
                         [](const auto& info) { return std::string(kernels::dtype_name(info.param)); });

// The index ranges the CUDA adjoints gather over (kernels/pool_geom.h), against brute force on
// the host, so they are checked without a GPU: pool_covering must list exactly the windows that
// hold each input index, linear_taps_reading at least every output whose taps read it.
TEST(PoolGeometry, GatherRangesHoldEveryReader) {
  for (int64_t in = 1; in <= 12; ++in)
    for (int64_t out = 1; out <= 12; ++out)
      for (int64_t y = 0; y < in; ++y) {
        int64_t first, last;
        kernels::pool_covering(y, in, out, 0, 1, 0, true, &first, &last);
        for (int64_t i = 0; i < out; ++i) {
          const kernels::Window1d w = kernels::pool_window(i, in, out, 0, 1, 0, true);
          EXPECT_EQ(w.lo <= y && y < w.hi, first <= i && i < last) << "adaptive " << in << " -> " << out << " y " << y;
        }
      }
  for (int64_t in = 1; in <= 12; ++in)
    for (int64_t k = 1; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t p = 0; 2 * p <= k; ++p) {
          if (in + 2 * p < k) continue;
          const int64_t out = (in + 2 * p - k) / s + 1;
          for (int64_t y = 0; y < in; ++y) {
            int64_t first, last;
            kernels::pool_covering(y, in, out, k, s, p, false, &first, &last);
            for (int64_t i = 0; i < out; ++i) {
              const kernels::Window1d w = kernels::pool_window(i, in, out, k, s, p, false);
              EXPECT_EQ(w.lo <= y && y < w.hi, first <= i && i < last)
                  << "in " << in << " k " << k << " s " << s << " p " << p << " y " << y;
            }
          }
        }
  for (int64_t in = 1; in <= 40; ++in)
    for (int64_t out : {int64_t(1), int64_t(2), int64_t(3), in - 1, in, in + 1, 2 * in + 1, 7 * in + 3, int64_t(299)}) {
      if (out < 1) continue;
      for (int64_t y = 0; y < in; ++y) {
        int64_t first, last;
        kernels::linear_taps_reading(y, in, out, &first, &last);
        for (int64_t i = 0; i < out; ++i) {
          const auto tf = kernels::linear_tap<float>(i, in, out);
          const auto td = kernels::linear_tap<double>(i, in, out);
          if (tf.i0 == y || tf.i1 == y || td.i0 == y || td.i1 == y) {
            EXPECT_TRUE(first <= i && i < last) << "resize " << in << " -> " << out << ": output " << i
                                                << " reads " << y << " outside [" << first << ", " << last << ")";
          }
        }
      }
    }
}

TEST(CudaBackend, HostCopiesRoundTripAndErrorsNameTheDevice) {
  MMGAN_REQUIRE_CUDA();
  Generator g(3);
  const Tensor x = uniform({3, 5}, -1, 1, g);
  EXPECT_EQ(diff(x.to(kGpu).to(Device::cpu()), x), 0.0);
  EXPECT_EQ(x.to(kGpu).device(), kGpu);
  // Mixing devices in one op is an error that names both operands.
  try {
    (void)(x + x.to(kGpu));
    FAIL() << "adding a CPU and a CUDA tensor did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
  }
  try {
    (void)empty({2}, DType::F32, Device::cuda(99));
    FAIL() << "a tensor on cuda:99 did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:99"), std::string::npos) << e.what();
  }
}

TEST(CudaBackend, WithoutAGpuTheErrorSaysSo) {
  if (cuda_available()) GTEST_SKIP() << "this machine has a CUDA device";
  try {
    (void)empty({2}, DType::F32, Device::cuda(0));
    FAIL() << "a CUDA tensor was created without a CUDA device";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mmgan
