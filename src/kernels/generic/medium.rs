//! Batches of medium rows (more vectors than [`short`](super::short) holds in registers, at
//! most [`MEDIUM_VECS`]): pass 1 of two-pass ([`pair_sum_src`]) of two rows at a time,
//! interleaved, so that one row's dependent chain (maximum, shift, exponentials, fold,
//! logarithm) overlaps the other's.
//!
//! The operations are those of `pair_sum_src` on a row of one block or chunk, in the same
//! order (the shift: the row's, or in the one loop ([`one_loop`]) the first vector's unless the
//! row reaches [`REACH`] binades above it; `U` accumulators folded into f64 lanes every
//! [`FOLD`] steps, the tail vectors to accumulators `0, 1, ...`, the pairwise total, rescaled
//! to the row's shift), so each row's `(S, k)` is bit for bit what the one-row call computes:
//! a batch gives what a loop of single rows gives, on every ISA. The maxima come first here,
//! in a pass of their own over the two rows (they are exact whatever the order).

use super::inputs::Input;
#[cfg(doc)]
use super::pair_sum::pair_sum_src;
use super::pair_sum::{one_loop, REACH};
use super::passes::{fold, k_min, pow2_f64, wide_total, FOLD};
use super::short::{vector, SHORT_VECS};
use super::storage::AsF32;
use crate::kernels::exp::{shift_for_max, Exp, LARGE};
use crate::kernels::simd::{Simd, Token};

/// The most vectors a medium row takes: the rows of 9 to 32 vectors (AVX-512: 129 to 512
/// elements; AVX2: 65 to 256), which the blocked sum reads as one block.
pub(crate) const MEDIUM_VECS: usize = 32;

/// Whether a row of `n` elements is medium for `V`.
#[inline(always)]
pub(crate) fn is_medium<V: Simd>(n: usize) -> bool {
    n > SHORT_VECS * V::LANES && n <= MEDIUM_VECS * V::LANES
}

/// `(S, k)` with `sum_i e^{x_i} = S * 2^k` for each of the two rows at `x` (`n` elements
/// each, medium), as `pair_sum_src` gives it; `None` when a row needs the special-value path
/// (the caller then takes the one-row call for both).
///
/// # Safety
/// Both rows are readable for `n` elements.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn pair_sums<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: [*const f32; 2],
    n: usize,
) -> Option<[(f64, f32); 2]> {
    let l = V::LANES;
    debug_assert!(is_medium::<V>(n));
    let vecs = n.div_ceil(l);
    // The maxima (exact whatever the order), one running maximum per row.
    let mut m = [V::splat(isa, f32::NEG_INFINITY); 2];
    for j in 0..vecs {
        for (mr, &xr) in m.iter_mut().zip(&x) {
            // SAFETY: `j < vecs`, and the rows are readable for `n` (the contract).
            *mr = V::max(*mr, unsafe {
                vector::<V, _, false>(isa, AsF32, inp, xr, j, n)
            });
        }
    }
    let kmin = k_min();
    // `k`: each row's shift; `sh`: the one its terms are summed against.
    let (mut k, mut sh) = ([0.0f32; 2], [0.0f32; 2]);
    for r in 0..2 {
        let bm = m[r].reduce_max();
        if bm.is_nan() || bm >= LARGE {
            return None;
        }
        k[r] = shift_for_max(bm).max(kmin);
        if k[r] <= kmin {
            return None;
        }
        sh[r] = k[r];
        if one_loop::<V>(n) {
            // SAFETY: the row is readable for `n >= LANES` elements.
            let first = unsafe { vector::<V, _, false>(isa, AsF32, inp, x[r], 0, n) };
            let m0 = first.reduce_max();
            if m0.is_nan() || m0 >= LARGE {
                return None;
            }
            let k0 = shift_for_max(m0).max(kmin);
            if V::any_gt(m[r], V::splat(isa, (k0 + REACH) * std::f32::consts::LN_2)) {
                // `pair_sum_src` raises its shift to the row's (and gives up where that
                // would not raise it: a NaN hid lanes from the maxima).
                if k[r] <= k0 {
                    return None;
                }
            } else if k0 <= k[r] {
                sh[r] = k0;
            } else {
                return None;
            }
        }
    }
    let ex = [Exp::new(isa, sh[0], 1.0), Exp::new(isa, sh[1], 1.0)];
    let mut acc = [[V::splat(isa, 0.0); U]; 2];
    let mut wide = [V::wide_zero(isa); 2];
    let step = U * l;
    let (mut i, mut steps) = (0, 0);
    while i + step <= n {
        for t in 0..U {
            for ((a, ex), &xr) in acc.iter_mut().zip(&ex).zip(&x) {
                // SAFETY: `i + t * l + l <= i + step <= n`.
                a[t] = ex.eval_add(
                    unsafe { vector::<V, _, false>(isa, AsF32, inp, xr, i / l + t, n) },
                    a[t],
                );
            }
        }
        i += step;
        steps += 1;
        if steps == FOLD {
            for (a, w) in acc.iter_mut().zip(&mut wide) {
                fold(isa, a, w);
            }
            steps = 0;
        }
    }
    // The tail: the remaining full vectors and the partial one to accumulators 0, 1, ...
    for t in 0..U {
        if i + t * l < n {
            for ((a, ex), &xr) in acc.iter_mut().zip(&ex).zip(&x) {
                // SAFETY: `i + t * l < n`.
                a[t] = ex.eval_add(
                    unsafe { vector::<V, _, false>(isa, AsF32, inp, xr, i / l + t, n) },
                    a[t],
                );
            }
        }
    }
    let mut out = [(0.0f64, 0.0f32); 2];
    for r in 0..2 {
        fold(isa, &mut acc[r], &mut wide[r]);
        let total = wide_total::<V>(wide[r]);
        if !total.is_finite() {
            return None;
        }
        out[r] = (total * pow2_f64(sh[r] - k[r]), k[r]);
    }
    Some(out)
}
