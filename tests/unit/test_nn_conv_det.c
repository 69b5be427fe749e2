/*
 * The register-tiled deterministic convolution (nn_conv_det_forward): the
 * same values as the reference kernel on shapes with column tails, output
 * channels that do not fill a tile, padding, 1x1 to 5x5 kernels and batches;
 * the same bits for 1 and 3 threads; refused for strides and groups.
 */
#include "test.h"

#include <omp.h>

#include "nn/conv.h"
#include "nn/conv_det.h"
#include "nn/rng.h"

static void fill(nn_rng *rng, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(2.0 * nn_rng_uniform_f64(rng) - 1.0);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    nn_rng rng;
    nn_rng_seed(&rng, 7);
    /* n, c_in, h, w, c_out, k, pad */
    static const int shapes[][7] = {{1, 3, 9, 13, 5, 3, 1},  {2, 8, 16, 16, 16, 3, 1},
                                    {1, 16, 7, 5, 9, 1, 0},  {1, 4, 12, 8, 3, 1, 0},
                                    {2, 5, 11, 6, 17, 5, 2}, {1, 6, 10, 10, 8, 3, 0},
                                    {1, 2, 4, 3, 4, 3, 2}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        const int *p = shapes[s];
        nn_conv_desc d;
        CHECK_STATUS(nn_conv_desc_init(ctx, &d, p[0], p[1], p[2], p[3], p[4], p[5], 1, p[6], 1),
                     NIC_OK);
        CHECK(nn_conv_det_supports(&d));
        const size_t nx = nn_conv_x_count(&d), ny = nn_conv_y_count(&d), nw = nn_conv_w_count(&d);
        float *x = malloc(nx * sizeof(float)), *w = malloc(nw * sizeof(float));
        float *b = malloc(d.c_out * sizeof(float)), *ref = malloc(ny * sizeof(float));
        float *y1 = malloc(ny * sizeof(float)), *y3 = malloc(ny * sizeof(float));
        fill(&rng, x, nx);
        fill(&rng, w, nw);
        fill(&rng, b, d.c_out);
        nn_conv2d_ref_forward(&d, x, w, s % 2 ? NULL : b, ref);
        int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        CHECK_STATUS(nn_conv_det_forward(ctx, &d, x, w, s % 2 ? NULL : b, y1), NIC_OK);
        omp_set_num_threads(3);
        CHECK_STATUS(nn_conv_det_forward(ctx, &d, x, w, s % 2 ? NULL : b, y3), NIC_OK);
        omp_set_num_threads(threads);
        size_t differ = 0;
        for (size_t i = 0; i < ny; i++)
            differ += y1[i] != ref[i]; /* by value: a zero's sign may differ */
        CHECK_MSG(differ == 0, "shape %zu: %zu of %zu outputs differ from the reference", s,
                  differ, ny);
        CHECK_MSG(memcmp(y1, y3, ny * sizeof(float)) == 0, "shape %zu: 1 and 3 threads differ", s);
        free(x), free(w), free(b), free(ref), free(y1), free(y3);
    }
    /* strides and groups go to the other kernels */
    nn_conv_desc d;
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 1, 4, 8, 8, 4, 3, 2, 1, 1), NIC_OK);
    CHECK(!nn_conv_det_supports(&d));
    CHECK_STATUS(nn_conv_det_forward(ctx, &d, NULL, NULL, NULL, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 1, 4, 8, 8, 4, 3, 1, 1, 2), NIC_OK);
    CHECK(!nn_conv_det_supports(&d));
    nic_context_destroy(ctx);
    return test_finish("test_nn_conv_det");
}
