// Host-to-device staging of the real batches without a host synchronisation per iteration: each
// destination tensor gets `depth` page-locked host buffers (Backend::allocate_staging); stage()
// converts a CPU batch into the next buffer, queues its copy on the device's stream (ordered with
// the compute calls, so it never overtakes the iteration that still reads the destination) and
// returns at once. Only before a buffer is written again does the host wait, for the copy that
// last read it: with two buffers, the one queued two iterations ago. On the CPU the same path runs
// on plain memory, with copies that are done when they return (the Backend's defaults).
// Checked against copy_ on every backend by tests/test_staging.cpp.
#pragma once
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "engine/tensor.h"

namespace mmgan {

class Staging {
 public:
  // dst: the (contiguous) tensor the batches land in, e.g. a captured step's input.
  explicit Staging(Tensor dst, int depth = 2);
  ~Staging();
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  // src: a CPU tensor of dst's shape, any dtype (converted on the host).
  void stage(const Tensor& src);
  const Tensor& destination() const { return dst_; }

 private:
  Tensor dst_;
  Backend* backend_ = nullptr;
  std::size_t nbytes_ = 0;
  std::vector<void*> buffers_;
  std::vector<std::unique_ptr<Backend::Fence>> fences_;
  std::size_t next_ = 0;
};

}  // namespace mmgan
