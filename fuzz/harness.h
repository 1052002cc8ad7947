// Fuzz targets: one per parser of outside data, each a function from bytes to a call of the
// parser's real entry point. libFuzzer drives them in the fuzz build (-DMMGAN_FUZZ=ON, clang, ASan
// and UBSan; fuzz/libfuzzer_main.cpp), and every build replays the committed seed corpus and every
// input that once was a finding through them (tests/test_fuzz_replay.cpp).
//
// The verdict: an input is fine when the parser accepts it or refuses it with mmgan's own error
// (engine/error.h, a message naming the file). Anything else is a finding: a crash or a sanitizer
// report, std::bad_alloc from a size that was not checked, or any other exception type (a check
// that is missing, e.g. std::invalid_argument from std::stoll).
//
// Inputs (fuzz/corpus/<target>/ holds examples, written by fuzz/make_corpus.py); each target
// calls the parser the loader runs on a file's bytes:
//   safetensors  a .safetensors file: parse_safetensors
//   idx          [options byte][u32 LE n][n bytes: images idx3 file][rest: labels idx1 file]:
//                fashion_mnist_from_idx, fit "resize" to 1..48 pixels or "pad" to 32
//   cifar10      a CIFAR-10 binary batch: append_cifar10_batch
//   image        [options byte][an image file (PNG, JPEG, BMP, GIF, ...)]: decode_image, grey or
//                RGB, centre-cropped or not, resized to 4..32 pixels
//   config       config.json text: config_from_json, resolve, net; a configuration that resolves
//                must survive to_json -> config_from_json unchanged
//   checkpoint   a checkpoint.safetensors file: Trainer::load_checkpoint of a trainer with tiny
//                networks (tests/trainer_util.h: tiny_config()), then saving it again
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "trainer/config.h"

namespace mmgan::fuzz {

struct Target {
  const char* name;  // also the folder under fuzz/corpus and fuzz/regressions
  void (*run)(const uint8_t* data, size_t size);
};

// Every target, in a fixed order.
const std::vector<Target>& targets();
// The target called `name`; throws naming the known ones.
const Target& target(const std::string& name);

// What one input did: accepted (no exception), refused (mmgan::Error), or a finding, a line naming
// what escaped (its type and message); crashes and sanitizer reports end the process instead.
struct Outcome {
  bool accepted = false;
  std::string finding;  // empty: fine
};
Outcome run(const Target& t, const uint8_t* data, size_t size);

// Writes bytes to `name` in this process's scratch folder (tmpfs when there is one, removed at
// exit) and returns its path: for entry points that read files (Trainer::load_checkpoint).
std::string scratch_file(const std::string& name, const uint8_t* data, size_t size);
// The path `name` would have in the scratch folder (for files a parser writes).
std::string scratch_path(const std::string& name);

// The targets (fuzz/<name>.cpp).
void fuzz_safetensors(const uint8_t* data, size_t size);
void fuzz_idx(const uint8_t* data, size_t size);
void fuzz_cifar10(const uint8_t* data, size_t size);
void fuzz_image(const uint8_t* data, size_t size);
void fuzz_config(const uint8_t* data, size_t size);
void fuzz_checkpoint(const uint8_t* data, size_t size);

}  // namespace mmgan::fuzz
