/* nic info: the header fields, streams and sizes of .nic files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "codec/hyper_codec.h"
#include "codec/mnist_codec.h"
#include "codec/rnn_codec.h"

void help_info(FILE *out)
{
    fprintf(out,
            "Usage: nic info [options] FILE.nic [FILE.nic ...]\n"
            "\n"
            "Checks each .nic file (magic, version, every field, stream lengths, CRC-32)\n"
            "and prints its header: format version, model id and weights hash, image\n"
            "size and channels, original size and orientation when present, coding\n"
            "parameters, each stream with its offset and size, the container overhead\n"
            "and the bits per pixel of the whole file. Format: docs/FORMAT.md\n"
            "\n"
            "Options:\n"
            "  --json ............... print JSON: one object, or an array of objects\n"
            "                         for several files, default=text\n"
            "  --partial ............ accept a file cut short inside its streams (a\n"
            "                         partial transfer): show what is there, skip the\n"
            "                         CRC, default=off (a cut file is an error)\n"
            "  --params-bytes N ..... show at most N parameter bytes in hex, default=32\n"
            "  -h, --help ........... this help\n"
            "\n"
            "Exit status: 0 every file is valid, 1 a file is unreadable, malformed,\n"
            "corrupted (CRC) or unsupported (the error names the offset), 2 bad\n"
            "command line.\n");
}

static const char *orientation_name(uint32_t o)
{
    switch (o) {
    case 1: return "as coded";
    case 2: return "mirror horizontally";
    case 3: return "rotate 180";
    case 4: return "mirror vertically";
    case 5: return "mirror horizontally, rotate 270 clockwise";
    case 6: return "rotate 90 clockwise";
    case 7: return "mirror horizontally, rotate 90 clockwise";
    case 8: return "rotate 270 clockwise";
    }
    return "invalid";
}

static const char *channels_name(uint32_t c)
{
    switch (c) {
    case 1: return "gray";
    case 3: return "RGB";
    default: return "other";
    }
}

static void hex(FILE *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", p[i]);
}

/* The model an id names (docs/FORMAT.md section 6), or NULL. */
static const char *model_name(uint32_t id)
{
    switch (id) {
    case 0: return "test";
    case NIC_MODEL_ID_HYPER: return "hyper";
    case NIC_MODEL_ID_RNN: return "rnn";
    case NIC_MODEL_ID_RNN_CNN: return "rnn+cnn";
    case NIC_MODEL_ID_HYPER_MSSSIM: return "hyper-msssim";
    case NIC_MODEL_ID_MNIST: return "mnist-cnn";
    default: return NULL;
    }
}

static double file_bpp(const nic_container *c, size_t bytes)
{
    uint32_t w = c->original_width ? c->original_width : c->width;
    uint32_t h = c->original_height ? c->original_height : c->height;
    return nic_bits_per_pixel(bytes, w, h);
}

static void print_text(const char *path, const nic_container *c, size_t bytes, long max_params)
{
    printf("file            %s\n", path);
    printf("size            %zu bytes%s\n", bytes,
           c->truncated ? " (TRUNCATED: partial file)" : "");
    printf("format version  %u\n", c->version);
    const char *mn = model_name(c->model_id);
    printf("model           id %u (%s), weights hash %08x\n", c->model_id,
           mn ? mn : "unknown to this nic", c->weights_hash);
    printf("image           %ux%u, %u channel%s (%s)\n", c->width, c->height, c->channels,
           c->channels == 1 ? "" : "s", channels_name(c->channels));
    if (c->original_width)
        printf("original size   %ux%u (scaled back to it after decoding)\n", c->original_width,
               c->original_height);
    printf("orientation     %u (%s)\n", c->orientation, orientation_name(c->orientation));
    printf("bits per pixel  %.4f%s\n", file_bpp(c, bytes),
           c->original_width ? " (of the original size)" : "");
    printf("parameters      %zu byte%s", c->params_size, c->params_size == 1 ? "" : "s");
    if (c->params_size) {
        size_t shown = c->params_size < (size_t)max_params ? c->params_size : (size_t)max_params;
        printf(": ");
        hex(stdout, c->params, shown);
        if (shown < c->params_size)
            printf("...");
    }
    printf("\n");
    printf("streams         %u\n", c->stream_count);
    for (uint32_t i = 0; i < c->stream_count; i++)
        printf("  stream %-6u %zu bytes at offset %zu\n", i, c->streams[i].size,
               c->streams[i].offset);
    printf("overhead        %zu bytes (header, stream lengths, CRC-32)\n",
           nic_container_overhead(c));
    if (c->truncated)
        printf("crc-32          not checked (file is truncated)\n");
    else
        printf("crc-32          %08x (ok)\n", c->crc);
}

static void print_json(const char *path, const nic_container *c, size_t bytes)
{
    printf("{\"file\": ");
    cli_json_string(stdout, path);
    printf(", \"bytes\": %zu, \"version\": %u, \"model_id\": %u, \"weights_hash\": \"%08x\"", bytes,
           c->version, c->model_id, c->weights_hash);
    printf(", \"model\": ");
    if (model_name(c->model_id))
        cli_json_string(stdout, model_name(c->model_id));
    else
        printf("null");
    printf(", \"width\": %u, \"height\": %u, \"channels\": %u", c->width, c->height, c->channels);
    printf(", \"original_width\": %u, \"original_height\": %u",
           c->original_width ? c->original_width : c->width,
           c->original_height ? c->original_height : c->height);
    printf(", \"orientation\": %u, \"bpp\": ", c->orientation);
    cli_json_number(stdout, file_bpp(c, bytes), 6);
    printf(", \"params\": \"");
    hex(stdout, c->params, c->params_size);
    printf("\", \"streams\": [");
    for (uint32_t i = 0; i < c->stream_count; i++)
        printf("%s{\"index\": %u, \"offset\": %zu, \"bytes\": %zu}", i ? ", " : "", i,
               c->streams[i].offset, c->streams[i].size);
    printf("], \"overhead_bytes\": %zu, \"crc32\": ", nic_container_overhead(c));
    if (c->truncated)
        printf("null");
    else
        printf("\"%08x\"", c->crc);
    printf(", \"truncated\": %s}", c->truncated ? "true" : "false");
}

int cmd_info(int argc, char **argv)
{
    int json = 0, partial = 0;
    long max_params = 32;
    const char **files = calloc((size_t)argc, sizeof(char *));
    int nfiles = 0;
    if (!files)
        return NIC_EXIT_INTERNAL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0 || strcmp(a, "-json") == 0) {
            json = 1;
        } else if (strcmp(a, "--partial") == 0) {
            partial = 1;
        } else if (strcmp(a, "--params-bytes") == 0) {
            if (++i >= argc || !cli_parse_int(argv[i], 0, 1 << 20, &max_params)) {
                free(files);
                return cli_usage_error("info", "--params-bytes needs a number 0..1048576");
            }
        } else if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                files[nfiles++] = argv[i];
        } else if (a[0] == '-' && a[1] != '\0') {
            free(files);
            return cli_usage_error("info", "unknown option '%s'", a);
        } else {
            files[nfiles++] = a;
        }
    }
    if (nfiles == 0) {
        free(files);
        return cli_usage_error("info", "needs a .nic file");
    }
    nic_context *ctx = cli_context_create();
    if (!ctx) {
        free(files);
        return NIC_EXIT_INTERNAL;
    }
    int rc = NIC_EXIT_OK, printed = 0;
    if (json && nfiles > 1)
        printf("[");
    for (int f = 0; f < nfiles; f++) {
        uint8_t *data = NULL;
        size_t size = 0;
        nic_container c;
        nic_status st = nic_container_read_file(
            ctx, files[f], partial ? NIC_CONTAINER_ALLOW_TRUNCATED : 0, &data, &size, &c);
        int frc = cli_report("info", ctx, st);
        if (frc != NIC_EXIT_OK) {
            if (frc > rc)
                rc = frc;
            continue;
        }
        if (json) {
            if (printed)
                printf(", ");
            print_json(files[f], &c, size);
        } else {
            if (printed)
                printf("\n");
            print_text(files[f], &c, size, max_params);
        }
        printed++;
        free(data);
    }
    if (json && nfiles > 1)
        printf("]");
    if (json && (printed || nfiles > 1))
        printf("\n");
    nic_context_destroy(ctx);
    free(files);
    return rc;
}
