// Every GAN loss and every gradient-penalty option against values computed here by plain scalar
// loops from the official code's formulas (an independent reference: no engine op is involved),
// on tiny inputs chosen so every branch (hinge active and inactive, clamp above and below 1) is hit.
#include <cmath>
#include <map>

#include "losses/gan_loss.h"
#include "losses/gradient_penalty.h"
#include "tests/test_util.h"

namespace mmgan {
namespace {

using namespace losses;
using V = std::vector<double>;

const V kReal = {0.5, -1.0, 2.0, 0.1};
const V kFake = {-0.3, 0.8, 1.5, -2.2};

double meanv(const V& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}
V map(const V& v, double (*f)(double)) {
  V o;
  for (double x : v) o.push_back(f(x));
  return o;
}
V shift(const V& v, double s) {
  V o;
  for (double x : v) o.push_back(x + s);
  return o;
}
V diff(const V& a, const V& b) {
  V o;
  for (size_t i = 0; i < a.size(); ++i) o.push_back(a[i] - b[i]);
  return o;
}
V pairs(const V& a, const V& b) {
  V o;
  for (double x : a)
    for (double y : b) o.push_back(x - y);
  return o;
}
double sp(double x) { return std::log1p(std::exp(x)); }
double spn(double x) { return std::log1p(std::exp(-x)); }
double sq1m(double x) { return (x - 1) * (x - 1); }
double sq1p(double x) { return (x + 1) * (x + 1); }
double sq(double x) { return x * x; }
double h1m(double x) { return std::max(0.0, 1 - x); }
double h1p(double x) { return std::max(0.0, 1 + x); }
double neg(double x) { return -x; }
double id(double x) { return x; }

// BCE_stable(x, 1), BCE_stable(x, 0), and the least-squares / hinge pieces, per family.
struct Fam {
  double (*up)(double);
  double (*down)(double);
};
Fam fam(int family) {
  switch (family) {
    case 1: return {spn, sp};
    case 2: return {sq1m, sq1p};
    case 3: return {h1m, h1p};
    default: return {neg, id};
  }
}
double up(int f, const V& v) { return meanv(map(v, fam(f).up)); }
double down(int f, const V& v) { return meanv(map(v, fam(f).down)); }

std::pair<double, double> reference(GanLoss l, const V& r, const V& f) {
  const int n = int(l), fm = n % 10;
  const double mr = meanv(r), mf = meanv(f), c = (mr + mf) / 2;
  switch (n / 10) {
    case 0: {
      const double d = up(fm, r) + (fm == 2 ? meanv(map(f, sq)) : down(fm, f));
      const double g = fm == 3 ? -meanv(f) : up(fm, f);
      return {d, g};
    }
    case 1: return {up(fm, shift(r, -mf)) + down(fm, shift(f, -mr)), down(fm, shift(r, -mf)) + up(fm, shift(f, -mr))};
    case 2: return {up(fm, shift(r, -c)) + down(fm, shift(f, -c)), down(fm, shift(r, -c)) + up(fm, shift(f, -c))};
    case 3: return {2 * up(fm, diff(r, f)), up(fm, diff(f, r))};
    default: return {2 * up(fm, pairs(r, f)), 2 * up(fm, pairs(f, r))};
  }
}

TEST(GanLoss, EveryLossMatchesTheOfficialFormulas) {
  const Tensor r = from_vector(kReal, {4}, DType::F64), f = from_vector(kFake, {4}, DType::F64);
  for (GanLoss l : all_gan_losses()) {
    const auto [d, g] = reference(l, kReal, kFake);
    EXPECT_NEAR(d_loss(l, r, f).item(), d, 1e-13) << gan_loss_name(l);
    EXPECT_NEAR(g_loss(l, r, f).item(), g, 1e-13) << gan_loss_name(l);
  }
  // Non-relativistic G losses do not need C(x_real).
  EXPECT_NEAR(g_loss(GanLoss::Hinge, {}, f).item(), -meanv(kFake), 1e-15);
}

TEST(GanLoss, ParsesOfficialNumbersAndNames) {
  EXPECT_EQ(parse_gan_loss("3"), GanLoss::Hinge);
  EXPECT_EQ(parse_gan_loss("hinge"), GanLoss::Hinge);
  EXPECT_EQ(parse_gan_loss("RaLSGAN"), GanLoss::RaLSGAN);
  EXPECT_EQ(parse_gan_loss("rp-hinge-mvue"), GanLoss::RpHinge_MVUE);
  EXPECT_EQ(parse_gan_loss("wgan-gp"), GanLoss::WGAN);
  for (GanLoss l : all_gan_losses()) EXPECT_EQ(parse_gan_loss(gan_loss_name(l)), l) << gan_loss_name(l);
  try {
    parse_gan_loss("14");
    FAIL() << "14 is not a loss";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'14'"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(relativistic(GanLoss::RcSGAN));
  EXPECT_FALSE(relativistic(GanLoss::WGAN));
}

// Gradients of a critic with a known input gradient: C(x)_i = sum_j a_j x_ij^2 / 2, so
// grad_x C_i = a * x_i, and every norm is computable by hand.
struct Known {
  V a = {0.5, -2.0, 1.0, 0.25, -0.75, 1.5};    // per pixel, x is [N, 1, 2, 3]
  V x = {0.9,  0.2,  -0.4, 0.3,  0.1,  0.5,    // sample 0: norms < 1
         1.0,  -0.7, 0.8,  -1.2, 0.4,  0.6,    // sample 1: norms > 1
         -0.2, 0.35, 0.1,  0.6,  -0.5, 0.05};  // sample 2
  Tensor at() const { return from_vector(a, {1, 1, 2, 3}, DType::F64); }
  Tensor xt() const { return from_vector(x, {3, 1, 2, 3}, DType::F64); }
  V grad_row(size_t i) const {
    V g;
    for (size_t j = 0; j < 6; ++j) g.push_back(a[j] * x[i * 6 + j]);
    return g;
  }
  double norm(size_t i, GpNorm n, double s) const {
    const V g = grad_row(i);
    double acc = 0, acc2 = 0, m = 0;
    for (double v : g) {
      const double av = std::fabs(v);
      switch (n) {
        case GpNorm::L1: acc += av; break;
        case GpNorm::L2: acc += v * v; break;
        case GpNorm::LInf: m = std::max(m, av); break;
        case GpNorm::SmoothMax: acc += av * std::exp(s * av), acc2 += std::exp(s * av); break;
        case GpNorm::LogSumExp: acc += std::exp(av); break;
      }
    }
    switch (n) {
      case GpNorm::L1: return acc;
      case GpNorm::L2: return std::sqrt(acc);
      case GpNorm::LInf: return m;
      case GpNorm::SmoothMax: return acc / acc2;
      case GpNorm::LogSumExp: return std::log(acc);
    }
    return 0;
  }
};

double form_ref(double n, GpForm f) {
  switch (f) {
    case GpForm::SquaredDiff: return (n - 1) * (n - 1);
    case GpForm::Hinge: return std::max(0.0, n - 1);
    case GpForm::Clamp: return std::max(n, 1.0) - 1;
    case GpForm::SquaredClamp: return (std::max(n, 1.0) - 1) * (std::max(n, 1.0) - 1);
    case GpForm::Squared: return n * n;
    case GpForm::TV: return n;
    case GpForm::Abs: return std::fabs(n - 1);
    case GpForm::Hinge2: return std::max(0.0, n - 1) * std::max(0.0, n - 1);
  }
  return 0;
}

double reduce_ref(const V& c, GpReduction r) {
  switch (r) {
    case GpReduction::Mean: return meanv(c);
    case GpReduction::Max: return *std::max_element(c.begin(), c.end());
    case GpReduction::Softmax: {
      double z = 0, s = 0;
      for (double v : c) z += std::exp(v);
      for (double v : c) s += std::exp(v) / z * v;
      return s;
    }
  }
  return 0;
}

TEST(GradientPenalty, EveryNormFormAndReductionMatchesHandComputedValues) {
  const Known k;
  const Tensor a = k.at();
  const Critic critic = [&](const Tensor& x) { return sum(square(x) * a * 0.5, {1, 2, 3}); };
  int checked = 0;
  for (GpNorm n : {GpNorm::L1, GpNorm::L2, GpNorm::LInf, GpNorm::SmoothMax, GpNorm::LogSumExp}) {
    for (GpForm f : {GpForm::SquaredDiff, GpForm::Hinge, GpForm::Clamp, GpForm::SquaredClamp, GpForm::Squared,
                     GpForm::TV, GpForm::Abs, GpForm::Hinge2}) {
      for (GpReduction r : {GpReduction::Mean, GpReduction::Max, GpReduction::Softmax}) {
        PenaltyConfig cfg;
        cfg.norm = n, cfg.form = f, cfg.reduction = r, cfg.lambda = 7, cfg.smoothmax = 0.5;
        const PenaltyTerms t = gradient_penalty(critic, k.xt(), cfg);
        V norms, cons;
        for (size_t i = 0; i < 3; ++i) norms.push_back(k.norm(i, n, 0.5));
        for (double v : norms) cons.push_back(form_ref(v, f));
        const std::string what = to_string(n) + "/" + to_string(f) + "/" + to_string(r);
        EXPECT_LT(test::rel_error(t.grad_norm.to_vector(), norms), 1e-13) << what;
        EXPECT_NEAR(t.constraint.item(), reduce_ref(cons, r), 1e-13) << what;
        EXPECT_NEAR(t.loss.item(), 7 * reduce_ref(cons, r), 1e-12) << what;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 5 * 8 * 3);
  // The test data straddles 1, so hinge and clamp are both active and inactive somewhere.
  EXPECT_LT(k.norm(0, GpNorm::LInf, 1), 1.0);
  EXPECT_GT(k.norm(1, GpNorm::LInf, 1), 1.0);
}

TEST(GradientPenalty, AugmentedLagrangianTermIsTheOfficialOne) {
  const Known k;
  const Tensor a = k.at();
  const Critic critic = [&](const Tensor& x) { return sum(square(x) * a * 0.5, {1, 2, 3}); };
  PenaltyConfig cfg;
  cfg.norm = GpNorm::L2, cfg.form = GpForm::SquaredDiff, cfg.augmented = true, cfg.rho = 0.3;
  const PenaltyTerms t = gradient_penalty(critic, k.xt(), cfg, scalar(20.0, DType::F64));
  const double c = t.constraint.item();
  EXPECT_NEAR(t.loss.item(), -20 * c + 0.15 * c * c, 1e-12);
}

// The fused sampling kernel draws the same u and computes the same points, bit for bit, as rand()
// followed by penalty_points() (float32 and float64, with and without a device-side base, a
// non-contiguous input), and leaves the generator where they would.
TEST(GradientPenalty, RandomInterpolateEqualsTheUnfusedOps) {
  for (const DType t : {DType::F32, DType::F64}) {
    for (const Shape& shape : {Shape{5, 3, 4, 4}, Shape{1, 2}, Shape{7, 1}, Shape{3, 2, 5}}) {
      Generator data(11);
      const Tensor xr = test::uniform(shape, -1, 1, data, false, t);
      Tensor xf = test::uniform(shape, -1, 1, data, false, t);
      if (shape.size() == 2 && shape[1] == 2) xf = test::uniform({2, 1}, -1, 1, data, false, t).t();  // a view
      for (const bool with_base : {false, true}) {
        Generator a(42), b(42);
        const Tensor base = scalar(1234.0, DType::F64);
        if (with_base) a.bind_base(base), b.bind_base(base);
        a.set_state(42, 9), b.set_state(42, 9);
        Tensor u_fused;
        const Tensor fused = random_interpolate(xr, xf, a, &u_fused);
        Shape us(shape.size(), 1);
        us[0] = shape[0];
        const Tensor u = rand(us, b, t);
        const Tensor ref = penalty_points(xr, xf, u, GpWhere::Interpolate);
        EXPECT_EQ(fused.to_vector(), ref.to_vector()) << shape_str(shape);
        EXPECT_EQ(u_fused.to_vector(), u.to_vector());
        EXPECT_EQ(u_fused.shape(), us);
        EXPECT_EQ(a.offset(), b.offset());
        EXPECT_FALSE(fused.requires_grad());
      }
    }
  }
  Generator g(1);
  const std::string e = test::error_of([&] { random_interpolate(zeros({2, 3}), zeros({3, 2}), g); });
  EXPECT_NE(e.find("[2, 3]"), std::string::npos) << e;
}

TEST(GradientPenalty, PointsInterpolateRealOrFake) {
  Generator g(3);
  const Tensor xr = test::uniform({2, 1, 2, 2}, -1, 1, g), xf = test::uniform({2, 1, 2, 2}, -1, 1, g);
  const Tensor u = from_vector(V{0.25, 0.9}, {2}, DType::F64);
  const Tensor p = penalty_points(xr, xf, u, GpWhere::Interpolate);
  const V r = xr.to_vector(), f = xf.to_vector(), got = p.to_vector();
  for (size_t i = 0; i < 8; ++i) {
    const double w = i < 4 ? 0.25 : 0.9;
    EXPECT_NEAR(got[i], w * r[i] + (1 - w) * f[i], 1e-15);
  }
  EXPECT_EQ(penalty_points(xr, xf, u, GpWhere::Real).to_vector(), r);
  EXPECT_EQ(penalty_points(xr, xf, u, GpWhere::Fake).to_vector(), f);
  EXPECT_THROW(penalty_points(xr, xf, from_vector(V{0.5}, {1}, DType::F64), GpWhere::Interpolate), Error);
}

TEST(GradientPenalty, PseudoMarginUsesThePenalisedNorm) {
  const Known k;
  const Tensor a = k.at();
  const Critic critic = [&](const Tensor& x) { return sum(square(x) * a * 0.5, {1, 2, 3}); };
  const V m = pseudo_margin(critic, k.xt(), -1.0, GpNorm::LInf).to_vector();
  for (size_t i = 0; i < 3; ++i) {
    double c = 0;
    for (size_t j = 0; j < 6; ++j) c += k.a[j] * k.x[i * 6 + j] * k.x[i * 6 + j] / 2;
    EXPECT_NEAR(m[i], -c / k.norm(i, GpNorm::LInf, 1), 1e-14);
  }
}

TEST(GradientPenalty, ParsersNameTheBadValue) {
  EXPECT_EQ(parse_gp_form("squared-diff"), GpForm::SquaredDiff);
  EXPECT_EQ(parse_gp_norm("LInf"), GpNorm::LInf);
  try {
    parse_gp_norm("l3");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'l3'"), std::string::npos);
  }
}

}  // namespace
}  // namespace mmgan
