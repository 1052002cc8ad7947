// The collective ops inside a multi-rank run (CTest starts this under mpirun with 2 and 3 ranks):
// all_reduce's values, gradcheck and gradgradcheck of all_reduce (sum and max), all_gather and
// synchronized BatchNorm, and synchronized BatchNorm against one process's fused BatchNorm on the
// whole batch.
//
// The harness makes a multi-rank computation one function of one input that every rank holds:
// rank r works on its shard of spread(X) = all_reduce_sum(X) / N (X in value; its adjoint sums
// the ranks' gradients, as the gradient reducer does for parameters) and the outputs are
// gathered. gradcheck's finite differences, taken by every rank in lockstep, then check the
// whole job's backward, and gradgradcheck its second derivatives, through every collective.
#include "kernels/collective.h"
#ifdef MMGAN_HAS_CUDA
#include "kernels/cuda/device.h"
#endif
#include "tests/test_util.h"

namespace mmgan {
namespace {

using kernels::ReduceOp;

#define REQUIRE_RANKS()                                                                               \
  do {                                                                                                \
    if (world_size() < 2) GTEST_SKIP() << "needs several ranks: run under mpirun -np 2 (CTest does)"; \
  } while (0)

Tensor arange_like(int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = double(i);
  return from_vector(v, {n}, DType::F64);
}

Tensor replicate(const Tensor& p) { return all_reduce(p, ReduceOp::Sum) * (1.0 / world_size()); }
Tensor spread(const Tensor& X) { return shard(replicate(X)); }

void expect_checks(const char* what, const TensorFn& f, const std::vector<Tensor>& in) {
  const GradcheckResult g = gradcheck(f, in);
  EXPECT_TRUE(g.ok) << what << " on rank " << world_rank() << ": " << g.message;
  const GradcheckResult gg = gradgradcheck(f, in);
  EXPECT_TRUE(gg.ok) << what << " (second order) on rank " << world_rank() << ": " << gg.message;
}

TEST(Collective, Values) {
  REQUIRE_RANKS();
  const int n = world_size(), r = world_rank();
  const Tensor x = full({2, 3}, double(r + 1), DType::F64);
  EXPECT_EQ(all_reduce(x, ReduceOp::Sum).to_vector(), std::vector<double>(6, n * (n + 1) / 2.0));
  EXPECT_EQ(all_reduce(x, ReduceOp::Max).to_vector(), std::vector<double>(6, double(n)));
  std::vector<double> want;
  for (int q = 0; q < n; ++q)
    for (int k = 0; k < 2 * 3; ++k) want.push_back(q + 1);
  const Tensor g = all_gather(x);
  EXPECT_EQ(g.shape(), (Shape{2 * n, 3}));
  EXPECT_EQ(g.to_vector(), want);
  EXPECT_EQ(shard(g).to_vector(), x.to_vector());
  {
    LocalScope local;  // one rank alone: the identity
    EXPECT_EQ(all_reduce(x, ReduceOp::Sum).to_vector(), x.to_vector());
  }
}

// The backend call on each backend: the CPU's MPI, and on a GPU (one per rank) NCCL, which runs
// even with one rank under mpirun (docs/data-parallel.md says how to run it on a GPU machine).
TEST(Collective, BackendCallOnEveryDevice) {
  std::vector<Device> devices{Device::cpu()};
#ifdef MMGAN_HAS_CUDA
  // One GPU per rank (NCCL refuses two ranks on one device), on every rank or none: the ranks must
  // make the same calls. (One machine: the job's ranks are its local ranks.)
  if (kernels::Communicator::world().has_mpi() && process_count() <= kernels::cuda::device_count())
    devices.push_back(Device::cuda(kernels::Communicator::world().local_rank()));
#endif
  if (process_count() == 1 && !kernels::Communicator::world().has_mpi()) GTEST_SKIP() << "not started by mpirun";
  const int n = world_size(), r = world_rank();
  for (const Device d : devices)
    for (const DType t : {DType::F64, DType::F32}) {
      const Tensor x = (full({1000}, double(r + 1), DType::F64) + arange_like(1000)).to(t).to(d);
      Tensor s = clone(x), m = clone(x);
      backend_for(d).all_reduce(ReduceOp::Sum, s.view());
      backend_for(d).all_reduce(ReduceOp::Max, m.view());
      const std::vector<double> sv = s.to_vector(), mv = m.to_vector();
      for (int64_t i = 0; i < 1000; ++i) {
        ASSERT_EQ(sv[size_t(i)], n * (n + 1) / 2.0 + double(n) * double(i)) << d.str() << " element " << i;
        ASSERT_EQ(mv[size_t(i)], double(n) + double(i)) << d.str() << " element " << i;
      }
    }
}

TEST(Collective, GradcheckAllReduceSum) {
  REQUIRE_RANKS();
  Generator g(1);
  const Tensor X = test::uniform({2 * world_size(), 3}, -1, 1, g, true);
  expect_checks("all_reduce sum",
                [](const std::vector<Tensor>& in) {
                  const Tensor x = spread(in[0]);
                  return std::vector<Tensor>{all_gather(all_reduce(square(x), ReduceOp::Sum) * x)};
                },
                {X});
}

TEST(Collective, GradcheckAllReduceMax) {
  REQUIRE_RANKS();
  Generator g(2);
  const Tensor X = test::uniform({2 * world_size(), 3}, -1, 1, g, true);
  expect_checks("all_reduce max",
                [](const std::vector<Tensor>& in) {
                  const Tensor x = spread(in[0]);
                  return std::vector<Tensor>{all_gather(all_reduce(square(x), ReduceOp::Max) * x)};
                },
                {X});
}

TEST(Collective, GradcheckSynchronizedBatchNorm) {
  REQUIRE_RANKS();
  Generator g(3);
  const Tensor X = test::uniform({2 * world_size(), 2, 2, 3}, -1, 1, g, true);
  const Tensor w = test::uniform({2}, 0.5, 1.5, g, true), b = test::uniform({2}, -0.5, 0.5, g, true);
  expect_checks("synchronized batch_norm2d_act",
                [](const std::vector<Tensor>& in) {
                  const Tensor y =
                      batch_norm2d_act(spread(in[0]), replicate(in[1]), replicate(in[2]), {}, {}, true, 0.2);
                  return std::vector<Tensor>{all_gather(y)};
                },
                {X, w, b});
}

// The gradient penalty's path: the per-sample gradient norm of a BatchNorm critic, whose
// derivative in BatchNorm's weight and bias is a double backward through the synchronized
// statistics (gradgradcheck: the third order).
TEST(Collective, GradcheckPenaltyThroughSynchronizedBatchNorm) {
  REQUIRE_RANKS();
  Generator g(4);
  const Tensor X = test::uniform({2 * world_size(), 2, 2, 2}, -1, 1, g);
  const Tensor w = test::uniform({2}, 0.5, 1.5, g, true), b = test::uniform({2}, -0.5, 0.5, g, true);
  expect_checks(
      "penalty through synchronized batch_norm2d",
      [](const std::vector<Tensor>& in) {
        Tensor x = shard(in[0]).detach();
        x.requires_grad_(true);
        const Tensor c = sum(softplus(batch_norm2d(x, replicate(in[1]), replicate(in[2]), {}, {}, true)), {1, 2, 3});
        GradOptions go;
        go.create_graph = true;
        const Tensor gx = grad({sum(c)}, {x}, {}, go)[0];
        return std::vector<Tensor>{all_gather(l2_norm_per_sample(gx))};
      },
      {X, w, b});
}

TEST(Collective, SynchronizedBatchNormEqualsOneProcess) {
  REQUIRE_RANKS();
  Generator g(5);
  const Tensor X = test::uniform({3 * world_size(), 4, 3, 3}, -2, 3, g);
  const Tensor w = test::uniform({4}, 0.5, 1.5, g), b = test::uniform({4}, -0.5, 0.5, g);
  Tensor rm = zeros({4}, DType::F64), rv = ones({4}, DType::F64);
  Tensor rm1 = zeros({4}, DType::F64), rv1 = ones({4}, DType::F64);
  const Tensor y = all_gather(batch_norm2d_act(shard(X), w, b, rm, rv, true, 0.2));
  Tensor y1;
  {
    LocalScope one;
    y1 = batch_norm2d_act(X, w, b, rm1, rv1, true, 0.2);
  }
  EXPECT_LT(test::rel_error(y, y1), 1e-13);
  EXPECT_LT(test::rel_error(rm, rm1), 1e-13);
  EXPECT_LT(test::rel_error(rv, rv1), 1e-13);
}

}  // namespace
}  // namespace mmgan
