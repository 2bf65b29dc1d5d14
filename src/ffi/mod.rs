//! softmax: hand-vectorised softmax, log-softmax and log-sum-exp over float rows, and the
//! training-side operations built on them: softmax with a fused input scale, the backward
//! passes of softmax and log-softmax, and the fused cross-entropy loss with its gradient.
//!
//! This is the C ABI of the Rust crate `softmax`. The C header `include/softmax.h` is
//! generated from `src/ffi/` by `build.rs` with cbindgen; regenerate it with
//! `SOFTMAX_WRITE_HEADER=1 cargo build --features header`.
//!
//! LINKING: `scripts/install.sh --prefix DIR` builds and installs the static library
//! `libsoftmax.a`, the shared library `libsoftmax.so` (with its SONAME), this header, the C++
//! wrapper `softmax.hpp`, pkg-config files and a CMake package. Link with
//! `pkg-config --cflags --libs softmax` (shared) or `softmax-static` (static), or in CMake
//! with `find_package(softmax CONFIG)` and the target `softmax::softmax` (shared) or
//! `softmax::softmax_static`. The header is valid C99 and C++ (its declarations are
//! `extern "C"`). Every exported symbol starts with `softmax_`, except the deprecated names of
//! 0.1 (`logsumexp_f32`, ...), kept as aliases until 1.0.
//!
//! 16-BIT ROWS: softmax, log-softmax, log-sum-exp, scaled softmax, their batches, the backward
//! passes and cross-entropy also take rows of IEEE binary16 (`softmax_f16_t`) or bfloat16
//! (`softmax_bf16_t`), both `uint16_t` bit patterns: `softmax_f16`, `softmax_rows_bf16_ex`,
//! `softmax_cross_entropy_f16`, ... are the `_f32` functions with 16-bit rows (the same
//! arguments and rules, with 2-byte elements). They compute in float and round each output
//! once (nearest, ties to even); log-sum-exp results and losses are `float`. See the two
//! typedefs.
//!
//! STATUS: every function that can fail returns a `softmax_status`. It validates all of its
//! arguments before it reads or writes any array, so on `SOFTMAX_STATUS_NULL_POINTER`,
//! `SOFTMAX_STATUS_INVALID_ARGUMENT` or `SOFTMAX_STATUS_UNSUPPORTED_ISA` nothing was written.
//! A Rust panic never crosses into C: it would be reported as `SOFTMAX_STATUS_INTERNAL_ERROR`
//! (the library is built with `panic = "unwind"`). Every function is thread-safe.
//!
//! ARGUMENT RULES (shared by all functions; checked in this order):
//!  1. Scalar arguments out of their domain are `SOFTMAX_STATUS_INVALID_ARGUMENT`: an
//!     `algorithm` outside the `SOFTMAX_ALGORITHM_*` constants, `flags` with a bit outside the
//!     `SOFTMAX_FLAG_*` constants, a `scale` that is not finite, a `label_smoothing` outside
//!     `[0, 1]` or NaN, and for cross-entropy a row without classes (`n == 0`, `cols == 0`)
//!     or `target >= n`.
//!  2. Batches (`*_rows_*`): when `rows > 0`, a stride (in elements) smaller than `cols`, or
//!     a batch extent `(rows - 1) * stride + cols` that overflows `size_t`, is
//!     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!  3. A call that touches no element (`n == 0`; `rows == 0` or `cols == 0`) and passed
//!     rule 1 returns `SOFTMAX_STATUS_OK` without looking at the array pointers (they may be
//!     NULL) and writes nothing; `softmax_logsumexp_f32` still needs a valid `result` and stores
//!     `-inf` there. (Cross-entropy needs a class: `n == 0` or `cols == 0` fails rule 1.)
//!  4. A NULL array pointer (when elements are touched), a NULL `result` or a NULL `loss` is
//!     `SOFTMAX_STATUS_NULL_POINTER` (optional outputs such as `dlogits` may be NULL).
//!  5. A pointer not aligned to its type (4 bytes, `_Alignof(float)`; 2 bytes for the 16-bit
//!     `softmax_f16_t` and `softmax_bf16_t` rows; 8 bytes for the `int64_t` targets) is
//!     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!  6. An array whose size in bytes exceeds `PTRDIFF_MAX`, or whose address range wraps around
//!     the address space, is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!  7. An output may be exactly one of the row inputs, with the same layout (for batches
//!     also the same stride): the call then works in place. That is `y == x` for the forward
//!     operations, `dx == y` or `dx == dy` for the backward passes, and `dlogits == logits`
//!     for cross-entropy. Any other overlap of the address ranges `[p, p + extent)` of an
//!     output and an input, or of two outputs, is `SOFTMAX_STATUS_INVALID_ARGUMENT` (inputs
//!     may overlap each other freely). `loss` is written last: it may point into `logits`,
//!     not into `dlogits`.
//!  8. `softmax_cross_entropy_rows_*` then reads all targets: one that is neither
//!     `ignore_index` nor in `[0, cols)` is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!
//! Beyond these checks the caller must pass arrays that are really readable (inputs) and
//! writable (outputs) for the given number of elements, and must not modify them from another
//! thread during the call.
//!
//! ISA SELECTION: on first use the library picks the best instruction set the CPU supports:
//! AVX-512 > AVX2+FMA+F16C+POPCNT > scalar on x86_64, NEON on aarch64, the portable scalar kernels
//! elsewhere. The environment variable `SOFTMAX_ISA` (`scalar`, `avx2`, `avx512` or `neon`),
//! read once at first use, forces another supported one (an unknown or unsupported name is
//! ignored with a notice on stderr). `softmax_set_isa` changes the choice at any time, for all
//! threads. All ISAs give identical special values and results within the bounds of ACCURACY.
//! Streaming passes issue software prefetches except on AMD Zen 4 (family 19h with AVX-512),
//! where the hardware prefetchers alone are faster with every ISA's kernels; the environment
//! variable `SOFTMAX_PREFETCH` (`1` or `0`, read once) turns them on or off for every ISA.
//! Results do not depend on it. On CPUs with AVX-512 BF16, BW and DQ other than AMD's, the
//! AVX-512 kernels round bf16 outputs with `vcvtneps2bf16` and `vcvtne2ps2bf16` (the same
//! bits as elsewhere).
//!
//! THREADS: one thread by default. `softmax_set_num_threads` (or the environment variable
//! `SOFTMAX_NUM_THREADS`) lets batches and long rows use more, and `softmax_set_parallel_for`
//! hands their work to the caller's thread pool. Results are bit-identical for every thread
//! count and pool.
//!
//! SPECIAL VALUES (per row, identical on every ISA):
//!  - Empty row: softmax and log-softmax write nothing; log-sum-exp is `-inf`.
//!  - A NaN anywhere in a row: every output of the row is NaN (log-sum-exp NaN).
//!  - `+inf` entries (and no NaN): the `k` entries equal to `+inf` get `1/k` each, all others
//!    0; log-softmax gives `-ln k` and `-inf`; log-sum-exp is `+inf`.
//!  - A row of only `-inf`: softmax and log-softmax give NaN (there is no limit); log-sum-exp
//!    gives `-inf`. With `SOFTMAX_FLAG_ZERO_MASKED_ROWS`, softmax gives zeros instead.
//!  - Entries far below the row maximum (where `exp(x - max)` is below about `2^-126`, i.e.
//!    `x` more than about 87.3 below it) get exactly 0 from softmax: the same entries with
//!    every algorithm and ISA (larger ones get `exp(x - max) / sum`, which may be a denormal
//!    when the sum exceeds 1); log-softmax stays exact.
//!  - Finite inputs of any magnitude work (no overflow for large values).
//!  - Scaled softmax applies these rules to `scale * x` (rounded to float); `scale == 0`
//!    gives the uniform `1/n`, or NaN when an input is not finite (`0 * inf`).
//!  - Cross-entropy: a NaN logit gives NaN (loss and gradient); `k` logits at `+inf` give
//!    `ln k` when the target is one of them and `+inf` otherwise (NaN with label
//!    smoothing), and the gradient `softmax - onehot` with the softmax rule above; a row of
//!    only `-inf` gives NaN (loss and gradient).
//!  - Backward passes follow IEEE arithmetic on their formulas: a NaN in `dy` makes the row
//!    NaN, as does a NaN in `y` for softmax (through `dot(dy, y)`; for log-softmax only its own
//!    entry); a zero row `y` (a masked row) gives a zero softmax gradient; an infinite
//!    `sum(dy)` or `exp(y)` gives the infinities and NaNs the formula gives.
//!
//! ACCURACY: every bound below is against the same function computed in double precision
//! (rounded once to float), for every ISA, input and row length, and is what the test-suite
//! (`tests/accuracy.rs`, the differential property test `tests/property.rs`) and the fuzz
//! targets (`fuzz/`) assert. An exact value beyond the float range gives the infinity it
//! rounds to.
//!  - softmax (every algorithm, scaled, batched): relative error `|y - exact| / exact` at most
//!    `2^-21` (4.8e-7, at most 4 units in the last place) for outputs whose exact value is
//!    above 1e-30, absolute error at most 1e-36 below. Outputs lie in `[0, 1]`. The sum of the
//!    exponentials is kept in float lanes for at most a few terms before it is widened to
//!    double, so long rows and rows of equal values are as accurate as short ones.
//!  - log-softmax: `|y - exact| <= 2^-21 * max(1, |exact|)`; outputs are `<= 0`.
//!  - log-sum-exp: `|result - exact| <= 2^-21 * max(1, |exact|)` (a relative bound above 1, an
//!    absolute one below: near 0 the result is a difference of terms of order one). Both
//!    bounds allow for the sum of the exponentials: a term goes through up to five float
//!    additions before the sum is widened, each off by up to 2^-24 of the sum, and when one
//!    entry dominates a row of equal others those roundings all go one way (measured up to
//!    2.8e-7 on such rows).
//!  - cross-entropy: loss `|loss - exact| <= 1e-6 * max(1, |exact|)`, and `loss >= 0`;
//!    gradient `|g - exact| <= 2^-21 * p + 2^-23 * (|exact| + eps/n) + 1e-36` (p the exact
//!    softmax output, eps the label smoothing), in `[-1, 1]`.
//!  - backward passes (`y` the output of the forward pass): `d = dot(dy, y)` (softmax) and
//!    `s = sum(dy)` (log-softmax) are accumulated in double precision, element `i` into
//!    accumulator `i % 32`, in the same order on every ISA (so they are bit-identical across
//!    ISAs, for any input), with error `E <= (n/32 + 6) * 2^-53 * sum_i |term_i|`. Then
//!    softmax: `|dx - exact| <= y * (2^-22 * (|dy| + |d|) + E)`; log-softmax:
//!    `|dx - exact| <= 2^-23 * |dy| + exp(y) * (4.5e-7 * |s| + E)`, where `exp(y)` below
//!    `2^-126` counts as 0 (adding `exp(y) * |s|`); both plus `2^-148` (denormal results).
//!
//! FLOATING-POINT ENVIRONMENT: the library assumes the default one of C and Rust:
//! round-to-nearest-even, denormals neither flushed to zero nor read as zero (no FTZ/DAZ), no
//! traps. It never changes the environment. Under another rounding mode (`fesetround`) or with
//! FTZ/DAZ the bounds above do not hold (softmax errors of 1.6e-5 were measured under directed
//! rounding) and the ISAs may disagree, on special values too.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::Algorithm;

// cbindgen (build.rs) reads this file first, then the files of the `mod` lines below in their
// order, and the header keeps that order: the status type and the shared constants of this
// file, then forward, training, their 16-bit twins, ISA and info entry points, batch, lse,
// deprecated, stablemax, topk, threads. `check` and `element` export nothing to C. Moving a
// `mod` line moves its declarations in `include/softmax.h`; rustfmt sorts consecutive `mod`
// lines, so the `use` lines between them hold this order.
mod check;
mod element;
mod forward;
pub use forward::*;
mod training;
pub use training::*;
mod half_types;
pub use half_types::*;
mod half_forward;
pub use half_forward::*;
mod half_training;
pub use half_training::*;
mod isa;
pub use isa::*;
mod info;
pub use info::*;
mod batch;
pub use batch::softmax_logsumexp_rows_f32;
mod lse;
pub use lse::*;
mod deprecated;
pub mod stablemax;
pub mod topk;
pub use deprecated::*;
mod threads;
pub use threads::*;

/// The outcome of a call: one of the `SOFTMAX_STATUS_*` constants.
///
/// A plain integer rather than an enum, so that any value can be passed around (and to
/// `softmax_status_string`) safely.
#[allow(non_camel_case_types)]
pub type softmax_status = u32;

/// Success: the outputs were written.
pub const SOFTMAX_STATUS_OK: softmax_status = 0;
/// A required pointer (an array that is touched, `result` or `loss`) was NULL. Nothing was
/// written.
pub const SOFTMAX_STATUS_NULL_POINTER: softmax_status = 1;
/// An argument was out of its domain: unknown algorithm, flag or ISA value, a non-finite
/// scale, a label smoothing outside `[0, 1]`, a row without classes or a target out of range,
/// stride smaller than `cols`, an extent or size that overflows, a misaligned pointer, or an
/// output that partly overlaps an input or another output. Nothing was written.
pub const SOFTMAX_STATUS_INVALID_ARGUMENT: softmax_status = 2;
/// `softmax_set_isa`: the ISA is valid but this CPU (or this build) cannot run it; the
/// current choice is unchanged.
pub const SOFTMAX_STATUS_UNSUPPORTED_ISA: softmax_status = 3;
/// A bug inside the library was caught (a Rust panic); no panic ever crosses into C. The
/// outputs may be partly written.
pub const SOFTMAX_STATUS_INTERNAL_ERROR: softmax_status = 4;

/// Algorithm: three-pass reload for rows up to a quarter of the last-level cache, two-pass
/// beyond (the recommended default).
pub const SOFTMAX_ALGORITHM_AUTO: u32 = 0;
/// Algorithm: max; sum of exponentials; exponentials again, normalised on the fly
/// (3 reads + 1 write of memory, 2 exponentials per element).
pub const SOFTMAX_ALGORITHM_THREE_PASS_RECOMPUTE: u32 = 1;
/// Algorithm: max; exponentials stored and summed; scale the stored values
/// (3 reads + 2 writes, 1 exponential per element: the fastest in cache).
pub const SOFTMAX_ALGORITHM_THREE_PASS_RELOAD: u32 = 2;
/// Algorithm: the two-pass softmax of Dukhan & Ablavatski (2020): pass 1 keeps the sum as a
/// (mantissa, exponent) pair per lane, so no maximum pass is needed; pass 2 writes the
/// normalised exponentials (2 reads + 1 write, 2 exponentials per element: the fastest out of
/// cache). A lane's exponent moves only when an input would overflow its sum (checked once per
/// chunk of a few hundred elements), not at every element.
pub const SOFTMAX_ALGORITHM_TWO_PASS: u32 = 3;
/// Algorithm: two passes with a per-block exponent (blocks of 2048 elements scanned for their
/// maximum while in L1): same memory traffic as TWO_PASS.
pub const SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED: u32 = 4;

/// Flag of `softmax_rows_f32_ex` (and `softmax_rows_f16_ex`, `softmax_rows_bf16_ex`): softmax
/// of a row whose entries are all `-inf` (a fully masked attention row) gives zeros instead of
/// NaN, so its gradient through `softmax_backward_rows_f32` is zero too. Every other row is
/// unaffected.
pub const SOFTMAX_FLAG_ZERO_MASKED_ROWS: u32 = 1;

// The C constants are the discriminants of the Rust enum.
const _: () = {
    assert!(Algorithm::Auto as u32 == SOFTMAX_ALGORITHM_AUTO);
    assert!(Algorithm::ThreePassRecompute as u32 == SOFTMAX_ALGORITHM_THREE_PASS_RECOMPUTE);
    assert!(Algorithm::ThreePassReload as u32 == SOFTMAX_ALGORITHM_THREE_PASS_RELOAD);
    assert!(Algorithm::TwoPass as u32 == SOFTMAX_ALGORITHM_TWO_PASS);
    assert!(Algorithm::TwoPassBlocked as u32 == SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED);
};

/// `Ok` or the status to return.
type Checked<T> = Result<T, softmax_status>;

/// Runs `f`, turning a panic into `on_panic`.
///
/// Inlined into every `extern "C"` function, with the one-row helpers below it: a short row's
/// call then spends fewer instructions before its kernel (`softmax_f32`: 141 -> 96 per call,
/// counted with callgrind on AVX2), which lets back-to-back calls overlap more.
#[inline(always)]
fn guard<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// Runs a status-returning body, turning a panic into `SOFTMAX_STATUS_INTERNAL_ERROR`.
#[inline(always)]
fn guard_status(f: impl FnOnce() -> Checked<()>) -> softmax_status {
    guard(SOFTMAX_STATUS_INTERNAL_ERROR, || match f() {
        Ok(()) => SOFTMAX_STATUS_OK,
        Err(status) => status,
    })
}

/// A kernel's own refusal after this module validated the arguments: a bug (the same
/// status as a caught panic).
fn validated<T>(r: Result<T, crate::Error>) -> Checked<T> {
    r.map_err(|_| SOFTMAX_STATUS_INTERNAL_ERROR)
}
