// Module bookkeeping: registration, the state_dict naming walk, loading with validation, dtype
// conversion, and Sequential's forward.
#include "models/module.h"

#include <cmath>

#include <set>
#include <sstream>

#include "engine/autograd/grad_mode.h"
#include "engine/error.h"

namespace mmgan::nn {

template <class Self, class F>
void Module::walk(Self& m, const std::string& prefix, bool params, bool buffers, F&& f) {
  if (params)
    for (auto& s : m.params_) f(prefix + s.name, s, true);
  if (buffers)
    for (auto& s : m.buffers_) f(prefix + s.name, s, false);
  for (auto& [name, child] : m.children_) walk(*child, prefix + name + ".", params, buffers, f);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  walk(*this, "", true, false, [&](const std::string& n, const Slot& s, bool) { out.emplace_back(n, s.tensor); });
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  walk(*this, "", false, true, [&](const std::string& n, const Slot& s, bool) { out.emplace_back(n, s.tensor); });
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  walk(*this, "", true, false, [&](const std::string&, const Slot& s, bool) { out.push_back(s.tensor); });
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  walk(*this, "", true, false, [&](const std::string&, const Slot& s, bool) { n += s.tensor.numel(); });
  return n;
}

SafeTensors Module::state_dict(const std::string& prefix) const {
  NoGradGuard ng;
  SafeTensors st;
  walk(*this, prefix, true, true,
       [&](const std::string& n, const Slot& s, bool) { st.add(n, s.tensor.detach().clone(), s.file_dtype); });
  return st;
}

void Module::load_state_dict(const SafeTensors& st, const std::string& prefix, bool strict) {
  // Collect every problem before touching any tensor, and report them all in one error (as
  // PyTorch does), so a bad file neither half-loads a model nor hides its second fault.
  std::set<std::string> expected;
  std::vector<std::string> problems;
  walk(*this, prefix, true, true, [&](const std::string& n, const Slot& s, bool) {
    expected.insert(n);
    if (!st.contains(n)) {
      problems.push_back("missing key '" + n + "'");
      return;
    }
    const Tensor& src = st.at(n);
    if (src.shape() != s.tensor.shape()) {
      problems.push_back("shape mismatch for '" + n + "': file has " + shape_str(src.shape()) + ", model has " +
                         shape_str(s.tensor.shape()));
      return;
    }
    // Integers where the model holds real numbers (or the reverse) mean the file is not what it claims.
    const auto fd = st.file_dtype.find(n);
    const std::string file_dtype = fd == st.file_dtype.end() ? "" : fd->second;
    const bool want_int = s.file_dtype == "I64" || s.file_dtype == "I32";
    const bool has_int = file_dtype == "I64" || file_dtype == "I32";
    if (!file_dtype.empty() && want_int != has_int) {
      problems.push_back("'" + n + "' is stored as " + file_dtype + ", but the model holds " +
                         (want_int ? "an integer count" : "real numbers"));
      return;
    }
    for (const double v : src.to_vector())
      if (!std::isfinite(v) || (want_int && v < 0)) {
        problems.push_back("'" + n + "' holds " + (std::isfinite(v) ? "a negative count " : "a non-finite value ") +
                           std::to_string(v));
        return;
      }
  });
  if (strict)
    for (const std::string& n : st.names)
      if (n.compare(0, prefix.size(), prefix) == 0 && !expected.count(n))
        problems.push_back("unexpected key '" + n + "'");
  if (!problems.empty()) {
    std::ostringstream os;
    for (size_t i = 0; i < problems.size(); ++i) os << (i ? "; " : "") << problems[i];
    MMGAN_FAIL("load_state_dict: ", os.str());
  }
  NoGradGuard ng;  // parameters require grad; copying into them must not be recorded
  walk(*this, prefix, true, true, [&](const std::string& n, Slot& s, bool) { s.tensor.copy_(st.at(n)); });
}

template <class Keep, class Convert>
void Module::replace_tensors(Keep keep, Convert convert) {
  NoGradGuard ng;
  walk(*this, "", true, true, [&](const std::string&, Slot& s, bool is_param) {
    if (keep(s.tensor)) return;
    Tensor c = convert(s.tensor.detach());
    if (is_param) c.requires_grad_(s.tensor.requires_grad());
    s.tensor = c;
  });
}

void Module::to(DType t) {
  replace_tensors([&](const Tensor& x) { return x.dtype() == t; }, [&](const Tensor& x) { return x.to(t); });
}

void Module::to(Device d) {
  replace_tensors([&](const Tensor& x) { return x.device() == d; }, [&](const Tensor& x) { return x.to(d); });
}

void Module::check_new_name(const std::string& name) const {
  MMGAN_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module: invalid name '", name,
              "' (it must be non-empty and contain no '.', which separates state_dict levels)");
  auto taken = [&](const auto& list, auto get) {
    for (const auto& e : list)
      if (get(e) == name) return true;
    return false;
  };
  const bool dup = taken(params_, [](const Slot& s) { return s.name; }) ||
                   taken(buffers_, [](const Slot& s) { return s.name; }) ||
                   taken(children_, [](const auto& c) { return c.first; });
  MMGAN_CHECK(!dup, "Module: name '", name, "' registered twice");
}

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name(name);
  MMGAN_CHECK(t.defined(), "register_parameter: '", name, "' is undefined");
  Tensor p = t.detach();
  p.requires_grad_(true);
  params_.push_back({name, p, ""});
  return params_.back().tensor;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t, const std::string& file_dtype) {
  check_new_name(name);
  MMGAN_CHECK(t.defined(), "register_buffer: '", name, "' is undefined");
  MMGAN_CHECK(
      file_dtype.empty() || file_dtype == "F32" || file_dtype == "F64" || file_dtype == "I64" || file_dtype == "I32",
      "register_buffer: '", name, "' has unsupported file dtype '", file_dtype, "'");
  buffers_.push_back({name, t.detach(), file_dtype});
  return buffers_.back().tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name);
  MMGAN_CHECK(m != nullptr, "register_module: '", name, "' is null");
  children_.emplace_back(name, std::move(m));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  const auto& ch = children();
  for (size_t i = 0; i < ch.size(); ++i) {
    double slope = 0;
    if (i + 1 < ch.size() && ch[i + 1].second->activation_slope(&slope)) {
      Tensor fused = ch[i].second->forward_act(y, slope);
      if (fused.defined()) {
        y = fused;
        ++i;  // the activation ran inside its predecessor
        continue;
      }
    }
    y = ch[i].second->forward(y);
  }
  return y;
}

}  // namespace mmgan::nn
