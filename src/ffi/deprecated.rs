//! The names of 0.1, from before every exported symbol took the `softmax_` prefix: thin
//! wrappers over the renamed functions, so that existing C callers still build and link.
//! They are removed in 1.0 (see CHANGELOG.md).
#![allow(clippy::too_many_arguments)]

use super::*;

/// @deprecated Renamed `softmax_log_softmax_f32` in 0.2.0: use that name.
/// This alias only calls it, and is removed in 1.0.
///
/// # Safety
/// As `softmax_log_softmax_f32`.
#[no_mangle]
#[deprecated(since = "0.2.0", note = "renamed softmax_log_softmax_f32")]
pub unsafe extern "C" fn log_softmax_f32(x: *const f32, y: *mut f32, n: usize) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe { softmax_log_softmax_f32(x, y, n) }
}

/// @deprecated Renamed `softmax_logsumexp_f32` in 0.2.0: use that name.
/// This alias only calls it, and is removed in 1.0.
///
/// # Safety
/// As `softmax_logsumexp_f32`.
#[no_mangle]
#[deprecated(since = "0.2.0", note = "renamed softmax_logsumexp_f32")]
pub unsafe extern "C" fn logsumexp_f32(
    x: *const f32,
    n: usize,
    result: *mut f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe { softmax_logsumexp_f32(x, n, result) }
}

/// @deprecated Renamed `softmax_log_softmax_rows_f32` in 0.2.0: use that name.
/// This alias only calls it, and is removed in 1.0.
///
/// # Safety
/// As `softmax_log_softmax_rows_f32`.
#[no_mangle]
#[deprecated(since = "0.2.0", note = "renamed softmax_log_softmax_rows_f32")]
pub unsafe extern "C" fn log_softmax_rows_f32(
    x: *const f32,
    x_stride: usize,
    y: *mut f32,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe { softmax_log_softmax_rows_f32(x, x_stride, y, y_stride, rows, cols) }
}

/// @deprecated Renamed `softmax_log_softmax_backward_f32` in 0.2.0: use that name.
/// This alias only calls it, and is removed in 1.0.
///
/// # Safety
/// As `softmax_log_softmax_backward_f32`.
#[no_mangle]
#[deprecated(since = "0.2.0", note = "renamed softmax_log_softmax_backward_f32")]
pub unsafe extern "C" fn log_softmax_backward_f32(
    y: *const f32,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe { softmax_log_softmax_backward_f32(y, dy, dx, n) }
}

/// @deprecated Renamed `softmax_log_softmax_backward_rows_f32` in 0.2.0: use that name.
/// This alias only calls it, and is removed in 1.0.
///
/// # Safety
/// As `softmax_log_softmax_backward_rows_f32`.
#[no_mangle]
#[deprecated(
    since = "0.2.0",
    note = "renamed softmax_log_softmax_backward_rows_f32"
)]
pub unsafe extern "C" fn log_softmax_backward_rows_f32(
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
    unsafe {
        softmax_log_softmax_backward_rows_f32(y, y_stride, dy, dy_stride, dx, dx_stride, rows, cols)
    }
}

/// @deprecated Renamed `softmax_cross_entropy_f32` in 0.2.0: use that name.
/// This alias only calls it, and is removed in 1.0.
///
/// # Safety
/// As `softmax_cross_entropy_f32`.
#[no_mangle]
#[deprecated(since = "0.2.0", note = "renamed softmax_cross_entropy_f32")]
pub unsafe extern "C" fn cross_entropy_f32(
    logits: *const f32,
    n: usize,
    target: usize,
    loss: *mut f32,
    dlogits: *mut f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe { softmax_cross_entropy_f32(logits, n, target, loss, dlogits) }
}

/// @deprecated Renamed `softmax_cross_entropy_rows_f32` in 0.2.0: use that name.
/// This alias only calls it, and is removed in 1.0.
///
/// # Safety
/// As `softmax_cross_entropy_rows_f32`.
#[no_mangle]
#[deprecated(since = "0.2.0", note = "renamed softmax_cross_entropy_rows_f32")]
pub unsafe extern "C" fn cross_entropy_rows_f32(
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
        softmax_cross_entropy_rows_f32(
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
