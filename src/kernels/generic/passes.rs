//! The loops over memory. Each is `#[inline(always)]` so it is compiled inside the calling
//! ISA's `#[target_feature]` entry point.

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

/// How a kernel reads its input: as stored ([`Plain`]) or multiplied by a factor
/// ([`Scaled`], softmax with a temperature), fused into the loads so no extra pass exists.
pub(crate) trait Input<V>: Copy {
    /// `LANES` inputs at `p`.
    unsafe fn load(&self, isa: Token<V>, p: *const f32) -> V;
    /// The first `n < LANES` inputs at `p`; the other lanes read as `fill` (after scaling).
    unsafe fn load_tail(&self, isa: Token<V>, p: *const f32, n: usize, fill: f32) -> V;
    /// One input, for the portable special-value scans.
    fn value(&self, x: f32) -> f32;
}

/// Inputs as stored.
#[derive(Clone, Copy)]
pub(crate) struct Plain;

impl<V: Simd> Input<V> for Plain {
    #[inline(always)]
    unsafe fn load(&self, isa: Token<V>, p: *const f32) -> V {
        V::load(isa, p)
    }
    #[inline(always)]
    unsafe fn load_tail(&self, isa: Token<V>, p: *const f32, n: usize, fill: f32) -> V {
        V::load_tail(isa, p, n, fill)
    }
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        x
    }
}

/// Inputs multiplied by a finite, non-zero factor.
#[derive(Clone, Copy)]
pub(crate) struct Scaled<V> {
    v: V,
    s: f32,
}

impl<V: Simd> Scaled<V> {
    /// # Safety
    /// `V`'s ISA must be available; `s` finite and non-zero.
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, s: f32) -> Self {
        Scaled {
            v: V::splat(isa, s),
            s,
        }
    }
}

impl<V: Simd> Input<V> for Scaled<V> {
    #[inline(always)]
    unsafe fn load(&self, isa: Token<V>, p: *const f32) -> V {
        V::load(isa, p).mul(self.v)
    }
    #[inline(always)]
    unsafe fn load_tail(&self, isa: Token<V>, p: *const f32, n: usize, fill: f32) -> V {
        // fill / s * s == fill for fill in {0, -inf} and any finite non-zero s.
        V::load_tail(isa, p, n, fill / self.s).mul(self.v)
    }
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        x * self.s
    }
}

/// Inputs minus a finite constant (sums of logits without cancellation).
#[derive(Clone, Copy)]
pub(crate) struct Offset<V> {
    v: V,
    c: f32,
}

impl<V: Simd> Offset<V> {
    /// # Safety
    /// `V`'s ISA must be available; `c` finite.
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, c: f32) -> Self {
        Offset {
            v: V::splat(isa, c),
            c,
        }
    }
}

impl<V: Simd> Input<V> for Offset<V> {
    #[inline(always)]
    unsafe fn load(&self, isa: Token<V>, p: *const f32) -> V {
        V::load(isa, p).sub(self.v)
    }
    #[inline(always)]
    unsafe fn load_tail(&self, isa: Token<V>, p: *const f32, n: usize, fill: f32) -> V {
        V::load_tail(isa, p, n, fill + self.c).sub(self.v)
    }
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        x - self.c
    }
}

/// Prefetches the lines of the `step` elements at `p + PF` (nothing when `PF == 0`).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn prefetch_ahead<V: Simd, const PF: usize>(isa: Token<V>, p: *const f32, step: usize) {
    if PF == 0 {
        return;
    }
    let mut off = 0;
    while off < step {
        V::prefetch(isa, p.wrapping_add(PF + off));
        off += 16;
    }
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

/// `acc[0] + ... + acc[U-1]`, added pairwise.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn tree_sum<V: Simd, const U: usize>(acc: &[V; U]) -> V {
    let mut v = *acc;
    let mut w = U;
    while w > 1 {
        let h = w / 2;
        for i in 0..h {
            v[i] = v[i].add(v[w - h + i]);
        }
        w -= h;
    }
    v[0]
}

/// Adds the f32 accumulators (pairwise) into the f64 lanes `wide` and clears them.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn fold<V: Simd, const U: usize>(isa: Token<V>, acc: &mut [V; U], wide: &mut V::Wide) {
    *wide = tree_sum(acc).wide_add(*wide);
    *acc = [V::splat(isa, 0.0); U];
}

/// `v[0] + ... + v[n-1]` for `n <= 32`, added pairwise in a fixed order.
#[inline]
fn pairwise(v: &mut [f64; 32], n: usize) -> f64 {
    let mut w = n;
    while w > 1 {
        let h = w / 2;
        for i in 0..h {
            v[i] += v[w - h + i];
        }
        w -= h;
    }
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

/// Largest input (NaN may or may not be seen; callers do not rely on it).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn max<V: Simd, const U: usize, const PF: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    n: usize,
) -> f32 {
    lane_max::<V, U, PF>(isa, inp, x, n).reduce_max()
}

/// The maximum of each lane position: lane `l` holds the largest input at an index `i` with
/// `i % LANES == l` (`-inf` where there is none; NaN may or may not be seen).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn lane_max<V: Simd, const U: usize, const PF: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    n: usize,
) -> V {
    let l = V::LANES;
    let step = U * l;
    let mut acc = [V::splat(isa, f32::NEG_INFINITY); U];
    let mut i = 0;
    while i + step <= n {
        prefetch_ahead::<V, PF>(isa, x.add(i), step);
        for (j, a) in acc.iter_mut().enumerate() {
            *a = V::max(*a, inp.load(isa, x.add(i + j * l)));
        }
        i += step;
    }
    while i + l <= n {
        acc[0] = V::max(acc[0], inp.load(isa, x.add(i)));
        i += l;
    }
    if i < n {
        acc[0] = V::max(
            acc[0],
            inp.load_tail(isa, x.add(i), n - i, f32::NEG_INFINITY),
        );
    }
    let mut m = acc[0];
    for a in &acc[1..] {
        m = V::max(m, *a);
    }
    m
}

/// `sum_i exp(x_i - k*ln2) * s` in f64, blocked.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn sum_exp<V: Simd, const U: usize, const PF: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    n: usize,
    ex: &Exp<V>,
) -> f64 {
    exp_sum::<V, U, PF, false>(isa, inp, x, std::ptr::null_mut(), n, ex)
}

/// The sum of exponentials, also storing them to `y` when `STORE`: f32 accumulators folded
/// into f64 lanes every [`FOLD`] steps.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
unsafe fn exp_sum<V: Simd, const U: usize, const PF: usize, const STORE: bool>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
    ex: &Exp<V>,
) -> f64 {
    let l = V::LANES;
    let step = U * l;
    let mut wide = V::wide_zero(isa);
    let mut acc = [V::splat(isa, 0.0); U];
    let mut i = 0;
    let mut steps = 0;
    while i + step <= n {
        prefetch_ahead::<V, PF>(isa, x.add(i), step);
        for (j, a) in acc.iter_mut().enumerate() {
            let v = inp.load(isa, x.add(i + j * l));
            *a = exp_add::<V, STORE>(ex, v, y.wrapping_add(i + j * l), *a);
        }
        i += step;
        steps += 1;
        if steps == FOLD {
            fold(isa, &mut acc, &mut wide);
            steps = 0;
        }
    }
    // Fewer than `U` vectors are left: one each into different accumulators.
    let mut j = 0;
    while i + l <= n {
        acc[j] = exp_add::<V, STORE>(ex, inp.load(isa, x.add(i)), y.wrapping_add(i), acc[j]);
        i += l;
        j += 1;
    }
    if i < n {
        let v = inp.load_tail(isa, x.add(i), n - i, f32::NEG_INFINITY);
        if STORE {
            let e = ex.eval(v);
            e.store_tail(y.add(i), n - i);
            acc[j] = acc[j].add(e);
        } else {
            acc[j] = ex.eval_add(v, acc[j]);
        }
    }
    fold(isa, &mut acc, &mut wide);
    wide_total::<V>(wide)
}

/// `acc + exp(v)`, also storing `exp(v)` to `y` when `STORE`. Without a store the
/// exponential is clamped at the underflow threshold instead of masked ([`Exp::eval_add`]),
/// which a sum against the row's own shift can ignore: its terms are at most `2^-126` each,
/// and the sum is at least 0.7.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
unsafe fn exp_add<V: Simd, const STORE: bool>(ex: &Exp<V>, v: V, y: *mut f32, acc: V) -> V {
    if STORE {
        let e = ex.eval(v);
        e.store(y);
        acc.add(e)
    } else {
        ex.eval_add(v, acc)
    }
}

/// Accumulators of [`dot`]: element `i` of a row goes to accumulator `i % DOT_LANES` on every
/// ISA.
const DOT_LANES: usize = 32;

/// `sum_i input(a_i) * b_i` (or `sum_i input(a_i)` when `b` is `None`), accumulated in f64 in
/// the same order on every ISA, so the result is bit-identical across ISAs for every input.
///
/// Every product of two f32 is exact in f64, and element `i` is added to accumulator
/// `i % 32` (each ISA holds the 32 accumulators as `32 / LANES` vectors of f64 lanes, and pads
/// the row's end with zeros, which leave an accumulator unchanged); the 32 accumulators are
/// then added pairwise in a fixed order. The error is that of f64 summation: at most about
/// `(n/32 + 5) * 2^-53 * sum_i |input(a_i) * b_i|`, so cancellation between terms of up to
/// 2^29 times the result's magnitude is exact to f32 precision. No f32 rounding: terms near
/// the f32 range cannot overflow.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn dot<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    a: *const f32,
    b: Option<*const f32>,
    n: usize,
) -> f64 {
    let l = V::LANES;
    let per = DOT_LANES / l;
    let mut acc = [V::wide_zero(isa); 8];
    let add = |acc: V::Wide, va: V, vb: Option<V>| match vb {
        Some(vb) => V::wide_mul_add(va, vb, acc),
        None => va.wide_add(acc),
    };
    let mut i = 0;
    while i + DOT_LANES <= n {
        for (j, s) in acc[..per].iter_mut().enumerate() {
            let o = i + j * l;
            *s = add(
                *s,
                inp.load(isa, a.add(o)),
                b.map(|b| V::load(isa, b.add(o))),
            );
        }
        i += DOT_LANES;
    }
    for (j, s) in acc[..per].iter_mut().enumerate() {
        let o = i + j * l;
        if o + l <= n {
            *s = add(
                *s,
                inp.load(isa, a.add(o)),
                b.map(|b| V::load(isa, b.add(o))),
            );
        } else if o < n {
            let va = inp.load_tail(isa, a.add(o), n - o, 0.0);
            *s = add(*s, va, b.map(|b| V::load_tail(isa, b.add(o), n - o, 0.0)));
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
    /// # Safety
    /// `V`'s ISA must be available.
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
    /// # Safety
    /// `V`'s ISA must be available.
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
    /// # Safety
    /// `V`'s ISA must be available.
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

/// A lane-wise map of two inputs, applied by [`map2_store`].
pub(crate) trait LaneMap2<V> {
    /// The map.
    fn apply(&self, a: V, b: V) -> V;
}

/// Stores a full vector, non-temporally when `NT`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
unsafe fn put<V: Simd, const NT: bool>(r: V, p: *mut f32) {
    if NT {
        r.stream(p)
    } else {
        r.store(p)
    }
}

/// Number of leading elements to write before `y` is aligned for non-temporal stores
/// (0 when `NT` is off or `y` is already aligned).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn nt_head<V: Simd, const NT: bool>(y: *mut f32, n: usize) -> usize {
    let bytes = V::LANES * 4;
    let misalign = (y as usize) % bytes;
    if NT && misalign != 0 {
        n.min((bytes - misalign) / 4)
    } else {
        0
    }
}

/// Writes `f(input(x_i))` to `y_i`; with `NT`, the aligned body uses non-temporal stores.
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
    let l = V::LANES;
    let step = U * l;
    let mut i = nt_head::<V, NT>(y, n);
    if i > 0 {
        f.apply(inp.load_tail(isa, x, i, 0.0)).store_tail(y, i);
    }
    while i + step <= n {
        prefetch_ahead::<V, PREFETCH>(isa, x.add(i), step);
        for j in 0..U {
            put::<V, NT>(f.apply(inp.load(isa, x.add(i + j * l))), y.add(i + j * l));
        }
        i += step;
    }
    while i + l <= n {
        f.apply(inp.load(isa, x.add(i))).store(y.add(i));
        i += l;
    }
    if i < n {
        f.apply(inp.load_tail(isa, x.add(i), n - i, 0.0))
            .store_tail(y.add(i), n - i);
    }
    if NT {
        V::stream_fence(isa);
    }
}

/// Writes `f(a_i, b_i)` to `y_i`; with `NT`, the aligned body uses non-temporal stores.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
unsafe fn map2_store<V: Simd, const U: usize, const NT: bool>(
    isa: Token<V>,
    a: *const f32,
    b: *const f32,
    y: *mut f32,
    n: usize,
    f: &impl LaneMap2<V>,
) {
    let l = V::LANES;
    let step = U * l;
    let mut i = nt_head::<V, NT>(y, n);
    if i > 0 {
        f.apply(V::load_tail(isa, a, i, 0.0), V::load_tail(isa, b, i, 0.0))
            .store_tail(y, i);
    }
    while i + step <= n {
        prefetch_ahead::<V, PREFETCH>(isa, a.add(i), step);
        prefetch_ahead::<V, PREFETCH>(isa, b.add(i), step);
        for j in 0..U {
            let r = f.apply(
                V::load(isa, a.add(i + j * l)),
                V::load(isa, b.add(i + j * l)),
            );
            put::<V, NT>(r, y.add(i + j * l));
        }
        i += step;
    }
    while i + l <= n {
        f.apply(V::load(isa, a.add(i)), V::load(isa, b.add(i)))
            .store(y.add(i));
        i += l;
    }
    if i < n {
        let r = f.apply(
            V::load_tail(isa, a.add(i), n - i, 0.0),
            V::load_tail(isa, b.add(i), n - i, 0.0),
        );
        r.store_tail(y.add(i), n - i);
    }
    if NT {
        V::stream_fence(isa);
    }
}

/// Whether an output at `y` can take non-temporal stores when asked to (`nt`): it must be
/// 4-byte aligned to reach vector alignment at all.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn nt_usable(y: *mut f32, nt: bool) -> bool {
    nt && (y as usize).is_multiple_of(4)
}

/// `y_i = f(input(x_i))`, with non-temporal stores when `nt` and usable.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn map_store_nt<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
    f: &impl LaneMap<V>,
    nt: bool,
) {
    if nt_usable(y, nt) {
        map_store::<V, U, true>(isa, inp, x, y, n, f);
    } else {
        map_store::<V, U, false>(isa, inp, x, y, n, f);
    }
}

/// `y_i = f(a_i, b_i)`, with non-temporal stores when `nt` and usable.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn map2_store_nt<V: Simd, const U: usize>(
    isa: Token<V>,
    a: *const f32,
    b: *const f32,
    y: *mut f32,
    n: usize,
    f: &impl LaneMap2<V>,
    nt: bool,
) {
    if nt_usable(y, nt) {
        map2_store::<V, U, true>(isa, a, b, y, n, f);
    } else {
        map2_store::<V, U, false>(isa, a, b, y, n, f);
    }
}

/// `y_i = exp(input(x_i) - k*ln2)`, returning their sum (f64, blocked): pass 2 of three-pass
/// reload.
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
    exp_sum::<V, U, PREFETCH, true>(isa, inp, x, y, n, ex)
}

/// `2^d` for integer-valued `d <= 1023` (0 below the f64 range, 0 for `-inf`).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn pow2_f64(d: f32) -> f64 {
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
pub(crate) unsafe fn block_sum<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    n: usize,
) -> Option<(f64, f32)> {
    let kmin = k_min();
    let mut k = f32::NEG_INFINITY;
    let mut total = 0.0f64;
    let mut start = 0;
    while start < n {
        let len = (n - start).min(BLOCK);
        let p = x.add(start);
        // The previous block's sum pass prefetched this block (except the first).
        let bm = max::<V, U, 0>(isa, inp, p, len);
        if bm.is_nan() || bm >= LARGE {
            return None;
        }
        let kb = shift_for_max(bm).max(kmin);
        if kb > k {
            total *= pow2_f64(k - kb);
            k = kb;
        }
        // Prefetch the next block while the exponentials keep the core busy.
        total += sum_exp::<V, U, BLOCK>(isa, inp, p, len, &Exp::new(isa, k, 1.0));
        start += len;
    }
    if k > kmin {
        Some((total, k))
    } else {
        None
    }
}

/// Headroom of a lane's shift above the largest exponent seen when it is raised, in binades.
const HEADROOM: f32 = 32.0;
/// How far above its shift a lane accepts inputs before it must be raised, in binades: terms
/// stay below `2^(REACH + 1)`, so a lane's f32 sum (a few terms, see [`FOLD`]) cannot overflow.
const REACH: f32 = 64.0;

/// The lane shifts of [`pair_sum`]: lane `l` holds its sum as `M_l * 2^K_l`.
struct LaneShifts<V> {
    /// `K_l`, integer-valued.
    k: V,
    /// `exp(x - K_l*ln2)` for every lane.
    ex: Exp<V>,
    /// The largest input each lane accepts before `K_l` must grow: `(K_l + REACH)*ln2`.
    hi: V,
}

impl<V: Simd> LaneShifts<V> {
    #[inline(always)]
    fn new(isa: Token<V>, k: V) -> Self {
        LaneShifts {
            k,
            ex: Exp::per_lane(isa, k),
            hi: k
                .add(V::splat(isa, REACH))
                .mul(V::splat(isa, std::f32::consts::LN_2)),
        }
    }

    /// `(S, e)` with `S * 2^e` the sum of every lane's `wide` sum.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn total(&self, wide: V::Wide) -> (f64, f32) {
        let mut k = [0.0f32; 16];
        self.k.to_array(&mut k);
        let e = self.k.reduce_max();
        let mut f = [0.0f64; 16];
        for (f, &k) in f.iter_mut().zip(&k[..V::LANES]) {
            *f = pow2_f64(k - e);
        }
        (wide_total::<V>(V::wide_scale(wide, &f)), e)
    }

    /// Raises the shift of every lane whose running maximum `rmax` passed its `hi` to
    /// `round(rmax*log2(e)) + HEADROOM`, rescaling that lane of the f64 sums by the exact
    /// power of two (the f32 accumulators are empty: they are folded at the end of every
    /// chunk). `None` when a lane's maximum is `LARGE` or more (+inf included): the row takes
    /// the special-value path. Runs once per row for ordinary data.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn raise(&mut self, isa: Token<V>, rmax: V, wide: &mut V::Wide) -> Option<()> {
        let (mut m, mut k) = ([0.0f32; 16], [0.0f32; 16]);
        rmax.to_array(&mut m);
        self.k.to_array(&mut k);
        let mut f = [1.0f64; 16];
        raise_lanes(V::LANES, &m, &mut k, &mut f)?;
        *wide = V::wide_scale(*wide, &f);
        // SAFETY: `k` holds 16 >= LANES values.
        *self = Self::new(isa, unsafe { V::load(isa, k.as_ptr()) });
        Some(())
    }
}

/// The scalar part of [`LaneShifts::raise`]: new shifts `k` for the lane maxima `m`, and the
/// factors `2^(k_old - k_new)` for the sums.
#[cold]
#[inline(never)]
fn raise_lanes(lanes: usize, m: &[f32; 16], k: &mut [f32; 16], f: &mut [f64; 16]) -> Option<()> {
    for (lane, &m) in m[..lanes].iter().enumerate() {
        if m >= LARGE {
            return None;
        }
        let want = shift_for_max(m) + HEADROOM;
        // NaN lanes compare false and keep their shift (the NaN reaches the sums).
        if want > k[lane] {
            f[lane] = pow2_f64(k[lane] - want);
            k[lane] = want;
        }
    }
    Some(())
}

/// The vector of inputs at `i` (`i < end`), the lanes at or past `end` read as `-inf`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
unsafe fn load_upto<V: Simd>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    i: usize,
    end: usize,
) -> V {
    if i + V::LANES <= end {
        inp.load(isa, x.add(i))
    } else {
        inp.load_tail(isa, x.add(i), end - i, f32::NEG_INFINITY)
    }
}

/// Groups of `U` vectors per chunk of [`pair_sum`]. Sweep on Zen 4 with the degree-5
/// exponential (log-sum-exp, AVX2 with U=3, elements/ns at 16K | 16M floats): 4 groups 4.80 |
/// 4.63, 8 groups 4.85 | 4.59-4.69, against 4.47 | 3.80 for [`block_sum`] and 3.18 | 3.13 for
/// the per-element (M, E) update of the paper. AVX-512 (U=4): 8 groups 5.53 | 4.73, 4 groups
/// 5.72 | 4.60, per-element 4.43 | 4.30.
const CHUNK_GROUPS: usize = 8;

/// Pass 1 of the two-pass algorithm (Dukhan & Ablavatski): `sum_i e^x_i` as a (mantissa,
/// exponent) pair, in one read of the row from memory.
///
/// Every lane `l` keeps its partial sum as `M_l * 2^K_l` and adds `e^x * 2^-K_l`, which is an
/// ordinary exponential with the integer `K_l` folded into the exponent trick (no extra
/// instruction). The paper raises the exponent to every element's own; here `K_l` moves only
/// when an input would exceed `2^K_l` by [`REACH`] binades, and then jumps [`HEADROOM`]
/// binades above that input's exponent, so an ordinary row sets it once. Whether it must move
/// is checked per chunk of `CHUNK_GROUPS * U` vectors: the lane maxima of the chunk first
/// (the chunk then sits in L1 for its second read), then the exponentials, whose loop is as
/// short as a plain sum of exponentials.
///
/// Inputs more than about 126 binades below `2^K_l` (so at least 94 below the lane's largest)
/// are clamped there ([`Exp::eval_add`]): each adds at most `2^-125` in units of `2^K_l`
/// (0 in the polynomial form), at most `2^-101` for 2^24 of them, against a lane sum of at
/// least `2^-33`. The f32 accumulators fold into per-lane f64 sums every [`FOLD`] steps and at
/// the end of every chunk ([`fold`]), so a raise rescales only the f64 sums, and long rows and
/// rows of equal terms stay accurate.
///
/// Returns `(S, k)` with `sum_i e^{x_i} = S * 2^k`, `k = round(max * log2(e))`, or `None`
/// when the row needs the special-value path (NaN, infinities, or a maximum magnitude of
/// `LARGE` or more).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn pair_sum<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: *const f32,
    n: usize,
) -> Option<(f64, f32)> {
    let l = V::LANES;
    let step = U * l;
    if n <= CHUNK_GROUPS * step {
        // One chunk: its maximum gives the shift of every lane, which is what the blocked
        // sum computes with less set-up.
        return block_sum::<V, U>(isa, inp, x, n);
    }
    // Below every row of the fast path; the first chunk sets the shift from its maximum.
    let floor = k_min() - 2.0 * REACH;
    let mut sh = LaneShifts::new(isa, V::splat(isa, floor));
    let mut first = true;
    let mut rmax = V::splat(isa, f32::NEG_INFINITY);
    let mut wide = V::wide_zero(isa);
    let mut acc = [V::splat(isa, 0.0); U];
    let mut c0 = 0;
    while c0 < n {
        let cend = n.min(c0 + CHUNK_GROUPS * step);
        let mut mx = [rmax; U];
        let mut i = c0;
        while i + step <= cend {
            prefetch_ahead::<V, PREFETCH>(isa, x.add(i), step);
            for (j, m) in mx.iter_mut().enumerate() {
                *m = V::max(*m, inp.load(isa, x.add(i + j * l)));
            }
            i += step;
        }
        while i < cend {
            mx[0] = V::max(mx[0], load_upto(isa, inp, x, i, cend));
            i += l;
        }
        for m in &mx {
            rmax = V::max(rmax, *m);
        }
        if first {
            // Nothing is summed yet: one shift for every lane from the chunk's maximum. (A
            // NaN input makes the sums NaN, which sends the row to the special path.)
            first = false;
            let m = rmax.reduce_max();
            if m >= LARGE {
                return None;
            }
            sh = LaneShifts::new(isa, V::splat(isa, (shift_for_max(m) + HEADROOM).max(floor)));
        } else if V::any_gt(rmax, sh.hi) {
            sh.raise(isa, rmax, &mut wide)?;
        }
        let mut i = c0;
        let mut steps = 0;
        while i + step <= cend {
            for (j, a) in acc.iter_mut().enumerate() {
                *a = sh.ex.eval_add(inp.load(isa, x.add(i + j * l)), *a);
            }
            i += step;
            steps += 1;
            if steps == FOLD {
                fold(isa, &mut acc, &mut wide);
                steps = 0;
            }
        }
        // The row's last vectors: one each into different accumulators.
        let mut j = 0;
        while i < cend {
            acc[j] = sh.ex.eval_add(load_upto(isa, inp, x, i, cend), acc[j]);
            i += l;
            j += 1;
        }
        fold(isa, &mut acc, &mut wide);
        c0 = cend;
    }
    let (total, e_total) = sh.total(wide);
    let m = rmax.reduce_max();
    if m.is_nan() || m >= LARGE || !total.is_finite() {
        return None;
    }
    let k = shift_for_max(m);
    // `e_total - k` is within [-REACH, HEADROOM]: the lane of the maximum was raised to it.
    (k > k_min()).then(|| (total * pow2_f64(e_total - k), k))
}
