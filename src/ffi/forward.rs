//! The C ABI of the forward operations: softmax (with a choice of algorithm, masked-row
//! flags and a fused input scale), log-softmax and log-sum-exp, of one row or of a batch of
//! strided rows. Argument rules as in the module docs of `mod.rs`, checked by `check`.
//!
//! Each entry point is a generic function over the element type of its rows (`f32` here; the
//! 16-bit twins of `half_forward` call the same functions), so that every element type has
//! the same checks, statuses and special values.

use std::slice;

use super::check::{
    algorithm_arg, flags_arg, logsumexp_args, one_row_pair, row_pair, rows_pair, scale_arg,
};
use super::element::{map_row_direct, CElement};
use super::{
    guard_status, softmax_status, Checked, SOFTMAX_ALGORITHM_AUTO, SOFTMAX_FLAG_ZERO_MASKED_ROWS,
};
use crate::rows::{InOut, Rows};
use crate::staged::Direct;
use crate::{Element, Softmax};

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
    // SAFETY: forwarded caller contract.
    unsafe { softmax_ex(x, y, n, algorithm) }
}

/// `softmax_*_ex`: one row of `T`.
///
/// # Safety
/// The caller contract of `softmax_f32_ex`, in values of `T`.
pub(super) unsafe fn softmax_ex<T: Element>(
    x: *const T,
    y: *mut T,
    n: usize,
    algorithm: u32,
) -> softmax_status {
    guard_status(|| {
        let alg = algorithm_arg(algorithm)?;
        let sm = Softmax::new();
        if !row_pair(x, y, n)? {
            return Ok(());
        }
        let direct = Direct::Softmax(alg);
        // SAFETY: validated above; the caller guarantees the memory of the row.
        unsafe { map_row_direct(&sm, x, y, n, direct, |io| sm.run_softmax(io, alg)) };
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
    // SAFETY: forwarded caller contract.
    unsafe { log_softmax(x, y, n) }
}

/// `softmax_log_softmax_*`: one row of `T`.
///
/// # Safety
/// The caller contract of `softmax_log_softmax_f32`, in values of `T`.
pub(super) unsafe fn log_softmax<T: Element>(x: *const T, y: *mut T, n: usize) -> softmax_status {
    guard_status(|| {
        let sm = Softmax::new();
        if !row_pair(x, y, n)? {
            return Ok(());
        }
        let direct = Direct::LogSoftmax;
        // SAFETY: validated above; the caller guarantees the memory of the row.
        unsafe { map_row_direct(&sm, x, y, n, direct, |io| sm.run_log_softmax(io)) };
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
    // SAFETY: forwarded caller contract.
    unsafe { logsumexp(x, n, result) }
}

/// `softmax_logsumexp_*`: one row of `T`.
///
/// # Safety
/// The caller contract of `softmax_logsumexp_f32`, in values of `T`.
pub(super) unsafe fn logsumexp<T: Element>(
    x: *const T,
    n: usize,
    result: *mut f32,
) -> softmax_status {
    guard_status(|| {
        logsumexp_args(x, n, result)?;
        let value = if n == 0 {
            Softmax::new().logsumexp::<T>(&[])
        } else {
            // SAFETY: `x` is non-null, aligned, at most isize::MAX bytes (`logsumexp_args`)
            // and (by the caller's contract) readable for `n` values; the slice is dropped
            // before `result` is written, so `result` may point into it.
            let xs = unsafe { slice::from_raw_parts(x, n) };
            Softmax::new().logsumexp(xs)
        };
        // SAFETY: `result` is non-null and aligned (`logsumexp_args`) and writable by the
        // caller's contract.
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
    // SAFETY: forwarded caller contract.
    unsafe { softmax_rows_ex(x, x_stride, y, y_stride, rows, cols, algorithm, flags) }
}

/// `softmax_rows_*_ex`: a batch of `T`.
///
/// # Safety
/// The caller contract of `softmax_rows_f32_ex`, in values of `T`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn softmax_rows_ex<T: CElement>(
    x: *const T,
    x_stride: usize,
    y: *mut T,
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
            rows_or_row(
                &sm,
                (x, x_stride),
                (y, y_stride),
                rows,
                cols,
                Direct::Softmax(alg),
                |batch| sm.run_softmax_rows(batch, alg),
                |io| sm.run_softmax(io, alg),
            )
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
    // SAFETY: forwarded caller contract.
    unsafe { log_softmax_rows(x, x_stride, y, y_stride, rows, cols) }
}

/// `softmax_log_softmax_rows_*`: a batch of `T`.
///
/// # Safety
/// The caller contract of `softmax_log_softmax_rows_f32`, in values of `T`.
pub(super) unsafe fn log_softmax_rows<T: CElement>(
    x: *const T,
    x_stride: usize,
    y: *mut T,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    guard_status(|| {
        let sm = Softmax::new();
        // SAFETY: forwarded caller contract.
        unsafe {
            rows_or_row(
                &sm,
                (x, x_stride),
                (y, y_stride),
                rows,
                cols,
                Direct::LogSoftmax,
                |batch| sm.run_log_softmax_rows(batch),
                |io| sm.run_log_softmax(io),
            )
        }
    })
}

/// Validates a batch and runs `op` on it (through `sm`'s staged batch path for 16-bit rows).
///
/// # Safety
/// The caller contract of `softmax_rows_f32`, in values of `T`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn rows_impl<T: CElement>(
    sm: &Softmax,
    x: *const T,
    x_stride: usize,
    y: *mut T,
    y_stride: usize,
    rows: usize,
    cols: usize,
    direct: Direct,
    op: impl Fn(Rows<'_>) + Sync,
) -> Checked<()> {
    if !rows_pair(x, x_stride, y, y_stride, rows, cols)? {
        return Ok(());
    }
    // SAFETY: the batch passed `rows_pair` with rows and columns, and the caller guarantees
    // its rows.
    unsafe { T::run_rows(sm, (x, x_stride), (y, y_stride), rows, cols, direct, op) };
    Ok(())
}

/// [`rows_impl`] for an operation whose batch gives, row by row, what its one-row call gives
/// (`rows_op` on a batch, `row_op` on one row): a batch of one row is validated as a batch and
/// then takes the one-row call's path.
///
/// That path has fewer instructions between the caller and the kernel, which matters for
/// short rows called back to back: the next call's loads can start while the last one's
/// dependent chain (maximum, exponentials, sum, reciprocal) runs out. Zen 4, AVX-512, one row
/// of 64 floats, a C loop of calls, ns per call: `softmax_rows_f32` 55 with the batch path, 34
/// with this one (`softmax_f32`: 31); `softmax_log_softmax_rows_f32` 65 -> 40. Inlined: as a
/// function of its own, the extra prologue and argument moves left it at 53.
///
/// # Safety
/// The caller contract of `softmax_rows_f32`, in values of `T`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn rows_or_row<T: CElement>(
    sm: &Softmax,
    (x, x_stride): (*const T, usize),
    (y, y_stride): (*mut T, usize),
    rows: usize,
    cols: usize,
    direct: Direct,
    rows_op: impl Fn(Rows<'_>) + Sync,
    row_op: impl FnOnce(InOut<'_>),
) -> Checked<()> {
    if rows != 1 {
        // SAFETY: forwarded caller contract.
        return unsafe { rows_impl(sm, x, x_stride, y, y_stride, rows, cols, direct, rows_op) };
    }
    if !one_row_pair(x, x_stride, y, y_stride, cols)? {
        return Ok(());
    }
    // SAFETY: the one row passed `one_row_pair` (non-null, aligned, at most isize::MAX bytes, in
    // place or disjoint) and the caller guarantees its `cols` values.
    unsafe { map_row_direct(sm, x, y, cols, direct, row_op) };
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
    // SAFETY: forwarded caller contract.
    unsafe { softmax_scaled_rows(x, x_stride, y, y_stride, rows, cols, scale, algorithm) }
}

/// `softmax_scaled_rows_*` (and, with one row, `softmax_scaled_*`): a batch of `T`.
///
/// # Safety
/// The caller contract of `softmax_scaled_rows_f32`, in values of `T`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn softmax_scaled_rows<T: CElement>(
    x: *const T,
    x_stride: usize,
    y: *mut T,
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
            rows_impl(
                &sm,
                x,
                x_stride,
                y,
                y_stride,
                rows,
                cols,
                Direct::Scaled(alg, scale),
                |batch| {
                    // The scale passed `scale_arg`, which is the kernel's own condition.
                    sm.run_softmax_scaled_rows(batch, alg, scale)
                },
            )
        }
    })
}
