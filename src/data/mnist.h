/*
 * MNIST in its original IDX format (optionally gzipped, read through zlib).
 * Magic 0x00000803 = images (count, rows, cols, then bytes), 0x00000801 =
 * labels (count, then bytes); big-endian 32-bit header fields.
 */
#ifndef NIC_DATA_MNIST_H
#define NIC_DATA_MNIST_H

#include <stddef.h>
#include <stdint.h>

#include "common/context.h"

typedef struct nic_mnist {
    uint32_t count;
    uint32_t rows, cols;  /* 28 x 28 for MNIST; 0 for a labels file */
    uint8_t *pixels;      /* count * rows * cols, row-major, 0 = background */
    uint8_t *labels;      /* count, when loaded from a labels file */
} nic_mnist;

/* Reads an IDX images file (.gz or raw); max_count 0 = all. */
nic_status nic_mnist_load_images(nic_context *ctx, const char *path, uint32_t max_count,
                                 nic_mnist *out);
/* Reads an IDX labels file into out->labels; its count must match out->count. */
nic_status nic_mnist_load_labels(nic_context *ctx, const char *path, nic_mnist *out);
void nic_mnist_free(nic_mnist *m);

#endif
