/* The context object and the error convention (src/common). */
#include "test.h"

#include "common/context.h"
#include "nic.h"

static int log_calls;
static char log_last[256];
static void on_log(void *user, nic_log_level level, const char *msg)
{
    (void)level;
    log_calls += *(int *)user;
    snprintf(log_last, sizeof(log_last), "%s", msg);
}

static nic_status inner(nic_context *ctx)
{
    return NIC_FAIL(ctx, NIC_ERR_FORMAT, "x.png: bad byte %d at offset %zu", 7, (size_t)42);
}

static nic_status outer(nic_context *ctx)
{
    NIC_TRY(inner(ctx));
    return NIC_OK; /* not reached */
}

int main(void)
{
    CHECK(nic_version() == ((NIC_VERSION_MAJOR << 16) | (NIC_VERSION_MINOR << 8) | NIC_VERSION_PATCH));
    CHECK(strcmp(nic_version_string(), NIC_VERSION_STRING) == 0);
    for (int s = NIC_OK; s <= NIC_ERR_INTERNAL; s++)
        CHECK(strcmp(nic_status_name((nic_status)s), "unknown") != 0);
    CHECK(strcmp(nic_status_name((nic_status)99), "unknown") == 0);

    nic_context *a = nic_context_create(), *b = nic_context_create();
    CHECK(a && b);
    CHECK(nic_context_status(a) == NIC_OK && nic_context_error(a)[0] == '\0');

    /* A failure is recorded in its own context only, and propagates unchanged. */
    CHECK_STATUS(outer(a), NIC_ERR_FORMAT);
    CHECK(nic_context_status(a) == NIC_ERR_FORMAT);
    CHECK(strcmp(nic_context_error(a), "x.png: bad byte 7 at offset 42") == 0);
    CHECK(nic_context_status(b) == NIC_OK && nic_context_error(b)[0] == '\0');
    CHECK_STATUS(nic_fail_prefix(a, "while reading %s", "y"), NIC_ERR_FORMAT);
    CHECK(strcmp(nic_context_error(a), "while reading y: x.png: bad byte 7 at offset 42") == 0);
    nic_context_clear_error(a);
    CHECK(nic_context_status(a) == NIC_OK && nic_context_error(a)[0] == '\0');

    /* Long messages are truncated, never overflow. */
    char big[4000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_STATUS(NIC_FAIL(a, NIC_ERR_IO, "%s", big), NIC_ERR_IO);
    CHECK(strlen(nic_context_error(a)) == NIC_ERROR_MESSAGE_MAX - 1);

    /* NULL context: status still returned. */
    CHECK_STATUS(NIC_FAIL(NULL, NIC_ERR_LIMIT, "nothing"), NIC_ERR_LIMIT);

    /* Log callback per context. */
    int weight = 1;
    nic_log(a, NIC_LOG_WARNING, "dropped"); /* no callback: ignored */
    CHECK(log_calls == 0);
    nic_context_set_log(a, on_log, &weight);
    nic_log(a, NIC_LOG_WARNING, "alpha %s", "dropped");
    nic_log(b, NIC_LOG_WARNING, "other context");
    CHECK(log_calls == 1 && strcmp(log_last, "alpha dropped") == 0);

    /* Limits are checked before allocation; per context. */
    CHECK_STATUS(nic_check_dimensions(a, "f", 100000, 100000), NIC_ERR_LIMIT);
    CHECK(strstr(nic_context_error(a), "100000x100000") != NULL);
    CHECK_STATUS(nic_check_dimensions(a, "f", 0, 5), NIC_ERR_FORMAT);
    CHECK_STATUS(nic_check_dimensions(a, "f", 4000, 3000), NIC_OK);
    nic_context_set_max_pixels(a, 1000);
    CHECK_STATUS(nic_check_dimensions(a, "f", 40, 30), NIC_ERR_LIMIT);
    CHECK_STATUS(nic_check_dimensions(b, "f", 40, 30), NIC_OK);
    nic_context_set_max_dimension(b, 32);
    CHECK_STATUS(nic_check_dimensions(b, "f", 33, 1), NIC_ERR_LIMIT);

    size_t out;
    CHECK(nic_mul_size((size_t)1 << 40, (size_t)1 << 30, &out) == 0);
    CHECK(nic_mul_size(3, 5, &out) == 1 && out == 15);

    nic_context_destroy(a);
    nic_context_destroy(b);
    nic_context_destroy(NULL);
    return test_finish("test_context");
}
