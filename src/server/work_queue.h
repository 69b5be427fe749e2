/*
 * A fixed pool of worker threads fed by a bounded FIFO of jobs.
 *
 * The HTTP thread never computes: it pushes a job and goes back to its
 * sockets. When the queue is full, push fails at once, so an overloaded
 * server answers 503 instead of growing without bound. Each worker owns a
 * per-thread state (for nic serve: a nic_context on the shared model), made
 * by init_worker in that thread and freed by fini_worker there.
 */
#ifndef NIC_SERVER_WORK_QUEUE_H
#define NIC_SERVER_WORK_QUEUE_H

#include <pthread.h>
#include <stddef.h>

typedef struct work_queue work_queue;

typedef struct work_queue_config {
    int workers;     /* threads, >= 1 */
    size_t capacity; /* jobs waiting (not counting those being run), >= 1 */
    /* Runs in each worker thread before it takes jobs; returns the thread's
     * state, or NULL when it cannot start (work_queue_create then fails). */
    void *(*init_worker)(void *user, int index);
    void (*fini_worker)(void *user, void *state);
    /* Runs one job in a worker thread. */
    void (*run)(void *user, void *state, void *job);
    void *user;
} work_queue_config;

/* Starts the workers; 0 on success, -1 when a thread or its state failed. */
int work_queue_create(const work_queue_config *cfg, work_queue **out);

/* Adds a job; 0 on success, -1 when the queue is full or shutting down. */
int work_queue_push(work_queue *q, void *job);

/* Jobs waiting and jobs being run right now. */
void work_queue_counts(work_queue *q, size_t *waiting, size_t *running);

/* Lets the workers finish every queued and running job, then joins them.
 * Pushing fails from the moment this starts; counts still work. */
void work_queue_shutdown(work_queue *q);

/* Shuts down (when not done yet) and frees the queue. */
void work_queue_destroy(work_queue *q);

#endif
