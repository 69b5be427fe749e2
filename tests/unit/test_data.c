/* Training data: image sets, random crops, MNIST IDX files. */
#include "test.h"

#include <zlib.h>

#include "data/batch_loader.h"
#include "data/image_set.h"
#include "data/mnist.h"

static int warnings;
static void count_warnings(void *user, nic_log_level level, const char *msg)
{
    (void)user;
    (void)msg;
    warnings += level == NIC_LOG_WARNING;
}

static void test_image_set(nic_context *ctx, const char *fixtures)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/images", fixtures);
    nic_image_set set;
    nic_image_set_init(&set);
    /* Strict: the first malformed file (sorted order) stops the load, named. */
    CHECK_STATUS(nic_image_set_add(ctx, &set, dir, 0, 0), NIC_ERR_FORMAT);
    CHECK(strstr(nic_context_error(ctx), "bad-crc.png") != NULL);
    nic_image_set_free(&set);

    nic_context_set_log(ctx, count_warnings, NULL);
    warnings = 0;
    CHECK_STATUS(nic_image_set_add(ctx, &set, dir, 0, NIC_IMAGE_SET_SKIP_BAD), NIC_OK);
    /* 17 valid pictures; the 9 bad-* images are skipped with a warning each (bad-garbage.bin
     * is not an image name); rgba8/graya8 warn about alpha. */
    CHECK_MSG(set.count == 17, "count %zu", set.count);
    CHECK_MSG(warnings == 9 + 2, "warnings %d", warnings);
    for (size_t i = 1; i < set.count; i++)
        CHECK(strcmp(set.names[i - 1], set.names[i]) < 0);
    size_t before = set.count;
    warnings = 0;
    char list[8300];
    snprintf(list, sizeof(list), "%s/rgb8.png:%s/gray.pgm", dir, dir);
    CHECK_STATUS(nic_image_set_add_list(ctx, &set, list, 20, 0), NIC_OK);
    CHECK(set.count == before + 2);
    CHECK_STATUS(nic_image_set_add_list(ctx, &set, list, 25, 0), NIC_OK); /* 32x24 < 25: skipped */
    CHECK_MSG(set.count == before + 2 && warnings == 2, "count %zu warnings %d", set.count, warnings);
    nic_context_set_log(ctx, NULL, NULL);
    CHECK_STATUS(nic_image_set_add(ctx, &set, "/nonexistent/x", 0, 0), NIC_ERR_IO);
    nic_image_set_free(&set);

    /* Crops: exact values, flips, gray <-> RGB, determinism. */
    nic_image_set_init(&set);
    snprintf(list, sizeof(list), "%s/rgb8.png", dir);
    CHECK_STATUS(nic_image_set_add(ctx, &set, list, 0, 0), NIC_OK);
    const nic_image *img = &set.images[0];
    nic_crop_options full = {.height = 24, .width = 32, .flip = 0, .channels = 3};
    float *out = malloc(sizeof(float) * 3 * 24 * 32 * 4);
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    CHECK_STATUS(nic_image_set_sample(ctx, &set, &rng, &full, 1, out), NIC_OK);
    int exact = 1;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 24; y++)
            for (int x = 0; x < 32; x++)
                exact &= fabsf(out[(c * 24 + y) * 32 + x] - img->data[(y * 32 + x) * 3 + c] / 255.0f) < 1e-6f;
    CHECK_MSG(exact, "%g vs %d", out[0] * 255.0, img->data[0]);
    nic_image_crop_to_float(img, 0, 0, &full, 1, out);
    CHECK_NEAR(out[0], img->data[31 * 3] / 255.0f, 1e-6); /* flipped: first column is the last */
    nic_crop_options gray = {.height = 8, .width = 8, .channels = 1};
    nic_image_crop_to_float(img, 0, 0, &gray, 0, out);
    CHECK_NEAR(out[0] * 255.0, 0.299 * 220 + 0.587 * 30 + 0.114 * 30, 1e-3);

    nic_crop_options small = {.height = 16, .width = 16, .flip = 1, .channels = 3};
    float *again = malloc(sizeof(float) * 3 * 16 * 16 * 4);
    nn_rng_seed(&rng, 42);
    CHECK_STATUS(nic_image_set_sample(ctx, &set, &rng, &small, 4, out), NIC_OK);
    nn_rng_seed(&rng, 42);
    CHECK_STATUS(nic_image_set_sample(ctx, &set, &rng, &small, 4, again), NIC_OK);
    CHECK(memcmp(out, again, sizeof(float) * 3 * 16 * 16 * 4) == 0);
    nic_crop_options too_big = {.height = 64, .width = 64, .channels = 3};
    CHECK_STATUS(nic_image_set_sample(ctx, &set, &rng, &too_big, 1, out), NIC_ERR_INVALID_ARGUMENT);
    free(out);
    free(again);
    nic_image_set_free(&set);
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile f = gzopen(path, "wb");
    gzwrite(f, data, (unsigned)n);
    gzclose(f);
}

static void test_mnist(nic_context *ctx, const char *fixtures)
{
    char path[4200], lpath[4200];
    snprintf(path, sizeof(path), "%s/test_data_images.gz", test_tmp_dir());
    snprintf(lpath, sizeof(lpath), "%s/test_data_labels.gz", test_tmp_dir());
    uint8_t file[16 + 3 * 4 * 5];
    const uint8_t head[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5};
    memcpy(file, head, 16);
    for (int i = 0; i < 60; i++)
        file[16 + i] = (uint8_t)(i * 4);
    write_gz(path, file, sizeof(file));
    const uint8_t labels[] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1};
    write_gz(lpath, labels, sizeof(labels));

    nic_mnist m;
    CHECK_STATUS(nic_mnist_load_images(ctx, path, 0, &m), NIC_OK);
    CHECK(m.count == 3 && m.rows == 4 && m.cols == 5 && m.pixels[59] == 236);
    CHECK_STATUS(nic_mnist_load_labels(ctx, lpath, &m), NIC_OK);
    CHECK(m.labels && m.labels[0] == 7 && m.labels[2] == 1);
    nic_mnist_free(&m);
    CHECK_STATUS(nic_mnist_load_images(ctx, path, 2, &m), NIC_OK);
    CHECK(m.count == 2);
    nic_mnist_free(&m);

    write_gz(path, file, sizeof(file) - 1); /* one pixel short */
    CHECK_STATUS(nic_mnist_load_images(ctx, path, 0, &m), NIC_ERR_FORMAT);
    CHECK(strstr(nic_context_error(ctx), "truncated") != NULL);
    CHECK(m.pixels == NULL);
    uint8_t wrong[sizeof(file)];
    memcpy(wrong, file, sizeof(file));
    wrong[3] = 1; /* a labels magic where images are expected */
    write_gz(path, wrong, sizeof(wrong));
    CHECK_STATUS(nic_mnist_load_images(ctx, path, 0, &m), NIC_ERR_FORMAT);
    CHECK(strstr(nic_context_error(ctx), "magic") != NULL);
    file[4] = 0x7f; /* absurd count */
    write_gz(path, file, sizeof(file));
    CHECK_STATUS(nic_mnist_load_images(ctx, path, 0, &m), NIC_ERR_FORMAT);
    CHECK_STATUS(nic_mnist_load_images(ctx, "/nonexistent.gz", 0, &m), NIC_ERR_IO);
    remove(path);
    remove(lpath);

    /* The real test set, when the shared data is beside the checkout. */
    char real[4200], real_labels[4200];
    snprintf(real, sizeof(real), "%s/mnist/t10k-images-idx3-ubyte.gz", test_data_dir(fixtures));
    snprintf(real_labels, sizeof(real_labels), "%s/mnist/t10k-labels-idx1-ubyte.gz",
             test_data_dir(fixtures));
    FILE *probe = fopen(real, "rb");
    if (!probe) {
        printf("test_data: %s not found, real-MNIST checks skipped\n", real);
        return;
    }
    fclose(probe);
    CHECK_STATUS(nic_mnist_load_images(ctx, real, 0, &m), NIC_OK);
    CHECK(m.count == 10000 && m.rows == 28 && m.cols == 28);
    CHECK_STATUS(nic_mnist_load_labels(ctx, real_labels, &m), NIC_OK);
    CHECK(m.labels && m.labels[0] == 7 && m.labels[1] == 2 && m.labels[2] == 1);
    nic_mnist_free(&m);
}

/* The worker-thread loader gives exactly the synchronous batches, from any
 * starting index (a resumed run), and reports a failing batch. */
static void test_batch_loader(nic_context *ctx, const char *fixtures)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/metrics", fixtures);
    nic_image_set set;
    nic_image_set_init(&set);
    CHECK_STATUS(nic_image_set_add(ctx, &set, dir, 32, 0), NIC_OK);
    CHECK(set.count > 2);
    const nic_crop_options opt = {.height = 32, .width = 24, .flip = 1, .channels = 3};
    enum { B = 3, STEPS = 9 };
    const size_t per = (size_t)B * 3 * 32 * 24;
    float *want = malloc(sizeof(float) * per * STEPS);
    for (int i = 0; i < STEPS; i++)
        CHECK_STATUS(nic_batch_sample(ctx, &set, &opt, B, 5, 100 + i, want + i * per), NIC_OK);
    CHECK(memcmp(want, want + per, sizeof(float) * per) != 0); /* batches differ */
    for (int threaded = 0; threaded < 2; threaded++) {
        for (int first = 0; first < 2; first++) {
            nic_batch_loader *l = NULL;
            int64_t start = first ? 104 : 100;
            CHECK_STATUS(nic_batch_loader_create(ctx, &set, &opt, B, 5, start, threaded, &l),
                         NIC_OK);
            int same = 1, indices = 1;
            const float *prev = NULL;
            for (int64_t i = start; i < 100 + STEPS && l; i++) {
                const float *got = NULL;
                int64_t idx = -1;
                CHECK_STATUS(nic_batch_loader_next(ctx, l, &got, &idx), NIC_OK);
                if (!got)
                    break;
                same &= memcmp(got, want + (i - 100) * per, sizeof(float) * per) == 0;
                indices &= idx == i;
                /* threaded: two buffers alternate, so the worker never writes the
                 * batch the caller is using */
                if (threaded && prev)
                    CHECK(got != prev);
                prev = got;
            }
            CHECK_MSG(same && indices, "threaded %d, first %lld: batches differ from "
                      "nic_batch_sample", threaded, (long long)start);
            nic_batch_loader_destroy(l);
        }
    }
    /* a loader destroyed while its worker is busy, and one never used */
    nic_batch_loader *l = NULL;
    CHECK_STATUS(nic_batch_loader_create(ctx, &set, &opt, B, 5, 0, 1, &l), NIC_OK);
    nic_batch_loader_destroy(l);
    /* errors come back through the caller's context, in both modes */
    const nic_crop_options big = {.height = 4096, .width = 4096, .channels = 3};
    for (int threaded = 0; threaded < 2; threaded++) {
        CHECK_STATUS(nic_batch_loader_create(ctx, &set, &big, 1, 5, 7, threaded, &l), NIC_OK);
        const float *got = NULL;
        CHECK_STATUS(nic_batch_loader_next(ctx, l, &got, NULL), NIC_ERR_INVALID_ARGUMENT);
        CHECK_MSG(strstr(nic_context_error(ctx), "smaller than the 4096x4096 crop") != NULL,
                  "message: %s", nic_context_error(ctx));
        nic_batch_loader_destroy(l);
    }
    CHECK_STATUS(nic_batch_loader_create(ctx, &set, &opt, 0, 5, 0, 1, &l),
                 NIC_ERR_INVALID_ARGUMENT);
    free(want);
    nic_image_set_free(&set);
}

int main(int argc, char **argv)
{
    nic_context *ctx = nic_context_create();
    test_image_set(ctx, test_fixtures_dir(argc, argv));
    test_mnist(ctx, test_fixtures_dir(argc, argv));
    test_batch_loader(ctx, test_fixtures_dir(argc, argv));
    nic_context_destroy(ctx);
    return test_finish("test_data");
}
