// estimate_memory and check_memory (memory_estimate.h).
#include "trainer/memory_estimate.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "models/networks.h"

namespace mmgan::trainer {

double MemoryEstimate::total() const {
  double t = 0;
  for (const MemoryPart& p : parts) t += p.bytes;
  return t;
}

const MemoryPart& MemoryEstimate::largest() const {
  return *std::max_element(parts.begin(), parts.end(),
                           [](const MemoryPart& a, const MemoryPart& b) { return a.bytes < b.bytes; });
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (b >= 1000 && u < 6) b /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

MemoryEstimate estimate_memory(const TrainConfig& c) {
  const nn::NetConfig net = c.net();
  const nn::NetSize g = nn::net_size(net, true), d = nn::net_size(net, false);
  const double elem = c.dtype == "float64" ? 8 : 4;
  const double B = double(c.batch_size), pixels = double(c.n_colors) * double(c.image_size) * double(c.image_size);
  // Weights, gradients and Adam's two moments; initialisation draws in float64 first.
  const double state = 3 * elem + 8;
  // The data set as bytes (the training sets of Fashion-MNIST and CIFAR-10; folders are counted
  // when listed).
  const double data_count = c.dataset == "fashion-mnist" ? 60000 : c.dataset == "cifar10" ? 50000 : 0;
  MemoryEstimate e;
  e.parts = {
      {"the generator (weights, gradients, Adam moments)", "--z_size, --G_h_size", double(g.parameters) * state},
      {"the discriminator (weights, gradients, Adam moments)", "--D_h_size", double(d.parameters) * state},
      // D runs on the real, fake and interpolated batch, G on two batches; each keeps its outputs.
      {"one iteration's layer outputs", "--batch_size, --image_size, --G_h_size, --D_h_size",
       B * elem * (3 * double(d.activations) + 2 * double(g.activations))},
      {"the data set", "--image_size", data_count * pixels},
      {"the sample grid", "--n_samples", double(c.n_samples) * elem * (pixels + double(g.activations))},
  };
  return e;
}

double available_memory() {
  std::ifstream f("/proc/meminfo");
  for (std::string line; std::getline(f, line);) {
    std::istringstream is(line);
    std::string key;
    double kb = 0;
    if (is >> key >> kb && key == "MemAvailable:") return kb * 1024;
  }
  return -1;
}

void check_memory(const MemoryEstimate& e, double available) {
  if (available < 0) available = available_memory();
  if (available < 0 || e.total() <= available) return;
  const MemoryPart& big = e.largest();
  std::ostringstream parts;
  for (const MemoryPart& p : e.parts) parts << "; " << p.what << " " << human_bytes(p.bytes);
  MMGAN_FAIL(big.flags, ": ", big.what, " alone needs ", human_bytes(big.bytes), ", and the configuration at least ",
             human_bytes(e.total()), ", more than the ", human_bytes(available), " of memory available (",
             parts.str().substr(2), ")");
}

}  // namespace mmgan::trainer
