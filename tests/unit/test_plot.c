/* Line charts (report/plot.h): the SVG carries the text and the points, the
 * raster shows the series' colours where the data says and nowhere outside
 * the plot area; degenerate data does not break either. */
#include "test.h"

#include "report/plot.h"

static int count_color(const nic_image *img, uint32_t color, int x0, int y0, int x1, int y1)
{
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const uint8_t *p = img->data + ((size_t)y * img->width + x) * 3;
            n += p[0] == (color >> 16 & 255) && p[1] == (color >> 8 & 255) && p[2] == (color & 255);
        }
    return n;
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    double x[5] = {1, 2, 3, 4, 5}, y[5] = {10, 20, NAN, 40, 50};
    double y2[5] = {50, 40, 30, 20, 10};
    nic_plot p;
    nic_plot_init(&p, "Loss & <stuff>", "epoch", "loss");
    CHECK_STATUS(nic_plot_add(ctx, &p, "train", x, y, 5, NIC_PLOT_LINE | NIC_PLOT_MARKERS,
                              0xff0000),
                 NIC_OK);
    CHECK_STATUS(nic_plot_add(ctx, &p, "test", x, y2, 5, NIC_PLOT_LINE | NIC_PLOT_DASHED,
                              0x0000ff),
                 NIC_OK);
    char *svg = NULL;
    size_t size = 0;
    CHECK_STATUS(nic_plot_svg(ctx, &p, &svg, &size), NIC_OK);
    if (svg) {
        CHECK(size == strlen(svg));
        CHECK(strncmp(svg, "<svg", 4) == 0 && strstr(svg, "</svg>") != NULL);
        CHECK(strstr(svg, "Loss &amp; &lt;stuff&gt;") != NULL); /* escaped */
        CHECK(strstr(svg, ">train</text>") && strstr(svg, ">test</text>"));
        CHECK(strstr(svg, "#ff0000") && strstr(svg, "stroke-dasharray"));
        /* The NaN point splits the red line into two polylines. */
        int polylines = 0;
        for (const char *s = svg; (s = strstr(s, "<polyline")); s++)
            polylines++;
        CHECK_MSG(polylines == 3, "%d polylines", polylines);
        /* Ticks at 1, 2, 5 x 10^k: 10, 20, ... 50 on y. */
        CHECK(strstr(svg, ">50</text>") != NULL);
    }
    free(svg);
    nic_image img;
    CHECK_STATUS(nic_plot_raster(ctx, &p, &img), NIC_OK);
    CHECK(img.width == 720 && img.height == 440 && img.channels == 3);
    int red = count_color(&img, 0xff0000, 0, 0, 720, 440);
    int blue = count_color(&img, 0x0000ff, 0, 0, 720, 440);
    CHECK_MSG(red > 100 && blue > 50, "red %d, blue %d pixels", red, blue);
    /* Nothing of a series is drawn in the margins (the legend is inside the area). */
    CHECK(count_color(&img, 0xff0000, 0, 0, 90, 440) == 0);
    CHECK(count_color(&img, 0xff0000, 0, 410, 720, 440) == 0);
    nic_image_free(&img);

    /* Explicit ranges clip; constant or empty data still draws. */
    nic_plot q;
    nic_plot_init(&q, NULL, NULL, NULL);
    double cx[2] = {0, 1}, cy[2] = {3, 3};
    double far_x[2] = {-1e9, 1e9}, far_y[2] = {0.5, 0.5};
    CHECK_STATUS(nic_plot_add(ctx, &q, NULL, cx, cy, 2, 0, 0), NIC_OK);
    CHECK_STATUS(nic_plot_add(ctx, &q, "far", far_x, far_y, 2, NIC_PLOT_LINE, 0x00ff00), NIC_OK);
    q.x_min = 0;
    q.x_max = 1;
    q.width = 300;
    q.height = 200;
    CHECK_STATUS(nic_plot_raster(ctx, &q, &img), NIC_OK);
    CHECK(img.width == 300 && count_color(&img, 0x00ff00, 0, 0, 300, 200) > 0);
    nic_image_free(&img);
    nic_plot e;
    nic_plot_init(&e, "empty", "x", "y");
    CHECK_STATUS(nic_plot_raster(ctx, &e, &img), NIC_OK);
    nic_image_free(&img);
    for (int i = 0; i < NIC_PLOT_MAX_SERIES; i++)
        CHECK_STATUS(nic_plot_add(ctx, &e, NULL, x, y, 5, 0, 0), NIC_OK);
    CHECK_STATUS(nic_plot_add(ctx, &e, NULL, x, y, 5, 0, 0), NIC_ERR_INVALID_ARGUMENT);
    nic_context_destroy(ctx);
    return test_finish("test_plot");
}
