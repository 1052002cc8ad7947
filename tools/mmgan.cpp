// The mmgan command line. Subcommands that exist today:
//   mmgan graph   print the graph a gradient-penalty step records (text or Graphviz DOT)
//   mmgan devices list the backends this build has and the devices they see
//   mmgan train   (the trainer lands with the losses/trainer issue; says so and exits 2)
#include <CLI/CLI.hpp>
#include <iostream>

#include "engine/mmgan.h"

#ifdef MMGAN_HAS_CUDA
#include "kernels/cuda/device.h"
#endif

namespace {

using namespace mmgan;

// A two-layer critic on 2-d points and its L-inf hinge gradient penalty at interpolates: the
// smallest graph that shows every stage of double backprop.
int graph_command(const std::string& format, const std::string& norm, bool outer) {
  Generator g(0);
  Tensor w1 = (randn({8, 2}, g, DType::F64) * 0.5).detach().requires_grad_(true).set_name("W1");
  Tensor b1 = zeros({8}, DType::F64).requires_grad_(true).set_name("b1");
  Tensor w2 = (randn({1, 8}, g, DType::F64) * 0.5).detach().requires_grad_(true).set_name("W2");
  Tensor xr = randn({4, 2}, g, DType::F64), xf = randn({4, 2}, g, DType::F64), u = rand({4, 1}, g, DType::F64);
  Tensor xhat = (u * xr + (1.0 - u) * xf).detach().requires_grad_(true).set_name("xhat");
  Tensor c = linear(leaky_relu(linear(xhat, w1, b1), 0.2), w2);
  GradOptions opts;
  opts.create_graph = true;
  Tensor gx = grad({sum(c)}, {xhat}, {}, opts)[0];
  const kernels::RowOp op = norm == "l1" ? kernels::RowOp::L1 : norm == "l2" ? kernels::RowOp::L2 : kernels::RowOp::LInf;
  Tensor penalty = 20.0 * mean(relu(reduce_per_sample(gx, op) - 1.0));
  std::vector<Tensor> roots{penalty};
  if (outer) {
    // b1 reaches the penalty only through LeakyReLU's mask, a constant: its gradient is undefined.
    opts.allow_unused = true;
    roots.clear();
    for (const Tensor& g2 : grad({penalty}, {w1, b1, w2}, {}, opts))
      if (g2.defined()) roots.push_back(g2);
  }
  std::cout << (format == "dot" ? graph_to_dot(roots) : graph_to_text(roots));
  if (format != "dot") {
    const GraphStats s = graph_stats(roots);
    std::cout << s.nodes << " nodes: " << s.by_order[0] << " forward, " << s.by_order[1] << " recorded by the first "
              << "backward, " << s.by_order[2] << " by the second\n";
  }
  return 0;
}

int devices_command() {
  std::cout << "cpu: reference backend (OpenBLAS GEMM, OpenMP)\n";
#ifdef MMGAN_HAS_CUDA
  const int n = kernels::cuda::device_count();
  if (n == 0) std::cout << "cuda: built, no device found\n";
  for (int i = 0; i < n; ++i) std::cout << "cuda:" << i << ": " << kernels::cuda::device_description(i) << "\n";
#else
  std::cout << "cuda: not built (-DMMGAN_CUDA=OFF or no nvcc)\n";
#endif
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mmgan: maximum-margin GANs with gradient penalties, from scratch in C++/CUDA"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mmgan ") + "0.1");

  std::string format = "text", norm = "linf";
  bool outer = false;
  auto* graph = app.add_subcommand("graph", "Print the graph a gradient-penalty step records (double backprop)");
  graph->add_option("--format", format, "text or dot (Graphviz)")->check(CLI::IsMember({"text", "dot"}));
  graph->add_option("--norm", norm, "gradient norm of the penalty")->check(CLI::IsMember({"l1", "l2", "linf"}));
  graph->add_flag("--outer", outer, "also differentiate the penalty w.r.t. the critic's weights (second order)");

  auto* devices = app.add_subcommand("devices", "List the backends of this build and their devices");

  auto* train = app.add_subcommand("train", "Train a GAN (not implemented yet)");
  train->allow_extras();

  CLI11_PARSE(app, argc, argv);
  try {
    if (graph->parsed()) return graph_command(format, norm, outer);
    if (devices->parsed()) return devices_command();
    if (train->parsed()) {
      std::cerr << "mmgan train: the trainer is not implemented yet. This build has the engine (tensors, autodiff\n"
                   "with gradients of gradients, Adam); losses, data loaders and the trainer come next. Try\n"
                   "'mmgan graph' to see what a gradient-penalty step records.\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "mmgan: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
