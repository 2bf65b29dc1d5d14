//! The algorithms, written once over [`Simd`] and instantiated per ISA by
//! [`super::kernel_table`].
//!
//! Every loop has the same shape: `U` vectors per iteration (independent accumulators, so the
//! dependent FMA/max chains overlap), then single vectors, then one partial vector through
//! `load_tail`/`store_tail` (no scalar remainder loop). Sums are accumulated per block of
//! [`BLOCK`] elements in f32 lanes and the block totals in f64, which keeps the error of a
//! 16M-element sum near 1e-7 instead of the 1e-3 of one running f32 sum.
//!
//! Rows take the fast path when their maximum `m` is finite with `|m| < LARGE`; every other
//! row (NaN, infinities, huge magnitudes) goes through [`classify`] and the documented special
//! rules, or is shifted by `m` first (exact for every element that matters) and then takes the
//! fast path.
//!
//! # Safety
//! Every function here executes `V`'s instructions: callers guarantee `V`'s ISA is available.
//! Pointer arguments are valid for the stated number of elements; an output may be equal to
//! its input (in place) but must not partly overlap it.

use super::exp::{shift_for_max, Exp, LARGE, LN2_HI, LN2_LO_F64};
use super::simd::Simd;
use crate::io::InOut;
use crate::Algorithm;

/// Elements per summation block (also the block of the blocked two-pass algorithm):
/// 8 KiB, so the second read of a block in the blocked algorithms hits L1.
pub(crate) const BLOCK: usize = 2048;

/// Elements ahead of the current position that loops over the input prefetch.
const PREFETCH: usize = 1024;

/// The exponent shift below which a row counts as "large" (its maximum is under `-LARGE`).
#[inline]
fn k_min() -> f32 {
    shift_for_max(-LARGE)
}

/// Prefetches the lines of the `step` elements at `p + PREFETCH`.
#[inline(always)]
unsafe fn prefetch_ahead<V: Simd>(p: *const f32, step: usize) {
    let mut off = 0;
    while off < step {
        V::prefetch(p.wrapping_add(PREFETCH + off));
        off += 16;
    }
}

/// Largest element (NaN may or may not be seen; callers do not rely on it).
#[inline(always)]
pub(crate) unsafe fn max<V: Simd, const U: usize>(x: *const f32, n: usize) -> f32 {
    let l = V::LANES;
    let step = U * l;
    let mut acc = [V::splat(f32::NEG_INFINITY); U];
    let mut i = 0;
    while i + step <= n {
        prefetch_ahead::<V>(x.add(i), step);
        for (j, a) in acc.iter_mut().enumerate() {
            *a = V::max(*a, V::load(x.add(i + j * l)));
        }
        i += step;
    }
    while i + l <= n {
        acc[0] = V::max(acc[0], V::load(x.add(i)));
        i += l;
    }
    if i < n {
        acc[0] = V::max(acc[0], V::load_tail(x.add(i), n - i, f32::NEG_INFINITY));
    }
    let mut m = acc[0];
    for a in &acc[1..] {
        m = V::max(m, *a);
    }
    m.reduce_max()
}

/// `sum_i exp(x_i - k*ln2) * s` in f64, blocked.
#[inline(always)]
pub(crate) unsafe fn sum_exp<V: Simd, const U: usize>(x: *const f32, n: usize, ex: &Exp<V>) -> f64 {
    let l = V::LANES;
    let step = U * l;
    let mut total = 0.0f64;
    let mut start = 0;
    while start < n {
        let end = n.min(start + BLOCK);
        let mut acc = [V::splat(0.0); U];
        let mut i = start;
        while i + step <= end {
            prefetch_ahead::<V>(x.add(i), step);
            for (j, a) in acc.iter_mut().enumerate() {
                *a = a.add(ex.eval(V::load(x.add(i + j * l))));
            }
            i += step;
        }
        while i + l <= end {
            acc[0] = acc[0].add(ex.eval(V::load(x.add(i))));
            i += l;
        }
        if i < end {
            let v = V::load_tail(x.add(i), end - i, f32::NEG_INFINITY);
            acc[0] = acc[0].add(ex.eval(v));
        }
        total += reduce_sum(&acc);
        start = end;
    }
    total
}

#[inline(always)]
unsafe fn reduce_sum<V: Simd, const U: usize>(acc: &[V; U]) -> f64 {
    let mut s = acc[0];
    for a in &acc[1..] {
        s = s.add(*a);
    }
    s.reduce_add()
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

/// `x -> (x - k*LN2_HI) - b`, one FMA and one subtraction.
struct Shift<V> {
    neg_k: V,
    ln2_hi: V,
    b: V,
}

impl<V: Simd> LaneMap<V> for Shift<V> {
    #[inline(always)]
    unsafe fn apply(&self, v: V) -> V {
        V::fma(self.neg_k, self.ln2_hi, v).sub(self.b)
    }
}

/// `x -> x * s`.
struct Scale<V>(V);

impl<V: Simd> LaneMap<V> for Scale<V> {
    #[inline(always)]
    unsafe fn apply(&self, v: V) -> V {
        v.mul(self.0)
    }
}

/// Writes `f(x_i)` to `y_i` for a lane-wise map `f`; with `NT`, the aligned body uses
/// non-temporal stores.
#[inline(always)]
unsafe fn map_store<V: Simd, const U: usize, const NT: bool>(
    x: *const f32,
    y: *mut f32,
    n: usize,
    f: &impl LaneMap<V>,
) {
    let l = V::LANES;
    let step = U * l;
    let mut i = 0;
    if NT {
        let misalign = (y as usize) % (l * 4);
        if misalign != 0 {
            let head = n.min((l * 4 - misalign) / 4);
            f.apply(V::load_tail(x, head, 0.0)).store_tail(y, head);
            i = head;
        }
    }
    while i + step <= n {
        prefetch_ahead::<V>(x.add(i), step);
        for j in 0..U {
            let r = f.apply(V::load(x.add(i + j * l)));
            if NT {
                r.stream(y.add(i + j * l));
            } else {
                r.store(y.add(i + j * l));
            }
        }
        i += step;
    }
    while i + l <= n {
        f.apply(V::load(x.add(i))).store(y.add(i));
        i += l;
    }
    if i < n {
        f.apply(V::load_tail(x.add(i), n - i, 0.0))
            .store_tail(y.add(i), n - i);
    }
    if NT {
        V::stream_fence();
    }
}

/// `y_i = exp(x_i - k*ln2) * s`.
#[inline(always)]
pub(crate) unsafe fn exp_store<V: Simd, const U: usize>(
    x: *const f32,
    y: *mut f32,
    n: usize,
    ex: &Exp<V>,
    nt: bool,
) {
    // Non-temporal stores need 4-byte alignment to reach vector alignment at all.
    if nt && (y as usize) % 4 == 0 {
        map_store::<V, U, true>(x, y, n, ex);
    } else {
        map_store::<V, U, false>(x, y, n, ex);
    }
}

/// `y_i = (x_i - k*LN2_HI) - b`: log-softmax output, and `x - m` for the shifted path.
#[inline(always)]
pub(crate) unsafe fn shift_store<V: Simd, const U: usize>(
    x: *const f32,
    y: *mut f32,
    n: usize,
    k: f32,
    b: f32,
) {
    let f = Shift {
        neg_k: V::splat(-k),
        ln2_hi: V::splat(LN2_HI),
        b: V::splat(b),
    };
    map_store::<V, U, false>(x, y, n, &f);
}

/// `y_i *= s`.
#[inline(always)]
pub(crate) unsafe fn scale_in_place<V: Simd, const U: usize>(y: *mut f32, n: usize, s: f32) {
    map_store::<V, U, false>(y, y, n, &Scale(V::splat(s)));
}

/// `y_i = exp(x_i - k*ln2)`, returning their sum (f64, blocked): pass 2 of three-pass reload.
#[inline(always)]
pub(crate) unsafe fn exp_store_sum<V: Simd, const U: usize>(
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
            prefetch_ahead::<V>(x.add(i), step);
            for (j, a) in acc.iter_mut().enumerate() {
                let e = ex.eval(V::load(x.add(i + j * l)));
                e.store(y.add(i + j * l));
                *a = a.add(e);
            }
            i += step;
        }
        while i + l <= end {
            let e = ex.eval(V::load(x.add(i)));
            e.store(y.add(i));
            acc[0] = acc[0].add(e);
            i += l;
        }
        if i < end {
            let e = ex.eval(V::load_tail(x.add(i), end - i, f32::NEG_INFINITY));
            e.store_tail(y.add(i), end - i);
            acc[0] = acc[0].add(e);
        }
        total += reduce_sum(&acc);
        start = end;
    }
    total
}

/// Pass 1 of the two-pass algorithm (Dukhan & Ablavatski): every element becomes a pair
/// `(m, e)` with `e^x = m * 2^e`, accumulated per lane as `(M, E)` meaning `M * 2^E`:
/// `E' = max(E, e)`, `M' = M * 2^(E - E') + m * 2^(e - E')`, both scale factors exact
/// powers of two ([`Simd::scale_pow2`]). The lanes restart every [`BLOCK`] elements and each
/// block's pair is folded into an f64 pair, which keeps long rows accurate.
/// Returns `(M*, E*)` with `sum_i e^{x_i} = M* * 2^E*`, or `None` when the row needs the
/// special-value path (NaN, infinities, or a maximum magnitude of `LARGE` or more).
#[inline(always)]
pub(crate) unsafe fn pair_sum<V: Simd, const U: usize>(
    x: *const f32,
    n: usize,
) -> Option<(f64, f32)> {
    #[inline(always)]
    unsafe fn accumulate<V: Simd>(ex: &Exp<V>, m: &mut V, e: &mut V, v: V) {
        let (ev, p) = ex.pair(v);
        let new_e = V::max(*e, ev);
        *m = V::fma(
            p,
            V::scale_pow2(V::splat(1.0), ev.sub(new_e)),
            V::scale_pow2(*m, e.sub(new_e)),
        );
        *e = new_e;
    }
    let l = V::LANES;
    let step = U * l;
    // Clamp far below any row that takes this path: such inputs only add zeros.
    let ex = Exp::<V>::with_floor(0.0, 1.0, -2.0 * LARGE);
    let (mut total, mut e_total) = (0.0f64, f32::NEG_INFINITY);
    let mut start = 0;
    while start < n {
        let end = n.min(start + BLOCK);
        let mut acc_m = [V::splat(0.0); U];
        let mut acc_e = [V::splat(-1.0e6); U];
        let mut i = start;
        while i + step <= end {
            prefetch_ahead::<V>(x.add(i), step);
            for j in 0..U {
                accumulate(&ex, &mut acc_m[j], &mut acc_e[j], V::load(x.add(i + j * l)));
            }
            i += step;
        }
        while i + l <= end {
            accumulate(&ex, &mut acc_m[0], &mut acc_e[0], V::load(x.add(i)));
            i += l;
        }
        if i < end {
            let v = V::load_tail(x.add(i), end - i, f32::NEG_INFINITY);
            accumulate(&ex, &mut acc_m[0], &mut acc_e[0], v);
        }
        // Fold the block's lanes into the f64 pair.
        let mut ms = [0.0f32; 16];
        let mut es = [0.0f32; 16];
        for j in 0..U {
            acc_m[j].to_array(&mut ms);
            acc_e[j].to_array(&mut es);
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
        let bm = max::<V, U>(p, len);
        if !(bm < LARGE) {
            return None;
        }
        let kb = shift_for_max(bm).max(kmin);
        if kb > k {
            total *= ((k - kb) as f64).exp2();
            k = kb;
        }
        total += sum_exp::<V, U>(p, len, &Exp::new(k, 1.0));
        start += len;
    }
    if k > kmin {
        Some((total, k))
    } else {
        None
    }
}

/// What a row that left the fast path holds.
pub(crate) enum Special {
    /// At least one NaN.
    Nan,
    /// This many `+inf` entries (and no NaN).
    PosInf(usize),
    /// Every entry is `-inf` (or the row is empty).
    AllNegInf,
    /// Finite maximum `m` (typically `|m| >= LARGE`): shift by it.
    Shift(f32),
}

/// Scans a row for the special-value rules (shared by every ISA, so every ISA agrees).
pub(crate) fn classify(x: &[f32]) -> Special {
    let mut m = f32::NEG_INFINITY;
    let mut inf = 0usize;
    for &v in x {
        if v.is_nan() {
            return Special::Nan;
        }
        if v == f32::INFINITY {
            inf += 1;
        }
        if v > m {
            m = v;
        }
    }
    if inf > 0 {
        Special::PosInf(inf)
    } else if m == f32::NEG_INFINITY {
        Special::AllNegInf
    } else {
        Special::Shift(m)
    }
}

/// Fills the output with NaN.
fn fill_nan(io: &mut InOut<'_>) {
    for i in 0..io.len() {
        io.set(i, f32::NAN);
    }
}

/// Last pass shared by the softmax algorithms: `y = exp(x - k*ln2) / s`.
#[inline(always)]
unsafe fn finish_softmax<V: Simd, const U: usize>(io: &mut InOut<'_>, s: f64, k: f32, nt: bool) {
    if s.is_nan() {
        fill_nan(io);
    } else {
        exp_store::<V, U>(io.x(), io.y(), io.len(), &Exp::new(k, 1.0 / s), nt);
    }
}

/// Softmax of one row with the given algorithm (`Auto` resolved by the caller).
#[inline(always)]
pub(crate) unsafe fn softmax<V: Simd, const U: usize>(mut io: InOut<'_>, alg: Algorithm, nt: bool) {
    let (x, y, n) = (io.x(), io.y(), io.len());
    if n == 0 {
        return;
    }
    match alg {
        Algorithm::ThreePassRecompute | Algorithm::ThreePassReload | Algorithm::Auto => {
            let m = max::<V, U>(x, n);
            if !(m.abs() < LARGE) {
                return softmax_special::<V, U>(io, nt);
            }
            let k = shift_for_max(m);
            if alg == Algorithm::ThreePassReload {
                let s = exp_store_sum::<V, U>(x, y, n, &Exp::new(k, 1.0));
                if s.is_nan() {
                    fill_nan(&mut io);
                } else {
                    scale_in_place::<V, U>(y, n, (1.0 / s) as f32);
                }
            } else {
                let s = sum_exp::<V, U>(x, n, &Exp::new(k, 1.0));
                finish_softmax::<V, U>(&mut io, s, k, nt);
            }
        }
        Algorithm::TwoPass => match pair_sum::<V, U>(x, n) {
            Some((s, k)) => finish_softmax::<V, U>(&mut io, s, k, nt),
            None => softmax_special::<V, U>(io, nt),
        },
        Algorithm::TwoPassBlocked => match block_sum::<V, U>(x, n) {
            Some((s, k)) => finish_softmax::<V, U>(&mut io, s, k, nt),
            None => softmax_special::<V, U>(io, nt),
        },
    }
}

/// Softmax of a row that left the fast path.
#[inline(never)]
unsafe fn softmax_special<V: Simd, const U: usize>(mut io: InOut<'_>, nt: bool) {
    match classify(io.input()) {
        Special::Nan | Special::AllNegInf => fill_nan(&mut io),
        Special::PosInf(count) => {
            let share = 1.0 / count as f32;
            for i in 0..io.len() {
                let v = if io.get(i) == f32::INFINITY {
                    share
                } else {
                    0.0
                };
                io.set(i, v);
            }
        }
        Special::Shift(m) => {
            // x - m is exact for every x within 2^-126 of the mass (Sterbenz), so the shifted
            // row has maximum 0 and takes the fast path.
            let (x, y, n) = (io.x(), io.y(), io.len());
            shift_store::<V, U>(x, y, n, 0.0, m);
            let s = sum_exp::<V, U>(y, n, &Exp::new(0.0, 1.0));
            finish_softmax::<V, U>(&mut io.into_in_place(), s, 0.0, nt);
        }
    }
}

/// Log-softmax of one row: blocked pass 1, then `y = (x - k*LN2_HI) - (k*LN2_LO + ln S)`,
/// whose first part is exact (one FMA), so outputs near 0 keep their accuracy.
#[inline(always)]
pub(crate) unsafe fn log_softmax<V: Simd, const U: usize>(mut io: InOut<'_>) {
    let (x, y, n) = (io.x(), io.y(), io.len());
    if n == 0 {
        return;
    }
    match block_sum::<V, U>(x, n) {
        Some((s, k)) => {
            if s.is_nan() {
                fill_nan(&mut io);
            } else {
                let b = (k as f64 * LN2_LO_F64 + s.ln()) as f32;
                shift_store::<V, U>(x, y, n, k, b);
            }
        }
        None => log_softmax_special::<V, U>(io),
    }
}

#[inline(never)]
unsafe fn log_softmax_special<V: Simd, const U: usize>(mut io: InOut<'_>) {
    match classify(io.input()) {
        Special::Nan | Special::AllNegInf => fill_nan(&mut io),
        Special::PosInf(count) => {
            let share = -(count as f32).ln();
            for i in 0..io.len() {
                let v = if io.get(i) == f32::INFINITY {
                    share
                } else {
                    f32::NEG_INFINITY
                };
                io.set(i, v);
            }
        }
        Special::Shift(m) => {
            let (x, y, n) = (io.x(), io.y(), io.len());
            shift_store::<V, U>(x, y, n, 0.0, m);
            let mut shifted = io.into_in_place();
            let (y, n) = (shifted.y(), shifted.len());
            match block_sum::<V, U>(y, n) {
                Some((s, k)) => {
                    shift_store::<V, U>(y, y, n, k, (k as f64 * LN2_LO_F64 + s.ln()) as f32)
                }
                None => fill_nan(&mut shifted),
            }
        }
    }
}

/// `ln sum_i e^{x_i}` in one pass over the row (blocked (mantissa, exponent) accumulator).
#[inline(always)]
pub(crate) unsafe fn logsumexp<V: Simd, const U: usize>(x: &[f32]) -> f32 {
    if x.is_empty() {
        return f32::NEG_INFINITY;
    }
    match block_sum::<V, U>(x.as_ptr(), x.len()) {
        Some((s, k)) => (k as f64 * std::f64::consts::LN_2 + s.ln()) as f32,
        None => logsumexp_special(x),
    }
}

/// Log-sum-exp of a row that left the fast path (portable, rare).
#[inline(never)]
pub(crate) fn logsumexp_special(x: &[f32]) -> f32 {
    match classify(x) {
        Special::Nan => f32::NAN,
        Special::PosInf(_) => f32::INFINITY,
        Special::AllNegInf => f32::NEG_INFINITY,
        Special::Shift(m) => {
            let m64 = m as f64;
            let s: f64 = x.iter().map(|&v| (v as f64 - m64).exp()).sum();
            (m64 + s.ln()) as f32
        }
    }
}
