/* Double instances of the reference kernels: the finite-difference check mode. */
#include "nn/layers.h"

#include <string.h>
#include <tgmath.h>

#define NN_REAL double
#define NN_FN(name) name##_f64
#include "nn/layers_impl.inc"
#include "nn/msssim_impl.inc"
