//! Softmax (every algorithm), log-softmax and log-sum-exp of one row, and the special-value
//! rules shared by every ISA.
//!
//! Rows take the fast path when their maximum `m` is finite with `|m| < LARGE`; every other
//! row (NaN, infinities, huge magnitudes) goes through [`classify`] and the documented special
//! rules, or is shifted by `m` first (exact for every element that carries mass) and then
//! takes the fast path.

use super::batch::{LogSoftmaxShort, LogSumExpShort, SoftmaxShort};
use super::inputs::{Input, Plain, Scaled};
use super::pair_sum::pair_sum;
use super::passes::{
    block_sum, exp_store_sum, exp_store_sum_max, map_store, map_store_nt, max, one_walk_reload,
    reload_out, sum_exp, Prob, ReloadSum, Scale, Shift, PREFETCH,
};
use super::short::{self, log_softmax_offset, lse_of};
use super::storage::AsF32;
use crate::kernels::exp::{shift_for_max, Exp, LARGE};
use crate::kernels::ln::ln;
use crate::kernels::simd::{Simd, Token};
use crate::kernels::Flags;
use crate::rows::{InOut, Rows, RowsIn};
use crate::Algorithm;

/// What a row that left the fast path holds.
pub(crate) enum Special {
    /// At least one NaN.
    Nan,
    /// This many `+inf` entries (and no NaN).
    PosInf(usize),
    /// Every entry is `-inf`.
    AllNegInf,
    /// Finite maximum `m` (typically `|m| >= LARGE`): shift by it.
    Shift(f32),
}

/// Scans a row for the special-value rules (portable, so every ISA agrees).
pub(crate) fn classify(x: &[f32], value: impl Fn(f32) -> f32) -> Special {
    let mut m = f32::NEG_INFINITY;
    let mut inf = 0usize;
    for &v in x {
        let v = value(v);
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

/// Fills the output with `v`.
pub(crate) fn fill(io: &mut InOut<'_>, v: f32) {
    for i in 0..io.len() {
        io.set(i, v);
    }
}

/// Last pass shared by the softmax algorithms: `y = exp(x - k*ln2) / s`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn finish<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    io: &mut InOut<'_>,
    s: f64,
    k: f32,
    non_temporal: bool,
) {
    if s.is_nan() {
        fill(io, f32::NAN);
    } else {
        let f = Prob::new(isa, Exp::new(isa, k, 1.0 / s));
        // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
        unsafe { map_store_nt::<V, U>(isa, inp, io.x(), io.y(), io.len(), &f, non_temporal) };
    }
}

/// Passes 2 and 3 of three-pass recompute against the shift `k`: the sum, then the output.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn recompute<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    io: &mut InOut<'_>,
    k: f32,
    non_temporal: bool,
) {
    // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
    let s = sum_exp::<V, U, PREFETCH>(isa, inp, io.input(), &Exp::new(isa, k, 1.0));
    finish::<V, U>(isa, inp, io, s, k, non_temporal);
}

/// Softmax of one row (`Auto` is resolved by the caller; treated as recompute here).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn softmax<V: Simd, const U: usize>(
    isa: Token<V>,
    io: InOut<'_>,
    alg: Algorithm,
    flags: Flags,
) {
    softmax_of::<V, U>(isa, &Plain, io, alg, flags)
}

/// Softmax of `scale * x` for one row, the scale fused into every load. `scale` is finite.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn softmax_scaled<V: Simd, const U: usize>(
    isa: Token<V>,
    mut io: InOut<'_>,
    alg: Algorithm,
    flags: Flags,
    scale: f32,
) {
    if scale == 1.0 {
        softmax_of::<V, U>(isa, &Plain, io, alg, flags)
    } else if scale == 0.0 {
        // softmax(0 * x): uniform, except that 0 * inf is NaN.
        let uniform = 1.0 / io.len() as f32;
        let v = if io.input().iter().all(|x| x.is_finite()) {
            uniform
        } else {
            f32::NAN
        };
        fill(&mut io, v);
    } else {
        softmax_of::<V, U>(isa, &Scaled::<V>::new(isa, scale), io, alg, flags)
    }
}

#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn softmax_of<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    mut io: InOut<'_>,
    alg: Algorithm,
    flags: Flags,
) {
    let (x, y, n) = (io.x(), io.y(), io.len());
    if n <= 1 {
        // One entry holds all the mass; the special-value rules decide the rest (NaN and an
        // all -inf row give NaN, +inf gives 1). Skips every pass's fixed cost.
        if n == 1 {
            let v = inp.value(io.get(0));
            let out = if v.is_nan() || v == f32::NEG_INFINITY {
                if flags.zero_masked && v == f32::NEG_INFINITY {
                    0.0
                } else {
                    f32::NAN
                }
            } else {
                1.0
            };
            io.set(0, out);
        }
        return;
    }
    if alg == Algorithm::ThreePassReload && short::is_short::<V>(n) {
        // SAFETY: `x`, `y` and `n` are the pointers and length of `io`, valid by `InOut`'s
        // invariant.
        let mut rows = unsafe { Rows::from_raw(x, n, y, n, 1, n) };
        short::run_one::<V, _>(
            isa,
            &mut SoftmaxShort {
                inp,
                st: AsF32,
                rows: &mut rows,
                flags,
            },
            n,
        );
        return;
    }
    if alg == Algorithm::ThreePassReload
        && one_walk_reload::<V>()
        && n >= V::LANES
        && !std::ptr::eq(x, y)
    {
        // SAFETY: `x`, `y` and `n` are the pointers and length of `io`, valid by `InOut`'s
        // invariant, and `x != y`: disjoint (`InOut` holds equal or disjoint rows).
        match unsafe { exp_store_sum_max::<V, U>(isa, inp, x, y, n) } {
            ReloadSum::Scale { r, lo, k0 } => {
                // SAFETY: as above.
                unsafe { reload_out::<V, U>(isa, inp, x, y, n, (r, lo, k0)) };
                return;
            }
            ReloadSum::Nan => return fill(&mut io, f32::NAN),
            ReloadSum::Special => return softmax_special::<V, U>(isa, inp, io, flags),
            ReloadSum::Again => {}
        }
    }
    match alg {
        Algorithm::ThreePassRecompute | Algorithm::ThreePassReload | Algorithm::Auto => {
            let m = max::<V, U, PREFETCH>(isa, inp, io.input());
            if m.is_nan() || m.abs() >= LARGE {
                return softmax_special::<V, U>(isa, inp, io, flags);
            }
            let k = shift_for_max(m);
            if alg == Algorithm::ThreePassReload {
                // SAFETY: `x`, `y` and `n` are the pointers and length of `io`, valid by `InOut`'s
                // invariant.
                let s = unsafe { exp_store_sum::<V, U>(isa, inp, x, y, n, &Exp::new(isa, k, 1.0)) };
                if s.is_nan() {
                    fill(&mut io, f32::NAN);
                } else {
                    // SAFETY: `x`, `y` and `n` are the pointers and length of `io`, valid by
                    // `InOut`'s invariant.
                    unsafe {
                        map_store::<V, U, false>(
                            isa,
                            &Plain,
                            y,
                            y,
                            n,
                            &Scale::new(isa, (1.0 / s) as f32),
                        )
                    };
                }
            } else {
                recompute::<V, U>(isa, inp, &mut io, k, flags.non_temporal);
            }
        }
        Algorithm::TwoPass => match pair_sum::<V, U>(isa, inp, io.input()) {
            Some((s, k)) => finish::<V, U>(isa, inp, &mut io, s, k, flags.non_temporal),
            None => softmax_special::<V, U>(isa, inp, io, flags),
        },
        Algorithm::TwoPassBlocked => match block_sum::<V, U>(isa, inp, io.input()) {
            Some((s, k)) => finish::<V, U>(isa, inp, &mut io, s, k, flags.non_temporal),
            None => softmax_special::<V, U>(isa, inp, io, flags),
        },
    }
}

/// Softmax of a row that left the fast path (inlined like everything else here, so it is
/// compiled with the ISA's features; it runs rarely but must not fall back to intrinsic calls).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn softmax_special<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    mut io: InOut<'_>,
    flags: Flags,
) {
    match classify(io.input(), |v| inp.value(v)) {
        Special::Nan => fill(&mut io, f32::NAN),
        Special::AllNegInf => fill(&mut io, if flags.zero_masked { 0.0 } else { f32::NAN }),
        Special::PosInf(count) => {
            let share = 1.0 / count as f32;
            for i in 0..io.len() {
                let v = if inp.value(io.get(i)) == f32::INFINITY {
                    share
                } else {
                    0.0
                };
                io.set(i, v);
            }
        }
        Special::Shift(m) => {
            // x - m is exact for every x that carries mass (Sterbenz), so the shifted row has
            // maximum 0 and takes the fast path.
            // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
            unsafe {
                map_store::<V, U, false>(
                    isa,
                    inp,
                    io.x(),
                    io.y(),
                    io.len(),
                    &Shift::new(isa, 0.0, m),
                )
            };
            recompute::<V, U>(
                isa,
                &Plain,
                &mut io.into_in_place(),
                0.0,
                flags.non_temporal,
            );
        }
    }
}

/// Log-softmax of one row: pass 1 of the two-pass algorithm, then
/// `y = (x - k*LN2_HI) - (k*LN2_LO + ln S)`, whose first part is exact (one FMA), so outputs
/// near 0 keep their accuracy.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn log_softmax<V: Simd, const U: usize>(isa: Token<V>, mut io: InOut<'_>, flags: Flags) {
    if io.len() <= 1 {
        // x - lse(x) = 0 for one finite or +inf entry; NaN and -inf give NaN.
        if io.len() == 1 {
            let v = io.get(0);
            io.set(
                0,
                if v.is_nan() || v == f32::NEG_INFINITY {
                    f32::NAN
                } else {
                    0.0
                },
            );
        }
        return;
    }
    let n = io.len();
    if short::is_short::<V>(n) {
        // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
        let mut rows = unsafe { Rows::from_raw(io.x(), n, io.y(), n, 1, n) };
        let mut op = LogSoftmaxShort {
            st: AsF32,
            rows: &mut rows,
            flags,
        };
        short::run_one::<V, _>(isa, &mut op, n);
    } else if !log_softmax_fast::<V, U>(isa, &mut io, flags) {
        log_softmax_special::<V, U>(isa, io, flags);
    }
}

/// Pass 1 of the two-pass algorithm and the output pass of log-softmax; `false` (nothing
/// written) when the row needs the special-value rules.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn log_softmax_fast<V: Simd, const U: usize>(
    isa: Token<V>,
    io: &mut InOut<'_>,
    flags: Flags,
) -> bool {
    match pair_sum::<V, U>(isa, &Plain, io.input()) {
        Some((s, k)) => log_softmax_out::<V, U>(isa, io, s, k, flags),
        None => return false,
    }
    true
}

/// The output pass of log-softmax for a row whose pass 1 gave `sum e^x = S * 2^k` (a NaN `S`
/// fills the row with NaN).
#[inline(always)]
pub(crate) fn log_softmax_out<V: Simd, const U: usize>(
    isa: Token<V>,
    io: &mut InOut<'_>,
    s: f64,
    k: f32,
    flags: Flags,
) {
    if s.is_nan() {
        return fill(io, f32::NAN);
    }
    let (x, y, n) = (io.x(), io.y(), io.len());
    let f = Shift::new(isa, k, log_softmax_offset(s, k));
    // SAFETY: `x`, `y` and `n` are the pointers and length of `io`, valid by `InOut`'s
    // invariant.
    unsafe { map_store_nt::<V, U>(isa, &Plain, x, y, n, &f, flags.non_temporal) }
}

#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn log_softmax_special<V: Simd, const U: usize>(
    isa: Token<V>,
    mut io: InOut<'_>,
    flags: Flags,
) {
    match classify(io.input(), |v| v) {
        Special::Nan | Special::AllNegInf => fill(&mut io, f32::NAN),
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
            // As for softmax: the shifted row has maximum 0 and takes the fast path.
            // SAFETY: the pointers of `io` are valid for `io.len()` elements (`InOut`'s invariant).
            unsafe {
                map_store::<V, U, false>(
                    isa,
                    &Plain,
                    io.x(),
                    io.y(),
                    io.len(),
                    &Shift::new(isa, 0.0, m),
                )
            };
            let mut shifted = io.into_in_place();
            if !log_softmax_fast::<V, U>(isa, &mut shifted, flags) {
                fill(&mut shifted, f32::NAN);
            }
        }
    }
}

/// `ln sum_i e^{x_i}` in one read of the row (pass 1 of the two-pass algorithm).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn logsumexp<V: Simd, const U: usize>(isa: Token<V>, x: &[f32]) -> f32 {
    match x {
        [] => f32::NEG_INFINITY,
        [v] => *v,
        _ if short::is_short::<V>(x.len()) => {
            let mut out = [0.0f32];
            let mut op = LogSumExpShort {
                st: AsF32,
                rows: RowsIn::one(x),
                out: &mut out,
            };
            short::run_one::<V, _>(isa, &mut op, x.len());
            out[0]
        }
        _ => match pair_sum::<V, U>(isa, &Plain, x) {
            Some((s, k)) => lse_of(s, k),
            None => logsumexp_special(x) as f32,
        },
    }
}

/// Log-sum-exp of a row that left the fast path (portable, rare).
#[inline(never)]
pub(crate) fn logsumexp_special(x: &[f32]) -> f64 {
    let (base, rest) = logsumexp_special_parts(x);
    base + rest
}

/// [`logsumexp_special`] as `base + rest`, with `base` the row maximum (so callers can
/// subtract a logit from it before adding the small `rest`, without cancellation).
pub(crate) fn logsumexp_special_parts(x: &[f32]) -> (f64, f64) {
    match classify(x, |v| v) {
        Special::Nan => (f64::NAN, 0.0),
        Special::PosInf(_) => (f64::INFINITY, 0.0),
        Special::AllNegInf => (f64::NEG_INFINITY, 0.0),
        Special::Shift(m) => {
            let m64 = m as f64;
            let s: f64 = x.iter().map(|&v| (v as f64 - m64).exp()).sum();
            (m64, ln(s))
        }
    }
}
