// Prefetcher: one worker thread, a queue of at most `depth` finished batches, and an epoch number
// so that seek() can discard work already under way without waiting for it.
#include "engine/error.h"
#include "data/sampler.h"

namespace mmgan::data {

Prefetcher::Prefetcher(const Dataset& ds, int64_t batch_size, uint64_t seed, int depth, int part, int parts)
    : ds_(ds), sampler_(ds.count, batch_size, seed), depth_(size_t(depth)), part_(part), parts_(parts) {
  MMGAN_CHECK(depth >= 1, "Prefetcher: depth must be at least 1, got ", depth);
  MMGAN_CHECK(parts >= 1 && part >= 0 && part < parts && batch_size % parts == 0, "Prefetcher: part ", part, " of ",
              parts, " of a batch of ", batch_size);
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
      std::vector<int64_t> idx = sampler_.indices(k);
      const int64_t share = int64_t(idx.size()) / parts_;
      if (parts_ > 1) idx = std::vector<int64_t>(idx.begin() + share * part_, idx.begin() + share * (part_ + 1));
      item.batch = ds_.gather(idx);
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
