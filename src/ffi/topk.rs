//! The C ABI of top-k gating and sampling. Argument rules as in the module docs of `mod.rs`.

use super::check::{disjoint, extent, non_null, require, span};
use super::{guard_status, softmax_status, validated, SOFTMAX_STATUS_INVALID_ARGUMENT};
use crate::rows::RowsIn;
use crate::{Error, Sampling, Softmax, TopkOptions};

/// Gating flag: normalise the `k` weights of a row over the selected entries (they sum to 1)
/// instead of reporting their share of the whole row's softmax.
pub const SOFTMAX_TOPK_RENORMALIZE: u32 = 1;

/// Top-k softmax gating (mixture-of-experts routing) of a batch: for each of `rows` rows of
/// `cols` logits (row `r` at `logits + r * stride`), the `k` largest entries' indices, in
/// descending order of value (equal values: the lower index first), into
/// `indices + r * indices_stride`, and their weights into `weights + r * weights_stride`:
/// the row's softmax at those indices, or with `SOFTMAX_TOPK_RENORMALIZE` the softmax over
/// the `k` entries alone. Strides are in elements (`stride >= cols`, output strides `>= k`).
/// One selection pass without sorting the row; no probability row is written.
///
/// Special values (identical on every ISA): a row holding a NaN, or of only `-inf`, gives NaN
/// weights and indices `0..k-1`; with `c` entries at `+inf` those share the mass (`1/c` each,
/// or `1/c'` over the `c'` selected when renormalising), every other entry gets 0; finite
/// logits of any magnitude work.
///
/// `k == 0`, `k > cols`, `cols > INT32_MAX` and flags outside `SOFTMAX_TOPK_*` are
/// `SOFTMAX_STATUS_INVALID_ARGUMENT`, checked first. Pointers may be NULL when `rows == 0`.
/// The outputs must not overlap each other or the logits.
///
/// Returns `SOFTMAX_STATUS_OK`, `SOFTMAX_STATUS_NULL_POINTER` or
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (the above, strides too small, extent overflow,
/// misaligned pointer, overlap).
///
/// # Safety
/// `logits` must be readable, and `weights` / `indices` writable, for the rows described.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_topk_softmax_rows_f32(
    logits: *const f32,
    stride: usize,
    rows: usize,
    cols: usize,
    k: usize,
    flags: u32,
    weights: *mut f32,
    weights_stride: usize,
    indices: *mut i32,
    indices_stride: usize,
) -> softmax_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        softmax_topk_softmax_rows_scaled_f32(
            logits,
            stride,
            rows,
            cols,
            k,
            1.0,
            flags,
            weights,
            weights_stride,
            indices,
            indices_stride,
        )
    }
}

/// `softmax_topk_softmax_rows_f32` of `scale * logits` (an inverse temperature, fused into
/// the loads). `scale` must be finite and positive (`SOFTMAX_STATUS_INVALID_ARGUMENT`). The
/// products are computed in float; one that overflows counts as `+inf` (or `-inf`).
///
/// # Safety
/// As `softmax_topk_softmax_rows_f32`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_topk_softmax_rows_scaled_f32(
    logits: *const f32,
    stride: usize,
    rows: usize,
    cols: usize,
    k: usize,
    scale: f32,
    flags: u32,
    weights: *mut f32,
    weights_stride: usize,
    indices: *mut i32,
    indices_stride: usize,
) -> softmax_status {
    guard_status(|| {
        require(k >= 1 && k <= cols && cols <= i32::MAX as usize)?;
        require(scale.is_finite() && scale > 0.0)?;
        require(flags & !SOFTMAX_TOPK_RENORMALIZE == 0)?;
        let x_ext = extent(rows, cols, stride)?;
        let w_ext = extent(rows, k, weights_stride)?;
        let i_ext = extent(rows, k, indices_stride)?;
        if rows == 0 {
            return Ok(());
        }
        non_null(&[logits.cast(), weights.cast(), indices.cast()])?;
        let (xs, ws, is) = (
            span(logits, x_ext)?,
            span(weights, w_ext)?,
            span(indices, i_ext)?,
        );
        disjoint(xs, ws)?;
        disjoint(xs, is)?;
        disjoint(ws, is)?;
        // SAFETY: each pointer is non-null, aligned, its extent within isize::MAX bytes
        // (`span`) and accessible by the caller's contract; the three extents are pairwise
        // disjoint, so the mutable slices alias nothing.
        let (x, w, i) = unsafe {
            (
                std::slice::from_raw_parts(logits, x_ext),
                std::slice::from_raw_parts_mut(weights, w_ext),
                std::slice::from_raw_parts_mut(indices, i_ext),
            )
        };
        let batch = validated(RowsIn::new(x, stride, rows, cols))?;
        let options = TopkOptions {
            scale,
            renormalize: flags & SOFTMAX_TOPK_RENORMALIZE != 0,
        };
        Softmax::new().run_topk_rows(batch, options, (w, weights_stride), (i, indices_stride), k);
        Ok(())
    })
}

/// The sampling parameters as the safe API takes them.
fn sampling_arg(temperature: f32, top_k: usize, top_p: f32) -> Sampling {
    Sampling {
        temperature,
        top_k,
        top_p,
    }
}

/// A refusal of the safe API: bad parameters and NaN logits are the caller's
/// (`SOFTMAX_STATUS_INVALID_ARGUMENT`), anything else a bug.
fn sample_status<T>(r: Result<T, Error>) -> Result<T, softmax_status> {
    match r {
        Err(Error::InvalidArgument(_)) => Err(SOFTMAX_STATUS_INVALID_ARGUMENT),
        r => validated(r),
    }
}

/// One index drawn from `softmax(logits / temperature)` over `n` logits, restricted to its
/// candidates, with the caller's uniform random number `u` in `[0, 1)` (the library holds no
/// random state: the same arguments always give the same index):
/// 1. the candidates are the `top_k` most probable entries (`top_k == 0`: all), in
///    descending order of probability (equal: the lower index first);
/// 2. the nucleus is the shortest prefix of them whose mass reaches `top_p` times the
///    candidates' mass (`top_p == 1`: all of them);
/// 3. `*index` is the first nucleus entry whose cumulative mass exceeds `u` times the
///    nucleus's mass.
///
/// `temperature == 0` (or one whose reciprocal overflows a float) is the argmax, the lower
/// index on ties. Masses are accumulated in double precision, so the draw is that of an exact
/// sort-based computation except when `u` lies within rounding of a boundary. The row is read
/// two to four times and never sorted (only the candidates near the draw are). `+inf`
/// logits share the mass equally; a row of only `-inf` draws uniformly. The scaled logits
/// are `logits[i] * (1 / temperature)` in float; a product that overflows counts as `+inf`.
///
/// `SOFTMAX_STATUS_INVALID_ARGUMENT` (and `*index` untouched): `n == 0`, `n > INT32_MAX`, a
/// temperature negative or not finite, `top_p` outside `(0, 1]`, `u` outside `[0, 1)`, a NaN
/// logit. `SOFTMAX_STATUS_NULL_POINTER`: `logits` or `index` NULL.
///
/// # Safety
/// `logits` must be readable for `n` floats and `index` writable.
#[no_mangle]
pub unsafe extern "C" fn softmax_sample_f32(
    logits: *const f32,
    n: usize,
    temperature: f32,
    top_k: usize,
    top_p: f32,
    u: f32,
    index: *mut usize,
) -> softmax_status {
    guard_status(|| {
        let s = sampling_arg(temperature, top_k, top_p);
        // Scalar arguments first: the draw's parameters, then the row length.
        sample_status(s.draw(u))?;
        require(n >= 1 && n <= i32::MAX as usize)?;
        non_null(&[logits.cast(), index.cast()])?;
        span(logits, n)?;
        span(index, 1)?;
        // SAFETY: `logits` is non-null, aligned, within isize::MAX bytes and readable for `n`
        // floats by the caller's contract.
        let x = unsafe { std::slice::from_raw_parts(logits, n) };
        let i = sample_status(Softmax::new().sample(x, s, u))?;
        // SAFETY: `index` is non-null, aligned and writable by the caller's contract.
        unsafe { index.write(i) };
        Ok(())
    })
}

/// `softmax_sample_f32` for each of `rows` rows of `cols` logits (row `r` at
/// `logits + r * stride`, `stride >= cols`), drawn with `u[r]` into `indices[r]`. Rows are
/// independent and split over the library's threads. Every parameter and `u[r]` is checked
/// before anything is written; a row holding a NaN gives `SOFTMAX_STATUS_INVALID_ARGUMENT`
/// with the other rows' draws written. Pointers may be NULL when `rows == 0`; `indices` must
/// not overlap `logits` or `u`.
///
/// # Safety
/// `logits` and `u` must be readable for the batch and `rows` floats, `indices` writable for
/// `rows` values.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn softmax_sample_rows_f32(
    logits: *const f32,
    stride: usize,
    rows: usize,
    cols: usize,
    temperature: f32,
    top_k: usize,
    top_p: f32,
    u: *const f32,
    indices: *mut usize,
) -> softmax_status {
    guard_status(|| {
        let s = sampling_arg(temperature, top_k, top_p);
        sample_status(s.draw(0.0))?;
        require(cols >= 1 && cols <= i32::MAX as usize)?;
        let x_ext = extent(rows, cols, stride)?;
        if rows == 0 {
            return Ok(());
        }
        non_null(&[logits.cast(), u.cast(), indices.cast()])?;
        let (xs, us, is) = (span(logits, x_ext)?, span(u, rows)?, span(indices, rows)?);
        disjoint(xs, is)?;
        disjoint(us, is)?;
        // SAFETY: each pointer is non-null, aligned, its extent within isize::MAX bytes and
        // accessible by the caller's contract; `indices` is disjoint from both inputs.
        let (x, u, out) = unsafe {
            (
                std::slice::from_raw_parts(logits, x_ext),
                std::slice::from_raw_parts(u, rows),
                std::slice::from_raw_parts_mut(indices, rows),
            )
        };
        sample_status(Softmax::new().sample_rows(x, stride, rows, cols, s, u, out))
    })
}
