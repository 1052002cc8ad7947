// Fuzz target "idx": a Fashion-MNIST images file and labels file (decompressed bytes) through
// fashion_mnist_from_idx (what load_fashion_mnist runs on the files). Input: [options][u32 LE n]
// [n bytes: images][rest: labels]; options bit 0 picks fit "resize" (to 1 + (options >> 1) % 48
// pixels) over "pad" (to 32).
#include <algorithm>
#include <cstring>

#include "data/fashion_mnist.h"
#include "fuzz/harness.h"

namespace mmgan::fuzz {

void fuzz_idx(const uint8_t* data, size_t size) {
  if (size < 5) return;
  const uint8_t options = data[0];
  uint32_t n = 0;
  std::memcpy(&n, data + 1, 4);
  data += 5, size -= 5;
  n = uint32_t(std::min<size_t>(n, size));
  const std::vector<uint8_t> images(data, data + n), labels(data + n, data + size);
  const bool resize = options & 1;
  const int64_t image_size = resize ? 1 + (options >> 1) % 48 : 32;
  (void)data::fashion_mnist_from_idx(images, "images", labels, "labels", image_size, resize ? "resize" : "pad");
}

}  // namespace mmgan::fuzz
