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
//!    bits, rounded); the table holds `c = 1/t` rounded to f64 and `-ln c`, so
//!    `r = m*c - 1` (one fused multiply-add) lies within about `2^-8` of 0 and
//!    `ln m = -ln c + log1p(r)`;
//! 2. `ln x = e ln 2 - ln c + log1p(r)`, with `e ln 2 - ln c` formed exactly in a high part
//!    (both are multiples of 2^-32, see `scripts/gen-ln-table.py`) and their low parts
//!    beside it;
//! 3. `log1p(r) = r - r^2/2 + ... + r^7/7` (the next term is below 2^-59 relative).
//!
//! Every multiply-add is `f64::mul_add`, which is correctly rounded by definition (one
//! instruction on x86 with FMA, which every SIMD kernel here has, and on aarch64; a library
//! call elsewhere), so the result is the same bits on every ISA and in every caller, and batch
//! and one-row calls agree. The error is within one unit in the last place of f64 (checked
//! against the C library's `log` in the tests), far below the rounding of the f32 results.
//! Near `x = 1` (`e = 0, i = 0`, or `e = -1, i = 128`) the high part is exactly 0 and `r` is
//! exact, so the relative accuracy holds there too.
//!
//! Subnormals are scaled into the normal range first; zero gives `-inf`, `+inf` gives `+inf`,
//! negative numbers and NaN give NaN, as `f64::ln` does.

/// `ln 2` as a multiple of 2^-32.
const LN2_HI: f64 = f64::from_bits(0x3fe62e42ff000000);
/// `ln 2 - LN2_HI`, rounded to f64.
const LN2_LO: f64 = f64::from_bits(0xbdc718432a1b0e26);
/// `[c, hi, lo]` for `t = 1 + i/128`: `c = 1/t` rounded to f64, `-ln c = hi + lo`, `hi` a
/// multiple of 2^-32.
#[rustfmt::skip]
static TABLE: [[u64; 3]; 129] = [
    [0x3ff0000000000000, 0x0000000000000000, 0x0000000000000000],
    [0x3fefc07f01fc07f0, 0x3f7fe02a70000000, 0xbdd3be619c0f225c],
    [0x3fef81f81f81f820, 0x3f8fc0a8b0000000, 0x3dbf807879f3db4f],
    [0x3fef44659e4a4271, 0x3f97b91b08000000, 0xbda5276d0b6c055a],
    [0x3fef07c1f07c1f08, 0x3f9f829b10000000, 0xbdd87cd07b30703f],
    [0x3feecc07b301ecc0, 0x3fa39e87ba000000, 0xbd6429856fea4dfd],
    [0x3fee9131abf0b767, 0x3fa77458f6000000, 0x3db96e7f831a7951],
    [0x3fee573ac901e574, 0x3fab42dd72000000, 0xbddcd1c8d7ae5d67],
    [0x3fee1e1e1e1e1e1e, 0x3faf0a30c0000000, 0x3da162a8617cc971],
    [0x3fede5d6e3f8868a, 0x3fb16536ef000000, 0xbdd721472de768fa],
    [0x3fedae6076b981db, 0x3fb341d796000000, 0x3dbbd1cfb2998376],
    [0x3fed77b654b82c34, 0x3fb51b073f000000, 0x3d9860eea49e39a2],
    [0x3fed41d41d41d41d, 0x3fb6f0d28b000000, 0xbdba94b2241b6646],
    [0x3fed0cb58f6ec074, 0x3fb8c345d6000000, 0x3dc8cd915ad65a15],
    [0x3fecd85689039b0b, 0x3fba926d3a000000, 0x3dd2b5587142f48b],
    [0x3feca4b3055ee191, 0x3fbc5e548f000000, 0x3dd6f1d0c97585fc],
    [0x3fec71c71c71c71c, 0x3fbe27076e000000, 0x3dc57974f4f54400],
    [0x3fec3f8f01c3f8f0, 0x3fbfec9132000000, 0xbdc20aa22ae8d733],
    [0x3fec0e070381c0e0, 0x3fc0d77e7d000000, 0xbdd7b8d24cb44743],
    [0x3febdd2b899406f7, 0x3fc1b72ad5000000, 0x3dd7b3d0c0830234],
    [0x3febacf914c1bad0, 0x3fc29552f8000000, 0x3dcff5214c05dc71],
    [0x3feb7d6c3dda338b, 0x3fc371fc20000000, 0x3dce8f7503cd96c5],
    [0x3feb4e81b4e81b4f, 0x3fc44d2b6d000000, 0xbdda4171f4161358],
    [0x3feb2036406c80d9, 0x3fc526e5e3800000, 0x3dd0da1bd57200eb],
    [0x3feaf286bca1af28, 0x3fc5ff3070800000, 0x3dd3c9eae439f105],
    [0x3feac5701ac5701b, 0x3fc6d60fe7000000, 0x3dc9d21b7554765c],
    [0x3fea98ef606a63be, 0x3fc7ab8902000000, 0x3dc0d906bbe36b2d],
    [0x3fea6d01a6d01a6d, 0x3fc87fa065000000, 0x3dd064884c100481],
    [0x3fea41a41a41a41a, 0x3fc9525a9d000000, 0xbdb75294937d9f16],
    [0x3fea16d3f97a4b02, 0x3fca23bc20000000, 0xbdcd4a9eb6c8ee50],
    [0x3fe9ec8e951033d9, 0x3fcaf3c94e800000, 0x3d77fe6d19cc0327],
    [0x3fe9c2d14ee4a102, 0x3fcbc28674000000, 0x3dd6c66a1cfce745],
    [0x3fe999999999999a, 0x3fcc8ff7c7800000, 0x3dca9a1fac25d81f],
    [0x3fe970e4f80cb872, 0x3fcd5c216b800000, 0xbdd822361a37794d],
    [0x3fe948b0fcd6e9e0, 0x3fce27076e000000, 0x3dd57973f4f54400],
    [0x3fe920fb49d0e229, 0x3fcef0adcc000000, 0xbdd1d36542f390d6],
    [0x3fe8f9c18f9c18fa, 0x3fcfb9186d800000, 0xbdd0e0eb59555cca],
    [0x3fe8d3018d3018d3, 0x3fd0402594c00000, 0xbdc65f7e423b085f],
    [0x3fe8acb90f6bf3aa, 0x3fd0a324e2800000, 0xbdc8de3b211810c0],
    [0x3fe886e5f0abb04a, 0x3fd1058bf9c00000, 0xbdd1b52bff605f55],
    [0x3fe8618618618618, 0x3fd1675cabc00000, 0xbdd459f0fc63382b],
    [0x3fe83c977ab2bedd, 0x3fd1c898c1800000, 0xbdd666049839718b],
    [0x3fe8181818181818, 0x3fd22941fbc00000, 0x3dcef2cbc4850a7b],
    [0x3fe7f405fd017f40, 0x3fd2895a13c00000, 0x3dde86a45eb49305],
    [0x3fe7d05f417d05f4, 0x3fd2e8e2bb000000, 0xbddee2cf23d336e5],
    [0x3fe7ad2208e0ecc3, 0x3fd347dd9a800000, 0x3dd87d55ba456750],
    [0x3fe78a4c8178a4c8, 0x3fd3a64c55800000, 0xbdd6ba15f8d0ca33],
    [0x3fe767dce434a9b1, 0x3fd4043086800000, 0x3dba9f8f043049f8],
    [0x3fe745d1745d1746, 0x3fd4618bc2000000, 0x3ddc5ec1fd0b7b38],
    [0x3fe724287f46debc, 0x3fd4be5f95800000, 0xbdc10ebe2966cd6c],
    [0x3fe702e05c0b8170, 0x3fd51aad87400000, 0xbdd207d27636c29f],
    [0x3fe6e1f76b4337c7, 0x3fd5767717400000, 0x3db569af026adb28],
    [0x3fe6c16c16c16c17, 0x3fd5d1bdbf400000, 0x3dd809c9a08d8e0f],
    [0x3fe6a13cd1537290, 0x3fd62c82f2c00000, 0xbdb8e1a842428375],
    [0x3fe6816816816817, 0x3fd686c81e800000, 0x3ddb14ad5c42be10],
    [0x3fe661ec6a5122f9, 0x3fd6e08eaa400000, 0xbdd45e1c6fec6ce7],
    [0x3fe642c8590b2164, 0x3fd739d7f6c00000, 0xbdb0bfe38c76ceb0],
    [0x3fe623fa77016240, 0x3fd792a55fc00000, 0x3ddd47a17c15da48],
    [0x3fe6058160581606, 0x3fd7eaf83b800000, 0x3da57e0fa59d2f3e],
    [0x3fe5e75bb8d015e7, 0x3fd842d1da000000, 0x3dde8b18553b1466],
    [0x3fe5c9882b931057, 0x3fd89a3386c00000, 0x3d9425b25a718811],
    [0x3fe5ac056b015ac0, 0x3fd8f11e87400000, 0xbdc33a6f03d12c55],
    [0x3fe58ed2308158ed, 0x3fd947941c400000, 0xbddee904ddb322ec],
    [0x3fe571ed3c506b3a, 0x3fd99d9581000000, 0x3dd7e089b3a92eec],
    [0x3fe5555555555555, 0x3fd9f323ecc00000, 0xbd79ecc3525ca264],
    [0x3fe5390948f40feb, 0x3fda484091000000, 0xbdda44f680035949],
    [0x3fe51d07eae2f815, 0x3fda9cec9a800000, 0x3dda0849e5484ff5],
    [0x3fe5015015015015, 0x3fdaf12932400000, 0x3dbde1ac54ce1128],
    [0x3fe4e5e0a72f0539, 0x3fdb44f77bc00000, 0x3dc91ec7f97ddb56],
    [0x3fe4cab88725af6e, 0x3fdb985896800000, 0x3dd310fcc18fb150],
    [0x3fe4afd6a052bf5b, 0x3fdbeb4d9dc00000, 0xbdd8e4859079e2c8],
    [0x3fe49539e3b2d067, 0x3fdc3dd7a7c00000, 0x3dcb5a9a5f678297],
    [0x3fe47ae147ae147b, 0x3fdc8ff7c7800000, 0x3dda9a214c25d81f],
    [0x3fe460cbc7f5cf9a, 0x3fdce1af0b800000, 0x3db7cfaf4df4af2b],
    [0x3fe446f86562d9fb, 0x3fdd32fe7e000000, 0x3d8d7aa53bd9197d],
    [0x3fe42d6625d51f87, 0x3fdd83e725800000, 0x3dc45e7c38a2b746],
    [0x3fe4141414141414, 0x3fddd46a04c00000, 0x3d9c4a0fee626a4a],
    [0x3fe3fb013fb013fb, 0x3fde24881a800000, 0xbdac9ecefa1385d3],
    [0x3fe3e22cbce4a902, 0x3fde744261c00000, 0x3dd68789737da36f],
    [0x3fe3c995a47babe7, 0x3fdec399d2400000, 0x3dba3303cd73b950],
    [0x3fe3b13b13b13b14, 0x3fdf128f5fc00000, 0xbdd0f9144ca37c4f],
    [0x3fe3991c2c187f63, 0x3fdf6123fa800000, 0xbdcfaea5d5752787],
    [0x3fe3813813813814, 0x3fdfaf588f800000, 0xbdbc338b1941306c],
    [0x3fe3698df3de0748, 0x3fdffd2e08400000, 0x3dd7f496f597d036],
    [0x3fe3521cfb2b78c1, 0x3fe02552a5a00000, 0x3dc743fc7a71a576],
    [0x3fe33ae45b57bcb2, 0x3fe04bdf9da00000, 0x3dd24da463f98201],
    [0x3fe323e34a2b10bf, 0x3fe0723e5c200000, 0xbdb905f82d434e3b],
    [0x3fe30d190130d190, 0x3fe0986f4f600000, 0xbdd195be4dc04ad6],
    [0x3fe2f684bda12f68, 0x3fe0be72e4200000, 0x3dc4aa0cda625eed],
    [0x3fe2e025c04b8097, 0x3fe0e44985e00000, 0xbddc66e80e2a3443],
    [0x3fe2c9fb4d812ca0, 0x3fe109f39e200000, 0x3dda992cfbc7d936],
    [0x3fe2b404ad012b40, 0x3fe12f7195a00000, 0xbdd8208659fdb9cc],
    [0x3fe29e4129e4129e, 0x3fe154c3d3000000, 0xbdd6542bcce198b9],
    [0x3fe288b01288b013, 0x3fe179eabbe00000, 0xbdcd998038e7c641],
    [0x3fe27350b8812735, 0x3fe19ee6b4600000, 0x3dcf25bb8172f75e],
    [0x3fe25e22708092f1, 0x3fe1c3b81f800000, 0xbddd87b642d60e26],
    [0x3fe2492492492492, 0x3fe1e85f5e800000, 0xbddf7e5e84274cb4],
    [0x3fe23456789abcdf, 0x3fe20cdcd1a00000, 0xbddaa924d55f85e1],
    [0x3fe21fb78121fb78, 0x3fe23130d7c00000, 0xbda40bd5d21c978e],
    [0x3fe20b470c67c0d9, 0x3fe2555bcea00000, 0xbdcc20d667ef1495],
    [0x3fe1f7047dc11f70, 0x3fe2795e12800000, 0x3dd36236d6f07e7b],
    [0x3fe1e2ef3b3fb874, 0x3fe29d37fec00000, 0x3db5845a02e6b65d],
    [0x3fe1cf06ada2811d, 0x3fe2c0e9ed400000, 0x3dc23a2e75ea70c7],
    [0x3fe1bb4a4046ed29, 0x3fe2e47436e00000, 0x3dc009a10950861a],
    [0x3fe1a7b9611a7b96, 0x3fe307d733400000, 0x3dde217c7f6b2144],
    [0x3fe19453808ca29c, 0x3fe32b1339200000, 0xbddbc51d8bf55293],
    [0x3fe1811811811812, 0x3fe34e289da00000, 0xbdb8f16e88a3693c],
    [0x3fe16e0689427379, 0x3fe37117b5400000, 0x3dcd1ed67f740921],
    [0x3fe15b1e5f75270d, 0x3fe393e0d3600000, 0xbdd3abcc9c777b40],
    [0x3fe1485f0e0acd3b, 0x3fe3b6844a000000, 0xbd3ee4738909f3d3],
    [0x3fe135c81135c811, 0x3fe3d9026a800000, 0xbddd5209eff7b386],
    [0x3fe12358e75d3033, 0x3fe3fb5b84e00000, 0xbddd2179bd62c55f],
    [0x3fe1111111111111, 0x3fe41d8fe8400000, 0x3dc9caba1192f30c],
    [0x3fe0fef010fef011, 0x3fe43f9fe3000000, 0xbdc8c6621e361192],
    [0x3fe0ecf56be69c90, 0x3fe4618bc2200000, 0xbdbd09ee17a42642],
    [0x3fe0db20a88f4696, 0x3fe48353d1e00000, 0x3dd511bd5fabd176],
    [0x3fe0c9714fbcda3b, 0x3fe4a4f85dc00000, 0xbddf828aebb08171],
    [0x3fe0b7e6ec259dc8, 0x3fe4c679afc00000, 0x3dd9dc71c2d1d9ba],
    [0x3fe0a6810a6810a7, 0x3fe4e7d811c00000, 0xbdd148a0ae9ecf53],
    [0x3fe0953f39010954, 0x3fe50913cc000000, 0x3da686b33cb3a5b1],
    [0x3fe0842108421084, 0x3fe52a2d26600000, 0xbdc0e9534620dd44],
    [0x3fe073260a47f7c6, 0x3fe54b2467a00000, 0xbdc9ad9e0baaf5d3],
    [0x3fe0624dd2f1a9fc, 0x3fe56bf9d5c00000, 0xbdd818cdddc73bd2],
    [0x3fe05197f7d73404, 0x3fe58cadb5c00000, 0x3ddaf312b125e4bb],
    [0x3fe0410410410410, 0x3fe5ad404c400000, 0xbdd4c1a509acaab4],
    [0x3fe03091b51f5e1a, 0x3fe5cdb1dc600000, 0x3dd82eca51edc78c],
    [0x3fe0204081020408, 0x3fe5ee02a9200000, 0x3dc059d64358257f],
    [0x3fe0101010101010, 0x3fe60e32f4400000, 0x3dce2363a9f22568],
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

    /// Distance in units of the last place between two finite f64 of the same sign.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn agrees_with_the_c_library_within_one_ulp() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2_000_000 {
            let bits = next();
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
