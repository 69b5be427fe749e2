/*
 * The arms of the MNIST experiment: what each model gives the report.
 *
 * An arm trains on env->train, logs one nic_mnist_epoch per epoch, and
 * compresses every test image at each of its rate points into real files
 * (bytes counted from the files' contents), decoding them back to measure
 * SSIM and PSNR. To add an arm, write its run() and add it to the table in
 * mnist.c. Arms run in the table's order; a later arm may use an earlier
 * one's result (env->results) and files (the cascade codes the RNN's output
 * pictures with the CNN's saved weights).
 */
#ifndef NIC_EXPERIMENTS_MNIST_ARMS_H
#define NIC_EXPERIMENTS_MNIST_ARMS_H

#include <stddef.h>
#include <stdint.h>

#include "data/mnist.h"
#include "experiments/mnist.h"

struct nic_mnist_arm;
struct nic_mnist_arm_result;

/* Shared by every arm. */
typedef struct nic_mnist_env {
    const nic_mnist_experiment_options *opt;
    const nic_mnist *train, *test; /* 8-bit pixels */
    const char *out_dir;
    double target_ssim;
    const struct nic_mnist_arm *arms;           /* the table, and the results so far */
    const struct nic_mnist_arm_result *results;
    int arm_count;
} nic_mnist_env;

/* Sends a formatted progress line to the caller (if any). */
void nic_mnist_progress(const nic_mnist_env *env, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

typedef struct nic_mnist_epoch {
    int epoch;               /* 1-based */
    double train_loss;       /* mean training objective over the epoch */
    double test_loss;        /* the same objective on the test set (exact rounding) */
    double train_accuracy;   /* binarized-pixel accuracy (see docs/EXPERIMENTS.md) */
    double test_accuracy;
    double test_bits;        /* estimated bits per image on the test set */
    double test_ssim;
    double seconds;          /* since training started */
} nic_mnist_epoch;

/* One rate of an arm, over the whole test set. */
typedef struct nic_mnist_rate_point {
    int level;
    double lambda;
    uint64_t record_bytes;   /* sum of the per-image record files */
    uint64_t nic_bytes;      /* sum of the per-image .nic files */
    uint64_t archive_bytes;  /* one .nic archive of the whole set */
    double model_bits;       /* the model's estimate, bits per image */
    double mean_ssim, mean_psnr, accuracy;
} nic_mnist_rate_point;

#define NIC_MNIST_MAX_POINTS 32

typedef struct nic_mnist_arm_result {
    nic_mnist_epoch *epochs; /* malloc'ed */
    int epoch_count;
    nic_mnist_rate_point points[NIC_MNIST_MAX_POINTS];
    int point_count;
    int headline;            /* index of the point shown in the figure and the table */
    uint8_t *reconstruction; /* [test count][784] at the headline point, malloc'ed */
    uint8_t *ladder;         /* [point_count][ladder_count][784]: the first test images at every point */
    int ladder_count;
    char description[1024];  /* one paragraph for the report (architecture, sizes) */
    char files_note[512];    /* where the arm's files are */
    char loss_what[512];     /* what the loss is (the report's per-epoch section) */
    char rate_what[512];     /* what a rate point is (the report's rate section) */
    char loss_label[64];     /* the loss's unit, for the plot's axis */
    char point_label[32];    /* what a rate point's number is: "level", "layers" */
    int record_header_bytes; /* bytes of a record that are not the coded stream */
    int no_accuracy;         /* the epochs have no accuracy (rnn+cnn: lossless coding) */
    int no_archive;          /* no one-file archive layout (archive_bytes 0) */
    double train_seconds, eval_seconds;
} nic_mnist_arm_result;

void nic_mnist_arm_result_free(nic_mnist_arm_result *r);

typedef struct nic_mnist_arm {
    const char *name;     /* short id: "cnn", "rnn", ... */
    const char *title;    /* for the report */
    const char *pending;  /* NULL when run exists; else why the arm cannot run yet */
    nic_status (*run)(nic_context *ctx, const nic_mnist_env *env, nic_mnist_arm_result *out);
} nic_mnist_arm;

/* The deep CNN autoencoder with its learned entropy model (mnist_cnn.c). */
nic_status nic_mnist_cnn_run(nic_context *ctx, const nic_mnist_env *env,
                             nic_mnist_arm_result *out);
/* The paper's cascade: the "rnn" arm's output pictures (its headline) coded
 * again by the trained CNN (OUT/cnn/model.safetensors), measured against the
 * originals (mnist_cnn.c). */
nic_status nic_mnist_cascade_run(nic_context *ctx, const nic_mnist_env *env,
                                 nic_mnist_arm_result *out);
/* The RNN model (Toderici et al.) trained on MNIST, and the combined rnn+cnn
 * model: its codes through a convolutional context model (mnist_rnn.c). */
nic_status nic_mnist_rnn_run(nic_context *ctx, const nic_mnist_env *env,
                             nic_mnist_arm_result *out);
nic_status nic_mnist_rnn_cnn_run(nic_context *ctx, const nic_mnist_env *env,
                                 nic_mnist_arm_result *out);

/* Helpers the arms share (mnist.c). */
double nic_mnist_now(void);
/* The result of the arm called name that has run, or NULL. */
const nic_mnist_arm_result *nic_mnist_find_result(const nic_mnist_env *env, const char *name);
/* The fraction of the 784 pixels on the same side of 128 in a and b. */
double nic_mnist_pixel_accuracy(const uint8_t *a, const uint8_t *b);
/* Mean SSIM, PSNR (per image, capped at 99 dB) and binarized-pixel accuracy
 * of rec [test count][784] against the test set. */
nic_status nic_mnist_measure(nic_context *ctx, const nic_mnist *test, const uint8_t *rec,
                             nic_mnist_rate_point *pt);
/* The smallest records whose mean SSIM reaches target; else the best SSIM. */
int nic_mnist_pick_headline(const nic_mnist_rate_point *pts, int count, double target);
nic_status nic_mnist_write_file(nic_context *ctx, const char *path, const uint8_t *data,
                                size_t size);
/* Reads at most cap bytes; a longer file is an error. */
nic_status nic_mnist_read_file(nic_context *ctx, const char *path, uint8_t *buf, size_t cap,
                               size_t *size);
/* OUT/name, created; dir receives the path. */
nic_status nic_mnist_arm_dir(nic_context *ctx, const nic_mnist_env *env, const char *name,
                             char *dir, size_t cap);

#endif
