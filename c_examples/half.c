/*
 * The 16-bit rows of the softmax C ABI (see ../include/softmax.h): bfloat16 and IEEE binary16
 * values held as uint16_t (softmax_bf16_t, softmax_f16_t), converted by the small helpers
 * below, and passed to the _bf16 and _f16 functions.
 *
 *   scripts/install.sh --prefix "$HOME/.local" && make -C c_examples run PREFIX="$HOME/.local"
 *
 * Checks, on every ISA this CPU supports: each 16-bit function gives exactly the _f32
 * function on the widened row, rounded once to nearest even (the helpers round the same way);
 * the results are close to a double-precision softmax (within the format's rounding); a fully
 * masked row gives zeros with SOFTMAX_FLAG_ZERO_MASKED_ROWS; in-place cross-entropy; and the
 * status codes of bad arguments. Exits with status 1 if anything is wrong.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

#define EXPECT_STATUS(call, want)                                                       \
    do {                                                                                \
        softmax_status got_ = (call);                                                   \
        CHECK(got_ == (want), "%s returned %s, expected %s", #call,                     \
              softmax_status_string(got_), softmax_status_string(want));                \
    } while (0)

/* ---- Conversions (round to nearest, ties to even; NaN stays NaN) ---------------------- */

static uint32_t float_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static float bits_float(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* bfloat16 is the upper half of a float. */
static softmax_bf16_t float_to_bf16(float f) {
    uint32_t b = float_bits(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (softmax_bf16_t)((b >> 16) | 0x0040u); /* NaN */
    return (softmax_bf16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

static float bf16_to_float(softmax_bf16_t h) { return bits_float((uint32_t)h << 16); }

/* IEEE binary16: 1 sign, 5 exponent, 10 fraction bits. */
static softmax_f16_t float_to_f16(float f) {
    uint32_t b = float_bits(f);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    uint32_t a = b & 0x7fffffffu;
    if (a > 0x7f800000u) return (softmax_f16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
    if (a >= 0x477ff000u) return (softmax_f16_t)(sign | 0x7c00u); /* 65520 and up: inf */
    if (a < 0x38800000u) {
        /* Below 2^-14: a subnormal; adding 0.5 rounds at the step 2^-24 (nearest even). */
        float sum = bits_float(a) + 0.5f;
        return (softmax_f16_t)(sign | (float_bits(sum) - 0x3f000000u));
    }
    /* Normal: rebias the exponent and round off 13 fraction bits to nearest even. */
    return (softmax_f16_t)(sign | ((a - (112u << 23) + 0xfffu + ((a >> 13) & 1u)) >> 13));
}

static float f16_to_float(softmax_f16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0) return bits_float(sign | float_bits((float)man * 0x1p-24f)); /* subnormal */
    if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0));
    return bits_float(sign | ((exp + 112u) << 23) | (man << 13));
}

/* ---- Checks ---------------------------------------------------------------------------- */

#define N 40
#define ROWS 3
#define COLS 16

/* Softmax of the widened row in double precision. */
static void reference_softmax(const float *x, size_t n, double *p) {
    double m = -INFINITY, s = 0.0;
    size_t i;
    for (i = 0; i < n; ++i) m = fmax(m, x[i]);
    for (i = 0; i < n; ++i) s += exp((double)x[i] - m);
    for (i = 0; i < n; ++i) p[i] = exp((double)x[i] - m) / s;
}

static void check_bf16(void) {
    softmax_bf16_t x[N], y[N], g[N], dy[N], dx[N];
    float xf[N], yf[N], gf[N], dyf[N], dxf[N];
    double p[N];
    float loss = 0.0f, loss32 = 0.0f, lse = 0.0f, lse32 = 0.0f;
    size_t i;
    for (i = 0; i < N; ++i) {
        x[i] = float_to_bf16((float)sin(0.7 * (double)i) * 9.0f);
        xf[i] = bf16_to_float(x[i]);
        dy[i] = float_to_bf16((float)cos(1.3 * (double)i));
        dyf[i] = bf16_to_float(dy[i]);
    }

    /* Softmax: the f32 softmax of the widened row, rounded once; within 2^-8 of the exact. */
    EXPECT_STATUS(softmax_bf16(x, y, N), SOFTMAX_STATUS_OK);
    EXPECT_STATUS(softmax_f32(xf, yf, N), SOFTMAX_STATUS_OK);
    reference_softmax(xf, N, p);
    for (i = 0; i < N; ++i) {
        CHECK(y[i] == float_to_bf16(yf[i]), "softmax_bf16[%zu] = 0x%04x, f32 rounded 0x%04x", i,
              (unsigned)y[i], (unsigned)float_to_bf16(yf[i]));
        CHECK(fabs(bf16_to_float(y[i]) - p[i]) <= 0x1p-8 * p[i] + 1e-30,
              "softmax_bf16[%zu] = %g, expected %g", i, (double)bf16_to_float(y[i]), p[i]);
    }
    printf("  softmax_bf16: y[0] = %g (double: %g)\n", (double)bf16_to_float(y[0]), p[0]);

    /* Log-sum-exp is a float, the f32 value of the widened row. */
    EXPECT_STATUS(softmax_logsumexp_bf16(x, N, &lse), SOFTMAX_STATUS_OK);
    EXPECT_STATUS(softmax_logsumexp_f32(xf, N, &lse32), SOFTMAX_STATUS_OK);
    CHECK(float_bits(lse) == float_bits(lse32), "logsumexp_bf16 = %g, f32 %g", (double)lse,
          (double)lse32);

    /* Backward pass from the softmax output. */
    for (i = 0; i < N; ++i) yf[i] = bf16_to_float(y[i]);
    EXPECT_STATUS(softmax_backward_bf16(y, dy, dx, N), SOFTMAX_STATUS_OK);
    EXPECT_STATUS(softmax_backward_f32(yf, dyf, dxf, N), SOFTMAX_STATUS_OK);
    for (i = 0; i < N; ++i)
        CHECK(dx[i] == float_to_bf16(dxf[i]), "softmax_backward_bf16[%zu]", i);

    /* Cross-entropy with the gradient written over the logits; the loss is a float. */
    memcpy(g, x, sizeof g);
    memcpy(gf, xf, sizeof gf);
    EXPECT_STATUS(softmax_cross_entropy_bf16(g, N, 7, &loss, g), SOFTMAX_STATUS_OK);
    EXPECT_STATUS(softmax_cross_entropy_f32(gf, N, 7, &loss32, gf), SOFTMAX_STATUS_OK);
    CHECK(float_bits(loss) == float_bits(loss32), "cross_entropy_bf16 loss %g, f32 %g",
          (double)loss, (double)loss32);
    CHECK(fabs(loss + log(p[7])) <= 1e-5 * fabs(log(p[7])), "cross_entropy_bf16 loss = %g",
          (double)loss);
    for (i = 0; i < N; ++i)
        CHECK(g[i] == float_to_bf16(gf[i]), "cross_entropy_bf16 gradient[%zu]", i);
    printf("  cross_entropy_bf16: loss = %f\n", (double)loss);
}

static void check_f16(void) {
    softmax_f16_t x[ROWS * COLS], y[ROWS * COLS], ls[N];
    float xf[ROWS * COLS], yf[ROWS * COLS], lsf[N];
    double p[COLS];
    size_t i, r;
    for (i = 0; i < ROWS * COLS; ++i) {
        x[i] = float_to_f16((float)sin(0.37 * (double)i) * 5.0f);
        xf[i] = f16_to_float(x[i]);
    }
    /* Row 1 is fully masked: zeros with the flag (NaN without). */
    for (i = COLS; i < 2 * COLS; ++i) {
        x[i] = float_to_f16(-INFINITY);
        xf[i] = -INFINITY;
    }
    EXPECT_STATUS(softmax_rows_f16_ex(x, COLS, y, COLS, ROWS, COLS, SOFTMAX_ALGORITHM_AUTO,
                                      SOFTMAX_FLAG_ZERO_MASKED_ROWS),
                  SOFTMAX_STATUS_OK);
    EXPECT_STATUS(softmax_rows_f32_ex(xf, COLS, yf, COLS, ROWS, COLS, SOFTMAX_ALGORITHM_AUTO,
                                      SOFTMAX_FLAG_ZERO_MASKED_ROWS),
                  SOFTMAX_STATUS_OK);
    for (i = 0; i < ROWS * COLS; ++i)
        CHECK(y[i] == float_to_f16(yf[i]), "softmax_rows_f16_ex[%zu] = 0x%04x, f32 rounded 0x%04x",
              i, (unsigned)y[i], (unsigned)float_to_f16(yf[i]));
    for (i = COLS; i < 2 * COLS; ++i) CHECK(y[i] == 0, "masked row element %zu", i);
    for (r = 0; r < ROWS; r += 2) {
        reference_softmax(xf + r * COLS, COLS, p);
        /* Half a unit in the last place: 2^-11 relative, 2^-25 among the subnormals. */
        for (i = 0; i < COLS; ++i)
            CHECK(fabs(f16_to_float(y[r * COLS + i]) - p[i]) <= 0x1p-11 * p[i] + 0x1p-25,
                  "softmax_rows_f16_ex[%zu][%zu] = %g, expected %g", r, i,
                  (double)f16_to_float(y[r * COLS + i]), p[i]);
    }
    printf("  softmax_rows_f16_ex: row 0 starts %g %g, masked row %g\n",
           (double)f16_to_float(y[0]), (double)f16_to_float(y[1]),
           (double)f16_to_float(y[COLS]));

    /* Log-softmax in place: the f32 values rounded, -inf beyond the binary16 range. */
    for (i = 0; i < N; ++i) {
        ls[i] = float_to_f16(i == 0 ? 60000.0f : i == 1 ? -10000.0f : (float)i);
        lsf[i] = f16_to_float(ls[i]);
    }
    EXPECT_STATUS(softmax_log_softmax_f16(ls, ls, N), SOFTMAX_STATUS_OK);
    EXPECT_STATUS(softmax_log_softmax_f32(lsf, lsf, N), SOFTMAX_STATUS_OK);
    for (i = 0; i < N; ++i) CHECK(ls[i] == float_to_f16(lsf[i]), "log_softmax_f16[%zu]", i);
    CHECK(ls[0] == 0 && f16_to_float(ls[1]) == -INFINITY && lsf[1] == -70000.0f,
          "log_softmax_f16 of [60000, -10000, ...] = [%g, %g, ...]", (double)f16_to_float(ls[0]),
          (double)f16_to_float(ls[1]));
    printf("  log_softmax_f16 in place: [%g, %g, ...] (f32: %g)\n", (double)f16_to_float(ls[0]),
           (double)f16_to_float(ls[1]), (double)lsf[1]);
}

static void check_statuses(void) {
    softmax_bf16_t x[8] = {0}, y[8];
    softmax_f16_t h[8] = {0}, hy[8];
    int64_t targets[2] = {1, 9};
    float loss = 0.0f, losses[2];
    EXPECT_STATUS(softmax_f16(NULL, hy, 8), SOFTMAX_STATUS_NULL_POINTER);
    EXPECT_STATUS(softmax_bf16(NULL, NULL, 0), SOFTMAX_STATUS_OK);
    EXPECT_STATUS(softmax_logsumexp_f16(h, 8, NULL), SOFTMAX_STATUS_NULL_POINTER);
    EXPECT_STATUS(softmax_bf16(x, x + 1, 7), SOFTMAX_STATUS_INVALID_ARGUMENT); /* overlap */
    EXPECT_STATUS(softmax_bf16_ex(x, y, 8, 99), SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_rows_f16_ex(h, 3, hy, 4, 2, 4, 0, 0), SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_cross_entropy_bf16(x, 8, 8, &loss, NULL),
                  SOFTMAX_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(softmax_cross_entropy_rows_f16(h, 4, 2, 4, targets, -100, 0.0f, losses, NULL, 0),
                  SOFTMAX_STATUS_INVALID_ARGUMENT); /* target 9 of 4 classes */
}

int main(void) {
    const uint32_t initial = softmax_get_isa();
    uint32_t isa;
    printf("softmax %s, initial isa: %s\n", softmax_version(), softmax_isa_name(initial));
    for (isa = SOFTMAX_ISA_SCALAR; isa <= SOFTMAX_ISA_NEON; ++isa) {
        if (!softmax_isa_supported(isa)) continue;
        EXPECT_STATUS(softmax_set_isa(isa), SOFTMAX_STATUS_OK);
        printf("isa %s:\n", softmax_isa_name(isa));
        check_bf16();
        check_f16();
    }
    EXPECT_STATUS(softmax_set_isa(initial), SOFTMAX_STATUS_OK);
    check_statuses();
    if (failures) {
        printf("FAILED: %d check(s)\n", failures);
        return 1;
    }
    printf("16-bit C example: ALL OK\n");
    return 0;
}
