/* The tables fitted to a hyper model (hyper_fit.h). Reconstruction offsets
 * (a small random model with a checkerboard context): a table of zeros
 * decodes as no table does, but under another weights hash; offsets change
 * the picture, the same way on every instruction set, thread count and strip
 * height, and in the float synthesis; bad tables are refused. y tables: the
 * Gaussians' own weights give the same streams; bad weights are refused. The
 * fit (with the shipped model): the gains it reports are what its offsets
 * give, and its y tables code the same pictures in fewer bytes. */
#include "test.h"
#include "test_codec_util.h"

#include <sys/stat.h>

#include "codec/hyper_fit.h"
#include "metrics/metrics.h"
#include "nn/safetensors.h"

/* The small test model, with a latent large enough for many nonzero symbols
 * (a random g_a gives a y well inside the zero bin). */
static void export_model(nic_context *ctx, const char *dir)
{
    nic_hyper_config cfg = {.n = 16, .m = 16, .nz = 8, .ctx = 8};
    nic_hyper_model m;
    CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    nic_hyper_model_init(&m, &rng);
    float *w = nn_param_data(&m.params, m.ga[3].weight);
    for (size_t j = 0; j < m.params.items[m.ga[3].weight].count; j++)
        w[j] *= 30;
    char path[8400];
    snprintf(path, sizeof(path), "%s/hyper.safetensors", dir);
    CHECK_STATUS(nic_hyper_export(ctx, &m, path, "recon test model", NIC_HYPER_MSE), NIC_OK);
    nic_hyper_model_free(&m);
}

static nic_context *context_for(const char *dir)
{
    nic_context *ctx = nic_context_create();
    CHECK_STATUS(nic_context_set_model_dir(ctx, dir), NIC_OK);
    return ctx;
}

/* A copy of the model of src_dir in dst_dir, with the offsets and y table
 * weights given (NULL: none). */
static void model_with(nic_context *ctx, const char *src_dir, const char *dst_dir,
                       const int32_t *offsets, const uint64_t *y_weights)
{
    char src[4300], dst[4300];
    snprintf(src, sizeof(src), "%s/hyper.safetensors", src_dir);
    snprintf(dst, sizeof(dst), "%s/hyper.safetensors", dst_dir);
    mkdir(dst_dir, 0755);
    nn_st_file f;
    CHECK_STATUS(nn_st_read_file(ctx, src, &f), NIC_OK);
    CHECK_STATUS(nn_write_file_atomic(ctx, dst, f.buf, f.size), NIC_OK);
    nn_st_free(&f);
    if (offsets || y_weights)
        CHECK_STATUS(nic_hyper_write_tables(ctx, dst, offsets, y_weights), NIC_OK);
}

static void encode_decode(nic_context *ctx, const nic_image *img, int quality, uint8_t **buf,
                          size_t *size, nic_image *dec)
{
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    opt.quality = quality;
    CHECK_STATUS(nic_encode(ctx, img, &opt, buf, size, NULL), NIC_OK);
    CHECK_STATUS(nic_decode(ctx, *buf, *size, "recon.nic", dec), NIC_OK);
}

static size_t differing(const nic_image *a, const nic_image *b)
{
    size_t n = 0, bytes = (size_t)a->width * a->height * a->channels;
    for (size_t i = 0; i < bytes; i++)
        n += a->data[i] != b->data[i];
    return n;
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    char base[4096], zero[4200], half[4200];
    snprintf(base, sizeof(base), "%s/recon_model", test_tmp_dir());
    snprintf(zero, sizeof(zero), "%s/zero", base);
    snprintf(half, sizeof(half), "%s/half", base);
    mkdir(base, 0755);
    export_model(ctx, base);

    int32_t *table = calloc(NIC_HYPER_RECON_SIZE, sizeof(int32_t));
    model_with(ctx, base, zero, table, NULL);
    for (size_t i = 0; i < NIC_HYPER_RECON_SIZE; i++)
        table[i] = 16384; /* 0.25 step */
    model_with(ctx, base, half, table, NULL);

    nic_image img, dec0, decz, dech;
    make_image(&img, 130, 90, 3, 2);
    uint8_t *buf0, *bufz, *bufh;
    size_t size0, sizez, sizeh;
    nic_context *c0 = context_for(base), *cz = context_for(zero), *ch = context_for(half);
    encode_decode(c0, &img, 90, &buf0, &size0, &dec0);
    encode_decode(cz, &img, 90, &bufz, &sizez, &decz);
    encode_decode(ch, &img, 90, &bufh, &sizeh, &dech);

    /* zeros: the same streams and pixels, but another hash, so each model refuses the other's file */
    nic_hyper_codec *h0, *hz, *hh;
    CHECK_STATUS(nic_codec_get_hyper(c0, &h0), NIC_OK);
    CHECK_STATUS(nic_codec_get_hyper(cz, &hz), NIC_OK);
    CHECK_STATUS(nic_codec_get_hyper(ch, &hh), NIC_OK);
    CHECK(h0->recon_offset == NULL && hz->recon_offset != NULL && hh->recon_offset != NULL);
    CHECK(hz->weights_hash != h0->weights_hash && hh->weights_hash != hz->weights_hash);
    CHECK(sizez == size0 && sizeh == size0);
    CHECK_MSG(differing(&dec0, &decz) == 0, "a table of zeros changed %zu samples",
              differing(&dec0, &decz));
    nic_image d;
    CHECK_STATUS(nic_decode(cz, buf0, size0, "plain.nic", &d), NIC_ERR_MISMATCH);
    CHECK_STATUS(nic_decode(c0, bufz, sizez, "zero.nic", &d), NIC_ERR_MISMATCH);

    /* the Gaussian tables' own weights as "fitted" y tables: the same streams */
    {
        const size_t nw = nic_gaussian_weights_count();
        uint64_t *gw = malloc(sizeof(uint64_t) * nw), *row = gw;
        for (int t = 0; t < NIC_GAUSSIAN_SCALES; t++) {
            nic_gaussian_table_weights(t, row);
            row += nic_gaussian_table_size(t);
        }
        char gdir[4300];
        snprintf(gdir, sizeof(gdir), "%s/gauss", base);
        model_with(ctx, base, gdir, NULL, gw);
        nic_context *cg = context_for(gdir);
        uint8_t *bufg;
        size_t sizeg;
        nic_image decg;
        encode_decode(cg, &img, 90, &bufg, &sizeg, &decg);
        nic_container f0, fg;
        CHECK_STATUS(nic_container_parse(c0, buf0, size0, "plain.nic", 0, &f0), NIC_OK);
        CHECK_STATUS(nic_container_parse(cg, bufg, sizeg, "gauss.nic", 0, &fg), NIC_OK);
        CHECK(f0.weights_hash != fg.weights_hash && f0.stream_count == fg.stream_count);
        for (unsigned k = 0; k < f0.stream_count; k++)
            CHECK(f0.streams[k].size == fg.streams[k].size &&
                  memcmp(f0.streams[k].data, fg.streams[k].data, f0.streams[k].size) == 0);
        CHECK(differing(&dec0, &decg) == 0);
        /* a table of weights that are all 0 is refused when the model loads */
        memset(gw, 0, sizeof(uint64_t) * nic_gaussian_table_size(0));
        model_with(ctx, base, gdir, NULL, gw);
        char gpath[4400];
        snprintf(gpath, sizeof(gpath), "%s/hyper.safetensors", gdir);
        nic_hyper_codec *hb = NULL;
        CHECK(nic_hyper_codec_load(ctx, gpath, &hb) != NIC_OK && hb == NULL);
        nic_image_free(&decg);
        free(bufg);
        free(gw);
        nic_context_destroy(cg);
    }

    /* offsets: the encoder's symbols are the same, the picture is not */
    nic_container fz, fh;
    CHECK_STATUS(nic_container_parse(cz, bufz, sizez, "zero.nic", 0, &fz), NIC_OK);
    CHECK_STATUS(nic_container_parse(ch, bufh, sizeh, "half.nic", 0, &fh), NIC_OK);
    for (unsigned s = 0; s < fz.stream_count; s++)
        CHECK(fz.streams[s].size == fh.streams[s].size &&
              memcmp(fz.streams[s].data, fh.streams[s].data, fz.streams[s].size) == 0);
    size_t moved = differing(&dec0, &dech);
    CHECK_MSG(moved > 0, "offsets of a quarter step changed no sample");
    printf("offsets of 0.25 step: %zu of %u samples changed\n", moved,
           img.width * img.height * 3);
    /* ... the same way everywhere */
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    opt.quality = 90;
    int ways = 0;
    int differ = codec_every_way(ch, hh, &img, &opt, bufh, sizeh, &dech, 0, &ways);
    CHECK_MSG(differ == 0, "%d of %d ways to decode gave other pixels", differ, ways);
    /* ... and the float synthesis applies them too: it is closer to the integer
     * decoder with offsets than to the one without */
    hh->float_transforms = 1;
    nic_image fl;
    CHECK_STATUS(nic_decode(ch, bufh, sizeh, "half.nic", &fl), NIC_OK);
    hh->float_transforms = 0;
    double to_int = nic_mse_images(&fl, &dech), to_plain = nic_mse_images(&fl, &dec0);
    CHECK_MSG(to_int < to_plain, "float decode: MSE %g to the offsets' pixels, %g to plain",
              to_int, to_plain);
    nic_image_free(&fl);

    /* tables out of range or of the wrong shape are refused */
    table[7] = NIC_HYPER_RECON_MAX + 1;
    char path[4400];
    snprintf(path, sizeof(path), "%s/hyper.safetensors", half);
    CHECK_STATUS(nic_hyper_write_tables(ctx, path, table, NULL), NIC_ERR_INVALID_ARGUMENT);
    table[7] = -1;
    CHECK_STATUS(nic_hyper_write_tables(ctx, path, table, NULL), NIC_ERR_INVALID_ARGUMENT);
    {
        nn_st_file f;
        CHECK_STATUS(nn_st_read_file(ctx, path, &f), NIC_OK);
        nn_st_writer w;
        nn_st_writer_init(&w);
        for (int i = 0; i < f.meta_count; i++)
            CHECK_STATUS(nn_st_writer_meta(ctx, &w, f.meta[i].key, f.meta[i].value), NIC_OK);
        for (int i = 0; i < f.tensor_count; i++) {
            const nn_st_tensor *t = &f.tensors[i];
            int64_t shape[3] = {t->shape[0], t->shape[1], t->shape[2]};
            if (strcmp(t->name, "recon.offset") == 0)
                shape[0] = 1, shape[1] = 64 * 256; /* the right count, the wrong shape */
            CHECK_STATUS(nn_st_writer_add(ctx, &w, t->name, t->dtype, t->ndim,
                                          t->ndim == 3 ? shape : t->shape, t->data),
                         NIC_OK);
        }
        char bad[4400];
        snprintf(bad, sizeof(bad), "%s/bad.safetensors", base);
        CHECK_STATUS(nn_st_writer_write(ctx, &w, bad), NIC_OK);
        nn_st_writer_free(&w);
        nn_st_free(&f);
        nic_hyper_codec *hb;
        CHECK_STATUS(nic_hyper_codec_load(ctx, bad, &hb), NIC_ERR_FORMAT);
    }

    /* the fit, with the shipped model: alpha in 0..1, a gain at the lowest quality
     * (narrow Gaussians: the centroid is well off the bin's middle), and the gains
     * it reports are what its table gives */
    char shipped[4400];
    snprintf(shipped, sizeof(shipped), "%s/../../models", getenv("NIC_FIXTURES") ? getenv("NIC_FIXTURES") : "tests/fixtures");
    nic_context *cs = context_for(shipped);
    nic_hyper_codec *hs;
    CHECK_STATUS(nic_codec_get_hyper(cs, &hs), NIC_OK);
    nic_image pics[2];
    make_image(&pics[0], 192, 192, 3, 4);
    make_image(&pics[1], 256, 192, 3, 7);
    nic_hyper_fit fit;
    int32_t *own = hs->recon_offset;
    CHECK_STATUS(nic_hyper_fit_tables(cs, hs, pics, 2, &fit, NULL, NULL), NIC_OK);
    CHECK(hs->recon_offset == own);
    CHECK_MSG(fit.alpha[0] > 0 && fit.gain[0] > 0,
              "no gain at quality index 0 (alpha %.1f, %+.4f dB)", fit.alpha[0], fit.gain[0]);
    hs->recon_offset = fit.offsets;
    for (int k = 0; k < NIC_HYPER_RECON_KNOTS; k++) {
        CHECK(fit.alpha[k] >= 0 && fit.alpha[k] <= 1 && fit.gain[k] >= 0);
        double with = 0, without = 0;
        for (int i = 0; i < 2; i++) {
            nic_hyper_latents lat;
            uint8_t *b;
            size_t n;
            nic_container f;
            nic_image a, z;
            CHECK_STATUS(nic_hyper_analyze(cs, hs, &pics[i], &lat), NIC_OK);
            CHECK_STATUS(nic_hyper_encode(cs, hs, &lat, fit.quality[k], 0, 0, &b, &n), NIC_OK);
            CHECK_STATUS(nic_container_parse(cs, b, n, "fit.nic", 0, &f), NIC_OK);
            CHECK_STATUS(nic_hyper_decode(cs, hs, &f, "fit.nic", &a), NIC_OK);
            hs->recon_offset = NULL;
            CHECK_STATUS(nic_hyper_decode(cs, hs, &f, "fit.nic", &z), NIC_OK);
            hs->recon_offset = fit.offsets;
            with += nic_psnr_from_mse(nic_mse_images(&pics[i], &a), NIC_METRICS_PEAK) / 2;
            without += nic_psnr_from_mse(nic_mse_images(&pics[i], &z), NIC_METRICS_PEAK) / 2;
            nic_image_free(&a);
            nic_image_free(&z);
            free(b);
            nic_hyper_latents_free(&lat);
        }
        CHECK_MSG(fabs((with - without) - fit.gain[k]) < 1e-9,
                  "quality index %d: the fit reported %+.6f dB, its table gives %+.6f",
                  fit.quality[k], fit.gain[k], with - without);
        printf("fit at quality index %3d: alpha %.1f, %+.4f dB\n", fit.quality[k], fit.alpha[k],
               fit.gain[k]);
    }
    hs->recon_offset = own;
    /* the fitted y tables: fewer bits for the symbols they were fitted on, and
     * the same pictures (same symbols, same offsets) from smaller files */
    CHECK_MSG(fit.y_bits_after < fit.y_bits_before, "y bits %.0f with the fitted tables, %.0f "
              "with the Gaussians", fit.y_bits_after, fit.y_bits_before);
    printf("fitted y tables: %.0f -> %.0f bits on the fit's files\n", fit.y_bits_before,
           fit.y_bits_after);
    char dir_o[4400], dir_oy[4400];
    snprintf(dir_o, sizeof(dir_o), "%s/fit_o", base);
    snprintf(dir_oy, sizeof(dir_oy), "%s/fit_oy", base);
    model_with(ctx, shipped, dir_o, fit.offsets, NULL);
    model_with(ctx, shipped, dir_oy, fit.offsets, fit.y_weights);
    nic_context *co = context_for(dir_o), *coy = context_for(dir_oy);
    size_t bytes_o = 0, bytes_oy = 0, moved_px = 0;
    for (int i = 0; i < 2; i++)
        for (int q = 0; q <= 100; q += 25) {
            uint8_t *bo, *boy;
            size_t so, soy;
            nic_image dout, doy;
            encode_decode(co, &pics[i], q, &bo, &so, &dout);
            encode_decode(coy, &pics[i], q, &boy, &soy, &doy);
            bytes_o += so;
            bytes_oy += soy;
            moved_px += differing(&dout, &doy);
            nic_image_free(&dout);
            nic_image_free(&doy);
            free(bo);
            free(boy);
        }
    CHECK_MSG(moved_px == 0, "the fitted y tables changed %zu samples", moved_px);
    CHECK_MSG(bytes_oy < bytes_o, "%zu bytes with the fitted y tables, %zu without", bytes_oy,
              bytes_o);
    printf("files of the fit's pictures: %zu bytes, %zu with the fitted y tables\n", bytes_o,
           bytes_oy);
    nic_context_destroy(co);
    nic_context_destroy(coy);
    nic_context_destroy(cs);
    nic_hyper_fit_free(&fit);

    nic_image_free(&pics[0]);
    nic_image_free(&pics[1]);
    nic_image_free(&dec0);
    nic_image_free(&decz);
    nic_image_free(&dech);
    nic_image_free(&img);
    free(buf0);
    free(bufz);
    free(bufh);
    free(table);
    nic_context_destroy(c0);
    nic_context_destroy(cz);
    nic_context_destroy(ch);
    nic_context_destroy(ctx);
    return test_finish("test_codec_fit");
}
