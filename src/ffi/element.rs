//! How the rows of a C call reach the f32 operations, for each element type of the C ABI:
//! `float` rows directly, `softmax_f16_t` and `softmax_bf16_t` rows (`half::f16`, `half::bf16`)
//! widened into f32 buffers and rounded back by the crate's staged paths (`crate::staged`), as
//! the Rust API does, so that a C call gives the bits of the Rust call on the same rows.
//!
//! Everything here starts from raw pointers that `check` accepted: non-null, aligned, within
//! `isize::MAX` bytes, and each output either exactly its input (in place) or disjoint from it.
//! In place, only the output's `&mut` slice is ever made (the in-place staged paths), never a
//! `&[T]` and a `&mut [T]` over the same memory; batches are reached row by row, never through
//! a slice over the gaps between rows. This module exports nothing to C.

use std::ptr;
use std::slice;

use crate::element::Data;
use crate::kernels::convert::Half;
use crate::parallel::{for_row_chunks, Shared};
use crate::rows::{Grad, InOut, Rows};
use crate::staged::{with_buffers, Direct, GradDirect};
use crate::{bf16, f16, Element, Softmax};

/// An element type of the C ABI's rows (`f32`, `f16`, `bf16`): the batch drivers, which
/// differ between f32 rows (viewed in place) and 16-bit rows (staged a group at a time).
pub(super) trait CElement: Element {
    /// Runs an f32 batch operation on the batch whose row `r` is read at `x + r * x_stride`
    /// and written at `y + r * y_stride`, `cols` values each.
    ///
    /// # Safety
    /// The batch passed `check::rows_pair` with `rows > 0` and `cols > 0`, and the caller
    /// guarantees every row readable (`x`) and writable (`y`) for the call.
    unsafe fn run_rows(
        sm: &Softmax,
        x: (*const Self, usize),
        y: (*mut Self, usize),
        rows: usize,
        cols: usize,
        direct: Direct,
        op: impl Fn(Rows<'_>) + Sync,
    );

    /// Runs a backward-pass f32 operation on each row of a batch: `(y, dy)` in, `dx` out, each
    /// `(pointer, stride)`, rows split over the threads of the process setting.
    ///
    /// # Safety
    /// The batch passed `check::rows_grad` with `rows > 0` and `cols > 0`, and the caller
    /// guarantees the rows of `y` and `dy` readable and those of `dx` writable for the call.
    #[allow(clippy::too_many_arguments)]
    unsafe fn run_grad_rows(
        sm: &Softmax,
        y: (*const Self, usize),
        dy: (*const Self, usize),
        dx: (*mut Self, usize),
        rows: usize,
        cols: usize,
        direct: GradDirect,
        op: impl Fn(Grad<'_>) + Sync,
    );
}

impl CElement for f32 {
    unsafe fn run_rows(
        _: &Softmax,
        (x, xs): (*const f32, usize),
        (y, ys): (*mut f32, usize),
        rows: usize,
        cols: usize,
        _: Direct,
        op: impl Fn(Rows<'_>) + Sync,
    ) {
        // SAFETY: every row lies inside both extents (`batch_extent`), which are non-null,
        // aligned, at most isize::MAX bytes and not partly overlapping (`rows_pair`), and
        // readable/writable (the caller): in place means the same base and stride.
        op(unsafe { Rows::from_raw(x, xs, y, ys, rows, cols) });
    }

    unsafe fn run_grad_rows(
        sm: &Softmax,
        (y, ys): (*const f32, usize),
        (dy, dys): (*const f32, usize),
        (dx, dxs): (*mut f32, usize),
        rows: usize,
        cols: usize,
        _: GradDirect,
        op: impl Fn(Grad<'_>) + Sync,
    ) {
        let (y, dy, dx) = (Shared(y), Shared(dy), Shared(dx));
        for_row_chunks(sm.threads, rows, cols, |range| {
            for r in range {
                // SAFETY: row `r` lies inside the three extents (`batch_extent`), which are
                // non-null, aligned, at most isize::MAX bytes (`rows_grad`) and
                // readable/writable (the caller); `dx`'s row is `y`'s or `dy`'s row (same
                // base and stride) or lies in an extent disjoint from theirs. Only the rows
                // are accessed, never the gaps between them, and the chunks hand out each
                // row once.
                let g = unsafe {
                    Grad::from_raw(
                        y.get().add(r * ys),
                        dy.get().add(r * dys),
                        dx.get().add(r * dxs),
                        cols,
                    )
                };
                op(g);
            }
        });
    }
}

/// The batch drivers of a 16-bit element type `$t` of format `$format`: the Rust API's staged
/// paths, from raw pointers.
macro_rules! half_c_element {
    ($t:ty, $format:expr) => {
        impl CElement for $t {
            unsafe fn run_rows(
                sm: &Softmax,
                (x, xs): (*const $t, usize),
                (y, ys): (*mut $t, usize),
                rows: usize,
                cols: usize,
                direct: Direct,
                op: impl Fn(Rows<'_>) + Sync,
            ) {
                // SAFETY: every row lies inside its checked extent and is readable (`x`) or
                // writable (`y`) by the caller's contract; `rows_pair` accepted `y` in place
                // (same base and stride: each output row is its input row) or disjoint from
                // every input row. The element type is a transparent 16-bit pattern.
                unsafe {
                    sm.half_rows(
                        $format,
                        (x.cast(), xs),
                        (y.cast(), ys),
                        rows,
                        cols,
                        direct,
                        op,
                    )
                }
            }

            unsafe fn run_grad_rows(
                sm: &Softmax,
                y: (*const $t, usize),
                dy: (*const $t, usize),
                dx: (*mut $t, usize),
                rows: usize,
                cols: usize,
                direct: GradDirect,
                op: impl Fn(Grad<'_>) + Sync,
            ) {
                let cast = |(p, s): (*const $t, usize)| (p.cast::<u16>(), s);
                // SAFETY: forwarded contract.
                unsafe {
                    half_grad_rows(
                        sm,
                        $format,
                        cast(y),
                        cast(dy),
                        (dx.0.cast(), dx.1),
                        rows,
                        cols,
                        direct,
                        op,
                    )
                }
            }
        }
    };
}

half_c_element!(f16, Half::F16);
half_c_element!(bf16, Half::Bf16);

/// [`CElement::run_grad_rows`] of 16-bit rows of `format`: through `direct`'s kernel of its
/// own where it has one, else each row's `y` and `dy` widened into f32 buffers, `op` run on
/// them with `dx` written over `dy`'s buffer, that buffer rounded into `dx` (what the Rust
/// API does, so the bits are the same).
///
/// # Safety
/// As [`CElement::run_grad_rows`].
#[allow(clippy::too_many_arguments)]
unsafe fn half_grad_rows(
    sm: &Softmax,
    format: Half,
    (y, ys): (*const u16, usize),
    (dy, dys): (*const u16, usize),
    (dx, dxs): (*mut u16, usize),
    rows: usize,
    cols: usize,
    direct: GradDirect,
    op: impl Fn(Grad<'_>) + Sync,
) {
    let (y, dy, dx) = (Shared(y), Shared(dy), Shared(dx));
    if direct != GradDirect::Staged {
        for_row_chunks(sm.threads, rows, cols, |range| {
            for r in range {
                // SAFETY: row `r` of each array lies inside its checked extent, readable
                // (`y`, `dy`) or writable (`dx`) by the caller's contract; `rows_grad`
                // accepted `dx` as `y` or `dy` (same base and stride: each output row is that
                // input row) or disjoint from both arrays. The chunks hand out each row once.
                let rows = unsafe {
                    (
                        y.get().add(r * ys),
                        dy.get().add(r * dys),
                        dx.get().add(r * dxs),
                        cols,
                    )
                };
                // SAFETY: as above.
                let done = unsafe { sm.half_grad_direct(direct, format, rows) };
                debug_assert!(done);
            }
        });
        return;
    }
    for_row_chunks(sm.threads, rows, cols, |range| {
        with_buffers(cols, |yb, db| {
            for r in range {
                // SAFETY: row `r` of `y` and of `dy` lies inside its checked extent and is
                // readable (the caller); these shared slices end before `dx`'s row is made,
                // so `dx` may be `y` or `dy` (in place). The chunks hand out each row once,
                // and rows `stride >= cols` apart do not overlap.
                let (yr, dyr) = unsafe {
                    (
                        slice::from_raw_parts(y.get().add(r * ys), cols),
                        slice::from_raw_parts(dy.get().add(r * dys), cols),
                    )
                };
                sm.widen_into(format, yr, yb);
                sm.widen_into(format, dyr, db);
                op(Grad::in_place(yb, db).expect("buffers of one length"));
                // SAFETY: row `r` of `dx` lies inside its checked extent and is writable (the
                // caller); no other reference to its memory is alive (see above).
                let dxr = unsafe { slice::from_raw_parts_mut(dx.get().add(r * dxs), cols) };
                sm.narrow_into(format, db, dxr);
            }
        })
    });
}

/// Runs a one-row f32 operation from the `n > 0` values at `x` to those at `y`: in place
/// (`Softmax::map_row_in_place`) when `y == x`, else `Softmax::map_row`.
///
/// # Safety
/// `x` and `y` passed `check::row_pair` (or `cross_entropy_args`) for `n` values, and the
/// caller guarantees `x` readable and `y` writable for `n` values.
pub(super) unsafe fn map_row<T: Element, R>(
    sm: &Softmax,
    x: *const T,
    y: *mut T,
    n: usize,
    op: impl FnOnce(InOut<'_>) -> R,
) -> R {
    if ptr::eq(x, y) {
        // SAFETY: non-null, aligned, at most isize::MAX bytes (the checks), readable and
        // writable (the caller); the only reference to the row.
        let xy = unsafe { slice::from_raw_parts_mut(y, n) };
        sm.map_row_in_place(xy, op)
    } else {
        // SAFETY: as above; `y`'s range is disjoint from `x`'s (the checks), so the two
        // slices do not alias.
        let (x, y) = unsafe { (slice::from_raw_parts(x, n), slice::from_raw_parts_mut(y, n)) };
        sm.map_row(x, y, op).expect("rows of one length")
    }
}

/// The 16-bit format of `T`, `None` for f32.
fn half_format<T: Element>() -> Option<Half> {
    match T::data(&[]) {
        Data::Half(format, _) => Some(format),
        Data::F32(_) => None,
    }
}

/// [`map_row`] for the cross-entropy with gradient of softmax (`op`: its f32 operation):
/// 16-bit rows through their kernel of their own where it takes them, else staged.
///
/// # Safety
/// As [`map_row`]; `target < n` and `eps` in `[0, 1]` (checked by the caller).
pub(super) unsafe fn cross_entropy_grad_row<T: Element>(
    sm: &Softmax,
    x: *const T,
    d: *mut T,
    n: usize,
    (target, eps): (usize, f32),
    op: impl FnOnce(InOut<'_>) -> Result<f32, crate::Error>,
) -> Result<f32, crate::Error> {
    if let Some(format) = half_format::<T>() {
        let row = (x.cast::<u16>(), d.cast::<u16>(), n);
        // SAFETY: the caller's contract: `x` readable and `d` writable for `n` values, `d`
        // equal to `x` or disjoint from it; the element type is a 16-bit pattern.
        let direct = unsafe { sm.half_cross_entropy_grad_direct(format, row, target, eps) };
        if let Some(loss) = direct {
            return Ok(loss);
        }
    }
    // SAFETY: the caller's contract.
    unsafe { map_row(sm, x, d, n, op) }
}

/// [`map_row`] for an operation with kernels of its own for 16-bit rows
/// (`Softmax::map_row_direct`).
///
/// # Safety
/// As [`map_row`].
#[inline(always)]
pub(super) unsafe fn map_row_direct<T: Element>(
    sm: &Softmax,
    x: *const T,
    y: *mut T,
    n: usize,
    direct: Direct,
    op: impl FnOnce(InOut<'_>),
) {
    if ptr::eq(x, y) {
        // SAFETY: as in `map_row`.
        let xy = unsafe { slice::from_raw_parts_mut(y, n) };
        sm.map_row_in_place_direct(xy, direct, op)
    } else {
        // SAFETY: as in `map_row`.
        let (x, y) = unsafe { (slice::from_raw_parts(x, n), slice::from_raw_parts_mut(y, n)) };
        sm.map_row_direct(x, y, direct, op)
            .expect("rows of one length")
    }
}

/// Runs a read-only f32 operation on the `n > 0` values at `x` (`Softmax::read_row`).
///
/// # Safety
/// `x` is non-null, aligned and at most isize::MAX bytes for `n` values (the checks), and
/// readable for them (the caller); nothing writes them during the call.
pub(super) unsafe fn read_row<T: Element, R>(
    sm: &Softmax,
    x: *const T,
    n: usize,
    op: impl FnOnce(&[f32]) -> R,
) -> R {
    // SAFETY: the contract above.
    sm.read_row(unsafe { slice::from_raw_parts(x, n) }, op)
}

/// Writes zeros to the `n` values at `d` (an ignored row's gradient).
///
/// # Safety
/// `d` is non-null, aligned, at most isize::MAX bytes for `n` values (the checks) and
/// writable for them (the caller), and no other reference to them is alive.
pub(super) unsafe fn zero_row<T: Element>(d: *mut T, n: usize) {
    // SAFETY: the contract above.
    unsafe { slice::from_raw_parts_mut(d, n) }.fill(T::default());
}
