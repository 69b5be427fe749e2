/* The one zlib function libnic uses, CRC-32 (zlib's polynomial, the same
 * values), for the wasm build, which has no zlib. Only that build puts this
 * folder on the include path. */
#ifndef NIC_WASM_COMPAT_ZLIB_H
#define NIC_WASM_COMPAT_ZLIB_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned long uLong;
typedef unsigned int uInt;
typedef unsigned char Bytef;
#define Z_NULL 0

/* Table-driven, reflected polynomial 0xEDB88320. The table is rebuilt per
 * call (2 K steps, nothing global); calls are few and long (model loading,
 * file checks). */
static inline uLong crc32(uLong crc, const Bytef *buf, uInt len)
{
    if (!buf)
        return 0;
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        table[i] = c;
    }
    uint32_t c = ~(uint32_t)crc;
    for (uInt i = 0; i < len; i++)
        c = table[(c ^ buf[i]) & 0xffu] ^ (c >> 8);
    return ~c;
}

#endif
