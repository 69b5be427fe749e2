#include "models/likelihood.h"

#include <math.h>
#include <string.h>

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794
#define LN2 0.69314718055994530942

static inline double std_normal_cdf(double x)
{
    return 0.5 * erfc(-x * INV_SQRT2);
}

static inline double std_normal_pdf(double x)
{
    return INV_SQRT_2PI * exp(-0.5 * x * x);
}

double nic_gaussian_bits(double v, double sigma)
{
    if (sigma < NIC_SCALE_MIN)
        sigma = NIC_SCALE_MIN;
    double a = fabs(v);
    /* Using the lower tail of both terms keeps precision far from the mean. */
    double p = std_normal_cdf((0.5 - a) / sigma) - std_normal_cdf((-0.5 - a) / sigma);
    if (p < NIC_LIKELIHOOD_MIN)
        p = NIC_LIKELIHOOD_MIN;
    return -log2(p);
}

double nic_gaussian_rate(const float *v, const float *sigma, size_t count, float scale,
                         float *dv, float *dsigma)
{
    double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (size_t i = 0; i < count; i++) {
        double s_raw = sigma[i];
        int bounded = s_raw < NIC_SCALE_MIN;
        double s = bounded ? NIC_SCALE_MIN : s_raw;
        double av = fabs((double)v[i]);
        double hi = (0.5 - av) / s, lo = (-0.5 - av) / s;
        double p = std_normal_cdf(hi) - std_normal_cdf(lo);
        int floored = p < NIC_LIKELIHOOD_MIN;
        double pc = floored ? NIC_LIKELIHOOD_MIN : p;
        total += -log2(pc);
        if (!dv)
            continue;
        /* d bits / d p = -1 / (p ln 2); the floor passes the gradient that raises p. */
        double dbits_dp = -scale / (pc * LN2);
        double phi_hi = std_normal_pdf(hi), phi_lo = std_normal_pdf(lo);
        double dp_dav = (phi_lo - phi_hi) / s;
        double dp_ds = (lo * phi_lo - hi * phi_hi) / s;
        double sign = v[i] > 0 ? 1.0 : (v[i] < 0 ? -1.0 : 0.0);
        double gv = dbits_dp * dp_dav * sign;
        double gs = dbits_dp * dp_ds;
        /* The lower bound on sigma lets through only gradients that raise sigma. */
        if (bounded && gs > 0)
            gs = 0;
        dv[i] = (float)gv;
        dsigma[i] = (float)gs;
    }
    return total;
}

/* ---------------------------------------------------------------- factorized prior */

static const int fp_in[NIC_FP_LAYERS] = {1, 3, 3, 3};
static const int fp_out[NIC_FP_LAYERS] = {3, 3, 3, 1};

void nic_fp_layout_get(nic_fp_layout *l)
{
    size_t o = 0;
    for (int k = 0; k < NIC_FP_LAYERS; k++) {
        l->matrix[k] = o;
        o += (size_t)fp_in[k] * fp_out[k];
        l->bias[k] = o;
        o += (size_t)fp_out[k];
        if (k < NIC_FP_LAYERS - 1) {
            l->factor[k] = o;
            o += (size_t)fp_out[k];
        }
    }
    l->count = o;
}

static inline double softplus(double x)
{
    return x > 30 ? x : log1p(exp(x));
}

static inline double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

void nic_fp_init(float *params, int channels, const float *uniform01)
{
    nic_fp_layout l;
    nic_fp_layout_get(&l);
    /* As CompressAI's EntropyBottleneck(init_scale=10): softplus(H) starts at
     * scale^(-1/(K+1)) / fan_out so the initial density is wide. */
    const double init_scale = 10.0;
    const double s = pow(init_scale, 1.0 / (NIC_FP_LAYERS + 1));
    size_t r = 0;
    for (int c = 0; c < channels; c++) {
        float *p = params + (size_t)c * l.count;
        for (int k = 0; k < NIC_FP_LAYERS; k++) {
            double init = log(expm1(1.0 / s / fp_out[k]));
            for (int i = 0; i < fp_in[k] * fp_out[k]; i++)
                p[l.matrix[k] + i] = (float)init;
            for (int i = 0; i < fp_out[k]; i++)
                p[l.bias[k] + i] = uniform01[r++] - 0.5f;
            if (k < NIC_FP_LAYERS - 1)
                for (int i = 0; i < fp_out[k]; i++)
                    p[l.factor[k] + i] = 0.0f;
        }
    }
}

/* Forward of one scalar through one channel's layers, keeping what backward needs. */
typedef struct fp_trace {
    double pre[NIC_FP_LAYERS][NIC_FP_WIDTH]; /* after the affine map */
    double out[NIC_FP_LAYERS][NIC_FP_WIDTH]; /* after the gated nonlinearity */
} fp_trace;

static double fp_forward(const float *p, const nic_fp_layout *l, double u, fp_trace *t)
{
    double h[NIC_FP_WIDTH] = {u};
    for (int k = 0; k < NIC_FP_LAYERS; k++) {
        double nh[NIC_FP_WIDTH];
        for (int o = 0; o < fp_out[k]; o++) {
            double acc = p[l->bias[k] + o];
            for (int i = 0; i < fp_in[k]; i++)
                acc += softplus(p[l->matrix[k] + o * fp_in[k] + i]) * h[i];
            nh[o] = acc;
            if (t)
                t->pre[k][o] = acc;
        }
        if (k < NIC_FP_LAYERS - 1)
            for (int o = 0; o < fp_out[k]; o++)
                nh[o] += tanh(p[l->factor[k] + o]) * tanh(nh[o]);
        for (int o = 0; o < fp_out[k]; o++) {
            h[o] = nh[o];
            if (t)
                t->out[k][o] = nh[o];
        }
    }
    return h[0];
}

/* Adds g * d l / d params into dp and returns g * d l / d u. */
static double fp_backward(const float *p, const nic_fp_layout *l, double u, const fp_trace *t,
                          double g, float *dp)
{
    double dh[NIC_FP_WIDTH] = {g};
    for (int k = NIC_FP_LAYERS - 1; k >= 0; k--) {
        double dpre[NIC_FP_WIDTH];
        for (int o = 0; o < fp_out[k]; o++) {
            if (k < NIC_FP_LAYERS - 1) {
                double f = tanh(p[l->factor[k] + o]);
                double th = tanh(t->pre[k][o]);
                dpre[o] = dh[o] * (1.0 + f * (1.0 - th * th));
                if (dp)
                    dp[l->factor[k] + o] += (float)(dh[o] * th * (1.0 - f * f));
            } else {
                dpre[o] = dh[o];
            }
        }
        double din[NIC_FP_WIDTH] = {0, 0, 0};
        for (int o = 0; o < fp_out[k]; o++) {
            if (dp)
                dp[l->bias[k] + o] += (float)dpre[o];
            for (int i = 0; i < fp_in[k]; i++) {
                double m = p[l->matrix[k] + o * fp_in[k] + i];
                double hin = k == 0 ? u : t->out[k - 1][i];
                din[i] += softplus(m) * dpre[o];
                if (dp)
                    dp[l->matrix[k] + o * fp_in[k] + i] += (float)(dpre[o] * hin * sigmoid(m));
            }
        }
        for (int i = 0; i < fp_in[k]; i++)
            dh[i] = din[i];
    }
    return dh[0];
}

double nic_fp_logit(const float *params, double u)
{
    nic_fp_layout l;
    nic_fp_layout_get(&l);
    return fp_forward(params, &l, u, NULL);
}

double nic_fp_rate(const float *params, const float *z, int n, int channels, size_t hw,
                   float scale, float *dz, float *dparams)
{
    nic_fp_layout l;
    nic_fp_layout_get(&l);
    double total = 0;
    /* Parallel over channels: each owns its parameter gradient slice. */
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int c = 0; c < channels; c++) {
        const float *p = params + (size_t)c * l.count;
        float *dp = dparams ? dparams + (size_t)c * l.count : NULL;
        for (int b = 0; b < n; b++) {
            for (size_t i = 0; i < hw; i++) {
                size_t idx = ((size_t)b * channels + c) * hw + i;
                double u = z[idx];
                fp_trace tu, tl;
                double lu = fp_forward(p, &l, u + 0.5, &tu);
                double ll = fp_forward(p, &l, u - 0.5, &tl);
                /* Evaluate in the tail where the sigmoids are small (precision). */
                double sign = (lu + ll) > 0 ? -1.0 : 1.0;
                double su = sigmoid(sign * lu), sl = sigmoid(sign * ll);
                double prob = fabs(su - sl);
                int floored = prob < NIC_LIKELIHOOD_MIN;
                double pc = floored ? NIC_LIKELIHOOD_MIN : prob;
                total += -log2(pc);
                if (!dz)
                    continue;
                double dbits_dp = -scale / (pc * LN2);
                double dir = (su - sl) >= 0 ? 1.0 : -1.0; /* d|x| / dx */
                double g_lu = dbits_dp * dir * sign * su * (1.0 - su);
                double g_ll = -dbits_dp * dir * sign * sl * (1.0 - sl);
                double du = fp_backward(p, &l, u + 0.5, &tu, g_lu, dp) +
                            fp_backward(p, &l, u - 0.5, &tl, g_ll, dp);
                dz[idx] = (float)du;
            }
        }
    }
    return total;
}
