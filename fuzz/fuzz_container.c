/*
 * Fuzz target: the .nic container parser (nic_container_parse), strict and
 * with NIC_CONTAINER_ALLOW_TRUNCATED. Property: a file that parses is in
 * its one canonical form, so writing the parsed fields back gives the same
 * bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nic_context *ctx = nic_context_create();
    if (!ctx)
        return 0;
    nic_container c;
    if (nic_container_parse(ctx, data, size, "fuzz", 0, &c) == NIC_OK) {
        uint8_t *out;
        size_t out_size;
        if (nic_container_write(ctx, &c, &out, &out_size) != NIC_OK)
            abort(); /* a parsed file must be writable */
        if (out_size != size || memcmp(out, data, size) != 0)
            abort(); /* and written back byte for byte */
        free(out);
    } else if (nic_context_error(ctx)[0] == '\0') {
        abort(); /* every failure has a message */
    }
    if (nic_container_parse(ctx, data, size, "fuzz", NIC_CONTAINER_ALLOW_TRUNCATED, &c) ==
        NIC_OK) {
        size_t total = 0;
        for (uint32_t i = 0; i < c.stream_count; i++) {
            /* Streams lie inside the input. */
            if (c.streams[i].size && (c.streams[i].data < data ||
                                      c.streams[i].data + c.streams[i].size > data + size))
                abort();
            total += c.streams[i].size;
        }
        if (total > size)
            abort();
    }
    nic_context_destroy(ctx);
    return 0;
}
