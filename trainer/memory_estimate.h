// The memory a configuration needs, estimated from the networks' layer plans (nn::net_size) before
// anything is allocated, and checked against what the machine has: an impossible configuration is
// refused up front with the estimate and the flags behind its largest part ("--z_size 1000000000:
// the generator alone needs 2.1 TB"), instead of an allocation failure half-way or the OOM killer.
// The estimate counts what must exist (weights, gradients, Adam moments, one batch's layer outputs
// for each network pass, the data set, the sample grid), so it is a lower bound: a configuration it
// refuses cannot run; one it accepts may still need somewhat more (the recorded double backward).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trainer/config.h"

namespace mmgan::trainer {

struct MemoryPart {
  std::string what;   // "the generator (weights, gradients, Adam moments)"
  std::string flags;  // the flags it grows with
  double bytes;
};

struct MemoryEstimate {
  std::vector<MemoryPart> parts;
  double total() const;
  const MemoryPart& largest() const;
};

MemoryEstimate estimate_memory(const TrainConfig& c);
// Bytes this machine can give a new allocation (MemAvailable; /proc/meminfo), or -1 if unknown.
double available_memory();
// Throws naming the largest part and its flags when the estimate exceeds `available` bytes
// (available_memory() when negative).
void check_memory(const MemoryEstimate& e, double available = -1);
// "2.1 TB", "340 MB".
std::string human_bytes(double bytes);

}  // namespace mmgan::trainer
