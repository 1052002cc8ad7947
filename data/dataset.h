// The in-memory data set every loader returns, and the conversion of its samples to the float
// tensors the networks see.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mmgan::data {

// torchvision's ToTensor + Normalize(0.5, 0.5) for one byte, in float32 as PyTorch computes it:
// ToTensor divides by 255, Normalize subtracts 0.5 and divides by 0.5. 0 -> -1, 255 -> 1.
inline float byte_to_float(uint8_t b) { return (float(b) / 255.0f - 0.5f) / 0.5f; }

// An in-memory data set. Images are kept as bytes (uint8, [n, c, h, w], what PIL would hold after
// the crop and resize) and converted per batch, so a data set costs a quarter of its float size.
// 2-d toy sets are float values already in [-1, 1].
struct Dataset {
  std::string name;    // "cifar10", "fashion-mnist", "folder", "toy-ring8", ...
  std::string source;  // path(s) it came from, for messages and the run config
  Shape sample_shape;  // {c, h, w} or {2}
  int64_t count = 0;
  std::vector<uint8_t> bytes;  // images
  std::vector<float> values;   // toy sets
  int64_t skipped = 0;         // unreadable images skipped (image folders)

  int64_t sample_numel() const { return shape_numel(sample_shape); }
  // Samples idx[0..k) -> a float32 CPU tensor [k, sample_shape...] in [-1, 1]. Throws, naming the
  // data set, on an index out of range or storage that does not hold `count` samples.
  Tensor gather(const std::vector<int64_t>& idx) const;
};

// Images with their class labels (one byte per sample), for loaders whose files carry labels.
struct Labeled {
  Dataset images;
  std::vector<uint8_t> labels;
};

}  // namespace mmgan::data
