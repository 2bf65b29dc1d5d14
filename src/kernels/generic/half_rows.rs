//! The passes of 16-bit rows that read and write the format directly, converting in the
//! registers: pass 1 of two-pass (the (mantissa, exponent) sum) and the output passes of
//! softmax and log-softmax, which `crate::staged_long` runs on the segments of long rows, and
//! three-pass reload softmax through an f32 buffer for rows that fit the cache. The same
//! arithmetic as the f32 passes, on the widened values, so the same bits as widening the
//! row first.

use super::convert::AsIs;
use super::inputs::{Input, Offset, Plain};
use super::pair_sum::{one_loop, pair_sum_src, BLOCKED_MAX};
use super::passes::{
    block_sum_by, dot_src, exp_store_max_src, exp_store_sum, one_walk_reload, tests_stored, Blocks,
    ExpMinus, ExpSum, LaneMap, Map, Maxima, Prob, ReloadSum, ScaleAbove, Shift, Stored, Times,
    PREFETCH,
};
use super::short::{self, log_softmax_offset, lse_of};
use super::walk::{self, Halves, One, OutputAhead, Slice, Source, Through};
use crate::kernels::convert::Half;
use crate::kernels::exp::{shift_for_max, Exp, LARGE};
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

/// `y = f(x)` over a 16-bit row (`x` read through `inp`), rounded to the format;
/// non-temporal stores when asked.
///
/// # Safety
/// `x` is readable and `y` writable for `n` elements, `y` aligned to 2 bytes and equal to
/// `x` or disjoint from it. `x` holds no NaN, and `f` maps every other value (`-inf`
/// included) to a value that is not NaN: the row's pass 1 gave a finite sum.
#[inline(always)]
unsafe fn map_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    (x, y, n): (*const u16, *mut u16, usize),
    inp: &impl Input<V>,
    f: &impl LaneMap<V>,
    non_temporal: bool,
) {
    // SAFETY: the contract; every element is read before it is written.
    unsafe {
        let src = Through(Halves::from_raw(x, n, format, inp.stored_fill(0.0)), inp);
        let mut out = NanFree(Map(f));
        walk::map_to_half_nt::<V, _, _, U>(isa, &src, (format, y), &mut out, non_temporal);
    }
}

/// The output pass of two-pass softmax over a 16-bit row: `y = min(1, exp(x - k*ln2) * r)`
/// (`row` is `(x, y, n)`), minus `c` when `c != 0` (the gradient of smoothed cross-entropy).
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
    c: f32,
    non_temporal: bool,
) {
    let p = Prob::new(isa, Exp::new(isa, k, r));
    // The maps of the f32 pass (`segmented::exp_out`).
    if c != 0.0 {
        let f = ExpMinus {
            p,
            c: V::splat(isa, c),
        };
        // SAFETY: the contract.
        unsafe { map_half::<V, U>(isa, format, row, &Plain, &f, non_temporal) }
    } else {
        // SAFETY: the contract.
        unsafe { map_half::<V, U>(isa, format, row, &Plain, &p, non_temporal) }
    }
}

/// Two-pass softmax of `inp` applied to a 16-bit row `(x, y, n)` as one piece, with the
/// f32 kernel's passes (`forward::softmax_of`, [`Algorithm::TwoPass`](crate::Algorithm)):
/// pass 1 ([`pair_sum_src`]) over the whole row, then `y = min(1, exp(v - k*ln2) / S)`
/// rounded, so the bits of widening the row, running the f32 kernel with that input and
/// rounding. Scaled rows take this (their f32 rows are not cut into segments); `false`,
/// nothing written, for the special-value path. Non-temporal stores when asked.
///
/// # Safety
/// As [`map_half`], except that `x` may hold anything.
#[inline(always)]
pub(crate) unsafe fn softmax_two_pass_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    (x, y, n): (*const u16, *mut u16, usize),
    inp: &impl Input<V>,
    non_temporal: bool,
) -> bool {
    // SAFETY: `x` is readable for `n` elements (the contract).
    let src = unsafe { Halves::from_raw(x, n, format, inp.stored_fill(f32::NEG_INFINITY)) };
    let Some((s, k)) = pair_sum_src::<V, U, _>(isa, &Through(src, inp)) else {
        return false;
    };
    if !s.is_finite() {
        return false;
    }
    let p = Prob::new(isa, Exp::new(isa, k, 1.0 / s));
    // SAFETY: the contract; a finite sum: no NaN in the row, and none out of the map.
    unsafe { map_half::<V, U>(isa, format, (x, y, n), inp, &p, non_temporal) };
    true
}

/// `sum (x - c)` over a 16-bit segment in f64, as `segmented::sum_minus` over the widened
/// values (the same sum, bit for bit).
#[inline(always)]
pub(crate) fn sum_minus_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    x: &[u16],
    c: f32,
) -> f64 {
    let off = Offset::<V>::new(isa, c);
    let fill = Input::<V>::stored_fill(&off, 0.0);
    dot_src(isa, &Through(Halves::new(x, format, fill), &off))
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
    unsafe {
        map_half::<V, U>(
            isa,
            format,
            row,
            &Plain,
            &Shift::new(isa, k, b),
            non_temporal,
        )
    }
}

/// Three-pass reload softmax of a 16-bit row read through `inp` (a scale, for softmax with a
/// temperature) through the f32 buffer `buf`: the maximum of the widened row (the values
/// `inp` gives, stored to `buf`), its exponentials stored to `buf` and summed, then
/// `min(1, buf * (1/sum))` rounded into `y` (`row` is `(x, y, n)`). Each pass is f32
/// reload's on the widened row (the same walks, accumulators and order, and the same
/// products where `inp` scales), so the output is that of widening the row, running the f32
/// kernel with that input and rounding: two passes over the row fewer.
///
/// Returns `false`, with nothing written to `y`, for a short row (the f32 kernel takes
/// another path there) or one that needs the special-value rules (including a NaN the
/// maxima missed): the caller stages those.
///
/// # Safety
/// `x` is readable and `y` writable for `n` elements, `y` aligned to 2 bytes and equal to
/// `x` or disjoint from it; `buf` is writable for `n` f32 values (possibly uninitialised)
/// and overlaps neither.
#[inline(always)]
pub(crate) unsafe fn softmax_reload_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    (x, y, n): (*const u16, *mut u16, usize),
    inp: &impl Input<V>,
    buf: *mut f32,
) -> bool {
    if n <= 1 || short::is_short::<V>(n) {
        return false;
    }
    if one_walk_reload::<V>() {
        // SAFETY: the contract.
        if let Some(done) = unsafe { reload_one_walk::<V, U>(isa, format, (x, y, n), inp, buf) } {
            return done;
        }
    }
    // SAFETY: the contract: `x` is readable for `n` elements until `y` is written, `buf`
    // writable for `n` values and disjoint from the row.
    let m = unsafe { widen_max::<V, U>(isa, format, x, n, inp, buf) };
    if m.is_nan() || m.abs() >= LARGE {
        return false;
    }
    let ex = Exp::new(isa, shift_for_max(m), 1.0);
    // SAFETY: `buf` holds the `n` widened values (written by `widen_max`).
    let s = unsafe { exp_store_sum::<V, U>(isa, &Plain, buf, buf, n, &ex) };
    if s.is_nan() {
        // A NaN the maxima missed: the staged row takes the special-value rules.
        return false;
    }
    // SAFETY: `buf` now holds the `n` exponentials, whose sum is finite; `y` is writable for
    // `n` elements and disjoint from `buf`.
    unsafe { reload_out_half::<V, U>(isa, format, (buf, y, n), (1.0 / s) as f32, None, 0.0) };
    true
}

/// The first two passes of [`softmax_reload_half`] in one walk, on ISAs with
/// [`one_walk_reload`]: the row's exponentials stored to `buf` against its first vector's
/// shift, with its maximum ([`exp_store_max_src`], the walk of f32 rows written out of place),
/// then the output pass from `buf` with the factor and threshold of [`Stored::row`]: the
/// three passes' outputs, bit for bit (see `passes::exp_store_max`).
///
/// `Some(done)` as [`softmax_reload_half`] returns; `None`, with nothing written to `y`, where
/// the three passes must run: the walk declined, or the output pass would have to read the
/// input (the row's shift moved and its threshold lies within [`STORED_TEST`](super::passes::STORED_TEST) of 0).
///
/// # Safety
/// As [`softmax_reload_half`].
#[inline(always)]
unsafe fn reload_one_walk<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    (x, y, n): (*const u16, *mut u16, usize),
    inp: &impl Input<V>,
    buf: *mut f32,
) -> Option<bool> {
    // SAFETY: `x` is readable for `n >= LANES` elements (the row is not short) and `buf`
    // writable for `n` values, disjoint from it (the contract); the walk writes only `buf`.
    let stored = unsafe { exp_store_max_half::<V, U>(isa, format, x, n, inp, buf) }?;
    let (r, lo, k0) = match stored.row() {
        ReloadSum::Scale { r, lo, k0 } => (r, lo, k0),
        ReloadSum::Nan | ReloadSum::Special => return Some(false),
        ReloadSum::Again => return None,
    };
    if !tests_stored(lo) {
        return None;
    }
    // SAFETY: `buf` holds the `n` exponentials, whose sum is not NaN (so none is NaN); `y` is
    // writable for `n` elements and disjoint from `buf`.
    unsafe { reload_out_half::<V, U>(isa, format, (buf, y, n), r, lo, k0) };
    Some(true)
}

/// The walk of [`reload_one_walk`] over the 16-bit row `x` of `n >= LANES` elements read
/// through `inp`: [`exp_store_max_src`] into `buf`, the values those of the widened row's
/// walk, bit for bit.
///
/// # Safety
/// `x` is readable for `n` elements and `buf` writable for `n` values, disjoint from `x`.
#[inline(always)]
pub(crate) unsafe fn exp_store_max_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    x: *const u16,
    n: usize,
    inp: &impl Input<V>,
    buf: *mut f32,
) -> Option<Stored> {
    // SAFETY: the contract.
    unsafe {
        let fill = inp.stored_fill(f32::NEG_INFINITY);
        let src = Through(Halves::from_raw(x, n, format, fill), inp);
        exp_store_max_src::<V, U, _>(isa, &OutputAhead::new(src, buf), buf)
    }
}

/// Widens the 16-bit row `x` of `n` elements of `format` into `buf`, through `inp`,
/// returning its maximum (NaN may or may not be seen): pass 1 of three-pass reload, the
/// maximum of f32's (the same lanes).
///
/// # Safety
/// `x` is readable for `n` elements and `buf` writable for `n` values, disjoint from `x`.
#[inline(always)]
pub(crate) unsafe fn widen_max<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    x: *const u16,
    n: usize,
    inp: &impl Input<V>,
    buf: *mut f32,
) -> f32 {
    let mut mx = Maxima([V::splat(isa, f32::NEG_INFINITY); U]);
    // SAFETY: the contract.
    unsafe {
        let fill = inp.stored_fill(f32::NEG_INFINITY);
        let src = Through(Halves::from_raw(x, n, format, fill), inp);
        walk::map::<V, _, _, U, PREFETCH, false>(isa, &src, buf, &mut mx);
    }
    mx.lanes().reduce_max()
}

/// `y = min(1, e * r)` rounded to `format`, from the f32 exponentials `e` (`row` is
/// `(e, y, n)`): the output pass of three-pass reload, f32's on the same values. Where `lo`
/// is given (`|lo| >=` [`STORED_TEST`](super::passes::STORED_TEST)), the exponentials were stored against the shift `k0`
/// by [`exp_store_max_src`] and those of inputs below `lo` give 0 ([`ScaleAbove`], as
/// `passes::reload_out` tests them). The clamp to 1 is left to the rounding ([`Times`]).
///
/// # Safety
/// `e` is readable for `n` values, none NaN, and `y` writable for `n` elements, disjoint
/// from `e`; `r` is finite.
#[inline(always)]
pub(crate) unsafe fn reload_out_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    row: (*const f32, *mut u16, usize),
    r: f32,
    lo: Option<f32>,
    k0: f32,
) {
    debug_assert!(r.is_finite());
    // SAFETY: the contract; exponentials without NaN times a finite scale: no NaN.
    unsafe {
        match lo {
            None => map_out::<V, U>(isa, format, row, &Times::new(isa, r)),
            Some(lo) => map_out::<V, U>(isa, format, row, &ScaleAbove::unclamped(isa, r, lo, k0)),
        }
    }
}

/// `y = f(e)` rounded to `format`, from the f32 values `e` (`row` is `(e, y, n)`).
///
/// # Safety
/// `e` is readable for `n` values and `y` writable for `n` elements, disjoint from `e`; `f`
/// gives no NaN for them.
#[inline(always)]
unsafe fn map_out<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    (e, y, n): (*const f32, *mut u16, usize),
    f: &impl LaneMap<V>,
) {
    // SAFETY: the contract.
    unsafe {
        let vals = One::from_raw(&Plain, e, n, 0.0);
        let mut out = NanFree(Map(f));
        walk::map_to_half::<V, _, _, U, PREFETCH, false>(isa, &vals, format, y, &mut out);
    }
}

/// Pass 1 of two-pass over a 16-bit row of at most [`BLOCKED_MAX`] elements that also
/// widens the row into `buf` (for an output pass that reads it again), with the operations
/// and order of [`pair_sum_src`] on the widened row, so the same `(S, k)`: where that sums
/// in one loop ([`one_loop`]), the row is widened first and summed from `buf`; otherwise each
/// block's maximum pass stores the values it widened and its sum pass reads them back (one
/// conversion per element instead of two).
///
/// # Safety
/// `buf` is writable for `src.len()` values and disjoint from the row.
#[inline(always)]
unsafe fn block_sum_widen<V: Simd, const U: usize>(
    isa: Token<V>,
    src: &Halves<'_>,
    buf: *mut f32,
) -> Option<(f64, f32)> {
    let n = Source::<V>::len(src);
    debug_assert!(n <= BLOCKED_MAX);
    if one_loop::<V>(n) {
        // SAFETY: `buf` is writable for `n` values and disjoint from the row (the contract);
        // it then holds the widened row.
        unsafe {
            walk::map::<V, _, _, U, 0, false>(isa, src, buf, &mut AsIs);
            return pair_sum_src::<V, U, _>(isa, &One::from_raw(&Plain, buf, n, f32::NEG_INFINITY));
        }
    }
    block_sum_by::<V, _>(isa, n, &mut Widening::<U> { src, buf })
}

/// The blocks of [`block_sum_widen`].
struct Widening<'s, 'a, const U: usize> {
    src: &'s Halves<'a>,
    /// Writable for the row's length (`block_sum_widen`'s contract).
    buf: *mut f32,
}

impl<V: Simd, const U: usize> Blocks<V> for Widening<'_, '_, U> {
    #[inline(always)]
    fn max(&mut self, isa: Token<V>, b0: usize, b1: usize) -> f32 {
        let mut mx = Maxima([V::splat(isa, f32::NEG_INFINITY); U]);
        let block = self.src.slice(b0, b1);
        // SAFETY: `b0..b1` lies in the row, and in `buf` (`block_sum_widen`'s contract).
        unsafe { walk::map::<V, _, _, U, 0, false>(isa, &block, self.buf.add(b0), &mut mx) };
        mx.lanes().reduce_max()
    }

    #[inline(always)]
    fn sum(&mut self, isa: Token<V>, b0: usize, b1: usize, ex: &Exp<V>) -> f64 {
        let mut sum = ExpSum::<V, U, false>::new(isa, ex);
        // SAFETY: `buf[b0..b1]` holds the block's widened values (its maximum pass ran).
        let wide = unsafe { One::from_raw(&Plain, self.buf.add(b0), b1 - b0, f32::NEG_INFINITY) };
        walk::fold::<V, _, _, U, 0>(isa, &wide, &mut sum);
        sum.total()
    }
}

/// Log-softmax of a 16-bit row of at most [`BLOCKED_MAX`] elements through the f32 buffer
/// `buf`: [`block_sum_widen`], then `y = (buf - k*LN2_HI) - b` rounded into `y` (`row` is
/// `(x, y, n)`). The bits of widening the row, running the f32 kernel and rounding, as
/// [`softmax_reload_half`], whose contract and `false` cases this shares.
///
/// With [`Simd::ONE_LOOP_SUM`], reading the format twice instead (pass 1 and the output pass,
/// each converting, as log-sum-exp reads it once) measured slower than widening it once into
/// the buffer (Zen 4, AVX-512, `softmax_log_softmax_rows_*` against f32 in one process,
/// ratios buffer | twice: 4096 bf16 0.69 | 0.67, f16 0.82 | 0.75; 512 x 1000 bf16
/// 0.73 | 0.67, f16 0.80 | 0.72).
///
/// # Safety
/// As [`softmax_reload_half`].
#[inline(always)]
pub(crate) unsafe fn log_softmax_widened<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    (x, y, n): (*const u16, *mut u16, usize),
    buf: *mut f32,
) -> bool {
    if n <= 1 || short::is_short::<V>(n) || n > BLOCKED_MAX {
        return false;
    }
    // SAFETY: `x` is readable for `n` elements and `buf` writable for `n` values, disjoint.
    let sum = unsafe {
        block_sum_widen::<V, U>(isa, &Halves::from_raw(x, n, format, f32::NEG_INFINITY), buf)
    };
    let Some((s, k)) = sum.filter(|(s, _)| !s.is_nan()) else {
        return false;
    };
    let f = Shift::new(isa, k, log_softmax_offset(s, k));
    // SAFETY: `buf` holds the `n` widened values; `y` is writable for `n` elements and
    // disjoint from `buf`.
    unsafe {
        let wide = One::from_raw(&Plain, buf, n, 0.0);
        // No NaN in the row (its sum is not NaN) and finite `k` and `b`: no NaN out (`-inf`
        // entries give `-inf`).
        let mut out = NanFree(Map(&f));
        walk::map_to_half::<V, _, _, U, PREFETCH, false>(isa, &wide, format, y, &mut out);
    }
    true
}

/// Log-sum-exp of a 16-bit row of at most [`BLOCKED_MAX`] elements: the f32 kernel's value
/// for the widened row, from one read of the row where [`pair_sum_src`] sums in one loop
/// ([`one_loop`]), else through the f32 buffer `buf` ([`block_sum_widen`]). `None` for a
/// short row or one that needs the special-value rules.
///
/// # Safety
/// `buf` is writable for `x.len()` values.
#[inline(always)]
pub(crate) unsafe fn logsumexp_widened<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    x: &[u16],
    buf: *mut f32,
) -> Option<f32> {
    let n = x.len();
    if n <= 1 || short::is_short::<V>(n) || n > BLOCKED_MAX {
        return None;
    }
    let src = Halves::new(x, format, f32::NEG_INFINITY);
    let (s, k) = if one_loop::<V>(n) {
        pair_sum_src::<V, U, _>(isa, &src)
    } else {
        // SAFETY: `buf` is writable for `n` values (the contract), and disjoint from `x` (a
        // `&`).
        unsafe { block_sum_widen::<V, U>(isa, &src, buf) }
    }?;
    Some(lse_of(s, k))
}

/// A body whose caller has established that no vector it returns holds a NaN, so that the
/// 16-bit stores skip their NaN fix-up ([`walk::Body::NAN_FREE`]).
struct NanFree<B>(B);

impl<V: Simd, T, B: walk::Body<V, T>> walk::Body<V, T> for NanFree<B> {
    const SPREAD: bool = B::SPREAD;
    const NAN_FREE: bool = true;

    #[inline(always)]
    fn take(&mut self, j: usize, i: usize, item: T) -> V {
        self.0.take(j, i, item)
    }

    #[inline(always)]
    fn stepped(&mut self) {
        self.0.stepped()
    }
}
