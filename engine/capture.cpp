#include "engine/capture.h"

namespace mmgan {

CapturedStep::CapturedStep(Device d, const std::function<void()>& body) : device_(d) {
  Backend& b = backend_for(d);
  b.begin_capture();
  try {
    body();
  } catch (...) {
    b.abort_capture();
    throw;
  }
  rec_ = b.end_capture();
}

void CapturedStep::replay() { rec_->replay(); }

bool capturing(Device d) { return backend_for(d).capturing(); }

}  // namespace mmgan
