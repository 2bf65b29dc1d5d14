//! Training-side operations: the backward passes of softmax and log-softmax, and the fused
//! cross-entropy loss (with its gradient) built on the blocked (mantissa, exponent) pass.

use super::forward::{classify, fill, logsumexp_special_parts, softmax_special, Special};
use super::inputs::Plain;
use super::pair_sum::pair_sum;
use super::pair_sum::pair_sum_src;
use super::passes::{
    dot, dot_pair, dot_src, map2_store_nt, map_store_nt, ExpMinus, LaneMap, LaneMap2, Map, Map2,
    Prob,
};
use super::walk::{self, Halves, Pair};
use crate::kernels::convert::Half;
use crate::kernels::exp::Exp;
use crate::kernels::ln::ln;
use crate::kernels::simd::{Simd, Token};
use crate::kernels::Flags;
use crate::rows::{Grad, InOut};

/// `(y, dy) -> y * dy - y * d`: for `0 <= y <= 1` neither product overflows where the result
/// does not (`dy - d` alone can: `3e38 - -1e38`, found by the fuzzer), and plain multiplies and
/// a subtraction give the same bits on every ISA.
struct SoftmaxGrad<V> {
    d: V,
}

impl<V: Simd> LaneMap2<V> for SoftmaxGrad<V> {
    #[inline(always)]
    fn apply(&self, y: V, dy: V) -> V {
        y.mul(dy).sub(y.mul(self.d))
    }
}

/// Log-probabilities are capped here, where the exponential gives `+inf`: `8*y*log2(e)`
/// rounds to 1024, whose table entry is 1 and whose exponent field is 255 (`2^128`, which is
/// infinity). From `y = 88.68` on the exponential is `+inf` (the exact one overflows f32 from
/// 88.72 on).
const LOG_PROB_CAP: f32 = 88.75;

/// `(y, dy) -> dy - exp(y) * s`, with `s` (or most of it) folded into the exponential's
/// coefficients and the rest, if any, multiplied afterwards (`neg_s` is its negation).
struct LogSoftmaxGrad<V> {
    ex: Exp<V>,
    cap: V,
    neg_s: Option<V>,
}

impl<V: Simd> LaneMap2<V> for LogSoftmaxGrad<V> {
    #[inline(always)]
    fn apply(&self, y: V, dy: V) -> V {
        let e = self.ex.eval(V::min(self.cap, y));
        match self.neg_s {
            None => dy.sub(e),
            // One rounding: `e * s` may overflow where `dy - e * s` does not.
            Some(neg_s) => V::fma(e, neg_s, dy),
        }
    }
}

/// Writes a backward pass's map of `(y, dy)` to `dx`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn store2<V: Simd, const U: usize>(
    isa: Token<V>,
    g: &Grad<'_>,
    f: &impl LaneMap2<V>,
    non_temporal: bool,
) {
    // SAFETY: the pointers of `g` are valid for `g.len()` elements (`Grad`'s invariant).
    unsafe { map2_store_nt::<V, U>(isa, g.y(), g.dy(), g.dx(), g.len(), f, non_temporal) };
}

/// `dx = y * (dy - dot(dy, y))` for a softmax output `y`: one pass for the dot product (f64
/// block totals), one for the result.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn softmax_backward<V: Simd, const U: usize>(
    isa: Token<V>,
    g: Grad<'_>,
    non_temporal: bool,
) {
    let (y, dy) = g.inputs();
    let d = dot_pair::<V, U>(isa, y, dy);
    store2::<V, U>(
        isa,
        &g,
        &SoftmaxGrad {
            d: V::splat(isa, d as f32),
        },
        non_temporal,
    );
}

/// `dx = dy - exp(y) * sum(dy)` for a log-softmax output `y` (so `y <= 0`; from about 88.4
/// on, `exp(y)` is infinite).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn log_softmax_backward<V: Simd, const U: usize>(
    isa: Token<V>,
    g: Grad<'_>,
    non_temporal: bool,
) {
    let s = dot::<V, U>(isa, &Plain, g.inputs().1);
    store2::<V, U>(isa, &g, &log_softmax_grad(isa, s), non_temporal);
}

/// The map of the log-softmax backward pass for `s = sum(dy)`.
#[inline(always)]
fn log_softmax_grad<V: Simd>(isa: Token<V>, s: f64) -> LogSoftmaxGrad<V> {
    let cap = V::splat(isa, LOG_PROB_CAP);
    // `s` is folded into the exponential's coefficients, which reach `1.044 * |s|`: folded
    // as is when that stays a normal float far from overflow; as `s / 2^64` (times `2^64`
    // after) when larger (`|s| <= n * FLT_MAX < 2^189`, so the fold stays below `2^125`), as
    // `s * 2^64` (times `2^-64` after) when tiny, so the coefficients keep full precision.
    // An infinite or NaN `s` is multiplied after, so infinities follow IEEE rules.
    const SPLIT: f64 = 18_446_744_073_709_551_616.0; // 2^64
    const BIG: f64 = (1u128 << 125) as f64;
    const TINY: f64 = 1.0 / (1u64 << 60) as f64;
    let (fold, post) = if !s.is_finite() {
        (1.0, Some(s as f32))
    } else if s.abs() > BIG {
        (s / SPLIT, Some(SPLIT as f32))
    } else if s != 0.0 && s.abs() < TINY {
        (s * SPLIT, Some((1.0 / SPLIT) as f32))
    } else {
        (s, None)
    };
    LogSoftmaxGrad {
        ex: Exp::new(isa, 0.0, fold),
        cap,
        neg_s: post.map(|p| V::splat(isa, -p)),
    }
}

/// The backward pass of softmax (`log == false`) or log-softmax over 16-bit rows `(y, dy)`
/// into the 16-bit `dx`, converting in the registers: the same sum ([`dot_src`] over the
/// widened values) and map as [`softmax_backward`] and [`log_softmax_backward`], so the bits
/// of widening `y` and `dy`, running the f32 pass and rounding `dx`, with two passes over the
/// rows instead of five.
///
/// # Safety
/// `y` and `dy` are readable and `dx` writable for `n` elements (2-byte aligned), `dx` equal
/// to `y` or to `dy` or disjoint from both.
#[inline(always)]
pub(crate) unsafe fn backward_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    (y, dy, dx, n): (*const u16, *const u16, *mut u16, usize),
    log: bool,
    non_temporal: bool,
) {
    // SAFETY: the rows are readable for `n` elements (the contract).
    let (ys, dys) = unsafe {
        (
            Halves::from_raw(y, n, format, 0.0),
            Halves::from_raw(dy, n, format, 0.0),
        )
    };
    let pair = Pair(ys, dys);
    if log {
        let f = log_softmax_grad(isa, dot_src(isa, &dys));
        // SAFETY: the contract; every vector of both rows is read before `dx`'s is written.
        unsafe { store_grad_half::<V, U, _>(isa, &pair, (format, dx), &f, non_temporal) }
    } else {
        let f = SoftmaxGrad {
            d: V::splat(isa, dot_src(isa, &pair) as f32),
        };
        // SAFETY: as above.
        unsafe { store_grad_half::<V, U, _>(isa, &pair, (format, dx), &f, non_temporal) }
    }
}

/// `dx = f(y, dy)` over the widened pair of rows, rounded into the 16-bit `dx`.
///
/// # Safety
/// As [`walk::map_to_half_nt`]: the pair's rows are readable and `dx` writable for the rows'
/// length, `dx` equal to one of them or disjoint from both.
#[inline(always)]
unsafe fn store_grad_half<V: Simd, const U: usize, F: LaneMap2<V>>(
    isa: Token<V>,
    pair: &Pair<Halves<'_>, Halves<'_>>,
    out: (Half, *mut u16),
    f: &F,
    non_temporal: bool,
) {
    // SAFETY: the contract.
    unsafe { walk::map_to_half_nt::<V, _, _, U>(isa, pair, out, &mut Map2(f), non_temporal) }
}

/// The constant `c` of [`loss_of`]: the target logit when finite, else 0.
#[inline(always)]
pub(crate) fn loss_shift(xt: f32) -> f32 {
    if xt.is_finite() {
        xt
    } else {
        0.0
    }
}

/// `mean(x) - c` for the smoothing term (`sum` gives the f64 sum of the `n` logits: exact
/// products, f64 additions, so no f32 rounding or overflow of `x - c`); 0 without smoothing.
#[inline(always)]
fn mean_minus_c(xt: f32, eps: f32, n: usize, sum: impl FnOnce() -> f64) -> f64 {
    if eps > 0.0 {
        sum() / n as f64 - loss_shift(xt) as f64
    } else {
        0.0
    }
}

/// The cross-entropy loss from `lse = base + rest` (`|rest|` small), the target logit `xt`,
/// the smoothing `eps` and `mean(x) - c` ([`mean_minus_c`]): `(1-eps)(lse - x_t) +
/// eps(lse - mean)`. The smoothing term needs lse - mean(x); both can be huge and close, so
/// lse - c is formed in f64 from lse's two parts (c the target logit when finite) before the
/// small part is added. Both parts are >= 0 exactly (lse >= max >= x_t, lse >= mean);
/// rounding could make a loss of about 0 slightly negative, so it is clamped (NaN kept).
#[inline(always)]
pub(crate) fn loss_of(xt: f32, eps: f32, mean_minus_c: f64, base: f64, rest: f64) -> f64 {
    let eps64 = eps as f64;
    let to_target = (base - xt as f64) + rest;
    let loss = if eps > 0.0 {
        let to_mean = (base - loss_shift(xt) as f64) + rest - mean_minus_c;
        (1.0 - eps64) * to_target + eps64 * to_mean
    } else {
        to_target
    };
    if loss < 0.0 {
        0.0
    } else {
        loss
    }
}

/// The loss of [`cross_entropy_grad`] and, when the row took the fast path, its pass-1
/// result `(S, k)` with `sum e^x = S * 2^k`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn cross_entropy_parts<V: Simd, const U: usize>(
    isa: Token<V>,
    x: &[f32],
    target: usize,
    eps: f32,
) -> (f64, Option<(f64, f32)>) {
    let n = x.len();
    let xt = x[target];
    let mean_minus_c = mean_minus_c(xt, eps, n, || dot::<V, U>(isa, &Plain, x));
    let loss_from = |base: f64, rest: f64| loss_of(xt, eps, mean_minus_c, base, rest);
    match pair_sum::<V, U>(isa, &Plain, x) {
        Some((s, k)) if !s.is_nan() => (
            loss_from(k as f64 * std::f64::consts::LN_2, ln(s)),
            Some((s, k)),
        ),
        _ => {
            let loss = match classify(x, |v| v) {
                Special::Nan | Special::AllNegInf => f64::NAN,
                // k logits at +inf: the limit is ln k when the target is one of them (no
                // smoothing), +inf when it is not; with smoothing the mean has no limit.
                Special::PosInf(k) if eps == 0.0 => {
                    if x[target] == f32::INFINITY {
                        (k as f64).ln()
                    } else {
                        f64::INFINITY
                    }
                }
                Special::PosInf(_) => f64::NAN,
                Special::Shift(_) => {
                    let (base, rest) = logsumexp_special_parts(x);
                    loss_from(base, rest)
                }
            };
            (loss, None)
        }
    }
}

/// Cross-entropy loss of one row of logits against class `target < n`, with label smoothing
/// `eps` in `[0, 1]`: `loss = lse(x) - (1 - eps) * x[target] - eps * mean(x)`. One pass over
/// the logits (plus one for the mean when `eps > 0`).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn cross_entropy<V: Simd, const U: usize>(
    isa: Token<V>,
    x: &[f32],
    target: usize,
    eps: f32,
) -> f32 {
    cross_entropy_parts::<V, U>(isa, x, target, eps).0 as f32
}

/// [`cross_entropy`] that also writes the gradient
/// `softmax(x) - (1 - eps) * onehot(target) - eps / n` to `io`'s output (which may be the
/// logits themselves): two passes, no intermediate buffer.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn cross_entropy_grad<V: Simd, const U: usize>(
    isa: Token<V>,
    mut io: InOut<'_>,
    target: usize,
    eps: f32,
    flags: Flags,
) -> f32 {
    let n = io.len();
    let (loss, fast) = cross_entropy_parts::<V, U>(isa, io.input(), target, eps);
    let per_class = eps / n as f32;
    match fast {
        Some((s, k)) => {
            let p = Prob::new(isa, Exp::new(isa, k, 1.0 / s));
            if eps > 0.0 {
                let f = ExpMinus {
                    p,
                    c: V::splat(isa, per_class),
                };
                // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s
                // invariant).
                unsafe {
                    map_store_nt::<V, U>(isa, &Plain, io.x(), io.y(), n, &f, flags.non_temporal)
                };
            } else {
                // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s
                // invariant).
                unsafe {
                    map_store_nt::<V, U>(isa, &Plain, io.x(), io.y(), n, &p, flags.non_temporal)
                };
            }
            let gt = io.get_out(target);
            io.set(target, gt - (1.0 - eps));
        }
        None => match classify(io.input(), |v| v) {
            Special::Nan | Special::AllNegInf => fill(&mut io, f32::NAN),
            Special::PosInf(_) | Special::Shift(_) => {
                softmax_special::<V, U>(isa, &Plain, io.reborrow(), flags);
                for i in 0..n {
                    let mut v = io.get_out(i) - per_class;
                    if i == target {
                        v -= 1.0 - eps;
                    }
                    io.set(i, v);
                }
            }
        },
    }
    loss as f32
}

/// [`cross_entropy_grad`] of a 16-bit row of logits `(x, d, n)`, the gradient written to `d`
/// in the format, converting in the registers: the same pass 1 ([`pair_sum_src`] over the
/// widened values), mean, loss and map, so the bits of widening the row, running the f32
/// kernel and rounding the gradient, with no buffer. A null `d` gives the loss alone (the
/// bits of the f32 kernel's loss). `None`, with nothing written, for a row that needs the
/// special-value rules (the caller stages it).
///
/// # Safety
/// `x` is readable for `n` elements and `d` is null or writable for `n` elements (2-byte
/// aligned), equal to `x` or disjoint from it; `target < n`.
#[inline(always)]
pub(crate) unsafe fn cross_entropy_grad_half<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    (x, d, n): (*const u16, *mut u16, usize),
    target: usize,
    eps: f32,
    non_temporal: bool,
) -> Option<f32> {
    debug_assert!(target < n);
    // SAFETY: `target < n` (the contract).
    let xt = format.widen(unsafe { x.add(target).read() });
    let mean_minus_c = mean_minus_c(xt, eps, n, || {
        // SAFETY: the row is readable for `n` elements (the contract).
        dot_src(isa, &unsafe { Halves::from_raw(x, n, format, 0.0) })
    });
    // SAFETY: as above.
    let sums = unsafe { Halves::from_raw(x, n, format, f32::NEG_INFINITY) };
    let (s, k) = pair_sum_src::<V, U, _>(isa, &sums).filter(|(s, _)| !s.is_nan())?;
    let loss = loss_of(
        xt,
        eps,
        mean_minus_c,
        k as f64 * std::f64::consts::LN_2,
        ln(s),
    );
    if d.is_null() {
        return Some(loss as f32);
    }
    let p = Prob::new(isa, Exp::new(isa, k, 1.0 / s));
    // SAFETY: as above; `d` is writable for `n` elements, equal to `x` or disjoint from it
    // (each vector is read before it is written), and the target logit was read above.
    let src = unsafe { Halves::from_raw(x, n, format, 0.0) };
    let gt = if eps > 0.0 {
        let f = ExpMinus {
            p,
            c: V::splat(isa, eps / n as f32),
        };
        // SAFETY: as above.
        unsafe {
            walk::map_to_half_nt::<V, _, _, U>(isa, &src, (format, d), &mut Map(&f), non_temporal)
        };
        f.apply(V::splat(isa, xt)).first()
    } else {
        // SAFETY: as above.
        unsafe {
            walk::map_to_half_nt::<V, _, _, U>(isa, &src, (format, d), &mut Map(&p), non_temporal)
        };
        p.apply(V::splat(isa, xt)).first()
    };
    // The target's output as the f32 kernel forms it: its f32 value (the same lane-wise map)
    // minus `1 - eps`, rounded once.
    // SAFETY: `target < n`, inside `d`.
    unsafe { d.add(target).write(format.round(gt - (1.0 - eps))) };
    Some(loss as f32)
}
