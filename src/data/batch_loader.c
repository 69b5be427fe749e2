#include "data/batch_loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

nic_status nic_batch_sample(nic_context *ctx, const nic_image_set *set,
                            const nic_crop_options *opt, int batch, uint64_t seed, int64_t index,
                            float *out)
{
    return nic_batch_sample_range(ctx, set, opt, batch, 0, batch, seed, index, out);
}

nic_status nic_batch_sample_range(nic_context *ctx, const nic_image_set *set,
                                  const nic_crop_options *opt, int batch, int first, int count,
                                  uint64_t seed, int64_t index, float *out)
{
    /* The index goes through a generator of its own before it meets the
     * seed, so the streams of different batches are unrelated to each other
     * and to the training RNG (seeded with the seed alone). */
    nn_rng mix, rng;
    nn_rng_seed(&mix, (uint64_t)index);
    nn_rng_seed(&rng, seed ^ nn_rng_next(&mix));
    return nic_image_set_sample_range(ctx, set, &rng, opt, batch, first, count, out);
}

struct nic_batch_loader {
    const nic_image_set *set;
    nic_crop_options opt;
    int batch, shard_first, shard_count;
    uint64_t seed;
    int threaded;
    float *buf[2];  /* front: handed to the caller; back: being filled */
    int front;
    int64_t next;   /* index of the batch the next call returns */
    /* worker state, under mu */
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    int pending;    /* a batch is requested or in progress */
    int quit;
    nic_status status;      /* of the finished batch */
    nic_context *wctx;      /* the worker's own context (messages) */
};

static void *worker_main(void *arg)
{
    nic_batch_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->quit && !l->pending)
            pthread_cond_wait(&l->work, &l->mu);
        if (l->quit)
            break;
        const int64_t index = l->next;
        float *dst = l->buf[1 - l->front];
        pthread_mutex_unlock(&l->mu);
        nic_status st = nic_batch_sample_range(l->wctx, l->set, &l->opt, l->batch, l->shard_first,
                                               l->shard_count, l->seed, index, dst);
        pthread_mutex_lock(&l->mu);
        l->status = st;
        l->pending = 0;
        pthread_cond_signal(&l->done);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

nic_status nic_batch_loader_create(nic_context *ctx, const nic_image_set *set,
                                   const nic_crop_options *opt, int batch, uint64_t seed,
                                   int64_t first, int threaded, nic_batch_loader **out)
{
    return nic_batch_loader_create_shard(ctx, set, opt, batch, 0, batch, seed, first, threaded,
                                         out);
}

nic_status nic_batch_loader_create_shard(nic_context *ctx, const nic_image_set *set,
                                         const nic_crop_options *opt, int batch, int shard_first,
                                         int shard_count, uint64_t seed, int64_t first,
                                         int threaded, nic_batch_loader **out)
{
    *out = NULL;
    if (batch < 1 || first < 0 || shard_first < 0 || shard_count < 1 ||
        shard_count > batch - shard_first)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "batch loader: batch %d, shard %d+%d, first index %lld", batch,
                        shard_first, shard_count, (long long)first);
    size_t per = (size_t)opt->channels * opt->height * opt->width, bytes;
    if (!nic_mul_size(per * sizeof(float), (size_t)shard_count, &bytes))
        return NIC_FAIL(ctx, NIC_ERR_LIMIT, "batch loader: %d crops of %zu values overflow",
                        shard_count, per);
    nic_batch_loader *l = calloc(1, sizeof(*l));
    if (!l)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "batch loader: out of memory");
    l->set = set;
    l->opt = *opt;
    l->batch = batch;
    l->shard_first = shard_first;
    l->shard_count = shard_count;
    l->seed = seed;
    l->threaded = threaded;
    l->next = first;
    l->buf[0] = malloc(bytes ? bytes : 1);
    l->buf[1] = threaded ? malloc(bytes ? bytes : 1) : NULL;
    if (!l->buf[0] || (threaded && !l->buf[1])) {
        nic_batch_loader_destroy(l);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "batch loader: cannot allocate 2 x %zu bytes", bytes);
    }
    if (!threaded) {
        *out = l;
        return NIC_OK;
    }
    l->wctx = nic_context_create();
    if (!l->wctx) {
        nic_batch_loader_destroy(l);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "batch loader: out of memory");
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work, NULL);
    pthread_cond_init(&l->done, NULL);
    l->front = 1; /* the worker fills buf[0] with the first batch */
    l->pending = 1;
    int err = pthread_create(&l->thread, NULL, worker_main, l);
    if (err != 0) {
        nic_batch_loader_destroy(l);
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "batch loader: cannot start a thread: %s",
                        strerror(err));
    }
    l->started = 1;
    *out = l;
    return NIC_OK;
}

nic_status nic_batch_loader_next(nic_context *ctx, nic_batch_loader *l, const float **data,
                                 int64_t *index)
{
    if (!l->threaded) {
        NIC_TRY(nic_batch_sample_range(ctx, l->set, &l->opt, l->batch, l->shard_first,
                                       l->shard_count, l->seed, l->next, l->buf[0]));
        *data = l->buf[0];
        if (index)
            *index = l->next;
        l->next++;
        return NIC_OK;
    }
    pthread_mutex_lock(&l->mu);
    while (l->pending)
        pthread_cond_wait(&l->done, &l->mu);
    nic_status st = l->status;
    if (st != NIC_OK) {
        /* the worker stops at a failed batch; the message crosses contexts here */
        pthread_mutex_unlock(&l->mu);
        return NIC_FAIL(ctx, st, "batch %lld: %s", (long long)l->next,
                        nic_context_error(l->wctx));
    }
    /* hand over the finished buffer; the worker refills the one the caller
     * had (it is done with it: the previous batch is invalid from now on) */
    l->front = 1 - l->front;
    *data = l->buf[l->front];
    if (index)
        *index = l->next;
    l->next++;
    l->pending = 1;
    pthread_cond_signal(&l->work);
    pthread_mutex_unlock(&l->mu);
    return NIC_OK;
}

void nic_batch_loader_destroy(nic_batch_loader *l)
{
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->quit = 1;
        pthread_cond_signal(&l->work);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    if (l->threaded && l->wctx) {
        pthread_cond_destroy(&l->done);
        pthread_cond_destroy(&l->work);
        pthread_mutex_destroy(&l->mu);
    }
    nic_context_destroy(l->wctx);
    free(l->buf[0]);
    free(l->buf[1]);
    free(l);
}
