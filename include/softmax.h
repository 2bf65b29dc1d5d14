/*
 * softmax: hand-vectorised softmax, log-softmax and log-sum-exp over float rows, and the
 * training-side operations built on them: softmax with a fused input scale, the backward
 * passes of softmax and log-softmax, and the fused cross-entropy loss with its gradient.
 *
 * This is the C ABI of the Rust crate `softmax`. The C header `include/softmax.h` is
 * generated from `src/ffi/` by `build.rs` with cbindgen; regenerate it with
 * `SOFTMAX_WRITE_HEADER=1 cargo build --features header`.
 *
 * LINKING: `scripts/install.sh --prefix DIR` builds and installs the static library
 * `libsoftmax.a`, the shared library `libsoftmax.so` (with its SONAME), this header, the C++
 * wrapper `softmax.hpp`, pkg-config files and a CMake package. Link with
 * `pkg-config --cflags --libs softmax` (shared) or `softmax-static` (static), or in CMake
 * with `find_package(softmax CONFIG)` and the target `softmax::softmax` (shared) or
 * `softmax::softmax_static`. The header is valid C99 and C++ (its declarations are
 * `extern "C"`). Every exported symbol starts with `softmax_`, except the deprecated names of
 * 0.1 (`logsumexp_f32`, ...), kept as aliases until 1.0.
 *
 * 16-BIT ROWS: softmax, log-softmax, log-sum-exp, scaled softmax, their batches, the backward
 * passes and cross-entropy also take rows of IEEE binary16 (`softmax_f16_t`) or bfloat16
 * (`softmax_bf16_t`), both `uint16_t` bit patterns: `softmax_f16`, `softmax_rows_bf16_ex`,
 * `softmax_cross_entropy_f16`, ... are the `_f32` functions with 16-bit rows (the same
 * arguments and rules, with 2-byte elements). They compute in float and round each output
 * once (nearest, ties to even); log-sum-exp results and losses are `float`. See the two
 * typedefs.
 *
 * STATUS: every function that can fail returns a `softmax_status`. It validates all of its
 * arguments before it reads or writes any array, so on `SOFTMAX_STATUS_NULL_POINTER`,
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` or `SOFTMAX_STATUS_UNSUPPORTED_ISA` nothing was written.
 * A Rust panic never crosses into C: it would be reported as `SOFTMAX_STATUS_INTERNAL_ERROR`
 * (the library is built with `panic = "unwind"`). Every function is thread-safe.
 *
 * ARGUMENT RULES (shared by all functions; checked in this order):
 *  1. Scalar arguments out of their domain are `SOFTMAX_STATUS_INVALID_ARGUMENT`: an
 *     `algorithm` outside the `SOFTMAX_ALGORITHM_*` constants, `flags` with a bit outside the
 *     `SOFTMAX_FLAG_*` constants, a `scale` that is not finite, a `label_smoothing` outside
 *     `[0, 1]` or NaN, and for cross-entropy a row without classes (`n == 0`, `cols == 0`)
 *     or `target >= n`.
 *  2. Batches (`*_rows_*`): when `rows > 0`, a stride (in elements) smaller than `cols`, or
 *     a batch extent `(rows - 1) * stride + cols` that overflows `size_t`, is
 *     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *  3. A call that touches no element (`n == 0`; `rows == 0` or `cols == 0`) and passed
 *     rule 1 returns `SOFTMAX_STATUS_OK` without looking at the array pointers (they may be
 *     NULL) and writes nothing; `softmax_logsumexp_f32` still needs a valid `result` and stores
 *     `-inf` there. (Cross-entropy needs a class: `n == 0` or `cols == 0` fails rule 1.)
 *  4. A NULL array pointer (when elements are touched), a NULL `result` or a NULL `loss` is
 *     `SOFTMAX_STATUS_NULL_POINTER` (optional outputs such as `dlogits` may be NULL).
 *  5. A pointer not aligned to its type (4 bytes, `_Alignof(float)`; 2 bytes for the 16-bit
 *     `softmax_f16_t` and `softmax_bf16_t` rows; 8 bytes for the `int64_t` targets) is
 *     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *  6. An array whose size in bytes exceeds `PTRDIFF_MAX`, or whose address range wraps around
 *     the address space, is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *  7. An output may be exactly one of the row inputs, with the same layout (for batches
 *     also the same stride): the call then works in place. That is `y == x` for the forward
 *     operations, `dx == y` or `dx == dy` for the backward passes, and `dlogits == logits`
 *     for cross-entropy. Any other overlap of the address ranges `[p, p + extent)` of an
 *     output and an input, or of two outputs, is `SOFTMAX_STATUS_INVALID_ARGUMENT` (inputs
 *     may overlap each other freely). `loss` is written last: it may point into `logits`,
 *     not into `dlogits`.
 *  8. `softmax_cross_entropy_rows_*` then reads all targets: one that is neither
 *     `ignore_index` nor in `[0, cols)` is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *
 * Beyond these checks the caller must pass arrays that are really readable (inputs) and
 * writable (outputs) for the given number of elements, and must not modify them from another
 * thread during the call.
 *
 * ISA SELECTION: on first use the library picks the best instruction set the CPU supports:
 * AVX-512 > AVX2+FMA+F16C+POPCNT > scalar on x86_64, NEON on aarch64, the portable scalar kernels
 * elsewhere. The environment variable `SOFTMAX_ISA` (`scalar`, `avx2`, `avx512` or `neon`),
 * read once at first use, forces another supported one (an unknown or unsupported name is
 * ignored with a notice on stderr). `softmax_set_isa` changes the choice at any time, for all
 * threads. All ISAs give identical special values and results within the bounds of ACCURACY.
 * Streaming passes issue software prefetches except on AMD Zen 4 (family 19h with AVX-512),
 * where the hardware prefetchers alone are faster with every ISA's kernels; the environment
 * variable `SOFTMAX_PREFETCH` (`1` or `0`, read once) turns them on or off for every ISA.
 * Results do not depend on it. On CPUs with AVX-512 BF16, BW and DQ other than AMD's, the
 * AVX-512 kernels round bf16 outputs with `vcvtneps2bf16` and `vcvtne2ps2bf16` (the same
 * bits as elsewhere).
 *
 * THREADS: one thread by default. `softmax_set_num_threads` (or the environment variable
 * `SOFTMAX_NUM_THREADS`) lets batches and long rows use more, and `softmax_set_parallel_for`
 * hands their work to the caller's thread pool. Results are bit-identical for every thread
 * count and pool.
 *
 * SPECIAL VALUES (per row, identical on every ISA):
 *  - Empty row: softmax and log-softmax write nothing; log-sum-exp is `-inf`.
 *  - A NaN anywhere in a row: every output of the row is NaN (log-sum-exp NaN).
 *  - `+inf` entries (and no NaN): the `k` entries equal to `+inf` get `1/k` each, all others
 *    0; log-softmax gives `-ln k` and `-inf`; log-sum-exp is `+inf`.
 *  - A row of only `-inf`: softmax and log-softmax give NaN (there is no limit); log-sum-exp
 *    gives `-inf`. With `SOFTMAX_FLAG_ZERO_MASKED_ROWS`, softmax gives zeros instead.
 *  - Entries far below the row maximum (where `exp(x - max)` is below about `2^-126`, i.e.
 *    `x` more than about 87.3 below it) get exactly 0 from softmax: the same entries with
 *    every algorithm and ISA (larger ones get `exp(x - max) / sum`, which may be a denormal
 *    when the sum exceeds 1); log-softmax stays exact.
 *  - Finite inputs of any magnitude work (no overflow for large values).
 *  - Scaled softmax applies these rules to `scale * x` (rounded to float); `scale == 0`
 *    gives the uniform `1/n`, or NaN when an input is not finite (`0 * inf`).
 *  - Cross-entropy: a NaN logit gives NaN (loss and gradient); `k` logits at `+inf` give
 *    `ln k` when the target is one of them and `+inf` otherwise (NaN with label
 *    smoothing), and the gradient `softmax - onehot` with the softmax rule above; a row of
 *    only `-inf` gives NaN (loss and gradient).
 *  - Backward passes follow IEEE arithmetic on their formulas: a NaN in `dy` makes the row
 *    NaN, as does a NaN in `y` for softmax (through `dot(dy, y)`; for log-softmax only its own
 *    entry); a zero row `y` (a masked row) gives a zero softmax gradient; an infinite
 *    `sum(dy)` or `exp(y)` gives the infinities and NaNs the formula gives.
 *
 * ACCURACY: every bound below is against the same function computed in double precision
 * (rounded once to float), for every ISA, input and row length, and is what the test-suite
 * (`tests/accuracy.rs`, the differential property test `tests/property.rs`) and the fuzz
 * targets (`fuzz/`) assert. An exact value beyond the float range gives the infinity it
 * rounds to.
 *  - softmax (every algorithm, scaled, batched): relative error `|y - exact| / exact` at most
 *    `2^-21` (4.8e-7, at most 4 units in the last place) for outputs whose exact value is
 *    above 1e-30, absolute error at most 1e-36 below. Outputs lie in `[0, 1]`. The sum of the
 *    exponentials is kept in float lanes for at most a few terms before it is widened to
 *    double, so long rows and rows of equal values are as accurate as short ones.
 *  - log-softmax: `|y - exact| <= 2^-21 * max(1, |exact|)`; outputs are `<= 0`.
 *  - log-sum-exp: `|result - exact| <= 2^-21 * max(1, |exact|)` (a relative bound above 1, an
 *    absolute one below: near 0 the result is a difference of terms of order one). Both
 *    bounds allow for the sum of the exponentials: a term goes through up to five float
 *    additions before the sum is widened, each off by up to 2^-24 of the sum, and when one
 *    entry dominates a row of equal others those roundings all go one way (measured up to
 *    2.8e-7 on such rows).
 *  - cross-entropy: loss `|loss - exact| <= 1e-6 * max(1, |exact|)`, and `loss >= 0`;
 *    gradient `|g - exact| <= 2^-21 * p + 2^-23 * (|exact| + eps/n) + 1e-36` (p the exact
 *    softmax output, eps the label smoothing), in `[-1, 1]`.
 *  - backward passes (`y` the output of the forward pass): `d = dot(dy, y)` (softmax) and
 *    `s = sum(dy)` (log-softmax) are accumulated in double precision, element `i` into
 *    accumulator `i % 32`, in the same order on every ISA (so they are bit-identical across
 *    ISAs, for any input), with error `E <= (n/32 + 6) * 2^-53 * sum_i |term_i|`. Then
 *    softmax: `|dx - exact| <= y * (2^-22 * (|dy| + |d|) + E)`; log-softmax:
 *    `|dx - exact| <= 2^-23 * |dy| + exp(y) * (4.5e-7 * |s| + E)`, where `exp(y)` below
 *    `2^-126` counts as 0 (adding `exp(y) * |s|`); both plus `2^-148` (denormal results).
 *
 * FLOATING-POINT ENVIRONMENT: the library assumes the default one of C and Rust:
 * round-to-nearest-even, denormals neither flushed to zero nor read as zero (no FTZ/DAZ), no
 * traps. It never changes the environment. Under another rounding mode (`fesetround`) or with
 * FTZ/DAZ the bounds above do not hold (softmax errors of 1.6e-5 were measured under directed
 * rounding) and the ISAs may disagree, on special values too.
 */

#ifndef SOFTMAX_H
#define SOFTMAX_H

/* Generated from src/ffi/ by build.rs (cbindgen). Do not edit: run SOFTMAX_WRITE_HEADER=1 cargo build --features header. */

#include <stdint.h>
#include <stddef.h>

/**
 * Algorithm: three-pass reload for rows up to a quarter of the last-level cache, two-pass
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
 * (mantissa, exponent) pair per lane, so no maximum pass is needed; pass 2 writes the
 * normalised exponentials (2 reads + 1 write, 2 exponentials per element: the fastest out of
 * cache). A lane's exponent moves only when an input would overflow its sum (checked once per
 * chunk of a few hundred elements), not at every element.
 */
#define SOFTMAX_ALGORITHM_TWO_PASS 3

/**
 * Algorithm: two passes with a per-block exponent (blocks of 2048 elements scanned for their
 * maximum while in L1): same memory traffic as TWO_PASS.
 */
#define SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED 4

/**
 * Flag of `softmax_rows_f32_ex` (and `softmax_rows_f16_ex`, `softmax_rows_bf16_ex`): softmax
 * of a row whose entries are all `-inf` (a fully masked attention row) gives zeros instead of
 * NaN, so its gradient through `softmax_backward_rows_f32` is zero too. Every other row is
 * unaffected.
 */
#define SOFTMAX_FLAG_ZERO_MASKED_ROWS 1

/**
 * ISA: the portable kernels (no SIMD intrinsics); always supported.
 */
#define SOFTMAX_ISA_SCALAR 0

/**
 * ISA: x86_64 with AVX2, FMA, F16C and POPCNT (8 lanes).
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
 * Gating flag: normalise the `k` weights of a row over the selected entries (they sum to 1)
 * instead of reporting their share of the whole row's softmax.
 */
#define SOFTMAX_TOPK_RENORMALIZE 1

/**
 * The outcome of a call: one of the `SOFTMAX_STATUS_*` constants.
 *
 * A plain integer rather than an enum, so that any value can be passed around (and to
 * `softmax_status_string`) safely.
 */
typedef uint32_t softmax_status;

/**
 * IEEE 754 binary16 ("half precision"), as its 16 bits: 1 sign, 5 exponent and 10 fraction
 * bits; 11 significant bits, largest finite value 65504, smallest normal `2^-14` (6.1e-5),
 * smallest subnormal `2^-24` (6.0e-8).
 *
 * Each `_f16` function (`softmax_f16`, `softmax_rows_f16_ex`, `softmax_cross_entropy_f16`,
 * ...) is the `_f32` function of the same name with its `float` rows replaced by rows of
 * `softmax_f16_t`: the same parameters, argument rules, in-place and overlap rules, flags,
 * threads and status codes, with elements of 2 bytes (pointers aligned to 2 bytes, arrays of
 * at most `PTRDIFF_MAX` bytes; strides and extents count elements). Log-sum-exp results,
 * losses, scales and label smoothing stay `float`.
 *
 * Arithmetic is f32: a row is widened to `float` (exactly), the `_f32` operation runs on it,
 * and each output is rounded to binary16 once, to nearest with ties to even: a NaN stays a
 * NaN (made quiet), results of magnitude 65520 and above become infinities (a log-softmax
 * output below -65504 can be `-inf`), and results of magnitude at most `2^-25` (half the
 * smallest subnormal) become zeros of their sign (softmax outputs below about 3e-8 are 0).
 * So a result is the `_f32` result of the widened row, rounded: the special values of the
 * `_f32` function, its accuracy plus half a unit in the last place of binary16 (a relative
 * `2^-11` for normal results), and the same bits for every thread count.
 *
 * `_Float16` (C23, GCC and Clang on x86_64 and aarch64), `__fp16` and C++23 `std::float16_t`
 * have this representation: a pointer to an array of them may be passed cast to
 * `softmax_f16_t *`.
 */
typedef uint16_t softmax_f16_t;

/**
 * bfloat16, as its 16 bits: the upper half of an IEEE 754 binary32 `float` (1 sign,
 * 8 exponent and 7 fraction bits), so the range of `float` (largest finite value about
 * 3.39e38, smallest normal `2^-126`, smallest subnormal `2^-133`) with 8 significant bits.
 *
 * Each `_bf16` function (`softmax_bf16`, `softmax_rows_bf16_ex`,
 * `softmax_cross_entropy_bf16`, ...) is the `_f32` function of the same name with its
 * `float` rows replaced by rows of `softmax_bf16_t`, as the `_f16` functions are for
 * `softmax_f16_t`: the same rules and status codes, elements of 2 bytes, and `float`
 * log-sum-exp results, losses, scales and label smoothing.
 *
 * Arithmetic is f32: a row is widened to `float` (exactly: the bits shifted up by 16), the
 * `_f32` operation runs on it, and each output is rounded to bfloat16 once, to nearest with
 * ties to even: a NaN stays a NaN (made quiet), results at least half a unit in the last
 * place beyond the largest finite value become infinities, and results of magnitude at most
 * `2^-134` become zeros of their sign. A result is the `_f32` result of the widened row,
 * rounded: the special values of the `_f32` function, its accuracy plus half a unit in the
 * last place of bfloat16 (a relative `2^-8` for normal results), and the same bits for every
 * thread count.
 *
 * `__bf16` (GCC and Clang) and C++23 `std::bfloat16_t` have this representation: a pointer
 * to an array of them may be passed cast to `softmax_bf16_t *`. By hand, the `float` with bits
 * `b` (not a NaN) rounds to `(b + 0x7fff + ((b >> 16) & 1)) >> 16`, and `h` widens to the
 * `float` with bits `(uint32_t)h << 16`.
 */
typedef uint16_t softmax_bf16_t;

/**
 * The log-sum-exp state of a chunk of a row (`sum_i exp(x_i)` as a mantissa and a binary
 * exponent): computed per chunk or per shard, merged in any grouping and order with
 * `softmax_lse_merge`, read with `softmax_lse_value`. A plain 16-byte value with no padding
 * and no pointers: copy it, send it over a wire (e.g. `MPI_Type_contiguous(16, MPI_BYTE)`),
 * between machines of the same endianness. Treat the fields as opaque; they hold:
 *  - a finite state: `mantissa` in `[1, 2)` and an integer `exponent`
 *    (`sum = mantissa * 2^exponent`);
 *  - the empty state (no entry, or only `-inf`; the identity of the merge, value `-inf`):
 *    `mantissa = 0`, `exponent = -inf`;
 *  - `k` entries at `+inf` (no NaN; value `+inf`): `mantissa = k`, `exponent = +inf`;
 *  - a NaN anywhere (absorbs every merge; value NaN): both NaN.
 *
 * In Rust this is `softmax::LseState`.
 */
typedef struct softmax_lse_state {
    /**
     * The mantissa of the sum (or the `+inf` count; see the type).
     */
    double mantissa;
    /**
     * The binary exponent of the sum (or a marker; see the type).
     */
    double exponent;
} softmax_lse_state;

/**
 * One task of a call, as handed to a `softmax_parallel_for_fn`: `task(task_ctx, index)`.
 */
typedef void (*softmax_task_fn)(void *task_ctx, size_t index);

/**
 * Success: the outputs were written.
 */
#define SOFTMAX_STATUS_OK 0

/**
 * A required pointer (an array that is touched, `result` or `loss`) was NULL. Nothing was
 * written.
 */
#define SOFTMAX_STATUS_NULL_POINTER 1

/**
 * An argument was out of its domain: unknown algorithm, flag or ISA value, a non-finite
 * scale, a label smoothing outside `[0, 1]`, a row without classes or a target out of range,
 * stride smaller than `cols`, an extent or size that overflows, a misaligned pointer, or an
 * output that partly overlaps an input or another output. Nothing was written.
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
softmax_status softmax_log_softmax_f32(const float *x, float *y, size_t n);

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
softmax_status softmax_logsumexp_f32(const float *x, size_t n, float *result);

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
 * `softmax_rows_f32` with `flags`, a combination (bitwise or) of `SOFTMAX_FLAG_*` values:
 * with `SOFTMAX_FLAG_ZERO_MASKED_ROWS`, a row of only `-inf` (a fully masked attention row)
 * gives zeros instead of NaN. `flags == 0` is exactly `softmax_rows_f32`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (unknown algorithm, a flag bit outside the
 * `SOFTMAX_FLAG_*` constants, stride < cols with `rows > 0`, extent overflow, misaligned
 * pointer, overlap). The algorithm and the flags are checked first, even when nothing is
 * touched.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_rows_f32_ex(const float *x,
                                   size_t x_stride,
                                   float *y,
                                   size_t y_stride,
                                   size_t rows,
                                   size_t cols,
                                   uint32_t algorithm,
                                   uint32_t flags);

/**
 * Log-softmax of a batch of `rows` rows of `cols` floats (layout, in-place and overlap rules
 * as in `softmax_rows_f32`). Each row follows the special-value rules of `softmax_log_softmax_f32`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
 * misaligned pointer, overlap).
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_log_softmax_rows_f32(const float *x,
                                            size_t x_stride,
                                            float *y,
                                            size_t y_stride,
                                            size_t rows,
                                            size_t cols);

/**
 * Softmax of `scale * x` for one row of `n` floats with `SOFTMAX_ALGORITHM_AUTO`:
 * `y[i] = exp(scale * x[i]) / sum_j exp(scale * x[j])`. The scale (a temperature `1 / T`, an
 * attention scale `1 / sqrt(d)`) is fused into the kernels' loads: no extra pass over memory.
 *
 * A `scale` that is not finite is `SOFTMAX_STATUS_INVALID_ARGUMENT` (checked first, even
 * when `n == 0`). Otherwise as `softmax_f32` (in place when `y == x`, NULL allowed with
 * `n == 0`, any other overlap rejected), with its special-value rules applied to
 * `scale * x[i]` rounded to float: a negative scale turns `-inf` inputs into `+inf`, and a
 * product that overflows counts as an infinity. `scale == 0` gives `1 / n` everywhere (NaN
 * for a row that holds a NaN or an infinity, since `0 * inf` is NaN).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (non-finite scale, misaligned pointer, `n * 4` above
 * `PTRDIFF_MAX`, partial overlap).
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_scaled_f32(const float *x, float *y, size_t n, float scale);

/**
 * Softmax of `scale * x` for a batch of `rows` rows of `cols` floats (layout, in-place and
 * overlap rules as in `softmax_rows_f32`), with the given `SOFTMAX_ALGORITHM_*`. Each row
 * follows the rules of `softmax_scaled_f32`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (unknown algorithm, non-finite scale, stride < cols with
 * `rows > 0`, extent overflow, misaligned pointer, overlap). The algorithm and the scale are
 * checked first, even when nothing is touched.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_scaled_rows_f32(const float *x,
                                       size_t x_stride,
                                       float *y,
                                       size_t y_stride,
                                       size_t rows,
                                       size_t cols,
                                       float scale,
                                       uint32_t algorithm);

/**
 * Softmax backward pass of one row of `n` floats: `dx[i] = y[i] * (dy[i] - dot(dy, y))`,
 * where `y` is the softmax output of the forward pass and `dy` the gradient of the loss with
 * respect to `y` (the dot product is accumulated in double precision, in the same order on
 * every ISA; bounds under ACCURACY).
 *
 * `dx` may be `dy` or `y` (in place); any other overlap of `dx` with `y` or `dy` is
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (`y` and `dy` may overlap each other). The pointers may
 * be NULL when `n == 0` (nothing is written). Special values follow IEEE arithmetic on the
 * formula: a NaN in `y` or `dy` makes the whole row NaN (through the dot product), infinite
 * `dy` give infinities or NaN as the formula does, and a zero row `y` (the output of a fully
 * masked row with `SOFTMAX_FLAG_ZERO_MASKED_ROWS`) gives a zero gradient for finite `dy`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
 * partial overlap).
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_backward_f32(const float *y, const float *dy, float *dx, size_t n);

/**
 * Log-softmax backward pass of one row of `n` floats: `dx[i] = dy[i] - exp(y[i]) * sum(dy)`,
 * where `y` is the log-softmax output of the forward pass and `dy` the gradient of the loss
 * with respect to `y` (the sum is accumulated in double precision, in the same order on every
 * ISA; bounds under ACCURACY).
 *
 * `y` is a log-softmax output (`y <= 0`); `exp(y)` counts as infinite from about 88.4 on
 * and as 0 below about -87.3 (a `-inf` entry gives `dx = dy`). Aliasing and NULL rules as
 * in `softmax_backward_f32`. Special values follow IEEE arithmetic on the formula: a NaN in
 * `dy` makes the whole row NaN (through the sum), a NaN in `y` its own entry, and an
 * infinite `sum(dy)` or `exp(y)` gives the infinities and NaNs the formula gives (for
 * example `y = log_softmax([1, 2, 3])`, `dy = [1, inf, 2]` gives `[-inf, NaN, -inf]`).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
 * partial overlap).
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_log_softmax_backward_f32(const float *y,
                                                const float *dy,
                                                float *dx,
                                                size_t n);

/**
 * Softmax backward pass of a batch of `rows` rows of `cols` floats: row `r` of each array
 * starts at `r * stride` of that array (`y_stride`, `dy_stride`, `dx_stride`, in elements,
 * at least `cols`). Each row follows `softmax_backward_f32`.
 *
 * `dx` may be `dy` or `y` with the same stride (in place); otherwise the extent of `dx`,
 * `[dx, dx + (rows - 1) * dx_stride + cols)`, must not overlap the extents of `y` and `dy`.
 * Elements between rows are neither read nor written. Pointers may be NULL when
 * `rows == 0` or `cols == 0` (nothing is written).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
 * misaligned pointer, overlap).
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
 * touched).
 */
softmax_status softmax_backward_rows_f32(const float *y,
                                         size_t y_stride,
                                         const float *dy,
                                         size_t dy_stride,
                                         float *dx,
                                         size_t dx_stride,
                                         size_t rows,
                                         size_t cols);

/**
 * Log-softmax backward pass of a batch (layout, in-place and overlap rules as in
 * `softmax_backward_rows_f32`). Each row follows `softmax_log_softmax_backward_f32`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
 * misaligned pointer, overlap).
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
 * touched).
 */
softmax_status softmax_log_softmax_backward_rows_f32(const float *y,
                                                     size_t y_stride,
                                                     const float *dy,
                                                     size_t dy_stride,
                                                     float *dx,
                                                     size_t dx_stride,
                                                     size_t rows,
                                                     size_t cols);

/**
 * Cross-entropy loss of one row of `n` logits against class `target`:
 * `*loss = logsumexp(logits) - logits[target]`, fused in one pass (no softmax is
 * materialised; the sum of exponentials is accumulated in double precision). When `dlogits` is not
 * NULL it also receives the gradient with respect to the logits,
 * `dlogits[i] = softmax(logits)[i] - (i == target)`, in a second pass.
 *
 * `n == 0` (no class) and `target >= n` are `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked first.
 * `loss` is required; `dlogits` is optional and may be `logits` itself (the gradient then
 * overwrites the logits; the loss is computed first); any other overlap of `dlogits` with
 * `logits`, or `loss` inside `dlogits`, is `SOFTMAX_STATUS_INVALID_ARGUMENT`. `loss` may
 * point into `logits`: it is written last.
 *
 * Special values: a NaN logit gives a NaN loss (and a NaN gradient row); `k` logits at
 * `+inf` give `ln k` when the target is one of them and `+inf` otherwise, with the gradient
 * `1/k` at the `+inf` logits and 0 elsewhere, minus 1 at the target; a row of only `-inf`
 * gives NaN (loss and gradient); a finite target logit far below the others gives a large
 * finite loss, a target logit of `-inf` (others finite) `+inf`. Finite logits of any
 * magnitude work (no overflow).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (`logits` or `loss` NULL) or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (no class, target out of range, misaligned pointer,
 * `n * 4` above `PTRDIFF_MAX`, overlap).
 *
 * # Safety
 * `logits` must be readable for `n` floats, `loss` writable for one, and `dlogits` (unless
 * NULL) writable for `n`.
 */
softmax_status softmax_cross_entropy_f32(const float *logits,
                                         size_t n,
                                         size_t target,
                                         float *loss,
                                         float *dlogits);

/**
 * Cross-entropy of a batch: row `r` of `cols` logits starts at `logits + r * logits_stride`
 * and its class is `targets[r]`; `losses[r]` receives its loss (one per row: the caller
 * reduces them, e.g. to a mean over the rows that are not ignored). When `dlogits` is not
 * NULL, row `r` of the gradient goes to `dlogits + r * dlogits_stride` (`dlogits_stride` is
 * ignored when `dlogits` is NULL).
 *
 * A row whose target equals `ignore_index` (commonly -100) gets loss 0 and, with `dlogits`,
 * a zero gradient row; its logits are not read. With label smoothing `eps`
 * (`label_smoothing`, in `[0, 1]`) the target distribution is
 * `(1 - eps) * onehot(target) + eps / cols`: the loss is
 * `logsumexp(x) - (1 - eps) * x[target] - eps * mean(x)` and the gradient
 * `softmax(x) - (1 - eps) * onehot(target) - eps / cols`. `label_smoothing == 0` gives
 * `softmax_cross_entropy_f32` for each row.
 *
 * Checks, before anything is read or written: `label_smoothing` outside `[0, 1]` or NaN and
 * `cols == 0` are `SOFTMAX_STATUS_INVALID_ARGUMENT`; strides as in `softmax_rows_f32`;
 * `rows == 0` returns `SOFTMAX_STATUS_OK` (pointers may be NULL); `logits`, `targets` and
 * `losses` must be non-NULL and aligned (8 bytes for `targets`); `dlogits` may be `logits`
 * with the same stride (in place) but must not overlap it otherwise, and the outputs
 * `losses` and `dlogits` must not overlap each other, `targets` or `logits` (`targets` is an
 * input and may overlap `logits`, as inputs may by rule 7). Then every target is read: one that
 * is neither `ignore_index` nor in `[0, cols)` is `SOFTMAX_STATUS_INVALID_ARGUMENT`, and
 * nothing is written. Each row follows the special-value rules of `softmax_cross_entropy_f32` (with
 * smoothing, `+inf` logits give NaN, and a `-inf` logit among finite ones `+inf`).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *
 * # Safety
 * `logits` must be readable for the rows described, `targets` readable and `losses` writable
 * for `rows` values, and `dlogits` (unless NULL) writable for its rows (unless `rows == 0`).
 */
softmax_status softmax_cross_entropy_rows_f32(const float *logits,
                                              size_t logits_stride,
                                              size_t rows,
                                              size_t cols,
                                              const int64_t *targets,
                                              int64_t ignore_index,
                                              float label_smoothing,
                                              float *losses,
                                              float *dlogits,
                                              size_t dlogits_stride);

/**
 * Softmax of one row of `n` `softmax_f16_t` values (IEEE binary16) with
 * `SOFTMAX_ALGORITHM_AUTO`: `softmax_f32` on the row widened to `float`, each output rounded
 * to IEEE binary16 (see `softmax_f16_t`).
 *
 * Arguments, in-place use (`y == x`; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`),
 * NULL with `n == 0`, special values and status codes as `softmax_f32`, with 2-byte elements:
 * `x` and `y` aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` `softmax_f16_t` values (unless `n == 0`).
 */
softmax_status softmax_f16(const softmax_f16_t *x, softmax_f16_t *y, size_t n);

/**
 * Softmax of one row of `n` `softmax_bf16_t` values (bfloat16) with `SOFTMAX_ALGORITHM_AUTO`:
 * `softmax_f32` on the row widened to `float`, each output rounded to bfloat16 (see
 * `softmax_bf16_t`).
 *
 * Arguments, in-place use (`y == x`; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`),
 * NULL with `n == 0`, special values and status codes as `softmax_f32`, with 2-byte elements:
 * `x` and `y` aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` `softmax_bf16_t` values (unless `n == 0`).
 */
softmax_status softmax_bf16(const softmax_bf16_t *x, softmax_bf16_t *y, size_t n);

/**
 * Softmax of one row of `n` `softmax_f16_t` values (IEEE binary16) with the given
 * `SOFTMAX_ALGORITHM_*`: `softmax_f32_ex` on the row widened to `float`, each output rounded
 * to IEEE binary16.
 *
 * As `softmax_f32_ex` (an unknown `algorithm` is `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked
 * first, even when `n == 0`; in place when `y == x`), with 2-byte elements: `x` and `y`
 * aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` `softmax_f16_t` values (unless `n == 0`).
 */
softmax_status softmax_f16_ex(const softmax_f16_t *x,
                              softmax_f16_t *y,
                              size_t n,
                              uint32_t algorithm);

/**
 * Softmax of one row of `n` `softmax_bf16_t` values (bfloat16) with the given
 * `SOFTMAX_ALGORITHM_*`: `softmax_f32_ex` on the row widened to `float`, each output rounded
 * to bfloat16.
 *
 * As `softmax_f32_ex` (an unknown `algorithm` is `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked
 * first, even when `n == 0`; in place when `y == x`), with 2-byte elements: `x` and `y`
 * aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` `softmax_bf16_t` values (unless `n == 0`).
 */
softmax_status softmax_bf16_ex(const softmax_bf16_t *x,
                               softmax_bf16_t *y,
                               size_t n,
                               uint32_t algorithm);

/**
 * Log-softmax of one row of `n` `softmax_f16_t` values (IEEE binary16):
 * `softmax_log_softmax_f32` on the row widened to `float`, each output rounded to IEEE
 * binary16.
 *
 * Arguments, in-place use (`y == x`), special values and status codes as
 * `softmax_log_softmax_f32`, with 2-byte elements: `x` and `y` aligned to 2 bytes, `n * 2` at
 * most `PTRDIFF_MAX`.
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` `softmax_f16_t` values (unless `n == 0`).
 */
softmax_status softmax_log_softmax_f16(const softmax_f16_t *x, softmax_f16_t *y, size_t n);

/**
 * Log-softmax of one row of `n` `softmax_bf16_t` values (bfloat16): `softmax_log_softmax_f32`
 * on the row widened to `float`, each output rounded to bfloat16.
 *
 * Arguments, in-place use (`y == x`), special values and status codes as
 * `softmax_log_softmax_f32`, with 2-byte elements: `x` and `y` aligned to 2 bytes, `n * 2` at
 * most `PTRDIFF_MAX`.
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` `softmax_bf16_t` values (unless `n == 0`).
 */
softmax_status softmax_log_softmax_bf16(const softmax_bf16_t *x, softmax_bf16_t *y, size_t n);

/**
 * Log-sum-exp of `n` `softmax_f16_t` values (IEEE binary16), `ln(sum_i exp(x[i]))`, stored as
 * a `float` in `*result`: `softmax_logsumexp_f32` on the row widened to `float` (the result is
 * not rounded to IEEE binary16).
 *
 * As `softmax_logsumexp_f32` (`-inf` for `n == 0`, where `x` may be NULL; `result` always
 * required, aligned to 4 bytes, and may point into `x`), with `x` aligned to 2 bytes and
 * `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `x` must be readable for `n` `softmax_f16_t` values (unless `n == 0`) and `result` writable
 * for one `float`.
 */
softmax_status softmax_logsumexp_f16(const softmax_f16_t *x, size_t n, float *result);

/**
 * Log-sum-exp of `n` `softmax_bf16_t` values (bfloat16), `ln(sum_i exp(x[i]))`, stored as a
 * `float` in `*result`: `softmax_logsumexp_f32` on the row widened to `float` (the result is
 * not rounded to bfloat16).
 *
 * As `softmax_logsumexp_f32` (`-inf` for `n == 0`, where `x` may be NULL; `result` always
 * required, aligned to 4 bytes, and may point into `x`), with `x` aligned to 2 bytes and
 * `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `x` must be readable for `n` `softmax_bf16_t` values (unless `n == 0`) and `result` writable
 * for one `float`.
 */
softmax_status softmax_logsumexp_bf16(const softmax_bf16_t *x, size_t n, float *result);

/**
 * Softmax of a batch of `rows` rows of `cols` `softmax_f16_t` values (IEEE binary16), row `r`
 * read from `x + r * x_stride` and written to `y + r * y_stride` (strides in elements, at
 * least `cols`), with the given `SOFTMAX_ALGORITHM_*`: `softmax_rows_f32` on the rows widened
 * to `float`, each output rounded to IEEE binary16.
 *
 * Layout, in-place use (`y == x` with `y_stride == x_stride`), overlap rules, NULL with no
 * element, special values and status codes as `softmax_rows_f32`, with 2-byte elements:
 * pointers aligned to 2 bytes, extents of at most `PTRDIFF_MAX` bytes. Elements between rows
 * are neither read nor written.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_rows_f16(const softmax_f16_t *x,
                                size_t x_stride,
                                softmax_f16_t *y,
                                size_t y_stride,
                                size_t rows,
                                size_t cols,
                                uint32_t algorithm);

/**
 * Softmax of a batch of `rows` rows of `cols` `softmax_bf16_t` values (bfloat16), row `r` read
 * from `x + r * x_stride` and written to `y + r * y_stride` (strides in elements, at least
 * `cols`), with the given `SOFTMAX_ALGORITHM_*`: `softmax_rows_f32` on the rows widened to
 * `float`, each output rounded to bfloat16.
 *
 * Layout, in-place use (`y == x` with `y_stride == x_stride`), overlap rules, NULL with no
 * element, special values and status codes as `softmax_rows_f32`, with 2-byte elements:
 * pointers aligned to 2 bytes, extents of at most `PTRDIFF_MAX` bytes. Elements between rows
 * are neither read nor written.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_rows_bf16(const softmax_bf16_t *x,
                                 size_t x_stride,
                                 softmax_bf16_t *y,
                                 size_t y_stride,
                                 size_t rows,
                                 size_t cols,
                                 uint32_t algorithm);

/**
 * `softmax_rows_f16` with `flags`, a combination of `SOFTMAX_FLAG_*` values: with
 * `SOFTMAX_FLAG_ZERO_MASKED_ROWS`, a row of only `-inf` (a fully masked attention row) gives
 * zeros instead of NaN. `flags == 0` is exactly `softmax_rows_f16`.
 *
 * As `softmax_rows_f32_ex` on `softmax_f16_t` rows (the algorithm and the flags are checked
 * first, even when nothing is touched), with 2-byte elements.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_rows_f16_ex(const softmax_f16_t *x,
                                   size_t x_stride,
                                   softmax_f16_t *y,
                                   size_t y_stride,
                                   size_t rows,
                                   size_t cols,
                                   uint32_t algorithm,
                                   uint32_t flags);

/**
 * `softmax_rows_bf16` with `flags`, a combination of `SOFTMAX_FLAG_*` values: with
 * `SOFTMAX_FLAG_ZERO_MASKED_ROWS`, a row of only `-inf` (a fully masked attention row) gives
 * zeros instead of NaN. `flags == 0` is exactly `softmax_rows_bf16`.
 *
 * As `softmax_rows_f32_ex` on `softmax_bf16_t` rows (the algorithm and the flags are checked
 * first, even when nothing is touched), with 2-byte elements.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_rows_bf16_ex(const softmax_bf16_t *x,
                                    size_t x_stride,
                                    softmax_bf16_t *y,
                                    size_t y_stride,
                                    size_t rows,
                                    size_t cols,
                                    uint32_t algorithm,
                                    uint32_t flags);

/**
 * Log-softmax of a batch of `rows` rows of `cols` `softmax_f16_t` values (IEEE binary16):
 * `softmax_log_softmax_rows_f32` on the rows widened to `float`, each output rounded to IEEE
 * binary16.
 *
 * Layout, in-place and overlap rules as in `softmax_rows_f16`; special values and status codes
 * as `softmax_log_softmax_rows_f32`, with 2-byte elements.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_log_softmax_rows_f16(const softmax_f16_t *x,
                                            size_t x_stride,
                                            softmax_f16_t *y,
                                            size_t y_stride,
                                            size_t rows,
                                            size_t cols);

/**
 * Log-softmax of a batch of `rows` rows of `cols` `softmax_bf16_t` values (bfloat16):
 * `softmax_log_softmax_rows_f32` on the rows widened to `float`, each output rounded to
 * bfloat16.
 *
 * Layout, in-place and overlap rules as in `softmax_rows_bf16`; special values and status
 * codes as `softmax_log_softmax_rows_f32`, with 2-byte elements.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_log_softmax_rows_bf16(const softmax_bf16_t *x,
                                             size_t x_stride,
                                             softmax_bf16_t *y,
                                             size_t y_stride,
                                             size_t rows,
                                             size_t cols);

/**
 * Softmax of `scale * x` for one row of `n` `softmax_f16_t` values (IEEE binary16) with
 * `SOFTMAX_ALGORITHM_AUTO`: `softmax_scaled_f32` on the row widened to `float` (the product
 * `scale * x[i]` in `float`), each output rounded to IEEE binary16.
 *
 * As `softmax_scaled_f32` (a `scale` that is not finite is `SOFTMAX_STATUS_INVALID_ARGUMENT`,
 * checked first, even when `n == 0`; in place when `y == x`), with 2-byte elements: `x` and
 * `y` aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` `softmax_f16_t` values (unless `n == 0`).
 */
softmax_status softmax_scaled_f16(const softmax_f16_t *x, softmax_f16_t *y, size_t n, float scale);

/**
 * Softmax of `scale * x` for one row of `n` `softmax_bf16_t` values (bfloat16) with
 * `SOFTMAX_ALGORITHM_AUTO`: `softmax_scaled_f32` on the row widened to `float` (the product
 * `scale * x[i]` in `float`), each output rounded to bfloat16.
 *
 * As `softmax_scaled_f32` (a `scale` that is not finite is `SOFTMAX_STATUS_INVALID_ARGUMENT`,
 * checked first, even when `n == 0`; in place when `y == x`), with 2-byte elements: `x` and
 * `y` aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` `softmax_bf16_t` values (unless `n == 0`).
 */
softmax_status softmax_scaled_bf16(const softmax_bf16_t *x,
                                   softmax_bf16_t *y,
                                   size_t n,
                                   float scale);

/**
 * Softmax of `scale * x` for a batch of `rows` rows of `cols` `softmax_f16_t` values (IEEE
 * binary16), with the given `SOFTMAX_ALGORITHM_*`: `softmax_scaled_rows_f32` on the rows
 * widened to `float`, each output rounded to IEEE binary16.
 *
 * Layout, in-place and overlap rules as in `softmax_rows_f16`; checks (algorithm and scale
 * first), special values and status codes as `softmax_scaled_rows_f32`, with 2-byte elements.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_scaled_rows_f16(const softmax_f16_t *x,
                                       size_t x_stride,
                                       softmax_f16_t *y,
                                       size_t y_stride,
                                       size_t rows,
                                       size_t cols,
                                       float scale,
                                       uint32_t algorithm);

/**
 * Softmax of `scale * x` for a batch of `rows` rows of `cols` `softmax_bf16_t` values
 * (bfloat16), with the given `SOFTMAX_ALGORITHM_*`: `softmax_scaled_rows_f32` on the rows
 * widened to `float`, each output rounded to bfloat16.
 *
 * Layout, in-place and overlap rules as in `softmax_rows_bf16`; checks (algorithm and scale
 * first), special values and status codes as `softmax_scaled_rows_f32`, with 2-byte elements.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_scaled_rows_bf16(const softmax_bf16_t *x,
                                        size_t x_stride,
                                        softmax_bf16_t *y,
                                        size_t y_stride,
                                        size_t rows,
                                        size_t cols,
                                        float scale,
                                        uint32_t algorithm);

/**
 * Log-sum-exp of each row of a batch of `rows` rows of `cols` `softmax_f16_t` values (IEEE
 * binary16), `x_stride` apart (in elements): one `float` per row in `out` (not rounded to IEEE
 * binary16), each the value `softmax_logsumexp_f16` gives for the row.
 *
 * As `softmax_logsumexp_rows_f32` (`-inf` for `cols == 0`; `out` aligned to 4 bytes and
 * disjoint from the batch `[x, x + (rows - 1) * x_stride + cols)`), with `x` aligned to 2
 * bytes and its extent at most `PTRDIFF_MAX` bytes.
 *
 * # Safety
 * `x` must be readable for the rows described and `out` writable for `rows` floats.
 */
softmax_status softmax_logsumexp_rows_f16(const softmax_f16_t *x,
                                          size_t x_stride,
                                          float *out,
                                          size_t rows,
                                          size_t cols);

/**
 * Log-sum-exp of each row of a batch of `rows` rows of `cols` `softmax_bf16_t` values
 * (bfloat16), `x_stride` apart (in elements): one `float` per row in `out` (not rounded to
 * bfloat16), each the value `softmax_logsumexp_bf16` gives for the row.
 *
 * As `softmax_logsumexp_rows_f32` (`-inf` for `cols == 0`; `out` aligned to 4 bytes and
 * disjoint from the batch `[x, x + (rows - 1) * x_stride + cols)`), with `x` aligned to 2
 * bytes and its extent at most `PTRDIFF_MAX` bytes.
 *
 * # Safety
 * `x` must be readable for the rows described and `out` writable for `rows` floats.
 */
softmax_status softmax_logsumexp_rows_bf16(const softmax_bf16_t *x,
                                           size_t x_stride,
                                           float *out,
                                           size_t rows,
                                           size_t cols);

/**
 * Softmax backward pass of one row of `n` `softmax_f16_t` values (IEEE binary16):
 * `dx[i] = y[i] * (dy[i] - dot(dy, y))` by `softmax_backward_f32` on `y` and `dy` widened to
 * `float`, each `dx[i]` rounded to IEEE binary16.
 *
 * In-place use (`dx` may be `dy` or `y`; `y` and `dy` may overlap each other), NULL with
 * `n == 0`, special values and status codes as `softmax_backward_f32`, with 2-byte elements:
 * pointers aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for `n` `softmax_f16_t` values (unless
 * `n == 0`).
 */
softmax_status softmax_backward_f16(const softmax_f16_t *y,
                                    const softmax_f16_t *dy,
                                    softmax_f16_t *dx,
                                    size_t n);

/**
 * Softmax backward pass of one row of `n` `softmax_bf16_t` values (bfloat16):
 * `dx[i] = y[i] * (dy[i] - dot(dy, y))` by `softmax_backward_f32` on `y` and `dy` widened to
 * `float`, each `dx[i]` rounded to bfloat16.
 *
 * In-place use (`dx` may be `dy` or `y`; `y` and `dy` may overlap each other), NULL with
 * `n == 0`, special values and status codes as `softmax_backward_f32`, with 2-byte elements:
 * pointers aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for `n` `softmax_bf16_t` values (unless
 * `n == 0`).
 */
softmax_status softmax_backward_bf16(const softmax_bf16_t *y,
                                     const softmax_bf16_t *dy,
                                     softmax_bf16_t *dx,
                                     size_t n);

/**
 * Log-softmax backward pass of one row of `n` `softmax_f16_t` values (IEEE binary16):
 * `dx[i] = dy[i] - exp(y[i]) * sum(dy)` by `softmax_log_softmax_backward_f32` on `y` and `dy`
 * widened to `float`, each `dx[i]` rounded to IEEE binary16.
 *
 * In-place use (`dx` may be `dy` or `y`), NULL with `n == 0`, special values and status codes
 * as `softmax_log_softmax_backward_f32`, with 2-byte elements: pointers aligned to 2 bytes,
 * `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for `n` `softmax_f16_t` values (unless
 * `n == 0`).
 */
softmax_status softmax_log_softmax_backward_f16(const softmax_f16_t *y,
                                                const softmax_f16_t *dy,
                                                softmax_f16_t *dx,
                                                size_t n);

/**
 * Log-softmax backward pass of one row of `n` `softmax_bf16_t` values (bfloat16):
 * `dx[i] = dy[i] - exp(y[i]) * sum(dy)` by `softmax_log_softmax_backward_f32` on `y` and `dy`
 * widened to `float`, each `dx[i]` rounded to bfloat16.
 *
 * In-place use (`dx` may be `dy` or `y`), NULL with `n == 0`, special values and status codes
 * as `softmax_log_softmax_backward_f32`, with 2-byte elements: pointers aligned to 2 bytes,
 * `n * 2` at most `PTRDIFF_MAX`.
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for `n` `softmax_bf16_t` values (unless
 * `n == 0`).
 */
softmax_status softmax_log_softmax_backward_bf16(const softmax_bf16_t *y,
                                                 const softmax_bf16_t *dy,
                                                 softmax_bf16_t *dx,
                                                 size_t n);

/**
 * Softmax backward pass of a batch of `rows` rows of `cols` `softmax_f16_t` values (IEEE
 * binary16), row `r` of each array at `r * stride` of that array (`y_stride`, `dy_stride`,
 * `dx_stride`, in elements, at least `cols`): `softmax_backward_rows_f32` on `y` and `dy`
 * widened to `float`, each `dx` rounded to IEEE binary16.
 *
 * Layout, in-place use (`dx` may be `dy` or `y` with the same stride), overlap rules, NULL
 * with no element and status codes as `softmax_backward_rows_f32`, with 2-byte elements:
 * pointers aligned to 2 bytes, extents of at most `PTRDIFF_MAX` bytes.
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
 * touched).
 */
softmax_status softmax_backward_rows_f16(const softmax_f16_t *y,
                                         size_t y_stride,
                                         const softmax_f16_t *dy,
                                         size_t dy_stride,
                                         softmax_f16_t *dx,
                                         size_t dx_stride,
                                         size_t rows,
                                         size_t cols);

/**
 * Softmax backward pass of a batch of `rows` rows of `cols` `softmax_bf16_t` values
 * (bfloat16), row `r` of each array at `r * stride` of that array (`y_stride`, `dy_stride`,
 * `dx_stride`, in elements, at least `cols`): `softmax_backward_rows_f32` on `y` and `dy`
 * widened to `float`, each `dx` rounded to bfloat16.
 *
 * Layout, in-place use (`dx` may be `dy` or `y` with the same stride), overlap rules, NULL
 * with no element and status codes as `softmax_backward_rows_f32`, with 2-byte elements:
 * pointers aligned to 2 bytes, extents of at most `PTRDIFF_MAX` bytes.
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
 * touched).
 */
softmax_status softmax_backward_rows_bf16(const softmax_bf16_t *y,
                                          size_t y_stride,
                                          const softmax_bf16_t *dy,
                                          size_t dy_stride,
                                          softmax_bf16_t *dx,
                                          size_t dx_stride,
                                          size_t rows,
                                          size_t cols);

/**
 * Log-softmax backward pass of a batch of `softmax_f16_t` values (IEEE binary16):
 * `softmax_log_softmax_backward_rows_f32` on `y` and `dy` widened to `float`, each `dx`
 * rounded to IEEE binary16.
 *
 * Layout, in-place and overlap rules as in `softmax_backward_rows_f16`; status codes as
 * `softmax_log_softmax_backward_rows_f32`, with 2-byte elements.
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
 * touched).
 */
softmax_status softmax_log_softmax_backward_rows_f16(const softmax_f16_t *y,
                                                     size_t y_stride,
                                                     const softmax_f16_t *dy,
                                                     size_t dy_stride,
                                                     softmax_f16_t *dx,
                                                     size_t dx_stride,
                                                     size_t rows,
                                                     size_t cols);

/**
 * Log-softmax backward pass of a batch of `softmax_bf16_t` values (bfloat16):
 * `softmax_log_softmax_backward_rows_f32` on `y` and `dy` widened to `float`, each `dx`
 * rounded to bfloat16.
 *
 * Layout, in-place and overlap rules as in `softmax_backward_rows_bf16`; status codes as
 * `softmax_log_softmax_backward_rows_f32`, with 2-byte elements.
 *
 * # Safety
 * `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
 * touched).
 */
softmax_status softmax_log_softmax_backward_rows_bf16(const softmax_bf16_t *y,
                                                      size_t y_stride,
                                                      const softmax_bf16_t *dy,
                                                      size_t dy_stride,
                                                      softmax_bf16_t *dx,
                                                      size_t dx_stride,
                                                      size_t rows,
                                                      size_t cols);

/**
 * Cross-entropy loss of one row of `n` `softmax_f16_t` logits (IEEE binary16) against class
 * `target`, stored as a `float` in `*loss` (not rounded to IEEE binary16); when `dlogits` is
 * not NULL it also receives the gradient `softmax(logits) - onehot(target)`, rounded to IEEE
 * binary16: `softmax_cross_entropy_f32` on the logits widened to `float`.
 *
 * As `softmax_cross_entropy_f32`: `n == 0` and `target >= n` are
 * `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked first; `loss` is required (a `float`, aligned to
 * 4 bytes) and may point into `logits` but not into `dlogits`; `dlogits` may be `logits` (in
 * place) and must not overlap it otherwise; special values and status codes as there. The
 * logits and the gradient have 2-byte elements: aligned to 2 bytes, `n * 2` at most
 * `PTRDIFF_MAX`.
 *
 * # Safety
 * `logits` must be readable for `n` `softmax_f16_t` values, `loss` writable for one `float`,
 * and `dlogits` (unless NULL) writable for `n` `softmax_f16_t` values.
 */
softmax_status softmax_cross_entropy_f16(const softmax_f16_t *logits,
                                         size_t n,
                                         size_t target,
                                         float *loss,
                                         softmax_f16_t *dlogits);

/**
 * Cross-entropy loss of one row of `n` `softmax_bf16_t` logits (bfloat16) against class
 * `target`, stored as a `float` in `*loss` (not rounded to bfloat16); when `dlogits` is not
 * NULL it also receives the gradient `softmax(logits) - onehot(target)`, rounded to bfloat16:
 * `softmax_cross_entropy_f32` on the logits widened to `float`.
 *
 * As `softmax_cross_entropy_f32`: `n == 0` and `target >= n` are
 * `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked first; `loss` is required (a `float`, aligned to
 * 4 bytes) and may point into `logits` but not into `dlogits`; `dlogits` may be `logits` (in
 * place) and must not overlap it otherwise; special values and status codes as there. The
 * logits and the gradient have 2-byte elements: aligned to 2 bytes, `n * 2` at most
 * `PTRDIFF_MAX`.
 *
 * # Safety
 * `logits` must be readable for `n` `softmax_bf16_t` values, `loss` writable for one `float`,
 * and `dlogits` (unless NULL) writable for `n` `softmax_bf16_t` values.
 */
softmax_status softmax_cross_entropy_bf16(const softmax_bf16_t *logits,
                                          size_t n,
                                          size_t target,
                                          float *loss,
                                          softmax_bf16_t *dlogits);

/**
 * Cross-entropy of a batch of `softmax_f16_t` logits (IEEE binary16): row `r` of `cols` logits
 * at `logits + r * logits_stride` against class `targets[r]`, its loss as a `float` in
 * `losses[r]` (not rounded), and with a non-NULL `dlogits` its gradient row, rounded to IEEE
 * binary16, at `dlogits + r * dlogits_stride`: `softmax_cross_entropy_rows_f32` on the logits
 * widened to `float`.
 *
 * As `softmax_cross_entropy_rows_f32`: rows whose target is `ignore_index` get loss 0 and a
 * zero gradient row; label smoothing `eps` in `[0, 1]`; the same checks in the same order
 * (smoothing and `cols == 0` first, strides, NULL, alignment: 2 bytes for the logits and the
 * gradient, 4 for `losses`, 8 for the `int64_t` targets; `dlogits` may be `logits` with the
 * same stride (in place); every target read before anything is written), special values and
 * status codes.
 *
 * # Safety
 * `logits` must be readable for the rows described, `targets` readable and `losses` writable
 * for `rows` values, and `dlogits` (unless NULL) writable for its rows (unless `rows == 0`).
 */
softmax_status softmax_cross_entropy_rows_f16(const softmax_f16_t *logits,
                                              size_t logits_stride,
                                              size_t rows,
                                              size_t cols,
                                              const int64_t *targets,
                                              int64_t ignore_index,
                                              float label_smoothing,
                                              float *losses,
                                              softmax_f16_t *dlogits,
                                              size_t dlogits_stride);

/**
 * Cross-entropy of a batch of `softmax_bf16_t` logits (bfloat16): row `r` of `cols` logits at
 * `logits + r * logits_stride` against class `targets[r]`, its loss as a `float` in
 * `losses[r]` (not rounded), and with a non-NULL `dlogits` its gradient row, rounded to
 * bfloat16, at `dlogits + r * dlogits_stride`: `softmax_cross_entropy_rows_f32` on the logits
 * widened to `float`.
 *
 * As `softmax_cross_entropy_rows_f32`: rows whose target is `ignore_index` get loss 0 and a
 * zero gradient row; label smoothing `eps` in `[0, 1]`; the same checks in the same order
 * (smoothing and `cols == 0` first, strides, NULL, alignment: 2 bytes for the logits and the
 * gradient, 4 for `losses`, 8 for the `int64_t` targets; `dlogits` may be `logits` with the
 * same stride (in place); every target read before anything is written), special values and
 * status codes.
 *
 * # Safety
 * `logits` must be readable for the rows described, `targets` readable and `losses` writable
 * for `rows` values, and `dlogits` (unless NULL) writable for its rows (unless `rows == 0`).
 */
softmax_status softmax_cross_entropy_rows_bf16(const softmax_bf16_t *logits,
                                               size_t logits_stride,
                                               size_t rows,
                                               size_t cols,
                                               const int64_t *targets,
                                               int64_t ignore_index,
                                               float label_smoothing,
                                               float *losses,
                                               softmax_bf16_t *dlogits,
                                               size_t dlogits_stride);

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

/**
 * Log-sum-exp of each row of a batch: `out[r] = ln(sum_i exp(x[r * x_stride + i]))` for
 * `rows` rows of `cols` floats (`x_stride >= cols`, in elements). Each row gives exactly the
 * value `softmax_logsumexp_f32` gives for it, with the same special values (`-inf` for
 * `cols == 0` and for a row of only `-inf`, NaN for a row holding a NaN, `+inf` for a row
 * holding `+inf`) and accuracy; short rows are computed several at a time.
 *
 * `out` receives `rows` floats and must not overlap the batch
 * `[x, x + (rows - 1) * x_stride + cols)`. Pointers may be NULL when `rows == 0`; `x` may be
 * NULL when `cols == 0` (every result is then `-inf`).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
 * misaligned pointer, overlap).
 *
 * # Safety
 * `x` must be readable for the rows described and `out` writable for `rows` floats.
 */
softmax_status softmax_logsumexp_rows_f32(const float *x,
                                          size_t x_stride,
                                          float *out,
                                          size_t rows,
                                          size_t cols);

/**
 * The empty state: the state of an empty chunk or of a chunk of only `-inf`, the identity of
 * `softmax_lse_merge`; its value is `-inf`.
 */
struct softmax_lse_state softmax_lse_empty(void);

/**
 * The state of the union of the chunks of `a` and `b`. A NaN state absorbs; `+inf` counts
 * add; the empty state is the identity; finite states add their sums exactly scaled to the
 * larger exponent, rounded once in double precision. Commutative exactly, associative up to
 * that rounding: any grouping of a row's chunks gives its log-sum-exp within 2 ULP of
 * `max(1, |lse|)` of the one-call `logsumexp_f32`, and a fixed grouping gives identical bits.
 */
struct softmax_lse_state softmax_lse_merge(struct softmax_lse_state a, struct softmax_lse_state b);

/**
 * Element-wise merge of two arrays of `n` states: `inout[i] = merge(inout[i], in[i])`
 * (per-row states of a batch: the reduction of an all-reduce, e.g. the body of a
 * user-defined `MPI_Op`). `in` may equal `inout` (each state merged with itself) but must
 * not overlap it otherwise.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (pointer not aligned to 8 bytes, size above
 * `PTRDIFF_MAX`, partial overlap). `n == 0` touches nothing.
 *
 * # Safety
 * `in` must be readable and `inout` readable and writable for `n` states (unless `n == 0`).
 */
softmax_status softmax_lse_merge_rows(const struct softmax_lse_state *in,
                                      struct softmax_lse_state *inout,
                                      size_t n);

/**
 * The log-sum-exp of a state, rounded to float: NaN for a NaN state, `+inf` with `+inf`
 * entries, `-inf` for the empty state.
 */
float softmax_lse_value(struct softmax_lse_state s);

/**
 * The state of a chunk whose log-sum-exp is `lse` (a single entry `lse`, or a log-sum-exp
 * computed by other means): NaN for NaN, one `+inf` entry for `+inf`, the empty state for
 * `-inf`. `softmax_lse_value(softmax_lse_from_value(v)) == v` for every float of magnitude
 * `2^-20` or more (below, within `2^-52`).
 */
struct softmax_lse_state softmax_lse_from_value(float lse);

/**
 * Merges the state of the chunk `x[0..n)` into `*state` (initialise it with
 * `softmax_lse_empty()`): one read of `x`, at the speed of `logsumexp_f32`. Special values
 * as for one row (NaN anywhere: NaN; `+inf` entries counted; `-inf` entries add nothing).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (`state` NULL, or `x` NULL with
 * `n > 0`) or `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above
 * `PTRDIFF_MAX`, `state` inside `x`). `n == 0` leaves `*state` as it is.
 *
 * # Safety
 * `x` must be readable for `n` floats (unless `n == 0`), `state` readable and writable.
 */
softmax_status softmax_logsumexp_accumulate_f32(const float *x,
                                                size_t n,
                                                struct softmax_lse_state *state);

/**
 * `softmax_logsumexp_accumulate_f32` for a batch: row `r` of `cols` floats at
 * `x + r * stride` (stride in elements, at least `cols`) is merged into `states[r]`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
 * misaligned pointer, `states` overlapping `x`). `rows == 0` touches nothing; `cols == 0`
 * leaves the states as they are (after checking `states`).
 *
 * # Safety
 * `x` must be readable for the rows described and `states` readable and writable for
 * `rows` states.
 */
softmax_status softmax_logsumexp_accumulate_rows_f32(const float *x,
                                                     size_t stride,
                                                     size_t rows,
                                                     size_t cols,
                                                     struct softmax_lse_state *states);

/**
 * Softmax of a shard of a row whose log-sum-exp is `lse` (the value of the merged states):
 * `y[i] = exp(x[i] - lse)`, at the speed of the two-pass softmax's output pass (`lse` is
 * folded exactly into the exponential's shift and factor).
 *
 * `y == x` computes in place; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`. `x`
 * and `y` may be NULL when `n == 0`. Special values: a NaN or infinite `lse` gives
 * `exp(x - lse)` by IEEE rules (NaN `lse`: NaN; `+inf`: 0 for finite entries, NaN for `+inf`
 * entries; `-inf`, the value of an all `-inf` row: NaN); entries far below `lse` get exactly
 * 0. `lse` must be at least `max(x) - 88` (always true for the log-sum-exp of a row
 * containing `x`): entries more than 88 above `lse` give unspecified values.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (as `softmax_f32`).
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_normalize_f32(const float *x, float *y, size_t n, float lse);

/**
 * Log-softmax of a shard of a row whose log-sum-exp is `lse`: `y[i] = x[i] - lse`, rounded
 * once (IEEE rules for non-finite values). Arguments and statuses as
 * `softmax_normalize_f32`.
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_log_softmax_normalize_f32(const float *x, float *y, size_t n, float lse);

/**
 * `softmax_normalize_f32` for a batch: row `r` of `cols` floats is read from
 * `x + r * x_stride`, normalised by `lse[r]` and written to `y + r * y_stride` (layout,
 * in-place and overlap rules as in `softmax_rows_f32`; `lse` must not overlap `y`).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described, and `lse` readable for
 * `rows` floats (unless nothing is touched).
 */
softmax_status softmax_normalize_rows_f32(const float *x,
                                          size_t x_stride,
                                          float *y,
                                          size_t y_stride,
                                          size_t rows,
                                          size_t cols,
                                          const float *lse);

/**
 * `softmax_log_softmax_normalize_f32` for a batch (layout as in
 * `softmax_normalize_rows_f32`).
 *
 * # Safety
 * As `softmax_normalize_rows_f32`.
 */
softmax_status softmax_log_softmax_normalize_rows_f32(const float *x,
                                                      size_t x_stride,
                                                      float *y,
                                                      size_t y_stride,
                                                      size_t rows,
                                                      size_t cols,
                                                      const float *lse);

/**
 * Cross-entropy of one vocabulary shard of a batch (vocabulary-parallel training). The shard
 * holds columns `[col_offset, col_offset + cols)` of rows of `total_cols` logits: row `r`
 * starts at `logits + r * logits_stride`; `targets[r]` is its global class (or
 * `ignore_index`); `lse[r]` is the state of the whole row, every shard's
 * `softmax_logsumexp_accumulate_rows_f32` merged (one all-reduce).
 *
 * `losses[r]` receives this shard's contribution to the row's loss,
 * `[t in shard] (1 - eps) (lse - x[t]) + eps / total_cols * sum_{j in shard} (lse - x[j])`,
 * with `eps = label_smoothing`. Every term is non-negative, and the contributions of all
 * shards add up to the loss `cross_entropy_rows_f32` gives for the whole row
 * (`lse - (1 - eps) x[t] - eps * mean(x)`); only the target's shard carries the first term
 * (global target `t` is local `t - col_offset`), and without smoothing the other shards give
 * exactly 0. With `dlogits`, row `r` of this shard's gradient,
 * `exp(x - lse) - (1 - eps) onehot(t) - eps / total_cols` (the shard's columns of the
 * unsharded gradient), goes to `dlogits + r * dlogits_stride`. A row whose target equals
 * `ignore_index` gives 0 and a zero gradient row. Special rows follow `cross_entropy_f32`
 * through the merged state: a NaN state (a NaN logit anywhere) or an empty state (all `-inf`)
 * gives NaN (loss and gradient); with `k` logits at `+inf` the target's shard adds `ln k`
 * when the target is one of them and `+inf` otherwise (NaN with smoothing), and the gradient
 * is `1/k` at the `+inf` logits and 0 elsewhere, minus the target terms.
 *
 * Checks, before anything is read or written: `label_smoothing` outside `[0, 1]` or NaN,
 * `cols == 0` and `col_offset + cols > total_cols` are `SOFTMAX_STATUS_INVALID_ARGUMENT`;
 * strides as in `softmax_rows_f32`; `rows == 0` returns `SOFTMAX_STATUS_OK`; `logits`,
 * `targets`, `lse` and `losses` must be non-NULL and aligned (8 bytes for `targets` and
 * `lse`); `dlogits` may be `logits` with the same stride (in place) but must not overlap it
 * otherwise, and no output may overlap another array. Then every target is read: one that is
 * neither `ignore_index` nor in `[0, total_cols)` is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *
 * # Safety
 * `logits` must be readable for the rows described, `targets` and `lse` readable and
 * `losses` writable for `rows` values, and `dlogits` (unless NULL) writable for its rows.
 */
softmax_status softmax_cross_entropy_shard_rows_f32(const float *logits,
                                                    size_t logits_stride,
                                                    size_t rows,
                                                    size_t cols,
                                                    size_t col_offset,
                                                    size_t total_cols,
                                                    const int64_t *targets,
                                                    int64_t ignore_index,
                                                    float label_smoothing,
                                                    const struct softmax_lse_state *lse,
                                                    float *losses,
                                                    float *dlogits,
                                                    size_t dlogits_stride);

/**
 * @deprecated Renamed `softmax_log_softmax_f32` in 0.2.0: use that name.
 * This alias only calls it, and is removed in 1.0.
 *
 * # Safety
 * As `softmax_log_softmax_f32`.
 */
softmax_status log_softmax_f32(const float *x, float *y, size_t n);

/**
 * @deprecated Renamed `softmax_logsumexp_f32` in 0.2.0: use that name.
 * This alias only calls it, and is removed in 1.0.
 *
 * # Safety
 * As `softmax_logsumexp_f32`.
 */
softmax_status logsumexp_f32(const float *x, size_t n, float *result);

/**
 * @deprecated Renamed `softmax_log_softmax_rows_f32` in 0.2.0: use that name.
 * This alias only calls it, and is removed in 1.0.
 *
 * # Safety
 * As `softmax_log_softmax_rows_f32`.
 */
softmax_status log_softmax_rows_f32(const float *x,
                                    size_t x_stride,
                                    float *y,
                                    size_t y_stride,
                                    size_t rows,
                                    size_t cols);

/**
 * @deprecated Renamed `softmax_log_softmax_backward_f32` in 0.2.0: use that name.
 * This alias only calls it, and is removed in 1.0.
 *
 * # Safety
 * As `softmax_log_softmax_backward_f32`.
 */
softmax_status log_softmax_backward_f32(const float *y, const float *dy, float *dx, size_t n);

/**
 * @deprecated Renamed `softmax_log_softmax_backward_rows_f32` in 0.2.0: use that name.
 * This alias only calls it, and is removed in 1.0.
 *
 * # Safety
 * As `softmax_log_softmax_backward_rows_f32`.
 */
softmax_status log_softmax_backward_rows_f32(const float *y,
                                             size_t y_stride,
                                             const float *dy,
                                             size_t dy_stride,
                                             float *dx,
                                             size_t dx_stride,
                                             size_t rows,
                                             size_t cols);

/**
 * @deprecated Renamed `softmax_cross_entropy_f32` in 0.2.0: use that name.
 * This alias only calls it, and is removed in 1.0.
 *
 * # Safety
 * As `softmax_cross_entropy_f32`.
 */
softmax_status cross_entropy_f32(const float *logits,
                                 size_t n,
                                 size_t target,
                                 float *loss,
                                 float *dlogits);

/**
 * @deprecated Renamed `softmax_cross_entropy_rows_f32` in 0.2.0: use that name.
 * This alias only calls it, and is removed in 1.0.
 *
 * # Safety
 * As `softmax_cross_entropy_rows_f32`.
 */
softmax_status cross_entropy_rows_f32(const float *logits,
                                      size_t logits_stride,
                                      size_t rows,
                                      size_t cols,
                                      const int64_t *targets,
                                      int64_t ignore_index,
                                      float label_smoothing,
                                      float *losses,
                                      float *dlogits,
                                      size_t dlogits_stride);

/**
 * StableMax of one row of `n` floats: `y[i] = s(x[i]) / sum_j s(x[j])` with
 * `s(x) = x + 1` for `x >= 0` and `s(x) = 1 / (1 - x)` for `x < 0` (Prieto et al.,
 * "Grokking at the Edge of Numerical Stability", 2025). Polynomial instead of exponential
 * growth: no maximum pass, two passes over memory (a read for the sum, a read and a write).
 *
 * `y == x` computes in place; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`. `x`
 * and `y` may be NULL when `n == 0`. Special values: `s(-inf) = 0`; a NaN makes the whole
 * row NaN; the `k` entries equal to `+inf` get `1/k` and all others 0; a row of only `-inf`
 * gives NaN; finite inputs of any magnitude work (a sum beyond the float range is redone in
 * double precision).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
 * partial overlap).
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_stablemax_f32(const float *x, float *y, size_t n);

/**
 * Log-StableMax of one row of `n` floats: `y[i] = ln s(x[i]) - ln sum_j s(x[j])` (`s` as in
 * `softmax_stablemax_f32`), computed so that outputs near 0 keep their accuracy.
 *
 * Aliasing and NULL rules as in `softmax_stablemax_f32`. Special values: a NaN makes the
 * whole row NaN; with `k` entries equal to `+inf` those give `-ln k` and all others `-inf`;
 * a `-inf` entry gives `-inf`; a row of only `-inf` gives NaN.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (as `softmax_stablemax_f32`).
 *
 * # Safety
 * `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_log_stablemax_f32(const float *x, float *y, size_t n);

/**
 * StableMax of a batch of `rows` rows of `cols` floats: row `r` is read from
 * `x + r * x_stride` and written to `y + r * y_stride` (strides in elements, at least
 * `cols`). Layout, in-place and overlap rules as in `softmax_rows_f32`; each row follows
 * `softmax_stablemax_f32`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
 * misaligned pointer, overlap).
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_stablemax_rows_f32(const float *x,
                                          size_t x_stride,
                                          float *y,
                                          size_t y_stride,
                                          size_t rows,
                                          size_t cols);

/**
 * Log-StableMax of a batch (layout, in-place and overlap rules as in
 * `softmax_stablemax_rows_f32`); each row follows `softmax_log_stablemax_f32`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
 * misaligned pointer, overlap).
 *
 * # Safety
 * `x` must be readable and `y` writable for the rows described (unless nothing is touched).
 */
softmax_status softmax_log_stablemax_rows_f32(const float *x,
                                              size_t x_stride,
                                              float *y,
                                              size_t y_stride,
                                              size_t rows,
                                              size_t cols);

/**
 * StableMax cross-entropy of one row of `n` logits against class `target`:
 * `*loss = ln sum_j s(x[j]) - ln s(x[target])` (one pass over the logits, sums in double
 * precision). When `dlogits` is not NULL it also receives the gradient with respect to the
 * logits, `dlogits[i] = s'(x[i]) / S - (i == target) / (1 + |x[i]|)` with
 * `S = sum_j s(x[j])` and `s'(x) = 1` for `x >= 0`, `1 / (1 - x)^2` below, in a second
 * pass.
 *
 * Argument checks as in `cross_entropy_f32` (`n == 0` and `target >= n` first; `dlogits`
 * may be `logits` itself; `loss` may point into `logits`, not into `dlogits`).
 *
 * Special values: a NaN logit or a row of only `-inf` gives NaN (loss and gradient); `k`
 * logits at `+inf` give `ln k` when the target is one of them and `+inf` otherwise, and the
 * gradient with `1/S = 0`; a target logit of `-inf` among finite ones gives `+inf`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (`logits` or `loss` NULL) or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (no class, target out of range, misaligned pointer,
 * `n * 4` above `PTRDIFF_MAX`, overlap).
 *
 * # Safety
 * `logits` must be readable for `n` floats, `loss` writable for one, and `dlogits` (unless
 * NULL) writable for `n`.
 */
softmax_status softmax_stablemax_cross_entropy_f32(const float *logits,
                                                   size_t n,
                                                   size_t target,
                                                   float *loss,
                                                   float *dlogits);

/**
 * StableMax cross-entropy of a batch, with the layout, checks, `ignore_index` and label
 * smoothing of `cross_entropy_rows_f32`: row `r` of `cols` logits starts at
 * `logits + r * logits_stride`, `losses[r]` receives its loss, and with `dlogits` not NULL
 * row `r` of the gradient goes to `dlogits + r * dlogits_stride`. A row whose target equals
 * `ignore_index` gets loss 0 and a zero gradient row. With label smoothing `eps` the target
 * distribution is `q = (1 - eps) * onehot(target) + eps / cols`, the loss
 * `-sum_i q_i ln StableMax(x)_i` and the gradient `s'(x[i]) / S - q_i / (1 + |x[i]|)`.
 * Each row follows the special-value rules of `softmax_stablemax_cross_entropy_f32` (terms
 * with `q_i = 0` count 0; with smoothing, `+inf` logits give `+inf` unless every logit is
 * `+inf`).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT`.
 *
 * # Safety
 * `logits` must be readable for the rows described, `targets` readable and `losses` writable
 * for `rows` values, and `dlogits` (unless NULL) writable for its rows (unless `rows == 0`).
 */
softmax_status softmax_stablemax_cross_entropy_rows_f32(const float *logits,
                                                        size_t logits_stride,
                                                        size_t rows,
                                                        size_t cols,
                                                        const int64_t *targets,
                                                        int64_t ignore_index,
                                                        float label_smoothing,
                                                        float *losses,
                                                        float *dlogits,
                                                        size_t dlogits_stride);

/**
 * StableMax backward pass of one row of `n` floats, from the forward INPUT `x` (StableMax's
 * derivative depends on `x` itself, not only on its output):
 * `dx[i] = s'(x[i]) / S * (dy[i] - sum_j dy[j] y[j])`, with `y = StableMax(x)`,
 * `S = sum_j s(x[j])` and `s'(x) = 1` for `x >= 0`, `1 / (1 - x)^2` below. Two passes (the
 * sums in double precision, then the output).
 *
 * `dx` may be `dy` or `x` (in place); any other overlap of `dx` with `x` or `dy` is
 * `SOFTMAX_STATUS_INVALID_ARGUMENT`. The pointers may be NULL when `n == 0`. Special values:
 * a NaN in `x` or a row of only `-inf` gives NaN; `+inf` entries in `x` use `1/S = 0` (so
 * zeros for finite `dy`); otherwise IEEE arithmetic on the formula (a NaN in `dy` makes the
 * row NaN through the sum).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
 * partial overlap).
 *
 * # Safety
 * `x` and `dy` must be readable and `dx` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_stablemax_backward_f32(const float *x, const float *dy, float *dx, size_t n);

/**
 * Log-StableMax backward pass of one row of `n` floats, from the forward input `x`:
 * `dx[i] = dy[i] / (1 + |x[i]|) - s'(x[i]) / S * sum_j dy[j]` (notation as in
 * `softmax_stablemax_backward_f32`, whose aliasing, NULL and special-value rules apply).
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
 * partial overlap).
 *
 * # Safety
 * `x` and `dy` must be readable and `dx` writable for `n` floats (unless `n == 0`).
 */
softmax_status softmax_log_stablemax_backward_f32(const float *x,
                                                  const float *dy,
                                                  float *dx,
                                                  size_t n);

/**
 * StableMax backward pass of a batch of `rows` rows of `cols` floats: row `r` of each array
 * starts at `r * stride` of that array (`x_stride`, `dy_stride`, `dx_stride`, in elements,
 * at least `cols`). Layout and overlap rules as in `softmax_backward_rows_f32` (with `x` in
 * the place of `y`); each row follows `softmax_stablemax_backward_f32`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
 * misaligned pointer, overlap).
 *
 * # Safety
 * `x` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
 * touched).
 */
softmax_status softmax_stablemax_backward_rows_f32(const float *x,
                                                   size_t x_stride,
                                                   const float *dy,
                                                   size_t dy_stride,
                                                   float *dx,
                                                   size_t dx_stride,
                                                   size_t rows,
                                                   size_t cols);

/**
 * Log-StableMax backward pass of a batch (layout as in
 * `softmax_stablemax_backward_rows_f32`); each row follows
 * `softmax_log_stablemax_backward_f32`.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
 * misaligned pointer, overlap).
 *
 * # Safety
 * `x` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
 * touched).
 */
softmax_status softmax_log_stablemax_backward_rows_f32(const float *x,
                                                       size_t x_stride,
                                                       const float *dy,
                                                       size_t dy_stride,
                                                       float *dx,
                                                       size_t dx_stride,
                                                       size_t rows,
                                                       size_t cols);

/**
 * Top-k softmax gating (mixture-of-experts routing) of a batch: for each of `rows` rows of
 * `cols` logits (row `r` at `logits + r * stride`), the `k` largest entries' indices, in
 * descending order of value (equal values: the lower index first), into
 * `indices + r * indices_stride`, and their weights into `weights + r * weights_stride`:
 * the row's softmax at those indices, or with `SOFTMAX_TOPK_RENORMALIZE` the softmax over
 * the `k` entries alone. Strides are in elements (`stride >= cols`, output strides `>= k`).
 * One selection pass without sorting the row; no probability row is written.
 *
 * Special values (identical on every ISA): a row holding a NaN, or of only `-inf`, gives NaN
 * weights and indices `0..k-1`; with `c` entries at `+inf` those share the mass (`1/c` each,
 * or `1/c'` over the `c'` selected when renormalising), every other entry gets 0; finite
 * logits of any magnitude work.
 *
 * `k == 0`, `k > cols`, `cols > INT32_MAX` and flags outside `SOFTMAX_TOPK_*` are
 * `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked first. Pointers may be NULL when `rows == 0`.
 * The outputs must not overlap each other or the logits.
 *
 * Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (the above, strides too small, extent overflow,
 * misaligned pointer, overlap).
 *
 * # Safety
 * `logits` must be readable, and `weights` / `indices` writable, for the rows described.
 */
softmax_status softmax_topk_softmax_rows_f32(const float *logits,
                                             size_t stride,
                                             size_t rows,
                                             size_t cols,
                                             size_t k,
                                             uint32_t flags,
                                             float *weights,
                                             size_t weights_stride,
                                             int32_t *indices,
                                             size_t indices_stride);

/**
 * `softmax_topk_softmax_rows_f32` of `scale * logits` (an inverse temperature, fused into
 * the loads). `scale` must be finite and positive (`SOFTMAX_STATUS_INVALID_ARGUMENT`). The
 * products are computed in float; one that overflows counts as `+inf` (or `-inf`).
 *
 * # Safety
 * As `softmax_topk_softmax_rows_f32`.
 */
softmax_status softmax_topk_softmax_rows_scaled_f32(const float *logits,
                                                    size_t stride,
                                                    size_t rows,
                                                    size_t cols,
                                                    size_t k,
                                                    float scale,
                                                    uint32_t flags,
                                                    float *weights,
                                                    size_t weights_stride,
                                                    int32_t *indices,
                                                    size_t indices_stride);

/**
 * One index drawn from `softmax(logits / temperature)` over `n` logits, restricted to its
 * candidates, with the caller's uniform random number `u` in `[0, 1)` (the library holds no
 * random state: the same arguments always give the same index):
 * 1. the candidates are the `top_k` most probable entries (`top_k == 0`: all), in
 *    descending order of probability (equal: the lower index first);
 * 2. the nucleus is the shortest prefix of them whose mass reaches `top_p` times the
 *    candidates' mass (`top_p == 1`: all of them);
 * 3. `*index` is the first nucleus entry whose cumulative mass exceeds `u` times the
 *    nucleus's mass.
 *
 * `temperature == 0` (or one whose reciprocal overflows a float) is the argmax, the lower
 * index on ties. Masses are accumulated in double precision, so the draw is that of an exact
 * sort-based computation except when `u` lies within rounding of a boundary. The row is read
 * two to four times and never sorted (only the candidates near the draw are). `+inf`
 * logits share the mass equally; a row of only `-inf` draws uniformly. The scaled logits
 * are `logits[i] * (1 / temperature)` in float; a product that overflows counts as `+inf`.
 *
 * `SOFTMAX_STATUS_INVALID_ARGUMENT` (and `*index` untouched): `n == 0`, `n > INT32_MAX`, a
 * temperature negative or not finite, `top_p` outside `(0, 1]`, `u` outside `[0, 1)`, a NaN
 * logit. `SOFTMAX_STATUS_NULL_POINTER`: `logits` or `index` NULL.
 *
 * # Safety
 * `logits` must be readable for `n` floats and `index` writable.
 */
softmax_status softmax_sample_f32(const float *logits,
                                  size_t n,
                                  float temperature,
                                  size_t top_k,
                                  float top_p,
                                  float u,
                                  size_t *index);

/**
 * `softmax_sample_f32` for each of `rows` rows of `cols` logits (row `r` at
 * `logits + r * stride`, `stride >= cols`), drawn with `u[r]` into `indices[r]`. Rows are
 * independent and split over the library's threads. Every parameter and `u[r]` is checked
 * before anything is written; a row holding a NaN gives `SOFTMAX_STATUS_INVALID_ARGUMENT`
 * with the other rows' draws written. Pointers may be NULL when `rows == 0`; `indices` must
 * not overlap `logits` or `u`.
 *
 * # Safety
 * `logits` and `u` must be readable for the batch and `rows` floats, `indices` writable for
 * `rows` values.
 */
softmax_status softmax_sample_rows_f32(const float *logits,
                                       size_t stride,
                                       size_t rows,
                                       size_t cols,
                                       float temperature,
                                       size_t top_k,
                                       float top_p,
                                       const float *u,
                                       size_t *indices);

/**
 * Sets the number of threads of every later call: `0` means the machine's available
 * parallelism, `1` (the default, unless the environment variable `SOFTMAX_NUM_THREADS` says
 * otherwise when the library is first used) runs every call on the calling thread. Values
 * above 256 count as 256.
 *
 * The default is 1 because a library linked into a framework must not oversubscribe the
 * framework's own threads; set it (or install the framework's pool with
 * `softmax_set_parallel_for`) to use more cores. Only calls with enough work use threads: a
 * batch of at least 131072 elements (split into chunks of whole rows), or a single row of at
 * least 131072 elements (split into segments of 65536); smaller calls never touch a thread
 * pool. Results are bit-identical for every thread count, and to the one-thread call.
 *
 * The built-in pool keeps its threads alive between calls (parked, not spawned per call);
 * lowering the count ends and joins the surplus threads before returning, so
 * `softmax_set_num_threads(1)` leaves no thread of this library running (for example before
 * unloading the shared library). Safe to call at any time from any thread: calls already
 * running finish with the count they started with.
 *
 * Returns `SOFTMAX_STATUS_OK`.
 */
softmax_status softmax_set_num_threads(size_t n);

/**
 * The number of threads calls use with the built-in pool (the last `softmax_set_num_threads`,
 * or `SOFTMAX_NUM_THREADS`, or 1; with 0 resolved to the available parallelism).
 */
size_t softmax_get_num_threads(void);

/**
 * Hands the work of every later call that is worth splitting (see
 * `softmax_set_num_threads`) to the caller's `parallel_for` (a framework's thread pool, as
 * XNNPACK takes a pthreadpool), whatever the thread count; `parallel_for == NULL` restores
 * the built-in pool (and the thread count).
 *
 * The contract of `parallel_for(ctx, task, task_ctx, count)`: call `task(task_ctx, i)`
 * exactly once for every `i` in `[0, count)`, on any threads (the calling one included) and
 * in any order, and return only after every one of those calls has returned. It may run the
 * tasks one after another. It is called from any thread that calls this library, possibly
 * from several at once, so it must be thread-safe; `ctx` is passed through untouched and
 * must stay valid until it is replaced and every call that started before has returned. A
 * task never blocks on another task and never calls `parallel_for` itself. If
 * `parallel_for` skips or repeats an index, the call returns
 * `SOFTMAX_STATUS_INTERNAL_ERROR` (outputs may be partly written).
 *
 * Results are bit-identical to the built-in pool's and to the one-thread call: the split
 * and the order in which partial results are combined depend only on the sizes.
 *
 * Returns `SOFTMAX_STATUS_OK`.
 *
 * # Safety
 * `parallel_for` must follow the contract above with `ctx`.
 */
softmax_status softmax_set_parallel_for(void (*parallel_for)(void *ctx,
                                                             softmax_task_fn task,
                                                             void *task_ctx,
                                                             size_t count), void *ctx);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* SOFTMAX_H */
