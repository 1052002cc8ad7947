// Prefetcher: one worker thread, a queue of at most `depth` finished batches, and an epoch number
// so that seek() can discard work already under way without waiting for it.
#include "../engine/error.h"
#include "sampler.h"

namespace mmgan::data {

Prefetcher::Prefetcher(const Dataset& ds, int64_t batch_size, uint64_t seed, int depth)
    : ds_(ds), sampler_(ds.count, batch_size, seed), depth_(size_t(depth)) {
  MMGAN_CHECK(depth >= 1, "Prefetcher: depth must be at least 1, got ", depth);
  worker_ = std::thread([this] { work(); });
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();  // waits at most for the one gather in progress
}

void Prefetcher::work() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || ready_.size() < depth_; });
    if (stop_) return;
    const uint64_t k = produce_++, epoch = epoch_;
    lk.unlock();
    Item item{k, {}, nullptr};
    try {
      item.batch = ds_.gather(sampler_.indices(k));
    } catch (...) {
      item.error = std::current_exception();
    }
    lk.lock();
    if (epoch == epoch_) {
      ready_.push_back(std::move(item));
      cv_.notify_all();
    }
  }
}

void Prefetcher::restart_locked(uint64_t k) {
  ready_.clear();
  next_ = produce_ = k;
  ++epoch_;
  cv_.notify_all();
}

Tensor Prefetcher::next() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !ready_.empty(); });
  Item item = std::move(ready_.front());
  ready_.pop_front();
  MMGAN_CHECK(item.k == next_, "Prefetcher: got batch ", item.k, " while expecting ", next_, " (internal error)");
  if (item.error) {
    restart_locked(next_);  // the failed batch is not consumed: a later next() prepares it again
    std::rethrow_exception(item.error);
  }
  ++next_;
  cv_.notify_all();
  return item.batch;
}

uint64_t Prefetcher::position() const {
  std::lock_guard lk(mu_);
  return next_;
}

void Prefetcher::seek(uint64_t k) {
  std::lock_guard lk(mu_);
  restart_locked(k);
}

}  // namespace mmgan::data
