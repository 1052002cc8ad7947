// 10,000 iterations of forward + double backward (a gradient-penalty critic step with Adam):
// the number of live tensors and graph nodes must return to the same value after every step,
// and the process must not grow. Catches reference cycles and graphs that are never freed.
#include <fstream>

#include "losses/gan_loss.h"
#include "losses/gradient_penalty.h"
#include "tests/test_util.h"
#include "trainer/trainer.h"

namespace mmgan {
namespace {

int64_t resident_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

TEST(Memory, TenThousandDoubleBackwardStepsDoNotGrow) {
  Generator g(21);
  std::vector<Tensor> params = {
      test::uniform({16, 2}, -0.7, 0.7, g, true, DType::F32), test::uniform({16}, -0.1, 0.1, g, true, DType::F32),
      test::uniform({1, 16}, -0.3, 0.3, g, true, DType::F32), test::uniform({1}, -0.1, 0.1, g, true, DType::F32)};
  Adam opt(params, {});
  auto critic = [&](const Tensor& x) {
    return linear(leaky_relu(linear(x, params[0], params[1]), 0.2), params[2], params[3]).reshape({-1});
  };
  losses::PenaltyConfig pc;
  pc.enabled = true;
  auto step = [&] {
    Tensor xr = rand({8, 2}, g) + 1.0, xf = rand({8, 2}, g) - 2.0, u = rand({8, 1}, g);
    const losses::PenaltyTerms pen = losses::gradient_penalty(critic, losses::penalty_points(xr, xf, u, pc.where), pc);
    Tensor loss = losses::d_loss(losses::GanLoss::Hinge, critic(xr), critic(xf)) + pen.loss;
    // A metric computed with grad mode on and never differentiated (its graph is only dropped):
    // sigmoid and l2_norm save their own outputs, so a reference cycle would leak here.
    const double metric =
        mean(sigmoid(critic(xr))).item() + mean(l2_norm_per_sample(critic(xf).reshape({-1, 1}))).item();
    EXPECT_TRUE(std::isfinite(metric));
    opt.zero_grad();
    loss.backward();
    opt.step();
  };
  for (int i = 0; i < 10; ++i) step();
  const int64_t nodes = Node::live_count(), tensors = TensorImpl::live_count(), rss = resident_kib();
  // Nothing of the last step's graph survives it: only each parameter's own gradient accumulator.
  EXPECT_EQ(nodes, int64_t(params.size()));
  for (int i = 0; i < 10000; ++i) {
    step();
    if (Node::live_count() != nodes || TensorImpl::live_count() != tensors) {
      FAIL() << "step " << i << ": live nodes " << Node::live_count() << " (was " << nodes << "), live tensors "
             << TensorImpl::live_count() << " (was " << tensors << ")";
    }
  }
  // Allocator noise aside, a leak of even one small tensor per step would add >1 MiB here. Not
  // under ASan, which keeps freed memory in quarantine (its LeakSanitizer checks leaks instead).
#ifndef __SANITIZE_ADDRESS__
  EXPECT_LT(resident_kib() - rss, 1024) << "resident memory grew from " << rss << " KiB";
#else
  (void)rss;
#endif
}

// The same for the real thing: full training iterations (conv D and G, BatchNorm in train mode,
// spectral norm with its in-place power iteration, penalty, Adam) of a tiny DCGAN16.
TEST(Memory, TrainingIterationsDoNotGrow) {
  for (const std::string graph : {"off", "on"}) {
    trainer::TrainConfig c;
    c.graph = graph;
    c.dataset = "folder";
    c.input_folder = "unused";
    c.image_size = 16, c.n_colors = 1, c.z_size = 4, c.G_h_size = 2, c.D_h_size = 2, c.batch_size = 4, c.n_samples = 2;
    c.spectral = true;
    auto ds = std::make_shared<data::Dataset>();
    ds->name = "synthetic", ds->source = "test", ds->sample_shape = {1, 16, 16}, ds->count = 8;
    ds->bytes.assign(8 * 256, 77);
    trainer::Trainer t(c, ds);
    for (int i = 0; i < 5; ++i) t.step();
    // Graph nodes return exactly; tensors may differ by the prefetch thread's queued batches (depth 2).
    const int64_t nodes = Node::live_count(), tensors = TensorImpl::live_count();
    for (int i = 0; i < 300; ++i) {
      t.step();
      ASSERT_EQ(Node::live_count(), nodes) << "iteration " << i << ", --graph " << graph;
      ASSERT_LE(std::abs(TensorImpl::live_count() - tensors), 2) << "iteration " << i << ", --graph " << graph;
    }
  }
}

}  // namespace
}  // namespace mmgan
