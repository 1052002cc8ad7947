// The recorded graph as text or Graphviz DOT: op names, output shapes, and for each node the
// backward order that recorded it (0 = forward; 1 = recorded by a create_graph backward, ...).
// This is how a student sees what double backprop builds.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mmgan {

std::string graph_to_text(const std::vector<Tensor>& roots);
std::string graph_to_dot(const std::vector<Tensor>& roots);

struct GraphStats {
  int64_t nodes = 0;
  int64_t by_order[4] = {0, 0, 0, 0};  // nodes recorded in the forward, 1st, 2nd, 3rd+ backward
};
GraphStats graph_stats(const std::vector<Tensor>& roots);

}  // namespace mmgan
