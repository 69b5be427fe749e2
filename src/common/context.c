#include "common/context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NIC_DEFAULT_MAX_PIXELS ((uint64_t)1 << 27)
#define NIC_DEFAULT_MAX_DIMENSION 65535u

int nic_version(void)
{
    return (NIC_VERSION_MAJOR << 16) | (NIC_VERSION_MINOR << 8) | NIC_VERSION_PATCH;
}

const char *nic_version_string(void)
{
    return NIC_VERSION_STRING;
}

const char *nic_status_name(nic_status status)
{
    switch (status) {
    case NIC_OK: return "ok";
    case NIC_ERR_INVALID_ARGUMENT: return "invalid argument";
    case NIC_ERR_IO: return "i/o";
    case NIC_ERR_FORMAT: return "format";
    case NIC_ERR_UNSUPPORTED: return "unsupported";
    case NIC_ERR_LIMIT: return "limit";
    case NIC_ERR_NOMEM: return "out of memory";
    case NIC_ERR_MISMATCH: return "mismatch";
    case NIC_ERR_CORRUPT: return "corrupt";
    case NIC_ERR_INTERNAL: return "internal";
    case NIC_ERR_ABORTED: return "aborted";
    }
    return "unknown";
}

nic_context *nic_context_create(void)
{
    nic_context *ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return NULL;
    ctx->max_pixels = NIC_DEFAULT_MAX_PIXELS;
    ctx->max_dimension = NIC_DEFAULT_MAX_DIMENSION;
    return ctx;
}

void nic_context_destroy(nic_context *ctx)
{
    if (ctx && ctx->codecs && ctx->codecs_free)
        ctx->codecs_free(ctx->codecs);
    free(ctx);
}

nic_status nic_context_set_model_dir(nic_context *ctx, const char *dir)
{
    if (!ctx || !dir || strlen(dir) >= sizeof(ctx->model_dir))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "model folder path is empty or too long");
    memcpy(ctx->model_dir, dir, strlen(dir) + 1);
    return NIC_OK;
}

const char *nic_context_error(const nic_context *ctx)
{
    return ctx ? ctx->message : "";
}

nic_status nic_context_status(const nic_context *ctx)
{
    return ctx ? ctx->status : NIC_ERR_INVALID_ARGUMENT;
}

void nic_context_clear_error(nic_context *ctx)
{
    if (!ctx)
        return;
    ctx->status = NIC_OK;
    ctx->message[0] = '\0';
}

void nic_context_set_log(nic_context *ctx, nic_log_fn fn, void *user)
{
    if (!ctx)
        return;
    ctx->log_fn = fn;
    ctx->log_user = user;
}

void nic_context_set_abort(nic_context *ctx, nic_abort_fn fn, void *user)
{
    if (!ctx)
        return;
    ctx->abort_fn = fn;
    ctx->abort_user = user;
}

void nic_context_set_progress(nic_context *ctx, nic_progress_fn fn, void *user)
{
    if (!ctx)
        return;
    ctx->progress_fn = fn;
    ctx->progress_user = user;
}

void nic_progress_start(nic_context *ctx)
{
    if (ctx)
        ctx->progress_step = 0;
}

void nic_progress(nic_context *ctx, const char *fmt, ...)
{
    if (!ctx || !ctx->progress_fn)
        return;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    ctx->progress_fn(ctx->progress_user, what, ++ctx->progress_step);
}

nic_status nic_check_abort(nic_context *ctx, const char *what)
{
    if (ctx && ctx->abort_fn && ctx->abort_fn(ctx->abort_user))
        return NIC_FAIL(ctx, NIC_ERR_ABORTED, "%s: aborted by the caller", what);
    return NIC_OK;
}

void nic_context_set_max_pixels(nic_context *ctx, uint64_t max_pixels)
{
    if (ctx)
        ctx->max_pixels = max_pixels ? max_pixels : NIC_DEFAULT_MAX_PIXELS;
}

void nic_context_set_max_dimension(nic_context *ctx, uint32_t max_side)
{
    if (ctx)
        ctx->max_dimension = max_side ? max_side : NIC_DEFAULT_MAX_DIMENSION;
}

nic_status nic_failv(nic_context *ctx, nic_status status, const char *fmt, va_list ap)
{
    if (ctx) {
        ctx->status = status;
        vsnprintf(ctx->message, sizeof(ctx->message), fmt, ap);
    }
    return status;
}

nic_status nic_fail(nic_context *ctx, nic_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nic_failv(ctx, status, fmt, ap);
    va_end(ap);
    return status;
}

nic_status nic_fail_prefix(nic_context *ctx, const char *fmt, ...)
{
    /* Without a context the original status is lost; callers always pass one. */
    if (!ctx)
        return NIC_ERR_INTERNAL;
    char prefix[256];
    char old[NIC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, ctx->message, sizeof(old));
    snprintf(ctx->message, sizeof(ctx->message), "%.255s: %.760s", prefix, old);
    return ctx->status;
}

void nic_log(nic_context *ctx, nic_log_level level, const char *fmt, ...)
{
    if (!ctx || !ctx->log_fn)
        return;
    char msg[NIC_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctx->log_fn(ctx->log_user, level, msg);
}

nic_status nic_check_dimensions(nic_context *ctx, const char *name, uint64_t width,
                                uint64_t height)
{
    uint32_t max_side = ctx ? ctx->max_dimension : NIC_DEFAULT_MAX_DIMENSION;
    uint64_t max_pixels = ctx ? ctx->max_pixels : NIC_DEFAULT_MAX_PIXELS;
    if (width == 0 || height == 0)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: image has zero size (%llux%llu)", name,
                        (unsigned long long)width, (unsigned long long)height);
    if (width > max_side || height > max_side)
        return NIC_FAIL(ctx, NIC_ERR_LIMIT,
                        "%s: image is %llux%llu, larger than the limit of %u pixels per side",
                        name, (unsigned long long)width, (unsigned long long)height, max_side);
    if (width * height > max_pixels)
        return NIC_FAIL(ctx, NIC_ERR_LIMIT,
                        "%s: image is %llux%llu = %llu pixels, more than the limit of %llu",
                        name, (unsigned long long)width, (unsigned long long)height,
                        (unsigned long long)(width * height), (unsigned long long)max_pixels);
    return NIC_OK;
}
