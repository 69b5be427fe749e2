#include "server/work_queue.h"

#include <stdlib.h>

struct work_queue {
    work_queue_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t nonempty; /* a job arrived, or stopping */
    pthread_cond_t started;  /* a worker finished init_worker */
    void **ring;
    size_t head, count, running;
    int stopping;
    int joined;
    int ready, failed; /* workers that started / could not */
    pthread_t *threads;
    int thread_count;
};

typedef struct worker_arg {
    work_queue *q;
    int index;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *arg = p;
    work_queue *q = arg->q;
    int index = arg->index;
    free(arg);
    void *state = q->cfg.init_worker ? q->cfg.init_worker(q->cfg.user, index) : q;
    pthread_mutex_lock(&q->lock);
    if (state)
        q->ready++;
    else
        q->failed++;
    pthread_cond_broadcast(&q->started);
    pthread_mutex_unlock(&q->lock);
    if (!state)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (q->count == 0 && !q->stopping)
            pthread_cond_wait(&q->nonempty, &q->lock);
        if (q->count == 0) { /* stopping and drained */
            pthread_mutex_unlock(&q->lock);
            break;
        }
        void *job = q->ring[q->head];
        q->head = (q->head + 1) % q->cfg.capacity;
        q->count--;
        q->running++;
        pthread_mutex_unlock(&q->lock);
        q->cfg.run(q->cfg.user, state, job);
        pthread_mutex_lock(&q->lock);
        q->running--;
        pthread_mutex_unlock(&q->lock);
    }
    if (q->cfg.fini_worker)
        q->cfg.fini_worker(q->cfg.user, state);
    return NULL;
}

static void stop_and_join(work_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
    if (q->joined)
        return;
    for (int i = 0; i < q->thread_count; i++)
        pthread_join(q->threads[i], NULL);
    q->joined = 1;
}

static void free_queue(work_queue *q)
{
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->nonempty);
    pthread_cond_destroy(&q->started);
    free(q->ring);
    free(q->threads);
    free(q);
}

int work_queue_create(const work_queue_config *cfg, work_queue **out)
{
    *out = NULL;
    if (cfg->workers < 1 || cfg->capacity < 1 || !cfg->run)
        return -1;
    work_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return -1;
    q->cfg = *cfg;
    q->ring = calloc(cfg->capacity, sizeof(void *));
    q->threads = calloc((size_t)cfg->workers, sizeof(pthread_t));
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->nonempty, NULL);
    pthread_cond_init(&q->started, NULL);
    if (!q->ring || !q->threads) {
        free_queue(q);
        return -1;
    }
    for (int i = 0; i < cfg->workers; i++) {
        worker_arg *arg = malloc(sizeof(*arg));
        if (!arg)
            break;
        arg->q = q;
        arg->index = i;
        if (pthread_create(&q->threads[i], NULL, worker_main, arg) != 0) {
            free(arg);
            break;
        }
        q->thread_count++;
    }
    /* Wait until every worker has its state, so a failure shows here. */
    pthread_mutex_lock(&q->lock);
    while (q->ready + q->failed < q->thread_count)
        pthread_cond_wait(&q->started, &q->lock);
    int ok = q->failed == 0 && q->thread_count == cfg->workers;
    pthread_mutex_unlock(&q->lock);
    if (!ok) {
        stop_and_join(q);
        free_queue(q);
        return -1;
    }
    *out = q;
    return 0;
}

int work_queue_push(work_queue *q, void *job)
{
    int rc = -1;
    pthread_mutex_lock(&q->lock);
    if (!q->stopping && q->count < q->cfg.capacity) {
        q->ring[(q->head + q->count) % q->cfg.capacity] = job;
        q->count++;
        pthread_cond_signal(&q->nonempty);
        rc = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void work_queue_counts(work_queue *q, size_t *waiting, size_t *running)
{
    pthread_mutex_lock(&q->lock);
    *waiting = q->count;
    *running = q->running;
    pthread_mutex_unlock(&q->lock);
}

void work_queue_shutdown(work_queue *q)
{
    if (q)
        stop_and_join(q);
}

void work_queue_destroy(work_queue *q)
{
    if (!q)
        return;
    stop_and_join(q);
    free_queue(q);
}
