/*
 * What the server answers: a status, a body with its type, extra headers.
 * Workers fill one; the HTTP thread turns it into a libmicrohttpd response.
 * Errors are JSON: {"error": {"status": 413, "code": "body_too_large",
 * "message": "..."}} (codes listed in docs/SERVE.md).
 */
#ifndef NIC_SERVER_REPLY_H
#define NIC_SERVER_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "nic.h"

#define SERVE_REPLY_MAX_HEADERS 16

typedef struct serve_header {
    char name[32];
    char value[96];
} serve_header;

typedef struct serve_reply {
    int status;                /* HTTP status; 0 = not set yet */
    const char *content_type;  /* a string literal */
    uint8_t *body;             /* malloc'ed, or NULL */
    size_t size;
    char error_code[32];       /* for the log line; "" on success */
    serve_header headers[SERVE_REPLY_MAX_HEADERS];
    int header_count;
} serve_reply;

void serve_reply_free(serve_reply *r);

/* Adds a header (silently dropped past SERVE_REPLY_MAX_HEADERS: a bug the tests see). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void serve_reply_header(serve_reply *r, const char *name, const char *fmt, ...);

/* Replaces r with a JSON error. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
void serve_reply_error(serve_reply *r, int status, const char *code, const char *fmt, ...);

/* The JSON error for a failed library call, by status; `stage` tells an
 * unreadable upload ("image", "nic") from a failure while coding ("encode",
 * "decode"), since a limit means 413 for the first and 422 for the second. */
void serve_reply_library_error(serve_reply *r, nic_context *ctx, nic_status st,
                               const char *stage);

/* Takes ownership of body (malloc'ed). */
void serve_reply_body(serve_reply *r, int status, const char *content_type, uint8_t *body,
                      size_t size);

#endif
