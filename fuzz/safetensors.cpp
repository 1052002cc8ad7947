// Fuzz target "safetensors": the whole file, header and tensors, through load_safetensors.
#include "engine/safetensors.h"
#include "harness.h"

namespace mmgan::fuzz {

void fuzz_safetensors(const uint8_t* data, size_t size) {
  const SafeTensors st = load_safetensors(scratch_file("in.safetensors", data, size));
  // What a loaded file promises: every named tensor exists and reads back.
  for (const std::string& n : st.names) (void)st.at(n).to_vector();
}

}  // namespace mmgan::fuzz
