/*
 * Example and self-check of the StableMax C functions (see ../include/softmax.h).
 *
 *   cargo build --release
 *   cc -std=c99 -O2 -I include c_examples/stablemax.c target/release/libsoftmax.a \
 *      -lpthread -ldl -lm -o stablemax && ./stablemax
 *
 * StableMax (Prieto et al., "Grokking at the Edge of Numerical Stability", 2025) replaces
 * exp by s(x) = x + 1 for x >= 0 and 1 / (1 - x) for x < 0. Every result is compared with a
 * double-precision computation, on every ISA this CPU supports; the program prints
 * "ALL OK" and exits with 0 when everything matches.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "softmax.h"

static int failures = 0;

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            ++failures;                                   \
            printf("FAIL (%s:%d): ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);                          \
            printf("\n");                                 \
        }                                                 \
    } while (0)

#define EXPECT_STATUS(call, expected)                                                   \
    do {                                                                                \
        softmax_status got_ = (call);                                                   \
        CHECK(got_ == (softmax_status)(expected), "%s returned %u (%s), expected %s", \
              #call, (unsigned)got_, softmax_status_string(got_), #expected);           \
    } while (0)

static double s(double x) { return x >= 0.0 ? x + 1.0 : 1.0 / (1.0 - x); }
static double ds(double x) { return x >= 0.0 ? 1.0 : 1.0 / ((1.0 - x) * (1.0 - x)); }

#define N 37
#define ROWS 3
#define STRIDE 40

static void run_checks(void) {
    float x[N], y[N], g[N], dy[N], dx[N];
    double sum = 0.0, dot = 0.0, dysum = 0.0;
    size_t i;
    float loss;
    for (i = 0; i < N; ++i) {
        x[i] = (float)((double)((i * 7919) % 97) * 0.25 - 12.0);
        dy[i] = (float)((double)((i * 31) % 11) / 11.0 - 0.5);
        sum += s(x[i]);
        dysum += dy[i];
    }
    for (i = 0; i < N; ++i) dot += dy[i] * s(x[i]) / sum;

    EXPECT_STATUS(softmax_stablemax_f32(x, y, N), SOFTMAX_STATUS_OK);
    for (i = 0; i < N; ++i) {
        double want = s(x[i]) / sum;
        CHECK(fabs(y[i] - want) <= 1e-6 * want, "stablemax[%zu] = %.9g, expected %.9g", i,
              (double)y[i], want);
    }
    EXPECT_STATUS(softmax_log_stablemax_f32(x, y, N), SOFTMAX_STATUS_OK);
    for (i = 0; i < N; ++i) {
        double want = log(s(x[i])) - log(sum);
        CHECK(fabs(y[i] - want) <= 1e-6 * fmax(1.0, fabs(want)),
              "log_stablemax[%zu] = %.9g, expected %.9g", i, (double)y[i], want);
    }

    /* Cross-entropy with its gradient (dlogits may also be x itself: in place). */
    EXPECT_STATUS(softmax_stablemax_cross_entropy_f32(x, N, 5, &loss, g), SOFTMAX_STATUS_OK);
    CHECK(fabs(loss - (log(sum) - log(s(x[5])))) <= 1e-6 * fmax(1.0, fabs(loss)),
          "cross-entropy %.9g", (double)loss);
    for (i = 0; i < N; ++i) {
        double want = ds(x[i]) / sum - (i == 5 ? 1.0 / (1.0 + fabs((double)x[i])) : 0.0);
        CHECK(fabs(g[i] - want) <= 1e-6 * (ds(x[i]) / sum + 1.0), "dlogits[%zu] = %.9g, expected %.9g",
              i, (double)g[i], want);
    }

    /* Backward passes take the forward input x. */
    EXPECT_STATUS(softmax_stablemax_backward_f32(x, dy, dx, N), SOFTMAX_STATUS_OK);
    for (i = 0; i < N; ++i) {
        double want = ds(x[i]) / sum * (dy[i] - dot);
        CHECK(fabs(dx[i] - want) <= 1e-6 * ds(x[i]) / sum * (fabs(dy[i]) + 1.0),
              "stablemax backward[%zu] = %.9g, expected %.9g", i, (double)dx[i], want);
    }
    EXPECT_STATUS(softmax_log_stablemax_backward_f32(x, dy, dx, N), SOFTMAX_STATUS_OK);
    for (i = 0; i < N; ++i) {
        double want = dy[i] / (1.0 + fabs((double)x[i])) - ds(x[i]) / sum * dysum;
        CHECK(fabs(dx[i] - want) <= 1e-6 * (fabs(dy[i]) + ds(x[i]) / sum * N),
              "log_stablemax backward[%zu] = %.9g, expected %.9g", i, (double)dx[i], want);
    }

    /* A batch with strides, ignore_index and label smoothing. */
    {
        float xb[ROWS * STRIDE], yb[ROWS * STRIDE], losses[ROWS], gb[ROWS * STRIDE];
        int64_t targets[ROWS] = {3, -100, 36};
        size_t r;
        for (i = 0; i < ROWS * STRIDE; ++i) xb[i] = (float)((double)(i % 23) - 11.0);
        EXPECT_STATUS(softmax_stablemax_rows_f32(xb, STRIDE, yb, STRIDE, ROWS, N),
                      SOFTMAX_STATUS_OK);
        EXPECT_STATUS(softmax_log_stablemax_rows_f32(xb, STRIDE, yb, STRIDE, ROWS, N),
                      SOFTMAX_STATUS_OK);
        EXPECT_STATUS(softmax_stablemax_cross_entropy_rows_f32(xb, STRIDE, ROWS, N, targets, -100,
                                                               0.1f, losses, gb, STRIDE),
                      SOFTMAX_STATUS_OK);
        CHECK(losses[1] == 0.0f, "ignored row loss %g", (double)losses[1]);
        for (r = 0; r < ROWS; r += 2) {
            double rs = 0.0, mean = 0.0, want;
            const float *row = xb + r * STRIDE;
            for (i = 0; i < N; ++i) {
                rs += s(row[i]);
                mean += log(s(row[i])) / N;
            }
            want = log(rs) - 0.9 * log(s(row[targets[r]])) - 0.1 * mean;
            CHECK(fabs(losses[r] - want) <= 1e-6 * fmax(1.0, want), "row %zu loss %.9g, expected %.9g",
                  r, (double)losses[r], want);
        }
        EXPECT_STATUS(softmax_stablemax_backward_rows_f32(xb, STRIDE, xb, STRIDE, yb, STRIDE, ROWS, N),
                      SOFTMAX_STATUS_OK);
        EXPECT_STATUS(
            softmax_log_stablemax_backward_rows_f32(xb, STRIDE, xb, STRIDE, yb, STRIDE, ROWS, N),
            SOFTMAX_STATUS_OK);
    }

    /* Special values and argument checks. */
    {
        float sp[4] = {1.0f, INFINITY, -2.0f, INFINITY};
        EXPECT_STATUS(softmax_stablemax_f32(sp, sp, 4), SOFTMAX_STATUS_OK);
        CHECK(sp[0] == 0.0f && sp[1] == 0.5f && sp[2] == 0.0f && sp[3] == 0.5f,
              "+inf entries share the mass: %g %g %g %g", (double)sp[0], (double)sp[1],
              (double)sp[2], (double)sp[3]);
    }
    EXPECT_STATUS(softmax_stablemax_f32(NULL, y, N), SOFTMAX_STATUS_NULL_POINTER);
    EXPECT_STATUS(softmax_stablemax_f32(NULL, NULL, 0), SOFTMAX_STATUS_OK);
    EXPECT_STATUS(softmax_stablemax_f32(x, x + 1, N - 1), SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_stablemax_cross_entropy_f32(x, N, N, &loss, NULL),
                  SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_stablemax_rows_f32(x, 3, y, 4, 2, 4), SOFTMAX_STATUS_INVALID_ARGUMENT);
}

int main(void) {
    uint32_t isa;
    for (isa = SOFTMAX_ISA_SCALAR; isa <= SOFTMAX_ISA_NEON; ++isa) {
        if (!softmax_isa_supported(isa)) {
            printf("isa %s: not supported here\n", softmax_isa_name(isa));
            continue;
        }
        EXPECT_STATUS(softmax_set_isa(isa), SOFTMAX_STATUS_OK);
        run_checks();
        printf("isa %s: %s\n", softmax_isa_name(isa), failures ? "FAILED" : "ok");
    }
    if (failures) {
        printf("%d FAILURES\n", failures);
        return 1;
    }
    printf("ALL OK\n");
    return 0;
}
