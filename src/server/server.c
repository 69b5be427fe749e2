/* HTTP glue: routing, request bodies, the job queue, responses and the log. */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <omp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "server/assets.h"
#include "server/codec_jobs.h"
#include "server/reply.h"
#include "server/strbuf.h"
#include "server/work_queue.h"

/* Past this much discarded body (after 413 is decided) the connection is cut. */
#define DISCARD_LIMIT ((size_t)64 << 20)
#define FORM_VALUE_MAX 64

struct nic_server {
    nic_server_config cfg;
    char listen[64];
    struct MHD_Daemon *daemon;
    int port;
    work_queue *queue;
    nic_model *model;
    nic_model_info model_info;
    uint8_t *model_file; /* served by GET /v1/models/<name>, read once at start */
    size_t model_file_size;
    double started;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    long active; /* requests between the first handler call and completion */
    atomic_int stopping;
};

typedef enum route {
    ROUTE_NOT_FOUND,
    ROUTE_ASSET,
    ROUTE_HEALTH,
    ROUTE_MODELS,
    ROUTE_MODEL_FILE,
    ROUTE_ENCODE,
    ROUTE_DECODE
} route;

typedef enum req_state { REQ_READING, REQ_QUEUED, REQ_DONE, REQ_ANSWERED } req_state;

typedef struct request {
    nic_server *srv;
    struct MHD_Connection *conn;
    route route;
    const serve_asset *asset;
    char method[8];
    char path[96];
    double t_start, t_queued, t_run;
    /* body (for multipart: the file part) */
    uint8_t *body;
    size_t size, cap, received;
    int too_large;
    struct MHD_PostProcessor *pp;
    int file_parts;
    char form_max_bytes[FORM_VALUE_MAX], form_quality[FORM_VALUE_MAX];
    char form_model[FORM_VALUE_MAX], form_metrics[FORM_VALUE_MAX];
    encode_params params;
    double deadline;
    req_state state; /* REQ_QUEUED -> REQ_DONE is the worker's, under srv->lock */
    serve_reply reply;
    const uint8_t *static_body; /* instead of reply.body: lives as long as the server */
    int status_sent;
    size_t bytes_out;
} request;

typedef struct worker_state {
    nic_server *srv;
    nic_context *ctx;
    double deadline; /* of the job being run */
} worker_state;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void nic_server_config_init(nic_server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen = "127.0.0.1";
    cfg->port = 8080;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cpus > 0 ? (int)cpus : 1;
    cfg->threads_per_request = 1;
    cfg->queue = 16;
    cfg->max_body = (size_t)16 << 20;
    cfg->max_pixels = (uint64_t)1 << 22; /* 4 MP, e.g. 2048 x 2048 */
    cfg->timeout = 60;
    cfg->max_connections = 256;
    cfg->idle_timeout = 30;
    cfg->log = stderr;
}

/* ---------------------------------------------------------------- workers */

static int deadline_passed(void *user)
{
    worker_state *w = user;
    return now_s() > w->deadline;
}

static void *worker_init(void *user, int index)
{
    nic_server *srv = user;
    worker_state *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->srv = srv;
    w->ctx = nic_context_create();
    if (!w->ctx || nic_context_use_model(w->ctx, srv->model) != NIC_OK) {
        nic_context_destroy(w->ctx);
        free(w);
        return NULL;
    }
    nic_context_set_max_pixels(w->ctx, srv->cfg.max_pixels);
    nic_context_set_abort(w->ctx, deadline_passed, w);
    /* OpenMP's team size is per thread: this worker's parallel regions. */
    omp_set_num_threads(srv->cfg.threads_per_request);
    return w;
}

static void worker_fini(void *user, void *state)
{
    worker_state *w = state;
    nic_context_destroy(w->ctx);
    free(w);
}

static void worker_run(void *user, void *state, void *job)
{
    nic_server *srv = user;
    worker_state *w = state;
    request *req = job;
    req->t_run = now_s();
    w->deadline = req->deadline;
    nic_context_clear_error(w->ctx);
    if (req->t_run > req->deadline)
        serve_reply_error(&req->reply, 503, "timeout",
                          "the request waited %.1f s for a worker, past the limit of %g s",
                          req->t_run - req->t_queued, srv->cfg.timeout);
    else if (req->route == ROUTE_ENCODE)
        serve_encode(w->ctx, req->body, req->size, &req->params, &req->reply);
    else
        serve_decode(w->ctx, req->body, req->size, &req->reply);
    pthread_mutex_lock(&srv->lock);
    req->state = REQ_DONE;
    pthread_mutex_unlock(&srv->lock);
    MHD_resume_connection(req->conn);
}

/* ---------------------------------------------------------------- responses */

static enum MHD_Result send_reply(request *req)
{
    serve_reply *r = &req->reply;
    struct MHD_Response *resp;
    req->bytes_out = req->static_body ? r->size : (r->body ? r->size : 0);
    if (req->static_body)
        resp = MHD_create_response_from_buffer(r->size, (void *)req->static_body,
                                               MHD_RESPMEM_PERSISTENT);
    else if (r->body)
        resp = MHD_create_response_from_buffer(r->size, r->body, MHD_RESPMEM_MUST_FREE);
    else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    r->body = NULL; /* the response owns it now */
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                            req->route == ROUTE_ASSET || req->route == ROUTE_MODEL_FILE
                                ? "no-cache"
                                : "no-store");
    for (int i = 0; i < r->header_count; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    if (atomic_load(&req->srv->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    req->status_sent = r->status;
    req->state = REQ_ANSWERED;
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_error(request *req, int status, const char *code, const char *fmt,
                                  ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    serve_reply_error(&req->reply, status, code, "%s", message);
    return send_reply(req);
}

/* Assets and the model file are in memory for the server's whole life. */
static void reply_static(request *req, const char *type, const void *data, size_t size)
{
    serve_reply_body(&req->reply, 200, type, NULL, size);
    req->static_body = data;
}

static void reply_json(request *req, int status, strbuf *b)
{
    size_t len;
    char *text = strbuf_take(b, &len);
    if (!text)
        serve_reply_error(&req->reply, 503, "out_of_memory", "out of memory");
    else
        serve_reply_body(&req->reply, status, "application/json", (uint8_t *)text, len);
}

static void reply_health(request *req)
{
    nic_server *srv = req->srv;
    size_t waiting = 0, running = 0;
    work_queue_counts(srv->queue, &waiting, &running);
    strbuf b;
    strbuf_init(&b);
    strbuf_printf(&b,
                  "{\"status\": \"%s\", \"version\": \"%s\", \"uptime_s\": %.1f, "
                  "\"workers\": %d, \"queue\": {\"waiting\": %zu, \"running\": %zu, "
                  "\"capacity\": %zu}}\n",
                  atomic_load(&srv->stopping) ? "stopping" : "ok", nic_version_string(),
                  now_s() - srv->started, srv->cfg.threads, waiting, running, srv->cfg.queue);
    reply_json(req, atomic_load(&srv->stopping) ? 503 : 200, &b);
}

static void reply_models(request *req)
{
    const nic_model_info *m = &req->srv->model_info;
    strbuf b;
    strbuf_init(&b);
    strbuf_printf(&b, "{\"models\": [{\"name\": ");
    strbuf_json_string(&b, m->name);
    strbuf_printf(&b,
                  ", \"default\": true, \"model_id\": %u, \"weights_hash\": \"%08x\", "
                  "\"parameters\": %llu, \"bytes\": %zu, \"url\": \"/v1/models/%s\"}]}\n",
                  m->model_id, m->weights_hash, (unsigned long long)m->parameters,
                  req->srv->model_file_size, m->name);
    reply_json(req, 200, &b);
}

/* ---------------------------------------------------------------- routing */

static route find_route(const nic_server *srv, const char *url, const serve_asset **asset)
{
    *asset = NULL;
    for (size_t i = 0; i < serve_asset_count; i++)
        if (strcmp(url, serve_assets[i].path) == 0) {
            *asset = &serve_assets[i];
            return ROUTE_ASSET;
        }
    if (strcmp(url, "/healthz") == 0)
        return ROUTE_HEALTH;
    if (strcmp(url, "/v1/models") == 0)
        return ROUTE_MODELS;
    if (strncmp(url, "/v1/models/", 11) == 0 && strcmp(url + 11, srv->model_info.name) == 0)
        return ROUTE_MODEL_FILE;
    if (strcmp(url, "/v1/encode") == 0)
        return ROUTE_ENCODE;
    if (strcmp(url, "/v1/decode") == 0)
        return ROUTE_DECODE;
    return ROUTE_NOT_FOUND;
}

/* The media type without parameters, lower case. */
static void media_type(const char *header, char *out, size_t cap)
{
    size_t n = 0;
    if (header) {
        while (*header == ' ')
            header++;
        for (; header[n] && header[n] != ';' && header[n] != ' ' && n + 1 < cap; n++)
            out[n] = (char)(header[n] >= 'A' && header[n] <= 'Z' ? header[n] + 32 : header[n]);
    }
    out[n] = '\0';
}

static int type_allowed(route r, const char *type)
{
    static const char *const images[] = {"image/png", "image/jpeg", "image/x-portable-pixmap",
                                         "image/x-portable-graymap", "image/x-portable-anymap",
                                         "application/octet-stream", "multipart/form-data"};
    static const char *const nics[] = {"application/x-nic", "application/octet-stream",
                                       "multipart/form-data"};
    const char *const *list = r == ROUTE_ENCODE ? images : nics;
    size_t n = r == ROUTE_ENCODE ? sizeof(images) / sizeof(*images) : sizeof(nics) / sizeof(*nics);
    for (size_t i = 0; i < n; i++)
        if (strcmp(type, list[i]) == 0)
            return 1;
    return 0;
}

/* ---------------------------------------------------------------- bodies */

static int body_append(request *req, const char *data, size_t size)
{
    req->received += size;
    if (req->too_large || req->size + size > req->srv->cfg.max_body) {
        req->too_large = 1;
        return req->received <= req->srv->cfg.max_body + DISCARD_LIMIT;
    }
    if (req->size + size > req->cap) {
        size_t cap = req->cap ? req->cap : 64 * 1024;
        while (cap < req->size + size)
            cap *= 2;
        if (cap > req->srv->cfg.max_body)
            cap = req->srv->cfg.max_body;
        uint8_t *p = realloc(req->body, cap);
        if (!p)
            return 0;
        req->body = p;
        req->cap = cap;
    }
    memcpy(req->body + req->size, data, size);
    req->size += size;
    return 1;
}

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size)
{
    request *req = cls;
    char *dst = NULL;
    if (filename || strcmp(key, "image") == 0 || strcmp(key, "file") == 0) {
        if (off == 0 && ++req->file_parts > 1)
            return MHD_YES; /* only the first file counts; the rest is ignored */
        if (req->file_parts == 1 && !body_append(req, data, size))
            return MHD_NO;
        return MHD_YES;
    }
    if (strcmp(key, "max_bytes") == 0)
        dst = req->form_max_bytes;
    else if (strcmp(key, "quality") == 0)
        dst = req->form_quality;
    else if (strcmp(key, "model") == 0)
        dst = req->form_model;
    else if (strcmp(key, "metrics") == 0)
        dst = req->form_metrics;
    if (dst && off + size < FORM_VALUE_MAX) {
        memcpy(dst + off, data, size);
        dst[off + size] = '\0';
    }
    return MHD_YES;
}

/* ---------------------------------------------------------------- parameters */

static const char *param(request *req, const char *form, const char *name)
{
    if (form[0])
        return form;
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* 0 on success; otherwise the 400 reply is set. */
static int parse_encode_params(request *req)
{
    encode_params *p = &req->params;
    memset(p, 0, sizeof(*p));
    p->quality = 50;
    const char *v = param(req, req->form_max_bytes, "max_bytes");
    if (v && !parse_u64(v, 1, 100000000, &p->max_bytes)) {
        serve_reply_error(&req->reply, 400, "bad_parameter",
                          "max_bytes must be an integer in 1..100000000, not '%.40s'", v);
        return -1;
    }
    v = param(req, req->form_quality, "quality");
    if (v) {
        char *end;
        errno = 0;
        double q = strtod(v, &end);
        if (!*v || errno || *end || !(q >= 0 && q <= 100)) {
            serve_reply_error(&req->reply, 400, "bad_parameter",
                              "quality must be a number in 0..100, not '%.40s'", v);
            return -1;
        }
        p->quality = q;
    }
    v = param(req, req->form_model, "model");
    if (v && strcmp(v, req->srv->model_info.name) != 0) {
        serve_reply_error(&req->reply, 400, "unknown_model",
                          "unknown model '%.40s' (GET /v1/models lists them)", v);
        return -1;
    }
    snprintf(p->model, sizeof(p->model), "%s", req->srv->model_info.name);
    v = param(req, req->form_metrics, "metrics");
    if (v && strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
        serve_reply_error(&req->reply, 400, "bad_parameter", "metrics must be 0 or 1");
        return -1;
    }
    p->metrics = v && strcmp(v, "1") == 0;
    return 0;
}

/* ---------------------------------------------------------------- the handler */

static enum MHD_Result first_call(nic_server *srv, struct MHD_Connection *conn, const char *url,
                                  const char *method, void **req_cls)
{
    request *req = calloc(1, sizeof(*req));
    if (!req)
        return MHD_NO;
    req->srv = srv;
    req->conn = conn;
    req->t_start = now_s();
    snprintf(req->method, sizeof(req->method), "%s", method);
    snprintf(req->path, sizeof(req->path), "%s", url);
    for (char *c = req->path; *c; c++) /* the path is logged: one line, no quotes */
        if ((unsigned char)*c < 0x20 || *c == '"' || *c == 0x7f)
            *c = '?';
    pthread_mutex_lock(&srv->lock);
    srv->active++;
    pthread_mutex_unlock(&srv->lock);
    *req_cls = req;

    req->route = find_route(srv, url, &req->asset);
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int is_post = strcmp(method, "POST") == 0;
    switch (req->route) {
    case ROUTE_NOT_FOUND:
        return send_error(req, 404, "not_found", "no such endpoint: %.80s", url);
    case ROUTE_ASSET:
    case ROUTE_HEALTH:
    case ROUTE_MODELS:
    case ROUTE_MODEL_FILE:
        if (!is_get) {
            serve_reply_error(&req->reply, 405, "method_not_allowed", "%.80s takes GET", url);
            serve_reply_header(&req->reply, "Allow", "GET, HEAD");
            return send_reply(req);
        }
        if (req->route == ROUTE_ASSET)
            reply_static(req, req->asset->content_type, req->asset->data, req->asset->size);
        else if (req->route == ROUTE_HEALTH)
            reply_health(req);
        else if (req->route == ROUTE_MODELS)
            reply_models(req);
        else {
            /* 12 MB: a browser that has it revalidates with its ETag and gets 304. */
            char etag[16];
            snprintf(etag, sizeof(etag), "\"%08x\"", srv->model_info.weights_hash);
            const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_IF_NONE_MATCH);
            if (inm && strcmp(inm, etag) == 0)
                serve_reply_body(&req->reply, 304, NULL, NULL, 0);
            else
                reply_static(req, "application/octet-stream", srv->model_file,
                             srv->model_file_size);
            serve_reply_header(&req->reply, "ETag", "%s", etag);
            serve_reply_header(&req->reply, "X-Nic-Weights-Hash", "%08x",
                               srv->model_info.weights_hash);
        }
        return send_reply(req);
    case ROUTE_ENCODE:
    case ROUTE_DECODE:
        break;
    }
    if (!is_post) {
        serve_reply_error(&req->reply, 405, "method_not_allowed", "%.80s takes POST", url);
        serve_reply_header(&req->reply, "Allow", "POST");
        return send_reply(req);
    }
    char type[96];
    media_type(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
               type, sizeof(type));
    if (!type_allowed(req->route, type))
        return send_error(req, 415, "unsupported_media_type",
                          "Content-Type '%s' is not accepted here: send %s",
                          type[0] ? type : "(none)",
                          req->route == ROUTE_ENCODE
                              ? "the image (image/png, image/jpeg, image/x-portable-pixmap, "
                                "application/octet-stream) or multipart/form-data"
                              : "the .nic file (application/x-nic, application/octet-stream) "
                                "or multipart/form-data");
    const char *len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t declared;
    if (len && parse_u64(len, 0, UINT64_MAX, &declared) && declared > srv->cfg.max_body)
        return send_error(req, 413, "body_too_large",
                          "the body is %llu bytes, more than the limit of %zu",
                          (unsigned long long)declared, srv->cfg.max_body);
    if (strcmp(type, "multipart/form-data") == 0) {
        req->pp = MHD_create_post_processor(conn, 32 * 1024, form_field, req);
        if (!req->pp)
            return send_error(req, 400, "bad_multipart",
                              "multipart/form-data without a usable boundary");
    }
    return MHD_YES;
}

static enum MHD_Result body_complete(nic_server *srv, request *req)
{
    if (req->pp) {
        MHD_destroy_post_processor(req->pp);
        req->pp = NULL;
    }
    if (req->too_large)
        return send_error(req, 413, "body_too_large",
                          "the body is more than the limit of %zu bytes", srv->cfg.max_body);
    if (req->size == 0)
        return send_error(req, 400, "empty_body",
                          "no %s in the request body (or in a multipart 'image' / 'file' part)",
                          req->route == ROUTE_ENCODE ? "image" : ".nic file");
    if (req->route == ROUTE_ENCODE && parse_encode_params(req) != 0)
        return send_reply(req);
    req->t_queued = now_s();
    req->deadline = req->t_start + srv->cfg.timeout;
    /* Suspend before the job is visible to a worker: it resumes the connection. */
    req->state = REQ_QUEUED;
    MHD_suspend_connection(req->conn);
    int stopping = atomic_load(&srv->stopping);
    if (stopping || work_queue_push(srv->queue, req) != 0) {
        req->state = REQ_DONE;
        serve_reply_error(&req->reply, 503, stopping ? "shutting_down" : "queue_full",
                          stopping ? "the server is shutting down"
                                        : "all %d workers are busy and %zu requests are waiting; "
                                          "try again",
                          srv->cfg.threads, srv->cfg.queue);
        serve_reply_header(&req->reply, "Retry-After", "1");
        MHD_resume_connection(req->conn);
    }
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    nic_server *srv = cls;
    request *req = *req_cls;
    if (!req)
        return first_call(srv, conn, url, method, req_cls);
    if (req->state == REQ_ANSWERED) { /* an early answer: drop whatever body comes */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->state == REQ_READING && *upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->pp) {
            if (MHD_post_process(req->pp, upload_data, n) != MHD_YES && !req->too_large)
                return MHD_NO; /* malformed multipart or out of memory: cut */
            if (req->too_large && req->received > srv->cfg.max_body + DISCARD_LIMIT)
                return MHD_NO;
            return MHD_YES;
        }
        return body_append(req, upload_data, n) ? MHD_YES : MHD_NO;
    }
    if (req->state == REQ_READING)
        return body_complete(srv, req);
    pthread_mutex_lock(&srv->lock);
    int done = req->state == REQ_DONE;
    pthread_mutex_unlock(&srv->lock);
    if (done)
        return send_reply(req);
    return MHD_YES;
}

/* ---------------------------------------------------------------- the log */

static void client_address(struct MHD_Connection *conn, char *out, size_t cap)
{
    snprintf(out, cap, "-");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    nic_server *srv = cls;
    request *req = *req_cls;
    if (!req)
        return;
    *req_cls = NULL;
    if (srv->cfg.log) {
        double end = now_s();
        char addr[64], when[32];
        client_address(conn, addr, sizeof(addr));
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        const char *error = req->reply.error_code[0] ? req->reply.error_code : "-";
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            error = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "connection_timeout"
                    : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "shutdown"
                                                                    : "connection_closed";
        fprintf(srv->cfg.log,
                "%s %s \"%s %s\" %d in=%zu out=%zu ms=%.1f queue_ms=%.1f error=%s\n", when,
                addr, req->method, req->path, req->status_sent, req->received, req->bytes_out,
                (end - req->t_start) * 1e3,
                req->t_run > 0 ? (req->t_run - req->t_queued) * 1e3 : 0.0, error);
        fflush(srv->cfg.log);
    }
    if (req->pp)
        MHD_destroy_post_processor(req->pp);
    serve_reply_free(&req->reply);
    free(req->body);
    free(req);
    pthread_mutex_lock(&srv->lock);
    srv->active--;
    pthread_cond_broadcast(&srv->idle);
    pthread_mutex_unlock(&srv->lock);
}

/* ---------------------------------------------------------------- start / stop */

static nic_status read_model_file(nic_server *srv, char *err, size_t errlen)
{
    FILE *f = fopen(srv->model_info.path, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        srv->model_file = malloc(n ? (size_t)n : 1);
        if (srv->model_file && fread(srv->model_file, 1, (size_t)n, f) == (size_t)n) {
            srv->model_file_size = (size_t)n;
            fclose(f);
            return NIC_OK;
        }
    }
    snprintf(err, errlen, "%s: cannot read the model file: %s", srv->model_info.path,
             strerror(errno));
    if (f)
        fclose(f);
    return NIC_ERR_IO;
}

static void server_free(nic_server *srv)
{
    work_queue_destroy(srv->queue);
    nic_model_free(srv->model);
    free(srv->model_file);
    pthread_mutex_destroy(&srv->lock);
    pthread_cond_destroy(&srv->idle);
    free(srv);
}

nic_status nic_server_start(const nic_server_config *cfg, nic_server **out, char *err,
                            size_t errlen)
{
    *out = NULL;
    err[0] = '\0';
    nic_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NIC_ERR_NOMEM;
    }
    srv->cfg = *cfg;
    snprintf(srv->listen, sizeof(srv->listen), "%s", cfg->listen ? cfg->listen : "127.0.0.1");
    srv->cfg.listen = srv->listen;
    srv->started = now_s();
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->idle, NULL);

    /* The model: loaded once, shared read-only by every worker's context. */
    nic_context *ctx = nic_context_create();
    nic_status st = ctx ? NIC_OK : NIC_ERR_NOMEM;
    if (st == NIC_OK && cfg->model_dir)
        st = nic_context_set_model_dir(ctx, cfg->model_dir);
    if (st == NIC_OK)
        st = nic_model_load(ctx, NULL, &srv->model);
    if (st != NIC_OK)
        snprintf(err, errlen, "%s", ctx ? nic_context_error(ctx) : "out of memory");
    nic_context_destroy(ctx);
    if (st == NIC_OK) {
        nic_model_get_info(srv->model, &srv->model_info);
        st = read_model_file(srv, err, errlen);
    }
    if (st == NIC_OK) {
        work_queue_config qc = {.workers = cfg->threads,
                                .capacity = cfg->queue,
                                .init_worker = worker_init,
                                .fini_worker = worker_fini,
                                .run = worker_run,
                                .user = srv};
        if (work_queue_create(&qc, &srv->queue) != 0) {
            snprintf(err, errlen, "cannot start %d worker threads", cfg->threads);
            st = NIC_ERR_INTERNAL;
        }
    }
    if (st != NIC_OK) {
        server_free(srv);
        return st;
    }

    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    memset(&sa4, 0, sizeof(sa4));
    memset(&sa6, 0, sizeof(sa6));
    if (inet_pton(AF_INET, srv->listen, &sa4.sin_addr) == 1) {
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons((uint16_t)cfg->port);
        sa = (const struct sockaddr *)&sa4;
    } else if (inet_pton(AF_INET6, srv->listen, &sa6.sin6_addr) == 1) {
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons((uint16_t)cfg->port);
        sa = (const struct sockaddr *)&sa6;
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", srv->listen);
        server_free(srv);
        return NIC_ERR_INVALID_ARGUMENT;
    }
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, handle, srv, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_NOTIFY_COMPLETED, completed, srv, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)ceil(cfg->idle_timeout), MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", srv->listen, cfg->port,
                 strerror(errno));
        server_free(srv);
        return NIC_ERR_IO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : cfg->port;
    *out = srv;
    return NIC_OK;
}

int nic_server_port(const nic_server *s)
{
    return s->port;
}

void nic_server_stop(nic_server *srv, double grace)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, 1);
    /* No new connections; requests on open ones are answered 503. */
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    /* Every queued and running job finishes (their deadlines bound this) and
     * resumes its connection, before the daemon may stop. */
    work_queue_shutdown(srv->queue);
    double end = now_s() + grace;
    pthread_mutex_lock(&srv->lock);
    while (srv->active > 0 && now_s() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->idle, &srv->lock, &ts);
    }
    pthread_mutex_unlock(&srv->lock);
    MHD_stop_daemon(srv->daemon);
    server_free(srv);
}
