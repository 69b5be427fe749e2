/*
 * Unsigned LEB128 varints as the .nic container uses them: 7 bits per byte,
 * least significant group first, high bit set on every byte but the last;
 * values below 2^32, so at most 5 bytes; only the shortest encoding is valid.
 */
#ifndef NIC_FORMAT_VARINT_H
#define NIC_FORMAT_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define NIC_VARINT_MAX_BYTES 5
#define NIC_VARINT_TRUNCATED 0    /* the data ends inside the varint */
#define NIC_VARINT_TOO_LONG (-1)  /* more than 5 bytes, or >= 2^32 */
#define NIC_VARINT_OVERLONG (-2)  /* not the shortest encoding */

/* Writes v into out (room for 5 bytes); returns the bytes written. */
static inline size_t nic_varint_write(uint8_t *out, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static inline size_t nic_varint_size(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Returns the bytes read (1..5), or one of the NIC_VARINT_* codes. */
static inline int nic_varint_read(const uint8_t *p, size_t avail, uint32_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < NIC_VARINT_MAX_BYTES; i++) {
        if ((size_t)i >= avail)
            return NIC_VARINT_TRUNCATED;
        uint8_t b = p[i];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (v > UINT32_MAX)
                return NIC_VARINT_TOO_LONG;
            if (i > 0 && b == 0)
                return NIC_VARINT_OVERLONG;
            *out = (uint32_t)v;
            return i + 1;
        }
    }
    return NIC_VARINT_TOO_LONG;
}

#endif
