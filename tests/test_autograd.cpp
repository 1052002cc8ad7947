// Autograd semantics: accumulation, retain/free, grad() vs backward(), pruning to the needed
// nodes, higher orders, no-grad, detach, graph dumps, and that saving an output never creates a
// reference cycle.
#include "tests/test_util.h"

namespace mmgan {
namespace {

using test::uniform;

TEST(Autograd, BackwardAccumulatesIntoLeafGrad) {
  Generator g(1);
  Tensor x = uniform({5}, -1, 1, g, true);
  Tensor y = sum(x * x);
  y.backward({}, /*retain_graph=*/true);
  EXPECT_LT(test::rel_error(x.grad(), 2.0 * x.detach()), 1e-15);
  y.backward();
  EXPECT_LT(test::rel_error(x.grad(), 4.0 * x.detach()), 1e-15);
  EXPECT_FALSE(x.grad().requires_grad());
}

TEST(Autograd, SecondBackwardThroughFreedGraphFails) {
  Generator g(1);
  Tensor x = uniform({3}, -1, 1, g, true);
  Tensor y = sum(exp(x));
  y.backward();
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
}

TEST(Autograd, GradLeavesDotGradAlone) {
  Generator g(2);
  Tensor x = uniform({4}, -1, 1, g, true);
  Tensor w = uniform({4}, -1, 1, g, true);
  auto gs = grad({sum(x * w)}, {x});
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
  EXPECT_LT(test::rel_error(gs[0], w.detach()), 1e-15);
}

TEST(Autograd, GradWithRespectToIntermediate) {
  Generator g(3);
  Tensor x = uniform({4}, -1, 1, g, true);
  Tensor h = tanh(x);
  Tensor y = sum(h * h * h);
  auto gs = grad({y}, {h, x});
  EXPECT_LT(test::rel_error(gs[0], 3.0 * square(h.detach())), 1e-14);
  EXPECT_LT(test::rel_error(gs[1], gs[0] * (1.0 - square(h.detach()))), 1e-14);
}

// d^k/dx^k of x^5 by repeated create_graph grads, against the calculus: 5x^4, 20x^3, 60x^2, 120x, 120.
TEST(Autograd, DerivativesToFifthOrder) {
  Generator g(4);
  Tensor x = uniform({6}, -1.5, 1.5, g, true);
  Tensor y = x * x * x * x * x;
  const Tensor xd = x.detach();
  const std::vector<Tensor> expected = {5.0 * pow(xd, 4), 20.0 * pow(xd, 3), 60.0 * square(xd), 120.0 * xd,
                                        full({6}, 120.0, DType::F64)};
  GradOptions opt;
  opt.create_graph = true;
  for (int k = 0; k < 5; ++k) {
    y = grad({sum(y)}, {x}, {}, opt)[0];
    EXPECT_LT(test::rel_error(y, expected[size_t(k)]), 1e-13) << "order " << k + 1;
  }
}

// grad() runs only nodes on a path to the inputs: the other branch here was already freed,
// so running any of its nodes would throw.
TEST(Autograd, GradRunsOnlyTheNeededBranches) {
  Generator g(5);
  Tensor a = uniform({3}, -1, 1, g, true);
  Tensor b = uniform({3}, -1, 1, g, true);
  Tensor branch_b = sum(exp(b));
  Tensor y = branch_b + sum(a * a);
  grad({branch_b}, {b});  // frees branch b's saved tensors
  std::vector<Tensor> ga;
  ASSERT_NO_THROW(ga = grad({y}, {a}));
  EXPECT_LT(test::rel_error(ga[0], 2.0 * a.detach()), 1e-15);
  EXPECT_THROW(grad({y}, {b}), Error);
}

TEST(Autograd, NoGradAndDetachRecordNothing) {
  Generator g(6);
  Tensor x = uniform({3}, -1, 1, g, true);
  {
    NoGradGuard ng;
    Tensor y = exp(x) * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  Tensor d = exp(x).detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(exp(x).requires_grad());
  EXPECT_THROW(grad({sum(d * 2.0)}, {x}), Error);  // no path from x
}

TEST(Autograd, ErrorsNameTheProblem) {
  Generator g(7);
  Tensor x = uniform({3}, -1, 1, g, true);
  Tensor c = uniform({3}, -1, 1, g);
  EXPECT_NE(test::error_of([&] { sum(c).backward(); }).find("does not require grad"), std::string::npos);
  EXPECT_NE(test::error_of([&] { (x * 2.0).backward(); }).find("[3]"), std::string::npos);
  EXPECT_NE(test::error_of([&] { grad({x * 2.0}, {x}, {ones({4}, DType::F64)}); }).find("shape [4]"),
            std::string::npos);
  Tensor unused = uniform({2}, -1, 1, g, true);
  EXPECT_NE(test::error_of([&] { grad({sum(x)}, {unused}); }).find("not used"), std::string::npos);
  GradOptions allow;
  allow.allow_unused = true;
  EXPECT_FALSE(grad({sum(x)}, {unused}, {}, allow)[0].defined());
  EXPECT_NE(test::error_of([&] { add(x, ones({4}, DType::F64)); }).find("cannot be broadcast"), std::string::npos);
  EXPECT_NE(test::error_of([&] { add(x, ones({3}, DType::F32)); }).find("dtype mismatch"), std::string::npos);
}

// Every op that saves its own output, dropped after use: nodes and tensors return to baseline.
TEST(Autograd, SavedOutputsDoNotKeepTheirNodeAlive) {
  Generator g(8);
  Tensor x = uniform({4, 3}, 0.5, 1.5, g, true);
  (void)exp(x);  // creates x's own gradient accumulator, which lives as long as x
  const int64_t nodes0 = Node::live_count(), tensors0 = TensorImpl::live_count();
  {
    std::vector<Tensor> ys = {exp(x),
                              sqrt(x),
                              tanh(x),
                              sigmoid(x),
                              reciprocal(x),
                              amax(x, {1}),
                              l2_norm_per_sample(x),
                              linf_norm_per_sample(x),
                              smooth_max_per_sample(x, 2.0),
                              logsumexp_per_sample(x)};
    for (const Tensor& y : ys) EXPECT_NE(y.grad_fn(), nullptr);
    EXPECT_GT(Node::live_count(), nodes0);
  }
  EXPECT_EQ(Node::live_count(), nodes0);
  EXPECT_EQ(TensorImpl::live_count(), tensors0);
}

// A saved output unpacked in a create_graph backward carries its history: the second derivative
// of exp (which reads exp's own output in its backward) must be exp again.
TEST(Autograd, SavedOutputsKeepHistoryForHigherOrders) {
  Generator g(9);
  Tensor x = uniform({5}, -1, 1, g, true);
  GradOptions opt;
  opt.create_graph = true;
  Tensor d1 = grad({sum(exp(x))}, {x}, {}, opt)[0];
  Tensor d2 = grad({sum(d1)}, {x}, {}, opt)[0];
  EXPECT_LT(test::rel_error(d2, exp(x.detach())), 1e-15);
}

TEST(Autograd, GraphDumpShowsWhatDoubleBackpropBuilds) {
  Generator g(10);
  Tensor w = uniform({1, 3}, -1, 1, g, true).set_name("w");
  Tensor x = uniform({4, 3}, -1, 1, g, true);
  Tensor f = tanh(linear(x, w));
  GradOptions opt;
  opt.create_graph = true;
  Tensor gx = grad({sum(f)}, {x}, {}, opt)[0];
  Tensor penalty = mean(relu(l2_norm_per_sample(gx) - 1.0));
  const GraphStats s = graph_stats({penalty});
  EXPECT_GT(s.by_order[0], 0);  // the forward nodes the backward formulas refer to
  EXPECT_GT(s.by_order[1], 0);  // nodes recorded by the create_graph backward
  const std::string text = graph_to_text({penalty});
  EXPECT_NE(text.find("[backward order 1]"), std::string::npos) << text;
  EXPECT_NE(text.find("AccumulateGrad (w)"), std::string::npos) << text;
  EXPECT_NE(text.find("l2_norm"), std::string::npos) << text;
  const std::string dot = graph_to_dot({penalty});
  EXPECT_EQ(dot.rfind("digraph mmgan {", 0), 0u);
  EXPECT_NE(dot.find("->"), std::string::npos);
  // A third-order pass records order-2 nodes.
  Tensor gw = grad({penalty}, {w}, {}, opt)[0];
  Tensor gww = grad({sum(square(gw))}, {w}, {}, opt)[0];
  EXPECT_GT(graph_stats({gww}).by_order[2], 0);
}

TEST(Autograd, CreateGraphBackwardGivesDifferentiableGrad) {
  Generator g(11);
  Tensor x = uniform({3}, -1, 1, g, true);
  sum(pow(x, 3)).backward({}, false, /*create_graph=*/true);
  Tensor gx = x.grad();
  ASSERT_TRUE(gx.requires_grad());
  x.zero_grad();  // breaks the parameter <-> gradient cycle, as the docs of backward say
  Tensor h = grad({sum(gx)}, {x})[0];
  EXPECT_LT(test::rel_error(h, 6.0 * x.detach()), 1e-15);
}

}  // namespace
}  // namespace mmgan
