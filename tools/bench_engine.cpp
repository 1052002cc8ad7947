// Engine microbenchmarks (Google Benchmark), CPU backend: fused ops against the separate ones they
// replace, the conv family on DCGAN32's shapes, a penalty step. Speed is measured here, never in
// tests. Every op row of the test harness, on every backend: bench_ops.
//   build/tools/bench_engine --benchmark_filter=Penalty
#include <benchmark/benchmark.h>

#include "engine/mmgan.h"
#include "losses/gan_loss.h"
#include "losses/gradient_penalty.h"

namespace {

using namespace mmgan;

void BM_UnaryExp(benchmark::State& st) {
  Generator g(1);
  Tensor x = rand({st.range(0)}, g);
  for (auto _ : st) benchmark::DoNotOptimize(exp(x).view().data);
  st.SetBytesProcessed(int64_t(st.iterations()) * st.range(0) * 8);
}
BENCHMARK(BM_UnaryExp)->Arg(1 << 16)->Arg(1 << 20);

void BM_BroadcastMul(benchmark::State& st) {
  Generator g(1);
  const int64_t n = st.range(0);
  Tensor a = rand({n, 256}, g), b = rand({1, 256}, g);
  for (auto _ : st) benchmark::DoNotOptimize((a * b).view().data);
  st.SetBytesProcessed(int64_t(st.iterations()) * n * 256 * 8);
}
BENCHMARK(BM_BroadcastMul)->Arg(64)->Arg(4096);

// Cheap elementwise maps, where the loop's vectorisation is all that matters: LeakyReLU (unary,
// a scalar parameter) and an add of two tensors of DCGAN32's first D activation size.
void BM_UnaryLeakyRelu(benchmark::State& st) {
  Generator g(1);
  Tensor x = rand({st.range(0)}, g) - 0.5;
  for (auto _ : st) benchmark::DoNotOptimize(leaky_relu(x, 0.2).view().data);
  st.SetBytesProcessed(int64_t(st.iterations()) * st.range(0) * 8);
}
BENCHMARK(BM_UnaryLeakyRelu)->Arg(1 << 16)->Arg(1 << 20);

void BM_BinaryAdd(benchmark::State& st) {
  Generator g(1);
  Tensor a = rand({32, 128, 16, 16}, g), b = rand({32, 128, 16, 16}, g);
  for (auto _ : st) benchmark::DoNotOptimize((a + b).view().data);
  st.SetBytesProcessed(int64_t(st.iterations()) * a.numel() * 12);
}
BENCHMARK(BM_BinaryAdd);

// Training-mode BatchNorm + LeakyReLU forward on DCGAN32 D's second layer output [32, 256, 8, 8]:
// arg 0 the separate ops (normalise, scale, shift, activation), arg 1 fused (batch_norm2d_act).
void BM_BatchNormLeakyForward(benchmark::State& st) {
  Generator g(4);
  const Tensor x = randn({32, 256, 8, 8}, g), w = ones({256}), b = zeros({256});
  NoGradGuard ng;
  for (auto _ : st)
    benchmark::DoNotOptimize(st.range(0) ? batch_norm2d_act(x, w, b, {}, {}, true, 0.2)
                                         : leaky_relu(batch_norm2d(x, w, b, {}, {}, true), 0.2));
}
BENCHMARK(BM_BatchNormLeakyForward)->Arg(0)->Arg(1);

// BatchNorm + LeakyReLU in training mode, forward and backward through autograd, on the same
// shape: arg 0 BatchNorm written in elementary engine ops (batch mean and variance, normalise,
// scale, shift, activation; autograd differentiates each), arg 1 batch_norm2d_act (its fused
// forward, and its backward in two kernels).
void BM_BatchNormLeakyTrain(benchmark::State& st) {
  Generator g(4);
  const Tensor x = randn({32, 256, 8, 8}, g).requires_grad_(true), gy = randn({32, 256, 8, 8}, g);
  const Tensor w = ones({256}).requires_grad_(true), b = zeros({256}).requires_grad_(true);
  const std::vector<int64_t> dims{0, 2, 3};
  auto composite = [&] {
    const Tensor xc = x - mean(x, dims, true);
    const Tensor xhat = xc * pow(mean(square(xc), dims, true) + 1e-5, -0.5);
    return leaky_relu(xhat * w.reshape({1, -1, 1, 1}) + b.reshape({1, -1, 1, 1}), 0.2);
  };
  for (auto _ : st) {
    const Tensor y = st.range(0) ? batch_norm2d_act(x, w, b, {}, {}, true, 0.2) : composite();
    benchmark::DoNotOptimize(grad({y}, {x, w, b}, {gy}));
  }
}
BENCHMARK(BM_BatchNormLeakyTrain)->Arg(0)->Arg(1);

// D's first conv and its LeakyReLU on the CPU ([32, 3, 32, 32] -> [32, 128, 16, 16]), forward only:
// arg 0 conv2d then leaky_relu, arg 1 conv2d_act (the activation in the conv's permuting copy).
void BM_ConvLeakyForward(benchmark::State& st) {
  Generator g(5);
  const Tensor x = randn({32, 3, 32, 32}, g), w = randn({128, 3, 4, 4}, g) * 0.1;
  NoGradGuard ng;
  for (auto _ : st)
    benchmark::DoNotOptimize(st.range(0) ? conv2d_act(x, w, {}, ConvParams(2, 1), 0.2)
                                         : leaky_relu(conv2d(x, w, {}, ConvParams(2, 1)), 0.2));
}
BENCHMARK(BM_ConvLeakyForward)->Arg(0)->Arg(1);

void BM_PerSampleLinf(benchmark::State& st) {
  Generator g(1);
  Tensor x = randn({64, 3, 32, 32}, g);
  for (auto _ : st) benchmark::DoNotOptimize(linf_norm_per_sample(x).view().data);
  st.SetBytesProcessed(int64_t(st.iterations()) * x.numel() * 4);
}
BENCHMARK(BM_PerSampleLinf);

void BM_Matmul(benchmark::State& st) {
  Generator g(1);
  const int64_t n = st.range(0);
  Tensor a = rand({n, n}, g), b = rand({n, n}, g);
  for (auto _ : st) benchmark::DoNotOptimize(matmul(a, b).view().data);
  st.counters["FLOP/s"] = benchmark::Counter(2.0 * double(n * n * n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Matmul)->Arg(256)->Arg(1024);

// One critic step with an L-inf hinge gradient penalty (forward, create_graph backward, outer
// backward, Adam) for a 3-layer MLP critic on 3x32x32 inputs: the engine's overhead per op.
void BM_PenaltyStepMLP(benchmark::State& st) {
  Generator g(1);
  const int64_t batch = st.range(0), d = 3 * 32 * 32;
  std::vector<Tensor> p = {
      (randn({256, d}, g) * 0.02).detach().requires_grad_(true),   zeros({256}).requires_grad_(true),
      (randn({256, 256}, g) * 0.05).detach().requires_grad_(true), zeros({256}).requires_grad_(true),
      (randn({1, 256}, g) * 0.05).detach().requires_grad_(true),   zeros({1}).requires_grad_(true)};
  Adam opt(p, {2e-4, 0.5, 0.999, 1e-8, 0});
  auto critic = [&](const Tensor& x) {
    Tensor h = leaky_relu(linear(flatten(x, 1), p[0], p[1]), 0.2);
    return linear(leaky_relu(linear(h, p[2], p[3]), 0.2), p[4], p[5]).reshape({-1});
  };
  losses::PenaltyConfig pc;
  pc.enabled = true;
  Tensor xr = rand({batch, 3, 32, 32}, g), xf = rand({batch, 3, 32, 32}, g);
  for (auto _ : st) {
    const Tensor u = rand({batch, 1, 1, 1}, g);
    const auto pen = losses::gradient_penalty(critic, losses::penalty_points(xr, xf, u, pc.where), pc);
    Tensor loss = losses::d_loss(losses::GanLoss::Hinge, critic(xr), critic(xf)) + pen.loss;
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
}
BENCHMARK(BM_PenaltyStepMLP)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond);

// The convolution family on every conv shape of DCGAN32's D (h = 128) at batch 32: forward,
// input gradient (conv_transpose2d) and weight gradient. Args: C_in, C_out, input size, stride, pad.
void conv_counters(benchmark::State& st, int64_t n, int64_t c, int64_t o, int64_t out_hw) {
  const double flop = 2.0 * double(n) * double(c * 16) * double(o) * double(out_hw * out_hw);
  st.counters["FLOP/s"] = benchmark::Counter(flop, benchmark::Counter::kIsIterationInvariantRate);
}
void BM_Conv2dForward(benchmark::State& st) {
  Generator g(1);
  const int64_t n = 32, c = st.range(0), o = st.range(1), hw = st.range(2), s = st.range(3), pd = st.range(4);
  Tensor x = randn({n, c, hw, hw}, g), w = randn({o, c, 4, 4}, g);
  Tensor y;
  for (auto _ : st) benchmark::DoNotOptimize((y = conv2d(x, w, {}, ConvParams(s, pd))).view().data);
  conv_counters(st, n, c, o, y.size(2));
}
void BM_Conv2dInputGrad(benchmark::State& st) {
  Generator g(1);
  const int64_t n = 32, c = st.range(0), o = st.range(1), hw = st.range(2), s = st.range(3), pd = st.range(4);
  const int64_t ohw = (hw + 2 * pd - 4) / s + 1;
  Tensor gy = randn({n, o, ohw, ohw}, g), w = randn({o, c, 4, 4}, g);
  for (auto _ : st) benchmark::DoNotOptimize(conv_transpose2d_to(gy, w, hw, hw, {}, ConvParams(s, pd)).view().data);
  conv_counters(st, n, c, o, ohw);
}
void BM_Conv2dWeightGrad(benchmark::State& st) {
  Generator g(1);
  const int64_t n = 32, c = st.range(0), o = st.range(1), hw = st.range(2), s = st.range(3), pd = st.range(4);
  const int64_t ohw = (hw + 2 * pd - 4) / s + 1;
  Tensor x = randn({n, c, hw, hw}, g), gy = randn({n, o, ohw, ohw}, g);
  for (auto _ : st) benchmark::DoNotOptimize(conv2d_weight(x, gy, 4, 4, ConvParams(s, pd)).view().data);
  conv_counters(st, n, c, o, ohw);
}
#define DCGAN32_D_SHAPES           \
  Args({3, 128, 32, 2, 1})         \
      ->Args({128, 256, 16, 2, 1}) \
      ->Args({256, 512, 8, 2, 1})  \
      ->Args({512, 1, 4, 1, 0})    \
      ->Unit(benchmark::kMillisecond)
BENCHMARK(BM_Conv2dForward)->DCGAN32_D_SHAPES;
BENCHMARK(BM_Conv2dInputGrad)->DCGAN32_D_SHAPES;
BENCHMARK(BM_Conv2dWeightGrad)->DCGAN32_D_SHAPES;

// The FID Inception's pooling and resizing at batch 8, float32: the stem's 3x3 stride-2 max pool,
// the blocks' 3x3 average pools (count_include_pad=false, as TensorFlow's), and the resize of
// 32x32 images to the network's 299x299 input. Bytes: the input read plus the output written.
void pool_bytes(benchmark::State& st, const Tensor& x, const Tensor& y) {
  st.SetBytesProcessed(int64_t(st.iterations()) * (x.numel() + y.numel()) * 4);
}
void BM_MaxPool2dInception(benchmark::State& st) {
  Generator g(1);
  Tensor x = randn({8, 64, 147, 147}, g), y;
  for (auto _ : st) benchmark::DoNotOptimize((y = max_pool2d(x, PoolParams(3, 2))).view().data);
  pool_bytes(st, x, y);
}
BENCHMARK(BM_MaxPool2dInception)->Unit(benchmark::kMillisecond);
void BM_AvgPool2dInception(benchmark::State& st) {
  Generator g(1);
  Tensor x = randn({8, 288, 35, 35}, g), y;
  for (auto _ : st) benchmark::DoNotOptimize((y = avg_pool2d(x, PoolParams(3, 1, 1), false)).view().data);
  pool_bytes(st, x, y);
}
BENCHMARK(BM_AvgPool2dInception)->Unit(benchmark::kMillisecond);
void BM_ResizeBilinearInception(benchmark::State& st) {
  Generator g(1);
  Tensor x = randn({8, 3, 32, 32}, g), y;
  for (auto _ : st) benchmark::DoNotOptimize((y = resize_bilinear(x, 299, 299)).view().data);
  pool_bytes(st, x, y);
}
BENCHMARK(BM_ResizeBilinearInception)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
