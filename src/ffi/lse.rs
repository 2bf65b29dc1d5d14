//! C ABI of sharded and streamed rows: mergeable log-sum-exp states, normalisation by a global
//! log-sum-exp, and the cross-entropy of one vocabulary shard.

use super::check::{
    disjoint, extent, in_place_or_disjoint, non_null, require, smoothing_arg, span,
};
use super::forward::rows_impl;
use super::{guard, guard_status, softmax_status};
use crate::lse::ShardRow;
use crate::rows::InOut;
use crate::staged::Direct;
use crate::{CrossEntropyOptions, ShardLayout, Softmax};

/// The log-sum-exp state of a chunk of a row (`sum_i exp(x_i)` as a mantissa and a binary
/// exponent): computed per chunk or per shard, merged in any grouping and order with
/// `softmax_lse_merge`, read with `softmax_lse_value`. A plain 16-byte value with no padding
/// and no pointers: copy it, send it over a wire (e.g. `MPI_Type_contiguous(16, MPI_BYTE)`),
/// between machines of the same endianness. Treat the fields as opaque; they hold:
///  - a finite state: `mantissa` in `[1, 2)` and an integer `exponent`
///    (`sum = mantissa * 2^exponent`);
///  - the empty state (no entry, or only `-inf`; the identity of the merge, value `-inf`):
///    `mantissa = 0`, `exponent = -inf`;
///  - `k` entries at `+inf` (no NaN; value `+inf`): `mantissa = k`, `exponent = +inf`;
///  - a NaN anywhere (absorbs every merge; value NaN): both NaN.
///
/// In Rust this is `softmax::LseState`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LseState {
    /// The mantissa of the sum (or the `+inf` count; see the type).
    pub(crate) mantissa: f64,
    /// The binary exponent of the sum (or a marker; see the type).
    pub(crate) exponent: f64,
}

// 16 bytes, no padding, on every target.
const _: () = assert!(std::mem::size_of::<LseState>() == 16);

/// The empty state: the state of an empty chunk or of a chunk of only `-inf`, the identity of
/// `softmax_lse_merge`; its value is `-inf`.
#[no_mangle]
pub extern "C" fn softmax_lse_empty() -> LseState {
    LseState::EMPTY
}

/// The state of the union of the chunks of `a` and `b`. A NaN state absorbs; `+inf` counts
/// add; the empty state is the identity; finite states add their sums exactly scaled to the
/// larger exponent, rounded once in double precision. Commutative exactly, associative up to
/// that rounding: any grouping of a row's chunks gives its log-sum-exp within 2 ULP of
/// `max(1, |lse|)` of the one-call `logsumexp_f32`, and a fixed grouping gives identical bits.
#[no_mangle]
pub extern "C" fn softmax_lse_merge(a: LseState, b: LseState) -> LseState {
    guard(LseState::NAN, || a.merge(b))
}

/// Element-wise merge of two arrays of `n` states: `inout[i] = merge(inout[i], in[i])`
/// (per-row states of a batch: the reduction of an all-reduce, e.g. the body of a
/// user-defined `MPI_Op`). `in` may equal `inout` (each state merged with itself) but must
/// not overlap it otherwise.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (pointer not aligned to 8 bytes, size above
/// `PTRDIFF_MAX`, partial overlap). `n == 0` touches nothing.
///
/// # Safety
/// `in` must be readable and `inout` readable and writable for `n` states (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_lse_merge_rows(
    r#in: *const LseState,
    inout: *mut LseState,
    n: usize,
) -> softmax_status {
    guard_status(|| {
        if n == 0 {
            return Ok(());
        }
        non_null(&[r#in.cast(), inout.cast()])?;
        let is = span(r#in, n)?;
        let os = span(inout, n)?;
        in_place_or_disjoint(os, is, true)?;
        for i in 0..n {
            // SAFETY: `i < n`; both arrays are non-null, aligned and valid for `n` states (the
            // caller), and equal or disjoint; each state is read before it is written.
            unsafe {
                let v = inout.add(i).read().merge(r#in.add(i).read());
                inout.add(i).write(v);
            }
        }
        Ok(())
    })
}

/// The log-sum-exp of a state, rounded to float: NaN for a NaN state, `+inf` with `+inf`
/// entries, `-inf` for the empty state.
#[no_mangle]
pub extern "C" fn softmax_lse_value(s: LseState) -> f32 {
    guard(f32::NAN, || s.value())
}

/// The state of a chunk whose log-sum-exp is `lse` (a single entry `lse`, or a log-sum-exp
/// computed by other means): NaN for NaN, one `+inf` entry for `+inf`, the empty state for
/// `-inf`. `softmax_lse_value(softmax_lse_from_value(v)) == v` for every float of magnitude
/// `2^-20` or more (below, within `2^-52`).
#[no_mangle]
pub extern "C" fn softmax_lse_from_value(lse: f32) -> LseState {
    guard(LseState::NAN, || LseState::from_value(lse))
}

/// Merges the state of the chunk `x[0..n)` into `*state` (initialise it with
/// `softmax_lse_empty()`): one read of `x`, at the speed of `logsumexp_f32`. Special values
/// as for one row (NaN anywhere: NaN; `+inf` entries counted; `-inf` entries add nothing).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (`state` NULL, or `x` NULL with
/// `n > 0`) or `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above
/// `PTRDIFF_MAX`, `state` inside `x`). `n == 0` leaves `*state` as it is.
///
/// # Safety
/// `x` must be readable for `n` floats (unless `n == 0`), `state` readable and writable.
#[no_mangle]
pub unsafe extern "C" fn softmax_logsumexp_accumulate_f32(
    x: *const f32,
    n: usize,
    state: *mut LseState,
) -> softmax_status {
    // SAFETY: forwarded caller contract (one row of `n` floats).
    unsafe { softmax_logsumexp_accumulate_rows_f32(x, n, 1, n, state) }
}

/// `softmax_logsumexp_accumulate_f32` for a batch: row `r` of `cols` floats at
/// `x + r * stride` (stride in elements, at least `cols`) is merged into `states[r]`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
/// misaligned pointer, `states` overlapping `x`). `rows == 0` touches nothing; `cols == 0`
/// leaves the states as they are (after checking `states`).
///
/// # Safety
/// `x` must be readable for the rows described and `states` readable and writable for
/// `rows` states.
#[no_mangle]
pub unsafe extern "C" fn softmax_logsumexp_accumulate_rows_f32(
    x: *const f32,
    stride: usize,
    rows: usize,
    cols: usize,
    states: *mut LseState,
) -> softmax_status {
    guard_status(|| {
        let x_ext = extent(rows, cols, stride)?;
        if rows == 0 {
            return Ok(());
        }
        let ss = span(states.cast_const(), rows)?;
        if cols == 0 {
            return Ok(());
        }
        let xs = span(x, x_ext)?;
        disjoint(ss, xs)?;
        let sm = Softmax::new();
        for r in 0..rows {
            // SAFETY: row `r` lies inside `x`'s extent (`batch_extent`), which is non-null,
            // aligned, at most isize::MAX bytes and readable (the caller); `states` is valid
            // for `rows` states and disjoint from it.
            unsafe {
                let row = std::slice::from_raw_parts(x.add(r * stride), cols);
                let st = states.add(r);
                let mut v = st.read();
                sm.logsumexp_accumulate(row, &mut v);
                st.write(v);
            }
        }
        Ok(())
    })
}

/// Softmax of a shard of a row whose log-sum-exp is `lse` (the value of the merged states):
/// `y[i] = exp(x[i] - lse)`, at the speed of the two-pass softmax's output pass (`lse` is
/// folded exactly into the exponential's shift and factor).
///
/// `y == x` computes in place; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`. `x`
/// and `y` may be NULL when `n == 0`. Special values: a NaN or infinite `lse` gives
/// `exp(x - lse)` by IEEE rules (NaN `lse`: NaN; `+inf`: 0 for finite entries, NaN for `+inf`
/// entries; `-inf`, the value of an all `-inf` row: NaN); entries far below `lse` get exactly
/// 0. `lse` must be at least `max(x) - 88` (always true for the log-sum-exp of a row
/// containing `x`): entries more than 88 above `lse` give unspecified values.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (as `softmax_f32`).
///
/// # Safety
/// `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_normalize_f32(
    x: *const f32,
    y: *mut f32,
    n: usize,
    lse: f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (one row of `n` floats).
    unsafe { softmax_normalize_rows_f32(x, n, y, n, 1, n, &lse) }
}

/// Log-softmax of a shard of a row whose log-sum-exp is `lse`: `y[i] = x[i] - lse`, rounded
/// once (IEEE rules for non-finite values). Arguments and statuses as
/// `softmax_normalize_f32`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_softmax_normalize_f32(
    x: *const f32,
    y: *mut f32,
    n: usize,
    lse: f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (one row of `n` floats).
    unsafe { softmax_log_softmax_normalize_rows_f32(x, n, y, n, 1, n, &lse) }
}

/// Validates a normalize batch and its `lse` array, then runs it row by row.
///
/// # Safety
/// The caller contract of `softmax_normalize_rows_f32`.
#[allow(clippy::too_many_arguments)]
unsafe fn normalize_rows(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
    lse: *const f32,
    log: bool,
) -> softmax_status {
    guard_status(|| {
        let y_ext = extent(rows, cols, y_stride)?;
        extent(rows, cols, x_stride)?;
        if rows == 0 || cols == 0 {
            return Ok(());
        }
        let ls = span(lse, rows)?;
        non_null(&[x.cast(), y.cast()])?;
        disjoint(span(y.cast_const(), y_ext)?, ls)?;
        // SAFETY: `lse` is non-null, aligned, valid for `rows` floats (the caller) and no
        // output overlaps it.
        let lse = unsafe { std::slice::from_raw_parts(lse, rows) };
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
                Direct::Staged,
                |mut batch| {
                    for (r, &l) in lse.iter().enumerate() {
                        sm.run_normalize(batch.row(r), l, log);
                    }
                },
            )
        }
    })
}

/// `softmax_normalize_f32` for a batch: row `r` of `cols` floats is read from
/// `x + r * x_stride`, normalised by `lse[r]` and written to `y + r * y_stride` (layout,
/// in-place and overlap rules as in `softmax_rows_f32`; `lse` must not overlap `y`).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described, and `lse` readable for
/// `rows` floats (unless nothing is touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_normalize_rows_f32(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
    lse: *const f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe { normalize_rows(x, x_stride, y, y_stride, rows, cols, lse, false) }
}

/// `softmax_log_softmax_normalize_f32` for a batch (layout as in
/// `softmax_normalize_rows_f32`).
///
/// # Safety
/// As `softmax_normalize_rows_f32`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_log_softmax_normalize_rows_f32(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
    lse: *const f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe { normalize_rows(x, x_stride, y, y_stride, rows, cols, lse, true) }
}

/// Cross-entropy of one vocabulary shard of a batch (vocabulary-parallel training). The shard
/// holds columns `[col_offset, col_offset + cols)` of rows of `total_cols` logits: row `r`
/// starts at `logits + r * logits_stride`; `targets[r]` is its global class (or
/// `ignore_index`); `lse[r]` is the state of the whole row, every shard's
/// `softmax_logsumexp_accumulate_rows_f32` merged (one all-reduce).
///
/// `losses[r]` receives this shard's contribution to the row's loss,
/// `[t in shard] (1 - eps) (lse - x[t]) + eps / total_cols * sum_{j in shard} (lse - x[j])`,
/// with `eps = label_smoothing`. Every term is non-negative, and the contributions of all
/// shards add up to the loss `cross_entropy_rows_f32` gives for the whole row
/// (`lse - (1 - eps) x[t] - eps * mean(x)`); only the target's shard carries the first term
/// (global target `t` is local `t - col_offset`), and without smoothing the other shards give
/// exactly 0. With `dlogits`, row `r` of this shard's gradient,
/// `exp(x - lse) - (1 - eps) onehot(t) - eps / total_cols` (the shard's columns of the
/// unsharded gradient), goes to `dlogits + r * dlogits_stride`. A row whose target equals
/// `ignore_index` gives 0 and a zero gradient row. Special rows follow `cross_entropy_f32`
/// through the merged state: a NaN state (a NaN logit anywhere) or an empty state (all `-inf`)
/// gives NaN (loss and gradient); with `k` logits at `+inf` the target's shard adds `ln k`
/// when the target is one of them and `+inf` otherwise (NaN with smoothing), and the gradient
/// is `1/k` at the `+inf` logits and 0 elsewhere, minus the target terms.
///
/// Checks, before anything is read or written: `label_smoothing` outside `[0, 1]` or NaN,
/// `cols == 0` and `col_offset + cols > total_cols` are `SOFTMAX_STATUS_INVALID_ARGUMENT`;
/// strides as in `softmax_rows_f32`; `rows == 0` returns `SOFTMAX_STATUS_OK`; `logits`,
/// `targets`, `lse` and `losses` must be non-NULL and aligned (8 bytes for `targets` and
/// `lse`); `dlogits` may be `logits` with the same stride (in place) but must not overlap it
/// otherwise, and no output may overlap another array. Then every target is read: one that is
/// neither `ignore_index` nor in `[0, total_cols)` is `SOFTMAX_STATUS_INVALID_ARGUMENT`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `logits` must be readable for the rows described, `targets` and `lse` readable and
/// `losses` writable for `rows` values, and `dlogits` (unless NULL) writable for its rows.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_cross_entropy_shard_rows_f32(
    logits: *const f32,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    col_offset: usize,
    total_cols: usize,
    targets: *const i64,
    ignore_index: i64,
    label_smoothing: f32,
    lse: *const LseState,
    losses: *mut f32,
    dlogits: *mut f32,
    dlogits_stride: usize,
) -> softmax_status {
    guard_status(|| {
        smoothing_arg(label_smoothing)?;
        require(cols > 0)?;
        require(
            col_offset
                .checked_add(cols)
                .is_some_and(|e| e <= total_cols),
        )?;
        let x_ext = extent(rows, cols, logits_stride)?;
        let d_ext = if dlogits.is_null() {
            0
        } else {
            extent(rows, cols, dlogits_stride)?
        };
        if rows == 0 {
            return Ok(());
        }
        non_null(&[logits.cast(), targets.cast(), lse.cast(), losses.cast()])?;
        let xs = span(logits, x_ext)?;
        let ts = span(targets, rows)?;
        let ss = span(lse, rows)?;
        let ls = span(losses.cast_const(), rows)?;
        for other in [xs, ts, ss] {
            disjoint(ls, other)?;
        }
        let ds = if dlogits.is_null() {
            None
        } else {
            let ds = span(dlogits.cast_const(), d_ext)?;
            in_place_or_disjoint(ds, xs, dlogits_stride == logits_stride)?;
            for other in [ts, ss, ls] {
                disjoint(ds, other)?;
            }
            Some(ds)
        };
        // SAFETY: `targets` and `lse` are non-null, aligned, at most isize::MAX bytes and
        // readable for `rows` values (the caller), and no output overlaps them.
        let (targets, lse) = unsafe {
            (
                std::slice::from_raw_parts(targets, rows),
                std::slice::from_raw_parts(lse, rows),
            )
        };
        for &t in targets {
            let valid = usize::try_from(t).is_ok_and(|t| t < total_cols);
            require(t == ignore_index || valid)?;
        }
        let options = CrossEntropyOptions {
            ignore_index,
            label_smoothing,
        };
        let layout = ShardLayout {
            col_offset,
            total_cols,
        };
        let sm = Softmax::new();
        for r in 0..rows {
            let x = logits.wrapping_add(r * logits_stride);
            let row = if ds.is_some() {
                // SAFETY: rows `r` of `logits` and `dlogits` lie inside their extents
                // (`batch_extent`), which are non-null, aligned, at most isize::MAX bytes and
                // readable/writable (the caller); `dlogits`' row is `logits`' row (same base
                // and stride) or lies in an extent disjoint from the logits.
                ShardRow::Grad(unsafe {
                    InOut::from_raw(x, dlogits.wrapping_add(r * dlogits_stride), cols)
                })
            } else {
                // SAFETY: row `r` of `logits`, as above; nothing writes it.
                ShardRow::Loss(unsafe { std::slice::from_raw_parts(x, cols) })
            };
            let loss = sm.run_cross_entropy_shard(row, targets[r], options, layout, lse[r]);
            // SAFETY: `r < rows`; `losses` is valid for `rows` writes and overlaps no array.
            unsafe { losses.add(r).write(loss) };
        }
        Ok(())
    })
}
