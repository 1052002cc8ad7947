// Fuzz target "config": config.json text through config_from_json, resolve and net, as
// `mmgan train --resume` reads it. A configuration that resolves is written into every run folder
// and checkpoint, so it must read back unchanged: a failed round trip is a finding too.
#include <stdexcept>

#include "engine/error.h"
#include "fuzz/harness.h"
#include "trainer/config.h"

namespace mmgan::fuzz {

void fuzz_config(const uint8_t* data, size_t size) {
  trainer::TrainConfig c =
      trainer::config_from_json(std::string(reinterpret_cast<const char*>(data), size), "config.json");
  c.resolve();
  (void)c.net();
  const std::string once = trainer::to_json(c);
  std::string twice;
  try {
    trainer::TrainConfig d = trainer::config_from_json(once, "config.json (written back)");
    d.resolve();
    twice = trainer::to_json(d);
  } catch (const Error& e) {
    throw std::logic_error(std::string("a resolved configuration does not read back: ") + e.what() + "\n" + once);
  }
  if (twice != once) throw std::logic_error("a resolved configuration reads back changed:\n" + once + "\n" + twice);
}

}  // namespace mmgan::fuzz
