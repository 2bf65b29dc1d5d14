//! The 16-bit twins of the forward operations (`forward`, `batch`): softmax (with an algorithm,
//! masked-row flags and a scale), log-softmax and log-sum-exp of one row or a batch, on rows of
//! `softmax_f16_t` and `softmax_bf16_t` (see `half_types`). Each is the generic body of its
//! `_f32` function instantiated for `half::f16` or `half::bf16`: the same checks, statuses and
//! special values, with the rows staged through f32 as the Rust API stages them.

use super::batch::logsumexp_rows;
use super::forward::{
    log_softmax, log_softmax_rows, logsumexp, softmax_ex, softmax_rows_ex, softmax_scaled_rows,
};
use super::{softmax_bf16_t, softmax_f16_t, softmax_status, SOFTMAX_ALGORITHM_AUTO};
use crate::{bf16, f16};

/// Softmax of one row of `n` `softmax_f16_t` values (IEEE binary16) with
/// `SOFTMAX_ALGORITHM_AUTO`: `softmax_f32` on the row widened to `float`, each output rounded
/// to IEEE binary16 (see `softmax_f16_t`).
///
/// Arguments, in-place use (`y == x`; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`),
/// NULL with `n == 0`, special values and status codes as `softmax_f32`, with 2-byte elements:
/// `x` and `y` aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` `softmax_f16_t` values (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_f16(
    x: *const softmax_f16_t,
    y: *mut softmax_f16_t,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe { softmax_ex::<f16>(x.cast(), y.cast(), n, SOFTMAX_ALGORITHM_AUTO) }
}

/// Softmax of one row of `n` `softmax_bf16_t` values (bfloat16) with `SOFTMAX_ALGORITHM_AUTO`:
/// `softmax_f32` on the row widened to `float`, each output rounded to bfloat16 (see
/// `softmax_bf16_t`).
///
/// Arguments, in-place use (`y == x`; any other overlap is `SOFTMAX_STATUS_INVALID_ARGUMENT`),
/// NULL with `n == 0`, special values and status codes as `softmax_f32`, with 2-byte elements:
/// `x` and `y` aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` `softmax_bf16_t` values (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_bf16(
    x: *const softmax_bf16_t,
    y: *mut softmax_bf16_t,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe { softmax_ex::<bf16>(x.cast(), y.cast(), n, SOFTMAX_ALGORITHM_AUTO) }
}

/// Softmax of one row of `n` `softmax_f16_t` values (IEEE binary16) with the given
/// `SOFTMAX_ALGORITHM_*`: `softmax_f32_ex` on the row widened to `float`, each output rounded
/// to IEEE binary16.
///
/// As `softmax_f32_ex` (an unknown `algorithm` is `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked
/// first, even when `n == 0`; in place when `y == x`), with 2-byte elements: `x` and `y`
/// aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` `softmax_f16_t` values (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_f16_ex(
    x: *const softmax_f16_t,
    y: *mut softmax_f16_t,
    n: usize,
    algorithm: u32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe { softmax_ex::<f16>(x.cast(), y.cast(), n, algorithm) }
}

/// Softmax of one row of `n` `softmax_bf16_t` values (bfloat16) with the given
/// `SOFTMAX_ALGORITHM_*`: `softmax_f32_ex` on the row widened to `float`, each output rounded
/// to bfloat16.
///
/// As `softmax_f32_ex` (an unknown `algorithm` is `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked
/// first, even when `n == 0`; in place when `y == x`), with 2-byte elements: `x` and `y`
/// aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` `softmax_bf16_t` values (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_bf16_ex(
    x: *const softmax_bf16_t,
    y: *mut softmax_bf16_t,
    n: usize,
    algorithm: u32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe { softmax_ex::<bf16>(x.cast(), y.cast(), n, algorithm) }
}

/// Log-softmax of one row of `n` `softmax_f16_t` values (IEEE binary16):
/// `softmax_log_softmax_f32` on the row widened to `float`, each output rounded to IEEE
/// binary16.
///
/// Arguments, in-place use (`y == x`), special values and status codes as
/// `softmax_log_softmax_f32`, with 2-byte elements: `x` and `y` aligned to 2 bytes, `n * 2` at
/// most `PTRDIFF_MAX`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` `softmax_f16_t` values (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_softmax_f16(
    x: *const softmax_f16_t,
    y: *mut softmax_f16_t,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe { log_softmax::<f16>(x.cast(), y.cast(), n) }
}

/// Log-softmax of one row of `n` `softmax_bf16_t` values (bfloat16): `softmax_log_softmax_f32`
/// on the row widened to `float`, each output rounded to bfloat16.
///
/// Arguments, in-place use (`y == x`), special values and status codes as
/// `softmax_log_softmax_f32`, with 2-byte elements: `x` and `y` aligned to 2 bytes, `n * 2` at
/// most `PTRDIFF_MAX`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` `softmax_bf16_t` values (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_softmax_bf16(
    x: *const softmax_bf16_t,
    y: *mut softmax_bf16_t,
    n: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe { log_softmax::<bf16>(x.cast(), y.cast(), n) }
}

/// Log-sum-exp of `n` `softmax_f16_t` values (IEEE binary16), `ln(sum_i exp(x[i]))`, stored as
/// a `float` in `*result`: `softmax_logsumexp_f32` on the row widened to `float` (the result is
/// not rounded to IEEE binary16).
///
/// As `softmax_logsumexp_f32` (`-inf` for `n == 0`, where `x` may be NULL; `result` always
/// required, aligned to 4 bytes, and may point into `x`), with `x` aligned to 2 bytes and
/// `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `x` must be readable for `n` `softmax_f16_t` values (unless `n == 0`) and `result` writable
/// for one `float`.
#[no_mangle]
pub unsafe extern "C" fn softmax_logsumexp_f16(
    x: *const softmax_f16_t,
    n: usize,
    result: *mut f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe { logsumexp::<f16>(x.cast(), n, result) }
}

/// Log-sum-exp of `n` `softmax_bf16_t` values (bfloat16), `ln(sum_i exp(x[i]))`, stored as a
/// `float` in `*result`: `softmax_logsumexp_f32` on the row widened to `float` (the result is
/// not rounded to bfloat16).
///
/// As `softmax_logsumexp_f32` (`-inf` for `n == 0`, where `x` may be NULL; `result` always
/// required, aligned to 4 bytes, and may point into `x`), with `x` aligned to 2 bytes and
/// `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `x` must be readable for `n` `softmax_bf16_t` values (unless `n == 0`) and `result` writable
/// for one `float`.
#[no_mangle]
pub unsafe extern "C" fn softmax_logsumexp_bf16(
    x: *const softmax_bf16_t,
    n: usize,
    result: *mut f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe { logsumexp::<bf16>(x.cast(), n, result) }
}

/// Softmax of a batch of `rows` rows of `cols` `softmax_f16_t` values (IEEE binary16), row `r`
/// read from `x + r * x_stride` and written to `y + r * y_stride` (strides in elements, at
/// least `cols`), with the given `SOFTMAX_ALGORITHM_*`: `softmax_rows_f32` on the rows widened
/// to `float`, each output rounded to IEEE binary16.
///
/// Layout, in-place use (`y == x` with `y_stride == x_stride`), overlap rules, NULL with no
/// element, special values and status codes as `softmax_rows_f32`, with 2-byte elements:
/// pointers aligned to 2 bytes, extents of at most `PTRDIFF_MAX` bytes. Elements between rows
/// are neither read nor written.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
pub unsafe extern "C" fn softmax_rows_f16(
    x: *const softmax_f16_t,
    x_stride: usize,
    y: *mut softmax_f16_t,
    y_stride: usize,
    rows: usize,
    cols: usize,
    algorithm: u32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe {
        softmax_rows_ex::<f16>(
            x.cast(),
            x_stride,
            y.cast(),
            y_stride,
            rows,
            cols,
            algorithm,
            0,
        )
    }
}

/// Softmax of a batch of `rows` rows of `cols` `softmax_bf16_t` values (bfloat16), row `r` read
/// from `x + r * x_stride` and written to `y + r * y_stride` (strides in elements, at least
/// `cols`), with the given `SOFTMAX_ALGORITHM_*`: `softmax_rows_f32` on the rows widened to
/// `float`, each output rounded to bfloat16.
///
/// Layout, in-place use (`y == x` with `y_stride == x_stride`), overlap rules, NULL with no
/// element, special values and status codes as `softmax_rows_f32`, with 2-byte elements:
/// pointers aligned to 2 bytes, extents of at most `PTRDIFF_MAX` bytes. Elements between rows
/// are neither read nor written.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
pub unsafe extern "C" fn softmax_rows_bf16(
    x: *const softmax_bf16_t,
    x_stride: usize,
    y: *mut softmax_bf16_t,
    y_stride: usize,
    rows: usize,
    cols: usize,
    algorithm: u32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe {
        softmax_rows_ex::<bf16>(
            x.cast(),
            x_stride,
            y.cast(),
            y_stride,
            rows,
            cols,
            algorithm,
            0,
        )
    }
}

/// `softmax_rows_f16` with `flags`, a combination of `SOFTMAX_FLAG_*` values: with
/// `SOFTMAX_FLAG_ZERO_MASKED_ROWS`, a row of only `-inf` (a fully masked attention row) gives
/// zeros instead of NaN. `flags == 0` is exactly `softmax_rows_f16`.
///
/// As `softmax_rows_f32_ex` on `softmax_f16_t` rows (the algorithm and the flags are checked
/// first, even when nothing is touched), with 2-byte elements.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_rows_f16_ex(
    x: *const softmax_f16_t,
    x_stride: usize,
    y: *mut softmax_f16_t,
    y_stride: usize,
    rows: usize,
    cols: usize,
    algorithm: u32,
    flags: u32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe {
        softmax_rows_ex::<f16>(
            x.cast(),
            x_stride,
            y.cast(),
            y_stride,
            rows,
            cols,
            algorithm,
            flags,
        )
    }
}

/// `softmax_rows_bf16` with `flags`, a combination of `SOFTMAX_FLAG_*` values: with
/// `SOFTMAX_FLAG_ZERO_MASKED_ROWS`, a row of only `-inf` (a fully masked attention row) gives
/// zeros instead of NaN. `flags == 0` is exactly `softmax_rows_bf16`.
///
/// As `softmax_rows_f32_ex` on `softmax_bf16_t` rows (the algorithm and the flags are checked
/// first, even when nothing is touched), with 2-byte elements.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_rows_bf16_ex(
    x: *const softmax_bf16_t,
    x_stride: usize,
    y: *mut softmax_bf16_t,
    y_stride: usize,
    rows: usize,
    cols: usize,
    algorithm: u32,
    flags: u32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe {
        softmax_rows_ex::<bf16>(
            x.cast(),
            x_stride,
            y.cast(),
            y_stride,
            rows,
            cols,
            algorithm,
            flags,
        )
    }
}

/// Log-softmax of a batch of `rows` rows of `cols` `softmax_f16_t` values (IEEE binary16):
/// `softmax_log_softmax_rows_f32` on the rows widened to `float`, each output rounded to IEEE
/// binary16.
///
/// Layout, in-place and overlap rules as in `softmax_rows_f16`; special values and status codes
/// as `softmax_log_softmax_rows_f32`, with 2-byte elements.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_softmax_rows_f16(
    x: *const softmax_f16_t,
    x_stride: usize,
    y: *mut softmax_f16_t,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe { log_softmax_rows::<f16>(x.cast(), x_stride, y.cast(), y_stride, rows, cols) }
}

/// Log-softmax of a batch of `rows` rows of `cols` `softmax_bf16_t` values (bfloat16):
/// `softmax_log_softmax_rows_f32` on the rows widened to `float`, each output rounded to
/// bfloat16.
///
/// Layout, in-place and overlap rules as in `softmax_rows_bf16`; special values and status
/// codes as `softmax_log_softmax_rows_f32`, with 2-byte elements.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
pub unsafe extern "C" fn softmax_log_softmax_rows_bf16(
    x: *const softmax_bf16_t,
    x_stride: usize,
    y: *mut softmax_bf16_t,
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe { log_softmax_rows::<bf16>(x.cast(), x_stride, y.cast(), y_stride, rows, cols) }
}

/// Softmax of `scale * x` for one row of `n` `softmax_f16_t` values (IEEE binary16) with
/// `SOFTMAX_ALGORITHM_AUTO`: `softmax_scaled_f32` on the row widened to `float` (the product
/// `scale * x[i]` in `float`), each output rounded to IEEE binary16.
///
/// As `softmax_scaled_f32` (a `scale` that is not finite is `SOFTMAX_STATUS_INVALID_ARGUMENT`,
/// checked first, even when `n == 0`; in place when `y == x`), with 2-byte elements: `x` and
/// `y` aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` `softmax_f16_t` values (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_scaled_f16(
    x: *const softmax_f16_t,
    y: *mut softmax_f16_t,
    n: usize,
    scale: f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe {
        softmax_scaled_rows::<f16>(
            x.cast(),
            n,
            y.cast(),
            n,
            1,
            n,
            scale,
            SOFTMAX_ALGORITHM_AUTO,
        )
    }
}

/// Softmax of `scale * x` for one row of `n` `softmax_bf16_t` values (bfloat16) with
/// `SOFTMAX_ALGORITHM_AUTO`: `softmax_scaled_f32` on the row widened to `float` (the product
/// `scale * x[i]` in `float`), each output rounded to bfloat16.
///
/// As `softmax_scaled_f32` (a `scale` that is not finite is `SOFTMAX_STATUS_INVALID_ARGUMENT`,
/// checked first, even when `n == 0`; in place when `y == x`), with 2-byte elements: `x` and
/// `y` aligned to 2 bytes, `n * 2` at most `PTRDIFF_MAX`.
///
/// # Safety
/// `x` must be readable and `y` writable for `n` `softmax_bf16_t` values (unless `n == 0`).
#[no_mangle]
pub unsafe extern "C" fn softmax_scaled_bf16(
    x: *const softmax_bf16_t,
    y: *mut softmax_bf16_t,
    n: usize,
    scale: f32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe {
        softmax_scaled_rows::<bf16>(
            x.cast(),
            n,
            y.cast(),
            n,
            1,
            n,
            scale,
            SOFTMAX_ALGORITHM_AUTO,
        )
    }
}

/// Softmax of `scale * x` for a batch of `rows` rows of `cols` `softmax_f16_t` values (IEEE
/// binary16), with the given `SOFTMAX_ALGORITHM_*`: `softmax_scaled_rows_f32` on the rows
/// widened to `float`, each output rounded to IEEE binary16.
///
/// Layout, in-place and overlap rules as in `softmax_rows_f16`; checks (algorithm and scale
/// first), special values and status codes as `softmax_scaled_rows_f32`, with 2-byte elements.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_scaled_rows_f16(
    x: *const softmax_f16_t,
    x_stride: usize,
    y: *mut softmax_f16_t,
    y_stride: usize,
    rows: usize,
    cols: usize,
    scale: f32,
    algorithm: u32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe {
        softmax_scaled_rows::<f16>(
            x.cast(),
            x_stride,
            y.cast(),
            y_stride,
            rows,
            cols,
            scale,
            algorithm,
        )
    }
}

/// Softmax of `scale * x` for a batch of `rows` rows of `cols` `softmax_bf16_t` values
/// (bfloat16), with the given `SOFTMAX_ALGORITHM_*`: `softmax_scaled_rows_f32` on the rows
/// widened to `float`, each output rounded to bfloat16.
///
/// Layout, in-place and overlap rules as in `softmax_rows_bf16`; checks (algorithm and scale
/// first), special values and status codes as `softmax_scaled_rows_f32`, with 2-byte elements.
///
/// # Safety
/// `x` must be readable and `y` writable for the rows described (unless nothing is touched).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_scaled_rows_bf16(
    x: *const softmax_bf16_t,
    x_stride: usize,
    y: *mut softmax_bf16_t,
    y_stride: usize,
    rows: usize,
    cols: usize,
    scale: f32,
    algorithm: u32,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe {
        softmax_scaled_rows::<bf16>(
            x.cast(),
            x_stride,
            y.cast(),
            y_stride,
            rows,
            cols,
            scale,
            algorithm,
        )
    }
}

/// Log-sum-exp of each row of a batch of `rows` rows of `cols` `softmax_f16_t` values (IEEE
/// binary16), `x_stride` apart (in elements): one `float` per row in `out` (not rounded to IEEE
/// binary16), each the value `softmax_logsumexp_f16` gives for the row.
///
/// As `softmax_logsumexp_rows_f32` (`-inf` for `cols == 0`; `out` aligned to 4 bytes and
/// disjoint from the batch `[x, x + (rows - 1) * x_stride + cols)`), with `x` aligned to 2
/// bytes and its extent at most `PTRDIFF_MAX` bytes.
///
/// # Safety
/// `x` must be readable for the rows described and `out` writable for `rows` floats.
#[no_mangle]
pub unsafe extern "C" fn softmax_logsumexp_rows_f16(
    x: *const softmax_f16_t,
    x_stride: usize,
    out: *mut f32,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_f16_t` holds the bits of a `f16`).
    unsafe { logsumexp_rows::<f16>(x.cast(), x_stride, out, rows, cols) }
}

/// Log-sum-exp of each row of a batch of `rows` rows of `cols` `softmax_bf16_t` values
/// (bfloat16), `x_stride` apart (in elements): one `float` per row in `out` (not rounded to
/// bfloat16), each the value `softmax_logsumexp_bf16` gives for the row.
///
/// As `softmax_logsumexp_rows_f32` (`-inf` for `cols == 0`; `out` aligned to 4 bytes and
/// disjoint from the batch `[x, x + (rows - 1) * x_stride + cols)`), with `x` aligned to 2
/// bytes and its extent at most `PTRDIFF_MAX` bytes.
///
/// # Safety
/// `x` must be readable for the rows described and `out` writable for `rows` floats.
#[no_mangle]
pub unsafe extern "C" fn softmax_logsumexp_rows_bf16(
    x: *const softmax_bf16_t,
    x_stride: usize,
    out: *mut f32,
    rows: usize,
    cols: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract (`softmax_bf16_t` holds the bits of a `bf16`).
    unsafe { logsumexp_rows::<bf16>(x.cast(), x_stride, out, rows, cols) }
}
