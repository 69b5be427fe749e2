#include "nn/optim.h"

#include <math.h>

void nn_adam_init(nn_adam *opt)
{
    opt->beta1 = 0.9f;
    opt->beta2 = 0.999f;
    opt->eps = 1e-8f;
    opt->decoupled = 0;
    opt->step = 0;
    for (int g = 0; g < NN_MAX_GROUPS; g++) {
        opt->groups[g].lr_scale = 1.0f;
        opt->groups[g].weight_decay = 0.0f;
        opt->groups[g].frozen = 0;
    }
}

void nn_adam_step(nn_adam *opt, nn_params *p, float lr)
{
    opt->step++;
    const double t = (double)opt->step;
    const float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    const float bc1 = (float)(1.0 - pow((double)b1, t));
    const float bc2_sqrt = (float)sqrt(1.0 - pow((double)b2, t));
    for (int i = 0; i < p->count; i++) {
        const nn_param *it = &p->items[i];
        const nn_param_group *g = &opt->groups[it->group < NN_MAX_GROUPS ? it->group : 0];
        if (g->frozen)
            continue;
        const float glr = lr * g->lr_scale, wd = g->weight_decay;
        const float step_size = glr / bc1;
        float *w = p->data + it->offset, *gr = p->grad + it->offset;
        float *m = p->m + it->offset, *v = p->v + it->offset;
        const size_t n = it->count;
        if (opt->decoupled && wd != 0.0f) {
            const float k = 1.0f - glr * wd;
            for (size_t j = 0; j < n; j++)
                w[j] *= k;
        }
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t j = 0; j < n; j++) {
            float gj = gr[j];
            if (!opt->decoupled)
                gj += wd * w[j];
            m[j] = b1 * m[j] + (1.0f - b1) * gj;
            v[j] = b2 * v[j] + (1.0f - b2) * gj * gj;
            w[j] -= step_size * m[j] / (sqrtf(v[j]) / bc2_sqrt + eps);
        }
    }
}

float nn_lr_at(const nn_lr_schedule *s, int64_t step)
{
    if (s->warmup > 0 && step < s->warmup)
        return s->lr * (float)(step + 1) / (float)s->warmup;
    int64_t t = step - (s->warmup > 0 ? s->warmup : 0);
    switch (s->kind) {
    case NN_LR_STEP:
        if (s->step_size > 0)
            return s->lr * powf(s->gamma, (float)(t / s->step_size));
        return s->lr;
    case NN_LR_COSINE:
        if (s->total > 0) {
            double f = t >= s->total ? 1.0 : (double)t / (double)s->total;
            return (float)(s->lr_min + (s->lr - s->lr_min) * 0.5 * (1.0 + cos(3.141592653589793 * f)));
        }
        return s->lr;
    case NN_LR_CONSTANT:
    default:
        return s->lr;
    }
}

double nn_grad_norm(const nn_params *p, int group)
{
    double acc = 0;
    for (int i = 0; i < p->count; i++) {
        if (group >= 0 && p->items[i].group != group)
            continue;
        const float *g = p->grad + p->items[i].offset;
        for (size_t j = 0; j < p->items[i].count; j++)
            acc += (double)g[j] * g[j];
    }
    return sqrt(acc);
}

double nn_grad_clip(nn_params *p, int group, double max_norm)
{
    double norm = nn_grad_norm(p, group);
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        const float c = (float)coef;
        for (int i = 0; i < p->count; i++) {
            if (group >= 0 && p->items[i].group != group)
                continue;
            float *g = p->grad + p->items[i].offset;
            for (size_t j = 0; j < p->items[i].count; j++)
                g[j] *= c;
        }
    }
    return norm;
}
