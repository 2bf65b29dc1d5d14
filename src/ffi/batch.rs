//! Batched operations with one result per row (generic over the element type of the rows: the
//! 16-bit twins of `half_forward` call the same function).

use std::slice;

use super::check::{disjoint, extent, non_null, span};
use super::{guard_status, softmax_status, SOFTMAX_STATUS_INVALID_ARGUMENT};
use crate::{Element, Softmax};

/// Log-sum-exp of each row of a batch: `out[r] = ln(sum_i exp(x[r * x_stride + i]))` for
/// `rows` rows of `cols` floats (`x_stride >= cols`, in elements). Each row gives exactly the
/// value `softmax_logsumexp_f32` gives for it, with the same special values (`-inf` for
/// `cols == 0` and for a row of only `-inf`, NaN for a row holding a NaN, `+inf` for a row
/// holding `+inf`) and accuracy; short rows are computed several at a time.
///
/// `out` receives `rows` floats and must not overlap the batch
/// `[x, x + (rows - 1) * x_stride + cols)`. Pointers may be NULL when `rows == 0`; `x` may be
/// NULL when `cols == 0` (every result is then `-inf`).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
/// misaligned pointer, overlap).
///
/// # Safety
/// `x` must be readable for the rows described and `out` writable for `rows` floats.
#[no_mangle]
pub unsafe extern "C" fn softmax_logsumexp_rows_f32(
    x: *const f32,
    x_stride: usize,
    out: *mut f32,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe { logsumexp_rows(x, x_stride, out, rows, cols) }
}

/// `softmax_logsumexp_rows_*`: a batch of `T`.
///
/// # Safety
/// The caller contract of `softmax_logsumexp_rows_f32`, in values of `T`.
pub(super) unsafe fn logsumexp_rows<T: Element>(
    x: *const T,
    x_stride: usize,
    out: *mut f32,
    rows: usize,
    cols: usize,
) -> softmax_status {
    guard_status(|| {
        let x_ext = extent(rows, cols, x_stride)?;
        if rows == 0 {
            return Ok(());
        }
        non_null(&[out.cast()])?;
        let out_span = span(out, rows)?;
        if cols == 0 {
            // SAFETY: `out` is non-null, aligned, within isize::MAX bytes and writable for
            // `rows` floats by the caller's contract.
            let out = unsafe { slice::from_raw_parts_mut(out, rows) };
            out.fill(f32::NEG_INFINITY);
            return Ok(());
        }
        non_null(&[x.cast()])?;
        disjoint(span(x, x_ext)?, out_span)?;
        // SAFETY: `x` is non-null, aligned, its extent within isize::MAX bytes (`span`) and
        // readable by the caller's contract; `out` likewise for `rows` writable floats, and
        // disjoint from `x`'s extent, so the two slices do not alias.
        let (xs, out) = unsafe {
            (
                slice::from_raw_parts(x, x_ext),
                slice::from_raw_parts_mut(out, rows),
            )
        };
        let sm = Softmax::new();
        if rows == 1 {
            // The one-row call's path: fewer instructions before the kernel (see
            // `rows_or_row` in forward.rs); the same value, since a batch gives row by row
            // what one-row calls give. One row's extent is the row (`cols` values).
            debug_assert_eq!(xs.len(), cols);
            out[0] = sm.logsumexp(xs);
            return Ok(());
        }
        sm.logsumexp_rows(xs, x_stride, rows, cols, out)
            .map_err(|_| SOFTMAX_STATUS_INVALID_ARGUMENT)
    })
}
