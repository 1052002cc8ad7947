// One full training iteration (D step with the L-infinity hinge penalty + G step, Adam) of the
// paper's DCGAN32 (h = 128, 3 colours, BatchNorm in D) through the real Trainer, on synthetic
// data. tools/bench_cpu.sh runs it next to the same iteration in PyTorch
// (tools/bench_iteration_torch.py) and prints the ratio.
//   build/tools/bench_train --benchmark_filter=TrainIteration/32
#include <benchmark/benchmark.h>

#include "trainer/trainer.h"

namespace {

using namespace mmgan;

void BM_TrainIteration(benchmark::State& st) {
  trainer::TrainConfig c;
  c.dataset = "cifar10";
  c.input_folder = "synthetic";
  c.n_colors = 3;
  c.batch_size = st.range(0);
  auto ds = std::make_shared<data::Dataset>();
  ds->name = "synthetic", ds->source = "bench", ds->sample_shape = {3, 32, 32}, ds->count = 512;
  Generator g(1);
  for (double v : rand({512 * 3 * 32 * 32}, g, DType::F64).to_vector()) ds->bytes.push_back(uint8_t(v * 256));
  trainer::Trainer t(c, ds);
  t.step();  // warm-up: first-touch allocations
  for (auto _ : st) t.step();
  st.counters["s/it"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TrainIteration)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond)->MinTime(5.0)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
