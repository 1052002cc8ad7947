// Every call of the CUDA backend against the CPU backend (the reference), in float64 and float32
// (TF32 off), driven by one table: calls() has a row per backend call (kernels/backend_calls.def):
// its name, how to make its inputs (shapes chosen to reach each kernel path: empty, single
// element, odd sizes, sizes past one block and past one grid pass, broadcast (stride 0),
// transposed and sliced operands, NaN inputs, ties) and its tolerance (0: bit for bit, as random
// fills, BatchNorm's apply step and Adam must be). One driver runs each row on both backends and
// compares every output. Skipped without a GPU, but the table itself runs on the CPU against the
// CPU (small trials), so its inputs and calls are exercised everywhere. The op harness in
// test_ops.cpp covers the same calls through the engine, with derivatives.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <set>

#include <gtest/gtest-spi.h>

#include "kernels/conv_igemm.h"
#include "tests/test_util.h"

namespace mmgan {
namespace {

using kernels::BinaryOp;
using kernels::ReduceOp;
using kernels::RowOp;
using kernels::UnaryOp;
using test::uniform;

const Device kGpu = Device::cuda(0);

Backend& cpu() { return backend_for(Device::cpu()); }

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

// Uniform in [lo, hi) from its own seed, in dtype t, on the CPU.
Tensor rnd(DType t, const Shape& s, double lo, double hi, uint64_t seed) {
  Generator g(seed);
  return uniform(s, lo, hi, g).to(t);
}

// floor(x) elementwise, through the host (the engine has no floor op).
Tensor floor_of(const Tensor& x) {
  std::vector<double> v = x.to_vector();
  for (double& e : v) e = std::floor(e);
  return from_vector(v, x.shape(), x.dtype());
}

// Values in {-1, 0, 1} (ties in most windows) with a few NaNs: the max pool's argmax rule.
Tensor ties_and_nans(DType t, const Shape& s) {
  const Tensor x = floor_of(rnd(t, s, -1, 2, 33));
  return where(gt(rnd(t, s, 0, 1, 34), 0.995), full(s, std::numeric_limits<double>::quiet_NaN(), t), x);
}

// x with NaN where a draw exceeds `above`.
Tensor with_nans(const Tensor& x, double above, uint64_t seed) {
  return where(gt(rnd(x.dtype(), x.shape(), 0, 1, seed), above),
               full(x.shape(), std::numeric_limits<double>::quiet_NaN(), x.dtype()), x);
}

// An output of shape s in like's dtype and on its device, filled with 7 so that an element the
// call fails to write shows.
Tensor output(const Tensor& like, const Shape& s) { return full(s, 7.0, like.dtype(), like.device()); }

using Tensors = std::vector<Tensor>;

// One check of a call: its inputs, made on the CPU when the check runs (copied to the device under
// test), and the call itself, run on a backend with the inputs on that backend's device. Calls
// never write their inputs (they clone what they update), so both backends read the same ones.
struct Trial {
  std::string what;  // the shape and parameters, for messages
  int64_t numel;     // its largest tensor's size (the CPU-only run keeps the small trials)
  std::function<Tensors()> make;
  std::function<Tensors(Backend&, const Tensors&)> call;  // the outputs
};

struct CallCase {
  std::string name;                                 // the backend call
  std::function<std::vector<Trial>(DType)> trials;  // how to make its inputs
  double tol_f64, tol_f32;                          // relative error allowed (diff()); 0: bit for bit
  double tol(DType t) const { return t == DType::F64 ? tol_f64 : tol_f32; }
};

void PrintTo(const CallCase& c, std::ostream* os) { *os << c.name; }

// Elementwise maps and reductions: rounding only.
constexpr double kF64 = 1e-12, kF32 = 2e-6;

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

// The conv rows' trials: conv_shapes(), and DCGAN32's layers again at batch 32. f(g, what, numel)
// makes one trial.
template <class F>
std::vector<Trial> conv_trials(F f) {
  std::vector<kernels::ConvGeom> shapes = conv_shapes();
  for (kernels::ConvGeom g : conv_shapes())
    if (g.h >= 4 && g.kh == 4) g.n = 32, shapes.push_back(g);
  std::vector<Trial> out;
  for (const kernels::ConvGeom& g : shapes)
    out.push_back(f(g, shape_str({g.n, g.c, g.h, g.w}) + " * " + shape_str({g.o, g.c, g.kh, g.kw}),
                    std::max(g.n * g.c * g.h * g.w, g.n * g.o * g.oh * g.ow)));
  return out;
}

// Pooling and resizing: Inception's shapes, small odd ones, one past a full grid pass (2^23
// threads), adaptive windows that shrink and grow.
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
Shape pool_in(const kernels::PoolGeom& g) { return {g.n, g.c, g.h, g.w}; }
Shape pool_out(const kernels::PoolGeom& g) { return {g.n, g.c, g.oh, g.ow}; }

// Every geometry (adaptive: false leaves out the adaptive ones, as max pooling has none), each
// with count_include_pad on and off when both_pads; f(g, what, numel) makes one trial.
template <class F>
std::vector<Trial> pool_trials(bool adaptive, bool both_pads, F f) {
  const std::vector<kernels::PoolGeom> geoms = {pool_geom({2, 3, 147, 147}, 3, 3, 2, 2, 0, 0),
                                                pool_geom({2, 5, 35, 35}, 3, 3, 1, 1, 1, 1),
                                                pool_geom({3, 2, 7, 6}, 2, 3, 2, 1, 1, 1),
                                                pool_geom({1, 1, 1, 1}, 1, 1, 1, 1, 0, 0),
                                                pool_geom({2, 3, 8, 8}, 3, 3, 1, 1, 1, 1),
                                                pool_geom({64, 64, 64, 64}, 2, 2, 1, 1, 0, 0),
                                                adaptive_geom({2, 3, 5, 7}, 3, 2),
                                                adaptive_geom({2, 4, 8, 8}, 1, 1),
                                                adaptive_geom({2, 2, 3, 4}, 5, 7),
                                                adaptive_geom({2, 3, 17, 17}, 5, 5)};
  std::vector<Trial> out;
  for (kernels::PoolGeom g : geoms) {
    if (g.adaptive && !adaptive) continue;
    for (bool include_pad : {true, false}) {
      g.count_include_pad = include_pad;
      const std::string what = shape_str(pool_in(g)) + " -> " + shape_str(pool_out(g)) +
                               (both_pads ? " count_include_pad " + std::to_string(include_pad) : "");
      out.push_back(f(g, what, shape_numel(pool_in(g))));
      if (!both_pads) break;
    }
  }
  return out;
}
// The max pool's trials: each geometry on distinct values and on ties with NaNs; f(g, x, rest)
// makes the call's inputs after x.
template <class Call>
std::vector<Trial> max_pool_trials(DType t, std::function<Tensors(const kernels::PoolGeom&)> rest, Call call) {
  std::vector<Trial> out;
  for (bool ties : {false, true})
    for (Trial tr : pool_trials(false, false, [&](const kernels::PoolGeom&g, const std::string&what, int64_t n) {
           auto make = [t, g, ties, rest] {
             Tensors in{ties ? ties_and_nans(t, pool_in(g)) : rnd(t, pool_in(g), -1, 1, 30)};
             for (const Tensor& x : rest(g)) in.push_back(x);
             return in;
           };
           return Trial{what + (ties ? " ties and NaN" : " distinct"), n, make,
                        [g, call](Backend& be, const Tensors& in) { return call(be, g, in); }};
         }))
      out.push_back(tr);
  return out;
}

struct ResizeCase {
  int64_t n, c, h, w, oh, ow;
};
template <class F>
std::vector<Trial> resize_trials(F f) {
  std::vector<Trial> out;
  for (const ResizeCase& r :
       {ResizeCase{2, 3, 32, 32, 299, 299}, ResizeCase{2, 2, 7, 6, 3, 4}, ResizeCase{2, 2, 5, 5, 9, 9},
        ResizeCase{3, 2, 4, 6, 11, 3}, ResizeCase{1, 1, 1, 1, 3, 2}, ResizeCase{2, 2, 3, 4, 3, 4},
        ResizeCase{4, 3, 299, 299, 75, 80}, ResizeCase{40, 64, 64, 64, 65, 63}}) {
    kernels::ResizeGeom g;
    g.n = r.n, g.c = r.c, g.h = r.h, g.w = r.w, g.oh = r.oh, g.ow = r.ow;
    const Shape xs{r.n, r.c, r.h, r.w}, ys{r.n, r.c, r.oh, r.ow};
    out.push_back(f(g, xs, ys, shape_str(xs) + " -> " + shape_str(ys), std::max(shape_numel(xs), shape_numel(ys))));
  }
  return out;
}

// BatchNorm's shapes, with the apply step's activations (none, ReLU, LeakyReLU).
template <class F>
std::vector<Trial> batch_norm_trials(F f) {
  std::vector<Trial> out;
  for (const Shape& sh : {Shape{32, 256, 8, 8}, Shape{3, 5, 7, 1}, Shape{1, 1, 1, 1}, Shape{64, 3, 32, 32}})
    for (const auto& [act, slope] : {std::pair{false, 0.0}, std::pair{true, 0.0}, std::pair{true, 0.2}})
      out.push_back(f(sh, act, slope, shape_str(sh) + " act " + std::to_string(act) + " slope " + std::to_string(slope),
                      shape_numel(sh)));
  return out;
}
// The backward's operands as the forward leaves them: x (an offset mean, as real activations
// have), the output gradient g, the weight, 1/std, the apply step's output y (its mask) and the
// batch mean, all made by the CPU; with_sums: also gw and gb, from the CPU's first kernel.
Tensors batch_norm_grad_inputs(DType t, const Shape& sh, bool act, double slope, bool with_sums) {
  const int64_t c = sh[1], inner = sh[2] * sh[3];
  const Tensor x = rnd(t, sh, -2, 2, 5) + 3.0, g = rnd(t, sh, -1, 1, 8), w = rnd(t, {c}, -1, 1, 9);
  const Tensor is = rnd(t, {c}, 0.5, 2, 10), scale = rnd(t, {c}, -1, 1, 6), shift = rnd(t, {c}, -1, 1, 7);
  Tensor mean = empty({c}, t), var = empty({c}, t), y = empty(sh, t);
  cpu().channel_moments(x.view(), c, inner, mean.view(), var.view());
  cpu().channel_affine(x.view(), scale.view(), shift.view(), c, inner, act, slope, y.view());
  Tensors in{g, y, x, mean, is, w};
  if (with_sums) {
    Tensor gw = empty({c}, t), gb = empty({c}, t);
    kernels::BatchNormGrad a{g.view(), y.view(), x.view(), mean.view(), is.view(), w.view(), c, inner, act, slope};
    cpu().batch_norm_grad_reduce(a, gw.view(), gb.view());
    in.push_back(gw), in.push_back(gb);
  }
  return in;
}
kernels::BatchNormGrad batch_norm_grad_args(const Tensors& in, const Shape& sh, bool act, double slope) {
  return {in[0].view(), in[1].view(), in[2].view(),  in[3].view(), in[4].view(),
          in[5].view(), sh[1],        sh[2] * sh[3], act,          slope};
}

const double* f64_ptr(const Tensor& x) { return static_cast<const double*>(x.view().data); }

// A trial of a call with inputs uniform in [-1, 1) (each a shape and a seed) and one output of
// shape out: call(backend, inputs, y).
template <class Call>
Trial map_trial(DType t, std::string what, int64_t numel, std::vector<std::pair<Shape, uint64_t>> ins, Shape out,
                Call call) {
  return {std::move(what), numel,
          [=] {
            Tensors in;
            for (const auto& [s, seed] : ins) in.push_back(rnd(t, s, -1, 1, seed));
            return in;
          },
          [=](Backend& be, const Tensors& in) {
            const Tensor y = output(in[0], out);
            call(be, in, y.view());
            return Tensors{y};
          }};
}

// The random fills' trials: sizes past a block and a grid pass, keys with and without a base in
// memory; the normal fill with its own key.
std::vector<Trial> random_trials(DType t, bool normal) {
  std::vector<Trial> out;
  for (int64_t n : {1, 5, 4097, 1000001})
    for (bool with_base : {false, true})
      out.push_back(
          {"n " + std::to_string(n) + " base " + std::to_string(with_base), n,
           [] { return Tensors{scalar(1000.0, DType::F64)}; },
           [=](Backend& be, const Tensors& in) {
             const Tensor y = full({n}, 7.0, t, in[0].device());
             const kernels::PhiloxKey k{normal ? 99u : 1234u, normal ? 5u : 77u, with_base ? f64_ptr(in[0]) : nullptr};
             if (normal)
               be.fill_normal(y.view(), k, 0.5, 2);
             else
               be.fill_uniform(y.view(), k, -1, 3);
             return Tensors{y};
           }});
  return out;
}

// Five Adam steps over 45 tensors: the parameters' starting values, then each step's gradients
// (inputs); the call updates copies and returns every p, then every m, then every v.
Trial adam_trial(DType t) {
  std::vector<int64_t> sizes{100003, 1, 7, 4096, 33};
  for (int i = 0; i < 40; ++i) sizes.push_back(1 + 37 * i);
  const size_t k = sizes.size();
  constexpr int64_t kSteps = 5;
  auto skew = [](size_t i) -> int64_t { return i == 2 ? 1 : 0; };  // a view one element in: misaligned for vector loads
  return {
      std::to_string(k) + " tensors, " + std::to_string(kSteps) + " steps", 100004,
      [=] {
        Tensors in;
        for (size_t i = 0; i < k; ++i) in.push_back(rnd(t, {sizes[i] + skew(i)}, -1, 1, 23 + i));
        for (int64_t step = 1; step <= kSteps; ++step)
          for (size_t i = 0; i < k; ++i) in.push_back(rnd(t, {sizes[i]}, -1, 1, 100 + uint64_t(step) * 64 + i));
        return in;
      },
      [=](Backend& be, const Tensors& in) {
        const Device d = in[0].device();
        Tensors p, m, v;
        for (size_t i = 0; i < k; ++i) {
          p.push_back(slice(clone(in[i]), 0, skew(i), sizes[i] + skew(i)));
          m.push_back(zeros({sizes[i]}, t, d)), v.push_back(zeros({sizes[i]}, t, d));
        }
        std::vector<double> steps(k);
        for (int64_t step = 1; step <= kSteps; ++step) {
          for (size_t i = 0; i < k; ++i) steps[i] = double(step + int64_t(i % 3));  // per-tensor step counts
          const Tensor st = from_vector(steps, {int64_t(k)}, DType::F64).to(d);
          const Tensor lr = scalar(2e-4 * double(step), DType::F64).to(d);
          std::vector<kernels::AdamTensor> ts;
          for (size_t i = 0; i < k; ++i)
            ts.push_back({p[i].view().data, in[k * size_t(step) + i].view().data, m[i].view().data, v[i].view().data,
                          sizes[i], f64_ptr(st) + i});
          be.adam_step(t, ts.data(), int(k), kernels::AdamHyper{0.5, 0.999, 1e-8, step == 3 ? 0.01 : 0.0, f64_ptr(lr)});
        }
        Tensors outs = p;
        outs.insert(outs.end(), m.begin(), m.end());
        outs.insert(outs.end(), v.begin(), v.end());
        return outs;
      }};
}

// clang-format off (a hand-aligned table)
std::vector<CallCase> calls() {
  using T = DType;
  return {
      {"unary",
       [](T t) {
         const std::vector<std::tuple<UnaryOp, double, double>> ops = {
             {UnaryOp::Neg, 0, 0},          {UnaryOp::Exp, 0, 0},         {UnaryOp::Log, 0, 0},
             {UnaryOp::Abs, 0, 0},          {UnaryOp::Sign, 0, 0},        {UnaryOp::Sqrt, 0, 0},
             {UnaryOp::Reciprocal, 0, 0},   {UnaryOp::Square, 0, 0},      {UnaryOp::PowScalar, 3, 0},
             {UnaryOp::PowScalar, -1.5, 0}, {UnaryOp::AddScalar, 0.5, 0}, {UnaryOp::MulScalar, -3, 0},
             {UnaryOp::RSubScalar, 2, 0},   {UnaryOp::Clamp, -0.5, 0.7},  {UnaryOp::Relu, 0, 0},
             {UnaryOp::LeakyRelu, 0.2, 0},  {UnaryOp::Tanh, 0, 0},        {UnaryOp::Sigmoid, 0, 0},
             {UnaryOp::Softplus, 0, 0},     {UnaryOp::LogSigmoid, 0, 0},  {UnaryOp::GtScalar, 0.1, 0},
             {UnaryOp::GeScalar, 0.1, 0},   {UnaryOp::LtScalar, 0.1, 0},  {UnaryOp::LeScalar, 0.1, 0},
             {UnaryOp::EqScalar, 0, 0},     {UnaryOp::InRange, -1, 1},    {UnaryOp::LeakyMask, 0.2, 0},
         };
         std::vector<Trial> out;
         for (int64_t n : {0, 1, 257, 1000003})
           for (const auto& [op, a, b] : ops) {
             // Mixed signs, and positive values for the ops defined on x > 0 only.
             const bool positive = op == UnaryOp::Log || op == UnaryOp::Sqrt || (op == UnaryOp::PowScalar && a < 0);
             out.push_back({"op " + std::to_string(int(op)) + " n " + std::to_string(n), n,
                            [t, n, positive] {
                              const Tensor pos = rnd(t, {n}, 0.01, 3, 1);
                              return Tensors{positive ? pos : pos * (gt(rnd(t, {n}, -1, 1, 2), 0.0) * 2.0 - 1.0)};
                            },
                            [op, a, b](Backend& be, const Tensors& in) {
                              const Tensor y = output(in[0], in[0].shape());
                              be.unary(op, a, b, in[0].view(), y.view());
                              return Tensors{y};
                            }});
           }
         return out;
       },
       kF64, kF32},
      {"binary",
       [](T t) {
         struct Case {
           Shape out, a, b;
         };
         std::vector<Trial> trials;
         for (const Case& c : std::vector<Case>{{{0}, {0}, {0}},
                                                {{1}, {1}, {1}},
                                                {{7, 5}, {7, 5}, {7, 5}},
                                                {{7, 5}, {7, 5}, {5}},
                                                {{7, 5}, {7, 1}, {1, 5}},
                                                {{3, 4, 5, 6}, {3, 1, 5, 1}, {4, 1, 6}},
                                                {{64, 128, 8, 8}, {64, 128, 8, 8}, {128, 1, 1}},
                                                {{1 << 20}, {1 << 20}, {1}}})
           for (BinaryOp op :
                {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum, BinaryOp::Minimum,
                 BinaryOp::Gt, BinaryOp::Ge, BinaryOp::Lt, BinaryOp::Le, BinaryOp::Eq, BinaryOp::Ne})
             trials.push_back({"op " + std::to_string(int(op)) + " out " + shape_str(c.out), shape_numel(c.out),
                               [t, c] {
                                 return Tensors{rnd(t, c.a, -2, 2, 3), rnd(t, c.b, 0.1, 2, 4)};
                               },
                               [op, c](Backend& be, const Tensors& in) {
                                 const Tensor y = output(in[0], c.out);
                                 be.binary(op, in[0].expand(c.out).view(), in[1].expand(c.out).view(), y.view());
                                 return Tensors{y};
                               }});
         // A transposed operand (non-contiguous, not merely broadcast).
         trials.push_back({"a - b^T", 54,
                           [t] {
                             return Tensors{rnd(t, {6, 9}, -1, 1, 5), rnd(t, {9, 6}, -1, 1, 6)};
                           },
                           [](Backend& be, const Tensors& in) {
                             const Tensor y = output(in[0], {6, 9});
                             be.binary(BinaryOp::Sub, in[0].view(), in[1].t().view(), y.view());
                             return Tensors{y};
                           }});
         return trials;
       },
       kF64, kF32},
      {"where",
       [](T t) {
         const Shape s{5, 7, 3};
         return std::vector<Trial>{
             {"[5, 7, 3], b broadcast", 105,
              [t, s] {
                return Tensors{gt(rnd(t, s, -1, 1, 7), 0.0), rnd(t, s, -1, 1, 8), rnd(t, {3}, -1, 1, 9)};
              },
              [s](Backend& be, const Tensors& in) {
                const Tensor y = output(in[1], s);
                be.where(in[0].view(), in[1].view(), in[2].expand(s).view(), y.view());
                return Tensors{y};
              }}};
       },
       0, 0},
      // Strided copies with and without dtype conversion: a permuted source into a sliced destination.
      {"copy",
       [](T t) {
         std::vector<Trial> out;
         for (DType to : {DType::F32, DType::F64})
           out.push_back({std::string("to ") + kernels::dtype_name(to), 120,
                          [t] {
                            return Tensors{rnd(t, {4, 6, 5}, -1, 1, 10)};
                          },
                          [to](Backend& be, const Tensors& in) {
                            const Tensor dst = zeros({5, 4, 12}, to, in[0].device());
                            be.copy(permute(in[0], {2, 0, 1}).view(), slice(dst, 2, 0, 12, 2).view());
                            return Tensors{dst};
                          }});
         return out;
       },
       0, 0},
      {"fill",
       [](T t) {
         return std::vector<Trial>{{"every third column of [6, 8]", 48,
                                    [t] {
                                      return Tensors{zeros({6, 8}, t)};
                                    },
                                    [](Backend& be, const Tensors& in) {
                                      const Tensor f = clone(in[0]);
                                      be.fill(slice(f, 1, 1, 8, 3).view(), 2.5);
                                      return Tensors{f};
                                    }}};
       },
       0, 0},
      // BatchNorm's kernels: the batch moments (double accumulation in another order: to rounding),
      // the fused apply + activation (bit for bit), the backward's two kernels.
      {"channel_moments",
       [](T t) {
         return batch_norm_trials([t](const Shape& sh, bool act, double slope, const std::string& what, int64_t n) {
           (void)act, (void)slope;
           return Trial{what, n, [t, sh] { return Tensors{rnd(t, sh, -2, 2, 5) + 3.0}; },
                        [sh](Backend& be, const Tensors& in) {
                          const Tensor m = output(in[0], {sh[1]}), v = output(in[0], {sh[1]});
                          be.channel_moments(in[0].view(), sh[1], sh[2] * sh[3], m.view(), v.view());
                          return Tensors{m, v};
                        }};
         });
       },
       kF64, kF32},
      {"channel_affine",
       [](T t) {
         return batch_norm_trials([t](const Shape& sh, bool act, double slope, const std::string& what, int64_t n) {
           return Trial{
               what, n,
               [t, sh] {
                 return Tensors{rnd(t, sh, -2, 2, 5) + 3.0, rnd(t, {sh[1]}, -1, 1, 6), rnd(t, {sh[1]}, -1, 1, 7)};
               },
               [sh, act, slope](Backend& be, const Tensors& in) {
                 const Tensor y = output(in[0], sh);
                 be.channel_affine(in[0].view(), in[1].view(), in[2].view(), sh[1], sh[2] * sh[3], act, slope,
                                   y.view());
                 return Tensors{y};
               }};
         });
       },
       0, 0},
      {"batch_norm_grad_reduce",
       [](T t) {
         return batch_norm_trials([t](const Shape& sh, bool act, double slope, const std::string& what, int64_t n) {
           return Trial{what, n, [=] { return batch_norm_grad_inputs(t, sh, act, slope, false); },
                        [=](Backend& be, const Tensors& in) {
                          const Tensor gw = output(in[0], {sh[1]}), gb = output(in[0], {sh[1]});
                          be.batch_norm_grad_reduce(batch_norm_grad_args(in, sh, act, slope), gw.view(), gb.view());
                          return Tensors{gw, gb};
                        }};
         });
       },
       kF64, kF32},
      {"batch_norm_grad_input",
       [](T t) {
         return batch_norm_trials([t](const Shape& sh, bool act, double slope, const std::string& what, int64_t n) {
           return Trial{what, n, [=] { return batch_norm_grad_inputs(t, sh, act, slope, true); },
                        [=](Backend& be, const Tensors& in) {
                          const Tensor gx = output(in[0], sh);
                          be.batch_norm_grad_input(batch_norm_grad_args(in, sh, act, slope), in[6].view(), in[7].view(),
                                                   gx.view());
                          return Tensors{gx};
                        }};
         });
       },
       kF64, kF32},
      {"reduce",
       [](T t) {
         struct Case {
           int64_t outer, r, inner;
         };
         std::vector<Trial> out;
         for (const Case& c : {Case{1, 1, 1}, Case{1, 100003, 1}, Case{7, 33, 5}, Case{2, 5, 70001}, Case{300, 2, 1},
                               Case{1, 64, 4096}, Case{3, 0, 4}, Case{2, 1000, 3}})
           for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min})
             // [2, 1000, 3]: a NaN anywhere in a max/min row makes that output NaN, on both backends.
             out.push_back({"op " + std::to_string(int(op)) + " [" + std::to_string(c.outer) + ", " +
                                std::to_string(c.r) + ", " + std::to_string(c.inner) + "]",
                            c.outer * c.r * c.inner,
                            [t, c] {
                              const Tensor x = rnd(t, {c.outer, c.r, c.inner}, -3, 3, 11);
                              return Tensors{c.r == 1000 ? with_nans(x, 0.9995, 13) : x};
                            },
                            [op, c](Backend& be, const Tensors& in) {
                              const Tensor y = output(in[0], {c.outer, c.inner});
                              be.reduce(op, in[0].view(), c.outer, c.r, c.inner, y.view());
                              return Tensors{y};
                            }});
         return out;
       },
       kF64, kF32},
      // The collective, in one process (this test runs without mpirun): the identity on both
      // backends. Across ranks it is checked by test_collective under mpirun (CPU, and CUDA's NCCL
      // path where each rank has a GPU).
      {"all_reduce",
       [](T t) {
         std::vector<Trial> out;
         for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max})
           out.push_back({"op " + std::to_string(int(op)) + " [5, 7]", 35,
                          [t] {
                            return Tensors{rnd(t, {5, 7}, -3, 3, 12)};
                          },
                          [op](Backend& be, const Tensors& in) {
                            const Tensor y = clone(in[0]);
                            be.all_reduce(op, y.view());
                            return Tensors{y};
                          }});
         return out;
       },
       0, 0},
      {"row_reduce",
       [](T t) {
         std::vector<Trial> out;
         auto add = [&](RowOp op, double p, int64_t n, int64_t d, double nan_above) {
           out.push_back({"op " + std::to_string(int(op)) + " s " + std::to_string(p) + " [" + std::to_string(n) +
                              ", " + std::to_string(d) + "]" + (nan_above < 1 ? " with NaN" : ""),
                          n * d,
                          [=] {
                            const Tensor x = rnd(t, {n, d}, -3, 3, 14);
                            return Tensors{nan_above < 1 ? with_nans(x, nan_above, 16) : x};
                          },
                          [=](Backend& be, const Tensors& in) {
                            const Tensor y = output(in[0], {n});
                            be.row_reduce(op, p, in[0].view(), n, d, y.view());
                            return Tensors{y};
                          }});
         };
         for (const auto& [n, d] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {32, 3072}, {64, 12288}, {2, 300001}})
           for (const auto& [op, p] : {std::pair{RowOp::L1, 0.0},
                                       {RowOp::L2, 0.0},
                                       {RowOp::LInf, 0.0},
                                       {RowOp::SmoothMax, 1.0},
                                       {RowOp::SmoothMax, 20.0},
                                       {RowOp::LogSumExp, 0.0}})
             add(op, p, n, d, 2);
         add(RowOp::LInf, 0, 4, 999, 0.999);  // the L-inf norm of a row holding a NaN
         return out;
       },
       kF64, kF32},
      {"gemm",
       [](T t) {
         std::vector<Trial> out;
         for (bool ta : {false, true})
           for (bool tb : {false, true})
             for (const auto& [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                                           {7, 5, 3},
                                           {129, 65, 257},
                                           {64, 8192, 48},
                                           {3, 4, 0}}) {
               const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
               out.push_back({"ta " + std::to_string(ta) + " tb " + std::to_string(tb) + " m " + std::to_string(m) +
                                  " n " + std::to_string(n) + " k " + std::to_string(k),
                              std::max({m * k, k * n, m * n}),
                              [=] {
                                return Tensors{rnd(t, {ta ? k : m, lda}, -1, 1, 17),
                                               rnd(t, {tb ? n : k, ldb}, -1, 1, 18), rnd(t, {m, ldc}, -1, 1, 19)};
                              },
                              [=](Backend& be, const Tensors& in) {
                                const Tensor c = clone(in[2]);  // C = 0.75 A B - 0.5 C
                                be.gemm(in[0].dtype(), ta, tb, m, n, k, 0.75, in[0].view().data, lda, in[1].view().data,
                                        ldb, -0.5, c.view().data, ldc);
                                return Tensors{c};
                              }});
             }
         return out;
       },
       1e-12, 1e-5},
      // The conv family: every output overwritten (outputs start at 7); the forward also with its
      // fused bias and LeakyReLU epilogue.
      {"conv2d",
       [](T t) {
         std::vector<Trial> out;
         for (bool epilogue : {false, true})
           for (Trial tr : conv_trials([=](const kernels::ConvGeom&g, const std::string&what, int64_t n) {
                  return Trial{
                      what + (epilogue ? " + bias, LeakyReLU" : ""), n,
                      [=] {
                        Tensors in{rnd(t, {g.n, g.c, g.h, g.w}, -1, 1, 20), rnd(t, {g.o, g.c, g.kh, g.kw}, -1, 1, 21)};
                        if (epilogue) in.push_back(rnd(t, {g.o}, -1, 1, 23));
                        return in;
                      },
                      [=](Backend& be, const Tensors& in) {
                        const Tensor y = output(in[0], {g.n, g.o, g.oh, g.ow});
                        kernels::ConvEpilogue ep;
                        if (epilogue) ep.bias = in[2].view().data, ep.act = kernels::Act::Leaky, ep.slope = 0.2;
                        be.conv2d(g, in[0].view(), in[1].view(), y.view(), ep);
                        return Tensors{y};
                      }};
                }))
             out.push_back(tr);
         return out;
       },
       1e-12, 1e-5},
      {"conv2d_input_grad",
       [](T t) {
         return conv_trials([=](const kernels::ConvGeom& g, const std::string& what, int64_t n) {
           return map_trial(t, what, n, {{{g.n, g.o, g.oh, g.ow}, 22}, {{g.o, g.c, g.kh, g.kw}, 21}},
                            {g.n, g.c, g.h, g.w}, [g](Backend& be, const Tensors& in, const View& gx) {
                              be.conv2d_input_grad(g, in[0].view(), in[1].view(), gx);
                            });
         });
       },
       1e-12, 1e-5},
      {"conv2d_weight_grad",
       [](T t) {
         return conv_trials([=](const kernels::ConvGeom& g, const std::string& what, int64_t n) {
           return map_trial(t, what, n, {{{g.n, g.c, g.h, g.w}, 20}, {{g.n, g.o, g.oh, g.ow}, 22}},
                            {g.o, g.c, g.kh, g.kw}, [g](Backend& be, const Tensors& in, const View& gw) {
                              be.conv2d_weight_grad(g, in[0].view(), in[1].view(), gw);
                            });
         });
       },
       1e-12, 1e-5},
      // Max pooling on distinct values and on ties with NaNs (the argmax rule: first maximum, a NaN wins).
      {"max_pool2d",
       [](T t) {
         return max_pool_trials(
             t, [](const kernels::PoolGeom&) { return Tensors{}; },
             [](Backend& be, const kernels::PoolGeom& g, const Tensors& in) {
               const Tensor y = output(in[0], pool_out(g));
               be.max_pool2d(g, in[0].view(), y.view());
               return Tensors{y};
             });
       },
       0, 0},
      {"max_pool2d_gather",
       [](T t) {
         return max_pool_trials(
             t, [t](const kernels::PoolGeom& g) { return Tensors{rnd(t, pool_in(g), -1, 1, 32)}; },
             [](Backend& be, const kernels::PoolGeom& g, const Tensors& in) {
               const Tensor y = output(in[0], pool_out(g));
               be.max_pool2d_gather(g, in[0].view(), in[1].view(), y.view());
               return Tensors{y};
             });
       },
       0, 0},
      {"max_pool2d_scatter",
       [](T t) {
         return max_pool_trials(
             t, [t](const kernels::PoolGeom& g) { return Tensors{rnd(t, pool_out(g), -1, 1, 31)}; },
             [](Backend& be, const kernels::PoolGeom& g, const Tensors& in) {
               const Tensor gx = output(in[0], pool_in(g));
               be.max_pool2d_scatter(g, in[0].view(), in[1].view(), gx.view());
               return Tensors{gx};
             });
       },
       kF64, kF32},
      {"avg_pool2d",
       [](T t) {
         return pool_trials(true, true, [t](const kernels::PoolGeom& g, const std::string& what, int64_t n) {
           return map_trial(t, what, n, {{pool_in(g), 30}}, pool_out(g),
                            [g](Backend& be, const Tensors& in, const View& y) { be.avg_pool2d(g, in[0].view(), y); });
         });
       },
       kF64, kF32},
      {"avg_pool2d_adjoint",
       [](T t) {
         return pool_trials(true, true, [t](const kernels::PoolGeom& g, const std::string& what, int64_t n) {
           return map_trial(
               t, what, n, {{pool_out(g), 31}}, pool_in(g),
               [g](Backend& be, const Tensors& in, const View& gx) { be.avg_pool2d_adjoint(g, in[0].view(), gx); });
         });
       },
       kF64, kF32},
      {"resize_bilinear",
       [](T t) {
         return resize_trials(
             [t](const kernels::ResizeGeom& g, const Shape& xs, const Shape& ys, const std::string& what, int64_t n) {
               return map_trial(t, what, n, {{xs, 35}}, ys, [g](Backend& be, const Tensors& in, const View& y) {
                 be.resize_bilinear(g, in[0].view(), y);
               });
             });
       },
       kF64, kF32},
      {"resize_bilinear_adjoint",
       [](T t) {
         return resize_trials(
             [t](const kernels::ResizeGeom& g, const Shape& xs, const Shape& ys, const std::string& what, int64_t n) {
               return map_trial(t, what, n, {{ys, 36}}, xs, [g](Backend& be, const Tensors& in, const View& gx) {
                 be.resize_bilinear_adjoint(g, in[0].view(), gx);
               });
             });
       },
       kF64, kF32},
      // Random fills equal the CPU's stream: plain keys, and keys whose start is read from memory
      // (the base a captured step advances).
      {"fill_uniform", [](T t) { return random_trials(t, false); }, 0, 0},
      // Box-Muller goes through log, sqrt, sin and cos, whose last bit may differ between libm and CUDA.
      {"fill_normal", [](T t) { return random_trials(t, true); }, 1e-13, 1e-13},
      {"interpolate",
       [](T t) {
         std::vector<Trial> out;
         for (const Shape& sh : {Shape{32, 3, 32, 32}, Shape{5, 7}, Shape{1, 1}, Shape{64, 1, 32, 32}})
           out.push_back({shape_str(sh), shape_numel(sh),
                          [=] {
                            return Tensors{rnd(t, sh, -1, 1, 3), rnd(t, sh, -1, 1, 4), scalar(77.0, DType::F64)};
                          },
                          [=](Backend& be, const Tensors& in) {
                            const Tensor u = output(in[0], {sh[0]}), y = output(in[0], sh);
                            be.interpolate(in[0].view(), in[1].view(), kernels::PhiloxKey{5, 3, f64_ptr(in[2])},
                                           u.view(), y.view());
                            return Tensors{u, y};
                          }});
         return out;
       },
       0, 0},
      // Multi-tensor Adam: tensors of odd sizes, one starting off the 16-byte alignment (the scalar
      // path), several launches' worth of tensors (chunks of 24), per-tensor step counts and the
      // rate read from device memory; five steps, one with weight decay; bit for bit.
      {"adam_step", [](T t) { return std::vector<Trial>{adam_trial(t)}; }, 0, 0},
  };
}

// Runs c's trials in dtype t on the CPU and on device d and compares every output, within tol
// (c's own when negative); trials whose largest tensor exceeds max_numel are passed over.
// Returns how many trials ran.
int check_call(const CallCase& c, DType t, Device d, double tol = -1,
               int64_t max_numel = std::numeric_limits<int64_t>::max()) {
  if (tol < 0) tol = c.tol(t);
  Backend& be = backend_for(d);
  int ran = 0;
  for (const Trial& tr : c.trials(t)) {
    if (tr.numel > max_numel) continue;
    ++ran;
    const Tensors in = tr.make();
    Tensors in_d;
    for (const Tensor& x : in) in_d.push_back(x.to(d));
    const Tensors want = tr.call(cpu(), in), got = tr.call(be, in_d);
    EXPECT_EQ(got.size(), want.size()) << c.name << " " << tr.what;
    for (size_t k = 0; k < want.size() && k < got.size(); ++k) {
      const double e = diff(got[k], want[k]);
      const std::string at = c.name + " " + kernels::dtype_name(t) + " " + tr.what +
                             (want.size() > 1 ? ", output " + std::to_string(k) : "");
      if (tol == 0)
        EXPECT_EQ(e, 0.0) << at << " is not bit for bit the CPU's";
      else
        EXPECT_LT(e, tol) << at;
    }
  }
  return ran;
}

// clang-format on
class BackendCall : public ::testing::TestWithParam<CallCase> {};

TEST_P(BackendCall, CudaEqualsTheCpu) {
  MMGAN_REQUIRE_CUDA();
  const ExactFloat32Scope exact;
  for (DType t : {DType::F64, DType::F32}) check_call(GetParam(), t, kGpu);
}

INSTANTIATE_TEST_SUITE_P(EveryCall, BackendCall, ::testing::ValuesIn(calls()),
                         [](const auto& info) { return info.param.name; });

// The table without a GPU: every row's small trials, the CPU against itself, so the inputs, the
// calls and the comparison run on every machine (a row whose shapes do not fit its call throws or
// fails here).
TEST(BackendCallTable, EveryRowRunsOnTheCpu) {
  for (const CallCase& c : calls())
    for (DType t : {DType::F64, DType::F32})
      EXPECT_GT(check_call(c, t, Device::cpu(), -1, 1 << 17), 0) << c.name << " has no small trial";
}

// The comparison itself fails where a backend's output differs: a planted call that answers
// differently on its second run (as a faulty device would), at a bit-for-bit tolerance and at a
// relative one.
CallCase planted_row(double tol) {
  return {"planted",
          [](DType t) {
            return std::vector<Trial>{{"[3]", 3, [t] { return Tensors{rnd(t, {3}, 1, 2, 1)}; },
                                       [runs = std::make_shared<int>(0)](Backend&, const Tensors& in) {
                                         return Tensors{in[0] * (++*runs == 1 ? 1.0 : 1.0 + 1e-3)};
                                       }}};
          },
          tol, tol};
}
TEST(BackendCallTable, TheComparisonSeesADifference) {
  EXPECT_NONFATAL_FAILURE(check_call(planted_row(0), DType::F64, Device::cpu()), "is not bit for bit the CPU's");
  EXPECT_NONFATAL_FAILURE(check_call(planted_row(1e-4), DType::F32, Device::cpu()), "planted float32 [3]");
}

#if __has_include("kernels/backend_calls.def")
// The table and the backend's list of calls name the same calls.
TEST(BackendCallTable, OneRowPerBackendCall) {
  std::set<std::string> listed, rows;
#define MMGAN_BACKEND_CALL(name, cuda, params, args) listed.insert(#name);
#include "kernels/backend_calls.def"
  for (const CallCase& c : calls()) {
    EXPECT_TRUE(listed.count(c.name)) << c.name << " is not a backend call";
    EXPECT_TRUE(rows.insert(c.name).second) << c.name << " has two rows";
  }
  for (const std::string& name : listed) EXPECT_TRUE(rows.count(name)) << name << " has no row in calls()";
}
#endif

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
// float32 at TF32 precision: the conv rows (the odd shapes and DCGAN32's layers at batch 32; the
// forward with and without its epilogue: in the implicit GEMM's store, or a pass after cuDNN).
TEST(ImplicitGemm, CudaEqualsTheCpuAtTf32Precision) {
  MMGAN_REQUIRE_CUDA();
  for (const char* policy : {"igemm", ""}) {
    if (*policy)
      setenv("MMGAN_CONV", policy, 1);
    else
      unsetenv("MMGAN_CONV");
    for (const CallCase& c : calls())
      if (c.name.starts_with("conv2d")) {
        SCOPED_TRACE(*policy ? policy : "dispatch");
        check_call(c, DType::F32, kGpu, 2e-3);
      }
  }
  unsetenv("MMGAN_CONV");
}

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
            EXPECT_TRUE(first <= i && i < last) << "resize " << in << " -> " << out << ": output " << i << " reads "
                                                << y << " outside [" << first << ", " << last << ")";
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
