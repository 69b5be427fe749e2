#include "models/int_transform.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gdn_det.h"
#include "nn/tensor.h"

#define TILE 96                    /* pixels per tile: a multiple of every kernel's block */
#define DEFAULT_BUDGET (96u << 20) /* bytes of row windows */
#define SUM_LIMIT 2147483647.0     /* |sum| must stay below 2^31 */

/* ---------------------------------------------------------------- quantization */

/* Weight exponents e (w_q = round(w * unit * 2^e)) per output channel: the
 * largest with |w_q| <= 32767 and |b_q| + 32767 sum |w_q| < 2^31 for every
 * lane of the channel, so that no input can make a sum wrap. Only exact
 * operations (products with powers of two, rounding, comparisons), so every
 * machine gets the same integers. */
static nic_status quantize_layer(nic_context *ctx, nic_int_layer *L, const float *w,
                                 const float *b, double unit)
{
    nn_phase_layout *pl = &L->pl;
    const int co = pl->c_out, lanes = pl->lanes;
    const size_t nw = pl->w_count;
    int *e = calloc((size_t)co, sizeof(int)), *lane_oc = calloc((size_t)lanes, sizeof(int));
    double *maxabs = calloc((size_t)co, sizeof(double)), *pow2 = calloc((size_t)co, sizeof(double));
    double *l1 = calloc((size_t)lanes, sizeof(double)), *count = calloc((size_t)lanes, sizeof(double));
    uint64_t *l1q = calloc((size_t)lanes, sizeof(uint64_t));
    double *val = malloc(nw * sizeof(double));  /* w * unit of every element (0: none) */
    int32_t *lane_of = malloc(nw * sizeof(int32_t));
    nic_status st = NIC_OK;
    if (!e || !lane_oc || !maxabs || !pow2 || !l1 || !count || !l1q || !val || !lane_of) {
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer transform: out of memory");
        goto done;
    }
    for (int lane = 0; lane < lanes; lane++)
        lane_oc[lane] = nn_phase_lane_channel(pl, lane);
    for (int gi = 0; gi < pl->ngroups; gi++) {
        const nn_phase_group *g = &pl->groups[gi];
        for (int ti = g->tap0; ti < g->tap0 + g->ntaps; ti++) {
            const nn_iconv_tap *t = &pl->taps[ti];
            for (int q = 0; q < t->n; q++)
                for (int l = 0; l < g->blocks * pl->block; l++)
                    for (int k = 0; k < pl->unit; k++) {
                        int lane = g->lane0 + l;
                        ptrdiff_t wi = nn_phase_weight_index(pl, lane, t, t->c0 + q * pl->unit + k);
                        size_t at = nn_phase_w_index(pl, g, t, q, l, k);
                        val[at] = wi < 0 ? 0.0 : (double)w[wi] * unit;
                        lane_of[at] = lane;
                    }
        }
    }
    for (size_t i = 0; i < nw; i++) {
        int lane = lane_of[i], oc = lane_oc[lane];
        double v = fabs(val[i]);
        if (oc < 0)
            continue;
        maxabs[oc] = v > maxabs[oc] ? v : maxabs[oc];
        l1[lane] += v;
        count[lane] += 1;
    }
    for (int oc = 0; oc < co; oc++) {
        double lim = maxabs[oc] > 0 ? 32767.0 / maxabs[oc] : 1e30;
        for (int lane = 0; lane < lanes; lane++) {
            if (lane_oc[lane] != oc)
                continue;
            double room = SUM_LIMIT - 1.5 - 16383.5 * count[lane];
            double need = (lane < pl->split_lanes ? fabs((double)b[oc]) : 0) + 32767.0 * l1[lane];
            if (need > 0 && room / need < lim)
                lim = room / need;
        }
        int k;
        frexp(lim, &k); /* lim = f 2^k, f in [0.5, 1): floor(log2 lim) = k - 1 */
        e[oc] = k - 1 > 40 ? 40 : k - 1;
    }
    /* Quantize, then check the bound exactly; rounding can push a channel over
     * it, which one step smaller fixes. */
    for (int attempt = 0;; attempt++) {
        int bad = 0;
        for (int oc = 0; oc < co; oc++) {
            pow2[oc] = ldexp(1.0, e[oc]);
            maxabs[oc] = 0; /* from here: 1 when the channel needs a smaller step */
        }
        memset(l1q, 0, (size_t)lanes * sizeof(uint64_t));
        for (size_t i = 0; i < nw; i++) {
            int lane = lane_of[i], oc = lane_oc[lane];
            double v = oc < 0 ? 0.0 : nearbyint(val[i] * pow2[oc]);
            if (v > 32767 || v < -32767) {
                bad = 1;
                maxabs[oc] = 1;
                v = v > 0 ? 32767 : -32767;
            }
            L->w[i] = (int16_t)v;
            l1q[lane] += (uint64_t)fabs(v);
        }
        for (int lane = 0; lane < lanes; lane++) {
            int oc = lane_oc[lane]; /* the bias goes into the first split's sum */
            double bq = oc >= 0 && lane < pl->split_lanes ? nearbyint((double)b[oc] * pow2[oc]) : 0;
            if (fabs(bq) + 32767.0 * (double)l1q[lane] > SUM_LIMIT) {
                bad = 1;
                maxabs[oc] = 1;
                bq = 0;
            }
            L->bias[lane] = (int32_t)bq;
        }
        for (int oc = 0; oc < co; oc++)
            e[oc] -= maxabs[oc] != 0;
        if (!bad)
            break;
        if (attempt > 64) {
            st = NIC_FAIL(ctx, NIC_ERR_FORMAT,
                          "integer transform: weights too large for 16-bit arithmetic");
            goto done;
        }
    }
    for (int oc = 0; oc < co; oc++)
        L->scale[oc] = ldexpf(1.0f, -e[oc]);
done:
    free(e);
    free(lane_oc);
    free(maxabs);
    free(pow2);
    free(l1);
    free(count);
    free(l1q);
    free(val);
    free(lane_of);
    return st;
}

static void layer_free(nic_int_layer *L)
{
    nn_phase_layout_free(&L->pl);
    free(L->groups);
    nn_free(L->w);
    nn_free(L->bias);
    nn_free(L->scale);
    nn_free(L->beta);
    nn_free(L->gamma_t);
    memset(L, 0, sizeof(*L));
}

void nic_int_transform_free(nic_int_transform *t)
{
    for (int i = 0; i < 4; i++)
        layer_free(&t->layer[i]);
    memset(t, 0, sizeof(*t));
}

static nic_status layer_create(nic_context *ctx, const nic_hyper_model *m,
                               const nic_conv_block *cb, const nic_gdn_block *gb, int gdn,
                               double unit, int split, nic_int_layer *L)
{
    const nn_params *p = &m->params;
    if (cb->k != 5 || cb->stride != 2)
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED,
                        "integer transform: %dx%d stride %d layers are not supported", cb->k,
                        cb->k, cb->stride);
    NIC_TRY(nn_phase_layout_init(ctx, &L->pl, cb->transposed ? NN_PHASE_CONVT_S2 : NN_PHASE_CONV_S2,
                                 cb->c_in, cb->c_out, 16, 2, 3, split));
    const int co = cb->c_out;
    L->groups = calloc((size_t)L->pl.ngroups, sizeof(*L->groups));
    L->w = nn_alloc(L->pl.w_count * sizeof(int16_t));
    L->bias = nn_alloc((size_t)L->pl.lanes * sizeof(int32_t));
    L->scale = nn_alloc((size_t)co * sizeof(float));
    if (!L->groups || !L->w || !L->bias || !L->scale)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer transform: out of memory");
    NIC_TRY(quantize_layer(ctx, L, nn_param_data(p, cb->weight), nn_param_data(p, cb->bias), unit));
    for (int i = 0; i < L->pl.ngroups; i++) {
        const nn_phase_group *g = &L->pl.groups[i];
        L->groups[i] = (nn_iconv16_group){.blocks = g->blocks,
                                          .lane0 = g->lane0,
                                          .ntaps = g->ntaps,
                                          .taps = L->pl.taps + g->tap0,
                                          .w = L->w,
                                          .bias = L->bias + g->lane0};
    }
    L->gdn = gdn;
    if (gdn) {
        L->beta = nn_alloc((size_t)co * sizeof(float));
        L->gamma_t = nn_alloc((size_t)co * co * sizeof(float));
        float *gamma = nn_alloc((size_t)co * co * sizeof(float));
        if (!L->beta || !L->gamma_t || !gamma) {
            nn_free(gamma);
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer transform: out of memory");
        }
        nn_gdn_reparam_forward(nn_param_data(p, gb->beta), (size_t)co, NN_GDN_BETA_MIN, L->beta);
        nn_gdn_reparam_forward(nn_param_data(p, gb->gamma), (size_t)co * co, 0.0, gamma);
        for (int i = 0; i < co; i++)
            for (int j = 0; j < co; j++)
                L->gamma_t[(size_t)j * co + i] = gamma[(size_t)i * co + j];
        nn_free(gamma);
    }
    return NIC_OK;
}

nic_status nic_int_transform_create(nic_context *ctx, const nic_hyper_model *m, int synthesis,
                                    nic_int_transform *t)
{
    memset(t, 0, sizeof(*t));
    t->synthesis = synthesis;
    const nic_conv_block *cb = synthesis ? m->gs : m->ga;
    const nic_gdn_block *gb = synthesis ? m->gs_gdn : m->ga_gdn;
    t->c_in = cb[0].c_in;
    t->c_out = cb[3].c_out;
    if (synthesis && t->c_out != 3)
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "integer synthesis: %d output channels",
                        t->c_out);
    nic_status st = NIC_OK;
    for (int i = 0; i < 4 && st == NIC_OK; i++) {
        double unit = ldexp(1.0, -NIC_INT_ACT_Q);
        if (i == 0)
            unit = synthesis ? ldexp(1.0, -NIC_INT_YHAT_Q) : 1.0 / (255.0 * NIC_INT_PIXEL_MUL);
        /* The last layer's sums go to float outputs: split them (see the header). */
        st = layer_create(ctx, m, &cb[i], i < 3 ? &gb[i] : NULL, i < 3 ? (synthesis ? 2 : 1) : 0,
                          unit, i == 3 ? NIC_INT_LAST_SPLIT : 0, &t->layer[i]);
    }
    if (st != NIC_OK)
        nic_int_transform_free(t);
    return st;
}

/* ---------------------------------------------------------------- row windows */

/* Grid rows [lo, hi) of one layer's input, each (w + 2) pixels with a zero
 * pixel on both sides; rows -1 and h are zero rows. */
typedef struct window {
    int h, w, c;
    ptrdiff_t row_len;
    int cap, lo, hi, max_span;
    int16_t *buf;
} window;

static int16_t *win_row(const window *w, int r)
{
    return w->buf + (ptrdiff_t)(r - w->lo) * w->row_len;
}

typedef struct run {
    const nic_int_transform *t;
    nn_isa isa;
    int dry; /* plan only: track the rows each window must hold */
    window win[4];
    /* input of layer 0 */
    nic_int_rows_fn source;
    void *user;
    /* outputs */
    nic_image *img;
    float *y;
    int threads;
    int32_t **acc;
    float **scratch;
    /* the caller's abort callback is asked between strips */
    nic_context *ctx;
    nic_status status;
} run;

static void win_drop_below(window *w, int lo, int dry)
{
    if (lo <= w->lo)
        return;
    if (lo >= w->hi) {
        w->lo = w->hi = lo;
        return;
    }
    if (!dry)
        memmove(w->buf, win_row(w, lo), (size_t)(w->hi - lo) * w->row_len * sizeof(int16_t));
    w->lo = lo;
}

/* Makes room for rows [w->hi, hi): zero borders (all zero outside the grid). */
static void win_append(window *w, int hi, int dry)
{
    int from = w->hi;
    w->hi = hi;
    if (w->hi - w->lo > w->max_span)
        w->max_span = w->hi - w->lo;
    if (dry)
        return;
    for (int r = from; r < hi; r++) {
        int16_t *row = win_row(w, r);
        if (r < 0 || r >= w->h) {
            memset(row, 0, (size_t)w->row_len * sizeof(int16_t));
        } else {
            memset(row, 0, (size_t)w->c * sizeof(int16_t));
            memset(row + (ptrdiff_t)(w->w + 1) * w->c, 0, (size_t)w->c * sizeof(int16_t));
        }
    }
}

/* The value of lane `lane` (of the first split) at pixel p: the partial sums
 * of every split added exactly, then one conversion. */
static float last_value(const nic_int_layer *L, const int32_t *acc, int p, int lane, int c)
{
    const int32_t *a = acc + (ptrdiff_t)p * L->pl.lanes + lane;
    int64_t sum = 0;
    for (int s = 0; s < L->pl.splits; s++)
        sum += a[s * L->pl.split_lanes];
    return (float)sum * L->scale[c];
}

/* The picture from the last synthesis layer: 4 phases x 3 channels per grid
 * pixel; the same float steps as the float model's decoder. */
static void put_pixels(const nic_int_layer *L, const int32_t *acc, int i, int j0, int n,
                       nic_image *img)
{
    for (int p = 0; p < n; p++)
        for (int ph = 0; ph < 4; ph++) {
            uint32_t yy = (uint32_t)(2 * i + ph / 2), xx = (uint32_t)(2 * (j0 + p) + ph % 2);
            if (yy >= img->height || xx >= img->width)
                continue;
            float rgb[3];
            for (int c = 0; c < 3; c++) {
                float v = last_value(L, acc, p, ph * 3 + c, c) * 255.0f;
                rgb[c] = v < 0 ? 0 : (v > 255 ? 255 : v);
            }
            uint8_t *px = img->data + ((size_t)yy * img->width + xx) * img->channels;
            if (img->channels == 3) {
                for (int c = 0; c < 3; c++)
                    px[c] = (uint8_t)(rgb[c] + 0.5f);
            } else {
                float luma = 0.299f * rgb[0];
                luma = luma + 0.587f * rgb[1];
                luma = luma + 0.114f * rgb[2];
                px[0] = (uint8_t)(luma + 0.5f);
            }
        }
}

/* One tile of layer l: kernel row i, pixels [j0, j0 + n). */
static void tile(const run *r, int l, int i, int j0, int n, int32_t *acc, float *scratch)
{
    const nic_int_layer *L = &r->t->layer[l];
    const window *in = &r->win[l];
    const int lanes = L->pl.lanes, co = L->pl.c_out;
    const int16_t *x = win_row(in, i) + (ptrdiff_t)(1 + j0) * in->c;
    for (int g = 0; g < L->pl.ngroups; g++)
        nn_iconv16_row(r->isa, x, in->row_len, in->c, n, &L->groups[g], acc, lanes);
    const float out_mul = (float)(1 << NIC_INT_ACT_Q);
    if (l == 3) {
        if (r->img) {
            put_pixels(L, acc, i, j0, n, r->img);
        } else {
            const size_t plane = (size_t)in->h * in->w;
            for (int p = 0; p < n; p++)
                for (int c = 0; c < co; c++)
                    r->y[c * plane + (size_t)i * in->w + j0 + p] = last_value(L, acc, p, c, c);
        }
    } else if (L->pl.kind == NN_PHASE_CONVT_S2) {
        const window *next = &r->win[l + 1];
        for (int ph = 0; ph < 4; ph++) {
            int16_t *out =
                win_row(next, 2 * i + ph / 2) + (ptrdiff_t)(1 + 2 * j0 + ph % 2) * next->c;
            nn_gdn_det_rows(r->isa, 1, co, n, acc + ph * co, lanes, L->scale, L->beta,
                            L->gamma_t, out_mul, out, 2 * next->c, scratch);
        }
    } else {
        /* the next layer reads space-to-depth: output (i, j) goes to pixel
         * (i / 2, j / 2), channels from ((i % 2) * 2 + j % 2) * cin_pad */
        const window *next = &r->win[l + 1];
        const int cp = r->t->layer[l + 1].pl.cin_pad;
        for (int par = 0; par < 2 && par < n; par++) {
            int16_t *out = win_row(next, i / 2) + (ptrdiff_t)(1 + (j0 + par) / 2) * next->c +
                           ((i % 2) * 2 + par) * cp;
            nn_gdn_det_rows(r->isa, 0, co, (n + 1 - par) / 2, acc + par * lanes, 2 * lanes,
                            L->scale, L->beta, L->gamma_t, out_mul, out, next->c, scratch);
        }
    }
}

/* Kernel rows [r0, r1) of layer l, into the next window (or the output). */
static void run_layer(run *r, int l, int r0, int r1)
{
    if (r0 >= r1)
        return;
    if (l < 3) {
        window *next = &r->win[l + 1];
        if (r->t->layer[l].pl.kind == NN_PHASE_CONVT_S2)
            win_append(next, 2 * r1, r->dry);
        else
            win_append(next, r1 / 2, r->dry);
    }
    if (r->dry)
        return;
    const int w = r->win[l].w, chunks = (w + TILE - 1) / TILE;
    const int tiles = (r1 - r0) * chunks;
#pragma omp parallel for schedule(dynamic, 1) num_threads(r->threads)
    for (int k = 0; k < tiles; k++) {
        int th = omp_get_thread_num();
        int i = r0 + k / chunks, j0 = (k % chunks) * TILE;
        int n = w - j0 < TILE ? w - j0 : TILE;
        tile(r, l, i, j0, n, r->acc[th], r->scratch[th]);
    }
}

/* Makes window l hold grid rows [lo, hi) (clipped to -1 .. h), computing
 * what is missing through the layers below. */
static void ensure(run *r, int l, int lo, int hi)
{
    window *w = &r->win[l];
    lo = lo < -1 ? -1 : lo;
    hi = hi > w->h + 1 ? w->h + 1 : hi;
    if (w->hi < lo) {
        /* nothing held is needed: start at lo (at an even row when rows come in
         * pairs from a transposed layer) */
        int start = lo;
        if (l > 0 && start > 0 && r->t->layer[l - 1].pl.kind == NN_PHASE_CONVT_S2)
            start &= ~1;
        w->lo = w->hi = start;
    }
    win_drop_below(w, lo, r->dry);
    while (w->hi < hi) {
        int row = w->hi;
        if (row < 0 || row >= w->h) {
            win_append(w, row + 1, r->dry);
            continue;
        }
        int want = hi < w->h ? hi : w->h;
        if (l == 0) {
            win_append(w, want, r->dry);
            if (!r->dry)
                r->source(r->user, row, want, win_row(w, row), w->row_len);
        } else if (r->t->layer[l - 1].pl.kind == NN_PHASE_CONVT_S2) {
            int k0 = row / 2, k1 = (want + 1) / 2; /* rows come in pairs */
            ensure(r, l - 1, k0 - 1, k1 + 1);
            run_layer(r, l - 1, k0, k1);
        } else {
            ensure(r, l - 1, 2 * row - 1, 2 * want + 1);
            run_layer(r, l - 1, 2 * row, 2 * want);
        }
    }
}

/* Every strip of `strip` rows of the last layer's kernel grid. */
static void schedule(run *r, int strip)
{
    const int h = r->win[3].h;
    for (int l = 0; l < 4; l++) {
        r->win[l].lo = r->win[l].hi = -1;
        r->win[l].max_span = 0;
    }
    for (int a = 0; a < h; a += strip) {
        int b = a + strip < h ? a + strip : h;
        if (!r->dry && (r->status = nic_check_abort(r->ctx, "transform")) != NIC_OK)
            return;
        ensure(r, 3, a - 1, b + 1);
        run_layer(r, 3, a, b);
    }
}

static void run_free(run *r)
{
    for (int l = 0; l < 4; l++)
        nn_free(r->win[l].buf);
    for (int k = 0; r->acc && k < r->threads; k++)
        nn_free(r->acc[k]);
    for (int k = 0; r->scratch && k < r->threads; k++)
        nn_free(r->scratch[k]);
    free(r->acc);
    free(r->scratch);
}

/* Sizes the windows of layer inputs h0 x w0 (grid of layer 0) by a dry run
 * with the tallest strip that fits the budget, allocates, and runs. */
static nic_status run_all(nic_context *ctx, run *r, int h0, int w0, size_t budget)
{
    const nic_int_transform *t = r->t;
    int h = h0, w = w0;
    for (int l = 0; l < 4; l++) {
        const nn_phase_layout *pl = &t->layer[l].pl;
        window *win = &r->win[l];
        win->h = h;
        win->w = w;
        win->c = pl->cin_grid;
        win->row_len = (ptrdiff_t)(w + 2) * win->c;
        if (pl->kind == NN_PHASE_CONVT_S2) {
            h *= 2;
            w *= 2;
        } else {
            h /= 2;
            w /= 2;
        }
    }
    if (!budget)
        budget = DEFAULT_BUDGET;
    int strip = r->win[3].h;
    for (;;) {
        r->dry = 1;
        schedule(r, strip);
        size_t bytes = 0;
        for (int l = 0; l < 4; l++)
            bytes += (size_t)r->win[l].max_span * r->win[l].row_len * sizeof(int16_t);
        if (bytes <= budget || strip == 1)
            break;
        strip = (strip + 1) / 2;
    }
    r->dry = 0;
    r->threads = omp_get_max_threads();
    int max_lanes = 0, max_c = 0;
    for (int l = 0; l < 4; l++) {
        max_lanes = t->layer[l].pl.lanes > max_lanes ? t->layer[l].pl.lanes : max_lanes;
        max_c = t->layer[l].pl.c_out > max_c ? t->layer[l].pl.c_out : max_c;
    }
    r->acc = calloc((size_t)r->threads, sizeof(*r->acc));
    r->scratch = calloc((size_t)r->threads, sizeof(*r->scratch));
    nic_status st = NIC_OK;
    if (!r->acc || !r->scratch)
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer transform: out of memory");
    for (int k = 0; st == NIC_OK && k < r->threads; k++) {
        r->acc[k] = nn_alloc((size_t)TILE * max_lanes * sizeof(int32_t));
        r->scratch[k] = nn_alloc((size_t)2 * TILE * max_c * sizeof(float));
        if (!r->acc[k] || !r->scratch[k])
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer transform: out of memory");
    }
    for (int l = 0; st == NIC_OK && l < 4; l++) {
        window *win = &r->win[l];
        win->cap = win->max_span;
        win->buf = nn_alloc((size_t)(win->cap ? win->cap : 1) * win->row_len * sizeof(int16_t));
        if (!win->buf)
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer transform: out of memory for %d rows",
                          win->cap);
    }
    if (st == NIC_OK) {
        r->ctx = ctx;
        schedule(r, strip);
        st = r->status;
    }
    run_free(r);
    return st;
}

nic_status nic_int_synthesize(nic_context *ctx, const nic_int_transform *t, nn_isa isa, int hy,
                              int wy, nic_int_rows_fn source, void *user, size_t mem_budget,
                              nic_image *img)
{
    if (!t->synthesis || hy < 1 || wy < 1 || img->width > 16u * (uint32_t)wy ||
        img->height > 16u * (uint32_t)hy || (img->channels != 1 && img->channels != 3))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "integer synthesis: bad sizes");
    run r;
    memset(&r, 0, sizeof(r));
    r.t = t;
    r.isa = isa;
    r.source = source;
    r.user = user;
    r.img = img;
    return run_all(ctx, &r, hy, wy, mem_budget);
}

typedef struct image_source {
    const nic_image *img;
    int cp; /* channels per phase in the grid (3 padded to the weight unit) */
} image_source;

/* Space-to-depth rows of the picture, edges replicated, as pixel * 128. */
static void image_rows(void *user, int r0, int r1, int16_t *rows, ptrdiff_t row_len)
{
    const image_source *s = user;
    const nic_image *img = s->img;
    const int gw = (int)(row_len / (4 * s->cp)) - 2;
    for (int r = r0; r < r1; r++) {
        int16_t *row = rows + (ptrdiff_t)(r - r0) * row_len;
        for (int qy = 0; qy < 2; qy++) {
            uint32_t sy = (uint32_t)(2 * r + qy);
            sy = sy < img->height ? sy : img->height - 1;
            const uint8_t *src = img->data + (size_t)sy * img->width * img->channels;
            for (int j = 0; j < gw; j++)
                for (int qx = 0; qx < 2; qx++) {
                    uint32_t sx = (uint32_t)(2 * j + qx);
                    sx = sx < img->width ? sx : img->width - 1;
                    const uint8_t *px = src + (size_t)sx * img->channels;
                    int16_t *dst = row + (ptrdiff_t)(1 + j) * 4 * s->cp + (qy * 2 + qx) * s->cp;
                    for (int c = 0; c < s->cp; c++)
                        dst[c] = c < 3 ? (int16_t)(px[img->channels == 3 ? c : 0] *
                                                   NIC_INT_PIXEL_MUL)
                                       : 0;
                }
        }
    }
}

nic_status nic_int_analyze(nic_context *ctx, const nic_int_transform *t, nn_isa isa,
                           const nic_image *img, int ph, int pw, size_t mem_budget, float *y)
{
    if (t->synthesis || ph < 16 || pw < 16 || ph % 16 || pw % 16 || t->c_in != 3 ||
        (img->channels != 1 && img->channels != 3))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "integer analysis: bad sizes");
    image_source src = {img, t->layer[0].pl.cin_pad};
    run r;
    memset(&r, 0, sizeof(r));
    r.t = t;
    r.isa = isa;
    r.source = image_rows;
    r.user = &src;
    r.y = y;
    return run_all(ctx, &r, ph / 2, pw / 2, mem_budget);
}
