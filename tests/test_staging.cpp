// Staging (engine/staging.h) against a plain copy_: every staged batch must arrive whole, in order,
// on every backend, even when the host stages faster than the device consumes (each batch is read
// by queued device work before the next lands in the same destination, and the host buffers are
// reused every `depth` batches).
#include "engine/staging.h"
#include "tests/test_util.h"

namespace mmgan {
namespace {

// Stages `n` distinct batches into one destination; after each, queued work reads the destination
// (a sum and a copy into a history tensor). Returns every batch as the device saw it.
std::vector<std::vector<double>> stage_all(Device d, DType t, int depth, int n) {
  Tensor dst = empty({3, 2, 5, 7}, t, d);
  Staging staging(dst, depth);
  std::vector<Tensor> seen;
  for (int i = 0; i < n; ++i) {
    Generator g(100 + i);
    staging.stage(test::uniform({3, 2, 5, 7}, -1, 1, g));  // float64 on the cpu, converted to t
    seen.push_back(dst.clone() * 2.0 + sum(dst));          // device work that reads dst, queued
  }
  std::vector<std::vector<double>> out;
  for (const Tensor& s : seen) out.push_back(s.to_vector());  // the host waits only here
  return out;
}

std::vector<std::vector<double>> expected(DType t, int n) {
  std::vector<std::vector<double>> out;
  for (int i = 0; i < n; ++i) {
    Generator g(100 + i);
    const Tensor x = test::uniform({3, 2, 5, 7}, -1, 1, g).to(t);
    out.push_back((x * 2.0 + sum(x)).to_vector());
  }
  return out;
}

TEST(Staging, CpuStagesEveryBatchAsACopyWould) {
  for (DType t : {DType::F32, DType::F64}) EXPECT_EQ(stage_all(Device::cpu(), t, 2, 9), expected(t, 9));
}

TEST(Staging, CudaStagesEveryBatchWholeAndInOrder) {
  MMGAN_REQUIRE_CUDA();
  // The same float arithmetic on both backends up to the sum's order: compare with a tolerance.
  for (DType t : {DType::F32, DType::F64})
    for (int depth : {1, 2, 3}) {
      const auto got = stage_all(Device::cuda(0), t, depth, 17), want = expected(t, 17);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i)
        for (size_t j = 0; j < got[i].size(); ++j)
          ASSERT_NEAR(got[i][j], want[i][j], t == DType::F32 ? 1e-5 : 1e-12)
              << "batch " << i << " element " << j << ", depth " << depth;
    }
}

TEST(Staging, RefusesAWrongShapeOrDevice) {
  Staging s(empty({2, 3}, DType::F32, Device::cpu()));
  EXPECT_NE(test::error_of([&] {
              s.stage(zeros({3, 2}, DType::F32, Device::cpu()));
            }).find("differ in shape"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              Staging(empty({4, 4}, DType::F32, Device::cpu()).t());
            }).find("contiguous"),
            std::string::npos);
}

}  // namespace
}  // namespace mmgan
