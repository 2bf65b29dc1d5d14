/*
 * Times XNNPACK's f32 softmax microkernels next to this crate in ONE process, on the same
 * buffers, and prints markdown tables. Built and run by scripts/compare-xnnpack.sh (read its
 * header first); not part of CI. No XNNPACK code is in this file: the kernels are compiled
 * from the user's own XNNPACK checkout and reach us through the generated `variants.h`, one
 * line `XNN_V(FAMILY, ISA, function)` per compiled kernel.
 *
 * How XNNPACK is composed (src/operators/softmax-nc.c and xnn_compute_floating_point_softmax
 * in src/operator-run.c; the microkernels take no initialised params: rmax, vmulc and vsubc
 * take a `struct xnn_f32_default_params` that is a dummy, raddstoreexpminusmax a `const void*`
 * it ignores, raddexpminusmax and raddextexp none):
 *  - softmax, per row: max = -inf; rmax(x) -> max; raddstoreexpminusmax(x, max) -> y, sum;
 *    vmulc(y, 1 / sum) -> y. Exactly the operator's three calls.
 *  - log-softmax: XNNPACK has no log-softmax operator. The cheapest composition of its kernels
 *    is used: rmax(x) -> max; raddexpminusmax(x, max) -> sum (no store); c = max + logf(sum);
 *    vsubc(x, c) -> y. Three reads and one write per element, one exponential.
 *  - log-sum-exp: raddextexp(x) -> (m, e), the sum as m * 2^e in one read; logf(m) + e * ln 2.
 * The kernels are called directly, through function pointers as the operator does, but without
 * the operator's own per-call costs (xnn_run_operator, the pthreadpool dispatch): XNNPACK at
 * its best. The "AVX2" set is what XNNPACK runs on an AVX2 CPU: AVX2+FMA exponential kernels with AVX
 * rmax / vmulc / vsubc (XNNPACK has no AVX2 versions of those three).
 *
 * Which variants: XNNPACK has several unrollings of each kernel and the fastest one depends on
 * the row length. Per ISA, XNNPACK is timed with a fixed set (default_512 / default_256 below)
 * and, unless XNN_PICK=fixed, with the per-shape set: each family's fastest variant on that
 * shape, timed alone. XNNPACK's figure in a round is the faster of the two.
 *
 * This crate: softmax_rows_f32 (SOFTMAX_ALGORITHM_AUTO), softmax_log_softmax_rows_f32, and the batch
 * log-sum-exp SOFTMAX_LSE_ROWS when the script found it in include/softmax.h (otherwise a loop
 * of softmax_logsumexp_f32), with the ISA set through softmax_set_isa before each timed run (outside
 * the timed loop).
 *
 * Timing: a run calls one implementation `reps` times over the whole batch (reps calibrated to
 * about TARGET_MS, default 2 ms, per run); a round gives every implementation SAMPLES (default
 * 5) back-to-back runs and keeps the fastest (so a run preempted on a shared machine does not
 * count), visiting the implementations from a different one each round; ROUNDS (default 7)
 * rounds; rates are medians over the rounds, and the crate/XNNPACK ratio is the median of the
 * per-round ratios (both measured in the same round).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef XNN_ABI_CHECK
/* Compiled with -fsyntax-only against XNNPACK's own declarations: any difference between
 * them and the prototypes below is a compile error (conflicting types). */
#include "src/xnnpack/raddexpminusmax.h"
#include "src/xnnpack/raddextexp.h"
#include "src/xnnpack/raddstoreexpminusmax.h"
#include "src/xnnpack/reduce.h"
#include "src/xnnpack/vbinary.h"
#endif

#include "softmax.h"

struct xnn_f32_default_params;

typedef void (*rmax_fn)(size_t, const float *, float *, const struct xnn_f32_default_params *);
typedef void (*raddstore_fn)(size_t, const float *, const float *, float *, float *,
                             const void *);
typedef void (*raddexp_fn)(size_t, const float *, float *, float);
typedef void (*raddextexp_fn)(size_t, const float *, float *);
typedef void (*vopc_fn)(size_t, const float *, const float *, float *,
                        const struct xnn_f32_default_params *);

#define DECL_RMAX(fn) void fn(size_t, const float *, float *, const struct xnn_f32_default_params *);
#define DECL_RADDSTORE(fn) void fn(size_t, const float *, const float *, float *, float *, const void *);
#define DECL_RADDEXP(fn) void fn(size_t, const float *, float *, float);
#define DECL_RADDEXTEXP(fn) void fn(size_t, const float *, float *);
#define DECL_VMULC(fn) void fn(size_t, const float *, const float *, float *, const struct xnn_f32_default_params *);
#define DECL_VSUBC(fn) DECL_VMULC(fn)
#define XNN_V(family, isa, fn) DECL_##family(fn)
#include "variants.h"
#undef XNN_V

enum family { F_RMAX, F_RADDSTORE, F_RADDEXP, F_RADDEXTEXP, F_VMULC, F_VSUBC, F_COUNT };
static const char *const family_names[F_COUNT] = {
    "f32-rmax", "f32-raddstoreexpminusmax", "f32-raddexpminusmax", "f32-raddextexp",
    "f32-vmulc", "f32-vsubc"};
enum { ISA_512 = 512, ISA_256 = 256 };

struct variant {
    int family;
    int isa;
    const char *name; /* full symbol name */
    void (*fn)(void);
};
#define XNN_V(family, isa, fn) {F_##family, ISA_##isa, #fn, (void (*)(void))fn},
static const struct variant variants[] = {
#include "variants.h"
};
#undef XNN_V
#define NUM_VARIANTS (sizeof(variants) / sizeof(variants[0]))

#ifdef XNN_F16
/* XNNPACK's f16 softmax operator on x86 (src/configs: reduce, raddstoreexpminusmax and
 * binary-elementwise configs; src/operators/softmax-nc.c): per row, rmax (output preset to
 * -inf, which the kernel reads as its start), raddstoreexpminusmax (f16 exponentials, float
 * sum), vmulc by 1/sum rounded to f16. rmax is f16c_u32 on an F16C CPU and avx512skx_u64_acc4
 * where AVX-512 SKX is present; the other two are the same on both. The f16 pointers are
 * `xnn_float16` in XNNPACK (a `_Float16` or a 2-byte struct): `uint16_t` here, the same
 * size and passing; under XNN_ABI_CHECK the harness uses XNNPACK's type, so the prototypes
 * are checked too. */
#ifdef XNN_ABI_CHECK
typedef xnn_float16 xf16;
#else
typedef uint16_t xf16;
#endif
struct xnn_f16_default_params;
void xnn_f16_rmax_ukernel__f16c_u32(size_t, const xf16 *, xf16 *,
                                    const struct xnn_f16_default_params *);
void xnn_f16_rmax_ukernel__avx512skx_u64_acc4(size_t, const xf16 *, xf16 *,
                                              const struct xnn_f16_default_params *);
void xnn_f16_raddstoreexpminusmax_ukernel__avx2_rr1_p2_u32(size_t, const xf16 *, const xf16 *,
                                                           xf16 *, float *, const void *);
void xnn_f16_vmulc_ukernel__f16c_u16(size_t, const xf16 *, const xf16 *, xf16 *,
                                     const struct xnn_f16_default_params *);
#endif

/* The part of a symbol after "__": "avx512f_u64_acc4". */
static const char *short_name(const char *symbol) {
    const char *s = strstr(symbol, "__");
    return s ? s + 2 : symbol;
}

static const struct variant *find_variant(int family, int isa, const char *want) {
    for (size_t i = 0; i < NUM_VARIANTS; i++)
        if (variants[i].family == family && variants[i].isa == isa &&
            strcmp(short_name(variants[i].name), want) == 0)
            return &variants[i];
    fprintf(stderr, "compare-xnnpack: no compiled %s kernel named %s (set another one, see "
                    "the variant list with XNN_SWEEP=1)\n", family_names[family], want);
    exit(2);
}

/* One kernel per family for one ISA: the combination timed in the main tables. */
struct xnn_set {
    const char *label;
    int isa;
    const char *names[F_COUNT];
    rmax_fn rmax;
    raddstore_fn raddstore;
    raddexp_fn raddexp;
    raddextexp_fn raddextexp;
    vopc_fn vmulc, vsubc;
};

/* The fixed set (XNN_PICK=fixed; also the accuracy table): the fastest variant of each family
 * over most shapes on an AMD Zen 5 core (XNN_SWEEP=1 prints the measurement behind each
 * choice). By default each shape instead gets the fastest variant of each family ON THAT SHAPE
 * (pick_set). Environment variables XNN512_RMAX, XNN512_RADDSTORE, XNN512_RADDEXP,
 * XNN512_RADDEXTEXP, XNN512_VMULC, XNN512_VSUBC (and XNN256_*) fix a family to one variant in
 * both modes. */
static const char *const default_512[F_COUNT] = {
    "avx512f_u64_acc4", "avx512f_rr1_p5_scalef_u64_acc2", "avx512f_p5_scalef_u64_acc2",
    "avx512f_p5_scalef_u128_acc2", "avx512f_u32", "avx512f_u32"};
static const char *const default_256[F_COUNT] = {
    "avx_u32_acc4", "avx2_rr1_p5_u32_acc2", "avx2_p5_u32_acc2", "avx2_p5_u32_acc2",
    "avx_u16", "avx_u16"};
static const char *const env_suffix[F_COUNT] = {"RMAX", "RADDSTORE", "RADDEXP",
                                                "RADDEXTEXP", "VMULC", "VSUBC"};

static void set_family(struct xnn_set *s, int f, const struct variant *v) {
    s->names[f] = short_name(v->name);
    switch (f) {
    case F_RMAX: s->rmax = (rmax_fn)v->fn; break;
    case F_RADDSTORE: s->raddstore = (raddstore_fn)v->fn; break;
    case F_RADDEXP: s->raddexp = (raddexp_fn)v->fn; break;
    case F_RADDEXTEXP: s->raddextexp = (raddextexp_fn)v->fn; break;
    case F_VMULC: s->vmulc = (vopc_fn)v->fn; break;
    default: s->vsubc = (vopc_fn)v->fn; break;
    }
}

/* The variant the environment fixes for family f, or NULL. */
static const char *env_choice(int isa, int f) {
    char env[64];
    snprintf(env, sizeof env, "XNN%d_%s", isa, env_suffix[f]);
    const char *name = getenv(env);
    return name && *name ? name : NULL;
}

static void make_set(struct xnn_set *s, int isa) {
    s->isa = isa;
    s->label = isa == ISA_512 ? "XNNPACK AVX-512" : "XNNPACK AVX2";
    for (int f = 0; f < F_COUNT; f++) {
        const char *name = env_choice(isa, f);
        if (!name) name = (isa == ISA_512 ? default_512 : default_256)[f];
        set_family(s, f, find_variant(f, isa, name));
    }
}

/* The dummy params struct of rmax / vmulc / vsubc (`char _;` in microparams.h). */
static struct { char _; } dummy_params;
#define DUMMY ((const struct xnn_f32_default_params *)&dummy_params)

static void xnn_softmax(const struct xnn_set *s, const float *x, float *y, size_t rows,
                        size_t cols) {
    const size_t bytes = cols * sizeof(float);
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float max = -INFINITY;
        s->rmax(bytes, xr, &max, DUMMY);
        float sum;
        s->raddstore(bytes, xr, &max, yr, &sum, &dummy_params);
        const float scale = 1.0f / sum;
        s->vmulc(bytes, yr, &scale, yr, DUMMY);
    }
}

static void xnn_log_softmax(const struct xnn_set *s, const float *x, float *y, size_t rows,
                            size_t cols) {
    const size_t bytes = cols * sizeof(float);
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float max = -INFINITY;
        s->rmax(bytes, xr, &max, DUMMY);
        float sum;
        s->raddexp(bytes, xr, &sum, max);
        const float c = max + logf(sum);
        s->vsubc(bytes, xr, &c, y + r * cols, DUMMY);
    }
}

static void xnn_logsumexp(const struct xnn_set *s, const float *x, float *out, size_t rows,
                          size_t cols) {
    const size_t bytes = cols * sizeof(float);
    for (size_t r = 0; r < rows; r++) {
        float sum[2];
        s->raddextexp(bytes, x + r * cols, sum);
        out[r] = logf(sum[0]) + sum[1] * 0x1.62E430p-1f;
    }
}

static void check(softmax_status st, const char *what) {
    if (st != SOFTMAX_STATUS_OK) {
        fprintf(stderr, "compare-xnnpack: %s failed: %s\n", what, softmax_status_string(st));
        exit(1);
    }
}

static void crate_softmax(const float *x, float *y, size_t rows, size_t cols) {
    check(softmax_rows_f32(x, cols, y, cols, rows, cols, SOFTMAX_ALGORITHM_AUTO),
          "softmax_rows_f32");
}

static void crate_log_softmax(const float *x, float *y, size_t rows, size_t cols) {
    check(softmax_log_softmax_rows_f32(x, cols, y, cols, rows, cols), "softmax_log_softmax_rows_f32");
}

static void crate_logsumexp(const float *x, float *out, size_t rows, size_t cols) {
#ifdef SOFTMAX_LSE_ROWS
    check(SOFTMAX_LSE_ROWS(x, cols, out, rows, cols), "batch log-sum-exp");
#else
    for (size_t r = 0; r < rows; r++) check(softmax_logsumexp_f32(x + r * cols, cols, &out[r]), "softmax_logsumexp_f32");
#endif
}

/* ---------------------------------------------------------------- implementations --- */

enum op { OP_SOFTMAX, OP_LOG_SOFTMAX, OP_LSE, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"softmax", "log-softmax", "log-sum-exp"};

/* Columns of the main tables: XNNPACK AVX-512, crate AVX-512, XNNPACK AVX2, crate AVX2. */
enum { IMPL_XNN512, IMPL_CRATE512, IMPL_XNN256, IMPL_CRATE256, IMPL_COUNT };
static const char *const impl_names[IMPL_COUNT] = {"XNNPACK AVX-512", "crate AVX-512",
                                                   "XNNPACK AVX2", "crate AVX2"};
static int impl_available[IMPL_COUNT];
static struct xnn_set fixed512, fixed256;       /* the fixed sets */
static int pick_per_shape = 1;

/* One call of `op` over the batch: XNNPACK's composition with the kernels of `set`, or the
 * crate (on the ISA set by set_crate_isa). */
static void run_impl(int impl, const struct xnn_set *set, int op, const float *x, float *y,
                     size_t rows, size_t cols) {
    const struct xnn_set *s = NULL;
    switch (impl) {
    case IMPL_XNN512: case IMPL_XNN256: s = set; break;
    }
    if (s) {
        if (op == OP_SOFTMAX) xnn_softmax(s, x, y, rows, cols);
        else if (op == OP_LOG_SOFTMAX) xnn_log_softmax(s, x, y, rows, cols);
        else xnn_logsumexp(s, x, y, rows, cols);
    } else {
        if (op == OP_SOFTMAX) crate_softmax(x, y, rows, cols);
        else if (op == OP_LOG_SOFTMAX) crate_log_softmax(x, y, rows, cols);
        else crate_logsumexp(x, y, rows, cols);
    }
}

/* ------------------------------------------------------------------------ timing --- */

static int rounds = 7, samples = 5;
static double target_ns = 2e6;

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    double tmp[64];
    memcpy(tmp, v, (size_t)n * sizeof(double));
    qsort(tmp, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
}

/* A timed closure: `call(ctx)` once is one unit of work of `elements` elements. */
struct job {
    void (*call)(const struct job *);
    int impl, op, variant, alg;
    const struct xnn_set *set;
    uint32_t crate_isa; /* SOFTMAX_ISA_* to select before timing, or 0 for none */
    const float *x;
    float *y;
    size_t rows, cols;
#ifdef XNN_F16
    const xf16 *hx; /* the f16 table's rows */
    xf16 *hy;
#endif
};

static void set_crate_isa(uint32_t isa) { check(softmax_set_isa(isa), "softmax_set_isa"); }

/* Selects the crate's ISA of the job (outside the timed loop). */
static void prepare(const struct job *j) {
    if (j->crate_isa) set_crate_isa(j->crate_isa);
}

/* Calls needed for about target_ns (at least 1), from a warm-up run. */
static long calibrate(const struct job *j) {
    prepare(j);
    j->call(j);
    double t = 0;
    long reps = 1;
    for (;;) {
        const double t0 = now_ns();
        for (long i = 0; i < reps; i++) j->call(j);
        t = now_ns() - t0;
        if (t > target_ns / 8 || reps > (1L << 40)) break;
        reps *= 2;
    }
    const double per = t / (double)reps;
    const long want = (long)(target_ns / per);
    return want < 1 ? 1 : want;
}

static double time_job(const struct job *j, long reps) {
    prepare(j);
    const double t0 = now_ns();
    for (long i = 0; i < reps; i++) j->call(j);
    return (now_ns() - t0) / (double)reps; /* ns per call */
}

/* Interleaved rounds over `n` jobs: ns[k][round] = ns per call of job k in that round, the
 * fastest of `samples` back-to-back runs (a run preempted by another process is discarded). */
static void measure_with(struct job *jobs, int n, double ns[][64], int nrounds, int nsamples) {
    long reps[16];
    for (int k = 0; k < n; k++) reps[k] = calibrate(&jobs[k]);
    for (int r = 0; r < nrounds; r++)
        for (int i = 0; i < n; i++) {
            const int k = (i + r) % n;
            double best = INFINITY;
            for (int s = 0; s < nsamples; s++) best = fmin(best, time_job(&jobs[k], reps[k]));
            ns[k][r] = best;
        }
}

static void measure(struct job *jobs, int n, double ns[][64]) {
    measure_with(jobs, n, ns, rounds, samples);
}

static void call_impl(const struct job *j) {
    run_impl(j->impl, j->set, j->op, j->x, j->y, j->rows, j->cols);
}

/* --------------------------------------------------------------------- the tables --- */

struct shape { size_t rows, cols; };

static void fmt_shape(char *buf, size_t len, struct shape s) {
    if (s.cols >= (1u << 20) && s.cols % (1u << 20) == 0)
        snprintf(buf, len, "%zu x %zuM", s.rows, s.cols >> 20);
    else
        snprintf(buf, len, "%zu x %zu", s.rows, s.cols);
}

static float *alloc_floats(size_t n) {
    const size_t bytes = ((n * sizeof(float)) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) { fprintf(stderr, "compare-xnnpack: out of memory\n"); exit(1); }
    return p;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float uniform(float lo, float hi) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (float)((double)(rng_state >> 11) * 0x1p-53);
}

static void fill(float *x, size_t n) { for (size_t i = 0; i < n; i++) x[i] = uniform(-10.0f, 10.0f); }

/* One XNNPACK kernel alone over a batch (the variant sweep and the per-shape pick). The
 * exponential kernels get max = 10, the inputs' upper bound. */
static void call_variant(const struct job *j) {
    const struct variant *v = &variants[j->variant];
    const size_t bytes = j->cols * sizeof(float);
    for (size_t r = 0; r < j->rows; r++) {
        const float *xr = j->x + r * j->cols;
        float *yr = j->y + r * j->cols;
        float max = -INFINITY, sum[2], c = 0.5f;
        switch (v->family) {
        case F_RMAX: ((rmax_fn)v->fn)(bytes, xr, &max, DUMMY); break;
        case F_RADDSTORE: max = 10.0f; ((raddstore_fn)v->fn)(bytes, xr, &max, yr, sum, &dummy_params); break;
        case F_RADDEXP: ((raddexp_fn)v->fn)(bytes, xr, sum, 10.0f); break;
        case F_RADDEXTEXP: ((raddextexp_fn)v->fn)(bytes, xr, sum); break;
        default: ((vopc_fn)v->fn)(bytes, xr, &c, yr, DUMMY); break;
        }
    }
}

/* Indices of the compiled variants of (family, isa), at most 16. */
static int variants_of(int family, int isa, int ids[16]) {
    int n = 0;
    for (size_t i = 0; i < NUM_VARIANTS && n < 16; i++)
        if (variants[i].family == family && variants[i].isa == isa) ids[n++] = (int)i;
    return n;
}

/* Elements/ns of every variant of (family, isa) alone on one shape. */
static int time_variants(int family, int isa, struct shape sh, const float *x, float *y,
                         int nrounds, int nsamples, int ids[16], double rate[16]) {
    const int nv = variants_of(family, isa, ids);
    struct job jobs[16];
    for (int k = 0; k < nv; k++)
        jobs[k] = (struct job){.call = call_variant, .variant = ids[k], .x = x, .y = y,
                               .rows = sh.rows, .cols = sh.cols};
    double ns[16][64];
    measure_with(jobs, nv, ns, nrounds, nsamples);
    for (int k = 0; k < nv; k++) rate[k] = (double)(sh.rows * sh.cols) / median(ns[k], nrounds);
    return nv;
}

/* The set of the fastest variant of each family on this shape, each timed alone (3 rounds of
 * 3 runs); a family fixed by the environment keeps its variant. */
static void pick_set(struct xnn_set *out, int isa, struct shape sh, const float *x, float *y) {
    make_set(out, isa);
    for (int f = 0; f < F_COUNT; f++) {
        if (env_choice(isa, f)) continue;
        int ids[16];
        double rate[16];
        const int nv = time_variants(f, isa, sh, x, y, 3, 3, ids, rate);
        int best = 0;
        for (int k = 1; k < nv; k++) if (rate[k] > rate[best]) best = k;
        set_family(out, f, &variants[ids[best]]);
    }
}

/* Whether two sets run the same kernels for `op`. */
static int same_kernels(const struct xnn_set *a, const struct xnn_set *b, int op) {
    if (op == OP_SOFTMAX)
        return a->rmax == b->rmax && a->raddstore == b->raddstore && a->vmulc == b->vmulc;
    if (op == OP_LOG_SOFTMAX)
        return a->rmax == b->rmax && a->raddexp == b->raddexp && a->vsubc == b->vsubc;
    return a->raddextexp == b->raddextexp;
}

static void main_tables(const struct shape *shapes, int nshapes) {
    size_t most = 0;
    for (int i = 0; i < nshapes; i++)
        if (shapes[i].rows * shapes[i].cols > most) most = shapes[i].rows * shapes[i].cols;
    float *x = alloc_floats(most), *y = alloc_floats(most);
    fill(x, most);
    memset(y, 0, most * sizeof(float));

    static struct xnn_set picked512[64], picked256[64];
    if (pick_per_shape) {
        fprintf(stderr, "compare-xnnpack: picking XNNPACK's fastest variants per shape...\n");
        printf("\n### XNNPACK variants used per shape (each family's fastest on that shape, "
               "timed alone)\n\n| rows x cols | ISA |");
        for (int f = 0; f < F_COUNT; f++) printf(" %s |", family_names[f]);
        printf("\n|---|---|---|---|---|---|---|---|\n");
        for (int si = 0; si < nshapes; si++) {
            char name[64];
            fmt_shape(name, sizeof name, shapes[si]);
            for (int pass = 0; pass < 2; pass++) {
                if (!impl_available[pass == 0 ? IMPL_XNN512 : IMPL_XNN256]) continue;
                struct xnn_set *s = pass == 0 ? &picked512[si] : &picked256[si];
                pick_set(s, pass == 0 ? ISA_512 : ISA_256, shapes[si], x, y);
                printf("| %s | %s |", name, pass == 0 ? "AVX-512" : "AVX2");
                for (int f = 0; f < F_COUNT; f++) printf(" %s |", s->names[f]);
                printf("\n");
                fflush(stdout);
            }
        }
    }

    for (int op = 0; op < OP_COUNT; op++) {
        printf("\n### %s (elements/ns, median of %d rounds; XNNPACK = the faster of its fixed "
               "and per-shape sets in each round, (p) when the per-shape set won most rounds; "
               "ratio = crate / XNNPACK, median of the per-round ratios)\n\n", op_names[op],
               rounds);
        printf("| rows x cols | XNNPACK AVX-512 | crate AVX-512 | crate/XNNPACK | "
               "XNNPACK AVX2 | crate AVX2 | crate/XNNPACK |\n|---|---|---|---|---|---|---|\n");
        for (int si = 0; si < nshapes; si++) {
            const struct shape sh = shapes[si];
            /* Per ISA: XNNPACK with the fixed set, XNNPACK with this shape's picks (when they
             * differ), the crate. XNNPACK's figure in a round is the faster of its two. */
            struct job jobs[6];
            int xnn_fixed[2] = {-1, -1}, xnn_picked[2] = {-1, -1}, crate[2] = {-1, -1}, n = 0;
            for (int pass = 0; pass < 2; pass++) {
                const int xi = pass == 0 ? IMPL_XNN512 : IMPL_XNN256, ci = xi + 1;
                const struct job base = {.call = call_impl, .op = op, .x = x, .y = y,
                                         .rows = sh.rows, .cols = sh.cols};
                if (impl_available[xi]) {
                    const struct xnn_set *fixed = pass == 0 ? &fixed512 : &fixed256;
                    const struct xnn_set *picked = pass == 0 ? &picked512[si] : &picked256[si];
                    jobs[xnn_fixed[pass] = n++] = base;
                    jobs[xnn_fixed[pass]].impl = xi;
                    jobs[xnn_fixed[pass]].set = fixed;
                    if (pick_per_shape && !same_kernels(fixed, picked, op)) {
                        jobs[xnn_picked[pass] = n++] = base;
                        jobs[xnn_picked[pass]].impl = xi;
                        jobs[xnn_picked[pass]].set = picked;
                    }
                }
                if (impl_available[ci]) {
                    jobs[crate[pass] = n++] = base;
                    jobs[crate[pass]].impl = ci;
                    jobs[crate[pass]].crate_isa = pass == 0 ? SOFTMAX_ISA_AVX512 : SOFTMAX_ISA_AVX2;
                }
            }
            double ns[6][64];
            measure(jobs, n, ns);
            const double elements = (double)(sh.rows * sh.cols);
            char name[64];
            fmt_shape(name, sizeof name, sh);
            printf("| %s |", name);
            for (int pass = 0; pass < 2; pass++) {
                const int xf = xnn_fixed[pass], xp = xnn_picked[pass], ci = crate[pass];
                if (xf < 0 || ci < 0) { printf(" skipped | skipped | - |"); continue; }
                double rx[64], rc[64], ratio[64];
                int picked_won = 0;
                for (int r = 0; r < rounds; r++) {
                    double xnn = ns[xf][r];
                    if (xp >= 0 && ns[xp][r] < xnn) { xnn = ns[xp][r]; picked_won++; }
                    rx[r] = elements / xnn;
                    rc[r] = elements / ns[ci][r];
                    ratio[r] = xnn / ns[ci][r];
                }
                printf(" %.2f%s | %.2f | %.2f |", median(rx, rounds),
                       2 * picked_won > rounds ? " (p)" : "", median(rc, rounds),
                       median(ratio, rounds));
            }
            printf("\n");
            fflush(stdout);
        }
    }
    free(x);
    free(y);
}

/* Worst errors of every implementation against a float64 reference on one shape. */
static void accuracy(struct shape sh) {
    const size_t n = sh.rows * sh.cols;
    float *x = alloc_floats(n), *y = alloc_floats(n);
    double *lse = malloc(sh.rows * sizeof(double));
    if (!lse) { fprintf(stderr, "compare-xnnpack: out of memory\n"); exit(1); }
    fill(x, n);
    for (size_t r = 0; r < sh.rows; r++) {
        const float *xr = x + r * sh.cols;
        double max = -INFINITY, sum = 0;
        for (size_t i = 0; i < sh.cols; i++) max = fmax(max, xr[i]);
        for (size_t i = 0; i < sh.cols; i++) sum += exp((double)xr[i] - max);
        lse[r] = max + log(sum);
    }
    char name[64];
    fmt_shape(name, sizeof name, sh);
    printf("\n### Worst error against float64 on %s (inputs uniform in [-10, 10]; XNNPACK with "
           "the fixed variants listed at the top)\n\n", name);
    printf("| implementation | softmax (relative) | log-softmax (relative to max(1, |exact|)) "
           "| log-sum-exp (relative) |\n|---|---|---|---|\n");
    for (int impl = 0; impl < IMPL_COUNT; impl++) {
        if (!impl_available[impl]) { printf("| %s | skipped | skipped | skipped |\n", impl_names[impl]); continue; }
        double worst[OP_COUNT] = {0, 0, 0};
        for (int op = 0; op < OP_COUNT; op++) {
            if (impl == IMPL_CRATE512) set_crate_isa(SOFTMAX_ISA_AVX512);
            if (impl == IMPL_CRATE256) set_crate_isa(SOFTMAX_ISA_AVX2);
            run_impl(impl, impl == IMPL_XNN512 ? &fixed512 : &fixed256, op, x, y, sh.rows, sh.cols);
            for (size_t r = 0; r < sh.rows; r++) {
                if (op == OP_LSE) {
                    worst[op] = fmax(worst[op], fabs(y[r] - lse[r]) / fabs(lse[r]));
                    continue;
                }
                for (size_t i = 0; i < sh.cols; i++) {
                    const double l = (double)x[r * sh.cols + i] - lse[r], got = y[r * sh.cols + i];
                    if (op == OP_SOFTMAX) {
                        const double e = exp(l);
                        if (e > 1e-30) worst[op] = fmax(worst[op], fabs(got - e) / e);
                    } else {
                        worst[op] = fmax(worst[op], fabs(got - l) / fmax(1.0, fabs(l)));
                    }
                }
            }
        }
        printf("| %s | %.1e | %.1e | %.1e |\n", impl_names[impl], worst[0], worst[1], worst[2]);
    }
    free(x); free(y); free(lse);
}

/* Single rows through the one-row C ABI: Auto against each explicit algorithm. */
static const struct xnn_set *single_set;
static void call_single(const struct job *j) {
    if (j->alg < 0) {
        xnn_softmax(single_set, j->x, j->y, 1, j->cols);
    } else if (j->alg == 0) {
        check(softmax_f32(j->x, j->y, j->cols), "softmax_f32");
    } else {
        check(softmax_f32_ex(j->x, j->y, j->cols, (uint32_t)j->alg), "softmax_f32_ex");
    }
}

static void single_rows(void) {
    printf("\n### One row through the C ABI: softmax_f32 (Auto) against softmax_f32_ex with "
           "each algorithm (ns per call, median of %d rounds; XNNPACK's softmax composition "
           "for reference)\n\n", rounds);
    printf("| ISA | n | XNNPACK | Auto | 3-pass recompute | 3-pass reload | two-pass | "
           "two-pass blocked | Auto / best explicit |\n|---|---|---|---|---|---|---|---|---|\n");
    float *x = alloc_floats(256), *y = alloc_floats(256);
    fill(x, 256);
    for (int pass = 0; pass < 2; pass++) {
        const int isa = pass == 0 ? ISA_512 : ISA_256;
        const char *isa_name = pass == 0 ? "AVX-512" : "AVX2";
        if (!impl_available[pass == 0 ? IMPL_CRATE512 : IMPL_CRATE256]) {
            printf("| %s | - | skipped | skipped | skipped | skipped | skipped | skipped | - |\n",
                   isa_name);
            continue;
        }
        const int have_xnn = impl_available[pass == 0 ? IMPL_XNN512 : IMPL_XNN256];
        static const size_t sizes[] = {64, 256};
        for (int si = 0; si < 2; si++) {
            struct xnn_set picked;
            if (have_xnn) {
                if (pick_per_shape) {
                    pick_set(&picked, isa, (struct shape){1, sizes[si]}, x, y);
                    single_set = &picked;
                } else {
                    single_set = pass == 0 ? &fixed512 : &fixed256;
                }
            }
            check(softmax_set_isa(pass == 0 ? SOFTMAX_ISA_AVX512 : SOFTMAX_ISA_AVX2), "softmax_set_isa");
            struct job jobs[6];
            int n = 0;
            if (have_xnn)
                jobs[n++] = (struct job){.call = call_single, .alg = -1, .x = x, .y = y, .rows = 1,
                                         .cols = sizes[si]};
            for (int alg = 0; alg <= 4; alg++)
                jobs[n++] = (struct job){.call = call_single, .alg = alg, .x = x, .y = y,
                                         .rows = 1, .cols = sizes[si]};
            double ns[6][64];
            measure(jobs, n, ns);
            printf("| %s | %zu |", isa_name, sizes[si]);
            if (have_xnn) printf(" %.1f |", median(ns[0], rounds)); else printf(" skipped |");
            const int first = have_xnn ? 1 : 0;
            double best = INFINITY;
            for (int a = 0; a <= 4; a++) {
                const double m = median(ns[first + a], rounds);
                printf(" %.1f |", m);
                if (a > 0 && m < best) best = m;
            }
            printf(" %.3f |\n", median(ns[first], rounds) / best);
            fflush(stdout);
        }
    }
    free(x); free(y);
}

#ifdef XNN_F16
/* ------------------------------------------------------------------- f16 softmax --- */

/* IEEE binary16 bits of `f`, rounded to nearest even (NaN not needed here). */
static uint16_t f16_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    const uint32_t sign = (b >> 16) & 0x8000u, a = b & 0x7fffffffu;
    if (a >= 0x477ff000u) return (uint16_t)(sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (a < 0x38800000u) { /* subnormal or zero in f16: scale to units of 2^-24, round */
        const float m = fabsf(f) * 0x1p24f;
        return (uint16_t)(sign | (uint32_t)lrintf(m));
    }
    const uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u;
    return (uint16_t)(sign | (r >> 13));
}

static double f16_value(uint16_t h) {
    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    const double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

/* The f16 nearest to `v` in [0, 65504] (ties to even), rounded once from the double. */
static uint16_t f16_nearest(double v) {
    const uint16_t h = f16_bits((float)v);
    uint16_t best = h;
    for (int d = -1; d <= 1; d += 2) {
        const int c = (int)h + d;
        if (c < 0 || c > 0x7bff) continue;
        const double e = fabs(f16_value((uint16_t)c) - v), eb = fabs(f16_value(best) - v);
        if (e < eb || (e == eb && (c & 1) == 0)) best = (uint16_t)c;
    }
    return best;
}

/* Bits of neighbouring f16 values differ by 1 on this line (both zeros are 0). */
static int f16_ordinal(uint16_t h) { return h & 0x8000 ? -(int)(h & 0x7fff) : (int)h; }

typedef void (*f16_rmax_fn)(size_t, const xf16 *, xf16 *, const struct xnn_f16_default_params *);

/* XNNPACK's f16 softmax operator, per row, with the given rmax. */
static void xnn_softmax_f16(f16_rmax_fn rmax, const xf16 *x, xf16 *y, size_t rows, size_t cols) {
    const size_t bytes = cols * sizeof(xf16);
    const uint16_t minus_inf = 0xfc00;
    for (size_t r = 0; r < rows; r++) {
        const xf16 *xr = x + r * cols;
        xf16 *yr = y + r * cols, max, scale;
        memcpy(&max, &minus_inf, 2);
        rmax(bytes, xr, &max, NULL);
        float sum;
        xnn_f16_raddstoreexpminusmax_ukernel__avx2_rr1_p2_u32(bytes, xr, &max, yr, &sum, NULL);
        const uint16_t s = f16_bits(1.0f / sum);
        memcpy(&scale, &s, 2);
        xnn_f16_vmulc_ukernel__f16c_u16(bytes, yr, &scale, yr, NULL);
    }
}

/* Implementations of the f16 table. */
enum { H_XNN_F16C, H_XNN_SKX, H_CRATE512, H_CRATE256, H_COUNT };
static const char *const h_names[H_COUNT] = {"XNNPACK (F16C rmax)", "XNNPACK (AVX-512 SKX rmax)",
                                             "crate AVX-512", "crate AVX2"};
static int h_available[H_COUNT];

static void run_f16(int impl, const xf16 *x, xf16 *y, size_t rows, size_t cols) {
    switch (impl) {
    case H_XNN_F16C: xnn_softmax_f16(xnn_f16_rmax_ukernel__f16c_u32, x, y, rows, cols); break;
    case H_XNN_SKX: xnn_softmax_f16(xnn_f16_rmax_ukernel__avx512skx_u64_acc4, x, y, rows, cols); break;
    default:
        check(softmax_rows_f16((const softmax_f16_t *)x, cols, (softmax_f16_t *)y, cols, rows,
                               cols, SOFTMAX_ALGORITHM_AUTO),
              "softmax_rows_f16");
    }
}

static void call_f16(const struct job *j) { run_f16(j->impl, j->hx, j->hy, j->rows, j->cols); }

static uint32_t h_isa(int impl) {
    return impl == H_CRATE512 ? SOFTMAX_ISA_AVX512 : impl == H_CRATE256 ? SOFTMAX_ISA_AVX2 : 0;
}

/* Speed of f16 softmax on each shape, then accuracy on `acc`: the share of outputs equal to
 * the float64 softmax of the f16 inputs rounded to f16, and the worst distance in f16 units. */
static void f16_tables(const struct shape *shapes, int nshapes, struct shape acc) {
    size_t most = acc.rows * acc.cols;
    for (int i = 0; i < nshapes; i++)
        if (shapes[i].rows * shapes[i].cols > most) most = shapes[i].rows * shapes[i].cols;
    xf16 *x = (xf16 *)alloc_floats(most / 2 + 1), *y = (xf16 *)alloc_floats(most / 2 + 1);
    for (size_t i = 0; i < most; i++) {
        const uint16_t b = f16_bits(uniform(-10.0f, 10.0f));
        memcpy(&x[i], &b, 2);
    }
    memset(y, 0, most * sizeof(xf16));
    printf("\n### f16 softmax (elements/ns, median of %d rounds; XNNPACK = its f16 operator's "
           "kernels: rmax, raddstoreexpminusmax avx2_rr1_p2_u32, vmulc f16c_u16; ratio = crate "
           "/ XNNPACK, median of the per-round ratios, against the faster XNNPACK set for "
           "AVX-512 and the F16C set for AVX2)\n\n", rounds);
    printf("| rows x cols | XNNPACK, F16C rmax | XNNPACK, SKX rmax | crate AVX-512 | "
           "crate/XNNPACK | crate AVX2 | crate/XNNPACK F16C |\n|---|---|---|---|---|---|---|\n");
    for (int si = 0; si < nshapes; si++) {
        const struct shape sh = shapes[si];
        struct job jobs[H_COUNT];
        int id[H_COUNT], n = 0;
        for (int i = 0; i < H_COUNT; i++) {
            id[i] = -1;
            if (!h_available[i]) continue;
            jobs[id[i] = n++] = (struct job){.call = call_f16, .impl = i, .crate_isa = h_isa(i),
                                             .hx = x, .hy = y, .rows = sh.rows, .cols = sh.cols};
        }
        double ns[H_COUNT][64];
        measure(jobs, n, ns);
        const double elements = (double)(sh.rows * sh.cols);
        char name[64];
        fmt_shape(name, sizeof name, sh);
        printf("| %s |", name);
        for (int i = 0; i < H_COUNT; i++) {
            if (id[i] < 0) { printf(" skipped |"); } else { printf(" %.2f |", elements / median(ns[id[i]], rounds)); }
            if (i < H_CRATE512) continue;
            /* The ratio after each crate column. */
            double ratio[64];
            const int a = id[H_XNN_F16C], b = i == H_CRATE512 ? id[H_XNN_SKX] : -1;
            if (id[i] < 0 || (a < 0 && b < 0)) { printf(" - |"); continue; }
            for (int r = 0; r < rounds; r++) {
                double xnn = INFINITY;
                if (a >= 0) xnn = ns[a][r];
                if (b >= 0 && ns[b][r] < xnn) xnn = ns[b][r];
                ratio[r] = xnn / ns[id[i]][r];
            }
            printf(" %.2f |", median(ratio, rounds));
        }
        printf("\n");
        fflush(stdout);
    }

    char name[64];
    fmt_shape(name, sizeof name, acc);
    printf("\n### f16 softmax accuracy on %s (inputs: f16 values uniform in [-10, 10]; exact = "
           "the float64 softmax of the f16 inputs, rounded to f16; the last two columns count only "
           "the outputs whose exact value is a normal f16, at least 2^-14)\n\n| implementation | "
           "correctly rounded | worst distance (f16 units) | correctly rounded, normal | "
           "worst, normal |\n|---|---|---|---|---|\n", name);
    for (int i = 0; i < H_COUNT; i++) {
        if (!h_available[i]) { printf("| %s | skipped | skipped | skipped | skipped |\n", h_names[i]); continue; }
        if (h_isa(i)) set_crate_isa(h_isa(i));
        run_f16(i, x, y, acc.rows, acc.cols);
        size_t exact = 0, normal = 0, exact_normal = 0;
        int worst = 0, worst_normal = 0;
        for (size_t r = 0; r < acc.rows; r++) {
            const xf16 *xr = x + r * acc.cols, *yr = y + r * acc.cols;
            double max = -INFINITY, sum = 0;
            uint16_t b;
            for (size_t c = 0; c < acc.cols; c++) { memcpy(&b, &xr[c], 2); max = fmax(max, f16_value(b)); }
            for (size_t c = 0; c < acc.cols; c++) { memcpy(&b, &xr[c], 2); sum += exp(f16_value(b) - max); }
            for (size_t c = 0; c < acc.cols; c++) {
                memcpy(&b, &xr[c], 2);
                const uint16_t want = f16_nearest(exp(f16_value(b) - max) / sum);
                memcpy(&b, &yr[c], 2);
                const int d = abs(f16_ordinal(b) - f16_ordinal(want));
                exact += d == 0;
                if (d > worst) worst = d;
                if (want >= 0x0400) {
                    normal++;
                    exact_normal += d == 0;
                    if (d > worst_normal) worst_normal = d;
                }
            }
        }
        printf("| %s | %.3f%% | %d | %.3f%% | %d |\n", h_names[i],
               100.0 * (double)exact / (double)(acc.rows * acc.cols), worst,
               100.0 * (double)exact_normal / (double)(normal ? normal : 1), worst_normal);
    }
    free(x);
    free(y);
}
#endif

/* Every compiled variant of every family alone, to show which one is fastest where. */
static void sweep(void) {
    static const struct shape shapes[] = {{1, 64}, {4096, 64}, {1024, 256}, {64, 4096}, {1, 1 << 20}};
    enum { NS = sizeof(shapes) / sizeof(shapes[0]) };
    float *x = alloc_floats(1 << 20), *y = alloc_floats(1 << 20);
    fill(x, 1 << 20);
    printf("\n### XNNPACK variants alone (elements/ns, median of %d rounds; * = the fixed set, "
           "bold = fastest of the family on that shape)\n", rounds);
    for (int pass = 0; pass < 2; pass++) {
        const int isa = pass == 0 ? ISA_512 : ISA_256;
        if (!impl_available[pass == 0 ? IMPL_XNN512 : IMPL_XNN256]) {
            printf("\n(%s variants skipped: this CPU lacks the ISA)\n", pass == 0 ? "AVX-512" : "AVX2");
            continue;
        }
        const struct xnn_set *set = pass == 0 ? &fixed512 : &fixed256;
        for (int f = 0; f < F_COUNT; f++) {
            int ids[16], nv = 0;
            double rate[NS][16];
            for (int s = 0; s < NS; s++)
                nv = time_variants(f, isa, shapes[s], x, y, rounds, samples, ids, rate[s]);
            if (!nv) continue;
            printf("\n| %s | 1 x 64 | 4096 x 64 | 1024 x 256 | 64 x 4096 | 1 x 1M |\n"
                   "|---|---|---|---|---|---|\n", family_names[f]);
            for (int k = 0; k < nv; k++) {
                const char *nm = short_name(variants[ids[k]].name);
                printf("| %s%s |", nm, strcmp(nm, set->names[f]) == 0 ? " *" : "");
                for (int s = 0; s < NS; s++) {
                    int best = 1;
                    for (int o = 0; o < nv; o++) if (rate[s][o] > rate[s][k]) best = 0;
                    printf(best ? " **%.2f** |" : " %.2f |", rate[s][k]);
                }
                printf("\n");
            }
            fflush(stdout);
        }
    }
    free(x); free(y);
}

#define STR2(x) #x
#define STR(x) STR2(x)

int main(int argc, char **argv) {
    const char *env = getenv("ROUNDS");
    if (env && atoi(env) > 0) rounds = atoi(env) > 63 ? 63 : atoi(env);
    env = getenv("SAMPLES");
    if (env && atoi(env) > 0) samples = atoi(env);
    env = getenv("TARGET_MS");
    if (env && atof(env) > 0) target_ns = atof(env) * 1e6;
    env = getenv("XNN_PICK");
    if (env && strcmp(env, "fixed") == 0) pick_per_shape = 0;
    int do_sweep = 0, only_sweep = 0;
    struct shape shapes[64];
    int nshapes = 0;
    struct shape acc[4];
    int nacc = 0;
#ifdef XNN_F16
    struct shape hshapes[64], hacc = {512, 1000};
    int nh = 0;
#endif
    for (int i = 1; i < argc; i++) {
        struct shape s;
        if (strcmp(argv[i], "--sweep") == 0) { do_sweep = 1; continue; }
        if (strcmp(argv[i], "--only-sweep") == 0) { do_sweep = only_sweep = 1; continue; }
        if (strncmp(argv[i], "--accuracy=", 11) == 0 && nacc < 4 &&
            sscanf(argv[i] + 11, "%zux%zu", &acc[nacc].rows, &acc[nacc].cols) == 2 &&
            acc[nacc].rows && acc[nacc].cols) {
            nacc++;
            continue;
        }
#ifdef XNN_F16
        if (strncmp(argv[i], "--f16=", 6) == 0 && nh < 64 &&
            sscanf(argv[i] + 6, "%zux%zu", &hshapes[nh].rows, &hshapes[nh].cols) == 2 &&
            hshapes[nh].rows && hshapes[nh].cols) {
            nh++;
            continue;
        }
        if (strncmp(argv[i], "--f16-accuracy=", 15) == 0 &&
            sscanf(argv[i] + 15, "%zux%zu", &hacc.rows, &hacc.cols) == 2 && hacc.rows && hacc.cols)
            continue;
#endif
        if (sscanf(argv[i], "%zux%zu", &s.rows, &s.cols) != 2 || !s.rows || !s.cols || nshapes == 64) {
            fprintf(stderr, "usage: %s [--sweep|--only-sweep] [--accuracy=RxC]... [--f16=RxC]... "
                            "[--f16-accuracy=RxC] [ROWSxCOLS ...]\n", argv[0]);
            return 2;
        }
        shapes[nshapes++] = s;
    }

    __builtin_cpu_init();
    /* XNN_ASSUME_NO_AVX512=1 runs the harness as on a CPU without AVX-512 (tests that path). */
    const int no512 = getenv("XNN_ASSUME_NO_AVX512") && strcmp(getenv("XNN_ASSUME_NO_AVX512"), "0");
    const int cpu512 = __builtin_cpu_supports("avx512f") && !no512;
    const int cpu256 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    impl_available[IMPL_XNN512] = cpu512;
    impl_available[IMPL_XNN256] = cpu256;
    impl_available[IMPL_CRATE512] = softmax_isa_supported(SOFTMAX_ISA_AVX512) && !no512;
    impl_available[IMPL_CRATE256] = softmax_isa_supported(SOFTMAX_ISA_AVX2);
    for (int i = 0; i < IMPL_COUNT; i++)
        if (!impl_available[i])
            fprintf(stderr, "compare-xnnpack: SKIPPING %s: this CPU (or this build) lacks the "
                            "instruction set; its columns read 'skipped'\n", impl_names[i]);
#ifdef XNN_F16
    h_available[H_XNN_F16C] = cpu256 && __builtin_cpu_supports("f16c");
    h_available[H_XNN_SKX] = cpu512 && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                             __builtin_cpu_supports("avx512cd");
    h_available[H_CRATE512] = impl_available[IMPL_CRATE512];
    h_available[H_CRATE256] = impl_available[IMPL_CRATE256];
#endif
    if (cpu512) make_set(&fixed512, ISA_512);
    if (cpu256) make_set(&fixed256, ISA_256);
    const uint32_t isa_before = softmax_get_isa();

    printf("Timing: median of %d rounds, each the fastest of %d runs of about %.0f ms, "
           "implementations interleaved; inputs uniform in [-10, 10]; rows contiguous.\n\n",
           rounds, samples, target_ns / 1e6);
    printf("XNNPACK kernels: %s. The fixed set:\n",
           pick_per_shape
               ? "on each shape, in each round, the faster of the fixed set and the per-shape "
                 "set (each family's fastest variant on that shape, timed alone; table below)"
               : "the fixed set on every shape (XNN_PICK=fixed)");
    for (int pass = 0; pass < 2; pass++) {
        const struct xnn_set *s = pass == 0 ? &fixed512 : &fixed256;
        if (!(pass == 0 ? cpu512 : cpu256)) continue;
        printf("- %s:", s->label);
        for (int f = 0; f < F_COUNT; f++) printf(" %s `%s`%s", family_names[f], s->names[f], f + 1 < F_COUNT ? "," : "\n");
    }
#ifdef SOFTMAX_LSE_ROWS
    printf("\nThis crate: softmax_rows_f32 (Auto), softmax_log_softmax_rows_f32, and for log-sum-exp the "
           "batch call `%s`.\n", STR(SOFTMAX_LSE_ROWS));
#else
    printf("\nThis crate: softmax_rows_f32 (Auto), softmax_log_softmax_rows_f32, and for log-sum-exp a "
           "loop of `softmax_logsumexp_f32` (the header has no batch call).\n");
#endif

    if (!only_sweep) {
        main_tables(shapes, nshapes);
        if (nacc == 0) acc[nacc++] = (struct shape){512, 1000};
        for (int i = 0; i < nacc; i++) accuracy(acc[i]);
        single_rows();
    }
#ifdef XNN_F16
    if (!only_sweep && nh > 0) f16_tables(hshapes, nh, hacc);
#endif
    if (do_sweep) sweep();
    softmax_set_isa(isa_before);
    return 0;
}
