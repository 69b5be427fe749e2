/*
 * nic serve: libnic behind an HTTP API (libmicrohttpd), with a web page that
 * decodes in the browser. docs/SERVE.md describes the endpoints.
 *
 * Threads: one libmicrohttpd thread does all socket I/O and never computes;
 * encode and decode requests become jobs in a bounded queue (work_queue.h)
 * run by a fixed pool of workers, each with its own nic_context on one
 * shared, read-only model. When the queue is full the answer is 503 at once.
 *
 * Safety: bodies over max_body bytes are refused (413) before they are read
 * when their length is declared, images over max_pixels are refused before
 * their pixels are allocated, every job has a deadline (the library's abort
 * callback stops it), and no request reaches the file system: the page, the
 * wasm decoder and the model files are in memory from the start.
 */
#ifndef NIC_SERVER_SERVER_H
#define NIC_SERVER_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nic.h"

typedef struct nic_server_config {
    const char *listen;      /* IPv4 or IPv6 address to bind; default "127.0.0.1" */
    int port;                /* 0 = any free port (see nic_server_port) */
    int threads;             /* workers running encode/decode at once */
    int threads_per_request; /* OpenMP threads inside one request */
    size_t queue;            /* requests waiting for a worker before 503 */
    size_t max_body;         /* bytes of a request body */
    uint64_t max_pixels;     /* of an uploaded image or a .nic to decode */
    double timeout;          /* seconds from arrival to answer for a job */
    int max_connections;
    double idle_timeout;     /* seconds a silent connection is kept */
    const char *model_dir;   /* NULL = the library's search path */
    FILE *log;               /* one line per request; NULL = none */
} nic_server_config;

/* The defaults documented in `nic serve --help`. */
void nic_server_config_init(nic_server_config *cfg);

typedef struct nic_server nic_server;

/* Loads the models, starts the workers and listens. On failure returns
 * non-OK and writes a message into err (errlen bytes). */
nic_status nic_server_start(const nic_server_config *cfg, nic_server **out, char *err,
                            size_t errlen);

/* The port it listens on (useful with port 0). */
int nic_server_port(const nic_server *s);

/* Graceful stop: refuses new connections, lets every accepted request (queued
 * or running) finish and be answered, waiting at most `grace` seconds, then
 * closes everything and frees the server. */
void nic_server_stop(nic_server *s, double grace);

#endif
