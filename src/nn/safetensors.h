/*
 * Weight files in the safetensors layout (https://github.com/huggingface/safetensors):
 *
 *   u64 little-endian N | N bytes of JSON header (UTF-8, padded with spaces to
 *   a multiple of 8) | data section
 *
 *   {"__metadata__": {"format": "...", "crc32": "1a2b3c4d", ...},
 *    "name": {"dtype": "F32", "shape": [128, 3, 5, 5], "data_offsets": [begin, end]}, ...}
 *
 * Offsets are relative to the data section; tensors are little-endian,
 * row-major, packed without holes. nic adds a CRC-32 (zlib polynomial) of the
 * whole data section as the metadata string "crc32" (8 lower-case hex
 * digits); the reader verifies it when present, so files from other tools
 * (without it) still load. Metadata values are strings, as the format says.
 *
 * The reader never trusts the file: every length, offset and shape is
 * checked before use, and a malformed file is an error (NIC_ERR_FORMAT or
 * NIC_ERR_CORRUPT) with its position, never a crash.
 */
#ifndef NIC_NN_SAFETENSORS_H
#define NIC_NN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/context.h"
#include "nn/tensor.h"

#define NN_ST_MAX_DIMS 8
#define NN_ST_MAX_HEADER (100u << 20)

typedef enum nn_dtype {
    NN_DTYPE_F32 = 0,
    NN_DTYPE_F64,
    NN_DTYPE_F16,
    NN_DTYPE_BF16,
    NN_DTYPE_I64,
    NN_DTYPE_I32,
    NN_DTYPE_I16,
    NN_DTYPE_I8,
    NN_DTYPE_U8,
    NN_DTYPE_BOOL,
    NN_DTYPE_COUNT
} nn_dtype;

const char *nn_dtype_name(nn_dtype t);
size_t nn_dtype_size(nn_dtype t);

typedef struct nn_st_tensor {
    char *name;
    nn_dtype dtype;
    int ndim;
    int64_t shape[NN_ST_MAX_DIMS];
    uint64_t count;         /* elements */
    uint64_t begin, end;    /* bytes, relative to the data section */
    const uint8_t *data;    /* into the file buffer */
} nn_st_tensor;

typedef struct nn_st_meta {
    char *key;
    char *value;
} nn_st_meta;

typedef struct nn_st_file {
    uint8_t *buf; /* whole file (owned) */
    size_t size;
    size_t data_offset; /* start of the data section in buf */
    nn_st_tensor *tensors;
    int tensor_count;
    nn_st_meta *meta;
    int meta_count;
    int has_checksum; /* a crc32 entry was present (and matched) */
} nn_st_file;

/* Parses a copy of data[0..size). name is used in messages. */
nic_status nn_st_parse(nic_context *ctx, const void *data, size_t size, const char *name,
                       nn_st_file *out);
nic_status nn_st_read_file(nic_context *ctx, const char *path, nn_st_file *out);
void nn_st_free(nn_st_file *f);
const nn_st_tensor *nn_st_find(const nn_st_file *f, const char *name);
const char *nn_st_get_meta(const nn_st_file *f, const char *key);
/* Copies tensor `name` (F32 or F64) into dst, converting; its element count
 * must be `count`. */
nic_status nn_st_read_f32(nic_context *ctx, const nn_st_file *f, const char *name, float *dst,
                          size_t count);
nic_status nn_st_read_f64(nic_context *ctx, const nn_st_file *f, const char *name, double *dst,
                          size_t count);

/* Writer: collects tensors (pointers kept, not copied) and metadata, then
 * writes everything atomically: path.tmp, fsync, rename. */
typedef struct nn_st_writer {
    nn_st_tensor *tensors;
    int tensor_count, tensor_cap;
    nn_st_meta *meta;
    int meta_count, meta_cap;
    uint64_t data_size;
} nn_st_writer;

void nn_st_writer_init(nn_st_writer *w);
void nn_st_writer_free(nn_st_writer *w);
nic_status nn_st_writer_add(nic_context *ctx, nn_st_writer *w, const char *name, nn_dtype dtype,
                            int ndim, const int64_t *shape, const void *data);
nic_status nn_st_writer_meta(nic_context *ctx, nn_st_writer *w, const char *key,
                             const char *value);
/* Serializes to memory (malloc'ed, free with free()). Adds the crc32 entry. */
nic_status nn_st_writer_encode(nic_context *ctx, nn_st_writer *w, uint8_t **out, size_t *size);
nic_status nn_st_writer_write(nic_context *ctx, nn_st_writer *w, const char *path);

/* Writes buf to path atomically (path.tmp + fsync + rename). */
nic_status nn_write_file_atomic(nic_context *ctx, const char *path, const void *buf, size_t size);

/* Weights only: every parameter of p as an F32 tensor under its own name. */
nic_status nn_weights_save(nic_context *ctx, const char *path, const nn_params *p);
/* Loads every parameter of p (allocated) from path; names and shapes must
 * match; extra tensors in the file are an error. */
nic_status nn_weights_load(nic_context *ctx, const char *path, nn_params *p);
/* The same, also accepting tensors whose names begin with one of
 * extra_prefixes (a NULL-terminated list, e.g. the entropy tables "z_tables."
 * of an exported model file; NULL: none). */
nic_status nn_weights_load_ex(nic_context *ctx, const char *path, nn_params *p,
                              const char *const *extra_prefixes);

#endif
