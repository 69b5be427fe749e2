#include "nn/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char *const dtype_names[NN_DTYPE_COUNT] = {"F32", "F64", "F16", "BF16", "I64",
                                                        "I32", "I16", "I8",  "U8",   "BOOL"};
static const size_t dtype_sizes[NN_DTYPE_COUNT] = {4, 8, 2, 2, 8, 4, 2, 1, 1, 1};

const char *nn_dtype_name(nn_dtype t)
{
    return (unsigned)t < NN_DTYPE_COUNT ? dtype_names[t] : "?";
}

size_t nn_dtype_size(nn_dtype t)
{
    return (unsigned)t < NN_DTYPE_COUNT ? dtype_sizes[t] : 0;
}

static uint32_t crc32_of(const uint8_t *p, uint64_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

/* ------------------------------------------------------------------ JSON reader */

typedef struct json {
    const char *s;
    size_t pos, len;
    const char *name; /* file name for messages */
    nic_context *ctx;
} json;

#define JSON_MAX_DEPTH 32
#define JSON_MAX_STRING (1u << 20)

static nic_status json_fail(json *j, const char *what)
{
    /* +8: offsets in messages are file offsets. */
    return NIC_FAIL(j->ctx, NIC_ERR_FORMAT, "%s: header byte %zu: %s", j->name, j->pos + 8, what);
}

static void json_ws(json *j)
{
    while (j->pos < j->len && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' ||
                               j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
        j->pos++;
}

static int json_peek(json *j)
{
    json_ws(j);
    return j->pos < j->len ? (unsigned char)j->s[j->pos] : -1;
}

static nic_status json_expect(json *j, char c)
{
    if (json_peek(j) != (unsigned char)c) {
        char msg[32];
        snprintf(msg, sizeof(msg), "expected '%c'", c);
        return json_fail(j, msg);
    }
    j->pos++;
    return NIC_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses a string into a malloc'ed, NUL-terminated buffer (*out may be NULL to skip). */
static nic_status json_string(json *j, char **out)
{
    if (out)
        *out = NULL;
    NIC_TRY(json_expect(j, '"'));
    size_t cap = 32, n = 0;
    char *buf = out ? malloc(cap) : NULL;
    if (out && !buf)
        return NIC_FAIL(j->ctx, NIC_ERR_NOMEM, "%s: out of memory", j->name);
    for (;;) {
        if (j->pos >= j->len) {
            free(buf);
            return json_fail(j, "unterminated string");
        }
        unsigned char c = (unsigned char)j->s[j->pos++];
        uint32_t cp;
        if (c == '"')
            break;
        if (c < 0x20) {
            free(buf);
            return json_fail(j, "control character in string");
        }
        if (c == '\\') {
            if (j->pos >= j->len) {
                free(buf);
                return json_fail(j, "unterminated escape");
            }
            c = (unsigned char)j->s[j->pos++];
            switch (c) {
            case '"': case '\\': case '/': cp = c; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': {
                if (j->len - j->pos < 4) {
                    free(buf);
                    return json_fail(j, "short \\u escape");
                }
                cp = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexval((unsigned char)j->s[j->pos++]);
                    if (h < 0) {
                        free(buf);
                        return json_fail(j, "bad \\u escape");
                    }
                    cp = cp * 16 + (uint32_t)h;
                }
                if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) {
                    free(buf); /* NUL and surrogates are not needed by any tensor name */
                    return json_fail(j, "unsupported \\u escape (NUL or surrogate)");
                }
                break;
            }
            default:
                free(buf);
                return json_fail(j, "unknown escape");
            }
        } else {
            cp = c; /* raw UTF-8 bytes are copied as they are */
        }
        if (!out)
            continue;
        char enc[4];
        int m;
        if (cp < 0x80 || c == cp) { /* ASCII or a raw byte */
            enc[0] = (char)cp;
            m = 1;
        } else if (cp < 0x800) {
            enc[0] = (char)(0xc0 | (cp >> 6));
            enc[1] = (char)(0x80 | (cp & 0x3f));
            m = 2;
        } else {
            enc[0] = (char)(0xe0 | (cp >> 12));
            enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
            enc[2] = (char)(0x80 | (cp & 0x3f));
            m = 3;
        }
        if (n + (size_t)m + 1 > cap) {
            if (cap >= JSON_MAX_STRING) {
                free(buf);
                return json_fail(j, "string too long");
            }
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return NIC_FAIL(j->ctx, NIC_ERR_NOMEM, "%s: out of memory", j->name);
            }
            buf = nb;
        }
        memcpy(buf + n, enc, (size_t)m);
        n += (size_t)m;
    }
    if (out) {
        buf[n] = '\0';
        *out = buf;
    }
    return NIC_OK;
}

/* Non-negative integer without sign, fraction or exponent, < 2^63. */
static nic_status json_uint(json *j, uint64_t *out)
{
    json_ws(j);
    uint64_t v = 0;
    size_t start = j->pos;
    while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9') {
        if (v > (((uint64_t)1 << 63) - 1 - 9) / 10)
            return json_fail(j, "integer too large");
        v = v * 10 + (uint64_t)(j->s[j->pos] - '0');
        j->pos++;
    }
    if (j->pos == start)
        return json_fail(j, "expected a non-negative integer");
    if (j->pos < j->len && (j->s[j->pos] == '.' || j->s[j->pos] == 'e' || j->s[j->pos] == 'E'))
        return json_fail(j, "expected an integer");
    *out = v;
    return NIC_OK;
}

static nic_status json_skip(json *j, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return json_fail(j, "nested too deeply");
    int c = json_peek(j);
    if (c == '"')
        return json_string(j, NULL);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->pos++;
        if (json_peek(j) == close) {
            j->pos++;
            return NIC_OK;
        }
        for (;;) {
            if (c == '{') {
                NIC_TRY(json_string(j, NULL));
                NIC_TRY(json_expect(j, ':'));
            }
            NIC_TRY(json_skip(j, depth + 1));
            int d = json_peek(j);
            j->pos++;
            if (d == close)
                return NIC_OK;
            if (d != ',') {
                j->pos--;
                return json_fail(j, "expected ',' or a closing bracket");
            }
        }
    }
    /* number or literal: a run of these characters */
    size_t start = j->pos;
    while (j->pos < j->len && strchr("0123456789+-.eEtruefalsn", j->s[j->pos]) && j->s[j->pos])
        j->pos++;
    if (j->pos == start)
        return json_fail(j, "expected a value");
    return NIC_OK;
}

/* ------------------------------------------------------------------ file */

void nn_st_free(nn_st_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->tensor_count; i++)
        free(f->tensors[i].name);
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    free(f->buf);
    memset(f, 0, sizeof(*f));
}

const nn_st_tensor *nn_st_find(const nn_st_file *f, const char *name)
{
    for (int i = 0; i < f->tensor_count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const char *nn_st_get_meta(const nn_st_file *f, const char *key)
{
    for (int i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}

static nic_status parse_metadata(json *j, nn_st_file *f)
{
    NIC_TRY(json_expect(j, '{'));
    if (json_peek(j) == '}') {
        j->pos++;
        return NIC_OK;
    }
    for (;;) {
        char *key, *value;
        NIC_TRY(json_string(j, &key));
        nic_status st = json_expect(j, ':');
        if (st == NIC_OK)
            st = json_string(j, &value);
        if (st != NIC_OK) {
            free(key);
            return st;
        }
        nn_st_meta *m = realloc(f->meta, (size_t)(f->meta_count + 1) * sizeof(*m));
        if (!m) {
            free(key);
            free(value);
            return NIC_FAIL(j->ctx, NIC_ERR_NOMEM, "%s: out of memory", j->name);
        }
        f->meta = m;
        f->meta[f->meta_count].key = key;
        f->meta[f->meta_count].value = value;
        f->meta_count++;
        int c = json_peek(j);
        j->pos++;
        if (c == '}')
            return NIC_OK;
        if (c != ',') {
            j->pos--;
            return json_fail(j, "expected ',' or '}' in __metadata__");
        }
    }
}

static nic_status parse_tensor(json *j, nn_st_tensor *t)
{
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    NIC_TRY(json_expect(j, '{'));
    for (;;) {
        char *key;
        NIC_TRY(json_string(j, &key));
        nic_status st = json_expect(j, ':');
        if (st != NIC_OK) {
            free(key);
            return st;
        }
        if (strcmp(key, "dtype") == 0) {
            free(key);
            char *dt;
            NIC_TRY(json_string(j, &dt));
            int found = -1;
            for (int k = 0; k < NN_DTYPE_COUNT; k++)
                if (strcmp(dt, dtype_names[k]) == 0)
                    found = k;
            free(dt);
            if (found < 0)
                return json_fail(j, "unknown dtype");
            t->dtype = (nn_dtype)found;
            have_dtype = 1;
        } else if (strcmp(key, "shape") == 0) {
            free(key);
            NIC_TRY(json_expect(j, '['));
            t->ndim = 0;
            if (json_peek(j) == ']')
                j->pos++;
            else
                for (;;) {
                    uint64_t v;
                    if (t->ndim >= NN_ST_MAX_DIMS)
                        return json_fail(j, "too many dimensions");
                    NIC_TRY(json_uint(j, &v));
                    if (v > ((uint64_t)1 << 40))
                        return json_fail(j, "dimension too large");
                    t->shape[t->ndim++] = (int64_t)v;
                    int c = json_peek(j);
                    j->pos++;
                    if (c == ']')
                        break;
                    if (c != ',') {
                        j->pos--;
                        return json_fail(j, "expected ',' or ']' in shape");
                    }
                }
            have_shape = 1;
        } else if (strcmp(key, "data_offsets") == 0) {
            free(key);
            NIC_TRY(json_expect(j, '['));
            NIC_TRY(json_uint(j, &t->begin));
            NIC_TRY(json_expect(j, ','));
            NIC_TRY(json_uint(j, &t->end));
            NIC_TRY(json_expect(j, ']'));
            have_offsets = 1;
        } else {
            free(key);
            NIC_TRY(json_skip(j, 1));
        }
        int c = json_peek(j);
        j->pos++;
        if (c == '}')
            break;
        if (c != ',') {
            j->pos--;
            return json_fail(j, "expected ',' or '}' in tensor entry");
        }
    }
    if (!have_dtype || !have_shape || !have_offsets)
        return json_fail(j, "tensor entry lacks dtype, shape or data_offsets");
    return NIC_OK;
}

static int cmp_begin(const void *a, const void *b)
{
    const nn_st_tensor *x = *(const nn_st_tensor *const *)a, *y = *(const nn_st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end < y->end ? -1 : x->end > y->end);
}

static nic_status parse_header(nic_context *ctx, nn_st_file *f, const char *name)
{
    if (f->size < 8)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: %zu bytes, too short for a safetensors header",
                        name, f->size);
    uint64_t hlen = 0;
    for (int b = 0; b < 8; b++)
        hlen |= (uint64_t)f->buf[b] << (8 * b);
    if (hlen < 2 || hlen > NN_ST_MAX_HEADER || hlen > f->size - 8)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: header length %llu does not fit the file (%zu bytes, limit %u)", name,
                        (unsigned long long)hlen, f->size, NN_ST_MAX_HEADER);
    f->data_offset = 8 + (size_t)hlen;
    json j = {(const char *)f->buf + 8, 0, (size_t)hlen, name, ctx};
    NIC_TRY(json_expect(&j, '{'));
    int cap = 0, seen_meta = 0;
    if (json_peek(&j) == '}') {
        j.pos++;
    } else {
        for (;;) {
            char *key;
            NIC_TRY(json_string(&j, &key));
            nic_status st = json_expect(&j, ':');
            if (st == NIC_OK && strcmp(key, "__metadata__") == 0) {
                free(key);
                if (seen_meta++)
                    return json_fail(&j, "__metadata__ appears twice");
                NIC_TRY(parse_metadata(&j, f));
            } else {
                if (st == NIC_OK && (key[0] == '\0' || nn_st_find(f, key)))
                    st = json_fail(&j, key[0] ? "tensor name appears twice" : "empty tensor name");
                if (st == NIC_OK && f->tensor_count == cap) {
                    if (cap >= (1 << 20))
                        st = json_fail(&j, "too many tensors");
                    else {
                        int ncap = cap ? cap * 2 : 16;
                        nn_st_tensor *nt = realloc(f->tensors, (size_t)ncap * sizeof(*nt));
                        if (!nt)
                            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", name);
                        else {
                            f->tensors = nt;
                            cap = ncap;
                        }
                    }
                }
                if (st != NIC_OK) {
                    free(key);
                    return st;
                }
                nn_st_tensor *t = &f->tensors[f->tensor_count];
                memset(t, 0, sizeof(*t));
                t->name = key;
                f->tensor_count++; /* owned from here on, freed by nn_st_free */
                NIC_TRY(parse_tensor(&j, t));
            }
            int c = json_peek(&j);
            j.pos++;
            if (c == '}')
                break;
            if (c != ',') {
                j.pos--;
                return json_fail(&j, "expected ',' or '}' at top level");
            }
        }
    }
    if (json_peek(&j) != -1)
        return json_fail(&j, "unexpected bytes after the header object");
    if (f->tensor_count == 0 && f->size != f->data_offset)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: data section without tensors", name);

    /* Shapes, sizes and offsets: every tensor inside the data section, packed, no overlap. */
    uint64_t data_size = f->size - f->data_offset;
    for (int i = 0; i < f->tensor_count; i++) {
        nn_st_tensor *t = &f->tensors[i];
        uint64_t count = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] != 0 && count > ((uint64_t)1 << 50) / (uint64_t)t->shape[d])
                return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: tensor '%s': shape too large", name, t->name);
            count *= (uint64_t)t->shape[d];
        }
        t->count = count;
        uint64_t bytes = count * dtype_sizes[t->dtype];
        if (t->end < t->begin || t->end - t->begin != bytes)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, shape "
                            "needs %llu",
                            name, t->name, (unsigned long long)t->begin,
                            (unsigned long long)t->end,
                            (unsigned long long)(t->end >= t->begin ? t->end - t->begin : 0),
                            (unsigned long long)bytes);
        if (t->end > data_size)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: tensor '%s' ends at data byte %llu, past the end (%llu)", name,
                            t->name, (unsigned long long)t->end, (unsigned long long)data_size);
        t->data = f->buf + f->data_offset + t->begin;
    }
    if (f->tensor_count > 0) {
        nn_st_tensor **order = malloc((size_t)f->tensor_count * sizeof(*order));
        if (!order)
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", name);
        for (int i = 0; i < f->tensor_count; i++)
            order[i] = &f->tensors[i];
        qsort(order, (size_t)f->tensor_count, sizeof(*order), cmp_begin);
        uint64_t at = 0;
        const char *bad = NULL;
        for (int i = 0; i < f->tensor_count && !bad; i++) {
            if (order[i]->begin != at)
                bad = order[i]->name;
            at = order[i]->end;
        }
        free(order);
        if (!bad && at != data_size)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: data section has %llu bytes, tensors cover %llu", name,
                            (unsigned long long)data_size, (unsigned long long)at);
        if (bad)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: tensor '%s' overlaps another or leaves a hole in the data", name,
                            bad);
    }

    const char *crc = nn_st_get_meta(f, "crc32");
    if (crc) {
        char *endp;
        errno = 0;
        unsigned long want = strtoul(crc, &endp, 16);
        if (strlen(crc) != 8 || *endp || errno)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: crc32 entry '%s' is not 8 hex digits", name,
                            crc);
        uint32_t got = crc32_of(f->buf + f->data_offset, data_size);
        if (got != (uint32_t)want)
            return NIC_FAIL(ctx, NIC_ERR_CORRUPT,
                            "%s: data checksum mismatch (crc32 %08x, header says %08lx)", name,
                            got, want);
        f->has_checksum = 1;
    }
    return NIC_OK;
}

nic_status nn_st_parse(nic_context *ctx, const void *data, size_t size, const char *name,
                       nn_st_file *out)
{
    memset(out, 0, sizeof(*out));
    if (!name)
        name = "(memory)";
    out->buf = malloc(size ? size : 1);
    if (!out->buf)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, size);
    if (size)
        memcpy(out->buf, data, size);
    out->size = size;
    nic_status st = parse_header(ctx, out, name);
    if (st != NIC_OK)
        nn_st_free(out);
    return st;
}

nic_status nn_st_read_file(nic_context *ctx, const char *path, nn_st_file *out)
{
    memset(out, 0, sizeof(*out));
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if ((uint64_t)cap > ((uint64_t)1 << 40) || cap > SIZE_MAX / 4) {
                free(buf);
                fclose(fp);
                return NIC_FAIL(ctx, NIC_ERR_LIMIT, "%s: file too large", path);
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(fp);
    fclose(fp);
    if (!buf)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", path);
    if (err) {
        free(buf);
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: read error", path);
    }
    out->buf = buf;
    out->size = n;
    nic_status st = parse_header(ctx, out, path);
    if (st != NIC_OK)
        nn_st_free(out);
    return st;
}

static nic_status get_tensor(nic_context *ctx, const nn_st_file *f, const char *name,
                             size_t count, const nn_st_tensor **out)
{
    const nn_st_tensor *t = nn_st_find(f, name);
    if (!t)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH, "tensor '%s' is not in the file", name);
    if (t->dtype != NN_DTYPE_F32 && t->dtype != NN_DTYPE_F64)
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "tensor '%s': dtype %s, expected F32 or F64",
                        name, nn_dtype_name(t->dtype));
    if (t->count != count)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH, "tensor '%s': %llu elements, expected %zu", name,
                        (unsigned long long)t->count, count);
    *out = t;
    return NIC_OK;
}

/* The data is little-endian; nic targets little-endian hosts (x86-64, arm64). */
nic_status nn_st_read_f32(nic_context *ctx, const nn_st_file *f, const char *name, float *dst,
                          size_t count)
{
    const nn_st_tensor *t;
    NIC_TRY(get_tensor(ctx, f, name, count, &t));
    if (t->dtype == NN_DTYPE_F32) {
        memcpy(dst, t->data, count * sizeof(float));
    } else {
        for (size_t i = 0; i < count; i++) {
            double v;
            memcpy(&v, t->data + i * 8, 8);
            dst[i] = (float)v;
        }
    }
    return NIC_OK;
}

nic_status nn_st_read_f64(nic_context *ctx, const nn_st_file *f, const char *name, double *dst,
                          size_t count)
{
    const nn_st_tensor *t;
    NIC_TRY(get_tensor(ctx, f, name, count, &t));
    if (t->dtype == NN_DTYPE_F64) {
        memcpy(dst, t->data, count * sizeof(double));
    } else {
        for (size_t i = 0; i < count; i++) {
            float v;
            memcpy(&v, t->data + i * 4, 4);
            dst[i] = v;
        }
    }
    return NIC_OK;
}

/* ------------------------------------------------------------------ writer */

void nn_st_writer_init(nn_st_writer *w)
{
    memset(w, 0, sizeof(*w));
}

void nn_st_writer_free(nn_st_writer *w)
{
    for (int i = 0; i < w->tensor_count; i++)
        free(w->tensors[i].name);
    for (int i = 0; i < w->meta_count; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->tensors);
    free(w->meta);
    memset(w, 0, sizeof(*w));
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

nic_status nn_st_writer_add(nic_context *ctx, nn_st_writer *w, const char *name, nn_dtype dtype,
                            int ndim, const int64_t *shape, const void *data)
{
    if (!name || !name[0] || strcmp(name, "__metadata__") == 0 || (unsigned)dtype >= NN_DTYPE_COUNT ||
        ndim < 0 || ndim > NN_ST_MAX_DIMS)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_st_writer_add: bad tensor '%s'",
                        name ? name : "(null)");
    for (int i = 0; i < w->tensor_count; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_st_writer_add: '%s' added twice", name);
    if (w->tensor_count == w->tensor_cap) {
        int cap = w->tensor_cap ? w->tensor_cap * 2 : 16;
        nn_st_tensor *t = realloc(w->tensors, (size_t)cap * sizeof(*t));
        if (!t)
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "nn_st_writer_add: out of memory");
        w->tensors = t;
        w->tensor_cap = cap;
    }
    nn_st_tensor *t = &w->tensors[w->tensor_count];
    memset(t, 0, sizeof(*t));
    uint64_t count = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_st_writer_add(%s): negative dim", name);
        t->shape[d] = shape[d];
        count *= (uint64_t)shape[d];
    }
    t->name = dupstr(name);
    if (!t->name)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "nn_st_writer_add: out of memory");
    t->dtype = dtype;
    t->ndim = ndim;
    t->count = count;
    t->begin = w->data_size;
    t->end = w->data_size + count * dtype_sizes[dtype];
    t->data = data;
    w->data_size = t->end;
    w->tensor_count++;
    return NIC_OK;
}

nic_status nn_st_writer_meta(nic_context *ctx, nn_st_writer *w, const char *key, const char *value)
{
    if (!key || !value)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_st_writer_meta: NULL key or value");
    if (w->meta_count == w->meta_cap) {
        int cap = w->meta_cap ? w->meta_cap * 2 : 8;
        nn_st_meta *m = realloc(w->meta, (size_t)cap * sizeof(*m));
        if (!m)
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "nn_st_writer_meta: out of memory");
        w->meta = m;
        w->meta_cap = cap;
    }
    char *k = dupstr(key), *v = dupstr(value);
    if (!k || !v) {
        free(k);
        free(v);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "nn_st_writer_meta: out of memory");
    }
    w->meta[w->meta_count].key = k;
    w->meta[w->meta_count].value = v;
    w->meta_count++;
    return NIC_OK;
}

/* A growing text buffer for the header. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

nic_status nn_st_writer_encode(nic_context *ctx, nn_st_writer *w, uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    /* CRC of the data section, streamed over the tensors in order. */
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < w->tensor_count; i++) {
        const uint8_t *p = w->tensors[i].data;
        uint64_t n = w->tensors[i].end - w->tensors[i].begin;
        while (n > 0) {
            uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
            crc = crc32(crc, p, chunk);
            p += chunk;
            n -= chunk;
        }
    }
    sbuf b = {0};
    char tmp[96];
    sb_str(&b, "{\"__metadata__\":{");
    for (int i = 0; i < w->meta_count; i++) {
        if (strcmp(w->meta[i].key, "crc32") == 0)
            continue;
        sb_json_string(&b, w->meta[i].key);
        sb_str(&b, ":");
        sb_json_string(&b, w->meta[i].value);
        sb_str(&b, ",");
    }
    snprintf(tmp, sizeof(tmp), "\"crc32\":\"%08lx\"}", (unsigned long)(crc & 0xffffffffu));
    sb_str(&b, tmp);
    for (int i = 0; i < w->tensor_count; i++) {
        const nn_st_tensor *t = &w->tensors[i];
        sb_str(&b, ",");
        sb_json_string(&b, t->name);
        sb_str(&b, ":{\"dtype\":\"");
        sb_str(&b, dtype_names[t->dtype]);
        sb_str(&b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(tmp, sizeof(tmp), "%s%lld", d ? "," : "", (long long)t->shape[d]);
            sb_str(&b, tmp);
        }
        snprintf(tmp, sizeof(tmp), "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)t->begin,
                 (unsigned long long)t->end);
        sb_str(&b, tmp);
    }
    sb_str(&b, "}");
    while (!b.oom && b.n % 8)
        sb_str(&b, " ");
    if (b.oom) {
        free(b.p);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "safetensors: out of memory for the header");
    }
    size_t total = 8 + b.n + (size_t)w->data_size;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(b.p);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "safetensors: cannot allocate %zu bytes", total);
    }
    for (int k = 0; k < 8; k++)
        buf[k] = (uint8_t)((uint64_t)b.n >> (8 * k));
    memcpy(buf + 8, b.p, b.n);
    free(b.p);
    uint8_t *p = buf + 8 + b.n;
    for (int i = 0; i < w->tensor_count; i++) {
        size_t n = (size_t)(w->tensors[i].end - w->tensors[i].begin);
        if (n)
            memcpy(p, w->tensors[i].data, n);
        p += n;
    }
    *out = buf;
    *size = total;
    return NIC_OK;
}

nic_status nn_write_file_atomic(nic_context *ctx, const char *path, const void *buf, size_t size)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        nic_status st = NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    const uint8_t *p = buf;
    size_t left = size;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            nic_status st = NIC_FAIL(ctx, NIC_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return st;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        nic_status st = NIC_FAIL(ctx, NIC_ERR_IO, "%s: fsync/close failed: %s", tmp, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    if (rename(tmp, path) != 0) {
        nic_status st = NIC_FAIL(ctx, NIC_ERR_IO, "rename %s -> %s failed: %s", tmp, path,
                                 strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return NIC_OK;
}

nic_status nn_st_writer_write(nic_context *ctx, nn_st_writer *w, const char *path)
{
    uint8_t *buf;
    size_t size;
    NIC_TRY(nn_st_writer_encode(ctx, w, &buf, &size));
    nic_status st = nn_write_file_atomic(ctx, path, buf, size);
    free(buf);
    return st;
}

/* ------------------------------------------------------------------ weights */

nic_status nn_weights_save(nic_context *ctx, const char *path, const nn_params *p)
{
    nn_st_writer w;
    nn_st_writer_init(&w);
    nic_status st = nn_st_writer_meta(ctx, &w, "format", "nic-weights-1");
    for (int i = 0; st == NIC_OK && i < p->count; i++)
        st = nn_st_writer_add(ctx, &w, p->items[i].name, NN_DTYPE_F32, p->items[i].ndim,
                              p->items[i].shape, nn_param_data(p, i));
    if (st == NIC_OK)
        st = nn_st_writer_write(ctx, &w, path);
    nn_st_writer_free(&w);
    return st;
}

nic_status nn_weights_load(nic_context *ctx, const char *path, nn_params *p)
{
    return nn_weights_load_ex(ctx, path, p, NULL);
}

static int has_prefix(const char *name, const char *const *prefixes)
{
    for (int k = 0; prefixes && prefixes[k]; k++)
        if (strncmp(name, prefixes[k], strlen(prefixes[k])) == 0)
            return 1;
    return 0;
}

nic_status nn_weights_load_ex(nic_context *ctx, const char *path, nn_params *p,
                              const char *const *extra_prefixes)
{
    if (!p->data)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nn_weights_load: parameters not allocated");
    nn_st_file f;
    NIC_TRY(nn_st_read_file(ctx, path, &f));
    nic_status st = NIC_OK;
    for (int i = 0; st == NIC_OK && i < p->count; i++) {
        const nn_param *it = &p->items[i];
        const nn_st_tensor *t = nn_st_find(&f, it->name);
        if (!t) {
            st = NIC_FAIL(ctx, NIC_ERR_MISMATCH, "%s: tensor '%s' is missing", path, it->name);
            break;
        }
        int same = t->ndim == it->ndim;
        for (int d = 0; same && d < it->ndim; d++)
            same = t->shape[d] == it->shape[d];
        if (!same)
            st = NIC_FAIL(ctx, NIC_ERR_MISMATCH, "%s: tensor '%s' has another shape than the model",
                          path, it->name);
        else
            st = nn_st_read_f32(ctx, &f, it->name, nn_param_data(p, i), it->count);
    }
    int extra = 0; /* tensors that are no parameter but carry an allowed prefix */
    for (int i = 0; i < f.tensor_count; i++)
        if (has_prefix(f.tensors[i].name, extra_prefixes) &&
            nn_params_find(p, f.tensors[i].name) < 0)
            extra++;
    if (st == NIC_OK && f.tensor_count - extra != p->count)
        st = NIC_FAIL(ctx, NIC_ERR_MISMATCH, "%s: %d tensors, the model has %d", path,
                      f.tensor_count - extra, p->count);
    if (st != NIC_OK)
        nic_fail_prefix(ctx, "loading weights");
    nn_st_free(&f);
    return st;
}
