/*
 * Shared pieces of the nic command-line tool: exit codes, the command table,
 * and small helpers for option parsing and reporting errors.
 */
#ifndef NIC_CLI_H
#define NIC_CLI_H

#include <stdio.h>

#include "nic.h"

/* Exit codes (documented in docs/CLI.md and `nic --help`). */
enum {
    NIC_EXIT_OK = 0,
    NIC_EXIT_FAILURE = 1, /* the operation failed: unreadable, malformed or unsupported input */
    NIC_EXIT_USAGE = 2,   /* bad command line */
    NIC_EXIT_OUTPUT = 3,  /* could not write the output */
    NIC_EXIT_INTERNAL = 4 /* out of memory or a bug in nic */
};

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    void (*help)(FILE *out);
} cli_command;

/* The command table lives in main.c. */
const cli_command *cli_find_command(const char *name);

/* A context whose warnings go to stderr, prefixed with "nic: warning:". */
nic_context *cli_context_create(void);

/* Prints "nic <cmd>: <message>" to stderr and returns the exit code for status. */
int cli_report(const char *cmd, nic_context *ctx, nic_status status);
int cli_exit_code(nic_status status);

/* Prints "nic <cmd>: <message>" and a hint to see --help; returns NIC_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...);

/* 1 if arg is -h or --help. */
int cli_is_help(const char *arg);

/* Parses a base-10 integer / double in [lo, hi]; 0 on failure. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double lo, double hi, double *out);

/* Writes a JSON string literal (with quotes and escapes). */
void cli_json_string(FILE *out, const char *s);
/* Writes a number, or null when it is not finite (JSON has no inf/nan). */
void cli_json_number(FILE *out, double v, int decimals);

#endif
