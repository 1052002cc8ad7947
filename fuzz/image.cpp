// Fuzz target "image": one image file (any format stb_image reads) through decode_image (what
// load_image_folder runs on each file's bytes). Input: [options][file]; options bit 0: grey (else
// RGB); bit 1: centre crop to 1 + (options >> 2) % 24 pixels; bits 5-7: image size 4, 8, .., 32.
#include "data/image_folder.h"
#include "fuzz/harness.h"

namespace mmgan::fuzz {

void fuzz_image(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const uint8_t o = data[0];
  const int64_t n_colors = (o & 1) ? 1 : 3, centercrop = (o & 2) ? 1 + (o >> 2) % 24 : 0;
  const int64_t image_size = 4 * (1 + (o >> 5));
  (void)data::decode_image(std::vector<uint8_t>(data + 1, data + size), "x.png", image_size, n_colors, centercrop);
}

}  // namespace mmgan::fuzz
