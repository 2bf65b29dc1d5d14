//! The C ABI of StableMax ("Grokking at the Edge of Numerical Stability", 2025): forward, log,
//! cross-entropy and backward passes, single rows and batches. Argument rules as in the
//! module docs of `mod.rs`.

use super::forward::rows_impl;
use super::{guard_status, softmax_status, Checked};
use crate::staged::{Direct, GradDirect};
use crate::Softmax;

/// StableMax of one row of `n` floats: `y[i] = s(x[i]) / sum_j s(x[j])` with
/// `s(x) = x + 1` for `x >= 0` and `s(x) = 1 / (1 - x)` for `x < 0` (Prieto et al.,
/// "Grokking at the Edge of Numerical Stability", 2025). Polynomial instead of exponential
/// growth: no maximum pass, two passes over memory (a read for the sum, a read and a write).
///
/// `y == x` computes in place; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`. `x`
/// and `y` may be NULL when `n == 0`. Special values: `s(-inf) = 0`; a NaN makes the whole
/// row NaN; the `k` entries equal to `+inf` get `1/k` and all others 0; a row of only `-inf`
/// gives NaN; finite inputs of any magnitude work (a sum beyond the float range is redone in
/// double precision).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
/// partial overlap).
///
/// # Safety
/// `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_stablemax_f32(
    x: *const f32,
    y: *mut f32,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (one row of `n` floats).
    unsafe { softmax_stablemax_rows_f32(x, n, y, n, 1, n) }
}

/// Log-StableMax of one row of `n` floats: `y[i] = ln s(x[i]) - ln sum_j s(x[j])` (`s` as in
/// `softmax_stablemax_f32`), computed so that outputs near 0 keep their accuracy.
///
/// Aliasing and NULL rules as in `softmax_stablemax_f32`. Special values: a NaN makes the
/// whole row NaN; with `k` entries equal to `+inf` those give `-ln k` and all others `-inf`;
/// a `-inf` entry gives `-inf`; a row of only `-inf` gives NaN.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (as `softmax_stablemax_f32`).
///
/// # Safety
/// `x` must be readable and `y` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_stablemax_f32(
    x: *const f32,
    y: *mut f32,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (one row of `n` floats).
    unsafe { softmax_log_stablemax_rows_f32(x, n, y, n, 1, n) }
}

/// StableMax of a batch of `rows` rows of `cols` floats: row `r` is read from
/// `x + r * x_stride` and written to `y + r * y_stride` (strides in elements, at least
/// `cols`). Layout, in-place and overlap rules as in `softmax_rows_f32`; each row follows
/// `softmax_stablemax_f32`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
/// misaligned pointer, overlap).
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
pub unsafe extern "C" fn softmax_stablemax_rows_f32(
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
            rows_impl(
                &sm,
                x,
                x_stride,
                y,
                y_stride,
                rows,
                cols,
                Direct::Staged,
                |mut batch| batch.for_each(|io| sm.run_stablemax(io, false)),
            )
        }
    })
}

/// Log-StableMax of a batch (layout, in-place and overlap rules as in
/// `softmax_stablemax_rows_f32`); each row follows `softmax_log_stablemax_f32`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
/// misaligned pointer, overlap).
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_stablemax_rows_f32(
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
            rows_impl(
                &sm,
                x,
                x_stride,
                y,
                y_stride,
                rows,
                cols,
                Direct::Staged,
                |mut batch| batch.for_each(|io| sm.run_stablemax(io, true)),
            )
        }
    })
}

/// StableMax cross-entropy of one row of `n` logits against class `target`:
/// `*loss = ln sum_j s(x[j]) - ln s(x[target])` (one pass over the logits, sums in double
/// precision). When `dlogits` is not NULL it also receives the gradient with respect to the
/// logits, `dlogits[i] = s'(x[i]) / S - (i == target) / (1 + |x[i]|)` with
/// `S = sum_j s(x[j])` and `s'(x) = 1` for `x >= 0`, `1 / (1 - x)^2` below, in a second
/// pass.
///
/// Argument checks as in `cross_entropy_f32` (`n == 0` and `target >= n` first; `dlogits`
/// may be `logits` itself; `loss` may point into `logits`, not into `dlogits`).
///
/// Special values: a NaN logit or a row of only `-inf` gives NaN (loss and gradient); `k`
/// logits at `+inf` give `ln k` when the target is one of them and `+inf` otherwise, and the
/// gradient with `1/S = 0`; a target logit of `-inf` among finite ones gives `+inf`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (`logits` or `loss` NULL) or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (no class, target out of range, misaligned pointer,
/// `n * 4` above `PTRDIFF_MAX`, overlap).
///
/// # Safety
/// `logits` must be readable for `n` floats, `loss` writable for one, and `dlogits` (unless
/// NULL) writable for `n`.
#[no_mangle]
pub unsafe extern "C" fn softmax_stablemax_cross_entropy_f32(
    logits: *const f32,
    n: usize,
    target: usize,
    loss: *mut f32,
    dlogits: *mut f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (the same as `softmax_cross_entropy_f32`'s).
    guard_status(|| unsafe {
        super::training::cross_entropy_one(
            logits,
            n,
            target,
            loss,
            dlogits,
            |sm, x| sm.run_stablemax_cross_entropy(x, target, 0.0),
            |sm, io| sm.run_stablemax_cross_entropy_grad(io, target, 0.0),
            None,
        )
    })
}

/// StableMax cross-entropy of a batch, with the layout, checks, `ignore_index` and label
/// smoothing of `cross_entropy_rows_f32`: row `r` of `cols` logits starts at
/// `logits + r * logits_stride`, `losses[r]` receives its loss, and with `dlogits` not NULL
/// row `r` of the gradient goes to `dlogits + r * dlogits_stride`. A row whose target equals
/// `ignore_index` gets loss 0 and a zero gradient row. With label smoothing `eps` the target
/// distribution is `q = (1 - eps) * onehot(target) + eps / cols`, the loss
/// `-sum_i q_i ln StableMax(x)_i` and the gradient `s'(x[i]) / S - q_i / (1 + |x[i]|)`.
/// Each row follows the special-value rules of `softmax_stablemax_cross_entropy_f32` (terms
/// with `q_i = 0` count 0; with smoothing, `+inf` logits give `+inf` unless every logit is
/// `+inf`).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `logits` must be readable for the rows described, `targets` readable and `losses` writable
/// for `rows` values, and `dlogits` (unless NULL) writable for its rows (unless `rows == 0`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_stablemax_cross_entropy_rows_f32(
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
    // SAFETY: forwarded caller contract (the same as `softmax_cross_entropy_rows_f32`'s).
    guard_status(|| unsafe {
        super::cross_entropy_rows_impl(
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
            |sm, x, t, eps| sm.run_stablemax_cross_entropy(x, t, eps),
            |sm, io, t, eps| sm.run_stablemax_cross_entropy_grad(io, t, eps),
            false,
        )
    })
}

/// StableMax backward pass of one row of `n` floats, from the forward INPUT `x` (StableMax's
/// derivative depends on `x` itself, not only on its output):
/// `dx[i] = s'(x[i]) / S * (dy[i] - sum_j dy[j] y[j])`, with `y = StableMax(x)`,
/// `S = sum_j s(x[j])` and `s'(x) = 1` for `x >= 0`, `1 / (1 - x)^2` below. Two passes (the
/// sums in double precision, then the output).
///
/// `dx` may be `dy` or `x` (in place); any other overlap of `dx` with `x` or `dy` is
/// `SOFTMAX_STATUS_INVALID_ARGUMENT`. The pointers may be NULL when `n == 0`. Special values:
/// a NaN in `x` or a row of only `-inf` gives NaN; `+inf` entries in `x` use `1/S = 0` (so
/// zeros for finite `dy`); otherwise IEEE arithmetic on the formula (a NaN in `dy` makes the
/// row NaN through the sum).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
/// partial overlap).
///
/// # Safety
/// `x` and `dy` must be readable and `dx` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_stablemax_backward_f32(
    x: *const f32,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (one row of `n` floats).
    guard_status(|| unsafe { backward_impl(x, n, dy, n, dx, n, 1, n, false) })
}

/// Log-StableMax backward pass of one row of `n` floats, from the forward input `x`:
/// `dx[i] = dy[i] / (1 + |x[i]|) - s'(x[i]) / S * sum_j dy[j]` (notation as in
/// `softmax_stablemax_backward_f32`, whose aliasing, NULL and special-value rules apply).
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` (NULL with `n > 0`) or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (misaligned pointer, `n * 4` above `PTRDIFF_MAX`,
/// partial overlap).
///
/// # Safety
/// `x` and `dy` must be readable and `dx` writable for `n` floats (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_stablemax_backward_f32(
    x: *const f32,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (one row of `n` floats).
    guard_status(|| unsafe { backward_impl(x, n, dy, n, dx, n, 1, n, true) })
}

/// StableMax backward pass of a batch of `rows` rows of `cols` floats: row `r` of each array
/// starts at `r * stride` of that array (`x_stride`, `dy_stride`, `dx_stride`, in elements,
/// at least `cols`). Layout and overlap rules as in `softmax_backward_rows_f32` (with `x` in
/// the place of `y`); each row follows `softmax_stablemax_backward_f32`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
/// misaligned pointer, overlap).
///
/// # Safety
/// `x` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
/// touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_stablemax_backward_rows_f32(
    x: *const f32,
    x_stride: usize,
    dy: *const f32,
    dy_stride: usize,
    dx: *mut f32,
    dx_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    guard_status(|| unsafe {
        backward_impl(x, x_stride, dy, dy_stride, dx, dx_stride, rows, cols, false)
    })
}

/// Log-StableMax backward pass of a batch (layout as in
/// `softmax_stablemax_backward_rows_f32`); each row follows
/// `softmax_log_stablemax_backward_f32`.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER`, or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (stride < cols with `rows > 0`, extent overflow,
/// misaligned pointer, overlap).
///
/// # Safety
/// `x` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
/// touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_log_stablemax_backward_rows_f32(
    x: *const f32,
    x_stride: usize,
    dy: *const f32,
    dy_stride: usize,
    dx: *mut f32,
    dx_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    guard_status(|| unsafe {
        backward_impl(x, x_stride, dy, dy_stride, dx, dx_stride, rows, cols, true)
    })
}

/// Validates a StableMax backward batch and runs it row by row (`log` picks log-StableMax).
///
/// # Safety
/// The caller contract of `softmax_stablemax_backward_rows_f32`.
#[allow(clippy::too_many_arguments)]
unsafe fn backward_impl(
    x: *const f32,
    x_stride: usize,
    dy: *const f32,
    dy_stride: usize,
    dx: *mut f32,
    dx_stride: usize,
    rows: usize,
    cols: usize,
    log: bool,
) -> Checked<()> {
    // SAFETY: forwarded caller contract (`x` in the place of `y`).
    unsafe {
        super::training::backward_rows(
            x,
            x_stride,
            dy,
            dy_stride,
            dx,
            dx_stride,
            rows,
            cols,
            GradDirect::Staged,
            |sm, g| sm.run_stablemax_backward(g, log),
        )
    }
}
