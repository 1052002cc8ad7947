// The data library's public API in one include.
#pragma once
#include "cifar10.h"
#include "dataset.h"
#include "fashion_mnist.h"
#include "image_folder.h"
#include "resize.h"
#include "sampler.h"
#include "toy.h"
