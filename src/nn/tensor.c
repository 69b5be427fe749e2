#include "nn/tensor.h"

#include <stdlib.h>
#include <string.h>

static size_t round_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

void *nn_alloc(size_t bytes)
{
    size_t size = round_up(bytes ? bytes : 1, 64);
    void *p = aligned_alloc(64, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void nn_free(void *p)
{
    free(p);
}

void nn_params_init(nn_params *p)
{
    memset(p, 0, sizeof(*p));
}

void nn_params_free(nn_params *p)
{
    free(p->items);
    nn_free(p->data);
    nn_free(p->grad);
    nn_free(p->m);
    nn_free(p->v);
    memset(p, 0, sizeof(*p));
}

int nn_params_find(const nn_params *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->items[i].name, name) == 0)
            return i;
    return -1;
}

nic_status nn_params_add(nic_context *ctx, nn_params *p, const char *name, int ndim,
                         const int64_t *shape, int group, int *index)
{
    if (p->data)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "nn_params_add(%s): parameters are already allocated", name);
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= NN_NAME_MAX)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "nn_params_add: name length %zu, expected 1..%d", len, NN_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == '"' || name[i] == '\\' ||
            (unsigned char)name[i] >= 0x7f)
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "nn_params_add: name '%s' has a character that is not plain ASCII", name);
    if (ndim < 1 || ndim > NN_MAX_DIMS)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_params_add(%s): %d dimensions, expected 1..%d",
                        name, ndim, NN_MAX_DIMS);
    if (group < 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_params_add(%s): group %d", name, group);
    if (nn_params_find(p, name) >= 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_params_add: '%s' declared twice", name);
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0 || !nic_mul_size(count, (size_t)shape[d], &count) ||
            (uint64_t)count > ((uint64_t)1 << 40))
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_params_add(%s): bad dimension %d = %lld",
                            name, d, (long long)shape[d]);
    }
    if (p->count == p->capacity) {
        int cap = p->capacity ? p->capacity * 2 : 32;
        nn_param *items = realloc(p->items, (size_t)cap * sizeof(*items));
        if (!items)
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "nn_params_add(%s): out of memory", name);
        p->items = items;
        p->capacity = cap;
    }
    nn_param *it = &p->items[p->count];
    memset(it, 0, sizeof(*it));
    memcpy(it->name, name, len + 1);
    it->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        it->shape[d] = shape[d];
    it->count = count;
    it->offset = p->total;
    it->group = group;
    p->total = round_up(p->total + count, NN_ALIGN_FLOATS);
    if (index)
        *index = p->count;
    p->count++;
    return NIC_OK;
}

/* Allocates the values and, when all is set, the gradients and Adam moments. */
static nic_status params_alloc(nic_context *ctx, nn_params *p, int all)
{
    if (p->data)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_params_alloc: already allocated");
    size_t bytes;
    if (!nic_mul_size(p->total, sizeof(float), &bytes))
        return NIC_FAIL(ctx, NIC_ERR_LIMIT, "nn_params_alloc: %zu floats overflow", p->total);
    p->data = nn_alloc(bytes);
    if (all) {
        p->grad = nn_alloc(bytes);
        p->m = nn_alloc(bytes);
        p->v = nn_alloc(bytes);
    }
    if (!p->data || (all && (!p->grad || !p->m || !p->v))) {
        nn_free(p->data);
        nn_free(p->grad);
        nn_free(p->m);
        nn_free(p->v);
        p->data = p->grad = p->m = p->v = NULL;
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "nn_params_alloc: cannot allocate %d x %zu bytes",
                        all ? 4 : 1, bytes);
    }
    return NIC_OK;
}

nic_status nn_params_alloc(nic_context *ctx, nn_params *p)
{
    return params_alloc(ctx, p, 1);
}

nic_status nn_params_alloc_values(nic_context *ctx, nn_params *p)
{
    return params_alloc(ctx, p, 0);
}

void nn_params_zero_grad(nn_params *p)
{
    if (p->grad)
        memset(p->grad, 0, p->total * sizeof(float));
}

void nn_arena_init(nn_arena *a)
{
    memset(a, 0, sizeof(*a));
}

void nn_arena_free(nn_arena *a)
{
    nn_free(a->base);
    memset(a, 0, sizeof(*a));
}

float *nn_arena_take(nn_arena *a, size_t n)
{
    size_t need = round_up(n, NN_ALIGN_FLOATS);
    if (!a->base) {
        a->used += need;
        if (a->used > a->planned)
            a->planned = a->used;
        return NULL;
    }
    if (need > a->capacity - a->used) {
        a->overflow = 1;
        return NULL;
    }
    float *p = a->base + a->used;
    a->used += need;
    return p;
}

void nn_arena_reset(nn_arena *a)
{
    a->used = 0;
}

nic_status nn_arena_commit(nic_context *ctx, nn_arena *a)
{
    if (a->base)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_arena_commit: already committed");
    size_t bytes;
    if (!nic_mul_size(a->planned, sizeof(float), &bytes))
        return NIC_FAIL(ctx, NIC_ERR_LIMIT, "nn_arena_commit: %zu floats overflow", a->planned);
    a->base = nn_alloc(bytes);
    if (!a->base)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "nn_arena_commit: cannot allocate %zu bytes", bytes);
    a->capacity = a->planned;
    a->used = 0;
    a->overflow = 0;
    return NIC_OK;
}
