/*
 * Training data: a set of decoded images kept in memory, and random crops
 * from it as float NCHW batches in [0, 1] (the layout of src/nn).
 *
 * Sets are built from files or folders (a folder contributes its PNG, JPEG
 * and PPM/PGM files, sorted by name, so the order — and therefore a seeded
 * run — is the same on every machine).
 */
#ifndef NIC_DATA_IMAGE_SET_H
#define NIC_DATA_IMAGE_SET_H

#include <stddef.h>
#include <stdint.h>

#include "common/context.h"
#include "nn/rng.h"

typedef struct nic_image_set {
    nic_image *images;
    char **names; /* paths as given / found */
    size_t count;
    size_t capacity;
    uint64_t pixels; /* total over all images */
} nic_image_set;

enum {
    NIC_IMAGE_SET_SKIP_BAD = 1u << 0 /* warn about unreadable files instead of failing */
};

void nic_image_set_init(nic_image_set *set);
void nic_image_set_free(nic_image_set *set);

/* Adds one image file, or every image file in a folder (not recursive).
 * min_side: images with a shorter side are skipped with a warning (0 = keep all). */
nic_status nic_image_set_add(nic_context *ctx, nic_image_set *set, const char *path,
                             uint32_t min_side, unsigned flags);

/* Adds each entry of a ':'-separated list of files/folders. */
nic_status nic_image_set_add_list(nic_context *ctx, nic_image_set *set, const char *paths,
                                  uint32_t min_side, unsigned flags);

typedef struct nic_crop_options {
    uint32_t height, width; /* crop size; images must be at least this large */
    int flip;               /* random horizontal flips */
    uint32_t channels;      /* 3: gray images are replicated; 1: RGB images become luma */
} nic_crop_options;

/* Fills out[n][channels][height][width] with random crops (uniform image,
 * uniform position) scaled to [0, 1]. Deterministic given rng's state. */
nic_status nic_image_set_sample(nic_context *ctx, const nic_image_set *set, nn_rng *rng,
                                const nic_crop_options *opt, int n, float *out);

/* The same draws as nic_image_set_sample(..., n, ...) (rng advances over all n
 * crops), but only crops [first, first + count) are cut, into
 * out[count][channels][height][width]: each data-parallel process takes its
 * shard of a global batch, and together they see the crops one process would. */
nic_status nic_image_set_sample_range(nic_context *ctx, const nic_image_set *set, nn_rng *rng,
                                      const nic_crop_options *opt, int n, int first, int count,
                                      float *out);

/* Copies a crop at (x, y) of image i into out[channels][height][width]. */
void nic_image_crop_to_float(const nic_image *img, uint32_t x, uint32_t y,
                             const nic_crop_options *opt, int flip, float *out);

#endif
