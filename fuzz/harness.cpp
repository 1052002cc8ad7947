// The target list, the verdict on one input, and scratch files (harness.h).
#include "fuzz/harness.h"

#include <cxxabi.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <typeinfo>

#include "engine/error.h"

namespace mmgan::fuzz {

namespace fs = std::filesystem;

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {{"safetensors", fuzz_safetensors}, {"idx", fuzz_idx},
                                          {"cifar10", fuzz_cifar10},         {"image", fuzz_image},
                                          {"config", fuzz_config},           {"checkpoint", fuzz_checkpoint}};
  return all;
}

const Target& target(const std::string& name) {
  std::string known;
  for (const Target& t : targets()) {
    if (name == t.name) return t;
    known += std::string(known.empty() ? "" : ", ") + t.name;
  }
  MMGAN_FAIL("no fuzz target '", name, "' (", known, ")");
}

namespace {
std::string type_name(const std::type_info& ti) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> d(abi::__cxa_demangle(ti.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && d ? d.get() : ti.name();
}
}  // namespace

Outcome run(const Target& t, const uint8_t* data, size_t size) {
  Outcome o;
  try {
    t.run(data, size);
    o.accepted = true;
  } catch (const Error&) {
    // refused with a message: what every bad input should get
  } catch (const std::exception& e) {
    o.finding = std::string(t.name) + ": " + type_name(typeid(e)) + " escaped: " + e.what();
  } catch (...) {
    o.finding = std::string(t.name) + ": an exception of unknown type escaped";
  }
  return o;
}

namespace {
// Created on first use, removed (with everything in it) when the process exits normally.
class Scratch {
 public:
  Scratch() {
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                              ? fs::path("/dev/shm")
                              : fs::temp_directory_path();
    dir_ = base / ("mmgan-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

const fs::path& scratch() {
  static const Scratch s;
  return s.dir();
}
}  // namespace

std::string scratch_path(const std::string& name) { return (scratch() / name).string(); }

std::string scratch_file(const std::string& name, const uint8_t* data, size_t size) {
  const fs::path p = scratch() / name;
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  f.close();
  // Not an mmgan::Error: a harness that cannot write its input must not pass as a refused input.
  if (!f.good()) throw std::runtime_error("fuzz: cannot write scratch file " + p.string());
  return p.string();
}

}  // namespace mmgan::fuzz
