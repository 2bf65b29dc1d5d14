//! The exponential core shared by every kernel of every ISA.
//!
//! `exp(x - k*ln2) * s` for a per-row integer `k` and a per-row factor `s`, in one of two
//! forms; each ISA picks one with [`Simd::EXP_TABLE`].
//!
//! **Table form** (scalar, AVX2, AVX-512):
//! 1. `t = x*8*log2(e) + (1.5*2^23 - 8k)` rounds `8*x*log2(e)` to an integer `n` (the "magic
//!    bias" trick) and leaves `m = n - 8k` in the low bits of `t`;
//! 2. `r = x - n*ln2/8` with `ln2/8` split in two (`LN2_HI/8` and `LN2_LO/8`), each step one
//!    FMA, so `r` (at most `ln2/16` in magnitude) is accurate to a few units of `2^-28` even
//!    for `n` of ~2^21: the FMA rounds `x - n*LN2_HI/8` once, and the result is small;
//! 3. `e^r` from a degree-3 polynomial `1 + r + c2 r^2 + c3 r^3`, minimax for relative error
//!    on `[-ln2/16, ln2/16]` (2.6e-8 in exact arithmetic);
//! 4. `2^(m/8)` as `2^floor(m/8) * 2^((m mod 8)/8)`: the second factor from a table of eight
//!    f32 values (within 3.2e-8 of exact) picked by the low three bits of `t`, the first by
//!    shifting the integer bits of `t` into the exponent field and adding them to the table
//!    entry ([`Simd::pow2_eighths`]);
//! 5. inputs below the underflow threshold give exactly 0 (one compare and one mask).
//!
//! **Polynomial form** (NEON): `t = x*log2(e) + (1.5*2^23 + 127 - k)`, `r = x - n*ln2` (two
//! FMAs), a degree-5 minimax polynomial on `[-ln2/2, ln2/2]` (1.03e-7 in exact arithmetic), and
//! `2^(n-k)` from shifting `t` into the exponent field ([`Simd::pow2_from_magic`]); the input
//! is clamped at the underflow threshold, where the shifted exponent field is 0, which gives
//! exactly 0.
//!
//! In both, every coefficient is premultiplied by `s`, which folds a normalisation (`1/sum`)
//! into the polynomial for free.
//!
//! The table form costs seven FMAs per exponential instead of nine, for a permute and an
//! integer add that run beside the FMAs. Measured on Zen 4 (elements/ns at 16K floats, AVX2 |
//! AVX-512): log-sum-exp 4.94 -> 5.53 | 5.84 -> 6.76, two-pass softmax 2.41 -> 2.61 | 2.93 ->
//! 3.35. NEON has no permute of 32-bit lanes: `tbl` needs byte indices, and with them the table
//! form took more instructions per element than the polynomial (`scripts/loop-stats.sh neon`:
//! 5.4-6.4 against 4.9-5.3 for the sums of exponentials), so NEON keeps the polynomial.
//! The worst relative error of one exponential evaluated in f32 over [-87, 88] is 1.6e-7 in
//! the table form and 1.5e-7 in the polynomial form.
//!
//! Reducing `x` itself against multiples of `ln2` (or `ln2/8`), instead of forming `x - max` in
//! f32 first, avoids the rounding of that subtraction (worth up to 1.2e-6 relative for inputs
//! in [-10, 10]).

use super::simd::{Simd, Token};

/// `log2(e)` rounded to f32.
pub(crate) const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `ln(2)` rounded to f32 (0x3f317218).
pub(crate) const LN2_HI: f32 = f32::from_bits(0x3f31_7218);
/// `ln(2) - LN2_HI` rounded to f32.
pub(crate) const LN2_LO: f32 = f32::from_bits(0xb102_e308);
/// `ln(2) - LN2_HI` in f64 (for per-row scalar work).
pub(crate) const LN2_LO_F64: f64 = -1.904_654_299_957_768e-9;
/// `1.5 * 2^23`: adding it rounds to an integer, which the low bits of the sum then hold.
pub(crate) const ROUND: f32 = 12_582_912.0;
/// `ROUND + 127`: the polynomial form's magic bias, which also biases the exponent field.
const MAGIC: f32 = ROUND + 127.0;

/// Table form: polynomial coefficients c2 and c3 (c0 = c1 = 1), fitted for this crate.
const T2: f32 = f32::from_bits(0x3f00_043a);
const T3: f32 = f32::from_bits(0x3e2a_ab2b);

/// Polynomial form: coefficients c2..c5 (c0 = c1 = 1), fitted for this crate.
const P2: f32 = f32::from_bits(0x3eff_fefe);
const P3: f32 = f32::from_bits(0x3e2a_abc7);
const P4: f32 = f32::from_bits(0x3d2b_954f);
const P5: f32 = f32::from_bits(0x3c08_3a92);

/// `2^(j/8)` for `j` in `0..8`, rounded to f32, as bits minus `j << 20`: adding
/// `(8a + j) << 20` (the low bits of `t` shifted) then gives the bits of `2^a * 2^(j/8)`.
pub(crate) const EIGHTHS: [u32; 8] = [
    0x3f80_0000,
    0x3f8b_95c2 - (1 << 20),
    0x3f98_37f0 - (2 << 20),
    0x3fa5_fed7 - (3 << 20),
    0x3fb5_04f3 - (4 << 20),
    0x3fc5_672a - (5 << 20),
    0x3fd7_44fd - (6 << 20),
    0x3fea_c0c7 - (7 << 20),
];

/// Rows whose largest finite magnitude reaches this value are shifted by their maximum
/// before the fast path runs (the integer `k` must stay exact and small; see `generic`).
pub(crate) const LARGE: f32 = 131_072.0;

/// The shift `k` used for a row (or block) whose maximum is `m`: `m * log2(e)` rounded to f32,
/// then to the nearest integer (ties to even) with the magic-bias trick. Exactly the vector
/// form of the small-row kernel (`mul`, `add`, `sub` of f32), so every algorithm picks the
/// same `k`, and with it the same underflow threshold. `|m|` stays below `LARGE`.
#[inline]
pub(crate) fn shift_for_max(m: f32) -> f32 {
    let t = m * LOG2E + ROUND;
    t - ROUND
}

/// Per-row constants of `exp(x - k*ln2) * s`, broadcast once.
#[derive(Clone, Copy)]
pub(crate) struct Exp<V> {
    /// The underflow threshold: `(k - 126)*ln2` (table form, inputs below give 0 by a mask) or
    /// `(k - 126.75)*ln2` (polynomial form, inputs are clamped to it).
    lo: V,
    /// `8*log2(e)` or `log2(e)`.
    log2e: V,
    /// `ROUND - 8k` or `MAGIC - k`.
    bias: V,
    /// `-LN2_HI/8` and `-LN2_LO/8`, or `-LN2_HI` and `-LN2_LO`.
    neg_ln2: [V; 2],
    /// The coefficients times `s`, highest degree first, ending with those of `r` and 1
    /// (both `s`): 3 or 5 of the array are used.
    c: [V; 5],
}

impl<V: Simd> Exp<V> {
    /// Constants for `exp(x - k*ln2) * s`. `k` must be an integer with `|k| < 2^19`.
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, k: f32, s: f64) -> Self {
        let scaled = |c: f32| V::splat(isa, (c as f64 * s) as f32);
        let s32 = V::splat(isa, s as f32);
        if V::EXP_TABLE {
            Exp {
                lo: V::splat(isa, (k - 126.0) * std::f32::consts::LN_2),
                log2e: V::splat(isa, LOG2E * 8.0),
                bias: V::splat(isa, ROUND - 8.0 * k),
                neg_ln2: [V::splat(isa, -LN2_HI / 8.0), V::splat(isa, -LN2_LO / 8.0)],
                c: [scaled(T3), scaled(T2), s32, s32, s32],
            }
        } else {
            // Inputs below this floor round to n = k - 127, which the exponent trick maps to
            // 0.0 exactly; clamping there keeps every lane's biased exponent inside [0, 128].
            Exp {
                lo: V::splat(isa, (k - 126.75) * std::f32::consts::LN_2),
                log2e: V::splat(isa, LOG2E),
                bias: V::splat(isa, MAGIC - k),
                neg_ln2: [V::splat(isa, -LN2_HI), V::splat(isa, -LN2_LO)],
                c: [scaled(P5), scaled(P4), scaled(P3), scaled(P2), s32],
            }
        }
    }

    /// Constants for `exp(x - k_l*ln2)` with its own integer shift `k_l` in every lane `l`
    /// (`|k_l| < 2^19`), each lane with its own underflow threshold.
    #[inline(always)]
    pub(crate) fn per_lane(isa: Token<V>, k: V) -> Self {
        let mut ex = Self::new(isa, 0.0, 1.0);
        // The biases are integers below 2^24 and `k - 126.75` needs 20 bits: all exact. The
        // product's rounding (2^-7 at most) moves the threshold by a fraction of a binade.
        let (floor, k8) = if V::EXP_TABLE {
            (126.0, k.mul(V::splat(isa, 8.0)))
        } else {
            (126.75, k)
        };
        ex.bias = ex.bias.sub(k8);
        ex.lo = k
            .sub(V::splat(isa, floor))
            .mul(V::splat(isa, std::f32::consts::LN_2));
        ex
    }

    /// [`Exp::per_lane`] with its own factor `s_l` in every lane as well (`s[..LANES]`): lane
    /// `l` computes exactly what `Exp::new(k_l, s_l)` computes.
    #[inline(always)]
    pub(crate) fn per_lane_scaled(isa: Token<V>, k: V, s: &[f64; 16]) -> Self {
        let mut ex = Self::per_lane(isa, k);
        // `new`'s coefficients: each rounded from its f64 product with `s`; `1 * s` is `s`.
        let coef = if V::EXP_TABLE {
            [T3, T2, 1.0, 1.0, 1.0]
        } else {
            [P5, P4, P3, P2, 1.0]
        };
        for (c, &f) in ex.c.iter_mut().zip(&coef) {
            let mut a = [0.0f32; 16];
            for (a, &s) in a.iter_mut().zip(s).take(V::LANES) {
                *a = (f as f64 * s) as f32;
            }
            // SAFETY: `a` holds 16 >= LANES elements.
            *c = unsafe { V::load(isa, a.as_ptr()) };
        }
        ex
    }

    /// `(p, scale)` with `p * scale = exp(x - k*ln2) * s` for every `x` at or above the
    /// threshold (garbage below it in the table form; the polynomial form needs `x` clamped).
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn terms(&self, x: V) -> (V, V) {
        let t = V::fma(x, self.log2e, self.bias);
        let n = t.sub(self.bias);
        let r = V::fma(n, self.neg_ln2[0], x);
        let r = V::fma(n, self.neg_ln2[1], r);
        let c = &self.c;
        if V::EXP_TABLE {
            let q = V::fma(c[0], r, c[1]);
            let q = V::fma(q, r, c[2]);
            (V::fma(q, r, c[2]), V::pow2_eighths(t))
        } else {
            let mut p = V::fma(c[0], r, c[1]);
            p = V::fma(p, r, c[2]);
            p = V::fma(p, r, c[3]);
            p = V::fma(p, r, c[4]);
            (V::fma(p, r, c[4]), V::pow2_from_magic(t))
        }
    }

    /// `exp(x - k*ln2) * s`, exactly 0 below the underflow threshold (and for `-inf`), NaN for
    /// NaN.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn eval(&self, x: V) -> V {
        if V::EXP_TABLE {
            let (p, scale) = self.terms(x);
            V::zero_below(p.mul(scale), x, self.lo)
        } else {
            let (p, scale) = self.terms(V::max(self.lo, x));
            p.mul(scale)
        }
    }

    /// `acc + exp(x - k*ln2) * s`, the product and the sum rounded once. Inputs below the
    /// underflow threshold are clamped to it rather than masked: in the table form each then
    /// adds about `2^-126 * s` instead of less, which sums of terms scaled by `2^-k` can
    /// ignore (see the callers).
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn eval_add(&self, x: V, acc: V) -> V {
        let (p, scale) = self.terms(V::max(self.lo, x));
        V::fma(p, scale, acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::portable::{token, Lanes};

    /// One exponential on the portable lanes (the same arithmetic as every ISA).
    fn exp1(ex: &Exp<Lanes>, x: f32) -> f32 {
        let mut out = [0.0f32; 16];
        ex.eval(Lanes::splat(token(), x)).to_array(&mut out);
        out[0]
    }

    /// Worst relative error of `exp(x - k*ln2) * s` over `n` inputs evenly spread on
    /// `[lo, hi]`, against f64.
    fn worst(k: f32, s: f64, lo: f32, hi: f32, n: usize) -> f64 {
        let ex = Exp::<Lanes>::new(token(), k, s);
        let mut w = 0.0f64;
        for i in 0..=n {
            let x = lo + (hi - lo) * (i as f32 / n as f32);
            let exact = (x as f64 - k as f64 * std::f64::consts::LN_2).exp() * s;
            let got = exp1(&ex, x) as f64;
            w = w.max(((got - exact) / exact).abs());
        }
        w
    }

    #[test]
    fn exponential_within_two_ulp() {
        // Around 0, over the whole normal range, and shifted by a large k with a scale folded
        // in (as the softmax output pass uses it).
        let cases = [
            (0.0, 1.0, -1.0, 1.0),
            (0.0, 1.0, -87.0, 88.0),
            (100.0, 1.0 / 3.0, 0.0, 100.0 * std::f32::consts::LN_2),
            (-5000.0, 1.0, -3500.0, -3440.0),
        ];
        for (k, s, lo, hi) in cases {
            let w = worst(k, s, lo, hi, 400_000);
            assert!(w < 2.0e-7, "k={k} s={s} [{lo}, {hi}]: worst {w:e}");
        }
    }

    #[test]
    fn underflow_is_exact_zero_and_nan_stays() {
        let ex = Exp::<Lanes>::new(token(), 0.0, 1.0);
        let threshold = -126.0 * std::f32::consts::LN_2;
        for x in [threshold - 1e-3, -100.0, -1e30, f32::NEG_INFINITY] {
            assert_eq!(exp1(&ex, x).to_bits(), 0, "x={x}");
        }
        let at = exp1(&ex, threshold + 1e-3);
        assert!(at > 0.0 && at < 1.2e-38, "{at:e}");
        assert!(exp1(&ex, f32::NAN).is_nan());
        // 8*x*log2(e) rounding to 1024 gives 2^128: infinity (the log-softmax backward cap).
        assert_eq!(exp1(&ex, 88.75), f32::INFINITY);
    }

    #[test]
    fn table_entries_are_the_rounded_eighths() {
        for (j, &bits) in EIGHTHS.iter().enumerate() {
            let exact = 2f64.powf(j as f64 / 8.0) as f32;
            assert_eq!(bits + ((j as u32) << 20), exact.to_bits(), "j={j}");
        }
    }
}
