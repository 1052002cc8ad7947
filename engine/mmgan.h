// The engine's public API in one include.
#pragma once
#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/graph_dump.h"
#include "autograd/node.h"
#include "backend.h"
#include "error.h"
#include "gradcheck.h"
#include "ops.h"
#include "optim/adam.h"
#include "random.h"
#include "safetensors.h"
#include "tensor.h"
