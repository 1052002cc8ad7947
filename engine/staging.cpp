#include "engine/staging.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/error.h"
#include "kernels/tensor_view.h"

namespace mmgan {

// The backend's staging calls for a device without a separate memory (the CPU): plain memory, a
// copy that is done when it returns, nothing to wait for.
namespace {
class DoneFence final : public Backend::Fence {
 public:
  void record() override {}
  void wait() override {}
};
}  // namespace

void* Backend::allocate_staging(std::size_t nbytes) {
  void* p = std::malloc(nbytes ? nbytes : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void Backend::deallocate_staging(void* p) noexcept { std::free(p); }
void Backend::copy_from_staging(const void* src, void* dst, std::size_t n) { copy_from_host(src, dst, n); }
std::unique_ptr<Backend::Fence> Backend::make_fence() { return std::make_unique<DoneFence>(); }

Staging::Staging(Tensor dst, int depth) : dst_(std::move(dst)) {
  MMGAN_CHECK(dst_.defined() && dst_.is_contiguous(), "Staging: the destination must be a contiguous tensor, not ",
              dst_.defined() ? dst_.str() : std::string("an undefined one"));
  MMGAN_CHECK(depth >= 1, "Staging: depth ", depth, " (at least one buffer)");
  backend_ = &backend_for(dst_.device());
  nbytes_ = std::size_t(dst_.numel()) * kernels::dtype_size(dst_.dtype());
  try {
    for (int i = 0; i < depth; ++i) {
      buffers_.push_back(nullptr);
      buffers_.back() = backend_->allocate_staging(nbytes_);
      fences_.push_back(backend_->make_fence());
    }
  } catch (...) {
    for (void* p : buffers_)
      if (p) backend_->deallocate_staging(p);
    throw;
  }
}

Staging::~Staging() {
  for (std::size_t i = 0; i < buffers_.size(); ++i) {
    // A queued copy may still read the buffer: wait for it before the buffer goes.
    try {
      fences_[i]->wait();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mmgan: staging: waiting for a copy at teardown failed: %s\n", e.what());
    }
    backend_->deallocate_staging(buffers_[i]);
  }
}

void Staging::stage(const Tensor& src) {
  MMGAN_CHECK(src.device().type == DeviceType::CPU, "Staging: the source ", src.str(), " must be on the cpu");
  MMGAN_CHECK(src.shape() == dst_.shape(), "Staging: source ", src.str(), " and destination ", dst_.str(),
              " differ in shape");
  const Tensor host = src.to(dst_.dtype()).contiguous();
  fences_[next_]->wait();  // the copy that last read this buffer
  std::memcpy(buffers_[next_], host.view().data, nbytes_);
  backend_->copy_from_staging(buffers_[next_], dst_.view().data, nbytes_);
  fences_[next_]->record();
  next_ = (next_ + 1) % buffers_.size();
}

}  // namespace mmgan
