// Capture and replay (engine/capture.h), on the CPU backend's recorded call lists, and on CUDA
// graphs when a GPU is present:
//   - a penalty step (double backprop, RNG through a device base, Adam with its rate and step
//     counts on the device) replayed equals the same steps run eagerly, bit for bit;
//   - host reads and host data inside a capture are refused with a message, and a failed capture
//     leaves the backend usable;
//   - memory: a tensor made before the capture and dropped inside it keeps its contents for the
//     replays, and tensors allocated after the capture never alias the capture's scratch.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autograd/engine.h"
#include "engine/autograd/grad_mode.h"
#include "engine/capture.h"
#include "engine/mmgan.h"
#include "engine/optim/adam.h"
#include "engine/random.h"
#include "tests/test_util.h"

namespace mmgan {
namespace {

// A small critic with a gradient penalty at interpolates, trained by Adam: everything the GAN
// step does, in miniature. All state lives in tensors made before any capture.
struct PenaltyStep {
  Device d;
  DType t;
  Tensor w1, w2, x_real, base;
  Generator rng{17};
  std::unique_ptr<Adam> opt;

  PenaltyStep(Device dev, DType dt) : d(dev), t(dt) {
    Generator init(5);
    w1 = randn({6, 4}, init, t).to(d).requires_grad_(true);
    w2 = randn({1, 6}, init, t).to(d).requires_grad_(true);
    x_real = empty({8, 4}, t, d);
    base = zeros({}, DType::F64, d);
    rng.bind_base(base);
    AdamOptions o;
    o.lr = 1e-2;
    opt = std::make_unique<Adam>(std::vector<Tensor>{w1, w2}, o);
  }
  Tensor critic(const Tensor& x) const { return linear(leaky_relu(linear(x, w1), 0.2), w2).reshape({-1}); }
  // Device work only: draws relative to the base, which it then advances.
  void compute() {
    rng.set_state(rng.seed(), 0);
    opt->zero_grad();
    const Tensor x_fake = randn({8, 4}, rng, t, d);
    const Tensor u = rand({8, 1}, rng, t, d);
    Tensor xhat = (x_real * u + x_fake * (1.0 - u)).detach();
    xhat.requires_grad_(true);
    const Tensor c = critic(xhat);
    GradOptions go;
    go.create_graph = true;
    const Tensor g = grad({sum(c)}, {xhat}, {}, go)[0];
    const Tensor pen = mean(relu(linf_norm_per_sample(g) - 1.0)) * 20.0;
    const Tensor loss = mean(relu(1.0 - critic(x_real))) + mean(relu(1.0 + critic(x_fake))) + pen;
    const auto gs = grad({loss}, {w1, w2});
    w1.set_grad(gs[0].detach());
    w2.set_grad(gs[1].detach());
    opt->step();
    opt->scale_lr(0.99);
    NoGradGuard ng;
    base.copy_(base + double(rng.offset()));
  }
  void stage(int64_t i) {  // the host's part: a new real batch before each step
    Generator g(1000 + uint64_t(i));
    x_real.copy_(test::uniform({8, 4}, -1, 1, g, false, t));
  }
  std::vector<double> state() const {
    std::vector<double> v = w1.to_vector(), b = w2.to_vector(), m = opt->exp_avg()[0].to_vector();
    v.insert(v.end(), b.begin(), b.end());
    v.insert(v.end(), m.begin(), m.end());
    v.push_back(base.item());
    v.push_back(opt->lr());
    for (int64_t s : opt->steps()) v.push_back(double(s));
    return v;
  }
};

void replay_equals_eager(Device d, DType t) {
  PenaltyStep eager(d, t), replayed(d, t);
  constexpr int kSteps = 12;
  for (int64_t i = 0; i < kSteps; ++i) eager.stage(i), eager.compute();
  replayed.stage(0), replayed.compute();  // one eager step first, as the trainer does
  replayed.stage(1);
  CapturedStep step(d, [&] { replayed.compute(); });
  EXPECT_EQ(replayed.opt->steps()[0], 1) << "the capture ran something";
  step.replay();
  for (int64_t i = 2; i < kSteps; ++i) replayed.stage(i), step.replay();
  EXPECT_EQ(replayed.state(), eager.state());
  // The comparison can fail: one replay more and they differ.
  step.replay();
  EXPECT_NE(replayed.state(), eager.state());
}

TEST(Capture, ReplayedPenaltyStepsEqualEagerOnesCpu) {
  replay_equals_eager(Device::cpu(), DType::F64);
  replay_equals_eager(Device::cpu(), DType::F32);
}

TEST(Capture, ReplayedPenaltyStepsEqualEagerOnesCuda) {
  MMGAN_REQUIRE_CUDA();
  replay_equals_eager(Device::cuda(0), DType::F64);
  replay_equals_eager(Device::cuda(0), DType::F32);
}

void host_access_is_refused(Device d) {
  const Tensor x = full({3}, 2.0, DType::F32, d);
  // On the CPU every such access goes through Tensor::data(); on CUDA through the host copies.
  const bool cpu = d.type == DeviceType::CPU;
  const std::vector<std::pair<std::string, std::function<void()>>> cases{
      {cpu ? "host access" : "reads tensor data on the host", [&] { (void)sum(x).item(); }},
      {cpu ? "host access" : "reads tensor data on the host", [&] { (void)x.to_vector(); }},
      {cpu ? "host access" : "copies host data",
       [&] {
         (void)from_vector(std::vector<double>{1, 2, 3}, {3}, DType::F32, d);
       }},
  };
  for (const auto& [want, body] : cases) {
    const std::string e = test::error_of([&] { CapturedStep s(d, body); });
    EXPECT_NE(e.find(want), std::string::npos) << e;
    EXPECT_NE(e.find("captured step"), std::string::npos) << e;
    EXPECT_FALSE(capturing(d));
  }
  // The backend works normally afterwards.
  EXPECT_EQ((x * 3.0).to_vector(), (std::vector<double>{6, 6, 6}));
  EXPECT_NE(test::error_of([&] { CapturedStep a(d, [&] { CapturedStep b(d, [] {}); }); }).find("do not nest"),
            std::string::npos);
  EXPECT_FALSE(capturing(d));
}

TEST(Capture, HostAccessInsideACaptureIsRefusedCpu) { host_access_is_refused(Device::cpu()); }
TEST(Capture, HostAccessInsideACaptureIsRefusedCuda) {
  MMGAN_REQUIRE_CUDA();
  host_access_is_refused(Device::cuda(0));
}

void memory_stays_with_the_capture(Device d) {
  Tensor before = full({1000}, 3.0, DType::F32, d);  // dropped inside the capture
  const Tensor in = full({1000}, 1.0, DType::F32, d);
  Tensor out = empty({1000}, DType::F32, d), out2 = empty({1000}, DType::F32, d);
  CapturedStep step(d, [&] {
    const Tensor scratch = in * 2.0;  // pool memory, free again when the capture ends
    out.copy_(scratch + before);
    before = Tensor();
    out2.copy_(out * 0.5);
  });
  // New tensors of the same sizes, written with other values: none may share the capture's memory.
  std::vector<Tensor> others;
  for (int i = 0; i < 8; ++i) others.push_back(full({1000}, -7.0, DType::F32, d));
  step.replay();
  step.replay();
  EXPECT_EQ(out.to_vector(), std::vector<double>(1000, 5.0));
  EXPECT_EQ(out2.to_vector(), std::vector<double>(1000, 2.5));
  for (const Tensor& o : others) EXPECT_EQ(o.to_vector(), std::vector<double>(1000, -7.0));
}

TEST(Capture, MemoryStaysWithTheCaptureCpu) { memory_stays_with_the_capture(Device::cpu()); }
TEST(Capture, MemoryStaysWithTheCaptureCuda) {
  MMGAN_REQUIRE_CUDA();
  memory_stays_with_the_capture(Device::cuda(0));
}

}  // namespace
}  // namespace mmgan
