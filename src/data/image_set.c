#include "data/image_set.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

void nic_image_set_init(nic_image_set *set)
{
    memset(set, 0, sizeof(*set));
}

void nic_image_set_free(nic_image_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        nic_image_free(&set->images[i]);
        free(set->names[i]);
    }
    free(set->images);
    free(set->names);
    memset(set, 0, sizeof(*set));
}

static int is_image_name(const char *name)
{
    static const char *exts[] = {".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".pnm"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcasecmp(name + n - e, exts[i]) == 0)
            return 1;
    }
    return 0;
}

static nic_status push_image(nic_context *ctx, nic_image_set *set, nic_image *img,
                             const char *path)
{
    if (set->count == set->capacity) {
        size_t cap = set->capacity ? set->capacity * 2 : 64;
        nic_image *imgs = realloc(set->images, cap * sizeof(*imgs));
        if (!imgs)
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory growing the image set");
        set->images = imgs;
        char **names = realloc(set->names, cap * sizeof(*names));
        if (!names)
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory growing the image set");
        set->names = names;
        set->capacity = cap;
    }
    char *name = strdup(path);
    if (!name)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory");
    set->images[set->count] = *img;
    set->names[set->count] = name;
    set->count++;
    set->pixels += (uint64_t)img->width * img->height;
    memset(img, 0, sizeof(*img));
    return NIC_OK;
}

static nic_status add_file(nic_context *ctx, nic_image_set *set, const char *path,
                           uint32_t min_side, unsigned flags)
{
    nic_image img;
    nic_status st = nic_image_read_file(ctx, path, &img, NULL);
    if (st != NIC_OK) {
        if (!(flags & NIC_IMAGE_SET_SKIP_BAD))
            return st;
        nic_log(ctx, NIC_LOG_WARNING, "skipped: %s", nic_context_error(ctx));
        nic_context_clear_error(ctx);
        return NIC_OK;
    }
    if (img.width < min_side || img.height < min_side) {
        nic_log(ctx, NIC_LOG_WARNING, "%s: skipped, %ux%u is smaller than %u on a side", path,
                img.width, img.height, min_side);
        nic_image_free(&img);
        return NIC_OK;
    }
    st = push_image(ctx, set, &img, path);
    nic_image_free(&img);
    return st;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

nic_status nic_image_set_add(nic_context *ctx, nic_image_set *set, const char *path,
                             uint32_t min_side, unsigned flags)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return add_file(ctx, set, path, min_side, flags);

    DIR *dir = opendir(path);
    if (!dir)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot open folder: %s", path, strerror(errno));
    char **names = NULL;
    size_t count = 0, cap = 0;
    nic_status st = NIC_OK;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (e->d_name[0] == '.' || !is_image_name(e->d_name))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 256;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) {
                st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory listing %s", path);
                break;
            }
            names = nn;
        }
        if (!(names[count] = strdup(e->d_name))) {
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory listing %s", path);
            break;
        }
        count++;
    }
    closedir(dir);
    if (st == NIC_OK)
        qsort(names, count, sizeof(*names), compare_names);
    for (size_t i = 0; i < count && st == NIC_OK; i++) {
        size_t len = strlen(path) + strlen(names[i]) + 2;
        char *full = malloc(len);
        if (!full) {
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(full, len, "%s/%s", path, names[i]);
        st = add_file(ctx, set, full, min_side, flags);
        free(full);
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    if (st == NIC_OK && count == 0)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: folder holds no PNG, JPEG or PPM/PGM files", path);
    return st;
}

nic_status nic_image_set_add_list(nic_context *ctx, nic_image_set *set, const char *paths,
                                  uint32_t min_side, unsigned flags)
{
    char *copy = strdup(paths);
    if (!copy)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory");
    nic_status st = NIC_OK;
    char *save = NULL;
    for (char *p = strtok_r(copy, ":", &save); p && st == NIC_OK; p = strtok_r(NULL, ":", &save))
        st = nic_image_set_add(ctx, set, p, min_side, flags);
    free(copy);
    return st;
}

void nic_image_crop_to_float(const nic_image *img, uint32_t x0, uint32_t y0,
                             const nic_crop_options *opt, int flip, float *out)
{
    const float scale = 1.0f / 255.0f;
    size_t plane = (size_t)opt->height * opt->width;
    uint32_t ic = img->channels;
    for (uint32_t y = 0; y < opt->height; y++) {
        const uint8_t *row = img->data + ((size_t)(y0 + y) * img->width + x0) * ic;
        for (uint32_t x = 0; x < opt->width; x++) {
            uint32_t sx = flip ? opt->width - 1 - x : x;
            const uint8_t *p = row + (size_t)sx * ic;
            size_t o = (size_t)y * opt->width + x;
            if (opt->channels == 3) {
                for (uint32_t c = 0; c < 3; c++)
                    out[c * plane + o] = p[ic == 3 ? c : 0] * scale;
            } else {
                float v = ic == 3 ? (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]) : p[0];
                out[o] = v * scale;
            }
        }
    }
}

nic_status nic_image_set_sample(nic_context *ctx, const nic_image_set *set, nn_rng *rng,
                                const nic_crop_options *opt, int n, float *out)
{
    return nic_image_set_sample_range(ctx, set, rng, opt, n, 0, n, out);
}

nic_status nic_image_set_sample_range(nic_context *ctx, const nic_image_set *set, nn_rng *rng,
                                      const nic_crop_options *opt, int n, int first, int count,
                                      float *out)
{
    if (set->count == 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "image set is empty");
    if ((opt->channels != 1 && opt->channels != 3) || opt->width == 0 || opt->height == 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "bad crop options %ux%ux%u", opt->width,
                        opt->height, opt->channels);
    if (first < 0 || count < 0 || first > n || count > n - first)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "crops %d..%d are not within 0..%d", first,
                        first + count, n);
    size_t per = (size_t)opt->channels * opt->height * opt->width;
    for (int i = 0; i < n; i++) {
        /* Draw all random numbers first, in a fixed order: reproducible runs. */
        size_t k = (size_t)nn_rng_below(rng, set->count);
        const nic_image *img = &set->images[k];
        if (img->width < opt->width || img->height < opt->height)
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "%s: %ux%u is smaller than the %ux%u crop",
                            set->names[k], img->width, img->height, opt->width, opt->height);
        uint32_t x = (uint32_t)nn_rng_below(rng, img->width - opt->width + 1);
        uint32_t y = (uint32_t)nn_rng_below(rng, img->height - opt->height + 1);
        int flip = opt->flip ? (int)(nn_rng_next(rng) >> 63) : 0;
        if (i >= first && i < first + count)
            nic_image_crop_to_float(img, x, y, opt, flip, out + (size_t)(i - first) * per);
    }
    return NIC_OK;
}
