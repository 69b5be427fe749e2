/*
 * MS-SSIM loss: PyTorch fixtures (5 scales on 8-bit values in [0, 1]; 3
 * scales on [0, 255], several planes), finite differences on the double
 * kernels through every scale, and agreement with the metric
 * (src/metrics/ssim.c) that reports MS-SSIM.
 */
#include "test_nn_util.h"

#include "metrics/metrics.h"
#include "nn/layers.h"

static nic_context *ctx;

typedef struct msssim_case {
    int n, c, h, w, scales;
    double range;
    double *a, *b, *da, loss;
} msssim_case;

/* a, b as double: U8 tensors are k / 255 (the [0, 1] crops of src/data). */
static double *fixture_image(const nn_st_file *f, const char *name, size_t count)
{
    const nn_st_tensor *t = nn_st_find(f, name);
    CHECK_MSG(t && t->count == count, "fixture tensor %s missing or not %zu values", name, count);
    if (!t || t->count != count)
        return xcalloc_f64(count);
    if (t->dtype != NN_DTYPE_U8)
        return fixture_f64(ctx, f, name, NULL);
    double *p = xcalloc_f64(count);
    for (size_t i = 0; i < count; i++)
        p[i] = t->data[i] / 255.0;
    return p;
}

static int load_case(const nn_st_file *f, const char *pre, msssim_case *m)
{
    const char *meta = nn_st_get_meta(f, pre);
    CHECK(meta && sscanf(meta, "%d %d %d %d %d %lf", &m->n, &m->c, &m->h, &m->w, &m->scales,
                         &m->range) == 6);
    if (!meta)
        return 0;
    char k[64];
    size_t count = (size_t)m->n * m->c * m->h * m->w, nd;
    snprintf(k, sizeof(k), "%s/a", pre);
    m->a = fixture_image(f, k, count);
    snprintf(k, sizeof(k), "%s/b", pre);
    m->b = fixture_image(f, k, count);
    snprintf(k, sizeof(k), "%s/da", pre);
    m->da = fixture_f64(ctx, f, k, &nd);
    CHECK(nd == count);
    snprintf(k, sizeof(k), "%s/loss", pre);
    double *loss = fixture_f64(ctx, f, k, NULL);
    m->loss = loss[0];
    free(loss);
    return nd == count;
}

static void test_torch_case(const msssim_case *m, const char *pre)
{
    const size_t count = (size_t)m->n * m->c * m->h * m->w;
    CHECK(nn_msssim_max_scales(m->h, m->w) == m->scales);
    const size_t wc = nn_msssim_work_count(m->h, m->w, m->scales);
    /* double: exactly the work size (ASan sees any overrun) */
    double *work = xcalloc_f64(wc), *da = xcalloc_f64(count);
    double loss = nn_msssim_loss_forward_f64(m->a, m->b, m->n, m->c, m->h, m->w, m->range,
                                             m->scales, work);
    CHECK_MSG(fabs(loss - m->loss) < 1e-13, "%s f64 loss %.15g, torch %.15g", pre, loss, m->loss);
    double loss2 = nn_msssim_loss_backward_f64(m->a, m->b, m->n, m->c, m->h, m->w, m->range,
                                               m->scales, 1.0, da, work);
    CHECK(loss2 == loss);
    /* per-pixel gradients are ~1e-5 (the loss is a mean over the plane) */
    double dmax = 0;
    for (size_t i = 0; i < count; i++)
        dmax = fmax(dmax, fabs(m->da[i]));
    char what[96];
    snprintf(what, sizeof(what), "%s f64 da", pre);
    check_close_f64(what, da, m->da, count, 1e-11 * dmax, 1e-9);
    printf("msssim %s: loss %.6f; torch |diff| f64 loss %.2g, da max %.2g (max |da| %.2g)\n", pre,
           loss, fabs(loss - m->loss), max_abs_diff(da, m->da, count), dmax);
    /* a scale factor multiplies the gradient */
    double *da3 = xcalloc_f64(count);
    nn_msssim_loss_backward_f64(m->a, m->b, m->n, m->c, m->h, m->w, m->range, m->scales, 3.0,
                                da3, work);
    for (size_t i = 0; i < count; i++)
        da3[i] /= 3.0;
    snprintf(what, sizeof(what), "%s f64 da (scale 3)", pre);
    check_close_f64(what, da3, m->da, count, 1e-11 * dmax, 1e-9);

    /* float */
    float *af = to_f32(m->a, count), *bf = to_f32(m->b, count), *daf = xcalloc_f32(count),
          *workf = xcalloc_f32(wc);
    double lossf = nn_msssim_loss_backward(af, bf, m->n, m->c, m->h, m->w, m->range, m->scales,
                                           1.0, daf, workf);
    CHECK_MSG(fabs(lossf - m->loss) < 1e-5, "%s f32 loss %.9g, torch %.9g", pre, lossf, m->loss);
    CHECK(nn_msssim_loss_forward(af, bf, m->n, m->c, m->h, m->w, m->range, m->scales, workf) ==
          lossf);
    snprintf(what, sizeof(what), "%s f32 da", pre);
    check_close_f32(what, daf, m->da, count, 1e-3 * dmax, 1e-3);
    double fmaxd = 0;
    for (size_t i = 0; i < count; i++)
        fmaxd = fmax(fmaxd, fabs(daf[i] - m->da[i]));
    printf("msssim %s: torch |diff| f32 loss %.2g, da max %.2g\n", pre, fabs(lossf - m->loss),
           fmaxd);
    free(af), free(bf), free(daf), free(workf), free(work), free(da), free(da3);
}

typedef struct msssim_fd {
    double *a, *b, *work, out;
    int n, c, h, w, scales;
    double range;
} msssim_fd;

static void msssim_fd_forward(void *user)
{
    msssim_fd *f = user;
    f->out = nn_msssim_loss_forward_f64(f->a, f->b, f->n, f->c, f->h, f->w, f->range, f->scales,
                                        f->work);
}

/* Finite differences of the loss; every step-th pixel (step 1: all). The
 * loss is a mean over ~1e4 pixels: it is scaled by the pixel count to make
 * the gradient O(1), and one pixel moves it so little that rounding in the
 * mean needs eps = 1e-5 (1e-6 or 1e-7 measured 2e-6 / 2e-5 errors: rounding,
 * not the gradient). A wrong gradient misses by O(1). */
static void fd_case(const char *what, msssim_fd *f, size_t step, double tol)
{
    const size_t count = (size_t)f->n * f->c * f->h * f->w;
    double *da = xcalloc_f64(count);
    const double scale = (double)count;
    f->work = xcalloc_f64(nn_msssim_work_count(f->h, f->w, f->scales));
    nn_msssim_loss_backward_f64(f->a, f->b, f->n, f->c, f->h, f->w, f->range, f->scales, scale, da,
                                f->work);
    double worst = fd_check_every(what, f->a, count, step, 1e-5, tol, da, &f->out, &scale, 1,
                                  msssim_fd_forward, f);
    printf("msssim fd %s: worst relative error %.2g over %zu pixels\n", what, worst,
           (count + step - 1) / step);
    free(da), free(f->work);
}

static void test_fd(const msssim_case *five)
{
    /* a 46x45 plane, 3 scales, every pixel (borders and pooled odd edges
     * included); two 24x26 planes on [0, 255], 2 scales, every pixel */
    nn_rng rng;
    nn_rng_seed(&rng, 21);
    const int h = 46, w = 45;
    double *a = xcalloc_f64((size_t)2 * h * w), *b = xcalloc_f64((size_t)2 * h * w);
    for (int i = 0; i < 2 * h * w; i++) {
        int y = (i / w) % h, x = i % w;
        b[i] = 0.5 + 0.3 * sin(0.21 * x + 0.13 * y) + 0.05 * nn_rng_normal(&rng);
        a[i] = b[i] + 0.1 * nn_rng_normal(&rng);
    }
    msssim_fd f = {a, b, NULL, 0, 1, 1, h, w, 3, 1.0};
    fd_case("46x45, 3 scales", &f, 1, 1e-6);
    for (int i = 0; i < 2 * 24 * 26; i++)
        a[i] *= 255, b[i] *= 255;
    msssim_fd g = {a, b, NULL, 0, 2, 1, 24, 26, 2, 255.0};
    fd_case("2 planes 24x26 on [0, 255], 2 scales", &g, 1, 1e-6);
    free(a), free(b);
    /* 5 scales on the fixture's 176x184 plane: every 307th pixel (the run
     * time under ASan); 32 384 pixels in the mean leave ~1e-6 of rounding at
     * this eps */
    if (five->a) {
        msssim_fd p = {five->a, five->b, NULL, 0, five->n, five->c, five->h, five->w, 5, 1.0};
        fd_case("176x184, 5 scales", &p, 307, 1e-5);
    }
}

static void test_metric_agreement(const msssim_case *m)
{
    /* 1 - loss is the MS-SSIM the metric reports (5 scales, 8-bit range) */
    const size_t hw = (size_t)m->h * m->w;
    double *x = xcalloc_f64(hw), *y = xcalloc_f64(hw);
    for (size_t i = 0; i < hw; i++) {
        x[i] = m->a[i] * 255;
        y[i] = m->b[i] * 255;
    }
    double ssim = 0, ms = 0;
    CHECK_STATUS(nic_ssim_ms_ssim_planes(ctx, x, y, (size_t)m->w, (size_t)m->h, &ssim, &ms),
                 NIC_OK);
    double *work = xcalloc_f64(nn_msssim_work_count(m->h, m->w, 5));
    double loss = nn_msssim_loss_forward_f64(x, y, 1, 1, m->h, m->w, 255.0, 5, work);
    CHECK_MSG(fabs((1 - loss) - ms) < 1e-12, "1 - loss %.15g, metric MS-SSIM %.15g", 1 - loss, ms);
    /* one scale is SSIM */
    double loss1 = nn_msssim_loss_forward_f64(x, y, 1, 1, m->h, m->w, 255.0, 1, work);
    CHECK_MSG(fabs((1 - loss1) - ssim) < 1e-12, "1 - loss %.15g, metric SSIM %.15g", 1 - loss1,
              ssim);
    /* identical images: loss 0, zero gradient */
    double *da = xcalloc_f64(hw);
    double l0 = nn_msssim_loss_backward_f64(y, y, 1, 1, m->h, m->w, 255.0, 5, 1.0, da, work);
    CHECK_NEAR(l0, 0.0, 1e-12);
    double gmax = 0;
    for (size_t i = 0; i < hw; i++)
        gmax = fmax(gmax, fabs(da[i]));
    CHECK_MSG(gmax < 1e-12, "gradient at the optimum %.3g", gmax);
    free(x), free(y), free(work), free(da);
}

static void test_sizes(void)
{
    CHECK(nn_msssim_max_scales(176, 176) == 5);
    CHECK(nn_msssim_max_scales(175, 400) == 4);
    CHECK(nn_msssim_max_scales(128, 128) == 4);
    CHECK(nn_msssim_max_scales(11, 11) == 1);
    CHECK(nn_msssim_max_scales(10, 100) == 0);
    /* too many scales for the plane: NaN and a zero gradient, nothing read past the work */
    double a[24 * 24], b[24 * 24], da[24 * 24];
    for (int i = 0; i < 24 * 24; i++)
        a[i] = b[i] = da[i] = 0.5 + 0.001 * i;
    double *work = xcalloc_f64(nn_msssim_work_count(24, 24, 2));
    CHECK(isnan(nn_msssim_loss_backward_f64(a, b, 1, 1, 24, 24, 1.0, 3, 1.0, da, work)));
    CHECK(da[0] == 0 && da[24 * 24 - 1] == 0);
    CHECK(!isnan(nn_msssim_loss_forward_f64(a, b, 1, 1, 24, 24, 1.0, 2, work)));
    free(work);
    /* anti-correlated content: a term <= 0 makes MS-SSIM 0 (loss 1) and no gradient */
    double c[24 * 24];
    for (int i = 0; i < 24 * 24; i++) {
        a[i] = ((i / 24 + i % 24) % 2) ? 1.0 : 0.0;
        c[i] = 1.0 - a[i];
    }
    work = xcalloc_f64(nn_msssim_work_count(24, 24, 2));
    double l = nn_msssim_loss_backward_f64(a, c, 1, 1, 24, 24, 1.0, 2, 1.0, da, work);
    CHECK_NEAR(l, 1.0, 1e-15);
    double gmax = 0;
    for (int i = 0; i < 24 * 24; i++)
        gmax = fmax(gmax, fabs(da[i]));
    CHECK(gmax == 0);
    free(work);
}

int main(int argc, char **argv)
{
    ctx = nic_context_create();
    test_sizes();
    nn_st_file f;
    msssim_case five = {0}, three = {0};
    if (open_fixture(ctx, argc, argv, "msssim.safetensors", &f)) {
        if (load_case(&f, "five", &five)) {
            test_torch_case(&five, "5 scales [0,1]");
            test_metric_agreement(&five);
        }
        if (load_case(&f, "three", &three))
            test_torch_case(&three, "3 scales [0,255]");
        nn_st_free(&f);
    }
    test_fd(&five);
    free(five.a), free(five.b), free(five.da), free(three.a), free(three.b), free(three.da);
    nic_context_destroy(ctx);
    return test_finish("test_nn_msssim");
}
