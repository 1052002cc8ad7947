// Fuzz target "checkpoint": a checkpoint file through Trainer::load_checkpoint (networks, Adam
// state, z_test and the metadata: iteration, RNG state, data position, learning rates,
// multiplier), then saved again, as a resumed run does at its next checkpoint. The trainer, with
// tiny networks on 8 constant images, is made once and reused across inputs.
#include "fuzz/harness.h"
#include "tests/trainer_util.h"
#include "trainer/trainer.h"

namespace mmgan::fuzz {

void fuzz_checkpoint(const uint8_t* data, size_t size) {
  static trainer::Trainer& t = *[] {
    auto ds = std::make_shared<data::Dataset>();
    ds->name = "fuzz";
    ds->source = "fuzz";
    ds->sample_shape = {1, 16, 16};
    ds->count = 8;
    ds->bytes.assign(8 * 256, 128);
    return new trainer::Trainer(test::tiny_config(), ds);  // never destroyed: inputs run until exit
  }();
  t.load_checkpoint(scratch_file("checkpoint.safetensors", data, size));
  t.save_checkpoint(scratch_path("resaved.safetensors"));
}

}  // namespace mmgan::fuzz
