/* nic convert: re-encode an image as PNG, PPM/PGM or JPEG (for baselines and tests). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "image/resize.h"

void help_convert(FILE *out)
{
    fprintf(out,
            "Usage: nic convert [options] INPUT OUTPUT\n"
            "\n"
            "Reads INPUT (PNG, JPEG, PPM, PGM; EXIF orientation applied, alpha dropped)\n"
            "and writes OUTPUT in the format its extension names: .png, .ppm/.pgm/.pnm,\n"
            ".jpg/.jpeg. Handy to make a JPEG at a given quality to compare nic with.\n"
            "'-' as INPUT reads standard input; as OUTPUT writes PNG to standard output.\n"
            "\n"
            "Options:\n"
            "  -q <int> ............. JPEG quality, 1 (small) .. 100 (big), default=90\n"
            "  --gray ............... convert to gray (luma, BT.601 weights)\n"
            "  --max-side <int> ..... scale down (area average, aspect kept) so that the\n"
            "                         longer side is at most this many pixels; smaller\n"
            "                         pictures are left as they are\n"
            "  --quiet .............. do not print the summary line\n"
            "  -h, --help ........... this help\n");
}

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    long quality = 90, max_side = 0;
    int quiet = 0, gray = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quality") == 0) {
            if (++i >= argc || !cli_parse_int(argv[i], 1, 100, &quality))
                return cli_usage_error("convert", "-q needs an integer in 1..100");
        } else if (strcmp(a, "--max-side") == 0) {
            if (++i >= argc || !cli_parse_int(argv[i], 1, 1 << 20, &max_side))
                return cli_usage_error("convert", "--max-side needs an integer in 1..1048576");
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--gray") == 0) {
            gray = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error("convert", "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else if (!out) {
            out = a;
        } else {
            return cli_usage_error("convert", "too many arguments ('%s')", a);
        }
    }
    if (!in || !out)
        return cli_usage_error("convert", "needs INPUT and OUTPUT");

    nic_context *ctx = cli_context_create();
    if (!ctx)
        return NIC_EXIT_INTERNAL;
    nic_image img = {0};
    nic_status st = nic_image_read_file(ctx, in, &img, NULL);
    int rc = cli_report("convert", ctx, st);
    if (rc == NIC_EXIT_OK && gray && img.channels == 3) {
        size_t n = (size_t)img.width * img.height;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = img.data + 3 * i;
            double y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
            img.data[i] = (uint8_t)(y + 0.5);
        }
        img.channels = 1;
    }
    const uint32_t longer = img.width > img.height ? img.width : img.height;
    if (rc == NIC_EXIT_OK && max_side > 0 && longer > (uint32_t)max_side) {
        const double f = (double)max_side / longer;
        uint32_t w = (uint32_t)(img.width * f + 0.5), h = (uint32_t)(img.height * f + 0.5);
        nic_image small = {0};
        st = nic_image_resize(ctx, &img, w > 0 ? w : 1, h > 0 ? h : 1, &small);
        rc = cli_report("convert", ctx, st);
        if (rc == NIC_EXIT_OK) {
            nic_image_free(&img);
            img = small;
        }
    }
    if (rc == NIC_EXIT_OK) {
        size_t n = strlen(out);
        int jpeg = (n > 4 && strcasecmp(out + n - 4, ".jpg") == 0) ||
                   (n > 5 && strcasecmp(out + n - 5, ".jpeg") == 0);
        st = jpeg ? nic_image_write_jpeg(ctx, out, &img, (int)quality)
                  : nic_image_write_file(ctx, out, &img);
        rc = cli_report("convert", ctx, st);
        if (st == NIC_ERR_IO)
            rc = NIC_EXIT_OUTPUT;
        else if (st == NIC_ERR_UNSUPPORTED) /* an output extension nic cannot write */
            rc = NIC_EXIT_USAGE;
    }
    if (rc == NIC_EXIT_OK && !quiet && strcmp(out, "-") != 0) {
        struct stat sb;
        if (stat(out, &sb) == 0)
            fprintf(stderr, "%s: %ux%u %s, %lld bytes, %.4f bpp\n", out, img.width, img.height,
                    img.channels == 1 ? "gray" : "RGB", (long long)sb.st_size,
                    nic_bits_per_pixel((uint64_t)sb.st_size, img.width, img.height));
    }
    nic_image_free(&img);
    nic_context_destroy(ctx);
    return rc;
}
