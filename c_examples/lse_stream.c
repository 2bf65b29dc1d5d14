/* Streamed and sharded rows through the C ABI, in one process (no MPI needed): a row's
 * log-sum-exp from chunks merged in two orders, the normalise passes, and a two-shard
 * cross-entropy against softmax_cross_entropy_rows_f32. Prints "OK" and exits 0 when every check
 * passes; runs on the ISA chosen by SOFTMAX_ISA (or the best one).
 *
 *   cc -std=c99 -I include c_examples/lse_stream.c target/release/libsoftmax.a \
 *      -lpthread -ldl -lm -o lse_stream && ./lse_stream
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "softmax.h"

#define N 10007
#define ROWS 3

static int failures = 0;

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAIL: %s\n", what);
        failures++;
    }
}

static int ok_status(softmax_status s) { return s == SOFTMAX_STATUS_OK; }

int main(void) {
    static float x[ROWS * N], y[ROWS * N], grad[ROWS * N], ref_grad[ROWS * N];
    for (size_t i = 0; i < ROWS * N; i++) x[i] = (float)sin((double)i * 0.37) * 9.0f;
    printf("isa: %s\n", softmax_isa_name(softmax_get_isa()));

    /* One row in chunks of 1000 (the last one shorter), merged forwards and backwards. */
    softmax_lse_state fwd = softmax_lse_empty(), chunks[11];
    size_t nchunks = 0;
    for (size_t a = 0; a < N; a += 1000) {
        size_t len = N - a < 1000 ? N - a : 1000;
        chunks[nchunks] = softmax_lse_empty();
        check(ok_status(softmax_logsumexp_accumulate_f32(x + a, len, &chunks[nchunks])),
              "accumulate");
        check(ok_status(softmax_logsumexp_accumulate_f32(x + a, len, &fwd)), "accumulate");
        nchunks++;
    }
    softmax_lse_state bwd = softmax_lse_empty();
    for (size_t i = nchunks; i-- > 0;) bwd = softmax_lse_merge(bwd, chunks[i]);
    float one, lf = softmax_lse_value(fwd), lb = softmax_lse_value(bwd);
    check(ok_status(softmax_logsumexp_f32(x, N, &one)), "softmax_logsumexp_f32");
    double ulp = nextafterf(fabsf(one) > 1 ? fabsf(one) : 1.0f, INFINITY) -
                 (fabsf(one) > 1 ? fabsf(one) : 1.0f);
    check(fabs((double)lf - one) <= 2 * ulp && fabs((double)lb - one) <= 2 * ulp,
          "chunked log-sum-exp within 2 ULP");
    printf("log-sum-exp: one call %.7f, chunks forwards %.7f, backwards %.7f\n", one, lf, lb);

    /* Special states. */
    check(softmax_lse_value(softmax_lse_empty()) == -INFINITY, "empty is -inf");
    check(isnan(softmax_lse_value(softmax_lse_merge(fwd, softmax_lse_from_value(NAN)))),
          "NaN absorbs");
    check(softmax_lse_value(softmax_lse_from_value(INFINITY)) == INFINITY, "+inf");
    check(softmax_lse_value(softmax_lse_from_value(2.5f)) == 2.5f, "from_value round trip");
    check(sizeof(softmax_lse_state) == 16, "16-byte state");

    /* Normalise the row by its log-sum-exp: the softmax, summing to 1. */
    check(ok_status(softmax_normalize_f32(x, y, N, one)), "normalize");
    double sum = 0;
    for (size_t i = 0; i < N; i++) sum += y[i];
    check(fabs(sum - 1.0) < 1e-5, "softmax sums to 1");
    check(ok_status(softmax_log_softmax_normalize_f32(x, y, N, one)), "log_softmax_normalize");
    check(y[17] == x[17] - one, "log-softmax is x - lse");
    check(softmax_normalize_f32(NULL, y, 5, one) == SOFTMAX_STATUS_NULL_POINTER, "NULL x");

    /* A batch in two shards [0, 4000) and [4000, N): states, merge, cross-entropy. */
    int64_t targets[ROWS] = {17, 9000, -100};
    softmax_lse_state s0[ROWS], s1[ROWS];
    float l0[ROWS], l1[ROWS], ref[ROWS];
    size_t w0 = 4000, w1 = N - 4000;
    for (size_t r = 0; r < ROWS; r++) s0[r] = s1[r] = softmax_lse_empty();
    check(ok_status(softmax_logsumexp_accumulate_rows_f32(x, N, ROWS, w0, s0)), "rows 0");
    check(ok_status(softmax_logsumexp_accumulate_rows_f32(x + w0, N, ROWS, w1, s1)), "rows 1");
    check(ok_status(softmax_lse_merge_rows(s1, s0, ROWS)), "merge_rows");
    check(ok_status(softmax_cross_entropy_shard_rows_f32(x, N, ROWS, w0, 0, N, targets, -100,
                                                         0.1f, s0, l0, grad, N)),
          "shard 0");
    check(ok_status(softmax_cross_entropy_shard_rows_f32(x + w0, N, ROWS, w1, w0, N, targets,
                                                         -100, 0.1f, s0, l1, grad + w0, N)),
          "shard 1");
    check(ok_status(softmax_cross_entropy_rows_f32(x, N, ROWS, N, targets, -100, 0.1f, ref, ref_grad, N)),
          "softmax_cross_entropy_rows_f32");
    double worst = 0, worst_grad = 0;
    for (size_t r = 0; r < ROWS; r++) {
        double scale = fabsf(softmax_lse_value(s0[r])) > 1 ? fabsf(softmax_lse_value(s0[r])) : 1;
        double e = fabs((double)l0[r] + l1[r] - ref[r]) / scale;
        if (e > worst) worst = e;
        for (size_t i = 0; i < N; i++) {
            double g = ref_grad[r * N + i];
            double d = fabs(grad[r * N + i] - g) / (1 + fabs(g));
            if (d > worst_grad) worst_grad = d;
        }
    }
    check(worst <= 5e-7 && worst_grad <= 5e-7, "sharded cross-entropy");
    check(l0[1] >= 0 && l1[2] == 0, "contributions");
    printf("sharded cross-entropy: loss %.7f + %.7f = %.7f (one call %.7f)\n", l0[0], l1[0],
           (double)l0[0] + l1[0], ref[0]);
    int64_t bad[ROWS] = {17, (int64_t)N, -100};
    check(softmax_cross_entropy_shard_rows_f32(x, N, ROWS, w0, 0, N, bad, -100, 0.1f, s0, l0,
                                               NULL, 0) == SOFTMAX_STATUS_INVALID_ARGUMENT,
          "target out of range");
    check(softmax_cross_entropy_shard_rows_f32(x, N, ROWS, w0, w1 + 1, N, targets, -100, 0.1f, s0,
                                               l0, NULL, 0) == SOFTMAX_STATUS_INVALID_ARGUMENT,
          "shard outside the row");

    printf("%s\n", failures ? "FAILED" : "OK");
    return failures ? 1 : 0;
}
