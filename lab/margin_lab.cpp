#include "lab/margin_lab.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "data/sampler.h"
#include "data/toy.h"
#include "engine/mmgan.h"
#include "losses/gan_loss.h"
#include "models/mlp.h"

namespace mmgan::lab {

namespace {

constexpr DType kT = DType::F64;

Tensor points_tensor(const std::vector<Vec2>& pts) {
  std::vector<double> v;
  for (const Vec2& p : pts) v.insert(v.end(), {p[0], p[1]});
  return from_vector(v, {int64_t(pts.size()), 2}, kT);
}

std::vector<Vec2> points_of(const Tensor& x) {  // [N, 2] -> host
  const std::vector<double> v = x.to_vector();
  std::vector<Vec2> out(v.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = {v[2 * i], v[2 * i + 1]};
  return out;
}

// F at many points, in chunks (the boundary search evaluates 160,000).
std::vector<double> values(const losses::Critic& f, const std::vector<Vec2>& pts) {
  NoGradGuard ng;
  std::vector<double> out;
  const size_t chunk = 32768;
  for (size_t a = 0; a < pts.size(); a += chunk) {
    const std::vector<Vec2> part(pts.begin() + long(a), pts.begin() + long(std::min(pts.size(), a + chunk)));
    const std::vector<double> v = f(points_tensor(part)).to_vector();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// grad F at each point [N, 2] -> [N, 2].
Tensor gradients(const losses::Critic& f, const Tensor& x) {
  Tensor xg = x.detach();
  xg.requires_grad_(true);
  return grad({sum(f(xg))}, {xg})[0];
}

std::string key_of(GpNorm q, GpForm form) { return losses::to_string(q) + "-" + losses::to_string(form); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

double norm_exponent(GpNorm q) {
  switch (q) {
    case GpNorm::L1: return 1;
    case GpNorm::L2: return 2;
    default: return INFINITY;  // L-inf and its smooth stand-ins
  }
}

double dual_exponent(GpNorm q) {
  const double e = norm_exponent(q);
  return e == 1 ? INFINITY : std::isinf(e) ? 1 : e / (e - 1);
}

double lp_norm(const Vec2& v, double p) {
  const double a = std::fabs(v[0]), b = std::fabs(v[1]);
  if (std::isinf(p)) return std::max(a, b);
  if (p == 1) return a + b;
  return std::pow(std::pow(a, p) + std::pow(b, p), 1 / p);
}

Vec2 dual_vector(const Vec2& d, GpNorm q) {
  const double p = dual_exponent(q);
  auto sgn = [](double v) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; };
  if (p == 2) {
    const double n = lp_norm(d, 2);
    return {d[0] / n, d[1] / n};
  }
  if (p == 1) return {sgn(d[0]), sgn(d[1])};  // ||w||_inf = 1, w . d = |d_1| + |d_2|
  return std::fabs(d[0]) >= std::fabs(d[1]) ? Vec2{sgn(d[0]), 0} : Vec2{0, sgn(d[1])};
}

// Section 4.2: real data uniform on x1 = 1, x2 in [-1, 1], fake data on x1 = -1. Every horizontal
// pair ((-1, t), (1, t)) is at distance 2 in every norm and no pair is closer, so the argument of
// tests/test_margin_toy.cpp holds for each q: on every horizontal line
//   2 <= f(1, t) - f(-1, t) = integral of grad f . (2, 0) <= integral of ||grad f||_q ||(2, 0)||_p <= 2,
// so df/dx1 = 1 along every such line and f(+-1, t) = +-1 for every t: f(x) = x1 on the square,
// the boundary x1 = 0 for L1, L2 and L-inf penalties alike (scale 1, the dual vector (1, 0)).
Layout segments_layout() {
  Layout l;
  l.name = "segments";
  l.segments = true;
  for (int i = -3; i <= 3; ++i) {
    l.real.push_back({1, 0.3 * i});
    l.fake.push_back({-1, 0.3 * i});
  }
  for (double t : {-0.8, -0.4, 0.0, 0.4, 0.8}) l.tight.push_back({Vec2{-1, t}, Vec2{1, t}});
  l.box = 1.6;
  return l;
}

// A layout whose maximum-margin boundaries differ by norm. Real points r0 + o_k, fake points their
// mirror images -(r0 + o_k), with r0 = (0.5, 0.25) and offsets o_k in {0, (0.4, 0.8), (0.8, -0.35),
// (0.9, 0.4)}; d = r0 - f0 = (1, 0.5). For each penalised norm q (margin norm p, 1/p + 1/q = 1),
// with w = dual_vector(d, q), i.e. ||w||_q = 1 and w . d = ||d||_p:
//   q = 1 (L-inf margin): w = (1, 0), the largest entry of d;          boundary x1 = 0
//   q = 2 (L2 margin):    w = (2, 1) / sqrt(5), along d;                boundary 2 x1 + x2 = 0
//   q = inf (L1 margin):  w = (1, 1), the signs of d;                   boundary x1 + x2 = 0
// i.e. normals at 0, 26.6 and 45 degrees from the x1 axis, through the origin. Why:
// 1. (r0, f0) is the unique closest pair in every norm: any pair differs by d + o + o' (o, o' two
//    offsets, not both 0), and w . o > 0 for every nonzero offset and every q (w has entries >= 0;
//    o1 > 0, o1 + o2 > 0 and 2 o1 + o2 > 0 cover the three w's), so by Hölder
//    ||d + o + o'||_p >= w . (d + o + o') > w . d = ||d||_p.
// 2. On the data scaled by s = 2 / ||d||_p, the linear critic f*(x) = w . x has zero loss: f*(s r) =
//    1 + s w . o >= 1 for every real point (and -1 or less for the fake ones), and ||grad f*||_q = 1
//    everywhere, which zeroes both the hinge and the squared-diff penalty. So min L = 0, and every
//    minimiser has zero hinge loss and zero penalty.
// 3. On the tight segment from s f0 to s r0 (length 2 in L-p), zero penalty gives ||grad f||_q <= 1
//    (= 1 for squared-diff) and zero hinge loss f(s r0) >= 1, f(s f0) <= -1, so
//      2 <= f(s r0) - f(s f0) = integral of grad f . s d <= integral of ||grad f||_q ||s d||_p <= 2:
//    equality throughout. f(s r0) = 1, f(s f0) = -1, and Hölder's equality pins grad f = w along the
//    segment (w is unique here: d has two nonzero entries and one largest). So the boundary crosses
//    the segment at its midpoint, the origin, with normal w.
// These are also the L-p maximum-margin linear classifiers: the line w' . x = c has L-p margin
// |w' . x - c| / ||w'||_q, and by 1 the best is half the classes' distance ||d||_p, reached by the
// line through the midpoint normal to dual_vector(d, q). Away from the tight segment nothing pins a
// nonlinear critic: it is constrained only to be 1-Lipschitz along the other pairs' segments.
Layout norms_layout() {
  Layout l;
  l.name = "norms";
  const Vec2 r0{0.5, 0.25};
  for (const Vec2& o : {Vec2{0, 0}, Vec2{0.4, 0.8}, Vec2{0.8, -0.35}, Vec2{0.9, 0.4}}) {
    l.real.push_back({r0[0] + o[0], r0[1] + o[1]});
    l.fake.push_back({-r0[0] - o[0], -r0[1] - o[1]});
  }
  l.tight.push_back({l.fake[0], l.real[0]});
  l.box = 1.8;
  return l;
}

Tensor Layout::sample(bool is_real, int64_t n, Generator& g) const {
  if (segments) return concat({full({n, 1}, is_real ? 1.0 : -1.0, kT), rand({n, 1}, g, kT) * 2.0 - 1.0}, 1);
  const std::vector<Vec2>& pts = is_real ? real : fake;
  const std::vector<double> u = rand({n}, g, kT).to_vector();
  std::vector<Vec2> picked;
  for (double v : u) picked.push_back(pts[std::min(pts.size() - 1, size_t(v * double(pts.size())))]);
  return points_tensor(picked);
}

Tensor LabCritic::operator()(const Tensor& x) const { return reshape(net->forward(x * scale), {-1}); }

double LabCritic::at(const Vec2& x) const {
  NoGradGuard ng;
  return (*this)(points_tensor({x})).item();
}

Vec2 LabCritic::grad_at(const Vec2& x) const {
  return points_of(gradients([this](const Tensor& t) { return (*this)(t); }, points_tensor({x})))[0];
}

LabCritic train_critic(const Layout& layout, GpNorm q, GpForm form, const CriticOptions& o, uint64_t seed) {
  MMGAN_CHECK(o.steps > 0 && o.batch > 0 && o.hidden > 0, "train_critic: steps, batch and hidden must be positive");
  Generator g(seed);
  nn::MLPConfig mc;
  mc.hidden = {o.hidden, o.hidden};
  LabCritic f;
  f.net = nn::make_mlp(mc, g);
  f.scale = layout.scale(q);
  f.norm = q;
  f.form = form;
  losses::PenaltyConfig pc;
  pc.enabled = true;
  pc.norm = q;
  pc.form = form;
  pc.lambda = o.lambda;
  const losses::Critic scaled = [&](const Tensor& x) { return reshape(f.net->forward(x), {-1}); };
  AdamOptions ao;
  ao.lr = o.lr;
  Adam opt(f.net->parameters(), ao);
  for (int64_t step = 0; step < o.steps; ++step) {
    // Cosine decay: a large rate finds the basin, a vanishing one settles the Adam noise in it.
    opt.set_lr(o.lr * 0.5 * (1 + std::cos(std::numbers::pi * double(step) / double(o.steps))));
    const Tensor xr = layout.sample(true, o.batch, g) * f.scale, xf = layout.sample(false, o.batch, g) * f.scale;
    const Tensor u = rand({o.batch}, g, kT);
    const Tensor xhat = losses::penalty_points(xr, xf, u, losses::GpWhere::Interpolate);
    const Tensor loss = losses::d_loss(losses::GanLoss::Hinge, scaled(xr), scaled(xf)) +
                        losses::gradient_penalty(scaled, xhat, pc).loss;
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step + 1 == o.steps) f.last_loss = loss.item();
  }
  return f;
}

PinnedCheck check_pinned(const LabCritic& f, const Layout& layout) {
  PinnedCheck c;
  const Vec2 w = dual_vector(layout.difference(), f.norm);
  const double q = norm_exponent(f.norm);
  for (size_t k = 0; k < layout.tight.size(); ++k) {
    const auto& [a, b] = layout.tight[k];
    auto point = [&](double t) { return Vec2{a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])}; };
    const double fa = f.at(a), fb = f.at(b);
    c.end_error = std::max({c.end_error, std::fabs(fb - 1), std::fabs(fa + 1)});
    if (fa < 0 && fb > 0) {
      double lo = 0, hi = 1;  // bisection: F(lo) < 0 < F(hi)
      for (int it = 0; it < 50; ++it) {
        const double mid = 0.5 * (lo + hi);
        (f.at(point(mid)) > 0 ? hi : lo) = mid;
      }
      c.crossing_offset = std::max(c.crossing_offset, std::fabs(0.5 * (lo + hi) - 0.5));
    } else {
      c.crossing_offset = INFINITY;
    }
    Vec2 mean{0, 0};
    for (int i = 0; i <= 20; ++i) {
      const Vec2 gx = f.grad_at(point(i / 20.0));
      const Vec2 gs{gx[0] / f.scale, gx[1] / f.scale};  // the gradient the penalty saw
      c.max_grad_norm = std::max(c.max_grad_norm, lp_norm(gs, q));
      mean = {mean[0] + gs[0] / 21, mean[1] + gs[1] / 21};
      if (k == 0 && i == 10) c.grad_mid = gs;
    }
    c.mean_grad_error = std::max(c.mean_grad_error, lp_norm({mean[0] - w[0], mean[1] - w[1]}, q));
  }
  return c;
}

std::vector<Vec2> boundary_points(const losses::Critic& f, double box, int64_t res) {
  MMGAN_CHECK(res >= 2, "boundary_points: res must be at least 2, got ", res);
  const double h = 2 * box / double(res - 1);
  auto coord = [&](int64_t i) { return -box + h * double(i); };
  std::vector<Vec2> grid;
  for (int64_t i = 0; i < res; ++i)
    for (int64_t j = 0; j < res; ++j) grid.push_back({coord(j), coord(i)});
  const std::vector<double> v = values(f, grid);
  // Grid edges whose ends differ in sign, as (negative end, positive end).
  std::vector<Vec2> lo, hi;
  auto edge = [&](int64_t a, int64_t b) {
    if ((v[size_t(a)] < 0) == (v[size_t(b)] < 0)) return;
    lo.push_back(grid[size_t(v[size_t(a)] < 0 ? a : b)]);
    hi.push_back(grid[size_t(v[size_t(a)] < 0 ? b : a)]);
  };
  for (int64_t i = 0; i < res; ++i)
    for (int64_t j = 0; j < res; ++j) {
      if (j + 1 < res) edge(i * res + j, i * res + j + 1);
      if (i + 1 < res) edge(i * res + j, (i + 1) * res + j);
    }
  for (int it = 0; it < 30 && !lo.empty(); ++it) {  // h / 2^30: exact for plotting and margins
    std::vector<Vec2> mid(lo.size());
    for (size_t k = 0; k < lo.size(); ++k) mid[k] = {0.5 * (lo[k][0] + hi[k][0]), 0.5 * (lo[k][1] + hi[k][1])};
    const std::vector<double> fm = values(f, mid);
    for (size_t k = 0; k < lo.size(); ++k) (fm[k] < 0 ? lo[k] : hi[k]) = mid[k];
  }
  for (size_t k = 0; k < lo.size(); ++k) lo[k] = {0.5 * (lo[k][0] + hi[k][0]), 0.5 * (lo[k][1] + hi[k][1])};
  return lo;
}

namespace {

// Where the ray x + s v (s > 0) first meets F = 0: a bracket grown by 1.25 from s_min / 2 (no
// crossing comes before the L-p distance, about s_min here), then bisection. NaN when F keeps its sign
// up to 64 s_min.
double ray_root(const losses::Critic& f, const Vec2& x, const Vec2& v, double s_min) {
  auto negative = [&](double s) { return values(f, {{x[0] + s * v[0], x[1] + s * v[1]}})[0] < 0; };
  const bool neg = negative(0);
  double lo = 0.5 * s_min, hi = lo;
  if (negative(lo) != neg) lo = 0;
  while (negative(hi) == neg) {
    if (hi > 64 * s_min) return NAN;
    lo = hi;
    hi *= 1.25;
  }
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    (negative(mid) == neg ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

Projection project_to_boundary(const losses::Critic& f, const std::vector<Vec2>& boundary, const Vec2& x, double p) {
  Projection r;
  for (const Vec2& b : boundary) {
    const double d = lp_norm({b[0] - x[0], b[1] - x[1]}, p);
    if (d < r.dist) r = {d, b};
  }
  if (boundary.empty() || r.dist == 0) return r;
  std::vector<Vec2> directions;  // unit p-vectors to try, in order of preference on ties
  if (p == 2) {
    // The normal at the current foot, to a fixed point (one step for a straight boundary).
    const bool positive = values(f, {x})[0] > 0;
    Projection cur = r;
    for (int it = 0; it < 8; ++it) {
      const Vec2 n = points_of(gradients(f, points_tensor({cur.foot})))[0];
      const double len = std::hypot(n[0], n[1]) * (positive ? -1 : 1);
      const double s = ray_root(f, x, {n[0] / len, n[1] / len}, r.dist);
      if (!(s > 0)) break;
      const Vec2 foot{x[0] + s * n[0] / len, x[1] + s * n[1] / len};
      const bool settled = std::hypot(foot[0] - cur.foot[0], foot[1] - cur.foot[1]) < 1e-12;
      cur = {s, foot};
      if (settled) break;
    }
    // The boundary points lie on F = 0, so none is nearer than the projection: a ray foot farther
    // than the nearest of them (beyond rounding) did not converge, and that point is the answer.
    return cur.dist <= r.dist * (1 + 1e-9) ? cur : r;
  }
  // L1 and L-inf: the optimum is at a vertex of the ball (the exposed face of the dual vector of
  // grad F), so the four vertex rays find it; a flat boundary touching a whole edge makes two of
  // them tie, and ties within 0.1 % go to the first in this order, so that parallel margins look
  // parallel in the figures (the margin is then at most 0.1 % above the minimum).
  const std::vector<Vec2> vertices = p == 1 ? std::vector<Vec2>{{0, 1}, {1, 0}, {0, -1}, {-1, 0}}
                                            : std::vector<Vec2>{{1, 1}, {-1, 1}, {1, -1}, {-1, -1}};
  Projection best;
  for (const Vec2& v : vertices) {
    const double s = ray_root(f, x, v, r.dist);
    if (s > 0 && s < best.dist * (1 - 1e-3)) best = {s, {x[0] + s * v[0], x[1] + s * v[1]}};
  }
  return best.dist <= r.dist * (1 + 1e-3) ? best : r;
}

std::vector<SigmoidCritic> figure2_critics() {
  return {{"max margin: w1 = 4, w0 = 0", 4, 0},
          {"worse margin: w1 = 4, w0 = -1", 4, -1},
          {"no penalty: w1 = 8, w0 = 0", 8, 0}};
}

std::vector<double> sigmoid_critic_grad(const SigmoidCritic& c, const std::vector<double>& x1) {
  const Tensor w = from_vector(std::vector<double>{c.w1, 0.0}, {1, 2}, kT);
  const Tensor b = from_vector(std::vector<double>{c.w0}, {1}, kT);
  std::vector<Vec2> pts;
  for (double x : x1) pts.push_back({x, 0});
  const losses::Critic f = [&](const Tensor& x) { return reshape(sigmoid(linear(x, w, b)), {-1}); };
  const std::vector<Vec2> g = points_of(gradients(f, points_tensor(pts)));
  std::vector<double> out;
  for (const Vec2& v : g) out.push_back(v[0]);
  return out;
}

std::vector<int64_t> ring8_snapshots(int64_t iters) {
  std::vector<int64_t> s;
  for (int64_t i : {int64_t(0), iters / 10, iters / 4, iters / 2, iters})
    if (s.empty() || i > s.back()) s.push_back(i);
  return s;
}

RingScore score_ring8(const Tensor& samples) {
  const std::vector<Vec2> pts = points_of(samples);
  std::vector<int> per_mode(8, 0);
  RingScore r;
  for (const Vec2& p : pts)
    for (int k = 0; k < 8; ++k) {
      const double a = k * std::numbers::pi / 4;
      if (std::hypot(p[0] - 0.8 * std::cos(a), p[1] - 0.8 * std::sin(a)) <= 0.15) {
        r.good += 1.0 / double(pts.size());
        ++per_mode[size_t(k)];
      }
    }
  r.modes = int(std::count_if(per_mode.begin(), per_mode.end(), [&](int c) { return c >= 0.01 * double(pts.size()); }));
  return r;
}

std::vector<GanSnapshot> train_ring8(const std::string& penalty, const GanOptions& o, uint64_t seed) {
  MMGAN_CHECK(o.iters > 0 && o.d_steps > 0 && o.batch > 0 && o.hidden > 0 && o.z_size > 0 && o.n_show > 0,
              "train_ring8: iters, d_steps, batch, hidden, z_size and n_show must be positive");
  losses::PenaltyConfig pc;
  if (penalty != "none") {
    const size_t dash = penalty.find('-');
    MMGAN_CHECK(dash != std::string::npos, "train_ring8: penalty '", penalty, "' is not 'none' or NORM-FORM");
    pc.enabled = true;
    pc.norm = losses::parse_gp_norm(penalty.substr(0, dash));
    pc.form = losses::parse_gp_form(penalty.substr(dash + 1));
    pc.lambda = o.lambda;
  }
  Generator g(seed);
  nn::MLPConfig gc, dc;
  gc.in = o.z_size;
  gc.out = 2;
  gc.hidden = dc.hidden = {o.hidden, o.hidden};
  gc.activation = nn::Activation::ReLU;
  dc.activation = nn::Activation::LeakyReLU;
  gc.dtype = dc.dtype = DType::F32;
  const auto G = nn::make_mlp(gc, g), D = nn::make_mlp(dc, g);
  const losses::Critic critic = [&](const Tensor& x) { return reshape(D->forward(x), {-1}); };
  const data::Dataset ring = data::make_toy("ring8", 20000, seed);
  const data::BatchSampler sampler(ring.count, o.batch, seed);
  AdamOptions ao;
  ao.lr = o.lr;
  ao.beta1 = 0.5;
  ao.beta2 = 0.9;
  Adam opt_d(D->parameters(), ao), opt_g(G->parameters(), ao);
  const Tensor z_show = randn({o.n_show, o.z_size}, g);
  const std::vector<int64_t> keep = ring8_snapshots(o.iters);
  std::vector<GanSnapshot> out;
  for (int64_t it = 0;; ++it) {
    if (std::find(keep.begin(), keep.end(), it) != keep.end()) {
      NoGradGuard ng;
      const Tensor x = G->forward(z_show).to(kT);
      out.push_back({it, x, score_ring8(x)});
    }
    if (it == o.iters) break;
    for (int64_t k = 0; k < o.d_steps; ++k) {
      const Tensor xr = ring.gather(sampler.indices(uint64_t(it * o.d_steps + k)));
      const Tensor xf = G->forward(randn({o.batch, o.z_size}, g)).detach();
      Tensor loss_d = losses::d_loss(losses::GanLoss::Hinge, critic(xr), critic(xf));
      if (pc.enabled) {
        const Tensor xhat = losses::penalty_points(xr, xf, rand({o.batch}, g), losses::GpWhere::Interpolate);
        loss_d = loss_d + losses::gradient_penalty(critic, xhat, pc).loss;
      }
      opt_d.zero_grad();
      loss_d.backward();
      opt_d.step();
    }
    const Tensor loss_g = losses::g_loss(losses::GanLoss::Hinge, {}, critic(G->forward(randn({o.batch, o.z_size}, g))));
    opt_g.zero_grad();
    loss_g.backward();
    opt_g.step();
  }
  return out;
}

namespace {

void write_critics(const Layout& layout, const MarginLabOptions& o, const std::filesystem::path& path) {
  SafeTensors st;
  nlohmann::json meta;
  meta["layout"] = layout.name;
  meta["box"] = layout.box;
  meta["critic_options"] = {{"steps", o.critic.steps}, {"batch", o.critic.batch},   {"hidden", o.critic.hidden},
                            {"lr", o.critic.lr},       {"lambda", o.critic.lambda}, {"seed", o.seed}};
  std::vector<double> axis;
  for (int64_t i = 0; i < o.grid; ++i) axis.push_back(-layout.box + 2 * layout.box * double(i) / double(o.grid - 1));
  std::vector<Vec2> grid;
  for (double y : axis)
    for (double x : axis) grid.push_back({x, y});
  st.add("axis", from_vector(axis, {o.grid}, kT));
  st.add("real", points_tensor(layout.real));
  st.add("fake", points_tensor(layout.fake));
  for (GpNorm q : {GpNorm::L1, GpNorm::L2, GpNorm::LInf})
    for (GpForm form : {GpForm::Hinge, GpForm::SquaredDiff}) {
      const auto t0 = std::chrono::steady_clock::now();
      const LabCritic f = train_critic(layout, q, form, o.critic, o.seed);
      const losses::Critic crit = [&](const Tensor& x) { return f(x); };
      const std::string key = key_of(q, form);
      const double p = dual_exponent(q);
      const Tensor xg = points_tensor(grid);
      {
        NoGradGuard ng;
        st.add(key + ".f", f(xg).reshape({o.grid, o.grid}));
      }
      st.add(key + ".grad", gradients(crit, xg).reshape({o.grid, o.grid, 2}));
      const std::vector<Vec2> boundary = boundary_points(crit, layout.box);
      double min_margin = INFINITY;
      for (const bool is_real : {true, false}) {
        const std::vector<Vec2>& pts = is_real ? layout.real : layout.fake;
        const double y = is_real ? 1 : -1;
        const std::vector<double> fv = values(crit, pts);
        std::vector<double> margin, feet;
        for (size_t i = 0; i < pts.size(); ++i) {
          const Projection pr = project_to_boundary(crit, boundary, pts[i], p);
          margin.push_back(y * fv[i] >= 0 ? pr.dist : -pr.dist);  // negative: on the wrong side
          feet.insert(feet.end(), {pr.foot[0], pr.foot[1]});
          min_margin = std::min(min_margin, margin.back());
        }
        const std::string cls = key + (is_real ? ".real" : ".fake");
        st.add(cls + ".margin", from_vector(margin, {int64_t(pts.size())}, kT));
        st.add(cls + ".foot", from_vector(feet, {int64_t(pts.size()), 2}, kT));
        st.add(cls + ".pseudo_margin", losses::pseudo_margin(crit, points_tensor(pts), y, q));
      }
      const PinnedCheck c = check_pinned(f, layout);
      const Vec2 w = dual_vector(layout.difference(), q);
      const std::array<double, 2> mid{0.5 * (layout.tight[0][0][0] + layout.tight[0][1][0]),
                                      0.5 * (layout.tight[0][0][1] + layout.tight[0][1][1])};
      meta["critics"].push_back({{"key", key},
                                 {"norm", losses::to_string(q)},
                                 {"form", losses::to_string(form)},
                                 {"margin_p", std::isinf(p) ? nlohmann::json("inf") : nlohmann::json(p)},
                                 {"scale", f.scale},
                                 {"expected_normal", w},
                                 {"expected_point", mid},
                                 {"expected_margin", layout.gap(q) / 2},
                                 {"min_margin", min_margin},
                                 {"crossing_offset", c.crossing_offset},
                                 {"end_error", c.end_error},
                                 {"max_grad_norm", c.max_grad_norm},
                                 {"mean_grad_error", c.mean_grad_error},
                                 {"normal", c.grad_mid},
                                 {"last_loss", f.last_loss}});
      std::printf(
          "%s %-17s loss %.4f | min L-%s margin %.3f (max-margin %.3f) | crossing %.3f off the midpoint | "
          "normal (%.3f, %.3f) expected (%.3f, %.3f) | %.1f s\n",
          layout.name.c_str(), key.c_str(), f.last_loss, std::isinf(p) ? "inf" : std::to_string(int(p)).c_str(),
          min_margin, layout.gap(q) / 2, c.crossing_offset, c.grad_mid[0], c.grad_mid[1], w[0], w[1],
          seconds_since(t0));
      std::fflush(stdout);
    }
  st.metadata["lab"] = meta.dump();
  save_safetensors(path.string(), st);
}

void write_figure2(const std::filesystem::path& path) {
  SafeTensors st;
  nlohmann::json meta;
  std::vector<double> x1;
  for (int i = 0; i <= 200; ++i) x1.push_back(-2 + 0.02 * i);
  st.add("x1", from_vector(x1, {int64_t(x1.size())}, kT));
  for (const SigmoidCritic& c : figure2_critics()) {
    const std::vector<double> g = sigmoid_critic_grad(c, x1), at = sigmoid_critic_grad(c, {-1.0, 1.0});
    const std::string key = "w1=" + exact_text(c.w1) + ",w0=" + exact_text(c.w0);
    st.add(key + ".grad", from_vector(g, {int64_t(g.size())}, kT));
    meta["critics"].push_back({{"key", key},
                               {"name", c.name},
                               {"w1", c.w1},
                               {"w0", c.w0},
                               {"boundary", -c.w0 / c.w1},
                               {"grad_fake", at[0]},
                               {"grad_real", at[1]},
                               {"f_fake", 1 / (1 + std::exp(c.w1 - c.w0))},
                               {"f_real", 1 / (1 + std::exp(-c.w1 - c.w0))}});
  }
  st.metadata["lab"] = meta.dump();
  save_safetensors(path.string(), st);
}

void write_ring8(const MarginLabOptions& o, const std::filesystem::path& path) {
  SafeTensors st;
  nlohmann::json meta;
  const data::Dataset shown = data::make_toy("ring8", o.gan.n_show, o.seed + 1);  // not the training draws
  st.add("real", from_vector(shown.values, {shown.count, 2}).to(kT));
  meta["options"] = {
      {"iters", o.gan.iters},   {"d_steps", o.gan.d_steps}, {"batch", o.gan.batch},   {"hidden", o.gan.hidden},
      {"z_size", o.gan.z_size}, {"lr", o.gan.lr},           {"lambda", o.gan.lambda}, {"seed", o.seed}};
  for (const std::string penalty :
       {"none", "l1-hinge", "l2-hinge", "linf-hinge", "l1-squared-diff", "l2-squared-diff", "linf-squared-diff"}) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<GanSnapshot> snaps = train_ring8(penalty, o.gan, o.seed);
    nlohmann::json run{{"penalty", penalty}};
    std::printf("ring8 %-15s", penalty.c_str());
    for (const GanSnapshot& s : snaps) {
      st.add(penalty + ".iter_" + std::to_string(s.iter), s.samples);
      run["snapshots"].push_back({{"iter", s.iter}, {"good", s.score.good}, {"modes", s.score.modes}});
      std::printf(" | %lld: %d modes, %.0f %% good", static_cast<long long>(s.iter), s.score.modes, 100 * s.score.good);
    }
    std::printf(" | %.1f s\n", seconds_since(t0));
    std::fflush(stdout);
    meta["runs"].push_back(run);
  }
  st.metadata["lab"] = meta.dump();
  save_safetensors(path.string(), st);
}

}  // namespace

void margin_lab(const MarginLabOptions& o) {
  MMGAN_CHECK(!o.out.empty(), "--out: give a folder for the margin lab's files");
  MMGAN_CHECK(o.grid >= 2, "--grid must be at least 2, got ", o.grid);
  for (const std::string& w : o.what)
    MMGAN_CHECK(w == "critics" || w == "figure2" || w == "ring8", "--what: unknown part '", w,
                "' (critics, figure2, ring8)");
  // Networks of a few thousand weights: OpenMP's fork and join per op cost more than they save.
  omp_set_num_threads(1);
  const std::filesystem::path dir(o.out);
  std::filesystem::create_directories(dir);
  auto wanted = [&](const char* w) { return std::find(o.what.begin(), o.what.end(), w) != o.what.end(); };
  if (wanted("critics")) {
    write_critics(segments_layout(), o, dir / "critics-segments.safetensors");
    write_critics(norms_layout(), o, dir / "critics-norms.safetensors");
  }
  if (wanted("figure2")) write_figure2(dir / "figure2.safetensors");
  if (wanted("ring8")) write_ring8(o, dir / "ring8.safetensors");
  std::printf("wrote %s (draw with tools/plot_margins.py %s)\n", dir.string().c_str(), dir.string().c_str());
}

}  // namespace mmgan::lab
