// The tiny training configuration the trainer tests share (a data set is injected into the
// Trainer, so dataset "folder" only has to be a valid name).
#pragma once
#include <cstdint>

#include "trainer/config.h"

namespace mmgan::test {

inline trainer::TrainConfig tiny_config(int64_t image_size = 16, int64_t seed = 3) {
  trainer::TrainConfig c;
  c.dataset = "folder";
  c.input_folder = "unused";
  c.image_size = image_size;
  c.n_colors = 1;
  c.z_size = 8;
  c.G_h_size = 4;
  c.D_h_size = 4;
  c.batch_size = 6;
  c.n_samples = 4;
  c.seed = seed;
  c.device = "cpu";  // the reference; the CUDA tests say so
  return c;
}

}  // namespace mmgan::test
