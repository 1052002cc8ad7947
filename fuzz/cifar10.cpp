// Fuzz target "cifar10": a CIFAR-10 binary batch through load_cifar10_labeled. Input: [options]
// [the .bin file]; options 0 keeps 32x32, any other value resizes to 1 + options % 48 pixels.
#include "data/cifar10.h"
#include "harness.h"

namespace mmgan::fuzz {

void fuzz_cifar10(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const int64_t image_size = data[0] == 0 ? 32 : 1 + data[0] % 48;
  (void)data::load_cifar10_labeled(scratch_file("data_batch_1.bin", data + 1, size - 1), image_size);
}

}  // namespace mmgan::fuzz
