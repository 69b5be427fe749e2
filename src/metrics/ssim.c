/*
 * SSIM and MS-SSIM on double planes, matching scikit-image 0.19
 * (structural_similarity with gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False) and tests/fixtures/metrics/generate.py.
 *
 * The five local statistics (means of x, y, x^2, y^2, xy under an 11-tap
 * Gaussian) come from a separable filter: a vertical pass over 11 input rows
 * gives one filtered row, a horizontal pass over it gives the pixels. Only
 * the cropped map is computed: the crop (5 pixels) equals the filter radius,
 * so every window it keeps lies inside the image and the boundary mode
 * (scipy 'reflect') never contributes to the mean.
 *
 * Rows are independent; OpenMP spreads them over threads, each with its own
 * scratch row. Each row's sums are stored and added in row order, so the
 * result does not depend on the number of threads.
 */
#include "metrics/metrics.h"

#include <math.h>
#include <stdlib.h>

#include "common/context.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* SSIM stabilising constants for 8-bit data: C = (K * 255)^2. */
#define SSIM_K1 0.01
#define SSIM_K2 0.03

/* Element-wise loops below have no dependence between iterations; at -O2
 * GCC vectorises only loops marked so (and vectorising them changes no
 * rounding: each element is computed exactly as in the scalar loop). */
#ifdef _OPENMP
#define SIMD_LOOP _Pragma("omp simd")
#else
#define SIMD_LOOP
#endif

/* Below this many output pixels one thread is faster than waking a team. */
#define SSIM_PARALLEL_MIN_PIXELS 16384

static const double ms_ssim_weights[NIC_MS_SSIM_SCALES] = {0.0448, 0.2856, 0.3001, 0.2363,
                                                           0.1333};

/* w[k] is the weight at offset +-k: exp(-k^2 / (2 sigma^2)) normalised to sum
 * 1 over the 11 taps, computed as scipy.ndimage._gaussian_kernel1d does. */
static void gaussian_weights(double w[NIC_SSIM_RADIUS + 1])
{
    double taps[NIC_SSIM_TAPS];
    double sum = 0.0;
    for (int i = 0; i < NIC_SSIM_TAPS; i++) {
        double d = (double)(i - NIC_SSIM_RADIUS);
        taps[i] = exp(-0.5 / (NIC_SSIM_SIGMA * NIC_SSIM_SIGMA) * (d * d));
        sum += taps[i];
    }
    for (int k = 0; k <= NIC_SSIM_RADIUS; k++)
        w[k] = taps[NIC_SSIM_RADIUS + k] / sum;
}

/* Per-thread scratch for one row: the five statistics after the vertical
 * pass (width values each), then after the horizontal pass, then the SSIM
 * and cs maps (width - 2 * RADIUS values each). */
typedef struct row_scratch {
    double *vx, *vy, *vxx, *vyy, *vxy;
    double *ux, *uy, *uxx, *uyy, *uxy;
    double *ssim, *cs;
} row_scratch;

#define ROW_SCRATCH_ARRAYS 12

static row_scratch row_scratch_at(double *mem, size_t width)
{
    row_scratch r;
    double **slots[ROW_SCRATCH_ARRAYS] = {&r.vx, &r.vy, &r.vxx, &r.vyy, &r.vxy, &r.ux,
                                          &r.uy, &r.uxx, &r.uyy, &r.uxy, &r.ssim, &r.cs};
    for (int i = 0; i < ROW_SCRATCH_ARRAYS; i++)
        *slots[i] = mem + (size_t)i * width;
    return r;
}

/*
 * Vertical pass for image row `row` (RADIUS <= row < height - RADIUS), all
 * columns. Same operation order as scipy's symmetric correlate1d: centre
 * tap first, then the pairs (row - k, row + k) from the outermost in.
 * Loops run along the row so the compiler can vectorise them; that changes
 * no rounding, each output is still computed in the order above.
 */
static void filter_vertical(const double *x, const double *y, size_t width, size_t row,
                            const double *w, const row_scratch *f)
{
    /* Distinct arrays: restrict lets the compiler vectorise without
     * run-time overlap checks. */
    double *restrict sx = f->vx, *restrict sy = f->vy;
    double *restrict sxx = f->vxx, *restrict syy = f->vyy, *restrict sxy = f->vxy;
    const double *restrict xc = x + row * width, *restrict yc = y + row * width;
    const double w0 = w[0];
    SIMD_LOOP
    for (size_t j = 0; j < width; j++) {
        double a = xc[j], b = yc[j];
        sx[j] = a * w0;
        sy[j] = b * w0;
        sxx[j] = a * a * w0;
        syy[j] = b * b * w0;
        sxy[j] = a * b * w0;
    }
    for (size_t k = NIC_SSIM_RADIUS; k >= 1; k--) {
        const double *restrict xu = x + (row - k) * width, *restrict xd = x + (row + k) * width;
        const double *restrict yu = y + (row - k) * width, *restrict yd = y + (row + k) * width;
        const double wk = w[k];
        SIMD_LOOP
        for (size_t j = 0; j < width; j++) {
            double a0 = xu[j], a1 = xd[j], b0 = yu[j], b1 = yd[j];
            sx[j] += (a0 + a1) * wk;
            sy[j] += (b0 + b1) * wk;
            sxx[j] += (a0 * a0 + a1 * a1) * wk;
            syy[j] += (b0 * b0 + b1 * b1) * wk;
            sxy[j] += (a0 * b0 + a1 * b1) * wk;
        }
    }
}

/* Horizontal pass of one vertically filtered row v, same order; out[j] is
 * the value at column j + RADIUS, for the cols cropped columns. */
static void filter_horizontal(const double *restrict v, size_t cols, const double *w,
                              double *restrict out)
{
    const double *restrict c = v + NIC_SSIM_RADIUS;
    const double w0 = w[0];
    SIMD_LOOP
    for (size_t j = 0; j < cols; j++)
        out[j] = c[j] * w0;
    for (size_t k = NIC_SSIM_RADIUS; k >= 1; k--) {
        const double *restrict l = c - k, *restrict r = c + k;
        const double wk = w[k];
        SIMD_LOOP
        for (size_t j = 0; j < cols; j++)
            out[j] += (l[j] + r[j]) * wk;
    }
}

/* SSIM and cs maps of one row from the filtered statistics, in
 * scikit-image's operation order; then their sums, left to right. */
static void ssim_row(const row_scratch *f, size_t cols, double *ssim_sum, double *cs_sum)
{
    const double c1 = (SSIM_K1 * NIC_METRICS_PEAK) * (SSIM_K1 * NIC_METRICS_PEAK);
    const double c2 = (SSIM_K2 * NIC_METRICS_PEAK) * (SSIM_K2 * NIC_METRICS_PEAK);
    const double *restrict mx = f->ux, *restrict my = f->uy;
    const double *restrict mxx = f->uxx, *restrict myy = f->uyy, *restrict mxy = f->uxy;
    double *restrict ssim = f->ssim, *restrict cs = f->cs;
    SIMD_LOOP
    for (size_t j = 0; j < cols; j++) {
        double ux = mx[j], uy = my[j];
        /* Population (co)variances, as with use_sample_covariance=False. */
        double vx = mxx[j] - ux * ux;
        double vy = myy[j] - uy * uy;
        double vxy = mxy[j] - ux * uy;
        double a1 = 2.0 * ux * uy + c1;
        double a2 = 2.0 * vxy + c2;
        double b1 = ux * ux + uy * uy + c1;
        double b2 = vx + vy + c2;
        ssim[j] = (a1 * a2) / (b1 * b2);
        cs[j] = a2 / b2;
    }
    double s_sum = 0.0, c_sum = 0.0;
    for (size_t j = 0; j < cols; j++) {
        s_sum += ssim[j];
        c_sum += cs[j];
    }
    *ssim_sum = s_sum;
    *cs_sum = c_sum;
}

nic_status nic_ssim_plane(nic_context *ctx, const double *x, const double *y, size_t width,
                          size_t height, nic_ssim_means *out)
{
    if (width < NIC_SSIM_TAPS || height < NIC_SSIM_TAPS) {
        out->ssim = out->cs = NAN;
        return NIC_OK;
    }
    size_t rows = height - 2 * NIC_SSIM_RADIUS;
    size_t cols = width - 2 * NIC_SSIM_RADIUS;
    int threads = 1;
#ifdef _OPENMP
    if (rows * cols >= SSIM_PARALLEL_MIN_PIXELS)
        threads = omp_get_max_threads();
    if ((size_t)threads > rows)
        threads = (int)rows;
#endif

    /* One allocation: per-thread scratch rows, then the per-row sums. */
    size_t scratch_per_thread = ROW_SCRATCH_ARRAYS * width;
    double *mem = malloc(((size_t)threads * scratch_per_thread + 2 * rows) * sizeof(double));
    if (!mem)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "SSIM: out of memory for %zux%zu planes", width,
                        height);
    double *row_ssim = mem + (size_t)threads * scratch_per_thread;
    double *row_cs = row_ssim + rows;

    double w[NIC_SSIM_RADIUS + 1];
    gaussian_weights(w);

    long nrows = (long)rows;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (long r = 0; r < nrows; r++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        row_scratch f = row_scratch_at(mem + (size_t)t * scratch_per_thread, width);
        filter_vertical(x, y, width, (size_t)r + NIC_SSIM_RADIUS, w, &f);
        filter_horizontal(f.vx, cols, w, f.ux);
        filter_horizontal(f.vy, cols, w, f.uy);
        filter_horizontal(f.vxx, cols, w, f.uxx);
        filter_horizontal(f.vyy, cols, w, f.uyy);
        filter_horizontal(f.vxy, cols, w, f.uxy);
        ssim_row(&f, cols, &row_ssim[r], &row_cs[r]);
    }

    double ssim_total = 0.0, cs_total = 0.0;
    for (size_t r = 0; r < rows; r++) {
        ssim_total += row_ssim[r];
        cs_total += row_cs[r];
    }
    free(mem);
    double count = (double)rows * (double)cols;
    out->ssim = ssim_total / count;
    out->cs = cs_total / count;
    return NIC_OK;
}

void nic_downsample_2x2(const double *src, size_t width, size_t height, double *dst)
{
    size_t w2 = width / 2;
    long h2 = (long)(height / 2);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (w2 * (size_t)h2 >= SSIM_PARALLEL_MIN_PIXELS * 4)
#endif
    for (long i = 0; i < h2; i++) {
        const double *r0 = src + 2 * (size_t)i * width, *r1 = r0 + width;
        double *d = dst + (size_t)i * w2;
        for (size_t j = 0; j < w2; j++)
            d[j] = (r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1]) * 0.25;
    }
}

/* A negative mean (anti-correlated content) would make the fractional power
 * undefined; MS-SSIM counts it as no similarity at all. */
static double clamp_nonnegative(double v)
{
    return v > 0.0 ? v : 0.0;
}

nic_status nic_ssim_ms_ssim_planes(nic_context *ctx, const double *x, const double *y,
                                   size_t width, size_t height, double *ssim, double *ms_ssim)
{
    nic_ssim_means m;
    NIC_TRY(nic_ssim_plane(ctx, x, y, width, height, &m));
    if (ssim)
        *ssim = m.ssim;
    if (!ms_ssim)
        return NIC_OK;

    /* Each of the 4 poolings halves a side, rounding down. */
    const unsigned shift = NIC_MS_SSIM_SCALES - 1;
    if ((width >> shift) < NIC_MS_SSIM_MIN_SIDE || (height >> shift) < NIC_MS_SSIM_MIN_SIDE) {
        *ms_ssim = NAN;
        return NIC_OK;
    }

    /* Ping-pong buffers: scale 2 goes to `big`, 3 to `small`, 4 to `big`,
     * 5 to `small`; each holds the x and y planes side by side. */
    size_t big_n = (width / 2) * (height / 2), small_n = (width / 4) * (height / 4);
    double *mem = malloc(2 * (big_n + small_n) * sizeof(double));
    if (!mem)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "MS-SSIM: out of memory for the %zux%zu pyramid",
                        width, height);
    double *big = mem, *small = mem + 2 * big_n;

    double value = pow(clamp_nonnegative(m.cs), ms_ssim_weights[0]);
    const double *cx = x, *cy = y;
    size_t w = width, h = height;
    nic_status status = NIC_OK;
    for (int scale = 1; scale < NIC_MS_SSIM_SCALES; scale++) {
        double *dst = (scale % 2) ? big : small;
        size_t dst_n = (w / 2) * (h / 2);
        nic_downsample_2x2(cx, w, h, dst);
        nic_downsample_2x2(cy, w, h, dst + dst_n);
        cx = dst;
        cy = dst + dst_n;
        w /= 2;
        h /= 2;
        status = nic_ssim_plane(ctx, cx, cy, w, h, &m);
        if (status != NIC_OK)
            break;
        double term = scale == NIC_MS_SSIM_SCALES - 1 ? m.ssim : m.cs;
        value *= pow(clamp_nonnegative(term), ms_ssim_weights[scale]);
    }
    free(mem);
    if (status == NIC_OK)
        *ms_ssim = value;
    return status;
}
