/* nic serve: options, signals, and the server in src/server/. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "server/server.h"

void help_serve(FILE *out)
{
    nic_server_config d;
    nic_server_config_init(&d);
    fprintf(out,
            "Usage: nic serve [options]\n"
            "\n"
            "Serves the codec over HTTP, with a web page that decodes in the browser.\n"
            "Endpoints (docs/SERVE.md): POST /v1/encode, POST /v1/decode, GET /v1/models,\n"
            "GET /v1/models/<name>, GET /healthz, GET / (the page). One log line per\n"
            "request on standard error. SIGTERM or SIGINT stops it gracefully: no new\n"
            "connections, accepted requests are finished and answered.\n"
            "\n"
            "Options:\n"
            "  --listen <addr> ........... IPv4 or IPv6 address to bind (default=%s)\n"
            "  --port <int> .............. TCP port, 0 = any free one (default=%d)\n"
            "  --threads <int> ........... requests coded at once (default=%d, the CPUs)\n"
            "  --threads-per-request <int> OpenMP threads inside one request (default=%d)\n"
            "  --queue <int> ............. requests waiting for a thread before 503 (default=%zu)\n"
            "  --max-body <bytes> ........ largest request body (default=%zu)\n"
            "  --max-pixels <int> ........ largest image to encode or decode (default=%llu)\n"
            "  --timeout <seconds> ....... per request, from arrival to answer (default=%g)\n"
            "  --max-connections <int> ... open connections (default=%d)\n"
            "  --idle-timeout <seconds> .. close silent connections after (default=%g)\n"
            "  --model-dir <dir> ......... folder with NAME.safetensors (default: search path)\n"
            "  --quiet ................... no log line per request\n"
            "  -h, --help ................ this help\n",
            d.listen, d.port, d.threads, d.threads_per_request, d.queue, d.max_body,
            (unsigned long long)d.max_pixels, d.timeout, d.max_connections, d.idle_timeout);
}

int cmd_serve(int argc, char **argv)
{
    nic_server_config cfg;
    nic_server_config_init(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double x;
        if (strcmp(a, "--quiet") == 0) {
            cfg.log = NULL;
            continue;
        }
        if (!v || a[0] != '-')
            return cli_usage_error("serve", a[0] == '-' ? "%s needs a value" : "unexpected "
                                   "argument '%s'", a);
        i++;
        if (strcmp(a, "--listen") == 0) {
            cfg.listen = v;
        } else if (strcmp(a, "--port") == 0) {
            if (!cli_parse_int(v, 0, 65535, &n))
                return cli_usage_error("serve", "--port needs an integer in 0..65535");
            cfg.port = (int)n;
        } else if (strcmp(a, "--threads") == 0) {
            if (!cli_parse_int(v, 1, 256, &n))
                return cli_usage_error("serve", "--threads needs an integer in 1..256");
            cfg.threads = (int)n;
        } else if (strcmp(a, "--threads-per-request") == 0) {
            if (!cli_parse_int(v, 1, 256, &n))
                return cli_usage_error("serve", "--threads-per-request needs an integer in 1..256");
            cfg.threads_per_request = (int)n;
        } else if (strcmp(a, "--queue") == 0) {
            if (!cli_parse_int(v, 1, 100000, &n))
                return cli_usage_error("serve", "--queue needs an integer in 1..100000");
            cfg.queue = (size_t)n;
        } else if (strcmp(a, "--max-body") == 0) {
            if (!cli_parse_int(v, 1024, 1L << 30, &n))
                return cli_usage_error("serve", "--max-body needs bytes in 1024..2^30");
            cfg.max_body = (size_t)n;
        } else if (strcmp(a, "--max-pixels") == 0) {
            if (!cli_parse_int(v, 1, 1L << 30, &n))
                return cli_usage_error("serve", "--max-pixels needs an integer in 1..2^30");
            cfg.max_pixels = (uint64_t)n;
        } else if (strcmp(a, "--timeout") == 0) {
            if (!cli_parse_double(v, 0.001, 86400, &x))
                return cli_usage_error("serve", "--timeout needs seconds in 0.001..86400");
            cfg.timeout = x;
        } else if (strcmp(a, "--max-connections") == 0) {
            if (!cli_parse_int(v, 1, 100000, &n))
                return cli_usage_error("serve", "--max-connections needs an integer in 1..100000");
            cfg.max_connections = (int)n;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (!cli_parse_double(v, 1, 86400, &x))
                return cli_usage_error("serve", "--idle-timeout needs seconds in 1..86400");
            cfg.idle_timeout = x;
        } else if (strcmp(a, "--model-dir") == 0) {
            cfg.model_dir = v;
        } else {
            return cli_usage_error("serve", "unknown option '%s'", a);
        }
    }
    /* Block the stop signals in every thread (the server's inherit this mask);
     * this thread waits for them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Requests allocate and free tens of MB each (transform buffers). A fixed
     * mmap threshold gives those back to the system when freed, instead of
     * glibc raising the threshold and keeping the peak in its heaps. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);

    nic_server *srv;
    char err[1024];
    nic_status st = nic_server_start(&cfg, &srv, err, sizeof(err));
    if (st != NIC_OK) {
        fprintf(stderr, "nic serve: error: %s\n", err);
        return cli_exit_code(st);
    }
    int ipv6 = strchr(cfg.listen, ':') != NULL;
    fprintf(stderr, "nic serve: listening on http://%s%s%s:%d/ (%d threads, queue %zu)\n",
            ipv6 ? "[" : "", cfg.listen, ipv6 ? "]" : "", nic_server_port(srv), cfg.threads,
            cfg.queue);
    fflush(stderr);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "nic serve: %s: finishing the requests in flight\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    /* Jobs end by their deadline at the latest; then a little time to send. */
    nic_server_stop(srv, cfg.timeout + 5);
    fprintf(stderr, "nic serve: stopped\n");
    return NIC_EXIT_OK;
}
