// Evaluation microbenchmarks (Google Benchmark): the Fréchet distance at the Inception feature size,
// the streaming feature statistics, and the feature networks' throughput (images/s) on the CPU.
// Correctness is checked in tests/test_frechet.cpp, test_inception.cpp and test_fid.cpp.
//   build/tools/bench_eval --benchmark_filter=Frechet
#include <benchmark/benchmark.h>

#include "engine/backend.h"
#include "engine/mmgan.h"
#include "eval/feature_stats.h"
#include "eval/frechet.h"
#include "models/fmnist_classifier.h"
#include "models/inception.h"

namespace {

using namespace mmgan;

// Statistics of n random correlated features of dimension d (full rank when n > d).
eval::GaussianStats random_stats(int64_t n, int64_t d, uint64_t seed) {
  Generator g(seed);
  eval::FeatureStats fs(d);
  const Tensor mix = randn({16, d}, g, DType::F64);
  for (int64_t i = 0; i < n; i += 256) {
    const int64_t b = std::min<int64_t>(256, n - i);
    fs.add(randn({b, d}, g, DType::F64) + matmul(randn({b, 16}, g, DType::F64), mix));
  }
  return fs.finish("bench");
}

// Args: d, samples per statistics (n < d: rank-deficient covariances).
void BM_FrechetDistance(benchmark::State& st) {
  const eval::GaussianStats a = random_stats(st.range(1), st.range(0), 1);
  const eval::GaussianStats b = random_stats(st.range(1), st.range(0), 2);
  for (auto _ : st) benchmark::DoNotOptimize(eval::frechet_distance(a, b).distance);
}
BENCHMARK(BM_FrechetDistance)->Args({2048, 4096})->Args({2048, 1000})->Unit(benchmark::kMillisecond)->UseRealTime();

// One [256, 2048] batch of float32 features into the float64 accumulator.
void BM_FeatureStatsAdd(benchmark::State& st) {
  Generator g(3);
  const int64_t d = st.range(0);
  const Tensor x = randn({256, d}, g);
  eval::FeatureStats fs(d);
  for (auto _ : st) fs.add(x);
  st.counters["rows/s"] = benchmark::Counter(256.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_FeatureStatsAdd)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

// The FID Inception on a batch of 32x32 colour images (resized to 299x299 inside), random weights.
void BM_InceptionFeatures(benchmark::State& st, const std::string& device) {
  const Device d = Device::parse(device);
  nn::InceptionV3Fid net;
  nn::randomize_inception(net, 1);
  net.to(d);
  Generator g(4);
  const Tensor x = (rand({st.range(0), 3, 32, 32}, g) * 2.0 - 1.0).to(d);
  NoGradGuard ng;
  benchmark::DoNotOptimize(net(x));  // warm-up: allocations, cuDNN algorithm choice
  synchronize(d);
  for (auto _ : st) {
    benchmark::DoNotOptimize(net(x));
    synchronize(d);
  }
  st.counters["images/s"] = benchmark::Counter(double(st.range(0)), benchmark::Counter::kIsIterationInvariantRate);
}

// The Fashion-MNIST classifier's features on a batch of 1x32x32 images.
void BM_FmnistFeatures(benchmark::State& st, const std::string& device) {
  const Device d = Device::parse(device);
  Generator g(5);
  nn::FmnistClassifier net(g);
  net.eval();
  net.to(d);
  const Tensor x = (rand({st.range(0), 1, 32, 32}, g) * 2.0 - 1.0).to(d);
  NoGradGuard ng;
  benchmark::DoNotOptimize(net.features(x));
  synchronize(d);
  for (auto _ : st) {
    benchmark::DoNotOptimize(net.features(x));
    synchronize(d);
  }
  st.counters["images/s"] = benchmark::Counter(double(st.range(0)), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  for (const std::string device : {"cpu", "cuda"}) {
    if (device == "cuda" && !cuda_available()) continue;
    benchmark::RegisterBenchmark(("InceptionFeatures_" + device).c_str(), BM_InceptionFeatures, device)
        ->Arg(device == "cpu" ? 8 : 50)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("FmnistFeatures_" + device).c_str(), BM_FmnistFeatures, device)
        ->Arg(250)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
