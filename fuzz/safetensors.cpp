// Fuzz target "safetensors": a whole file, header and tensors, through parse_safetensors (what
// load_safetensors runs on a file's bytes).
#include "engine/safetensors.h"
#include "fuzz/harness.h"

namespace mmgan::fuzz {

void fuzz_safetensors(const uint8_t* data, size_t size) {
  const SafeTensors st = parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
  // What a loaded file promises: every named tensor exists and reads back.
  for (const std::string& n : st.names) (void)st.at(n).to_vector();
}

}  // namespace mmgan::fuzz
