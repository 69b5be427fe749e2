/* nic encode / nic decode: the codec on files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "codec/hyper_codec.h"
#include "image/image_internal.h"

void help_encode(FILE *out)
{
    fprintf(out,
            "Usage: nic encode [options] INPUT OUTPUT.nic\n"
            "\n"
            "Compresses INPUT (PNG, JPEG, PPM, PGM) with a learned model. Give a quality,\n"
            "or a budget: the best picture whose whole file fits. When even the lowest\n"
            "quality does not fit, nic codes a smaller picture and the decoder scales it\n"
            "back to the original size.\n"
            "\n"
            "Options:\n"
            "  -q, --quality <float>  quality, 0 (smallest) .. 100 (default=50)\n"
            "  --bpp <float> ........ at most this many bits per pixel\n"
            "  --max-bytes <int> .... at most this many bytes, headers included\n"
            "  --no-downscale ....... fail instead of coding a smaller picture\n"
            "  --refine <int> ....... hyper: tune the latent to this picture with so many\n"
            "                         gradient steps (slower encoding, smaller or better\n"
            "                         files, the same decoder; default=0)\n"
            "  --model <name> ....... hyper; hyper-msssim: the same codec with weights\n"
            "                         trained for MS-SSIM (sharper textures, less exact\n"
            "                         colours); rnn: progressive, every prefix of the\n"
            "                         file that ends on a layer is a coarser picture; or\n"
            "                         rnn+cnn: the same pictures in fewer bytes (the codes\n"
            "                         coded with a context model) (default=hyper)\n"
            "  --layers <int> ....... rnn: code this many layers (0.125 bpp each; default\n"
            "                         from the quality: 0 -> 1 layer .. 100 -> all the\n"
            "                         model has; with a budget, as many as fit)\n"
            "  --progress ........... print each step of a long encode (a budget's search\n"
            "                         over picture sizes, the refinement) on its own line;\n"
            "                         on a terminal a status line shows them anyway\n"
            "  --quiet .............. print nothing on success\n"
            "  -h, --help ........... this help\n"
            "\n"
            "Prints: output size, bits per pixel, quality index (rnn: layers), coded size,\n"
            "time.\n");
}

void help_decode(FILE *out)
{
    fprintf(out,
            "Usage: nic decode [options] INPUT.nic OUTPUT\n"
            "\n"
            "Decodes a .nic file to OUTPUT (.png, .ppm/.pgm, or - for PNG on standard\n"
            "output), at the original image size. Decoding is deterministic: the same\n"
            "pixels on any machine and thread count.\n"
            "\n"
            "A progressive (rnn) file that was cut short decodes from the complete layers\n"
            "it holds, with a warning that the rest is missing.\n"
            "\n"
            "Options:\n"
            "  --layers <int> ....... rnn: decode only the first layers (default=all)\n"
            "  --quiet .............. print nothing on success\n"
            "  -h, --help ........... this help\n");
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Progress on standard error: on a terminal one status line rewritten in
 * place (and wiped at the end), else (--progress) a line per step. */
typedef struct {
    int in_place;
    int shown;
} encode_progress;

static void show_progress(void *user, const char *what, int step)
{
    encode_progress *p = user;
    if (p->in_place)
        fprintf(stderr, "\r\033[Knic: %s ...", what);
    else
        fprintf(stderr, "nic: %s (step %d)\n", what, step);
    fflush(stderr);
    p->shown = 1;
}

int cmd_encode(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    int quiet = 0, progress = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quality") == 0) {
            if (!cli_parse_double(v, 0, 100, &opt.quality))
                return cli_usage_error("encode", "%s needs a number in 0..100", a);
            i++;
        } else if (strcmp(a, "--bpp") == 0) {
            if (!cli_parse_double(v, 1e-6, 64, &opt.bpp))
                return cli_usage_error("encode", "--bpp needs a positive number");
            i++;
        } else if (strcmp(a, "--max-bytes") == 0) {
            long n;
            if (!cli_parse_int(v, 1, 2000000000L, &n))
                return cli_usage_error("encode", "--max-bytes needs a positive integer");
            opt.max_bytes = (uint64_t)n;
            i++;
        } else if (strcmp(a, "--model") == 0) {
            if (!v)
                return cli_usage_error("encode", "--model needs a name");
            opt.model = v;
            i++;
        } else if (strcmp(a, "--layers") == 0) {
            long n;
            if (!cli_parse_int(v, 1, 32, &n))
                return cli_usage_error("encode", "--layers needs an integer in 1..32");
            opt.layers = (int)n;
            i++;
        } else if (strcmp(a, "--refine") == 0) {
            long n;
            if (!cli_parse_int(v, 0, 10000, &n))
                return cli_usage_error("encode", "--refine needs an integer in 0..10000");
            opt.refine = (int)n;
            i++;
        } else if (strcmp(a, "--no-downscale") == 0) {
            opt.allow_downscale = 0;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--progress") == 0) {
            progress = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("encode", "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else if (!out) {
            out = a;
        } else {
            return cli_usage_error("encode", "too many arguments ('%s')", a);
        }
    }
    if (!in || !out)
        return cli_usage_error("encode", "needs INPUT and OUTPUT.nic");
    nic_context *ctx = cli_context_create();
    if (!ctx)
        return NIC_EXIT_INTERNAL;
    nic_image img = {0};
    uint8_t *buf = NULL;
    size_t size = 0;
    nic_encode_result res;
    /* the status line stays off where it would mix with NIC_VERBOSE's lines */
    encode_progress pr = {.in_place = !progress};
    if (progress || (!quiet && isatty(STDERR_FILENO) && !getenv("NIC_VERBOSE")))
        nic_context_set_progress(ctx, show_progress, &pr);
    double t0 = seconds_now();
    nic_status st = nic_image_read_file(ctx, in, &img, NULL);
    if (st == NIC_OK)
        st = nic_encode(ctx, &img, &opt, &buf, &size, &res);
    if (pr.in_place && pr.shown)
        fprintf(stderr, "\r\033[K");
    int rc = cli_report("encode", ctx, st);
    if (rc == NIC_EXIT_OK) {
        /* the library's atomic writer (temp file + rename; "-" is stdout) */
        if (nic_write_whole_file(ctx, out, buf, size) != NIC_OK)
            rc = cli_report("encode", ctx, nic_context_status(ctx)) ? NIC_EXIT_OUTPUT : rc;
    }
    if (rc == NIC_EXIT_OK && !quiet) {
        int rnn = opt.model && strncmp(opt.model, "rnn", 3) == 0;
        fprintf(stderr, "%s: %zu bytes, %.4f bpp, %s %d", out, res.bytes, res.bpp,
                rnn ? "layers" : "quality index", res.quality_index);
        if (res.coded_width != img.width || res.coded_height != img.height)
            fprintf(stderr, ", coded at %ux%u (scaled back to %ux%u on decode)", res.coded_width,
                    res.coded_height, img.width, img.height);
        fprintf(stderr, ", %.2f s\n", seconds_now() - t0);
        /* a generous budget on a small picture: say why the file is smaller */
        if (!rnn && opt.max_bytes > 0 && res.quality_index == NIC_HYPER_QUALITY_LEVELS - 1 &&
            res.bytes < opt.max_bytes)
            fprintf(stderr, "note: the model's top quality needs only %zu of the %llu bytes "
                            "allowed\n",
                    res.bytes, (unsigned long long)opt.max_bytes);
    }
    free(buf);
    nic_image_free(&img);
    nic_context_destroy(ctx);
    return rc;
}

int cmd_decode(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int quiet = 0;
    nic_decode_options dopt;
    nic_decode_options_init(&dopt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--layers") == 0) {
            long n;
            if (!cli_parse_int(i + 1 < argc ? argv[i + 1] : NULL, 1, 32, &n))
                return cli_usage_error("decode", "--layers needs an integer in 1..32");
            dopt.max_layers = (int)n;
            i++;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("decode", "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else if (!out) {
            out = a;
        } else {
            return cli_usage_error("decode", "too many arguments ('%s')", a);
        }
    }
    if (!in || !out)
        return cli_usage_error("decode", "needs INPUT.nic and OUTPUT");
    nic_context *ctx = cli_context_create();
    if (!ctx)
        return NIC_EXIT_INTERNAL;
    double t0 = seconds_now();
    uint8_t *data = NULL;
    size_t size = 0;
    nic_container c;
    nic_image img = {0};
    nic_decode_result dres;
    memset(&dres, 0, sizeof(dres));
    /* a partial parse: progressive files cut short still decode (nic_decode_ex decides) */
    nic_status st = nic_container_read_file(ctx, in, NIC_CONTAINER_ALLOW_TRUNCATED, &data, &size, &c);
    if (st == NIC_OK)
        st = nic_decode_ex(ctx, data, size, in, &dopt, &img, &dres);
    int rc = cli_report("decode", ctx, st);
    if (rc == NIC_EXIT_OK) {
        st = nic_image_write_file(ctx, out, &img);
        rc = cli_report("decode", ctx, st);
        if (st == NIC_ERR_IO)
            rc = NIC_EXIT_OUTPUT;
        else if (st == NIC_ERR_UNSUPPORTED)
            rc = NIC_EXIT_USAGE;
    }
    if (rc == NIC_EXIT_OK && !quiet && strcmp(out, "-") != 0) {
        fprintf(stderr, "%s: %ux%u %s from %zu bytes", out, img.width, img.height,
                img.channels == 1 ? "gray" : "RGB", size);
        if (dres.layers_total)
            fprintf(stderr, ", %d of %d layers", dres.layers_decoded, dres.layers_total);
        fprintf(stderr, ", %.2f s\n", seconds_now() - t0);
    }
    free(data);
    nic_image_free(&img);
    nic_context_destroy(ctx);
    return rc;
}
