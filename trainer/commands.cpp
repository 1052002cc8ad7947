// `mmgan sample` and `mmgan step-dump`, and loading a checkpoint's generator (commands.h).
#include "trainer/commands.h"

#include "engine/autograd/grad_mode.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "engine/safetensors.h"
#include "models/networks.h"
#include "trainer/memory_estimate.h"
#include "trainer/trainer.h"

namespace mmgan::trainer {

std::shared_ptr<nn::Module> generator_from_checkpoint(const std::string& checkpoint, Generator& init,
                                                      TrainConfig* cfg) {
  const SafeTensors st = load_safetensors(checkpoint);
  *cfg = checkpoint_config(st, checkpoint);
  const MemoryEstimate e = estimate_memory(*cfg);
  check_memory(MemoryEstimate{{e.parts[0]}});  // the generator alone, before it is built
  auto G = nn::make_generator(cfg->net(), init);
  G->load_state_dict(st, "G.", /*strict=*/false);
  return G;
}

Tensor sample_images(const std::string& checkpoint, int64_t n, uint64_t seed, bool use_running_stats,
                     const std::string& device) {
  const Device d = Device::parse(device);
  MMGAN_CHECK(n >= 1, "--n must be >= 1, got ", n);
  TrainConfig cfg;
  Generator gen(seed);  // initialisation, then z: the grid a seed gives stays the same
  auto G = generator_from_checkpoint(checkpoint, gen, &cfg);
  cfg.n_samples = n;
  MemoryEstimate grid = estimate_memory(cfg);
  grid.parts = {grid.parts.back()};
  grid.parts[0].flags = "--n";
  check_memory(grid);
  G->to(d);
  G->train(!use_running_stats);
  NoGradGuard ng;
  const Tensor z = to_device(randn({n, cfg.z_size, 1, 1}, gen, cfg.net().dtype), d);
  return to_device((*G)(z), Device::cpu());
}

void sample_from_checkpoint(const std::string& checkpoint, int64_t n, uint64_t seed, const std::string& png_path,
                            bool use_running_stats, const std::string& device) {
  save_image_grid(sample_images(checkpoint, n, seed, use_running_stats, device), png_path);
}

namespace {

// Records one iteration under the official code's key names (tests/oracle/step_dump.py reads them).
class DumpObserver : public StepObserver {
 public:
  explicit DumpObserver(SafeTensors& st) : st_(st) {}
  void before(Trainer& t) override {
    st_.add_all(t.generator().state_dict(), "G.");
    st_.add_all(t.discriminator().state_dict(), "D.");
  }
  void critic_step(Trainer& t, const CriticStep& s) override {
    st_.add("x_real", s.x_real.clone());
    st_.add("z_D", s.z);
    if (s.u.defined()) st_.add("u", s.u);
    st_.add("loss_D", s.loss);
    if (s.penalty_term.defined()) {
      st_.add("penalty", s.penalty);
      st_.add("penalty_term", s.penalty_term.detach());
    }
    add_grads("grad.D.", t.discriminator(), s.grads);
  }
  void critic_updated(Trainer& t) override { st_.add_all(t.discriminator().state_dict(), "D_after."); }
  void generator_step(Trainer& t, const GeneratorStep& s) override {
    st_.add("z_G", s.z);
    if (s.x_real.defined()) st_.add("x_real_G", s.x_real.clone());
    st_.add("loss_G", s.loss);
    add_grads("grad.G.", t.generator(), s.grads);
  }

 private:
  void add_grads(const std::string& prefix, nn::Module& m, const std::vector<Tensor>& grads) {
    const auto named = m.named_parameters();
    for (size_t i = 0; i < named.size(); ++i)
      st_.add(prefix + named[i].first, grads[i].defined() ? grads[i] : zeros_like(named[i].second));
  }
  SafeTensors& st_;
};

}  // namespace

void dump_step(Trainer& t, SafeTensors& st) {
  MMGAN_CHECK(t.config().Diters == 1 && t.config().Giters == 1,
              "step-dump records one D and one G step: use --Diters 1 --Giters 1");
  DumpObserver dump(st);
  t.step(&dump);
}

void step_dump(TrainConfig cfg, const std::string& out_path) {
  Trainer t(std::move(cfg));
  SafeTensors st;
  dump_step(t, st);
  st.metadata["config"] = to_json(t.config());
  st.metadata["format"] = "mmgan-step-dump-1";
  save_safetensors(out_path, st);
}

}  // namespace mmgan::trainer
