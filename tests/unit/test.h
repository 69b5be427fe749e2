/*
 * Minimal test harness: each test file is one program; CHECK records a
 * failure and goes on, so one run reports every broken assertion. main()
 * returns test_finish(), non-zero when anything failed.
 */
#ifndef NIC_TEST_H
#define NIC_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures_;
static int test_checks_;

#define CHECK(cond)                                                          \
    do {                                                                     \
        test_checks_++;                                                      \
        if (!(cond)) {                                                       \
            test_failures_++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        test_checks_++;                                                      \
        if (!(cond)) {                                                       \
            test_failures_++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                \
    do {                                                                     \
        double ca_ = (a), cb_ = (b);                                         \
        CHECK_MSG(fabs(ca_ - cb_) <= (tol), "%s = %.9g, %s = %.9g, tolerance %g", #a, ca_, #b, \
                  cb_, (double)(tol));                                       \
    } while (0)

#define CHECK_STATUS(expr, expected)                                         \
    do {                                                                     \
        int cs_ = (int)(expr);                                               \
        CHECK_MSG(cs_ == (int)(expected), "%s returned %d, expected %d", #expr, cs_, \
                  (int)(expected));                                          \
    } while (0)

static inline int test_finish(const char *name)
{
    if (test_failures_)
        fprintf(stderr, "%s: %d of %d checks FAILED\n", name, test_failures_, test_checks_);
    else
        printf("%s: all %d checks passed\n", name, test_checks_);
    return test_failures_ ? 1 : 0;
}

/* Directory of committed fixtures (argv[1] or $NIC_FIXTURES). */
static inline const char *test_fixtures_dir(int argc, char **argv)
{
    if (argc > 1)
        return argv[1];
    const char *env = getenv("NIC_FIXTURES");
    return env ? env : "tests/fixtures";
}

/* The shared data sets (Kodak, BSDS500, MNIST): $NIC_DATA, else ../shared/data beside
 * the checkout, found from the fixtures folder (<repo>/tests/fixtures). Tests that
 * use it skip those checks, saying so, when it is absent. */
static inline const char *test_data_dir(const char *fixtures)
{
    static char buf[4096];
    const char *env = getenv("NIC_DATA");
    if (env)
        return env;
    snprintf(buf, sizeof(buf), "%s/../../../shared/data", fixtures);
    return buf;
}

/* Directory for scratch files ($NIC_TMP or /tmp). */
static inline const char *test_tmp_dir(void)
{
    const char *env = getenv("NIC_TMP");
    return env ? env : "/tmp";
}

#endif
