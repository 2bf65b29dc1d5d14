/*
 * Example and self-check of the softmax C ABI (see ../include/softmax.h).
 *
 *   scripts/install.sh --prefix "$HOME/.local" && make -C c_examples run PREFIX="$HOME/.local"
 *
 * Prints what it computes and exits with status 1 if any result or status code is wrong.
 * Every numeric result is compared with a double-precision computation (relative tolerance
 * 1e-5; gradients, which may cancel to 0, within 1e-5 of the magnitude of their terms). The
 * checks run once on every ISA this CPU supports: the forward operations, then the training
 * operations (scaled softmax, masked rows, backward passes, cross-entropy).
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

/* Gradients: |got - want| <= 1e-5 * scale, where scale bounds the terms that were summed. */
static int close_grad(double got, double want, double scale) {
    return fabs(got - want) <= 1e-5 * (scale + fabs(want)) + 1e-30;
}

/* Softmax of scale * x in double. */
static void check_scaled_row(const char *what, const float *x, const float *y, size_t n,
                             float scale) {
    double m = -INFINITY, s = 0.0;
    size_t i;
    for (i = 0; i < n; ++i)
        if ((double)scale * x[i] > m) m = (double)scale * x[i];
    for (i = 0; i < n; ++i) s += exp((double)scale * x[i] - m);
    for (i = 0; i < n; ++i) {
        double want = exp((double)scale * x[i] - m) / s;
        if (!close_rel(y[i], want)) {
            CHECK(0, "%s: y[%zu] = %.9g, expected %.9g", what, i, (double)y[i], want);
            return;
        }
    }
}

/* dx = y * (dy - dot(dy, y)) (log == 0) or dx = dy - exp(y) * sum(dy) (log == 1). */
static void check_backward_row(const char *what, const float *y, const float *dy,
                               const float *dx, size_t n, int log_softmax) {
    double red = 0.0, red_abs = 0.0;
    size_t i;
    for (i = 0; i < n; ++i) {
        double term = log_softmax ? (double)dy[i] : (double)y[i] * dy[i];
        red += term;
        red_abs += fabs(term);
    }
    for (i = 0; i < n; ++i) {
        double want, scale;
        if (log_softmax) {
            want = dy[i] - exp(y[i]) * red;
            scale = fabs(dy[i]) + exp(y[i]) * red_abs;
        } else {
            want = y[i] * (dy[i] - red);
            scale = y[i] * (fabs(dy[i]) + red_abs);
        }
        if (!close_grad(dx[i], want, scale)) {
            CHECK(0, "%s: dx[%zu] = %.9g, expected %.9g", what, i, (double)dx[i], want);
            return;
        }
    }
}

/* Cross-entropy with label smoothing eps: the loss, and the gradient when d != NULL. */
static void check_cross_entropy_row(const char *what, const float *x, size_t n, size_t target,
                                    double eps, float loss, const float *d) {
    double lse = ref_logsumexp(x, n), mean = 0.0, want;
    size_t i;
    for (i = 0; i < n; ++i) mean += x[i];
    mean /= (double)n;
    want = lse - (1.0 - eps) * x[target] - eps * mean;
    CHECK(fabs(loss - want) <= 1e-5 * fmax(1.0, fabs(want)), "%s: loss = %.9g, expected %.9g",
          what, (double)loss, want);
    if (!d) return;
    for (i = 0; i < n; ++i) {
        double g = exp((double)x[i] - lse) - eps / (double)n - (i == target ? 1.0 - eps : 0.0);
        if (!close_grad(d[i], g, 1.0)) {
            CHECK(0, "%s: dlogits[%zu] = %.9g, expected %.9g", what, i, (double)d[i], g);
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
        EXPECT_STATUS(softmax_log_softmax_rows_f32(bx, X_STRIDE, by, Y_STRIDE, ROWS, COLS),
                      SOFTMAX_STATUS_OK);
        for (r = 0; r < ROWS; ++r)
            check_log_softmax_row("softmax_log_softmax_rows_f32", bx + r * X_STRIDE, by + r * Y_STRIDE,
                                  COLS);
    }

    /* Log-softmax and log-sum-exp. */
    {
        float lse = 0.0f;
        EXPECT_STATUS(softmax_log_softmax_f32(x, y, N), SOFTMAX_STATUS_OK);
        check_log_softmax_row("softmax_log_softmax_f32", x, y, N);
        printf("  log_softmax(x)[0..3]   = [%.6f %.6f %.6f]\n", y[0], y[1], y[2]);
        EXPECT_STATUS(softmax_logsumexp_f32(x, N, &lse), SOFTMAX_STATUS_OK);
        printf("  logsumexp(x)           = %.6f (double: %.6f)\n", lse, ref_logsumexp(x, N));
        CHECK(close_rel(lse, ref_logsumexp(x, N)), "softmax_logsumexp_f32 = %.9g", (double)lse);
        EXPECT_STATUS(softmax_logsumexp_f32(NULL, 0, &lse), SOFTMAX_STATUS_OK);
        CHECK(isinf(lse) && lse < 0, "logsumexp of nothing = %g, expected -inf", (double)lse);
    }

    /* Softmax with a fused scale (temperature / attention scaling). */
    EXPECT_STATUS(softmax_scaled_f32(x, y, N, 0.125f), SOFTMAX_STATUS_OK);
    check_scaled_row("softmax_scaled_f32", x, y, N, 0.125f);
    printf("  softmax_scaled(x, 0.125)[0..2] = [%.6g %.6g]\n", y[0], y[1]);

    /* Backward passes: y = softmax(x), dy an incoming gradient in [-1, 1). */
    {
        static float dy[N], dx[N];
        fill(dy, N, 99);
        for (i = 0; i < N; ++i) dy[i] /= 8.0f;
        EXPECT_STATUS(softmax_f32(x, y, N), SOFTMAX_STATUS_OK);
        EXPECT_STATUS(softmax_backward_f32(y, dy, dx, N), SOFTMAX_STATUS_OK);
        check_backward_row("softmax_backward_f32", y, dy, dx, N, 0);
        printf("  softmax_backward dx[0..2] = [%.6g %.6g]\n", dx[0], dx[1]);
        EXPECT_STATUS(softmax_log_softmax_f32(x, y, N), SOFTMAX_STATUS_OK);
        EXPECT_STATUS(softmax_log_softmax_backward_f32(y, dy, dx, N), SOFTMAX_STATUS_OK);
        check_backward_row("softmax_log_softmax_backward_f32", y, dy, dx, N, 1);
    }

    /* Cross-entropy: loss only, loss and gradient, and in place over the logits. */
    {
        static float d[N], xd[N];
        float loss = 0.0f, loss2 = 0.0f;
        EXPECT_STATUS(softmax_cross_entropy_f32(x, N, 7, &loss, NULL), SOFTMAX_STATUS_OK);
        check_cross_entropy_row("softmax_cross_entropy_f32", x, N, 7, 0.0, loss, NULL);
        EXPECT_STATUS(softmax_cross_entropy_f32(x, N, 7, &loss2, d), SOFTMAX_STATUS_OK);
        check_cross_entropy_row("softmax_cross_entropy_f32 with gradient", x, N, 7, 0.0, loss2, d);
        memcpy(xd, x, sizeof x);
        EXPECT_STATUS(softmax_cross_entropy_f32(xd, N, 7, &loss2, xd), SOFTMAX_STATUS_OK);
        check_cross_entropy_row("softmax_cross_entropy_f32 in place", x, N, 7, 0.0, loss2, xd);
        printf("  cross_entropy(x, 7) = %.6f, dlogits[7] = %.6f\n", loss, d[7]);
    }

    /* Batches of the training operations. */
    {
        float bx[(ROWS - 1) * X_STRIDE + COLS], by[(ROWS - 1) * Y_STRIDE + COLS];
        float bdy[(ROWS - 1) * X_STRIDE + COLS], bdx[(ROWS - 1) * Y_STRIDE + COLS];
        float losses[ROWS];
        const int64_t targets[ROWS] = {4, -100, 0}; /* row 1 is ignored */
        fill(bx, sizeof bx / sizeof bx[0], 11);
        fill(bdy, sizeof bdy / sizeof bdy[0], 12);

        EXPECT_STATUS(softmax_scaled_rows_f32(bx, X_STRIDE, by, Y_STRIDE, ROWS, COLS, 2.0f,
                                              SOFTMAX_ALGORITHM_TWO_PASS),
                      SOFTMAX_STATUS_OK);
        for (r = 0; r < ROWS; ++r)
            check_scaled_row("softmax_scaled_rows_f32", bx + r * X_STRIDE, by + r * Y_STRIDE,
                             COLS, 2.0f);

        /* y rows Y_STRIDE apart, dy rows X_STRIDE apart, dx rows Y_STRIDE apart. */
        EXPECT_STATUS(softmax_rows_f32(bx, X_STRIDE, by, Y_STRIDE, ROWS, COLS,
                                       SOFTMAX_ALGORITHM_AUTO),
                      SOFTMAX_STATUS_OK);
        EXPECT_STATUS(softmax_backward_rows_f32(by, Y_STRIDE, bdy, X_STRIDE, bdx, Y_STRIDE, ROWS,
                                                COLS),
                      SOFTMAX_STATUS_OK);
        for (r = 0; r < ROWS; ++r)
            check_backward_row("softmax_backward_rows_f32", by + r * Y_STRIDE,
                               bdy + r * X_STRIDE, bdx + r * Y_STRIDE, COLS, 0);
        EXPECT_STATUS(softmax_log_softmax_rows_f32(bx, X_STRIDE, by, Y_STRIDE, ROWS, COLS),
                      SOFTMAX_STATUS_OK);
        EXPECT_STATUS(softmax_log_softmax_backward_rows_f32(by, Y_STRIDE, bdy, X_STRIDE, bdx, Y_STRIDE,
                                                    ROWS, COLS),
                      SOFTMAX_STATUS_OK);
        for (r = 0; r < ROWS; ++r)
            check_backward_row("softmax_log_softmax_backward_rows_f32", by + r * Y_STRIDE,
                               bdy + r * X_STRIDE, bdx + r * Y_STRIDE, COLS, 1);

        /* One loss per row, label smoothing 0.1, gradient rows Y_STRIDE apart. */
        EXPECT_STATUS(softmax_cross_entropy_rows_f32(bx, X_STRIDE, ROWS, COLS, targets, -100, 0.1f,
                                             losses, bdx, Y_STRIDE),
                      SOFTMAX_STATUS_OK);
        for (r = 0; r < ROWS; ++r) {
            if (targets[r] == -100) {
                CHECK(losses[r] == 0.0f && bdx[r * Y_STRIDE] == 0.0f,
                      "softmax_cross_entropy_rows_f32: ignored row %zu not zero", r);
                continue;
            }
            check_cross_entropy_row("softmax_cross_entropy_rows_f32", bx + r * X_STRIDE, COLS,
                                    (size_t)targets[r], 0.1, losses[r], bdx + r * Y_STRIDE);
        }
        printf("  cross_entropy_rows losses = [%.6f %.6f %.6f]\n", losses[0], losses[1],
               losses[2]);

        /* Masked attention: row 1 all -inf gives zeros with the flag (NaN without). */
        for (i = 0; i < COLS; ++i) bx[X_STRIDE + i] = -INFINITY;
        EXPECT_STATUS(softmax_rows_f32_ex(bx, X_STRIDE, by, Y_STRIDE, ROWS, COLS,
                                          SOFTMAX_ALGORITHM_AUTO, SOFTMAX_FLAG_ZERO_MASKED_ROWS),
                      SOFTMAX_STATUS_OK);
        for (i = 0; i < COLS; ++i)
            CHECK(by[Y_STRIDE + i] == 0.0f, "masked row: y[%zu] = %g", i, (double)by[Y_STRIDE + i]);
        check_softmax_row("softmax_rows_f32_ex", bx, by, COLS);
        EXPECT_STATUS(softmax_rows_f32_ex(bx, X_STRIDE, by, Y_STRIDE, ROWS, COLS,
                                          SOFTMAX_ALGORITHM_AUTO, 0),
                      SOFTMAX_STATUS_OK);
        CHECK(isnan(by[Y_STRIDE]), "masked row without the flag: %g", (double)by[Y_STRIDE]);
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
    EXPECT_STATUS(softmax_logsumexp_f32(a, 4, NULL), SOFTMAX_STATUS_NULL_POINTER);
    EXPECT_STATUS(softmax_logsumexp_f32(NULL, 4, &lse), SOFTMAX_STATUS_NULL_POINTER);
    EXPECT_STATUS(softmax_f32_ex(a, b, 4, 99), SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_rows_f32(a, 8, b, 8, 1, 8, 99), SOFTMAX_STATUS_INVALID_ARGUMENT);
    /* Stride smaller than the row. */
    EXPECT_STATUS(softmax_rows_f32(a, 3, b, 4, 2, 4, SOFTMAX_ALGORITHM_AUTO),
                  SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_log_softmax_rows_f32(a, 4, b, 3, 2, 4), SOFTMAX_STATUS_INVALID_ARGUMENT);
    /* Extent overflow. */
    EXPECT_STATUS(softmax_rows_f32(a, SIZE_MAX, b, 4, 2, 4, SOFTMAX_ALGORITHM_AUTO),
                  SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_f32(a, b, SIZE_MAX / 2), SOFTMAX_STATUS_INVALID_ARGUMENT);
    /* Output partly overlapping the input. */
    EXPECT_STATUS(softmax_f32(a, a + 1, 4), SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_log_softmax_f32(a + 1, a, 4), SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_rows_f32(a, 4, a, 2, 2, 2, SOFTMAX_ALGORITHM_AUTO),
                  SOFTMAX_STATUS_INVALID_ARGUMENT);
    /* Exactly in place is fine. */
    EXPECT_STATUS(softmax_rows_f32(a, 4, a, 4, 2, 4, SOFTMAX_ALGORITHM_AUTO), SOFTMAX_STATUS_OK);
    /* Bad ISA values. */
    EXPECT_STATUS(softmax_set_isa(99), SOFTMAX_STATUS_INVALID_ARGUMENT);
    CHECK(!softmax_isa_supported(99), "softmax_isa_supported(99) != 0");
    CHECK(strcmp(softmax_isa_name(99), "unknown") == 0, "softmax_isa_name(99) = %s",
          softmax_isa_name(99));
    /* Training operations: out-of-domain scalars, missing outputs, bad targets. */
    {
        const int64_t targets[2] = {0, 9};
        float losses[2];
        EXPECT_STATUS(softmax_scaled_f32(a, b, 4, NAN), SOFTMAX_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(softmax_scaled_f32(a, b, 4, INFINITY), SOFTMAX_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(softmax_rows_f32_ex(a, 4, b, 4, 2, 4, SOFTMAX_ALGORITHM_AUTO, 2),
                      SOFTMAX_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(softmax_backward_f32(a, NULL, b, 4), SOFTMAX_STATUS_NULL_POINTER);
        EXPECT_STATUS(softmax_backward_f32(NULL, NULL, NULL, 0), SOFTMAX_STATUS_OK);
        EXPECT_STATUS(softmax_log_softmax_backward_f32(a, a + 4, a + 1, 4),
                      SOFTMAX_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(softmax_cross_entropy_f32(a, 4, 4, &lse, NULL), SOFTMAX_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(softmax_cross_entropy_f32(a, 0, 0, &lse, NULL), SOFTMAX_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(softmax_cross_entropy_f32(a, 4, 0, NULL, b), SOFTMAX_STATUS_NULL_POINTER);
        EXPECT_STATUS(softmax_cross_entropy_rows_f32(a, 4, 2, 4, targets, -100, 0.0f, losses, NULL, 0),
                      SOFTMAX_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(softmax_cross_entropy_rows_f32(a, 4, 2, 4, targets, 9, 1.5f, losses, NULL, 0),
                      SOFTMAX_STATUS_INVALID_ARGUMENT);
        EXPECT_STATUS(softmax_cross_entropy_rows_f32(a, 4, 2, 4, targets, 9, 0.5f, losses, NULL, 0),
                      SOFTMAX_STATUS_OK);
        CHECK(losses[1] == 0.0f, "ignored row: loss %g", (double)losses[1]);
    }
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
