// Fashion-MNIST (Xiao et al., 2017): 28x28 grey images of clothing in 10 classes, stored as idx
// files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz and t10k-... for the test split).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mmgan::data {

// Where Debian's dataset-fashion-mnist package installs the gzipped idx files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Reads <dir>/<split>-images-idx3-ubyte[.gz] and <split>-labels-idx1-ubyte[.gz], split "train"
// (60,000) or "t10k" (10,000); gzipped or plain files. Checks the magic numbers (2051 images, 2049
// labels), that each file's size matches its header and that the counts agree; errors name the
// file. The 1-colour 28x28 images are then fitted to image_size: fit "pad" zero-pads 2 pixels on
// each side to 32x32 (as transforms.Pad(2); needs image_size 32, or 28 plus an even margin), "resize"
// resizes (bilinear, as PIL).
Labeled load_fashion_mnist(const std::string& dir, bool train = true, int64_t image_size = 32,
                           const std::string& fit = "pad");

// The same from the files' decompressed bytes (the names only label errors): the parser itself,
// which the fuzz target drives. Every header size is checked with overflow-safe arithmetic.
Labeled fashion_mnist_from_idx(const std::vector<uint8_t>& images, const std::string& images_name,
                               const std::vector<uint8_t>& labels, const std::string& labels_name,
                               int64_t image_size = 32, const std::string& fit = "pad");

// Largest image a loader accepts, in pixels per image (2^28: 16384 x 16384): larger headers are
// refused before anything is allocated.
inline constexpr int64_t kMaxImagePixels = int64_t(1) << 28;

}  // namespace mmgan::data
