/* The deterministic inference kernels: integer tap-list convolutions and the
 * fixed-order GDN give the same bits on every instruction set (C, AVX2,
 * AVX-512) and match naive formulas; the phase decomposition reproduces the
 * reference (transposed) convolutions. */
#include "test.h"

#include "nn/gdn_det.h"
#include "nn/iconv.h"
#include "nn/layers.h"
#include "nn/phase.h"
#include "nn/rng.h"

static int isas[NN_ISA_COUNT], nisa;

static int16_t rand_i16(nn_rng *r, int extreme)
{
    if (extreme && nn_rng_below(r, 4) == 0)
        return nn_rng_below(r, 2) ? 32767 : -32767;
    return (int16_t)((int)nn_rng_below(r, 2001) - 1000);
}

/* 1..6 taps at random offsets over random channel ranges of C channels, read
 * `unit` at a time; each step of a tap has `per_step` weights. */
static int random_taps(nn_rng *r, int C, int unit, int per_step, nn_iconv_tap *taps,
                       size_t *w_count)
{
    int ntaps = 1 + (int)nn_rng_below(r, 6);
    *w_count = 0;
    for (int t = 0; t < ntaps; t++) {
        taps[t].dy = (int)nn_rng_below(r, 3) - 1;
        taps[t].dx = (int)nn_rng_below(r, 3) - 1;
        taps[t].c0 = unit * (int)nn_rng_below(r, (uint64_t)(C / unit));
        taps[t].n = 1 + (int)nn_rng_below(r, (uint64_t)((C - taps[t].c0) / unit));
        taps[t].w_off = *w_count;
        *w_count += (size_t)taps[t].n * per_step;
    }
    return ntaps;
}

/* A random group over a random input: every ISA equals the naive sum (mod 2^32). */
static void check_iconv16(nn_rng *r, int blocks, int npix, int extreme)
{
    const int C = 2 * (1 + (int)nn_rng_below(r, 9)), W = npix + 2, H = 3;
    nn_iconv_tap taps[6];
    size_t w_count;
    int ntaps = random_taps(r, C, 2, blocks * 32, taps, &w_count);
    int16_t *w = malloc(w_count * sizeof(int16_t)), *x = malloc((size_t)H * W * C * 2);
    int32_t bias[48], *acc[NN_ISA_COUNT];
    for (size_t i = 0; i < w_count; i++)
        w[i] = rand_i16(r, extreme);
    for (int i = 0; i < H * W * C; i++)
        x[i] = rand_i16(r, extreme);
    for (int l = 0; l < 16 * blocks; l++)
        bias[l] = extreme ? (int32_t)nn_rng_next(r) : (int32_t)nn_rng_below(r, 20001) - 10000;
    const int lanes = 16 * blocks + 5; /* the group sits inside a wider accumulator row */
    nn_iconv16_group g = {blocks, 3, ntaps, taps, w, bias};
    const int16_t *x0 = x + (ptrdiff_t)W * C + C; /* row 1, pixel 1 */
    for (int k = 0; k < nisa; k++) {
        acc[k] = calloc((size_t)npix * lanes, sizeof(int32_t));
        nn_iconv16_row((nn_isa)isas[k], x0, (ptrdiff_t)W * C, C, npix, &g, acc[k], lanes);
    }
    int bad = 0;
    for (int p = 0; p < npix; p++)
        for (int l = 0; l < 16 * blocks; l++) {
            uint32_t s = (uint32_t)bias[l];
            for (int t = 0; t < ntaps; t++)
                for (int q = 0; q < taps[t].n; q++)
                    for (int e = 0; e < 2; e++) {
                        int16_t xv = x0[taps[t].dy * (ptrdiff_t)W * C + (p + taps[t].dx) * C +
                                        taps[t].c0 + 2 * q + e];
                        int16_t wv = w[taps[t].w_off + ((size_t)q * blocks * 16 + l) * 2 + e];
                        s += (uint32_t)((int32_t)xv * wv);
                    }
            for (int k = 0; k < nisa; k++)
                bad += acc[k][p * lanes + 3 + l] != (int32_t)s;
        }
    CHECK_MSG(bad == 0, "iconv16 blocks %d npix %d extreme %d: %d sums differ", blocks, npix,
              extreme, bad);
    for (int k = 0; k < nisa; k++)
        free(acc[k]);
    free(w);
    free(x);
}

static void check_iconv32(nn_rng *r, int blocks, int npix)
{
    const int C = 1 + (int)nn_rng_below(r, 12), W = npix + 2, H = 3;
    nn_iconv_tap taps[6];
    size_t w_count;
    int ntaps = random_taps(r, C, 1, blocks * 8, taps, &w_count);
    int64_t *w = malloc(w_count * sizeof(int64_t)), bias[32], *acc[NN_ISA_COUNT];
    int32_t *x = malloc((size_t)H * W * C * sizeof(int32_t));
    for (size_t i = 0; i < w_count; i++)
        w[i] = (int32_t)nn_rng_next(r); /* full int32 range: products up to 2^62 */
    for (int i = 0; i < H * W * C; i++)
        x[i] = (int32_t)nn_rng_next(r);
    for (int l = 0; l < 8 * blocks; l++)
        bias[l] = (int64_t)(nn_rng_next(r) >> 4) - ((int64_t)1 << 59);
    const int lanes = 8 * blocks + 2;
    nn_iconv32_group g = {blocks, 1, ntaps, taps, w, bias};
    const int32_t *x0 = x + (ptrdiff_t)W * C + C;
    for (int k = 0; k < nisa; k++) {
        acc[k] = calloc((size_t)npix * lanes, sizeof(int64_t));
        nn_iconv32_row((nn_isa)isas[k], x0, (ptrdiff_t)W * C, C, npix, &g, acc[k], lanes);
    }
    int bad = 0;
    for (int p = 0; p < npix; p++)
        for (int l = 0; l < 8 * blocks; l++) {
            uint64_t s = (uint64_t)bias[l];
            for (int t = 0; t < ntaps; t++)
                for (int c = 0; c < taps[t].n; c++) {
                    int64_t xv = x0[taps[t].dy * (ptrdiff_t)W * C + (p + taps[t].dx) * C +
                                    taps[t].c0 + c];
                    s += (uint64_t)(xv * w[taps[t].w_off + (size_t)c * blocks * 8 + l]);
                }
            for (int k = 0; k < nisa; k++)
                bad += acc[k][p * lanes + 1 + l] != (int64_t)s;
        }
    CHECK_MSG(bad == 0, "iconv32 blocks %d npix %d: %d sums differ", blocks, npix, bad);
    for (int k = 0; k < nisa; k++)
        free(acc[k]);
    free(w);
    free(x);
}

/* GDN / inverse GDN: every ISA bit-identical, and close to a double formula. */
static void check_gdn(nn_rng *r, int c, int npix, int inverse, float mul)
{
    const int as = c + 3, os = c + 5;
    int32_t *acc = malloc((size_t)npix * as * sizeof(int32_t));
    float *scale = malloc(c * sizeof(float)), *beta = malloc(c * sizeof(float));
    float *gt = malloc((size_t)c * c * sizeof(float)), *scratch = malloc(2 * (size_t)npix * c * 4);
    int16_t *out[NN_ISA_COUNT];
    for (int i = 0; i < npix * as; i++)
        acc[i] = (int32_t)nn_rng_below(r, 1 << 24) - (1 << 23);
    for (int i = 0; i < c; i++) {
        scale[i] = ldexpf(1.0f, -22 - (int)nn_rng_below(r, 3));
        beta[i] = 0.5f + nn_rng_uniform(r);
    }
    for (int i = 0; i < c * c; i++)
        gt[i] = nn_rng_uniform(r) < 0.3f ? 0.3f * nn_rng_uniform(r) : 0.0f;
    for (int k = 0; k < nisa; k++) {
        out[k] = calloc((size_t)npix * os, sizeof(int16_t));
        nn_gdn_det_rows((nn_isa)isas[k], inverse, c, npix, acc, as, scale, beta, gt, mul, out[k],
                        os, scratch);
    }
    int bad = 0;
    double err = 0;
    for (int p = 0; p < npix; p++)
        for (int i = 0; i < c; i++) {
            double norm = beta[i];
            for (int j = 0; j < c; j++) {
                double v = (double)acc[p * as + j] * scale[j];
                norm += (double)gt[j * c + i] * v * v;
            }
            double v = (double)acc[p * as + i] * scale[i];
            double u = (inverse ? v * sqrt(norm) : v / sqrt(norm)) * mul;
            u = u > 32767 ? 32767 : (u < -32767 ? -32767 : u);
            err = fmax(err, fabs(u - out[0][p * os + i]));
            for (int k = 1; k < nisa; k++)
                bad += out[k][p * os + i] != out[0][p * os + i];
        }
    CHECK_MSG(bad == 0, "gdn c %d npix %d inverse %d: %d outputs differ between ISAs", c, npix,
              inverse, bad);
    CHECK_MSG(err <= 0.51, "gdn c %d inverse %d: off the double formula by %g units", c, inverse,
              err);
    for (int k = 0; k < nisa; k++)
        free(out[k]);
    free(acc);
    free(scale);
    free(beta);
    free(gt);
    free(scratch);
}

/* The layout's taps and weights, summed in double over every lane of an
 * output (one per split), equal the reference convolution. */
static void check_phase(nic_context *ctx, nn_rng *r, nn_phase_kind kind, int ci, int co, int block,
                        int unit, int split)
{
    nn_phase_layout l;
    CHECK_STATUS(nn_phase_layout_init(ctx, &l, kind, ci, co, block, unit, 3, split), NIC_OK);
    const int h = 3 + (int)nn_rng_below(r, 3), w = 2 + (int)nn_rng_below(r, 4); /* grid */
    const int k = kind == NN_PHASE_CONV_S1 ? 3 : 5;
    nn_conv_desc d;
    int in_h = kind == NN_PHASE_CONV_S2 ? 2 * h : h, in_w = kind == NN_PHASE_CONV_S2 ? 2 * w : w;
    if (kind == NN_PHASE_CONVT_S2)
        nn_conv_desc_init_transposed(ctx, &d, 1, ci, h, w, co, 5, 2, 2, 1, 1);
    else
        nn_conv_desc_init(ctx, &d, 1, ci, in_h, in_w, co, k, kind == NN_PHASE_CONV_S1 ? 1 : 2,
                          k / 2, 1);
    size_t nx = (size_t)ci * in_h * in_w, nw = (size_t)ci * co * k * k;
    int oh = kind == NN_PHASE_CONVT_S2 ? 2 * h : h, ow = kind == NN_PHASE_CONVT_S2 ? 2 * w : w;
    size_t ny = (size_t)co * oh * ow;
    float *x = malloc(nx * 4), *wt = malloc(nw * 4), *ref = malloc(ny * 4);
    double *out = calloc(ny, sizeof(double));
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)nn_rng_normal(r);
    for (size_t i = 0; i < nw; i++)
        wt[i] = (float)nn_rng_normal(r);
    if (kind == NN_PHASE_CONVT_S2)
        nn_conv_transpose_ref_forward(&d, x, wt, NULL, ref);
    else
        nn_conv2d_ref_forward(&d, x, wt, NULL, ref);
    double pad_err = 0;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
            for (int gi = 0; gi < l.ngroups; gi++) {
                const nn_phase_group *g = &l.groups[gi];
                for (int ln = 0; ln < g->blocks * block; ln++) {
                    int lane = g->lane0 + ln, oc = nn_phase_lane_channel(&l, lane);
                    double s = 0;
                    for (int t = g->tap0; t < g->tap0 + g->ntaps; t++) {
                        const nn_iconv_tap *tp = &l.taps[t];
                        int gy = i + tp->dy, gx = j + tp->dx;
                        if (gy < 0 || gy >= h || gx < 0 || gx >= w)
                            continue;
                        for (int ch = tp->c0; ch < tp->c0 + tp->n * unit; ch++) {
                            ptrdiff_t wi = nn_phase_weight_index(&l, lane, tp, ch);
                            if (wi < 0)
                                continue;
                            double xv;
                            if (kind == NN_PHASE_CONV_S2) {
                                int q = ch / l.cin_pad, ic = ch % l.cin_pad;
                                xv = x[((size_t)ic * in_h + 2 * gy + q / 2) * in_w + 2 * gx + q % 2];
                            } else {
                                xv = x[((size_t)ch * in_h + gy) * in_w + gx];
                            }
                            s += xv * wt[wi];
                        }
                    }
                    if (oc < 0) {
                        pad_err = fmax(pad_err, fabs(s));
                        continue;
                    }
                    int oy = i, ox = j;
                    if (kind == NN_PHASE_CONVT_S2) {
                        int ph = lane % l.split_lanes / co;
                        oy = 2 * i + ph / 2;
                        ox = 2 * j + ph % 2;
                    }
                    out[((size_t)oc * oh + oy) * ow + ox] += s;
                }
            }
    double err = 0;
    for (size_t i = 0; i < ny; i++)
        err = fmax(err, fabs(out[i] - ref[i]));
    CHECK_MSG(err < 1e-4 && pad_err == 0,
              "phase kind %d ci %d co %d block %d split %d: off the reference by %g (%g)", kind,
              ci, co, block, split, err, pad_err);
    CHECK(l.lanes == l.splits * l.split_lanes && (split == 0 || l.splits * split >= l.cin_pad));
    free(x);
    free(wt);
    free(ref);
    free(out);
    nn_phase_layout_free(&l);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    for (int i = 0; i < NN_ISA_COUNT; i++)
        if (nn_isa_supported((nn_isa)i))
            isas[nisa++] = i;
    printf("instruction sets compared: ");
    for (int k = 0; k < nisa; k++)
        printf("%s ", nn_isa_name((nn_isa)isas[k]));
    printf("\n");
    CHECK(isas[0] == NN_ISA_C);
    setenv("NIC_CPU", "c", 1);
    CHECK(nn_isa_best() == NN_ISA_C);
    unsetenv("NIC_CPU");
    CHECK(nn_isa_supported(nn_isa_best()));

    /* rounding: to nearest, ties to even, clamped to +-32767 */
    CHECK(nn_det_quantize(2.5f) == 2 && nn_det_quantize(3.5f) == 4 && nn_det_quantize(-2.5f) == -2);
    CHECK(nn_det_quantize(1e9f) == 32767 && nn_det_quantize(-1e9f) == -32767);
    CHECK(nn_det_quantize(-0.49f) == 0 && nn_det_quantize(100.51f) == 101);

    nn_rng r;
    nn_rng_seed(&r, 11);
    static const int npix[] = {1, 3, 4, 7, 8, 13, 24, 25, 37, 96};
    for (int blocks = 1; blocks <= 3; blocks++)
        for (size_t i = 0; i < sizeof(npix) / sizeof(npix[0]); i++) {
            check_iconv16(&r, blocks, npix[i], 0);
            check_iconv16(&r, blocks, npix[i], 1); /* sums that wrap */
        }
    for (int blocks = 1; blocks <= 4; blocks++)
        for (size_t i = 0; i < sizeof(npix) / sizeof(npix[0]); i++)
            check_iconv32(&r, blocks, npix[i]);
    static const int cs[] = {8, 16, 24, 40, 96};
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++)
        for (int inverse = 0; inverse < 2; inverse++) {
            check_gdn(&r, cs[i], 1, inverse, 2048.0f);
            check_gdn(&r, cs[i], 7, inverse, 2048.0f);
            check_gdn(&r, cs[i], 21, inverse, 2048.0f);
        }
    check_gdn(&r, 5, 6, 1, 2048.0f); /* odd channel counts take the C path everywhere */
    /* Many outputs near full scale: one rounding done differently (a separate
     * multiply and add instead of the fused one) changes some of them. */
    check_gdn(&r, 96, 2000, 1, 16384.0f);
    check_gdn(&r, 96, 2000, 0, 16384.0f);

    for (int unit = 1; unit <= 2; unit++) {
        int block = unit == 2 ? 16 : 8;
        for (int split = 0; split <= 2 * unit; split += 2 * unit) { /* 0: one sum; else 2 or 4 */
            check_phase(ctx, &r, NN_PHASE_CONVT_S2, 5, block, block, unit, split); /* by phase */
            check_phase(ctx, &r, NN_PHASE_CONVT_S2, 4, 2 * block, block, unit, split);
            check_phase(ctx, &r, NN_PHASE_CONVT_S2, 3, 3, block, unit, split); /* shared blocks */
            check_phase(ctx, &r, NN_PHASE_CONVT_S2, 6, 5, block, unit, split);
            check_phase(ctx, &r, NN_PHASE_CONV_S2, 3, 5, block, unit, split);
            check_phase(ctx, &r, NN_PHASE_CONV_S2, 7, block + 3, block, unit, split);
            check_phase(ctx, &r, NN_PHASE_CONV_S1, 3, 7, block, unit, split);
            check_phase(ctx, &r, NN_PHASE_CONV_S1, 6, 2 * block, block, unit, split);
        }
    }
    nic_context_destroy(ctx);
    return test_finish("test_nn_iconv");
}
