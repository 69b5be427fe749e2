/*
 * st_diff A B TOL: compares the F32 tensors of two safetensors files that hold
 * the same names and shapes (checkpoints of two runs). For each tensor the
 * error is max |a - b| / max |a| (relative to the tensor's scale, so tiny
 * elements do not blow it up); Adam moments ("adam.*") are skipped unless
 * --moments is given. Prints the largest error and its tensor; exits 1 when it
 * is above TOL or the files do not match in names and shapes, 2 on bad input.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/safetensors.h"

int main(int argc, char **argv)
{
    int moments = argc == 5 && strcmp(argv[4], "--moments") == 0;
    if (argc != 4 && !moments) {
        fprintf(stderr, "usage: st_diff A.safetensors B.safetensors TOL [--moments]\n");
        return 2;
    }
    double tol = atof(argv[3]);
    nic_context *ctx = nic_context_create();
    nn_st_file a, b;
    if (nn_st_read_file(ctx, argv[1], &a) != NIC_OK) {
        fprintf(stderr, "st_diff: %s\n", nic_context_error(ctx));
        return 2;
    }
    if (nn_st_read_file(ctx, argv[2], &b) != NIC_OK) {
        fprintf(stderr, "st_diff: %s\n", nic_context_error(ctx));
        return 2;
    }
    int rc = 0, compared = 0;
    double worst = 0;
    const char *worst_name = "-";
    for (int i = 0; i < a.tensor_count && rc == 0; i++) {
        const nn_st_tensor *ta = &a.tensors[i];
        if (ta->dtype != NN_DTYPE_F32 || (!moments && strncmp(ta->name, "adam.", 5) == 0))
            continue;
        const nn_st_tensor *tb = nn_st_find(&b, ta->name);
        if (!tb || tb->count != ta->count || tb->dtype != NN_DTYPE_F32) {
            fprintf(stderr, "st_diff: %s is missing or different in %s\n", ta->name, argv[2]);
            rc = 1;
            break;
        }
        float *va = malloc(ta->count * sizeof(float)), *vb = malloc(ta->count * sizeof(float));
        if (!va || !vb || nn_st_read_f32(ctx, &a, ta->name, va, ta->count) != NIC_OK ||
            nn_st_read_f32(ctx, &b, ta->name, vb, ta->count) != NIC_OK) {
            fprintf(stderr, "st_diff: cannot read %s\n", ta->name);
            rc = 2;
        } else {
            double scale = 0, diff = 0;
            for (uint64_t k = 0; k < ta->count; k++) {
                scale = fmax(scale, fabs(va[k]));
                diff = fmax(diff, fabs((double)va[k] - vb[k]));
            }
            double err = scale > 0 ? diff / scale : diff;
            if (!(err <= worst)) { /* also catches NaN */
                worst = err;
                worst_name = ta->name;
            }
            compared++;
        }
        free(va);
        free(vb);
    }
    if (rc == 0) {
        printf("st_diff: %d tensors, largest relative difference %.3g (%s)\n", compared, worst,
               worst_name);
        if (compared == 0 || !(worst <= tol))
            rc = 1;
    }
    nn_st_free(&a);
    nn_st_free(&b);
    nic_context_destroy(ctx);
    return rc;
}
