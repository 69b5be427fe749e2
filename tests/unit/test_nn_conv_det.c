/* The deterministic transposed convolution: equal to the reference kernel
 * within float rounding, and bit-identical for any thread count. */
#include "test.h"

#include <omp.h>

#include "nn/conv_det.h"
#include "nn/layers.h"
#include "nn/rng.h"

static void check_shape(nic_context *ctx, int c_in, int h, int w, int c_out, int k, int s)
{
    int pad = k / 2;
    nn_conv_desc d;
    CHECK_STATUS(nn_conv_desc_init_transposed(ctx, &d, 1, c_in, h, w, c_out, k, s, pad, s - 1, 1),
                 NIC_OK);
    CHECK(d.h_in == h * s && d.w_in == w * s);
    size_t nx = (size_t)c_in * h * w, ny = (size_t)c_out * h * s * w * s;
    size_t nw = (size_t)c_in * c_out * k * k;
    float *x = malloc(nx * 4), *wt = malloc(nw * 4), *b = malloc(c_out * 4);
    float *ref = malloc(ny * 4), *y1 = malloc(ny * 4), *y2 = malloc(ny * 4);
    nn_rng rng;
    nn_rng_seed(&rng, (uint64_t)(c_in * 31 + k));
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)nn_rng_normal(&rng);
    for (size_t i = 0; i < nw; i++)
        wt[i] = (float)nn_rng_normal(&rng) * 0.2f;
    for (int i = 0; i < c_out; i++)
        b[i] = (float)nn_rng_normal(&rng);
    nn_conv_transpose_ref_forward(&d, x, wt, b, ref);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK_STATUS(nn_conv_transpose_det_forward(ctx, c_in, h, w, c_out, k, s, pad, x, wt, b, y1),
                 NIC_OK);
    omp_set_num_threads(threads > 1 ? threads : 3);
    CHECK_STATUS(nn_conv_transpose_det_forward(ctx, c_in, h, w, c_out, k, s, pad, x, wt, b, y2),
                 NIC_OK);
    omp_set_num_threads(threads);
    double err = 0;
    for (size_t i = 0; i < ny; i++)
        err = fmax(err, fabs(y1[i] - ref[i]));
    CHECK_MSG(err < 1e-4, "c_in %d k %d s %d: differs from the reference by %g", c_in, k, s, err);
    CHECK_MSG(memcmp(y1, y2, ny * 4) == 0, "c_in %d k %d s %d: depends on the thread count", c_in,
              k, s);
    free(x);
    free(wt);
    free(b);
    free(ref);
    free(y1);
    free(y2);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    check_shape(ctx, 5, 7, 9, 4, 5, 2); /* the codec's shape: 5x5, stride 2 */
    check_shape(ctx, 3, 4, 3, 6, 3, 2);
    check_shape(ctx, 2, 3, 3, 2, 5, 3);
    check_shape(ctx, 3, 6, 5, 2, 3, 1);
    CHECK_STATUS(nn_conv_transpose_det_forward(ctx, 0, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL, NULL),
                 NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_conv_transpose_det_forward(ctx, 1, 2, 2, 1, 4, 2, 2, NULL, NULL, NULL, NULL),
                 NIC_ERR_INVALID_ARGUMENT); /* even kernel: not an exact 2x */
    nic_context_destroy(ctx);
    return test_finish("test_nn_conv_det");
}
