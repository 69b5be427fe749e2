/*
 * Convolution and transposed convolution: reference kernels (double and
 * float) against PyTorch fixtures, finite differences on the double
 * kernels, and the oneDNN plans against the reference kernels.
 */
#include "test_nn_util.h"

#include "nn/conv.h"
#include "nn/layers.h"

static nic_context *ctx;
static nn_engine *eng;

/* ------------------------------------------------------------------ PyTorch fixtures */

static void compare_case(const nn_st_file *f, int idx, const nn_conv_desc *d, int transposed)
{
    char nm[64], what[96];
    size_t nx, nw, nb, ny;
#define LOAD(var, key, cnt)                                  \
    snprintf(nm, sizeof(nm), "case%d/%s", idx, key);         \
    double *var = fixture_f64(ctx, f, nm, cnt)
    LOAD(x, "x", &nx);
    LOAD(w, "w", &nw);
    LOAD(b, "b", &nb);
    LOAD(y, "y", &ny);
    LOAD(dy, "dy", NULL);
    LOAD(dx, "dx", NULL);
    LOAD(dw, "dw", NULL);
    LOAD(db, "db", NULL);
#undef LOAD
    /* In the adjoint view of a transposed conv, the fixture's x is the conv's output. */
    size_t want_x = transposed ? nn_conv_y_count(d) : nn_conv_x_count(d);
    size_t want_y = transposed ? nn_conv_x_count(d) : nn_conv_y_count(d);
    CHECK_MSG(nx == want_x && ny == want_y && nw == nn_conv_w_count(d),
              "case %d: fixture sizes %zu %zu %zu vs desc %zu %zu %zu", idx, nx, ny, nw, want_x,
              want_y, nn_conv_w_count(d));
    if (nx != want_x || ny != want_y || nw != nn_conv_w_count(d))
        goto done;

    /* double reference */
    double *y64 = xcalloc_f64(ny), *dx64 = xcalloc_f64(nx), *dw64 = xcalloc_f64(nw),
           *db64 = xcalloc_f64(nb);
    if (transposed) {
        nn_conv_transpose_ref_forward_f64(d, x, w, b, y64);
        nn_conv_transpose_ref_backward_data_f64(d, dy, w, dx64);
        nn_conv_transpose_ref_backward_weights_f64(d, x, dy, dw64, db64);
    } else {
        nn_conv2d_ref_forward_f64(d, x, w, b, y64);
        nn_conv2d_ref_backward_data_f64(d, dy, w, dx64);
        nn_conv2d_ref_backward_weights_f64(d, x, dy, dw64, db64);
    }
    const char *kind = transposed ? "conv_transpose" : "conv";
    snprintf(what, sizeof(what), "%s case %d f64 y", kind, idx);
    check_close_f64(what, y64, y, ny, 1e-11, 1e-11);
    snprintf(what, sizeof(what), "%s case %d f64 dx", kind, idx);
    check_close_f64(what, dx64, dx, nx, 1e-11, 1e-11);
    snprintf(what, sizeof(what), "%s case %d f64 dw", kind, idx);
    check_close_f64(what, dw64, dw, nw, 1e-11, 1e-11);
    snprintf(what, sizeof(what), "%s case %d f64 db", kind, idx);
    check_close_f64(what, db64, db, nb, 1e-11, 1e-11);

    /* float: reference kernels, then the plan (oneDNN when present) */
    float *xf = to_f32(x, nx), *wf = to_f32(w, nw), *bf = to_f32(b, nb), *dyf = to_f32(dy, ny);
    for (int impl = 0; impl < 2; impl++) {
        float *y32 = xcalloc_f32(ny), *dx32 = xcalloc_f32(nx), *dw32 = xcalloc_f32(nw),
              *db32 = xcalloc_f32(nb);
        char iname[64] = "reference";
        if (impl == 0) {
            if (transposed) {
                nn_conv_transpose_ref_forward(d, xf, wf, bf, y32);
                nn_conv_transpose_ref_backward_data(d, dyf, wf, dx32);
                nn_conv_transpose_ref_backward_weights(d, xf, dyf, dw32, db32);
            } else {
                nn_conv2d_ref_forward(d, xf, wf, bf, y32);
                nn_conv2d_ref_backward_data(d, dyf, wf, dx32);
                nn_conv2d_ref_backward_weights(d, xf, dyf, dw32, db32);
            }
        } else {
            nn_conv *plan = NULL;
            nic_status st = nn_conv_create(ctx, eng, d, 0, &plan);
            CHECK_MSG(st == NIC_OK, "%s case %d: plan: %s", kind, idx, nic_context_error(ctx));
            if (st != NIC_OK) {
                free(y32), free(dx32), free(dw32), free(db32);
                continue;
            }
            snprintf(iname, sizeof(iname), "%s", nn_conv_impl(plan, 0));
            if (transposed) {
                CHECK_STATUS(nn_conv_transpose_forward(ctx, plan, xf, wf, bf, y32), NIC_OK);
                CHECK_STATUS(nn_conv_transpose_backward_data(ctx, plan, dyf, wf, dx32), NIC_OK);
                CHECK_STATUS(nn_conv_transpose_backward_weights(ctx, plan, xf, dyf, dw32, db32), NIC_OK);
            } else {
                CHECK_STATUS(nn_conv_forward(ctx, plan, xf, wf, bf, y32), NIC_OK);
                CHECK_STATUS(nn_conv_backward_data(ctx, plan, dyf, wf, dx32), NIC_OK);
                CHECK_STATUS(nn_conv_backward_weights(ctx, plan, xf, dyf, dw32, db32), NIC_OK);
            }
            nn_conv_destroy(plan);
        }
        snprintf(what, sizeof(what), "%s case %d f32 %s y", kind, idx, iname);
        check_close_f32(what, y32, y, ny, 1e-4, 1e-4);
        snprintf(what, sizeof(what), "%s case %d f32 %s dx", kind, idx, iname);
        check_close_f32(what, dx32, dx, nx, 1e-4, 1e-4);
        snprintf(what, sizeof(what), "%s case %d f32 %s dw", kind, idx, iname);
        check_close_f32(what, dw32, dw, nw, 1e-4, 1e-4);
        snprintf(what, sizeof(what), "%s case %d f32 %s db", kind, idx, iname);
        check_close_f32(what, db32, db, nb, 1e-4, 1e-4);
        free(y32), free(dx32), free(dw32), free(db32);
    }
    free(xf), free(wf), free(bf), free(dyf);
    free(y64), free(dx64), free(dw64), free(db64);
done:
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
}

static void test_torch_fixtures(int argc, char **argv)
{
    nn_st_file f;
    if (open_fixture(ctx, argc, argv, "conv.safetensors", &f)) {
        int count = atoi(nn_st_get_meta(&f, "count") ? nn_st_get_meta(&f, "count") : "0");
        CHECK(count >= 5);
        for (int i = 0; i < count; i++) {
            char key[16];
            snprintf(key, sizeof(key), "case%d", i);
            const char *m = nn_st_get_meta(&f, key);
            int n, ci, h, w, co, k, s, p, g;
            CHECK(m && sscanf(m, "%d %d %d %d %d %d %d %d %d", &n, &ci, &h, &w, &co, &k, &s, &p, &g) == 9);
            if (!m)
                continue;
            nn_conv_desc d;
            CHECK_STATUS(nn_conv_desc_init(ctx, &d, n, ci, h, w, co, k, s, p, g), NIC_OK);
            compare_case(&f, i, &d, 0);
        }
        nn_st_free(&f);
    }
    if (open_fixture(ctx, argc, argv, "conv_transpose.safetensors", &f)) {
        int count = atoi(nn_st_get_meta(&f, "count") ? nn_st_get_meta(&f, "count") : "0");
        CHECK(count >= 4);
        for (int i = 0; i < count; i++) {
            char key[16];
            snprintf(key, sizeof(key), "case%d", i);
            const char *m = nn_st_get_meta(&f, key);
            int n, ci, h, w, co, k, s, p, op, g;
            CHECK(m && sscanf(m, "%d %d %d %d %d %d %d %d %d %d", &n, &ci, &h, &w, &co, &k, &s, &p,
                              &op, &g) == 10);
            if (!m)
                continue;
            nn_conv_desc d;
            CHECK_STATUS(nn_conv_desc_init_transposed(ctx, &d, n, ci, h, w, co, k, s, p, op, g), NIC_OK);
            compare_case(&f, i, &d, 1);
        }
        nn_st_free(&f);
    }
}

/* ------------------------------------------------------------------ finite differences */

typedef struct conv_fd {
    const nn_conv_desc *d;
    double *x, *w, *b, *y;
    int transposed;
} conv_fd;

static void conv_fd_forward(void *user)
{
    conv_fd *c = user;
    if (c->transposed)
        nn_conv_transpose_ref_forward_f64(c->d, c->x, c->w, c->b, c->y);
    else
        nn_conv2d_ref_forward_f64(c->d, c->x, c->w, c->b, c->y);
}

static void fd_conv(const nn_conv_desc *d, int transposed, const char *what)
{
    nn_rng rng;
    nn_rng_seed(&rng, 42);
    size_t nx = transposed ? nn_conv_y_count(d) : nn_conv_x_count(d);
    size_t ny = transposed ? nn_conv_x_count(d) : nn_conv_y_count(d);
    size_t nw = nn_conv_w_count(d), nb = (size_t)(transposed ? d->c_in : d->c_out);
    double *x = xcalloc_f64(nx), *w = xcalloc_f64(nw), *b = xcalloc_f64(nb), *y = xcalloc_f64(ny);
    double *r = xcalloc_f64(ny), *dx = xcalloc_f64(nx), *dw = xcalloc_f64(nw), *db = xcalloc_f64(nb);
    fill_normal(&rng, x, nx, 1.0);
    fill_normal(&rng, w, nw, 0.5);
    fill_normal(&rng, b, nb, 1.0);
    fill_normal(&rng, r, ny, 1.0);
    if (transposed) {
        nn_conv_transpose_ref_backward_data_f64(d, r, w, dx);
        nn_conv_transpose_ref_backward_weights_f64(d, x, r, dw, db);
    } else {
        nn_conv2d_ref_backward_data_f64(d, r, w, dx);
        nn_conv2d_ref_backward_weights_f64(d, x, r, dw, db);
    }
    conv_fd c = {d, x, w, b, y, transposed};
    char buf[128];
    snprintf(buf, sizeof(buf), "%s dx", what);
    fd_check(buf, x, nx, dx, y, r, ny, conv_fd_forward, &c);
    snprintf(buf, sizeof(buf), "%s dw", what);
    fd_check(buf, w, nw, dw, y, r, ny, conv_fd_forward, &c);
    snprintf(buf, sizeof(buf), "%s db", what);
    fd_check(buf, b, nb, db, y, r, ny, conv_fd_forward, &c);
    free(x), free(w), free(b), free(y), free(r), free(dx), free(dw), free(db);
}

static void test_finite_differences(void)
{
    nn_conv_desc d;
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 2, 3, 7, 6, 4, 3, 2, 1, 1), NIC_OK);
    fd_conv(&d, 0, "conv 3x3 s2");
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 1, 4, 6, 6, 6, 5, 1, 2, 2), NIC_OK);
    fd_conv(&d, 0, "conv 5x5 groups 2");
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 1, 2, 5, 7, 3, 4, 3, 2, 1), NIC_OK);
    fd_conv(&d, 0, "conv 4x4 s3 p2");
    CHECK_STATUS(nn_conv_desc_init_transposed(ctx, &d, 2, 3, 3, 4, 2, 5, 2, 2, 1, 1), NIC_OK);
    fd_conv(&d, 1, "conv_transpose 5x5 s2 op1");
    CHECK_STATUS(nn_conv_desc_init_transposed(ctx, &d, 1, 4, 3, 3, 4, 3, 2, 1, 0, 2), NIC_OK);
    fd_conv(&d, 1, "conv_transpose 3x3 s2 groups 2");
}

/* ------------------------------------------------------------------ fast path vs reference */

/* scale widens the tolerances (1 for FP32 kernels; BF16 inputs keep 8 bits). */
static void fast_vs_reference_tol(const nn_conv_desc *d, unsigned flags, int transposed,
                                  const char *what, double scale)
{
    nn_rng rng;
    nn_rng_seed(&rng, 7);
    size_t nx = transposed ? nn_conv_y_count(d) : nn_conv_x_count(d);
    size_t ny = transposed ? nn_conv_x_count(d) : nn_conv_y_count(d);
    size_t nw = nn_conv_w_count(d), nb = (size_t)(transposed ? d->c_in : d->c_out);
    float *x = xcalloc_f32(nx), *w = xcalloc_f32(nw), *b = xcalloc_f32(nb), *dy = xcalloc_f32(ny);
    for (size_t i = 0; i < nx; i++) x[i] = (float)nn_rng_normal(&rng);
    for (size_t i = 0; i < nw; i++) w[i] = (float)(0.1 * nn_rng_normal(&rng));
    for (size_t i = 0; i < nb; i++) b[i] = (float)nn_rng_normal(&rng);
    for (size_t i = 0; i < ny; i++) dy[i] = (float)nn_rng_normal(&rng);
    nn_conv *ref = NULL, *fast = NULL;
    CHECK_STATUS(nn_conv_create(ctx, eng, d, NN_CONV_REFERENCE, &ref), NIC_OK);
    nic_status st = nn_conv_create(ctx, eng, d, flags, &fast);
    CHECK_MSG(st == NIC_OK, "%s: %s", what, nic_context_error(ctx));
    if (st != NIC_OK || !ref)
        goto out;
    float *y[2], *dx[2], *dw[2], *db[2];
    for (int k = 0; k < 2; k++) {
        nn_conv *c = k ? fast : ref;
        y[k] = xcalloc_f32(ny), dx[k] = xcalloc_f32(nx), dw[k] = xcalloc_f32(nw), db[k] = xcalloc_f32(nb);
        /* Run twice: weight gradients accumulate (2x), outputs are overwritten. */
        for (int rep = 0; rep < 2; rep++) {
            if (transposed) {
                CHECK_STATUS(nn_conv_transpose_forward(ctx, c, x, w, b, y[k]), NIC_OK);
                CHECK_STATUS(nn_conv_transpose_backward_data(ctx, c, dy, w, dx[k]), NIC_OK);
                CHECK_STATUS(nn_conv_transpose_backward_weights(ctx, c, x, dy, dw[k], db[k]), NIC_OK);
            } else {
                CHECK_STATUS(nn_conv_forward(ctx, c, x, w, b, y[k]), NIC_OK);
                CHECK_STATUS(nn_conv_backward_data(ctx, c, dy, w, dx[k]), NIC_OK);
                CHECK_STATUS(nn_conv_backward_weights(ctx, c, x, dy, dw[k], db[k]), NIC_OK);
            }
        }
    }
    char buf[160];
    /* Tolerances relative to the magnitude of sums of many terms. */
    snprintf(buf, sizeof(buf), "%s [%s] y", what, nn_conv_impl(fast, 0));
    check_close_ff(buf, y[1], y[0], ny, 1e-4 * scale, 1e-4 * scale);
    snprintf(buf, sizeof(buf), "%s [%s] dx", what, nn_conv_impl(fast, 1));
    check_close_ff(buf, dx[1], dx[0], nx, 1e-4 * scale, 1e-4 * scale);
    snprintf(buf, sizeof(buf), "%s [%s] dw", what, nn_conv_impl(fast, 2));
    check_close_ff(buf, dw[1], dw[0], nw, 2e-3 * scale, 1e-4 * scale);
    snprintf(buf, sizeof(buf), "%s db", what);
    check_close_ff(buf, db[1], db[0], nb, 2e-3 * scale, 1e-4 * scale);
    printf("  %-40s fwd %-22s bwd-data %-22s bwd-weights %s\n", what, nn_conv_impl(fast, 0),
           nn_conv_impl(fast, 1), nn_conv_impl(fast, 2));
    for (int k = 0; k < 2; k++)
        free(y[k]), free(dx[k]), free(dw[k]), free(db[k]);
out:
    nn_conv_destroy(ref);
    nn_conv_destroy(fast);
    free(x), free(w), free(b), free(dy);
}

static void fast_vs_reference(const nn_conv_desc *d, unsigned flags, int transposed, const char *what)
{
    fast_vs_reference_tol(d, flags, transposed, what, 1.0);
}

/* NN_CONV_BF16: the same results to BF16's precision (inputs rounded to 8
 * significant bits, FP32 sums); a layer with 3 input channels stays FP32 and
 * so matches to FP32's tolerance. Where the CPU has no BF16 kernels the plan
 * falls back to FP32, which passes too. */
static void test_bf16(void)
{
    nn_conv_desc d;
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 2, 32, 17, 15, 32, 5, 2, 2, 1), NIC_OK);
    fast_vs_reference_tol(&d, NN_CONV_BF16, 0, "bf16 conv 32->32 5x5 s2 17x15", 300.0);
    CHECK_STATUS(nn_conv_desc_init_transposed(ctx, &d, 2, 32, 8, 8, 16, 5, 2, 2, 1, 1), NIC_OK);
    fast_vs_reference_tol(&d, NN_CONV_BF16, 1, "bf16 conv_transpose 32->16 5x5 s2", 300.0);
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 2, 3, 32, 32, 16, 5, 2, 2, 1), NIC_OK);
    fast_vs_reference_tol(&d, NN_CONV_BF16, 0, "bf16 flag, conv 3->16 (stays FP32)", 1.0);
    nn_conv *c = NULL;
    CHECK_STATUS(nn_conv_create(ctx, eng, &d, NN_CONV_BF16, &c), NIC_OK);
    if (c)
        CHECK_MSG(strstr(nn_conv_impl(c, 0), "bf16") == NULL, "3 input channels ran %s",
                  nn_conv_impl(c, 0));
    nn_conv_destroy(c);
}

static void test_fast_path(void)
{
    if (!nn_engine_has_dnnl(eng))
        printf("oneDNN not available: plans use the reference kernels\n");
    nn_conv_desc d;
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 2, 3, 32, 32, 16, 5, 2, 2, 1), NIC_OK);
    fast_vs_reference(&d, 0, 0, "conv 3->16 5x5 s2 32x32");
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 2, 32, 17, 15, 32, 5, 2, 2, 1), NIC_OK);
    fast_vs_reference(&d, 0, 0, "conv 32->32 5x5 s2 17x15");
    fast_vs_reference(&d, NN_CONV_PLAIN_LAYOUT, 0, "conv 32->32 5x5 s2 17x15 plain");
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 1, 16, 12, 12, 24, 3, 1, 1, 4), NIC_OK);
    fast_vs_reference(&d, 0, 0, "conv 16->24 3x3 groups 4");
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 2, 20, 9, 9, 12, 1, 1, 0, 1), NIC_OK);
    fast_vs_reference(&d, 0, 0, "conv 20->12 1x1");
    CHECK_STATUS(nn_conv_desc_init_transposed(ctx, &d, 2, 32, 8, 8, 16, 5, 2, 2, 1, 1), NIC_OK);
    fast_vs_reference(&d, 0, 1, "conv_transpose 32->16 5x5 s2 op1");
    CHECK_STATUS(nn_conv_desc_init_transposed(ctx, &d, 1, 16, 6, 7, 3, 5, 2, 2, 1, 1), NIC_OK);
    fast_vs_reference(&d, 0, 1, "conv_transpose 16->3 5x5 s2 op1");
}

static void test_invalid(void)
{
    nn_conv_desc d;
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 1, 3, 4, 4, 4, 5, 1, 0, 1), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 1, 3, 8, 8, 4, 3, 1, 1, 2), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 1, 3, 8, 8, 4, 3, 0, 1, 1), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 0, 3, 8, 8, 4, 3, 1, 1, 1), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_conv_desc_init_transposed(ctx, &d, 1, 3, 8, 8, 4, 3, 2, 1, 2, 1),
                 NIC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(nic_context_error(ctx), "output_padding") != NULL);
    CHECK_STATUS(nn_conv_desc_init(ctx, &d, 1, 3, 8, 8, 4, 3, 1, 1, 1), NIC_OK);
    CHECK(d.h_out == 8 && d.w_out == 8);
    CHECK_STATUS(nn_conv_desc_init_transposed(ctx, &d, 1, 192, 16, 16, 128, 5, 2, 2, 1, 1), NIC_OK);
    CHECK(d.h_in == 32 && d.w_in == 32 && d.c_in == 128 && d.c_out == 192 && d.h_out == 16);
}

int main(int argc, char **argv)
{
    ctx = nic_context_create();
    CHECK_STATUS(nn_engine_create(ctx, &eng), NIC_OK);
    test_invalid();
    test_torch_fixtures(argc, argv);
    test_finite_differences();
    test_fast_path();
    test_bf16();
    nn_engine_destroy(eng);
    nic_context_destroy(ctx);
    return test_finish("test_nn_conv");
}
