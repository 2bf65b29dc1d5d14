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
//!  2. Batches (`*_rows_f32`): when `rows > 0`, a stride (in elements) smaller than `cols`, or
//!     a batch extent `(rows - 1) * stride + cols` that overflows `size_t`, is
//!     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!  3. A call that touches no element (`n == 0`; `rows == 0` or `cols == 0`) and passed
//!     rule 1 returns `SOFTMAX_STATUS_OK` without looking at the array pointers (they may be
//!     NULL) and writes nothing; `softmax_logsumexp_f32` still needs a valid `result` and stores
//!     `-inf` there. (Cross-entropy needs a class: `n == 0` or `cols == 0` fails rule 1.)
//!  4. A NULL array pointer (when elements are touched), a NULL `result` or a NULL `loss` is
//!     `SOFTMAX_STATUS_NULL_POINTER` (optional outputs such as `dlogits` may be NULL).
//!  5. A pointer not aligned to its type (4 bytes, `_Alignof(float)`; 8 bytes for the
//!     `int64_t` targets) is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!  6. An array whose size in bytes exceeds `PTRDIFF_MAX`, or whose address range wraps around
//!     the address space, is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!  7. An output may be exactly one of the float inputs, with the same layout (for batches
//!     also the same stride): the call then works in place. That is `y == x` for the forward
//!     operations, `dx == y` or `dx == dy` for the backward passes, and `dlogits == logits`
//!     for cross-entropy. Any other overlap of the address ranges `[p, p + extent)` of an
//!     output and an input, or of two outputs, is `SOFTMAX_STATUS_INVALID_ARGUMENT` (inputs
//!     may overlap each other freely). `loss` is written last: it may point into `logits`,
//!     not into `dlogits`.
//!  8. `softmax_cross_entropy_rows_f32` then reads all targets: one that is neither `ignore_index` nor
//!     in `[0, cols)` is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!
//! Beyond these checks the caller must pass arrays that are really readable (inputs) and
//! writable (outputs) for the given number of elements, and must not modify them from another
//! thread during the call.
//!
//! ISA SELECTION: on first use the library picks the best instruction set the CPU supports:
//! AVX-512 > AVX2+FMA > scalar on x86_64, NEON on aarch64, the portable scalar kernels
//! elsewhere. The environment variable `SOFTMAX_ISA` (`scalar`, `avx2`, `avx512` or `neon`),
//! read once at first use, forces another supported one (an unknown or unsupported name is
//! ignored with a notice on stderr). `softmax_set_isa` changes the choice at any time, for all
//! threads. All ISAs give identical special values and results within the bounds of ACCURACY.
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
//!  - log-softmax: `|y - exact| <= 2.5e-7 * max(1, |exact|)`; outputs are `<= 0`.
//!  - log-sum-exp: `|result - exact| <= 2e-7 * max(1, |exact|)` (a relative bound above 1, an
//!    absolute one below: near 0 the result is a difference of terms of order one).
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

mod batch;
pub use batch::softmax_logsumexp_rows_f32;

use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::io::{Grad, InOut, Rows};
use crate::parallel::{for_row_chunks, Shared};
use crate::{batch_extent, Algorithm, Isa, Softmax};

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

/// Flag of `softmax_rows_f32_ex`: softmax of a row whose entries are all `-inf` (a fully
/// masked attention row) gives zeros instead of NaN, so its gradient through
/// `softmax_backward_rows_f32` is zero too. Every other row is unaffected.
pub const SOFTMAX_FLAG_ZERO_MASKED_ROWS: u32 = 1;

/// ISA: the portable kernels (no SIMD intrinsics); always supported.
pub const SOFTMAX_ISA_SCALAR: u32 = 0;
/// ISA: x86_64 with AVX2 and FMA (8 lanes).
pub const SOFTMAX_ISA_AVX2: u32 = 1;
/// ISA: x86_64 with AVX-512F (16 lanes).
pub const SOFTMAX_ISA_AVX512: u32 = 2;
/// ISA: aarch64 Advanced SIMD (4 lanes).
pub const SOFTMAX_ISA_NEON: u32 = 3;

// The C constants are the discriminants of the Rust enums.
const _: () = {
    assert!(Algorithm::Auto as u32 == SOFTMAX_ALGORITHM_AUTO);
    assert!(Algorithm::ThreePassRecompute as u32 == SOFTMAX_ALGORITHM_THREE_PASS_RECOMPUTE);
    assert!(Algorithm::ThreePassReload as u32 == SOFTMAX_ALGORITHM_THREE_PASS_RELOAD);
    assert!(Algorithm::TwoPass as u32 == SOFTMAX_ALGORITHM_TWO_PASS);
    assert!(Algorithm::TwoPassBlocked as u32 == SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED);
    assert!(Isa::Scalar as u32 == SOFTMAX_ISA_SCALAR);
    assert!(Isa::Avx2 as u32 == SOFTMAX_ISA_AVX2);
    assert!(Isa::Avx512 as u32 == SOFTMAX_ISA_AVX512);
    assert!(Isa::Neon as u32 == SOFTMAX_ISA_NEON);
};

/// `Ok` or the status to return.
type Checked<T> = Result<T, softmax_status>;

/// Runs `f`, turning a panic into `on_panic`.
fn guard<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// Runs a status-returning body, turning a panic into `SOFTMAX_STATUS_INTERNAL_ERROR`.
fn guard_status(f: impl FnOnce() -> Checked<()>) -> softmax_status {
    guard(SOFTMAX_STATUS_INTERNAL_ERROR, || match f() {
        Ok(()) => SOFTMAX_STATUS_OK,
        Err(status) => status,
    })
}

fn algorithm_arg(algorithm: u32) -> Checked<Algorithm> {
    Algorithm::from_u32(algorithm).ok_or(SOFTMAX_STATUS_INVALID_ARGUMENT)
}

/// `SOFTMAX_STATUS_INVALID_ARGUMENT` unless `ok`.
fn require(ok: bool) -> Checked<()> {
    if ok {
        Ok(())
    } else {
        Err(SOFTMAX_STATUS_INVALID_ARGUMENT)
    }
}

fn scale_arg(scale: f32) -> Checked<()> {
    require(scale.is_finite())
}

fn smoothing_arg(label_smoothing: f32) -> Checked<()> {
    // NaN fails the range test.
    require((0.0..=1.0).contains(&label_smoothing))
}

fn flags_arg(flags: u32) -> Checked<()> {
    require(flags & !SOFTMAX_FLAG_ZERO_MASKED_ROWS == 0)
}

/// The number of elements a batch spans (`batch_extent`, as a status).
fn extent(rows: usize, cols: usize, stride: usize) -> Checked<usize> {
    batch_extent(rows, cols, stride).map_err(|_| SOFTMAX_STATUS_INVALID_ARGUMENT)
}

/// `SOFTMAX_STATUS_NULL_POINTER` when any of `ptrs` is NULL (reported before any other
/// pointer problem).
fn non_null(ptrs: &[*const ()]) -> Checked<()> {
    if ptrs.iter().any(|p| p.is_null()) {
        Err(SOFTMAX_STATUS_NULL_POINTER)
    } else {
        Ok(())
    }
}

/// Checks a pointer to `n > 0` values of `T`: non-null, aligned, at most `isize::MAX` bytes,
/// no wrap-around. Returns its byte range `[start, end)`.
fn span<T>(p: *const T, n: usize) -> Checked<(usize, usize)> {
    if p.is_null() {
        return Err(SOFTMAX_STATUS_NULL_POINTER);
    }
    if !p.is_aligned() {
        return Err(SOFTMAX_STATUS_INVALID_ARGUMENT);
    }
    let bytes = n
        .checked_mul(std::mem::size_of::<T>())
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or(SOFTMAX_STATUS_INVALID_ARGUMENT)?;
    let start = p as usize;
    let end = start
        .checked_add(bytes)
        .ok_or(SOFTMAX_STATUS_INVALID_ARGUMENT)?;
    Ok((start, end))
}

/// True when two non-empty byte ranges share a byte.
fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// An output byte range that is either exactly an input (same start and, by `same_layout`,
/// the same layout: the call works in place) or disjoint from it.
fn in_place_or_disjoint(
    out: (usize, usize),
    inp: (usize, usize),
    same_layout: bool,
) -> Checked<()> {
    require((out.0 == inp.0 && same_layout) || !overlaps(out, inp))
}

/// Two byte ranges that must not share a byte.
fn disjoint(a: (usize, usize), b: (usize, usize)) -> Checked<()> {
    require(!overlaps(a, b))
}

/// Validates an input/output pair of `x_ext`/`y_ext` (> 0) elements: non-null, aligned,
/// sizes within `isize::MAX` bytes, and `y` either in place (`y == x` with `same_layout`) or
/// disjoint from `x`.
fn check_pair(
    x: *const f32,
    x_ext: usize,
    y: *mut f32,
    y_ext: usize,
    same_layout: bool,
) -> Checked<()> {
    non_null(&[x.cast(), y.cast()])?;
    let xs = span(x, x_ext)?;
    let ys = span(y, y_ext)?;
    in_place_or_disjoint(ys, xs, same_layout)
}

/// Runs `op` on each row of a batch that [`check_pair`] accepted.
///
/// # Safety
/// The arguments must have passed `batch_extent` and `check_pair`, and the caller-side
/// contract of the module docs must hold (the arrays readable/writable for their extents).
#[allow(clippy::too_many_arguments)]
unsafe fn for_each_row(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
    op: impl Fn(InOut<'_>) + Sync,
) {
    let (x, y) = (Shared(x), Shared(y));
    for_row_chunks(None, rows, cols, |range| {
        for r in range {
            // SAFETY: row `r` lies inside both extents (`r * stride + cols <= extent`, checked
            // by `batch_extent`), which are non-null, aligned and at most isize::MAX bytes
            // (`check_pair`) and readable/writable (the caller); the output row either is the
            // input row (in place: same base and stride) or lies in an extent disjoint from
            // the input's. Only the row itself is ever accessed, never the gaps between rows,
            // and the chunks hand out each row once.
            let io = unsafe {
                InOut::from_raw(x.get().add(r * x_stride), y.get().add(r * y_stride), cols)
            };
            op(io);
        }
    });
}

/// Softmax of one row of `n` floats with `SOFTMAX_ALGORITHM_AUTO`:
/// `y[i] = exp(x[i]) / sum_j exp(x[j])`, computed without overflow for any finite input.
///
/// `y == x` computes in place; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
/// `x` and `y` may be NULL when `n == 0` (nothing is written). Special values: an empty row
/// writes nothing; a NaN makes the whole row NaN; the `k` entries equal to `+inf` get `1/k`
/// and all others 0; a row of only `-inf` gives NaN; entries far below the maximum get
/// exactly 0.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
/// partial overlap).
///
/// # Safety
/// `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_f32(x: *const f32, y: *mut f32, n: usize) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe { softmax_f32_ex(x, y, n, SOFTMAX_ALGORITHM_AUTO) }
}

/// Softmax of one row of `n` floats with the given `SOFTMAX_ALGORITHM_*` (all algorithms
/// give the same results to within a few ULP; they differ in speed).
///
/// As `softmax_f32`, plus: an unknown `algorithm` is `SOFTMAX_STATUS_INVALID_ARGUMENT`
/// (checked first, even when `n == 0`).
///
/// # Safety
/// `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_f32_ex(
    x: *const f32,
    y: *mut f32,
    n: usize,
    algorithm: u32,
) -> softmax_status {
    guard_status(|| {
        let alg = algorithm_arg(algorithm)?;
        let sm = Softmax::new();
        if n == 0 {
            return Ok(());
        }
        check_pair(x, n, y, n, true)?;
        // SAFETY: validated above; the caller guarantees the memory of the row.
        unsafe { for_each_row(x, n, y, n, 1, n, |io| sm.run_softmax(io, alg)) };
        Ok(())
    })
}

/// Log-softmax of one row of `n` floats: `y[i] = x[i] - logsumexp(x)`, exact for entries far
/// below the maximum (no `log(0)`).
///
/// `y == x` computes in place; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
/// `x` and `y` may be NULL when `n == 0`. Special values: an empty row writes nothing; a NaN
/// makes the whole row NaN; with `k` entries equal to `+inf` those give `-ln k` and all
/// others `-inf`; a row of only `-inf` gives NaN.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (as `softmax_f32`).
///
/// # Safety
/// `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_softmax_f32(
    x: *const f32,
    y: *mut f32,
    n: usize,
) -> softmax_status {
    guard_status(|| {
        let sm = Softmax::new();
        if n == 0 {
            return Ok(());
        }
        check_pair(x, n, y, n, true)?;
        // SAFETY: validated above; the caller guarantees the memory of the row.
        unsafe { for_each_row(x, n, y, n, 1, n, |io| sm.run_log_softmax(io)) };
        Ok(())
    })
}

/// Log-sum-exp of `n` floats, `ln(sum_i exp(x[i]))`, reading `x` once; stored in `*result`.
///
/// `x` may be NULL when `n == 0`; the result is then `-inf`. `result` is always required and
/// may point into `x`. Special values: NaN anywhere gives NaN; any `+inf` gives `+inf`; a row
/// of only `-inf` gives `-inf`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (`result` NULL, or `x` NULL with
/// `n > 0`) or `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above
/// `PTRDIFF_MAX`).
///
/// # Safety
/// `x` must be readable for `n` floats (unless `n == 0`) and `result` writable for one.
#[no_mangle]
pub unsafe extern "C" fn softmax_logsumexp_f32(
    x: *const f32,
    n: usize,
    result: *mut f32,
) -> softmax_status {
    guard_status(|| {
        if result.is_null() || (n > 0 && x.is_null()) {
            return Err(SOFTMAX_STATUS_NULL_POINTER);
        }
        span(result, 1)?;
        let value = if n == 0 {
            Softmax::new().logsumexp(&[])
        } else {
            span(x, n)?;
            // SAFETY: `x` is non-null, aligned, at most isize::MAX bytes and (by the caller's
            // contract) readable for `n` floats; the slice is dropped before `result` is
            // written, so `result` may point into it.
            let xs = unsafe { std::slice::from_raw_parts(x, n) };
            Softmax::new().logsumexp(xs)
        };
        // SAFETY: `result` is non-null, aligned and writable by the caller's contract.
        unsafe { result.write(value) };
        Ok(())
    })
}

/// Softmax of a batch of `rows` rows of `cols` floats: row `r` is read from
/// `x + r * x_stride` and written to `y + r * y_stride` (strides in elements, at least
/// `cols`), with the given `SOFTMAX_ALGORITHM_*`.
///
/// In place when `y == x` and `y_stride == x_stride`; otherwise the address ranges
/// `[x, x + (rows - 1) * x_stride + cols)` and `[y, y + (rows - 1) * y_stride + cols)` must not
/// overlap. Elements between rows are neither read nor written. Pointers may be NULL when
/// `rows == 0` or `cols == 0` (nothing is written). Each row follows the special-value rules
/// of `softmax_f32`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (unknown algorithm, stride < cols with `rows > 0`, extent
/// overflow, misaligned pointer, overlap).
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
pub unsafe extern "C" fn softmax_rows_f32(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
    algorithm: u32,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe { softmax_rows_f32_ex(x, x_stride, y, y_stride, rows, cols, algorithm, 0) }
}

/// `softmax_rows_f32` with `flags`, a combination (bitwise or) of `SOFTMAX_FLAG_*` values:
/// with `SOFTMAX_FLAG_ZERO_MASKED_ROWS`, a row of only `-inf` (a fully masked attention row)
/// gives zeros instead of NaN. `flags == 0` is exactly `softmax_rows_f32`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (unknown algorithm, a flag bit outside the
/// `SOFTMAX_FLAG_*` constants, stride < cols with `rows > 0`, extent overflow, misaligned
/// pointer, overlap). The algorithm and the flags are checked first, even when nothing is
/// touched.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_rows_f32_ex(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
    algorithm: u32,
    flags: u32,
) -> softmax_status {
    guard_status(|| {
        let alg = algorithm_arg(algorithm)?;
        flags_arg(flags)?;
        let sm = Softmax::new().zero_masked_rows(flags & SOFTMAX_FLAG_ZERO_MASKED_ROWS != 0);
        // SAFETY: forwarded caller contract.
        unsafe {
            rows_impl(x, x_stride, y, y_stride, rows, cols, |batch| {
                sm.run_softmax_rows(batch, alg)
            })
        }
    })
}

/// Log-softmax of a batch of `rows` rows of `cols` floats (layout, in-place and overlap rules
/// as in `softmax_rows_f32`). Each row follows the special-value rules of `softmax_log_softmax_f32`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
/// misaligned pointer, overlap).
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_softmax_rows_f32(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    guard_status(|| {
        let sm = Softmax::new();
        // SAFETY: forwarded caller contract.
        unsafe {
            rows_impl(x, x_stride, y, y_stride, rows, cols, |batch| {
                sm.run_log_softmax_rows(batch)
            })
        }
    })
}

/// Validates a batch and runs `op` on it.
///
/// # Safety
/// The caller contract of `softmax_rows_f32`.
#[allow(clippy::too_many_arguments)]
unsafe fn rows_impl(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
    op: impl FnOnce(Rows<'_>),
) -> Checked<()> {
    let x_ext = extent(rows, cols, x_stride)?;
    let y_ext = extent(rows, cols, y_stride)?;
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    check_pair(x, x_ext, y, y_ext, x_stride == y_stride)?;
    // SAFETY: every row lies inside both extents (`batch_extent`), which are non-null,
    // aligned, at most isize::MAX bytes and not partly overlapping (`check_pair`), and
    // readable/writable (the caller): in place means the same base and stride.
    op(unsafe { Rows::from_raw(x, x_stride, y, y_stride, rows, cols) });
    Ok(())
}

/// Softmax of `scale * x` for one row of `n` floats with `SOFTMAX_ALGORITHM_AUTO`:
/// `y[i] = exp(scale * x[i]) / sum_j exp(scale * x[j])`. The scale (a temperature `1 / T`, an
/// attention scale `1 / sqrt(d)`) is fused into the kernels' loads: no extra pass over memory.
///
/// A `scale` that is not finite is `SOFTMAX_STATUS_INVALID_ARGUMENT` (checked first, even
/// when `n == 0`). Otherwise as `softmax_f32` (in place when `y == x`, NULL allowed with
/// `n == 0`, any other overlap rejected), with its special-value rules applied to
/// `scale * x[i]` rounded to float: a negative scale turns `-inf` inputs into `+inf`, and a
/// product that overflows counts as an infinity. `scale == 0` gives `1 / n` everywhere (NaN
/// for a row that holds a NaN or an infinity, since `0 * inf` is NaN).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (non-finite scale, misaligned pointer, `n * 4` above
/// `PTRDIFF_MAX`, partial overlap).
///
/// # Safety
/// `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_scaled_f32(
    x: *const f32,
    y: *mut f32,
    n: usize,
    scale: f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (one row of `n` floats).
    unsafe { softmax_scaled_rows_f32(x, n, y, n, 1, n, scale, SOFTMAX_ALGORITHM_AUTO) }
}

/// Softmax of `scale * x` for a batch of `rows` rows of `cols` floats (layout, in-place and
/// overlap rules as in `softmax_rows_f32`), with the given `SOFTMAX_ALGORITHM_*`. Each row
/// follows the rules of `softmax_scaled_f32`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (unknown algorithm, non-finite scale, stride < cols with
/// `rows > 0`, extent overflow, misaligned pointer, overlap). The algorithm and the scale are
/// checked first, even when nothing is touched.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_scaled_rows_f32(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
    scale: f32,
    algorithm: u32,
) -> softmax_status {
    guard_status(|| {
        let alg = algorithm_arg(algorithm)?;
        scale_arg(scale)?;
        let sm = Softmax::new();
        // SAFETY: forwarded caller contract.
        unsafe {
            rows_impl(x, x_stride, y, y_stride, rows, cols, |batch| {
                // The scale passed `scale_arg`, which is the kernel's own condition.
                sm.run_softmax_scaled_rows(batch, alg, scale)
            })
        }
    })
}

/// Softmax backward pass of one row of `n` floats: `dx[i] = y[i] * (dy[i] - dot(dy, y))`,
/// where `y` is the softmax output of the forward pass and `dy` the gradient of the loss with
/// respect to `y` (the dot product is accumulated in double precision, in the same order on
/// every ISA; bounds under ACCURACY).
///
/// `dx` may be `dy` or `y` (in place); any other overlap of `dx` with `y` or `dy` is
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (`y` and `dy` may overlap each other). The pointers may
/// be NULL when `n == 0` (nothing is written). Special values follow IEEE arithmetic on the
/// formula: a NaN in `y` or `dy` makes the whole row NaN (through the dot product), infinite
/// `dy` give infinities or NaN as the formula does, and a zero row `y` (the output of a fully
/// masked row with `SOFTMAX_FLAG_ZERO_MASKED_ROWS`) gives a zero gradient for finite `dy`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
/// partial overlap).
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_backward_f32(
    y: *const f32,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (one row of `n` floats).
    guard_status(|| unsafe { backward_impl(y, n, dy, n, dx, n, 1, n, false) })
}

/// Log-softmax backward pass of one row of `n` floats: `dx[i] = dy[i] - exp(y[i]) * sum(dy)`,
/// where `y` is the log-softmax output of the forward pass and `dy` the gradient of the loss
/// with respect to `y` (the sum is accumulated in double precision, in the same order on every
/// ISA; bounds under ACCURACY).
///
/// `y` is a log-softmax output (`y <= 0`); `exp(y)` counts as infinite from about 88.4 on
/// and as 0 below about -87.3 (a `-inf` entry gives `dx = dy`). Aliasing and NULL rules as
/// in `softmax_backward_f32`. Special values follow IEEE arithmetic on the formula: a NaN in
/// `dy` makes the whole row NaN (through the sum), a NaN in `y` its own entry, and an
/// infinite `sum(dy)` or `exp(y)` gives the infinities and NaNs the formula gives (for
/// example `y = log_softmax([1, 2, 3])`, `dy = [1, inf, 2]` gives `[-inf, NaN, -inf]`).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
/// partial overlap).
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_softmax_backward_f32(
    y: *const f32,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (one row of `n` floats).
    guard_status(|| unsafe { backward_impl(y, n, dy, n, dx, n, 1, n, true) })
}

/// Softmax backward pass of a batch of `rows` rows of `cols` floats: row `r` of each array
/// starts at `r * stride` of that array (`y_stride`, `dy_stride`, `dx_stride`, in elements,
/// at least `cols`). Each row follows `softmax_backward_f32`.
///
/// `dx` may be `dy` or `y` with the same stride (in place); otherwise the extent of `dx`,
/// `[dx, dx + (rows - 1) * dx_stride + cols)`, must not overlap the extents of `y` and `dy`.
/// Elements between rows are neither read nor written. Pointers may be NULL when
/// `rows == 0` or `cols == 0` (nothing is written).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
/// misaligned pointer, overlap).
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
/// touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_backward_rows_f32(
    y: *const f32,
    y_stride: usize,
    dy: *const f32,
    dy_stride: usize,
    dx: *mut f32,
    dx_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    guard_status(|| unsafe {
        backward_impl(y, y_stride, dy, dy_stride, dx, dx_stride, rows, cols, false)
    })
}

/// Log-softmax backward pass of a batch (layout, in-place and overlap rules as in
/// `softmax_backward_rows_f32`). Each row follows `softmax_log_softmax_backward_f32`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
/// misaligned pointer, overlap).
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
/// touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_log_softmax_backward_rows_f32(
    y: *const f32,
    y_stride: usize,
    dy: *const f32,
    dy_stride: usize,
    dx: *mut f32,
    dx_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    guard_status(|| unsafe {
        backward_impl(y, y_stride, dy, dy_stride, dx, dx_stride, rows, cols, true)
    })
}

/// Validates a backward batch and runs it row by row (`log` picks log-softmax).
///
/// # Safety
/// The caller contract of `softmax_backward_rows_f32`.
#[allow(clippy::too_many_arguments)]
unsafe fn backward_impl(
    y: *const f32,
    y_stride: usize,
    dy: *const f32,
    dy_stride: usize,
    dx: *mut f32,
    dx_stride: usize,
    rows: usize,
    cols: usize,
    log: bool,
) -> Checked<()> {
    let y_ext = extent(rows, cols, y_stride)?;
    let dy_ext = extent(rows, cols, dy_stride)?;
    let dx_ext = extent(rows, cols, dx_stride)?;
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    non_null(&[y.cast(), dy.cast(), dx.cast()])?;
    let ys = span(y, y_ext)?;
    let dys = span(dy, dy_ext)?;
    let dxs = span(dx, dx_ext)?;
    in_place_or_disjoint(dxs, ys, dx_stride == y_stride)?;
    in_place_or_disjoint(dxs, dys, dx_stride == dy_stride)?;
    let sm = Softmax::new();
    let (y, dy, dx) = (Shared(y), Shared(dy), Shared(dx));
    for_row_chunks(None, rows, cols, |range| {
        for r in range {
            // SAFETY: row `r` lies inside the three extents (`batch_extent`), which are
            // non-null, aligned, at most isize::MAX bytes and readable/writable (the caller);
            // `dx`'s row is `y`'s or `dy`'s row (same base and stride) or lies in an extent
            // disjoint from theirs. Only the rows are accessed, never the gaps between them,
            // and the chunks hand out each row once.
            let g = unsafe {
                Grad::from_raw(
                    y.get().add(r * y_stride),
                    dy.get().add(r * dy_stride),
                    dx.get().add(r * dx_stride),
                    cols,
                )
            };
            sm.run_backward(g, log);
        }
    });
    Ok(())
}

/// A kernel's own refusal after this module validated the arguments: a bug (the same
/// status as a caught panic).
fn validated<T>(r: Result<T, crate::Error>) -> Checked<T> {
    r.map_err(|_| SOFTMAX_STATUS_INTERNAL_ERROR)
}

/// Cross-entropy loss of one row of `n` logits against class `target`:
/// `*loss = logsumexp(logits) - logits[target]`, fused in one pass (no softmax is
/// materialised; the sum of exponentials is accumulated in double precision). When `dlogits` is not
/// NULL it also receives the gradient with respect to the logits,
/// `dlogits[i] = softmax(logits)[i] - (i == target)`, in a second pass.
///
/// `n == 0` (no class) and `target >= n` are `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked first.
/// `loss` is required; `dlogits` is optional and may be `logits` itself (the gradient then
/// overwrites the logits; the loss is computed first); any other overlap of `dlogits` with
/// `logits`, or `loss` inside `dlogits`, is `SOFTMAX_STATUS_INVALID_ARGUMENT`. `loss` may
/// point into `logits`: it is written last.
///
/// Special values: a NaN logit gives a NaN loss (and a NaN gradient row); `k` logits at
/// `+inf` give `ln k` when the target is one of them and `+inf` otherwise, with the gradient
/// `1/k` at the `+inf` logits and 0 elsewhere, minus 1 at the target; a row of only `-inf`
/// gives NaN (loss and gradient); a finite target logit far below the others gives a large
/// finite loss, a target logit of `-inf` (others finite) `+inf`. Finite logits of any
/// magnitude work (no overflow).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (`logits` or `loss` NULL) or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (no class, target out of range, misaligned pointer,
/// `n * 4` above `PTRDIFF_MAX`, overlap).
///
/// # Safety
/// `logits` must be readable for `n` floats, `loss` writable for one, and `dlogits` (unless
/// NULL) writable for `n`.
#[no_mangle]
pub unsafe extern "C" fn softmax_cross_entropy_f32(
    logits: *const f32,
    n: usize,
    target: usize,
    loss: *mut f32,
    dlogits: *mut f32,
) -> softmax_status {
    guard_status(|| {
        require(n > 0 && target < n)?;
        non_null(&[logits.cast(), loss.cast()])?;
        let xs = span(logits, n)?;
        let ls = span(loss, 1)?;
        let sm = Softmax::new();
        let value = if dlogits.is_null() {
            // SAFETY: `logits` is non-null, aligned, at most isize::MAX bytes and readable for
            // `n` floats (the caller); the slice is dropped before `loss` is written.
            let x = unsafe { std::slice::from_raw_parts(logits, n) };
            validated(sm.run_cross_entropy(x, target, 0.0))?
        } else {
            let ds = span(dlogits, n)?;
            in_place_or_disjoint(ds, xs, true)?;
            disjoint(ls, ds)?;
            // SAFETY: both pointers are non-null, aligned, valid for `n` floats (checked
            // above and the caller's contract), and `dlogits` is `logits` or disjoint from
            // it; the kernel reads the target logit and finishes the loss before it writes.
            let io = unsafe { InOut::from_raw(logits, dlogits, n) };
            validated(sm.run_cross_entropy_grad(io, target, 0.0))?
        };
        // SAFETY: `loss` is non-null, aligned and writable (the caller), outside `dlogits`.
        unsafe { loss.write(value) };
        Ok(())
    })
}

/// Cross-entropy of a batch: row `r` of `cols` logits starts at `logits + r * logits_stride`
/// and its class is `targets[r]`; `losses[r]` receives its loss (one per row: the caller
/// reduces them, e.g. to a mean over the rows that are not ignored). When `dlogits` is not
/// NULL, row `r` of the gradient goes to `dlogits + r * dlogits_stride` (`dlogits_stride` is
/// ignored when `dlogits` is NULL).
///
/// A row whose target equals `ignore_index` (commonly -100) gets loss 0 and, with `dlogits`,
/// a zero gradient row; its logits are not read. With label smoothing `eps`
/// (`label_smoothing`, in `[0, 1]`) the target distribution is
/// `(1 - eps) * onehot(target) + eps / cols`: the loss is
/// `logsumexp(x) - (1 - eps) * x[target] - eps * mean(x)` and the gradient
/// `softmax(x) - (1 - eps) * onehot(target) - eps / cols`. `label_smoothing == 0` gives
/// `softmax_cross_entropy_f32` for each row.
///
/// Checks, before anything is read or written: `label_smoothing` outside `[0, 1]` or NaN and
/// `cols == 0` are `SOFTMAX_STATUS_INVALID_ARGUMENT`; strides as in `softmax_rows_f32`;
/// `rows == 0` returns `SOFTMAX_STATUS_OK` (pointers may be NULL); `logits`, `targets` and
/// `losses` must be non-NULL and aligned (8 bytes for `targets`); `dlogits` may be `logits`
/// with the same stride (in place) but must not overlap it otherwise, and the outputs
/// `losses` and `dlogits` must not overlap each other, `targets` or `logits` (`targets` is an
/// input and may overlap `logits`, as inputs may by rule 7). Then every target is read: one that
/// is neither `ignore_index` nor in `[0, cols)` is `SOFTMAX_STATUS_INVALID_ARGUMENT`, and
/// nothing is written. Each row follows the special-value rules of `softmax_cross_entropy_f32` (with
/// smoothing, `+inf` logits give NaN, and a `-inf` logit among finite ones `+inf`).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `logits` must be readable for the rows described, `targets` readable and `losses` writable
/// for `rows` values, and `dlogits` (unless NULL) writable for its rows (unless `rows == 0`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_cross_entropy_rows_f32(
    logits: *const f32,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    ignore_index: i64,
    label_smoothing: f32,
    losses: *mut f32,
    dlogits: *mut f32,
    dlogits_stride: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    guard_status(|| unsafe {
        cross_entropy_rows_impl(
            logits,
            logits_stride,
            rows,
            cols,
            targets,
            ignore_index,
            label_smoothing,
            losses,
            dlogits,
            dlogits_stride,
            |sm, x, t, eps| sm.run_cross_entropy(x, t, eps),
            |sm, io, t, eps| sm.run_cross_entropy_grad(io, t, eps),
        )
    })
}

/// A batch cross-entropy (`softmax_cross_entropy_rows_f32` and its StableMax twin): the
/// argument checks, the ignored rows, and `loss` / `loss_grad` of the one-row operation on
/// every other row, the rows split over threads.
///
/// # Safety
/// The caller contract of `softmax_cross_entropy_rows_f32`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn cross_entropy_rows_impl(
    logits: *const f32,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    ignore_index: i64,
    label_smoothing: f32,
    losses: *mut f32,
    dlogits: *mut f32,
    dlogits_stride: usize,
    loss: impl Fn(&Softmax, &[f32], usize, f32) -> Result<f32, crate::Error> + Sync,
    loss_grad: impl Fn(&Softmax, InOut<'_>, usize, f32) -> Result<f32, crate::Error> + Sync,
) -> Checked<()> {
    smoothing_arg(label_smoothing)?;
    require(cols > 0)?;
    let x_ext = extent(rows, cols, logits_stride)?;
    let d_ext = if dlogits.is_null() {
        0
    } else {
        extent(rows, cols, dlogits_stride)?
    };
    if rows == 0 {
        return Ok(());
    }
    non_null(&[logits.cast(), targets.cast(), losses.cast()])?;
    let xs = span(logits, x_ext)?;
    let ts = span(targets, rows)?;
    let ls = span(losses, rows)?;
    disjoint(ls, xs)?;
    disjoint(ls, ts)?;
    if !dlogits.is_null() {
        let ds = span(dlogits, d_ext)?;
        in_place_or_disjoint(ds, xs, dlogits_stride == logits_stride)?;
        disjoint(ds, ts)?;
        disjoint(ds, ls)?;
    }
    // SAFETY: `targets` is non-null, aligned, at most isize::MAX bytes and readable for
    // `rows` values (the caller), and no output overlaps it.
    let targets = unsafe { std::slice::from_raw_parts(targets, rows) };
    let class = |t: i64| usize::try_from(t).ok().filter(|&t| t < cols);
    for &t in targets {
        require(t == ignore_index || class(t).is_some())?;
    }
    let sm = Softmax::new();
    let (logits, dlogits, losses) = (Shared(logits), Shared(dlogits), Shared(losses));
    for_row_chunks(None, rows, cols, |range| {
        for r in range {
            let t = targets[r];
            // Row `r` lies inside the extents of `logits` and `dlogits` (`batch_extent`),
            // which are non-null, aligned, at most isize::MAX bytes and readable/writable
            // (the caller); `dlogits`' row is `logits`' row (same base and stride) or
            // disjoint from the logits, and `losses` is disjoint from both. Only the rows
            // are accessed, never the gaps between them, and the chunks hand out each row
            // once.
            let x = logits.get().wrapping_add(r * logits_stride);
            // `r * stride` cannot overflow for an array that is used: it is at most the
            // extent, checked above. `dlogits_stride` is not checked when `dlogits` is
            // NULL, so it is not used then.
            let has_d = !dlogits.get().is_null();
            let d = if has_d {
                dlogits.get().wrapping_add(r * dlogits_stride)
            } else {
                dlogits.get()
            };
            let value = match class(t) {
                _ if t == ignore_index => {
                    if has_d {
                        // SAFETY: `d` is row `r` of `dlogits` (see above); no other
                        // reference to that memory is alive.
                        unsafe { std::slice::from_raw_parts_mut(d, cols) }.fill(0.0);
                    }
                    0.0
                }
                Some(t) if !has_d => {
                    // SAFETY: `x` is row `r` of `logits` (see above); nothing writes it.
                    let x = unsafe { std::slice::from_raw_parts(x, cols) };
                    loss(&sm, x, t, label_smoothing).expect("targets and smoothing validated above")
                }
                Some(t) => {
                    // SAFETY: rows `r` of `logits` and `dlogits` (see above): valid for
                    // `cols` floats, the output either the input or disjoint from it.
                    let io = unsafe { InOut::from_raw(x, d, cols) };
                    loss_grad(&sm, io, t, label_smoothing)
                        .expect("targets and smoothing validated above")
                }
                None => unreachable!("targets validated above"),
            };
            // SAFETY: `r < rows`; `losses` is valid for `rows` writes and overlaps no
            // array; each row's loss is written once.
            unsafe { losses.get().add(r).write(value) };
        }
    });
    Ok(())
}

/// The ISA (`SOFTMAX_ISA_*`) that calls use now: the one chosen at first use (best available,
/// or `SOFTMAX_ISA`), or the last one set with `softmax_set_isa`.
#[no_mangle]
pub extern "C" fn softmax_get_isa() -> u32 {
    guard(SOFTMAX_ISA_SCALAR, || crate::current_isa() as u32)
}

/// 1 when `isa` (`SOFTMAX_ISA_*`) is compiled into this library and the running CPU executes
/// it, 0 otherwise (also for values that are no ISA). `SOFTMAX_ISA_SCALAR` is always
/// supported.
#[no_mangle]
pub extern "C" fn softmax_isa_supported(isa: u32) -> c_int {
    guard(0, || {
        Isa::from_u32(isa).is_some_and(Isa::is_supported) as c_int
    })
}

/// Makes every later call, from any thread, use `isa` (`SOFTMAX_ISA_*`). Thread-safe.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_INVALID_ARGUMENT` for a value that is no ISA,
/// or `SOFTMAX_STATUS_UNSUPPORTED_ISA` when this CPU or build cannot run it (the current
/// choice is then unchanged).
#[no_mangle]
pub extern "C" fn softmax_set_isa(isa: u32) -> softmax_status {
    guard_status(|| {
        let isa = Isa::from_u32(isa).ok_or(SOFTMAX_STATUS_INVALID_ARGUMENT)?;
        crate::set_isa(isa).map_err(|_| SOFTMAX_STATUS_UNSUPPORTED_ISA)
    })
}

/// The lower-case name of `isa` as accepted by `SOFTMAX_ISA`: "scalar", "avx2", "avx512",
/// "neon"; "unknown" for any other value. A static NUL-terminated string (never NULL, never
/// to be freed).
#[no_mangle]
pub extern "C" fn softmax_isa_name(isa: u32) -> *const c_char {
    let name: &'static CStr = match isa {
        SOFTMAX_ISA_SCALAR => c"scalar",
        SOFTMAX_ISA_AVX2 => c"avx2",
        SOFTMAX_ISA_AVX512 => c"avx512",
        SOFTMAX_ISA_NEON => c"neon",
        _ => c"unknown",
    };
    name.as_ptr()
}

/// A short English description of `status`, such as "ok" or "null pointer"; "unknown status"
/// for a value that is no `SOFTMAX_STATUS_*`. A static NUL-terminated string (never NULL,
/// never to be freed).
#[no_mangle]
pub extern "C" fn softmax_status_string(status: softmax_status) -> *const c_char {
    let text: &'static CStr = match status {
        SOFTMAX_STATUS_OK => c"ok",
        SOFTMAX_STATUS_NULL_POINTER => c"null pointer",
        SOFTMAX_STATUS_INVALID_ARGUMENT => c"invalid argument",
        SOFTMAX_STATUS_UNSUPPORTED_ISA => c"unsupported ISA",
        SOFTMAX_STATUS_INTERNAL_ERROR => c"internal error",
        _ => c"unknown status",
    };
    text.as_ptr()
}

/// The library version ("MAJOR.MINOR.PATCH" of the Rust crate). A static NUL-terminated
/// string (never NULL, never to be freed).
#[no_mangle]
pub extern "C" fn softmax_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the version contains a NUL byte"),
        };
    VERSION.as_ptr()
}
