//! Softmax (every algorithm), log-softmax and log-sum-exp of one row, and the special-value
//! rules shared by every ISA.
//!
//! Rows take the fast path when their maximum `m` is finite with `|m| < LARGE`; every other
//! row (NaN, infinities, huge magnitudes) goes through [`classify`] and the documented special
//! rules, or is shifted by `m` first (exact for every element that carries mass) and then
//! takes the fast path.

use super::passes::{
    block_sum, exp_store_sum, map_store, map_store_nt, max, pair_sum, sum_exp, tree_sum, Input,
    LaneMap, Plain, Prob, Scale, Scaled, Shift, PREFETCH,
};
use crate::io::InOut;
use crate::kernels::exp::{shift_for_max, Exp, LARGE, LN2_LO_F64, LOG2E, ROUND};
use crate::kernels::simd::Simd;
use crate::kernels::Flags;
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
unsafe fn finish<V: Simd, const U: usize>(
    inp: &impl Input<V>,
    io: &mut InOut<'_>,
    s: f64,
    k: f32,
    nt: bool,
) {
    if s.is_nan() {
        fill(io, f32::NAN);
    } else {
        let f = Prob::new(Exp::new(k, 1.0 / s));
        map_store_nt::<V, U>(inp, io.x(), io.y(), io.len(), &f, nt);
    }
}

/// Passes 2 and 3 of three-pass recompute against the shift `k`: the sum, then the output.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
unsafe fn recompute<V: Simd, const U: usize>(
    inp: &impl Input<V>,
    io: &mut InOut<'_>,
    k: f32,
    nt: bool,
) {
    let s = sum_exp::<V, U, PREFETCH>(inp, io.x(), io.len(), &Exp::new(k, 1.0));
    finish::<V, U>(inp, io, s, k, nt);
}

/// Softmax of one row (`Auto` is resolved by the caller; treated as recompute here).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn softmax<V: Simd, const U: usize>(io: InOut<'_>, alg: Algorithm, flags: Flags) {
    softmax_of::<V, U>(&Plain, io, alg, flags)
}

/// Softmax of `scale * x` for one row, the scale fused into every load. `scale` is finite.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn softmax_scaled<V: Simd, const U: usize>(
    mut io: InOut<'_>,
    alg: Algorithm,
    flags: Flags,
    scale: f32,
) {
    if scale == 1.0 {
        softmax_of::<V, U>(&Plain, io, alg, flags)
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
        softmax_of::<V, U>(&Scaled::<V>::new(scale), io, alg, flags)
    }
}

#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
unsafe fn softmax_of<V: Simd, const U: usize>(
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
    if alg == Algorithm::ThreePassReload && n <= SMALL_VECS * V::LANES {
        if !small_reload::<V>(inp, &mut io) {
            softmax_special::<V, U>(inp, io, flags);
        }
        return;
    }
    match alg {
        Algorithm::ThreePassRecompute | Algorithm::ThreePassReload | Algorithm::Auto => {
            let m = max::<V, U, PREFETCH>(inp, x, n);
            if m.is_nan() || m.abs() >= LARGE {
                return softmax_special::<V, U>(inp, io, flags);
            }
            let k = shift_for_max(m);
            if alg == Algorithm::ThreePassReload {
                let s = exp_store_sum::<V, U>(inp, x, y, n, &Exp::new(k, 1.0));
                if s.is_nan() {
                    fill(&mut io, f32::NAN);
                } else {
                    map_store::<V, U, false>(&Plain, y, y, n, &Scale::new((1.0 / s) as f32));
                }
            } else {
                recompute::<V, U>(inp, &mut io, k, flags.nt);
            }
        }
        Algorithm::TwoPass => match pair_sum::<V, U>(inp, x, n) {
            Some((s, k)) => finish::<V, U>(inp, &mut io, s, k, flags.nt),
            None => softmax_special::<V, U>(inp, io, flags),
        },
        Algorithm::TwoPassBlocked => match block_sum::<V, U>(inp, x, n) {
            Some((s, k)) => finish::<V, U>(inp, &mut io, s, k, flags.nt),
            None => softmax_special::<V, U>(inp, io, flags),
        },
    }
}

/// Rows of at most this many vectors take [`small_reload`].
const SMALL_VECS: usize = 8;

/// Three-pass reload for a row of at most [`SMALL_VECS`] vectors, held in registers from the
/// first load to the last store: no loop, no second read of `x`, no store and reload of `y`,
/// and the maximum and its shift computed in vectors (no round trip through scalars on the
/// critical path). Zen 4, rows API, ns per row of 64 | 16 floats: AVX2 35.5 | 17.6 -> 32.1 |
/// 16.1, AVX-512 34.0 | 21.4 -> 30.0 | 17.9. (A sum and reciprocal in f32 as well gave 29.0
/// on AVX2 but cost one ULP of accuracy; the sum stays in f64.) `false` (nothing written)
/// when the row needs the special-value rules.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
unsafe fn small_reload<V: Simd>(inp: &impl Input<V>, io: &mut InOut<'_>) -> bool {
    let (x, y, n) = (io.x(), io.y(), io.len());
    let l = V::LANES;
    let mut v = [V::splat(f32::NEG_INFINITY); SMALL_VECS];
    // Fixed trip counts, so every vector stays in its own register.
    for (j, vj) in v.iter_mut().enumerate() {
        if (j + 1) * l <= n {
            *vj = inp.load(x.add(j * l));
        } else if j * l < n {
            *vj = inp.load_tail(x.add(j * l), n - j * l, f32::NEG_INFINITY);
        }
    }
    let mut m = v[0];
    for vj in &v[1..] {
        m = V::max(m, *vj);
    }
    // The maximum in every lane and its shift stay in vectors; lane 0 only feeds the
    // (predictable) branch to the special-value path.
    let m = m.max_all();
    let mut lane0 = [0.0f32; 16];
    m.to_array(&mut lane0);
    if lane0[0].is_nan() || lane0[0].abs() >= LARGE {
        return false;
    }
    let round = V::splat(ROUND);
    // The shift of `shift_for_max` (the same f32 operations, so the same `k` as every other
    // algorithm and the same underflow threshold).
    let ex = Exp::per_lane(m.mul(V::splat(LOG2E)).add(round).sub(round));
    for (j, vj) in v.iter_mut().enumerate() {
        *vj = if j * l < n {
            ex.eval(*vj)
        } else {
            V::splat(0.0)
        };
    }
    // Added pairwise (at most three f32 roundings per lane, none for equal terms). A NaN the
    // maximum missed makes the sum, and so every output, NaN.
    let r = Scale::new((1.0 / tree_sum(&v).reduce_add()) as f32);
    for (j, vj) in v.iter().enumerate() {
        if (j + 1) * l <= n {
            r.apply(*vj).store(y.add(j * l));
        } else if j * l < n {
            r.apply(*vj).store_tail(y.add(j * l), n - j * l);
        }
    }
    true
}

/// Softmax of a row that left the fast path (inlined like everything else here, so it is
/// compiled with the ISA's features; it runs rarely but must not fall back to intrinsic calls).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn softmax_special<V: Simd, const U: usize>(
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
            map_store::<V, U, false>(inp, io.x(), io.y(), io.len(), &Shift::new(0.0, m));
            recompute::<V, U>(&Plain, &mut io.into_in_place(), 0.0, flags.nt);
        }
    }
}

/// `ln S + k*LN2_LO`: the part of `k*ln2 + ln S` that log-softmax subtracts after the exact
/// `x - k*LN2_HI`.
#[inline]
fn log_softmax_offset(s: f64, k: f32) -> f32 {
    (k as f64 * LN2_LO_F64 + s.ln()) as f32
}

/// Log-softmax of one row: pass 1 of the two-pass algorithm, then `y = (x - k*LN2_HI) - (k*LN2_LO + ln S)`,
/// whose first part is exact (one FMA), so outputs near 0 keep their accuracy.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn log_softmax<V: Simd, const U: usize>(mut io: InOut<'_>, flags: Flags) {
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
    if !log_softmax_fast::<V, U>(&mut io, flags) {
        log_softmax_special::<V, U>(io, flags);
    }
}

/// Pass 1 of the two-pass algorithm and the output pass of log-softmax; `false` (nothing
/// written) when the row needs the special-value rules.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
unsafe fn log_softmax_fast<V: Simd, const U: usize>(io: &mut InOut<'_>, flags: Flags) -> bool {
    let (x, y, n) = (io.x(), io.y(), io.len());
    match pair_sum::<V, U>(&Plain, x, n) {
        Some((s, _)) if s.is_nan() => fill(io, f32::NAN),
        Some((s, k)) => {
            let f = Shift::new(k, log_softmax_offset(s, k));
            map_store_nt::<V, U>(&Plain, x, y, n, &f, flags.nt)
        }
        None => return false,
    }
    true
}

#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
unsafe fn log_softmax_special<V: Simd, const U: usize>(mut io: InOut<'_>, flags: Flags) {
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
            map_store::<V, U, false>(&Plain, io.x(), io.y(), io.len(), &Shift::new(0.0, m));
            let mut shifted = io.into_in_place();
            if !log_softmax_fast::<V, U>(&mut shifted, flags) {
                fill(&mut shifted, f32::NAN);
            }
        }
    }
}

/// `ln sum_i e^{x_i}` in one read of the row (pass 1 of the two-pass algorithm).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn logsumexp<V: Simd, const U: usize>(x: &[f32]) -> f32 {
    let lse = match x {
        [] => f64::NEG_INFINITY,
        [v] => *v as f64,
        _ => match pair_sum::<V, U>(&Plain, x.as_ptr(), x.len()) {
            Some((s, k)) => k as f64 * std::f64::consts::LN_2 + s.ln(),
            None => logsumexp_special(x),
        },
    };
    lse as f32
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
            (m64, s.ln())
        }
    }
}
