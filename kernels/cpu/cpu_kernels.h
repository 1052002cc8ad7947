// CPU kernels: the executable specification of every op. Each CUDA kernel is tested against
// these (through the engine's CPU backend), and these are tested against float64 finite
// differences and PyTorch. Inputs marked "contiguous" must be; outputs are always contiguous
// unless stated. float32 reductions accumulate in double.
#pragma once
#include <cstdint>

#include "../adam_math.h"
#include "../batch_norm.h"
#include "../conv_geom.h"
#include "../op_codes.h"
#include "../philox.h"
#include "../pool_geom.h"
#include "../tensor_view.h"

namespace mmgan::kernels::cpu {

// Below this many values a kernel runs on one thread: OpenMP's fork costs more than it saves.
constexpr int64_t kParallelGrain = 1 << 15;

// y = op(x), x and y contiguous with the same numel.
void unary(UnaryOp op, double a, double b, const View& x, const View& y);
// out = op(a, b); a and b are already broadcast to out's sizes (stride 0 on broadcast dims), out contiguous.
void binary(BinaryOp op, const View& a, const View& b, const View& out);
// out = cond != 0 ? a : b, all broadcast to out's sizes, out contiguous.
void where(const View& cond, const View& a, const View& b, const View& out);
// dst = src elementwise with dtype conversion; both arbitrarily strided with equal sizes.
void copy(const View& src, const View& dst);
// Every element of dst (arbitrarily strided) = value.
void fill(const View& dst, double value);
// out[o, i] = reduce_r x[o, r, i]; x contiguous [outer, r, inner], out contiguous [outer, inner].
void reduce(ReduceOp op, const View& x, int64_t outer, int64_t r, int64_t inner, const View& out);
// out[n] = op(x[n, :]); x contiguous [n, d]; param is s for SmoothMax.
void row_reduce(RowOp op, double param, const View& x, int64_t n, int64_t d, const View& out);
// C = alpha * op(A) @ op(B) + beta * C, row-major with leading dimensions (OpenBLAS).
void gemm(DType t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const void* a, int64_t lda, const void* b, int64_t ldb, double beta, void* c, int64_t ldc);
// 2-d convolution family (kernels/conv_geom.h); all tensors contiguous, outputs overwritten.
// x [N, C, H, W], w [O, C, KH, KW], y / gy [N, O, OH, OW], gw [O, C, KH, KW].
void conv2d(const ConvGeom& g, const View& x, const View& w, const View& y, const ConvEpilogue& ep = {});
void conv2d_input_grad(const ConvGeom& g, const View& gy, const View& w, const View& gx);
void conv2d_weight_grad(const ConvGeom& g, const View& x, const View& gy, const View& gw);
// Pooling and bilinear resizing (kernels/pool_geom.h, pool.cpp, resize.cpp); all tensors
// contiguous, outputs overwritten. x, gx [N, C, H, W]; y, gy [N, C, OH, OW].
// max_pool2d: window maxima. max_pool2d_gather: y = v (x-shaped) at each window's argmax in x;
// max_pool2d_scatter, its adjoint: gx = gy added at those positions.
void max_pool2d(const PoolGeom& g, const View& x, const View& y);
void max_pool2d_gather(const PoolGeom& g, const View& x, const View& v, const View& y);
void max_pool2d_scatter(const PoolGeom& g, const View& x, const View& gy, const View& gx);
// Window averages (fixed or adaptive windows) and their adjoint (gy / divisor spread over each window).
void avg_pool2d(const PoolGeom& g, const View& x, const View& y);
void avg_pool2d_adjoint(const PoolGeom& g, const View& gy, const View& gx);
// Bilinear resize (align_corners=False) and its adjoint.
void resize_bilinear(const ResizeGeom& g, const View& x, const View& y);
void resize_bilinear_adjoint(const ResizeGeom& g, const View& gy, const View& gx);
// Training-mode BatchNorm (batch_norm.cpp), all operands contiguous. channel_moments: per channel
// of x [N, channels, inner], the mean and the biased variance (two sweeps, accumulated in double).
// channel_affine: the apply step fused with its activation (batch_norm.h), scale and shift
// [channels]. batch_norm_grad_reduce: gw, gb [channels]; batch_norm_grad_input: gx, from them
// (batch_norm.h).
void channel_moments(const View& x, int64_t channels, int64_t inner, const View& mean, const View& var);
void channel_affine(const View& x, const View& scale, const View& shift, int64_t channels, int64_t inner, bool act,
                    double slope, const View& y);
void batch_norm_grad_reduce(const BatchNormGrad& a, const View& gw, const View& gb);
void batch_norm_grad_input(const BatchNormGrad& a, const View& gw, const View& gb, const View& gx);
// Philox draws (see philox.h for the stream layout and the key). dst contiguous.
void fill_uniform(const View& dst, const PhiloxKey& key, double lo, double hi);
void fill_normal(const View& dst, const PhiloxKey& key, double mean, double std);
// The penalty's random points (interpolate.h): u [N] and xhat [N, ...] from x_real, x_fake [N, ...]
// (all contiguous, one dtype); u_n is element n of a uniform draw at key.
void interpolate(const View& x_real, const View& x_fake, const PhiloxKey& key, const View& u, const View& xhat);

// One step of torch.optim.Adam (single-tensor path of PyTorch 1.13) for each of `count` tensors,
// in place on p, m, v (adam_math.h: lr and each tensor's step t are read from memory):
//   g' = g + wd p;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g' g'
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The operation order matches PyTorch's so float32 agrees bitwise up to the bias corrections' pow.
void adam_step(DType t, const AdamTensor* tensors, int count, const AdamHyper& h);

}  // namespace mmgan::kernels::cpu
