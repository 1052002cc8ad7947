// End-to-end parity with PyTorch for the two computations a GAN step is made of:
//
// 1. The critic loss with a gradient penalty (the heart of the project): a random LeakyReLU MLP
//    critic f, hinge terms on real and fake batches, and lambda * mean(relu(||grad_xhat f(xhat)||_q - 1))
//    for q in {1, 2, inf}. The inner gradient is taken with create_graph, the outer gradient of the
//    loss w.r.t. every parameter (a second derivative of f) is compared with torch.autograd.grad, in
//    float64, to 1e-10 relative, for flat [N, d] and image-shaped [N, C, H, W] inputs
//    (tests/oracle/penalty_mlp.py). A LeakyReLU critic is piecewise linear, so its input gradient
//    does not depend on the biases or on xhat; a tanh critic, for flat inputs, checks those second
//    derivative paths as well.
// 2. Adam against torch.optim.Adam(foreach=False), step for step: parameters and both moments after
//    each of 5 steps, in float64 and float32, for two option sets (tests/oracle/adam.py).
//
// The C++ side writes its inputs and results to a safetensors file; the oracle script recomputes
// everything from the inputs with PyTorch and exits non-zero, naming each quantity, when anything
// differs beyond tolerance.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "tests/test_util.h"

namespace mmgan {
namespace {

using test::uniform;

// ---- 1. gradient-penalty critic loss ------------------------------------------------------------

constexpr double kLambda = 20.0;
constexpr double kSlope = 0.2;
constexpr int64_t kBatch = 8;
constexpr double kMargin = 1e-6;  // distance from every kink (ReLU, LeakyReLU, L-inf ties)

struct PenaltyCase {
  std::string norm;        // "l1", "l2", "linf": also the oracle's key
  Shape sample;            // per-sample shape; flattened inside the critic
  std::string label;       // test name suffix
  std::string activation;  // "leaky_relu" (0.2) or "tanh"
};

std::string case_name(const PenaltyCase& c) { return c.norm + "_" + c.label + (c.activation == "tanh" ? "_Tanh" : ""); }
void PrintTo(const PenaltyCase& c, std::ostream* os) { *os << case_name(c); }

Tensor per_sample_norm(const std::string& norm, const Tensor& g) {
  if (norm == "l1") return l1_norm_per_sample(g);
  if (norm == "l2") return l2_norm_per_sample(g);
  if (norm == "linf") return linf_norm_per_sample(g);
  ADD_FAILURE() << "unknown norm " << norm;
  return {};
}

// f: R^d -> R, d -> 16 -> 16 -> 1 with LeakyReLU(0.2) or tanh; params = W1 b1 W2 b2 W3 b3.
struct Critic {
  std::vector<Tensor> params;
  bool tanh_act = false;
  static inline const char* kNames[] = {"W1", "b1", "W2", "b2", "W3", "b3"};

  Tensor act(const Tensor& z) const { return tanh_act ? tanh(z) : leaky_relu(z, kSlope); }

  // Returns f(x) of shape [N]; appends the two hidden pre-activations to `pre` when given.
  Tensor operator()(const Tensor& x, std::vector<Tensor>* pre = nullptr) const {
    Tensor z1 = linear(flatten(x, 1), params[0], params[1]);
    Tensor z2 = linear(act(z1), params[2], params[3]);
    if (pre) {
      pre->push_back(z1);
      pre->push_back(z2);
    }
    return reshape(linear(act(z2), params[4], params[5]), {-1});
  }
};

class PenaltyParity : public ::testing::TestWithParam<PenaltyCase> {};

TEST_P(PenaltyParity, LossNormsAndParameterGradientsMatchPyTorch) {
  MMGAN_REQUIRE_TORCH();
  const PenaltyCase& c = GetParam();
  SCOPED_TRACE("norm " + c.norm + ", sample shape " + shape_str(c.sample) + ", " + c.activation);
  const DType t = DType::F64;
  Generator g(2024 + 17 * c.sample.size());

  Shape xshape{kBatch}, ushape{kBatch};
  int64_t d = 1;
  for (int64_t s : c.sample) {
    xshape.push_back(s);
    ushape.push_back(1);
    d *= s;
  }
  // Real and fake batches a little apart, as they are in training.
  const Tensor xr = uniform(xshape, -2.0, 3.0, g, false, t);
  const Tensor xf = uniform(xshape, -3.0, 2.0, g, false, t);
  const Tensor u = uniform(ushape, 0, 1, g, false, t);

  // PyTorch's nn.Linear initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  Critic f;
  f.tanh_act = c.activation == "tanh";
  const int64_t dims[] = {d, 16, 16, 1};
  for (int l = 0; l < 3; ++l) {
    const double b = 1.0 / std::sqrt(double(dims[l]));
    f.params.push_back(uniform({dims[l + 1], dims[l]}, -b, b, g, l < 2, t));
    f.params.push_back(uniform({dims[l + 1]}, -b, b, g, true, t));
  }

  // As the GAN code does: xhat is a fresh leaf built from detached data.
  Tensor xhat = add(mul(u, xr), mul(rsub(1.0, u), xf)).detach();
  xhat.requires_grad_(true);

  // Calibration: ||grad_x f|| is homogeneous of degree 1 in W3, so scaling W3 by 1 / median(norm)
  // puts about half of the samples on each side of the penalty's kink at 1, so the penalty's
  // gradient is neither all zero nor the gradient of a smooth function.
  {
    const Tensor gx = grad({sum(f(xhat))}, {xhat})[0];
    std::vector<double> n = per_sample_norm(c.norm, gx).to_vector();
    std::sort(n.begin(), n.end());
    const double median = 0.5 * (n[kBatch / 2 - 1] + n[kBatch / 2]);
    ASSERT_GT(median, 0.0);
    Tensor w3 = mul(f.params[4], 1.0 / median).detach();
    w3.requires_grad_(true);
    f.params[4] = w3;
  }

  // The loss, exactly as the GAN's critic step computes it.
  std::vector<Tensor> pre;
  const Tensor fr = f(xr, &pre), ff = f(xf, &pre), fh = f(xhat, &pre);
  GradOptions inner;
  inner.create_graph = true;
  const Tensor gx = grad({sum(fh)}, {xhat}, {}, inner)[0];
  ASSERT_EQ(shape_str(gx.shape()), shape_str(xhat.shape()));
  const Tensor norms = per_sample_norm(c.norm, gx);
  ASSERT_EQ(shape_str(norms.shape()), shape_str(Shape{kBatch}));
  const Tensor hinge_r = rsub(1.0, fr), hinge_f = add(ff, 1.0), excess = add(norms, -1.0);
  const Tensor loss = mean(relu(hinge_r)) + mean(relu(hinge_f)) + kLambda * mean(relu(excess));

  // Keep every kink out of reach of rounding, so both engines take the same branch everywhere.
  if (!f.tanh_act) {
    ASSERT_GT(test::min_abs(pre), kMargin) << "a hidden pre-activation sits at a LeakyReLU kink";
  }
  ASSERT_GT(test::min_abs({hinge_r, hinge_f}), kMargin) << "a hinge argument sits at its kink";
  ASSERT_GT(test::min_abs({excess}), kMargin) << "a gradient norm sits at 1; norms: " << test::values_str(norms);
  if (c.norm == "linf") {
    ASSERT_GT(test::min_linf_gap(gx), kMargin) << "near-tie in |grad_xhat f|";
  }
  // The penalty must be active for some samples and inactive for others (else it tests nothing).
  const int64_t active = test::count_positive(excess);
  ASSERT_GT(active, 0) << "norms: " << test::values_str(norms);
  ASSERT_LT(active, kBatch) << "norms: " << test::values_str(norms);
  std::printf("[%s] penalty active on %lld/%lld, real hinge on %lld, fake hinge on %lld, loss %.6f\n",
              case_name(c).c_str(), (long long)active, (long long)kBatch, (long long)test::count_positive(hinge_r),
              (long long)test::count_positive(hinge_f), loss.item());

  // Outer gradient with grad(), w.r.t. every parameter and xhat. With LeakyReLU, grad_xhat f is
  // piecewise constant: the engine, whose masks are constants, records no path from xhat to the
  // loss and returns an undefined gradient (allow_unused), PyTorch returns zeros; so compare zeros.
  std::vector<Tensor> wrt = f.params;
  wrt.push_back(xhat);
  GradOptions outer;
  outer.retain_graph = 1;  // backward() below walks the same graph
  outer.allow_unused = true;
  std::vector<Tensor> grads = grad({loss}, wrt, {}, outer);
  ASSERT_EQ(grads.size(), wrt.size());
  for (size_t i = 0; i < f.params.size(); ++i) ASSERT_TRUE(grads[i].defined()) << Critic::kNames[i] << " unused";
  if (f.tanh_act) {
    ASSERT_TRUE(grads.back().defined()) << "a tanh critic's penalty depends on xhat";
  }
  const Tensor grad_xhat = grads.back().defined() ? grads.back() : zeros_like(xhat);

  // The same gradients by backward() into .grad must agree exactly: same graph, same formulas.
  for (const Tensor& p : f.params) p.zero_grad();
  loss.backward();
  for (size_t i = 0; i < f.params.size(); ++i) {
    const Tensor acc = f.params[i].grad();
    ASSERT_TRUE(acc.defined()) << Critic::kNames[i] << ".grad is undefined after backward()";
    const std::vector<double> a = acc.to_vector(), b = grads[i].to_vector();
    ASSERT_EQ(a.size(), b.size()) << Critic::kNames[i];
    double diff = 0;
    for (size_t j = 0; j < a.size(); ++j) diff = std::max(diff, std::fabs(a[j] - b[j]));
    EXPECT_EQ(diff, 0.0) << Critic::kNames[i] << ": backward() and grad() differ, max abs diff " << diff;
  }

  SafeTensors st;
  st.metadata["norm"] = c.norm;
  st.metadata["activation"] = c.activation;
  st.metadata["lambda"] = exact_text(kLambda);
  st.metadata["slope"] = exact_text(kSlope);
  st.add("xr", xr);
  st.add("xf", xf);
  st.add("u", u);
  st.add("xhat", xhat.detach());
  for (size_t i = 0; i < f.params.size(); ++i) {
    st.add(Critic::kNames[i], f.params[i].detach());
    st.add(std::string("grad.") + Critic::kNames[i], grads[i]);
  }
  st.add("grad.xhat", grad_xhat);
  st.add("f_real", fr.detach());
  st.add("f_fake", ff.detach());
  st.add("gx", gx.detach());
  st.add("norms", norms.detach());
  st.add("loss", loss.detach());
  const auto dir = test::temp_dir("parity");
  const std::string path = (dir / ("penalty_" + case_name(c) + ".safetensors")).string();
  save_safetensors(path, st);
  test::run_oracle("penalty_mlp.py", path);
}

std::vector<PenaltyCase> penalty_cases() {
  std::vector<PenaltyCase> cs;
  for (const char* norm : {"l1", "l2", "linf"}) {
    cs.push_back({norm, {6}, "Flat", "leaky_relu"});
    cs.push_back({norm, {2, 3, 3}, "Image", "leaky_relu"});  // per-sample norms over all of C, H, W
    cs.push_back({norm, {6}, "Flat", "tanh"});
  }
  return cs;
}

INSTANTIATE_TEST_SUITE_P(EveryNorm, PenaltyParity, ::testing::ValuesIn(penalty_cases()),
                         [](const auto& info) { return case_name(info.param); });

// ---- 2. Adam, step for step ---------------------------------------------------------------------

constexpr int kAdamSteps = 5;

struct AdamCase {
  std::string name;
  AdamOptions opts;
  DType dtype;
};

void PrintTo(const AdamCase& c, std::ostream* os) { *os << c.name; }

AdamOptions adam_opts(double lr, double b1, double b2, double eps, double wd) {
  AdamOptions o;
  o.lr = lr;
  o.beta1 = b1;
  o.beta2 = b2;
  o.eps = eps;
  o.weight_decay = wd;
  return o;
}

class AdamParity : public ::testing::TestWithParam<AdamCase> {};

TEST_P(AdamParity, ParamsAndMomentsMatchTorchEveryStep) {
  MMGAN_REQUIRE_TORCH();
  const AdamCase& c = GetParam();
  const DType t = c.dtype;
  Generator g(77);
  // Gradient scales 1, 1e-3 and 1e-5: the last one makes eps matter in the denominator. Parameter
  // scales 1, 0.1 and 0.05: an update of ~lr is then large against the relative tolerance, so a
  // wrong eps, bias correction or weight decay shows in the parameters in float32 too.
  const std::vector<Shape> shapes = {{4, 3}, {7}, {2, 3, 2}};
  const double grad_scale[] = {1.0, 1e-3, 1e-5}, param_scale[] = {1.0, 0.1, 0.05};

  std::vector<Tensor> params;
  for (size_t i = 0; i < shapes.size(); ++i)
    params.push_back(uniform(shapes[i], -param_scale[i], param_scale[i], g, true, t));
  SafeTensors st;
  for (size_t i = 0; i < params.size(); ++i) st.add("init.p" + std::to_string(i), params[i].detach().clone());

  Adam opt(params, c.opts);
  for (int k = 0; k < kAdamSteps; ++k) {
    for (size_t i = 0; i < params.size(); ++i) {
      const Tensor gk = mul(randn(shapes[i], g, t), grad_scale[i]).detach();
      st.add("grad" + std::to_string(k) + ".p" + std::to_string(i), gk);
      params[i].set_grad(gk);
    }
    opt.step();
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string sfx = ".p" + std::to_string(i), pfx = "step" + std::to_string(k) + ".";
      // Snapshots: step() updates parameters and moments in place.
      st.add(pfx + "param" + sfx, params[i].detach().clone());
      st.add(pfx + "exp_avg" + sfx, opt.exp_avg()[i].detach().clone());
      st.add(pfx + "exp_avg_sq" + sfx, opt.exp_avg_sq()[i].detach().clone());
      st.add(pfx + "step" + sfx, scalar(double(opt.steps()[i]), DType::F64), "I64");
    }
  }
  st.metadata["lr"] = exact_text(c.opts.lr);
  st.metadata["beta1"] = exact_text(c.opts.beta1);
  st.metadata["beta2"] = exact_text(c.opts.beta2);
  st.metadata["eps"] = exact_text(c.opts.eps);
  st.metadata["weight_decay"] = exact_text(c.opts.weight_decay);
  st.metadata["dtype"] = t == DType::F64 ? "F64" : "F32";
  st.metadata["num_params"] = std::to_string(params.size());
  st.metadata["steps"] = std::to_string(kAdamSteps);
  const auto dir = test::temp_dir("parity");
  const std::string path = (dir / ("adam_" + c.name + ".safetensors")).string();
  save_safetensors(path, st);
  // Tolerances (in adam.py): float64 1e-13 and float32 1e-6 relative. The kernel performs the same
  // operations in the same order and precision as torch's single-tensor Adam, so only libm (pow,
  // sqrt of the bias corrections) and fused multiply-adds in torch's vectorised CPU kernels can
  // differ, by an ulp or so per step.
  test::run_oracle("adam.py", path);
}

INSTANTIATE_TEST_SUITE_P(
    TwoConfigsTwoDtypes, AdamParity,
    ::testing::Values(AdamCase{"Gan_F64", adam_opts(2e-4, 0.5, 0.999, 1e-8, 0.0), DType::F64},
                      AdamCase{"Gan_F32", adam_opts(2e-4, 0.5, 0.999, 1e-8, 0.0), DType::F32},
                      AdamCase{"NoMomentumWd_F64", adam_opts(0.01, 0.0, 0.9, 1e-6, 0.1), DType::F64},
                      AdamCase{"NoMomentumWd_F32", adam_opts(0.01, 0.0, 0.9, 1e-6, 0.1), DType::F32}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace mmgan
