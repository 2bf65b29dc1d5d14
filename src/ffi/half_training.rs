//! The 16-bit twins of the training operations (`training`): the backward passes of softmax
//! and log-softmax and the cross-entropy loss with its gradient, of one row or a batch, on rows
//! of `softmax_f16_t` and `softmax_bf16_t` (see `half_types`). Each is the generic body of its
//! `_f32` function instantiated for `half::f16` or `half::bf16`: the same checks, statuses and
//! special values; losses stay `float`.

use super::training::{backward_impl, cross_entropy, cross_entropy_rows};
use super::{softmax_bf16_t, softmax_f16_t, softmax_status};
use crate::{bf16, f16};

/// Softmax backward pass of one row of `n` `softmax_f16_t` values (IEEE binary16):
/// `dx[i] = y[i] * (dy[i] - dot(dy, y))` by `softmax_backward_f32` on `y` and `dy` widened to
/// `float`, each `dx[i]` rounded to IEEE binary16.
///
/// In-place use (`dx` may be `dy` or `y`; `y` and `dy` may overlap each other), NULL with
/// `n == 0`, special values and status codes as `softmax_backward_f32`, with 2-byte elements:
/// pointers aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for `n` `softmax_f16_t` values (unless
/// `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_backward_f16(
    y: *const softmax_f16_t,
    dy: *const softmax_f16_t,
    dx: *mut softmax_f16_t,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe { backward_impl::<f16>(y.cast(), n, dy.cast(), n, dx.cast(), n, 1, n, false) }
}

/// Softmax backward pass of one row of `n` `softmax_bf16_t` values (bfloat16):
/// `dx[i] = y[i] * (dy[i] - dot(dy, y))` by `softmax_backward_f32` on `y` and `dy` widened to
/// `float`, each `dx[i]` rounded to bfloat16.
///
/// In-place use (`dx` may be `dy` or `y`; `y` and `dy` may overlap each other), NULL with
/// `n == 0`, special values and status codes as `softmax_backward_f32`, with 2-byte elements:
/// pointers aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for `n` `softmax_bf16_t` values (unless
/// `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_backward_bf16(
    y: *const softmax_bf16_t,
    dy: *const softmax_bf16_t,
    dx: *mut softmax_bf16_t,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe { backward_impl::<bf16>(y.cast(), n, dy.cast(), n, dx.cast(), n, 1, n, false) }
}

/// Log-softmax backward pass of one row of `n` `softmax_f16_t` values (IEEE binary16):
/// `dx[i] = dy[i] - exp(y[i]) * sum(dy)` by `softmax_log_softmax_backward_f32` on `y` and `dy`
/// widened to `float`, each `dx[i]` rounded to IEEE binary16.
///
/// In-place use (`dx` may be `dy` or `y`), NULL with `n == 0`, special values and status codes
/// as `softmax_log_softmax_backward_f32`, with 2-byte elements: pointers aligned to 2 bytes,
/// `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for `n` `softmax_f16_t` values (unless
/// `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_softmax_backward_f16(
    y: *const softmax_f16_t,
    dy: *const softmax_f16_t,
    dx: *mut softmax_f16_t,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe { backward_impl::<f16>(y.cast(), n, dy.cast(), n, dx.cast(), n, 1, n, true) }
}

/// Log-softmax backward pass of one row of `n` `softmax_bf16_t` values (bfloat16):
/// `dx[i] = dy[i] - exp(y[i]) * sum(dy)` by `softmax_log_softmax_backward_f32` on `y` and `dy`
/// widened to `float`, each `dx[i]` rounded to bfloat16.
///
/// In-place use (`dx` may be `dy` or `y`), NULL with `n == 0`, special values and status codes
/// as `softmax_log_softmax_backward_f32`, with 2-byte elements: pointers aligned to 2 bytes,
/// `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for `n` `softmax_bf16_t` values (unless
/// `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_softmax_backward_bf16(
    y: *const softmax_bf16_t,
    dy: *const softmax_bf16_t,
    dx: *mut softmax_bf16_t,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe { backward_impl::<bf16>(y.cast(), n, dy.cast(), n, dx.cast(), n, 1, n, true) }
}

/// Softmax backward pass of a batch of `rows` rows of `cols` `softmax_f16_t` values (IEEE
/// binary16), row `r` of each array at `r * stride` of that array (`y_stride`, `dy_stride`,
/// `dx_stride`, in elements, at least `cols`): `softmax_backward_rows_f32` on `y` and `dy`
/// widened to `float`, each `dx` rounded to IEEE binary16.
///
/// Layout, in-place use (`dx` may be `dy` or `y` with the same stride), overlap rules, NULL
/// with no element and status codes as `softmax_backward_rows_f32`, with 2-byte elements:
/// pointers aligned to 2 bytes, extents of at most `PTRDIFF_MAX` bytes.
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
/// touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_backward_rows_f16(
    y: *const softmax_f16_t,
    y_stride: usize,
    dy: *const softmax_f16_t,
    dy_stride: usize,
    dx: *mut softmax_f16_t,
    dx_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe {
        backward_impl::<f16>(
            y.cast(),
            y_stride,
            dy.cast(),
            dy_stride,
            dx.cast(),
            dx_stride,
            rows,
            cols,
            false,
        )
    }
}

/// Softmax backward pass of a batch of `rows` rows of `cols` `softmax_bf16_t` values
/// (bfloat16), row `r` of each array at `r * stride` of that array (`y_stride`, `dy_stride`,
/// `dx_stride`, in elements, at least `cols`): `softmax_backward_rows_f32` on `y` and `dy`
/// widened to `float`, each `dx` rounded to bfloat16.
///
/// Layout, in-place use (`dx` may be `dy` or `y` with the same stride), overlap rules, NULL
/// with no element and status codes as `softmax_backward_rows_f32`, with 2-byte elements:
/// pointers aligned to 2 bytes, extents of at most `PTRDIFF_MAX` bytes.
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
/// touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_backward_rows_bf16(
    y: *const softmax_bf16_t,
    y_stride: usize,
    dy: *const softmax_bf16_t,
    dy_stride: usize,
    dx: *mut softmax_bf16_t,
    dx_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe {
        backward_impl::<bf16>(
            y.cast(),
            y_stride,
            dy.cast(),
            dy_stride,
            dx.cast(),
            dx_stride,
            rows,
            cols,
            false,
        )
    }
}

/// Log-softmax backward pass of a batch of `softmax_f16_t` values (IEEE binary16):
/// `softmax_log_softmax_backward_rows_f32` on `y` and `dy` widened to `float`, each `dx`
/// rounded to IEEE binary16.
///
/// Layout, in-place and overlap rules as in `softmax_backward_rows_f16`; status codes as
/// `softmax_log_softmax_backward_rows_f32`, with 2-byte elements.
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
/// touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_log_softmax_backward_rows_f16(
    y: *const softmax_f16_t,
    y_stride: usize,
    dy: *const softmax_f16_t,
    dy_stride: usize,
    dx: *mut softmax_f16_t,
    dx_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe {
        backward_impl::<f16>(
            y.cast(),
            y_stride,
            dy.cast(),
            dy_stride,
            dx.cast(),
            dx_stride,
            rows,
            cols,
            true,
        )
    }
}

/// Log-softmax backward pass of a batch of `softmax_bf16_t` values (bfloat16):
/// `softmax_log_softmax_backward_rows_f32` on `y` and `dy` widened to `float`, each `dx`
/// rounded to bfloat16.
///
/// Layout, in-place and overlap rules as in `softmax_backward_rows_bf16`; status codes as
/// `softmax_log_softmax_backward_rows_f32`, with 2-byte elements.
///
/// # Safety
/// `y` and `dy` must be readable and `dx` writable for the rows described (unless nothing is
/// touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_log_softmax_backward_rows_bf16(
    y: *const softmax_bf16_t,
    y_stride: usize,
    dy: *const softmax_bf16_t,
    dy_stride: usize,
    dx: *mut softmax_bf16_t,
    dx_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe {
        backward_impl::<bf16>(
            y.cast(),
            y_stride,
            dy.cast(),
            dy_stride,
            dx.cast(),
            dx_stride,
            rows,
            cols,
            true,
        )
    }
}

/// Cross-entropy loss of one row of `n` `softmax_f16_t` logits (IEEE binary16) against class
/// `target`, stored as a `float` in `*loss` (not rounded to IEEE binary16); when `dlogits` is
/// not NULL it also receives the gradient `softmax(logits) - onehot(target)`, rounded to IEEE
/// binary16: `softmax_cross_entropy_f32` on the logits widened to `float`.
///
/// As `softmax_cross_entropy_f32`: `n == 0` and `target >= n` are
/// `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked first; `loss` is required (a `float`, aligned to
/// 4 bytes) and may point into `logits` but not into `dlogits`; `dlogits` may be `logits` (in
/// place) and must not overlap it otherwise; special values and status codes as there. The
/// logits and the gradient have 2-byte elements: aligned to 2 bytes, `n * 2` at most
/// `PTRDIFF_MAX`.
///
/// # Safety
/// `logits` must be readable for `n` `softmax_f16_t` values, `loss` writable for one `float`,
/// and `dlogits` (unless NULL) writable for `n` `softmax_f16_t` values.
#[no_mangle]
pub unsafe extern "C" fn softmax_cross_entropy_f16(
    logits: *const softmax_f16_t,
    n: usize,
    target: usize,
    loss: *mut f32,
    dlogits: *mut softmax_f16_t,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe { cross_entropy::<f16>(logits.cast(), n, target, loss, dlogits.cast()) }
}

/// Cross-entropy loss of one row of `n` `softmax_bf16_t` logits (bfloat16) against class
/// `target`, stored as a `float` in `*loss` (not rounded to bfloat16); when `dlogits` is not
/// NULL it also receives the gradient `softmax(logits) - onehot(target)`, rounded to bfloat16:
/// `softmax_cross_entropy_f32` on the logits widened to `float`.
///
/// As `softmax_cross_entropy_f32`: `n == 0` and `target >= n` are
/// `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked first; `loss` is required (a `float`, aligned to
/// 4 bytes) and may point into `logits` but not into `dlogits`; `dlogits` may be `logits` (in
/// place) and must not overlap it otherwise; special values and status codes as there. The
/// logits and the gradient have 2-byte elements: aligned to 2 bytes, `n * 2` at most
/// `PTRDIFF_MAX`.
///
/// # Safety
/// `logits` must be readable for `n` `softmax_bf16_t` values, `loss` writable for one `float`,
/// and `dlogits` (unless NULL) writable for `n` `softmax_bf16_t` values.
#[no_mangle]
pub unsafe extern "C" fn softmax_cross_entropy_bf16(
    logits: *const softmax_bf16_t,
    n: usize,
    target: usize,
    loss: *mut f32,
    dlogits: *mut softmax_bf16_t,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe { cross_entropy::<bf16>(logits.cast(), n, target, loss, dlogits.cast()) }
}

/// Cross-entropy of a batch of `softmax_f16_t` logits (IEEE binary16): row `r` of `cols` logits
/// at `logits + r * logits_stride` against class `targets[r]`, its loss as a `float` in
/// `losses[r]` (not rounded), and with a non-NULL `dlogits` its gradient row, rounded to IEEE
/// binary16, at `dlogits + r * dlogits_stride`: `softmax_cross_entropy_rows_f32` on the logits
/// widened to `float`.
///
/// As `softmax_cross_entropy_rows_f32`: rows whose target is `ignore_index` get loss 0 and a
/// zero gradient row; label smoothing `eps` in `[0, 1]`; the same checks in the same order
/// (smoothing and `cols == 0` first, strides, NULL, alignment: 2 bytes for the logits and the
/// gradient, 4 for `losses`, 8 for the `int64_t` targets; `dlogits` may be `logits` with the
/// same stride (in place); every target read before anything is written), special values and
/// status codes.
///
/// # Safety
/// `logits` must be readable for the rows described, `targets` readable and `losses` writable
/// for `rows` values, and `dlogits` (unless NULL) writable for its rows (unless `rows == 0`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_cross_entropy_rows_f16(
    logits: *const softmax_f16_t,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    ignore_index: i64,
    label_smoothing: f32,
    losses: *mut f32,
    dlogits: *mut softmax_f16_t,
    dlogits_stride: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe {
        cross_entropy_rows::<f16>(
            logits.cast(),
            logits_stride,
            rows,
            cols,
            targets,
            ignore_index,
            label_smoothing,
            losses,
            dlogits.cast(),
            dlogits_stride,
        )
    }
}

/// Cross-entropy of a batch of `softmax_bf16_t` logits (bfloat16): row `r` of `cols` logits at
/// `logits + r * logits_stride` against class `targets[r]`, its loss as a `float` in
/// `losses[r]` (not rounded), and with a non-NULL `dlogits` its gradient row, rounded to
/// bfloat16, at `dlogits + r * dlogits_stride`: `softmax_cross_entropy_rows_f32` on the logits
/// widened to `float`.
///
/// As `softmax_cross_entropy_rows_f32`: rows whose target is `ignore_index` get loss 0 and a
/// zero gradient row; label smoothing `eps` in `[0, 1]`; the same checks in the same order
/// (smoothing and `cols == 0` first, strides, NULL, alignment: 2 bytes for the logits and the
/// gradient, 4 for `losses`, 8 for the `int64_t` targets; `dlogits` may be `logits` with the
/// same stride (in place); every target read before anything is written), special values and
/// status codes.
///
/// # Safety
/// `logits` must be readable for the rows described, `targets` readable and `losses` writable
/// for `rows` values, and `dlogits` (unless NULL) writable for its rows (unless `rows == 0`).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_cross_entropy_rows_bf16(
    logits: *const softmax_bf16_t,
    logits_stride: usize,
    rows: usize,
    cols: usize,
    targets: *const i64,
    ignore_index: i64,
    label_smoothing: f32,
    losses: *mut f32,
    dlogits: *mut softmax_bf16_t,
    dlogits_stride: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe {
        cross_entropy_rows::<bf16>(
            logits.cast(),
            logits_stride,
            rows,
            cols,
            targets,
            ignore_index,
            label_smoothing,
            losses,
            dlogits.cast(),
            dlogits_stride,
        )
    }
}
