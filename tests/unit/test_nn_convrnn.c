/*
 * ConvLSTM / ConvGRU over unrolled sequences: finite differences through 3
 * steps in double (inputs of every step, h_0, c_0 and all weights, so the
 * hidden-state path and the carried gradients are covered), PyTorch
 * fixtures (double, and float with reference and oneDNN convolutions), the
 * oneDNN cell against the reference cell on a larger shape, and misuse.
 */
#include "test_nn_util.h"

#include "nn/convrnn.h"

static nic_context *ctx;
static nn_engine *eng;

/* A cell, its arena and weights in double or float, run for `steps` steps. */
typedef struct rnn_run {
    nn_convrnn *cell;
    nn_arena arena;
    int steps;
    size_t nx, ns, nwx, nb, nwh; /* per step x, per step state, weights */
} rnn_run;

#define NN_REAL float
#define NN_FN(name) name
#include "test_nn_convrnn_run.inc"
#undef NN_REAL
#undef NN_FN
#define NN_REAL double
#define NN_FN(name) name##_f64
#include "test_nn_convrnn_run.inc"
#undef NN_REAL
#undef NN_FN

static void run_init(rnn_run *r, const nn_convrnn_desc *d, unsigned flags, int steps, int f64)
{
    memset(r, 0, sizeof(*r));
    CHECK_STATUS(nn_convrnn_create(ctx, eng, d, flags, &r->cell), NIC_OK);
    r->steps = steps;
    r->nx = nn_convrnn_x_count(d);
    r->ns = nn_convrnn_state_count(d);
    r->nwx = nn_convrnn_wx_count(d);
    r->nb = (size_t)nn_convrnn_gates(d) * d->hidden;
    r->nwh = nn_convrnn_wh_count(d);
    nn_arena_init(&r->arena);
    if (f64)
        run_plan_f64(r);
    else
        run_plan(r);
    CHECK_STATUS(nn_arena_commit(ctx, &r->arena), NIC_OK);
}

static void run_free(rnn_run *r)
{
    nn_convrnn_destroy(r->cell);
    nn_arena_free(&r->arena);
}

/* ------------------------------------------------------------------ finite differences */

typedef struct rnn_fd {
    rnn_run *r;
    double *x, *h0, *c0, *h_all;
    nn_convrnn_weights_f64 w;
} rnn_fd;

static void rnn_fd_forward(void *user)
{
    rnn_fd *f = user;
    run_f64(f->r, f->x, f->h0, f->c0, &f->w, f->h_all, NULL, NULL, NULL, NULL);
}

static void test_fd(nn_convrnn_kind kind, int k_in, int stride, int pad, int k_hidden)
{
    const int steps = 3;
    nn_convrnn_desc d;
    CHECK_STATUS(nn_convrnn_desc_init(ctx, &d, kind, 2, 2, 6, 5, 2, k_in, stride, pad, k_hidden),
                 NIC_OK);
    rnn_run r;
    run_init(&r, &d, NN_CONV_REFERENCE, steps, 1);
    nn_rng rng;
    nn_rng_seed(&rng, 100 + kind * 10 + k_hidden);
    double *x = xcalloc_f64(steps * r.nx), *h0 = xcalloc_f64(r.ns), *c0 = xcalloc_f64(r.ns);
    double *wx = xcalloc_f64(r.nwx), *b = xcalloc_f64(r.nb), *wh = xcalloc_f64(r.nwh);
    double *dwx = xcalloc_f64(r.nwx), *db = xcalloc_f64(r.nb), *dwh = xcalloc_f64(r.nwh);
    double *h_all = xcalloc_f64(steps * r.ns), *dh = xcalloc_f64(steps * r.ns);
    double *dx = xcalloc_f64(steps * r.nx), *dh0 = xcalloc_f64(r.ns), *dc0 = xcalloc_f64(r.ns);
    fill_normal(&rng, x, steps * r.nx, 1.0);
    fill_normal(&rng, h0, r.ns, 0.5);
    fill_normal(&rng, c0, r.ns, 0.5);
    fill_normal(&rng, wx, r.nwx, 0.4);
    fill_normal(&rng, b, r.nb, 0.2);
    fill_normal(&rng, wh, r.nwh, 0.5); /* strong recurrence: the hidden path matters */
    fill_normal(&rng, dh, steps * r.ns, 1.0);
    rnn_fd f = {&r, x, h0, kind == NN_CONVLSTM ? c0 : NULL, h_all, {wx, b, wh, dwx, db, dwh}};
    run_f64(&r, x, h0, f.c0, &f.w, h_all, dh, dx, dh0, dc0);

    char what[128], base[64];
    snprintf(base, sizeof(base), "%s k%d s%d hidden k%d", kind == NN_CONVLSTM ? "lstm" : "gru",
             k_in, stride, k_hidden);
    double worst = 0;
    struct {
        const char *name;
        double *v, *g;
        size_t n;
    } items[6] = {{"x (3 steps)", x, dx, steps * r.nx}, {"h0", h0, dh0, r.ns},
                  {"wx", wx, dwx, r.nwx},               {"b", b, db, r.nb},
                  {"wh", wh, dwh, r.nwh},               {"c0", c0, dc0, r.ns}};
    for (int i = 0; i < (kind == NN_CONVLSTM ? 6 : 5); i++) {
        snprintf(what, sizeof(what), "%s fd d%s", base, items[i].name);
        double e = fd_check(what, items[i].v, items[i].n, items[i].g, h_all, dh, steps * r.ns,
                            rnn_fd_forward, &f);
        worst = fmax(worst, e);
    }
    printf("convrnn fd %s: worst relative error %.2g\n", base, worst);
    /* the gradient did travel back through the hidden state: step 0's input
     * feeds later steps, so dx_0 differs from a 1-step run's */
    double *h1 = xcalloc_f64(r.ns), *dx1 = xcalloc_f64(r.nx), *z = xcalloc_f64(r.nwx + r.nb + r.nwh);
    rnn_run one;
    run_init(&one, &d, NN_CONV_REFERENCE, 1, 1);
    nn_convrnn_weights_f64 w1 = {wx, b, wh, z, z + r.nwx, z + r.nwx + r.nb};
    run_f64(&one, x, h0, f.c0, &w1, h1, dh, dx1, dh0, dc0);
    CHECK_MSG(max_abs_diff(dx1, dx, r.nx) > 1e-3, "%s: dx_0 ignores later steps", base);
    run_free(&one);
    free(h1), free(dx1), free(z);
    free(x), free(h0), free(c0), free(wx), free(b), free(wh), free(dwx), free(db), free(dwh);
    free(h_all), free(dh), free(dx), free(dh0), free(dc0);
    run_free(&r);
}

/* ------------------------------------------------------------------ PyTorch */

/* Compares a run's outputs (h, dx, dwx, db, dwh, dh0, dc0) with the
 * fixture's; returns the largest |difference|. */
static double compare_outputs(const char *label, double *const got[7], const double *want[7],
                              const size_t counts[7], int outs, double atol, double rtol)
{
    static const char *const names[7] = {"h", "dx", "dwx", "db", "dwh", "dh0", "dc0"};
    double worst = 0;
    for (int i = 0; i < outs; i++) {
        char what[128];
        snprintf(what, sizeof(what), "%s %s", label, names[i]);
        check_close_f64(what, got[i], want[i], counts[i], atol, rtol);
        worst = fmax(worst, max_abs_diff(got[i], want[i], counts[i]));
    }
    return worst;
}

static void test_torch_case(const nn_st_file *f, int idx, int steps)
{
    char k[64], kind_s[16];
    snprintf(k, sizeof(k), "case%d", idx);
    const char *meta = nn_st_get_meta(f, k);
    int n, ci, h, w, hid, kin, s, p, kh;
    CHECK(meta && sscanf(meta, "%15s %d %d %d %d %d %d %d %d %d", kind_s, &n, &ci, &h, &w, &hid,
                         &kin, &s, &p, &kh) == 10);
    if (!meta)
        return;
    const nn_convrnn_kind kind = strcmp(kind_s, "lstm") == 0 ? NN_CONVLSTM : NN_CONVGRU;
    nn_convrnn_desc d;
    CHECK_STATUS(nn_convrnn_desc_init(ctx, &d, kind, n, ci, h, w, hid, kin, s, p, kh), NIC_OK);
    size_t cnt[16];
    const char *names[14] = {"x", "wx", "b", "wh", "h0", "c0", "h",
                             "dh", "dx", "dwx", "db", "dwh", "dh0", "dc0"};
    double *t[14];
    for (int i = 0; i < 14; i++) {
        if (kind == NN_CONVGRU && strcmp(names[i], "dc0") == 0) {
            t[i] = NULL;
            continue;
        }
        snprintf(k, sizeof(k), "case%d/%s", idx, names[i]);
        t[i] = fixture_f64(ctx, f, k, &cnt[i]);
    }
    double *x = t[0], *wx = t[1], *b = t[2], *wh = t[3], *h0 = t[4], *c0 = t[5], *hy = t[6],
           *dh = t[7], *dx = t[8], *dwx = t[9], *db = t[10], *dwh = t[11], *dh0 = t[12],
           *dc0 = t[13];
    rnn_run r;
    run_init(&r, &d, NN_CONV_REFERENCE, steps, 1);
    CHECK_MSG(cnt[0] == steps * r.nx && cnt[1] == r.nwx && cnt[2] == r.nb && cnt[3] == r.nwh &&
                  cnt[6] == steps * r.ns,
              "case %d: fixture sizes do not match the descriptor", idx);
    if (cnt[0] != steps * r.nx || cnt[1] != r.nwx || cnt[3] != r.nwh || cnt[6] != steps * r.ns) {
        run_free(&r);
        goto done;
    }
    if (kind == NN_CONVGRU)
        c0 = NULL;

    /* outputs, in the order of `want`: h, dx, dwx, db, dwh, dh0, dc0 (LSTM only) */
    const int outs = kind == NN_CONVLSTM ? 7 : 6;
    const size_t counts[7] = {steps * r.ns, steps * r.nx, r.nwx, r.nb, r.nwh, r.ns, r.ns};
    const double *want[7] = {hy, dx, dwx, db, dwh, dh0, dc0};

    /* double */
    double *m[7];
    for (int i = 0; i < 7; i++)
        m[i] = xcalloc_f64(counts[i]);
    nn_convrnn_weights_f64 w64 = {wx, b, wh, m[2], m[3], m[4]};
    run_f64(&r, x, h0, c0, &w64, m[0], dh, m[1], m[5], m[6]);
    char label[64];
    snprintf(label, sizeof(label), "%s case %d f64", kind_s, idx);
    double worst = compare_outputs(label, m, want, counts, outs, 1e-11, 1e-10);
    printf("convrnn torch %s: max |diff| %.2g\n", label, worst);
    run_free(&r);

    /* float, reference and oneDNN convolutions; run twice: weight gradients accumulate */
    for (int fast = 0; fast < 2; fast++) {
        run_init(&r, &d, fast ? 0 : NN_CONV_REFERENCE, steps, 0);
        float *xf = to_f32(x, steps * r.nx), *wxf = to_f32(wx, r.nwx), *bf = to_f32(b, r.nb),
              *whf = to_f32(wh, r.nwh), *h0f = to_f32(h0, r.ns),
              *c0f = c0 ? to_f32(c0, r.ns) : NULL, *dhf = to_f32(dh, steps * r.ns);
        float *mf[7];
        for (int i = 0; i < 7; i++)
            mf[i] = xcalloc_f32(counts[i]);
        nn_convrnn_weights w32 = {wxf, bf, whf, mf[2], mf[3], mf[4]};
        for (int rep = 0; rep < 2; rep++)
            run(&r, xf, h0f, c0f, &w32, mf[0], dhf, mf[1], mf[5], mf[6]);
        for (int i = 0; i < 7; i++)
            for (size_t j = 0; j < counts[i]; j++) /* weight gradients: 2 runs / 2 */
                m[i][j] = (i >= 2 && i <= 4) ? 0.5 * mf[i][j] : mf[i][j];
        snprintf(label, sizeof(label), "%s case %d f32 %s", kind_s, idx,
                 fast ? nn_conv_impl(r.cell->conv_x, 0) : "reference");
        double worst32 = compare_outputs(label, m, want, counts, outs, 1e-4, 1e-4);
        printf("convrnn torch %s: max |diff| %.2g\n", label, worst32);
        free(xf), free(wxf), free(bf), free(whf), free(h0f), free(c0f), free(dhf);
        for (int i = 0; i < 7; i++)
            free(mf[i]);
        run_free(&r);
    }
    for (int i = 0; i < 7; i++)
        free(m[i]);
done:
    for (int i = 0; i < 14; i++)
        free(t[i]);
}

static void test_torch(int argc, char **argv)
{
    nn_st_file f;
    if (!open_fixture(ctx, argc, argv, "convrnn.safetensors", &f))
        return;
    const char *count = nn_st_get_meta(&f, "count"), *steps = nn_st_get_meta(&f, "steps");
    CHECK(count && steps);
    int nc = count ? atoi(count) : 0;
    CHECK(nc == 4);
    for (int i = 0; i < nc; i++)
        test_torch_case(&f, i, steps ? atoi(steps) : 0);
    nn_st_free(&f);
}

/* ------------------------------------------------------------------ oneDNN vs reference */

static void test_fast_vs_reference(nn_convrnn_kind kind)
{
    if (!nn_engine_has_dnnl(eng)) {
        printf("convrnn: oneDNN not available, fast path not compared\n");
        return;
    }
    const int steps = 4;
    nn_convrnn_desc d;
    CHECK_STATUS(nn_convrnn_desc_init(ctx, &d, kind, 2, 16, 16, 15, 16, 3, 2, 1, 3), NIC_OK);
    rnn_run ref, fast;
    run_init(&ref, &d, NN_CONV_REFERENCE, steps, 0);
    run_init(&fast, &d, 0, steps, 0);
    nn_rng rng;
    nn_rng_seed(&rng, 7 + kind);
    size_t nx = steps * ref.nx, nh = steps * ref.ns;
    float *x = xcalloc_f32(nx), *dh = xcalloc_f32(nh), *wx = xcalloc_f32(ref.nwx),
          *b = xcalloc_f32(ref.nb), *wh = xcalloc_f32(ref.nwh);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)nn_rng_normal(&rng);
    for (size_t i = 0; i < nh; i++)
        dh[i] = (float)nn_rng_normal(&rng);
    for (size_t i = 0; i < ref.nwx; i++)
        wx[i] = (float)(0.1 * nn_rng_normal(&rng));
    for (size_t i = 0; i < ref.nb; i++)
        b[i] = (float)(0.1 * nn_rng_normal(&rng));
    for (size_t i = 0; i < ref.nwh; i++)
        wh[i] = (float)(0.1 * nn_rng_normal(&rng));
    float *out[2][6];
    for (int v = 0; v < 2; v++) {
        rnn_run *r = v ? &fast : &ref;
        out[v][0] = xcalloc_f32(nh), out[v][1] = xcalloc_f32(nx), out[v][2] = xcalloc_f32(r->nwx);
        out[v][3] = xcalloc_f32(r->nb), out[v][4] = xcalloc_f32(r->nwh), out[v][5] = xcalloc_f32(r->ns);
        nn_convrnn_weights w = {wx, b, wh, out[v][2], out[v][3], out[v][4]};
        float *dc0 = xcalloc_f32(r->ns);
        run(r, x, NULL, NULL, &w, out[v][0], dh, out[v][1], out[v][5], dc0);
        free(dc0);
    }
    const char *names[6] = {"h", "dx", "dwx", "db", "dwh", "dh0"};
    const size_t counts[6] = {nh, nx, ref.nwx, ref.nb, ref.nwh, ref.ns};
    double worst = 0;
    for (int i = 0; i < 6; i++) {
        char what[96];
        snprintf(what, sizeof(what), "%s oneDNN vs reference %s",
                 kind == NN_CONVLSTM ? "lstm" : "gru", names[i]);
        check_close_ff(what, out[1][i], out[0][i], counts[i], 1e-4, 1e-4);
        for (size_t j = 0; j < counts[i]; j++)
            worst = fmax(worst, fabs((double)out[1][i][j] - out[0][i][j]));
        free(out[0][i]), free(out[1][i]);
    }
    printf("convrnn %s 16->16 ch, 4 steps: oneDNN (%s) vs reference max |diff| %.2g\n",
           kind == NN_CONVLSTM ? "lstm" : "gru", nn_conv_impl(fast.cell->conv_x, 0), worst);
    free(x), free(dh), free(wx), free(b), free(wh);
    run_free(&ref);
    run_free(&fast);
}

/* ------------------------------------------------------------------ misuse */

static void test_errors(void)
{
    nn_convrnn_desc d;
    CHECK_STATUS(nn_convrnn_desc_init(ctx, &d, NN_CONVGRU, 1, 2, 4, 4, 3, 3, 1, 1, 2),
                 NIC_ERR_INVALID_ARGUMENT); /* even hidden kernel */
    CHECK_STATUS(nn_convrnn_desc_init(ctx, &d, NN_CONVLSTM, 1, 2, 2, 2, 3, 5, 1, 0, 1),
                 NIC_ERR_INVALID_ARGUMENT); /* input conv output would be empty */
    CHECK_STATUS(nn_convrnn_desc_init(ctx, &d, NN_CONVLSTM, 1, 2, 4, 4, 3, 3, 1, 1, 1), NIC_OK);
    CHECK(d.h == 4 && d.w == 4);
    rnn_run r;
    run_init(&r, &d, NN_CONV_REFERENCE, 2, 0);
    nn_convrnn_seq s;
    CHECK_STATUS(nn_convrnn_seq_begin(ctx, &s, r.cell, &r.arena, NN_CONVRNN_MAX_STEPS + 1, NULL,
                                      NULL),
                 NIC_ERR_INVALID_ARGUMENT);
    /* more steps than planned: the arena is too small, said so */
    nn_arena_reset(&r.arena);
    CHECK_STATUS(nn_convrnn_seq_begin(ctx, &s, r.cell, &r.arena, 3, NULL, NULL), NIC_ERR_INTERNAL);
    nn_arena_reset(&r.arena);
    CHECK_STATUS(nn_convrnn_seq_begin(ctx, &s, r.cell, &r.arena, 2, NULL, NULL), NIC_OK);
    float *x = xcalloc_f32(r.nx), *w = xcalloc_f32(r.nwx + r.nb + r.nwh),
          *g = xcalloc_f32(r.nwx + r.nb + r.nwh);
    nn_convrnn_weights wt = {w, w + r.nwx, w + r.nwx + r.nb, g, g + r.nwx, g + r.nwx + r.nb};
    /* a sequence begun in a planning arena has no buffers: refused, not a crash */
    nn_arena planning;
    nn_arena_init(&planning);
    nn_convrnn_seq ps;
    CHECK_STATUS(nn_convrnn_seq_begin(ctx, &ps, r.cell, &planning, 2, NULL, NULL), NIC_OK);
    CHECK_STATUS(nn_convrnn_seq_forward(ctx, &ps, &wt, x, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(nic_context_error(ctx), "planning") != NULL);
    CHECK_STATUS(nn_convrnn_seq_forward(ctx, &s, &wt, x, NULL), NIC_OK);
    CHECK(nn_convrnn_seq_dh0(&s) == NULL);
    CHECK_STATUS(nn_convrnn_seq_backward(ctx, &s, &wt, NULL, NULL), NIC_OK);
    CHECK(nn_convrnn_seq_dh0(&s) != NULL);
    CHECK_STATUS(nn_convrnn_seq_backward(ctx, &s, &wt, NULL, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_convrnn_seq_forward(ctx, &s, &wt, x, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(nic_context_error(ctx), "after backward") != NULL);
    free(x), free(w), free(g);
    run_free(&r);
}

int main(int argc, char **argv)
{
    ctx = nic_context_create();
    CHECK_STATUS(nn_engine_create(ctx, &eng), NIC_OK);
    test_errors();
    test_fd(NN_CONVLSTM, 3, 2, 1, 3);
    test_fd(NN_CONVLSTM, 1, 1, 0, 1);
    test_fd(NN_CONVGRU, 3, 2, 1, 1);
    test_fd(NN_CONVGRU, 3, 1, 1, 3);
    test_torch(argc, argv);
    test_fast_vs_reference(NN_CONVLSTM);
    test_fast_vs_reference(NN_CONVGRU);
    nn_engine_destroy(eng);
    nic_context_destroy(ctx);
    return test_finish("test_nn_convrnn");
}
