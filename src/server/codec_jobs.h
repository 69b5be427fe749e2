/* The work behind POST /v1/encode and POST /v1/decode, run in a worker
 * thread with that worker's context. Inputs come from memory only. */
#ifndef NIC_SERVER_CODEC_JOBS_H
#define NIC_SERVER_CODEC_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "nic.h"
#include "server/reply.h"

typedef struct encode_params {
    uint64_t max_bytes; /* 0 = use quality */
    double quality;     /* 0..100 */
    char model[32];
    int metrics; /* also decode and measure PSNR / MS-SSIM, and hash the pixels */
} encode_params;

void serve_encode(nic_context *ctx, const uint8_t *body, size_t size, const encode_params *p,
                  serve_reply *r);
void serve_decode(nic_context *ctx, const uint8_t *body, size_t size, serve_reply *r);

#endif
