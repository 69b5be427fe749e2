#include "nn/checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/safetensors.h"

#define PREFIX_M "adam.m/"
#define PREFIX_V "adam.v/"

static void prefixed(char *out, size_t cap, const char *prefix, const char *name)
{
    snprintf(out, cap, "%s%s", prefix, name);
}

nic_status nn_checkpoint_save(nic_context *ctx, const char *path, const nn_params *p,
                              const nn_adam *opt, const nn_rng *rng, const char *config)
{
    if (!p->data)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_checkpoint_save: parameters not allocated");
    nn_st_writer w;
    nn_st_writer_init(&w);
    char step[32], rng_hex[65], name[NN_NAME_MAX + 16];
    uint8_t raw[32];
    snprintf(step, sizeof(step), "%lld", (long long)opt->step);
    nn_rng_save(rng, raw);
    for (int i = 0; i < 32; i++)
        snprintf(rng_hex + 2 * i, 3, "%02x", raw[i]);
    nic_status st = nn_st_writer_meta(ctx, &w, "format", "nic-checkpoint-1");
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "step", step);
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "rng", rng_hex);
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "config", config ? config : "");
    for (int i = 0; st == NIC_OK && i < p->count; i++) {
        const nn_param *it = &p->items[i];
        st = nn_st_writer_add(ctx, &w, it->name, NN_DTYPE_F32, it->ndim, it->shape,
                              p->data + it->offset);
        prefixed(name, sizeof(name), PREFIX_M, it->name);
        if (st == NIC_OK)
            st = nn_st_writer_add(ctx, &w, name, NN_DTYPE_F32, it->ndim, it->shape, p->m + it->offset);
        prefixed(name, sizeof(name), PREFIX_V, it->name);
        if (st == NIC_OK)
            st = nn_st_writer_add(ctx, &w, name, NN_DTYPE_F32, it->ndim, it->shape, p->v + it->offset);
    }
    if (st == NIC_OK)
        st = nn_st_writer_write(ctx, &w, path);
    nn_st_writer_free(&w);
    return st;
}

static nic_status load_one(nic_context *ctx, const nn_st_file *f, const char *path,
                           const char *name, const nn_param *it, float *dst)
{
    const nn_st_tensor *t = nn_st_find(f, name);
    if (!t)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH, "%s: tensor '%s' is missing", path, name);
    int same = t->ndim == it->ndim;
    for (int d = 0; same && d < it->ndim; d++)
        same = t->shape[d] == it->shape[d];
    if (!same)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH, "%s: tensor '%s' has another shape than the model",
                        path, name);
    return nn_st_read_f32(ctx, f, name, dst, it->count);
}

nic_status nn_checkpoint_load(nic_context *ctx, const char *path, nn_params *p, nn_adam *opt,
                              nn_rng *rng, char **config)
{
    if (config)
        *config = NULL;
    if (!p->data)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_checkpoint_load: parameters not allocated");
    nn_st_file f;
    NIC_TRY(nn_st_read_file(ctx, path, &f));
    nic_status st = NIC_OK;
    const char *format = nn_st_get_meta(&f, "format");
    const char *step = nn_st_get_meta(&f, "step");
    const char *rng_hex = nn_st_get_meta(&f, "rng");
    const char *cfg = nn_st_get_meta(&f, "config");
    if (!format || strcmp(format, "nic-checkpoint-1") != 0)
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: not a nic checkpoint (format '%s')", path,
                      format ? format : "(none)");
    else if (!f.has_checksum)
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: checkpoint has no crc32", path);
    else if (!step || !rng_hex || strlen(rng_hex) != 64)
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: step or rng entry missing or malformed", path);
    long long step_value = 0;
    uint8_t raw[32];
    if (st == NIC_OK) {
        char *end;
        errno = 0;
        step_value = strtoll(step, &end, 10);
        if (*step == '\0' || *end || errno || step_value < 0)
            st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: step '%s' is not a count", path, step);
        for (int i = 0; st == NIC_OK && i < 32; i++) {
            unsigned v;
            char two[3] = {rng_hex[2 * i], rng_hex[2 * i + 1], 0};
            if (!strchr("0123456789abcdef", two[0]) || !strchr("0123456789abcdef", two[1]) ||
                sscanf(two, "%2x", &v) != 1)
                st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: rng state is not hex", path);
            raw[i] = (uint8_t)v;
        }
    }
    if (st == NIC_OK && f.tensor_count != 3 * p->count)
        st = NIC_FAIL(ctx, NIC_ERR_MISMATCH, "%s: %d tensors, the model needs %d", path,
                      f.tensor_count, 3 * p->count);
    /* Check everything before touching p, so a bad file leaves the model as it was. */
    char name[NN_NAME_MAX + 16];
    for (int pass = 0; pass < 2 && st == NIC_OK; pass++) {
        for (int i = 0; st == NIC_OK && i < p->count; i++) {
            const nn_param *it = &p->items[i];
            float *dst[3] = {p->data + it->offset, p->m + it->offset, p->v + it->offset};
            const char *prefix[3] = {"", PREFIX_M, PREFIX_V};
            for (int k = 0; st == NIC_OK && k < 3; k++) {
                prefixed(name, sizeof(name), prefix[k], it->name);
                if (pass == 0) {
                    const nn_st_tensor *t = nn_st_find(&f, name);
                    int same = t && t->ndim == it->ndim && t->count == it->count &&
                               (t->dtype == NN_DTYPE_F32 || t->dtype == NN_DTYPE_F64);
                    for (int d = 0; same && d < it->ndim; d++)
                        same = t->shape[d] == it->shape[d];
                    if (!same)
                        st = NIC_FAIL(ctx, NIC_ERR_MISMATCH,
                                      "%s: tensor '%s' is missing or differs from the model",
                                      path, name);
                } else {
                    st = load_one(ctx, &f, path, name, it, dst[k]);
                }
            }
        }
    }
    if (st == NIC_OK && config) {
        const char *c = cfg ? cfg : "";
        size_t n = strlen(c) + 1;
        *config = malloc(n);
        if (!*config)
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", path);
        else
            memcpy(*config, c, n);
    }
    if (st == NIC_OK) {
        opt->step = step_value;
        nn_rng_load(rng, raw);
    }
    nn_st_free(&f);
    return st;
}
