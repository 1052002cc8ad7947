// The op harness's performance mode (as ggml's test-backend-ops perf): every row of
// tests/op_cases.h timed on every available backend, in float32 (the training dtype), at the row's
// benchmark shapes (its test shapes where it has none: those times are the engine's per-op
// overhead). Each row gets
//   forward          the op alone, no graph recorded (bytes/s: its inputs read, its output written)
//   backward         forward recorded, then the input gradients for a fixed cotangent
//   double_backward  forward, gradients recorded (create_graph), then the gradients of
//                    <gradients, fixed directions>: what a gradient penalty costs (rows with second
//                    derivatives only)
// Device work is waited for in every iteration. The same rows are checked in tests/test_ops.cpp;
// speed is measured here, never in tests.
//   build/tools/bench_ops --benchmark_filter='conv2d_s2p1/'
//   build/tools/bench_ops --benchmark_filter='/cuda/forward'
#include <benchmark/benchmark.h>

#include "tests/op_cases.h"

namespace {

using namespace mmgan;
using ops_harness::OpCase;
using ops_harness::OpDerivatives;

const char* const kOrderNames[] = {"forward", "backward", "double_backward"};

void time_row(benchmark::State& st, const OpCase& c, Device d, int order) {
  const OpDerivatives ops(c, d, DType::F32, /*perf=*/true);
  const Tensor y = ops.run(0).value;
  std::string label;
  int64_t bytes = y.numel();
  for (const Tensor& x : ops.inputs()) {
    if (!label.empty()) label += ' ';
    label += shape_str(x.shape());
    bytes += x.numel();
  }
  st.SetLabel(label);
  for (auto _ : st) {
    const auto r = ops.run(order);
    synchronize(d);
    benchmark::DoNotOptimize(r.value.view().data);
  }
  if (order == 0) st.SetBytesProcessed(int64_t(st.iterations()) * bytes * int64_t(sizeof(float)));
}

}  // namespace

int main(int argc, char** argv) {
  static const std::vector<OpCase> rows = ops_harness::cases();
  std::vector<Device> devices{Device::cpu()};
  if (cuda_available()) devices.push_back(Device::cuda(0));
  for (const OpCase& c : rows) {
    // Whether the op has second derivatives, from its (tiny) test shapes.
    const bool second = OpDerivatives(c, Device::cpu(), DType::F64).has_second();
    for (const Device d : devices)
      for (int order = 0; order < (second ? 3 : 2); ++order) {
        const std::string name = c.name + "/" + (d.type == DeviceType::CPU ? "cpu" : "cuda") + "/" + kOrderNames[order];
        benchmark::RegisterBenchmark(name.c_str(), [&c, d, order](benchmark::State& st) { time_row(st, c, d, order); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
