#include "nn/ssim_loss.h"

#include <math.h>
#include <string.h>

#define SSIM_SIGMA 1.5
#define SSIM_C1 (0.01 * 0.01)
#define SSIM_C2 (0.03 * 0.03)

size_t nn_ssim_work_size(int h, int w)
{
    if (h < NN_SSIM_TAPS || w < NN_SSIM_TAPS)
        return 0;
    size_t oh = (size_t)(h - NN_SSIM_TAPS + 1), ow = (size_t)(w - NN_SSIM_TAPS + 1);
    /* 5 vertically filtered planes (oh x w), 5 statistics and 3 gradient maps (oh x ow). */
    return 5 * oh * (size_t)w + 8 * oh * ow;
}

/* The metric's window: exp(-d^2 / (2 sigma^2)) normalised over the 11 taps. */
static void window(double g[NN_SSIM_TAPS])
{
    double sum = 0;
    for (int i = 0; i < NN_SSIM_TAPS; i++) {
        double d = i - NN_SSIM_TAPS / 2;
        g[i] = exp(-0.5 / (SSIM_SIGMA * SSIM_SIGMA) * d * d);
        sum += g[i];
    }
    for (int i = 0; i < NN_SSIM_TAPS; i++)
        g[i] /= sum;
}

/* One plane; returns its mean SSIM and writes coef * d(mean)/dy into dy. */
static double ssim_plane(const float *x, const float *y, int h, int w, const double *g,
                         double coef, float *dy, double *work)
{
    const int oh = h - NN_SSIM_TAPS + 1, ow = w - NN_SSIM_TAPS + 1;
    const size_t vn = (size_t)oh * w, mn = (size_t)oh * ow;
    double *v = work;          /* [5][oh][w]: x, y, xx, yy, xy filtered down the columns */
    double *m = v + 5 * vn;    /* [5][oh][ow]: the window means */
    double *gm = m + 5 * mn;   /* [3][oh][ow]: dS/dmy, dS/dexy, dS/deyy */
    for (int r = 0; r < oh; r++)
        for (int c = 0; c < w; c++) {
            double s[5] = {0, 0, 0, 0, 0};
            for (int a = 0; a < NN_SSIM_TAPS; a++) {
                double xv = x[(size_t)(r + a) * w + c], yv = y[(size_t)(r + a) * w + c];
                s[0] += g[a] * xv;
                s[1] += g[a] * yv;
                s[2] += g[a] * xv * xv;
                s[3] += g[a] * yv * yv;
                s[4] += g[a] * xv * yv;
            }
            for (int k = 0; k < 5; k++)
                v[k * vn + (size_t)r * w + c] = s[k];
        }
    for (int k = 0; k < 5; k++)
        for (int r = 0; r < oh; r++)
            for (int c = 0; c < ow; c++) {
                double s = 0;
                const double *row = v + k * vn + (size_t)r * w + c;
                for (int b = 0; b < NN_SSIM_TAPS; b++)
                    s += g[b] * row[b];
                m[k * mn + (size_t)r * ow + c] = s;
            }
    double total = 0;
    for (size_t i = 0; i < mn; i++) {
        double mx = m[i], my = m[mn + i];
        double sxx = m[2 * mn + i] - mx * mx, syy = m[3 * mn + i] - my * my;
        double sxy = m[4 * mn + i] - mx * my;
        double a1 = 2 * mx * my + SSIM_C1, a2 = 2 * sxy + SSIM_C2;
        double b1 = mx * mx + my * my + SSIM_C1, b2 = sxx + syy + SSIM_C2;
        double s = a1 * a2 / (b1 * b2);
        total += s;
        gm[i] = coef * s * (2 * mx / a1 - 2 * mx / a2 - 2 * my / b1 + 2 * my / b2);
        gm[mn + i] = coef * s * 2 / a2;
        gm[2 * mn + i] = -coef * s / b2;
    }
    if (!dy)
        return total / (double)mn;
    /* Transposed window: spread each map along the rows (into v), then down the columns. */
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < oh; r++) {
            double *out = v + k * vn + (size_t)r * w;
            memset(out, 0, (size_t)w * sizeof(double));
            const double *gr = gm + k * mn + (size_t)r * ow;
            for (int c = 0; c < ow; c++)
                for (int b = 0; b < NN_SSIM_TAPS; b++)
                    out[c + b] += g[b] * gr[c];
        }
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) {
            double s[3] = {0, 0, 0};
            for (int a = 0; a < NN_SSIM_TAPS; a++) {
                int rr = r - a;
                if (rr < 0 || rr >= oh)
                    continue;
                for (int k = 0; k < 3; k++)
                    s[k] += g[a] * v[k * vn + (size_t)rr * w + c];
            }
            size_t q = (size_t)r * w + c;
            dy[q] = (float)(s[0] + x[q] * s[1] + 2.0 * y[q] * s[2]);
        }
    return total / (double)mn;
}

double nn_ssim_loss(const float *x, const float *y, int n, int h, int w, double scale,
                    double *ssim, float *dy, double *work)
{
    double g[NN_SSIM_TAPS];
    window(g);
    const size_t plane = (size_t)h * w;
    const double coef = scale / ((double)(h - NN_SSIM_TAPS + 1) * (w - NN_SSIM_TAPS + 1));
    double total = 0;
    for (int i = 0; i < n; i++) {
        double s = ssim_plane(x + i * plane, y + i * plane, h, w, g, coef,
                              dy ? dy + i * plane : NULL, work);
        if (ssim)
            ssim[i] = s;
        total += s;
    }
    return total;
}
