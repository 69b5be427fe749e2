/* nic compare: quality of one image against a reference. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/commands.h"

void help_compare(FILE *out)
{
    fprintf(out,
            "Usage: nic compare [options] REFERENCE DISTORTED\n"
            "\n"
            "Measures DISTORTED against REFERENCE (same width and height; PNG, JPEG,\n"
            "PPM or PGM) and prints:\n"
            "  PSNR-RGB  PSNR over all channels of the 8-bit RGB images (dB, peak 255)\n"
            "  PSNR-Y    PSNR of luma Y = 0.299 R + 0.587 G + 0.114 B (dB)\n"
            "  SSIM      SSIM of luma, Gaussian window 11 taps, sigma 1.5 (Wang et al. 2004)\n"
            "  MS-SSIM   MS-SSIM of luma, 5 scales (Wang et al. 2003); n/a below 176 px\n"
            "Identical images give PSNR 'inf' (null in JSON). Exact definitions: docs/METRICS.md\n"
            "\n"
            "Options:\n"
            "  --json ............... print one JSON object instead of text\n"
            "  --size-of FILE ....... also print FILE's size and bits per pixel for the\n"
            "                         reference's dimensions (e.g. the .nic or .jpg file)\n"
            "  -h, --help ........... this help\n"
            "\n"
            "Exit status: 0 measured, 1 an image could not be read or sizes differ,\n"
            "2 bad command line.\n");
}

static void print_db(const char *label, double v)
{
    if (isinf(v))
        printf("%-9s inf\n", label);
    else
        printf("%-9s %.4f dB\n", label, v);
}

int cmd_compare(int argc, char **argv)
{
    const char *files[2] = {NULL, NULL};
    int nfiles = 0, json = 0;
    const char *size_of = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0 || strcmp(a, "-json") == 0) {
            json = 1;
        } else if (strcmp(a, "--size-of") == 0) {
            if (++i >= argc)
                return cli_usage_error("compare", "--size-of needs a file");
            size_of = argv[i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("compare", "unknown option '%s'", a);
        } else if (nfiles < 2) {
            files[nfiles++] = a;
        } else {
            return cli_usage_error("compare", "too many arguments ('%s')", a);
        }
    }
    if (nfiles != 2)
        return cli_usage_error("compare", "needs two images: REFERENCE DISTORTED");

    nic_context *ctx = cli_context_create();
    if (!ctx)
        return NIC_EXIT_INTERNAL;
    nic_image a = {0}, b = {0};
    nic_quality q;
    long long file_bytes = -1;
    nic_status st = nic_image_read_file(ctx, files[0], &a, NULL);
    if (st == NIC_OK)
        st = nic_image_read_file(ctx, files[1], &b, NULL);
    if (st == NIC_OK)
        st = nic_compare(ctx, &a, &b, &q);
    int rc = cli_report("compare", ctx, st);
    if (rc == NIC_EXIT_OK && size_of) {
        struct stat sb;
        if (stat(size_of, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            fprintf(stderr, "nic compare: error: %s: cannot read its size\n", size_of);
            rc = NIC_EXIT_FAILURE;
        } else {
            file_bytes = (long long)sb.st_size;
        }
    }
    if (rc == NIC_EXIT_OK) {
        double bpp = file_bytes >= 0 ? nic_bits_per_pixel((uint64_t)file_bytes, a.width, a.height)
                                     : NAN;
        if (json) {
            printf("{\"reference\": ");
            cli_json_string(stdout, files[0]);
            printf(", \"distorted\": ");
            cli_json_string(stdout, files[1]);
            printf(", \"width\": %u, \"height\": %u", a.width, a.height);
            printf(", \"psnr_rgb\": ");
            cli_json_number(stdout, q.psnr_rgb, 6);
            printf(", \"psnr_y\": ");
            cli_json_number(stdout, q.psnr_luma, 6);
            printf(", \"ssim\": ");
            cli_json_number(stdout, q.ssim, 8);
            printf(", \"ms_ssim\": ");
            cli_json_number(stdout, q.ms_ssim, 8);
            if (file_bytes >= 0) {
                printf(", \"bytes\": %lld, \"bpp\": ", file_bytes);
                cli_json_number(stdout, bpp, 6);
            }
            printf("}\n");
        } else {
            print_db("PSNR-RGB", q.psnr_rgb);
            print_db("PSNR-Y", q.psnr_luma);
            if (isnan(q.ssim))
                printf("%-9s n/a (image under 11 pixels)\n", "SSIM");
            else
                printf("%-9s %.6f\n", "SSIM", q.ssim);
            if (isnan(q.ms_ssim))
                printf("%-9s n/a (image too small for 5 scales)\n", "MS-SSIM");
            else
                printf("%-9s %.6f\n", "MS-SSIM", q.ms_ssim);
            if (file_bytes >= 0)
                printf("%-9s %lld bytes, %.4f bpp (%ux%u)\n", "size", file_bytes, bpp, a.width,
                       a.height);
        }
    }
    nic_image_free(&a);
    nic_image_free(&b);
    nic_context_destroy(ctx);
    return rc;
}
