// The training loop around Trainer: the run folder (config.json, metrics.jsonl, samples/*.png,
// checkpoint.safetensors), logging, the progress bar and resuming.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trainer/config.h"

namespace mmgan::trainer {

struct RunOptions {
  std::string resume_dir;  // continue the run in this folder from its checkpoint
  // With resume: the fields (resumable_keys()) to take from `overrides` instead of the checkpoint.
  std::vector<std::string> override_keys;
  TrainConfig overrides;
};

// Trains to n_iter; returns the run folder. A NaN or Inf loss throws Diverged (trainer.h) with a
// message naming the iteration and the last good checkpoint, which is left untouched.
std::string train(TrainConfig cfg, const RunOptions& opts = {});

}  // namespace mmgan::trainer
