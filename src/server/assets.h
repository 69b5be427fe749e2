/* Files the server sends from memory: the web page and, when emscripten was
 * there at build time, the WebAssembly decoder. The table is generated at
 * build time (cmake/embed.cmake) from src/server/web/ and the wasm build. */
#ifndef NIC_SERVER_ASSETS_H
#define NIC_SERVER_ASSETS_H

#include <stddef.h>

typedef struct serve_asset {
    const char *path; /* URL path, e.g. "/" or "/nic-decoder.wasm" */
    const char *content_type;
    const unsigned char *data;
    size_t size;
} serve_asset;

extern const serve_asset serve_assets[];
extern const size_t serve_asset_count;

#endif
