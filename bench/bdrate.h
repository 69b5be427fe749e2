/*
 * bdrate.h: Bjøntegaard delta rate with monotone piecewise cubic (PCHIP)
 * interpolation, as DESIGN.md's evaluation protocol asks. Header only (static
 * inline), shared by bench/eval_rd_summary.c and tests/unit/test_bdrate.c.
 *
 * A curve is a set of (rate, quality) points: rate in bits per pixel (any
 * positive unit works), quality in dB (PSNR, or -10 log10(1 - MS-SSIM)).
 * bd_rate():
 *   1. sorts each curve by rate and drops dominated points (a point must have
 *      more quality than every cheaper one), so quality rises strictly;
 *   2. cuts it to [rmin, rmax]: the points inside are kept, and where the
 *      curve crosses rmin or rmax an end point is added there, interpolated
 *      linearly in (log rate, quality) between the two points around it;
 *   3. interpolates log(rate) as a function of quality with PCHIP
 *      (Fritsch-Carlson slopes, the end-point rule of SciPy's
 *      PchipInterpolator), integrates both interpolants exactly over the
 *      overlapping quality range [lo, hi] and returns
 *      100 * (exp(mean of log rate_test - log rate_anchor) - 1):
 *      negative = the test codec needs fewer bits for the same quality.
 * Fewer than 2 points left on a curve, or no overlap: BD_NONE.
 */
#ifndef NIC_BENCH_BDRATE_H
#define NIC_BENCH_BDRATE_H

#include <math.h>
#include <stdlib.h>

#define BD_MAX_POINTS 256

typedef struct bd_point {
    double rate, quality;
} bd_point;

enum { BD_OK = 0, BD_NONE = -1 };

/* PCHIP slopes d[0..n-1] at the knots x (strictly increasing), y. */
static inline void bd_pchip_slopes(const double *x, const double *y, int n, double *d)
{
    if (n < 2) {
        if (n == 1)
            d[0] = 0;
        return;
    }
    double h[BD_MAX_POINTS], m[BD_MAX_POINTS];
    for (int k = 0; k + 1 < n; k++) {
        h[k] = x[k + 1] - x[k];
        m[k] = (y[k + 1] - y[k]) / h[k];
    }
    if (n == 2) {
        d[0] = d[1] = m[0];
        return;
    }
    for (int k = 1; k + 1 < n; k++) {
        if (m[k - 1] * m[k] <= 0) {
            d[k] = 0;
        } else { /* weighted harmonic mean (Fritsch-Butland / Brodlie) */
            double w1 = 2 * h[k] + h[k - 1], w2 = h[k] + 2 * h[k - 1];
            d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k]);
        }
    }
    /* ends: three-point formula, made shape preserving */
    for (int e = 0; e < 2; e++) {
        double h0 = e ? h[n - 2] : h[0], h1 = e ? h[n - 3] : h[1];
        double m0 = e ? m[n - 2] : m[0], m1 = e ? m[n - 3] : m[1];
        double de = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1);
        if ((de > 0) != (m0 > 0) || de == 0 || m0 == 0)
            de = 0;
        else if ((m0 > 0) != (m1 > 0) && fabs(de) > 3 * fabs(m0))
            de = 3 * m0;
        d[e ? n - 1 : 0] = de;
    }
}

/* The cubic Hermite piece k at t in [0, 1], and its integral over [0, t] in units of t. */
static inline double bd_hermite(double y0, double y1, double d0, double d1, double h, double t)
{
    double t2 = t * t, t3 = t2 * t;
    return y0 * (2 * t3 - 3 * t2 + 1) + h * d0 * (t3 - 2 * t2 + t) + y1 * (-2 * t3 + 3 * t2) +
           h * d1 * (t3 - t2);
}

static inline double bd_hermite_antideriv(double y0, double y1, double d0, double d1, double h,
                                          double t)
{
    double t2 = t * t, t3 = t2 * t, t4 = t3 * t;
    return y0 * (t4 / 2 - t3 + t) + h * d0 * (t4 / 4 - 2 * t3 / 3 + t2 / 2) +
           y1 * (-t4 / 2 + t3) + h * d1 * (t4 / 4 - t3 / 3);
}

/* The PCHIP interpolant at u (x[0] <= u <= x[n-1]; clamped outside). */
static inline double bd_pchip_eval(const double *x, const double *y, const double *d, int n,
                                   double u)
{
    if (n == 1 || u <= x[0])
        return y[0];
    if (u >= x[n - 1])
        return y[n - 1];
    int k = 0;
    while (k + 2 < n && u > x[k + 1])
        k++;
    double h = x[k + 1] - x[k];
    return bd_hermite(y[k], y[k + 1], d[k], d[k + 1], h, (u - x[k]) / h);
}

/* Exact integral of the PCHIP interpolant over [a, b], x[0] <= a <= b <= x[n-1]. */
static inline double bd_pchip_integral(const double *x, const double *y, const double *d, int n,
                                       double a, double b)
{
    double s = 0;
    for (int k = 0; k + 1 < n; k++) {
        double lo = a > x[k] ? a : x[k], hi = b < x[k + 1] ? b : x[k + 1];
        if (hi <= lo)
            continue;
        double h = x[k + 1] - x[k];
        s += h * (bd_hermite_antideriv(y[k], y[k + 1], d[k], d[k + 1], h, (hi - x[k]) / h) -
                  bd_hermite_antideriv(y[k], y[k + 1], d[k], d[k + 1], h, (lo - x[k]) / h));
    }
    return s;
}

static inline int bd_cmp_rate(const void *pa, const void *pb)
{
    const bd_point *a = pa, *b = pb;
    if (a->rate != b->rate)
        return a->rate < b->rate ? -1 : 1;
    /* equal rate: the better quality first, so the other one is dropped */
    return a->quality > b->quality ? -1 : a->quality < b->quality;
}

/*
 * Steps 1 and 2 above: writes the curve as knots q[] (quality, strictly
 * increasing) and lr[] (log rate) and returns their number (at most
 * BD_MAX_POINTS; points past that are ignored). rmin = 0 and rmax = INFINITY
 * cut nothing.
 */
static inline int bd_prepare(const bd_point *p, int n, double rmin, double rmax, double *q,
                             double *lr)
{
    bd_point s[BD_MAX_POINTS], f[BD_MAX_POINTS];
    int ns = 0, nf = 0, nq = 0;
    for (int i = 0; i < n && ns < BD_MAX_POINTS - 2; i++)
        if (p[i].rate > 0 && isfinite(p[i].rate) && isfinite(p[i].quality))
            s[ns++] = p[i];
    qsort(s, (size_t)ns, sizeof(s[0]), bd_cmp_rate);
    for (int i = 0; i < ns; i++)
        if (nf == 0 || s[i].quality > f[nf - 1].quality)
            f[nf++] = s[i];
    for (int i = 0; i < nf; i++) {
        /* an end point where the segment from point i-1 to i crosses rmin or rmax */
        if (i > 0) {
            double cut[2] = {rmin, rmax};
            for (int c = 0; c < 2; c++) {
                if (f[i - 1].rate < cut[c] && cut[c] < f[i].rate) {
                    double l0 = log(f[i - 1].rate), l1 = log(f[i].rate), lc = log(cut[c]);
                    double t = (lc - l0) / (l1 - l0);
                    q[nq] = f[i - 1].quality + t * (f[i].quality - f[i - 1].quality);
                    lr[nq++] = lc;
                }
            }
        }
        if (f[i].rate >= rmin && f[i].rate <= rmax) {
            q[nq] = f[i].quality;
            lr[nq++] = log(f[i].rate);
        }
    }
    return nq;
}

/*
 * BD-rate of `test` against `anchor` in percent (*pct), both cut to
 * [rmin, rmax]; *qlo, *qhi (may be NULL) receive the quality range
 * integrated over. Returns BD_OK or BD_NONE (a curve with fewer than 2
 * points in the cut, or no overlap of the quality ranges).
 */
static inline int bd_rate(const bd_point *anchor, int na, const bd_point *test, int nt,
                          double rmin, double rmax, double *pct, double *qlo, double *qhi)
{
    double qa[BD_MAX_POINTS], la[BD_MAX_POINTS], da[BD_MAX_POINTS];
    double qt[BD_MAX_POINTS], lt[BD_MAX_POINTS], dt[BD_MAX_POINTS];
    int ma = bd_prepare(anchor, na, rmin, rmax, qa, la);
    int mt = bd_prepare(test, nt, rmin, rmax, qt, lt);
    if (ma < 2 || mt < 2)
        return BD_NONE;
    double lo = qa[0] > qt[0] ? qa[0] : qt[0];
    double hi = qa[ma - 1] < qt[mt - 1] ? qa[ma - 1] : qt[mt - 1];
    if (!(hi > lo))
        return BD_NONE;
    bd_pchip_slopes(qa, la, ma, da);
    bd_pchip_slopes(qt, lt, mt, dt);
    double ia = bd_pchip_integral(qa, la, da, ma, lo, hi);
    double it = bd_pchip_integral(qt, lt, dt, mt, lo, hi);
    *pct = 100.0 * (exp((it - ia) / (hi - lo)) - 1.0);
    if (qlo)
        *qlo = lo;
    if (qhi)
        *qhi = hi;
    return BD_OK;
}

#endif
