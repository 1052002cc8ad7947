// Engine microbenchmarks (Google Benchmark), CPU backend. Speed is measured here, never in tests.
//   build/tools/bench_engine --benchmark_filter=Penalty
#include <benchmark/benchmark.h>

#include "engine/mmgan.h"

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
// backward, Adam) for a 3-layer MLP critic on 3x32x32 inputs: the engine's overhead per op at
// realistic sizes, before convolutions exist.
void BM_PenaltyStepMLP(benchmark::State& st) {
  Generator g(1);
  const int64_t batch = st.range(0), d = 3 * 32 * 32;
  std::vector<Tensor> p = {(randn({256, d}, g) * 0.02).detach().requires_grad_(true), zeros({256}).requires_grad_(true),
                           (randn({256, 256}, g) * 0.05).detach().requires_grad_(true), zeros({256}).requires_grad_(true),
                           (randn({1, 256}, g) * 0.05).detach().requires_grad_(true), zeros({1}).requires_grad_(true)};
  Adam opt(p, {2e-4, 0.5, 0.999, 1e-8, 0});
  auto critic = [&](const Tensor& x) {
    Tensor h = leaky_relu(linear(flatten(x, 1), p[0], p[1]), 0.2);
    return linear(leaky_relu(linear(h, p[2], p[3]), 0.2), p[4], p[5]);
  };
  Tensor xr = rand({batch, 3, 32, 32}, g), xf = rand({batch, 3, 32, 32}, g);
  for (auto _ : st) {
    Tensor u = rand({batch, 1, 1, 1}, g);
    Tensor xhat = (u * xr + (1.0 - u) * xf).detach().requires_grad_(true);
    GradOptions go;
    go.create_graph = true;
    Tensor gx = grad({sum(critic(xhat))}, {xhat}, {}, go)[0];
    Tensor loss = mean(relu(1.0 - critic(xr))) + mean(relu(1.0 + critic(xf))) +
                  20.0 * mean(relu(linf_norm_per_sample(gx) - 1.0));
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
}
BENCHMARK(BM_PenaltyStepMLP)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
