// `mmgan sample` and `mmgan step-dump`, and loading a checkpoint's generator (commands.h).
#include "commands.h"

#include "engine/autograd/grad_mode.h"
#include "engine/random.h"
#include "engine/safetensors.h"
#include "models/networks.h"
#include "trainer.h"

namespace mmgan::trainer {

std::shared_ptr<nn::Module> generator_from_checkpoint(const std::string& checkpoint, Generator& init, TrainConfig* cfg) {
  const SafeTensors st = load_safetensors(checkpoint);
  const auto it = st.metadata.find("config");
  MMGAN_CHECK(it != st.metadata.end(), checkpoint, ": not an mmgan checkpoint (no configuration in its metadata)");
  *cfg = config_from_json(it->second, checkpoint + " (metadata 'config')");
  auto G = nn::make_generator(cfg->net(), init);
  G->load_state_dict(st, "G.", /*strict=*/false);
  return G;
}

void sample_from_checkpoint(const std::string& checkpoint, int64_t n, uint64_t seed, const std::string& png_path,
                            bool use_running_stats) {
  MMGAN_CHECK(n >= 1, "--n must be >= 1, got ", n);
  TrainConfig cfg;
  Generator gen(seed);  // initialisation, then z: the grid a seed gives stays the same
  auto G = generator_from_checkpoint(checkpoint, gen, &cfg);
  G->train(!use_running_stats);
  NoGradGuard ng;
  const Tensor z = randn({n, cfg.z_size, 1, 1}, gen, cfg.net().dtype);
  save_image_grid((*G)(z), png_path);
}

void step_dump(TrainConfig cfg, const std::string& out_path) {
  Trainer t(std::move(cfg));
  SafeTensors st;
  t.step(&st);
  st.metadata["config"] = to_json(t.config());
  st.metadata["format"] = "mmgan-step-dump-1";
  save_safetensors(out_path, st);
}

}  // namespace mmgan::trainer
