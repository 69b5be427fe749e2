/*
 * Adam / AdamW with parameter groups, gradient clipping (PyTorch fixtures)
 * and the learning-rate schedules.
 */
#include "test_nn_util.h"

#include "nn/optim.h"

static nic_context *ctx;

static void test_adam_torch(int argc, char **argv)
{
    nn_st_file f;
    if (!open_fixture(ctx, argc, argv, "optim.safetensors", &f))
        return;
    for (int decoupled = 0; decoupled < 2; decoupled++) {
        nn_params p;
        nn_params_init(&p);
        int64_t s0[2] = {3, 4}, s1[1] = {5};
        int i0, i1;
        CHECK_STATUS(nn_params_add(ctx, &p, "p0", 2, s0, 0, &i0), NIC_OK);
        CHECK_STATUS(nn_params_add(ctx, &p, "p1", 1, s1, 1, &i1), NIC_OK);
        CHECK_STATUS(nn_params_alloc(ctx, &p), NIC_OK);
        CHECK_STATUS(nn_st_read_f32(ctx, &f, "p0", nn_param_data(&p, i0), 12), NIC_OK);
        CHECK_STATUS(nn_st_read_f32(ctx, &f, "p1", nn_param_data(&p, i1), 5), NIC_OK);
        nn_adam opt;
        nn_adam_init(&opt);
        opt.decoupled = decoupled;
        opt.groups[0].weight_decay = 0.1f;
        opt.groups[1].lr_scale = 0.5f;
        const char *name = decoupled ? "adamw" : "adam";
        for (int t = 0; t < 3; t++) {
            char k[64];
            nn_params_zero_grad(&p);
            snprintf(k, sizeof(k), "g0/%d", t);
            CHECK_STATUS(nn_st_read_f32(ctx, &f, k, nn_param_grad(&p, i0), 12), NIC_OK);
            snprintf(k, sizeof(k), "g1/%d", t);
            CHECK_STATUS(nn_st_read_f32(ctx, &f, k, nn_param_grad(&p, i1), 5), NIC_OK);
            nn_adam_step(&opt, &p, 0.01f);
            snprintf(k, sizeof(k), "%s/p0/%d", name, t);
            double *w0 = fixture_f64(ctx, &f, k, NULL);
            check_close_f32(k, nn_param_data(&p, i0), w0, 12, 1e-6, 1e-6);
            snprintf(k, sizeof(k), "%s/p1/%d", name, t);
            double *w1 = fixture_f64(ctx, &f, k, NULL);
            check_close_f32(k, nn_param_data(&p, i1), w1, 5, 1e-6, 1e-6);
            free(w0), free(w1);
        }
        CHECK(opt.step == 3);
        nn_params_free(&p);
    }

    /* clip_grad_norm_ */
    nn_params p;
    nn_params_init(&p);
    int64_t s0[2] = {3, 4}, s1[1] = {5};
    CHECK_STATUS(nn_params_add(ctx, &p, "p0", 2, s0, 0, NULL), NIC_OK);
    CHECK_STATUS(nn_params_add(ctx, &p, "p1", 1, s1, 1, NULL), NIC_OK);
    CHECK_STATUS(nn_params_alloc(ctx, &p), NIC_OK);
    CHECK_STATUS(nn_st_read_f32(ctx, &f, "g0/0", nn_param_grad(&p, 0), 12), NIC_OK);
    CHECK_STATUS(nn_st_read_f32(ctx, &f, "g1/0", nn_param_grad(&p, 1), 5), NIC_OK);
    double *norm = fixture_f64(ctx, &f, "clip/norm", NULL);
    double *g0 = fixture_f64(ctx, &f, "clip/g0", NULL);
    double *g1 = fixture_f64(ctx, &f, "clip/g1", NULL);
    double got = nn_grad_clip(&p, -1, 0.5);
    CHECK_NEAR(got, norm[0], 1e-5);
    check_close_f32("clip g0", nn_param_grad(&p, 0), g0, 12, 1e-7, 1e-6);
    check_close_f32("clip g1", nn_param_grad(&p, 1), g1, 5, 1e-7, 1e-6);
    CHECK_NEAR(nn_grad_norm(&p, -1), 0.5, 1e-5);
    /* a group on its own, and no clipping when under the limit */
    double n1 = nn_grad_norm(&p, 1);
    CHECK_NEAR(nn_grad_clip(&p, 1, 10.0), n1, 1e-12);
    CHECK_NEAR(nn_grad_norm(&p, 1), n1, 1e-12);
    free(norm), free(g0), free(g1);
    nn_params_free(&p);
    nn_st_free(&f);
}

static void test_frozen_group(void)
{
    nn_params p;
    nn_params_init(&p);
    int64_t s[1] = {4};
    CHECK_STATUS(nn_params_add(ctx, &p, "a", 1, s, 0, NULL), NIC_OK);
    CHECK_STATUS(nn_params_add(ctx, &p, "b", 1, s, 2, NULL), NIC_OK);
    CHECK_STATUS(nn_params_alloc(ctx, &p), NIC_OK);
    for (int i = 0; i < 4; i++) {
        nn_param_data(&p, 0)[i] = nn_param_data(&p, 1)[i] = 1.0f;
        nn_param_grad(&p, 0)[i] = nn_param_grad(&p, 1)[i] = 1.0f;
    }
    nn_adam opt;
    nn_adam_init(&opt);
    opt.groups[2].frozen = 1;
    nn_adam_step(&opt, &p, 0.1f);
    /* first Adam step moves by lr * sign(g) (up to eps) */
    CHECK_NEAR(nn_param_data(&p, 0)[0], 0.9, 1e-6);
    CHECK(nn_param_data(&p, 1)[0] == 1.0f);
    nn_params_free(&p);
}

static void test_schedules(void)
{
    nn_lr_schedule s = {0};
    s.kind = NN_LR_CONSTANT;
    s.lr = 1e-3f;
    CHECK_NEAR(nn_lr_at(&s, 0), 1e-3, 1e-9);
    CHECK_NEAR(nn_lr_at(&s, 100000), 1e-3, 1e-9);
    s.warmup = 10;
    CHECK_NEAR(nn_lr_at(&s, 0), 1e-4, 1e-9);
    CHECK_NEAR(nn_lr_at(&s, 9), 1e-3, 1e-9);
    CHECK_NEAR(nn_lr_at(&s, 10), 1e-3, 1e-9);
    s.warmup = 0;
    s.kind = NN_LR_STEP;
    s.step_size = 100;
    s.gamma = 0.1f;
    CHECK_NEAR(nn_lr_at(&s, 99), 1e-3, 1e-9);
    CHECK_NEAR(nn_lr_at(&s, 100), 1e-4, 1e-9);
    CHECK_NEAR(nn_lr_at(&s, 250), 1e-5, 1e-10);
    s.kind = NN_LR_COSINE;
    s.total = 1000;
    s.lr_min = 1e-5f;
    CHECK_NEAR(nn_lr_at(&s, 0), 1e-3, 1e-9);
    CHECK_NEAR(nn_lr_at(&s, 500), (1e-3 + 1e-5) / 2, 1e-8);
    CHECK_NEAR(nn_lr_at(&s, 1000), 1e-5, 1e-9);
    CHECK_NEAR(nn_lr_at(&s, 5000), 1e-5, 1e-9);
}

int main(int argc, char **argv)
{
    ctx = nic_context_create();
    test_adam_torch(argc, argv);
    test_frozen_group();
    test_schedules();
    nic_context_destroy(ctx);
    return test_finish("test_nn_optim");
}
