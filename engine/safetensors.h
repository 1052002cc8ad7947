// Tensor files in the safetensors format: 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then raw little-endian data.
// PyTorch users load these directly. Writes are atomic (temp file, fsync, rename), so a crash
// never leaves a half-written file under the final name. Reading validates everything and names
// the file and tensor at fault.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mmgan {

struct SafeTensors {
  std::vector<std::string> names;                 // file order
  std::map<std::string, Tensor> tensors;          // F32 -> float32, F64/I64/I32 -> float64 (CPU)
  std::map<std::string, std::string> file_dtype;  // the dtype each tensor had in the file
  std::map<std::string, std::string> metadata;

  const Tensor& at(const std::string& name) const;  // throws naming the missing key
  bool contains(const std::string& name) const { return tensors.count(name) > 0; }
  // Adds a tensor; file dtype "" keeps its own (F32/F64); "I64" stores integers (e.g. BatchNorm's
  // num_batches_tracked), which must then be integral.
  void add(const std::string& name, const Tensor& t, const std::string& file_dtype = "");
  // Adds every tensor of other (names prefixed, file dtypes kept), e.g. a module's state_dict.
  void add_all(const SafeTensors& other, const std::string& prefix = "");
};

void save_safetensors(const std::string& path, const SafeTensors& st);
SafeTensors load_safetensors(const std::string& path);
// The parser itself, on a file's bytes (`source` names it in errors); load_safetensors reads the
// file and calls this, the fuzz target calls it directly. Strict, as the format requires: integer
// sizes and offsets, offsets that tile the data buffer exactly (no holes, no overlaps), each key
// once, supported dtypes only.
SafeTensors parse_safetensors(const std::string& bytes, const std::string& source);

// v as metadata text that std::stod reads back bit for bit (%.17g): metadata values are strings.
std::string exact_text(double v);

// Writes `bytes` to `path` atomically (path.tmp.PID, fsync, rename); throws naming the path.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace mmgan
