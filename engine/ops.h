// Every differentiable op of the engine. Each one's forward and backward formula sit side by side
// in ops/*.cpp, and every backward is written in these same ops, so gradients of gradients come
// free, to any order. Masks, signs and argmax positions are constants in those formulas.
#pragma once
#include <vector>

#include "kernels/op_codes.h"
#include "engine/tensor.h"

namespace mmgan {

// ---- elementwise (ops/elementwise.cpp) -----------------------------------------------------
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  // a constant: its gradient is zero
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor pow(const Tensor& x, double p);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double slope);
// leaky_relu's derivative at x as a constant (no history): x > 0 ? 1 : slope (slope 0: relu's).
// Ops that fuse the activation read it from their output, which has the same sign for slope >= 0.
Tensor leaky_relu_mask(const Tensor& x, double slope);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor softplus(const Tensor& x);     // log(1 + e^x), stable for any x
Tensor log_sigmoid(const Tensor& x);  // log(sigmoid(x)) = -softplus(-x), stable for any x

Tensor add(const Tensor& a, const Tensor& b);  // broadcasting
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient split evenly on ties
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& x, double s);
Tensor mul(const Tensor& x, double s);
Tensor rsub(double s, const Tensor& x);                              // s - x
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // cond != 0 ? a : b; cond is constant

// Masks (1 where true, 0 elsewhere; never differentiable).
Tensor gt(const Tensor& x, double s);
Tensor ge(const Tensor& x, double s);
Tensor lt(const Tensor& x, double s);
Tensor le(const Tensor& x, double s);
Tensor eq(const Tensor& x, double s);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);

// ---- reductions (ops/reduce.cpp) -----------------------------------------------------------
Tensor sum(const Tensor& x);  // all elements -> shape []
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor amax(const Tensor& x);  // max; gradient split evenly across ties
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor sum_to(const Tensor& x, const Shape& shape);  // undoes broadcasting

// Per-sample reductions over all non-batch dimensions: [N, ...] -> [N].
Tensor l1_norm_per_sample(const Tensor& x);
Tensor l2_norm_per_sample(const Tensor& x);               // gradient 0 at x = 0
Tensor linf_norm_per_sample(const Tensor& x);             // max |x|; gradient split across ties
Tensor smooth_max_per_sample(const Tensor& x, double s);  // sum(x e^{sx}) / sum(e^{sx})
Tensor logsumexp_per_sample(const Tensor& x);
Tensor reduce_per_sample(const Tensor& x, kernels::RowOp op, double s = 1.0);

// ---- shape and views (ops/view.cpp) --------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& s);  // a view when possible; one -1 allowed
Tensor flatten(const Tensor& x, int64_t start = 0, int64_t end = -1);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor expand(const Tensor& x, const Shape& s);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor contiguous(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType t);
Tensor to_device(const Tensor& x, Device d);
Tensor clone(const Tensor& x);
// The gradient of slice: zeros of `shape` with g written into the slice (a differentiable op).
Tensor slice_backward(const Tensor& g, const Shape& shape, int64_t dim, int64_t start, int64_t end, int64_t step);

// ---- linear algebra (ops/gemm.cpp) ---------------------------------------------------------
Tensor matmul(const Tensor& a, const Tensor& b);                        // [m, k] @ [k, n]
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = {});  // x @ w^T + b, w: [out, in]

// ---- convolutions (ops/conv.cpp) ----------------------------------------------------------
// The closed family: conv2d, conv_transpose2d and conv2d_weight are each other's derivatives, so
// gradients of any order stay inside it. No groups, no dilation (the paper's networks use none).
struct ConvParams {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  ConvParams() = default;
  ConvParams(int64_t stride, int64_t pad) : stride_h(stride), stride_w(stride), pad_h(pad), pad_w(pad) {}
  ConvParams(int64_t sh, int64_t sw, int64_t ph, int64_t pw) : stride_h(sh), stride_w(sw), pad_h(ph), pad_w(pw) {}
};
// x [N, C, H, W], w [O, C, KH, KW], b [O] or undefined -> [N, O, (H+2p-KH)/s+1, (W+2p-KW)/s+1].
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = {}, ConvParams p = {});
// leaky_relu(conv2d(x, w, b, p), slope) (slope 0: relu), the bias and the activation fused into the
// convolution's output pass; slope >= 0. Differentiable to any order in x, w and b.
Tensor conv2d_act(const Tensor& x, const Tensor& w, const Tensor& b, ConvParams p, double slope);
// The adjoint of conv2d in its input (PyTorch's ConvTranspose2d): x [N, C_in, H, W],
// w [C_in, C_out, KH, KW] -> [N, C_out, (H-1)s - 2p + K + output_padding, ...], output_padding < s.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b = {}, ConvParams p = {},
                        int64_t output_padding_h = 0, int64_t output_padding_w = 0);
// The same with the output size given (it fixes output_padding; an impossible size is an error).
Tensor conv_transpose2d_to(const Tensor& x, const Tensor& w, int64_t out_h, int64_t out_w, const Tensor& b = {},
                           ConvParams p = {});
// The gradient of conv2d(x, w) w.r.t. w for output gradient gy: x [N, C, H, W], gy [N, O, OH, OW]
// -> [O, C, KH, KW]. Bilinear in (x, gy).
Tensor conv2d_weight(const Tensor& x, const Tensor& gy, int64_t kh, int64_t kw, ConvParams p = {});

// ---- normalisation (ops/batch_norm.cpp, ops/spectral_norm.cpp) ----------------------------
// BatchNorm over (N, H, W) of x [N, C, H, W]; weight, bias [C] or undefined (no affine).
// training: batch statistics (biased variance in the output); running_mean / running_var, when
// defined, are updated in place outside autograd exactly as PyTorch does:
//   r <- (1 - momentum) r + momentum * batch statistic, the variance unbiased (n / (n - 1)).
// !training: the running statistics normalise (they must be defined). Differentiable to any order
// in x, weight and bias, batch coupling included.
Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                    const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// leaky_relu(batch_norm2d(...), slope) (slope 0: relu), with the activation fused into the
// normalisation's single pass over x in training mode (one kernel instead of five), and its mask
// applied to the gradient inside the same recorded op; slope >= 0.
Tensor batch_norm2d_act(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double slope, double momentum = 0.1,
                        double eps = 1e-5);
// The input, weight and bias gradients (gx, gw, gb) of training-mode batch_norm2d for the output
// gradient grad; weight undefined: no affine (gw is still sum grad xhat). With act_output, the
// output of batch_norm2d_act(..., slope), the activation's mask is read from it (a constant) and
// applies to grad first. The backward those ops record; two kernels, differentiable to any order
// in x, weight and grad.
std::vector<Tensor> batch_norm2d_backward(const Tensor& x, const Tensor& weight, const Tensor& grad,
                                          const Tensor& act_output = {}, double slope = 0, double eps = 1e-5);
// Spectral normalisation as torch.nn.utils.spectral_norm: w / sigma with sigma = u . (W v), W = w
// with dimension `dim` moved first and flattened to [h, rest], u [h], v [rest] constants. With
// power_iteration, first (in place, outside autograd): v <- normalize(W^T u), u <- normalize(W v),
// normalize(a) = a / max(|a|, eps), as PyTorch does on every training forward. The result's graph
// holds copies of u and v, so later in-place updates of the buffers never change it.
Tensor spectral_normalize(const Tensor& w, const Tensor& u, const Tensor& v, int64_t dim, bool power_iteration,
                          double eps = 1e-12);

// ---- pooling and resizing (ops/pool.cpp, ops/resize.cpp) -----------------------------------
// Each is linear in its input (max pooling piecewise, with the argmax positions constants), with a
// backward written as a recorded op whose own backward leads back, so any order works.
struct PoolParams {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  PoolParams() = default;
  PoolParams(int64_t kernel, int64_t stride, int64_t pad = 0)
      : kernel_h(kernel), kernel_w(kernel), stride_h(stride), stride_w(stride), pad_h(pad), pad_w(pad) {}
  PoolParams(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw)
      : kernel_h(kh), kernel_w(kw), stride_h(sh), stride_w(sw), pad_h(ph), pad_w(pw) {}
};
// x [N, C, H, W]; floor mode, as torch.nn.functional.max_pool2d (padding counts as -inf; pad <= kernel/2 as PyTorch
// requires).
Tensor max_pool2d(const Tensor& x, PoolParams p);
// As F.avg_pool2d (floor mode); count_include_pad as PyTorch's flag (false: divide by the number of in-bounds
// elements).
Tensor avg_pool2d(const Tensor& x, PoolParams p, bool count_include_pad = true);
// As F.adaptive_avg_pool2d: output cell i averages input rows floor(i*H/OH) .. ceil((i+1)*H/OH)-1 (same for columns).
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);
// As F.interpolate(x, size=(out_h, out_w), mode="bilinear", align_corners=False): source coordinate (i + 0.5) * H/OH -
// 0.5 clamped at 0, etc.
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w);
// The gradient of max_pool2d(x, p) for output gradient gy: gy added at each window's first
// maximum in x (row-major order, as PyTorch's CPU kernel). x is a constant (no gradient flows to
// it); differentiable in gy (its derivative gathers at the same positions).
Tensor max_pool2d_backward(const Tensor& gy, const Tensor& x, PoolParams p);

// ---- sampling (ops/random.cpp) ------------------------------------------------------------
// The gradient penalty's random points in one kernel (kernels/interpolate.h): u_n ~ U[0, 1) per
// sample, the numbers rand({N, 1, ...}, g) would draw (and g advances as it would), and
// xhat = x_real u + x_fake (1 - u), equal bit for bit to computing it with the ops above. A sample
// point, so no gradient is recorded. u_out, when given, receives u shaped [N, 1, ...].
Tensor random_interpolate(const Tensor& x_real, const Tensor& x_fake, Generator& g, Tensor* u_out = nullptr);

// ---- collectives (ops/collective.cpp; engine/distributed.h) -------------------------------
// Across the ranks of a data-parallel run; the identity in one process or a LocalScope. Every rank
// must call them in the same order with the same shapes.
// y = sum (ReduceOp::Sum) or max (ReduceOp::Max) of x over the ranks, on every rank. Backward: the
// sum all-reduce of the incoming gradients (for max, to the holders of the maximum, split on ties).
Tensor all_reduce(const Tensor& x, kernels::ReduceOp op);
// The ranks' x [n, ...] concatenated along dim 0 in rank order: [world_size() n, ...] on every rank.
Tensor all_gather(const Tensor& x);
// This rank's rows of a global batch [B, ...] (B divisible by world_size()): rows b r .. b (r+1) - 1.
Tensor shard(const Tensor& x);

// ---- operators -----------------------------------------------------------------------------
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double s) { return add(a, s); }
inline Tensor operator+(double s, const Tensor& a) { return add(a, s); }
inline Tensor operator-(const Tensor& a, double s) { return add(a, -s); }
inline Tensor operator-(double s, const Tensor& a) { return rsub(s, a); }
inline Tensor operator*(const Tensor& a, double s) { return mul(a, s); }
inline Tensor operator*(double s, const Tensor& a) { return mul(a, s); }
inline Tensor operator/(const Tensor& a, double s) { return mul(a, 1.0 / s); }
inline Tensor operator/(double s, const Tensor& a) { return mul(reciprocal(a), s); }

}  // namespace mmgan
