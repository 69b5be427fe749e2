/*
 * nic — a learned image codec for tiny data budgets.
 *
 * Public API of libnic. Everything declared here is stable within a major
 * version; everything under src/ is private.
 *
 * Conventions
 *  - Every fallible call returns a nic_status. NIC_OK (0) is success; any
 *    other value is an error whose message, with context (file, offset,
 *    expected vs found), is kept in the nic_context and read with
 *    nic_context_error().
 *  - The library never prints and never exits. Warnings (for example, an
 *    alpha channel that is not coded) go to the context's log callback.
 *  - There is no global mutable state: all state lives in a nic_context.
 *    Two threads may use two contexts at once; one context is not
 *    thread-safe.
 */
#ifndef NIC_H
#define NIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NIC_BUILDING_LIBRARY) && defined(__GNUC__)
#define NIC_API __attribute__((visibility("default")))
#else
#define NIC_API
#endif

#define NIC_VERSION_MAJOR 0
#define NIC_VERSION_MINOR 1
#define NIC_VERSION_PATCH 0
#define NIC_VERSION_STRING "0.1.0"

/* Version of the library actually linked, as (major << 16) | (minor << 8) | patch. */
NIC_API int nic_version(void);
NIC_API const char *nic_version_string(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

typedef enum nic_status {
    NIC_OK = 0,
    NIC_ERR_INVALID_ARGUMENT = 1, /* the caller passed something unusable */
    NIC_ERR_IO = 2,               /* open/read/write failed (errno text in message) */
    NIC_ERR_FORMAT = 3,           /* input data is malformed or truncated */
    NIC_ERR_UNSUPPORTED = 4,      /* well-formed input that nic does not handle */
    NIC_ERR_LIMIT = 5,            /* input exceeds a configured limit (e.g. pixels) */
    NIC_ERR_NOMEM = 6,            /* allocation failed */
    NIC_ERR_MISMATCH = 7,         /* inputs do not fit together (e.g. sizes differ) */
    NIC_ERR_CORRUPT = 8,          /* integrity check failed (checksum) */
    NIC_ERR_INTERNAL = 9,         /* a bug in nic: please report */
    NIC_ERR_ABORTED = 10          /* the context's abort callback asked to stop */
} nic_status;

/* Short stable name of a status, e.g. "format". Never NULL. */
NIC_API const char *nic_status_name(nic_status status);

/* ------------------------------------------------------------------ */
/* Context                                                             */
/* ------------------------------------------------------------------ */

typedef struct nic_context nic_context;

typedef enum nic_log_level {
    NIC_LOG_DEBUG = 0,
    NIC_LOG_INFO = 1,
    NIC_LOG_WARNING = 2
} nic_log_level;

typedef void (*nic_log_fn)(void *user, nic_log_level level, const char *message);

/* Returns NULL only when memory is exhausted. */
NIC_API nic_context *nic_context_create(void);
NIC_API void nic_context_destroy(nic_context *ctx);

/* Message of the last error recorded in ctx ("" when none). Valid until the
 * next call that uses ctx. */
NIC_API const char *nic_context_error(const nic_context *ctx);
NIC_API nic_status nic_context_status(const nic_context *ctx);
NIC_API void nic_context_clear_error(nic_context *ctx);

/* Receives warnings and informational messages; NULL discards them. */
NIC_API void nic_context_set_log(nic_context *ctx, nic_log_fn fn, void *user);

/* Called at safe points of long operations (between network layers, between
 * the trial encodes of a byte budget); a nonzero return stops the operation
 * with NIC_ERR_ABORTED and nothing is returned. A server uses it for
 * per-request deadlines. NULL (the default) never aborts. */
typedef int (*nic_abort_fn)(void *user);
NIC_API void nic_context_set_abort(nic_context *ctx, nic_abort_fn fn, void *user);

/* Progress of long operations (a byte budget's search over picture sizes and
 * qualities, the encoder's refinement): `what` says what is being done now,
 * e.g. "budget 2000 B: coding 614x410", and `step` counts from 1 within the
 * operation (how many steps there will be is not known in advance). Called
 * before each step. NULL (the default) reports nothing. */
typedef void (*nic_progress_fn)(void *user, const char *what, int step);
NIC_API void nic_context_set_progress(nic_context *ctx, nic_progress_fn fn, void *user);

/* Largest image accepted by readers, in pixels (default 2^27, about 134 MP)
 * and per side (default 65535). Checked before any pixel buffer is
 * allocated, so absurd headers fail fast. */
NIC_API void nic_context_set_max_pixels(nic_context *ctx, uint64_t max_pixels);
NIC_API void nic_context_set_max_dimension(nic_context *ctx, uint32_t max_side);

/* ------------------------------------------------------------------ */
/* Images                                                              */
/* ------------------------------------------------------------------ */

/* An 8-bit interleaved image, rows top to bottom, no padding between rows.
 * channels is 1 (gray) or 3 (RGB). Alpha is never stored: readers drop it
 * and say so through the log callback. */
typedef struct nic_image {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    uint8_t *data; /* width * height * channels bytes */
} nic_image;

typedef enum nic_image_format {
    NIC_FORMAT_UNKNOWN = 0,
    NIC_FORMAT_PNG,
    NIC_FORMAT_JPEG,
    NIC_FORMAT_PNM, /* PPM (P3/P6) or PGM (P2/P5) */
    NIC_FORMAT_NIC
} nic_image_format;

/* What a reader found in the source file, beyond the pixels. */
typedef struct nic_image_info {
    nic_image_format format;
    uint32_t source_bit_depth; /* 1..16 */
    uint32_t source_channels;  /* before alpha was dropped / CMYK converted */
    int had_alpha;             /* an alpha channel was present and dropped */
    int orientation;           /* EXIF orientation found (1..8), already applied */
} nic_image_info;

/* Allocates width*height*channels bytes (zeroed). */
NIC_API nic_status nic_image_alloc(nic_context *ctx, nic_image *img, uint32_t width,
                                   uint32_t height, uint32_t channels);
NIC_API void nic_image_free(nic_image *img);

/* Detects the format from the first bytes (not the name). */
NIC_API nic_image_format nic_image_detect_format(const void *data, size_t size);
NIC_API const char *nic_image_format_name(nic_image_format format);

/* Reads PNG, JPEG, PPM or PGM. 16-bit samples are rounded to 8 bits; JPEG
 * EXIF orientation is applied so the picture is upright. info may be NULL. */
NIC_API nic_status nic_image_read_file(nic_context *ctx, const char *path, nic_image *img,
                                       nic_image_info *info);
/* Same, from memory; name is used in error messages (may be NULL). */
NIC_API nic_status nic_image_read_memory(nic_context *ctx, const void *data, size_t size,
                                         const char *name, nic_image *img,
                                         nic_image_info *info);

/* Writes by the path's extension: .png, .ppm/.pgm/.pnm, .jpg/.jpeg. */
NIC_API nic_status nic_image_write_file(nic_context *ctx, const char *path,
                                        const nic_image *img);
NIC_API nic_status nic_image_write_png(nic_context *ctx, const char *path, const nic_image *img);
NIC_API nic_status nic_image_write_pnm(nic_context *ctx, const char *path, const nic_image *img);
/* quality 1..100 (libjpeg scale), Huffman tables optimized. */
NIC_API nic_status nic_image_write_jpeg(nic_context *ctx, const char *path, const nic_image *img,
                                        int quality);
/* PNG into a malloc'ed buffer (free with free()). */
NIC_API nic_status nic_image_encode_png(nic_context *ctx, const nic_image *img, uint8_t **out,
                                        size_t *out_size);

/* ------------------------------------------------------------------ */
/* Quality metrics (see docs/METRICS.md for exact definitions)         */
/* ------------------------------------------------------------------ */

typedef struct nic_quality {
    double psnr_rgb;  /* dB over all channels, peak 255; INFINITY when identical */
    double psnr_luma; /* dB on Y = 0.299 R + 0.587 G + 0.114 B (float) */
    double ssim;      /* luma, Gaussian window 11 taps sigma 1.5 (Wang et al. 2004);
                         NAN when a side is under 11 pixels */
    double ms_ssim;   /* luma, 5 scales, Wang et al. 2003 weights; NAN when a side is
                         under 176 pixels (the coarsest scale needs 11) */
} nic_quality;

/* Both images must have the same width and height. A gray image compared with
 * an RGB one is treated as R = G = B. */
NIC_API nic_status nic_compare(nic_context *ctx, const nic_image *a, const nic_image *b,
                               nic_quality *out);

/* Bits per pixel of a file of `bytes` bytes for a width x height image;
 * NAN when width or height is 0. */
NIC_API double nic_bits_per_pixel(uint64_t bytes, uint32_t width, uint32_t height);

/* ------------------------------------------------------------------ */
/* The .nic container (docs/FORMAT.md)                                 */
/* ------------------------------------------------------------------ */
/* A .nic file holds the header fields below, the codec's parameters and its
 * entropy-coded streams (opaque to the container), and a CRC-32 of it all.
 * Parsing never allocates: the parsed struct points into the caller's
 * buffer. Writing validates every field, so a written file always parses. */

#define NIC_CONTAINER_VERSION 1     /* the format version this library writes */
#define NIC_CONTAINER_MAX_STREAMS 32
#define NIC_CONTAINER_MAGIC0 0x4E   /* 'N' */
#define NIC_CONTAINER_MAGIC1 0xC9   /* a byte with the high bit set */

typedef struct nic_stream {
    const uint8_t *data;
    size_t size;
    size_t offset; /* where it starts in the file (set by parse and write) */
} nic_stream;

typedef struct nic_container {
    uint32_t version;         /* NIC_CONTAINER_VERSION */
    uint32_t model_id;        /* which codec/model decodes the streams */
    uint32_t weights_hash;    /* identifies the exact weights of that model */
    uint32_t width;           /* the coded image, 1..2^32 - 1 */
    uint32_t height;
    uint32_t channels;        /* 1..4 */
    uint32_t original_width;  /* size to restore after decoding; 0 = width/height */
    uint32_t original_height;
    uint32_t orientation;     /* EXIF 1..8 to apply after decoding; 1 = as coded */
    const uint8_t *params;    /* coding parameters (quality, steps...), codec-defined */
    size_t params_size;
    uint32_t stream_count;    /* 0..NIC_CONTAINER_MAX_STREAMS */
    nic_stream streams[NIC_CONTAINER_MAX_STREAMS];
    /* Set by parse and write: */
    uint32_t crc;             /* the stored CRC-32 */
    size_t header_size;       /* bytes before the first stream */
    size_t file_size;         /* as declared by the header (may exceed the data if truncated) */
    int truncated;            /* only with NIC_CONTAINER_ALLOW_TRUNCATED */
} nic_container;

/* Parse flag: accept a file cut short inside its streams (progressive
 * decoding of a partial transfer): streams are shortened to what is there,
 * `truncated` is set and the CRC is not checked. The header must be whole. */
#define NIC_CONTAINER_ALLOW_TRUNCATED 1u

/* Zeroes c and sets version, channels = 3 and orientation = 1. */
NIC_API void nic_container_init(nic_container *c);

/* Parses and checks a whole .nic file in memory: magic, version, every
 * field, stream lengths, CRC, then dimensions against the context's limits.
 * name is used in messages (may be NULL). */
NIC_API nic_status nic_container_parse(nic_context *ctx, const void *data, size_t size,
                                       const char *name, unsigned flags, nic_container *out);

/* Reads a whole file (at most 256 MiB) into *data (free with free()) and
 * parses it into *out, which points into *data. */
NIC_API nic_status nic_container_read_file(nic_context *ctx, const char *path, unsigned flags,
                                           uint8_t **data, size_t *size, nic_container *out);

/* Serializes c into a malloc'ed buffer (free with free()). Fills c's crc,
 * header_size, file_size and stream offsets. */
NIC_API nic_status nic_container_write(nic_context *ctx, nic_container *c, uint8_t **out,
                                       size_t *out_size);
NIC_API nic_status nic_container_write_file(nic_context *ctx, const char *path,
                                            nic_container *c);

/* Bytes of a file that are neither parameters nor stream data. */
NIC_API size_t nic_container_overhead(const nic_container *c);

/* ------------------------------------------------------------------ */
/* Encoding and decoding (docs/CODEC.md)                               */
/* ------------------------------------------------------------------ */

typedef struct nic_encode_options {
    const char *model;   /* model name: "hyper" (NULL: the default), "hyper-msssim" (tuned for
                            MS-SSIM), "rnn" or "rnn+cnn" (progressive) */
    double quality;      /* 0 (smallest) .. 100; used when bpp and max_bytes are 0 */
    double bpp;          /* > 0: the largest file with at most this many bits per pixel */
    uint64_t max_bytes;  /* > 0: the best file of at most this many bytes, headers included */
    int allow_downscale; /* with a budget: code a smaller picture when even the lowest
                            quality does not fit (the decoder scales it back); default 1 */
    int layers;          /* progressive models (rnn): > 0 codes this many layers (at most
                            as many as fit a budget); 0 = from quality */
    int refine;          /* hyper: > 0 refines the latent for the chosen quality with this
                            many gradient steps (slower encoding, same decoder); 0 = off */
} nic_encode_options;

typedef struct nic_encode_result {
    size_t bytes;           /* size of the file */
    double bpp;             /* bits per pixel of the original image */
    int quality_index;      /* hyper: 0..255 as stored in the file; rnn: the layers */
    uint32_t coded_width;   /* the picture actually coded (smaller when downscaled) */
    uint32_t coded_height;
} nic_encode_result;

/* quality 50, no budget, downscaling allowed, default model. */
NIC_API void nic_encode_options_init(nic_encode_options *options);

/* Encodes img into a malloc'ed .nic file (free with free()). result may be NULL.
 * Fails with NIC_ERR_LIMIT when a budget cannot be met at any scale. */
NIC_API nic_status nic_encode(nic_context *ctx, const nic_image *img,
                              const nic_encode_options *options, uint8_t **out,
                              size_t *out_size, nic_encode_result *result);

/* Decodes a .nic file (name is used in messages; may be NULL) into an image of
 * the original size. A progressive (rnn) file cut short decodes from the
 * layers it holds, with a warning (see nic_decode_ex). */
NIC_API nic_status nic_decode(nic_context *ctx, const void *data, size_t size, const char *name,
                              nic_image *out);

typedef struct nic_decode_options {
    int max_layers;    /* progressive files: decode at most this many layers (0 = all) */
    int allow_partial; /* progressive files cut short (a partial transfer): decode the
                          complete layers there are, warn through the log; default 1 */
} nic_decode_options;

typedef struct nic_decode_result {
    int layers_total;     /* layers the file declares (0: not a progressive file) */
    int layers_decoded;   /* layers that made the picture */
    int truncated;        /* the data ends before the end the header declares */
    size_t bytes_missing; /* how many bytes are missing then */
} nic_decode_result;

/* max_layers 0, allow_partial 1. */
NIC_API void nic_decode_options_init(nic_decode_options *options);
/* nic_decode with options (NULL: defaults); result may be NULL. */
NIC_API nic_status nic_decode_ex(nic_context *ctx, const void *data, size_t size,
                                 const char *name, const nic_decode_options *options,
                                 nic_image *out, nic_decode_result *result);

/* Folder to look for model files (NAME.safetensors) first. Default search:
 * $NIC_MODEL_DIR, the source tree's models/ (for a build tree), then the
 * installed share/nic/models. */
NIC_API nic_status nic_context_set_model_dir(nic_context *ctx, const char *dir);

/* A model loaded once and shared by several contexts, for example one per
 * thread of a server. Its weights and tables are read-only after loading;
 * each context keeps its own scratch (convolution plans, the engine), so two
 * threads with two contexts may encode and decode with one model at once. */
typedef struct nic_model nic_model;

typedef struct nic_model_info {
    const char *name;      /* "hyper" */
    const char *path;      /* the file it was loaded from */
    uint32_t model_id;     /* as stored in .nic files */
    uint32_t weights_hash; /* as stored in .nic files made with it */
    uint64_t parameters;   /* number of weights */
} nic_model_info;

/* Loads model `name` (NULL = "hyper") from ctx's model search path. */
NIC_API nic_status nic_model_load(nic_context *ctx, const char *name, nic_model **out);
/* Frees the model; every context using it must be destroyed first. */
NIC_API void nic_model_free(nic_model *model);
NIC_API void nic_model_get_info(const nic_model *model, nic_model_info *info);
/* Makes ctx encode and decode with model (instead of loading its own copy).
 * The model must outlive ctx. */
NIC_API nic_status nic_context_use_model(nic_context *ctx, nic_model *model);

#ifdef __cplusplus
}
#endif

#endif /* NIC_H */
