/* The integer analysis and synthesis transforms: the same bits for every
 * instruction set, thread count and strip height (memory budget), close to
 * the float model, and weight scales that keep every sum from overflowing. */
#include "test.h"

#include <omp.h>

#include "models/int_transform.h"
#include "nn/layers.h"
#include "nn/rng.h"
#include "nn/tensor.h"

/* Float model on the reference kernels: a chain of 4 conv blocks with GDN
 * (or inverse GDN) between. */
static void float_chain(nic_context *ctx, nic_hyper_model *m, int synthesis, const float *x, int h,
                        int w, float *out)
{
    nic_conv_block *cb = synthesis ? m->gs : m->ga;
    nic_gdn_block *gb = synthesis ? m->gs_gdn : m->ga_gdn;
    size_t cap = (size_t)m->cfg.n * h * w * (synthesis ? 256 : 1);
    float *buf[2] = {nn_alloc(cap * 4), nn_alloc(cap * 4)};
    float *sq = nn_alloc(cap * 4), *norm = nn_alloc(cap * 4);
    const float *in = x;
    for (int i = 0; i < 4; i++) {
        float *dst = i == 3 ? out : buf[i & 1];
        CHECK_STATUS(nic_conv_block_plan(ctx, NULL, &cb[i], 1, h, w, NN_CONV_REFERENCE), NIC_OK);
        CHECK_STATUS(nic_conv_block_forward(ctx, &cb[i], &m->params, in, dst), NIC_OK);
        h = cb[i].h_out;
        w = cb[i].w_out;
        nic_conv_block_release(&cb[i]);
        if (i < 3) {
            CHECK_STATUS(nic_gdn_block_plan(ctx, NULL, &gb[i], 1, h, w, NN_CONV_REFERENCE), NIC_OK);
            CHECK_STATUS(nic_gdn_block_forward(ctx, &gb[i], &m->params, dst, dst, sq, norm), NIC_OK);
            nic_gdn_block_release(&gb[i]);
        }
        in = dst;
    }
    nn_free(buf[0]);
    nn_free(buf[1]);
    nn_free(sq);
    nn_free(norm);
}

typedef struct yhat_grid {
    const int16_t *v; /* [hy][wy][m] */
    int m, wy;
} yhat_grid;

static void yhat_rows(void *user, int r0, int r1, int16_t *rows, ptrdiff_t row_len)
{
    const yhat_grid *g = user;
    for (int r = r0; r < r1; r++)
        memcpy(rows + (r - r0) * row_len + g->m, g->v + (size_t)r * g->wy * g->m,
               (size_t)g->wy * g->m * sizeof(int16_t));
}

/* Every lane's worst sum fits in int32. */
static void check_bounds(const nic_int_transform *t)
{
    int bad = 0;
    for (int l = 0; l < 4; l++) {
        const nic_int_layer *L = &t->layer[l];
        const nn_phase_layout *pl = &L->pl;
        double *sum = calloc((size_t)pl->lanes, sizeof(double));
        for (int gi = 0; gi < pl->ngroups; gi++) {
            const nn_phase_group *g = &pl->groups[gi];
            for (int ti = g->tap0; ti < g->tap0 + g->ntaps; ti++)
                for (int q = 0; q < pl->taps[ti].n; q++)
                    for (int ln = 0; ln < g->blocks * pl->block; ln++)
                        for (int e = 0; e < 2; e++)
                            sum[g->lane0 + ln] +=
                                abs(L->w[nn_phase_w_index(pl, g, &pl->taps[ti], q, ln, e)]);
        }
        for (int lane = 0; lane < pl->lanes; lane++)
            bad += fabs((double)L->bias[lane]) + 32767.0 * sum[lane] >= 2147483648.0;
        free(sum);
    }
    CHECK_MSG(bad == 0, "%d lanes can overflow", bad);
}

static void check_model(nic_context *ctx, int n, int m_ch, uint64_t seed)
{
    nic_hyper_config cfg = {.n = n, .m = m_ch, .nz = 4};
    nic_hyper_model m;
    CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nic_hyper_model_init(&m, &rng);
    nic_int_transform ta, ts;
    CHECK_STATUS(nic_int_transform_create(ctx, &m, 0, &ta), NIC_OK);
    CHECK_STATUS(nic_int_transform_create(ctx, &m, 1, &ts), NIC_OK);
    check_bounds(&ta);
    check_bounds(&ts);
    const int threads = omp_get_max_threads();

    /* ---- synthesis: y^ 6 x 5 (a 80 x 96 picture, cropped to 77 x 90) */
    const int hy = 6, wy = 5;
    int16_t *yq = malloc(sizeof(int16_t) * hy * wy * m_ch);
    float *yf = malloc(sizeof(float) * hy * wy * m_ch);
    for (int i = 0; i < hy * wy; i++)
        for (int c = 0; c < m_ch; c++) {
            int16_t v = (int16_t)((int)nn_rng_below(&rng, 4097) - 2048); /* +-2 in Q10 */
            yq[i * m_ch + c] = v;
            yf[(size_t)c * hy * wy + i] = v / 1024.0f;
        }
    yhat_grid g = {yq, m_ch, wy};
    nic_image ref;
    nic_image_alloc(ctx, &ref, 77, 90, 3);
    omp_set_num_threads(1);
    CHECK_STATUS(nic_int_synthesize(ctx, &ts, NN_ISA_C, hy, wy, yhat_rows, &g, 0, &ref), NIC_OK);
    int differ = 0;
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        for (int th = 1; th <= 3; th++)
            for (size_t budget = 0; budget <= 1; budget++) { /* 1 byte: strips of one row */
                nic_image img;
                nic_image_alloc(ctx, &img, 77, 90, 3);
                omp_set_num_threads(th);
                CHECK_STATUS(nic_int_synthesize(ctx, &ts, (nn_isa)isa, hy, wy, yhat_rows, &g,
                                                budget, &img),
                             NIC_OK);
                if (memcmp(img.data, ref.data, 90 * 77 * 3) != 0) {
                    differ++;
                    fprintf(stderr, "synthesis differs: %s, %d threads, budget %zu\n",
                            nn_isa_name((nn_isa)isa), th, budget);
                }
                nic_image_free(&img);
            }
    }
    CHECK_MSG(differ == 0, "n %d: synthesis depends on ISA, threads or strips", n);
    /* gray: the luma of the same output */
    nic_image gray;
    nic_image_alloc(ctx, &gray, 77, 90, 1);
    CHECK_STATUS(nic_int_synthesize(ctx, &ts, nn_isa_best(), hy, wy, yhat_rows, &g, 0, &gray),
                 NIC_OK);
    int luma_off = 0;
    for (int i = 0; i < 90 * 77; i++) {
        double l = 0.299 * ref.data[3 * i] + 0.587 * ref.data[3 * i + 1] + 0.114 * ref.data[3 * i + 2];
        luma_off += fabs(l - gray.data[i]) > 1.01;
    }
    CHECK_MSG(luma_off == 0, "%d gray pixels are not the luma", luma_off);
    nic_image_free(&gray);
    /* against the float model */
    float *xf = malloc(sizeof(float) * 3 * 96 * 80);
    omp_set_num_threads(threads);
    float_chain(ctx, &m, 1, yf, hy, wy, xf);
    double max_err = 0, sum_err = 0;
    for (int y = 0; y < 90; y++)
        for (int x = 0; x < 77; x++)
            for (int c = 0; c < 3; c++) {
                float v = xf[(size_t)c * 96 * 80 + y * 80 + x] * 255.0f;
                v = v < 0 ? 0 : (v > 255 ? 255 : v);
                double e = fabs((double)(uint8_t)(v + 0.5f) - ref.data[(y * 77 + x) * 3 + c]);
                max_err = fmax(max_err, e);
                sum_err += e;
            }
    printf("n %d: integer synthesis vs float: max %g, mean %.4f levels\n", n, max_err,
           sum_err / (90 * 77 * 3));
    CHECK_MSG(max_err <= 1 && sum_err / (90 * 77 * 3) < 0.05,
              "n %d: synthesis off the float model by %g (mean %g)", n, max_err,
              sum_err / (90 * 77 * 3));
    nic_image_free(&ref);

    /* ---- analysis: a 100 x 70 picture, edges replicated to 112 x 80 */
    nic_image img;
    nic_image_alloc(ctx, &img, 100, 70, 3);
    for (uint32_t y = 0; y < 70; y++)
        for (uint32_t x = 0; x < 100; x++)
            for (int c = 0; c < 3; c++)
                img.data[(y * 100 + x) * 3 + c] =
                    (uint8_t)(128 + 100 * sin(0.09 * x * (c + 1) + 0.13 * y) * cos(0.05 * y));
    const int ph = 80, pw = 112, ny = m_ch * (ph / 16) * (pw / 16);
    float *y0 = malloc(sizeof(float) * ny), *y1 = malloc(sizeof(float) * ny);
    omp_set_num_threads(1);
    CHECK_STATUS(nic_int_analyze(ctx, &ta, NN_ISA_C, &img, ph, pw, 0, y0), NIC_OK);
    differ = 0;
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        for (int th = 1; th <= 3; th++)
            for (size_t budget = 0; budget <= 1; budget++) {
                omp_set_num_threads(th);
                CHECK_STATUS(nic_int_analyze(ctx, &ta, (nn_isa)isa, &img, ph, pw, budget, y1),
                             NIC_OK);
                differ += memcmp(y0, y1, sizeof(float) * ny) != 0;
            }
    }
    CHECK_MSG(differ == 0, "n %d: analysis depends on ISA, threads or strips (%d cases)", n,
              differ);
    float *xin = malloc(sizeof(float) * 3 * ph * pw);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                int sy = y < 70 ? y : 69, sx = x < 100 ? x : 99;
                xin[(size_t)c * ph * pw + y * pw + x] = img.data[(sy * 100 + sx) * 3 + c] / 255.0f;
            }
    omp_set_num_threads(threads);
    float_chain(ctx, &m, 0, xin, ph, pw, y1);
    double err = 0, mag = 0;
    for (int i = 0; i < ny; i++) {
        err = fmax(err, fabs(y0[i] - y1[i]));
        mag = fmax(mag, fabs(y1[i]));
    }
    /* within a few steps of the Q11 activations (this random model's are small) */
    printf("n %d: integer analysis vs float: max error %g (max |y| %g)\n", n, err, mag);
    CHECK_MSG(err < 4.0 / 2048 && mag > 0.05, "n %d: analysis off the float model by %g of %g", n,
              err, mag);

    free(xin);
    free(y0);
    free(y1);
    nic_image_free(&img);
    free(xf);
    free(yq);
    free(yf);
    nic_int_transform_free(&ta);
    nic_int_transform_free(&ts);
    nic_hyper_model_free(&m);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    check_model(ctx, 16, 16, 3); /* channels fill whole blocks: lanes grouped by phase */
    check_model(ctx, 24, 12, 5); /* they do not: phases share blocks */
    /* bad arguments */
    nic_int_transform t;
    memset(&t, 0, sizeof(t));
    nic_image img = {0};
    CHECK_STATUS(nic_int_synthesize(ctx, &t, NN_ISA_C, 2, 2, NULL, NULL, 0, &img),
                 NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nic_int_analyze(ctx, &t, NN_ISA_C, &img, 10, 16, 0, NULL),
                 NIC_ERR_INVALID_ARGUMENT);
    nic_context_destroy(ctx);
    return test_finish("test_models_int_transform");
}
