/*
 * Tensors, the parameter arena and the activation arena.
 *
 * A tensor is a flat float buffer in NCHW order (batch, channel, row,
 * column; row-major, no padding). NCHW is what PyTorch, the reference
 * fixtures and the safetensors files use, so weights and test data need no
 * conversion; the oneDNN fast path converts to its blocked layouts inside the
 * convolution plan (see docs/ENGINE.md for the cost and the plan to keep a
 * blocked layout end to end).
 *
 * Parameters (llm.c style): every tensor of a model is declared once by name
 * and shape, then ONE allocation holds all values, one all gradients and one
 * each Adam moment, with the same offsets. "Zero the gradients" and "Adam
 * step" are single loops; a model keeps a struct of float* views into them.
 *
 * Activations: a bump arena. A model runs its allocation sequence once in
 * planning mode (nothing allocated, sizes summed), commits one buffer, and
 * then takes the same sequence of buffers every step: no malloc per step.
 */
#ifndef NIC_NN_TENSOR_H
#define NIC_NN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/context.h"

/* Every tensor start is aligned to 64 bytes (16 floats) for SIMD. */
#define NN_ALIGN_FLOATS 16
#define NN_NAME_MAX 96
#define NN_MAX_DIMS 4

/* Zeroed, 64-byte aligned allocation (free with nn_free). NULL on failure. */
void *nn_alloc(size_t bytes);
void nn_free(void *p);

/* ---------------------------------------------------------------- parameters */

typedef struct nn_param {
    char name[NN_NAME_MAX];
    int ndim;
    int64_t shape[NN_MAX_DIMS];
    size_t offset; /* in floats, into data / grad / m / v */
    size_t count;
    int group; /* optimizer parameter group (0 by default) */
} nn_param;

typedef struct nn_params {
    nn_param *items;
    int count;
    int capacity;
    size_t total; /* floats, including alignment padding */
    float *data;
    float *grad;
    float *m; /* Adam first moment */
    float *v; /* Adam second moment */
} nn_params;

void nn_params_init(nn_params *p);
void nn_params_free(nn_params *p);
/* Declares a tensor; *index receives its index (may be NULL). Only before
 * nn_params_alloc. Names must be unique, printable and shorter than
 * NN_NAME_MAX. */
nic_status nn_params_add(nic_context *ctx, nn_params *p, const char *name, int ndim,
                         const int64_t *shape, int group, int *index);
/* One allocation each for values, gradients, and the two moments (zeroed). */
nic_status nn_params_alloc(nic_context *ctx, nn_params *p);
/* Values only (grad, m, v stay NULL): for models that are only run. */
nic_status nn_params_alloc_values(nic_context *ctx, nn_params *p);
/* Index of a name, or -1. */
int nn_params_find(const nn_params *p, const char *name);
static inline float *nn_param_data(const nn_params *p, int i)
{
    return p->data + p->items[i].offset;
}
static inline float *nn_param_grad(const nn_params *p, int i)
{
    return p->grad + p->items[i].offset;
}
void nn_params_zero_grad(nn_params *p);

/* ---------------------------------------------------------------- activations */

typedef struct nn_arena {
    float *base;     /* NULL while planning */
    size_t capacity; /* floats */
    size_t used;     /* floats taken since the last reset */
    size_t planned;  /* largest `used` seen while planning */
    int overflow;    /* a take did not fit after commit */
} nn_arena;

void nn_arena_init(nn_arena *a);
void nn_arena_free(nn_arena *a);
/* Returns n floats (aligned, contents undefined), or NULL while planning or
 * when the committed buffer is too small (then a->overflow is set). */
float *nn_arena_take(nn_arena *a, size_t n);
/* Starts a new sequence of takes (per step); keeps the buffer. */
void nn_arena_reset(nn_arena *a);
/* Allocates the planned size once; later takes are served from it. */
nic_status nn_arena_commit(nic_context *ctx, nn_arena *a);

#endif
