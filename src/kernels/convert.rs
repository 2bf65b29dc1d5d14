//! Conversions between f32 and the 16-bit storage formats, one value at a time by bit
//! manipulation: the portable kernels' conversions and the reference the SIMD conversions
//! (`Simd::load_half`, `Simd::store_half` and the kernel tables' `widen`/`narrow`) are tested
//! against: they must give the same bits for every input.
//!
//! - IEEE binary16 (`f16`): 1 sign, 5 exponent and 10 fraction bits; largest finite 65504.
//! - bfloat16 (`bf16`): the upper half of an f32 (1 sign, 8 exponent, 7 fraction bits).
//!
//! Narrowing rounds to nearest, ties to even, and gives infinity past the largest finite
//! value (f16: from 65520 on). A NaN stays a NaN with its sign, made quiet, keeping the top
//! bits of its payload. Widening is exact; a NaN stays a NaN (f16 ones are made quiet, as the
//! F16C and NEON conversions do; bf16 ones keep their bits, widened by a shift).

/// The 16-bit storage formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Half {
    /// IEEE binary16.
    F16,
    /// bfloat16.
    Bf16,
}

impl Half {
    /// The f32 value of the bits `h` of this format (exact).
    #[inline(always)]
    pub(crate) fn widen(self, h: u16) -> f32 {
        match self {
            Half::F16 => f16_to_f32(h),
            Half::Bf16 => bf16_to_f32(h),
        }
    }

    /// `x` rounded to this format (as the vector conversions round).
    #[inline(always)]
    pub(crate) fn round(self, x: f32) -> u16 {
        match self {
            Half::F16 => f32_to_f16(x),
            Half::Bf16 => f32_to_bf16(x),
        }
    }
}

/// The f32 value of the f16 bits `h`.
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from(h >> 10) & 0x1f;
    let man = u32::from(h & 0x3ff);
    match exp {
        // Zero or subnormal: man * 2^-24, exact in f32.
        0 => f32::from_bits(sign | (man as f32 * f32::from_bits(0x3380_0000)).to_bits()),
        // Infinity, or a NaN made quiet.
        0x1f if man == 0 => f32::from_bits(sign | 0x7f80_0000),
        0x1f => f32::from_bits(sign | 0x7fc0_0000 | (man << 13)),
        _ => f32::from_bits(sign | ((exp + 112) << 23) | (man << 13)),
    }
}

/// The f16 bits nearest to `x` (ties to even).
#[inline(always)]
pub(crate) fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let a = b & 0x7fff_ffff;
    if a > 0x7f80_0000 {
        // NaN: quiet, the top ten payload bits kept.
        return sign | 0x7e00 | ((a >> 13) & 0x3ff) as u16;
    }
    if a >= 0x477f_f000 {
        // 65520 and up (the midpoint above 65504 rounds to the even neighbour, 2^16): inf.
        return sign | 0x7c00;
    }
    if a < 0x3880_0000 {
        // Below 2^-14: a subnormal (or 0). Adding 0.5 puts the f16 subnormal step, 2^-24, at
        // the last bit of the f32 sum, so the addition itself rounds to nearest even; the
        // result's low bits are the f16 bits (1024 is the smallest normal, 0x0400).
        let sum = f32::from_bits(a) + 0.5;
        return sign | (sum.to_bits() - 0x3f00_0000) as u16;
    }
    // Normal: rebias the exponent, then round the 13 dropped bits to nearest even (a carry
    // into the exponent is the correct result).
    let odd = (a >> 13) & 1;
    let r = a.wrapping_sub((127 - 15) << 23) + 0xfff + odd;
    sign | (r >> 13) as u16
}

/// The f32 value of the bf16 bits `h` (exact: the upper half of the f32).
#[inline(always)]
pub(crate) fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// The bf16 bits nearest to `x` (ties to even).
#[inline(always)]
pub(crate) fn f32_to_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if b & 0x7fff_ffff > 0x7f80_0000 {
        // NaN: quiet, sign and the top payload bits kept.
        return ((b >> 16) | 0x0040) as u16;
    }
    (b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// Copies `n < 16` 16-bit values from `src` to `dst` in at most four moves (of 8, 4, 2 and 1
/// values, as `n`'s bits say), with no call to `memcpy`: the SIMD conversions' tails go
/// through a vector-sized buffer with it, since 16-bit elements have no masked loads and
/// stores below AVX-512BW.
///
/// # Safety
/// `src..src + n` must be readable, `dst..dst + n` writable, and the two must not overlap.
/// No alignment is needed.
#[inline(always)]
pub(crate) unsafe fn copy_tail(src: *const u16, dst: *mut u16, n: usize) {
    debug_assert!(n < 16);
    // The moves cover `i..i + k` with `i + k <= n` (`k` runs through the set bits of `n`,
    // largest first): inside both ranges of the contract.
    let mut i = 0;
    if n & 8 != 0 {
        // SAFETY: values `0..8` of `n >= 8`.
        unsafe { copy_block::<8>(src, dst) };
        i = 8;
    }
    if n & 4 != 0 {
        // SAFETY: values `i..i + 4`, `i + 4 <= n` (see above).
        unsafe { copy_block::<4>(src.add(i), dst.add(i)) };
        i += 4;
    }
    if n & 2 != 0 {
        // SAFETY: values `i..i + 2`, `i + 2 <= n`.
        unsafe { copy_block::<2>(src.add(i), dst.add(i)) };
        i += 2;
    }
    if n & 1 != 0 {
        // SAFETY: value `i = n - 1`.
        unsafe { dst.add(i).write_unaligned(src.add(i).read_unaligned()) };
    }
}

/// Copies `K` 16-bit values from `src` to `dst` with one unaligned load and store.
///
/// # Safety
/// `src..src + K` must be readable and `dst..dst + K` writable.
#[inline(always)]
unsafe fn copy_block<const K: usize>(src: *const u16, dst: *mut u16) {
    // SAFETY: the caller's contract; `[u16; K]` is read and written unaligned.
    unsafe {
        dst.cast::<[u16; K]>()
            .write_unaligned(src.cast::<[u16; K]>().read_unaligned())
    }
}

/// `dst[i] = src[i]` as f32 for a format; the slices have one length. The reference of the
/// kernel tables' SIMD `widen` in the tests.
#[cfg(test)]
pub(crate) fn widen(format: Half, src: &[u16], dst: &mut [f32]) {
    debug_assert_eq!(src.len(), dst.len());
    match format {
        Half::F16 => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = f16_to_f32(s)),
        Half::Bf16 => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = bf16_to_f32(s)),
    }
}

/// `dst[i] = src[i]` rounded to a format; the slices have one length. The reference of the
/// kernel tables' SIMD `narrow` in the tests.
#[cfg(test)]
pub(crate) fn narrow(format: Half, src: &[f32], dst: &mut [u16]) {
    debug_assert_eq!(src.len(), dst.len());
    match format {
        Half::F16 => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = f32_to_f16(s)),
        Half::Bf16 => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = f32_to_bf16(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f32 bit patterns around every boundary of both formats, plus a stride through all.
    fn patterns() -> impl Iterator<Item = u32> {
        let edges = [
            0u32,
            1,
            0x0080_0000,
            0x3380_0000,
            0x3300_0000,
            0x3880_0000,
            0x387f_e000,
            0x477f_e000,
            0x477f_f000,
            0x477f_efff,
            0x7f7f_ffff,
            0x7f80_0000,
            0x7f80_0001,
            0x7fc0_0000,
            0x7fff_ffff,
        ];
        let near = edges
            .into_iter()
            .flat_map(|e| (0..64u32).map(move |d| e.wrapping_add(d).wrapping_sub(32)));
        let stride = (0..u32::MAX / 7919).map(|i| i.wrapping_mul(7919));
        near.chain(stride)
            .flat_map(|b| [b & 0x7fff_ffff, b | 0x8000_0000])
    }

    #[test]
    fn widening_is_exact() {
        for h in 0..=u16::MAX {
            let (a, b) = (f16_to_f32(h), half::f16::from_bits(h).to_f32());
            if b.is_nan() {
                assert!(a.is_nan() && a.is_sign_negative() == b.is_sign_negative());
            } else {
                assert_eq!(a.to_bits(), b.to_bits(), "f16 {h:#06x}");
            }
            let (a, b) = (bf16_to_f32(h), half::bf16::from_bits(h).to_f32());
            if b.is_nan() {
                assert!(a.is_nan() && a.to_bits() == u32::from(h) << 16);
            } else {
                assert_eq!(a.to_bits(), b.to_bits(), "bf16 {h:#06x}");
            }
        }
    }

    #[test]
    fn narrowing_rounds_to_nearest_even() {
        for b in patterns() {
            let x = f32::from_bits(b);
            let (h, r) = (f32_to_f16(x), half::f16::from_f32(x).to_bits());
            let (g, s) = (f32_to_bf16(x), half::bf16::from_f32(x).to_bits());
            if x.is_nan() {
                // Quiet NaNs of the input's sign.
                assert_eq!(h & 0xfe00, 0x7e00 | ((b >> 16) as u16 & 0x8000), "{b:#x}");
                assert_eq!(g & 0xffc0, 0x7fc0 | ((b >> 16) as u16 & 0x8000), "{b:#x}");
            } else {
                assert_eq!(h, r, "f16 of {b:#010x}");
                assert_eq!(g, s, "bf16 of {b:#010x}");
            }
        }
    }

    #[test]
    fn round_trips() {
        for h in 0..=u16::MAX {
            if (h & 0x7fff) <= 0x7c00 {
                assert_eq!(f32_to_f16(f16_to_f32(h)), h);
            }
            if (h & 0x7fff) <= 0x7f80 {
                assert_eq!(f32_to_bf16(bf16_to_f32(h)), h);
            }
        }
    }
}
