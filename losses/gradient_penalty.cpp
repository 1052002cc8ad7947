// The formulas of gradient_penalty.h, in engine ops so the penalty's gradient w.r.t. the critic's
// parameters (a double backward) comes from the engine.
#include "losses/gradient_penalty.h"

#include <cctype>
#include <limits>

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace mmgan::losses {
namespace {

std::string lower(const std::string& s) {
  std::string k;
  for (char c : s) k += char(std::tolower(static_cast<unsigned char>(c)));
  return k;
}

template <class E, size_t N>
E parse_enum(const std::string& s, const char* what, const std::pair<const char*, E> (&table)[N]) {
  const std::string k = lower(s);
  std::string valid;
  for (const auto& [name, v] : table) {
    if (k == name) return v;
    valid += std::string(" ") + name;
  }
  MMGAN_FAIL("unknown ", what, " '", s, "'; valid:", valid);
}

template <class E, size_t N>
std::string name_of(E v, const std::pair<const char*, E> (&table)[N]) {
  for (const auto& [name, e] : table)
    if (e == v) return name;
  return "?";
}

const std::pair<const char*, GpNorm> kNorms[] = {{"l1", GpNorm::L1},
                                                 {"l2", GpNorm::L2},
                                                 {"linf", GpNorm::LInf},
                                                 {"smoothmax", GpNorm::SmoothMax},
                                                 {"logsumexp", GpNorm::LogSumExp}};
const std::pair<const char*, GpForm> kForms[] = {{"squared-diff", GpForm::SquaredDiff},
                                                 {"hinge", GpForm::Hinge},
                                                 {"clamp", GpForm::Clamp},
                                                 {"squared-clamp", GpForm::SquaredClamp},
                                                 {"squared", GpForm::Squared},
                                                 {"tv", GpForm::TV},
                                                 {"abs", GpForm::Abs},
                                                 {"hinge2", GpForm::Hinge2}};
const std::pair<const char*, GpReduction> kReductions[] = {
    {"mean", GpReduction::Mean}, {"max", GpReduction::Max}, {"softmax", GpReduction::Softmax}};
const std::pair<const char*, GpWhere> kWheres[] = {
    {"interpolate", GpWhere::Interpolate}, {"real", GpWhere::Real}, {"fake", GpWhere::Fake}};

}  // namespace

GpNorm parse_gp_norm(const std::string& s) { return parse_enum(s, "gradient-penalty norm", kNorms); }
GpForm parse_gp_form(const std::string& s) { return parse_enum(s, "penalty type", kForms); }
GpReduction parse_gp_reduction(const std::string& s) { return parse_enum(s, "penalty reduction", kReductions); }
GpWhere parse_gp_where(const std::string& s) { return parse_enum(s, "penalty location", kWheres); }
std::string to_string(GpNorm v) { return name_of(v, kNorms); }
std::string to_string(GpForm v) { return name_of(v, kForms); }
std::string to_string(GpReduction v) { return name_of(v, kReductions); }
std::string to_string(GpWhere v) { return name_of(v, kWheres); }

Tensor gradient_norm(const Tensor& g, GpNorm norm, double s) {
  MMGAN_CHECK(g.dim() >= 1, "gradient_norm: gradient must be [N, ...], got ", g.str());
  switch (norm) {
    case GpNorm::L1: return l1_norm_per_sample(g);
    case GpNorm::L2: return l2_norm_per_sample(g);
    case GpNorm::LInf: return linf_norm_per_sample(g);
    case GpNorm::SmoothMax: return smooth_max_per_sample(abs(g), s);
    case GpNorm::LogSumExp: return logsumexp_per_sample(abs(g));
  }
  return {};
}

Tensor penalty_form(const Tensor& n, GpForm form) {
  switch (form) {
    case GpForm::SquaredDiff: return square(n - 1.0);
    case GpForm::Hinge: return relu(n - 1.0);
    case GpForm::Clamp: return clamp(n, 1.0, std::numeric_limits<double>::infinity()) - 1.0;
    case GpForm::SquaredClamp: return square(clamp(n, 1.0, std::numeric_limits<double>::infinity()) - 1.0);
    case GpForm::Squared: return square(n);
    case GpForm::TV: return n;
    case GpForm::Abs: return abs(n - 1.0);
    case GpForm::Hinge2: return square(relu(n - 1.0));
  }
  return {};
}

Tensor reduce_batch(const Tensor& c, GpReduction r) {
  switch (r) {
    case GpReduction::Mean: return mean(c);
    case GpReduction::Max: return amax(c);
    case GpReduction::Softmax: {
      // softmax over the batch, max-shifted for stability (the shift cancels in the ratio).
      const Tensor e = exp(c - amax(c).detach());
      return sum(e / sum(e) * c);
    }
  }
  return {};
}

Tensor penalty_points(const Tensor& x_real, const Tensor& x_fake, const Tensor& u, GpWhere where) {
  NoGradGuard ng;
  switch (where) {
    case GpWhere::Real: return x_real.detach();
    case GpWhere::Fake: return x_fake.detach();
    case GpWhere::Interpolate: break;
  }
  MMGAN_CHECK(x_real.shape() == x_fake.shape(), "penalty: real batch ", x_real.str(), " and fake batch ", x_fake.str(),
              " differ in shape");
  MMGAN_CHECK(u.defined() && u.numel() == x_real.size(0), "penalty: u must hold one value per sample, got ",
              u.defined() ? u.str() : std::string("undefined"), " for batch ", x_real.str());
  Shape s(size_t(x_real.dim()), 1);
  s[0] = x_real.size(0);
  const Tensor uc = u.detach().reshape(s);
  return x_real.detach() * uc + x_fake.detach() * (1.0 - uc);
}

PenaltyTerms gradient_penalty(const Critic& critic, const Tensor& xhat_in, const PenaltyConfig& cfg,
                              const Tensor& lagrange) {
  MMGAN_CHECK(!cfg.augmented || (lagrange.defined() && lagrange.numel() == 1 && !lagrange.requires_grad()),
              "penalty: the augmented Lagrangian needs its multiplier as a scalar tensor without grad, got ",
              lagrange.str());
  Tensor xhat = xhat_in.detach();
  xhat.requires_grad_(true);
  const Tensor c = critic(xhat);
  MMGAN_CHECK(c.dim() == 1 && c.size(0) == xhat.size(0), "penalty: the critic must return [N], got ", c.str());
  GradOptions go;
  go.create_graph = true;
  const Tensor g = grad({sum(c)}, {xhat}, {}, go)[0];
  // The whole batch's norms (the identity in one process): the reduction over the batch is global.
  const Tensor n = all_gather(gradient_norm(g, cfg.norm, cfg.smoothmax));
  const Tensor constraint = reduce_batch(penalty_form(n, cfg.form), cfg.reduction);
  PenaltyTerms t;
  t.constraint = constraint;
  t.grad_norm = n.detach();
  t.loss = cfg.augmented
               ? constraint * neg(lagrange.reshape({})).to(constraint.dtype()) + square(constraint) * (cfg.rho / 2)
               : constraint * cfg.lambda;
  return t;
}

Tensor pseudo_margin(const Critic& critic, const Tensor& x, double y, GpNorm penalised) {
  Tensor xg = x.detach();
  xg.requires_grad_(true);
  const Tensor c = critic(xg);
  const Tensor g = grad({sum(c)}, {xg})[0];
  NoGradGuard ng;
  const GpNorm q = penalised == GpNorm::SmoothMax || penalised == GpNorm::LogSumExp ? GpNorm::LInf : penalised;
  return c.detach() * y / gradient_norm(g, q);
}

}  // namespace mmgan::losses
