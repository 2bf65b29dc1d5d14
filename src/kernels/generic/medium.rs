//! Batches of medium rows (more vectors than [`short`](super::short) holds in registers, at
//! most [`MEDIUM_VECS`]): pass 1 of the blocked sum ([`block_sum`](super::passes::block_sum))
//! of two rows at a time, interleaved, so that one row's dependent chain (maximum, shift,
//! exponentials, fold, logarithm) overlaps the other's.
//!
//! The operations are those of `block_sum` on a row of one block, in the same order (lane
//! maxima, the scalar shift, `U` accumulators folded into f64 lanes every [`FOLD`] steps, the
//! tail vectors to accumulators `0, 1, ...`, the pairwise total), so each row's `(S, k)` is
//! bit for bit what the one-row call computes: a batch gives what a loop of single rows
//! gives, on every ISA.

use super::inputs::Input;
use super::passes::{fold, k_min, wide_total, FOLD};
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
/// each, medium), as `block_sum` gives it; `None` when a row needs the special-value path
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
    let mut k = [0.0f32; 2];
    for (k, mr) in k.iter_mut().zip(&m) {
        let bm = mr.reduce_max();
        if bm.is_nan() || bm >= LARGE {
            return None;
        }
        *k = shift_for_max(bm).max(kmin);
        if *k <= kmin {
            return None;
        }
    }
    let ex = [Exp::new(isa, k[0], 1.0), Exp::new(isa, k[1], 1.0)];
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
    for (((o, a), w), &k) in out.iter_mut().zip(&mut acc).zip(&mut wide).zip(&k) {
        fold(isa, a, w);
        *o = (wide_total::<V>(*w), k);
    }
    Some(out)
}
