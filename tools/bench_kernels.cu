// CUDA kernel microbenchmarks (Google Benchmark, times from CUDA events on the kernels' stream).
// Each bandwidth-bound kernel reports its achieved bandwidth (bytes read + written per second)
// and that as a fraction of the device's measured ceiling, a device-to-device copy of 256 MiB
// (BM_CopyCeiling); cuBLAS at 8192^3 gives the FLOP ceiling that the GEMM and conv benchmarks are
// set against. The conv benchmarks cover every conv shape of DCGAN32 (forward, backward-data,
// backward-filter) at batch 32 and 64.
//   build/tools/bench_kernels [--benchmark_filter=Conv]   (BM_ConvCudnn next to BM_ConvIgemm)
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/timing.h"

namespace {

using namespace mmgan::kernels;
namespace kc = mmgan::kernels::cuda;

kc::Context& ctx() { return kc::context(0); }

// Seconds per call of f: CUDA events around `reps` back-to-back calls after a warm-up (timing.h).
template <class F>
double time_calls(F&& f, int reps = 20) {
  return kc::time_calls(ctx().stream(), f, reps, 1);
}

View view(void* p, DType t, std::initializer_list<int64_t> sizes) {
  View v;
  v.data = p, v.dtype = t, v.ndim = int(sizes.size());
  int i = 0;
  for (int64_t s : sizes) v.sizes[i++] = s;
  int64_t st = 1;
  for (int d = v.ndim - 1; d >= 0; --d) v.strides[d] = st, st *= v.sizes[d];
  return v;
}

// A device buffer of n floats filled with uniform [-1, 1) values.
struct Floats {
  kc::DeviceBuffer buf;
  View v;
  explicit Floats(int64_t n) : buf(ctx(), size_t(n) * 4), v(view(buf.get(), DType::F32, {n})) {
    kc::fill_uniform(ctx().stream(), v, PhiloxKey{1, 0, nullptr}, -1, 1);
  }
  float* f() const { return static_cast<float*>(buf.get()); }
};

double copy_ceiling() {  // bytes read + written per second, measured once
  static double bw = [] {
    const int64_t n = 64 << 20;
    Floats a(n), b(n);
    const double s = time_calls([&] {
      MMGAN_CUDA_CHECK(cudaMemcpyAsync(b.f(), a.f(), size_t(n) * 4, cudaMemcpyDeviceToDevice, ctx().stream()));
    });
    return 2.0 * double(n) * 4 / s;
  }();
  return bw;
}

double gemm_ceiling() {  // FLOP/s of cuBLAS at 8192^3, float32 with TF32 (as convs run by default)
  static double fl = [] {
    const int64_t n = 8192;
    Floats a(n * n), b(n * n), c(n * n);
    kc::math_mode().matmul_tf32 = true;
    const double s =
        time_calls([&] { kc::gemm(ctx(), DType::F32, false, false, n, n, n, 1, a.f(), n, b.f(), n, 0, c.f(), n); }, 5);
    kc::math_mode().matmul_tf32 = false;
    return 2.0 * double(n) * double(n) * double(n) / s;
  }();
  return fl;
}

void report_bandwidth(benchmark::State& st, double seconds, double bytes) {
  st.SetIterationTime(seconds);
  st.counters["GB/s"] = bytes / seconds / 1e9;
  st.counters["of_copy"] = bytes / seconds / copy_ceiling();
}

void report_flops(benchmark::State& st, double seconds, double flops) {
  st.SetIterationTime(seconds);
  st.counters["TFLOP/s"] = flops / seconds / 1e12;
  st.counters["of_gemm"] = flops / seconds / gemm_ceiling();
}

void BM_CopyCeiling(benchmark::State& st) {
  for (auto _ : st) st.SetIterationTime(2.0 * double(64 << 20) * 4 / copy_ceiling());
  st.counters["GB/s"] = copy_ceiling() / 1e9;
}
BENCHMARK(BM_CopyCeiling)->UseManualTime()->Iterations(1);

void BM_GemmCeiling(benchmark::State& st) {
  for (auto _ : st) st.SetIterationTime(2.0 * 8192.0 * 8192.0 * 8192.0 / gemm_ceiling());
  st.counters["TFLOP/s"] = gemm_ceiling() / 1e12;
}
BENCHMARK(BM_GemmCeiling)->UseManualTime()->Iterations(1);

// Elementwise: LeakyReLU over n floats (read n, write n), and a broadcast multiply by a
// per-channel vector as BatchNorm's apply does ([64, 128, 16, 16] x [128, 1, 1]).
void BM_UnaryLeakyRelu(benchmark::State& st) {
  const int64_t n = st.range(0);
  Floats x(n), y(n);
  for (auto _ : st)
    report_bandwidth(st, time_calls([&] { kc::unary(ctx().stream(), UnaryOp::LeakyRelu, 0.2, 0, x.v, y.v); }),
                     8.0 * double(n));
}
BENCHMARK(BM_UnaryLeakyRelu)->Arg(1 << 20)->Arg(1 << 24)->UseManualTime();

void BM_BinaryChannelBroadcast(benchmark::State& st) {
  const int64_t n = st.range(0), c = 128, hw = 256;
  Floats x(n * c * hw), s(c), y(n * c * hw);
  View sv = view(s.buf.get(), DType::F32, {n, c, hw});
  sv.strides[0] = 0, sv.strides[1] = 1, sv.strides[2] = 0;
  const View xv = view(x.buf.get(), DType::F32, {n, c, hw}), yv = view(y.buf.get(), DType::F32, {n, c, hw});
  for (auto _ : st)
    report_bandwidth(st, time_calls([&] { kc::binary(ctx().stream(), BinaryOp::Mul, xv, sv, yv); }),
                     8.0 * double(n * c * hw));
}
BENCHMARK(BM_BinaryChannelBroadcast)->Arg(32)->Arg(64)->UseManualTime();

// The per-sample gradient norms at xhat: [batch, 3 * 32 * 32] rows.
void BM_RowReduce(benchmark::State& st) {
  const auto op = RowOp(st.range(0));
  const int64_t n = st.range(1), d = 3 * 32 * 32;
  Floats x(n * d), y(n);
  const View xv = view(x.buf.get(), DType::F32, {n, d});
  for (auto _ : st)
    report_bandwidth(st, time_calls([&] { kc::row_reduce(ctx().stream(), op, 1.0, xv, n, d, y.v); }),
                     4.0 * double(n * d + n));
}
BENCHMARK(BM_RowReduce)
    ->ArgsProduct({{int(RowOp::L1), int(RowOp::L2), int(RowOp::LInf), int(RowOp::SmoothMax), int(RowOp::LogSumExp)},
                   {32, 64, 4096}})
    ->UseManualTime();

// BatchNorm's statistics: a sum over (batch, h, w) per channel of [n, 128, 16 * 16].
void BM_ReduceChannelSum(benchmark::State& st) {
  const int64_t n = st.range(0), c = 128, hw = 256;
  Floats x(n * c * hw), y(c);
  const View xv = view(x.buf.get(), DType::F32, {n, c * hw});
  for (auto _ : st)
    report_bandwidth(st, time_calls([&] { kc::reduce(ctx().stream(), ReduceOp::Sum, xv, n, c * hw, 1, y.v); }),
                     4.0 * double(n * c * hw));
}
BENCHMARK(BM_ReduceChannelSum)->Arg(32)->Arg(64)->UseManualTime();

void BM_FillNormal(benchmark::State& st) {
  const int64_t n = st.range(0);
  Floats x(n);
  for (auto _ : st)
    report_bandwidth(st, time_calls([&] {
                       kc::fill_normal(ctx().stream(), x.v, PhiloxKey{7, 0, nullptr}, 0, 1);
                     }),
                     4.0 * double(n));
}
BENCHMARK(BM_FillNormal)->Arg(1 << 20)->UseManualTime();

// The penalty's random interpolates of a DCGAN32 batch (batch x 3 x 32 x 32): reads x_real and
// x_fake, writes xhat (and u), drawing u per sample in the same kernel.
void BM_Interpolate(benchmark::State& st) {
  const int64_t n = st.range(0), d = 3 * 32 * 32;
  Floats xr(n * d), xf(n * d), y(n * d), u(n);
  for (auto _ : st)
    report_bandwidth(st, time_calls([&] {
                       kc::interpolate(ctx().stream(), xr.v, xf.v, PhiloxKey{3, 0, nullptr}, u.v, y.v);
                     }),
                     12.0 * double(n * d));
}
BENCHMARK(BM_Interpolate)->Arg(64)->Arg(1024)->UseManualTime();

// Training-mode BatchNorm + LeakyReLU on DCGAN32 G's BatchNorm inputs ([batch, 512, 4, 4],
// [batch, 256, 8, 8], [batch, 128, 16, 16]). Forward: the moments (two sweeps over x) and the
// fused apply (read x, write y), 16 bytes per value. Backward: the reduction (read g, y, x) and the
// input gradient (read g, y, x, write gx), 28 bytes per value.
struct BatchNormShape {
  int64_t c, inner;
};
constexpr BatchNormShape kBatchNormShapes[] = {{512, 16}, {256, 64}, {128, 256}};

void BM_BatchNormForward(benchmark::State& st) {
  const int64_t c = kBatchNormShapes[st.range(1)].c, inner = kBatchNormShapes[st.range(1)].inner;
  const int64_t n = st.range(0) * c * inner;
  Floats x(n), y(n), mean(c), var(c), scale(c), shift(c);
  for (auto _ : st)
    report_bandwidth(st, time_calls([&] {
                       kc::channel_moments(ctx().stream(), x.v, c, inner, mean.v, var.v);
                       kc::channel_affine(ctx().stream(), x.v, scale.v, shift.v, c, inner, true, 0.2, y.v);
                     }),
                     16.0 * double(n));
}
BENCHMARK(BM_BatchNormForward)->ArgsProduct({{32, 64}, {0, 1, 2}})->UseManualTime();

void BM_BatchNormBackward(benchmark::State& st) {
  const int64_t c = kBatchNormShapes[st.range(1)].c, inner = kBatchNormShapes[st.range(1)].inner;
  const int64_t n = st.range(0) * c * inner;
  Floats g(n), y(n), x(n), gx(n), mean(c), invstd(c), weight(c), gw(c), gb(c);
  BatchNormGrad a;
  a.g = g.v, a.y = y.v, a.x = x.v, a.mean = mean.v, a.invstd = invstd.v, a.weight = weight.v;
  a.channels = c, a.inner = inner, a.act = true, a.slope = 0.2;
  for (auto _ : st)
    report_bandwidth(st, time_calls([&] {
                       kc::batch_norm_grad_reduce(ctx().stream(), a, gw.v, gb.v);
                       kc::batch_norm_grad_input(ctx().stream(), a, gw.v, gb.v, gx.v);
                     }),
                     28.0 * double(n));
}
BENCHMARK(BM_BatchNormBackward)->ArgsProduct({{32, 64}, {0, 1, 2}})->UseManualTime();

// Multi-tensor Adam over DCGAN32's D parameters (h = 128, 3 colours, BatchNorm: 11 tensors,
// 2.64 M values) in one launch: reads p, g, m, v and writes p, m, v. The rate and the step
// counts are read from device memory, as in training.
void BM_Adam(benchmark::State& st) {
  const std::vector<int64_t> sizes{6144, 524288, 256, 256, 2097152, 512, 512, 8192, 128, 128, 1};
  std::vector<std::unique_ptr<Floats>> bufs;
  std::vector<AdamTensor> list;
  kc::DeviceBuffer scalars(ctx(), sizeof(double) * (sizes.size() + 1));
  std::vector<double> host(sizes.size() + 1, 1.0);
  host[0] = 2e-4;
  // On the kernels' stream (non-blocking: a plain cudaMemcpy on the legacy stream would not be
  // ordered before them), and finished before `host` goes.
  MMGAN_CUDA_CHECK(cudaMemcpyAsync(scalars.get(), host.data(), host.size() * sizeof(double), cudaMemcpyHostToDevice,
                                   ctx().stream()));
  ctx().synchronize();
  const double* dev = static_cast<const double*>(scalars.get());
  double total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    for (int k = 0; k < 4; ++k) bufs.push_back(std::make_unique<Floats>(sizes[i]));
    const size_t b = bufs.size() - 4;
    list.push_back({bufs[b]->f(), bufs[b + 1]->f(), bufs[b + 2]->f(), bufs[b + 3]->f(), sizes[i], dev + 1 + i});
    total += double(sizes[i]);
  }
  const AdamHyper h{0.5, 0.999, 1e-8, 0.0, dev};
  for (auto _ : st)
    report_bandwidth(st,
                     time_calls([&] { kc::adam_step(ctx().stream(), DType::F32, list.data(), int(list.size()), h); }),
                     28.0 * total);
}
BENCHMARK(BM_Adam)->UseManualTime();

void BM_Gemm(benchmark::State& st) {
  const int64_t n = st.range(0);
  Floats a(n * n), b(n * n), c(n * n);
  for (auto _ : st)
    report_flops(
        st, time_calls([&] { kc::gemm(ctx(), DType::F32, false, false, n, n, n, 1, a.f(), n, b.f(), n, 0, c.f(), n); }),
        2.0 * double(n) * double(n) * double(n));
}
BENCHMARK(BM_Gemm)->Arg(512)->Arg(2048)->UseManualTime();

// cuDNN on DCGAN32's conv shapes. Args: batch, layer, pass (0 forward, 1 backward-data, 2
// backward-filter). Layers 0-3 are D's convs; G's transposed convs are the backward-data of
// layers 2, 1 and 0 (mirrored), and of layer 4 for its first (z [128, 1, 1] -> [512, 4, 4]).
ConvGeom dcgan32_geom(int64_t batch, int layer) {
  struct L {
    int64_t c, h, o, k, s, p;
  };
  // D: 3x32 -> 128x16 -> 256x8 -> 512x4 -> 1x1 (h = 128). G's convs are the same shapes reversed.
  const L d[] = {{3, 32, 128, 4, 2, 1},
                 {128, 16, 256, 4, 2, 1},
                 {256, 8, 512, 4, 2, 1},
                 {512, 4, 1, 4, 1, 0},
                 {512, 4, 128, 4, 1, 0}};
  const L& l = d[layer];
  ConvGeom g;
  g.n = batch, g.c = l.c, g.h = l.h, g.w = l.h, g.o = l.o, g.kh = l.k, g.kw = l.k, g.sh = l.s, g.sw = l.s;
  g.ph = l.p, g.pw = l.p, g.oh = (l.h + 2 * l.p - l.k) / l.s + 1, g.ow = g.oh;
  return g;
}

// One conv pass on a DCGAN32 shape through cuDNN or the implicit GEMM (both with TF32 allowed, as
// by default). Args: batch, layer, pass (0 forward, 1 backward-data, 2 backward-filter).
void conv_pass(benchmark::State& st, bool igemm) {
  const ConvGeom g = dcgan32_geom(st.range(0), int(st.range(1)));
  const int pass = int(st.range(2));
  Floats x(g.n * g.c * g.h * g.w), w(g.o * g.c * g.kh * g.kw), y(g.n * g.o * g.oh * g.ow);
  const View xv = view(x.buf.get(), DType::F32, {g.n, g.c, g.h, g.w});
  const View wv = view(w.buf.get(), DType::F32, {g.o, g.c, g.kh, g.kw});
  const View yv = view(y.buf.get(), DType::F32, {g.n, g.o, g.oh, g.ow});
  const double flops = 2.0 * double(g.n * g.o * g.oh * g.ow) * double(g.c * g.kh * g.kw);
  std::function<void()> f;
  if (pass == 0)
    f = igemm ? std::function<void()>([&] { kc::igemm_conv2d(ctx(), g, x.f(), w.f(), y.f()); })
              : [&] { kc::cudnn_conv2d(ctx(), g, xv, wv, yv); };
  if (pass == 1)
    f = igemm ? std::function<void()>([&] { kc::igemm_conv2d_input_grad(ctx(), g, y.f(), w.f(), x.f()); })
              : [&] { kc::cudnn_conv2d_input_grad(ctx(), g, yv, wv, xv); };
  if (pass == 2)
    f = igemm ? std::function<void()>([&] { kc::igemm_conv2d_weight_grad(ctx(), g, x.f(), y.f(), w.f()); })
              : [&] { kc::cudnn_conv2d_weight_grad(ctx(), g, xv, yv, wv); };
  for (auto _ : st) report_flops(st, time_calls(f), flops);
}
void BM_ConvCudnn(benchmark::State& st) { conv_pass(st, false); }
void BM_ConvIgemm(benchmark::State& st) { conv_pass(st, true); }  // read next to BM_ConvCudnn
BENCHMARK(BM_ConvCudnn)->ArgsProduct({{32, 64}, {0, 1, 2, 3, 4}, {0, 1, 2}})->UseManualTime();
BENCHMARK(BM_ConvIgemm)->ArgsProduct({{32, 64}, {0, 1, 2, 3, 4}, {0, 1, 2}})->UseManualTime();

// D's first conv with its LeakyReLU (3x32 -> 128x16 at batch 32 and 64) through the dispatching
// kc::conv2d: arg 1 picks cuDNN (0) or the implicit GEMM (1) by MMGAN_CONV, arg 2 runs the
// LeakyReLU as a separate pass over y (0: cuDNN's path for an epilogue) or fused (1: in the
// implicit GEMM's store; cuDNN still runs its pass after). Counted FLOPs are the conv's.
void BM_ConvLeaky(benchmark::State& st) {
  const ConvGeom g = dcgan32_geom(st.range(0), 0);
  setenv("MMGAN_CONV", st.range(1) ? "igemm" : "cudnn", 1);
  Floats x(g.n * g.c * g.h * g.w), w(g.o * g.c * g.kh * g.kw), y(g.n * g.o * g.oh * g.ow);
  const View xv = view(x.buf.get(), DType::F32, {g.n, g.c, g.h, g.w});
  const View wv = view(w.buf.get(), DType::F32, {g.o, g.c, g.kh, g.kw});
  const View yv = view(y.buf.get(), DType::F32, {g.n, g.o, g.oh, g.ow});
  ConvEpilogue leaky;
  leaky.act = Act::Leaky, leaky.slope = 0.2;
  const std::function<void()> f =
      st.range(2) ? std::function<void()>([&] { kc::conv2d(ctx(), g, xv, wv, yv, leaky); }) : [&] {
        kc::conv2d(ctx(), g, xv, wv, yv);
        kc::unary(ctx().stream(), UnaryOp::LeakyRelu, 0.2, 0, yv, yv);
      };
  for (auto _ : st) report_flops(st, time_calls(f), 2.0 * double(g.n * g.o * g.oh * g.ow) * double(g.c * g.kh * g.kw));
  unsetenv("MMGAN_CONV");
}
BENCHMARK(BM_ConvLeaky)->ArgsProduct({{32, 64}, {0, 1}, {0, 1}})->UseManualTime();

// The FID Inception's pooling and resizing at batch 8 (as tools/bench_engine.cpp on the CPU).
// Args: the op (0: max pool 3x3 s2 on [8, 64, 147, 147], 1: average pool 3x3 s1 p1 without the
// padding on [8, 288, 35, 35], 2: resize [8, 3, 32, 32] -> 299x299), and 0 forward / 1 adjoint
// (for the max pool: the argmax scatter, which also reads x). Bytes: each tensor read or written once.
void BM_PoolResizeInception(benchmark::State& st) {
  const int op = int(st.range(0));
  const bool adjoint = st.range(1) != 0;
  const int64_t n = 8, c = op == 0 ? 64 : op == 1 ? 288 : 3, h = op == 0 ? 147 : op == 1 ? 35 : 32;
  PoolGeom pg;
  pg.n = n, pg.c = c, pg.h = pg.w = h, pg.kh = pg.kw = 3, pg.sh = pg.sw = op == 0 ? 2 : 1;
  pg.ph = pg.pw = op == 0 ? 0 : 1, pg.count_include_pad = false;
  pg.oh = pg.ow = (h + 2 * pg.ph - 3) / pg.sh + 1;
  ResizeGeom rg;
  rg.n = n, rg.c = c, rg.h = rg.w = h, rg.oh = rg.ow = 299;
  const int64_t oh = op == 2 ? rg.oh : pg.oh, nx = n * c * h * h, ny = n * c * oh * oh;
  Floats x(nx), y(ny), gx(nx);
  const View xv = view(x.buf.get(), DType::F32, {n, c, h, h}), yv = view(y.buf.get(), DType::F32, {n, c, oh, oh});
  const View gxv = view(gx.buf.get(), DType::F32, {n, c, h, h});
  const cudaStream_t s = ctx().stream();
  std::function<void()> f;
  if (op == 0) f = [&] { adjoint ? kc::max_pool2d_scatter(s, pg, xv, yv, gxv) : kc::max_pool2d(s, pg, xv, yv); };
  if (op == 1) f = [&] { adjoint ? kc::avg_pool2d_adjoint(s, pg, yv, gxv) : kc::avg_pool2d(s, pg, xv, yv); };
  if (op == 2) f = [&] { adjoint ? kc::resize_bilinear_adjoint(s, rg, yv, gxv) : kc::resize_bilinear(s, rg, xv, yv); };
  const double bytes = 4.0 * double(nx + ny + (op == 0 && adjoint ? nx : 0));
  for (auto _ : st) report_bandwidth(st, time_calls(f), bytes);
}
BENCHMARK(BM_PoolResizeInception)->ArgsProduct({{0, 1, 2}, {0, 1}})->UseManualTime();

}  // namespace

int main(int argc, char** argv) {
  if (mmgan::kernels::cuda::device_count() == 0) {
    std::fprintf(stderr, "bench_kernels: no CUDA device\n");
    return 1;  // nothing was measured
  }
  std::fprintf(stderr, "bench_kernels on %s\n", mmgan::kernels::cuda::device_description(0));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  mmgan::kernels::cuda::shutdown();  // every context freed, so a leak checker sees only real leaks
  return 0;
}
