// The trainer's iteration against the official code's, in PyTorch (float64, CPU): for every GAN loss,
// every penalty norm, form, reduction and location, the augmented Lagrangian, with and without
// BatchNorm in D (DCGAN32, small widths), `Trainer::step` writes what `mmgan step-dump` writes, and
// tests/oracle/step_parity.py replays the official iteration from it and compares the losses, the
// penalty, every D and G gradient and D after Adam to 1e-9.
// The combinations: all 40 (norm, form) pairs at each of the 3 locations (120 runs), with the 16
// losses, the 3 reductions and BatchNorm on/off rotating through them, so every value of every
// option, and every (norm, form, location) triple, is covered.
#include "tests/test_util.h"
#include "trainer/commands.h"
#include "trainer/trainer.h"

namespace mmgan {
namespace {

using namespace losses;

std::shared_ptr<const data::Dataset> images() {
  auto ds = std::make_shared<data::Dataset>();
  ds->name = "synthetic", ds->source = "test", ds->sample_shape = {3, 32, 32}, ds->count = 16;
  Generator g(8);
  for (double v : test::uniform({16 * 3 * 32 * 32}, 0, 256, g).to_vector()) ds->bytes.push_back(uint8_t(v));
  return ds;
}

TEST(StepParity, EveryLossNormFormAndLocationMatchesTheOfficialIteration) {
  MMGAN_REQUIRE_TORCH();
  const auto ds = images();
  const auto dir = test::temp_dir("step-parity");
  const std::vector<GanLoss> loss_list = all_gan_losses();
  const GpNorm norms[] = {GpNorm::L1, GpNorm::L2, GpNorm::LInf, GpNorm::SmoothMax, GpNorm::LogSumExp};
  const GpForm forms[] = {GpForm::SquaredDiff, GpForm::Hinge, GpForm::Clamp, GpForm::SquaredClamp,
                          GpForm::Squared,     GpForm::TV,    GpForm::Abs,   GpForm::Hinge2};
  const GpWhere wheres[] = {GpWhere::Interpolate, GpWhere::Real, GpWhere::Fake};
  const GpReduction reductions[] = {GpReduction::Mean, GpReduction::Max, GpReduction::Softmax};
  std::string files;
  int k = 0;
  for (GpWhere w : wheres)
    for (GpNorm n : norms)
      for (GpForm f : forms) {
        trainer::TrainConfig c;
        c.dataset = "cifar10", c.input_folder = "synthetic", c.n_colors = 3, c.dtype = "float64";
        c.z_size = 6, c.G_h_size = 3, c.D_h_size = 3, c.batch_size = 4, c.n_samples = 2;
        c.seed = 100 + k;
        c.loss = loss_list[size_t(k) % loss_list.size()];
        c.penalty.norm = n, c.penalty.form = f, c.penalty.where = w;
        c.penalty.reduction = reductions[size_t(k / 16) % 3];
        c.penalty.smoothmax = 0.7;
        c.no_batch_norm_D = k % 2 == 1;
        c.penalty.augmented = k % 29 == 5;
        c.lr_D = 0.01;  // a large step, so D after Adam visibly differs from D before
        trainer::Trainer t(c, ds);
        SafeTensors st;
        trainer::dump_step(t, st);
        st.metadata["config"] = trainer::to_json(t.config());
        const std::string path = (dir / ("step" + std::to_string(k) + ".safetensors")).string();
        save_safetensors(path, st);
        files += " " + path;
        ++k;
      }
  EXPECT_EQ(k, 120);
  test::run_oracle("step_parity.py", files);
}

}  // namespace
}  // namespace mmgan
