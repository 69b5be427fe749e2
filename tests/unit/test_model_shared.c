/* One model shared by several contexts in several threads (what nic serve
 * does): the same files and pixels as a context with its own model, and the
 * abort callback stopping encode and decode. */
#include "test.h"

#include <pthread.h>
#include <sys/stat.h>

#include "codec/hyper_codec.h"
#include "test_hyper_util.h"

static void make_image(nic_image *img, uint32_t w, uint32_t h, int seed)
{
    nic_image_alloc(NULL, img, w, h, 3);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t k = 0; k < 3; k++)
                img->data[(y * w + x) * 3 + k] =
                    (uint8_t)(128 + 90 * sin(0.06 * x * (k + 1) + 0.05 * y + seed));
}

typedef struct job {
    nic_model *model;
    const nic_image *img;
    uint64_t max_bytes;
    uint8_t *file;
    size_t size;
    nic_image decoded;
    nic_status st;
} job;

/* Each thread: its own context on the shared model, a budget encode (several
 * trial encodes) and a deterministic decode, a few times over. */
static void *worker(void *arg)
{
    job *j = arg;
    nic_context *ctx = nic_context_create();
    j->st = nic_context_use_model(ctx, j->model);
    for (int round = 0; round < 3 && j->st == NIC_OK; round++) {
        free(j->file);
        nic_image_free(&j->decoded);
        nic_encode_options opt;
        nic_encode_options_init(&opt);
        opt.max_bytes = j->max_bytes;
        j->st = nic_encode(ctx, j->img, &opt, &j->file, &j->size, NULL);
        if (j->st == NIC_OK)
            j->st = nic_decode(ctx, j->file, j->size, "shared", &j->decoded);
    }
    nic_context_destroy(ctx);
    return NULL;
}

static int always_abort(void *user)
{
    int *calls = user;
    ++*calls;
    return 1;
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/shared_model", test_tmp_dir());
    mkdir(dir, 0755);
    export_small_hyper(ctx, dir, "test model", 11);
    CHECK_STATUS(nic_context_set_model_dir(ctx, dir), NIC_OK);

    nic_model *model = NULL;
    CHECK_STATUS(nic_model_load(ctx, "nope", &model), NIC_ERR_UNSUPPORTED);
    CHECK(model == NULL);
    CHECK_STATUS(nic_model_load(ctx, NULL, &model), NIC_OK);
    nic_model_info info;
    nic_model_get_info(model, &info);
    CHECK(strcmp(info.name, "hyper") == 0 && info.model_id == NIC_MODEL_ID_HYPER);
    CHECK(strstr(info.path, "hyper.safetensors") != NULL);
    CHECK(info.parameters > 1000);

    /* Reference: a context with its own copy of the model. */
    nic_image img;
    make_image(&img, 90, 75, 2);
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    opt.max_bytes = 300;
    uint8_t *ref = NULL;
    size_t ref_size = 0;
    nic_image ref_dec = {0};
    CHECK_STATUS(nic_encode(ctx, &img, &opt, &ref, &ref_size, NULL), NIC_OK);
    CHECK_STATUS(nic_decode(ctx, ref, ref_size, "ref", &ref_dec), NIC_OK);
    nic_container parsed; /* the file names the weights it needs */
    CHECK_STATUS(nic_container_parse(ctx, ref, ref_size, "ref", 0, &parsed), NIC_OK);
    CHECK(parsed.weights_hash == info.weights_hash);

    enum { THREADS = 3 };
    job jobs[THREADS];
    pthread_t tid[THREADS];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < THREADS; i++) {
        jobs[i].model = model;
        jobs[i].img = &img;
        jobs[i].max_bytes = 300;
        CHECK(pthread_create(&tid[i], NULL, worker, &jobs[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);
        CHECK_MSG(jobs[i].st == NIC_OK, "thread %d: status %d", i, (int)jobs[i].st);
        CHECK_MSG(jobs[i].size == ref_size && memcmp(jobs[i].file, ref, ref_size) == 0,
                  "thread %d made another file (%zu bytes, reference %zu)", i, jobs[i].size,
                  ref_size);
        CHECK_MSG(jobs[i].decoded.width == ref_dec.width &&
                      memcmp(jobs[i].decoded.data, ref_dec.data,
                             (size_t)ref_dec.width * ref_dec.height * 3) == 0,
                  "thread %d decoded other pixels", i);
        free(jobs[i].file);
        nic_image_free(&jobs[i].decoded);
    }

    /* Abort: encode and decode stop with NIC_ERR_ABORTED and return nothing. */
    nic_context *actx = nic_context_create();
    int calls = 0;
    CHECK_STATUS(nic_context_use_model(actx, model), NIC_OK);
    nic_context_set_abort(actx, always_abort, &calls);
    uint8_t *out = (uint8_t *)1;
    size_t out_size = 1;
    CHECK_STATUS(nic_encode(actx, &img, &opt, &out, &out_size, NULL), NIC_ERR_ABORTED);
    CHECK(out == NULL && out_size == 0 && calls > 0);
    CHECK(strstr(nic_context_error(actx), "aborted") != NULL);
    nic_image none;
    CHECK_STATUS(nic_decode(actx, ref, ref_size, "ref", &none), NIC_ERR_ABORTED);
    CHECK(none.data == NULL);
    CHECK(strcmp(nic_status_name(NIC_ERR_ABORTED), "aborted") == 0);
    nic_context_set_abort(actx, NULL, NULL);
    CHECK_STATUS(nic_decode(actx, ref, ref_size, "ref", &none), NIC_OK);
    nic_image_free(&none);
    nic_context_destroy(actx);

    free(ref);
    nic_image_free(&ref_dec);
    nic_image_free(&img);
    nic_context_destroy(ctx);
    nic_model_free(model);
    return test_finish("test_model_shared");
}
