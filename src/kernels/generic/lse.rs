//! Sharded and streamed rows: the log-sum-exp state of a chunk (pass 1 of the two-pass
//! algorithm), and the output passes against a global log-sum-exp computed elsewhere (softmax,
//! log-softmax, and one shard's cross-entropy loss and gradient).
//!
//! The state of a chunk is [`pair_sum`]'s `(S, k)` with the special-value classification of
//! [`forward`](super::forward); the output passes are [`map_store_nt`] with the global
//! log-sum-exp folded into the exponential's shift and factor, as `forward`'s `finish` does, so
//! `x - k*ln2` is never rounded and a shard costs what the unsharded output pass costs.

use super::forward::{classify, fill, logsumexp_special_parts, Special};
use super::inputs::{Offset, Plain};
use super::pair_sum::pair_sum;
use super::passes::{dot, map_store, map_store_nt, LaneMap};
use crate::kernels::exp::{shift_for_max, Exp, LARGE};
use crate::kernels::simd::{Simd, Token};
use crate::kernels::Flags;
use crate::rows::InOut;
use crate::LseState;

use std::f64::consts::LN_2;

/// The state of one chunk: `sum_i e^{x_i} = S * 2^k` from pass 1 of the two-pass algorithm,
/// or the special-value rules (NaN, `+inf` count, all `-inf` = empty, huge magnitudes).
#[inline(always)]
pub(crate) fn lse_state<V: Simd, const U: usize>(isa: Token<V>, x: &[f32]) -> LseState {
    match x {
        [] => LseState::EMPTY,
        [v] => LseState::from_value(*v),
        _ => match pair_sum::<V, U>(isa, &Plain, x) {
            Some((s, k)) => LseState::from_parts(s, k as f64),
            None => lse_state_special(x),
        },
    }
}

/// The state of a chunk that left the fast path (portable, rare).
#[inline(never)]
fn lse_state_special(x: &[f32]) -> LseState {
    match classify(x, |v| v) {
        Special::Nan => LseState::NAN,
        Special::PosInf(count) => LseState::pos_inf(count as u64),
        Special::AllNegInf => LseState::EMPTY,
        Special::Shift(_) => {
            let (base, rest) = logsumexp_special_parts(x);
            LseState::from_f64(base + rest)
        }
    }
}

/// `x -> exp(x - k*ln2) * s - c` (`c` only when `MINUS`): the map of the two-pass output
/// pass, plus the gradient's subtraction.
///
/// Entries more than 88 above the log-sum-exp (impossible when it is their row's: every
/// `x_i <= lse`) are outside the exponential's range: a clamp there measured 8-10% of the
/// pass in cache (AVX2, Zen 5, n = 4096 and 256K), so there is none, and such entries give
/// unspecified values.
struct ExpMinus<V, const MINUS: bool> {
    ex: Exp<V>,
    c: V,
}

impl<V: Simd, const MINUS: bool> ExpMinus<V, MINUS> {
    /// `exp(x - k*ln2) * s - c`; `k` an integer with `|k| < 2^19`.
    #[inline(always)]
    fn new(isa: Token<V>, k: f32, s: f64, c: f32) -> Self {
        ExpMinus {
            ex: Exp::new(isa, k, s),
            c: V::splat(isa, c),
        }
    }
}

impl<V: Simd, const MINUS: bool> LaneMap<V> for ExpMinus<V, MINUS> {
    #[inline(always)]
    fn apply(&self, v: V) -> V {
        let e = self.ex.eval(v);
        if MINUS {
            e.sub(self.c)
        } else {
            e
        }
    }
}

/// `e^r` for `|r| <= 0.36` (the residual of a log-sum-exp against its shift): the degree-9
/// Taylor polynomial in Estrin's form (a short dependency chain), within 3e-11 relative there
/// (the f32 coefficients it scales round at 6e-8), without a call into libm (no `mul_add`
/// either: that is a libm call in the portable kernels). Measured on Zen 5, AVX-512, a
/// normalise call of 4096 floats: 296 ns with `f64::exp`, 280 ns with this.
#[inline(always)]
fn exp_small(r: f64) -> f64 {
    if r.abs() > 0.36 {
        return r.exp();
    }
    let c = |i: u32| 1.0 / (1..=i).map(f64::from).product::<f64>();
    let r2 = r * r;
    let r4 = r2 * r2;
    let p01 = c(1) * r + 1.0;
    let p23 = c(3) * r + c(2);
    let p45 = c(5) * r + c(4);
    let p67 = c(7) * r + c(6);
    let p89 = c(9) * r + c(8);
    let p03 = p23 * r2 + p01;
    let p47 = p67 * r2 + p45;
    let p07 = p47 * r4 + p03;
    p89 * r4 * r4 + p07
}

/// Above this magnitude a log-sum-exp is used as its f32 rounding `b` (`exp(x - b)`): an f64
/// holds it only to about `|lse| * 2^-53`, so a finer correction would be noise.
const HUGE: f64 = 1_099_511_627_776.0; // 2^40

/// Writes `exp(x - lse) - c` (`c` only when `MINUS`) for a finite `lse`, given by `parts` as
/// `(S, e)` with `lse = ln S + e*ln2` (`S > 0`, `e` an integer) or by its value. The shift and
/// the factor of the exponential carry `lse` exactly, so `x - k*ln2` is never rounded.
#[inline(always)]
fn exp_minus_lse<V: Simd, const U: usize, const MINUS: bool>(
    isa: Token<V>,
    io: &mut InOut<'_>,
    lse: f64,
    parts: Option<(f64, f64)>,
    c: f32,
    non_temporal: bool,
) {
    let (x, y, n) = (io.x(), io.y(), io.len());
    if lse.abs() < LARGE as f64 {
        // |k| < 2^18: an exact f32 integer in the exponential's range.
        let (k, factor) = match parts {
            Some((s, e)) => (e as f32, 1.0 / s),
            None => {
                let k = shift_for_max(lse as f32);
                (k, exp_small(k as f64 * LN_2 - lse))
            }
        };
        let f = ExpMinus::<V, MINUS>::new(isa, k, factor, c);
        // SAFETY: `x`, `y` and `n` are the pointers and length of `io`, valid by `InOut`'s
        // invariant.
        unsafe { map_store_nt::<V, U>(isa, &Plain, x, y, n, &f, non_temporal) };
    } else {
        // y = x - b first: exact for every x within 88 of lse (Sterbenz, |lse| >= 2^17); the
        // rest of lse, lse - b (at most ln n for a row's own lse), goes into the factor.
        let b = lse as f32;
        // SAFETY: `x`, `y` and `n` are the pointers and length of `io`, valid by `InOut`'s
        // invariant.
        unsafe { map_store::<V, U, false>(isa, &Plain, x, y, n, &Minus(V::splat(isa, b))) };
        let rest = if lse.abs() < HUGE {
            b as f64 - lse
        } else {
            0.0
        };
        let f = ExpMinus::<V, MINUS>::new(isa, 0.0, rest.exp(), c);
        // SAFETY: `x`, `y` and `n` are the pointers and length of `io`, valid by `InOut`'s
        // invariant.
        unsafe { map_store_nt::<V, U>(isa, &Plain, y, y, n, &f, non_temporal) };
    }
}

/// `y = exp(x - lse)` for a log-sum-exp computed elsewhere (the whole row's, typically from
/// merged states). `lse` is split into `k*ln2 + r` with integer `k`, and `exp(-r)` folded into
/// the polynomial, as the two-pass output pass folds `1/S`. A NaN or infinite `lse` gives the
/// IEEE value of `exp(x - lse)` per entry (portable, rare).
#[inline(always)]
pub(crate) fn normalize<V: Simd, const U: usize>(
    isa: Token<V>,
    mut io: InOut<'_>,
    lse: f32,
    flags: Flags,
) {
    if !lse.is_finite() {
        for i in 0..io.len() {
            let v = (io.get(i) - lse).exp();
            io.set(i, v);
        }
        return;
    }
    exp_minus_lse::<V, U, false>(isa, &mut io, lse as f64, None, 0.0, flags.non_temporal);
}

/// `y = x - lse`, one rounding (the exact difference of two floats rounded once: the best
/// possible), IEEE rules for non-finite values. The pass of the two-pass log-softmax.
#[inline(always)]
pub(crate) fn log_softmax_normalize<V: Simd, const U: usize>(
    isa: Token<V>,
    io: InOut<'_>,
    lse: f32,
    flags: Flags,
) {
    let f = Minus(V::splat(isa, lse));
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
    };
}

/// `x -> x - b`, rounded once and not clamped: against a log-sum-exp given by the caller an
/// entry may exceed it (an inconsistent `lse`, `+inf` entries), and the result is then the
/// IEEE difference, as documented.
struct Minus<V>(V);

impl<V: Simd> LaneMap<V> for Minus<V> {
    #[inline(always)]
    fn apply(&self, v: V) -> V {
        v.sub(self.0)
    }
}

/// One shard's part of a cross-entropy row.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shard {
    /// The target's index in this shard, when the target lies in it.
    pub target: Option<usize>,
    /// Label smoothing in `[0, 1]`.
    pub eps: f32,
    /// The number of classes of the whole row (all shards).
    pub total_cols: usize,
}

/// One shard's contribution to the loss of a row whose merged state is `st`:
/// `[t here] (1 - eps) (lse - x_t) + eps / C * sum_{j here} (lse - x_j)`. Every term is
/// non-negative (`x_j <= lse`), so the shards' contributions add up to
/// `lse - (1 - eps) x_t - eps * mean(x)` without cancellation. Rounding can put the computed
/// `lse` an ULP below a logit equal to it (a row whose other entries vanish), so a
/// contribution below 0 is clamped to 0 (NaN kept), as [`super::training::loss_of`] does.
#[inline(always)]
pub(crate) fn cross_entropy_shard<V: Simd, const U: usize>(
    isa: Token<V>,
    x: &[f32],
    st: LseState,
    shard: Shard,
) -> f64 {
    let eps = shard.eps as f64;
    if st.is_nan() || st.is_empty() {
        return f64::NAN;
    }
    if let Some(count) = st.pos_inf_count() {
        // k logits at +inf: ln k when the target is one of them, +inf when it is not (its
        // shard adds it); with smoothing the mean has no limit.
        return match shard.target {
            _ if eps > 0.0 => f64::NAN,
            Some(t) if x[t] == f32::INFINITY => (count as f64).ln(),
            Some(_) => f64::INFINITY,
            None => 0.0,
        };
    }
    let lse = st.value_f64();
    let mut loss = 0.0;
    if let Some(t) = shard.target {
        loss += (1.0 - eps) * (lse - x[t] as f64);
    }
    if eps > 0.0 && !x.is_empty() {
        // sum (lse - x_j) = n (lse - c) - sum (x_j - c), the second sum without cancellation.
        let c = lse as f32;
        // SAFETY: `x` is a slice, readable for `x.len()` elements.
        let below = dot::<V, U>(isa, &Offset::<V>::new(isa, c), x);
        let sum = x.len() as f64 * (lse - c as f64) - below;
        loss += eps / shard.total_cols as f64 * sum;
    }
    if loss < 0.0 {
        0.0
    } else {
        loss
    }
}

/// [`cross_entropy_shard`] that also writes the shard's gradient,
/// `exp(x - lse) - (1 - eps) onehot(t) - eps / C`, to `io`'s output (which may be the input).
#[inline(always)]
pub(crate) fn cross_entropy_shard_grad<V: Simd, const U: usize>(
    isa: Token<V>,
    mut io: InOut<'_>,
    st: LseState,
    shard: Shard,
    flags: Flags,
) -> f64 {
    let loss = cross_entropy_shard::<V, U>(isa, io.input(), st, shard);
    let per_class = shard.eps / shard.total_cols as f32;
    if st.is_nan() || st.is_empty() {
        fill(&mut io, f32::NAN);
        return loss;
    }
    if let Some(count) = st.pos_inf_count() {
        let share = 1.0 / count as f32;
        for i in 0..io.len() {
            let p = if io.get(i) == f32::INFINITY {
                share
            } else {
                0.0
            };
            io.set(i, p - per_class);
        }
    } else {
        let (lse, parts) = (st.value_f64(), Some(st.parts()));
        if per_class > 0.0 {
            exp_minus_lse::<V, U, true>(isa, &mut io, lse, parts, per_class, flags.non_temporal);
        } else {
            exp_minus_lse::<V, U, false>(isa, &mut io, lse, parts, 0.0, flags.non_temporal);
        }
    }
    if let Some(t) = shard.target {
        let g = io.get_out(t);
        io.set(t, g - (1.0 - shard.eps));
    }
    loss
}
