/* Float instances of the reference kernels (layers_impl.inc). */
#include "nn/layers.h"

#include <string.h>
#include <tgmath.h>

#define NN_REAL float
#define NN_FN(name) name
#include "nn/layers_impl.inc"
#include "nn/msssim_impl.inc"
