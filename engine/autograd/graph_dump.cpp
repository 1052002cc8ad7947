#include "engine/autograd/graph_dump.h"

#include <algorithm>
#include <sstream>
#include <unordered_set>

#include "engine/autograd/node.h"

namespace mmgan {
namespace {

// All nodes reachable from the roots, newest first (the order backward visits them).
std::vector<Node*> collect(const std::vector<Tensor>& roots) {
  std::vector<Node*> out, stack;
  std::unordered_set<Node*> seen;
  for (const Tensor& r : roots) {
    Edge e = gradient_edge(r);
    if (e.valid() && seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    out.push_back(n);
    for (const Edge& e : n->next_edges)
      if (e.valid() && seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
  }
  std::sort(out.begin(), out.end(), [](Node* a, Node* b) { return a->sequence_nr() > b->sequence_nr(); });
  return out;
}

std::string label(Node* n) {
  std::ostringstream os;
  os << n->name();
  if (auto* acc = dynamic_cast<AccumulateGrad*>(n))
    if (auto leaf = acc->leaf(); leaf && !leaf->name.empty()) os << " (" << leaf->name << ")";
  return os.str();
}

std::string shapes(Node* n) {
  std::ostringstream os;
  for (size_t i = 0; i < n->outputs.size(); ++i) os << (i ? " " : "") << shape_str(n->outputs[i].shape);
  return os.str();
}

}  // namespace

std::string graph_to_text(const std::vector<Tensor>& roots) {
  std::ostringstream os;
  for (Node* n : collect(roots)) {
    os << "#" << n->sequence_nr() << " " << label(n) << " -> " << shapes(n);
    os << (n->order() == 0 ? "  [forward]" : "  [backward order " + std::to_string(n->order()) + "]");
    if (n->released()) os << " [freed]";
    bool first = true;
    for (const Edge& e : n->next_edges) {
      if (!e.valid()) continue;
      os << (first ? "  inputs: " : ", ") << "#" << e.fn->sequence_nr();
      first = false;
    }
    os << "\n";
  }
  return os.str();
}

std::string graph_to_dot(const std::vector<Tensor>& roots) {
  static const char* colours[] = {"lightblue", "orange", "tomato", "orchid"};
  std::ostringstream os;
  os << "digraph mmgan {\n  rankdir=BT;\n  node [shape=box, style=filled, fontname=\"monospace\"];\n";
  for (Node* n : collect(roots)) {
    const int o = std::min(n->order(), 3);
    os << "  n" << n->sequence_nr() << " [label=\"" << label(n) << "\\n"
       << shapes(n) << "\", fillcolor=" << colours[o] << "];\n";
    for (const Edge& e : n->next_edges)
      if (e.valid()) os << "  n" << e.fn->sequence_nr() << " -> n" << n->sequence_nr() << ";\n";
  }
  os << "}\n";
  return os.str();
}

GraphStats graph_stats(const std::vector<Tensor>& roots) {
  GraphStats s;
  for (Node* n : collect(roots)) {
    ++s.nodes;
    ++s.by_order[std::min(n->order(), 3)];
  }
  return s;
}

}  // namespace mmgan
