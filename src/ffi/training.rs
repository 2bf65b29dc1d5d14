//! The C ABI of the training-side operations: the backward passes of softmax and
//! log-softmax, and the fused cross-entropy loss with its gradient (one row, or a batch with
//! ignored rows and label smoothing). Argument rules as in the module docs of `mod.rs`,
//! checked by `check`.
//!
//! The bodies are generic over the element type of the rows (`f32` here; the 16-bit twins of
//! `half_training` call the same functions): one set of checks, statuses and special values.

use super::check::{class, cross_entropy_args, cross_entropy_rows_args, rows_grad, targets_arg};
use super::element::{cross_entropy_grad_row, map_row, read_row, zero_row, CElement};
use super::{guard_status, softmax_status, validated, Checked};
use crate::parallel::{for_row_chunks, Shared};
use crate::rows::{Grad, InOut};
use crate::staged::GradDirect;
use crate::{Element, Softmax};

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
    unsafe { backward_impl(y, n, dy, n, dx, n, 1, n, false) }
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
    unsafe { backward_impl(y, n, dy, n, dx, n, 1, n, true) }
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
    unsafe { backward_impl(y, y_stride, dy, dy_stride, dx, dx_stride, rows, cols, false) }
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
    unsafe { backward_impl(y, y_stride, dy, dy_stride, dx, dx_stride, rows, cols, true) }
}

/// `softmax_*backward*`: validates a backward batch of `T` (one row: strides `n`,
/// `rows == 1`) and runs it row by row (`log` picks log-softmax).
///
/// # Safety
/// The caller contract of `softmax_backward_rows_f32`, in values of `T`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn backward_impl<T: CElement>(
    y: *const T,
    y_stride: usize,
    dy: *const T,
    dy_stride: usize,
    dx: *mut T,
    dx_stride: usize,
    rows: usize,
    cols: usize,
    log: bool,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    guard_status(|| unsafe {
        backward_rows(
            y,
            y_stride,
            dy,
            dy_stride,
            dx,
            dx_stride,
            rows,
            cols,
            GradDirect::of(log),
            |sm, g| sm.run_backward(g, log),
        )
    })
}

/// Validates a backward batch of `T` (`rows_grad`: `y` is the forward output, or the forward
/// input for StableMax) and runs `run` on each row, in chunks of rows across threads (16-bit
/// rows through `direct`'s kernel of its own, else staged through f32 buffers).
///
/// # Safety
/// The caller contract of `softmax_backward_rows_f32`, in values of `T`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn backward_rows<T: CElement>(
    y: *const T,
    y_stride: usize,
    dy: *const T,
    dy_stride: usize,
    dx: *mut T,
    dx_stride: usize,
    rows: usize,
    cols: usize,
    direct: GradDirect,
    run: impl Fn(&Softmax, Grad<'_>) + Sync,
) -> Checked<()> {
    if !rows_grad(y, y_stride, dy, dy_stride, dx, dx_stride, rows, cols)? {
        return Ok(());
    }
    let sm = Softmax::new();
    let (y, dy, dx) = ((y, y_stride), (dy, dy_stride), (dx, dx_stride));
    // SAFETY: the batch passed `rows_grad` with rows and columns; the caller guarantees it.
    unsafe { T::run_grad_rows(&sm, y, dy, dx, rows, cols, direct, |g| run(&sm, g)) };
    Ok(())
}

/// The checks and the two forms (loss only, or with the gradient) of the one-row
/// cross-entropy entry points, on logits of `T`.
///
/// # Safety
/// The caller contract of `softmax_cross_entropy_f32`, in values of `T`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn cross_entropy_one<T: Element>(
    logits: *const T,
    n: usize,
    target: usize,
    loss: *mut f32,
    dlogits: *mut T,
    loss_only: impl FnOnce(&Softmax, &[f32]) -> Result<f32, crate::Error>,
    with_grad: impl FnOnce(&Softmax, InOut<'_>) -> Result<f32, crate::Error>,
    direct: Option<f32>,
) -> Checked<()> {
    cross_entropy_args(logits, n, target, loss, dlogits)?;
    let sm = Softmax::new();
    let value = if dlogits.is_null() {
        // SAFETY: `logits` is non-null, aligned, at most isize::MAX bytes
        // (`cross_entropy_args`) and readable for `n` values (the caller); the row is
        // released before `loss` is written.
        let op = |x: &[f32]| loss_only(&sm, x);
        // SAFETY: as above.
        validated(unsafe {
            match direct {
                Some(eps) => {
                    sm.cross_entropy_row(std::slice::from_raw_parts(logits, n), target, eps)
                }
                None => read_row(&sm, logits, n, op),
            }
        })?
    } else {
        // SAFETY: both pointers are non-null, aligned, valid for `n` values (checked by
        // `cross_entropy_args` and the caller's contract), and `dlogits` is `logits` or
        // disjoint from it; the kernels read the target logit and finish the loss before they
        // write (16-bit rows too, whether read in their format or staged).
        let op = |io: InOut<'_>| with_grad(&sm, io);
        // SAFETY: as above.
        validated(unsafe {
            match direct {
                Some(eps) => cross_entropy_grad_row(&sm, logits, dlogits, n, (target, eps), op),
                None => map_row(&sm, logits, dlogits, n, op),
            }
        })?
    };
    // SAFETY: `loss` is non-null, aligned and outside `dlogits` (`cross_entropy_args`) and
    // writable (the caller).
    unsafe { loss.write(value) };
    Ok(())
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
    // SAFETY: forwarded caller contract.
    unsafe { cross_entropy(logits, n, target, loss, dlogits) }
}

/// `softmax_cross_entropy_*`: one row of logits of `T`.
///
/// # Safety
/// The caller contract of `softmax_cross_entropy_f32`, in values of `T`.
pub(super) unsafe fn cross_entropy<T: Element>(
    logits: *const T,
    n: usize,
    target: usize,
    loss: *mut f32,
    dlogits: *mut T,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    guard_status(|| unsafe {
        cross_entropy_one(
            logits,
            n,
            target,
            loss,
            dlogits,
            |sm, x| sm.run_cross_entropy(x, target, 0.0),
            |sm, io| sm.run_cross_entropy_grad(io, target, 0.0),
            Some(0.0),
        )
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
    unsafe {
        cross_entropy_rows(
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
        )
    }
}

/// `softmax_cross_entropy_rows_*`: a batch of logits of `T`.
///
/// # Safety
/// The caller contract of `softmax_cross_entropy_rows_f32`, in values of `T`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn cross_entropy_rows<T: Element>(
    logits: *const T,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    ignore_index: i64,
    label_smoothing: f32,
    losses: *mut f32,
    dlogits: *mut T,
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
            true,
        )
    })
}

/// A batch cross-entropy on logits of `T` (`softmax_cross_entropy_rows_f32`, its 16-bit
/// twins and its StableMax twin): the argument checks, the ignored rows, and `loss` /
/// `loss_grad` of the one-row operation on every other row, the rows split over threads.
///
/// # Safety
/// The caller contract of `softmax_cross_entropy_rows_f32`, in values of `T`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn cross_entropy_rows_impl<T: Element>(
    logits: *const T,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    ignore_index: i64,
    label_smoothing: f32,
    losses: *mut f32,
    dlogits: *mut T,
    dlogits_stride: usize,
    loss: impl Fn(&Softmax, &[f32], usize, f32) -> Result<f32, crate::Error> + Sync,
    loss_grad: impl Fn(&Softmax, InOut<'_>, usize, f32) -> Result<f32, crate::Error> + Sync,
    direct: bool,
) -> Checked<()> {
    if !cross_entropy_rows_args(
        logits,
        logits_stride,
        rows,
        cols,
        targets,
        label_smoothing,
        losses,
        dlogits,
        dlogits_stride,
    )? {
        return Ok(());
    }
    // SAFETY: `targets` is non-null, aligned, at most isize::MAX bytes and overlapped by no
    // output (`cross_entropy_rows_args`), and readable for `rows` values (the caller).
    let targets = unsafe { std::slice::from_raw_parts(targets, rows) };
    targets_arg(targets, ignore_index, cols)?;
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
            let value = match class(t, cols) {
                _ if t == ignore_index => {
                    if has_d {
                        // SAFETY: `d` is row `r` of `dlogits` (see above); no other
                        // reference to that memory is alive.
                        unsafe { zero_row(d, cols) };
                    }
                    0.0
                }
                Some(t) if !has_d => {
                    // SAFETY: `x` is row `r` of `logits` (see above); nothing writes it.
                    let op = |x: &[f32]| loss(&sm, x, t, label_smoothing);
                    // SAFETY: as above.
                    unsafe {
                        if direct {
                            let x = std::slice::from_raw_parts(x, cols);
                            sm.cross_entropy_row(x, t, label_smoothing)
                        } else {
                            read_row(&sm, x, cols, op)
                        }
                    }
                    .expect("targets and smoothing validated above")
                }
                Some(t) => {
                    // SAFETY: rows `r` of `logits` and `dlogits` (see above): valid for
                    // `cols` values, the output either the input or disjoint from it.
                    let op = |io: InOut<'_>| loss_grad(&sm, io, t, label_smoothing);
                    let args = (t, label_smoothing);
                    // SAFETY: as above.
                    unsafe {
                        if direct {
                            cross_entropy_grad_row(&sm, x, d, cols, args, op)
                        } else {
                            map_row(&sm, x, d, cols, op)
                        }
                    }
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
