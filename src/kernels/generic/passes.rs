//! The passes over memory, each a [`walk`] with its body: maxima, sums of exponentials (f32
//! accumulators folded into f64 lanes), dot products in a fixed order, lane-wise maps, and
//! pass 1 of the blocked two-pass algorithm. Each is `#[inline(always)]` so it is compiled
//! inside the calling ISA's `#[target_feature]` entry point.

use super::inputs::{Input, Plain};
use super::pair_sum::REACH;
use super::walk::{self, Ahead, Body, One, OutputAhead, Slice, Source, Two};
use crate::kernels::exp::{shift_for_max, Exp, LARGE, LN2_HI};
use crate::kernels::simd::{Simd, Token};

/// Elements per block of the blocked two-pass algorithm (its maximum pass and its prefetch):
/// 8 KiB, so the second read of a block in the blocked algorithms hits L1.
pub(crate) const BLOCK: usize = 2048;

/// Elements ahead of the current position that whole-row loops prefetch.
pub(crate) const PREFETCH: usize = 1024;

/// The exponent shift below which a row counts as "large" (its maximum is under `-LARGE`).
#[inline]
pub(crate) fn k_min() -> f32 {
    shift_for_max(-LARGE)
}

/// Steps of `U` vectors that each f32 accumulator of the sums of exponentials runs before the
/// accumulators are added (pairwise) and folded into the f64 lanes ([`fold`]): a lane's f32
/// partial sum holds at most `FOLD` terms per accumulator, whatever the row length, so rows of
/// equal terms (whose roundings all go one way) stay accurate (issue 11: runs of 128 equal terms
/// per lane drifted by 16 ULP, 31 ULP at n = 264 458). Zen 4 under load, one interleaved run
/// (elements/ns at 4096 relative to whole-block f32 runs; AVX2 | AVX-512 log-sum-exp):
/// FOLD=1 0.73 | 0.73, 2 0.79 | 0.83, 4 0.85 | 0.87, 8 0.90 | 0.91; worst constant-row softmax
/// error (every length to 1M): 2.5 ULP for 1, 2 and 4, 3.1 for 8. 4 is the cheapest with the
/// margin of the smaller runs.
pub(crate) const FOLD: usize = 4;

/// The one pairwise order of the crate's sums: the back half of the first `n` elements of `v`
/// added onto the front (`v[i] = add(v[i], v[w - h + i])`, `h = w / 2`) until one is left, in
/// `v[0]`. Used for f32 vectors ([`tree_sum`]), f64 scalars ([`pairwise`]) and f64 vectors
/// (the tile path's lane-wise totals), which must add in the same order to give the same bits.
/// A macro, so that every use is its caller's own code (compiled inside the ISA's entry point
/// where a closure would not be).
macro_rules! pairwise_in_place {
    ($v:expr, $n:expr, $add:expr) => {{
        let mut w = $n;
        while w > 1 {
            let h = w / 2;
            for i in 0..h {
                $v[i] = ($add)($v[i], $v[w - h + i]);
            }
            w -= h;
        }
    }};
}
pub(crate) use pairwise_in_place;

/// `acc[0] + ... + acc[U-1]`, added pairwise.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn tree_sum<V: Simd, const U: usize>(acc: &[V; U]) -> V {
    let mut v = *acc;
    pairwise_in_place!(v, U, V::add);
    v[0]
}

/// Adds the f32 accumulators (pairwise) into the f64 lanes `wide` and clears them.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn fold<V: Simd, const U: usize>(isa: Token<V>, acc: &mut [V; U], wide: &mut V::Wide) {
    *wide = tree_sum(acc).wide_add(*wide);
    *acc = [V::splat(isa, 0.0); U];
}

/// `v[0] + ... + v[n-1]` for `n <= 32`, added pairwise in a fixed order. Inlined, so that
/// with the callers' constant `n` the loops unroll into straight-line adds (as a call it
/// ran a generic loop through memory, a tenth of a 256-element softmax).
#[inline(always)]
pub(crate) fn pairwise(v: &mut [f64; 32], n: usize) -> f64 {
    pairwise_in_place!(v, n, |a: f64, b: f64| a + b);
    if n == 0 {
        0.0
    } else {
        v[0]
    }
}

/// The sum of the f64 lanes of `w`, added pairwise in lane order.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn wide_total<V: Simd>(w: V::Wide) -> f64 {
    let mut a = [0.0f64; 16];
    V::wide_to_array(w, &mut a);
    let mut v = [0.0f64; 32];
    v[..16].copy_from_slice(&a);
    pairwise(&mut v, V::LANES)
}

/// Largest input of the row `x` (NaN may or may not be seen; callers do not rely on it).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn max<V: Simd, const U: usize, const PF: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
) -> f32 {
    lane_max::<V, U, PF>(isa, inp, x).reduce_max()
}

/// `acc[j] = f(acc[j])`, written as a visit of every accumulator so that each is named by a
/// constant index: a walk's tail hands `j` at run time, and an access by it can keep the
/// accumulators in memory for the whole walk (AVX-512, the one walk of 16-bit reload rows
/// loaded and stored its sums on the stack every step).
#[inline(always)]
pub(crate) fn update<V: Copy, const U: usize>(acc: &mut [V; U], j: usize, f: impl Fn(V) -> V) {
    for (k, a) in acc.iter_mut().enumerate() {
        if k == j {
            *a = f(*a);
        }
    }
}

/// The body of [`lane_max`]: one running maximum per accumulator.
pub(crate) struct Maxima<V, const U: usize>(pub [V; U]);

impl<V: Simd, const U: usize> Maxima<V, U> {
    /// The maximum of each lane position over the accumulators (added in index order).
    #[inline(always)]
    pub(crate) fn lanes(&self) -> V {
        let mut m = self.0[0];
        for a in &self.0[1..] {
            m = V::max(m, *a);
        }
        m
    }
}

impl<V: Simd, const U: usize> Body<V, V> for Maxima<V, U> {
    #[inline(always)]
    fn take(&mut self, j: usize, _i: usize, v: V) -> V {
        update(&mut self.0, j, |m| V::max(m, v));
        v
    }
}

/// The maximum of each lane position: lane `l` holds the largest input at an index `i` with
/// `i % LANES == l` (`-inf` where there is none; NaN may or may not be seen).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn lane_max<V: Simd, const U: usize, const PF: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
) -> V {
    let mut b = Maxima([V::splat(isa, f32::NEG_INFINITY); U]);
    walk::fold::<V, _, _, U, PF>(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut b);
    b.lanes()
}

/// The body of the sums of exponentials: f32 accumulators folded into f64 lanes every
/// [`FOLD`] steps, and, when `STORE`, the exponentials handed back for the walk to store.
/// Without a store the exponential is clamped at the underflow threshold instead of masked
/// ([`Exp::eval_add`]), which a sum against the row's own shift can ignore: its terms are at
/// most `2^-126` each, and the sum is at least 0.7.
pub(crate) struct ExpSum<'e, V: Simd, const U: usize, const STORE: bool> {
    ex: &'e Exp<V>,
    isa: Token<V>,
    acc: [V; U],
    wide: V::Wide,
    steps: usize,
}

impl<'e, V: Simd, const U: usize, const STORE: bool> ExpSum<'e, V, U, STORE> {
    /// Empty sums of `exp` by `ex`.
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, ex: &'e Exp<V>) -> Self {
        ExpSum {
            ex,
            isa,
            acc: [V::splat(isa, 0.0); U],
            wide: V::wide_zero(isa),
            steps: 0,
        }
    }

    /// Folds what the accumulators hold into the f64 lanes (the end of a chunk).
    #[inline(always)]
    pub(crate) fn flush(&mut self) {
        fold(self.isa, &mut self.acc, &mut self.wide);
        self.steps = 0;
    }

    /// The total, added pairwise in lane order.
    #[inline(always)]
    pub(crate) fn total(mut self) -> f64 {
        self.flush();
        wide_total::<V>(self.wide)
    }
}

impl<V: Simd, const U: usize, const STORE: bool> Body<V, V> for ExpSum<'_, V, U, STORE> {
    #[inline(always)]
    fn take(&mut self, j: usize, _i: usize, v: V) -> V {
        if STORE {
            let e = self.ex.eval(v);
            update(&mut self.acc, j, |a| a.add(e));
            e
        } else {
            self.acc[j] = self.ex.eval_add(v, self.acc[j]);
            v
        }
    }
    #[inline(always)]
    fn stepped(&mut self) {
        self.steps += 1;
        if self.steps == FOLD {
            self.flush();
        }
    }
}

/// `sum_i exp(input(x_i) - k*ln2) * s` in f64, the f32 partial sums folded every [`FOLD`]
/// steps.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn sum_exp<V: Simd, const U: usize, const PF: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    ex: &Exp<V>,
) -> f64 {
    let mut b = ExpSum::<V, U, false>::new(isa, ex);
    walk::fold::<V, _, _, U, PF>(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut b);
    b.total()
}

/// Accumulators of [`dot`]: element `i` of a row goes to accumulator `i % DOT_LANES` on every
/// ISA.
const DOT_LANES: usize = 32;

/// `sum_i input(a_i)`, accumulated in f64 in the same order on every ISA, so the result is
/// bit-identical across ISAs for every input ([`dot_src`] over the row).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn dot<V: Simd, const U: usize>(isa: Token<V>, inp: &impl Input<V>, a: &[f32]) -> f64 {
    dot_src(isa, &One::new(inp, a, 0.0))
}

/// `sum_i a_i * b_i`, as [`dot`] ([`dot_src`] over the pair of rows).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn dot_pair<V: Simd, const U: usize>(isa: Token<V>, a: &[f32], b: &[f32]) -> f64 {
    dot_src(isa, &Two::new(a, b, (0.0, 0.0)))
}

/// A term of [`dot_src`]: one vector, added; or a pair, multiplied and added.
pub(crate) trait DotTerm<V: Simd>: Copy {
    /// `acc + self` (a vector) or `acc + a * b` (a pair), in f64 lanes.
    fn add_to(self, acc: V::Wide) -> V::Wide;
}

impl<V: Simd> DotTerm<V> for V {
    #[inline(always)]
    fn add_to(self, acc: V::Wide) -> V::Wide {
        self.wide_add(acc)
    }
}

impl<V: Simd> DotTerm<V> for (V, V) {
    #[inline(always)]
    fn add_to(self, acc: V::Wide) -> V::Wide {
        V::wide_mul_add(self.0, self.1, acc)
    }
}

/// The sum of a source's terms (its vectors, or the products of its pairs), its lanes past
/// the end reading as 0, accumulated in f64 in the same order on every ISA and for every
/// source, so an f32 row and a 16-bit row of the same values give the same bits.
///
/// Every product of two f32 is exact in f64, and element `i` is added to accumulator
/// `i % 32` (each ISA holds the 32 accumulators as `32 / LANES` vectors of f64 lanes, and pads
/// the row's end with zeros, which leave an accumulator unchanged); the 32 accumulators are
/// then added pairwise in a fixed order. The error is that of f64 summation: at most about
/// `(n/32 + 5) * 2^-53 * sum_i |a_i * b_i|`, so cancellation between terms of up to 2^29
/// times the result's magnitude is exact to f32 precision. No f32 rounding: terms near the
/// f32 range cannot overflow.
#[inline(always)]
pub(crate) fn dot_src<V: Simd, S: Source<V>>(isa: Token<V>, src: &S) -> f64
where
    S::Item: DotTerm<V>,
{
    let (l, n) = (V::LANES, src.len());
    let per = DOT_LANES / l;
    let mut acc = [V::wide_zero(isa); 8];
    // The 32-element steps need `32 / LANES` vectors, a count no const generic can state:
    // the loop is written out here rather than as a walk.
    let mut i = 0;
    while i + DOT_LANES <= n {
        for (j, s) in acc[..per].iter_mut().enumerate() {
            // SAFETY: `i + j * l + l <= i + DOT_LANES <= n`: inside the source.
            *s = unsafe { src.at(isa, i + j * l) }.add_to(*s);
        }
        i += DOT_LANES;
    }
    for (j, s) in acc[..per].iter_mut().enumerate() {
        let o = i + j * l;
        if o + l <= n {
            // SAFETY: `o + l <= n`: inside the source.
            *s = unsafe { src.at(isa, o) }.add_to(*s);
        } else if o < n {
            // SAFETY: `o < n < o + l`: the source's last `n - o` elements.
            *s = unsafe { src.part(isa, o, n - o) }.add_to(*s);
        }
    }
    let mut lanes = [0.0f64; 32];
    let mut w = [0.0f64; 16];
    for (j, s) in acc[..per].iter().enumerate() {
        V::wide_to_array(*s, &mut w);
        lanes[j * l..(j + 1) * l].copy_from_slice(&w[..l]);
    }
    pairwise(&mut lanes, DOT_LANES)
}

/// A lane-wise map applied by [`map_store`] (a trait rather than a closure so that
/// `#[inline(always)]` guarantees it is compiled inside the ISA's entry point).
pub(crate) trait LaneMap<V> {
    /// The map.
    fn apply(&self, v: V) -> V;
}

/// `x -> min(1, exp(x - k*ln2) * s)`: a softmax output, clamped into its range `[0, 1]` (the
/// rounding of `1/sum` and of the exponential could otherwise give `1 + 2^-23`). The clamp
/// keeps NaN ([`Simd::min`]).
pub(crate) struct Prob<V> {
    ex: Exp<V>,
    one: V,
}

impl<V: Simd> Prob<V> {
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, ex: Exp<V>) -> Self {
        Prob {
            ex,
            one: V::splat(isa, 1.0),
        }
    }
}

impl<V: Simd> LaneMap<V> for Prob<V> {
    #[inline(always)]
    fn apply(&self, v: V) -> V {
        V::min(self.one, self.ex.eval(v))
    }
}

/// `x -> min(1, exp(x - k*ln2) * s) - c` (the smoothed cross-entropy gradient).
pub(crate) struct ExpMinus<V> {
    pub p: Prob<V>,
    pub c: V,
}

impl<V: Simd> LaneMap<V> for ExpMinus<V> {
    #[inline(always)]
    fn apply(&self, v: V) -> V {
        self.p.apply(v).sub(self.c)
    }
}

/// `x -> min(0, (x - k*LN2_HI) - b)`, one FMA, one subtraction and the clamp of a
/// log-probability into its range (NaN kept).
pub(crate) struct Shift<V> {
    neg_k: V,
    ln2_hi: V,
    b: V,
    zero: V,
}

impl<V: Simd> Shift<V> {
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, k: f32, b: f32) -> Self {
        Shift {
            neg_k: V::splat(isa, -k),
            ln2_hi: V::splat(isa, LN2_HI),
            b: V::splat(isa, b),
            zero: V::splat(isa, 0.0),
        }
    }
}

impl<V: Simd> LaneMap<V> for Shift<V> {
    #[inline(always)]
    fn apply(&self, v: V) -> V {
        V::min(self.zero, V::fma(self.neg_k, self.ln2_hi, v).sub(self.b))
    }
}

/// `x -> min(1, x * s)`: stored exponentials normalised into probabilities (NaN kept).
pub(crate) struct Scale<V> {
    s: V,
    one: V,
}

impl<V: Simd> Scale<V> {
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, s: f32) -> Self {
        Scale {
            s: V::splat(isa, s),
            one: V::splat(isa, 1.0),
        }
    }
}

impl<V: Simd> LaneMap<V> for Scale<V> {
    #[inline(always)]
    fn apply(&self, v: V) -> V {
        V::min(self.one, v.mul(self.s))
    }
}

/// `e -> e * s`: [`Scale`] without its clamp, for the output passes that round to a 16-bit
/// format. The clamp only removes the excess of a product above 1, and that excess is a few
/// f32 ULPs: `e` is one of the terms of the sum whose reciprocal (rounded) is `s`, and that sum
/// is within `2^-21` of the exact one (at most [`FOLD`] terms per f32 chain, then f64), so
/// `e * s < 1 + 2^-20`. f16 rounds everything below `1 + 2^-11` to 1 (bf16 below `1 + 2^-8`),
/// so the rounded outputs are the clamped ones, bit for bit, with one operation fewer.
pub(crate) struct Times<V>(V);

impl<V: Simd> Times<V> {
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, s: f32) -> Self {
        Times(V::splat(isa, s))
    }
}

impl<V: Simd> LaneMap<V> for Times<V> {
    #[inline(always)]
    fn apply(&self, v: V) -> V {
        v.mul(self.0)
    }
}

/// A lane-wise map of two inputs, applied by [`map2_store_nt`].
pub(crate) trait LaneMap2<V> {
    /// The map.
    fn apply(&self, a: V, b: V) -> V;
}

/// The body of [`map_store`]: `f(v)`.
pub(crate) struct Map<'f, F>(pub &'f F);

impl<V: Simd, F: LaneMap<V>> Body<V, V> for Map<'_, F> {
    #[inline(always)]
    fn take(&mut self, _j: usize, _i: usize, v: V) -> V {
        self.0.apply(v)
    }
}

/// The body of [`map2_store_nt`]: `f(a, b)`.
pub(crate) struct Map2<'f, F>(pub &'f F);

impl<V: Simd, F: LaneMap2<V>> Body<V, (V, V)> for Map2<'_, F> {
    #[inline(always)]
    fn take(&mut self, _j: usize, _i: usize, (a, b): (V, V)) -> V {
        self.0.apply(a, b)
    }
}

/// Writes `f(input(x_i))` to `y_i`; with `NT`, the aligned body uses non-temporal stores
/// (`NT` needs [`walk::nt_usable`]).
///
/// # Safety
/// `x` is readable and `y` writable for `n` elements, `y` equal to `x` or disjoint from it.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn map_store<V: Simd, const U: usize, const NT: bool>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
    f: &impl LaneMap<V>,
) {
    // SAFETY: the contract.
    unsafe {
        let src = One::from_raw(inp, x, n, 0.0);
        walk::map::<V, _, _, U, PREFETCH, NT>(isa, &src, y, &mut Map(f));
    }
}

/// `y_i = f(input(x_i))`, with non-temporal stores when `non_temporal` and usable.
///
/// # Safety
/// As [`map_store`].
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn map_store_nt<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
    f: &impl LaneMap<V>,
    non_temporal: bool,
) {
    // SAFETY: the contract; `NT` only where usable.
    unsafe {
        if walk::nt_usable(y, non_temporal) {
            map_store::<V, U, true>(isa, inp, x, y, n, f);
        } else {
            map_store::<V, U, false>(isa, inp, x, y, n, f);
        }
    }
}

/// `y_i = f(a_i, b_i)`, with non-temporal stores when `non_temporal` and usable.
///
/// # Safety
/// `a` and `b` are readable and `y` writable for `n` elements, `y` equal to or disjoint from
/// each input.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn map2_store_nt<V: Simd, const U: usize>(
    isa: Token<V>,
    a: *const f32,
    b: *const f32,
    y: *mut f32,
    n: usize,
    f: &impl LaneMap2<V>,
    non_temporal: bool,
) {
    // SAFETY: the contract; `NT` only where usable.
    unsafe {
        let src = Two::from_raw(a, b, n, (0.0, 0.0));
        if walk::nt_usable(y, non_temporal) {
            walk::map::<V, _, _, U, PREFETCH, true>(isa, &src, y, &mut Map2(f));
        } else {
            walk::map::<V, _, _, U, PREFETCH, false>(isa, &src, y, &mut Map2(f));
        }
    }
}

/// `y_i = exp(input(x_i) - k*ln2)`, returning their sum (f64, as [`sum_exp`]): pass 2 of
/// three-pass reload.
///
/// # Safety
/// As [`map_store`].
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn exp_store_sum<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
    ex: &Exp<V>,
) -> f64 {
    let mut b = ExpSum::<V, U, true>::new(isa, ex);
    // SAFETY: the contract.
    unsafe {
        let src = OutputAhead::new(One::from_raw(inp, x, n, f32::NEG_INFINITY), y);
        walk::map::<V, _, _, U, PREFETCH, false>(isa, &src, y, &mut b);
    }
    b.total()
}

/// What [`exp_store_sum_max`] found.
pub(crate) enum ReloadSum {
    /// The exponentials are in `y`, stored against the shift `k0`; scaling them by `r`
    /// gives the softmax, where the input is at or above `lo` when that is given (`0` below
    /// it): [`reload_out`].
    Scale { r: f32, lo: Option<f32>, k0: f32 },
    /// A NaN reached the sum (the row's softmax is NaN).
    Nan,
    /// The row needs the special-value path (a maximum of magnitude `LARGE` or more, or NaN).
    Special,
    /// The row needs the three passes (its maximum is far above its first vector's, or its
    /// first vector gives no shift); `y` holds garbage.
    Again,
}

/// Whether `V` stores the exponentials of three-pass reload in the walk that finds the
/// maximum ([`exp_store_max`]): with [`Simd::ONE_LOOP_SUM`] and the table form of the
/// exponential (AVX-512; the polynomial form's underflow is not a threshold on the input, so
/// the output pass could not zero exactly what the three passes do). AVX2 has the table form
/// but 16 registers: there the walk spills, and measured slower than the three passes (Zen 4,
/// `softmax_f32`, elements/ns, three passes | one walk: 1M 2.55 | 1.96, 32000 2.56 | 2.19,
/// 4096 2.34 | 2.08).
#[inline(always)]
pub(crate) const fn one_walk_reload<V: Simd>() -> bool {
    V::ONE_LOOP_SUM && V::EXP_TABLE
}

/// What the walk of [`exp_store_max`] leaves: the sum of the stored exponentials against the
/// shift `k0` of the first vector, and the largest input (NaN may or may not be seen).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stored {
    /// `sum exp(input(x_i) - k0*ln2)` (f64, NaN when a NaN reached it).
    pub s: f64,
    /// The shift the exponentials were stored against.
    pub k0: f32,
    /// The largest input.
    pub max: f32,
}

impl Stored {
    /// The factor that turns the stored exponentials into the three passes' outputs for a
    /// row (or a segment of one) whose shift is `k >= k0` and whose sum against `k` is
    /// `1/r_k`: `r_k * 2^(k0 - k)`, exact (`k - k0 <= REACH + 1` and `r_k >= 2^-64`), and,
    /// where `k0 < k`, the threshold below which those outputs are 0.
    #[inline(always)]
    pub(crate) fn scale(&self, r_k: f32, k: f32) -> (f32, Option<f32>) {
        let r = r_k * pow2_f64(self.k0 - k) as f32;
        // The threshold of `Exp::new(k, ..)`: inputs below it give 0 against `k`, but a
        // small positive value against a smaller `k0`.
        let lo = (k - 126.0) * std::f32::consts::LN_2;
        (r, (self.k0 < k).then_some(lo))
    }

    /// What a whole row stored by [`exp_store_max`] needs next: its own shift `k` applied to
    /// the sum (`k - k0` is within `[0, REACH + 1]`: a normal product, exact) and the output
    /// pass's factor and threshold ([`Stored::scale`]), or the special-value path, or NaN.
    #[inline(always)]
    pub(crate) fn row(&self) -> ReloadSum {
        if self.max.is_nan() || self.max.abs() >= LARGE {
            return ReloadSum::Special;
        }
        let k = shift_for_max(self.max);
        let s = self.s * pow2_f64(self.k0 - k);
        if s.is_nan() {
            return ReloadSum::Nan;
        }
        let (r, lo) = self.scale((1.0 / s) as f32, k);
        ReloadSum::Scale { r, lo, k0: self.k0 }
    }
}

/// The body of [`exp_store_max`]: the stored sum of exponentials and the running maximum
/// per accumulator. (Keeping the minimum too, to skip the input in the output pass where no
/// entry lies below the threshold, cost more than it saved: AVX-512, one row of 128K
/// 4.6 -> 4.1 elements/ns, segmented rows of 256K and 1M no faster.)
struct ExpSumMax<'e, V: Simd, const U: usize> {
    sum: ExpSum<'e, V, U, true>,
    max: Maxima<V, U>,
}

impl<V: Simd, const U: usize> Body<V, V> for ExpSumMax<'_, V, U> {
    #[inline(always)]
    fn take(&mut self, j: usize, i: usize, v: V) -> V {
        self.max.take(j, i, v);
        self.sum.take(j, i, v)
    }
    #[inline(always)]
    fn stepped(&mut self) {
        self.sum.stepped();
    }
}

/// The first two passes of three-pass reload in one walk, for ISAs with
/// [`one_walk_reload`]: `y_i = exp(input(x_i) - k0*ln2)` stored and summed
/// against the shift `k0` of the row's first vector, with the row's maximum kept in the same
/// walk ([`Stored`]).
///
/// `None` when the first vector gives no shift (NaN, an infinity, `|max| >= LARGE`), or when
/// the row reaches [`REACH`] binades above `2^k0` (the stored values may have overflowed), or
/// when its maximum's shift is below `k0` (a NaN hid lanes from the maxima): the three
/// passes must run, and `y` holds garbage.
///
/// Where the row's shift is `k >= k0`, every stored value of an input at or above the three
/// passes' underflow threshold `(k - 126)*ln2` is the one they store (against `k`) times the
/// exact power of two `2^(k - k0)`, and so is the sum, unless an input lies below that
/// threshold: they store 0 for it and this a tiny value, at most `2^-125` of the sum, which
/// the output pass must zero ([`Stored::scale`] gives the threshold; the sum may then differ
/// from theirs in its last bit). An output below `2^-126` could also differ in its last bit,
/// where the three passes' exponential is itself below `2^-126` and rounded twice.
///
/// # Safety
/// `x` is readable and `y` writable for `n >= LANES` elements, equal or disjoint. (Where they
/// are equal the input is gone when `None` comes back: the caller must have it elsewhere.)
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn exp_store_max<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
) -> Option<Stored> {
    // SAFETY: `x` is readable for `n` elements (the contract).
    let row = unsafe { One::from_raw(inp, x, n, f32::NEG_INFINITY) };
    // SAFETY: `y` is writable for `n` elements, equal to or disjoint from `x` (the contract).
    unsafe { exp_store_max_src::<V, U, _>(isa, &OutputAhead::new(row, y), y) }
}

/// [`exp_store_max`] over any source of at least `LANES` elements whose lanes past the end
/// read as `-inf`: a 16-bit row then stores the exponentials of its widened values, bit for
/// bit.
///
/// # Safety
/// `y` is writable for `src.len()` elements, equal to the source's row or disjoint from it.
#[inline(always)]
pub(crate) unsafe fn exp_store_max_src<V: Simd, const U: usize, S: Source<V, Item = V>>(
    isa: Token<V>,
    src: &S,
    y: *mut f32,
) -> Option<Stored> {
    debug_assert!(src.len() >= V::LANES);
    // SAFETY: `len >= LANES`.
    let m0 = unsafe { src.at(isa, 0) }.reduce_max();
    if m0.is_nan() || m0.abs() >= LARGE {
        return None;
    }
    let k0 = shift_for_max(m0);
    let ex = Exp::new(isa, k0, 1.0);
    let mut b = ExpSumMax {
        sum: ExpSum::<V, U, true>::new(isa, &ex),
        max: Maxima([V::splat(isa, f32::NEG_INFINITY); U]),
    };
    // SAFETY: the contract.
    unsafe { walk::map::<V, _, _, U, PREFETCH, false>(isa, src, y, &mut b) };
    let lanes = b.max.lanes();
    let max = lanes.reduce_max();
    let hi = V::splat(isa, (k0 + REACH) * std::f32::consts::LN_2);
    // (`shift(max) < k0` only where a NaN hid lanes from the maxima.)
    if V::any_gt(lanes, hi) || (!max.is_nan() && shift_for_max(max) < k0) {
        return None;
    }
    Some(Stored {
        s: b.sum.total(),
        k0,
        max,
    })
}

/// [`exp_store_max`] over a whole row, with the row's own shift applied: what the output
/// pass needs.
///
/// # Safety
/// As [`exp_store_max`].
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn exp_store_sum_max<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
) -> ReloadSum {
    // SAFETY: the contract.
    unsafe { exp_store_max::<V, U>(isa, inp, x, y, n) }.map_or(ReloadSum::Again, |st| st.row())
}

/// The output pass after [`exp_store_max`]: `y = min(1, y * r)` in place, and where `lo` is
/// given (the shift moved from the stored values' `k0`), 0 where the input is below `lo`.
///
/// Where `|lo| >= 32`, that test reads the stored value instead of the input: `e < T` for
/// `T = exp(lo - k0*ln2)` computed as the stored values are. Next to `lo`, neighbouring f32
/// inputs are at least `2^-20` apart, so their exponentials differ by a factor of at least
/// `1 + 9.5e-7`, far more than twice the exponential's relative error (1.6e-7): `e(x) >= T`
/// exactly where `x >= lo` (inputs below the stored values' own threshold are stored as 0,
/// and `T > 0`). The pass then reads one stream instead of two. Closer to 0 (rows whose
/// maximum lies between about 55 and 120) it reads the input.
///
/// # Safety
/// `x` is readable and `y` readable and writable for `n` elements, equal or disjoint.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn reload_out<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
    (r, lo, k0): (f32, Option<f32>, f32),
) {
    match lo {
        // SAFETY: `y` is readable and writable for `n` elements (the contract).
        None => unsafe { map_store::<V, U, false>(isa, &Plain, y, y, n, &Scale::new(isa, r)) },
        Some(lo) if tests_stored(Some(lo)) => {
            let f = ScaleAbove::new(isa, r, lo, k0);
            // SAFETY: as above.
            unsafe { map_store::<V, U, false>(isa, &Plain, y, y, n, &f) }
        }
        Some(lo) => {
            let f = MaskedScale::new(isa, r, lo, *inp);
            // SAFETY: `x` readable, `y` readable and writable, equal or disjoint (the
            // contract).
            unsafe { map2_store_nt::<V, U>(isa, y, x, y, n, &f, false) }
        }
    }
}

/// The distance of the threshold `lo` from 0 from which [`reload_out`] tests the stored
/// value instead of the input ([`ScaleAbove`]).
pub(crate) const STORED_TEST: f32 = 32.0;

/// Whether the output pass after [`exp_store_max`] with the threshold `lo` (`None`: the shift
/// did not move) reads only the stored values: no threshold, or one at least [`STORED_TEST`]
/// from 0. (Otherwise it must test the input: [`MaskedScale`].)
#[inline(always)]
pub(crate) fn tests_stored(lo: Option<f32>) -> bool {
    lo.is_none_or(|lo| lo.abs() >= STORED_TEST)
}

/// `e -> min(1, e * s)` where `e >= t`, 0 below ([`reload_out`]); with `M` = [`Times`], the
/// same without the clamp (for outputs rounded to a 16-bit format).
pub(crate) struct ScaleAbove<V, M = Scale<V>> {
    scale: M,
    t: V,
}

impl<V: Simd> ScaleAbove<V> {
    /// The map of exponentials stored against `k0` whose inputs below `lo` (`|lo| >=`
    /// [`STORED_TEST`]) must give 0 and the others `min(1, e * r)`: `t = exp(lo - k0*ln2)`
    /// computed as the stored values are (see [`reload_out`]).
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, r: f32, lo: f32, k0: f32) -> Self {
        ScaleAbove {
            scale: Scale::new(isa, r),
            t: Self::threshold(isa, lo, k0),
        }
    }

    /// [`ScaleAbove::new`] without the clamp ([`Times`]).
    #[inline(always)]
    pub(crate) fn unclamped(isa: Token<V>, r: f32, lo: f32, k0: f32) -> ScaleAbove<V, Times<V>> {
        ScaleAbove {
            scale: Times::new(isa, r),
            t: Self::threshold(isa, lo, k0),
        }
    }

    /// `exp(lo - k0*ln2)` as the stored values are computed, in every lane.
    #[inline(always)]
    fn threshold(isa: Token<V>, lo: f32, k0: f32) -> V {
        debug_assert!(lo.abs() >= STORED_TEST);
        V::splat(
            isa,
            Exp::new(isa, k0, 1.0).eval(V::splat(isa, lo)).reduce_max(),
        )
    }
}

impl<V: Simd, M: LaneMap<V>> LaneMap<V> for ScaleAbove<V, M> {
    #[inline(always)]
    fn apply(&self, e: V) -> V {
        V::zero_below(self.scale.apply(e), e, self.t)
    }
}

/// `x -> min(1, e * s)` where `input(x) >= lo`, 0 below: the output pass of
/// [`exp_store_sum_max`] (`e` the stored exponential) for a row whose shift moved.
pub(crate) struct MaskedScale<V, I> {
    scale: Scale<V>,
    lo: V,
    inp: I,
}

impl<V: Simd, I: Input<V>> MaskedScale<V, I> {
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, s: f32, lo: f32, inp: I) -> Self {
        MaskedScale {
            scale: Scale::new(isa, s),
            lo: V::splat(isa, lo),
            inp,
        }
    }
}

impl<V: Simd, I: Input<V>> LaneMap2<V> for MaskedScale<V, I> {
    #[inline(always)]
    fn apply(&self, e: V, x: V) -> V {
        V::zero_below(self.scale.apply(e), self.inp.apply(x), self.lo)
    }
}

/// `2^d` for integer-valued `d <= 1023` (0 below the f64 range, 0 for `-inf`).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn pow2_f64(d: f32) -> f64 {
    if d >= -1022.0 {
        f64::from_bits(((d as i64 + 1023) as u64) << 52)
    } else {
        0.0
    }
}

/// Pass 1 of the blocked algorithms: per block of [`BLOCK`] elements, the block maximum
/// (the block then sits in L1 for the second read), its shift `k_b = round(max*log2(e))`,
/// and the block's `sum exp(x - k*ln2)` against the running shift `k`; when `k` grows, the
/// running sum is rescaled by the exact power of two `2^(k_old - k_new)`. The result is a
/// (mantissa, exponent) pair per block rather than per element.
/// Returns `(S, k)` with `sum_i e^{x_i} = S * 2^k` (S is NaN when the row holds a NaN the
/// maxima missed), or `None` for the special-value path.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn block_sum<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
) -> Option<(f64, f32)> {
    block_sum_src::<V, U, _>(isa, &One::new(inp, x, f32::NEG_INFINITY))
}

/// [`block_sum`] over any source whose lanes past the end read as `-inf` (an f32 row through
/// an input transform, or a 16-bit row, which then gives the sum of its widened values bit
/// for bit).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn block_sum_src<V: Simd, const U: usize, S: Source<V, Item = V> + Slice>(
    isa: Token<V>,
    src: &S,
) -> Option<(f64, f32)> {
    block_sum_by::<V, _>(isa, src.len(), &mut SourceBlocks::<_, U>(src))
}

/// The two passes over each block of the blocked sum ([`block_sum_by`]).
pub(crate) trait Blocks<V: Simd> {
    /// The maximum of elements `b0..b1` (NaN may or may not be seen).
    fn max(&mut self, isa: Token<V>, b0: usize, b1: usize) -> f32;
    /// `sum exp(x - k*ln2)` of elements `b0..b1`, `ex` holding the shift `k`.
    fn sum(&mut self, isa: Token<V>, b0: usize, b1: usize, ex: &Exp<V>) -> f64;
}

/// The blocks of [`block_sum_src`]: both passes read the source.
struct SourceBlocks<'s, S, const U: usize>(&'s S);

impl<V: Simd, S: Source<V, Item = V> + Slice, const U: usize> Blocks<V> for SourceBlocks<'_, S, U> {
    #[inline(always)]
    fn max(&mut self, isa: Token<V>, b0: usize, b1: usize) -> f32 {
        // The previous block's sum pass prefetched this block (except the first).
        let mut mx = Maxima([V::splat(isa, f32::NEG_INFINITY); U]);
        walk::fold::<V, _, _, U, 0>(isa, &self.0.slice(b0, b1), &mut mx);
        mx.lanes().reduce_max()
    }

    #[inline(always)]
    fn sum(&mut self, isa: Token<V>, b0: usize, b1: usize, ex: &Exp<V>) -> f64 {
        // Prefetch the next block while the exponentials keep the core busy.
        let mut sum = ExpSum::<V, U, false>::new(isa, ex);
        walk::fold::<V, _, _, U, BLOCK>(isa, &Ahead(self.0.slice(b0, b1)), &mut sum);
        sum.total()
    }
}

/// The skeleton of [`block_sum_src`] over `n` elements, its two passes over each block
/// given by `blocks`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn block_sum_by<V: Simd, B: Blocks<V>>(
    isa: Token<V>,
    n: usize,
    blocks: &mut B,
) -> Option<(f64, f32)> {
    let kmin = k_min();
    let mut k = f32::NEG_INFINITY;
    let mut total = 0.0f64;
    let mut b0 = 0;
    while b0 < n {
        let b1 = n.min(b0 + BLOCK);
        let bm = blocks.max(isa, b0, b1);
        if bm.is_nan() || bm >= LARGE {
            return None;
        }
        let kb = shift_for_max(bm).max(kmin);
        if kb > k {
            total *= pow2_f64(k - kb);
            k = kb;
        }
        total += blocks.sum(isa, b0, b1, &Exp::new(isa, k, 1.0));
        b0 += BLOCK;
    }
    if k > kmin {
        Some((total, k))
    } else {
        None
    }
}
