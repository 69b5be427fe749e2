#include "nn/conv.h"
#include "nn/conv_det.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/tensor.h"

#ifdef NIC_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

enum { PASS_FWD = 0, PASS_BWD_DATA = 1, PASS_BWD_WEIGHTS = 2, PASS_COUNT = 3 };

#ifdef NIC_HAVE_DNNL
/* One argument of a primitive: the caller's NCHW/OIHW memory, and, when the
 * primitive wants another layout, its own buffer and the reorder between. */
typedef struct dnnl_slot {
    dnnl_memory_t user;
    dnnl_memory_t inner; /* == user when no reorder is needed */
    dnnl_primitive_t reorder;
    size_t inner_bytes;  /* with a reorder: the inner buffer's size (engine scratch) */
} dnnl_slot;

/* Roles of a pass's slots; each role has one scratch buffer in the engine. */
enum { ROLE_SRC = 0, ROLE_WEIGHTS = 1, ROLE_DST = 2, ROLE_COUNT = 3 };

typedef struct dnnl_pass {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_slot src, weights, dst; /* roles of the pass (diff_* for backward) */
    dnnl_memory_t bias;          /* bias or diff_bias, user layout */
    char impl[64];
} dnnl_pass;
#endif

struct nn_engine {
    int has_dnnl;
#ifdef NIC_HAVE_DNNL
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    /* The reorder buffers of every plan live only during one pass (reorder in,
     * execute, reorder out), and passes run one at a time on the engine's
     * stream, so all plans share one buffer per role, grown to the largest
     * need: memory for layouts is that of the largest layer, not of all. */
    void *scratch[ROLE_COUNT];
    size_t scratch_cap[ROLE_COUNT];
#endif
    float *layer_scratch[NN_ENGINE_SCRATCH_SLOTS]; /* nn_engine_scratch */
    size_t layer_cap[NN_ENGINE_SCRATCH_SLOTS];
};

struct nn_conv {
    nn_conv_desc d;
    nn_engine *eng;
    int use_dnnl;
    int bf16; /* the oneDNN passes read bfloat16 (NN_CONV_BF16) */
    float *dw_tmp; /* oneDNN writes weight/bias gradients here, then they are added */
    float *db_tmp;
#ifdef NIC_HAVE_DNNL
    dnnl_pass pass[PASS_COUNT];
#endif
};

/* ------------------------------------------------------------------ engine */

nic_status nn_engine_create(nic_context *ctx, nn_engine **out)
{
    nn_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "nn_engine_create: out of memory");
#ifdef NIC_HAVE_DNNL
    if (dnnl_engine_create(&e->engine, dnnl_cpu, 0) == dnnl_success) {
        if (dnnl_stream_create(&e->stream, e->engine, dnnl_stream_default_flags) == dnnl_success)
            e->has_dnnl = 1;
        else
            dnnl_engine_destroy(e->engine);
    }
#endif
    *out = e;
    return NIC_OK;
}

void nn_engine_destroy(nn_engine *e)
{
    if (!e)
        return;
#ifdef NIC_HAVE_DNNL
    if (e->has_dnnl) {
        dnnl_stream_destroy(e->stream);
        dnnl_engine_destroy(e->engine);
    }
    for (int r = 0; r < ROLE_COUNT; r++)
        nn_free(e->scratch[r]);
#endif
    for (int r = 0; r < NN_ENGINE_SCRATCH_SLOTS; r++)
        nn_free(e->layer_scratch[r]);
#ifdef NIC_HAVE_DNNL
#endif
    free(e);
}

float *nn_engine_scratch(nic_context *ctx, nn_engine *e, int slot, size_t bytes)
{
    if (slot < 0 || slot >= NN_ENGINE_SCRATCH_SLOTS) {
        NIC_FAIL(ctx, NIC_ERR_INTERNAL, "engine scratch slot %d", slot);
        return NULL;
    }
    if (e->layer_cap[slot] < bytes) {
        nn_free(e->layer_scratch[slot]);
        e->layer_cap[slot] = 0;
        e->layer_scratch[slot] = nn_alloc(bytes);
        if (!e->layer_scratch[slot]) {
            NIC_FAIL(ctx, NIC_ERR_NOMEM, "engine scratch: out of memory (%zu bytes)", bytes);
            return NULL;
        }
        e->layer_cap[slot] = bytes;
    }
    return e->layer_scratch[slot];
}

nn_engine *nn_conv_engine(const nn_conv *c)
{
    return c ? c->eng : NULL;
}

int nn_engine_has_dnnl(const nn_engine *e)
{
    return e && e->has_dnnl;
}

/* ------------------------------------------------------------------ oneDNN plan */

#ifdef NIC_HAVE_DNNL

#define DNNL_TRY(call, what)                                                                 \
    do {                                                                                     \
        dnnl_status_t st_ = (call);                                                          \
        if (st_ != dnnl_success)                                                             \
            return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "oneDNN: %s failed (status %d)", (what),  \
                            (int)st_);                                                       \
    } while (0)

static void slot_destroy(dnnl_slot *s)
{
    if (s->reorder)
        dnnl_primitive_destroy(s->reorder);
    if (s->inner && s->inner != s->user)
        dnnl_memory_destroy(s->inner);
    if (s->user)
        dnnl_memory_destroy(s->user);
    memset(s, 0, sizeof(*s));
}

static void pass_destroy(dnnl_pass *p)
{
    slot_destroy(&p->src);
    slot_destroy(&p->weights);
    slot_destroy(&p->dst);
    if (p->bias)
        dnnl_memory_destroy(p->bias);
    if (p->prim)
        dnnl_primitive_destroy(p->prim);
    if (p->pd)
        dnnl_primitive_desc_destroy(p->pd);
    memset(p, 0, sizeof(*p));
}

/* Sets up a slot: user memory in user_md, inner memory in the primitive's md.
 * is_input: reorder user -> inner before the primitive, else inner -> user after. */
static nic_status slot_init(nic_context *ctx, nn_engine *e, dnnl_slot *s,
                            const dnnl_memory_desc_t *user_md, const dnnl_memory_desc_t *prim_md,
                            int is_input)
{
    DNNL_TRY(dnnl_memory_create(&s->user, user_md, e->engine, DNNL_MEMORY_NONE), "memory_create");
    if (dnnl_memory_desc_equal(user_md, prim_md)) {
        s->inner = s->user;
        return NIC_OK;
    }
    /* the buffer is the engine's scratch of the slot's role, bound per pass */
    DNNL_TRY(dnnl_memory_create(&s->inner, prim_md, e->engine, DNNL_MEMORY_NONE),
             "memory_create (reorder buffer)");
    s->inner_bytes = dnnl_memory_desc_get_size(prim_md);
    dnnl_primitive_desc_t rpd;
    if (is_input)
        DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, user_md, e->engine, prim_md, e->engine,
                                                    NULL),
                 "reorder_primitive_desc_create");
    else
        DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, prim_md, e->engine, user_md, e->engine,
                                                    NULL),
                 "reorder_primitive_desc_create");
    dnnl_status_t st = dnnl_primitive_create(&s->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    DNNL_TRY(st, "primitive_create (reorder)");
    return NIC_OK;
}

/* Points a slot's reorder buffer at the engine's scratch of its role. */
static nic_status slot_bind(nic_context *ctx, nn_engine *e, dnnl_slot *s, int role)
{
    if (!s->reorder)
        return NIC_OK;
    if (e->scratch_cap[role] < s->inner_bytes) {
        nn_free(e->scratch[role]);
        e->scratch_cap[role] = 0;
        e->scratch[role] = nn_alloc(s->inner_bytes);
        if (!e->scratch[role])
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "convolution: out of memory (%zu bytes)",
                            s->inner_bytes);
        e->scratch_cap[role] = s->inner_bytes;
    }
    DNNL_TRY(dnnl_memory_set_data_handle(s->inner, e->scratch[role]), "set_data_handle");
    return NIC_OK;
}

/* Binds the three slots of a pass. */
static nic_status pass_bind(nic_context *ctx, nn_engine *e, dnnl_pass *p)
{
    NIC_TRY(slot_bind(ctx, e, &p->src, ROLE_SRC));
    NIC_TRY(slot_bind(ctx, e, &p->weights, ROLE_WEIGHTS));
    return slot_bind(ctx, e, &p->dst, ROLE_DST);
}

static nic_status slot_in(nic_context *ctx, nn_engine *e, dnnl_slot *s, const float *data)
{
    DNNL_TRY(dnnl_memory_set_data_handle(s->user, (void *)data), "set_data_handle");
    if (s->reorder) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, s->user}, {DNNL_ARG_TO, s->inner}};
        DNNL_TRY(dnnl_primitive_execute(s->reorder, e->stream, 2, args), "reorder");
    }
    return NIC_OK;
}

static nic_status slot_out(nic_context *ctx, nn_engine *e, dnnl_slot *s)
{
    if (s->reorder) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, s->inner}, {DNNL_ARG_TO, s->user}};
        DNNL_TRY(dnnl_primitive_execute(s->reorder, e->stream, 2, args), "reorder");
    }
    return NIC_OK;
}

static nic_status make_plan(nic_context *ctx, nn_conv *c, unsigned flags)
{
    const nn_conv_desc *d = &c->d;
    nn_engine *e = c->eng;
    dnnl_memory_desc_t x_user, y_user, w_user, b_user, x_any, y_any, w_any;
    dnnl_dims_t xd = {d->n, d->c_in, d->h_in, d->w_in};
    dnnl_dims_t yd = {d->n, d->c_out, d->h_out, d->w_out};
    dnnl_dims_t bd = {d->c_out};
    dnnl_dims_t strides = {d->stride_h, d->stride_w};
    dnnl_dims_t pad_l = {d->pad_h, d->pad_w};
    /* Bottom/right padding that makes oneDNN's size formula give h_out, w_out. */
    dnnl_dims_t pad_r = {(d->h_out - 1) * d->stride_h + d->k_h - d->h_in - d->pad_h,
                         (d->w_out - 1) * d->stride_w + d->k_w - d->w_in - d->pad_w};
    int g = d->groups;
    const dnnl_format_tag_t act_tag = (flags & NN_CONV_PLAIN_LAYOUT) ? dnnl_nchw : dnnl_format_tag_any;
    /* inputs of every pass (x, w, dy) in lo; outputs (y, dx, dw) in FP32 */
    const dnnl_data_type_t lo = c->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t x_lo, y_lo, w_lo;

    DNNL_TRY(dnnl_memory_desc_init_by_tag(&x_user, 4, xd, dnnl_f32, dnnl_nchw), "md x");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&y_user, 4, yd, dnnl_f32, dnnl_nchw), "md y");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&b_user, 1, bd, dnnl_f32, dnnl_x), "md b");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&x_any, 4, xd, dnnl_f32, act_tag), "md x any");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&y_any, 4, yd, dnnl_f32, act_tag), "md y any");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&x_lo, 4, xd, lo, act_tag), "md x lo");
    DNNL_TRY(dnnl_memory_desc_init_by_tag(&y_lo, 4, yd, lo, act_tag), "md y lo");
    /* With few input channels (an RGB image), oneDNN's blocked backward-data
     * kernel is slow (~30 GFLOP/s here) and its NCHW gemm kernel ~3x faster:
     * measured by bench/bench_nn_conv, see docs/ENGINE.md. */
    dnnl_memory_desc_t x_bd = x_any, y_bd = y_any;
    if (d->c_in / g < 8) {
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&x_bd, 4, xd, dnnl_f32, dnnl_nchw), "md x bd");
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&y_bd, 4, yd, dnnl_f32, dnnl_nchw), "md y bd");
    }
    if (g == 1) {
        dnnl_dims_t wd = {d->c_out, d->c_in, d->k_h, d->k_w};
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&w_user, 4, wd, dnnl_f32, dnnl_oihw), "md w");
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any),
                 "md w any");
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&w_lo, 4, wd, lo, dnnl_format_tag_any), "md w lo");
    } else {
        dnnl_dims_t wd = {g, d->c_out / g, d->c_in / g, d->k_h, d->k_w};
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&w_user, 5, wd, dnnl_f32, dnnl_goihw), "md w");
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&w_any, 5, wd, dnnl_f32, dnnl_format_tag_any),
                 "md w any");
        DNNL_TRY(dnnl_memory_desc_init_by_tag(&w_lo, 5, wd, lo, dnnl_format_tag_any), "md w lo");
    }

    dnnl_convolution_desc_t cd;
    dnnl_pass *pf = &c->pass[PASS_FWD], *pb = &c->pass[PASS_BWD_DATA], *pw = &c->pass[PASS_BWD_WEIGHTS];

    DNNL_TRY(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
                                                &x_lo, &w_lo, &b_user, &y_any, strides, pad_l,
                                                pad_r),
             "convolution_forward_desc_init");
    DNNL_TRY(dnnl_primitive_desc_create(&pf->pd, &cd, NULL, e->engine, NULL),
             "primitive_desc_create (forward)");
    if (c->bf16)
        y_bd = y_lo; /* c_in >= 8 here: blocked layouts */
    DNNL_TRY(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &x_bd, &w_lo,
                                                      &y_bd, strides, pad_l, pad_r),
             "convolution_backward_data_desc_init");
    DNNL_TRY(dnnl_primitive_desc_create(&pb->pd, &cd, NULL, e->engine, pf->pd),
             "primitive_desc_create (backward data)");
    DNNL_TRY(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &x_lo,
                                                         &w_any, &b_user, &y_lo, strides, pad_l,
                                                         pad_r),
             "convolution_backward_weights_desc_init");
    DNNL_TRY(dnnl_primitive_desc_create(&pw->pd, &cd, NULL, e->engine, pf->pd),
             "primitive_desc_create (backward weights)");

    /* forward: src = x (in), weights (in), dst = y (out) */
    NIC_TRY(slot_init(ctx, e, &pf->src, &x_user, dnnl_primitive_desc_query_md(pf->pd, dnnl_query_src_md, 0), 1));
    NIC_TRY(slot_init(ctx, e, &pf->weights, &w_user, dnnl_primitive_desc_query_md(pf->pd, dnnl_query_weights_md, 0), 1));
    NIC_TRY(slot_init(ctx, e, &pf->dst, &y_user, dnnl_primitive_desc_query_md(pf->pd, dnnl_query_dst_md, 0), 0));
    DNNL_TRY(dnnl_memory_create(&pf->bias, &b_user, e->engine, DNNL_MEMORY_NONE), "memory_create");
    /* backward data: src slot = diff_src (out), weights (in), dst slot = diff_dst (in) */
    NIC_TRY(slot_init(ctx, e, &pb->src, &x_user, dnnl_primitive_desc_query_md(pb->pd, dnnl_query_diff_src_md, 0), 0));
    NIC_TRY(slot_init(ctx, e, &pb->weights, &w_user, dnnl_primitive_desc_query_md(pb->pd, dnnl_query_weights_md, 0), 1));
    NIC_TRY(slot_init(ctx, e, &pb->dst, &y_user, dnnl_primitive_desc_query_md(pb->pd, dnnl_query_diff_dst_md, 0), 1));
    /* backward weights: src (in), diff_weights (out), diff_dst (in) */
    NIC_TRY(slot_init(ctx, e, &pw->src, &x_user, dnnl_primitive_desc_query_md(pw->pd, dnnl_query_src_md, 0), 1));
    NIC_TRY(slot_init(ctx, e, &pw->weights, &w_user, dnnl_primitive_desc_query_md(pw->pd, dnnl_query_diff_weights_md, 0), 0));
    NIC_TRY(slot_init(ctx, e, &pw->dst, &y_user, dnnl_primitive_desc_query_md(pw->pd, dnnl_query_diff_dst_md, 0), 1));
    DNNL_TRY(dnnl_memory_create(&pw->bias, &b_user, e->engine, DNNL_MEMORY_NONE), "memory_create");

    for (int i = 0; i < PASS_COUNT; i++) {
        dnnl_pass *p = &c->pass[i];
        DNNL_TRY(dnnl_primitive_create(&p->prim, p->pd), "primitive_create");
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(p->pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
            snprintf(p->impl, sizeof(p->impl), "%s", impl);
        else
            snprintf(p->impl, sizeof(p->impl), "oneDNN");
    }
    c->dw_tmp = nn_alloc(nn_conv_w_count(d) * sizeof(float));
    c->db_tmp = nn_alloc((size_t)d->c_out * sizeof(float));
    if (!c->dw_tmp || !c->db_tmp)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "conv plan: out of memory");
    return NIC_OK;
}

static nic_status exec_pass(nic_context *ctx, nn_conv *c, int which)
{
    dnnl_pass *p = &c->pass[which];
    dnnl_exec_arg_t args[5];
    int n = 0;
    if (which == PASS_FWD) {
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, p->src.inner};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, p->weights.inner};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, p->dst.inner};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, p->bias};
    } else if (which == PASS_BWD_DATA) {
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, p->src.inner};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, p->weights.inner};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, p->dst.inner};
    } else {
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, p->src.inner};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, p->weights.inner};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, p->dst.inner};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_BIAS, p->bias};
    }
    DNNL_TRY(dnnl_primitive_execute(p->prim, c->eng->stream, n, args), "convolution execute");
    return NIC_OK;
}

static nic_status plan_forward(nic_context *ctx, nn_conv *c, const float *x, const float *w,
                               const float *b, float *y)
{
    dnnl_pass *p = &c->pass[PASS_FWD];
    NIC_TRY(pass_bind(ctx, c->eng, p));
    NIC_TRY(slot_in(ctx, c->eng, &p->src, x));
    NIC_TRY(slot_in(ctx, c->eng, &p->weights, w));
    DNNL_TRY(dnnl_memory_set_data_handle(p->dst.user, y), "set_data_handle");
    /* The primitive has a bias argument; without a bias it reads zeros. */
    if (!b) {
        memset(c->db_tmp, 0, (size_t)c->d.c_out * sizeof(float));
        b = c->db_tmp;
    }
    DNNL_TRY(dnnl_memory_set_data_handle(p->bias, (void *)b), "set_data_handle");
    NIC_TRY(exec_pass(ctx, c, PASS_FWD));
    NIC_TRY(slot_out(ctx, c->eng, &p->dst));
    DNNL_TRY(dnnl_stream_wait(c->eng->stream), "stream_wait");
    return NIC_OK;
}

static nic_status plan_backward_data(nic_context *ctx, nn_conv *c, const float *dy,
                                     const float *w, float *dx)
{
    dnnl_pass *p = &c->pass[PASS_BWD_DATA];
    NIC_TRY(pass_bind(ctx, c->eng, p));
    NIC_TRY(slot_in(ctx, c->eng, &p->dst, dy));
    NIC_TRY(slot_in(ctx, c->eng, &p->weights, w));
    DNNL_TRY(dnnl_memory_set_data_handle(p->src.user, dx), "set_data_handle");
    NIC_TRY(exec_pass(ctx, c, PASS_BWD_DATA));
    NIC_TRY(slot_out(ctx, c->eng, &p->src));
    DNNL_TRY(dnnl_stream_wait(c->eng->stream), "stream_wait");
    return NIC_OK;
}

static nic_status plan_backward_weights(nic_context *ctx, nn_conv *c, const float *x,
                                        const float *dy, float *dw, float *db)
{
    dnnl_pass *p = &c->pass[PASS_BWD_WEIGHTS];
    NIC_TRY(pass_bind(ctx, c->eng, p));
    NIC_TRY(slot_in(ctx, c->eng, &p->src, x));
    NIC_TRY(slot_in(ctx, c->eng, &p->dst, dy));
    DNNL_TRY(dnnl_memory_set_data_handle(p->weights.user, c->dw_tmp), "set_data_handle");
    DNNL_TRY(dnnl_memory_set_data_handle(p->bias, c->db_tmp), "set_data_handle");
    NIC_TRY(exec_pass(ctx, c, PASS_BWD_WEIGHTS));
    NIC_TRY(slot_out(ctx, c->eng, &p->weights));
    DNNL_TRY(dnnl_stream_wait(c->eng->stream), "stream_wait");
    size_t nw = nn_conv_w_count(&c->d);
    for (size_t i = 0; i < nw; i++)
        dw[i] += c->dw_tmp[i];
    if (db)
        for (int i = 0; i < c->d.c_out; i++)
            db[i] += c->db_tmp[i];
    return NIC_OK;
}
#endif /* NIC_HAVE_DNNL */

/* ------------------------------------------------------------------ public */

nic_status nn_conv_create(nic_context *ctx, nn_engine *eng, const nn_conv_desc *d,
                          unsigned flags, nn_conv **out)
{
    *out = NULL;
    nn_conv *c = calloc(1, sizeof(*c));
    if (!c)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "nn_conv_create: out of memory");
    c->d = *d;
    c->eng = eng;
#ifdef NIC_HAVE_DNNL
    if (eng && eng->has_dnnl && !(flags & NN_CONV_REFERENCE)) {
        c->bf16 = (flags & NN_CONV_BF16) && d->c_in / d->groups >= 8;
        nic_status st = make_plan(ctx, c, flags);
        if (st != NIC_OK && c->bf16) {
            /* no BF16 kernel on this CPU: plan in FP32 instead */
            for (int i = 0; i < PASS_COUNT; i++)
                pass_destroy(&c->pass[i]);
            nn_free(c->dw_tmp);
            nn_free(c->db_tmp);
            c->dw_tmp = c->db_tmp = NULL;
            nic_context_clear_error(ctx);
            c->bf16 = 0;
            st = make_plan(ctx, c, flags);
        }
        if (st != NIC_OK) {
            nn_conv_destroy(c);
            return st;
        }
        c->use_dnnl = 1;
    }
#endif
    *out = c;
    return NIC_OK;
}

void nn_conv_destroy(nn_conv *c)
{
    if (!c)
        return;
#ifdef NIC_HAVE_DNNL
    for (int i = 0; i < PASS_COUNT; i++)
        pass_destroy(&c->pass[i]);
#endif
    nn_free(c->dw_tmp);
    nn_free(c->db_tmp);
    free(c);
}

const nn_conv_desc *nn_conv_get_desc(const nn_conv *c)
{
    return &c->d;
}

const char *nn_conv_impl(const nn_conv *c, int which)
{
#ifdef NIC_HAVE_DNNL
    if (c->use_dnnl && which >= 0 && which < PASS_COUNT)
        return c->pass[which].impl;
#endif
    return "reference";
}

nic_status nn_conv_forward(nic_context *ctx, nn_conv *c, const float *x, const float *w,
                           const float *b, float *y)
{
#ifdef NIC_HAVE_DNNL
    if (c->use_dnnl)
        return plan_forward(ctx, c, x, w, b, y);
#endif
    /* the register-tiled kernel sums in the reference order (same values, faster) */
    if (nn_conv_det_supports(&c->d))
        return nn_conv_det_forward(ctx, &c->d, x, w, b, y);
    nn_conv2d_ref_forward(&c->d, x, w, b, y);
    return NIC_OK;
}

nic_status nn_conv_backward_data(nic_context *ctx, nn_conv *c, const float *dy, const float *w,
                                 float *dx)
{
#ifdef NIC_HAVE_DNNL
    if (c->use_dnnl)
        return plan_backward_data(ctx, c, dy, w, dx);
#endif
    nn_conv2d_ref_backward_data(&c->d, dy, w, dx);
    return NIC_OK;
}

nic_status nn_conv_backward_weights(nic_context *ctx, nn_conv *c, const float *x,
                                    const float *dy, float *dw, float *db)
{
#ifdef NIC_HAVE_DNNL
    if (c->use_dnnl)
        return plan_backward_weights(ctx, c, x, dy, dw, db);
#endif
    nn_conv2d_ref_backward_weights(&c->d, x, dy, dw, db);
    return NIC_OK;
}

nic_status nn_conv_transpose_forward(nic_context *ctx, nn_conv *c, const float *x,
                                     const float *w, const float *b, float *y)
{
    NIC_TRY(nn_conv_backward_data(ctx, c, x, w, y));
    if (b) {
        const size_t hw = (size_t)c->d.h_in * c->d.w_in;
        for (int n = 0; n < c->d.n; n++)
            for (int ch = 0; ch < c->d.c_in; ch++) {
                float *p = y + ((size_t)n * c->d.c_in + ch) * hw;
                for (size_t i = 0; i < hw; i++)
                    p[i] += b[ch];
            }
    }
    return NIC_OK;
}

nic_status nn_conv_transpose_backward_data(nic_context *ctx, nn_conv *c, const float *dy,
                                           const float *w, float *dx)
{
    return nn_conv_forward(ctx, c, dy, w, NULL, dx);
}

nic_status nn_conv_transpose_backward_weights(nic_context *ctx, nn_conv *c, const float *x,
                                              const float *dy, float *dw, float *db)
{
    NIC_TRY(nn_conv_backward_weights(ctx, c, dy, x, dw, NULL));
    if (db)
        nn_channel_sum_add(dy, c->d.n, c->d.c_in, (size_t)c->d.h_in * c->d.w_in, db);
    return NIC_OK;
}
