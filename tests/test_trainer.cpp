// The trainer: resuming from a checkpoint continues bit-identically, a NaN stops the run and keeps
// the last good checkpoint, and the run folder holds what the README says.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/test_util.h"
#include "tests/trainer_util.h"
#include "trainer/run.h"
#include "trainer/commands.h"
#include "trainer/trainer.h"

namespace mmgan {
namespace {

using trainer::TrainConfig;
using trainer::Trainer;

// 48 random 1x16x16 images: small enough that a DCGAN16 step takes milliseconds.
std::shared_ptr<const data::Dataset> tiny_dataset() {
  auto ds = std::make_shared<data::Dataset>();
  ds->name = "synthetic";
  ds->source = "test";
  ds->sample_shape = {1, 16, 16};
  ds->count = 48;
  Generator g(5);
  const std::vector<double> u = test::uniform({48 * 256}, 0, 256, g).to_vector();
  for (double v : u) ds->bytes.push_back(uint8_t(v));
  return ds;
}

TrainConfig tiny_config() { return test::tiny_config(); }

std::vector<std::vector<double>> everything(const Trainer& t) {
  std::vector<std::vector<double>> out;
  const SafeTensors st = t.checkpoint();
  for (const std::string& n : st.names) out.push_back(st.tensors.at(n).to_vector());
  return out;
}

void expect_bit_identical(const Trainer& a, const Trainer& b) {
  const SafeTensors sa = a.checkpoint(), sb = b.checkpoint();
  ASSERT_EQ(sa.names, sb.names);
  for (const std::string& n : sa.names) EXPECT_EQ(sa.tensors.at(n).to_vector(), sb.tensors.at(n).to_vector()) << n;
  for (const auto& [k, v] : sa.metadata) {
    if (k != "config") {
      EXPECT_EQ(v, sb.metadata.at(k)) << k;
      continue;
    }
    // The configurations may differ in --graph alone: how the iterations run, not what they compute.
    TrainConfig ca = trainer::config_from_json(v, "a"), cb = trainer::config_from_json(sb.metadata.at(k), "b");
    ca.graph = cb.graph;
    EXPECT_EQ(trainer::to_json(ca), trainer::to_json(cb));
  }
}

class Resume : public ::testing::TestWithParam<int> {};

// Uninterrupted 6 iterations == 3 iterations, checkpoint, a fresh trainer loading it, 3 more.
// Parameterised over a loss whose G step draws a fresh real batch (relativistic) and one that
// does not, with the augmented Lagrangian (a multiplier carried across the checkpoint) and decay.
TEST_P(Resume, ContinuesBitIdentically) {
  TrainConfig c = tiny_config();
  c.loss = losses::GanLoss(GetParam());
  c.decay = 0.01;
  c.penalty.augmented = GetParam() == 13;
  const auto ds = tiny_dataset();
  Trainer a(c, ds);
  for (int i = 0; i < 6; ++i) a.step();

  Trainer b(c, ds);
  for (int i = 0; i < 3; ++i) b.step();
  const auto dir = test::temp_dir("resume");
  const std::string ck = (dir / "ck.safetensors").string();
  b.save_checkpoint(ck);
  Trainer r(c, ds);
  r.load_checkpoint(ck);
  EXPECT_EQ(r.iteration(), 3);
  for (int i = 0; i < 3; ++i) r.step();
  expect_bit_identical(a, r);
  // And the check can fail: one extra step changes everything.
  r.step();
  EXPECT_NE(everything(a), everything(r));
}

INSTANTIATE_TEST_SUITE_P(Losses, Resume, ::testing::Values(3, 13));

// The fast path (--graph on: the first iteration eager, then one captured iteration replayed)
// against the eager path, on the CPU where both are exact: after 12 iterations every parameter,
// buffer, Adam moment and step count, the generator position, data position, learning rates and
// multiplier are bit-identical, and so are the last iteration's metrics. Configurations: the
// default (BatchNorm in D, L-inf hinge), WGAN-GP with the augmented Lagrangian and lr decay, a
// relativistic loss with 2 D and 2 G steps per iteration (four real batches staged), spectral
// norm with smooth max, and no penalty at all. Then a checkpoint of the replayed run resumes.
TEST(Trainer, ReplayedIterationsEqualEagerOnes) {
  for (int variant = 0; variant < 5; ++variant) {
    TrainConfig c = tiny_config();
    if (variant == 1)
      c.loss = losses::GanLoss::WGAN, c.penalty.norm = losses::GpNorm::L2, c.penalty.form = losses::GpForm::SquaredDiff,
      c.penalty.augmented = true, c.decay = 0.01;
    if (variant == 2) c.loss = losses::GanLoss::RaSGAN, c.Diters = 2, c.Giters = 2;
    if (variant == 3) c.spectral = true, c.penalty.norm = losses::GpNorm::SmoothMax;
    if (variant == 4) c.no_grad_penalty = true;
    const auto ds = tiny_dataset();
    c.graph = "off";
    Trainer eager(c, ds);
    c.graph = "on";
    Trainer replayed(c, ds);
    for (int i = 0; i < 12; ++i) eager.step(), replayed.step();
    EXPECT_FALSE(eager.replaying());
    EXPECT_TRUE(replayed.replaying());
    SCOPED_TRACE("variant " + std::to_string(variant));
    expect_bit_identical(eager, replayed);
    const trainer::StepStats a = eager.stats(), b = replayed.stats();
    EXPECT_EQ(a.loss_D, b.loss_D);
    EXPECT_EQ(a.loss_G, b.loss_G);
    EXPECT_EQ(a.penalty, b.penalty);
    EXPECT_EQ(a.grad_norm_max, b.grad_norm_max);
    EXPECT_EQ(a.penalty_active, b.penalty_active);
    EXPECT_NE(a.loss_D, 0.0);
    if (variant != 4) {
      EXPECT_GT(a.grad_norm_mean, 0.0);
    }

    const auto dir = test::temp_dir("replay");
    const std::string ck = (dir / "ck.safetensors").string();
    replayed.save_checkpoint(ck);
    Trainer resumed(c, ds);
    resumed.load_checkpoint(ck);
    for (int i = 0; i < 3; ++i) eager.step(), replayed.step(), resumed.step();
    expect_bit_identical(eager, resumed);
    expect_bit_identical(eager, replayed);
  }
}

// The penalty metrics against the norms recomputed by hand at the D step's own penalty points: the
// observer rebuilds xhat = u x_real + (1 - u) G(z) from the step's u, z and real batch, takes
// grad_xhat sum D(xhat) and each sample's L1 / L2 / L-inf norm in plain C++. stats() must give their
// mean, max and the fraction above 1 (penalty_active), for each norm. At initialisation the L1 norms
// of a 256-pixel gradient sit near 4 and the L2 and L-inf ones below 1; a large learning rate drives
// the L1 norms through 1 within a few iterations, so the fraction takes 0, 1 and values between.
TEST(Trainer, PenaltyMetricsAreTheNormsAtThePenaltyPoints) {
  struct Recompute : trainer::StepObserver {
    losses::GpNorm norm;
    std::vector<double> norms;  // the last D step's
    void critic_step(Trainer& t, const CriticStep& s) override {
      Tensor fake;
      {
        NoGradGuard ng;
        fake = t.generator()(s.z);  // train mode: the batch's own statistics, as in the step
      }
      const int64_t n = s.x_real.size(0);
      const Tensor u = s.u.reshape({n, 1, 1, 1});
      Tensor xhat = (s.x_real * u + fake * (1.0 - u)).detach();
      xhat.requires_grad_(true);
      const std::vector<double> g = grad({sum(t.discriminator()(xhat))}, {xhat})[0].to_vector();
      const size_t per = g.size() / size_t(n);
      norms.assign(size_t(n), 0.0);
      for (size_t i = 0; i < size_t(n); ++i) {
        double l1 = 0, l2 = 0, linf = 0;
        for (size_t j = 0; j < per; ++j) {
          const double a = std::abs(g[i * per + j]);
          l1 += a, l2 += a * a, linf = std::max(linf, a);
        }
        norms[i] = norm == losses::GpNorm::L1 ? l1 : norm == losses::GpNorm::L2 ? std::sqrt(l2) : linf;
      }
    }
  };
  bool saw_none = false, saw_all = false, saw_some = false;
  struct Variant {
    losses::GpNorm norm;
    double lr_D;
    int iterations;
  };
  for (const Variant v : {Variant{losses::GpNorm::L1, 2e-4, 3}, Variant{losses::GpNorm::L2, 2e-4, 3},
                          Variant{losses::GpNorm::LInf, 2e-4, 3}, Variant{losses::GpNorm::L1, 1e-2, 4}}) {
    const losses::GpNorm norm = v.norm;
    TrainConfig c = tiny_config();
    c.penalty.norm = norm;
    c.lr_D = v.lr_D;
    c.dtype = "float64";
    Trainer t(c, tiny_dataset());
    Recompute r;
    r.norm = norm;
    for (int i = 0; i < v.iterations; ++i) {
      t.step(&r);
      const trainer::StepStats s = t.stats();
      double mean = 0, mx = 0, above = 0;
      for (double v : r.norms) mean += v / double(r.norms.size()), mx = std::max(mx, v), above += v > 1 ? 1 : 0;
      above /= double(r.norms.size());
      SCOPED_TRACE("norm " + losses::to_string(norm) + ", iteration " + std::to_string(i));
      EXPECT_NEAR(s.grad_norm_mean, mean, 1e-9 * (1 + mean));
      EXPECT_NEAR(s.grad_norm_max, mx, 1e-9 * (1 + mx));
      EXPECT_EQ(s.penalty_active, above);
      saw_none |= above == 0;
      saw_all |= above == 1;
      saw_some |= above > 0 && above < 1;
    }
  }
  EXPECT_TRUE(saw_none && saw_all && saw_some)
      << "the runs never reached an inert, a partly and a fully active penalty";
  // Without a penalty there are no penalty points: every penalty metric is 0.
  TrainConfig c = tiny_config();
  c.no_grad_penalty = true;
  Trainer t(c, tiny_dataset());
  t.step();
  EXPECT_EQ(t.stats().penalty_active, 0.0);
  EXPECT_EQ(t.stats().grad_norm_max, 0.0);
}

TEST(Trainer, MarginsAndSamplesDoNotChangeTheRun) {
  TrainConfig c = tiny_config();
  const auto ds = tiny_dataset();
  Trainer a(c, ds), b(c, ds);
  const auto dir = test::temp_dir("metrics");
  for (int i = 0; i < 3; ++i) {
    a.step();
    b.step();
    const auto [mr, mf] = b.margins();
    EXPECT_TRUE(std::isfinite(mr) && std::isfinite(mf));
    b.save_samples((dir / "s.png").string());
  }
  expect_bit_identical(a, b);
  EXPECT_GT(std::filesystem::file_size(dir / "s.png"), 100u);
}

// A network that blew up (one D weight NaN, as a diverged run leaves it): the iteration does not
// wait for the device, and the check that follows it names the iteration and the loss; the
// checkpoint written before is intact. Also through a captured iteration (--graph on).
TEST(Trainer, NanIsReportedWithItsIterationAndKeepsTheLastGoodCheckpoint) {
  for (const std::string graph : {"off", "on"}) {
    TrainConfig c = tiny_config();
    c.graph = graph;
    const auto ds = tiny_dataset();
    Trainer t(c, ds);
    for (int i = 0; i < 3; ++i) t.step();
    EXPECT_EQ(t.replaying(), graph == "on");
    t.check_finite();  // nothing to report yet
    const auto dir = test::temp_dir("nan");
    const std::string ck = (dir / "ck.safetensors").string();
    t.save_checkpoint(ck);
    const auto before = everything(t);
    {
      NoGradGuard ng;
      t.discriminator().parameters()[0].fill_(std::nan(""));
    }
    t.step();
    t.step();
    try {
      t.check_finite();
      ADD_FAILURE() << "a NaN weight was not reported (--graph " << graph << ")";
    } catch (const trainer::Diverged& e) {
      EXPECT_NE(std::string(e.what()).find("iteration 3: the D loss is NaN"), std::string::npos) << e.what();
    }
    Trainer r(c, ds);
    r.load_checkpoint(ck);
    EXPECT_EQ(r.iteration(), 3);
    EXPECT_EQ(everything(r), before);
    r.check_finite();  // a loaded checkpoint starts with a clean record
  }
}

TEST(Trainer, RejectsImpossibleConfigurationsNamingTheFlag) {
  auto expect_error = [](TrainConfig c, const std::string& flag) {
    try {
      Trainer t(c, tiny_dataset());
      ADD_FAILURE() << "accepted a bad " << flag;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  TrainConfig c = tiny_config();
  c.batch_size = 100;
  expect_error(c, "--batch_size");
  c = tiny_config();
  c.image_size = 32;
  expect_error(c, "--image_size");
  c = tiny_config();
  c.arch = 1;
  expect_error(c, "image_size");
  c = tiny_config();
  c.decay = 1.5;
  expect_error(c, "--decay");
}

}  // namespace
}  // namespace mmgan

namespace mmgan {
namespace {

// Everything one iteration computes (inputs, losses, penalty, every D and G gradient, D after
// Adam), captured as step-dump tensors on `device`.
SafeTensors captured_step(TrainConfig c, const std::string& device) {
  c.device = device;
  Trainer t(c, tiny_dataset());
  t.step();  // the second iteration: Adam state and BatchNorm running statistics are non-trivial
  SafeTensors st;
  trainer::dump_step(t, st);
  return st;
}

// The full penalty training step on CUDA equals the CPU's: float32 with TF32 off to 1e-4
// relative, float64 to 1e-9, for the paper's best setting (BatchNorm in D), WGAN-GP, a
// relativistic loss with the L1 norm at fake samples, and spectral norm with smooth max.
TEST(TrainerCuda, StepEqualsTheCpuStep) {
  MMGAN_REQUIRE_CUDA();
  const ExactFloat32Scope exact;
  for (const std::string dtype : {"float32", "float64"}) {
    for (int variant = 0; variant < 4; ++variant) {
      TrainConfig c = tiny_config();
      c.dtype = dtype;
      if (variant == 1)
        c.loss = losses::GanLoss::WGAN, c.penalty.norm = losses::GpNorm::L2,
        c.penalty.form = losses::GpForm::SquaredDiff;
      if (variant == 2)
        c.loss = losses::GanLoss::RaSGAN, c.penalty.norm = losses::GpNorm::L1, c.penalty.where = losses::GpWhere::Fake;
      if (variant == 3) c.spectral = true, c.penalty.norm = losses::GpNorm::SmoothMax;
      const SafeTensors cpu = captured_step(c, "cpu"), gpu = captured_step(c, "cuda");
      ASSERT_EQ(cpu.names, gpu.names);
      const double tol = dtype == "float32" ? 1e-4 : 1e-9;
      for (const std::string& n : cpu.names)
        EXPECT_LT(test::rel_error(gpu.tensors.at(n), cpu.tensors.at(n)), tol)
            << dtype << " variant " << variant << ": " << n;
    }
  }
}

// Issue 6's proof of the fast path on the GPU: 100 iterations replayed from one CUDA graph end
// with the parameters of 100 eager iterations (float32, TF32 off: 1e-5 relative) and, at lower
// precision (different kernels, float32 rounding amplified by 100 steps of training), of the CPU.
TEST(TrainerCuda, GraphReplayEqualsEagerAndTheCpu) {
  MMGAN_REQUIRE_CUDA();
  const ExactFloat32Scope exact;
  TrainConfig c = tiny_config();
  const auto ds = tiny_dataset();
  auto run = [&](const std::string& device, const std::string& graph) {
    c.device = device;
    c.graph = graph;
    Trainer t(c, ds);
    for (int i = 0; i < 100; ++i) t.step();
    t.check_finite();
    EXPECT_EQ(t.replaying(), graph == "on");
    return t.checkpoint();
  };
  const SafeTensors replayed = run("cuda", "on"), eager = run("cuda", "off"), cpu = run("cpu", "off");
  for (const std::string& n : replayed.names) {
    if (n.find(".step") != std::string::npos) continue;
    EXPECT_LT(test::rel_error(replayed.tensors.at(n), eager.tensors.at(n)), 1e-5) << n;
    EXPECT_LT(test::rel_error(replayed.tensors.at(n), cpu.tensors.at(n)), 1e-2) << n;
  }
  for (const char* k : {"rng_offset", "data_position", "lr_D", "lr_G", "lagrange"})
    EXPECT_EQ(replayed.metadata.at(k), eager.metadata.at(k)) << k;
}

// A checkpoint written by a CUDA run loads into a CPU trainer (and back) with identical state.
TEST(TrainerCuda, CheckpointsMoveBetweenDevices) {
  MMGAN_REQUIRE_CUDA();
  TrainConfig c = tiny_config();
  c.device = "cuda";
  Trainer a(c, tiny_dataset());
  for (int i = 0; i < 2; ++i) a.step();
  const auto dir = test::temp_dir("cuda-ckpt");
  const std::string ck = (dir / "ck.safetensors").string();
  a.save_checkpoint(ck);
  c.device = "cpu";
  Trainer b(c, tiny_dataset());
  b.load_checkpoint(ck);
  const SafeTensors sa = a.checkpoint(), sb = b.checkpoint();
  ASSERT_EQ(sa.names, sb.names);
  for (const std::string& n : sa.names) EXPECT_EQ(sa.tensors.at(n).to_vector(), sb.tensors.at(n).to_vector()) << n;
  EXPECT_EQ(b.iteration(), 2);
}

// `mmgan sample` on the GPU draws the CPU's z and gives the CPU's images (TF32 off), with batch
// statistics and with the running ones.
TEST(TrainerCuda, SampleOnCudaEqualsTheCpu) {
  MMGAN_REQUIRE_CUDA();
  const ExactFloat32Scope exact;
  Trainer t(tiny_config(), tiny_dataset());
  for (int i = 0; i < 2; ++i) t.step();
  const auto dir = test::temp_dir("cuda-sample");
  const std::string ck = (dir / "ck.safetensors").string();
  t.save_checkpoint(ck);
  for (bool running : {false, true}) {
    const Tensor cpu = trainer::sample_images(ck, 10, 7, running, "cpu"),
                 gpu = trainer::sample_images(ck, 10, 7, running, "cuda");
    EXPECT_TRUE(gpu.device() == Device::cpu());
    EXPECT_LT(test::rel_error(gpu, cpu), 1e-4) << "running statistics " << running;
  }
}

}  // namespace
}  // namespace mmgan
