/*
 * Line charts for reports: per-epoch curves, rate-distortion curves.
 *
 * A chart is a few series of (x, y) points drawn as lines and/or markers on
 * linear axes with "nice" ticks (1, 2, 5 x 10^k), a title, axis labels and a
 * legend. The same chart renders to SVG (text as text) and to an RGB image
 * (anti-aliased lines, a built-in 5 x 7 bitmap font; written as PNG with
 * libpng), so that Markdown reports and tools without an SVG viewer both
 * get a picture. Non-finite points are skipped (a line breaks there).
 * Text in PNGs is ASCII (other characters show as '?').
 */
#ifndef NIC_REPORT_PLOT_H
#define NIC_REPORT_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "nic.h"

#define NIC_PLOT_MAX_SERIES 12

enum {
    NIC_PLOT_LINE = 1u << 0,
    NIC_PLOT_MARKERS = 1u << 1,
    NIC_PLOT_DASHED = 1u << 2 /* with NIC_PLOT_LINE */
};

typedef struct nic_plot_series {
    const char *label; /* NULL or "": not in the legend */
    const double *x, *y;
    size_t count;
    uint32_t color;    /* 0xRRGGBB; 0 picks the next colour of the palette */
    unsigned style;    /* NIC_PLOT_* flags; 0 = line */
} nic_plot_series;

enum { NIC_PLOT_LEGEND_TOP_RIGHT = 0, NIC_PLOT_LEGEND_BOTTOM_RIGHT, NIC_PLOT_LEGEND_TOP_LEFT,
       NIC_PLOT_LEGEND_BOTTOM_LEFT,
       NIC_PLOT_LEGEND_OUTSIDE /* a column right of the plot area, which narrows */ };

typedef struct nic_plot {
    const char *title, *x_label, *y_label;
    double x_min, x_max, y_min, y_max; /* NAN (the default): fitted to the data */
    int legend;                        /* NIC_PLOT_LEGEND_* */
    int width, height;                 /* pixels; 0 = 720 x 440 */
    nic_plot_series series[NIC_PLOT_MAX_SERIES];
    int series_count;
} nic_plot;

/* Empty chart with automatic ranges. */
void nic_plot_init(nic_plot *p, const char *title, const char *x_label, const char *y_label);
/* Appends a series (the arrays are referenced, not copied). */
nic_status nic_plot_add(nic_context *ctx, nic_plot *p, const char *label, const double *x,
                        const double *y, size_t count, unsigned style, uint32_t color);

/* SVG document (NUL-terminated, malloc'ed) and RGB image (malloc'ed pixels). */
nic_status nic_plot_svg(nic_context *ctx, const nic_plot *p, char **svg, size_t *size);
nic_status nic_plot_raster(nic_context *ctx, const nic_plot *p, nic_image *out);

/* Both at once: BASE.svg and BASE.png. */
nic_status nic_plot_write(nic_context *ctx, const nic_plot *p, const char *base);

#endif
