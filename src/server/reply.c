#include "server/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/strbuf.h"

void serve_reply_free(serve_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

void serve_reply_header(serve_reply *r, const char *name, const char *fmt, ...)
{
    if (r->header_count >= SERVE_REPLY_MAX_HEADERS)
        return;
    serve_header *h = &r->headers[r->header_count++];
    snprintf(h->name, sizeof(h->name), "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->value, sizeof(h->value), fmt, ap);
    va_end(ap);
}

void serve_reply_body(serve_reply *r, int status, const char *content_type, uint8_t *body,
                      size_t size)
{
    free(r->body);
    r->status = status;
    r->content_type = content_type;
    r->body = body;
    r->size = size;
}

void serve_reply_error(serve_reply *r, int status, const char *code, const char *fmt, ...)
{
    char message[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    /* Success headers (sizes, metrics) do not describe an error. */
    r->header_count = 0;
    snprintf(r->error_code, sizeof(r->error_code), "%s", code);
    strbuf b;
    strbuf_init(&b);
    strbuf_printf(&b, "{\"error\": {\"status\": %d, \"code\": ", status);
    strbuf_json_string(&b, code);
    strbuf_printf(&b, ", \"message\": ");
    strbuf_json_string(&b, message);
    strbuf_printf(&b, "}}\n");
    size_t len;
    char *text = strbuf_take(&b, &len);
    serve_reply_body(r, status, "application/json", (uint8_t *)text, text ? len : 0);
}

void serve_reply_library_error(serve_reply *r, nic_context *ctx, nic_status st,
                               const char *stage)
{
    const char *msg = nic_context_error(ctx);
    if (!msg || !*msg)
        msg = nic_status_name(st);
    int upload = strcmp(stage, "image") == 0 || strcmp(stage, "nic") == 0;
    switch (st) {
    case NIC_ERR_FORMAT:
    case NIC_ERR_CORRUPT:
        serve_reply_error(r, 400, upload && stage[0] == 'n' ? "malformed_nic" : "malformed_image",
                          "%s", msg);
        break;
    case NIC_ERR_LIMIT:
        if (upload)
            serve_reply_error(r, 413, "image_too_large", "%s", msg);
        else
            serve_reply_error(r, 422, "budget_too_small", "%s", msg);
        break;
    case NIC_ERR_UNSUPPORTED:
        /* An upload in a format (or .nic version) nic does not read. */
        if (upload)
            serve_reply_error(r, 415, "unsupported_format", "%s", msg);
        else
            serve_reply_error(r, 422, "unsupported", "%s", msg);
        break;
    case NIC_ERR_MISMATCH:
        serve_reply_error(r, 422, "unsupported", "%s", msg);
        break;
    case NIC_ERR_INVALID_ARGUMENT:
        serve_reply_error(r, 400, "bad_request", "%s", msg);
        break;
    case NIC_ERR_ABORTED:
        serve_reply_error(r, 503, "timeout", "the request ran past the server's time limit");
        break;
    case NIC_ERR_NOMEM:
        serve_reply_error(r, 503, "out_of_memory", "%s", msg);
        break;
    default:
        serve_reply_error(r, 500, "internal", "%s: %s", stage, msg);
        break;
    }
}
