// The data library's public API in one include.
#pragma once
#include "data/cifar10.h"
#include "data/dataset.h"
#include "data/fashion_mnist.h"
#include "data/image_folder.h"
#include "data/resize.h"
#include "data/sampler.h"
#include "data/toy.h"
