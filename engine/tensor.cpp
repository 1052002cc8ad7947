#include "engine/tensor.h"

#include <cstring>
#include <sstream>

#include "engine/autograd/grad_mode.h"
#include "engine/checked_math.h"
#include "engine/autograd/node.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "engine/random.h"

namespace mmgan {

std::atomic<int64_t> TensorImpl::live_{0};

Storage::Storage(Device device, std::size_t nbytes)
    : data_(backend_for(device).allocate(nbytes)), nbytes_(nbytes), device_(device) {}
Storage::~Storage() { backend_for(device_).deallocate(data_, nbytes_); }

TensorImpl::TensorImpl(std::shared_ptr<Storage> st, int64_t off, Shape sz, Shape str, DType t)
    : storage(std::move(st)), offset(off), sizes(std::move(sz)), strides(std::move(str)), dtype(t) {
  ++live_;
}
TensorImpl::~TensorImpl() { --live_; }

namespace {
const TensorImpl& req(const TensorImpl* p) {
  if (!p) throw Error("operation on an undefined tensor");
  return *p;
}
}  // namespace

const Shape& Tensor::shape() const { return req(impl()).sizes; }
const Shape& Tensor::strides() const { return req(impl()).strides; }
int64_t Tensor::size(int64_t d) const { return shape()[size_t(wrap_dim(d, dim(), "size"))]; }
int Tensor::dim() const { return int(shape().size()); }
int64_t Tensor::numel() const { return shape_numel(shape()); }
int64_t Tensor::storage_offset() const { return req(impl()).offset; }
DType Tensor::dtype() const { return req(impl()).dtype; }
Device Tensor::device() const { return req(impl()).storage->device(); }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape()[size_t(i)] != 1 && strides()[size_t(i)] != expected) return false;
    expected *= shape()[size_t(i)];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  std::ostringstream os;
  os << kernels::dtype_name(dtype()) << shape_str(shape()) << " " << device().str();
  return os.str();
}

template <class T>
T* Tensor::data() const {
  MMGAN_CHECK(device().type == DeviceType::CPU, "data(): tensor ", str(), " is not on the CPU; copy it with .to(cpu)");
  MMGAN_CHECK(!backend_for(Device::cpu()).capturing(), "data(): host access to ", str(),
              " inside a captured step (engine/capture.h): nothing runs until replay");
  MMGAN_CHECK(kernels::dtype_size(dtype()) == sizeof(T), "data(): tensor ", str(), " accessed as ", sizeof(T) * 8,
              "-bit elements");
  return static_cast<T*>(impl()->storage->data()) + impl()->offset;
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;

kernels::View Tensor::view() const {
  const TensorImpl& t = req(impl());
  MMGAN_CHECK(t.sizes.size() <= size_t(kernels::kMaxDims), "tensor ", str(), " has more than ", kernels::kMaxDims,
              " dimensions");
  kernels::View v;
  v.data = static_cast<char*>(t.storage->data()) + t.offset * int64_t(kernels::dtype_size(t.dtype));
  v.dtype = t.dtype;
  v.ndim = int(t.sizes.size());
  for (int i = 0; i < v.ndim; ++i) {
    v.sizes[i] = t.sizes[size_t(i)];
    v.strides[i] = t.strides[size_t(i)];
  }
  return v;
}

std::vector<double> Tensor::to_vector() const {
  NoGradGuard ng;
  Tensor c = to_device(mmgan::contiguous(to_dtype(*this, DType::F64)), Device::cpu());
  const double* p = c.data<double>();
  return std::vector<double>(p, p + c.numel());
}

double Tensor::item() const {
  MMGAN_CHECK(numel() == 1, "item(): tensor ", str(), " has ", numel(), " elements, not 1");
  return to_vector()[0];
}

bool Tensor::requires_grad() const { return req(impl()).autograd.requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  MMGAN_CHECK(is_leaf(), "requires_grad_(): only leaf tensors can change requires_grad; use detach() first");
  impl()->autograd.requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return !req(impl()).autograd.grad_fn; }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return req(impl()).autograd.grad_fn; }
uint32_t Tensor::output_nr() const { return req(impl()).autograd.output_nr; }
Tensor Tensor::grad() const { return req(impl()).autograd.grad; }
void Tensor::set_grad(const Tensor& g) const { impl()->autograd.grad = g; }
void Tensor::zero_grad() const { impl()->autograd.grad = Tensor(); }

Tensor Tensor::detach() const {
  const TensorImpl& t = req(impl());
  auto d = std::make_shared<TensorImpl>(t.storage, t.offset, t.sizes, t.strides, t.dtype);
  return Tensor(std::move(d));
}

const std::string& Tensor::name() const { return req(impl()).name; }
Tensor& Tensor::set_name(std::string n) {
  impl()->name = std::move(n);
  return *this;
}

Tensor Tensor::reshape(const Shape& s) const { return mmgan::reshape(*this, s); }
Tensor Tensor::flatten(int64_t a, int64_t b) const { return mmgan::flatten(*this, a, b); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return mmgan::transpose(*this, a, b); }
Tensor Tensor::expand(const Shape& s) const { return mmgan::expand(*this, s); }
Tensor Tensor::contiguous() const { return mmgan::contiguous(*this); }
Tensor Tensor::to(DType t) const { return to_dtype(*this, t); }
Tensor Tensor::to(Device d) const { return to_device(*this, d); }
Tensor Tensor::clone() const { return mmgan::clone(*this); }
Tensor Tensor::sum() const { return mmgan::sum(*this); }
Tensor Tensor::mean() const { return mmgan::mean(*this); }

namespace {
void check_inplace(const Tensor& t, const char* what) {
  MMGAN_CHECK(t.defined(), what, " on an undefined tensor");
  MMGAN_CHECK(!t.grad_fn() && !(t.requires_grad() && GradMode::enabled()), what, " on ", t.str(),
              ": in-place writes to a tensor with recorded history or requiring grad need a NoGradGuard");
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  MMGAN_CHECK(src.shape() == shape(), "copy_: source ", src.str(), " and destination ", str(), " differ in shape");
  Tensor s = src.device() == device() ? src : to_device(src, device());
  detail::backend_of(*this).copy(s.view(), view());
  return *this;
}

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  detail::backend_of(*this).fill(view(), value);
  return *this;
}

Tensor& Tensor::uniform_(double lo, double hi, Generator& gen) {
  check_inplace(*this, "uniform_");
  Tensor tmp = is_contiguous() ? *this : empty(shape(), dtype(), device());
  const uint64_t off = gen.reserve(uint64_t(numel()), dtype(), false);
  detail::backend_of(*this).fill_uniform(tmp.view(), gen.key(off, device()), lo, hi);
  if (!is_contiguous()) detail::backend_of(*this).copy(tmp.view(), view());
  return *this;
}

Tensor& Tensor::normal_(double mean, double std, Generator& gen) {
  check_inplace(*this, "normal_");
  Tensor tmp = is_contiguous() ? *this : empty(shape(), dtype(), device());
  const uint64_t off = gen.reserve(uint64_t(numel()), dtype(), true);
  detail::backend_of(*this).fill_normal(tmp.view(), gen.key(off, device()), mean, std);
  if (!is_contiguous()) detail::backend_of(*this).copy(tmp.view(), view());
  return *this;
}

Tensor empty(const Shape& s, DType t, Device d) {
  for (auto n : s) MMGAN_CHECK(n >= 0, "empty: negative size in shape ", shape_str(s));
  const int64_t bytes = checked_mul(shape_numel(s), int64_t(kernels::dtype_size(t)), "empty: shape " + shape_str(s));
  std::shared_ptr<Storage> st;
  try {
    st = std::make_shared<Storage>(d, size_t(bytes));
  } catch (const std::bad_alloc&) {
    MMGAN_FAIL("out of memory: a tensor of shape ", shape_str(s), " needs ", bytes, " bytes on ", d.str());
  }
  return Tensor(std::make_shared<TensorImpl>(std::move(st), 0, s, contiguous_strides(s), t));
}

Tensor full(const Shape& s, double value, DType t, Device d) {
  Tensor x = empty(s, t, d);
  backend_for(d).fill(x.view(), value);
  return x;
}
Tensor zeros(const Shape& s, DType t, Device d) { return full(s, 0.0, t, d); }
Tensor ones(const Shape& s, DType t, Device d) { return full(s, 1.0, t, d); }
Tensor scalar(double v, DType t, Device d) { return full({}, v, t, d); }
Tensor empty_like(const Tensor& x) { return empty(x.shape(), x.dtype(), x.device()); }
Tensor zeros_like(const Tensor& x) { return zeros(x.shape(), x.dtype(), x.device()); }
Tensor ones_like(const Tensor& x) { return ones(x.shape(), x.dtype(), x.device()); }

Tensor from_vector(const std::vector<double>& values, const Shape& s, DType t, Device d) {
  MMGAN_CHECK(int64_t(values.size()) == shape_numel(s), "from_vector: ", values.size(), " values for shape ",
              shape_str(s));
  Tensor host = empty(s, DType::F64, Device::cpu());
  if (!values.empty()) std::memcpy(host.data<double>(), values.data(), values.size() * sizeof(double));
  NoGradGuard ng;
  return to_device(to_dtype(host, t), d);
}

Tensor from_vector(const std::vector<float>& values, const Shape& s, Device d) {
  MMGAN_CHECK(int64_t(values.size()) == shape_numel(s), "from_vector: ", values.size(), " values for shape ",
              shape_str(s));
  Tensor host = empty(s, DType::F32, Device::cpu());
  if (!values.empty()) std::memcpy(host.data<float>(), values.data(), values.size() * sizeof(float));
  NoGradGuard ng;
  return to_device(host, d);
}

Tensor rand(const Shape& s, Generator& gen, DType t, Device d) {
  Tensor x = empty(s, t, d);
  x.uniform_(0.0, 1.0, gen);
  return x;
}

Tensor randn(const Shape& s, Generator& gen, DType t, Device d) {
  Tensor x = empty(s, t, d);
  x.normal_(0.0, 1.0, gen);
  return x;
}

Tensor make_view(const Tensor& base, const Shape& sizes, const Shape& strides, int64_t offset) {
  const TensorImpl& b = req(base.impl());
  return Tensor(std::make_shared<TensorImpl>(b.storage, offset, sizes, strides, b.dtype));
}

}  // namespace mmgan
