//! The passes of long 16-bit rows (`crate::staged_long`) that read and write the format
//! directly, converting in the registers: pass 1 of two-pass (the (mantissa, exponent) sum)
//! and the output passes of softmax and log-softmax. The same arithmetic as the f32 passes
//! of `segmented`, on the widened values.

use super::pair_sum::pair_sum_src;
use super::passes::{LaneMap, Map, Prob, Shift, PREFETCH};
use super::walk::{self, Halves};
use crate::kernels::convert::Half;
use crate::kernels::exp::Exp;
use crate::kernels::simd::{Simd, Token};

/// Pass 1 of two-pass over a 16-bit row: `sum e^x = S * 2^k`, or `None` for the
/// special-value path (as `pair_sum`).
#[inline(always)]
pub(crate) fn pair_sum_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    x: &[u16],
) -> Option<(f64, f32)> {
    pair_sum_src::<V, U, _>(isa, &Halves::new(x, format, f32::NEG_INFINITY))
}

/// `y = f(x)` over a 16-bit row, rounded to the format; non-temporal stores when asked.
///
/// # Safety
/// `x` is readable and `y` writable for `n` elements, `y` aligned to 2 bytes and equal to
/// `x` or disjoint from it.
#[inline(always)]
unsafe fn map_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    (x, y, n): (*const u16, *mut u16, usize),
    f: &impl LaneMap<V>,
    non_temporal: bool,
) {
    // SAFETY: the contract; every element is read before it is written.
    unsafe {
        let src = Halves::from_raw(x, n, format, 0.0);
        if non_temporal {
            walk::map_to_half::<V, _, _, U, PREFETCH, true>(isa, &src, format, y, &mut Map(f));
        } else {
            walk::map_to_half::<V, _, _, U, PREFETCH, false>(isa, &src, format, y, &mut Map(f));
        }
    }
}

/// The output pass of two-pass softmax over a 16-bit row: `y = min(1, exp(x - k*ln2) * r)`
/// (`row` is `(x, y, n)`).
///
/// # Safety
/// As [`map_half`].
#[inline(always)]
pub(crate) unsafe fn exp_out_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    row: (*const u16, *mut u16, usize),
    k: f32,
    r: f64,
    non_temporal: bool,
) {
    let f = Prob::new(isa, Exp::new(isa, k, r));
    // SAFETY: the contract.
    unsafe { map_half::<V, U>(isa, format, row, &f, non_temporal) }
}

/// The output pass of log-softmax over a 16-bit row: `y = min(0, (x - k*LN2_HI) - b)`.
///
/// # Safety
/// As [`map_half`].
#[inline(always)]
pub(crate) unsafe fn shift_out_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    row: (*const u16, *mut u16, usize),
    k: f32,
    b: f32,
    non_temporal: bool,
) {
    // SAFETY: the contract.
    unsafe { map_half::<V, U>(isa, format, row, &Shift::new(isa, k, b), non_temporal) }
}
