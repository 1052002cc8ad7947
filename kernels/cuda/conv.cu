// The conv family's dispatch: per (device, direction, geometry), the faster of cuDNN
// (conv_cudnn.cu) and the hand-written implicit GEMM (conv_igemm.cu). The choice is made on a
// shape's first call, outside any graph capture: cuDNN runs first (its result is the reference),
// then the implicit GEMM; the GEMM is a candidate only if it agrees with cuDNN to within TF32
// precision (max |difference| <= 1e-2 max |reference|; otherwise a one-line warning names the
// shape); both are then timed (timing.h: median of 5 calls) and the faster is kept. Only float32
// with TF32 allowed (math_mode().conv_tf32) on sm_80+ is eligible: float64 and exact float32 always
// use cuDNN. MMGAN_CONV=cudnn|igemm forces one implementation (benchmarks, tests), MMGAN_CONV_LOG=1
// prints every choice with both times. A shape first met inside a capture runs cuDNN there (which
// must already know it: captures follow an eager iteration) and is chosen at its next eager call.
// The forward's fused epilogue (bias, activation: ConvEpilogue) runs inside the implicit GEMM's
// store, or as one pass after cuDNN. Checked by tests/test_cuda_backend.cpp (both implementations,
// and the dispatch, against the CPU) and tests/test_ops.cpp (the conv2d_act rows on every backend).
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/timing.h"

namespace mmgan::kernels::cuda {
namespace {

enum class Dir : int { Fwd = 0, BwdData = 1, BwdFilter = 2 };
enum class Impl { Cudnn, Igemm };
const char* const kDirName[] = {"forward", "backward-data", "backward-filter"};

using Key = std::array<int64_t, 16>;

struct Choices {
  std::mutex mu;
  std::map<Key, Impl> chosen;
};
Choices& choices() {
  static Choices c;  // what was chosen per shape stays true across contexts
  return c;
}

const char* policy() {
  const char* p = std::getenv("MMGAN_CONV");
  return p ? p : "auto";
}

bool log_choices() {
  const char* p = std::getenv("MMGAN_CONV_LOG");
  return p && std::strcmp(p, "0") != 0;
}

bool capturing(Context& ctx) {
  cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
  MMGAN_CUDA_CHECK(cudaStreamIsCapturing(ctx.stream(), &st));
  return st != cudaStreamCaptureStatusNone;
}

std::string shape_text(const ConvGeom& g) {
  char buf[160];
  std::snprintf(buf, sizeof buf,
                "x [%lld, %lld, %lld, %lld], w [%lld, %lld, %lld, %lld], stride %lldx%lld, pad %lldx%lld",
                (long long)g.n, (long long)g.c, (long long)g.h, (long long)g.w, (long long)g.o, (long long)g.c,
                (long long)g.kh, (long long)g.kw, (long long)g.sh, (long long)g.sw, (long long)g.ph, (long long)g.pw);
  return buf;
}

std::vector<float> to_host(Context& ctx, const void* p, int64_t n) {
  std::vector<float> h(size_t(std::max<int64_t>(n, 0)));
  if (n > 0) MMGAN_CUDA_CHECK(cudaMemcpyAsync(h.data(), p, size_t(n) * 4, cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize();
  return h;
}

// Runs direction d on `out` (out_numel floats) with the implementation chosen for this shape.
// epilogue_code: a code for the forward's fused epilogue (0: none), part of the key because it changes
// what the two implementations cost.
template <class Cudnn, class Igemm>
void dispatch(Context& ctx, Dir d, const ConvGeom& g, const View& out, int64_t out_numel, int64_t epilogue_code,
              Cudnn&& cudnn, Igemm&& igemm) {
  const bool eligible = conv_uses_tf32(out.dtype) && out_numel > 0 && g.c > 0 && g.o > 0 && g.kh > 0 && g.kw > 0 &&
                        g.n > 0 && g.oh > 0 && g.ow > 0 && igemm_supported(ctx.device());
  const std::string pol = policy();
  if (!eligible || pol == "cudnn") return cudnn();
  if (pol == "igemm") return igemm();
  const Key key{ctx.device(), int64_t(d), g.n,  g.c,  g.h,  g.w,  g.o,  g.kh,
                g.kw,         g.oh,       g.ow, g.sh, g.sw, g.ph, g.pw, epilogue_code};
  Choices& c = choices();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    const auto it = c.chosen.find(key);
    if (it != c.chosen.end()) return it->second == Impl::Igemm ? igemm() : cudnn();
  }
  if (capturing(ctx)) return cudnn();
  // First call of this shape: reference, agreement, timing.
  cudnn();
  const std::vector<float> ref = to_host(ctx, out.data, out_numel);
  igemm();
  const std::vector<float> got = to_host(ctx, out.data, out_numel);
  double err = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::fabs(double(got[i]) - double(ref[i])));
    scale = std::max(scale, std::fabs(double(ref[i])));
  }
  const bool agrees = std::isfinite(err) && err <= 1e-2 * std::max(scale, 1e-30);
  const double t_cudnn = time_calls(ctx.stream(), cudnn);
  const double t_igemm = agrees ? time_calls(ctx.stream(), igemm) : INFINITY;
  const Impl pick = t_igemm < t_cudnn ? Impl::Igemm : Impl::Cudnn;
  if (!agrees)
    std::fprintf(stderr,
                 "mmgan: the hand-written %s conv differs from cuDNN on %s (max error %.3g of %.3g); using cuDNN\n",
                 kDirName[int(d)], shape_text(g).c_str(), err, scale);
  if (log_choices())
    std::fprintf(stderr, "mmgan conv %s %s: cuDNN %.1f us, implicit GEMM %.1f us -> %s\n", kDirName[int(d)],
                 shape_text(g).c_str(), t_cudnn * 1e6, t_igemm * 1e6, pick == Impl::Igemm ? "implicit GEMM" : "cuDNN");
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.chosen[key] = pick;
  }
  if (pick == Impl::Cudnn) cudnn();  // the timing left the implicit GEMM's result in out otherwise
}

// The epilogue after cuDNN, in place over y [n, o, P]: y = act(y + bias[o]) (activation.h).
template <Act A, bool kBias, class T, class I>
__global__ void __launch_bounds__(kThreads) epilogue_kernel(T* y, const T* bias, I total, I o, I plane, T slope) {
  const I stride = I(blockDim.x) * gridDim.x;
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const T v = y[i];
    y[i] = activate<A>(kBias ? v + bias[(i / plane) % o] : v, slope);
  }
}

void epilogue(Context& ctx, const ConvGeom& g, const View& y, const ConvEpilogue& ep) {
  const int64_t total = g.n * g.o * g.oh * g.ow;
  if (ep.empty() || total <= 0) return;
  with_epilogue(ep, [&](auto a, auto has_bias) {
    with_index_type(total, [&](auto zero) {
      using I = decltype(zero);
      auto launch = [&](auto t) {
        using T = decltype(t);
        epilogue_kernel<decltype(a)::value, decltype(has_bias)::value, T, I>
            <<<blocks_for(total), kThreads, 0, ctx.stream()>>>(y.ptr<T>(), static_cast<const T*>(ep.bias), I(total),
                                                               I(g.o), I(g.oh * g.ow), T(ep.slope));
      };
      with_dtype(y.dtype, launch);
    });
  });
  MMGAN_CUDA_CHECK_LAUNCH();
}

}  // namespace

void conv2d(Context& ctx, const ConvGeom& g, const View& x, const View& w, const View& y, const ConvEpilogue& ep) {
  const int64_t code = ep.empty() ? 0 : 1 + int64_t(ep.act) * 2 + (ep.bias ? 1 : 0);
  dispatch(
      ctx, Dir::Fwd, g, y, g.n * g.o * g.oh * g.ow, code,
      [&] {
        cudnn_conv2d(ctx, g, x, w, y);
        epilogue(ctx, g, y, ep);
      },
      [&] {
        igemm_conv2d(ctx, g, x.ptr<float>(), w.ptr<float>(), y.ptr<float>(), static_cast<const float*>(ep.bias), ep.act,
                     float(ep.slope));
      });
}

void conv2d_input_grad(Context& ctx, const ConvGeom& g, const View& gy, const View& w, const View& gx) {
  dispatch(
      ctx, Dir::BwdData, g, gx, g.n * g.c * g.h * g.w, 0, [&] { cudnn_conv2d_input_grad(ctx, g, gy, w, gx); },
      [&] { igemm_conv2d_input_grad(ctx, g, gy.ptr<float>(), w.ptr<float>(), gx.ptr<float>()); });
}

void conv2d_weight_grad(Context& ctx, const ConvGeom& g, const View& x, const View& gy, const View& gw) {
  dispatch(
      ctx, Dir::BwdFilter, g, gw, g.o * g.c * g.kh * g.kw, 0, [&] { cudnn_conv2d_weight_grad(ctx, g, x, gy, gw); },
      [&] { igemm_conv2d_weight_grad(ctx, g, x.ptr<float>(), gy.ptr<float>(), gw.ptr<float>()); });
}

}  // namespace mmgan::kernels::cuda
