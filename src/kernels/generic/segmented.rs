//! The per-segment pieces of long rows (see `crate::segmented`, which splits a row into
//! fixed-size segments, runs these on them in parallel and combines the partial results in
//! segment order). Each is one pass of an existing algorithm over one segment: the pass-1
//! sums and maxima, and the output passes against the row's combined constants.

use super::inputs::{Offset, Plain};
use super::pair_sum::pair_sum;
use super::passes::{
    block_sum, dot, exp_store_max, exp_store_sum, map_store, map_store_nt, max, one_walk_reload,
    reload_out, sum_exp, ExpMinus, Prob, Scale, Shift, Stored, PREFETCH,
};
use crate::kernels::exp::Exp;
use crate::kernels::simd::{Simd, Token};
use crate::rows::InOut;

/// Pass 1 of two-pass: `sum e^x = S * 2^k` over the segment, or `None` (see [`pair_sum`]).
#[inline(always)]
pub(crate) fn pair_sum_of<V: Simd, const U: usize>(isa: Token<V>, x: &[f32]) -> Option<(f64, f32)> {
    pair_sum::<V, U>(isa, &Plain, x)
}

/// Pass 1 of blocked two-pass: as [`pair_sum_of`], with a shift per block ([`block_sum`]).
#[inline(always)]
pub(crate) fn block_sum_of<V: Simd, const U: usize>(
    isa: Token<V>,
    x: &[f32],
) -> Option<(f64, f32)> {
    block_sum::<V, U>(isa, &Plain, x)
}

/// Pass 2 of three-pass recompute: `sum exp(x - k*ln2)` in f64.
#[inline(always)]
pub(crate) fn sum_exp_of<V: Simd, const U: usize>(isa: Token<V>, x: &[f32], k: f32) -> f64 {
    sum_exp::<V, U, PREFETCH>(isa, &Plain, x, &Exp::new(isa, k, 1.0))
}

/// The segment's maximum (pass 1 of three-pass; a NaN may or may not be seen).
#[inline(always)]
pub(crate) fn max_of<V: Simd, const U: usize>(isa: Token<V>, x: &[f32]) -> f32 {
    max::<V, U, PREFETCH>(isa, &Plain, x)
}

/// `sum (x - c)` over the segment in f64 (the mean of smoothed cross-entropy).
#[inline(always)]
pub(crate) fn sum_minus<V: Simd, const U: usize>(isa: Token<V>, x: &[f32], c: f32) -> f64 {
    dot::<V, U>(isa, &Offset::<V>::new(isa, c), x)
}

/// Pass 2 of three-pass reload: `y = exp(x - k*ln2)`, returning the segment's sum.
#[inline(always)]
pub(crate) fn exp_store_sum_of<V: Simd, const U: usize>(
    isa: Token<V>,
    io: InOut<'_>,
    k: f32,
) -> f64 {
    // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
    unsafe {
        exp_store_sum::<V, U>(
            isa,
            &Plain,
            io.x(),
            io.y(),
            io.len(),
            &Exp::new(isa, k, 1.0),
        )
    }
}

/// The first two passes of three-pass reload in one walk ([`exp_store_max`]): `None` where
/// the walk asks for the three passes. Only for ISAs with [`one_walk_reload`] (the kernel
/// table holds this entry for them alone), segments of at least a vector, and outputs
/// disjoint from the input (`crate::segmented` checks the row once).
#[inline(always)]
pub(crate) fn exp_store_max_of<V: Simd, const U: usize>(
    isa: Token<V>,
    io: InOut<'_>,
) -> Option<Stored> {
    debug_assert!(one_walk_reload::<V>() && !std::ptr::eq(io.x(), io.y()));
    if io.len() < V::LANES {
        return None;
    }
    // SAFETY: the pointers of `io` are valid for `io.len() >= LANES` elements (`InOut`'s
    // invariant), equal or disjoint.
    unsafe { exp_store_max::<V, U>(isa, &Plain, io.x(), io.y(), io.len()) }
}

/// The output pass after [`exp_store_max_of`] stored the segment against its shift `k0`:
/// `y = min(1, y * r)`, and 0 where `x < lo` when the row's shift moved ([`reload_out`]).
#[inline(always)]
pub(crate) fn reload_out_of<V: Simd, const U: usize>(
    isa: Token<V>,
    io: InOut<'_>,
    r: f32,
    lo: Option<f32>,
    k0: f32,
) {
    // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant),
    // `y` equal to or disjoint from `x`.
    unsafe { reload_out::<V, U>(isa, &Plain, io.x(), io.y(), io.len(), (r, lo, k0)) };
}

/// Pass 3 of three-pass reload: `y *= r` in place.
#[inline(always)]
pub(crate) fn scale_of<V: Simd, const U: usize>(isa: Token<V>, io: InOut<'_>, r: f32) {
    // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
    unsafe { map_store::<V, U, false>(isa, &Plain, io.y(), io.y(), io.len(), &Scale::new(isa, r)) };
}

/// The output pass of two-pass softmax and of the cross-entropy gradient:
/// `y = exp(x - k*ln2) * r - c`.
#[inline(always)]
pub(crate) fn exp_out<V: Simd, const U: usize>(
    isa: Token<V>,
    io: InOut<'_>,
    k: f32,
    r: f64,
    c: f32,
    non_temporal: bool,
) {
    let ex = Exp::new(isa, k, r);
    if c != 0.0 {
        let f = ExpMinus {
            p: Prob::new(isa, ex),
            c: V::splat(isa, c),
        };
        // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
        unsafe { map_store_nt::<V, U>(isa, &Plain, io.x(), io.y(), io.len(), &f, non_temporal) };
    } else {
        // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
        unsafe {
            map_store_nt::<V, U>(
                isa,
                &Plain,
                io.x(),
                io.y(),
                io.len(),
                &Prob::new(isa, ex),
                non_temporal,
            )
        };
    }
}

/// The output pass of log-softmax: `y = (x - k*LN2_HI) - b`.
#[inline(always)]
pub(crate) fn shift_out<V: Simd, const U: usize>(
    isa: Token<V>,
    io: InOut<'_>,
    k: f32,
    b: f32,
    non_temporal: bool,
) {
    // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
    unsafe {
        map_store_nt::<V, U>(
            isa,
            &Plain,
            io.x(),
            io.y(),
            io.len(),
            &Shift::new(isa, k, b),
            non_temporal,
        )
    };
}
