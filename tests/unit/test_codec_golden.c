/* Bit-exact decoding against committed golden values: a small model and a
 * .nic file made with it (tests/fixtures/codec/) decode to pixels whose
 * CRC-32 is committed too. The decoder uses only integer arithmetic and
 * IEEE-754 single operations in a fixed order, so this holds in every build
 * (with or without oneDNN), on every instruction set, thread count and
 * machine; a change of the decoder's arithmetic shows up here.
 *
 *   test_codec_golden [FIXTURES]            check
 *   test_codec_golden --write FIXTURES      remake the three files (only when
 *                                           the decoder's output is meant to change)
 */
#include "test.h"

#include <omp.h>
#include <zlib.h>

#include "codec/hyper_codec.h"

#define W 150
#define H 100

static int write_fixtures(const char *dir)
{
    nic_context *ctx = nic_context_create();
    char path[4200];
    nic_hyper_config cfg = {.n = 8, .m = 8, .nz = 4};
    nic_hyper_model m;
    nn_rng rng;
    nn_rng_seed(&rng, 2026);
    if (nic_hyper_model_create(ctx, &cfg, &m) != NIC_OK)
        return 1;
    nic_hyper_model_init(&m, &rng);
    /* A random synthesis gives a nearly black picture: amplify it and centre
     * it on mid-gray, so that the golden pixels vary. */
    for (int i = 0; i < 4; i++) {
        float *w = nn_param_data(&m.params, m.gs[i].weight);
        for (size_t k = 0; k < m.params.items[m.gs[i].weight].count; k++)
            w[k] *= 4.0f;
    }
    float *b = nn_param_data(&m.params, m.gs[3].bias);
    for (int c = 0; c < 3; c++)
        b[c] = 0.5f;
    snprintf(path, sizeof(path), "%s/hyper.safetensors", dir);
    if (nic_hyper_export(ctx, &m, path, "test_codec_golden: random weights, n 8 m 8 nz 4", NIC_HYPER_MSE) !=
        NIC_OK)
        return fprintf(stderr, "%s\n", nic_context_error(ctx)), 1;
    nic_context_set_model_dir(ctx, dir);
    nic_image img;
    nic_image_alloc(ctx, &img, W, H, 3);
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++)
            for (int c = 0; c < 3; c++)
                img.data[(y * W + x) * 3 + c] =
                    (uint8_t)(128 + 100 * sin(0.07 * x * (c + 1) + 0.05 * y) + 20 * ((x / 16) % 2));
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    opt.quality = 80;
    uint8_t *buf;
    size_t size;
    nic_image dec;
    if (nic_encode(ctx, &img, &opt, &buf, &size, NULL) != NIC_OK ||
        nic_decode(ctx, buf, size, "golden.nic", &dec) != NIC_OK)
        return fprintf(stderr, "%s\n", nic_context_error(ctx)), 1;
    snprintf(path, sizeof(path), "%s/golden.nic", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, size, f) != size || fclose(f) != 0)
        return fprintf(stderr, "cannot write %s\n", path), 1;
    snprintf(path, sizeof(path), "%s/golden.txt", dir);
    f = fopen(path, "w");
    uLong crc = crc32(crc32(0L, Z_NULL, 0), dec.data, (uInt)(W * H * 3));
    if (!f || fprintf(f, "%u %u %08lx\n", dec.width, dec.height, (unsigned long)crc) < 0 ||
        fclose(f) != 0)
        return fprintf(stderr, "cannot write %s\n", path), 1;
    printf("wrote %s: %zu bytes, decoded CRC-32 %08lx\n", dir, size, (unsigned long)crc);
    free(buf);
    nic_image_free(&img);
    nic_image_free(&dec);
    nic_hyper_model_free(&m);
    nic_context_destroy(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_fixtures(argv[2]);
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s/codec", test_fixtures_dir(argc, argv));
    nic_context *ctx = nic_context_create();
    CHECK_STATUS(nic_context_set_model_dir(ctx, dir), NIC_OK);
    unsigned ew = 0, eh = 0;
    unsigned long ecrc = 0;
    snprintf(path, sizeof(path), "%s/golden.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f && fscanf(f, "%u %u %lx", &ew, &eh, &ecrc) == 3, "cannot read %s", path);
    if (f)
        fclose(f);
    snprintf(path, sizeof(path), "%s/golden.nic", dir);
    uint8_t buf[65536];
    size_t size = 0;
    f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot read %s", path);
    if (f) {
        size = fread(buf, 1, sizeof(buf), f);
        fclose(f);
    }
    nic_hyper_codec *c = NULL;
    CHECK_STATUS(nic_codec_get_hyper(ctx, &c), NIC_OK);
    const int threads = omp_get_max_threads();
    int cases = 0;
    for (int isa = 0; c && isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        for (int th = 1; th <= 2; th++)
            for (size_t budget = 0; budget <= 1; budget++) {
                c->isa = (nn_isa)isa;
                c->hint.isa = (nn_isa)isa;
                c->mem_budget = budget;
                omp_set_num_threads(th);
                nic_image dec;
                nic_status st = nic_decode(ctx, buf, size, "golden.nic", &dec);
                CHECK_MSG(st == NIC_OK, "%s", nic_context_error(ctx));
                if (st != NIC_OK)
                    continue;
                unsigned long crc = crc32(crc32(0L, Z_NULL, 0), dec.data,
                                          (uInt)(dec.width * dec.height * dec.channels));
                CHECK_MSG(dec.width == ew && dec.height == eh && crc == ecrc,
                          "%s, %d threads, budget %zu: %ux%u CRC-32 %08lx, expected %ux%u %08lx",
                          nn_isa_name((nn_isa)isa), th, budget, dec.width, dec.height, crc, ew,
                          eh, ecrc);
                nic_image_free(&dec);
                cases++;
            }
    }
    omp_set_num_threads(threads);
    printf("decoded the golden file %d ways\n", cases);
    nic_context_destroy(ctx);
    return test_finish("test_codec_golden");
}
