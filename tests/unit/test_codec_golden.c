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
 *   test_codec_golden --write-recon FIXTURES remake golden_recon.nic/.txt: the
 *                                           same picture coded with that model plus
 *                                           reconstruction offsets (made here by a
 *                                           fixed rule; see recon_model)
 */
#include "test.h"

#include <omp.h>
#include <zlib.h>

#include <sys/stat.h>

#include "codec/hyper_codec.h"
#include "nn/safetensors.h"

#define W 150
#define H 100

static int write_golden(nic_context *ctx, const char *dir, const char *name, double quality);

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
    int rc = write_golden(ctx, dir, "golden", 80);
    nic_hyper_model_free(&m);
    nic_context_destroy(ctx);
    return rc;
}

/* Encodes the golden picture with ctx's model at quality 80 and writes
 * dir/NAME.nic and dir/NAME.txt (size and CRC-32 of the decoded pixels). */
static int write_golden(nic_context *ctx, const char *dir, const char *name, double quality)
{
    char path[4300];
    nic_image img;
    nic_image_alloc(ctx, &img, W, H, 3);
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++)
            for (int c = 0; c < 3; c++)
                img.data[(y * W + x) * 3 + c] =
                    (uint8_t)(128 + 100 * sin(0.07 * x * (c + 1) + 0.05 * y) + 20 * ((x / 16) % 2));
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    opt.quality = quality;
    uint8_t *buf;
    size_t size;
    nic_image dec;
    if (nic_encode(ctx, &img, &opt, &buf, &size, NULL) != NIC_OK ||
        nic_decode(ctx, buf, size, "golden.nic", &dec) != NIC_OK)
        return fprintf(stderr, "%s\n", nic_context_error(ctx)), 1;
    snprintf(path, sizeof(path), "%s/%s.nic", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, size, f) != size || fclose(f) != 0)
        return fprintf(stderr, "cannot write %s\n", path), 1;
    snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
    f = fopen(path, "w");
    uLong crc = crc32(crc32(0L, Z_NULL, 0), dec.data, (uInt)(W * H * 3));
    if (!f || fprintf(f, "%u %u %08lx\n", dec.width, dec.height, (unsigned long)crc) < 0 ||
        fclose(f) != 0)
        return fprintf(stderr, "cannot write %s\n", path), 1;
    printf("wrote %s/%s: %zu bytes, decoded CRC-32 %08lx\n", dir, name, size, (unsigned long)crc);
    free(buf);
    nic_image_free(&img);
    nic_image_free(&dec);
    return 0;
}

/* The committed model with reconstruction offsets (every value of 0..32768
 * spread over the table by a fixed rule, so nothing needs committing but the
 * file and its CRC), in a folder of its own under the test's temporary folder. */
static void recon_model(nic_context *ctx, const char *fixtures, char *dir, size_t dir_size)
{
    char src[4300], dst[4300];
    snprintf(dir, dir_size, "%s/golden_recon", test_tmp_dir());
    mkdir(dir, 0755);
    snprintf(src, sizeof(src), "%s/hyper.safetensors", fixtures);
    snprintf(dst, sizeof(dst), "%s/hyper.safetensors", dir);
    nn_st_file f;
    CHECK_STATUS(nn_st_read_file(ctx, src, &f), NIC_OK);
    CHECK_STATUS(nn_write_file_atomic(ctx, dst, f.buf, f.size), NIC_OK);
    nn_st_free(&f);
    int32_t *t = malloc(sizeof(int32_t) * NIC_HYPER_RECON_SIZE);
    for (size_t i = 0; i < NIC_HYPER_RECON_SIZE; i++)
        t[i] = (int32_t)((i * 2654435761u) % 32769u);
    CHECK_STATUS(nic_hyper_write_tables(ctx, dst, t, NULL), NIC_OK);
    free(t);
}

/* Decodes dir/NAME.nic with ctx's model on every instruction set, 1 and 2
 * threads and two strip heights, against dir/NAME.txt; returns the CRC. */
static unsigned long check_golden(nic_context *ctx, const char *dir, const char *name)
{
    char path[4300];
    unsigned ew = 0, eh = 0;
    unsigned long ecrc = 0;
    snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f && fscanf(f, "%u %u %lx", &ew, &eh, &ecrc) == 3, "cannot read %s", path);
    if (f)
        fclose(f);
    snprintf(path, sizeof(path), "%s/%s.nic", dir, name);
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
                nic_status st = nic_decode(ctx, buf, size, name, &dec);
                CHECK_MSG(st == NIC_OK, "%s", nic_context_error(ctx));
                if (st != NIC_OK)
                    continue;
                unsigned long crc = crc32(crc32(0L, Z_NULL, 0), dec.data,
                                          (uInt)(dec.width * dec.height * dec.channels));
                CHECK_MSG(dec.width == ew && dec.height == eh && crc == ecrc,
                          "%s: %s, %d threads, budget %zu: %ux%u CRC-32 %08lx, expected %ux%u "
                          "%08lx",
                          name, nn_isa_name((nn_isa)isa), th, budget, dec.width, dec.height, crc,
                          ew, eh, ecrc);
                nic_image_free(&dec);
                cases++;
            }
    }
    omp_set_num_threads(threads);
    printf("decoded %s %d ways\n", name, cases);
    return ecrc;
}

int main(int argc, char **argv)
{
    char dir[4096], rdir[4096];
    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_fixtures(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--write-recon") == 0) {
        /* the file with offsets, from the committed model (golden_recon.*) */
        nic_context *ctx = nic_context_create();
        snprintf(dir, sizeof(dir), "%s/codec", argv[2]);
        recon_model(ctx, dir, rdir, sizeof(rdir));
        nic_context_set_model_dir(ctx, rdir);
        int rc = write_golden(ctx, dir, "golden_recon", 100);
        nic_context_destroy(ctx);
        return rc;
    }
    snprintf(dir, sizeof(dir), "%s/codec", test_fixtures_dir(argc, argv));
    nic_context *ctx = nic_context_create();
    CHECK_STATUS(nic_context_set_model_dir(ctx, dir), NIC_OK);
    check_golden(ctx, dir, "golden");
    nic_context_destroy(ctx);
    /* a file of a model with the decoder's reconstruction offsets */
    ctx = nic_context_create();
    recon_model(ctx, dir, rdir, sizeof(rdir));
    CHECK_STATUS(nic_context_set_model_dir(ctx, rdir), NIC_OK);
    unsigned long recon = check_golden(ctx, dir, "golden_recon");
    /* ... which the offsets do change: without them the same symbols give other pixels */
    nic_hyper_codec *c = NULL;
    CHECK_STATUS(nic_codec_get_hyper(ctx, &c), NIC_OK);
    char path[4300];
    snprintf(path, sizeof(path), "%s/golden_recon.nic", dir);
    uint8_t buf[65536];
    FILE *f = fopen(path, "rb");
    size_t size = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f)
        fclose(f);
    nic_image dec;
    if (c) {
        int32_t *offsets = c->recon_offset;
        c->recon_offset = NULL;
        CHECK_STATUS(nic_decode(ctx, buf, size, "golden_recon.nic", &dec), NIC_OK);
        c->recon_offset = offsets;
        unsigned long without = crc32(crc32(0L, Z_NULL, 0), dec.data,
                                      (uInt)(dec.width * dec.height * dec.channels));
        CHECK_MSG(without != recon, "the offsets left the golden pixels as they were");
        nic_image_free(&dec);
    }
    nic_context_destroy(ctx);
    return test_finish("test_codec_golden");
}
