// The non-training commands of `mmgan` that need the trainer's pieces.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "trainer/config.h"
#include "trainer/trainer.h"
#include "engine/random.h"
#include "models/module.h"

namespace mmgan::trainer {

// The generator stored in a checkpoint (trainer.h), with the run's configuration in *cfg. init
// draws the initial values that the checkpoint then overwrites (the caller's stream advances as
// make_generator draws). Errors name the file.
std::shared_ptr<nn::Module> generator_from_checkpoint(const std::string& checkpoint, Generator& init, TrainConfig* cfg);

// n samples [n, C, H, W] (on the CPU) of the generator stored in a checkpoint (trainer.h), z drawn
// from seed. G runs in train mode (batch statistics, as the official code samples) unless
// use_running_stats. On `device` (Device::parse: auto, cpu, cuda[:N]); z is drawn on the CPU, so a
// seed gives the same z on every device.
Tensor sample_images(const std::string& checkpoint, int64_t n, uint64_t seed, bool use_running_stats = false,
                     const std::string& device = "auto");
// The same, written as a PNG grid (`mmgan sample`).
void sample_from_checkpoint(const std::string& checkpoint, int64_t n, uint64_t seed, const std::string& png_path,
                            bool use_running_stats = false, const std::string& device = "auto");

// Runs one iteration (D step + G step) of cfg from its seed and writes, as safetensors: the inputs
// (x_real, z_D, u, z_G, x_real_G for relativistic losses), the networks before the step (G.*, D.*,
// official key names), D after its update (D_after.*), the losses and penalty, and the gradient of
// every parameter (grad.D.*, grad.G.*); the configuration is the header's metadata ("config").
void step_dump(TrainConfig cfg, const std::string& out_path);
// One eager iteration of t, recording into st what step_dump writes.
void dump_step(Trainer& t, SafeTensors& st);

}  // namespace mmgan::trainer
