// One harness for every op row of tests/op_cases.h: float64 gradcheck and gradgradcheck (central
// differences), the forward value against a naive scalar reference (tests/op_reference.h) and
// against PyTorch, the input gradients against PyTorch, and every backend against the CPU
// reference: value, first and second derivatives on CUDA equal the CPU's (float64 to 1e-10,
// float32 without TF32 to 1e-5; skipped without a GPU). tools/bench_ops.cpp times the same rows.
// A new op gets one row in cases().
#include <functional>

#include "tests/op_cases.h"
#include "tests/test_util.h"

namespace mmgan {
namespace {

using ops_harness::cases;
using ops_harness::make_inputs;
using ops_harness::OpCase;

class OpTest : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpTest, Gradcheck) {
  const OpCase& c = GetParam();
  Generator g(7);
  const auto xs = make_inputs(c, g);
  auto f = [&c](const std::vector<Tensor>& in) { return std::vector<Tensor>{c.fn(in)}; };
  const GradcheckResult r = gradcheck(f, xs, c.check);
  EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
}

TEST_P(OpTest, Gradgradcheck) {
  const OpCase& c = GetParam();
  Generator g(11);
  const auto xs = make_inputs(c, g);
  auto f = [&c](const std::vector<Tensor>& in) { return std::vector<Tensor>{c.fn(in)}; };
  const GradcheckResult r = gradgradcheck(f, xs, c.check);
  EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
}

TEST_P(OpTest, Float32MatchesFloat64) {
  const OpCase& c = GetParam();
  Generator g(5);
  const auto xs = make_inputs(c, g);
  std::vector<Tensor> xs32;
  for (const Tensor& x : xs) xs32.push_back(x.detach().to(DType::F32));
  NoGradGuard ng;
  const Tensor y64 = c.fn(xs), y32 = c.fn(xs32);
  EXPECT_EQ(y32.dtype(), DType::F32);
  EXPECT_LT(test::rel_error(y32.to_vector(), y64.to_vector()), 1e-6) << c.name;
}

// The float64 forward against the row's plain-loop reference: shape and values (to rounding:
// the reference sums in another order).
TEST_P(OpTest, MatchesNaiveReference) {
  const OpCase& c = GetParam();
  ASSERT_TRUE(c.ref) << c.name << " has no reference";
  Generator g(3);
  const auto xs = make_inputs(c, g);
  std::vector<ref::Arr> hs;
  for (const Tensor& x : xs) hs.push_back(ref::host(x));
  NoGradGuard ng;
  const Tensor y = c.fn(xs);
  const ref::Arr want = c.ref(hs);
  ASSERT_EQ(shape_str(y.shape()), shape_str(want.shape)) << c.name;
  EXPECT_LT(test::rel_error(y.to_vector(), want.v), 1e-12) << c.name << ": the forward differs from its reference";
}

TEST_P(OpTest, CudaMatchesCpu) {
  MMGAN_REQUIRE_CUDA();
  const OpCase& c = GetParam();
  const ExactFloat32Scope exact;
  // The value, the defined first derivatives, then the defined second ones, as host vectors.
  auto tower = [&c](Device d, DType t) {
    const auto r = ops_harness::OpDerivatives(c, d, t).run(2);
    std::vector<std::vector<double>> out{r.value.to_vector()};
    for (const auto* gs : {&r.first, &r.second})
      for (const Tensor& g : *gs)
        if (g.defined()) out.push_back(g.to_vector());
    return out;
  };
  for (const auto& [t, tol] : {std::pair{DType::F64, 1e-10}, std::pair{DType::F32, 1e-5}}) {
    const auto cpu = tower(Device::cpu(), t);
    const auto gpu = tower(Device::cuda(0), t);
    ASSERT_EQ(cpu.size(), gpu.size()) << c.name << ": the CUDA graph computed a different set of derivatives";
    for (size_t k = 0; k < cpu.size(); ++k)
      EXPECT_LT(test::rel_error(gpu[k], cpu[k]), tol)
          << c.name << " " << kernels::dtype_name(t) << ": " << (k == 0 ? "value" : "derivative " + std::to_string(k))
          << " differs from the CPU's";
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpTest, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// Adds c's inputs xs, its output and its input gradients for a random cotangent to st, under the
// names tests/oracle/ops.py reads.
void record_case(SafeTensors& st, const OpCase& c, const std::vector<Tensor>& xs, Generator& g) {
  const Tensor y = c.fn(xs);
  const Tensor v = test::uniform(y.shape(), -1, 1, g);
  std::vector<Tensor> wrt;
  for (const Tensor& x : xs)
    if (x.requires_grad()) wrt.push_back(x);
  const auto gs = grad({y}, wrt, {v});
  for (size_t i = 0; i < xs.size(); ++i) st.add(c.name + ".in" + std::to_string(i), xs[i].detach());
  st.add(c.name + ".out", y.detach());
  st.add(c.name + ".v", v);
  size_t k = 0;
  for (size_t i = 0; i < xs.size(); ++i)
    if (xs[i].requires_grad()) st.add(c.name + ".grad" + std::to_string(i), gs[k++]);
}

// Every op's value and input gradients (for a random cotangent) against PyTorch in float64.
TEST(OpsTorchParity, EveryOpMatchesPyTorch) {
  MMGAN_REQUIRE_TORCH();
  SafeTensors st;
  Generator g(99);
  for (const OpCase& c : cases()) record_case(st, c, make_inputs(c, g), g);
  const auto dir = test::temp_dir("ops");
  save_safetensors((dir / "ops.safetensors").string(), st);
  test::run_oracle("ops.py", (dir / "ops.safetensors").string());
}

// Ties in a max-pooling window: the gradient goes to the first maximum in row-major window order,
// as in PyTorch (its CPU kernel keeps the first of equal values), and max_pool2d_backward's
// derivative gathers from the same positions. Inputs drawn from {-1, 0, 1}, so most windows tie.
TEST(MaxPoolTies, FirstMaximumAsPyTorch) {
  MMGAN_REQUIRE_TORCH();
  Generator g(23);
  auto ties = [&g](const Shape& s, bool req) {
    std::vector<double> v = test::uniform(s, -1, 2, g).to_vector();
    for (double& e : v) e = std::floor(e);
    Tensor t = from_vector(v, s, DType::F64);
    if (req) t.requires_grad_(true);
    return t;
  };
  auto u = [](auto f) { return [f](const std::vector<Tensor>& x) { return f(x[0]); }; };
  const std::vector<std::pair<OpCase, std::vector<Tensor>>> cs = {
      {{"max_pool2d_ties_k3s2", {}, u([](const Tensor& x) { return max_pool2d(x, PoolParams(3, 2)); })},
       {ties({2, 3, 7, 6}, true)}},
      {{"max_pool2d_ties_k3s1p1", {}, u([](const Tensor& x) { return max_pool2d(x, PoolParams(3, 1, 1)); })},
       {ties({2, 3, 5, 4}, true)}},
      {{"max_pool2d_ties_k2x3s1x2p1", {}, u([](const Tensor& x) {
          return max_pool2d(x, PoolParams(2, 3, 1, 2, 1, 1));
        })},
       {ties({2, 2, 5, 6}, true)}},
      {{"max_pool2d_backward_ties",
        {},
        [](const std::vector<Tensor>& x) { return max_pool2d_backward(x[0], x[1], PoolParams(3, 2)); }},
       {test::uniform({2, 3, 3, 2}, -1, 1, g, true), ties({2, 3, 7, 6}, false)}},
  };
  SafeTensors st;
  for (const auto& [c, xs] : cs) record_case(st, c, xs, g);
  const auto dir = test::temp_dir("pool-ties");
  save_safetensors((dir / "ties.safetensors").string(), st);
  test::run_oracle("ops.py", (dir / "ties.safetensors").string());
}

}  // namespace
}  // namespace mmgan

namespace mmgan {
namespace {

// Compositions: n(x, W) = ||grad_x f(x)|| per sample for a tanh MLP critic f, for every norm of
// the penalty. gradcheck checks d n / d(x, W) (second derivatives of f); gradgradcheck checks the
// third derivatives.
std::string row_op_name(kernels::RowOp op) {
  const char* names[] = {"L1", "L2", "LInf", "SmoothMax", "LogSumExp"};
  return names[int(op)];
}

class PenaltyNormComposition : public ::testing::TestWithParam<kernels::RowOp> {};

TEST_P(PenaltyNormComposition, GradcheckAndGradgradcheck) {
  const kernels::RowOp op = GetParam();
  Generator g(31);
  const std::vector<Tensor> inputs = {test::uniform({3, 2, 2}, -1, 1, g, true),  // x: batch 3, 2x2 "images"
                                      test::uniform({5, 4}, -1, 1, g, true), test::uniform({5}, -0.5, 0.5, g, true),
                                      test::uniform({1, 5}, -1, 1, g, true)};
  auto f = [op](const std::vector<Tensor>& in) {
    auto critic = [&](const Tensor& x) { return linear(tanh(linear(flatten(x, 1), in[1], in[2])), in[3]); };
    GradOptions go;
    go.create_graph = true;
    const Tensor gx = grad({sum(critic(in[0]))}, {in[0]}, {}, go)[0];
    return std::vector<Tensor>{reduce_per_sample(gx, op, 2.0)};
  };
  const GradcheckResult r1 = gradcheck(f, inputs);
  EXPECT_TRUE(r1.ok) << r1.message;
  const GradcheckResult r2 = gradgradcheck(f, inputs);
  EXPECT_TRUE(r2.ok) << r2.message;
}

INSTANTIATE_TEST_SUITE_P(EveryNorm, PenaltyNormComposition,
                         ::testing::Values(kernels::RowOp::L1, kernels::RowOp::L2, kernels::RowOp::LInf,
                                           kernels::RowOp::SmoothMax, kernels::RowOp::LogSumExp),
                         [](const auto& info) { return row_op_name(info.param); });

// A NaN must survive every op that selects, as in PyTorch: a diverged network has to show up in the
// loss, never be turned into a finite value (the trainer's NaN stop relies on it).
TEST(NanPropagation, SelectingOpsKeepNaN) {
  const double nan = std::nan("");
  const Tensor x = from_vector(std::vector<double>{nan, 1.0}, {2}, DType::F64);
  const Tensor y = from_vector(std::vector<double>{0.5, nan}, {2}, DType::F64);
  for (const Tensor& r : {relu(x), leaky_relu(x, 0.2), clamp(x, -1, 1), maximum(x, y), minimum(x, y), abs(x),
                          linf_norm_per_sample(x.reshape({1, 2})), amax(x)})
    EXPECT_TRUE(std::isnan(r.to_vector()[0])) << r.str();
  EXPECT_TRUE(std::isnan(max_pool2d(x.reshape({1, 1, 1, 2}), PoolParams(1, 2, 1, 2, 0, 0)).to_vector()[0]));
  EXPECT_TRUE(std::isnan(max_pool2d(y.reshape({1, 1, 1, 2}), PoolParams(1, 2, 1, 2, 0, 0)).to_vector()[0]));
  EXPECT_TRUE(std::isnan(maximum(y, x).to_vector()[1]));
  EXPECT_TRUE(std::isnan(minimum(y, x).to_vector()[1]));
}

// Batches whose column matrix exceeds the CPU conv's budget (2^24 elements) go through im2col in
// chunks of images (here 7 + 2, then 1 + 1 + 1): the result must equal the direct sum in float64.
TEST(ConvChunks, LargeBatchesEqualTheDirectSum) {
  struct Case {
    Shape x, w;
    ConvParams p;
  };
  for (const Case& c : {Case{{9, 64, 64, 64}, {2, 64, 3, 3}, ConvParams(1, 1)},
                        Case{{3, 64, 128, 128}, {1, 64, 3, 3}, ConvParams(1, 1)}}) {
    Generator g(13);
    const Tensor x = test::uniform(c.x, -1, 1, g, false, DType::F32),
                 w = test::uniform(c.w, -1, 1, g, false, DType::F32);
    const Tensor y = conv2d(x, w, {}, c.p);
    const int64_t N = c.x[0], C = c.x[1], H = c.x[2], W = c.x[3], O = c.w[0];
    ASSERT_EQ(shape_str(y.shape()), shape_str(Shape{N, O, H, W}));
    const std::vector<double> xv = x.to_vector(), wv = w.to_vector(), yv = y.to_vector();
    double worst = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t i = 0; i < H; i += 7)  // a sparse grid of outputs, borders included
          for (int64_t j = 0; j < W; j += (j == 0 || j >= W - 2 ? 1 : 5)) {
            double sum = 0;
            for (int64_t ch = 0; ch < C; ++ch)
              for (int64_t a = 0; a < 3; ++a)
                for (int64_t b = 0; b < 3; ++b) {
                  const int64_t hi = i - 1 + a, wi = j - 1 + b;
                  if (hi >= 0 && hi < H && wi >= 0 && wi < W)
                    sum += xv[size_t(((n * C + ch) * H + hi) * W + wi)] * wv[size_t(((o * C + ch) * 3 + a) * 3 + b)];
                }
            worst = std::max(worst, std::fabs(yv[size_t(((n * O + o) * H + i) * W + j)] - sum));
          }
    EXPECT_LT(worst, 1e-4) << shape_str(c.x);
  }
}

// The fused epilogue computes exactly what the separate ops do (float32, every CPU output path:
// batch > 1 through the permuting copy, batch 1 and 1x1 convs in place), so fusing a model's
// Conv2d + activation changes no bit of its training.
TEST(ConvAct, EqualsConvThenActivationBitForBit) {
  struct Case {
    Shape x, w;
    ConvParams p;
  };
  for (const Case& c :
       {Case{{4, 3, 9, 8}, {5, 3, 4, 4}, ConvParams(2, 1)}, Case{{1, 3, 9, 8}, {5, 3, 3, 3}, ConvParams(1, 1)},
        Case{{3, 6, 5, 5}, {4, 6, 1, 1}, ConvParams()}}) {
    Generator g(21);
    const Tensor x = test::uniform(c.x, -1, 1, g, false, DType::F32),
                 w = test::uniform(c.w, -1, 1, g, false, DType::F32);
    const Tensor b = test::uniform({c.w[0]}, -1, 1, g, false, DType::F32);
    for (const double slope : {0.0, 0.2})
      for (const bool bias : {false, true}) {
        const Tensor bb = bias ? b : Tensor(), z = conv2d(x, w, bb, c.p);
        const Tensor want = slope == 0 ? relu(z) : leaky_relu(z, slope);
        EXPECT_EQ(conv2d_act(x, w, bb, c.p, slope).to_vector(), want.to_vector())
            << shape_str(c.x) << " slope " << slope << " bias " << bias;
      }
  }
}

// The same for a small critic of the paper's kind: conv (stride 2) -> BatchNorm in train mode ->
// LeakyReLU -> conv -> sum, with the L-infinity norm of the input gradient. BatchNorm couples the
// samples, so each sample's norm depends on every sample's input: the checks cover that coupling.
TEST(ConvBatchNormPenaltyComposition, GradcheckAndGradgradcheck) {
  Generator g(41);
  const std::vector<Tensor> inputs = {test::uniform({3, 2, 4, 4}, -1, 1, g, true),
                                      test::uniform({3, 2, 3, 3}, -1, 1, g, true),
                                      test::uniform({3}, 0.5, 1.5, g, true), test::uniform({3}, -0.5, 0.5, g, true),
                                      test::uniform({1, 3, 2, 2}, -1, 1, g, true)};
  auto f = [](const std::vector<Tensor>& in) {
    auto critic = [&](const Tensor& x) {
      const Tensor h = conv2d(x, in[1], {}, ConvParams(2, 1));
      return conv2d(leaky_relu(batch_norm2d(h, in[2], in[3], {}, {}, true), 0.2), in[4]);
    };
    GradOptions go;
    go.create_graph = true;
    const Tensor gx = grad({sum(critic(in[0]))}, {in[0]}, {}, go)[0];
    return std::vector<Tensor>{linf_norm_per_sample(gx)};
  };
  const GradcheckResult r1 = gradcheck(f, inputs);
  EXPECT_TRUE(r1.ok) << r1.message;
  const GradcheckResult r2 = gradgradcheck(f, inputs);
  EXPECT_TRUE(r2.ok) << r2.message;
}

}  // namespace
}  // namespace mmgan
