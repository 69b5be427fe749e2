/*
 * GDN / inverse GDN, activations, depth-to-space, quantization proxies,
 * losses, pooling and upsampling (nearest, bilinear), the binarizer: finite
 * differences on the double kernels, PyTorch fixtures for the double and
 * float kernels.
 */
#include "test_nn_util.h"

#include "nn/layers.h"

static nic_context *ctx;

/* A one-input case of a fixture: PRE/x, PRE/y, PRE/dy, PRE/dx. */
typedef struct xy_case {
    double *x, *y, *dy, *dx;
    size_t nx, ny;
} xy_case;

static xy_case load_xy_case(const nn_st_file *f, const char *pre)
{
    xy_case c;
    const char *names[4] = {"x", "y", "dy", "dx"};
    double **dst[4] = {&c.x, &c.y, &c.dy, &c.dx};
    size_t count[4];
    for (int i = 0; i < 4; i++) {
        char k[96];
        snprintf(k, sizeof(k), "%s/%s", pre, names[i]);
        *dst[i] = fixture_f64(ctx, f, k, &count[i]);
    }
    c.nx = count[0];
    c.ny = count[1];
    return c;
}

static void xy_case_free(xy_case *c)
{
    free(c->x), free(c->y), free(c->dy), free(c->dx);
}

/* ------------------------------------------------------------------ GDN */

typedef struct gdn_fd {
    double *x, *beta_p, *gamma_p, *beta, *gamma, *y, *norm;
    int n, c, inverse;
    size_t hw;
} gdn_fd;

static void gdn_fd_forward(void *user)
{
    gdn_fd *g = user;
    size_t cc = (size_t)g->c * g->c;
    nn_gdn_reparam_forward_f64(g->beta_p, (size_t)g->c, NN_GDN_BETA_MIN, g->beta);
    nn_gdn_reparam_forward_f64(g->gamma_p, cc, 0.0, g->gamma);
    nn_gdn_forward_f64(g->x, g->beta, g->gamma, g->n, g->c, g->hw, g->inverse, g->y, g->norm);
}

/* Runs GDN(reparam(params)) forward + backward in double; returns the grads. */
static void gdn_full_f64(gdn_fd *g, const double *dy, double *dx, double *dbeta_p, double *dgamma_p)
{
    size_t cc = (size_t)g->c * g->c, total = (size_t)g->n * g->c * g->hw;
    double *dbeta = xcalloc_f64((size_t)g->c), *dgamma = xcalloc_f64(cc);
    double *work = xcalloc_f64((size_t)g->c * g->hw);
    gdn_fd_forward(g);
    nn_gdn_backward_f64(g->x, g->norm, dy, g->gamma, g->n, g->c, g->hw, g->inverse, dx, dbeta,
                        dgamma, work);
    nn_gdn_reparam_backward_f64(g->beta_p, dbeta, (size_t)g->c, NN_GDN_BETA_MIN, dbeta_p);
    nn_gdn_reparam_backward_f64(g->gamma_p, dgamma, cc, 0.0, dgamma_p);
    (void)total;
    free(dbeta), free(dgamma), free(work);
}

static void test_gdn_fd(int inverse)
{
    nn_rng rng;
    nn_rng_seed(&rng, 11 + inverse);
    gdn_fd g = {0};
    g.n = 2, g.c = 3, g.hw = 4 * 3, g.inverse = inverse;
    size_t total = (size_t)g.n * g.c * g.hw, cc = 9;
    g.x = xcalloc_f64(total), g.y = xcalloc_f64(total), g.norm = xcalloc_f64(total);
    g.beta_p = xcalloc_f64(3), g.gamma_p = xcalloc_f64(cc), g.beta = xcalloc_f64(3),
    g.gamma = xcalloc_f64(cc);
    fill_normal(&rng, g.x, total, 1.0);
    for (int i = 0; i < 3; i++)
        g.beta_p[i] = sqrt(1.0 + 0.3 * nn_rng_uniform_f64(&rng));
    for (size_t i = 0; i < cc; i++)
        g.gamma_p[i] = 0.2 + 0.3 * nn_rng_uniform_f64(&rng); /* away from the bound: smooth */
    double *r = xcalloc_f64(total), *dx = xcalloc_f64(total), *dbp = xcalloc_f64(3),
           *dgp = xcalloc_f64(cc);
    fill_normal(&rng, r, total, 1.0);
    gdn_full_f64(&g, r, dx, dbp, dgp);
    const char *nm = inverse ? "igdn" : "gdn";
    char buf[64];
    snprintf(buf, sizeof(buf), "%s dx", nm);
    fd_check(buf, g.x, total, dx, g.y, r, total, gdn_fd_forward, &g);
    snprintf(buf, sizeof(buf), "%s dbeta_param", nm);
    fd_check(buf, g.beta_p, 3, dbp, g.y, r, total, gdn_fd_forward, &g);
    snprintf(buf, sizeof(buf), "%s dgamma_param", nm);
    fd_check(buf, g.gamma_p, cc, dgp, g.y, r, total, gdn_fd_forward, &g);
    free(g.x), free(g.y), free(g.norm), free(g.beta_p), free(g.gamma_p), free(g.beta), free(g.gamma);
    free(r), free(dx), free(dbp), free(dgp);
}

static void test_gdn_torch(int argc, char **argv)
{
    nn_st_file f;
    if (!open_fixture(ctx, argc, argv, "gdn.safetensors", &f))
        return;
    int n = 0, c = 0, h = 0, w = 0;
    const char *shape = nn_st_get_meta(&f, "shape");
    CHECK(shape && sscanf(shape, "%d %d %d %d", &n, &c, &h, &w) == 4);
    for (int inverse = 0; inverse < 2 && c > 0; inverse++) {
        const char *pre = inverse ? "igdn" : "gdn";
        char k[64];
        size_t total = (size_t)n * c * h * w, cc = (size_t)c * c, cnt;
#define LOAD(var, key)                                  \
    snprintf(k, sizeof(k), "%s/%s", pre, key);          \
    double *var = fixture_f64(ctx, &f, k, &cnt)
        LOAD(x, "x");
        CHECK(cnt == total);
        LOAD(bp, "beta_param");
        LOAD(gp, "gamma_param");
        LOAD(y, "y");
        LOAD(dy, "dy");
        LOAD(dx, "dx");
        LOAD(dbp, "dbeta_param");
        LOAD(dgp, "dgamma_param");
#undef LOAD
        /* double */
        gdn_fd g = {x, bp, gp, xcalloc_f64((size_t)c), xcalloc_f64(cc), xcalloc_f64(total),
                    xcalloc_f64(total), n, c, inverse, (size_t)h * w};
        double *mdx = xcalloc_f64(total), *mdbp = xcalloc_f64((size_t)c), *mdgp = xcalloc_f64(cc);
        gdn_full_f64(&g, dy, mdx, mdbp, mdgp);
        char what[64];
        snprintf(what, sizeof(what), "%s f64 y", pre);
        check_close_f64(what, g.y, y, total, 1e-12, 1e-10);
        snprintf(what, sizeof(what), "%s f64 dx", pre);
        check_close_f64(what, mdx, dx, total, 1e-12, 1e-10);
        snprintf(what, sizeof(what), "%s f64 dbeta_param", pre);
        check_close_f64(what, mdbp, dbp, (size_t)c, 1e-12, 1e-10);
        snprintf(what, sizeof(what), "%s f64 dgamma_param", pre);
        check_close_f64(what, mdgp, dgp, cc, 1e-12, 1e-10);
        /* the lower-bound rule must have been exercised: entries below the bound */
        CHECK(gp[1] < 0 && gp[2 * c + 3] < 0);
        /* float */
        float *xf = to_f32(x, total), *bpf = to_f32(bp, (size_t)c), *gpf = to_f32(gp, cc),
              *dyf = to_f32(dy, total);
        float *beta = xcalloc_f32((size_t)c), *gamma = xcalloc_f32(cc), *yf = xcalloc_f32(total),
              *norm = xcalloc_f32(total), *dxf = xcalloc_f32(total), *dbeta = xcalloc_f32((size_t)c),
              *dgamma = xcalloc_f32(cc), *work = xcalloc_f32((size_t)c * h * w),
              *dbpf = xcalloc_f32((size_t)c), *dgpf = xcalloc_f32(cc);
        nn_gdn_reparam_forward(bpf, (size_t)c, NN_GDN_BETA_MIN, beta);
        nn_gdn_reparam_forward(gpf, cc, 0.0, gamma);
        nn_gdn_forward(xf, beta, gamma, n, c, (size_t)h * w, inverse, yf, norm);
        nn_gdn_backward(xf, norm, dyf, gamma, n, c, (size_t)h * w, inverse, dxf, dbeta, dgamma, work);
        nn_gdn_reparam_backward(bpf, dbeta, (size_t)c, NN_GDN_BETA_MIN, dbpf);
        nn_gdn_reparam_backward(gpf, dgamma, cc, 0.0, dgpf);
        snprintf(what, sizeof(what), "%s f32 y", pre);
        check_close_f32(what, yf, y, total, 1e-5, 1e-5);
        snprintf(what, sizeof(what), "%s f32 dx", pre);
        check_close_f32(what, dxf, dx, total, 1e-5, 1e-5);
        snprintf(what, sizeof(what), "%s f32 dbeta_param", pre);
        check_close_f32(what, dbpf, dbp, (size_t)c, 1e-4, 1e-5);
        snprintf(what, sizeof(what), "%s f32 dgamma_param", pre);
        check_close_f32(what, dgpf, dgp, cc, 1e-4, 1e-5);
        free(xf), free(bpf), free(gpf), free(dyf), free(beta), free(gamma), free(yf), free(norm);
        free(dxf), free(dbeta), free(dgamma), free(work), free(dbpf), free(dgpf);
        free(g.beta), free(g.gamma), free(g.y), free(g.norm), free(mdx), free(mdbp), free(mdgp);
        free(x), free(bp), free(gp), free(y), free(dy), free(dx), free(dbp), free(dgp);
    }
    nn_st_free(&f);
}

static void test_gdn_reparam(void)
{
    float p[3];
    nn_gdn_reparam_init(p, 3, 1.0f);
    float e[3];
    nn_gdn_reparam_forward(p, 3, NN_GDN_BETA_MIN, e);
    CHECK_NEAR(e[0], 1.0, 1e-6);
    /* below the bound, the effective value is the minimum */
    double pb = -3.0, eb;
    nn_gdn_reparam_forward_f64(&pb, 1, NN_GDN_BETA_MIN, &eb);
    CHECK_NEAR(eb, NN_GDN_BETA_MIN, 1e-15);
    /* gradient at the bound: blocked when it would lower the parameter, passed otherwise */
    double dpos = 1.0, dneg = -1.0, g1 = 0, g2 = 0;
    nn_gdn_reparam_backward_f64(&pb, &dpos, 1, NN_GDN_BETA_MIN, &g1);
    nn_gdn_reparam_backward_f64(&pb, &dneg, 1, NN_GDN_BETA_MIN, &g2);
    CHECK(g1 == 0.0);
    CHECK(g2 < 0.0);
}

/* ------------------------------------------------------------------ activations */

typedef struct act_fd {
    int kind;
    double *x, *y;
    size_t n;
} act_fd;

static void act_forward(void *user)
{
    act_fd *a = user;
    switch (a->kind) {
    case 0: nn_relu_forward_f64(a->x, a->n, a->y); break;
    case 1: nn_leaky_relu_forward_f64(a->x, a->n, 0.01, a->y); break;
    case 2: nn_sigmoid_forward_f64(a->x, a->n, a->y); break;
    default: nn_tanh_forward_f64(a->x, a->n, a->y); break;
    }
}

static void act_backward(int kind, const double *x, const double *y, const double *dy, size_t n,
                         double *dx)
{
    switch (kind) {
    case 0: nn_relu_backward_f64(x, dy, n, dx); break;
    case 1: nn_leaky_relu_backward_f64(x, dy, n, 0.01, dx); break;
    case 2: nn_sigmoid_backward_f64(y, dy, n, dx); break;
    default: nn_tanh_backward_f64(y, dy, n, dx); break;
    }
}

static void act_backward_f32(int kind, const float *x, const float *y, const float *dy, size_t n,
                             float *dx)
{
    switch (kind) {
    case 0: nn_relu_backward(x, dy, n, dx); break;
    case 1: nn_leaky_relu_backward(x, dy, n, 0.01, dx); break;
    case 2: nn_sigmoid_backward(y, dy, n, dx); break;
    default: nn_tanh_backward(y, dy, n, dx); break;
    }
}

static void act_forward_f32(int kind, const float *x, size_t n, float *y)
{
    switch (kind) {
    case 0: nn_relu_forward(x, n, y); break;
    case 1: nn_leaky_relu_forward(x, n, 0.01, y); break;
    case 2: nn_sigmoid_forward(x, n, y); break;
    default: nn_tanh_forward(x, n, y); break;
    }
}

static const char *const act_names[4] = {"relu", "leaky_relu", "sigmoid", "tanh"};

static void test_activations(int argc, char **argv)
{
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    /* finite differences, away from the kink at 0 */
    for (int kind = 0; kind < 4; kind++) {
        size_t n = 64;
        double *x = xcalloc_f64(n), *y = xcalloc_f64(n), *r = xcalloc_f64(n), *dx = xcalloc_f64(n);
        fill_normal(&rng, x, n, 2.0);
        for (size_t i = 0; i < n; i++)
            if (fabs(x[i]) < 1e-3)
                x[i] = 0.5;
        fill_normal(&rng, r, n, 1.0);
        act_fd a = {kind, x, y, n};
        act_forward(&a);
        act_backward(kind, x, y, r, n, dx);
        fd_check(act_names[kind], x, n, dx, y, r, n, act_forward, &a);
        free(x), free(y), free(r), free(dx);
    }
    nn_st_file f;
    if (!open_fixture(ctx, argc, argv, "elementwise.safetensors", &f))
        return;
    size_t n;
    double *x = fixture_f64(ctx, &f, "x", &n);
    float *xf = to_f32(x, n);
    for (int kind = 0; kind < 4; kind++) {
        char k[64];
        snprintf(k, sizeof(k), "%s/y", act_names[kind]);
        double *y = fixture_f64(ctx, &f, k, NULL);
        snprintf(k, sizeof(k), "%s/dy", act_names[kind]);
        double *dy = fixture_f64(ctx, &f, k, NULL);
        snprintf(k, sizeof(k), "%s/dx", act_names[kind]);
        double *dx = fixture_f64(ctx, &f, k, NULL);
        double *my = xcalloc_f64(n), *mdx = xcalloc_f64(n);
        act_fd a = {kind, x, my, n};
        act_forward(&a);
        act_backward(kind, x, my, dy, n, mdx);
        snprintf(k, sizeof(k), "%s f64 y", act_names[kind]);
        check_close_f64(k, my, y, n, 1e-14, 1e-13);
        snprintf(k, sizeof(k), "%s f64 dx", act_names[kind]);
        check_close_f64(k, mdx, dx, n, 1e-14, 1e-13);
        float *yf = xcalloc_f32(n), *dxf = xcalloc_f32(n), *dyf = to_f32(dy, n);
        act_forward_f32(kind, xf, n, yf);
        act_backward_f32(kind, xf, yf, dyf, n, dxf);
        snprintf(k, sizeof(k), "%s f32 y", act_names[kind]);
        check_close_f32(k, yf, y, n, 1e-6, 1e-6);
        snprintf(k, sizeof(k), "%s f32 dx", act_names[kind]);
        check_close_f32(k, dxf, dx, n, 1e-6, 1e-6);
        free(y), free(dy), free(dx), free(my), free(mdx), free(yf), free(dxf), free(dyf);
    }
    free(x), free(xf);
    nn_st_free(&f);
}

/* ------------------------------------------------------------------ depth-to-space */

typedef struct d2s_fd {
    double *x, *y;
    int n, c, h, w, r, inverse;
} d2s_fd;

static void d2s_forward(void *user)
{
    d2s_fd *d = user;
    if (d->inverse)
        nn_space_to_depth_f64(d->x, d->n, d->c, d->h, d->w, d->r, d->y);
    else
        nn_depth_to_space_f64(d->x, d->n, d->c, d->h, d->w, d->r, d->y);
}

static void test_depth_to_space(int argc, char **argv)
{
    nn_st_file f;
    if (!open_fixture(ctx, argc, argv, "elementwise.safetensors", &f))
        return;
    for (int r = 2; r <= 3; r++) {
        for (int inverse = 0; inverse < 2; inverse++) {
            char k[64];
            const char *pre = inverse ? "s2d" : "d2s";
            snprintf(k, sizeof(k), "%s%d", pre, r);
            xy_case fx = load_xy_case(&f, k);
            double *x = fx.x, *y = fx.y, *dy = fx.dy, *dx = fx.dx;
            const size_t nx = fx.nx, ny = fx.ny;
            /* fixture shapes: d2s x (2, 2 r^2, 3, 4); s2d y (2, 2 r^2, 3, 4) */
            d2s_fd d = {x, xcalloc_f64(ny), 2, 2, 3, 4, r, inverse};
            CHECK(nx == ny && nx == (size_t)2 * 2 * r * r * 3 * 4);
            d2s_forward(&d);
            snprintf(k, sizeof(k), "%s%d y", pre, r);
            check_close_f64(k, d.y, y, ny, 0, 0);
            /* backward is the other rearrangement */
            double *mdx = xcalloc_f64(nx);
            if (inverse)
                nn_depth_to_space_f64(dy, 2, 2, 3, 4, r, mdx);
            else
                nn_space_to_depth_f64(dy, 2, 2, 3, 4, r, mdx);
            snprintf(k, sizeof(k), "%s%d dx", pre, r);
            check_close_f64(k, mdx, dx, nx, 0, 0);
            fd_check(k, x, nx, mdx, d.y, dy, ny, d2s_forward, &d);
            float *xf = to_f32(x, nx), *yf = xcalloc_f32(ny);
            if (inverse)
                nn_space_to_depth(xf, 2, 2, 3, 4, r, yf);
            else
                nn_depth_to_space(xf, 2, 2, 3, 4, r, yf);
            snprintf(k, sizeof(k), "%s%d f32 y", pre, r);
            check_close_f32(k, yf, y, ny, 1e-7, 1e-7);
            free(xf), free(yf), free(d.y), free(mdx);
            xy_case_free(&fx);
        }
    }
    nn_st_free(&f);
}

/* ------------------------------------------------------------------ quantization */

static void test_quantization(int argc, char **argv)
{
    /* ties go to even, as torch.round */
    double t[6] = {0.5, 1.5, 2.5, -0.5, -1.5, 2.4999}, ty[6];
    nn_round_ste_forward_f64(t, NULL, 6, ty);
    CHECK(ty[0] == 0 && ty[1] == 2 && ty[2] == 2 && ty[3] == 0 && ty[4] == -2 && ty[5] == 2);
    float tf[3] = {0.5f, 1.5f, -2.5f}, tyf[3];
    nn_round_ste_forward(tf, NULL, 3, tyf);
    CHECK(tyf[0] == 0 && tyf[1] == 2 && tyf[2] == -2);

    nn_st_file f;
    if (open_fixture(ctx, argc, argv, "elementwise.safetensors", &f)) {
        size_t n;
        double *x = fixture_f64(ctx, &f, "round/x", &n);
        double *m = fixture_f64(ctx, &f, "round/mean", NULL);
        double *y = fixture_f64(ctx, &f, "round/y", NULL);
        double *dy = fixture_f64(ctx, &f, "round/dy", NULL);
        double *dx = fixture_f64(ctx, &f, "round/dx", NULL);
        double *my = xcalloc_f64(n);
        nn_round_ste_forward_f64(x, m, n, my);
        check_close_f64("round_ste y", my, y, n, 1e-15, 1e-15);
        /* straight-through: the gradient is dy itself (torch agrees) */
        check_close_f64("round_ste dx", dy, dx, n, 0, 0);
        float *xf = to_f32(x, n), *mf = to_f32(m, n), *yf = xcalloc_f32(n);
        nn_round_ste_forward(xf, mf, n, yf);
        check_close_f32("round_ste f32 y", yf, y, n, 1e-6, 1e-6);
        free(x), free(m), free(y), free(dy), free(dx), free(my), free(xf), free(mf), free(yf);
        nn_st_free(&f);
    }

    /* uniform noise: in (-1/2, 1/2), mean ~0, reproducible from the seed */
    enum { N = 20000 };
    float *x = xcalloc_f32(N), *y1 = xcalloc_f32(N), *y2 = xcalloc_f32(N);
    nn_rng r1, r2;
    nn_rng_seed(&r1, 99);
    nn_rng_seed(&r2, 99);
    for (int i = 0; i < N; i++)
        x[i] = (float)i * 0.25f;
    nn_uniform_noise_forward(&r1, x, N, y1);
    nn_uniform_noise_forward(&r2, x, N, y2);
    double mean = 0, var = 0, lo = 1, hi = -1;
    for (int i = 0; i < N; i++) {
        double u = (double)y1[i] - (double)x[i];
        mean += u;
        var += u * u;
        lo = fmin(lo, u);
        hi = fmax(hi, u);
    }
    mean /= N;
    var /= N;
    CHECK(memcmp(y1, y2, sizeof(float) * N) == 0);
    CHECK(lo >= -0.5 - 1e-3 && hi <= 0.5 + 1e-3);
    CHECK_NEAR(mean, 0.0, 0.01);
    CHECK_NEAR(var, 1.0 / 12.0, 0.003);
    free(x), free(y1), free(y2);
}

/* ------------------------------------------------------------------ losses */

typedef struct loss_fd {
    int kind; /* 0 mse, 1 l1, 2 rate */
    double *a, *b, *out;
    size_t n;
} loss_fd;

static void loss_forward(void *user)
{
    loss_fd *l = user;
    if (l->kind == 0)
        l->out[0] = nn_mse_forward_f64(l->a, l->b, l->n);
    else if (l->kind == 1)
        l->out[0] = nn_l1_forward_f64(l->a, l->b, l->n);
    else
        l->out[0] = nn_rate_bits_forward_f64(l->a, l->n, 1e-9);
}

static void test_losses(int argc, char **argv)
{
    nn_st_file f;
    if (!open_fixture(ctx, argc, argv, "elementwise.safetensors", &f))
        return;
    size_t n, np;
    double *a = fixture_f64(ctx, &f, "loss/a", &n);
    double *b = fixture_f64(ctx, &f, "loss/b", NULL);
    double *mse = fixture_f64(ctx, &f, "loss/mse", NULL);
    double *dmse = fixture_f64(ctx, &f, "loss/dmse", NULL);
    double *l1 = fixture_f64(ctx, &f, "loss/l1", NULL);
    double *dl1 = fixture_f64(ctx, &f, "loss/dl1", NULL);
    double *p = fixture_f64(ctx, &f, "rate/p", &np);
    double *bits = fixture_f64(ctx, &f, "rate/bits", NULL);
    double *dp = fixture_f64(ctx, &f, "rate/dp", NULL);
    double *g = xcalloc_f64(n), *gp = xcalloc_f64(np), one = 1.0, out = 0;

    CHECK_NEAR(nn_mse_forward_f64(a, b, n), mse[0], 1e-13);
    nn_mse_backward_f64(a, b, n, 1.0, g);
    check_close_f64("mse da", g, dmse, n, 1e-15, 1e-12);
    loss_fd l = {0, a, b, &out, n};
    fd_check("mse fd", a, n, g, &out, &one, 1, loss_forward, &l);

    CHECK_NEAR(nn_l1_forward_f64(a, b, n), l1[0], 1e-13);
    nn_l1_backward_f64(a, b, n, 1.0, g);
    check_close_f64("l1 da", g, dl1, n, 1e-15, 1e-12);
    l.kind = 1;
    fd_check("l1 fd", a, n, g, &out, &one, 1, loss_forward, &l);

    CHECK_NEAR(nn_rate_bits_forward_f64(p, np, 1e-9), bits[0], 1e-9);
    nn_rate_bits_backward_f64(p, np, 1e-9, 1.0, gp);
    check_close_f64("rate dp", gp, dp, np, 1e-6, 1e-12);
    /* finite differences where p is above the bound (the bounded tail is checked against torch) */
    size_t smooth = np - 4;
    loss_fd lr = {2, p, NULL, &out, smooth};
    fd_check("rate fd", p, smooth, gp, &out, &one, 1, loss_forward, &lr);

    /* float versions */
    float *af = to_f32(a, n), *bf = to_f32(b, n), *gf = xcalloc_f32(n), *pf = to_f32(p, np),
          *gpf = xcalloc_f32(np);
    CHECK_NEAR(nn_mse_forward(af, bf, n), mse[0], 1e-5);
    nn_mse_backward(af, bf, n, 1.0, gf);
    check_close_f32("mse f32 da", gf, dmse, n, 1e-7, 1e-5);
    CHECK_NEAR(nn_l1_forward(af, bf, n), l1[0], 1e-5);
    nn_l1_backward(af, bf, n, 1.0, gf);
    check_close_f32("l1 f32 da", gf, dl1, n, 1e-7, 1e-5);
    CHECK_NEAR(nn_rate_bits_forward(pf, np, 1e-9), bits[0], 1e-4);
    nn_rate_bits_backward(pf, np, 1e-9, 1.0, gpf);
    check_close_f32("rate f32 dp", gpf, dp, np, 1e-3, 1e-5);

    free(af), free(bf), free(gf), free(pf), free(gpf);
    free(a), free(b), free(mse), free(dmse), free(l1), free(dl1), free(p), free(bits), free(dp);
    free(g), free(gp);
    nn_st_free(&f);
}

/* ------------------------------------------------------------------ pooling, upsampling, concat */

typedef struct pool_fd {
    int kind; /* 0 maxpool, 1 upsample */
    double *x, *y;
    int32_t *arg;
    int n, c, h, w, k, s, pad;
} pool_fd;

static void pool_forward(void *user)
{
    pool_fd *p = user;
    if (p->kind == 0)
        nn_maxpool2d_pad_forward_f64(p->x, p->n, p->c, p->h, p->w, p->k, p->s, p->pad, p->y,
                                     p->arg);
    else
        nn_upsample_nearest_forward_f64(p->x, p->n, p->c, p->h, p->w, p->k, p->y);
}

static void test_pool_concat(int argc, char **argv)
{
    nn_st_file f;
    if (!open_fixture(ctx, argc, argv, "pool.safetensors", &f))
        return;
    /* kernel, stride, padding; then nearest upsampling */
    const int ks[3][3] = {{2, 2, 0}, {3, 2, 0}, {3, 2, 1}};
    for (int kind = 0; kind < 4; kind++) {
        char k[64], pre[32];
        pool_fd p = {0};
        if (kind < 3) {
            snprintf(pre, sizeof(pre), "maxpool%d%d", ks[kind][0], ks[kind][1]);
            if (ks[kind][2])
                snprintf(pre + strlen(pre), sizeof(pre) - strlen(pre), "p%d", ks[kind][2]);
            p = (pool_fd){0, NULL, NULL, NULL, 2, 3, 7, 9, ks[kind][0], ks[kind][1], ks[kind][2]};
        } else {
            snprintf(pre, sizeof(pre), "up2");
            p = (pool_fd){1, NULL, NULL, NULL, 2, 3, 4, 5, 2, 0, 0};
        }
        xy_case fx = load_xy_case(&f, pre);
        double *y = fx.y, *dy = fx.dy, *dx = fx.dx;
        const size_t nx = fx.nx, ny = fx.ny;
        p.x = fx.x;
        p.y = xcalloc_f64(ny);
        p.arg = calloc(ny, sizeof(int32_t));
        double *mdx = xcalloc_f64(nx);
        pool_forward(&p);
        if (p.kind == 0)
            nn_maxpool2d_pad_backward_f64(dy, p.arg, p.n, p.c, p.h, p.w, p.k, p.s, p.pad, mdx);
        else
            nn_upsample_nearest_backward_f64(dy, p.n, p.c, p.h, p.w, p.k, mdx);
        snprintf(k, sizeof(k), "%s y", pre);
        check_close_f64(k, p.y, y, ny, 0, 0);
        snprintf(k, sizeof(k), "%s dx", pre);
        check_close_f64(k, mdx, dx, nx, 1e-15, 1e-14);
        snprintf(k, sizeof(k), "%s fd", pre);
        fd_check(k, p.x, nx, mdx, p.y, dy, ny, pool_forward, &p);
        /* float */
        float *xf = to_f32(p.x, nx), *yf = xcalloc_f32(ny), *dyf = to_f32(dy, ny), *dxf = xcalloc_f32(nx);
        if (p.kind == 0) {
            if (p.pad) {
                nn_maxpool2d_pad_forward(xf, p.n, p.c, p.h, p.w, p.k, p.s, p.pad, yf, p.arg);
                nn_maxpool2d_pad_backward(dyf, p.arg, p.n, p.c, p.h, p.w, p.k, p.s, p.pad, dxf);
            } else {
                nn_maxpool2d_forward(xf, p.n, p.c, p.h, p.w, p.k, p.s, yf, p.arg);
                nn_maxpool2d_backward(dyf, p.arg, p.n, p.c, p.h, p.w, p.k, p.s, dxf);
            }
        } else {
            nn_upsample_nearest_forward(xf, p.n, p.c, p.h, p.w, p.k, yf);
            nn_upsample_nearest_backward(dyf, p.n, p.c, p.h, p.w, p.k, dxf);
        }
        snprintf(k, sizeof(k), "%s f32 y", pre);
        check_close_f32(k, yf, y, ny, 1e-7, 1e-7);
        snprintf(k, sizeof(k), "%s f32 dx", pre);
        check_close_f32(k, dxf, dx, nx, 1e-6, 1e-6);
        free(xf), free(yf), free(dyf), free(dxf);
        free(p.y), free(p.arg), free(mdx);
        xy_case_free(&fx);
    }
    /* concat / split */
    size_t na, nb, ny;
    double *a = fixture_f64(ctx, &f, "cat/a", &na);
    double *b = fixture_f64(ctx, &f, "cat/b", &nb);
    double *y = fixture_f64(ctx, &f, "cat/y", &ny);
    double *dy = fixture_f64(ctx, &f, "cat/dy", NULL);
    double *da = fixture_f64(ctx, &f, "cat/da", NULL);
    double *db = fixture_f64(ctx, &f, "cat/db", NULL);
    CHECK(na == 2 * 3 * 20 && nb == 2 * 2 * 20 && ny == na + nb);
    double *my = xcalloc_f64(ny), *mda = xcalloc_f64(na), *mdb = xcalloc_f64(nb);
    nn_concat_channels_f64(a, 3, b, 2, 2, 20, my);
    nn_split_channels_f64(dy, 3, 2, 2, 20, mda, mdb);
    check_close_f64("concat y", my, y, ny, 0, 0);
    check_close_f64("concat da", mda, da, na, 0, 0);
    check_close_f64("concat db", mdb, db, nb, 0, 0);
    float *af = to_f32(a, na), *bf = to_f32(b, nb), *yf = xcalloc_f32(ny);
    nn_concat_channels(af, 3, bf, 2, 2, 20, yf);
    check_close_f32("concat f32 y", yf, y, ny, 1e-7, 1e-7);
    free(af), free(bf), free(yf);
    free(a), free(b), free(y), free(dy), free(da), free(db), free(my), free(mda), free(mdb);
    nn_st_free(&f);
}

/* ------------------------------------------------------------------ bilinear upsampling */

typedef struct bilinear_fd {
    double *x, *y;
    int n, c, h, w, r;
} bilinear_fd;

static void bilinear_forward(void *user)
{
    bilinear_fd *b = user;
    nn_upsample_bilinear_forward_f64(b->x, b->n, b->c, b->h, b->w, b->r, b->y);
}

static void test_bilinear(int argc, char **argv)
{
    /* a constant stays constant; a ramp stays a ramp inside (align_corners=False) */
    double ones[6] = {1, 1, 1, 1, 1, 1}, up[54];
    nn_upsample_bilinear_forward_f64(ones, 1, 1, 2, 3, 3, up);
    int flat = 1;
    for (int i = 0; i < 54; i++)
        flat &= fabs(up[i] - 1.0) < 1e-15;
    CHECK(flat);
    double ramp[4] = {0, 1, 2, 3}, rup[64]; /* 1x4 -> 4x16; the first row is checked */
    nn_upsample_bilinear_forward_f64(ramp, 1, 1, 1, 4, 4, rup);
    CHECK_NEAR(rup[0], 0.0, 1e-15); /* clamped at the border */
    CHECK_NEAR(rup[2], 0.125, 1e-15);
    CHECK_NEAR(rup[7], 1.375, 1e-15); /* (7 + 1/2) / 4 - 1/2 */
    CHECK_NEAR(rup[15], 3.0, 1e-15);

    nn_st_file f;
    if (!open_fixture(ctx, argc, argv, "bilinear.safetensors", &f))
        return;
    for (int r = 2; r <= 3; r++) {
        char k[64];
        snprintf(k, sizeof(k), "up%d", r);
        bilinear_fd b = {0};
        b.r = r;
        const char *shape = nn_st_get_meta(&f, k);
        CHECK(shape && sscanf(shape, "%d %d %d %d", &b.n, &b.c, &b.h, &b.w) == 4);
        xy_case fx = load_xy_case(&f, k);
        double *y = fx.y, *dy = fx.dy, *dx = fx.dx;
        const size_t nx = fx.nx, ny = fx.ny;
        b.x = fx.x;
        CHECK(nx == (size_t)b.n * b.c * b.h * b.w && ny == nx * r * r);
        b.y = xcalloc_f64(ny);
        double *mdx = xcalloc_f64(nx);
        bilinear_forward(&b);
        nn_upsample_bilinear_backward_f64(dy, b.n, b.c, b.h, b.w, r, mdx);
        snprintf(k, sizeof(k), "bilinear x%d f64 y", r);
        check_close_f64(k, b.y, y, ny, 1e-14, 1e-13);
        snprintf(k, sizeof(k), "bilinear x%d f64 dx", r);
        check_close_f64(k, mdx, dx, nx, 1e-14, 1e-13);
        printf("bilinear x%d: torch max |diff| f64 y %.2g dx %.2g\n", r,
               max_abs_diff(b.y, y, ny), max_abs_diff(mdx, dx, nx));
        snprintf(k, sizeof(k), "bilinear x%d fd", r);
        fd_check(k, b.x, nx, mdx, b.y, dy, ny, bilinear_forward, &b);
        float *xf = to_f32(b.x, nx), *yf = xcalloc_f32(ny), *dyf = to_f32(dy, ny),
              *dxf = xcalloc_f32(nx);
        nn_upsample_bilinear_forward(xf, b.n, b.c, b.h, b.w, r, yf);
        nn_upsample_bilinear_backward(dyf, b.n, b.c, b.h, b.w, r, dxf);
        snprintf(k, sizeof(k), "bilinear x%d f32 y", r);
        check_close_f32(k, yf, y, ny, 1e-6, 1e-6);
        snprintf(k, sizeof(k), "bilinear x%d f32 dx", r);
        check_close_f32(k, dxf, dx, nx, 1e-5, 1e-5);
        free(xf), free(yf), free(dyf), free(dxf);
        free(b.y), free(mdx);
        xy_case_free(&fx);
    }
    nn_st_free(&f);
}

/* ------------------------------------------------------------------ binarizer */

typedef struct binarize_fd {
    double *x, *t, *b;
    size_t n;
} binarize_fd;

static void binarize_forward(void *user)
{
    binarize_fd *z = user;
    nn_binarize_forward_f64(NULL, z->x, z->n, z->t, z->b);
}

static void test_binarize(int argc, char **argv)
{
    nn_st_file f;
    if (open_fixture(ctx, argc, argv, "binarize.safetensors", &f)) {
        size_t n;
        double *x = fixture_f64(ctx, &f, "x", &n);
        double *t = fixture_f64(ctx, &f, "t", NULL);
        double *b_train = fixture_f64(ctx, &f, "b_train", NULL);
        double *b_test = fixture_f64(ctx, &f, "b_test", NULL);
        double *db = fixture_f64(ctx, &f, "db", NULL);
        double *dx = fixture_f64(ctx, &f, "dx", NULL);
        const char *seed_s = nn_st_get_meta(&f, "seed");
        CHECK(seed_s != NULL);
        uint64_t seed = seed_s ? strtoull(seed_s, NULL, 10) : 0;
        double *mt = xcalloc_f64(n), *mb = xcalloc_f64(n), *mdx = xcalloc_f64(n);
        nn_rng rng;
        /* training: the same RNG stream as the generator's copy of xoshiro256** */
        nn_rng_seed(&rng, seed);
        nn_binarize_forward_f64(&rng, x, n, mt, mb);
        check_close_f64("binarize f64 t", mt, t, n, 1e-15, 1e-14);
        check_close_f64("binarize f64 b (training)", mb, b_train, n, 0, 0);
        nn_binarize_backward_f64(mt, db, n, mdx);
        check_close_f64("binarize f64 dx", mdx, dx, n, 1e-15, 1e-14);
        printf("binarize: torch max |diff| f64 t %.2g dx %.2g\n", max_abs_diff(mt, t, n),
               max_abs_diff(mdx, dx, n));
        /* inference: deterministic sign, +1 at t = 0 (the fixture starts with 0, -0) */
        nn_binarize_forward_f64(NULL, x, n, mt, mb);
        check_close_f64("binarize f64 b (inference)", mb, b_test, n, 0, 0);
        CHECK(mb[0] == 1 && mb[1] == 1 && mb[3] == -1);
        /* the straight-through gradient is tanh's: finite differences of t */
        binarize_fd z = {x, mt, mb, n};
        nn_binarize_backward_f64(mt, db, n, mdx);
        fd_check("binarize straight-through fd", x, n, mdx, mt, db, n, binarize_forward, &z);
        /* float */
        float *xf = to_f32(x, n), *tf = xcalloc_f32(n), *bf = xcalloc_f32(n),
              *dbf = to_f32(db, n), *dxf = xcalloc_f32(n);
        nn_rng_seed(&rng, seed);
        nn_binarize_forward(&rng, xf, n, tf, bf);
        check_close_f32("binarize f32 t", tf, t, n, 1e-6, 1e-6);
        check_close_f32("binarize f32 b (training)", bf, b_train, n, 0, 0);
        nn_binarize_backward(tf, dbf, n, dxf);
        check_close_f32("binarize f32 dx", dxf, dx, n, 1e-6, 1e-5);
        nn_binarize_forward(NULL, xf, n, tf, bf);
        check_close_f32("binarize f32 b (inference)", bf, b_test, n, 0, 0);
        free(xf), free(tf), free(bf), free(dbf), free(dxf);
        free(x), free(t), free(b_train), free(b_test), free(db), free(dx), free(mt), free(mb),
            free(mdx);
        nn_st_free(&f);
    }

    /* E[b] = tanh(x): the stochastic bits are unbiased; same seed, same bits */
    enum { REPS = 20000 };
    const float xs[5] = {-2.0f, -0.4f, 0.0f, 0.3f, 1.1f};
    float xr[5 * 64], tr[5 * 64], br[5 * 64], br2[5 * 64];
    for (int i = 0; i < 5 * 64; i++)
        xr[i] = xs[i % 5];
    double sum[5] = {0};
    nn_rng r1, r2;
    nn_rng_seed(&r1, 3);
    nn_rng_seed(&r2, 3);
    int same = 1;
    for (int rep = 0; rep < REPS / 64; rep++) {
        nn_binarize_forward(&r1, xr, 5 * 64, tr, br);
        nn_binarize_forward(&r2, xr, 5 * 64, tr, br2);
        same &= memcmp(br, br2, sizeof(br)) == 0;
        for (int i = 0; i < 5 * 64; i++)
            sum[i % 5] += br[i];
    }
    CHECK(same);
    for (int k = 0; k < 5; k++) {
        double mean = sum[k] / ((REPS / 64) * 64);
        /* standard error <= 1 / sqrt(20000) = 0.007; 0.03 is over 4 of them */
        CHECK_MSG(fabs(mean - tanh(xs[k])) < 0.03, "x %g: mean bit %.4f, tanh %.4f", xs[k], mean,
                  tanh(xs[k]));
    }
}

int main(int argc, char **argv)
{
    ctx = nic_context_create();
    test_gdn_reparam();
    test_gdn_fd(0);
    test_gdn_fd(1);
    test_gdn_torch(argc, argv);
    test_activations(argc, argv);
    test_depth_to_space(argc, argv);
    test_quantization(argc, argv);
    test_losses(argc, argv);
    test_pool_concat(argc, argv);
    test_bilinear(argc, argv);
    test_binarize(argc, argv);
    nic_context_destroy(ctx);
    return test_finish("test_nn_layers");
}
