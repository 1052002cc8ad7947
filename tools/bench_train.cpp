// One full training iteration (D step with the L-infinity hinge penalty + G step, Adam) of the
// paper's DCGAN32 (h = 128, 3 colours, BatchNorm in D) through the real Trainer, on synthetic
// data, on the CPU and, when there is one, on the GPU (TF32 convs, as PyTorch's default); each
// eagerly and replayed from one captured iteration (--graph on; a CUDA graph on the GPU).
// tools/bench_cpu.sh runs the CPU one next to the same iteration in PyTorch
// (tools/bench_iteration_torch.py) and prints the ratio.
//   build/tools/bench_train --benchmark_filter=TrainIteration_cpu/32/
#include <benchmark/benchmark.h>

#include "engine/backend.h"
#include "trainer/trainer.h"

namespace {

using namespace mmgan;

void BM_TrainIteration(benchmark::State& st, const std::string& device, bool graph) {
  trainer::TrainConfig c;
  c.device = device;
  c.graph = graph ? "on" : "off";
  c.dataset = "cifar10";
  c.input_folder = "synthetic";
  c.n_colors = 3;
  c.batch_size = st.range(0);
  auto ds = std::make_shared<data::Dataset>();
  ds->name = "synthetic", ds->source = "bench", ds->sample_shape = {3, 32, 32}, ds->count = 512;
  Generator g(1);
  for (double v : rand({512 * 3 * 32 * 32}, g, DType::F64).to_vector()) ds->bytes.push_back(uint8_t(v * 256));
  trainer::Trainer t(c, ds);
  t.step();  // warm-up: first-touch allocations, cuDNN algorithm choice
  t.step();  // with --graph on: the capture
  const Device d = Device::parse(device);
  synchronize(d);
  for (auto _ : st) {
    t.step();
    synchronize(d);
  }
  st.counters["s/it"] =
      benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  if (graph && !t.replaying()) st.SkipWithError("the iterations were not replayed");
  t.check_finite();
}
}  // namespace

int main(int argc, char** argv) {
  for (const std::string device : {"cpu", "cuda"}) {
    if (device == "cuda" && !cuda_available()) continue;
    for (const bool graph : {false, true})
      benchmark::RegisterBenchmark(("TrainIteration_" + device + (graph ? "_graph" : "")).c_str(), BM_TrainIteration,
                                   device, graph)
          ->Arg(32)
          ->Arg(64)
          ->Unit(benchmark::kMillisecond)
          ->MinTime(device == "cpu" ? 5.0 : 2.0)
          ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
