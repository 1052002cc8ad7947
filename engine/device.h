// Where a tensor lives. CPU is the reference backend; CUDA tensors use the same handle.
#pragma once
#include <string>

namespace mmgan {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return type == DeviceType::CPU ? "cpu" : "cuda:" + std::to_string(index); }
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  // "cpu", "cuda", "cuda:1", or "auto": the first CUDA device when the build has CUDA and one is
  // present, else the cpu. Throws naming the string otherwise.
  static Device parse(const std::string& s);
};

}  // namespace mmgan
