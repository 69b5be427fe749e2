/*
 * Whole-model gradient check by central finite differences, shared by the
 * model tests (test_models_*.c): a few entries of every parameter tensor are
 * nudged by +-step * (1 + |w|), the loss recomputed, and the difference
 * compared with the analytic gradient of the first evaluation.
 */
#ifndef NIC_TEST_MODEL_GRAD_H
#define NIC_TEST_MODEL_GRAD_H

#include "test.h"

#include "nn/tensor.h"

/* The model's loss for its current parameters; accumulates its gradient into
 * p->grad (the same noise on every call, so that only the parameters change). */
typedef double (*model_loss_fn)(void *user);

/* Returns how many of *checked entries disagree by more than
 * rel_tol * |fd| + abs_tol, printing the first ten. */
static inline int model_gradient_check(nn_params *p, model_loss_fn loss, void *user,
                                       int per_tensor, float step, double rel_tol,
                                       double abs_tol, int *checked)
{
    nn_params_zero_grad(p);
    double l0 = loss(user);
    CHECK(isfinite(l0));
    /* Later evaluations accumulate more gradients: keep this one. */
    float *grad = malloc(sizeof(float) * p->total);
    if (!grad)
        return -1;
    memcpy(grad, p->grad, sizeof(float) * p->total);
    int bad = 0;
    *checked = 0;
    for (int pi = 0; pi < p->count; pi++) {
        const nn_param *it = &p->items[pi];
        for (int k = 0; k < per_tensor; k++) {
            size_t idx = (size_t)((k * 7919u + pi * 31u) % it->count);
            float *w = p->data + it->offset + idx;
            float g = grad[it->offset + idx];
            float save = *w;
            float h = step * (1.0f + fabsf(save));
            *w = save + h;
            float hi = *w;
            double up = loss(user);
            *w = save - h;
            float lo = *w;
            double dn = loss(user);
            *w = save;
            double fd = (up - dn) / ((double)hi - (double)lo);
            (*checked)++;
            if (fabs(fd - g) > rel_tol * fabs(fd) + abs_tol && bad++ < 10)
                fprintf(stderr, "%s[%zu]: analytic %.6g, finite difference %.6g\n", it->name, idx,
                        g, fd);
        }
    }
    free(grad);
    return bad;
}

#endif
