// The op rows: one per op (or per path of an op), as ggml's test-backend-ops has one case per op.
// A row is the whole story of an op: its inputs (shapes and domains), the engine call, a naive
// reference for its forward value (tests/op_reference.h) and, where the test shapes are too small
// to time, the shapes it is benchmarked at. tests/test_ops.cpp runs every row through gradcheck,
// gradgradcheck, float32 vs float64, the naive reference, PyTorch parity (the row's name is the key
// of its formula in tests/oracle/ops.py) and CUDA vs CPU; tools/bench_ops.cpp times every row's
// forward, forward + backward and double backward on every backend. A new op gets one row here.
// Engine-only (no GoogleTest), so the benchmark includes it too.
#pragma once
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "engine/gradcheck.h"
#include "engine/mmgan.h"
#include "tests/op_reference.h"

namespace mmgan::ops_harness {

// Const and PositiveConst: inputs that are not differentiated (running statistics, u and v).
// Distinct: a random permutation of values spaced 3 / numel apart, so no window of a max pool
// holds a near-tie that finite differences could cross.
enum class Domain { Any, Positive, AwayFromZero, Mask, Const, PositiveConst, Distinct };

struct OpCase {
  std::string name;  // also the key of the PyTorch formula in tests/oracle/ops.py
  std::vector<std::pair<Shape, Domain>> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  std::function<ref::Arr(const std::vector<ref::Arr>&)> ref = {};  // the forward as plain loops
  std::vector<Shape> perf = {};  // the benchmark's input shapes (empty: the test shapes)
  GradcheckOptions check = {};   // finite differences (the defaults but for lossy rows)
};

inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

// The outputs of a multi-output op as one vector.
inline Tensor flat(const std::vector<Tensor>& outs) {
  std::vector<Tensor> parts;
  for (const Tensor& t : outs) parts.push_back(t.reshape({-1}));
  return concat(parts, 0);
}

// The device a to_device row crosses to and back from: the other of the CPU and the GPU (without a
// GPU, the same device: the row is then the op between the transfers).
inline Device other_device(Device d) {
  if (!cuda_available()) return d;
  return d.type == DeviceType::CPU ? Device::cuda(0) : Device::cpu();
}
inline DType other_dtype(DType t) { return t == DType::F64 ? DType::F32 : DType::F64; }

// An elementwise row: the engine op, and the formula each value must satisfy.
inline OpCase pointwise(std::string name, Domain d, Tensor (*op)(const Tensor&), double (*f)(double)) {
  return {std::move(name),
          {{{3, 4}, d}},
          [op](const std::vector<Tensor>& x) { return op(x[0]); },
          [f](const std::vector<ref::Arr>& x) { return ref::map(x[0], f); },
          {{32, 128, 16, 16}}};
}

// clang-format off (a hand-aligned table)
inline std::vector<OpCase> cases() {
  using D = Domain;
  using ref::Arr;
  using V = const std::vector<Arr>&;
  const Shape s34{3, 4}, s234{2, 3, 4}, s323{3, 2, 3};
  // Benchmark shapes of DCGAN32's activations (batch 32): D's first layer, a [32, 128 * 256] matrix.
  const Shape act{32, 128, 16, 16}, mat{4096, 256}, img{32, 3, 32, 32};
  // Rows of 1, 2 and 3 inputs; the same wrappers serve the engine call and the reference.
  auto u = [](auto f) { return [f](const auto& x) { return f(x[0]); }; };
  auto b = [](auto f) { return [f](const auto& x) { return f(x[0], x[1]); }; };
  auto t = [](auto f) { return [f](const auto& x) { return f(x[0], x[1], x[2]); }; };
  auto sq = [](const Arr& x) { return ref::map(x, [](double v) { return v * v; }); };
  auto plus = [](double p, double q) { return p + q; };
  return {
      pointwise(
          "neg", D::Any, [](const Tensor& x) { return neg(x); }, [](double x) { return -x; }),
      pointwise(
          "exp", D::Any, [](const Tensor& x) { return exp(x); }, [](double x) { return std::exp(x); }),
      pointwise(
          "log", D::Positive, [](const Tensor& x) { return log(x); }, [](double x) { return std::log(x); }),
      pointwise(
          "abs", D::AwayFromZero, [](const Tensor& x) { return abs(x); }, [](double x) { return std::fabs(x); }),
      pointwise(
          "sqrt", D::Positive, [](const Tensor& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); }),
      pointwise(
          "square", D::Any, [](const Tensor& x) { return square(x); }, [](double x) { return x * x; }),
      pointwise(
          "reciprocal", D::AwayFromZero, [](const Tensor& x) { return reciprocal(x); }, [](double x) { return 1 / x; }),
      pointwise(
          "pow3", D::Any, [](const Tensor& x) { return pow(x, 3.0); }, [](double x) { return x * x * x; }),
      pointwise(
          "pow_half", D::Positive, [](const Tensor& x) { return pow(x, 0.5); }, [](double x) { return std::sqrt(x); }),
      pointwise(
          "pow_m1_5", D::Positive, [](const Tensor& x) { return pow(x, -1.5); },
          [](double x) { return 1 / (x * std::sqrt(x)); }),
      pointwise(
          "clamp", D::Any, [](const Tensor& x) { return clamp(x, -0.5, 0.5); },
          [](double x) { return x < -0.5  ? -0.5
                                : x > 0.5 ? 0.5
                                          : x; }),
      pointwise(
          "relu", D::AwayFromZero, [](const Tensor& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0.0; }),
      pointwise(
          "leaky_relu", D::AwayFromZero, [](const Tensor& x) { return leaky_relu(x, 0.2); },
          [](double x) { return x > 0 ? x : 0.2 * x; }),
      pointwise(
          "tanh", D::Any, [](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }),
      pointwise(
          "sigmoid", D::Any, [](const Tensor& x) { return sigmoid(x); },
          [](double x) { return 1 / (1 + std::exp(-x)); }),
      pointwise(
          "softplus", D::Any, [](const Tensor& x) { return softplus(x * 3.0); },
          [](double x) { return std::log(1 + std::exp(3 * x)); }),
      pointwise(
          "log_sigmoid", D::Any, [](const Tensor& x) { return log_sigmoid(x * 3.0); },
          [](double x) { return -std::log(1 + std::exp(-3 * x)); }),
      {"add_bcast",
       {{s34, D::Any}, {{4}, D::Any}},
       b([](const Tensor& x, const Tensor& y) { return x + y; }),
       b([=](const Arr& x, const Arr& y) { return ref::binary(x, y, plus); }),
       {mat, {256}}},
      {"sub_bcast",
       {{s234, D::Any}, {{3, 1}, D::Any}},
       b([](const Tensor& x, const Tensor& y) { return x - y; }),
       b([](const Arr& x, const Arr& y) { return ref::binary(x, y, [](double p, double q) { return p - q; }); }),
       {{32, 128, 256}, {128, 1}}},
      {"mul_bcast",
       {{s34, D::Any}, {{3, 1}, D::Any}},
       b([](const Tensor& x, const Tensor& y) { return x * y; }),
       b([](const Arr& x, const Arr& y) { return ref::binary(x, y, [](double p, double q) { return p * q; }); }),
       {mat, {4096, 1}}},
      {"div_bcast",
       {{s34, D::Any}, {{4}, D::Positive}},
       b([](const Tensor& x, const Tensor& y) { return x / y; }),
       b([](const Arr& x, const Arr& y) { return ref::binary(x, y, [](double p, double q) { return p / q; }); }),
       {mat, {256}}},
      {"maximum",
       {{s34, D::Any}, {s34, D::Any}},
       b([](const Tensor& x, const Tensor& y) { return maximum(x, y); }),
       b([](const Arr& x, const Arr& y) {
         return ref::binary(x, y, [](double p, double q) { return p > q ? p : q; });
       }),
       {mat, mat}},
      {"minimum",
       {{s34, D::Any}, {s34, D::Any}},
       b([](const Tensor& x, const Tensor& y) { return minimum(x, y); }),
       b([](const Arr& x, const Arr& y) {
         return ref::binary(x, y, [](double p, double q) { return p < q ? p : q; });
       }),
       {mat, mat}},
      {"scalar_arith",
       {{s34, D::Any}},
       u([](const Tensor& x) { return 3.0 - (x + 1.5) * -2.0 / 4.0; }),
       u([](const Arr& x) { return ref::map(x, [](double v) { return 3.0 + (v + 1.5) / 2; }); }),
       {mat}},
      {"where",
       {{s34, D::Mask}, {s34, D::Any}, {{4}, D::Any}},
       t([](const Tensor& c, const Tensor& x, const Tensor& y) { return where(c, x, y); }),
       [](V x) { return ref::broadcast([](const std::vector<double>& v) { return v[0] != 0 ? v[1] : v[2]; }, x); },
       {mat, mat, {256}}},
      {"sum_all",
       {{s234, D::Any}},
       u([](const Tensor& x) { return sum(square(x)); }),
       u([=](const Arr& x) { return ref::sum(sq(x)); }),
       {{32, 128, 256}}},
      {"sum_dim1_keep",
       {{s234, D::Any}},
       u([](const Tensor& x) { return sum(square(x), {1}, true); }),
       u([=](const Arr& x) { return ref::sum(sq(x), {1}, true); }),
       {{32, 128, 256}}},
      {"sum_dims02",
       {{s234, D::Any}},
       u([](const Tensor& x) {
         return sum(square(x), {0, 2});
       }),
       u([=](const Arr& x) {
         return ref::sum(sq(x), {0, 2});
       }),
       {{32, 128, 256}}},
      {"mean_dim_neg1",
       {{s234, D::Any}},
       u([](const Tensor& x) { return mean(square(x), {-1}); }),
       u([=](const Arr& x) {
         return ref::map(ref::sum(sq(x), {-1}), [&x](double s) { return s / double(x.shape.back()); });
       }),
       {{32, 128, 256}}},
      {"amax_dim1",
       {{s234, D::Any}},
       u([](const Tensor& x) { return amax(x, {1}); }),
       u([](const Arr& x) { return ref::amax(x, {1}); }),
       {{32, 128, 256}}},
      {"amax_all",
       {{s234, D::Any}},
       u([](const Tensor& x) { return amax(x); }),
       u([](const Arr& x) { return ref::amax(x); }),
       {{32, 128, 256}}},
      // The penalty's per-sample norms, over every value of a sample.
      {"l1_norm",
       {{s323, D::AwayFromZero}},
       u([](const Tensor& x) { return l1_norm_per_sample(x); }),
       u([](const Arr& x) {
         return ref::per_sample(x, [](const std::vector<double>& r) {
           double s = 0;
           for (double e : r) s += std::fabs(e);
           return s;
         });
       }),
       {img}},
      {"l2_norm",
       {{s323, D::Any}},
       u([](const Tensor& x) { return l2_norm_per_sample(x); }),
       u([](const Arr& x) {
         return ref::per_sample(x, [](const std::vector<double>& r) {
           double s = 0;
           for (double e : r) s += e * e;
           return std::sqrt(s);
         });
       }),
       {img}},
      {"linf_norm",
       {{s323, D::AwayFromZero}},
       u([](const Tensor& x) { return linf_norm_per_sample(x); }),
       u([](const Arr& x) {
         return ref::per_sample(x, [](const std::vector<double>& r) {
           double m = 0;
           for (double e : r) m = std::max(m, std::fabs(e));
           return m;
         });
       }),
       {img}},
      {"smooth_max_s1",
       {{s323, D::Any}},
       u([](const Tensor& x) { return smooth_max_per_sample(x, 1.0); }),
       u([](const Arr& x) { return ref::smooth_max(x, 1.0); }),
       {img}},
      {"smooth_max_s3",
       {{s323, D::Any}},
       u([](const Tensor& x) { return smooth_max_per_sample(x, 3.0); }),
       u([](const Arr& x) { return ref::smooth_max(x, 3.0); }),
       {img}},
      {"logsumexp",
       {{s323, D::Any}},
       u([](const Tensor& x) { return logsumexp_per_sample(x); }),
       u([](const Arr& x) {
         return ref::per_sample(x, [](const std::vector<double>& r) {
           double s = 0;
           for (double e : r) s += std::exp(e);
           return std::log(s);
         });
       }),
       {img}},
      // Views, each followed (or preceded) by square so the backward has work to route.
      {"reshape",
       {{s34, D::Any}},
       u([](const Tensor& x) {
         return square(x).reshape({2, -1});
       }),
       u([=](const Arr& x) {
         return ref::reshape(sq(x), {2, 6});
       })},
      {"flatten", {{s234, D::Any}}, u([](const Tensor& x) { return flatten(square(x), 1); }), u([=](const Arr& x) {
         return ref::reshape(sq(x), {2, 12});
       })},
      {"transpose",
       {{s234, D::Any}},
       u([](const Tensor& x) { return square(x.transpose(0, 2)).contiguous(); }),
       u([=](const Arr& x) {
         return sq(ref::permute(x, {2, 1, 0}));
       }),
       {{32, 128, 256}}},
      {"permute",
       {{s234, D::Any}},
       u([](const Tensor& x) {
         return square(permute(x, {2, 0, 1}));
       }),
       u([=](const Arr& x) {
         return sq(ref::permute(x, {2, 0, 1}));
       }),
       {{32, 128, 256}}},
      {"expand",
       {{{3, 1}, D::Any}},
       u([](const Tensor& x) {
         return square(x.expand({2, 3, 4}));
       }),
       u([=](const Arr& x) {
         return sq(ref::expand(x, {2, 3, 4}));
       })},
      {"unsqueeze_squeeze",
       {{s34, D::Any}},
       u([](const Tensor& x) { return squeeze(unsqueeze(square(x), 1), 1); }),
       u(sq)},
      {"slice_step2",
       {{{3, 5}, D::Any}},
       u([](const Tensor& x) { return square(slice(x, 1, 1, 5, 2)); }),
       u([=](const Arr& x) { return sq(ref::slice(x, 1, 1, 5, 2)); })},
      {"slice_neg",
       {{{4, 3}, D::Any}},
       u([](const Tensor& x) { return square(slice(x, 0, -3, -1)); }),
       u([=](const Arr& x) { return sq(ref::slice(x, 0, -3, -1)); })},
      {"concat",
       {{s34, D::Any}, {{3, 2}, D::Any}},
       b([](const Tensor& x, const Tensor& y) {
         return square(concat({x, y}, 1));
       }),
       b([=](const Arr& x, const Arr& y) { return sq(ref::concat(x, y, 1)); }),
       {mat, {4096, 128}}},
      {"matmul",
       {{s34, D::Any}, {{4, 2}, D::Any}},
       b([](const Tensor& x, const Tensor& y) { return matmul(x, y); }),
       b([](const Arr& x, const Arr& y) { return ref::matmul(x, y); }),
       {{256, 256}, {256, 256}}},
      {"matmul_transposed",
       {{{4, 3}, D::Any}, {{2, 4}, D::Any}},
       b([](const Tensor& x, const Tensor& y) { return matmul(x.t(), y.t()); }),
       b([](const Arr& x, const Arr& y) { return ref::matmul(ref::transpose(x), ref::transpose(y)); }),
       {{256, 256}, {256, 256}}},
      {"linear",
       {{s34, D::Any}, {{2, 4}, D::Any}, {{2}, D::Any}},
       t([](const Tensor& x, const Tensor& w, const Tensor& c) { return linear(x, w, c); }),
       t([](const Arr& x, const Arr& w, const Arr& c) { return ref::linear(x, w, c); }),
       {{64, 3072}, {256, 3072}, {256}}},
      // The conv family and normalisation: small odd shapes, stride 2, padding 1, non-square, batch 3;
      // benchmarked on DCGAN32 D's second layer ([32, 128, 16, 16] -> [32, 256, 8, 8]).
      {"conv2d_s2p1",
       {{{3, 2, 5, 4}, D::Any}, {{3, 2, 3, 3}, D::Any}, {{3}, D::Any}},
       t([](const Tensor& x, const Tensor& w, const Tensor& c) { return conv2d(x, w, c, ConvParams(2, 1)); }),
       t([](const Arr& x, const Arr& w, const Arr& c) { return ref::conv2d(x, w, &c, ConvParams(2, 1)); }),
       {act, {256, 128, 4, 4}, {256}}},
      {"conv2d_rect",
       {{{2, 2, 5, 6}, D::Any}, {{2, 2, 2, 3}, D::Any}},
       b([](const Tensor& x, const Tensor& w) { return conv2d(x, w, {}, ConvParams(1, 2, 0, 1)); }),
       b([](const Arr& x, const Arr& w) { return ref::conv2d(x, w, nullptr, ConvParams(1, 2, 0, 1)); })},
      {"conv2d_1x1",
       {{{3, 4, 3, 5}, D::Any}, {{2, 4, 1, 1}, D::Any}, {{2}, D::Any}},  // the CPU's per-image GEMM path
       t([](const Tensor& x, const Tensor& w, const Tensor& c) { return conv2d(x, w, c, ConvParams(1, 0)); }),
       t([](const Arr& x, const Arr& w, const Arr& c) { return ref::conv2d(x, w, &c, ConvParams(1, 0)); }),
       {act, {128, 128, 1, 1}, {128}}},
      {"conv_transpose2d",
       {{{3, 2, 3, 2}, D::Any}, {{2, 3, 4, 3}, D::Any}, {{3}, D::Any}},
       t([](const Tensor& x, const Tensor& w, const Tensor& c) {
         return conv_transpose2d(x, w, c, ConvParams(2, 1), 1, 1);
       }),
       t([](const Arr& x, const Arr& w, const Arr& c) {  // (H - 1) s - 2 p + K + output_padding
         return ref::conv_transpose2d(x, w, &c, ConvParams(2, 1), (x.size(2) - 1) * 2 - 2 + w.size(2) + 1,
                                      (x.size(3) - 1) * 2 - 2 + w.size(3) + 1);
       }),
       {{32, 256, 8, 8}, {256, 128, 4, 4}, {128}}},
      {"conv_transpose2d_to",
       {{{3, 2, 3, 2}, D::Any}, {{2, 2, 3, 2}, D::Any}},
       b([](const Tensor& x, const Tensor& w) { return conv_transpose2d_to(x, w, 6, 5, {}, ConvParams(2, 2, 1, 0)); }),
       b([](const Arr& x, const Arr& w) {
         return ref::conv_transpose2d(x, w, nullptr, ConvParams(2, 2, 1, 0), 6, 5);
       })},
      {"conv2d_leaky",
       {{{2, 3, 5, 4}, D::Any}, {{4, 3, 3, 2}, D::Any}, {{4}, D::Any}},
       t([](const Tensor& x, const Tensor& w, const Tensor& c) {
         return conv2d_act(x, w, c, ConvParams(2, 1, 1, 0), 0.2);
       }),
       t([](const Arr& x, const Arr& w, const Arr& c) {
         return ref::map(ref::conv2d(x, w, &c, ConvParams(2, 1, 1, 0)), ref::leaky(0.2));
       }),
       {img, {128, 3, 4, 4}, {128}}},
      // conv2d_act on each of the CPU's three output paths: the permuting copy (batch > 1), in place
      // after one image's GEMM (batch 1), in place after the per-image 1x1 GEMMs.
      {"conv2d_relu_nobias",
       {{{1, 3, 5, 4}, D::Any}, {{4, 3, 3, 3}, D::Any}},
       b([](const Tensor& x, const Tensor& w) { return conv2d_act(x, w, {}, ConvParams(1, 1), 0.0); }),
       b([](const Arr& x, const Arr& w) {
         return ref::map(ref::conv2d(x, w, nullptr, ConvParams(1, 1)), ref::leaky(0));
       })},
      {"conv2d_1x1_leaky",
       {{{3, 4, 3, 5}, D::Any}, {{2, 4, 1, 1}, D::Any}, {{2}, D::Any}},
       t([](const Tensor& x, const Tensor& w, const Tensor& c) { return conv2d_act(x, w, c, {}, 0.1); }),
       t([](const Arr& x, const Arr& w, const Arr& c) {
         return ref::map(ref::conv2d(x, w, &c, {}), ref::leaky(0.1));
       })},
      {"conv2d_weight",
       {{{3, 2, 5, 4}, D::Any}, {{3, 3, 3, 2}, D::Any}},
       b([](const Tensor& x, const Tensor& gy) { return conv2d_weight(x, gy, 3, 3, ConvParams(2, 1)); }),
       b([](const Arr& x, const Arr& gy) { return ref::conv2d_weight(x, gy, 3, 3, ConvParams(2, 1)); }),
       {act, {32, 256, 8, 8}}},
      {"batch_norm_train",
       {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{2}, D::Any}},
       t([](const Tensor& x, const Tensor& w, const Tensor& c) { return batch_norm2d(x, w, c, {}, {}, true); }),
       t([](const Arr& x, const Arr& w, const Arr& c) { return ref::batch_norm_train(x, &w, &c); }),
       {{32, 256, 8, 8}, {256}, {256}}},
      {"batch_norm_leaky_train",
       {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{2}, D::Any}},
       t([](const Tensor& x, const Tensor& w, const Tensor& c) {
         return batch_norm2d_act(x, w, c, {}, {}, true, 0.2);
       }),
       t([](const Arr& x, const Arr& w, const Arr& c) {
         return ref::map(ref::batch_norm_train(x, &w, &c), ref::leaky(0.2));
       }),
       {{32, 256, 8, 8}, {256}, {256}}},
      {"batch_norm_relu_train",
       {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{2}, D::Any}},
       t([](const Tensor& x, const Tensor& w, const Tensor& c) {
         return batch_norm2d_act(x, w, c, {}, {}, true, 0.0);
       }),
       t([](const Arr& x, const Arr& w, const Arr& c) {
         return ref::map(ref::batch_norm_train(x, &w, &c), ref::leaky(0));
       })},
      {"batch_norm_train_noaffine",
       {{{3, 2, 2, 3}, D::Any}},
       u([](const Tensor& x) { return batch_norm2d(x, {}, {}, {}, {}, true); }),
       u([](const Arr& x) { return ref::batch_norm_train(x, nullptr, nullptr); })},
      // The backward op by itself, its three outputs flattened into one vector, so gradcheck
      // checks its double backward and gradgradcheck its third order against finite differences.
      {"batch_norm_backward",
       {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{3, 2, 3, 2}, D::Any}},
       t([](const Tensor& x, const Tensor& w, const Tensor& g) { return flat(batch_norm2d_backward(x, w, g)); }),
       t([](const Arr& x, const Arr& w, const Arr& g) { return ref::batch_norm_backward(x, &w, g); }),
       {{32, 256, 8, 8}, {256}, {32, 256, 8, 8}}},
      {"batch_norm_leaky_backward",
       {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{3, 2, 3, 2}, D::Any}, {{3, 2, 3, 2}, D::Const}},
       [](const std::vector<Tensor>& x) { return flat(batch_norm2d_backward(x[0], x[1], x[2], x[3], 0.2)); },
       [](V x) { return ref::batch_norm_backward(x[0], &x[1], x[2], &x[3], 0.2); }},
      {"batch_norm_backward_noaffine",
       {{{2, 3, 2, 3}, D::Any}, {{2, 3, 2, 3}, D::Any}},
       b([](const Tensor& x, const Tensor& g) { return flat(batch_norm2d_backward(x, {}, g)); }),
       b([](const Arr& x, const Arr& g) { return ref::batch_norm_backward(x, nullptr, g); })},
      {"batch_norm_eval",
       {{{3, 2, 3, 2}, D::Any}, {{2}, D::Any}, {{2}, D::Any}, {{2}, D::Const}, {{2}, D::PositiveConst}},
       [](const std::vector<Tensor>& x) { return batch_norm2d(x[0], x[1], x[2], x[3], x[4], false); },
       [](V x) { return ref::batch_norm(x[0], x[3].v, x[4].v, &x[1], &x[2]); }},
      {"spectral_dim0",
       {{{3, 2, 2, 2}, D::Any}, {{3}, D::Const}, {{8}, D::Const}},
       t([](const Tensor& w, const Tensor& p, const Tensor& q) { return spectral_normalize(w, p, q, 0, false); }),
       t([](const Arr& w, const Arr& p, const Arr& q) { return ref::spectral_normalize(w, p, q, 0); }),
       {{256, 128, 4, 4}, {256}, {2048}}},
      {"spectral_dim1",
       {{{2, 3, 2, 2}, D::Any}, {{3}, D::Const}, {{8}, D::Const}},
       t([](const Tensor& w, const Tensor& p, const Tensor& q) { return spectral_normalize(w, p, q, 1, false); }),
       t([](const Arr& w, const Arr& p, const Arr& q) { return ref::spectral_normalize(w, p, q, 1); })},
      // Pooling and resizing (the FID Inception's ops): small odd shapes, batch 2-3, >= 2 channels;
      // benchmarked on Inception's shapes at batch 8.
      {"max_pool2d_k3s2",
       {{{2, 3, 7, 6}, D::Distinct}},
       u([](const Tensor& x) { return max_pool2d(x, PoolParams(3, 2)); }),
       u([](const Arr& x) { return ref::max_pool2d(x, PoolParams(3, 2)); }),
       {{8, 64, 147, 147}}},
      {"max_pool2d_k3s1p1",
       {{{3, 2, 5, 4}, D::Distinct}},
       u([](const Tensor& x) { return max_pool2d(x, PoolParams(3, 1, 1)); }),
       u([](const Arr& x) { return ref::max_pool2d(x, PoolParams(3, 1, 1)); })},
      {"max_pool2d_backward",
       {{{2, 2, 3, 2}, D::Any}, {{2, 2, 7, 6}, D::Const}},
       b([](const Tensor& gy, const Tensor& x) { return max_pool2d_backward(gy, x, PoolParams(3, 2)); }),
       b([](const Arr& gy, const Arr& x) { return ref::max_pool2d_backward(gy, x, PoolParams(3, 2)); }),
       {{8, 64, 73, 73}, {8, 64, 147, 147}}},
      {"avg_pool2d_k3s1p1_excl",
       {{{2, 3, 5, 4}, D::Any}},
       u([](const Tensor& x) { return avg_pool2d(x, PoolParams(3, 1, 1), false); }),
       u([](const Arr& x) { return ref::avg_pool2d(x, PoolParams(3, 1, 1), false); }),
       {{8, 288, 35, 35}}},
      {"avg_pool2d_k3s1p1_incl",
       {{{2, 3, 5, 4}, D::Any}},
       u([](const Tensor& x) { return avg_pool2d(x, PoolParams(3, 1, 1), true); }),
       u([](const Arr& x) { return ref::avg_pool2d(x, PoolParams(3, 1, 1), true); })},
      {"avg_pool2d_k2x3s2x1",
       {{{3, 2, 7, 6}, D::Any}},
       u([](const Tensor& x) { return avg_pool2d(x, PoolParams(2, 3, 2, 1, 0, 0)); }),
       u([](const Arr& x) { return ref::avg_pool2d(x, PoolParams(2, 3, 2, 1, 0, 0), true); })},
      {"avg_pool2d_k2x3s2x1p1_excl",
       {{{3, 2, 6, 5}, D::Any}},
       u([](const Tensor& x) { return avg_pool2d(x, PoolParams(2, 3, 2, 1, 1, 1), false); }),
       u([](const Arr& x) { return ref::avg_pool2d(x, PoolParams(2, 3, 2, 1, 1, 1), false); })},
      {"adaptive_avg_pool2d_3x2",
       {{{2, 3, 5, 7}, D::Any}},
       u([](const Tensor& x) { return adaptive_avg_pool2d(x, 3, 2); }),
       u([](const Arr& x) { return ref::adaptive_avg_pool2d(x, 3, 2); })},
      {"adaptive_avg_pool2d_1x1",
       {{{2, 3, 5, 7}, D::Any}},
       u([](const Tensor& x) { return adaptive_avg_pool2d(x, 1, 1); }),
       u([](const Arr& x) { return ref::adaptive_avg_pool2d(x, 1, 1); }),
       {{8, 2048, 8, 8}}},
      {"adaptive_avg_pool2d_up",
       {{{2, 2, 3, 4}, D::Any}},
       u([](const Tensor& x) { return adaptive_avg_pool2d(x, 5, 7); }),
       u([](const Arr& x) { return ref::adaptive_avg_pool2d(x, 5, 7); })},
      {"resize_up",
       {{{2, 3, 3, 4}, D::Any}},
       u([](const Tensor& x) { return resize_bilinear(x, 7, 5); }),
       u([](const Arr& x) { return ref::resize_bilinear(x, 7, 5); })},
      {"resize_down",
       {{{2, 2, 7, 6}, D::Any}},
       u([](const Tensor& x) { return resize_bilinear(x, 3, 4); }),
       u([](const Arr& x) { return ref::resize_bilinear(x, 3, 4); })},
      {"resize_5_to_9",
       {{{2, 2, 5, 5}, D::Any}},
       u([](const Tensor& x) { return resize_bilinear(x, 9, 9); }),
       u([](const Arr& x) { return ref::resize_bilinear(x, 9, 9); })},
      {"resize_mixed",
       {{{3, 2, 4, 6}, D::Any}},
       u([](const Tensor& x) { return resize_bilinear(x, 11, 3); }),
       u([](const Arr& x) { return ref::resize_bilinear(x, 11, 3); })},
      {"resize_same",
       {{{2, 2, 3, 4}, D::Any}},
       u([](const Tensor& x) { return resize_bilinear(x, 3, 4); }),
       u([](const Arr& x) { return ref::resize_bilinear(x, 3, 4); })},
      // Moves between dtypes (float64 -> float32 -> float64 rounds, so finite differences take a
      // step far above the rounding; the map is linear, so the step costs no accuracy) and devices.
      {"to_dtype",
       {{s34, D::Any}},
       u([](const Tensor& x) { return to_dtype(to_dtype(x, other_dtype(x.dtype())), x.dtype()); }),
       u([](const Arr& x) { return ref::map(x, [](double v) { return double(float(v)); }); }),
       {act},
       GradcheckOptions{0.125}},
      {"to_device",
       {{s34, D::Any}},
       u([](const Tensor& x) { return to_device(square(to_device(x, other_device(x.device()))), x.device()); }),
       u(sq),
       {act}},
  };
}

// Uniform in [lo, hi), float64 on the CPU.
// clang-format on
inline Tensor draw(const Shape& s, double lo, double hi, Generator& g) {
  Tensor x = empty(s, DType::F64);
  x.uniform_(lo, hi, g);
  return x;
}

// Values -1.5 + 3 (k + 0.5) / numel, k = 0 .. numel - 1, in a random order.
inline Tensor distinct(const Shape& shape, Generator& g) {
  const std::vector<double> u = draw(shape, 0, 1, g).to_vector();
  std::vector<size_t> order(u.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&u](size_t a, size_t b) { return u[a] < u[b]; });
  std::vector<double> v(u.size());
  for (size_t k = 0; k < order.size(); ++k) v[order[k]] = -1.5 + 3.0 * (double(k) + 0.5) / double(v.size());
  return from_vector(v, shape, DType::F64);
}

// A row's inputs, float64 on the CPU, drawn from their domains; the differentiated ones require
// grad. perf: at the benchmark's shapes.
inline std::vector<Tensor> make_inputs(const OpCase& c, Generator& g, bool perf = false) {
  std::vector<Tensor> xs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const Shape& shape = perf && !c.perf.empty() ? c.perf[i] : c.inputs[i].first;
    Tensor x;
    switch (c.inputs[i].second) {
      case Domain::Any: x = draw(shape, -1.5, 1.5, g).requires_grad_(true); break;
      case Domain::Positive: x = draw(shape, 0.5, 2.0, g).requires_grad_(true); break;
      case Domain::AwayFromZero: {  // magnitudes in [0.2, 1.5), random signs: away from kinks at 0
        const Tensor mag = draw(shape, 0.2, 1.5, g), sgn = draw(shape, -1, 1, g);
        x = (mag * sign(sgn)).detach().requires_grad_(true);
        break;
      }
      case Domain::Mask: x = gt(draw(shape, -1, 1, g), 0.0); break;
      case Domain::Const: x = draw(shape, -1.5, 1.5, g); break;
      case Domain::PositiveConst: x = draw(shape, 0.5, 2.0, g); break;
      case Domain::Distinct: x = distinct(shape, g).requires_grad_(true); break;
    }
    xs.push_back(x);
  }
  return xs;
}

// A row's derivatives on one device and dtype, from the harness's inputs (seed 13) and a random
// cotangent and random directions (seed 17): its value; the input gradients for the cotangent;
// the gradients of <those gradients, the directions>, where the op has second derivatives. The
// test compares them across backends; the benchmark times each order.
class OpDerivatives {
 public:
  struct Result {
    Tensor value;
    std::vector<Tensor> first, second;  // undefined where an input is unused
  };

  OpDerivatives(const OpCase& c, Device d, DType t, bool perf = false) : c_(c) {
    Generator g(13);
    for (const Tensor& x : make_inputs(c, g, perf)) {
      Tensor y = x.detach().to(t).to(d);
      if (x.requires_grad()) diff_.push_back(y.requires_grad_(true));
      xs_.push_back(y);
    }
    const Tensor y = c.fn(xs_);
    Generator gc(17);
    cot_ = draw(y.shape(), -1, 1, gc).to(t).to(d);
    const auto g1 = grad({y}, diff_, {cot_}, GradOptions{true, -1, true});
    dirs_.resize(g1.size());
    for (size_t i = 0; i < g1.size(); ++i)
      if (g1[i].defined()) dirs_[i] = draw(diff_[i].shape(), -1, 1, gc).to(t).to(d);
    const Tensor s = inner(g1);
    has_second_ = s.defined() && s.requires_grad();
  }

  bool has_second() const { return has_second_; }
  const std::vector<Tensor>& inputs() const { return xs_; }

  // order 0: the value without recording a graph; 1: and the input gradients; 2: and the second
  // derivatives (the first ones then recorded with create_graph).
  Result run(int order) const {
    Result r;
    if (order == 0) {
      NoGradGuard ng;
      r.value = c_.fn(xs_);
      return r;
    }
    r.value = c_.fn(xs_);
    r.first = grad({r.value}, diff_, {cot_}, GradOptions{order > 1, -1, true});
    const Tensor s = order > 1 ? inner(r.first) : Tensor();
    if (s.defined() && s.requires_grad()) r.second = grad({s}, diff_, {}, GradOptions{false, -1, true});
    return r;
  }

 private:
  // sum_i <g1_i, v_i> over the defined gradients (undefined when none is).
  Tensor inner(const std::vector<Tensor>& g1) const {
    Tensor s;
    for (size_t i = 0; i < g1.size(); ++i) {
      if (!g1[i].defined()) continue;
      const Tensor term = sum(g1[i] * dirs_[i]);
      s = s.defined() ? s + term : term;
    }
    return s;
  }

  const OpCase& c_;
  std::vector<Tensor> xs_, diff_, dirs_;
  Tensor cot_;
  bool has_second_ = false;
};

}  // namespace mmgan::ops_harness
