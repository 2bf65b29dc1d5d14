//! The natural logarithm in f64 that every kernel uses for a row's `ln(sum)`.
//!
//! Log-sum-exp, log-softmax and the losses end each row with one f64 logarithm of the row's
//! sum, on the row's critical path: a call into the C library's `log` cost about 40 cycles of
//! latency on a row of 64 entries that takes about 150, and it cannot be inlined or overlapped
//! with the next row's work. This one is inline, and its common path has no branch but one
//! that is never taken for a sum.
//!
//! For a normal positive `x = 2^e * m`, `m` in `[1, 2)`:
//! 1. `t = 1 + i/128` is the nearest of 129 table points to `m` (`i` from the top mantissa
//!    bits, rounded); the table holds `c`, `1/t` rounded to a multiple of 2^-9, and `-ln c`,
//!    so `r = m*c - 1` lies within about `1.25 * 2^-8` of 0 and `ln m = -ln c + log1p(r)`.
//!    With `c` that short, `m*c - 1` fits in f64, so one fused multiply-add gives `r`
//!    exactly (below 2^-8; one rounding of 2^-54 relative beyond), which keeps the result
//!    accurate where `ln m` is about `r` (`m` half-way between two table points);
//! 2. `ln x = e ln 2 - ln c + log1p(r)`, with `e ln 2 - ln c` formed exactly in a high part
//!    (both are multiples of 2^-32, see `scripts/gen-ln-table.py`) and their low parts
//!    beside it;
//! 3. `log1p(r) = r - r^2/2 + ... + r^7/7` (the next term is below 2^-59 relative).
//!
//! Every multiply-add is `f64::mul_add`, which is correctly rounded by definition (one
//! instruction on x86 with FMA, which every SIMD kernel here has, and on aarch64; a library
//! call elsewhere), so the result is the same bits on every ISA and in every caller, and batch
//! and one-row calls agree. The results are within one unit in the last place of the C
//! library's `log` (checked in the tests), far below the rounding of the f32 results.
//! Near `x = 1` (`e = 0, i = 0`, or `e = -1, i = 128`) the high part is exactly 0 and `r` is
//! exact, so the relative accuracy holds there too.
//!
//! Subnormals are scaled into the normal range first; zero gives `-inf`, `+inf` gives `+inf`,
//! negative numbers and NaN give NaN, as `f64::ln` does.

/// `ln 2` as a multiple of 2^-32.
const LN2_HI: f64 = f64::from_bits(0x3fe62e42ff000000);
/// `ln 2 - LN2_HI`, rounded to f64.
const LN2_LO: f64 = f64::from_bits(0xbdc718432a1b0e26);
/// `[c, hi, lo]` for `t = 1 + i/128`: `c = 1/t` rounded to a multiple of 2^-9,
/// `-ln c = hi + lo`, `hi` a multiple of 2^-32.
#[rustfmt::skip]
static TABLE: [[u64; 3]; 129] = [
    [0x3ff0000000000000, 0x0000000000000000, 0x0000000000000000],
    [0x3fefc00000000000, 0x3f80101578000000, 0xbdd3b90c76b999d3],
    [0x3fef800000000000, 0x3f90205658000000, 0x3dc26b08e93e4742],
    [0x3fef400000000000, 0x3f98492528000000, 0x3dc91957d173697d],
    [0x3fef000000000000, 0x3fa0415d8a000000, 0xbda8bbbb8fe8c38a],
    [0x3feed00000000000, 0x3fa35c8bfa000000, 0x3dd4260d5f57be7b],
    [0x3fee900000000000, 0x3fa788595a000000, 0x3dbabbdd3cbdf131],
    [0x3fee500000000000, 0x3fabbcebfc000000, 0x3dca3d080f2e79d0],
    [0x3fee200000000000, 0x3faeea31c0000000, 0x3d8ae1eec1b036c5],
    [0x3fede00000000000, 0x3fb1973bd1000000, 0x3dd19559b4553e4c],
    [0x3fedb00000000000, 0x3fb333d7f8000000, 0x3db83f4b6a4abf24],
    [0x3fed700000000000, 0x3fb55e1005000000, 0x3dac07075d0314f2],
    [0x3fed400000000000, 0x3fb700d30b000000, 0xbdb53f1f0b92b311],
    [0x3fed100000000000, 0x3fb8a6477b000000, 0xbddb88f5cfd4190a],
    [0x3fece00000000000, 0x3fba4e7641000000, 0xbdd390f215b5ca20],
    [0x3feca00000000000, 0x3fbc885802000000, 0xbdd0ed3725c734aa],
    [0x3fec700000000000, 0x3fbe3707ee000000, 0x3dc8243da1399d9b],
    [0x3fec400000000000, 0x3fbfe8913a000000, 0xbdc2154d3593e843],
    [0x3fec100000000000, 0x3fc0ce7ece000000, 0xbdd99eb9ad25400b],
    [0x3febe00000000000, 0x3fc1aa2b7e000000, 0x3dd1fb94f1c88713],
    [0x3febb00000000000, 0x3fc28753bc000000, 0x3dc1aba4a71ac981],
    [0x3feb800000000000, 0x3fc365fcb0000000, 0x3dc590162fa8234b],
    [0x3feb500000000000, 0x3fc4462b9e000000, 0xbddb26121629c46c],
    [0x3feb200000000000, 0x3fc527e5e4800000, 0x3dd0dac67d1cad30],
    [0x3feaf00000000000, 0x3fc60b3100800000, 0x3dd84a3aea4d9dc2],
    [0x3feac00000000000, 0x3fc6f0128b800000, 0xbdb52a88c6f2ce11],
    [0x3feaa00000000000, 0x3fc7898d85800000, 0xbdddd9c661070914],
    [0x3fea700000000000, 0x3fc8712137800000, 0xbdd78b35c52f4194],
    [0x3fea400000000000, 0x3fc95a5add000000, 0xbdb1fd01baf4ebe0],
    [0x3fea100000000000, 0x3fca454083000000, 0xbdc954fac41bf047],
    [0x3fe9f00000000000, 0x3fcae2ca6f800000, 0xbdc8d42b9528d585],
    [0x3fe9c00000000000, 0x3fcbd08738000000, 0x3dddec568774d57e],
    [0x3fe9a00000000000, 0x3fcc6ffbc7000000, 0xbdbfe11ec72c5963],
    [0x3fe9700000000000, 0x3fcd60a17f800000, 0x3dc035148fc81ef9],
    [0x3fe9500000000000, 0x3fce020cc6000000, 0x3dd1ad5a9fea48dd],
    [0x3fe9200000000000, 0x3fcef5ade5000000, 0xbdd1800d108ab2de],
    [0x3fe9000000000000, 0x3fcf991c6c800000, 0x3dd9d9bcbecca0ce],
    [0x3fe8d00000000000, 0x3fd047e60cc00000, 0x3dde83b7be21a730],
    [0x3fe8b00000000000, 0x3fd09aa573000000, 0xbdd9392bd787a32f],
    [0x3fe8800000000000, 0x3fd1178e82400000, 0xbdd81b8421cc74be],
    [0x3fe8600000000000, 0x3fd16b5ccbc00000, 0xbdd3048ca6410b5d],
    [0x3fe8400000000000, 0x3fd1bf9963400000, 0x3dda6b94ddaa28f8],
    [0x3fe8200000000000, 0x3fd214456d000000, 0x3dcd71a87deba46c],
    [0x3fe7f00000000000, 0x3fd2941afb000000, 0x3dd86b7bcf5233c7],
    [0x3fe7d00000000000, 0x3fd2e9e2bd000000, 0xbddedd79fe7dae5c],
    [0x3fe7b00000000000, 0x3fd3401e12c00000, 0xbdd1345f1cd55b8a],
    [0x3fe7900000000000, 0x3fd396ce35800000, 0x3ddbbf53e31d4ce5],
    [0x3fe7600000000000, 0x3fd419b423c00000, 0x3dd5e8c721b76487],
    [0x3fe7400000000000, 0x3fd4718dc2800000, 0xbdcc77c9f38259f6],
    [0x3fe7200000000000, 0x3fd4c9e09e000000, 0x3dd72c3beedc9ea5],
    [0x3fe7000000000000, 0x3fd522ae07400000, 0xbdbd70a0c7bf4d9c],
    [0x3fe6e00000000000, 0x3fd57bf753c00000, 0x3dc1a3f5bdbdcba8],
    [0x3fe6c00000000000, 0x3fd5d5bddf400000, 0x3dd95f2fa6afbadd],
    [0x3fe6a00000000000, 0x3fd630030b400000, 0xbdb54edb11f398d7],
    [0x3fe6800000000000, 0x3fd68ac83e800000, 0x3ddc6a141a64eadd],
    [0x3fe6600000000000, 0x3fd6e60ee6c00000, 0xbdd0e68de9a83ddd],
    [0x3fe6400000000000, 0x3fd741d876c00000, 0x3db9eec584a4ee30],
    [0x3fe6200000000000, 0x3fd79e2668800000, 0xbda8261382d102e9],
    [0x3fe6000000000000, 0x3fd7fafa3bc00000, 0x3dd8151bede6fdb5],
    [0x3fe5e00000000000, 0x3fd8585577800000, 0xbdd2340552199991],
    [0x3fe5d00000000000, 0x3fd8873658400000, 0xbdcb06623887dff1],
    [0x3fe5b00000000000, 0x3fd8e55f9b400000, 0xbdc6c8f90ec4e44e],
    [0x3fe5900000000000, 0x3fd9441434c00000, 0xbddfcda68fc6d400],
    [0x3fe5700000000000, 0x3fd9a355c3400000, 0xbdb0a518cacabc74],
    [0x3fe5500000000000, 0x3fda0325ed000000, 0x3dd4fda47be9e544],
    [0x3fe5400000000000, 0x3fda334402400000, 0xbddb058737500c51],
    [0x3fe5200000000000, 0x3fda93ed3c800000, 0x3dc5b3c6de57d4ef],
    [0x3fe5000000000000, 0x3fdaf52952400000, 0x3dc19ba0ceab622f],
    [0x3fe4e00000000000, 0x3fdb56fa04400000, 0x3db8a425494b6106],
    [0x3fe4d00000000000, 0x3fdb881aa6400000, 0x3dd9bc934a74e8b4],
    [0x3fe4b00000000000, 0x3fdbeacd9e400000, 0xbdd8e52eb2248f0d],
    [0x3fe4900000000000, 0x3fdc4e19b8400000, 0x3dbc8f0691949833],
    [0x3fe4800000000000, 0x3fdc7ff9c7400000, 0x3db55324911f56db],
    [0x3fe4600000000000, 0x3fdce42f18000000, 0x3db91d0d0798270b],
    [0x3fe4400000000000, 0x3fdd490246c00000, 0x3ddefa6b75fd34ed],
    [0x3fe4300000000000, 0x3fdd7ba7ad800000, 0x3dde7d9fba88eeba],
    [0x3fe4100000000000, 0x3fdde16b57000000, 0xbdd06f0fb980c80e],
    [0x3fe4000000000000, 0x3fde148a1a400000, 0xbdd8d9326b207323],
    [0x3fe3e00000000000, 0x3fde7b42c3c00000, 0x3dddad7355f591a8],
    [0x3fe3d00000000000, 0x3fdeaedd2ec00000, 0xbdd366f3cc5286cb],
    [0x3fe3b00000000000, 0x3fdf168f7fc00000, 0xbdcf475bed029f03],
    [0x3fe3a00000000000, 0x3fdf4aa7ee000000, 0x3da8c966f2b780a5],
    [0x3fe3800000000000, 0x3fdfb358af800000, 0xbdb6ddef40b87d37],
    [0x3fe3700000000000, 0x3fdfe7f18ec00000, 0xbdcf8583d473ace0],
    [0x3fe3500000000000, 0x3fe028d2d6a00000, 0x3dd2c7e8ffb0c0f4],
    [0x3fe3400000000000, 0x3fe04360be800000, 0xbdd3f8a622ff3caa],
    [0x3fe3200000000000, 0x3fe078bf05400000, 0xbdd8752fdbb7c241],
    [0x3fe3100000000000, 0x3fe0938fae600000, 0xbdb38b2811f5e314],
    [0x3fe2f00000000000, 0x3fe0c974c8a00000, 0xbdd79c647eb06469],
    [0x3fe2e00000000000, 0x3fe0e48986200000, 0xbddc663d667f87ff],
    [0x3fe2d00000000000, 0x3fe0ffb542200000, 0xbdd8b71442208a8d],
    [0x3fe2b00000000000, 0x3fe1365252c00000, 0xbd9ef367a59de2b4],
    [0x3fe2a00000000000, 0x3fe151c3f7000000, 0xbddad3dbb2f45276],
    [0x3fe2900000000000, 0x3fe16d4d38c00000, 0x3da19fa75d42395e],
    [0x3fe2700000000000, 0x3fe1a4a738c00000, 0xbdd0b98753b67ef6],
    [0x3fe2600000000000, 0x3fe1c07849a00000, 0x3ddcc00e566f76b8],
    [0x3fe2500000000000, 0x3fe1dc619de00000, 0x3d8a5106d42ece0e],
    [0x3fe2300000000000, 0x3fe2147dba400000, 0x3dce8e4eabcc28dc],
    [0x3fe2200000000000, 0x3fe230b0d8c00000, 0xbda43681fcc8dbcd],
    [0x3fe2100000000000, 0x3fe24cfce7000000, 0xbdcfc9965ad972df],
    [0x3fe1f00000000000, 0x3fe285e084200000, 0x3dd9470713619b58],
    [0x3fe1e00000000000, 0x3fe2a2786d000000, 0x3ddd820da57cf2f1],
    [0x3fe1d00000000000, 0x3fe2bf29f9800000, 0x3dc070ec51c30e9e],
    [0x3fe1c00000000000, 0x3fe2dbf557c00000, 0xbdde417a6e507b9e],
    [0x3fe1a00000000000, 0x3fe315da44400000, 0xbdd7f2e9d278b41e],
    [0x3fe1900000000000, 0x3fe332f431400000, 0x3dd5af2b49e158bb],
    [0x3fe1800000000000, 0x3fe35028ada00000, 0xbdb39bd1f01ab606],
    [0x3fe1700000000000, 0x3fe36d77e9e00000, 0xbdd9605281854184],
    [0x3fe1600000000000, 0x3fe38ae217200000, 0xbdca2462deaed55a],
    [0x3fe1500000000000, 0x3fe3a86767200000, 0x3dc5c444b807a246],
    [0x3fe1300000000000, 0x3fe3e3c439200000, 0xbdcc224ea698c2fa],
    [0x3fe1200000000000, 0x3fe4019c21200000, 0x3dc72a4c61b3c3ce],
    [0x3fe1100000000000, 0x3fe41f8ff8400000, 0x3dcc75843dd74ca7],
    [0x3fe1000000000000, 0x3fe43d9ff3000000, 0xbdcb70ecc27a4083],
    [0x3fe0f00000000000, 0x3fe45bcc46400000, 0x3dd9127428b60047],
    [0x3fe0e00000000000, 0x3fe47a1527e00000, 0x3dd145a692a0d654],
    [0x3fe0d00000000000, 0x3fe4987ace000000, 0x3ddb5760fb4571ad],
    [0x3fe0b00000000000, 0x3fe4d59d44000000, 0xbdb2a2f09a6b63f6],
    [0x3fe0a00000000000, 0x3fe4f45a83600000, 0xbdc6c79b145b64ee],
    [0x3fe0900000000000, 0x3fe5133566600000, 0x3dcff15ce532661f],
    [0x3fe0800000000000, 0x3fe5322e26800000, 0x3dc9e15ccc45d257],
    [0x3fe0700000000000, 0x3fe55144fdc00000, 0xbdba14ec532b35ba],
    [0x3fe0600000000000, 0x3fe5707a26c00000, 0xbdc1ce667f400cd0],
    [0x3fe0500000000000, 0x3fe58fcddce00000, 0x3d430e37fe5d2bd1],
    [0x3fe0400000000000, 0x3fe5af405c400000, 0xbdd36c40b38a7de7],
    [0x3fe0300000000000, 0x3fe5ced1e1800000, 0xbdbe51d52fdabeaa],
    [0x3fe0200000000000, 0x3fe5ee82aa200000, 0x3dc064808e033692],
    [0x3fe0100000000000, 0x3fe60e52f4600000, 0xbdd0ee3915a197ea],
    [0x3fe0000000000000, 0x3fe62e42ff000000, 0xbdc718432a1b0e26],
];

/// `ln x` in f64 (see the module documentation).
#[inline(always)]
pub(crate) fn ln(x: f64) -> f64 {
    ln_scaled(x, 0.0)
}

/// `ln(x * 2^k)` in f64 for an integer-valued `k` (`|k|` below 2^19), with `k ln 2` added
/// exactly to the high part rather than rounded separately.
#[inline(always)]
pub(crate) fn ln_scaled(x: f64, k: f64) -> f64 {
    const MANTISSA: u64 = (1 << 52) - 1;
    const ONE: u64 = 0x3ff0_0000_0000_0000;
    const STEP: u64 = 1 << 45; // 1/128 in units of the mantissa's last place
    let mut bits = x.to_bits();
    let mut e = (bits >> 52) as i32 - 1023;
    if bits.wrapping_sub(MIN_NORMAL) >= INF - MIN_NORMAL {
        match not_normal(x) {
            Ok(v) => return v,
            Err(scaled) => (bits, e) = scaled,
        }
    }
    let frac = bits & MANTISSA;
    let i = ((frac + STEP / 2) >> 45) as usize;
    let [c, hi, lo] = TABLE[i].map(f64::from_bits);
    let m = f64::from_bits(frac | ONE);
    let r = m.mul_add(c, -1.0);
    let e = e as f64 + k;
    let high = e.mul_add(LN2_HI, hi);
    let low = e.mul_add(LN2_LO, lo);
    let r2 = r * r;
    let p = r2.mul_add(r.mul_add(C5, C4), r.mul_add(C3, C2));
    let p = (r2 * r2).mul_add(r.mul_add(C7, C6), p);
    (high + r) + r2.mul_add(p, low)
}

/// The coefficients of `log1p(r) = r + r^2 (C2 + C3 r + ... + C7 r^5)`.
const C2: f64 = -0.5;
const C3: f64 = 1.0 / 3.0;
const C4: f64 = -0.25;
const C5: f64 = 0.2;
const C6: f64 = -1.0 / 6.0;
const C7: f64 = 1.0 / 7.0;

/// The bits of the smallest positive normal f64.
const MIN_NORMAL: u64 = 0x0010_0000_0000_0000;
/// The bits of `+inf`.
const INF: u64 = 0x7ff0_0000_0000_0000;

/// `ln x` for `x` not a positive normal number: the result for zero (`-inf`), negative
/// numbers and NaN (NaN) and `+inf` (`+inf`), or for a positive subnormal the bits and
/// exponent of `x * 2^52` with the exponent lowered by 52 (its logarithm is then the normal
/// path's). Kept out of line, and written here rather than calling the C library: a library
/// `log` in this branch may be evaluated on every call, before the branch is decided.
#[cold]
#[inline(never)]
fn not_normal(x: f64) -> Result<f64, (u64, i32)> {
    if x == 0.0 {
        Ok(f64::NEG_INFINITY)
    } else if x.is_nan() || x < 0.0 {
        Ok(f64::NAN)
    } else if x == f64::INFINITY {
        Ok(x)
    } else {
        let bits = (x * f64::from_bits(0x4330_0000_0000_0000)).to_bits(); // x * 2^52
        Err((bits, (bits >> 52) as i32 - 1023 - 52))
    }
}

#[cfg(test)]
mod tests {
    use super::{ln, ln_scaled};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Distance in units of the last place between two finite f64 of the same sign.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn agrees_with_the_c_library_within_one_ulp() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..2_000_000 {
            let bits: u64 = rng.random();
            // Every normal exponent, and a dense sample of [0.5, 4) where sums live.
            let x = if bits & 1 == 0 {
                f64::from_bits(
                    (bits >> 2) % (0x7ff0_0000_0000_0000 - 0x0010_0000_0000_0000)
                        + 0x0010_0000_0000_0000,
                )
            } else {
                0.5 + (bits >> 11) as f64 * (3.5 / (1u64 << 53) as f64)
            };
            let (a, b) = (ln(x), x.ln());
            let d = if a == b {
                0
            } else if a.signum() == b.signum() {
                ulps(a, b)
            } else {
                u64::MAX
            };
            assert!(d <= 1, "ln({x:e}) = {a:e}, C library {b:e}");
        }
    }

    #[test]
    fn bands_next_to_one() {
        // In the table points' bands next to 1 the result is as small as `r` (a term that
        // nearly cancels the table's `-ln c`), so an error in `r` shows there.
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..4_000_000 {
            let x: f64 = rng.random_range(1.0 - 1.0 / 32.0..1.0 + 1.0 / 32.0);
            assert!(ulps(ln(x), x.ln()) <= 1, "ln({x:e})");
        }
    }

    #[test]
    fn relative_accuracy_near_one() {
        for k in 1..2000u64 {
            for x in [
                1.0 + k as f64 * f64::EPSILON,
                1.0 - k as f64 * f64::EPSILON / 2.0,
            ] {
                let (a, b) = (ln(x), x.ln());
                assert!(ulps(a, b) <= 1, "ln({x:e}) = {a:e}, C library {b:e}");
            }
        }
        assert_eq!(ln(1.0).to_bits(), 0);
        for e in -1022..1024 {
            let x = 2f64.powi(e);
            assert!(ulps(ln(x), x.ln()) <= 1, "ln(2^{e})");
        }
    }

    #[test]
    fn special_values_and_subnormals() {
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(-0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        for x in [
            -1.0,
            -f64::MIN_POSITIVE / 4.0,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
        ] {
            assert!(ln(x).is_nan(), "ln({x:e})");
        }
        for bits in (1..(1u64 << 52))
            .step_by(0x1_2345_6789)
            .chain([1, (1 << 52) - 1])
        {
            let x = f64::from_bits(bits);
            assert!(ulps(ln(x), x.ln()) <= 1, "ln({x:e})");
        }
    }

    #[test]
    fn scaled_adds_the_power_of_two_exactly() {
        for k in -200..=200 {
            for x in [1.0, 1.5, 3.0 - f64::EPSILON, 17.25, 64.0, 1000.5] {
                let exact = (x * 2f64.powi(k)).ln();
                assert!(ulps(ln_scaled(x, k as f64), exact) <= 1, "ln({x} * 2^{k})");
            }
        }
        // Exactly cancelling high parts: ln(2^-k * 2^k) is 0.
        for k in -200..=200 {
            assert_eq!(ln_scaled(2f64.powi(-k), k as f64), 0.0, "k = {k}");
        }
    }
}
