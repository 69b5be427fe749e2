#include "server/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(strbuf *b)
{
    memset(b, 0, sizeof(*b));
}

void strbuf_free(strbuf *b)
{
    free(b->data);
    strbuf_init(b);
}

static int reserve(strbuf *b, size_t extra)
{
    if (b->failed)
        return 0;
    if (b->len + extra + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

void strbuf_printf(strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void strbuf_json_string(strbuf *b, const char *s)
{
    strbuf_printf(b, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            strbuf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            strbuf_printf(b, "\\u%04x", c);
        else
            strbuf_printf(b, "%c", c);
    }
    strbuf_printf(b, "\"");
}

void strbuf_json_number(strbuf *b, double v, int decimals)
{
    if (isfinite(v))
        strbuf_printf(b, "%.*f", decimals, v);
    else
        strbuf_printf(b, "null");
}

int strbuf_failed(const strbuf *b)
{
    return b->failed;
}

char *strbuf_take(strbuf *b, size_t *len)
{
    if (b->failed || !reserve(b, 0)) {
        strbuf_free(b);
        *len = 0;
        return NULL;
    }
    b->data[b->len] = '\0';
    char *p = b->data;
    *len = b->len;
    strbuf_init(b);
    return p;
}
