// The convolution family of kernels/conv_geom.h on CUDA through cuDNN 9's legacy convolution API
// (cudnn_cnn_v9.h): conv2d is cudnnConvolutionForward, conv2d_input_grad is
// cudnnConvolutionBackwardData and conv2d_weight_grad is cudnnConvolutionBackwardFilter, all
// contiguous NCHW with x-desc [n, c, h, w], filter [o, c, kh, kw], y-desc [n, o, oh, ow], mode
// CUDNN_CROSS_CORRELATION (ConvGeom's formula), no dilation, no groups, alpha 1 and beta 0 (outputs
// are overwritten). Backward-data is the exact adjoint of the forward map for those descriptors,
// i.e. cpu::conv2d_input_grad (W^T gy, then col2im): every gx element is written, those that no
// output reads (the extra rows/columns of a transposed conv with output_padding) as zero.
// Backward-filter is cpu::conv2d_weight_grad (gy @ im2col(x)^T). cuDNN requires oh, ow to equal
// conv2d's size formula for h, w; the engine's geometries always do (a transposed conv's
// output_padding < stride rounds away in the floor), and anything else is reported, not guessed.
//
// Per (device, dtype, every ConvGeom field, TF32 switch) a Plan holds the descriptors (handle.h,
// cached for the life of the process: they are host objects, valid across contexts) and, per
// direction, the algorithm, math type and workspace size, chosen once, on that direction's first
// call: cudnnFind*AlgorithmEx benchmarks on the call's own buffers (the output is overwritten by
// the real call right after) with a workspace from the context's allocator; results whose status
// is not success are skipped. Exact modes (float64, float32 without TF32) take only results that
// cuDNN marks deterministic (backward-data ALGO_0 and backward-filter ALGO_0 and ALGO_3 accumulate
// with atomics), the fastest of them; with TF32 the fastest wins, unless a deterministic algorithm
// is within timing noise of it (2% or 1 us), which is then preferred. If Find fails or leaves
// nothing usable, cudnnGet*Algorithm_v7's heuristic order, under the same rules, is the fallback;
// if that too yields nothing, a CudaError names the shape.
// Math: float32 with math_mode().conv_tf32 sets CUDNN_DEFAULT_MATH (TF32 tensor cores allowed on
// Ampere and later) and then runs each direction with the math type its chosen result was timed
// with; float32 without TF32 is CUDNN_FMA_MATH throughout and is also restricted to the GEMM-type
// algorithms (FFT and Winograd transforms are not exact fp32 arithmetic); float64 uses
// CUDNN_FMA_MATH. Everything runs on ctx.stream() (the cuDNN handle is bound to it); Find blocks
// the host once per shape and direction.
// Checked against the CPU backend by tests/test_cuda_backend.cpp (DCGAN32's layers and odd shapes,
// float64 and float32 with TF32 off) and through the engine by tests/test_ops.cpp; timed in
// tools/bench_kernels.cu (BM_ConvCudnn, every DCGAN32 conv shape and pass).
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/handle.h"

namespace mmgan::kernels::cuda {
namespace {

// The largest workspace handed to cudnnFind*AlgorithmEx; algorithms that need more are not tried.
constexpr std::size_t kFindWorkspaceCap = std::size_t(1) << 30;
// Workspace sizes reported above this are treated as bogus (never allocated).
constexpr std::size_t kSaneWorkspace = std::size_t(1) << 40;
// A deterministic algorithm is preferred when it is at most this much slower than the fastest.
constexpr float kDeterministicSlack = 1.02f;
constexpr float kDeterministicSlackMs = 0.001f;

// ---- cuDNN descriptors (handle.h owns them).

using TensorDesc = Handle<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor>;
using FilterDesc = Handle<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor>;
using ConvDesc = Handle<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor>;

// ---- The cached plan of one geometry.

enum Dir { kFwd = 0, kBwdData = 1, kBwdFilter = 2 };

struct Choice {
  bool ready = false;
  int algo = 0;  // the direction's cudnnConvolution*Algo_t
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  std::size_t workspace = 0;
};

struct Plan {
  DType dtype = DType::F32;
  bool tf32 = false;     // float32 with TF32 allowed; otherwise exact: deterministic algorithms only
  bool exact32 = false;  // float32 with TF32 off: FMA math and GEMM-type algorithms only
  TensorDesc x, y;       // [n, c, h, w] and [n, o, oh, ow]
  FilterDesc w;          // [o, c, kh, kw]
  ConvDesc conv[3];      // one per direction: each carries the math type of its chosen algorithm
  Choice choice[3];
  cudnnMathType_t base_math() const { return tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH; }
};

// The pointers of one call, in the order the direction's cuDNN functions take them.
struct Buffers {
  const void* in0;  // forward: x   backward-data: w    backward-filter: x
  const void* in1;  // forward: w   backward-data: dy   backward-filter: dy
  void* out;        // forward: y   backward-data: dx   backward-filter: dw
};

// ---- The three directions, behind one interface.

struct FwdOps {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  using Algo = cudnnConvolutionFwdAlgo_t;
  static constexpr Dir kDir = kFwd;
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static constexpr const char* kName = "forward";
  static bool gemm_type(Algo a) {
    return a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
           a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
  }
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) { return cudnnGetConvolutionForwardAlgorithmMaxCount(h, n); }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, std::size_t* s) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, p.x.get(), p.w.get(), p.conv[kDir].get(), p.y.get(), a, s);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, const Plan& p, int req, int* ret, Perf* perf) {
    return cudnnGetConvolutionForwardAlgorithm_v7(h, p.x.get(), p.w.get(), p.conv[kDir].get(), p.y.get(), req, ret,
                                                  perf);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const Buffers& b, int req, int* ret, Perf* perf, void* ws,
                            std::size_t ws_size) {
    return cudnnFindConvolutionForwardAlgorithmEx(h, p.x.get(), b.in0, p.w.get(), b.in1, p.conv[kDir].get(), p.y.get(),
                                                  b.out, req, ret, perf, ws, ws_size);
  }
  static void run(cudnnHandle_t h, const Plan& p, const Buffers& b, const void* alpha, const void* beta, void* ws,
                  std::size_t ws_size) {
    MMGAN_CUDNN_CHECK(cudnnConvolutionForward(h, alpha, p.x.get(), b.in0, p.w.get(), b.in1, p.conv[kDir].get(),
                                              Algo(p.choice[kDir].algo), ws, ws_size, beta, p.y.get(), b.out));
  }
};

struct BwdDataOps {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  using Algo = cudnnConvolutionBwdDataAlgo_t;
  static constexpr Dir kDir = kBwdData;
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static constexpr const char* kName = "backward-data";
  static bool gemm_type(Algo a) {
    return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
  }
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, n);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, std::size_t* s) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w.get(), p.y.get(), p.conv[kDir].get(), p.x.get(), a, s);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, const Plan& p, int req, int* ret, Perf* perf) {
    return cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w.get(), p.y.get(), p.conv[kDir].get(), p.x.get(), req, ret,
                                                       perf);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const Buffers& b, int req, int* ret, Perf* perf, void* ws,
                            std::size_t ws_size) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w.get(), b.in0, p.y.get(), b.in1, p.conv[kDir].get(),
                                                       p.x.get(), b.out, req, ret, perf, ws, ws_size);
  }
  static void run(cudnnHandle_t h, const Plan& p, const Buffers& b, const void* alpha, const void* beta, void* ws,
                  std::size_t ws_size) {
    MMGAN_CUDNN_CHECK(cudnnConvolutionBackwardData(h, alpha, p.w.get(), b.in0, p.y.get(), b.in1, p.conv[kDir].get(),
                                                   Algo(p.choice[kDir].algo), ws, ws_size, beta, p.x.get(), b.out));
  }
};

struct BwdFilterOps {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  using Algo = cudnnConvolutionBwdFilterAlgo_t;
  static constexpr Dir kDir = kBwdFilter;
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static constexpr const char* kName = "backward-filter";
  static bool gemm_type(Algo a) {
    return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 ||
           a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
  }
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, n);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, Algo a, std::size_t* s) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x.get(), p.y.get(), p.conv[kDir].get(), p.w.get(), a, s);
  }
  static cudnnStatus_t heuristics(cudnnHandle_t h, const Plan& p, int req, int* ret, Perf* perf) {
    return cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x.get(), p.y.get(), p.conv[kDir].get(), p.w.get(), req,
                                                         ret, perf);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const Buffers& b, int req, int* ret, Perf* perf, void* ws,
                            std::size_t ws_size) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x.get(), b.in0, p.y.get(), b.in1, p.conv[kDir].get(),
                                                         p.w.get(), b.out, req, ret, perf, ws, ws_size);
  }
  static void run(cudnnHandle_t h, const Plan& p, const Buffers& b, const void* alpha, const void* beta, void* ws,
                  std::size_t ws_size) {
    MMGAN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, alpha, p.x.get(), b.in0, p.y.get(), b.in1, p.conv[kDir].get(),
                                                     Algo(p.choice[kDir].algo), ws, ws_size, beta, p.w.get(), b.out));
  }
};

// ---- Algorithm selection (under the cache's lock, once per plan and direction).

// Whether a Find / Get_v7 result may be used for this plan.
template <class Ops>
bool usable(const Plan& p, const typename Ops::Perf& r) {
  if (r.status != CUDNN_STATUS_SUCCESS) return false;
  if (int(r.algo) < 0 || int(r.algo) >= Ops::kAlgoCount) return false;
  if (r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return false;  // would round inputs to half precision
  // Exact modes must give the same result every run (replayed against eager steps, CUDA against
  // the CPU): no algorithm that accumulates with atomics, as cuDNN reports for each result.
  if (!p.tf32 && r.determinism != CUDNN_DETERMINISTIC) return false;
  if (p.exact32) {
    if (r.mathType != CUDNN_FMA_MATH && r.mathType != CUDNN_DEFAULT_MATH) return false;  // no tensor-op (TF32) kernels
    if (!Ops::gemm_type(r.algo)) return false;
  }
  return true;
}

// Records r as the direction's choice: sets the math type it runs with on the direction's
// descriptor and sizes its workspace. False when cuDNN rejects the pair (try the next result).
template <class Ops>
bool commit(cudnnHandle_t h, Plan& p, const typename Ops::Perf& r) {
  const cudnnMathType_t math = p.exact32 ? CUDNN_FMA_MATH : r.mathType;
  if (cudnnSetConvolutionMathType(p.conv[Ops::kDir].get(), math) != CUDNN_STATUS_SUCCESS) return false;
  std::size_t ws = 0;
  if (Ops::workspace(h, p, r.algo, &ws) != CUDNN_STATUS_SUCCESS || ws > kSaneWorkspace) return false;
  if (r.memory > ws && r.memory <= kSaneWorkspace) ws = r.memory;
  Choice& ch = p.choice[Ops::kDir];
  ch.algo = int(r.algo);
  ch.math = math;
  ch.workspace = ws;
  ch.ready = true;
  return true;
}

// A workspace of up to `size` bytes: as large as the allocator can give, shrinking on failure.
std::unique_ptr<DeviceBuffer> find_workspace(Context& ctx, std::size_t size) {
  for (;;) {
    try {
      return std::make_unique<DeviceBuffer>(ctx, size);
    } catch (const CudaError&) {
      if (size == 0) throw;
      size = size < 4096 ? 0 : size / 4;
    }
  }
}

template <class Ops>
void choose(Context& ctx, Plan& p, const Buffers& b) {
  using Perf = typename Ops::Perf;
  using Algo = typename Ops::Algo;
  cudnnHandle_t h = ctx.cudnn();
  MMGAN_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv[Ops::kDir].get(), p.base_math()));
  int count = 0;
  MMGAN_CUDNN_CHECK(Ops::max_count(h, &count));
  count = std::max(count, 1);
  std::vector<Perf> results(static_cast<std::size_t>(count));

  // 1. Benchmark every algorithm on the call's buffers with a workspace that fits the candidates.
  std::string find_status = "not run";
  {
    std::size_t ws_size = 0;
    for (int a = 0; a < Ops::kAlgoCount; ++a) {
      if (p.exact32 && !Ops::gemm_type(Algo(a))) continue;
      std::size_t s = 0;
      if (Ops::workspace(h, p, Algo(a), &s) == CUDNN_STATUS_SUCCESS && s <= kFindWorkspaceCap)
        ws_size = std::max(ws_size, s);
    }
    const std::unique_ptr<DeviceBuffer> ws = find_workspace(ctx, ws_size);
    int returned = 0;
    const cudnnStatus_t st = Ops::find(h, p, b, count, &returned, results.data(), ws->get(), ws->size());
    find_status = cudnnGetErrorString(st);
    if (st == CUDNN_STATUS_SUCCESS) {
      std::vector<Perf> ok;
      for (int i = 0; i < returned && i < count; ++i)
        if (usable<Ops>(p, results[std::size_t(i)])) ok.push_back(results[std::size_t(i)]);
      std::stable_sort(ok.begin(), ok.end(), [](const Perf& l, const Perf& r) { return l.time < r.time; });
      // Fastest first, unless a deterministic one costs nothing measurable; then the rest in order.
      std::vector<const Perf*> order;
      if (!ok.empty()) {
        const float free_time = ok[0].time * kDeterministicSlack + kDeterministicSlackMs;
        for (const Perf& r : ok)
          if (r.determinism == CUDNN_DETERMINISTIC && r.time <= free_time) {
            order.push_back(&r);
            break;
          }
        for (const Perf& r : ok)
          if (order.empty() || &r != order[0]) order.push_back(&r);
      }
      for (const Perf* r : order)
        if (commit<Ops>(h, p, *r)) return;
      find_status += ", " + std::to_string(ok.size()) + " of " + std::to_string(returned) + " results usable";
    } else {
      (void)cudaGetLastError();  // do not let a failed benchmark launch surface at an unrelated kernel
    }
  }

  // 2. Fallback: cuDNN's heuristic ranking, no benchmark.
  MMGAN_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv[Ops::kDir].get(), p.base_math()));
  int returned = 0;
  const cudnnStatus_t st = Ops::heuristics(h, p, count, &returned, results.data());
  if (st == CUDNN_STATUS_SUCCESS) {
    for (int i = 0; i < returned && i < count; ++i)
      if (usable<Ops>(p, results[std::size_t(i)]) && commit<Ops>(h, p, results[std::size_t(i)])) return;
  }
  throw_cuda_error(__FILE__, __LINE__, "cuDNN algorithm selection",
                   std::string("no ") + Ops::kName + " algorithm works for this shape (Find: " + find_status +
                       "; Get_v7: " + cudnnGetErrorString(st) + ", " + std::to_string(returned) + " results)");
}

// ---- Validation, description and the cache.

std::string describe(const ConvGeom& g, DType t, bool tf32) {
  auto dims = [](int64_t a, int64_t b, int64_t c, int64_t d) {
    return "[" + std::to_string(a) + ", " + std::to_string(b) + ", " + std::to_string(c) + ", " + std::to_string(d) +
           "]";
  };
  return "x " + dims(g.n, g.c, g.h, g.w) + " * w " + dims(g.o, g.c, g.kh, g.kw) + " -> y " +
         dims(g.n, g.o, g.oh, g.ow) + ", stride " + std::to_string(g.sh) + "x" + std::to_string(g.sw) + ", padding " +
         std::to_string(g.ph) + "x" + std::to_string(g.pw) + ", " + dtype_name(t) +
         (t == DType::F32 ? (tf32 ? " (TF32 allowed)" : " (TF32 off)") : "");
}

// a * b * ... fits an int (cuDNN's legacy descriptors index with int).
bool fits_int(std::initializer_list<int64_t> factors) {
  int64_t p = 1;
  for (int64_t f : factors) {
    if (f < 0 || (f > 0 && p > int64_t(INT_MAX) / f)) return false;
    p *= f;
  }
  return true;
}

std::unique_ptr<Plan> make_plan(const ConvGeom& g, DType t, bool tf32) {
  const bool ints = fits_int({g.n, g.c, g.h, g.w}) && fits_int({g.n, g.o, g.oh, g.ow}) &&
                    fits_int({g.o, g.c, g.kh, g.kw}) && fits_int({g.sh}) && fits_int({g.sw}) && fits_int({g.ph}) &&
                    fits_int({g.pw});
  if (!ints) throw_cuda_error(__FILE__, __LINE__, "conv", "a tensor or parameter exceeds cuDNN's int range");
  auto p = std::make_unique<Plan>();
  MMGAN_CUDNN_CHECK(cudnnCreateTensorDescriptor(p->x.out()));
  MMGAN_CUDNN_CHECK(cudnnCreateTensorDescriptor(p->y.out()));
  MMGAN_CUDNN_CHECK(cudnnCreateFilterDescriptor(p->w.out()));
  for (ConvDesc& cd : p->conv) MMGAN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(cd.out()));
  p->dtype = t;
  p->tf32 = tf32;
  p->exact32 = t == DType::F32 && !tf32;
  const cudnnDataType_t dt = t == DType::F32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_DOUBLE;
  MMGAN_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p->x.get(), CUDNN_TENSOR_NCHW, dt, int(g.n), int(g.c), int(g.h), int(g.w)));
  MMGAN_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p->y.get(), CUDNN_TENSOR_NCHW, dt, int(g.n), int(g.o), int(g.oh), int(g.ow)));
  MMGAN_CUDNN_CHECK(
      cudnnSetFilter4dDescriptor(p->w.get(), dt, CUDNN_TENSOR_NCHW, int(g.o), int(g.c), int(g.kh), int(g.kw)));
  for (const ConvDesc& cd : p->conv) {
    // Compute type = data type (float accumulates in float, double in double).
    MMGAN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cd.get(), int(g.ph), int(g.pw), int(g.sh), int(g.sw), 1, 1,
                                                      CUDNN_CROSS_CORRELATION, dt));
    MMGAN_CUDNN_CHECK(cudnnSetConvolutionMathType(cd.get(), p->base_math()));
  }
  int n = 0, c = 0, h = 0, w = 0;
  MMGAN_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->conv[kFwd].get(), p->x.get(), p->w.get(), &n, &c, &h, &w));
  if (n != g.n || c != g.o || h != g.oh || w != g.ow)
    throw_cuda_error(__FILE__, __LINE__, "conv",
                     "cuDNN's output for this input and kernel is [" + std::to_string(n) + ", " + std::to_string(c) +
                         ", " + std::to_string(h) + ", " + std::to_string(w) +
                         "], not the geometry's (oh, ow must be conv2d's size formula for h, w)");
  return p;
}

using Key = std::array<int64_t, 16>;

struct Cache {
  std::mutex mu;
  std::map<Key, std::unique_ptr<Plan>> plans;
};

Cache& cache() {
  static Cache c;  // descriptors are host objects, independent of any handle: they outlive shutdown()
  return c;
}

// The plan for this geometry with `Ops`'s algorithm chosen (created and chosen on first use).
template <class Ops>
const Plan& plan_for(Context& ctx, const ConvGeom& g, DType t, bool tf32, const Buffers& b) {
  const Key key = {ctx.device(), int64_t(t), tf32 ? 1 : 0, g.n,  g.c,  g.h,  g.w,  g.o,
                   g.kh,         g.kw,       g.oh,         g.ow, g.sh, g.sw, g.ph, g.pw};
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.plans.find(key);
  if (it == c.plans.end()) it = c.plans.emplace(key, make_plan(g, t, tf32)).first;
  Plan& p = *it->second;
  if (!p.choice[Ops::kDir].ready) choose<Ops>(ctx, p, b);
  return p;
}

bool valid_params(const ConvGeom& g) {
  return g.n >= 0 && g.c >= 0 && g.h >= 0 && g.w >= 0 && g.o >= 0 && g.kh >= 0 && g.kw >= 0 && g.oh >= 0 && g.ow >= 0 &&
         g.sh >= 1 && g.sw >= 1 && g.ph >= 0 && g.pw >= 0;
}

// Any empty extent makes every output element an empty sum (or leaves no output at all).
bool degenerate(const ConvGeom& g) {
  return g.n == 0 || g.c == 0 || g.h == 0 || g.w == 0 || g.o == 0 || g.kh == 0 || g.kw == 0 || g.oh == 0 || g.ow == 0;
}

void check_view(const char* op, const char* name, const View& v, DType t, int64_t numel) {
  if (v.dtype == t && v.contiguous() && v.numel() == numel && (numel == 0 || v.data)) return;
  throw_cuda_error(__FILE__, __LINE__, op,
                   std::string(name) + " must be a contiguous " + dtype_name(t) + " tensor of " +
                       std::to_string(numel) + " elements, got " + dtype_name(v.dtype) + " with " +
                       std::to_string(v.numel()) + " elements" + (v.contiguous() ? "" : ", not contiguous"));
}

// Runs direction Ops on the plan of g; in0/in1/out as in Buffers, out being a tensor of out_numel.
template <class Ops>
void conv_call(Context& ctx, const char* op, const ConvGeom& g, const View& in0, const View& in1, const View& out,
               int64_t out_numel) {
  const DType t = out.dtype;
  const bool tf32 = conv_uses_tf32(t);
  DeviceGuard guard(ctx.device());
  if (degenerate(g)) {
    if (out_numel > 0)
      MMGAN_CUDA_CHECK(cudaMemsetAsync(out.data, 0, std::size_t(out_numel) * dtype_size(t), ctx.stream()));
    return;
  }
  const Buffers b{in0.data, in1.data, out.data};
  try {
    const Plan& p = plan_for<Ops>(ctx, g, t, tf32, b);
    DeviceBuffer ws(ctx, p.choice[Ops::kDir].workspace);
    with_dtype(t, [&](auto tag) {  // alpha and beta in the data type
      using T = decltype(tag);
      const T one = 1, zero = 0;
      Ops::run(ctx.cudnn(), p, b, &one, &zero, ws.get(), ws.size());
    });
  } catch (const CudaError& e) {
    throw CudaError(std::string(e.what()) + " [" + op + ", cuDNN " + Ops::kName + ", " + describe(g, t, tf32) + "]");
  }
}

void check_geom(const char* op, const ConvGeom& g, DType t) {
  if (!valid_params(g))
    throw_cuda_error(
        __FILE__, __LINE__, op,
        "invalid geometry " + describe(g, t, conv_uses_tf32(t)) + " (sizes must be >= 0, strides >= 1, padding >= 0)");
}

}  // namespace

void cudnn_conv2d(Context& ctx, const ConvGeom& g, const View& x, const View& w, const View& y) {
  const DType t = y.dtype;
  check_geom("conv2d", g, t);
  check_view("conv2d", "x", x, t, g.n * g.c * g.h * g.w);
  check_view("conv2d", "w", w, t, g.o * g.c * g.kh * g.kw);
  check_view("conv2d", "y", y, t, g.n * g.o * g.oh * g.ow);
  conv_call<FwdOps>(ctx, "conv2d", g, x, w, y, g.n * g.o * g.oh * g.ow);
}

void cudnn_conv2d_input_grad(Context& ctx, const ConvGeom& g, const View& gy, const View& w, const View& gx) {
  const DType t = gx.dtype;
  check_geom("conv2d_input_grad", g, t);
  check_view("conv2d_input_grad", "gy", gy, t, g.n * g.o * g.oh * g.ow);
  check_view("conv2d_input_grad", "w", w, t, g.o * g.c * g.kh * g.kw);
  check_view("conv2d_input_grad", "gx", gx, t, g.n * g.c * g.h * g.w);
  conv_call<BwdDataOps>(ctx, "conv2d_input_grad", g, w, gy, gx, g.n * g.c * g.h * g.w);
}

void cudnn_conv2d_weight_grad(Context& ctx, const ConvGeom& g, const View& x, const View& gy, const View& gw) {
  const DType t = gw.dtype;
  check_geom("conv2d_weight_grad", g, t);
  check_view("conv2d_weight_grad", "x", x, t, g.n * g.c * g.h * g.w);
  check_view("conv2d_weight_grad", "gy", gy, t, g.n * g.o * g.oh * g.ow);
  check_view("conv2d_weight_grad", "gw", gw, t, g.o * g.c * g.kh * g.kw);
  conv_call<BwdFilterOps>(ctx, "conv2d_weight_grad", g, x, gy, gw, g.o * g.c * g.kh * g.kw);
}

}  // namespace mmgan::kernels::cuda
