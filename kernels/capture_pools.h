// The memory side of capturing a training step (engine/capture.h), shared by the CPU backend and
// the CUDA caching allocator. A capture records kernels that read and write fixed addresses, and
// replays them later, so:
//   - allocations made during the capture come from a pool private to that capture, and a block of
//     the pool is never handed to anyone else while the capture can still replay: released pool
//     blocks go back to their own pool;
//   - blocks made before the capture and released during it (a tensor the step reads and then
//     drops) are held, not reused or freed, for the same reason;
//   - when the capture is destroyed its pool is released: free blocks and held blocks go back to
//     the caller (to free or cache), and live ones (tensors the step left behind, such as .grad)
//     become ordinary blocks.
// Not thread-safe: the caller locks. Only the capturing thread's allocations use the pool.
// Checked by tests/test_capture.cpp (CPU) and tests/test_cuda_backend.cpp (CUDA allocator).
#pragma once
#include <cstddef>
#include <map>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mmgan::kernels {

class CapturePools {
 public:
  // Opens a pool for the calling thread's allocations; returns its id.
  int open() {
    open_ = next_++;
    owner_ = std::this_thread::get_id();
    pools_[open_];
    return open_;
  }
  void close() { open_ = -1; }
  // Whether the calling thread is capturing (its allocations go to the open pool).
  bool capturing() const { return open_ >= 0 && owner_ == std::this_thread::get_id(); }

  // A free block of the open pool of at least `size` bytes (wasting at most half), or nullptr.
  void* take(std::size_t size) {
    Pool& pl = pools_.at(open_);
    auto it = pl.free.lower_bound(size);
    if (it == pl.free.end() || it->first > 2 * size) return nullptr;
    void* p = it->second;
    pl.live.emplace(p, it->first);
    pl.free.erase(it);
    return p;
  }
  // Registers a block the caller just obtained as live in the open pool.
  void adopt(void* p, std::size_t size) {
    pools_.at(open_).live.emplace(p, size);
    pool_of_[p] = open_;
  }
  // True when the pools keep p (a pool block going back to its pool, or any block released by the
  // capturing thread, held until the pool is released); false: the caller frees or caches it.
  bool give_back(void* p, std::size_t size) {
    const auto it = pool_of_.find(p);
    if (it != pool_of_.end()) {
      Pool& pl = pools_.at(it->second);
      const auto l = pl.live.find(p);
      pl.free.emplace(l->second, p);
      pl.live.erase(l);
      return true;
    }
    if (capturing()) {
      pools_.at(open_).held.emplace_back(p, size);
      return true;
    }
    return false;
  }
  // Ends pool `id`: returns its free and held blocks (with their sizes) to the caller; its live
  // blocks become ordinary blocks of the caller.
  std::vector<std::pair<void*, std::size_t>> release(int id) {
    if (open_ == id) open_ = -1;
    const auto it = pools_.find(id);
    if (it == pools_.end()) return {};
    std::vector<std::pair<void*, std::size_t>> out = std::move(it->second.held);
    for (const auto& [size, p] : it->second.free) out.emplace_back(p, size);
    for (const auto& e : it->second.live) pool_of_.erase(e.first);
    for (const auto& [size, p] : it->second.free) pool_of_.erase(p);
    pools_.erase(it);
    return out;
  }

 private:
  struct Pool {
    std::multimap<std::size_t, void*> free;           // size -> block
    std::unordered_map<void*, std::size_t> live;      // block -> size
    std::vector<std::pair<void*, std::size_t>> held;  // blocks from before the capture
  };
  std::map<int, Pool> pools_;
  std::unordered_map<void*, int> pool_of_;
  int open_ = -1, next_ = 0;
  std::thread::id owner_;
};

}  // namespace mmgan::kernels
