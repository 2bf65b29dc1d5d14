//! StableMax ("Grokking at the Edge of Numerical Stability", Prieto, Barsbey, Mediano and
//! Birdal, 2025): `s(x) = x + 1` for `x >= 0`, `1 / (1 - x)` for `x < 0`, normalised as
//! `s(x_i) / S` with `S = sum_j s(x_j)`; its log, its cross-entropy and the backward passes.
//!
//! Every operation is two passes over memory: one read for `S` (blocked: f32 lanes per
//! [`BLOCK`], f64 block totals), one read and one write for the output. `s` is branch-free:
//! with `u = max(x, 0)` and `d = 1 - min(x, 0)`, `s(x) = u + 1/d` (one of the two terms is
//! always the exact `0` or `1`), and its derivative is `s'(x) = 1/d^2`.
//!
//! Special values (identical on every ISA; the public docs repeat them):
//! - `s(-inf) = 0`, `s(+inf) = +inf`, `s(NaN) = NaN`; `s(x) > 0` for every finite `x`.
//! - A NaN anywhere: every output of the row is NaN.
//! - `k` entries at `+inf`: StableMax gives them `1/k` and every other entry 0 (the limit);
//!   log-StableMax `-ln k` and `-inf`. Gradients use `1/S = 0`.
//! - A row of only `-inf` (`S = 0`): NaN (zeros with the masked-row flag).
//! - Rows whose sum overflows f32 (entries near `3e38`) or is tiny (every entry below about
//!   `-2^100`) are summed again in f64, and the output pass scales by an exact power of two,
//!   so they are as accurate as ordinary rows.

use super::forward::fill;
use super::inputs::Plain;
use super::passes::{map2_store_nt, map_store_nt, LaneMap, LaneMap2};
use super::passes::{BLOCK, PREFETCH};
use super::walk::{self, Body, One, Two};
use crate::kernels::exp::ROUND;
use crate::kernels::ln::ln;
use crate::kernels::simd::{Simd, Token};
use crate::kernels::Flags;
use crate::rows::{Grad, InOut};

/// Sums outside `[TINY, HUGE]` take the exact f64 path and a power-of-two output scale.
const HUGE: f64 = 1.267_650_600_228_229_4e30; // 2^100
const TINY: f64 = 7.888_609_052_210_118e-31; // 2^-100
/// The output scale of those rows: `2^64` (or its inverse).
const SPLIT: f64 = 18_446_744_073_709_551_616.0;

/// `ln 2` in two parts: `LN2_A` has 9 significant bits, so `d * LN2_A` is exact for every
/// integer `|d| < 2^15`.
const LN2_A: f32 = 355.0 / 512.0;
/// `ln 2 - LN2_A`, rounded to f32.
const LN2_B: f32 = -2.121_944_4e-4;

/// `s(x)` in f64 (the scalar paths and the exact fallback).
#[inline]
pub(crate) fn s64(x: f32) -> f64 {
    let x = x as f64;
    if x >= 0.0 {
        x + 1.0
    } else {
        1.0 / (1.0 - x)
    }
}

/// `ln s(x)` in f64: `sign(x) * ln(1 + |x|)`.
#[inline]
pub(crate) fn log_s64(x: f32) -> f64 {
    let l = (x.abs() as f64).ln_1p();
    if x < 0.0 {
        -l
    } else {
        l
    }
}

/// `s'(x) / s(x) = 1 / (1 + |x|)` in f64.
#[inline]
fn ds_over_s64(x: f32) -> f64 {
    1.0 / (1.0 + (x as f64).abs())
}

/// `s'(x)` in f64: 1 for `x >= 0`, `1 / (1 - x)^2` below.
#[inline]
fn ds64(x: f32) -> f64 {
    let x = x as f64;
    if x >= 0.0 {
        1.0
    } else {
        let r = 1.0 / (1.0 - x);
        r * r
    }
}

/// The constants of the per-lane formulas, broadcast once.
#[derive(Clone, Copy)]
struct K<V> {
    zero: V,
    one: V,
}

impl<V: Simd> K<V> {
    #[inline(always)]
    fn new(isa: Token<V>) -> Self {
        K {
            zero: V::splat(isa, 0.0),
            one: V::splat(isa, 1.0),
        }
    }

    /// `(u, d)` with `s(x) = u + 1/d`: `u = max(x, 0)`, `d = 1 - min(x, 0)`. A NaN `x` stays
    /// NaN in both (it is the second operand, which x86 returns).
    #[inline(always)]
    fn parts(&self, x: V) -> (V, V) {
        (V::max(self.zero, x), self.one.sub(V::min(self.zero, x)))
    }
}

/// `x -> s(x)`.
struct STerm<V>(K<V>);

impl<V: Simd> LaneMap<V> for STerm<V> {
    #[inline(always)]
    fn apply(&self, x: V) -> V {
        let (u, d) = self.0.parts(x);
        u.add(self.0.one.div(d))
    }
}

/// `ln s(x) = sign(x) * ln(1 + |x|)`, as `(se, sl)` with `ln s(x) = se*ln2 + sl`: `se` is an
/// integer (the exponent of `1 + |x|`, signed) and `|sl| <= 0.35` (its mantissa's log, signed,
/// or `±inf` for infinite `x`), so a caller can subtract another such pair exactly.
///
/// `ln(1 + a)`: `w = 1 + a` rounded, its exact rounding error `c` (exact while `w < 2^24`,
/// negligible beyond), `w = m * 2^e` with `m` in `[sqrt(1/2), sqrt(2))` ([`Simd::split_exp`]),
/// and `ln(1 + a) = e*ln2 + ln(1 + f)` with `f = (m - 1) + c*2^-e` (one rounding). Then
/// `ln(1 + f) = 2 atanh(t)`, `t = f / (2 + f)`, `|t| <= 0.172`, by its series to `t^9`
/// (truncation below 3e-9 relative). Worst error measured against f64 in the tests.
struct LogS<V> {
    k: K<V>,
    two: V,
    max: V,
    inf: V,
    e_max: V,
    magic: V,
    c3: V,
    c5: V,
    c7: V,
    c9: V,
}

impl<V: Simd> LogS<V> {
    #[inline(always)]
    fn new(isa: Token<V>) -> Self {
        LogS {
            k: K::new(isa),
            two: V::splat(isa, 2.0),
            max: V::splat(isa, f32::MAX),
            inf: V::splat(isa, f32::INFINITY),
            e_max: V::splat(isa, 127.0),
            magic: V::splat(isa, ROUND + 127.0),
            c3: V::splat(isa, 2.0 / 3.0),
            c5: V::splat(isa, 2.0 / 5.0),
            c7: V::splat(isa, 2.0 / 7.0),
            c9: V::splat(isa, 2.0 / 9.0),
        }
    }

    #[inline(always)]
    fn parts(&self, isa: Token<V>, x: V) -> (V, V) {
        let one = self.k.one;
        let neg_x = self.k.zero.sub(x);
        let a = V::max(neg_x, x); // |x|; NaN stays NaN
        let ac = V::min(self.max, a); // +inf -> MAX (fixed below); NaN stays
        let w = ac.add(one);
        let c = ac.sub(w.sub(one));
        // m in [sqrt(1/2), sqrt(2)), e in [0, 128]; p = 2^-e (0 for e >= 127, where c is
        // negligible anyway); m - 1 is exact (Sterbenz).
        let (m, e) = w.split_exp();
        let p = V::pow2_from_magic(self.magic.sub(V::min(self.e_max, e)));
        let f = V::fma(c, p, m.sub(one));
        let t = f.div(self.two.add(f));
        let z = t.mul(t);
        let poly = V::fma(z, V::fma(z, V::fma(z, self.c9, self.c7), self.c5), self.c3);
        let l = V::fma(t.mul(z), poly, t.add(t));
        // +inf where |x| is infinite (or NaN, which l already is).
        let l = l.add(V::zero_below(self.inf, a, self.inf));
        // sign: -1 where x < 0, else 1.
        let neg = one.sub(V::zero_below(one, x, self.k.zero));
        let sign = V::fma(neg, V::splat(isa, -2.0), one);
        (e.mul(sign), l.mul(sign))
    }
}

/// The body of [`sum_of`]: `acc[j] += f(v)`, the single vectors and the tail into
/// accumulator 0.
struct SumOf<'f, V, F, const U: usize> {
    f: &'f F,
    acc: [V; U],
}

impl<V: Simd, F: LaneMap<V>, const U: usize> Body<V, V> for SumOf<'_, V, F, U> {
    const SPREAD: bool = false;
    #[inline(always)]
    fn take(&mut self, j: usize, _i: usize, v: V) -> V {
        self.acc[j] = self.acc[j].add(self.f.apply(v));
        v
    }
}

/// Blocked `sum_i f(x_i)` in f64 (tail lanes read as `fill`, which `f` must map to 0).
#[inline(always)]
fn sum_of<V: Simd, const U: usize>(
    isa: Token<V>,
    x: &[f32],
    f: &impl LaneMap<V>,
    fill_value: f32,
) -> f64 {
    let mut total = 0.0f64;
    for block in x.chunks(BLOCK) {
        let mut b = SumOf {
            f,
            acc: [V::splat(isa, 0.0); U],
        };
        walk::fold::<V, _, _, U, PREFETCH>(isa, &One::new(&Plain, block, fill_value), &mut b);
        total += fold(&b.acc);
    }
    total
}

/// The body of [`sum_log`]: the two parts of `ln s(x)` into two sets of accumulators.
struct SumLog<V, const U: usize> {
    f: LogS<V>,
    isa: Token<V>,
    e: [V; U],
    l: [V; U],
}

impl<V: Simd, const U: usize> Body<V, V> for SumLog<V, U> {
    const SPREAD: bool = false;
    #[inline(always)]
    fn take(&mut self, j: usize, _i: usize, v: V) -> V {
        let (se, sl) = self.f.parts(self.isa, v);
        self.e[j] = self.e[j].add(se);
        self.l[j] = self.l[j].add(sl);
        v
    }
}

/// `(sum_i se_i, sum_i sl_i)` of [`LogS::parts`] in f64, blocked: `sum_i ln s(x_i)` is
/// `ln2 * first + second`, the integer parts summed exactly (a lane adds at most 2048 values
/// of magnitude at most 128 per block).
#[inline(always)]
fn sum_log<V: Simd, const U: usize>(isa: Token<V>, x: &[f32]) -> (f64, f64) {
    let (mut e_total, mut l_total) = (0.0f64, 0.0f64);
    for block in x.chunks(BLOCK) {
        let mut b = SumLog {
            f: LogS::<V>::new(isa),
            isa,
            e: [V::splat(isa, 0.0); U],
            l: [V::splat(isa, 0.0); U],
        };
        // ln s(0) = 0: the lanes past the row add nothing.
        walk::fold::<V, _, _, U, PREFETCH>(isa, &One::new(&Plain, block, 0.0), &mut b);
        e_total += fold(&b.e);
        l_total += fold(&b.l);
    }
    (e_total, l_total)
}

/// The lanes of `U` accumulators, summed in f64.
#[inline(always)]
fn fold<V: Simd, const U: usize>(acc: &[V; U]) -> f64 {
    let mut s = acc[0];
    for a in &acc[1..] {
        s = s.add(*a);
    }
    s.reduce_add()
}

/// The body of [`sums2`].
struct Sums2<'k, V, const U: usize, const DOT: bool> {
    k: &'k K<V>,
    s: [V; U],
    b: [V; U],
}

impl<V: Simd, const U: usize, const DOT: bool> Body<V, (V, V)> for Sums2<'_, V, U, DOT> {
    const SPREAD: bool = false;
    #[inline(always)]
    fn take(&mut self, j: usize, _i: usize, (x, dy): (V, V)) -> V {
        let (s, b) = term2::<V, DOT>(self.k, x, dy);
        self.s[j] = self.s[j].add(s);
        self.b[j] = self.b[j].add(b);
        x
    }
}

/// Two sums over `(x_i, dy_i)` at once: `sum s(x_i)` and `sum dy_i * s(x_i)` (`DOT`) or
/// `sum dy_i`, blocked like [`sum_of`].
#[inline(always)]
fn sums2<V: Simd, const U: usize, const DOT: bool>(
    isa: Token<V>,
    x: &[f32],
    dy: &[f32],
) -> (f64, f64) {
    let k = K::<V>::new(isa);
    let (mut s_total, mut b_total) = (0.0f64, 0.0f64);
    for (xb, dyb) in x.chunks(BLOCK).zip(dy.chunks(BLOCK)) {
        let mut b = Sums2::<V, U, DOT> {
            k: &k,
            s: [V::splat(isa, 0.0); U],
            b: [V::splat(isa, 0.0); U],
        };
        let src = Two::new(xb, dyb, (f32::NEG_INFINITY, 0.0));
        walk::fold::<V, _, _, U, PREFETCH>(isa, &src, &mut b);
        s_total += fold(&b.s);
        b_total += fold(&b.b);
    }
    (s_total, b_total)
}

/// The terms of [`sums2`]: `s(x)` and `dy * s(x)` (`DOT`) or `dy`.
#[inline(always)]
fn term2<V: Simd, const DOT: bool>(k: &K<V>, x: V, dy: V) -> (V, V) {
    let (u, d) = k.parts(x);
    let s = u.add(k.one.div(d));
    (s, if DOT { dy.mul(s) } else { dy })
}

/// What a row's sum `S` says about it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mass {
    /// `0 < S < inf` (exact f64 when the f32 lanes overflowed).
    Finite(f64),
    /// A NaN in the row.
    Nan,
    /// This many `+inf` entries (and no NaN).
    PosInf(usize),
    /// Every entry is `-inf` (or the row is empty).
    Zero,
}

/// Classifies the blocked sum `s` of row `x`, redoing it in f64 when the f32 lanes may have
/// overflowed or the sum is tiny.
fn classify(x: &[f32], s: f64) -> Mass {
    if s.is_nan() {
        Mass::Nan
    } else if s == 0.0 {
        Mass::Zero
    } else if (TINY..f64::INFINITY).contains(&s) {
        Mass::Finite(s)
    } else {
        exact(x)
    }
}

/// The sum of `s(x_i)` in f64, element by element (rows beyond the f32 range; rare).
#[cold]
#[inline(never)]
fn exact(x: &[f32]) -> Mass {
    let k = x.iter().filter(|&&v| v == f32::INFINITY).count();
    if x.iter().any(|v| v.is_nan()) {
        Mass::Nan
    } else if k > 0 {
        Mass::PosInf(k)
    } else {
        Mass::Finite(x.iter().map(|&v| s64(v)).sum())
    }
}

/// The row's mass (pass 1).
#[inline(always)]
fn mass<V: Simd, const U: usize>(isa: Token<V>, x: &[f32]) -> Mass {
    let s = sum_of::<V, U>(isa, x, &STerm(K::new(isa)), f32::NEG_INFINITY);
    classify(x, s)
}

/// `1/S` as `c * post` with `c` a normal f32 far from overflow and `post` a power of two
/// (`None` for 1).
fn scale(inv_s: f64) -> (f32, Option<f32>) {
    if inv_s < TINY {
        ((inv_s * SPLIT) as f32, Some((1.0 / SPLIT) as f32))
    } else if inv_s > HUGE {
        ((inv_s / SPLIT) as f32, Some(SPLIT as f32))
    } else {
        (inv_s as f32, None)
    }
}

/// The second factor of `s'(x) / S = (r*c) * (r*post)` (`r = 1/d`): `r*post` when `POST`.
/// With a power-of-two scale, every intermediate stays in range whenever the result is
/// above the f32 underflow threshold (the tiny-sum rows have `r <= 2^-100` and `post = 2^64`;
/// the huge-sum rows `post = 2^-64`, where `r*post` underflows only for results below
/// `2^-224`).
#[inline(always)]
fn sq_factor<V: Simd, const POST: bool>(r: V, post: V) -> V {
    if POST {
        r.mul(post)
    } else {
        r
    }
}

/// `x -> s(x) * c * post = u*c + c/d` (one rounding each), times `post` when `POST`.
struct Normalise<V, const POST: bool> {
    k: K<V>,
    c: V,
    post: V,
}

impl<V: Simd, const POST: bool> LaneMap<V> for Normalise<V, POST> {
    #[inline(always)]
    fn apply(&self, x: V) -> V {
        let (u, d) = self.k.parts(x);
        let y = V::fma(u, self.c, self.c.div(d));
        if POST {
            y.mul(self.post)
        } else {
            y
        }
    }
}

/// `y = s(x) / S` with `S` finite and positive.
#[inline(always)]
fn normalise<V: Simd, const U: usize>(
    isa: Token<V>,
    io: &mut InOut<'_>,
    s: f64,
    non_temporal: bool,
) {
    let (c, post) = scale(1.0 / s);
    let (x, y, n) = (io.x(), io.y(), io.len());
    let k = K::new(isa);
    let c = V::splat(isa, c);
    match post {
        None => {
            let f = Normalise::<V, false> { k, c, post: c };
            // SAFETY: `x`, `y` and `n` are the pointers and length of `io`, valid by `InOut`'s
            // invariant.
            unsafe { map_store_nt::<V, U>(isa, &Plain, x, y, n, &f, non_temporal) }
        }
        Some(p) => {
            let f = Normalise::<V, true> {
                k,
                c,
                post: V::splat(isa, p),
            };
            // SAFETY: `x`, `y` and `n` are the pointers and length of `io`, valid by `InOut`'s
            // invariant.
            unsafe { map_store_nt::<V, U>(isa, &Plain, x, y, n, &f, non_temporal) }
        }
    }
}

/// The `+inf` limit: `on` at the `+inf` entries, `off` elsewhere.
fn fill_inf(io: &mut InOut<'_>, on: f32, off: f32) {
    for i in 0..io.len() {
        let v = if io.get(i) == f32::INFINITY { on } else { off };
        io.set(i, v);
    }
}

/// StableMax of one row: `y_i = s(x_i) / sum_j s(x_j)`.
#[inline(always)]
pub(crate) fn stablemax<V: Simd, const U: usize>(isa: Token<V>, mut io: InOut<'_>, flags: Flags) {
    if io.len() == 0 {
        return;
    }
    match mass::<V, U>(isa, io.input()) {
        Mass::Finite(s) => normalise::<V, U>(isa, &mut io, s, flags.non_temporal),
        Mass::Nan => fill(&mut io, f32::NAN),
        Mass::PosInf(k) => fill_inf(&mut io, 1.0 / k as f32, 0.0),
        Mass::Zero => fill(&mut io, if flags.zero_masked { 0.0 } else { f32::NAN }),
    }
}

/// `x -> ln s(x) - ln S` from the parts of both: `(se - E)*ln2 + (sl - lm)`, the integer
/// parts subtracted exactly first.
struct LogNormalise<V> {
    log: LogS<V>,
    e: V,
    lm: V,
    ln2_a: V,
    ln2_b: V,
}

impl<V: Simd> LaneMap<V> for LogNormalise<V> {
    #[inline(always)]
    fn apply(&self, x: V) -> V {
        let isa = x.token();
        let (se, sl) = self.log.parts(isa, x);
        let d = se.sub(self.e);
        V::fma(d, self.ln2_a, V::fma(d, self.ln2_b, sl.sub(self.lm)))
    }
}

/// `S = M * 2^E` with `M` in `[1, 2)`: `(E, ln M)`.
fn log_parts64(s: f64) -> (f32, f32) {
    let e = ((s.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    let m = s / 2f64.powi(e as i32);
    (e as f32, ln(m) as f32)
}

/// Log-StableMax of one row: `y_i = ln s(x_i) - ln S`.
#[inline(always)]
pub(crate) fn log_stablemax<V: Simd, const U: usize>(
    isa: Token<V>,
    mut io: InOut<'_>,
    flags: Flags,
) {
    if io.len() == 0 {
        return;
    }
    match mass::<V, U>(isa, io.input()) {
        Mass::Finite(s) => {
            let (e, lm) = log_parts64(s);
            let f = LogNormalise {
                log: LogS::new(isa),
                e: V::splat(isa, e),
                lm: V::splat(isa, lm),
                ln2_a: V::splat(isa, LN2_A),
                ln2_b: V::splat(isa, LN2_B),
            };
            // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
            unsafe {
                map_store_nt::<V, U>(
                    isa,
                    &Plain,
                    io.x(),
                    io.y(),
                    io.len(),
                    &f,
                    flags.non_temporal,
                )
            }
        }
        Mass::Nan | Mass::Zero => fill(&mut io, f32::NAN),
        Mass::PosInf(k) => fill_inf(&mut io, -(k as f32).ln(), f32::NEG_INFINITY),
    }
}

/// The loss of a row with mass `m`: `-sum_i q_i ln p_i` with `q = (1 - eps) onehot + eps/n`.
/// For `+inf` rows `p` is the limit (`1/k` at the `+inf` entries, 0 elsewhere), terms with
/// `q_i = 0` count 0, so the loss is `ln k` or `+inf`.
#[inline(always)]
fn loss_of<V: Simd, const U: usize>(
    isa: Token<V>,
    x: &[f32],
    target: usize,
    eps: f32,
    m: Mass,
) -> f64 {
    let n = x.len();
    let eps64 = eps as f64;
    match m {
        Mass::Nan | Mass::Zero => f64::NAN,
        Mass::PosInf(k) => {
            let target_inf = x[target] == f32::INFINITY;
            let smooth_ok = eps == 0.0 || k == n;
            let target_ok = target_inf || eps == 1.0;
            if smooth_ok && target_ok {
                (k as f64).ln()
            } else {
                f64::INFINITY
            }
        }
        Mass::Finite(s) => {
            let mut loss = ln(s);
            if eps < 1.0 {
                loss -= (1.0 - eps64) * log_s64(x[target]);
            }
            if eps > 0.0 {
                // SAFETY: `x` is a slice of `n = x.len()` elements.
                let (se, sl) = sum_log::<V, U>(isa, x);
                let mean = (se * std::f64::consts::LN_2 + sl) / n as f64;
                loss -= eps64 * mean;
            }
            loss
        }
    }
}

/// StableMax cross-entropy of one row against class `target < n`, with label smoothing
/// `eps` in `[0, 1]`: `ln S - (1 - eps) ln s(x_t) - eps * mean_i ln s(x_i)`. One pass (two
/// with smoothing).
#[inline(always)]
pub(crate) fn cross_entropy<V: Simd, const U: usize>(
    isa: Token<V>,
    x: &[f32],
    target: usize,
    eps: f32,
) -> f32 {
    loss_of::<V, U>(isa, x, target, eps, mass::<V, U>(isa, x)) as f32
}

/// `x -> s'(x) * c * post - q / (1 + |x|)`: the cross-entropy gradient off the target, with
/// `s' = 1/d^2` and `1 + |x| = u + d`.
struct CeGrad<V, const POST: bool, const SMOOTH: bool> {
    k: K<V>,
    c: V,
    post: V,
    q: V,
}

impl<V: Simd, const POST: bool, const SMOOTH: bool> LaneMap<V> for CeGrad<V, POST, SMOOTH> {
    #[inline(always)]
    fn apply(&self, x: V) -> V {
        let (u, d) = self.k.parts(x);
        let r = self.k.one.div(d);
        let mut g = r.mul(self.c).mul(sq_factor::<V, POST>(r, self.post));
        if SMOOTH {
            g = g.sub(self.q.div(u.add(d)));
        }
        g
    }
}

/// [`cross_entropy`] that also writes the gradient with respect to the logits,
/// `g_i = s'(x_i) / S - q_i s'(x_i) / s(x_i)` (`q` as in [`loss_of`]; `1/S = 0` for `+inf`
/// rows), to `io`'s output: two passes. The target entry is recomputed in f64.
#[inline(always)]
pub(crate) fn cross_entropy_grad<V: Simd, const U: usize>(
    isa: Token<V>,
    mut io: InOut<'_>,
    target: usize,
    eps: f32,
    flags: Flags,
) -> f32 {
    let n = io.len();
    let m = mass::<V, U>(isa, io.input());
    let loss = loss_of::<V, U>(isa, io.input(), target, eps, m);
    let xt = io.get(target);
    let inv_s = match m {
        Mass::Finite(s) => 1.0 / s,
        Mass::PosInf(_) => 0.0,
        Mass::Nan | Mass::Zero => {
            fill(&mut io, f32::NAN);
            return loss as f32;
        }
    };
    let q = eps as f64 / n as f64;
    let (c, post) = scale(inv_s);
    let k = K::new(isa);
    let (c, qv) = (V::splat(isa, c), V::splat(isa, q as f32));
    let (x, y) = (io.x(), io.y());
    macro_rules! run {
        ($post:expr, $p:expr, $smooth:expr) => {{
            let f = CeGrad::<V, $post, $smooth> {
                k,
                c,
                post: V::splat(isa, $p),
                q: qv,
            };
            // SAFETY: `x`, `y` and `n` are the pointers and length of `io` (`InOut`\'s invariant).
            unsafe { map_store_nt::<V, U>(isa, &Plain, x, y, n, &f, flags.non_temporal) }
        }};
    }
    match (post, eps > 0.0) {
        (None, false) => run!(false, 1.0, false),
        (None, true) => run!(false, 1.0, true),
        (Some(p), false) => run!(true, p, false),
        (Some(p), true) => run!(true, p, true),
    }
    let qt = (1.0 - eps as f64) + q;
    let gt = ds64(xt) * inv_s - qt * ds_over_s64(xt);
    io.set(target, gt as f32);
    loss as f32
}

/// `1/S` for a backward pass, after the exact path if the blocked sums left the f32 range.
/// `None` for rows whose forward output is NaN.
fn backward_inv(x: &[f32], s: f64) -> Option<f64> {
    match classify(x, s) {
        Mass::Finite(s) => Some(1.0 / s),
        Mass::PosInf(_) => Some(0.0),
        Mass::Nan | Mass::Zero => None,
    }
}

/// `(x, dy) -> s'(x) c post (dy - d)`.
struct SmaxBack<V, const POST: bool> {
    k: K<V>,
    c: V,
    post: V,
    d: V,
}

impl<V: Simd, const POST: bool> LaneMap2<V> for SmaxBack<V, POST> {
    #[inline(always)]
    fn apply(&self, x: V, dy: V) -> V {
        let (_, d) = self.k.parts(x);
        let r = self.k.one.div(d);
        let r2 = r.mul(self.c).mul(sq_factor::<V, POST>(r, self.post));
        r2.mul(dy.sub(self.d))
    }
}

/// StableMax backward pass from the forward input `x` (StableMax's derivative depends on `x`
/// itself, not only on its output): `dx_i = s'(x_i) / S * (dy_i - sum_j dy_j y_j)` with
/// `y = StableMax(x)`. Pass 1 sums `s(x)` and `dy * s(x)` together; pass 2 writes `dx`.
/// `g.y()` holds `x`.
#[inline(always)]
pub(crate) fn stablemax_backward<V: Simd, const U: usize>(
    isa: Token<V>,
    g: Grad<'_>,
    non_temporal: bool,
) {
    let n = g.len();
    if n == 0 {
        return;
    }
    let (x, dy) = g.inputs();
    let (s, dot) = sums2::<V, U, true>(isa, x, dy);
    let Some(inv) = backward_inv(x, s) else {
        return fill_out(&g, f32::NAN);
    };
    // sum_j dy_j y_j: in f64 when the blocked dot left the f32 range or the row is special.
    let d = if dot.is_finite() && s.is_finite() && s >= TINY {
        dot * inv
    } else {
        dot_exact(x, dy, inv)
    };
    let (c, post) = scale(inv);
    let k = K::new(isa);
    let (c, d) = (V::splat(isa, c), V::splat(isa, d as f32));
    match post {
        None => {
            let f = SmaxBack::<V, false> { k, c, post: c, d };
            // SAFETY: the pointers of `g` are valid for `g.len()` elements (`Grad`'s invariant).
            unsafe { map2_store_nt::<V, U>(isa, g.y(), g.dy(), g.dx(), n, &f, non_temporal) }
        }
        Some(p) => {
            let post = V::splat(isa, p);
            let f = SmaxBack::<V, true> { k, c, post, d };
            // SAFETY: the pointers of `g` are valid for `g.len()` elements (`Grad`'s invariant).
            unsafe { map2_store_nt::<V, U>(isa, g.y(), g.dy(), g.dx(), n, &f, non_temporal) }
        }
    }
}

/// `sum_j dy_j y_j` in f64, with `y` the StableMax limit of `x` (rare rows).
#[cold]
#[inline(never)]
fn dot_exact(x: &[f32], dy: &[f32], inv: f64) -> f64 {
    if inv == 0.0 {
        // +inf rows: y is 1/k at the k infinite entries.
        let inf: Vec<f64> = x
            .iter()
            .zip(dy)
            .filter(|(&v, _)| v == f32::INFINITY)
            .map(|(_, &d)| d as f64)
            .collect();
        inf.iter().sum::<f64>() / inf.len() as f64
    } else {
        x.iter()
            .zip(dy)
            .map(|(&v, &d)| s64(v) * d as f64)
            .sum::<f64>()
            * inv
    }
}

/// Fills a backward pass's output with `v`.
fn fill_out(g: &Grad<'_>, v: f32) {
    for i in 0..g.len() {
        // SAFETY: the pointers of `g` are valid for `g.len()` elements (`Grad`'s invariant).
        unsafe { g.dx().add(i).write(v) };
    }
}

/// `(x, dy) -> dy / (1 + |x|) - s'(x) c post D`.
struct LogSmaxBack<V, const POST: bool> {
    k: K<V>,
    c: V,
    post: V,
    sum: V,
}

impl<V: Simd, const POST: bool> LaneMap2<V> for LogSmaxBack<V, POST> {
    #[inline(always)]
    fn apply(&self, x: V, dy: V) -> V {
        let (u, d) = self.k.parts(x);
        let r = self.k.one.div(d);
        let p = r
            .mul(self.c)
            .mul(sq_factor::<V, POST>(r, self.post))
            .mul(self.sum);
        dy.div(u.add(d)).sub(p)
    }
}

/// Log-StableMax backward pass from the forward input `x`:
/// `dx_i = dy_i / (1 + |x_i|) - s'(x_i) / S * sum_j dy_j`. `g.y()` holds `x`.
#[inline(always)]
pub(crate) fn log_stablemax_backward<V: Simd, const U: usize>(
    isa: Token<V>,
    g: Grad<'_>,
    non_temporal: bool,
) {
    let n = g.len();
    if n == 0 {
        return;
    }
    let (x, dy) = g.inputs();
    let (s, sum) = sums2::<V, U, false>(isa, x, dy);
    let Some(inv) = backward_inv(x, s) else {
        return fill_out(&g, f32::NAN);
    };
    let (c, post) = scale(inv);
    let k = K::new(isa);
    let (c, sum) = (V::splat(isa, c), V::splat(isa, sum as f32));
    match post {
        None => {
            let f = LogSmaxBack::<V, false> { k, c, post: c, sum };
            // SAFETY: the pointers of `g` are valid for `g.len()` elements (`Grad`'s invariant).
            unsafe { map2_store_nt::<V, U>(isa, g.y(), g.dy(), g.dx(), n, &f, non_temporal) }
        }
        Some(p) => {
            let post = V::splat(isa, p);
            let f = LogSmaxBack::<V, true> { k, c, post, sum };
            // SAFETY: the pointers of `g` are valid for `g.len()` elements (`Grad`'s invariant).
            unsafe { map2_store_nt::<V, U>(isa, g.y(), g.dy(), g.dx(), n, &f, non_temporal) }
        }
    }
}
