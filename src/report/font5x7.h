/* The bitmap font of the PNG plots (report/plot.c). */
#ifndef NIC_REPORT_FONT5X7_H
#define NIC_REPORT_FONT5X7_H

#include <stdint.h>

#define NIC_FONT_FIRST 32 /* ' ' */
#define NIC_FONT_GLYPHS 95 /* ' ' .. '~' */
#define NIC_FONT_WIDTH 5
#define NIC_FONT_HEIGHT 7

extern const uint8_t nic_font5x7[NIC_FONT_GLYPHS][NIC_FONT_HEIGHT];

#endif
