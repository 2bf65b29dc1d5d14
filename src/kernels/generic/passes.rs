//! The loops over memory. Each is `#[inline(always)]` so it is compiled inside the calling
//! ISA's `#[target_feature]` entry point.

use crate::kernels::exp::{shift_for_max, Exp, LARGE, LN2_HI, MAGIC};
use crate::kernels::simd::Simd;

/// Elements per summation block (also the block of the blocked two-pass algorithm):
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
    unsafe fn load(&self, p: *const f32) -> V;
    /// The first `n < LANES` inputs at `p`; the other lanes read as `fill` (after scaling).
    unsafe fn load_tail(&self, p: *const f32, n: usize, fill: f32) -> V;
    /// One input, for the portable special-value scans.
    fn value(&self, x: f32) -> f32;
    /// One input in f64 (for the f64 fallback of sums that overflow f32).
    fn value64(&self, x: f32) -> f64;
}

/// Inputs as stored.
#[derive(Clone, Copy)]
pub(crate) struct Plain;

impl<V: Simd> Input<V> for Plain {
    #[inline(always)]
    unsafe fn load(&self, p: *const f32) -> V {
        V::load(p)
    }
    #[inline(always)]
    unsafe fn load_tail(&self, p: *const f32, n: usize, fill: f32) -> V {
        V::load_tail(p, n, fill)
    }
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        x
    }
    fn value64(&self, x: f32) -> f64 {
        x as f64
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
    pub(crate) unsafe fn new(s: f32) -> Self {
        Scaled { v: V::splat(s), s }
    }
}

impl<V: Simd> Input<V> for Scaled<V> {
    #[inline(always)]
    unsafe fn load(&self, p: *const f32) -> V {
        V::load(p).mul(self.v)
    }
    #[inline(always)]
    unsafe fn load_tail(&self, p: *const f32, n: usize, fill: f32) -> V {
        // fill / s * s == fill for fill in {0, -inf} and any finite non-zero s.
        V::load_tail(p, n, fill / self.s).mul(self.v)
    }
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        x * self.s
    }
    fn value64(&self, x: f32) -> f64 {
        x as f64 * self.s as f64
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
    pub(crate) unsafe fn new(c: f32) -> Self {
        Offset { v: V::splat(c), c }
    }
}

impl<V: Simd> Input<V> for Offset<V> {
    #[inline(always)]
    unsafe fn load(&self, p: *const f32) -> V {
        V::load(p).sub(self.v)
    }
    #[inline(always)]
    unsafe fn load_tail(&self, p: *const f32, n: usize, fill: f32) -> V {
        V::load_tail(p, n, fill + self.c).sub(self.v)
    }
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        x - self.c
    }
    fn value64(&self, x: f32) -> f64 {
        x as f64 - self.c as f64
    }
}

/// Prefetches the lines of the `step` elements at `p + PF` (nothing when `PF == 0`).
#[inline(always)]
pub(crate) unsafe fn prefetch_ahead<V: Simd, const PF: usize>(p: *const f32, step: usize) {
    if PF == 0 {
        return;
    }
    let mut off = 0;
    while off < step {
        V::prefetch(p.wrapping_add(PF + off));
        off += 16;
    }
}

#[inline(always)]
unsafe fn reduce_sum<V: Simd, const U: usize>(acc: &[V; U]) -> f64 {
    let mut s = acc[0];
    for a in &acc[1..] {
        s = s.add(*a);
    }
    s.reduce_add()
}

/// Largest input (NaN may or may not be seen; callers do not rely on it).
#[inline(always)]
pub(crate) unsafe fn max<V: Simd, const U: usize, const PF: usize>(
    inp: &impl Input<V>,
    x: *const f32,
    n: usize,
) -> f32 {
    let l = V::LANES;
    let step = U * l;
    let mut acc = [V::splat(f32::NEG_INFINITY); U];
    let mut i = 0;
    while i + step <= n {
        prefetch_ahead::<V, PF>(x.add(i), step);
        for (j, a) in acc.iter_mut().enumerate() {
            *a = V::max(*a, inp.load(x.add(i + j * l)));
        }
        i += step;
    }
    while i + l <= n {
        acc[0] = V::max(acc[0], inp.load(x.add(i)));
        i += l;
    }
    if i < n {
        acc[0] = V::max(acc[0], inp.load_tail(x.add(i), n - i, f32::NEG_INFINITY));
    }
    let mut m = acc[0];
    for a in &acc[1..] {
        m = V::max(m, *a);
    }
    m.reduce_max()
}

/// `sum_i exp(x_i - k*ln2) * s` in f64, blocked.
#[inline(always)]
pub(crate) unsafe fn sum_exp<V: Simd, const U: usize, const PF: usize>(
    inp: &impl Input<V>,
    x: *const f32,
    n: usize,
    ex: &Exp<V>,
) -> f64 {
    exp_sum::<V, U, PF, false>(inp, x, std::ptr::null_mut(), n, ex)
}

/// The blocked sum of exponentials, also storing them to `y` when `STORE`.
#[inline(always)]
unsafe fn exp_sum<V: Simd, const U: usize, const PF: usize, const STORE: bool>(
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
    ex: &Exp<V>,
) -> f64 {
    let l = V::LANES;
    let step = U * l;
    let mut total = 0.0f64;
    let mut start = 0;
    while start < n {
        let end = n.min(start + BLOCK);
        let mut acc = [V::splat(0.0); U];
        let mut i = start;
        while i + step <= end {
            prefetch_ahead::<V, PF>(x.add(i), step);
            for (j, a) in acc.iter_mut().enumerate() {
                let e = ex.eval(inp.load(x.add(i + j * l)));
                if STORE {
                    e.store(y.add(i + j * l));
                }
                *a = a.add(e);
            }
            i += step;
        }
        while i + l <= end {
            let e = ex.eval(inp.load(x.add(i)));
            if STORE {
                e.store(y.add(i));
            }
            acc[0] = acc[0].add(e);
            i += l;
        }
        if i < end {
            let e = ex.eval(inp.load_tail(x.add(i), end - i, f32::NEG_INFINITY));
            if STORE {
                e.store_tail(y.add(i), end - i);
            }
            acc[0] = acc[0].add(e);
        }
        total += reduce_sum(&acc);
        start = end;
    }
    total
}

/// `sum_i input(a_i) * b_i` (or `sum_i input(a_i)` when `b` is `None`) in f64, blocked.
#[inline(always)]
pub(crate) unsafe fn dot<V: Simd, const U: usize>(
    inp: &impl Input<V>,
    a: *const f32,
    b: Option<*const f32>,
    n: usize,
) -> f64 {
    let l = V::LANES;
    let step = U * l;
    let one = V::splat(1.0);
    let mut total = 0.0f64;
    let mut start = 0;
    while start < n {
        let end = n.min(start + BLOCK);
        let mut acc = [V::splat(0.0); U];
        let mut i = start;
        while i + step <= end {
            for (j, s) in acc.iter_mut().enumerate() {
                let vb = match b {
                    Some(b) => V::load(b.add(i + j * l)),
                    None => one,
                };
                *s = V::fma(inp.load(a.add(i + j * l)), vb, *s);
            }
            i += step;
        }
        while i + l <= end {
            let vb = match b {
                Some(b) => V::load(b.add(i)),
                None => one,
            };
            acc[0] = V::fma(inp.load(a.add(i)), vb, acc[0]);
            i += l;
        }
        if i < end {
            let va = inp.load_tail(a.add(i), end - i, 0.0);
            let vb = match b {
                Some(b) => V::load_tail(b.add(i), end - i, 0.0),
                None => one,
            };
            acc[0] = V::fma(va, vb, acc[0]);
        }
        total += reduce_sum(&acc);
        start = end;
    }
    if total.is_finite() {
        total
    } else {
        // An f32 lane overflowed (terms near the f32 range), or a term is not finite: redo
        // it in f64, which tells the two apart.
        (0..n)
            .map(|i| {
                let va = inp.value64(a.add(i).read());
                match b {
                    Some(b) => va * b.add(i).read() as f64,
                    None => va,
                }
            })
            .sum()
    }
}

/// A lane-wise map applied by [`map_store`] (a trait rather than a closure so that
/// `#[inline(always)]` guarantees it is compiled inside the ISA's entry point).
pub(crate) trait LaneMap<V> {
    /// The map.
    unsafe fn apply(&self, v: V) -> V;
}

impl<V: Simd> LaneMap<V> for Exp<V> {
    #[inline(always)]
    unsafe fn apply(&self, v: V) -> V {
        self.eval(v)
    }
}

/// `x -> exp(x - k*ln2) * s - c` (the smoothed cross-entropy gradient).
pub(crate) struct ExpMinus<V> {
    pub ex: Exp<V>,
    pub c: V,
}

impl<V: Simd> LaneMap<V> for ExpMinus<V> {
    #[inline(always)]
    unsafe fn apply(&self, v: V) -> V {
        self.ex.eval(v).sub(self.c)
    }
}

/// `x -> (x - k*LN2_HI) - b`, one FMA and one subtraction.
pub(crate) struct Shift<V> {
    neg_k: V,
    ln2_hi: V,
    b: V,
}

impl<V: Simd> Shift<V> {
    /// # Safety
    /// `V`'s ISA must be available.
    #[inline(always)]
    pub(crate) unsafe fn new(k: f32, b: f32) -> Self {
        Shift {
            neg_k: V::splat(-k),
            ln2_hi: V::splat(LN2_HI),
            b: V::splat(b),
        }
    }
}

impl<V: Simd> LaneMap<V> for Shift<V> {
    #[inline(always)]
    unsafe fn apply(&self, v: V) -> V {
        V::fma(self.neg_k, self.ln2_hi, v).sub(self.b)
    }
}

/// `x -> x * s`.
pub(crate) struct Scale<V>(pub V);

impl<V: Simd> LaneMap<V> for Scale<V> {
    #[inline(always)]
    unsafe fn apply(&self, v: V) -> V {
        v.mul(self.0)
    }
}

/// A lane-wise map of two inputs, applied by [`map2_store`].
pub(crate) trait LaneMap2<V> {
    /// The map.
    unsafe fn apply(&self, a: V, b: V) -> V;
}

/// Stores a full vector, non-temporally when `NT`.
#[inline(always)]
unsafe fn put<V: Simd, const NT: bool>(r: V, p: *mut f32) {
    if NT {
        r.stream(p)
    } else {
        r.store(p)
    }
}

/// Number of leading elements to write before `y` is aligned for non-temporal stores
/// (0 when `NT` is off or `y` is already aligned).
#[inline(always)]
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
#[inline(always)]
pub(crate) unsafe fn map_store<V: Simd, const U: usize, const NT: bool>(
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
        f.apply(inp.load_tail(x, i, 0.0)).store_tail(y, i);
    }
    while i + step <= n {
        prefetch_ahead::<V, PREFETCH>(x.add(i), step);
        for j in 0..U {
            put::<V, NT>(f.apply(inp.load(x.add(i + j * l))), y.add(i + j * l));
        }
        i += step;
    }
    while i + l <= n {
        f.apply(inp.load(x.add(i))).store(y.add(i));
        i += l;
    }
    if i < n {
        f.apply(inp.load_tail(x.add(i), n - i, 0.0))
            .store_tail(y.add(i), n - i);
    }
    if NT {
        V::stream_fence();
    }
}

/// Writes `f(a_i, b_i)` to `y_i`; with `NT`, the aligned body uses non-temporal stores.
#[inline(always)]
unsafe fn map2_store<V: Simd, const U: usize, const NT: bool>(
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
        f.apply(V::load_tail(a, i, 0.0), V::load_tail(b, i, 0.0))
            .store_tail(y, i);
    }
    while i + step <= n {
        prefetch_ahead::<V, PREFETCH>(a.add(i), step);
        prefetch_ahead::<V, PREFETCH>(b.add(i), step);
        for j in 0..U {
            let r = f.apply(V::load(a.add(i + j * l)), V::load(b.add(i + j * l)));
            put::<V, NT>(r, y.add(i + j * l));
        }
        i += step;
    }
    while i + l <= n {
        f.apply(V::load(a.add(i)), V::load(b.add(i)))
            .store(y.add(i));
        i += l;
    }
    if i < n {
        let r = f.apply(
            V::load_tail(a.add(i), n - i, 0.0),
            V::load_tail(b.add(i), n - i, 0.0),
        );
        r.store_tail(y.add(i), n - i);
    }
    if NT {
        V::stream_fence();
    }
}

/// Whether an output at `y` can take non-temporal stores when asked to (`nt`): it must be
/// 4-byte aligned to reach vector alignment at all.
#[inline(always)]
fn nt_usable(y: *mut f32, nt: bool) -> bool {
    nt && (y as usize).is_multiple_of(4)
}

/// `y_i = f(input(x_i))`, with non-temporal stores when `nt` and usable.
#[inline(always)]
pub(crate) unsafe fn map_store_nt<V: Simd, const U: usize>(
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
    f: &impl LaneMap<V>,
    nt: bool,
) {
    if nt_usable(y, nt) {
        map_store::<V, U, true>(inp, x, y, n, f);
    } else {
        map_store::<V, U, false>(inp, x, y, n, f);
    }
}

/// `y_i = f(a_i, b_i)`, with non-temporal stores when `nt` and usable.
#[inline(always)]
pub(crate) unsafe fn map2_store_nt<V: Simd, const U: usize>(
    a: *const f32,
    b: *const f32,
    y: *mut f32,
    n: usize,
    f: &impl LaneMap2<V>,
    nt: bool,
) {
    if nt_usable(y, nt) {
        map2_store::<V, U, true>(a, b, y, n, f);
    } else {
        map2_store::<V, U, false>(a, b, y, n, f);
    }
}

/// `y_i = exp(input(x_i) - k*ln2)`, returning their sum (f64, blocked): pass 2 of three-pass
/// reload.
#[inline(always)]
pub(crate) unsafe fn exp_store_sum<V: Simd, const U: usize>(
    inp: &impl Input<V>,
    x: *const f32,
    y: *mut f32,
    n: usize,
    ex: &Exp<V>,
) -> f64 {
    exp_sum::<V, U, PREFETCH, true>(inp, x, y, n, ex)
}

/// Pass 1 of the two-pass algorithm (Dukhan & Ablavatski): every element becomes a pair
/// `(m, e)` with `e^x = m * 2^e`, accumulated per lane as `(M, E)` meaning `M * 2^E`:
/// `E' = max(E, e)`, `M' = M * 2^(E - E') + m * 2^(e - E')`, both scale factors exact
/// powers of two ([`Simd::scale_pow2`]). The `U` accumulators share their lane exponents, so
/// `E'` is taken over a group of `U` vectors and the rescale of `M` costs once per group.
/// The lanes restart every [`BLOCK`] elements (or 512 per lane, if fewer) and each block's
/// pair is folded into an f64 pair, which keeps long rows accurate.
/// Returns `(M*, E*)` with `sum_i e^{x_i} = M* * 2^E*`, or `None` when the row needs the
/// special-value path (NaN, infinities, or a maximum magnitude of `LARGE` or more).
#[inline(always)]
pub(crate) unsafe fn pair_sum<V: Simd, const U: usize>(
    inp: &impl Input<V>,
    x: *const f32,
    n: usize,
) -> Option<(f64, f32)> {
    /// Adds the pairs of `vs` to the accumulators `m` (which share the lane exponents `e`):
    /// one maximum for the whole group, so the accumulators are rescaled once per group.
    #[inline(always)]
    /// Exponents are kept biased (`t = e + MAGIC`, as [`Exp::pair`] returns them), so the
    /// difference `t_j - (t_max - MAGIC)` is already the biased `e_j - e_max`.
    unsafe fn group<V: Simd, const U: usize>(ex: &Exp<V>, m: &mut [V; U], t: &mut V, vs: &[V]) {
        let mut ts = [V::splat(0.0); U];
        let mut ps = [V::splat(0.0); U];
        let mut new_t = *t;
        for (j, &v) in vs.iter().enumerate() {
            (ts[j], ps[j]) = ex.pair(v);
            new_t = V::max(new_t, ts[j]);
        }
        let s = V::scale_pow2(V::splat(1.0), t.sub(new_t));
        for mj in m.iter_mut() {
            *mj = mj.mul(s);
        }
        let unbias = new_t.sub(V::splat(MAGIC));
        for j in 0..vs.len() {
            m[j] = V::add_pow2_biased(m[j], ps[j], ts[j].sub(unbias));
        }
        *t = new_t;
    }
    let l = V::LANES;
    let step = U * l;
    // Clamp far below any row that takes this path: such inputs only add zeros.
    let ex = Exp::<V>::with_floor(0.0, 1.0, -2.0 * LARGE);
    let (mut total, mut e_total) = (0.0f64, f32::NEG_INFINITY);
    // Fold into f64 at least every 512 elements per lane: few lanes (scalar, NEON) and few
    // accumulators would otherwise sum too many terms in one f32.
    let block = (512 * l).min(BLOCK);
    let mut start = 0;
    while start < n {
        let end = n.min(start + block);
        let mut acc_m = [V::splat(0.0); U];
        // Biased lane exponents, starting far below any input's.
        let mut acc_e = V::splat(MAGIC - 1.0e6);
        let mut i = start;
        while i + step <= end {
            prefetch_ahead::<V, PREFETCH>(x.add(i), step);
            let mut vs = [V::splat(0.0); U];
            for (j, v) in vs.iter_mut().enumerate() {
                *v = inp.load(x.add(i + j * l));
            }
            group(&ex, &mut acc_m, &mut acc_e, &vs);
            i += step;
        }
        while i + l <= end {
            group(&ex, &mut acc_m, &mut acc_e, &[inp.load(x.add(i))]);
            i += l;
        }
        if i < end {
            let v = inp.load_tail(x.add(i), end - i, f32::NEG_INFINITY);
            group(&ex, &mut acc_m, &mut acc_e, &[v]);
        }
        // Fold the block's lanes into the f64 pair.
        let mut ms = [0.0f32; 16];
        let mut es = [0.0f32; 16];
        acc_e.sub(V::splat(MAGIC)).to_array(&mut es);
        for m in &acc_m {
            m.to_array(&mut ms);
            for lane in 0..l {
                let (m, e) = (ms[lane], es[lane]);
                if e.is_nan() || m.is_nan() {
                    return None;
                }
                if e > e_total {
                    total = total * pow2_f64(e_total - e) + m as f64;
                    e_total = e;
                } else {
                    total += m as f64 * pow2_f64(e - e_total);
                }
            }
        }
        start = end;
    }
    let in_range = e_total > k_min() && e_total < shift_for_max(LARGE);
    (in_range && total.is_finite()).then_some((total, e_total))
}

/// `2^d` for integer-valued `d <= 0` (0 below the f64 range, 0 for `-inf`).
#[inline(always)]
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
#[inline(always)]
pub(crate) unsafe fn block_sum<V: Simd, const U: usize>(
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
        let bm = max::<V, U, 0>(inp, p, len);
        if bm.is_nan() || bm >= LARGE {
            return None;
        }
        let kb = shift_for_max(bm).max(kmin);
        if kb > k {
            total *= pow2_f64(k - kb);
            k = kb;
        }
        // Prefetch the next block while the exponentials keep the core busy.
        total += sum_exp::<V, U, BLOCK>(inp, p, len, &Exp::new(k, 1.0));
        start += len;
    }
    if k > kmin {
        Some((total, k))
    } else {
        None
    }
}
