// The gradient penalty of Sections 2.3, 3 and 4.4, with every option of the official code:
//   xhat = u x_real + (1 - u) x_fake with u ~ U(0, 1) per sample (or x_real / x_fake only),
//   g = grad_x C(x) at xhat (the raw critic output, D in train mode, create_graph),
//   n = ||g|| per sample over the flattened C*H*W gradient, no epsilon:
//       L1 sum|g|, L2 sqrt(sum g^2), LInf max|g|, SmoothMax sum(|g| e^{s|g|}) / sum(e^{s|g|}),
//       LogSumExp log sum e^{|g|}   (the last two are smooth stand-ins for max|g|),
//   constraint per sample:  squared-diff (n-1)^2, hinge max(0, n-1), clamp max(n, 1) - 1,
//       squared-clamp (max(n, 1) - 1)^2, squared n^2, TV n, abs |n-1|, hinge2 max(0, n-1)^2,
//   reduced over the batch by mean, max or softmax-weighted sum (sum softmax(c) c),
//   added to the D loss as lambda * constraint, or, with the augmented Lagrangian,
//   -w * constraint + rho/2 * constraint^2 with the multiplier w updated w <- w - rho * constraint.
// Margins (Section 3.1.2): penalising ||grad||_q maximises the L-p margin with p the dual of q
// (L-inf penalty <-> L1 margin); pseudo_margin() gives y C(x) / ||grad_x C(x)||_q for the metrics.
// Checked by tests/test_losses.cpp (hand-computed values) and the PyTorch step-dump parity.
#pragma once
#include <functional>
#include <string>

#include "engine/tensor.h"

namespace mmgan::losses {

enum class GpNorm { L1, L2, LInf, SmoothMax, LogSumExp };
enum class GpForm { SquaredDiff, Hinge, Clamp, SquaredClamp, Squared, TV, Abs, Hinge2 };
enum class GpReduction { Mean, Max, Softmax };
enum class GpWhere { Interpolate, Real, Fake };

GpNorm parse_gp_norm(const std::string& s);            // l1, l2, linf, smoothmax, logsumexp
GpForm parse_gp_form(const std::string& s);            // the official --penalty-type names
GpReduction parse_gp_reduction(const std::string& s);  // mean, max, softmax
GpWhere parse_gp_where(const std::string& s);          // interpolate, real, fake
std::string to_string(GpNorm v);
std::string to_string(GpForm v);
std::string to_string(GpReduction v);
std::string to_string(GpWhere v);

struct PenaltyConfig {
  bool enabled = false;
  GpNorm norm = GpNorm::LInf;
  GpForm form = GpForm::Hinge;
  GpReduction reduction = GpReduction::Mean;
  GpWhere where = GpWhere::Interpolate;
  double lambda = 20;
  double smoothmax = 1.0;  // s of the smooth max
  bool augmented = false;  // augmented Lagrangian (official --grad_penalty_aug)
  double rho = 1e-4;
};

using Critic = std::function<Tensor(const Tensor&)>;

// Per-sample norm of g [N, ...] -> [N].
Tensor gradient_norm(const Tensor& g, GpNorm norm, double smoothmax = 1.0);
// Per-sample constraint of norms n [N] -> [N].
Tensor penalty_form(const Tensor& n, GpForm form);
// [N] -> [] .
Tensor reduce_batch(const Tensor& c, GpReduction r);
// The points where the penalty is taken; u is [N] or [N, 1, 1, 1] (ignored unless Interpolate).
Tensor penalty_points(const Tensor& x_real, const Tensor& x_fake, const Tensor& u, GpWhere where);

struct PenaltyTerms {
  Tensor loss;        // what the D loss adds (scalar, differentiable in the critic's parameters)
  Tensor constraint;  // the reduced constraint (scalar, differentiable)
  Tensor grad_norm;   // [N], detached: the norms at xhat, for the metrics
};
// lagrange: the multiplier w when cfg.augmented (ignored otherwise), a scalar tensor on xhat's device
// (a constant; the trainer keeps it on the device and updates it there, so a step reads no host value).
PenaltyTerms gradient_penalty(const Critic& critic, const Tensor& xhat, const PenaltyConfig& cfg,
                              const Tensor& lagrange = {});

// The pseudo-margin y C(x) / ||grad_x C(x)||_q per sample (y = +1 real, -1 fake), q the penalised
// norm, i.e. the dual of the margin's norm (the smooth stand-ins of LInf count as LInf). Records
// nothing that outlives the call.
Tensor pseudo_margin(const Critic& critic, const Tensor& x, double y, GpNorm penalised);

}  // namespace mmgan::losses
