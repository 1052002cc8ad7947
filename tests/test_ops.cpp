// One harness for every op: float64 gradcheck and gradgradcheck (central differences), the
// forward value and input gradients against PyTorch as an independent oracle, and every backend
// against the CPU reference: value, first and second derivatives on CUDA equal the CPU's
// (float64 to 1e-10, float32 without TF32 to 1e-5; skipped without a GPU). A new op gets one row
// in cases().
#include <functional>

#include "test_util.h"

namespace mmgan {
namespace {

using test::away_from_zero;
using test::uniform;

// Const and PositiveConst: inputs that are not differentiated (running statistics, u and v).
// Distinct: a random permutation of values spaced 3 / numel apart, so no window of a max pool
// holds a near-tie that finite differences could cross.
enum class Domain { Any, Positive, AwayFromZero, Mask, Const, PositiveConst, Distinct };

struct OpCase {
  std::string name;  // also the key of the PyTorch formula in tests/oracle/ops.py
  std::vector<std::pair<Shape, Domain>> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
};

void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

// The outputs of a multi-output op as one vector.
Tensor flat(const std::vector<Tensor>& outs) {
  std::vector<Tensor> parts;
  for (const Tensor& t : outs) parts.push_back(t.reshape({-1}));
  return concat(parts, 0);
}

std::vector<OpCase> cases() {
  using D = Domain;
  const Shape s34{3, 4}, s234{2, 3, 4}, s323{3, 2, 3};
  auto u = [](auto f) { return [f](const std::vector<Tensor>& x) { return f(x[0]); }; };
  auto b = [](auto f) { return [f](const std::vector<Tensor>& x) { return f(x[0], x[1]); }; };
  return {
      {"neg", {{s34, D::Any}}, u([](const Tensor& x) { return neg(x); })},
      {"exp", {{s34, D::Any}}, u([](const Tensor& x) { return exp(x); })},
      {"log", {{s34, D::Positive}}, u([](const Tensor& x) { return log(x); })},
      {"abs", {{s34, D::AwayFromZero}}, u([](const Tensor& x) { return abs(x); })},
      {"sqrt", {{s34, D::Positive}}, u([](const Tensor& x) { return sqrt(x); })},
      {"square", {{s34, D::Any}}, u([](const Tensor& x) { return square(x); })},
      {"reciprocal", {{s34, D::AwayFromZero}}, u([](const Tensor& x) { return reciprocal(x); })},
      {"pow3", {{s34, D::Any}}, u([](const Tensor& x) { return pow(x, 3.0); })},
      {"pow_half", {{s34, D::Positive}}, u([](const Tensor& x) { return pow(x, 0.5); })},
      {"pow_m1_5", {{s34, D::Positive}}, u([](const Tensor& x) { return pow(x, -1.5); })},
      {"clamp", {{s34, D::Any}}, u([](const Tensor& x) { return clamp(x, -0.5, 0.5); })},
      {"relu", {{s34, D::AwayFromZero}}, u([](const Tensor& x) { return relu(x); })},
      {"leaky_relu", {{s34, D::AwayFromZero}}, u([](const Tensor& x) { return leaky_relu(x, 0.2); })},
      {"tanh", {{s34, D::Any}}, u([](const Tensor& x) { return tanh(x); })},
      {"sigmoid", {{s34, D::Any}}, u([](const Tensor& x) { return sigmoid(x); })},
      {"softplus", {{s34, D::Any}}, u([](const Tensor& x) { return softplus(x * 3.0); })},
      {"log_sigmoid", {{s34, D::Any}}, u([](const Tensor& x) { return log_sigmoid(x * 3.0); })},
      {"add_bcast", {{s34, D::Any}, {{4}, D::Any}}, b([](const Tensor& x, const Tensor& y) { return x + y; })},
      {"sub_bcast", {{s234, D::Any}, {{3, 1}, D::Any}}, b([](const Tensor& x, const Tensor& y) { return x - y; })},
      {"mul_bcast", {{s34, D::Any}, {{3, 1}, D::Any}}, b([](const Tensor& x, const Tensor& y) { return x * y; })},
      {"div_bcast", {{s34, D::Any}, {{4}, D::Positive}}, b([](const Tensor& x, const Tensor& y) { return x / y; })},
      {"maximum", {{s34, D::Any}, {s34, D::Any}}, b([](const Tensor& x, const Tensor& y) { return maximum(x, y); })},
      {"minimum", {{s34, D::Any}, {s34, D::Any}}, b([](const Tensor& x, const Tensor& y) { return minimum(x, y); })},
      {"scalar_arith", {{s34, D::Any}}, u([](const Tensor& x) { return 3.0 - (x + 1.5) * -2.0 / 4.0; })},
      {"where", {{s34, D::Mask}, {s34, D::Any}, {{4}, D::Any}},
       [](const std::vector<Tensor>& x) { return where(x[0], x[1], x[2]); }},
      {"sum_all", {{s234, D::Any}}, u([](const Tensor& x) { return sum(square(x)); })},
      {"sum_dim1_keep", {{s234, D::Any}}, u([](const Tensor& x) { return sum(square(x), {1}, true); })},
      {"sum_dims02", {{s234, D::Any}}, u([](const Tensor& x) { return sum(square(x), {0, 2}); })},
      {"mean_dim_neg1", {{s234, D::Any}}, u([](const Tensor& x) { return mean(square(x), {-1}); })},
      {"amax_dim1", {{s234, D::Any}}, u([](const Tensor& x) { return amax(x, {1}); })},
      {"amax_all", {{s234, D::Any}}, u([](const Tensor& x) { return amax(x); })},
      {"l1_norm", {{s323, D::AwayFromZero}}, u([](const Tensor& x) { return l1_norm_per_sample(x); })},
      {"l2_norm", {{s323, D::Any}}, u([](const Tensor& x) { return l2_norm_per_sample(x); })},
      {"linf_norm", {{s323, D::AwayFromZero}}, u([](const Tensor& x) { return linf_norm_per_sample(x); })},
      {"smooth_max_s1", {{s323, D::Any}}, u([](const Tensor& x) { return smooth_max_per_sample(x, 1.0); })},
      {"smooth_max_s3", {{s323, D::Any}}, u([](const Tensor& x) { return smooth_max_per_sample(x, 3.0); })},
      {"logsumexp", {{s323, D::Any}}, u([](const Tensor& x) { return logsumexp_per_sample(x); })},
      {"reshape", {{s34, D::Any}}, u([](const Tensor& x) { return square(x).reshape({2, -1}); })},
      {"flatten", {{s234, D::Any}}, u([](const Tensor& x) { return flatten(square(x), 1); })},
      {"transpose", {{s234, D::Any}}, u([](const Tensor& x) { return square(x.transpose(0, 2)).contiguous(); })},
      {"permute", {{s234, D::Any}}, u([](const Tensor& x) { return square(permute(x, {2, 0, 1})); })},
      {"expand", {{{3, 1}, D::Any}}, u([](const Tensor& x) { return square(x.expand({2, 3, 4})); })},
      {"unsqueeze_squeeze", {{s34, D::Any}}, u([](const Tensor& x) { return squeeze(unsqueeze(square(x), 1), 1); })},
      {"slice_step2", {{{3, 5}, D::Any}}, u([](const Tensor& x) { return square(slice(x, 1, 1, 5, 2)); })},
      {"slice_neg", {{{4, 3}, D::Any}}, u([](const Tensor& x) { return square(slice(x, 0, -3, -1)); })},
      {"concat", {{s34, D::Any}, {{3, 2}, D::Any}}, b([](const Tensor& x, const Tensor& y) { return square(concat({x, y}, 1)); })},
      {"matmul", {{s34, D::Any}, {{4, 2}, D::Any}}, b([](const Tensor& x, const Tensor& y) { return matmul(x, y); })},
      {"matmul_transposed", {{{4, 3}, D::Any}, {{2, 4}, D::Any}},
       b([](const Tensor& x, const Tensor& y) { return matmul(x.t(), y.t()); })},
      {"linear", {{s34, D::Any}, {{2, 4}, D::Any}, {{2}, D::Any}},
       [](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); }},
      // The conv family and normalisation: small odd shapes, stride 2, padding 1, non-square, batch 3.
      {"conv2d_s2p1", {{{3, 2, 5, 4}, D::Any}, {{3, 2, 3, 3}, D::Any}, {{3}, D::Any}},
       [](const std::vector<Tensor>& x) { return conv2d(x[0], x[1], x[2], ConvParams(2, 1)); }},
      {"conv2d_rect", {{{2, 2, 5, 6}, D::Any}, {{2, 2, 2, 3}, D::Any}},
       b([](const Tensor& x, const Tensor& w) { return conv2d(x, w, {}, ConvParams(1, 2, 0, 1)); })},
      {"conv2d_1x1", {{{3, 4, 3, 5}, D::Any}, {{2, 4, 1, 1}, D::Any}, {{2}, D::Any}},  // the CPU's per-image GEMM path
       [](const std::vector<Tensor>& x) { return conv2d(x[0], x[1], x[2], ConvParams(1, 0)); }},
      {"conv_transpose2d", {{{3, 2, 3, 2}, D::Any}, {{2, 3, 4, 3}, D::Any}, {{3}, D::Any}},
       [](const std::vector<Tensor>& x) { return conv_transpose2d(x[0], x[1], x[2], ConvParams(2, 1), 1, 1); }},
      {"conv_transpose2d_to", {{{3, 2, 3, 2}, D::Any}, {{2, 2, 3, 2}, D::Any}},
       b([](const Tensor& x, const Tensor& w) { return conv_transpose2d_to(x, w, 6, 5, {}, ConvParams(2, 2, 1, 0)); })},
      {"conv2d_leaky", {{{2, 3, 5, 4}, D::Any}, {{4, 3, 3, 2}, D::Any}, {{4}, D::Any}},
       [](const std::vector<Tensor>& x) { return conv2d_act(x[0], x[1], x[2], ConvParams(2, 1, 1, 0), 0.2); }},
      // conv2d_act on each of the CPU's three output paths: the permuting copy (batch > 1), in place
      // after one image's GEMM (batch 1), in place after the per-image 1x1 GEMMs.
      {"conv2d_relu_nobias", {{{1, 3, 5, 4}, D::Any}, {{4, 3, 3, 3}, D::Any}},
       b([](const Tensor& x, const Tensor& w) { return conv2d_act(x, w, {}, ConvParams(1, 1), 0.0); })},
      {"conv2d_1x1_leaky", {{{3, 4, 3, 5}, D::Any}, {{2, 4, 1, 1}, D::Any}, {{2}, D::Any}},
       [](const std::vector<Tensor>& x) { return conv2d_act(x[0], x[1], x[2], {}, 0.1); }},
      {"conv2d_weight", {{{3, 2, 5, 4}, D::Any}, {{3, 3, 3, 2}, D::Any}},
       b([](const Tensor& x, const Tensor& gy) { return conv2d_weight(x, gy, 3, 3, ConvParams(2, 1)); })},
      {"batch_norm_train", {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{2}, D::Any}},
       [](const std::vector<Tensor>& x) { return batch_norm2d(x[0], x[1], x[2], {}, {}, true); }},
      {"batch_norm_leaky_train", {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{2}, D::Any}},
       [](const std::vector<Tensor>& x) { return batch_norm2d_act(x[0], x[1], x[2], {}, {}, true, 0.2); }},
      {"batch_norm_relu_train", {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{2}, D::Any}},
       [](const std::vector<Tensor>& x) { return batch_norm2d_act(x[0], x[1], x[2], {}, {}, true, 0.0); }},
      {"batch_norm_train_noaffine", {{{3, 2, 2, 3}, D::Any}},
       u([](const Tensor& x) { return batch_norm2d(x, {}, {}, {}, {}, true); })},
      // The backward op by itself, its three outputs flattened into one vector, so gradcheck
      // checks its double backward and gradgradcheck its third order against finite differences.
      {"batch_norm_backward", {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{3, 2, 3, 2}, D::Any}},
       [](const std::vector<Tensor>& x) { return flat(batch_norm2d_backward(x[0], x[1], x[2])); }},
      {"batch_norm_leaky_backward", {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{3, 2, 3, 2}, D::Any}, {{3, 2, 3, 2}, D::Const}},
       [](const std::vector<Tensor>& x) { return flat(batch_norm2d_backward(x[0], x[1], x[2], x[3], 0.2)); }},
      {"batch_norm_backward_noaffine", {{{2, 3, 2, 3}, D::Any}, {{2, 3, 2, 3}, D::Any}},
       b([](const Tensor& x, const Tensor& g) { return flat(batch_norm2d_backward(x, {}, g)); })},
      {"batch_norm_eval",
       {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{2}, D::Any}, {{2}, D::Const}, {{2}, D::PositiveConst}},
       [](const std::vector<Tensor>& x) { return batch_norm2d(x[0], x[1], x[2], x[3], x[4], false); }},
      {"spectral_dim0", {{{3, 2, 2, 2}, D::Any}, {{3}, D::Const}, {{8}, D::Const}},
       [](const std::vector<Tensor>& x) { return spectral_normalize(x[0], x[1], x[2], 0, false); }},
      {"spectral_dim1", {{{2, 3, 2, 2}, D::Any}, {{3}, D::Const}, {{8}, D::Const}},
       [](const std::vector<Tensor>& x) { return spectral_normalize(x[0], x[1], x[2], 1, false); }},
      // Pooling and resizing (the FID Inception's ops): small odd shapes, batch 2-3, >= 2 channels.
      {"max_pool2d_k3s2", {{{2, 3, 7, 6}, D::Distinct}}, u([](const Tensor& x) { return max_pool2d(x, PoolParams(3, 2)); })},
      {"max_pool2d_k3s1p1", {{{3, 2, 5, 4}, D::Distinct}},
       u([](const Tensor& x) { return max_pool2d(x, PoolParams(3, 1, 1)); })},
      {"max_pool2d_backward", {{{2, 2, 3, 2}, D::Any}, {{2, 2, 7, 6}, D::Const}},
       b([](const Tensor& gy, const Tensor& x) { return max_pool2d_backward(gy, x, PoolParams(3, 2)); })},
      {"avg_pool2d_k3s1p1_excl", {{{2, 3, 5, 4}, D::Any}},
       u([](const Tensor& x) { return avg_pool2d(x, PoolParams(3, 1, 1), false); })},
      {"avg_pool2d_k3s1p1_incl", {{{2, 3, 5, 4}, D::Any}},
       u([](const Tensor& x) { return avg_pool2d(x, PoolParams(3, 1, 1), true); })},
      {"avg_pool2d_k2x3s2x1", {{{3, 2, 7, 6}, D::Any}},
       u([](const Tensor& x) { return avg_pool2d(x, PoolParams(2, 3, 2, 1, 0, 0)); })},
      {"avg_pool2d_k2x3s2x1p1_excl", {{{3, 2, 6, 5}, D::Any}},
       u([](const Tensor& x) { return avg_pool2d(x, PoolParams(2, 3, 2, 1, 1, 1), false); })},
      {"adaptive_avg_pool2d_3x2", {{{2, 3, 5, 7}, D::Any}}, u([](const Tensor& x) { return adaptive_avg_pool2d(x, 3, 2); })},
      {"adaptive_avg_pool2d_1x1", {{{2, 3, 5, 7}, D::Any}}, u([](const Tensor& x) { return adaptive_avg_pool2d(x, 1, 1); })},
      {"adaptive_avg_pool2d_up", {{{2, 2, 3, 4}, D::Any}}, u([](const Tensor& x) { return adaptive_avg_pool2d(x, 5, 7); })},
      {"resize_up", {{{2, 3, 3, 4}, D::Any}}, u([](const Tensor& x) { return resize_bilinear(x, 7, 5); })},
      {"resize_down", {{{2, 2, 7, 6}, D::Any}}, u([](const Tensor& x) { return resize_bilinear(x, 3, 4); })},
      {"resize_5_to_9", {{{2, 2, 5, 5}, D::Any}}, u([](const Tensor& x) { return resize_bilinear(x, 9, 9); })},
      {"resize_mixed", {{{3, 2, 4, 6}, D::Any}}, u([](const Tensor& x) { return resize_bilinear(x, 11, 3); })},
      {"resize_same", {{{2, 2, 3, 4}, D::Any}}, u([](const Tensor& x) { return resize_bilinear(x, 3, 4); })},
  };
}

// Values -1.5 + 3 (k + 0.5) / numel, k = 0 .. numel - 1, in a random order; requires grad.
Tensor distinct(const Shape& shape, Generator& g) {
  const std::vector<double> u = uniform(shape, 0, 1, g).to_vector();
  std::vector<size_t> order(u.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&u](size_t a, size_t b) { return u[a] < u[b]; });
  std::vector<double> v(u.size());
  for (size_t k = 0; k < order.size(); ++k) v[order[k]] = -1.5 + 3.0 * (double(k) + 0.5) / double(v.size());
  return from_vector(v, shape, DType::F64).requires_grad_(true);
}

std::vector<Tensor> make_inputs(const OpCase& c, Generator& g) {
  std::vector<Tensor> xs;
  for (const auto& [shape, dom] : c.inputs) {
    switch (dom) {
      case Domain::Any: xs.push_back(uniform(shape, -1.5, 1.5, g, true)); break;
      case Domain::Positive: xs.push_back(uniform(shape, 0.5, 2.0, g, true)); break;
      case Domain::AwayFromZero: xs.push_back(away_from_zero(shape, 0.2, 1.5, g, true)); break;
      case Domain::Mask: xs.push_back(gt(uniform(shape, -1, 1, g), 0.0)); break;
      case Domain::Const: xs.push_back(uniform(shape, -1.5, 1.5, g)); break;
      case Domain::PositiveConst: xs.push_back(uniform(shape, 0.5, 2.0, g)); break;
      case Domain::Distinct: xs.push_back(distinct(shape, g)); break;
    }
  }
  return xs;
}

class OpTest : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpTest, Gradcheck) {
  const OpCase& c = GetParam();
  Generator g(7);
  const auto xs = make_inputs(c, g);
  auto f = [&c](const std::vector<Tensor>& in) { return std::vector<Tensor>{c.fn(in)}; };
  const GradcheckResult r = gradcheck(f, xs);
  EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
}

TEST_P(OpTest, Gradgradcheck) {
  const OpCase& c = GetParam();
  Generator g(11);
  const auto xs = make_inputs(c, g);
  auto f = [&c](const std::vector<Tensor>& in) { return std::vector<Tensor>{c.fn(in)}; };
  const GradcheckResult r = gradgradcheck(f, xs);
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

// The value, the input gradients for a random cotangent (create_graph) and the second derivatives
// of <gradients, random directions>, computed on device d in dtype t, as host vectors.
std::vector<std::vector<double>> derivative_tower(const OpCase& c, Device d, DType t) {
  Generator g(13);
  std::vector<Tensor> xs, diff;
  for (const Tensor& x : make_inputs(c, g)) {
    Tensor y = x.detach().to(t).to(d);
    if (x.requires_grad()) diff.push_back(y.requires_grad_(true));
    xs.push_back(y);
  }
  const Tensor y = c.fn(xs);
  std::vector<std::vector<double>> out{y.to_vector()};
  Generator gc(17);
  const Tensor cot = uniform(y.shape(), -1, 1, gc).to(t).to(d);
  const auto g1 = grad({y}, diff, {cot}, GradOptions{true, -1, true});
  Tensor inner;
  for (size_t i = 0; i < diff.size(); ++i) {
    if (!g1[i].defined()) continue;
    out.push_back(g1[i].to_vector());
    const Tensor v = uniform(diff[i].shape(), -1, 1, gc).to(t).to(d);
    const Tensor term = sum(g1[i] * v);
    inner = inner.defined() ? inner + term : term;
  }
  if (inner.defined() && inner.requires_grad())
    for (const Tensor& g2 : grad({inner}, diff, {}, GradOptions{false, -1, true}))
      if (g2.defined()) out.push_back(g2.to_vector());
  return out;
}

TEST_P(OpTest, CudaMatchesCpu) {
  MMGAN_REQUIRE_CUDA();
  const OpCase& c = GetParam();
  const ExactFloat32Scope exact;
  for (const auto& [t, tol] : {std::pair{DType::F64, 1e-10}, std::pair{DType::F32, 1e-5}}) {
    const auto cpu = derivative_tower(c, Device::cpu(), t);
    const auto gpu = derivative_tower(c, Device::cuda(0), t);
    ASSERT_EQ(cpu.size(), gpu.size()) << c.name << ": the CUDA graph computed a different set of derivatives";
    for (size_t k = 0; k < cpu.size(); ++k)
      EXPECT_LT(test::rel_error(gpu[k], cpu[k]), tol)
          << c.name << " " << kernels::dtype_name(t) << ": "
          << (k == 0 ? "value" : "derivative " + std::to_string(k)) << " differs from the CPU's";
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
      {{"max_pool2d_ties_k2x3s1x2p1", {}, u([](const Tensor& x) { return max_pool2d(x, PoolParams(2, 3, 1, 2, 1, 1)); })},
       {ties({2, 2, 5, 6}, true)}},
      {{"max_pool2d_backward_ties", {},
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
    const Tensor x = test::uniform(c.x, -1, 1, g, false, DType::F32), w = test::uniform(c.w, -1, 1, g, false, DType::F32);
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
  for (const Case& c : {Case{{4, 3, 9, 8}, {5, 3, 4, 4}, ConvParams(2, 1)}, Case{{1, 3, 9, 8}, {5, 3, 3, 3}, ConvParams(1, 1)},
                        Case{{3, 6, 5, 5}, {4, 6, 1, 1}, ConvParams()}}) {
    Generator g(21);
    const Tensor x = test::uniform(c.x, -1, 1, g, false, DType::F32), w = test::uniform(c.w, -1, 1, g, false, DType::F32);
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
  const std::vector<Tensor> inputs = {test::uniform({3, 2, 4, 4}, -1, 1, g, true), test::uniform({3, 2, 3, 3}, -1, 1, g, true),
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
