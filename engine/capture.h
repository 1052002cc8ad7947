// Capture a step once, replay it many times: on CUDA the step's kernels become one CUDA graph
// (cudaStreamBeginCapture / cudaGraphLaunch), so a replay costs one launch instead of hundreds and
// no host work; on the CPU the backend records its calls and replays them, which runs the same
// kernels on the same addresses and so proves, without a GPU, what the graph path relies on.
//
// What a captured step must do (each is enforced or tested):
//   - keep every value on the device: reading a tensor on the host (item(), to_vector()) or
//     copying host data in throws, since nothing runs until replay;
//   - read everything that changes between replays from device memory, and update it there: the
//     generator's position (Generator::bind_base), Adam's learning rate and step counts, the
//     augmented Lagrangian's multiplier; host values baked into kernel arguments are frozen;
//   - update state in place (copy_), never by rebinding a tensor to a new one: a replay writes the
//     addresses recorded at capture;
//   - take its inputs from tensors made before the capture and refilled before each replay.
// Tensors the step allocates live in a pool private to the capture (kernels/capture_pools.h);
// tensors it leaves behind (parameter gradients, outputs) are rewritten by every replay.
// Checked by tests/test_capture.cpp (CPU: replays equal eager runs bit for bit; refusals) and
// tests/test_trainer.cpp (the trainer's replayed iterations equal its eager ones).
#pragma once
#include <functional>
#include <memory>

#include "engine/backend.h"
#include "engine/device.h"

namespace mmgan {

class CapturedStep {
 public:
  // Runs body with device d capturing: body's backend calls on d are recorded, not run. If body
  // throws, the capture is abandoned and the exception passes through.
  CapturedStep(Device d, const std::function<void()>& body);
  // Queues one run of the recorded calls (asynchronous on CUDA, like any kernel).
  void replay();
  Device device() const { return device_; }

 private:
  Device device_;
  std::unique_ptr<Recording> rec_;
};

// Whether the calling thread is capturing on device d.
bool capturing(Device d);

}  // namespace mmgan
