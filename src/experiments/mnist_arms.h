/*
 * The arms of the MNIST experiment: what each model gives the report, and
 * the hook through which the RNN models (issue 7) join it.
 *
 * An arm trains on env->train, logs one nic_mnist_epoch per epoch, and
 * compresses every test image at each of its rate points into real files
 * (bytes counted from the files' contents), decoding them back to measure
 * SSIM and PSNR. To add an arm, write its run() and fill its entry of the
 * table in mnist.c (the RNN entries are there, marked pending).
 */
#ifndef NIC_EXPERIMENTS_MNIST_ARMS_H
#define NIC_EXPERIMENTS_MNIST_ARMS_H

#include <stddef.h>
#include <stdint.h>

#include "data/mnist.h"
#include "experiments/mnist.h"

/* Shared by every arm. */
typedef struct nic_mnist_env {
    const nic_mnist_experiment_options *opt;
    const nic_mnist *train, *test; /* 8-bit pixels */
    const char *out_dir;
    double target_ssim;
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
    char description[512];   /* one paragraph for the report (architecture, sizes) */
    char files_note[512];    /* where the arm's files are */
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

#endif
