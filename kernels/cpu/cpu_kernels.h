// CPU kernels: the executable specification of every op, the calls of kernels/backend_calls.def
// (which says what each computes). Each CUDA kernel is tested against these (through the
// engine's CPU backend), and these are tested against float64 finite differences and PyTorch.
#pragma once
#include <cstdint>

#include "kernels/adam_math.h"
#include "kernels/batch_norm.h"
#include "kernels/conv_geom.h"
#include "kernels/op_codes.h"
#include "kernels/philox.h"
#include "kernels/pool_geom.h"
#include "kernels/tensor_view.h"

namespace mmgan::kernels::cpu {

// Below this many values a kernel runs on one thread: OpenMP's fork costs more than it saves.
constexpr int64_t kParallelGrain = 1 << 15;

// Every call of the list, kernels::cpu::name(params), defined in elementwise.cpp, batch_norm.cpp,
// reduce.cpp, gemm.cpp (OpenBLAS), conv.cpp, pool.cpp, resize.cpp, random.cpp and adam.cpp.
#define MMGAN_BACKEND_CALL(name, cuda, params, args) void name params;
#include "kernels/backend_calls.def"

}  // namespace mmgan::kernels::cpu
