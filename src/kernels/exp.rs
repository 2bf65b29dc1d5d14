//! The exponential core shared by every kernel of every ISA.
//!
//! `exp(x - k*ln2) * s` for a per-row integer `k` and a per-row factor `s`:
//! 1. clamp `x` from below so that everything under the underflow threshold becomes exactly 0;
//! 2. `t = x*log2(e) + (1.5*2^23 + 127 - k)` rounds `x*log2(e)` to an integer `n` inside the
//!    mantissa of `t` (the "magic bias" trick) and already holds the biased exponent `n - k + 127`;
//! 3. `r = x - n*ln2` with `ln2` split in two (`LN2_HI` is `ln2` rounded to f32, `LN2_LO` the
//!    rest), each step one FMA, so `r` is accurate to a few units of `2^-25` even for `n` of
//!    ~2^18 (the FMA rounds `x - n*LN2_HI` once, and the result is small);
//! 4. `e^r` from a degree-5 polynomial `1 + r + c2 r^2 + ... + c5 r^5` (minimax for relative
//!    error on `[-ln2/2, ln2/2]`, 1.03e-7 in exact arithmetic, 1.5e-7 evaluated in f32); every
//!    coefficient is premultiplied by `s`, which folds a normalisation (`1/sum`) into the
//!    polynomial for free;
//! 5. `2^(n - k)` from shifting the integer bits of `t` into the exponent field.
//!
//! Reducing `x` itself against `k*ln2`, instead of forming `x - max` in f32 first, avoids the
//! rounding of that subtraction (worth up to 1.2e-6 relative for inputs in [-10, 10]).

use super::simd::Simd;

/// `log2(e)` rounded to f32.
pub(crate) const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `ln(2)` rounded to f32 (0x3f317218).
pub(crate) const LN2_HI: f32 = f32::from_bits(0x3f31_7218);
/// `ln(2) - LN2_HI` rounded to f32.
pub(crate) const LN2_LO: f32 = f32::from_bits(0xb102_e308);
/// `ln(2) - LN2_HI` in f64 (for per-row scalar work).
pub(crate) const LN2_LO_F64: f64 = -1.904_654_299_957_768e-9;
/// `1.5 * 2^23 + 127`: adding it rounds to an integer and biases it for the exponent field.
pub(crate) const MAGIC: f32 = 12_582_912.0 + 127.0;

/// Polynomial coefficients c2..c5 (c0 = c1 = 1), fitted for this crate (see module docs).
pub(crate) const C2: f32 = f32::from_bits(0x3eff_fefe);
pub(crate) const C3: f32 = f32::from_bits(0x3e2a_abc7);
pub(crate) const C4: f32 = f32::from_bits(0x3d2b_954f);
pub(crate) const C5: f32 = f32::from_bits(0x3c08_3a92);

/// Rows whose largest finite magnitude reaches this value are shifted by their maximum
/// before the fast path runs (the integer `k` must stay exact and small; see `generic`).
pub(crate) const LARGE: f32 = 131_072.0;

/// The shift `k` used for a row (or block) whose maximum is `m`: `round(m * log2(e))`.
#[inline]
pub(crate) fn shift_for_max(m: f32) -> f32 {
    (m * LOG2E).round()
}

/// Per-row constants of `exp(x - k*ln2) * s`, broadcast once.
#[derive(Clone, Copy)]
pub(crate) struct Exp<V> {
    lo: V,
    log2e: V,
    bias: V,
    neg_ln2_hi: V,
    neg_ln2_lo: V,
    c: [V; 6],
}

impl<V: Simd> Exp<V> {
    /// Constants for `exp(x - k*ln2) * s`. `k` must be an integer with `|k| < 2^21`.
    ///
    /// # Safety
    /// `V`'s ISA must be available.
    #[inline(always)]
    pub(crate) unsafe fn new(k: f32, s: f64) -> Self {
        // Inputs below this floor round to n = k - 127, which the exponent trick maps to 0.0
        // exactly; clamping there keeps every lane's biased exponent inside [0, 128].
        let lo = ((k as f64 - 126.75) * std::f64::consts::LN_2) as f32;
        let scaled = |c: f32| (c as f64 * s) as f32;
        Exp {
            lo: V::splat(lo),
            log2e: V::splat(LOG2E),
            bias: V::splat(MAGIC - k),
            neg_ln2_hi: V::splat(-LN2_HI),
            neg_ln2_lo: V::splat(-LN2_LO),
            c: [
                V::splat(scaled(C5)),
                V::splat(scaled(C4)),
                V::splat(scaled(C3)),
                V::splat(scaled(C2)),
                V::splat(s as f32),
                V::splat(s as f32),
            ],
        }
    }

    /// Constants for `exp(x - k_l*ln2)` with its own integer shift `k_l` in every lane `l`
    /// (`|k_l| < 2^21`), each lane clamped at its own underflow threshold like [`Exp::new`].
    ///
    /// # Safety
    /// `V`'s ISA must be available.
    #[inline(always)]
    pub(crate) unsafe fn per_lane(k: V) -> Self {
        let mut ex = Self::new(0.0, 1.0);
        // `MAGIC - k` is an integer below 2^24 and `k - 126.75` needs 23 bits: both exact.
        // The product's rounding (2^-7 at most) is far inside the 0.25 margin of the floor.
        ex.bias = V::splat(MAGIC).sub(k);
        ex.lo = k
            .sub(V::splat(126.75))
            .mul(V::splat(std::f32::consts::LN_2));
        ex
    }

    /// The biased exponent `t = n + MAGIC - k` of `x` (an integer-valued float,
    /// `n = round(x*log2(e))`) and the polynomial `p = e^(x - n*ln2) * s`, so that
    /// `exp(x - k*ln2) * s = p * V::pow2_from_magic(t)`.
    #[inline(always)]
    unsafe fn parts(&self, x: V) -> (V, V) {
        let x = V::max(self.lo, x);
        let t = V::fma(x, self.log2e, self.bias);
        let n = t.sub(self.bias);
        let r = V::fma(n, self.neg_ln2_hi, x);
        let r = V::fma(n, self.neg_ln2_lo, r);
        let c = &self.c;
        let mut p = V::fma(c[0], r, c[1]);
        p = V::fma(p, r, c[2]);
        p = V::fma(p, r, c[3]);
        p = V::fma(p, r, c[4]);
        p = V::fma(p, r, c[5]);
        (t, p)
    }

    /// `exp(x - k*ln2) * s`, exactly 0 below the underflow threshold, NaN for NaN.
    #[inline(always)]
    pub(crate) unsafe fn eval(&self, x: V) -> V {
        let (t, p) = self.parts(x);
        p.mul(V::pow2_from_magic(t))
    }

    /// `acc + exp(x - k*ln2) * s`, the product and the sum rounded once.
    #[inline(always)]
    pub(crate) unsafe fn eval_add(&self, x: V, acc: V) -> V {
        let (t, p) = self.parts(x);
        V::fma(p, V::pow2_from_magic(t), acc)
    }
}
