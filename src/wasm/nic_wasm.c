/*
 * The decoder as a WebAssembly module (scripts/build-wasm.sh, `make wasm`):
 * the library's own nic_decode, compiled without oneDNN, libpng, libjpeg,
 * zlib or OpenMP, so the browser runs the same deterministic decoder as the
 * native tool and gets the same pixels (tests/wasm checks it).
 *
 * JavaScript writes the model file into the module's in-memory file system
 * (/models/NAME.safetensors), then calls nicw_decode and reads the pixels.
 */
#include <emscripten.h>
#include <stdlib.h>
#include <string.h>

#include "nic.h"

typedef struct nicw_state {
    nic_context *ctx;
    nic_image img;
} nicw_state;

EMSCRIPTEN_KEEPALIVE nicw_state *nicw_open(const char *model_dir)
{
    nicw_state *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->ctx = nic_context_create();
    if (!s->ctx || nic_context_set_model_dir(s->ctx, model_dir) != NIC_OK) {
        nic_context_destroy(s->ctx);
        free(s);
        return NULL;
    }
    return s;
}

/* Decodes a whole .nic file; 0 on success, else a nic_status (see nicw_error). */
EMSCRIPTEN_KEEPALIVE int nicw_decode(nicw_state *s, const uint8_t *data, size_t size)
{
    nic_image_free(&s->img);
    return (int)nic_decode(s->ctx, data, size, "file", &s->img);
}

EMSCRIPTEN_KEEPALIVE const char *nicw_error(nicw_state *s)
{
    return nic_context_error(s->ctx);
}

EMSCRIPTEN_KEEPALIVE uint32_t nicw_width(nicw_state *s)
{
    return s->img.width;
}

EMSCRIPTEN_KEEPALIVE uint32_t nicw_height(nicw_state *s)
{
    return s->img.height;
}

EMSCRIPTEN_KEEPALIVE uint32_t nicw_channels(nicw_state *s)
{
    return s->img.channels;
}

/* width * height * channels bytes, rows top to bottom. */
EMSCRIPTEN_KEEPALIVE const uint8_t *nicw_pixels(nicw_state *s)
{
    return s->img.data;
}

EMSCRIPTEN_KEEPALIVE void nicw_close(nicw_state *s)
{
    if (!s)
        return;
    nic_image_free(&s->img);
    nic_context_destroy(s->ctx);
    free(s);
}
