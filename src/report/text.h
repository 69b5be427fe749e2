/*
 * A text document built in memory (SVG, Markdown, CSV) and written in one go.
 * Appending never fails outright: an allocation failure marks the text, and
 * writing a marked text reports NIC_ERR_NOMEM.
 */
#ifndef NIC_REPORT_TEXT_H
#define NIC_REPORT_TEXT_H

#include <stdarg.h>
#include <stddef.h>

#include "common/context.h"

typedef struct nic_text {
    char *s;    /* NUL-terminated once anything was appended */
    size_t n;   /* bytes, without the NUL */
    size_t cap;
    int failed; /* an allocation failed: the text is incomplete */
} nic_text;

void nic_text_vprintf(nic_text *t, const char *fmt, va_list ap);
void nic_text_printf(nic_text *t, const char *fmt, ...) NIC_PRINTF(2, 3);
/* Appends s with & < > " escaped for XML. */
void nic_text_xml(nic_text *t, const char *s);
void nic_text_free(nic_text *t);
/* Writes the text to path (atomically) and frees it. */
nic_status nic_text_write_file(nic_context *ctx, nic_text *t, const char *path);

#endif
