#include "models/rnn_ctx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/tensor.h"

/* the causal neighbours of the current iteration, then the 3x3 of the previous one */
static const int n_dy[4] = {0, -1, -1, -1}, n_dx[4] = {-1, -1, 0, 1};

nic_status nic_rnn_ctx_create(nic_context *ctx, int bits, int sets, nic_rnn_ctx_model *m)
{
    memset(m, 0, sizeof(*m));
    if (bits < 1 || bits > 1024 || sets < 1 || sets > 64)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "context model: %d bits, %d sets", bits,
                        sets);
    m->bits = bits;
    m->sets = sets;
    m->nfeat = NIC_RNN_CTX_FEATURES(bits);
    const size_t n = (size_t)sets * bits * (m->nfeat + 1);
    m->w = nn_alloc(n * sizeof(float));
    m->wq = nn_alloc(n * sizeof(int32_t));
    m->p1 = nn_alloc(NIC_RNN_CTX_TABLE * sizeof(uint16_t));
    if (!m->w || !m->wq || !m->p1) {
        nic_rnn_ctx_free(m);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "context model: out of memory");
    }
    nic_rnn_ctx_quantize(m);
    return NIC_OK;
}

void nic_rnn_ctx_free(nic_rnn_ctx_model *m)
{
    nn_free(m->w);
    nn_free(m->wq);
    nn_free(m->p1);
    nn_free(m->g);
    nn_free(m->am);
    nn_free(m->av);
    memset(m, 0, sizeof(*m));
}

static size_t weight_count(const nic_rnn_ctx_model *m)
{
    return (size_t)m->sets * m->bits * (m->nfeat + 1);
}

void nic_rnn_ctx_quantize(nic_rnn_ctx_model *m)
{
    const size_t n = weight_count(m);
    for (size_t i = 0; i < n; i++) {
        double v = nearbyint((double)m->w[i] * NIC_RNN_CTX_UNIT);
        v = v > 1e6 ? 1e6 : (v < -1e6 ? -1e6 : v);
        m->wq[i] = (int32_t)v;
    }
    for (int i = 0; i < NIC_RNN_CTX_TABLE; i++) {
        double z = (double)(i - NIC_RNN_CTX_LOGIT_MAX) / NIC_RNN_CTX_UNIT;
        double p = nearbyint(65536.0 / (1.0 + exp(-z)));
        m->p1[i] = (uint16_t)(p < 1 ? 1 : (p > 65535 ? 65535 : p));
    }
}

nic_status nic_rnn_ctx_check(nic_context *ctx, const nic_rnn_ctx_model *m, const char *name)
{
    for (int i = 0; i < NIC_RNN_CTX_TABLE; i++)
        if (m->p1[i] < 1 || (i > 0 && m->p1[i] < m->p1[i - 1]))
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: context model table entry %d is %u (entries must rise, 1..65535)",
                            name, i, m->p1[i]);
    const size_t n = weight_count(m);
    for (size_t i = 0; i < n; i++)
        if (m->wq[i] > 1000000 || m->wq[i] < -1000000)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: context model weight %zu is %d (|w| <= 10^6)",
                            name, i, m->wq[i]);
    return NIC_OK;
}

/* Calls ADD(k, v) for every feature k whose value v (+1 / -1) is known. */
#define FOR_FEATURES(codes, t, c, y, x, ADD)                                                \
    do {                                                                                  \
        const int B_ = (codes)->bits, H_ = (codes)->h, W_ = (codes)->w;                   \
        const size_t hw_ = (size_t)H_ * W_;                                               \
        const int8_t *cur_ = nic_rnn_codes_at(codes, t);                                  \
        for (int k_ = 0; k_ < 4; k_++) {                                                  \
            const int yy_ = (y) + n_dy[k_], xx_ = (x) + n_dx[k_];                         \
            if (yy_ < 0 || xx_ < 0 || xx_ >= W_)                                          \
                continue;                                                                 \
            const int8_t *p_ = cur_ + (size_t)yy_ * W_ + xx_;                             \
            for (int ch_ = 0; ch_ < B_; ch_++)                                            \
                ADD(k_ * B_ + ch_, p_[ch_ * hw_]);                                        \
        }                                                                                 \
        const int8_t *q_ = cur_ + (size_t)(y) * W_ + (x);                                 \
        for (int ch_ = 0; ch_ < (c); ch_++)                                               \
            ADD(4 * B_ + ch_, q_[ch_ * hw_]);                                             \
        if ((t) > 0) {                                                                    \
            const int8_t *prev_ = nic_rnn_codes_at(codes, (t) - 1);                       \
            for (int k_ = 0; k_ < 9; k_++) {                                              \
                const int yy_ = (y) + k_ / 3 - 1, xx_ = (x) + k_ % 3 - 1;                 \
                if (yy_ < 0 || yy_ >= H_ || xx_ < 0 || xx_ >= W_)                         \
                    continue;                                                             \
                const int8_t *p_ = prev_ + (size_t)yy_ * W_ + xx_;                        \
                for (int ch_ = 0; ch_ < B_; ch_++)                                        \
                    ADD((5 + k_) * B_ + ch_, p_[ch_ * hw_]);                              \
            }                                                                             \
        }                                                                                 \
    } while (0)

static size_t row_of(const nic_rnn_ctx_model *m, int t, int c)
{
    const int set = t < m->sets ? t : m->sets - 1;
    return ((size_t)set * m->bits + c) * (m->nfeat + 1);
}

uint32_t nic_rnn_ctx_p1(const nic_rnn_ctx_model *m, const nic_rnn_codes *codes, int t, int c,
                        int y, int x)
{
    const int32_t *w = m->wq + row_of(m, t, c);
    int64_t acc = w[m->nfeat];
#define ADD_Q(k, v) acc += (int64_t)w[k] * (v)
    FOR_FEATURES(codes, t, c, y, x, ADD_Q);
#undef ADD_Q
    if (acc > NIC_RNN_CTX_LOGIT_MAX)
        acc = NIC_RNN_CTX_LOGIT_MAX;
    if (acc < -NIC_RNN_CTX_LOGIT_MAX)
        acc = -NIC_RNN_CTX_LOGIT_MAX;
    return m->p1[acc + NIC_RNN_CTX_LOGIT_MAX];
}

static double logit_float(const nic_rnn_ctx_model *m, const nic_rnn_codes *codes, int t, int c,
                          int y, int x)
{
    const float *w = m->w + row_of(m, t, c);
    double acc = w[m->nfeat];
#define ADD_F(k, v) acc += (double)w[k] * (v)
    FOR_FEATURES(codes, t, c, y, x, ADD_F);
#undef ADD_F
    return acc;
}

/* Bits of one code with probability p of +1. */
static double code_bits(double p, int8_t v)
{
    double q = v > 0 ? p : 1 - p;
    return -log2(q > 1e-9 ? q : 1e-9);
}

static void adam_update(nic_rnn_ctx_model *m, float lr)
{
    const size_t n = weight_count(m);
    const double b1 = 0.9, b2 = 0.999;
    m->adam_steps++;
    const double c1 = 1 - pow(b1, (double)m->adam_steps), c2 = 1 - pow(b2, (double)m->adam_steps);
    for (size_t i = 0; i < n; i++) {
        m->am[i] = (float)(b1 * m->am[i] + (1 - b1) * m->g[i]);
        m->av[i] = (float)(b2 * m->av[i] + (1 - b2) * (double)m->g[i] * m->g[i]);
        m->w[i] -= (float)(lr * (m->am[i] / c1) / (sqrt(m->av[i] / c2) + 1e-8));
    }
}

double nic_rnn_ctx_train_epoch(nic_rnn_ctx_model *m, const nic_rnn_codes *set, int count,
                               float lr, nn_rng *rng, double *bits_per_iteration)
{
    const size_t n = weight_count(m);
    if (!m->g) {
        m->g = nn_alloc(n * sizeof(float));
        m->am = nn_alloc(n * sizeof(float));
        m->av = nn_alloc(n * sizeof(float));
        if (!m->g || !m->am || !m->av)
            return NAN;
    }
    int *order = malloc(sizeof(int) * (count > 0 ? count : 1));
    if (!order)
        return NAN;
    for (int i = 0; i < count; i++)
        order[i] = i;
    for (int i = count - 1; i > 0; i--) {
        int j = (int)nn_rng_below(rng, (uint64_t)i + 1);
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    double total = 0, codes_total = 0;
    double per_t[64] = {0}, n_t[64] = {0};
    for (int s = 0; s < count; s++) {
        const nic_rnn_codes *cs = &set[order[s]];
        memset(m->g, 0, n * sizeof(float));
        double ncodes = 0;
        for (int t = 0; t < cs->iterations; t++) {
            const int8_t *cur = nic_rnn_codes_at(cs, t);
            for (int y = 0; y < cs->h; y++)
                for (int x = 0; x < cs->w; x++)
                    for (int c = 0; c < cs->bits; c++) {
                        const int8_t v = cur[((size_t)c * cs->h + y) * cs->w + x];
                        const double p = 1 / (1 + exp(-logit_float(m, cs, t, c, y, x)));
                        const double b = code_bits(p, v);
                        total += b;
                        per_t[t < 64 ? t : 63] += b;
                        n_t[t < 64 ? t : 63] += 1;
                        /* d bits / d logit = (p - [v = +1]) / ln 2; the mean over the picture */
                        const float d = (float)(p - (v > 0));
                        float *g = m->g + row_of(m, t, c);
                        g[m->nfeat] += d;
#define ADD_G(k, val) g[k] += d * (float)(val)
                        FOR_FEATURES(cs, t, c, y, x, ADD_G);
#undef ADD_G
                        ncodes++;
                    }
        }
        codes_total += ncodes;
        if (ncodes > 0) {
            const float scale = (float)(1.0 / ncodes);
            for (size_t i = 0; i < n; i++)
                m->g[i] *= scale;
            adam_update(m, lr);
        }
    }
    free(order);
    nic_rnn_ctx_quantize(m);
    if (bits_per_iteration)
        for (int t = 0; t < 64; t++)
            bits_per_iteration[t] = n_t[t] > 0 ? per_t[t] / n_t[t] : 0;
    return codes_total > 0 ? total / codes_total : 0;
}

double nic_rnn_ctx_evaluate(const nic_rnn_ctx_model *m, const nic_rnn_codes *set, int count,
                            double *bits_per_iteration)
{
    double total = 0, ncodes = 0, per_t[64] = {0}, n_t[64] = {0};
    for (int s = 0; s < count; s++) {
        const nic_rnn_codes *cs = &set[s];
        for (int t = 0; t < cs->iterations; t++) {
            const int8_t *cur = nic_rnn_codes_at(cs, t);
            for (int y = 0; y < cs->h; y++)
                for (int x = 0; x < cs->w; x++)
                    for (int c = 0; c < cs->bits; c++) {
                        const int8_t v = cur[((size_t)c * cs->h + y) * cs->w + x];
                        const double p = nic_rnn_ctx_p1(m, cs, t, c, y, x) / 65536.0;
                        const double b = code_bits(p, v);
                        total += b;
                        per_t[t < 64 ? t : 63] += b;
                        n_t[t < 64 ? t : 63] += 1;
                        ncodes++;
                    }
        }
    }
    if (bits_per_iteration)
        for (int t = 0; t < 64; t++)
            bits_per_iteration[t] = n_t[t] > 0 ? per_t[t] / n_t[t] : 0;
    return ncodes > 0 ? total / ncodes : 0;
}
