// The flags of `mmgan train` and `mmgan step-dump`: the official code's names where they mean the
// same thing (--loss_D, --penalty, --penalty-type, --Diters, --l1_margin, --spectral, ...) plus
// readable aliases (--loss hinge, --gp-norm linf, --lambda 20). Boolean flags accept the official
// "--flag True" form as well as "--flag" and "--flag=false".
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "trainer/config.h"
#include "trainer/run.h"

namespace mmgan::tools {

// What --device accepts (Device::parse), in every command's help.
inline constexpr const char* kDeviceHelp =
    "auto (the first CUDA device when this build has CUDA and one is present, else the cpu), cpu or cuda[:N]";

struct TrainFlags {
  trainer::TrainConfig cfg;
  std::string loss = "3", arch = "0", gp_norm, gp_form, reduction = "mean", gp_where;
  bool l1_margin = false, linf_margin = false, l1_margin_smoothmax = false, l1_margin_logsumexp = false;
  bool real_only = false, fake_only = false, cifar10 = false;
  double lr = -1;
  const CLI::App* app = nullptr;  // the command these flags were added to: which flags were given
  bool given(const std::string& flag) const;
};

void add_train_flags(CLI::App* cmd, TrainFlags& f);
// Only the data flags (--dataset, --input_folder, --image_size, ...), for commands that read data.
void add_data_flags(CLI::App* cmd, TrainFlags& f);
// Applies aliases and the official margin flags to f.cfg; throws naming conflicting flags.
trainer::TrainConfig finish_train_flags(TrainFlags& f);
// `mmgan train --resume DIR`: the checkpoint's configuration is the authority; only the resumable
// flags (trainer::resumable_keys: --n_iter, the cadences, --device, --graph) may be given with it,
// and they are applied. Any other flag is an error naming it; so is --resume_n_iter without --resume.
trainer::RunOptions resume_options(const TrainFlags& f, const std::string& resume_dir, bool resume_given,
                                   int64_t resume_n_iter, bool resume_n_iter_given);
// Rewrites "--flag True" into "--flag=True" for the boolean flags (the official code's form).
std::vector<std::string> normalise_bool_args(int argc, char** argv);

}  // namespace mmgan::tools
