// CIFAR-10, binary version (cifar-10-binary.tar.gz from the CIFAR page): data_batch_1.bin ..
// data_batch_5.bin, each a sequence of 3073-byte records (1 label byte, then 1024 red, 1024 green
// and 1024 blue bytes, each plane row-major 32x32).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mmgan::data {

// `path` is a directory holding data_batch_1.bin .. data_batch_5.bin (all that exist, at least one;
// the training set, test_batch.bin is not read) or its cifar-10-batches-bin subfolder, or a single
// .bin file. A file whose size is not a positive multiple of 3073 is an error naming the file and
// its size. image_size != 32 resizes each image (bilinear, as PIL).
Dataset load_cifar10(const std::string& path, int64_t image_size = 32);
Labeled load_cifar10_labeled(const std::string& path, int64_t image_size = 32);

// Appends the records of one batch file's bytes (`name` labels errors) to out's labels and raw
// [n, 3, 32, 32] pixels: the parser itself, which the fuzz target drives. Labels must be 0-9.
void append_cifar10_batch(const std::vector<uint8_t>& bytes, const std::string& name, std::vector<uint8_t>& labels,
                          std::vector<uint8_t>& pixels);

}  // namespace mmgan::data
