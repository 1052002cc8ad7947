// 10,000 iterations of forward + double backward (a gradient-penalty critic step with Adam):
// the number of live tensors and graph nodes must return to the same value after every step,
// and the process must not grow. Catches reference cycles and graphs that are never freed.
#include <fstream>

#include "test_util.h"

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
  std::vector<Tensor> params = {test::uniform({16, 2}, -0.7, 0.7, g, true, DType::F32),
                                test::uniform({16}, -0.1, 0.1, g, true, DType::F32),
                                test::uniform({1, 16}, -0.3, 0.3, g, true, DType::F32),
                                test::uniform({1}, -0.1, 0.1, g, true, DType::F32)};
  Adam opt(params, {});
  auto critic = [&](const Tensor& x) {
    return linear(leaky_relu(linear(x, params[0], params[1]), 0.2), params[2], params[3]);
  };
  auto step = [&] {
    Tensor xr = rand({8, 2}, g) + 1.0, xf = rand({8, 2}, g) - 2.0, u = rand({8, 1}, g);
    Tensor xhat = (u * xr + (1.0 - u) * xf).detach().requires_grad_(true);
    GradOptions go;
    go.create_graph = true;
    Tensor gx = grad({sum(critic(xhat))}, {xhat}, {}, go)[0];
    Tensor loss = mean(relu(1.0 - critic(xr))) + mean(relu(1.0 + critic(xf))) +
                  20.0 * mean(relu(linf_norm_per_sample(gx) - 1.0));
    // A metric computed with grad mode on and never differentiated (its graph is only dropped):
    // sigmoid and l2_norm save their own outputs, so a reference cycle would leak here.
    const double metric = mean(sigmoid(critic(xr))).item() + mean(l2_norm_per_sample(gx)).item();
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
  // Allocator noise aside, a leak of even one small tensor per step would add >1 MiB here.
  EXPECT_LT(resident_kib() - rss, 1024) << "resident memory grew from " << rss << " KiB";
}

}  // namespace
}  // namespace mmgan
