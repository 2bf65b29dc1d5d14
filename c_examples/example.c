/*
 * Example and self-check of the softmax C ABI (see ../include/softmax.h).
 *
 *   cargo build --release && make -C c_examples run
 *
 * Prints what it computes and exits with status 1 if any result or status code is wrong.
 * Every numeric result is compared with a double-precision computation (relative tolerance
 * 1e-5). The checks run once on every ISA this CPU supports.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "softmax.h"

static int failures = 0;

#define CHECK(cond, ...)                    \
    do {                                    \
        if (!(cond)) {                      \
            ++failures;                     \
            printf("FAIL (%s:%d): ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);            \
            printf("\n");                   \
        }                                   \
    } while (0)

/* Expects `call` to return `expected`. */
#define EXPECT_STATUS(call, expected)                                                  \
    do {                                                                               \
        softmax_status got_ = (call);                                                  \
        CHECK(got_ == (softmax_status)(expected), "%s returned %u (%s), expected %s", #call, \
              (unsigned)got_, softmax_status_string(got_), #expected);                \
    } while (0)

static int close_rel(double got, double want) {
    return fabs(got - want) <= 1e-5 * fabs(want) + 1e-30;
}

/* Double-precision references. */
static double ref_logsumexp(const float *x, size_t n) {
    double m = -INFINITY, s = 0.0;
    size_t i;
    for (i = 0; i < n; ++i)
        if (x[i] > m) m = x[i];
    for (i = 0; i < n; ++i) s += exp((double)x[i] - m);
    return m + log(s);
}

static void check_softmax_row(const char *what, const float *x, const float *y, size_t n) {
    double lse = ref_logsumexp(x, n);
    size_t i;
    for (i = 0; i < n; ++i) {
        double want = exp((double)x[i] - lse);
        if (!close_rel(y[i], want)) {
            CHECK(0, "%s: y[%zu] = %.9g, expected %.9g", what, i, (double)y[i], want);
            return;
        }
    }
}

static void check_log_softmax_row(const char *what, const float *x, const float *y, size_t n) {
    double lse = ref_logsumexp(x, n);
    size_t i;
    for (i = 0; i < n; ++i) {
        double want = (double)x[i] - lse;
        if (!close_rel(y[i], want)) {
            CHECK(0, "%s: y[%zu] = %.9g, expected %.9g", what, i, (double)y[i], want);
            return;
        }
    }
}

/* Deterministic pseudo-random inputs in [-8, 8). */
static void fill(float *x, size_t n, uint32_t seed) {
    size_t i;
    for (i = 0; i < n; ++i) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) * (16.0 / 16777216.0) - 8.0);
    }
}

#define N 1000
#define ROWS 3
#define COLS 5
#define X_STRIDE 8
#define Y_STRIDE 6

static void run_checks(void) {
    static float x[N], y[N];
    size_t i, r;
    uint32_t alg;

    /* One row. */
    {
        const float row[4] = {1.0f, 2.0f, 3.0f, 4.0f};
        float out[4];
        EXPECT_STATUS(softmax_f32(row, out, 4), SOFTMAX_STATUS_OK);
        printf("  softmax([1 2 3 4])     = [%.6f %.6f %.6f %.6f]\n", out[0], out[1], out[2],
               out[3]);
        check_softmax_row("softmax_f32", row, out, 4);
    }

    /* Every algorithm on a longer row. */
    fill(x, N, 42);
    for (alg = SOFTMAX_ALGORITHM_AUTO; alg <= SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED; ++alg) {
        double sum = 0.0;
        memset(y, 0, sizeof y);
        EXPECT_STATUS(softmax_f32_ex(x, y, N, alg), SOFTMAX_STATUS_OK);
        for (i = 0; i < N; ++i) sum += y[i];
        printf("  softmax_f32_ex(n=%d, algorithm %u): sum = %.7f\n", N, (unsigned)alg, sum);
        check_softmax_row("softmax_f32_ex", x, y, N);
    }

    /* In place. */
    memcpy(y, x, sizeof x);
    EXPECT_STATUS(softmax_f32(y, y, N), SOFTMAX_STATUS_OK);
    check_softmax_row("softmax_f32 in place", x, y, N);

    /* Batch: ROWS rows of COLS values, x rows X_STRIDE apart, y rows Y_STRIDE apart. */
    {
        float bx[(ROWS - 1) * X_STRIDE + COLS], by[(ROWS - 1) * Y_STRIDE + COLS];
        fill(bx, sizeof bx / sizeof bx[0], 7);
        for (i = 0; i < sizeof by / sizeof by[0]; ++i) by[i] = -1.0f; /* sentinel */
        EXPECT_STATUS(softmax_rows_f32(bx, X_STRIDE, by, Y_STRIDE, ROWS, COLS,
                                       SOFTMAX_ALGORITHM_AUTO),
                      SOFTMAX_STATUS_OK);
        for (r = 0; r < ROWS; ++r) {
            printf("  softmax_rows_f32 row %zu = [%.6f %.6f %.6f %.6f %.6f]\n", r,
                   by[r * Y_STRIDE], by[r * Y_STRIDE + 1], by[r * Y_STRIDE + 2],
                   by[r * Y_STRIDE + 3], by[r * Y_STRIDE + 4]);
            check_softmax_row("softmax_rows_f32", bx + r * X_STRIDE, by + r * Y_STRIDE, COLS);
            if (r + 1 < ROWS)
                CHECK(by[r * Y_STRIDE + COLS] == -1.0f, "softmax_rows_f32 wrote between rows");
        }
        EXPECT_STATUS(log_softmax_rows_f32(bx, X_STRIDE, by, Y_STRIDE, ROWS, COLS),
                      SOFTMAX_STATUS_OK);
        for (r = 0; r < ROWS; ++r)
            check_log_softmax_row("log_softmax_rows_f32", bx + r * X_STRIDE, by + r * Y_STRIDE,
                                  COLS);
    }

    /* Log-softmax and log-sum-exp. */
    {
        float lse = 0.0f;
        EXPECT_STATUS(log_softmax_f32(x, y, N), SOFTMAX_STATUS_OK);
        check_log_softmax_row("log_softmax_f32", x, y, N);
        printf("  log_softmax(x)[0..3]   = [%.6f %.6f %.6f]\n", y[0], y[1], y[2]);
        EXPECT_STATUS(logsumexp_f32(x, N, &lse), SOFTMAX_STATUS_OK);
        printf("  logsumexp(x)           = %.6f (double: %.6f)\n", lse, ref_logsumexp(x, N));
        CHECK(close_rel(lse, ref_logsumexp(x, N)), "logsumexp_f32 = %.9g", (double)lse);
        EXPECT_STATUS(logsumexp_f32(NULL, 0, &lse), SOFTMAX_STATUS_OK);
        CHECK(isinf(lse) && lse < 0, "logsumexp of nothing = %g, expected -inf", (double)lse);
    }

    /* Special values. */
    {
        const float inf_row[3] = {INFINITY, 1.0f, INFINITY};
        float out[3];
        EXPECT_STATUS(softmax_f32(inf_row, out, 3), SOFTMAX_STATUS_OK);
        CHECK(out[0] == 0.5f && out[1] == 0.0f && out[2] == 0.5f,
              "softmax([inf 1 inf]) = [%g %g %g]", (double)out[0], (double)out[1],
              (double)out[2]);
    }
}

static void check_status_codes(void) {
    float a[8] = {0, 1, 2, 3, 4, 5, 6, 7}, b[8];
    float lse;

    EXPECT_STATUS(softmax_f32(NULL, b, 4), SOFTMAX_STATUS_NULL_POINTER);
    EXPECT_STATUS(softmax_f32(a, NULL, 4), SOFTMAX_STATUS_NULL_POINTER);
    EXPECT_STATUS(softmax_f32(NULL, NULL, 0), SOFTMAX_STATUS_OK);
    EXPECT_STATUS(logsumexp_f32(a, 4, NULL), SOFTMAX_STATUS_NULL_POINTER);
    EXPECT_STATUS(logsumexp_f32(NULL, 4, &lse), SOFTMAX_STATUS_NULL_POINTER);
    EXPECT_STATUS(softmax_f32_ex(a, b, 4, 99), SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_rows_f32(a, 8, b, 8, 1, 8, 99), SOFTMAX_STATUS_INVALID_ARGUMENT);
    /* Stride smaller than the row. */
    EXPECT_STATUS(softmax_rows_f32(a, 3, b, 4, 2, 4, SOFTMAX_ALGORITHM_AUTO),
                  SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(log_softmax_rows_f32(a, 4, b, 3, 2, 4), SOFTMAX_STATUS_INVALID_ARGUMENT);
    /* Extent overflow. */
    EXPECT_STATUS(softmax_rows_f32(a, SIZE_MAX, b, 4, 2, 4, SOFTMAX_ALGORITHM_AUTO),
                  SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_f32(a, b, SIZE_MAX / 2), SOFTMAX_STATUS_INVALID_ARGUMENT);
    /* Output partly overlapping the input. */
    EXPECT_STATUS(softmax_f32(a, a + 1, 4), SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(log_softmax_f32(a + 1, a, 4), SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_rows_f32(a, 4, a, 2, 2, 2, SOFTMAX_ALGORITHM_AUTO),
                  SOFTMAX_STATUS_INVALID_ARGUMENT);
    /* Exactly in place is fine. */
    EXPECT_STATUS(softmax_rows_f32(a, 4, a, 4, 2, 4, SOFTMAX_ALGORITHM_AUTO), SOFTMAX_STATUS_OK);
    /* Bad ISA values. */
    EXPECT_STATUS(softmax_set_isa(99), SOFTMAX_STATUS_INVALID_ARGUMENT);
    CHECK(!softmax_isa_supported(99), "softmax_isa_supported(99) != 0");
    CHECK(strcmp(softmax_isa_name(99), "unknown") == 0, "softmax_isa_name(99) = %s",
          softmax_isa_name(99));
    CHECK(strcmp(softmax_status_string(12345), "unknown status") == 0,
          "softmax_status_string(12345) = %s", softmax_status_string(12345));
    printf("  status strings: %s / %s / %s / %s / %s\n",
           softmax_status_string(SOFTMAX_STATUS_OK),
           softmax_status_string(SOFTMAX_STATUS_NULL_POINTER),
           softmax_status_string(SOFTMAX_STATUS_INVALID_ARGUMENT),
           softmax_status_string(SOFTMAX_STATUS_UNSUPPORTED_ISA),
           softmax_status_string(SOFTMAX_STATUS_INTERNAL_ERROR));
}

int main(void) {
    const uint32_t initial = softmax_get_isa();
    uint32_t isa;

    printf("softmax %s\n", softmax_version());
    /* The ISA chosen at first use: the best one, or SOFTMAX_ISA. */
    printf("initial isa: %s\n", softmax_isa_name(initial));
    CHECK(softmax_isa_supported(initial), "the initial ISA is not supported");

    for (isa = SOFTMAX_ISA_SCALAR; isa <= SOFTMAX_ISA_NEON; ++isa) {
        if (!softmax_isa_supported(isa)) {
            printf("isa %s: not supported here\n", softmax_isa_name(isa));
            EXPECT_STATUS(softmax_set_isa(isa), SOFTMAX_STATUS_UNSUPPORTED_ISA);
            continue;
        }
        EXPECT_STATUS(softmax_set_isa(isa), SOFTMAX_STATUS_OK);
        CHECK(softmax_get_isa() == isa, "softmax_get_isa() = %s after setting %s",
              softmax_isa_name(softmax_get_isa()), softmax_isa_name(isa));
        printf("isa %s:\n", softmax_isa_name(isa));
        run_checks();
    }
    EXPECT_STATUS(softmax_set_isa(initial), SOFTMAX_STATUS_OK);

    printf("status codes:\n");
    check_status_codes();

    if (failures) {
        printf("FAILED: %d check(s)\n", failures);
        return 1;
    }
    printf("ALL OK\n");
    return 0;
}
