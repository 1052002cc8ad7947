// The margin lab: the paper's geometry (Sections 3 and 4.2) on two-dimensional data, in numbers a
// script draws (tools/plot_margins.py).
//  - Critics: a small MLP trained with the HingeGAN loss and a gradient-norm penalty at
//    interpolates (losses/gradient_penalty.h, through the engine's double backprop) for each norm
//    q (L1, L2, L-inf) and form (hinge, squared-diff), on two layouts: the paper's Section 4.2
//    segments and a layout whose maximum-margin boundaries differ by norm. For each critic: its
//    values and gradient on a grid, and each sample's margin: the L-p distance to the boundary
//    f = 0 (p the dual of q: the penalty on ||grad f||_q maximises the L-p margin) with the point
//    where it is reached, and the pseudo-margin y f(x) / ||grad f(x)||_q.
//  - Figure 2 of the paper: the gradient of sigmoid critics along x1, computed by the engine.
//  - A GAN on the 8-Gaussian ring (data/toy.h) with each penalty: generator samples over training.
// `mmgan margins` writes them as safetensors files (tools/st_io.py reads them).
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"
#include "losses/gradient_penalty.h"
#include "models/module.h"

namespace mmgan::lab {

using losses::GpForm;
using losses::GpNorm;
using Vec2 = std::array<double, 2>;

// The exponent q of a penalised norm (L-inf and its smooth stand-ins: INFINITY), and the margin's
// norm p, its dual: 1/p + 1/q = 1.
double norm_exponent(GpNorm q);
double dual_exponent(GpNorm q);
double lp_norm(const Vec2& v, double p);  // p = INFINITY for max |v_i|
// The dual vector of d: the w with ||w||_q = 1 and w . d = ||d||_p (Hölder's equality case); the
// gradient of the maximum-margin critic. For q = inf and q = 1 it is unique only when d has no zero
// entry, resp. one entry of largest magnitude; the layouts below keep to those cases.
Vec2 dual_vector(const Vec2& d, GpNorm q);

// Two classes of 2-d points. `tight` lists (fake, real) pairs at the smallest distance between the
// classes in every norm, all with the same difference d; they set the maximum-margin boundary:
// through their midpoints, normal to dual_vector(d, q) (the derivations are in margin_lab.cpp,
// next to each layout).
struct Layout {
  std::string name;
  std::vector<Vec2> real, fake;  // the points of the figures (and of training when !segments)
  bool segments = false;         // training draws fresh points uniformly on x1 = +-1, x2 in [-1, 1]
  std::vector<std::array<Vec2, 2>> tight;
  double box = 2;  // figures and the boundary search cover [-box, box]^2

  Vec2 difference() const { return {tight[0][1][0] - tight[0][0][0], tight[0][1][1] - tight[0][0][1]}; }
  double gap(GpNorm q) const { return lp_norm(difference(), dual_exponent(q)); }  // the L-p distance
  // The critic sees the data scaled by 2 / gap(q), so the classes are exactly the hinge's 2 apart in
  // L-p and the maximum-margin critic is unique where the tight pairs pin it (the hard-margin case).
  double scale(GpNorm q) const { return 2 / gap(q); }
  Tensor sample(bool real, int64_t n, Generator& g) const;  // [n, 2] float64, unscaled
};
Layout segments_layout();  // Section 4.2: every norm gives the boundary x1 = 0
Layout norms_layout();     // L1, L2 and L-inf margins give three different boundaries

struct CriticOptions {
  int64_t steps = 2000, batch = 256, hidden = 32;  // 2 -> hidden -> hidden -> 1, tanh
  double lr = 3e-3, lambda = 20;                   // Adam (0.9, 0.999), lr cosine-decayed to 0
};

// A trained critic, evaluated in the layout's (unscaled) coordinates: F(x) = net(scale x).
struct LabCritic {
  std::shared_ptr<nn::Module> net;
  double scale = 1;
  GpNorm norm = GpNorm::L2;
  GpForm form = GpForm::Hinge;
  double last_loss = 0;                      // the last minibatch's loss (hinge + penalty)
  Tensor operator()(const Tensor& x) const;  // [N, 2] -> [N]
  double at(const Vec2& x) const;
  Vec2 grad_at(const Vec2& x) const;  // of F, in layout coordinates
};
LabCritic train_critic(const Layout& layout, GpNorm q, GpForm form, const CriticOptions& o, uint64_t seed);

// What the tight pairs pin, measured on a critic, worst over the pairs: where the boundary crosses
// each pair's segment [f, r], as |crossing - 1/2| with the crossing a fraction from f (INFINITY when
// F(f) < 0 < F(r) fails); |F(r) - 1| and |F(f) + 1|; over 21 points of each segment, the largest
// ||grad f||_q and the error ||mean grad f - dual_vector||_q of the scaled critic's gradient (the
// one the penalty sees); and that gradient at the first pair's midpoint (the boundary's normal).
struct PinnedCheck {
  double crossing_offset = 0, end_error = 0, max_grad_norm = 0, mean_grad_error = 0;
  Vec2 grad_mid{};
};
PinnedCheck check_pinned(const LabCritic& f, const Layout& layout);

// Points of the boundary F = 0 in [-box, box]^2: the sign changes of F between neighbours of a
// res x res grid, each refined by bisection along its grid edge. Empty when F has one sign.
std::vector<Vec2> boundary_points(const losses::Critic& f, double box, int64_t res = 401);
// The L-p projection of x onto the boundary F = 0: min ||b - x||_p subject to F(b) = 0, refined from
// the nearest of the boundary points. L2: along the normal at the foot, to a fixed point (exact for
// a straight boundary). L1 and L-inf: the nearest of the four rays through the ball's vertices
// (axis-parallel for L1, diagonal for L-inf), where a growing ball first touches a boundary unless
// it is tangent to an edge; where it touches a straight boundary along an edge, ties within 0.1 %
// go to the first vertex in a fixed order (the margin segments x -> foot then run parallel). dist
// is INFINITY when there are no boundary points.
struct Projection {
  double dist = INFINITY;
  Vec2 foot{NAN, NAN};
};
Projection project_to_boundary(const losses::Critic& f, const std::vector<Vec2>& boundary, const Vec2& x, double p);

// Figure 2: f(x) = sigmoid(w1 x1 + w0) on real data at x1 = 1 and fake data at x1 = -1.
struct SigmoidCritic {
  std::string name;
  double w1, w0;
};
std::vector<SigmoidCritic> figure2_critics();  // max margin (4, 0), worse margin (4, -1), steep (8, 0)
// df/dx1 at each x1, by the engine's autograd.
std::vector<double> sigmoid_critic_grad(const SigmoidCritic& c, const std::vector<double>& x1);

// The 8-Gaussian ring GAN: an MLP generator (z 2-d normal -> 2) against an MLP critic, HingeGAN loss,
// Adam; penalty "none" or NORM-FORM (e.g. "linf-hinge").
struct GanOptions {
  int64_t iters = 1000, d_steps = 3, batch = 256, hidden = 64, z_size = 2, n_show = 1000;
  double lr = 1e-3, lambda = 20;  // Adam (0.5, 0.9) for both networks
};
// The iterations whose samples train_ring8 keeps: 0, iters / 10, iters / 4, iters / 2, iters.
std::vector<int64_t> ring8_snapshots(int64_t iters);
// How well samples [N, 2] cover the ring (data/toy.h: 8 modes at radius 0.8, std 0.05).
struct RingScore {
  double good = 0;  // fraction of samples within 3 std of a mode (98.9 % of the data itself)
  int modes = 0;    // modes holding at least 1 % of the samples within 3 std
};
RingScore score_ring8(const Tensor& samples);
struct GanSnapshot {
  int64_t iter;
  Tensor samples;  // [n_show, 2] of a fixed z
  RingScore score;
};
std::vector<GanSnapshot> train_ring8(const std::string& penalty, const GanOptions& o, uint64_t seed);

struct MarginLabOptions {
  std::string out;  // folder for the files
  std::vector<std::string> what{"critics", "figure2", "ring8"};
  CriticOptions critic;
  GanOptions gan;
  uint64_t seed = 1;
  int64_t grid = 101;  // grid points per axis for F and grad F
};
// Writes OUT/critics-segments.safetensors, critics-norms.safetensors, figure2.safetensors and
// ring8.safetensors (as selected by `what`), printing one line per trained network. Each file's
// metadata "lab" is JSON describing its contents; tools/plot_margins.py draws them.
void margin_lab(const MarginLabOptions& o);

}  // namespace mmgan::lab
