/* The thread settings and a caller's parallel-for through the C ABI (run by tests/threads.rs):
 * a pthreads parallel-for gives the same bits as the one-thread call and as the built-in pool
 * with 2, 3, 4 and 8 threads, for long rows and batches; a parallel-for that skips a task
 * gives SOFTMAX_STATUS_INTERNAL_ERROR. Prints "threads: all identical" on success. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "softmax.h"

#define CHECK(call)                                                                          \
    do {                                                                                     \
        softmax_status st_ = (call);                                                         \
        if (st_ != SOFTMAX_STATUS_OK) {                                                      \
            printf("%s:%d: %s: %s\n", __FILE__, __LINE__, #call, softmax_status_string(st_)); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* A caller's pool: POOL_THREADS pthreads per call take indices from an atomic counter. */
#define POOL_THREADS 3

struct job {
    softmax_task_fn task;
    void *task_ctx;
    size_t count;
    atomic_size_t next;
};

static void *pool_worker(void *arg) {
    struct job *job = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->count) return NULL;
        job->task(job->task_ctx, i);
    }
}

static atomic_size_t pool_calls;

static void pthreads_parallel_for(void *ctx, softmax_task_fn task, void *task_ctx, size_t count) {
    (void)ctx;
    atomic_fetch_add(&pool_calls, 1);
    struct job job = {task, task_ctx, count, 0};
    pthread_t t[POOL_THREADS];
    for (int k = 0; k < POOL_THREADS; k++) pthread_create(&t[k], NULL, pool_worker, &job);
    for (int k = 0; k < POOL_THREADS; k++) pthread_join(t[k], NULL);
}

/* Forgets the last task. */
static void skipping_parallel_for(void *ctx, softmax_task_fn task, void *task_ctx, size_t count) {
    (void)ctx;
    for (size_t i = 0; i + 1 < count; i++) task(task_ctx, i);
}

#define LONG_N 2000003
#define ROWS 64
#define COLS 4096
#define CE_ROWS 16
#define CE_COLS 32000

static float *xs, *batch, *dy, *ce;
static int64_t targets[CE_ROWS];
static size_t out_len;

static unsigned long long lcg = 12345;
static float next_uniform(float lo, float hi) {
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (float)((lcg >> 40) / 16777216.0);
}

/* Every operation once; the outputs, one after another, in `out`. */
static void run_all(float *out) {
    float *o = out;
    CHECK(softmax_f32(xs, o, LONG_N));
    o += LONG_N;
    CHECK(softmax_f32_ex(xs, o, LONG_N, SOFTMAX_ALGORITHM_THREE_PASS_RELOAD));
    o += LONG_N;
    CHECK(softmax_log_softmax_f32(xs, o, LONG_N));
    o += LONG_N;
    CHECK(softmax_logsumexp_f32(xs, LONG_N, o));
    o += 1;
    CHECK(softmax_cross_entropy_f32(xs, LONG_N, 777, o, o + 1));
    o += 1 + LONG_N;
    CHECK(softmax_rows_f32(batch, COLS, o, COLS, ROWS, COLS, SOFTMAX_ALGORITHM_AUTO));
    o += ROWS * COLS;
    CHECK(softmax_log_softmax_rows_f32(batch, COLS, o, COLS, ROWS, COLS));
    o += ROWS * COLS;
    CHECK(softmax_scaled_rows_f32(batch, COLS, o, COLS, ROWS, COLS, 0.5f, SOFTMAX_ALGORITHM_AUTO));
    o += ROWS * COLS;
    CHECK(softmax_backward_rows_f32(batch, COLS, dy, COLS, o, COLS, ROWS, COLS));
    o += ROWS * COLS;
    CHECK(softmax_log_softmax_backward_rows_f32(batch, COLS, dy, COLS, o, COLS, ROWS, COLS));
    o += ROWS * COLS;
    CHECK(softmax_cross_entropy_rows_f32(ce, CE_COLS, CE_ROWS, CE_COLS, targets, -100, 0.1f, o,
                                 o + CE_ROWS, CE_COLS));
    o += CE_ROWS + CE_ROWS * CE_COLS;
    out_len = (size_t)(o - out);
}

static int same(const float *a, const float *b, const char *what) {
    if (memcmp(a, b, out_len * sizeof(float)) != 0) {
        for (size_t i = 0; i < out_len; i++) {
            if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
                printf("%s: output %zu differs: %a vs %a\n", what, i, a[i], b[i]);
                break;
            }
        }
        return 0;
    }
    return 1;
}

int main(void) {
    size_t cap = 5 * (size_t)LONG_N + 5 * ROWS * COLS + CE_ROWS * (CE_COLS + 1) + 16;
    xs = malloc(LONG_N * sizeof(float));
    batch = malloc(ROWS * COLS * sizeof(float));
    dy = malloc(ROWS * COLS * sizeof(float));
    ce = malloc((size_t)CE_ROWS * CE_COLS * sizeof(float));
    float *want = malloc(cap * sizeof(float)), *got = malloc(cap * sizeof(float));
    if (!xs || !batch || !dy || !ce || !want || !got) return 2;
    for (size_t i = 0; i < LONG_N; i++) xs[i] = next_uniform(-20.0f, 20.0f);
    for (size_t i = 0; i < ROWS * COLS; i++) batch[i] = next_uniform(-10.0f, 10.0f);
    for (size_t i = 0; i < ROWS * COLS; i++) dy[i] = next_uniform(-1.0f, 1.0f);
    for (size_t i = 0; i < (size_t)CE_ROWS * CE_COLS; i++) ce[i] = next_uniform(-8.0f, 8.0f);
    for (int r = 0; r < CE_ROWS; r++) targets[r] = r == 3 ? -100 : (r * 1999) % CE_COLS;
    

    CHECK(softmax_set_num_threads(1));
    if (softmax_get_num_threads() != 1) return 3;
    run_all(want);
    int ok = 1;
    const size_t counts[] = {2, 3, 4, 8, 0};
    for (int k = 0; k < 5; k++) {
        char what[64];
        snprintf(what, sizeof what, "%zu threads", counts[k]);
        CHECK(softmax_set_num_threads(counts[k]));
        memset(got, 0, cap * sizeof(float));
        run_all(got);
        ok &= same(got, want, what);
    }
    CHECK(softmax_set_parallel_for(pthreads_parallel_for, NULL));
    memset(got, 0, cap * sizeof(float));
    run_all(got);
    ok &= same(got, want, "pthreads parallel-for");
    if (atomic_load(&pool_calls) == 0) {
        printf("the parallel-for was never called\n");
        ok = 0;
    }
    CHECK(softmax_set_parallel_for(skipping_parallel_for, NULL));
    if (softmax_f32(xs, got, LONG_N) != SOFTMAX_STATUS_INTERNAL_ERROR) {
        printf("a skipped task was not reported\n");
        ok = 0;
    }
    CHECK(softmax_set_parallel_for(NULL, NULL));
    CHECK(softmax_set_num_threads(1));
    printf("on %s: %s\n", softmax_isa_name(softmax_get_isa()), ok ? "threads: all identical" : "MISMATCH");
    return ok ? 0 : 1;
}
