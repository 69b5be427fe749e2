/*
 * Private side of nic_context and the library's one error convention.
 *
 * A failing function records a message in the context and returns the
 * status, in one statement:
 *
 *     if (width == 0)
 *         return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: width is 0", name);
 *
 * NIC_TRY propagates a status from a callee that already recorded its
 * message. Functions that cannot fail return void; nothing is dropped.
 */
#ifndef NIC_COMMON_CONTEXT_H
#define NIC_COMMON_CONTEXT_H

#include <stdarg.h>

#include "nic.h"

#define NIC_ERROR_MESSAGE_MAX 1024

struct nic_context {
    nic_status status;
    char message[NIC_ERROR_MESSAGE_MAX];
    nic_log_fn log_fn;
    void *log_user;
    uint64_t max_pixels;
    uint32_t max_dimension;
    char model_dir[1024];
    nic_abort_fn abort_fn;
    void *abort_user;
    nic_progress_fn progress_fn;
    void *progress_user;
    int progress_step; /* steps reported in the current operation */
    /* Loaded models, owned by the codec layer (freed through the hook). */
    void *codecs;
    void (*codecs_free)(void *codecs);
};

#if defined(__GNUC__)
#define NIC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NIC_PRINTF(a, b)
#endif

/* Records status and a formatted message in ctx (ctx may be NULL); returns status. */
nic_status nic_fail(nic_context *ctx, nic_status status, const char *fmt, ...) NIC_PRINTF(3, 4);
nic_status nic_failv(nic_context *ctx, nic_status status, const char *fmt, va_list ap);

/* Prepends "prefix: " to the message already recorded; returns the status. */
nic_status nic_fail_prefix(nic_context *ctx, const char *fmt, ...) NIC_PRINTF(2, 3);

/* Sends a message to the log callback, if any. */
void nic_log(nic_context *ctx, nic_log_level level, const char *fmt, ...) NIC_PRINTF(3, 4);

/* Tells the progress callback, if any, that the next step of a long operation
 * (what it does: the formatted message) begins; nic_progress_start begins an
 * operation (steps count from 1 again). */
void nic_progress_start(nic_context *ctx);
void nic_progress(nic_context *ctx, const char *fmt, ...) NIC_PRINTF(2, 3);

#define NIC_FAIL(ctx, status, ...) nic_fail((ctx), (status), __VA_ARGS__)

#define NIC_TRY(expr)                    \
    do {                                 \
        nic_status nic_try_s_ = (expr);  \
        if (nic_try_s_ != NIC_OK)        \
            return nic_try_s_;           \
    } while (0)

/* Checked size arithmetic: returns 0 on overflow. */
static inline int nic_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a)
        return 0;
    *out = a * b;
    return 1;
}

/* NIC_ERR_ABORTED (with a message naming `what`) when the abort callback asks
 * to stop, NIC_OK otherwise. Long operations call it at safe points. */
nic_status nic_check_abort(nic_context *ctx, const char *what);

/* Checks w x h against the context's limits before anything is allocated. */
nic_status nic_check_dimensions(nic_context *ctx, const char *name, uint64_t width,
                                uint64_t height);

#endif
