//! AVX2+FMA kernels: 8 lanes of `__m256`.
//!
//! Tails use `vmaskmovps` loads and stores (no scalar remainder loop); large outputs use
//! `vmovntps` non-temporal stores. f16 rows are converted with F16C (`vcvtph2ps`,
//! `vcvtps2ph`; every AVX2+FMA CPU has it, and detection requires it), bf16 rows with integer
//! shifts and rounding; their tails go through a buffer (no 16-bit masked moves on AVX2).

use core::arch::x86_64::*;

use crate::kernels::convert::{copy_tail, Half};
use crate::kernels::exp::EIGHTHS;
use crate::kernels::simd::{Simd, Token};

/// One AVX register of eight `f32`.
#[derive(Clone, Copy)]
pub(crate) struct Avx2(__m256);

/// Sliding window for tail masks: `MASKS[8 - n..16 - n]` has `n` leading all-ones lanes.
static MASKS: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

/// The lane permutations of [`Simd::compress_store`], one per 8-bit mask: byte `j` of entry
/// `m` is the lane that lands in lane `j` (the `j`-th set bit of `m`), or 8 (bit 3 set) for the
/// lanes past the selected ones.
static COMPRESS: [u64; 256] = compress_table();

const fn compress_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut m = 0;
    while m < 256 {
        let (mut e, mut at, mut l) = (0u64, 0, 0);
        while l < 8 {
            if (m >> l) & 1 != 0 {
                e |= (l as u64) << (8 * at);
                at += 1;
            }
            l += 1;
        }
        while at < 8 {
            e |= 8u64 << (8 * at);
            at += 1;
        }
        t[m] = e;
        m += 1;
    }
    t
}

/// The mask of the first `n < 8` lanes.
///
/// # Safety
/// AVX must be available.
#[inline(always)]
unsafe fn tail_mask(n: usize) -> __m256i {
    debug_assert!(n < 8);
    // SAFETY: `MASKS[8 - n..16 - n]` is inside the table for `n <= 8`; AVX is available (the
    // contract).
    unsafe { _mm256_loadu_si256(MASKS.as_ptr().add(8 - n) as *const __m256i) }
}

/// Lanes 0-3 and 4-7 of `v` in f64 (exact).
///
/// # Safety
/// AVX2 must be available.
#[inline(always)]
unsafe fn widen(v: __m256) -> (__m256d, __m256d) {
    // SAFETY: AVX2 is available (the contract).
    unsafe {
        (
            _mm256_cvtps_pd(_mm256_castps256_ps128(v)),
            _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)),
        )
    }
}

/// The eight 16-bit values of `format` in `h`, widened to f32: F16C's `vcvtph2ps` for f16
/// (exact, a NaN made quiet with its payload, as [`f16_to_f32`](super::convert::f16_to_f32));
/// for bf16, zero-extended to 32 bits and shifted into the upper half.
///
/// # Safety
/// AVX2 and F16C must be available.
#[inline(always)]
unsafe fn half_to_ps(format: Half, h: __m128i) -> __m256 {
    // SAFETY: AVX2 and F16C are available (the contract).
    unsafe {
        match format {
            Half::F16 => _mm256_cvtph_ps(h),
            Half::Bf16 => _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h))),
        }
    }
}

/// The lanes of `v` rounded to `format` (nearest, ties to even), as eight 16-bit values.
///
/// f16: F16C's `vcvtps2ph` with the rounding in the instruction (not MXCSR's); a NaN keeps
/// its sign and top payload bits and is made quiet, as in
/// [`f32_to_f16`](super::convert::f32_to_f16). The result goes through an empty `asm!` so
/// that the compiler cannot fold the store that follows into the instruction: the memory form
/// of `vcvtps2ph` is much slower on AMD cores (Zen 5, 4096 floats in L1, elements/ns: 15.0
/// with the folded store, 36.5 with the register form and a separate store).
///
/// bf16: the integer rounding of [`f32_to_bf16`](super::convert::f32_to_bf16),
/// `b + 0x7fff + odd` with the result in the upper 16 bits, or `b | 0x0040_0000` (quiet,
/// sign and top payload kept) for NaN lanes; `vpshufb` then gathers the upper halves of each
/// 128-bit lane into its low 8 bytes and `vpermq` joins the two. (Shifting right by 16 and
/// packing the 128-bit halves with `vpackusdw` measured 10.5 against 11.6 elements/ns.)
///
/// # Safety
/// AVX2 and F16C must be available.
#[inline(always)]
unsafe fn ps_to_half(format: Half, v: __m256) -> __m128i {
    // SAFETY: AVX2 and F16C are available (the contract); the `asm!` is empty.
    unsafe {
        match format {
            Half::F16 => {
                let mut h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
                core::arch::asm!(
                    "/* {h} stays in a register */",
                    h = inout(xmm_reg) h,
                    options(pure, nomem, nostack, preserves_flags)
                );
                h
            }
            Half::Bf16 => {
                let b = _mm256_castps_si256(v);
                let quiet = _mm256_or_si256(b, _mm256_set1_epi32(0x0040_0000));
                let nan = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(v, v));
                upper_halves(_mm256_blendv_epi8(bf16_rounded(v), quiet, nan))
            }
        }
    }
}

/// [`ps_to_half`] of lanes that hold no NaN.
///
/// # Safety
/// AVX2 and F16C must be available.
#[inline(always)]
unsafe fn ps_to_half_no_nan(format: Half, v: __m256) -> __m128i {
    // SAFETY: AVX2 and F16C are available (the contract).
    unsafe {
        match format {
            Half::F16 => ps_to_half(Half::F16, v),
            Half::Bf16 => upper_halves(bf16_rounded(v)),
        }
    }
}

/// bf16 rounding of lanes without NaN: `b + 0x7fff + odd`, the result in the upper 16 bits
/// of each lane ([`ps_to_half`]'s bf16 path before its NaN fix-up).
///
/// # Safety
/// AVX2 must be available.
#[inline(always)]
unsafe fn bf16_rounded(v: __m256) -> __m256i {
    // SAFETY: AVX2 is available (the contract).
    unsafe {
        let b = _mm256_castps_si256(v);
        let odd = _mm256_and_si256(_mm256_srli_epi32::<16>(b), _mm256_set1_epi32(1));
        let bias = _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff));
        _mm256_add_epi32(b, bias)
    }
}

/// The upper 16 bits of the eight 32-bit lanes of `r`, packed in order.
///
/// # Safety
/// AVX2 must be available.
#[inline(always)]
unsafe fn upper_halves(r: __m256i) -> __m128i {
    // SAFETY: AVX2 is available (the contract).
    unsafe {
        // Bytes 2-3 of each 32-bit lane to the low 8 bytes of its 128-bit lane.
        let upper = _mm256_setr_epi8(
            2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, //
            2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1,
        );
        let r = _mm256_shuffle_epi8(r, upper);
        _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b10_00>(r))
    }
}

// SAFETY: an `Avx2` is only made by the methods below (the field is private to this module),
// each from a token or another `Avx2`, and they use AVX/AVX2/FMA/F16C instructions only (and
// POPCNT in the entry points); a token exists only after `is_x86_feature_detected!("avx2")`,
// `("fma")`, `("f16c")` and `("popcnt")` held (see `available`, or the dispatcher for the
// entry points).
unsafe impl Simd for Avx2 {
    const LANES: usize = 8;
    const EXP_TABLE: bool = true;
    const ONE_LOOP_SUM: bool = false;
    const REGISTERS: usize = 16;

    #[inline]
    fn available() -> bool {
        crate::Isa::Avx2.is_supported()
    }

    #[inline(always)]
    fn splat(_t: Token<Self>, v: f32) -> Self {
        // SAFETY: the token proves AVX2 and FMA.
        unsafe { Avx2(_mm256_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn load(_t: Token<Self>, p: *const f32) -> Self {
        // SAFETY: `p..p + LANES` is readable (the caller's contract); the token proves AVX2 and
        // FMA.
        unsafe { Avx2(_mm256_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load_tail(_t: Token<Self>, p: *const f32, n: usize, fill: f32) -> Self {
        debug_assert!(n < Self::LANES);
        // SAFETY: `p..p + n` is readable (the caller's contract); the token proves AVX2 and FMA.
        unsafe {
            let m = tail_mask(n);
            let v = _mm256_maskload_ps(p, m);
            Avx2(_mm256_blendv_ps(
                _mm256_set1_ps(fill),
                v,
                _mm256_castsi256_ps(m),
            ))
        }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: `p..p + LANES` is writable (the caller's contract); the vector proves AVX2 and
        // FMA.
        unsafe { _mm256_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_tail(self, p: *mut f32, n: usize) {
        debug_assert!(n < Self::LANES);
        // SAFETY: `p..p + n` is writable (the caller's contract); the vector proves AVX2 and FMA.
        unsafe { _mm256_maskstore_ps(p, tail_mask(n), self.0) }
    }
    #[inline(always)]
    unsafe fn load_half(_t: Token<Self>, format: Half, p: *const u16) -> Self {
        // SAFETY: `p..p + LANES` is readable (the caller's contract); the token proves AVX2,
        // FMA and F16C.
        unsafe { Avx2(half_to_ps(format, _mm_loadu_si128(p as *const __m128i))) }
    }
    #[inline(always)]
    unsafe fn load_half_tail(
        _t: Token<Self>,
        format: Half,
        p: *const u16,
        n: usize,
        fill: f32,
    ) -> Self {
        debug_assert!(n < Self::LANES);
        // No 16-bit masked load below AVX-512BW: the `n` values go through a buffer.
        let mut buf = [0u16; 8];
        // SAFETY: `p..p + n` is readable (the caller's contract) and `buf` holds 8 > n values;
        // the token proves AVX2, FMA and F16C.
        unsafe {
            copy_tail(p, buf.as_mut_ptr(), n);
            let v = half_to_ps(format, _mm_loadu_si128(buf.as_ptr() as *const __m128i));
            Avx2(_mm256_blendv_ps(
                _mm256_set1_ps(fill),
                v,
                _mm256_castsi256_ps(tail_mask(n)),
            ))
        }
    }
    #[inline(always)]
    unsafe fn store_half(self, format: Half, p: *mut u16) {
        // SAFETY: `p..p + LANES` is writable (the caller's contract); the vector proves AVX2,
        // FMA and F16C.
        unsafe { _mm_storeu_si128(p as *mut __m128i, ps_to_half(format, self.0)) }
    }
    #[inline(always)]
    unsafe fn store_half_no_nan(self, format: Half, p: *mut u16) {
        debug_assert!(!super::simd::has_nan(self));
        // SAFETY: `p..p + LANES` is writable (the caller's contract); the vector proves AVX2,
        // FMA and F16C.
        unsafe { _mm_storeu_si128(p as *mut __m128i, ps_to_half_no_nan(format, self.0)) }
    }
    #[inline(always)]
    unsafe fn stream_half_no_nan(self, format: Half, p: *mut u16) {
        debug_assert!(!super::simd::has_nan(self));
        debug_assert!((p as usize).is_multiple_of(Self::LANES * 2));
        // SAFETY: `p..p + LANES` is writable and 16-byte aligned (the caller's contract); the
        // vector proves AVX2, FMA and F16C.
        unsafe { _mm_stream_si128(p as *mut __m128i, ps_to_half_no_nan(format, self.0)) }
    }
    #[inline(always)]
    unsafe fn stream_half(self, format: Half, p: *mut u16) {
        debug_assert!((p as usize).is_multiple_of(Self::LANES * 2));
        // SAFETY: `p..p + LANES` is writable and 16-byte aligned (the caller's contract); the
        // vector proves AVX2, FMA and F16C.
        unsafe { _mm_stream_si128(p as *mut __m128i, ps_to_half(format, self.0)) }
    }
    #[inline(always)]
    unsafe fn store_half_tail(self, format: Half, p: *mut u16, n: usize) {
        debug_assert!(n < Self::LANES);
        let mut buf = [0u16; 8];
        // SAFETY: `p..p + n` is writable (the caller's contract) and `buf` holds 8 > n values;
        // the vector proves AVX2, FMA and F16C.
        unsafe {
            _mm_storeu_si128(buf.as_mut_ptr() as *mut __m128i, ps_to_half(format, self.0));
            copy_tail(buf.as_ptr(), p, n);
        }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32) {
        debug_assert!((p as usize).is_multiple_of(Self::LANES * 4));
        // SAFETY: `p..p + LANES` is writable and aligned (the caller's contract); the vector proves
        // AVX2 and FMA.
        unsafe { _mm256_stream_ps(p, self.0) }
    }
    #[inline(always)]
    fn stream_fence(_t: Token<Self>) {
        // SAFETY: the token proves AVX2 and FMA.
        unsafe { _mm_sfence() }
    }
    #[inline(always)]
    fn prefetch(_t: Token<Self>, p: *const f32) {
        // SAFETY: the token proves AVX2 and FMA.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { Avx2(_mm256_add_ps(self.0, b.0)) }
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { Avx2(_mm256_sub_ps(self.0, b.0)) }
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { Avx2(_mm256_mul_ps(self.0, b.0)) }
    }
    #[inline(always)]
    fn fma(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { Avx2(_mm256_fmadd_ps(a.0, b.0, c.0)) }
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { Avx2(_mm256_div_ps(self.0, b.0)) }
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let off = _mm256_set1_epi32(0x3f35_04f3);
            let ix = _mm256_sub_epi32(_mm256_castps_si256(self.0), off);
            let e = _mm256_srai_epi32::<23>(ix);
            let m = _mm256_add_epi32(_mm256_and_si256(ix, _mm256_set1_epi32(0x007f_ffff)), off);
            (Avx2(_mm256_castsi256_ps(m)), Avx2(_mm256_cvtepi32_ps(e)))
        }
    }
    #[inline(always)]
    fn max(a: Self, b: Self) -> Self {
        // vmaxps returns its second operand when either is NaN.
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { Avx2(_mm256_max_ps(a.0, b.0)) }
    }
    #[inline(always)]
    fn min(a: Self, b: Self) -> Self {
        // vminps returns its second operand when either is NaN.
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { Avx2(_mm256_min_ps(a.0, b.0)) }
    }
    #[inline(always)]
    fn pow2_from_magic(t: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            Avx2(_mm256_castsi256_ps(_mm256_slli_epi32::<23>(
                _mm256_castps_si256(t.0),
            )))
        }
    }
    #[inline(always)]
    fn pow2_eighths(t: Self) -> Self {
        // vpermps picks by the low three bits of each index lane: the low bits of `t`.
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let table = _mm256_loadu_ps(EIGHTHS.as_ptr() as *const f32);
            let entry = _mm256_permutevar8x32_ps(table, _mm256_castps_si256(t.0));
            let e = _mm256_slli_epi32::<20>(_mm256_castps_si256(t.0));
            Avx2(_mm256_castsi256_ps(_mm256_add_epi32(
                _mm256_castps_si256(entry),
                e,
            )))
        }
    }
    #[inline(always)]
    fn pick_ge(x: Self, lo: Self, a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            Avx2(_mm256_blendv_ps(
                b.0,
                a.0,
                _mm256_cmp_ps::<_CMP_GE_OQ>(x.0, lo.0),
            ))
        }
    }
    #[inline(always)]
    fn add_ge(self, e: Self, x: Self, lo: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let ge = _mm256_cmp_ps::<_CMP_GE_OQ>(x.0, lo.0);
            Avx2(_mm256_add_ps(self.0, _mm256_and_ps(ge, e.0)))
        }
    }
    #[inline(always)]
    fn zero_below(v: Self, x: Self, lo: Self) -> Self {
        // Ordered compare: false for NaN, which keeps the lane.
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            Avx2(_mm256_andnot_ps(
                _mm256_cmp_ps::<_CMP_LT_OQ>(x.0, lo.0),
                v.0,
            ))
        }
    }
    #[inline(always)]
    fn any_gt(a: Self, b: Self) -> bool {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(a.0, b.0)) != 0 }
    }
    #[inline(always)]
    fn order_key(self, low: u32, tag: u32) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let b = _mm256_castps_si256(self.0);
            // Negative values: `i32::MIN - bits`, the magnitude negated (`-0.0` gives 0).
            let neg = _mm256_sub_epi32(_mm256_set1_epi32(i32::MIN), b);
            let o = _mm256_castps_si256(_mm256_blendv_ps(self.0, _mm256_castsi256_ps(neg), self.0));
            let k = _mm256_or_si256(
                _mm256_andnot_si256(_mm256_set1_epi32(low as i32), o),
                _mm256_set1_epi32((tag & low) as i32),
            );
            Avx2(_mm256_castsi256_ps(k))
        }
    }
    #[inline(always)]
    fn key_max(a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let (a, b) = (_mm256_castps_si256(a.0), _mm256_castps_si256(b.0));
            Avx2(_mm256_castsi256_ps(_mm256_max_epi32(a, b)))
        }
    }
    #[inline(always)]
    fn key_min(a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let (a, b) = (_mm256_castps_si256(a.0), _mm256_castps_si256(b.0));
            Avx2(_mm256_castsi256_ps(_mm256_min_epi32(a, b)))
        }
    }
    #[inline(always)]
    fn or_bits(a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { Avx2(_mm256_or_ps(a.0, b.0)) }
    }
    #[inline(always)]
    fn masked_xor(self, x: u32, mask: u32) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let b = _mm256_castps_si256(self.0);
            let v = _mm256_xor_si256(b, _mm256_set1_epi32(x as i32));
            Avx2(_mm256_castsi256_ps(_mm256_and_si256(
                v,
                _mm256_set1_epi32(mask as i32),
            )))
        }
    }
    #[inline(always)]
    fn bits_eq_mask(a: Self, b: Self, ignore: u32) -> u32 {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let d = _mm256_xor_si256(_mm256_castps_si256(a.0), _mm256_castps_si256(b.0));
            let d = _mm256_andnot_si256(_mm256_set1_epi32(ignore as i32), d);
            let eq = _mm256_cmpeq_epi32(d, _mm256_setzero_si256());
            _mm256_movemask_ps(_mm256_castsi256_ps(eq)) as u32
        }
    }
    #[inline(always)]
    unsafe fn gather_lanes(_t: Token<Self>, p: *const f32, at: Self) -> Self {
        // SAFETY: the token proves AVX2; the caller guarantees every element is readable.
        unsafe {
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let i = _mm256_add_epi32(_mm256_slli_epi32::<3>(_mm256_castps_si256(at.0)), lane);
            Avx2(_mm256_i32gather_ps::<4>(p, i))
        }
    }
    #[inline(always)]
    fn gt_mask(a: Self, b: Self) -> u32 {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(a.0, b.0)) as u32 }
    }
    #[inline(always)]
    fn below_or(a: Self, bound: Self, fill: Self) -> Self {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let lt = _mm256_cmp_ps::<_CMP_LT_OQ>(a.0, bound.0);
            Avx2(_mm256_blendv_ps(fill.0, a.0, lt))
        }
    }
    #[inline(always)]
    fn first(self) -> f32 {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { _mm256_cvtss_f32(self.0) }
    }
    #[inline(always)]
    unsafe fn compress_store(self, mask: u32, fill: f32, p: *mut f32) {
        debug_assert!(mask < 256);
        // SAFETY: the vector arguments prove AVX2; `COMPRESS` has an entry for every 8-bit
        // mask; `p` is writable for 8 elements (the contract).
        unsafe {
            let idx =
                _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(COMPRESS[(mask & 0xff) as usize] as i64));
            let moved = _mm256_permutevar8x32_ps(self.0, idx);
            // Bit 3 of an index marks a lane past the selected ones: moved to the sign bit.
            let past = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(idx));
            _mm256_storeu_ps(p, _mm256_blendv_ps(moved, _mm256_set1_ps(fill), past))
        }
    }
    #[inline(always)]
    fn zip(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: the vector arguments prove AVX2.
        unsafe {
            // Pairs of lanes 0, 1 | 4, 5 and 2, 3 | 6, 7; then the 128-bit halves regrouped.
            let (l, h) = (_mm256_unpacklo_ps(a.0, b.0), _mm256_unpackhi_ps(a.0, b.0));
            (
                Avx2(_mm256_permute2f128_ps::<0x20>(l, h)),
                Avx2(_mm256_permute2f128_ps::<0x31>(l, h)),
            )
        }
    }
    #[inline(always)]
    fn transpose(v: &mut [Self; 16]) {
        // Rows interleaved by lanes, then by lane pairs, which leaves half `q` of `u[4i + j]`
        // holding column `4q + j` of rows `4i..4i + 4`; then the halves are paired.
        // SAFETY: the vector arguments prove AVX2.
        unsafe {
            let mut t = [_mm256_setzero_ps(); 8];
            for i in 0..4 {
                t[2 * i] = _mm256_unpacklo_ps(v[2 * i].0, v[2 * i + 1].0);
                t[2 * i + 1] = _mm256_unpackhi_ps(v[2 * i].0, v[2 * i + 1].0);
            }
            let pd = _mm256_castps_pd;
            let mut u = [_mm256_setzero_ps(); 8];
            for i in 0..2 {
                let (a, b, c, d) = (t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]);
                u[4 * i] = _mm256_castpd_ps(_mm256_unpacklo_pd(pd(a), pd(c)));
                u[4 * i + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(pd(a), pd(c)));
                u[4 * i + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(pd(b), pd(d)));
                u[4 * i + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(pd(b), pd(d)));
            }
            for j in 0..4 {
                v[j] = Avx2(_mm256_permute2f128_ps::<0x20>(u[j], u[4 + j]));
                v[4 + j] = Avx2(_mm256_permute2f128_ps::<0x31>(u[j], u[4 + j]));
            }
        }
    }
    #[inline(always)]
    fn to_array(self, out: &mut [f32; 16]) {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), self.0) }
    }

    /// Lanes 0-3 and 4-7.
    type Wide = [__m256d; 2];
    #[inline(always)]
    fn wide_zero(_t: Token<Self>) -> [__m256d; 2] {
        // SAFETY: the token proves AVX2 and FMA.
        unsafe { [_mm256_setzero_pd(); 2] }
    }
    #[inline(always)]
    fn wide_add(self, acc: [__m256d; 2]) -> [__m256d; 2] {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let (lo, hi) = widen(self.0);
            [_mm256_add_pd(acc[0], lo), _mm256_add_pd(acc[1], hi)]
        }
    }
    #[inline(always)]
    fn wide_sum(a: [__m256d; 2], b: [__m256d; 2]) -> [__m256d; 2] {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe { [_mm256_add_pd(a[0], b[0]), _mm256_add_pd(a[1], b[1])] }
    }
    #[inline(always)]
    fn wide_mul_add(a: Self, b: Self, acc: [__m256d; 2]) -> [__m256d; 2] {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let ((alo, ahi), (blo, bhi)) = (widen(a.0), widen(b.0));
            [
                _mm256_fmadd_pd(alo, blo, acc[0]),
                _mm256_fmadd_pd(ahi, bhi, acc[1]),
            ]
        }
    }
    #[inline(always)]
    fn wide_scale(w: [__m256d; 2], f: &[f64; 16]) -> [__m256d; 2] {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            [
                _mm256_mul_pd(w[0], _mm256_loadu_pd(f.as_ptr())),
                _mm256_mul_pd(w[1], _mm256_loadu_pd(f.as_ptr().add(4))),
            ]
        }
    }
    #[inline(always)]
    fn wide_to_array(w: [__m256d; 2], out: &mut [f64; 16]) {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            _mm256_storeu_pd(out.as_mut_ptr(), w[0]);
            _mm256_storeu_pd(out.as_mut_ptr().add(4), w[1]);
        }
    }
    #[inline(always)]
    fn max_all(self) -> Self {
        // Swap the 128-bit halves, then pairs, then neighbours: every lane sees all eight.
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let m = _mm256_max_ps(self.0, _mm256_permute2f128_ps::<1>(self.0, self.0));
            let m = _mm256_max_ps(m, _mm256_shuffle_ps::<0b01_00_11_10>(m, m));
            Avx2(_mm256_max_ps(m, _mm256_shuffle_ps::<0b10_11_00_01>(m, m)))
        }
    }
    #[inline(always)]
    fn reduce_max(self) -> f32 {
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let m = _mm_max_ps(
                _mm256_castps256_ps128(self.0),
                _mm256_extractf128_ps::<1>(self.0),
            );
            let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
            let m = _mm_max_ss(m, _mm_movehdup_ps(m));
            _mm_cvtss_f32(m)
        }
    }
    #[inline(always)]
    fn reduce_add(self) -> f64 {
        // Widen to f64 first so the horizontal sum adds no f32 rounding.
        // SAFETY: the vector arguments prove AVX2 and FMA.
        unsafe {
            let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(self.0));
            let hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(self.0));
            let s = _mm256_add_pd(lo, hi);
            let s = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd::<1>(s));
            _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)))
        }
    }
}

// Three vectors (24 floats) per iteration. Sweep on Zen 4 (AVX2 kernels, one run each,
// elements/ns at 4096 floats; three-pass reload | log-sum-exp):
//   U=2: 3.01 | 4.23   U=3: 3.22 | 4.40   U=4: 3.08 | 4.33   U=6: 3.06 | 4.20   U=8: 3.07 | 4.20
// (a second run: 3.10 | 4.22, 3.19 | 4.40, 3.03 | 4.15, 2.99 | 4.18, 2.92 | 4.20). More
// vectors per iteration spill the exp constants from AVX2's 16 registers; fewer leave the
// FMA latency exposed. At 16M floats the differences are within the noise.
crate::kernels::kernel_table!(
    crate::Isa::Avx2,
    Avx2,
    3,
    #[target_feature(enable = "avx2,fma,f16c,popcnt")]
);

/// This ISA's kernel table.
pub(crate) static KERNELS: crate::kernels::Kernels = TABLE;
