// Arithmetic with every operation rounded on its own, for kernels whose CUDA results must equal
// the CPU's bit for bit: nvcc contracts a * b + c into one fused multiply-add unless told not to
// (the _rn intrinsics), while the CPU build (no -march, so no FMA instructions) rounds each
// operation. Used by Adam (adam_math.h, adam.cu) and the interpolation kernel (interpolate.h).
#pragma once
#include <cmath>

#include "kernels/tensor_view.h"

namespace mmgan::kernels::rn {

#ifdef __CUDA_ARCH__
__device__ inline float add(float a, float b) { return __fadd_rn(a, b); }
__device__ inline double add(double a, double b) { return __dadd_rn(a, b); }
__device__ inline float sub(float a, float b) { return __fadd_rn(a, -b); }
__device__ inline double sub(double a, double b) { return __dadd_rn(a, -b); }
__device__ inline float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ inline double mul(double a, double b) { return __dmul_rn(a, b); }
__device__ inline float div(float a, float b) { return __fdiv_rn(a, b); }
__device__ inline double div(double a, double b) { return __ddiv_rn(a, b); }
__device__ inline float root(float a) { return __fsqrt_rn(a); }
__device__ inline double root(double a) { return __dsqrt_rn(a); }
#else
template <class T>
inline T add(T a, T b) {
  return a + b;
}
template <class T>
inline T sub(T a, T b) {
  return a - b;
}
template <class T>
inline T mul(T a, T b) {
  return a * b;
}
template <class T>
inline T div(T a, T b) {
  return a / b;
}
template <class T>
inline T root(T a) {
  return std::sqrt(a);
}
#endif

}  // namespace mmgan::kernels::rn
