#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void cli_log(void *user, nic_log_level level, const char *message)
{
    (void)user;
    /* on a terminal, a warning first wipes nic encode's status line, if any
     * (there is none with NIC_VERBOSE) */
    if (level >= NIC_LOG_WARNING && isatty(STDERR_FILENO))
        fputs("\r\033[K", stderr);
    if (level >= NIC_LOG_WARNING)
        fprintf(stderr, "nic: warning: %s\n", message);
    else if (getenv("NIC_VERBOSE"))
        fprintf(stderr, "nic: %s\n", message);
}

nic_context *cli_context_create(void)
{
    nic_context *ctx = nic_context_create();
    if (!ctx) {
        fprintf(stderr, "nic: out of memory\n");
        return NULL;
    }
    nic_context_set_log(ctx, cli_log, NULL);
    return ctx;
}

int cli_exit_code(nic_status status)
{
    switch (status) {
    case NIC_OK: return NIC_EXIT_OK;
    case NIC_ERR_INVALID_ARGUMENT: return NIC_EXIT_USAGE;
    case NIC_ERR_NOMEM:
    case NIC_ERR_INTERNAL: return NIC_EXIT_INTERNAL;
    default: return NIC_EXIT_FAILURE;
    }
}

int cli_report(const char *cmd, nic_context *ctx, nic_status status)
{
    if (status == NIC_OK)
        return NIC_EXIT_OK;
    const char *msg = nic_context_error(ctx);
    fprintf(stderr, "nic %s: error: %s\n", cmd, (msg && *msg) ? msg : nic_status_name(status));
    return cli_exit_code(status);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "nic %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'nic %s --help' for more information.\n", cmd);
    return NIC_EXIT_USAGE;
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "-help") == 0;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int cli_parse_double(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

void cli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void cli_json_number(FILE *out, double v, int decimals)
{
    if (isfinite(v))
        fprintf(out, "%.*f", decimals, v);
    else
        fputs("null", out);
}
