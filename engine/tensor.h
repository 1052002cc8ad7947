// The tensor handle: shape, strides, dtype, device, shared storage, and autograd metadata.
// Views (reshape, transpose, slice, expand) share storage with their base. Copying a Tensor
// copies the handle, not the data.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/tensor_view.h"
#include "engine/device.h"
#include "engine/shape.h"

namespace mmgan {

using kernels::DType;
class Node;
class TensorImpl;
class Generator;

// Owns one device allocation (RAII); released through the backend that made it.
class Storage {
 public:
  Storage(Device device, std::size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // Geometry.
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t size(int64_t dim) const;
  int dim() const;
  int64_t numel() const;
  int64_t storage_offset() const;
  bool is_contiguous() const;
  DType dtype() const;
  Device device() const;
  std::string str() const;  // "float64[3, 4] cpu"

  // Data access. data<T>() points at element 0 (CPU only). to_vector() copies any tensor to host doubles.
  template <class T>
  T* data() const;
  std::vector<double> to_vector() const;
  double item() const;  // the value of a one-element tensor
  kernels::View view() const;

  // Autograd.
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // leaves only
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;
  uint32_t output_nr() const;
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  void zero_grad() const;  // drops the gradient (and any graph it holds)
  Tensor detach() const;   // same data, no history
  void backward(const Tensor& grad_output = {}, bool retain_graph = false, bool create_graph = false) const;
  const std::string& name() const;  // optional label shown in graph dumps
  Tensor& set_name(std::string n);

  // Methods that forward to the free functions of ops.h (for readable formulas).
  Tensor reshape(const Shape& s) const;
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor expand(const Shape& s) const;
  Tensor contiguous() const;
  Tensor to(DType t) const;
  Tensor to(Device d) const;
  Tensor clone() const;
  Tensor sum() const;
  Tensor mean() const;

  // In-place data operations outside autograd (initialisation, optimisers). They refuse tensors
  // that are part of a recorded graph, which in-place writes would silently corrupt.
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(double value);
  Tensor& uniform_(double lo, double hi, Generator& gen);
  Tensor& normal_(double mean, double std, Generator& gen);

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Autograd state of a tensor. Non-leaves point at the node that made them; leaves that require
// grad own an accumulator node (created on first use) that graph edges point at.
struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
  Tensor grad;
  std::shared_ptr<Node> grad_accumulator;
};

class TensorImpl {
 public:
  TensorImpl(std::shared_ptr<Storage> storage, int64_t offset, Shape sizes, Shape strides, DType dtype);
  ~TensorImpl();
  TensorImpl(const TensorImpl&) = delete;
  TensorImpl& operator=(const TensorImpl&) = delete;

  std::shared_ptr<Storage> storage;
  int64_t offset;  // in elements
  Shape sizes;
  Shape strides;  // in elements
  DType dtype;
  AutogradMeta autograd;
  std::string name;

  static int64_t live_count() { return live_.load(); }

 private:
  static std::atomic<int64_t> live_;
};

// Factories.
Tensor empty(const Shape& s, DType t = DType::F32, Device d = Device::cpu());
Tensor zeros(const Shape& s, DType t = DType::F32, Device d = Device::cpu());
Tensor ones(const Shape& s, DType t = DType::F32, Device d = Device::cpu());
Tensor full(const Shape& s, double value, DType t = DType::F32, Device d = Device::cpu());
Tensor scalar(double value, DType t = DType::F32, Device d = Device::cpu());
Tensor from_vector(const std::vector<double>& values, const Shape& s, DType t = DType::F32, Device d = Device::cpu());
Tensor from_vector(const std::vector<float>& values, const Shape& s, Device d = Device::cpu());
Tensor empty_like(const Tensor& x);
Tensor zeros_like(const Tensor& x);
Tensor ones_like(const Tensor& x);
Tensor rand(const Shape& s, Generator& gen, DType t = DType::F32, Device d = Device::cpu());   // U[0, 1)
Tensor randn(const Shape& s, Generator& gen, DType t = DType::F32, Device d = Device::cpu());  // N(0, 1)

// A new handle on the same data with new geometry and no autograd history (used by view ops).
Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, int64_t offset);

}  // namespace mmgan
