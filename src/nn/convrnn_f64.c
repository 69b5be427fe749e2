/* The double ConvLSTM / ConvGRU sequence (check mode): the same code as the
 * float one, on the double reference convolutions of the cell's plans. */
#include "nn/convrnn.h"

#include <string.h>
#include <tgmath.h>

#define CONV_FORWARD(plan, x, w, b, y) nn_conv2d_ref_forward_f64(nn_conv_get_desc(plan), x, w, b, y)
#define CONV_BACKWARD_DATA(plan, dy, w, dx) \
    nn_conv2d_ref_backward_data_f64(nn_conv_get_desc(plan), dy, w, dx)
#define CONV_BACKWARD_WEIGHTS(plan, x, dy, dw, db) \
    nn_conv2d_ref_backward_weights_f64(nn_conv_get_desc(plan), x, dy, dw, db)
#define NN_REAL double
#define NN_FN(name) name##_f64
#include "nn/convrnn_impl.inc"
