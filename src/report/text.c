#include "report/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

void nic_text_vprintf(nic_text *t, const char *fmt, va_list ap)
{
    if (t->failed)
        return;
    va_list copy;
    va_copy(copy, ap);
    int k = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (k < 0) {
        t->failed = 1;
        return;
    }
    if (t->n + (size_t)k + 1 > t->cap) {
        size_t cap = (t->n + (size_t)k + 1) * 2 + 1024;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->failed = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
    t->n += (size_t)k;
}

void nic_text_printf(nic_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nic_text_vprintf(t, fmt, ap);
    va_end(ap);
}

void nic_text_xml(nic_text *t, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': nic_text_printf(t, "&amp;"); break;
        case '<': nic_text_printf(t, "&lt;"); break;
        case '>': nic_text_printf(t, "&gt;"); break;
        case '"': nic_text_printf(t, "&quot;"); break;
        default: nic_text_printf(t, "%c", *s);
        }
    }
}

void nic_text_free(nic_text *t)
{
    free(t->s);
    memset(t, 0, sizeof(*t));
}

nic_status nic_text_write_file(nic_context *ctx, nic_text *t, const char *path)
{
    nic_status st = t->failed ? NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", path)
                              : nic_write_whole_file(ctx, path, (const uint8_t *)t->s, t->n);
    nic_text_free(t);
    return st;
}
