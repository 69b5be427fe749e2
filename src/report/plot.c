#include "report/plot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/context.h"
#include "image/image_internal.h"
#include "report/font5x7.h"
#include "report/text.h"

#define DEFAULT_WIDTH 720
#define DEFAULT_HEIGHT 440
#define TEXT_SCALE 2            /* raster text: 5 x 7 glyphs drawn 2 x 2 */
#define GLYPH_ADVANCE 6         /* 5 columns + 1 of spacing */
#define LINE_RADIUS 1.1         /* half the width of a series line, pixels */
#define MARKER_RADIUS 4.0
#define DASH_ON 8.0
#define DASH_PERIOD 13.0

static const uint32_t palette[] = {0x1f77b4, 0xd62728, 0x2ca02c, 0xff7f0e, 0x9467bd, 0x8c564b,
                                   0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
#define PALETTE_SIZE (sizeof(palette) / sizeof(palette[0]))

void nic_plot_init(nic_plot *p, const char *title, const char *x_label, const char *y_label)
{
    memset(p, 0, sizeof(*p));
    p->title = title;
    p->x_label = x_label;
    p->y_label = y_label;
    p->x_min = p->x_max = p->y_min = p->y_max = NAN;
}

nic_status nic_plot_add(nic_context *ctx, nic_plot *p, const char *label, const double *x,
                        const double *y, size_t count, unsigned style, uint32_t color)
{
    if (p->series_count >= NIC_PLOT_MAX_SERIES)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "plot '%s': more than %d series",
                        p->title ? p->title : "", NIC_PLOT_MAX_SERIES);
    nic_plot_series *s = &p->series[p->series_count];
    s->label = label;
    s->x = x;
    s->y = y;
    s->count = count;
    s->style = style ? style : NIC_PLOT_LINE;
    s->color = color ? color : palette[p->series_count % PALETTE_SIZE];
    p->series_count++;
    return NIC_OK;
}

/* ---------------------------------------------------------------- layout */

typedef struct axis {
    double lo, hi, step; /* range and tick spacing */
    int decimals;
} axis;

typedef struct layout {
    int w, h;
    double x0, x1, y0, y1; /* plot area in pixels (y0 top) */
    axis ax, ay;
} layout;

static double nice_step(double range)
{
    double raw = range / 5.0;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * mag;
}

static void make_axis(double dmin, double dmax, double fixed_min, double fixed_max, axis *a)
{
    double lo = isfinite(fixed_min) ? fixed_min : dmin;
    double hi = isfinite(fixed_max) ? fixed_max : dmax;
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (hi - lo <= fabs(hi) * 1e-12) {
        double pad = lo != 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    }
    a->step = nice_step(hi - lo);
    /* Automatic ends snap outwards to a tick. */
    if (!isfinite(fixed_min))
        lo = floor(lo / a->step + 1e-9) * a->step;
    if (!isfinite(fixed_max))
        hi = ceil(hi / a->step - 1e-9) * a->step;
    a->lo = lo;
    a->hi = hi;
    int d = (int)-floor(log10(a->step) + 1e-9);
    a->decimals = d < 0 ? 0 : (d > 6 ? 6 : d);
}

static void data_range(const nic_plot *p, int which, double *mn, double *mx)
{
    *mn = INFINITY;
    *mx = -INFINITY;
    for (int s = 0; s < p->series_count; s++) {
        const double *v = which ? p->series[s].y : p->series[s].x;
        for (size_t i = 0; i < p->series[s].count; i++) {
            if (!isfinite(p->series[s].x[i]) || !isfinite(p->series[s].y[i]))
                continue;
            *mn = fmin(*mn, v[i]);
            *mx = fmax(*mx, v[i]);
        }
    }
}

/* Characters drawn: one per code point; non-ASCII as '?'. */
static size_t text_glyphs(const char *t)
{
    size_t n = 0;
    for (; *t; t++)
        if (((unsigned char)*t & 0xc0) != 0x80)
            n++;
    return n;
}

/* Width in pixels of the legend box (raster text; SVG text is narrower). */
static double legend_width(const nic_plot *p)
{
    size_t longest = 0;
    for (int s = 0; s < p->series_count; s++)
        if (p->series[s].label && *p->series[s].label) {
            size_t n = text_glyphs(p->series[s].label);
            longest = n > longest ? n : longest;
        }
    return longest ? 46.0 + (double)(longest * GLYPH_ADVANCE - 1) * TEXT_SCALE : 0;
}

static void make_layout(const nic_plot *p, layout *l)
{
    l->w = p->width > 0 ? p->width : DEFAULT_WIDTH;
    l->h = p->height > 0 ? p->height : DEFAULT_HEIGHT;
    l->x0 = 96;
    l->x1 = l->w - 24;
    double lw = legend_width(p);
    if (p->legend == NIC_PLOT_LEGEND_OUTSIDE && lw > 0)
        l->x1 = fmax(l->x0 + 50, l->x1 - lw - 12);
    l->y0 = 44;
    l->y1 = l->h - 64;
    double mn, mx;
    data_range(p, 0, &mn, &mx);
    make_axis(mn, mx, p->x_min, p->x_max, &l->ax);
    data_range(p, 1, &mn, &mx);
    make_axis(mn, mx, p->y_min, p->y_max, &l->ay);
}

static double map_x(const layout *l, double x)
{
    return l->x0 + (x - l->ax.lo) / (l->ax.hi - l->ax.lo) * (l->x1 - l->x0);
}

static double map_y(const layout *l, double y)
{
    return l->y1 - (y - l->ay.lo) / (l->ay.hi - l->ay.lo) * (l->y1 - l->y0);
}

/* Tick k of an axis, or 0 when past its end. */
static int tick(const axis *a, int k, double *v)
{
    double first = ceil(a->lo / a->step - 1e-9) * a->step;
    *v = first + k * a->step;
    if (fabs(*v) < a->step * 1e-9)
        *v = 0;
    return *v <= a->hi + a->step * 1e-9 && k < 100;
}

static void format_tick(const axis *a, double v, char *buf, size_t cap)
{
    if (fabs(v) >= 1e6)
        snprintf(buf, cap, "%.3g", v);
    else
        snprintf(buf, cap, "%.*f", a->decimals, v);
}

/* Top-left corner of a legend box of bw x bh in the plot area. */
static void legend_origin(const nic_plot *p, const layout *l, double bw, double bh, double *bx,
                          double *by)
{
    if (p->legend == NIC_PLOT_LEGEND_OUTSIDE) {
        *bx = l->x1 + 12;
        *by = l->y0;
        return;
    }
    int right = p->legend == NIC_PLOT_LEGEND_TOP_RIGHT || p->legend == NIC_PLOT_LEGEND_BOTTOM_RIGHT;
    int top = p->legend == NIC_PLOT_LEGEND_TOP_RIGHT || p->legend == NIC_PLOT_LEGEND_TOP_LEFT;
    *bx = right ? l->x1 - bw - 8 : l->x0 + 8;
    *by = top ? l->y0 + 8 : l->y1 - bh - 8;
}

/* Clips the segment a-b to the rectangle (Liang-Barsky); 0 when nothing is left. */
static int clip_segment(double *ax, double *ay, double *bx, double *by, double x0, double y0,
                        double x1, double y1)
{
    double t0 = 0, t1 = 1, dx = *bx - *ax, dy = *by - *ay;
    const double pk[4] = {-dx, dx, -dy, dy};
    const double qk[4] = {*ax - x0, x1 - *ax, *ay - y0, y1 - *ay};
    for (int k = 0; k < 4; k++) {
        if (pk[k] == 0) {
            if (qk[k] < 0)
                return 0;
            continue;
        }
        double t = qk[k] / pk[k];
        if (pk[k] < 0)
            t0 = fmax(t0, t);
        else
            t1 = fmin(t1, t);
    }
    if (t0 > t1)
        return 0;
    double nax = *ax + t0 * dx, nay = *ay + t0 * dy;
    *bx = *ax + t1 * dx;
    *by = *ay + t1 * dy;
    *ax = nax;
    *ay = nay;
    return 1;
}

/* ---------------------------------------------------------------- SVG */

static void svg_color(nic_text *b, uint32_t c)
{
    nic_text_printf(b, "#%06x", c & 0xffffffu);
}

nic_status nic_plot_svg(nic_context *ctx, const nic_plot *p, char **svg, size_t *size)
{
    layout l;
    make_layout(p, &l);
    nic_text b = {0};
    nic_text_printf(&b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n"
              "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
              "<clipPath id=\"area\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
              "</clipPath>\n",
              l.w, l.h, l.w, l.h, l.x0, l.y0, l.x1 - l.x0, l.y1 - l.y0);
    char num[64];
    double v;
    for (int k = 0; tick(&l.ax, k, &v); k++) {
        double x = map_x(&l, v);
        format_tick(&l.ax, v, num, sizeof(num));
        nic_text_printf(&b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n"
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\">%s</text>\n",
                  x, l.y0, x, l.y1, x, l.y1 + 20, num);
    }
    for (int k = 0; tick(&l.ay, k, &v); k++) {
        double y = map_y(&l, v);
        format_tick(&l.ay, v, num, sizeof(num));
        nic_text_printf(&b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n"
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"end\">%s</text>\n",
                  l.x0, y, l.x1, y, l.x0 - 8, y + 4, num);
    }
    nic_text_printf(&b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#404040\"/>\n",
              l.x0, l.y0, l.x1 - l.x0, l.y1 - l.y0);
    for (int s = 0; s < p->series_count; s++) {
        const nic_plot_series *se = &p->series[s];
        if (se->style & NIC_PLOT_LINE) {
            int open = 0;
            for (size_t i = 0; i < se->count; i++) {
                if (!isfinite(se->x[i]) || !isfinite(se->y[i])) {
                    if (open)
                        nic_text_printf(&b, "\"/>\n");
                    open = 0;
                    continue;
                }
                if (!open) {
                    nic_text_printf(&b, "<polyline clip-path=\"url(#area)\" fill=\"none\" stroke=\"");
                    svg_color(&b, se->color);
                    nic_text_printf(&b, "\" stroke-width=\"2.2\"%s points=\"",
                              se->style & NIC_PLOT_DASHED ? " stroke-dasharray=\"8 5\"" : "");
                    open = 1;
                }
                nic_text_printf(&b, "%.2f,%.2f ", map_x(&l, se->x[i]), map_y(&l, se->y[i]));
            }
            if (open)
                nic_text_printf(&b, "\"/>\n");
        }
        if (se->style & NIC_PLOT_MARKERS)
            for (size_t i = 0; i < se->count; i++) {
                if (!isfinite(se->x[i]) || !isfinite(se->y[i]))
                    continue;
                nic_text_printf(&b, "<circle clip-path=\"url(#area)\" cx=\"%.2f\" cy=\"%.2f\" r=\"%.1f\" fill=\"",
                          map_x(&l, se->x[i]), map_y(&l, se->y[i]), MARKER_RADIUS);
                svg_color(&b, se->color);
                nic_text_printf(&b, "\"/>\n");
            }
    }
    /* Legend, top right inside the plot area. */
    int entries = 0;
    size_t longest = 0;
    for (int s = 0; s < p->series_count; s++)
        if (p->series[s].label && *p->series[s].label) {
            entries++;
            size_t n = strlen(p->series[s].label);
            longest = n > longest ? n : longest;
        }
    if (entries) {
        double bw = p->legend == NIC_PLOT_LEGEND_OUTSIDE ? legend_width(p)
                                                         : 44 + 7.5 * (double)longest;
        double bh = 8 + 20.0 * entries, bx, by;
        legend_origin(p, &l, bw, bh, &bx, &by);
        nic_text_printf(&b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ffffff\" "
                  "fill-opacity=\"0.9\" stroke=\"#b0b0b0\"/>\n",
                  bx, by, bw, bh);
        int k = 0;
        for (int s = 0; s < p->series_count; s++) {
            const nic_plot_series *se = &p->series[s];
            if (!se->label || !*se->label)
                continue;
            double yy = by + 14 + 20.0 * k++;
            if (se->style & NIC_PLOT_LINE) {
                nic_text_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"",
                          bx + 6, yy, bx + 32, yy);
                svg_color(&b, se->color);
                nic_text_printf(&b, "\" stroke-width=\"2.2\"%s/>\n",
                          se->style & NIC_PLOT_DASHED ? " stroke-dasharray=\"8 5\"" : "");
            }
            if (se->style & NIC_PLOT_MARKERS) {
                nic_text_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"", bx + 19, yy,
                          MARKER_RADIUS);
                svg_color(&b, se->color);
                nic_text_printf(&b, "\"/>\n");
            }
            nic_text_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\">", bx + 38, yy + 4);
            nic_text_xml(&b, se->label);
            nic_text_printf(&b, "</text>\n");
        }
    }
    if (p->title) {
        nic_text_printf(&b, "<text x=\"%.1f\" y=\"26\" font-size=\"16\" text-anchor=\"middle\">",
                  (l.x0 + l.x1) / 2);
        nic_text_xml(&b, p->title);
        nic_text_printf(&b, "</text>\n");
    }
    if (p->x_label) {
        nic_text_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\">",
                  (l.x0 + l.x1) / 2, l.h - 16.0);
        nic_text_xml(&b, p->x_label);
        nic_text_printf(&b, "</text>\n");
    }
    if (p->y_label) {
        double cy = (l.y0 + l.y1) / 2;
        nic_text_printf(&b,
                  "<text x=\"20\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\" "
                  "transform=\"rotate(-90 20 %.1f)\">",
                  cy, cy);
        nic_text_xml(&b, p->y_label);
        nic_text_printf(&b, "</text>\n");
    }
    nic_text_printf(&b, "</svg>\n");
    if (b.failed) {
        nic_text_free(&b);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "plot: out of memory");
    }
    *svg = b.s;
    *size = b.n;
    return NIC_OK;
}

/* ---------------------------------------------------------------- raster */

typedef struct canvas {
    int w, h;
    uint8_t *rgb;
    double cx0, cy0, cx1, cy1; /* clip rectangle for series */
} canvas;

static void blend(canvas *c, int x, int y, uint32_t color, double a)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || a <= 0)
        return;
    if (a > 1)
        a = 1;
    uint8_t *px = c->rgb + ((size_t)y * c->w + x) * 3;
    const int rgb[3] = {(int)(color >> 16) & 255, (int)(color >> 8) & 255, (int)color & 255};
    for (int k = 0; k < 3; k++)
        px[k] = (uint8_t)(px[k] + (rgb[k] - px[k]) * a + 0.5);
}

static void fill_rect(canvas *c, double x0, double y0, double x1, double y1, uint32_t color)
{
    for (int y = (int)floor(y0); y <= (int)ceil(y1) - 1; y++)
        for (int x = (int)floor(x0); x <= (int)ceil(x1) - 1; x++)
            blend(c, x, y, color, 1.0);
}

static int inside_clip(const canvas *c, int x, int y)
{
    return x + 0.5 >= c->cx0 && x + 0.5 <= c->cx1 && y + 0.5 >= c->cy0 && y + 0.5 <= c->cy1;
}

/* A segment of half-width r by coverage (distance of each pixel centre to
 * the segment); dash_at is the length drawn before it (dashes continue). */
static void segment(canvas *c, double ax, double ay, double bx, double by, double r,
                    uint32_t color, int dashed, double dash_at, int clip)
{
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    int xmin = (int)floor(fmin(ax, bx) - r - 1), xmax = (int)ceil(fmax(ax, bx) + r + 1);
    int ymin = (int)floor(fmin(ay, by) - r - 1), ymax = (int)ceil(fmax(ay, by) + r + 1);
    for (int y = ymin; y <= ymax; y++)
        for (int x = xmin; x <= xmax; x++) {
            if (clip && !inside_clip(c, x, y))
                continue;
            double px = x + 0.5 - ax, py = y + 0.5 - ay;
            double t = len2 > 0 ? (px * dx + py * dy) / len2 : 0;
            t = t < 0 ? 0 : (t > 1 ? 1 : t);
            if (dashed && fmod(dash_at + t * sqrt(len2), DASH_PERIOD) > DASH_ON)
                continue;
            double ex = px - t * dx, ey = py - t * dy;
            double d = sqrt(ex * ex + ey * ey);
            blend(c, x, y, color, r + 0.5 - d);
        }
}

static void disc(canvas *c, double cx, double cy, double r, uint32_t color, int clip)
{
    for (int y = (int)floor(cy - r - 1); y <= (int)ceil(cy + r + 1); y++)
        for (int x = (int)floor(cx - r - 1); x <= (int)ceil(cx + r + 1); x++) {
            if (clip && !inside_clip(c, x, y))
                continue;
            double d = hypot(x + 0.5 - cx, y + 0.5 - cy);
            blend(c, x, y, color, r + 0.5 - d);
        }
}

static double text_width(const char *t, int scale)
{
    size_t n = text_glyphs(t);
    return n ? (double)(n * GLYPH_ADVANCE - 1) * scale : 0;
}

/* Draws t with its top-left corner at (x, y); vertical = rotated 90 degrees
 * counter-clockwise (reading upwards), then (x, y) is the bottom-left. */
static void draw_text(canvas *c, double x, double y, const char *t, int scale, uint32_t color,
                      int vertical)
{
    int pen = 0;
    for (const unsigned char *s = (const unsigned char *)t; *s; s++) {
        if ((*s & 0xc0) == 0x80)
            continue;
        unsigned ch = *s >= NIC_FONT_FIRST && *s < NIC_FONT_FIRST + NIC_FONT_GLYPHS ? *s : '?';
        const uint8_t *g = nic_font5x7[ch - NIC_FONT_FIRST];
        for (int row = 0; row < NIC_FONT_HEIGHT; row++)
            for (int col = 0; col < NIC_FONT_WIDTH; col++) {
                if (!(g[row] >> (NIC_FONT_WIDTH - 1 - col) & 1))
                    continue;
                int u = (pen + col) * scale, v = row * scale;
                for (int a = 0; a < scale; a++)
                    for (int b = 0; b < scale; b++) {
                        if (vertical)
                            blend(c, (int)x + v + b, (int)y - u - a - 1, color, 1.0);
                        else
                            blend(c, (int)x + u + a, (int)y + v + b, color, 1.0);
                    }
            }
        pen += GLYPH_ADVANCE;
    }
}

nic_status nic_plot_raster(nic_context *ctx, const nic_plot *p, nic_image *out)
{
    layout l;
    make_layout(p, &l);
    NIC_TRY(nic_image_alloc(ctx, out, (uint32_t)l.w, (uint32_t)l.h, 3));
    canvas c = {l.w, l.h, out->data, l.x0, l.y0, l.x1, l.y1};
    memset(c.rgb, 255, (size_t)l.w * l.h * 3);
    const int S = TEXT_SCALE;
    char num[64];
    double v;
    for (int k = 0; tick(&l.ax, k, &v); k++) {
        double x = map_x(&l, v);
        fill_rect(&c, floor(x), l.y0, floor(x) + 1, l.y1, 0xe4e4e4);
        format_tick(&l.ax, v, num, sizeof(num));
        draw_text(&c, x - text_width(num, S) / 2, l.y1 + 8, num, S, 0x202020, 0);
    }
    for (int k = 0; tick(&l.ay, k, &v); k++) {
        double y = map_y(&l, v);
        fill_rect(&c, l.x0, floor(y), l.x1, floor(y) + 1, 0xe4e4e4);
        format_tick(&l.ay, v, num, sizeof(num));
        draw_text(&c, l.x0 - 8 - text_width(num, S), y - NIC_FONT_HEIGHT * S / 2.0, num, S,
                  0x202020, 0);
    }
    fill_rect(&c, l.x0, l.y0, l.x1, l.y0 + 1, 0x404040);
    fill_rect(&c, l.x0, l.y1, l.x1 + 1, l.y1 + 1, 0x404040);
    fill_rect(&c, l.x0, l.y0, l.x0 + 1, l.y1, 0x404040);
    fill_rect(&c, l.x1, l.y0, l.x1 + 1, l.y1, 0x404040);
    for (int s = 0; s < p->series_count; s++) {
        const nic_plot_series *se = &p->series[s];
        double run = 0;
        for (size_t i = 0; (se->style & NIC_PLOT_LINE) && i + 1 < se->count; i++) {
            if (!isfinite(se->x[i]) || !isfinite(se->y[i]) || !isfinite(se->x[i + 1]) ||
                !isfinite(se->y[i + 1]))
                continue;
            double ax = map_x(&l, se->x[i]), ay = map_y(&l, se->y[i]);
            double bx = map_x(&l, se->x[i + 1]), by = map_y(&l, se->y[i + 1]);
            double cax = ax, cay = ay, cbx = bx, cby = by;
            if (clip_segment(&cax, &cay, &cbx, &cby, l.x0 - 2, l.y0 - 2, l.x1 + 2, l.y1 + 2))
                segment(&c, cax, cay, cbx, cby, LINE_RADIUS, se->color,
                        !!(se->style & NIC_PLOT_DASHED), run + hypot(cax - ax, cay - ay), 1);
            run += hypot(bx - ax, by - ay);
        }
        for (size_t i = 0; (se->style & NIC_PLOT_MARKERS) && i < se->count; i++)
            if (isfinite(se->x[i]) && isfinite(se->y[i]))
                disc(&c, map_x(&l, se->x[i]), map_y(&l, se->y[i]), MARKER_RADIUS, se->color, 1);
    }
    int entries = 0;
    double longest = 0;
    for (int s = 0; s < p->series_count; s++)
        if (p->series[s].label && *p->series[s].label) {
            entries++;
            longest = fmax(longest, text_width(p->series[s].label, S));
        }
    if (entries) {
        const double row = NIC_FONT_HEIGHT * S + 8;
        double bw = 46 + longest, bh = 8 + row * entries, bx, by;
        legend_origin(p, &l, bw, bh, &bx, &by);
        fill_rect(&c, bx, by, bx + bw, by + bh, 0xb0b0b0);
        fill_rect(&c, bx + 1, by + 1, bx + bw - 1, by + bh - 1, 0xffffff);
        int k = 0;
        for (int s = 0; s < p->series_count; s++) {
            const nic_plot_series *se = &p->series[s];
            if (!se->label || !*se->label)
                continue;
            double yy = by + 4 + row * k++ + row / 2;
            if (se->style & NIC_PLOT_LINE)
                segment(&c, bx + 6, yy, bx + 32, yy, LINE_RADIUS, se->color,
                        !!(se->style & NIC_PLOT_DASHED), 0, 0);
            if (se->style & NIC_PLOT_MARKERS)
                disc(&c, bx + 19, yy, MARKER_RADIUS, se->color, 0);
            draw_text(&c, bx + 40, yy - NIC_FONT_HEIGHT * S / 2.0, se->label, S, 0x202020, 0);
        }
    }
    if (p->title)
        draw_text(&c, (l.x0 + l.x1) / 2 - text_width(p->title, S) / 2, 12, p->title, S, 0x000000,
                  0);
    if (p->x_label)
        draw_text(&c, (l.x0 + l.x1) / 2 - text_width(p->x_label, S) / 2, l.h - 28, p->x_label, S,
                  0x000000, 0);
    if (p->y_label)
        draw_text(&c, 10, (l.y0 + l.y1) / 2 + text_width(p->y_label, S) / 2, p->y_label, S,
                  0x000000, 1);
    return NIC_OK;
}

nic_status nic_plot_write(nic_context *ctx, const nic_plot *p, const char *base)
{
    char path[4096];
    nic_text svg = {0};
    NIC_TRY(nic_plot_svg(ctx, p, &svg.s, &svg.n));
    snprintf(path, sizeof(path), "%s.svg", base);
    nic_status st = nic_text_write_file(ctx, &svg, path);
    NIC_TRY(st);
    nic_image img;
    NIC_TRY(nic_plot_raster(ctx, p, &img));
    snprintf(path, sizeof(path), "%s.png", base);
    st = nic_image_write_png(ctx, path, &img);
    nic_image_free(&img);
    return st;
}
