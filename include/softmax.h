/*
 * softmax: hand-vectorised softmax, log-softmax and log-sum-exp over float rows.
 *
 * This is the C ABI of the Rust crate `softmax`. The C header `include/softmax.h` is
 * generated from `src/ffi.rs` by `build.rs` with cbindgen; regenerate it with
 * `SOFTMAX_WRITE_HEADER=1 cargo build`.
 *
 * LINKING: build the library with `cargo build --release` and link
 * `target/release/libsoftmax.a -lpthread -ldl -lm` (or `-lsoftmax` against the shared
 * `libsoftmax.so`). The header is valid C99 and C++ (its declarations are `extern "C"`).
 *
 * STATUS: every function that can fail returns a `softmax_status`. It validates all of its
 * arguments before it reads or writes any array, so on `SOFTMAX_STATUS_NULL_POINTER`,
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` or `SOFTMAX_STATUS_UNSUPPORTED_ISA` nothing was written.
 * A Rust panic never crosses into C: it would be reported as `SOFTMAX_STATUS_INTERNAL_ERROR`
 * (the library is built with `panic = "unwind"`). Every function is thread-safe.
 *
 * ARGUMENT RULES (shared by all functions; checked in this order):
 *  1. An `algorithm` outside the `SOFTMAX_ALGORITHM_*` constants is
 *     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *  2. Batches (`*_rows_f32`): when `rows > 0`, a stride (in elements) smaller than `cols`, or
 *     a batch extent `(rows - 1) * stride + cols` that overflows `size_t`, is
 *     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *  3. A call that touches no element (`n == 0`; `rows == 0` or `cols == 0`) returns
 *     `SOFTMAX_STATUS_OK` without looking at the array pointers (they may be NULL) and writes
 *     nothing; `logsumexp_f32` still needs a valid `result` and stores `-inf` there.
 *  4. A NULL array pointer (when elements are touched) or a NULL `result` is
 *     `SOFTMAX_STATUS_NULL_POINTER`.
 *  5. A pointer not aligned to 4 bytes (`_Alignof(float)`) is
 *     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *  6. An array whose size in bytes exceeds `PTRDIFF_MAX`, or whose address range wraps around
 *     the address space, is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *  7. The output may be the input (`y == x`, and for batches also `y_stride == x_stride`):
 *     the call then works in place. Any other overlap of the address ranges
 *     `[x, x + extent)` and `[y, y + extent)` is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *
 * Beyond these checks the caller must pass arrays that are really readable (`x`) and writable
 * (`y`) for the given number of elements, and must not modify them from another thread during
 * the call.
 *
 * ISA SELECTION: on first use the library picks the best instruction set the CPU supports:
 * AVX-512 > AVX2+FMA > scalar on x86_64, NEON on aarch64, the portable scalar kernels
 * elsewhere. The environment variable `SOFTMAX_ISA` (`scalar`, `avx2`, `avx512` or `neon`),
 * read once at first use, forces another supported one (an unknown or unsupported name is
 * ignored with a notice on stderr). `softmax_set_isa` changes the choice at any time, for all
 * threads. All ISAs give the same results to within a few ULP and identical special values.
 *
 * SPECIAL VALUES (per row, identical on every ISA):
 *  - Empty row: softmax and log-softmax write nothing; log-sum-exp is `-inf`.
 *  - A NaN anywhere in a row: every output of the row is NaN (log-sum-exp NaN).
 *  - `+inf` entries (and no NaN): the `k` entries equal to `+inf` get `1/k` each, all others
 *    0; log-softmax gives `-ln k` and `-inf`; log-sum-exp is `+inf`.
 *  - A row of only `-inf`: softmax and log-softmax give NaN (there is no limit); log-sum-exp
 *    gives `-inf`.
 *  - Entries far below the row maximum (where `exp(x - max)` is below about `2^-126`) get
 *    exactly 0 from softmax, never a denormal residue; log-softmax stays exact.
 *  - Finite inputs of any magnitude work (no overflow for large values).
 *
 * ACCURACY: softmax within a few ULP (relative error <= 1e-6 for outputs above 1e-30);
 * log-sum-exp within 2e-7 relative; log-softmax within 1e-6 of `max(1, |exact|)`.
 */

#ifndef SOFTMAX_H
#define SOFTMAX_H

/* Generated from src/ffi.rs by build.rs (cbindgen). Do not edit: run SOFTMAX_WRITE_HEADER=1 cargo build. */

#include <stdint.h>
#include <stddef.h>

/**
 * Algorithm: three-pass reload for rows that fit the per-core L2 cache, blocked two-pass
 * beyond (the recommended default).
 */
#define SOFTMAX_ALGORITHM_AUTO 0

/**
 * Algorithm: max; sum of exponentials; exponentials again, normalised on the fly
 * (3 reads + 1 write of memory, 2 exponentials per element).
 */
#define SOFTMAX_ALGORITHM_THREE_PASS_RECOMPUTE 1

/**
 * Algorithm: max; exponentials stored and summed; scale the stored values
 * (3 reads + 2 writes, 1 exponential per element: the fastest in cache).
 */
#define SOFTMAX_ALGORITHM_THREE_PASS_RELOAD 2

/**
 * Algorithm: the two-pass softmax of Dukhan & Ablavatski (2020): pass 1 keeps the sum as a
 * (mantissa, exponent) pair, so no maximum is needed; pass 2 writes the normalised
 * exponentials (2 reads + 1 write, 2 exponentials per element).
 */
#define SOFTMAX_ALGORITHM_TWO_PASS 3

/**
 * Algorithm: two passes with a per-block exponent (blocks of 2048 elements scanned for their
 * maximum while in L1): same memory traffic as TWO_PASS with cheaper arithmetic, the fastest
 * out of cache.
 */
#define SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED 4

/**
 * ISA: the portable kernels (no SIMD intrinsics); always supported.
 */
#define SOFTMAX_ISA_SCALAR 0

/**
 * ISA: x86_64 with AVX2 and FMA (8 lanes).
 */
#define SOFTMAX_ISA_AVX2 1

/**
 * ISA: x86_64 with AVX-512F (16 lanes).
 */
#define SOFTMAX_ISA_AVX512 2

/**
 * ISA: aarch64 Advanced SIMD (4 lanes).
 */
#define SOFTMAX_ISA_NEON 3

/**
 * The outcome of a call: one of the `SOFTMAX_STATUS_*` constants.
 *
 * A plain integer rather than an enum, so that any value can be passed around (and to
 * `softmax_status_string`) safely.
 */
typedef uint32_t softmax_status;

/**
 * Success: the outputs were written.
 */
#define SOFTMAX_STATUS_OK 0

/**
 * A required pointer (an array that is touched, or `result`) was NULL. Nothing was written.
 */
#define SOFTMAX_STATUS_NULL_POINTER 1

/**
 * An argument was out of its domain: unknown algorithm or ISA value, stride smaller than
 * `cols`, an extent or size that overflows, a pointer not aligned to 4 bytes, or an output
 * that partly overlaps its input. Nothing was written.
 */
#define SOFTMAX_STATUS_INVALID_ARGUMENT 2

/**
 * `softmax_set_isa`: the ISA is valid but this CPU (or this build) cannot run it; the
 * current choice is unchanged.
 */
#define SOFTMAX_STATUS_UNSUPPORTED_ISA 3

/**
 * A bug inside the library was caught (a Rust panic); no panic ever crosses into C. The
 * outputs may be partly written.
 */
#define SOFTMAX_STATUS_INTERNAL_ERROR 4

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Softmax of one row of `n` floats with `SOFTMAX_ALGORITHM_AUTO`:
 * `y[i] = exp(x[i]) / sum_j exp(x[j])`, computed without overflow for any finite input.
 *
 * `y == x` computes in place; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 * `x` and `y` may be NULL when `n == 0` (nothing is written). Special values: an empty row
 * writes nothing; a NaN makes the whole row NaN; the `k` entries equal to `+inf` get `1/k`
 * and all others 0; a row of only `-inf` gives NaN; entries far below the maximum get
 * exactly 0.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
 * partial overlap).
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_f32(const float *x, float *y, size_t n);

/**
 * Softmax of one row of `n` floats with the given `SOFTMAX_ALGORITHM_*` (all algorithms
 * give the same results to within a few ULP; they differ in speed).
 *
 * As `softmax_f32`, plus: an unknown `algorithm` is `SOFTMAX_STATUS_INVALID_ARGUMENT`
 * (checked first, even when `n == 0`).
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_f32_ex(const float *x, float *y, size_t n, uint32_t algorithm);

/**
 * Log-softmax of one row of `n` floats: `y[i] = x[i] - logsumexp(x)`, exact for entries far
 * below the maximum (no `log(0)`).
 *
 * `y == x` computes in place; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 * `x` and `y` may be NULL when `n == 0`. Special values: an empty row writes nothing; a NaN
 * makes the whole row NaN; with `k` entries equal to `+inf` those give `-ln k` and all
 * others `-inf`; a row of only `-inf` gives NaN.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (as `softmax_f32`).
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
 */
softmax_status log_softmax_f32(const float *x, float *y, size_t n);

/**
 * Log-sum-exp of `n` floats, `ln(sum_i exp(x[i]))`, reading `x` once; stored in `*result`.
 *
 * `x` may be NULL when `n == 0`; the result is then `-inf`. `result` is always required and
 * may point into `x`. Special values: NaN anywhere gives NaN; any `+inf` gives `+inf`; a row
 * of only `-inf` gives `-inf`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (`result` NULL, or `x` NULL with
 * `n > 0`) or `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above
 * `PTRDIFF_MAX`).
 *
 * # Safety
 * `x` must be readable for `n` floats (unless `n == 0`) and `result` writable for one.
 */
softmax_status logsumexp_f32(const float *x, size_t n, float *result);

/**
 * Softmax of a batch of `rows` rows of `cols` floats: row `r` is read from
 * `x + r * x_stride` and written to `y + r * y_stride` (strides in elements, at least
 * `cols`), with the given `SOFTMAX_ALGORITHM_*`.
 *
 * In place when `y == x` and `y_stride == x_stride`; otherwise the address ranges
 * `[x, x + (rows - 1) * x_stride + cols)` and `[y, y + (rows - 1) * y_stride + cols)` must not
 * overlap. Elements between rows are neither read nor written. Pointers may be NULL when
 * `rows == 0` or `cols == 0` (nothing is written). Each row follows the special-value rules
 * of `softmax_f32`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (unknown algorithm, stride < cols with `rows > 0`, extent
 * overflow, misaligned pointer, overlap).
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_rows_f32(const float *x,
                                size_t x_stride,
                                float *y,
                                size_t y_stride,
                                size_t rows,
                                size_t cols,
                                uint32_t algorithm);

/**
 * Log-softmax of a batch of `rows` rows of `cols` floats (layout, in-place and overlap rules
 * as in `softmax_rows_f32`). Each row follows the special-value rules of `log_softmax_f32`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
 * misaligned pointer, overlap).
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status log_softmax_rows_f32(const float *x,
                                    size_t x_stride,
                                    float *y,
                                    size_t y_stride,
                                    size_t rows,
                                    size_t cols);

/**
 * The ISA (`SOFTMAX_ISA_*`) that calls use now: the one chosen at first use (best available,
 * or `SOFTMAX_ISA`), or the last one set with `softmax_set_isa`.
 */
uint32_t softmax_get_isa(void);

/**
 * 1 when `isa` (`SOFTMAX_ISA_*`) is compiled into this library and the running CPU executes
 * it, 0 otherwise (also for values that are no ISA). `SOFTMAX_ISA_SCALAR` is always
 * supported.
 */
int softmax_isa_supported(uint32_t isa);

/**
 * Makes every later call, from any thread, use `isa` (`SOFTMAX_ISA_*`). Thread-safe.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_INVALID_ARGUMENT` for a value that is no ISA,
 * or `SOFTMAX_STATUS_UNSUPPORTED_ISA` when this CPU or build cannot run it (the current
 * choice is then unchanged).
 */
softmax_status softmax_set_isa(uint32_t isa);

/**
 * The lower-case name of `isa` as accepted by `SOFTMAX_ISA`: "scalar", "avx2", "avx512",
 * "neon"; "unknown" for any other value. A static NUL-terminated string (never NULL, never
 * to be freed).
 */
const char *softmax_isa_name(uint32_t isa);

/**
 * A short English description of `status`, such as "ok" or "null pointer"; "unknown status"
 * for a value that is no `SOFTMAX_STATUS_*`. A static NUL-terminated string (never NULL,
 * never to be freed).
 */
const char *softmax_status_string(softmax_status status);

/**
 * The library version ("MAJOR.MINOR.PATCH" of the Rust crate). A static NUL-terminated
 * string (never NULL, never to be freed).
 */
const char *softmax_version(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* SOFTMAX_H */
