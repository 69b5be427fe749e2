/* A growing text buffer for JSON bodies and log lines. An allocation failure
 * is sticky: the buffer reports it once, at the end (strbuf_failed). */
#ifndef NIC_SERVER_STRBUF_H
#define NIC_SERVER_STRBUF_H

#include <stddef.h>

typedef struct strbuf {
    char *data; /* NUL-terminated */
    size_t len, cap;
    int failed;
} strbuf;

void strbuf_init(strbuf *b);
void strbuf_free(strbuf *b);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void strbuf_printf(strbuf *b, const char *fmt, ...);
/* A JSON string literal, quotes included. */
void strbuf_json_string(strbuf *b, const char *s);
/* A JSON number with `decimals` digits, or null when not finite. */
void strbuf_json_number(strbuf *b, double v, int decimals);
int strbuf_failed(const strbuf *b);
/* Hands the text to the caller (free() it); the buffer is empty afterwards. */
char *strbuf_take(strbuf *b, size_t *len);

#endif
