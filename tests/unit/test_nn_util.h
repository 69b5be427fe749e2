/*
 * Helpers shared by the nn engine tests (test_nn_*.c): fixture loading,
 * tolerance comparisons and the finite-difference gradient checker.
 *
 * Finite differences run on the double ("check mode") kernels: central
 * differences with eps = 1e-6 have truncation error ~eps^2 and rounding error
 * ~1e-16 / eps, so an analytic gradient that is right agrees to ~1e-8 and a
 * wrong one (a missing term, a wrong index) misses by O(1).
 */
#ifndef NIC_TEST_NN_UTIL_H
#define NIC_TEST_NN_UTIL_H

#include "test.h"

#include "nn/rng.h"
#include "nn/safetensors.h"

static inline void fill_normal(nn_rng *rng, double *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * nn_rng_normal(rng);
}

static inline double *xcalloc_f64(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static inline float *xcalloc_f32(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static inline float *to_f32(const double *x, size_t n)
{
    float *p = xcalloc_f32(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)x[i];
    return p;
}

/* Loads a fixture tensor as double; *count receives its element count. */
static inline double *fixture_f64(nic_context *ctx, const nn_st_file *f, const char *name, size_t *count)
{
    const nn_st_tensor *t = nn_st_find(f, name);
    CHECK_MSG(t != NULL, "fixture tensor %s missing", name);
    if (!t) {
        if (count)
            *count = 0;
        return xcalloc_f64(1);
    }
    double *p = xcalloc_f64((size_t)t->count);
    CHECK_STATUS(nn_st_read_f64(ctx, f, name, p, (size_t)t->count), NIC_OK);
    if (count)
        *count = (size_t)t->count;
    return p;
}

static inline int open_fixture(nic_context *ctx, int argc, char **argv, const char *file, nn_st_file *f)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/nn/%s", test_fixtures_dir(argc, argv), file);
    nic_status st = nn_st_read_file(ctx, path, f);
    CHECK_MSG(st == NIC_OK, "%s: %s", path, nic_context_error(ctx));
    if (st == NIC_OK)
        CHECK_MSG(f->has_checksum, "%s: fixture has no crc32", path);
    return st == NIC_OK;
}

/* Every |got - want| <= atol + rtol |want|; reports the worst element. */
static inline void check_close_f64(const char *what, const double *got, const double *want, size_t n,
                            double atol, double rtol)
{
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs(got[i] - want[i]);
        double r = diff == 0 ? 0.0 : diff / (atol + rtol * fabs(want[i]));
        if (!(r <= worst)) { /* also catches NaN */
            worst = r;
            wi = i;
        }
    }
    CHECK_MSG(worst <= 1.0, "%s: element %zu is %.12g, expected %.12g (atol %g, rtol %g)", what,
              wi, n ? got[wi] : 0.0, n ? want[wi] : 0.0, atol, rtol);
}

static inline void check_close_f32(const char *what, const float *got, const double *want, size_t n,
                            double atol, double rtol)
{
    double *g = xcalloc_f64(n);
    for (size_t i = 0; i < n; i++)
        g[i] = got[i];
    check_close_f64(what, g, want, n, atol, rtol);
    free(g);
}

static inline void check_close_ff(const char *what, const float *got, const float *want, size_t n,
                           double atol, double rtol)
{
    double *w = xcalloc_f64(n);
    for (size_t i = 0; i < n; i++)
        w[i] = want[i];
    check_close_f32(what, got, w, n, atol, rtol);
    free(w);
}

/* Finite-difference check of d(sum_k r[k] y[k]) / d x[i] against analytic[i].
 * forward(user) must recompute y from the current x. fd_check checks every
 * element (the test shapes are small) with eps = tol = 1e-6; fd_check_every
 * checks elements 0, step, 2 step, ... with the given eps and tolerance (for
 * inputs too large to perturb one by one, or outputs such as a mean over
 * many pixels, whose rounding needs a larger eps). Error measure:
 * |num - ana| / max(1, |num|). Returns the worst error. */
typedef void (*fd_forward_fn)(void *user);

static inline double fd_check_every(const char *what, double *x, size_t n, size_t step,
                                    double eps, double tol, const double *analytic,
                                    const double *y, const double *r, size_t ny,
                                    fd_forward_fn forward, void *user)
{
    double worst = 0, wnum = 0, wana = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i += step) {
        double xi = x[i], lp = 0, lm = 0;
        x[i] = xi + eps;
        forward(user);
        for (size_t k = 0; k < ny; k++)
            lp += r[k] * y[k];
        x[i] = xi - eps;
        forward(user);
        for (size_t k = 0; k < ny; k++)
            lm += r[k] * y[k];
        x[i] = xi;
        double num = (lp - lm) / (2 * eps);
        double err = fabs(num - analytic[i]) / fmax(1.0, fabs(num));
        if (!(err <= worst)) {
            worst = err;
            wi = i;
            wnum = num;
            wana = analytic[i];
        }
    }
    forward(user);
    CHECK_MSG(worst <= tol, "%s: finite difference %.10g vs analytic %.10g at %zu (err %.3g)",
              what, wnum, wana, wi, worst);
    return worst;
}

static inline double fd_check(const char *what, double *x, size_t n, const double *analytic,
                              const double *y, const double *r, size_t ny, fd_forward_fn forward,
                              void *user)
{
    return fd_check_every(what, x, n, 1, 1e-6, 1e-6, analytic, y, r, ny, forward, user);
}

/* max |got[i] - want[i]| (NaN counts as infinitely far), for the reports tests print. */
static inline double max_abs_diff(const double *got, const double *want, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        if (!(d <= m))
            m = d != d ? INFINITY : d;
    }
    return m;
}

#endif
