// The kernel layer's view of a tensor: a raw pointer with dtype, sizes and element strides.
// Kernels never see the engine's Tensor; the engine hands them Views. This keeps
// dependencies one way (kernels <- engine) and lets CPU and CUDA kernels share one calling
// convention.
#pragma once
#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define MMGAN_HD __host__ __device__
#else
#define MMGAN_HD
#endif

namespace mmgan::kernels {

enum class DType : uint8_t { F32, F64 };

inline constexpr std::size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 8; }
inline constexpr const char* dtype_name(DType t) { return t == DType::F32 ? "float32" : "float64"; }

// Calls f(float(0)) or f(double(0)) for t, so a kernel is written once over its element type T
// (`using T = decltype(tag);`), beside with_act (activation.h) and with_index_type (cuda/launch.h).
template <class F>
void with_dtype(DType t, F&& f) {
  if (t == DType::F32)
    f(float(0));
  else
    f(double(0));
}

// The other way: the DType of element type T (float or double).
template <class T>
inline constexpr DType dtype_of = sizeof(T) == 4 ? DType::F32 : DType::F64;

inline constexpr int kMaxDims = 8;

struct View {
  void* data = nullptr;  // points at element 0 of the view (storage offset already applied)
  DType dtype = DType::F32;
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};  // in elements; 0 marks a broadcast dimension

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= sizes[i];
    return n;
  }
  bool contiguous() const {
    int64_t expected = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (sizes[i] != 1 && strides[i] != expected) return false;
      expected *= sizes[i];
    }
    return true;
  }
  template <class T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
};

}  // namespace mmgan::kernels
