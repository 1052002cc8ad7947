// Internal: which backward order the ops recorded now belong to (shown by graph dumps).
#pragma once

namespace mmgan {

class RecordOrderGuard {
 public:
  explicit RecordOrderGuard(int order);
  ~RecordOrderGuard();
  RecordOrderGuard(const RecordOrderGuard&) = delete;
  RecordOrderGuard& operator=(const RecordOrderGuard&) = delete;

 private:
  int prev_;
};

}  // namespace mmgan
