/*
 * Fuzz target: the image reader (PNG, JPEG, PPM/PGM, detected from the
 * bytes) through nic_image_read_memory. Limits are lowered so that large
 * declared sizes are refused quickly instead of exhausting memory.
 */
#include <stdint.h>
#include <stdlib.h>

#include "nic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nic_context *ctx = nic_context_create();
    if (!ctx)
        return 0;
    nic_context_set_max_pixels(ctx, (uint64_t)1 << 22);
    nic_context_set_max_dimension(ctx, 8192);
    nic_image img;
    nic_image_info info;
    if (nic_image_read_memory(ctx, data, size, "fuzz", &img, &info) == NIC_OK) {
        if (!img.data || img.width == 0 || img.height == 0 ||
            (img.channels != 1 && img.channels != 3))
            abort();
        /* Touch every byte so ASan checks the buffer's extent. */
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < (size_t)img.width * img.height * img.channels; i++)
            sum += img.data[i];
        (void)sum;
        nic_image_free(&img);
    } else if (nic_context_error(ctx)[0] == '\0') {
        abort();
    }
    nic_context_destroy(ctx);
    return 0;
}
