//! softmax: hand-vectorised softmax, log-softmax and log-sum-exp over float rows.
//!
//! This is the C ABI of the Rust crate `softmax`. The C header `include/softmax.h` is
//! generated from `src/ffi.rs` by `build.rs` with cbindgen; regenerate it with
//! `SOFTMAX_WRITE_HEADER=1 cargo build`.
//!
//! LINKING: build the library with `cargo build --release` and link
//! `target/release/libsoftmax.a -lpthread -ldl -lm` (or `-lsoftmax` against the shared
//! `libsoftmax.so`). The header is valid C99 and C++ (its declarations are `extern "C"`).
//!
//! STATUS: every function that can fail returns a `softmax_status`. It validates all of its
//! arguments before it reads or writes any array, so on `SOFTMAX_STATUS_NULL_POINTER`,
//! `SOFTMAX_STATUS_INVALID_ARGUMENT` or `SOFTMAX_STATUS_UNSUPPORTED_ISA` nothing was written.
//! A Rust panic never crosses into C: it would be reported as `SOFTMAX_STATUS_INTERNAL_ERROR`
//! (the library is built with `panic = "unwind"`). Every function is thread-safe.
//!
//! ARGUMENT RULES (shared by all functions; checked in this order):
//!  1. An `algorithm` outside the `SOFTMAX_ALGORITHM_*` constants is
//!     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!  2. Batches (`*_rows_f32`): when `rows > 0`, a stride (in elements) smaller than `cols`, or
//!     a batch extent `(rows - 1) * stride + cols` that overflows `size_t`, is
//!     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!  3. A call that touches no element (`n == 0`; `rows == 0` or `cols == 0`) returns
//!     `SOFTMAX_STATUS_OK` without looking at the array pointers (they may be NULL) and writes
//!     nothing; `logsumexp_f32` still needs a valid `result` and stores `-inf` there.
//!  4. A NULL array pointer (when elements are touched) or a NULL `result` is
//!     `SOFTMAX_STATUS_NULL_POINTER`.
//!  5. A pointer not aligned to 4 bytes (`_Alignof(float)`) is
//!     `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!  6. An array whose size in bytes exceeds `PTRDIFF_MAX`, or whose address range wraps around
//!     the address space, is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!  7. The output may be the input (`y == x`, and for batches also `y_stride == x_stride`):
//!     the call then works in place. Any other overlap of the address ranges
//!     `[x, x + extent)` and `[y, y + extent)` is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
//!
//! Beyond these checks the caller must pass arrays that are really readable (`x`) and writable
//! (`y`) for the given number of elements, and must not modify them from another thread during
//! the call.
//!
//! ISA SELECTION: on first use the library picks the best instruction set the CPU supports:
//! AVX-512 > AVX2+FMA > scalar on x86_64, NEON on aarch64, the portable scalar kernels
//! elsewhere. The environment variable `SOFTMAX_ISA` (`scalar`, `avx2`, `avx512` or `neon`),
//! read once at first use, forces another supported one (an unknown or unsupported name is
//! ignored with a notice on stderr). `softmax_set_isa` changes the choice at any time, for all
//! threads. All ISAs give the same results to within a few ULP and identical special values.
//!
//! SPECIAL VALUES (per row, identical on every ISA):
//!  - Empty row: softmax and log-softmax write nothing; log-sum-exp is `-inf`.
//!  - A NaN anywhere in a row: every output of the row is NaN (log-sum-exp NaN).
//!  - `+inf` entries (and no NaN): the `k` entries equal to `+inf` get `1/k` each, all others
//!    0; log-softmax gives `-ln k` and `-inf`; log-sum-exp is `+inf`.
//!  - A row of only `-inf`: softmax and log-softmax give NaN (there is no limit); log-sum-exp
//!    gives `-inf`.
//!  - Entries far below the row maximum (where `exp(x - max)` is below about `2^-126`) get
//!    exactly 0 from softmax, never a denormal residue; log-softmax stays exact.
//!  - Finite inputs of any magnitude work (no overflow for large values).
//!
//! ACCURACY: softmax within a few ULP (relative error <= 1e-6 for outputs above 1e-30);
//! log-sum-exp within 2e-7 relative; log-softmax within 1e-6 of `max(1, |exact|)`.

use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::io::InOut;
use crate::{batch_extent, Algorithm, Isa, Softmax};

/// The outcome of a call: one of the `SOFTMAX_STATUS_*` constants.
///
/// A plain integer rather than an enum, so that any value can be passed around (and to
/// `softmax_status_string`) safely.
#[allow(non_camel_case_types)]
pub type softmax_status = u32;

/// Success: the outputs were written.
pub const SOFTMAX_STATUS_OK: softmax_status = 0;
/// A required pointer (an array that is touched, or `result`) was NULL. Nothing was written.
pub const SOFTMAX_STATUS_NULL_POINTER: softmax_status = 1;
/// An argument was out of its domain: unknown algorithm or ISA value, stride smaller than
/// `cols`, an extent or size that overflows, a pointer not aligned to 4 bytes, or an output
/// that partly overlaps its input. Nothing was written.
pub const SOFTMAX_STATUS_INVALID_ARGUMENT: softmax_status = 2;
/// `softmax_set_isa`: the ISA is valid but this CPU (or this build) cannot run it; the
/// current choice is unchanged.
pub const SOFTMAX_STATUS_UNSUPPORTED_ISA: softmax_status = 3;
/// A bug inside the library was caught (a Rust panic); no panic ever crosses into C. The
/// outputs may be partly written.
pub const SOFTMAX_STATUS_INTERNAL_ERROR: softmax_status = 4;

/// Algorithm: three-pass reload for rows that fit the per-core L2 cache, blocked two-pass
/// beyond (the recommended default).
pub const SOFTMAX_ALGORITHM_AUTO: u32 = 0;
/// Algorithm: max; sum of exponentials; exponentials again, normalised on the fly
/// (3 reads + 1 write of memory, 2 exponentials per element).
pub const SOFTMAX_ALGORITHM_THREE_PASS_RECOMPUTE: u32 = 1;
/// Algorithm: max; exponentials stored and summed; scale the stored values
/// (3 reads + 2 writes, 1 exponential per element: the fastest in cache).
pub const SOFTMAX_ALGORITHM_THREE_PASS_RELOAD: u32 = 2;
/// Algorithm: the two-pass softmax of Dukhan & Ablavatski (2020): pass 1 keeps the sum as a
/// (mantissa, exponent) pair, so no maximum is needed; pass 2 writes the normalised
/// exponentials (2 reads + 1 write, 2 exponentials per element).
pub const SOFTMAX_ALGORITHM_TWO_PASS: u32 = 3;
/// Algorithm: two passes with a per-block exponent (blocks of 2048 elements scanned for their
/// maximum while in L1): same memory traffic as TWO_PASS with cheaper arithmetic, the fastest
/// out of cache.
pub const SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED: u32 = 4;

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

/// Checks a pointer to `n > 0` floats: non-null, aligned, at most `isize::MAX` bytes, no
/// wrap-around. Returns its byte range `[start, end)`.
fn span(p: *const f32, n: usize) -> Checked<(usize, usize)> {
    if p.is_null() {
        return Err(SOFTMAX_STATUS_NULL_POINTER);
    }
    if !p.is_aligned() {
        return Err(SOFTMAX_STATUS_INVALID_ARGUMENT);
    }
    let bytes = n
        .checked_mul(std::mem::size_of::<f32>())
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
    // NULL pointers are reported before any other pointer problem.
    if x.is_null() || y.is_null() {
        return Err(SOFTMAX_STATUS_NULL_POINTER);
    }
    let xs = span(x, x_ext)?;
    let ys = span(y, y_ext)?;
    let in_place = std::ptr::eq(x, y) && same_layout;
    if !in_place && overlaps(xs, ys) {
        return Err(SOFTMAX_STATUS_INVALID_ARGUMENT);
    }
    Ok(())
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
    mut op: impl FnMut(InOut<'_>),
) {
    for r in 0..rows {
        // SAFETY: row `r` lies inside both extents (`r * stride + cols <= extent`, checked by
        // `batch_extent`), which are non-null, aligned and at most isize::MAX bytes
        // (`check_pair`) and readable/writable (the caller); the output row either is the
        // input row (in place: same base and stride) or lies in an extent disjoint from the
        // input's. Only the row itself is ever accessed, never the gaps between rows.
        let io = unsafe { InOut::from_raw(x.add(r * x_stride), y.add(r * y_stride), cols) };
        op(io);
    }
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
pub unsafe extern "C" fn log_softmax_f32(x: *const f32, y: *mut f32, n: usize) -> softmax_status {
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
pub unsafe extern "C" fn logsumexp_f32(
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
    guard_status(|| {
        let alg = algorithm_arg(algorithm)?;
        let sm = Softmax::new();
        // SAFETY: forwarded caller contract.
        unsafe {
            rows_impl(x, x_stride, y, y_stride, rows, cols, |io| {
                sm.run_softmax(io, alg)
            })
        }
    })
}

/// Log-softmax of a batch of `rows` rows of `cols` floats (layout, in-place and overlap rules
/// as in `softmax_rows_f32`). Each row follows the special-value rules of `log_softmax_f32`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
/// misaligned pointer, overlap).
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
pub unsafe extern "C" fn log_softmax_rows_f32(
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
            rows_impl(x, x_stride, y, y_stride, rows, cols, |io| {
                sm.run_log_softmax(io)
            })
        }
    })
}

/// Validates a batch and runs it row by row.
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
    op: impl FnMut(InOut<'_>),
) -> Checked<()> {
    let x_ext = batch_extent(rows, cols, x_stride).map_err(|_| SOFTMAX_STATUS_INVALID_ARGUMENT)?;
    let y_ext = batch_extent(rows, cols, y_stride).map_err(|_| SOFTMAX_STATUS_INVALID_ARGUMENT)?;
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    check_pair(x, x_ext, y, y_ext, x_stride == y_stride)?;
    // SAFETY: validated above; the caller guarantees the memory of the rows.
    unsafe { for_each_row(x, x_stride, y, y_stride, rows, cols, op) };
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
