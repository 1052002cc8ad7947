// Bilinear resizing of uint8 images, bit-identical to Pillow's Image.resize(size, BILINEAR), which
// is what torchvision's Resize runs on the PIL images of the reference data pipelines.
#pragma once
#include <cstdint>
#include <vector>

namespace mmgan::data {

// src is channel-planar [c, h, w]; dst receives [c, out_h, out_w]. Each channel is resized on its
// own, as Pillow does per band. Sizes must be positive.
void resize_bilinear(const uint8_t* src, int64_t c, int64_t h, int64_t w, uint8_t* dst, int64_t out_h, int64_t out_w);
std::vector<uint8_t> resize_bilinear(const std::vector<uint8_t>& src, int64_t c, int64_t h, int64_t w, int64_t out_h,
                                     int64_t out_w);

}  // namespace mmgan::data
