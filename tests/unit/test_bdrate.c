/*
 * BD-rate math of bench/bdrate.h (used by bench/eval_rd_summary): PCHIP
 * interpolation and its exact integral, the curve cut, and bd_rate() on
 * curves whose answer is known.
 */
#include <math.h>
#include <stdio.h>

#include "../../bench/bdrate.h"
#include "test.h"

/* A plausible RD curve: PSNR = 20 + 4 log2(rate / 0.03), rates 0.03 .. 0.96. */
static int make_curve(bd_point *p, double rate_scale)
{
    int n = 0;
    for (double r = 0.03; r < 1.0; r *= 2, n++)
        p[n] = (bd_point){r * rate_scale, 20 + 4 * log2(r / 0.03)};
    return n;
}

static void test_pchip(void)
{
    /* data on a line: PCHIP reproduces it, and its integral */
    double x[5] = {0, 1, 3, 4, 7}, y[5], d[5];
    for (int i = 0; i < 5; i++)
        y[i] = 2 * x[i] + 1;
    bd_pchip_slopes(x, y, 5, d);
    for (int i = 0; i < 5; i++)
        CHECK_NEAR(d[i], 2.0, 1e-12);
    CHECK_NEAR(bd_pchip_eval(x, y, d, 5, 2.5), 6.0, 1e-12);
    CHECK_NEAR(bd_pchip_integral(x, y, d, 5, 0.5, 6.0), (36 + 6) - (0.25 + 0.5), 1e-12);

    /* monotone data stays monotone, with flat pieces kept flat */
    double xs[6] = {0, 1, 2, 3, 4, 5}, ys[6] = {0, 0.1, 5, 5, 5.2, 9}, ds[6];
    bd_pchip_slopes(xs, ys, 6, ds);
    double prev = -1;
    int monotone = 1;
    for (double u = 0; u <= 5; u += 0.01) {
        double v = bd_pchip_eval(xs, ys, ds, 6, u);
        if (v < prev - 1e-12)
            monotone = 0;
        if (u >= 2 && u <= 3 && fabs(v - 5) > 1e-12)
            monotone = 0;
        prev = v;
    }
    CHECK(monotone);

    /* exact integral against fine Simpson steps on a non-trivial interpolant */
    double a = 0.3, b = 4.6, s = 0;
    int steps = 2000;
    double h = (b - a) / steps;
    for (int i = 0; i <= steps; i++) {
        double w = (i == 0 || i == steps) ? 1 : (i % 2 ? 4 : 2);
        s += w * bd_pchip_eval(xs, ys, ds, 6, a + i * h);
    }
    s *= h / 3;
    CHECK_NEAR(bd_pchip_integral(xs, ys, ds, 6, a, b), s, 1e-6);
}

static void test_prepare(void)
{
    bd_point p[8];
    int n = make_curve(p, 1.0);
    double q[BD_MAX_POINTS], lr[BD_MAX_POINTS];
    /* no cut: every point */
    CHECK(bd_prepare(p, n, 0, INFINITY, q, lr) == n);
    /* cut to 0.05 .. 0.5: 0.06 0.12 0.24 0.48 inside, plus two end points */
    int m = bd_prepare(p, n, 0.05, 0.5, q, lr);
    CHECK(m == 6);
    CHECK_NEAR(exp(lr[0]), 0.05, 1e-12);
    CHECK_NEAR(q[0], 20 + 4 * log2(0.05 / 0.03), 1e-9); /* linear in log rate: exact here */
    CHECK_NEAR(exp(lr[m - 1]), 0.5, 1e-12);
    CHECK_NEAR(q[m - 1], 20 + 4 * log2(0.5 / 0.03), 1e-9);
    /* a dominated point (more bits, less quality) is dropped */
    bd_point d[4] = {{0.1, 25}, {0.2, 24}, {0.3, 28}, {0.15, 27}};
    m = bd_prepare(d, 4, 0, INFINITY, q, lr);
    CHECK(m == 3);
    CHECK_NEAR(q[1], 27, 0);
}

static void test_bd_rate(void)
{
    bd_point a[8], b[8];
    int na = make_curve(a, 1.0), nb;
    double pct = 1e9, lo, hi;

    /* identical curves: 0 % */
    CHECK(bd_rate(a, na, a, na, 0.05, 0.5, &pct, &lo, &hi) == BD_OK);
    CHECK_NEAR(pct, 0.0, 1e-12);
    CHECK_NEAR(lo, 20 + 4 * log2(0.05 / 0.03), 1e-9);

    /* half the rate at every quality: -50 %; twice: +100 % */
    nb = make_curve(b, 0.5);
    CHECK(bd_rate(a, na, b, nb, 0, INFINITY, &pct, NULL, NULL) == BD_OK);
    CHECK_NEAR(pct, -50.0, 1e-9);
    CHECK(bd_rate(b, nb, a, na, 0, INFINITY, &pct, NULL, NULL) == BD_OK);
    CHECK_NEAR(pct, 100.0, 1e-9);
    /* also with the 0.05-0.5 bpp cut (the curve is linear in log rate, so the
       interpolated end points lie on it and the answer stays exact) */
    CHECK(bd_rate(a, na, b, nb, 0.05, 0.5, &pct, NULL, NULL) == BD_OK);
    CHECK_NEAR(pct, -50.0, 1e-9);

    /* a curved (non-linear) RD curve, scaled by 0.8: -20 % */
    bd_point c[6], e[6];
    for (int i = 0; i < 6; i++) {
        double r = 0.04 * pow(1.7, i);
        c[i] = (bd_point){r, 30 + 8 * sqrt(r)};
        e[i] = (bd_point){0.8 * r, 30 + 8 * sqrt(r)};
    }
    CHECK(bd_rate(c, 6, e, 6, 0, INFINITY, &pct, NULL, NULL) == BD_OK);
    CHECK_NEAR(pct, -20.0, 1e-9);

    /* no overlap in quality, or fewer than 2 points in the cut: n/a */
    bd_point low[2] = {{0.1, 20}, {0.2, 22}}, high[2] = {{0.1, 30}, {0.2, 32}};
    CHECK(bd_rate(low, 2, high, 2, 0, INFINITY, &pct, NULL, NULL) == BD_NONE);
    bd_point one[2] = {{0.01, 20}, {0.02, 22}};
    CHECK(bd_rate(a, na, one, 2, 0.05, 0.5, &pct, NULL, NULL) == BD_NONE);
}

int main(void)
{
    test_pchip();
    test_prepare();
    test_bd_rate();
    return test_finish("test_bdrate");
}
