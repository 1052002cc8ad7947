// Fuzz target "cifar10": a CIFAR-10 binary batch file through append_cifar10_batch (what
// load_cifar10 runs on each file's bytes; its records are 32x32, so resizing them is not input-driven).
#include "data/cifar10.h"
#include "fuzz/harness.h"

namespace mmgan::fuzz {

void fuzz_cifar10(const uint8_t* data, size_t size) {
  std::vector<uint8_t> labels, pixels;
  data::append_cifar10_batch(std::vector<uint8_t>(data, data + size), "data_batch_1.bin", labels, pixels);
}

}  // namespace mmgan::fuzz
