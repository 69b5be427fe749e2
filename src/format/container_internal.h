/*
 * Private helpers of the .nic container for codecs (not in the public API).
 */
#ifndef NIC_FORMAT_CONTAINER_INTERNAL_H
#define NIC_FORMAT_CONTAINER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nic.h"

/* The stream lengths as the header declares them, for a container c parsed
 * from data[0..size) (a partial parse shortens c->streams[i].size to the bytes
 * present; progressive decoders need the declared length to tell a complete
 * stream from a cut one). sizes: c->stream_count values. Fails only when c
 * does not come from data. */
nic_status nic_container_declared_sizes(nic_context *ctx, const nic_container *c,
                                        const uint8_t *data, size_t size, uint32_t *sizes);

#endif
