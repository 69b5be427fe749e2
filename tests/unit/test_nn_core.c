/* Parameter arena, activation arena and the PRNG. */
#include "test_nn_util.h"

#include <stdint.h>

#include "nn/rng.h"
#include "nn/tensor.h"

static nic_context *ctx;

static void test_params(void)
{
    nn_params p;
    nn_params_init(&p);
    int64_t s1[4] = {8, 3, 5, 5}, s2[1] = {8}, bad[2] = {3, 0};
    int i1 = -1, i2 = -1;
    CHECK_STATUS(nn_params_add(ctx, &p, "conv.weight", 4, s1, 0, &i1), NIC_OK);
    CHECK_STATUS(nn_params_add(ctx, &p, "conv.bias", 1, s2, 1, &i2), NIC_OK);
    CHECK(i1 == 0 && i2 == 1);
    CHECK_STATUS(nn_params_add(ctx, &p, "conv.bias", 1, s2, 0, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(nic_context_error(ctx), "twice") != NULL);
    CHECK_STATUS(nn_params_add(ctx, &p, "zero", 2, bad, 0, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_params_add(ctx, &p, "", 1, s2, 0, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_params_add(ctx, &p, "q\"uote", 1, s2, 0, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_params_add(ctx, &p, "five", 5, s1, 0, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_params_alloc(ctx, &p), NIC_OK);
    CHECK_STATUS(nn_params_add(ctx, &p, "late", 1, s2, 0, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK(p.count == 2);
    CHECK(p.items[0].count == 600 && p.items[1].count == 8);
    CHECK(p.items[1].offset % NN_ALIGN_FLOATS == 0 && p.items[1].offset >= 600);
    CHECK(((uintptr_t)p.data % 64) == 0 && ((uintptr_t)p.grad % 64) == 0);
    CHECK(((uintptr_t)nn_param_data(&p, 1) % 64) == 0);
    CHECK(nn_params_find(&p, "conv.bias") == 1 && nn_params_find(&p, "nope") == -1);
    /* grad, m and v mirror data */
    CHECK(nn_param_grad(&p, 1) - p.grad == nn_param_data(&p, 1) - p.data);
    for (size_t i = 0; i < p.total; i++)
        p.grad[i] = 1.0f;
    nn_params_zero_grad(&p);
    int zero = 1;
    for (size_t i = 0; i < p.total; i++)
        zero &= p.grad[i] == 0.0f;
    CHECK(zero);
    nn_params_free(&p);
}

static void test_arena(void)
{
    nn_arena a;
    nn_arena_init(&a);
    /* planning pass: nothing allocated, sizes summed (aligned) */
    CHECK(nn_arena_take(&a, 10) == NULL);
    CHECK(nn_arena_take(&a, 100) == NULL);
    nn_arena_reset(&a);
    CHECK(nn_arena_take(&a, 5) == NULL);
    CHECK(a.planned == 16 + 112);
    CHECK_STATUS(nn_arena_commit(ctx, &a), NIC_OK);
    CHECK_STATUS(nn_arena_commit(ctx, &a), NIC_ERR_INVALID_ARGUMENT);
    for (int step = 0; step < 3; step++) {
        nn_arena_reset(&a);
        float *x = nn_arena_take(&a, 10), *y = nn_arena_take(&a, 100);
        CHECK(x == a.base && y == a.base + 16);
        CHECK(((uintptr_t)y % 64) == 0);
        CHECK(!a.overflow);
    }
    CHECK(nn_arena_take(&a, 1) == NULL);
    CHECK(a.overflow);
    nn_arena_free(&a);
}

static void test_rng(void)
{
    nn_rng a, b;
    nn_rng_seed(&a, 123);
    nn_rng_seed(&b, 123);
    for (int i = 0; i < 100; i++)
        CHECK(nn_rng_next(&a) == nn_rng_next(&b));
    nn_rng_seed(&b, 124);
    CHECK(nn_rng_next(&a) != nn_rng_next(&b));
    /* save / load resumes the exact sequence */
    uint8_t raw[32];
    nn_rng_save(&a, raw);
    uint64_t want[5];
    for (int i = 0; i < 5; i++)
        want[i] = nn_rng_next(&a);
    nn_rng c;
    nn_rng_load(&c, raw);
    for (int i = 0; i < 5; i++)
        CHECK(nn_rng_next(&c) == want[i]);
    /* ranges and moments */
    double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
    int in_range = 1, counts[7] = {0};
    enum { N = 100000 };
    for (int i = 0; i < N; i++) {
        float u = nn_rng_uniform(&a);
        double d = nn_rng_uniform_f64(&a);
        in_range &= u >= 0.0f && u < 1.0f && d >= 0.0 && d < 1.0;
        sum += d;
        sum2 += d * d;
        double g = nn_rng_normal(&a);
        nsum += g;
        nsum2 += g * g;
        uint64_t k = nn_rng_below(&a, 7);
        in_range &= k < 7;
        if (k < 7)
            counts[k]++;
    }
    CHECK(in_range);
    CHECK_NEAR(sum / N, 0.5, 0.01);
    CHECK_NEAR(sum2 / N - 0.25, 1.0 / 12.0, 0.005);
    CHECK_NEAR(nsum / N, 0.0, 0.02);
    CHECK_NEAR(nsum2 / N, 1.0, 0.03);
    for (int k = 0; k < 7; k++)
        CHECK_NEAR(counts[k] / (double)N, 1.0 / 7.0, 0.01);
    CHECK(nn_rng_below(&a, 1) == 0);
}

int main(void)
{
    ctx = nic_context_create();
    test_params();
    test_arena();
    test_rng();
    nic_context_destroy(ctx);
    return test_finish("test_nn_core");
}
