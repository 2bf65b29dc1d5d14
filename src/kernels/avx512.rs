//! AVX-512F kernels: 16 lanes of `__m512`.
//!
//! Tails use `k`-masked loads and stores (masked-off lanes never touch memory, so they cannot
//! fault); large outputs use `vmovntps` non-temporal stores; the "any lane greater" test of the
//! two-pass sum is one mask compare. Only AVX-512F instructions are used (plus the
//! AVX2/FMA/F16C/SSE instructions that `avx512f` implies), so any AVX-512 CPU runs these
//! kernels. f16 rows are converted with `vcvtph2ps`/`vcvtps2ph`, bf16 rows with integer
//! shifts and rounding (or with `vcvtneps2bf16` and `vcvtne2ps2bf16` in the second table,
//! [`KERNELS_BF16`], whose bf16-writing entry points also use AVX-512 BF16, BW and DQ);
//! 16-bit tails are read through a buffer (16-bit masked loads need AVX-512BW) and written
//! with a masked `vpmovdw`.

use core::arch::x86_64::*;

use crate::kernels::convert::{copy_tail, Half};
use crate::kernels::exp::EIGHTHS;
use crate::kernels::simd::{Simd, Token};

/// [`EIGHTHS`] twice: the sixteen-entry table `vpermps` indexes with four bits.
static EIGHTHS_TWICE: [u32; 16] = {
    let mut t = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        t[i] = EIGHTHS[i % 8];
        i += 1;
    }
    t
};

/// One AVX-512 register of sixteen `f32`. `BF16` marks the vectors of the kernel table built
/// for CPUs with AVX-512 BF16 (and BW and DQ): they narrow to bf16 with `vcvtneps2bf16`, and
/// two vectors at once with `vcvtne2ps2bf16` (see [`ps_to_bf16`] and [`store_bf16_pair`]);
/// everything else is the same.
#[derive(Clone, Copy)]
pub(crate) struct Avx512<const BF16: bool = false>(__m512);

/// The mask of the first `n < 16` lanes.
#[inline(always)]
fn tail_mask(n: usize) -> __mmask16 {
    debug_assert!(n < 16);
    ((1u32 << n) - 1) as __mmask16
}

/// Lanes 0-7 and 8-15 of `v` in f64 (exact).
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
unsafe fn widen(v: __m512) -> (__m512d, __m512d) {
    // SAFETY: AVX-512F is available (the contract).
    unsafe {
        (
            _mm512_cvtps_pd(_mm512_castps512_ps256(v)),
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(v),
            ))),
        )
    }
}

/// The sixteen 16-bit values of `format` in `h`, widened to f32: `vcvtph2ps` for f16 (exact,
/// a NaN made quiet with its payload, as [`f16_to_f32`](super::convert::f16_to_f32)); for
/// bf16, zero-extended to 32 bits and shifted into the upper half.
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
unsafe fn half_to_ps(format: Half, h: __m256i) -> __m512 {
    // SAFETY: AVX-512F is available (the contract).
    unsafe {
        match format {
            Half::F16 => _mm512_cvtph_ps(h),
            Half::Bf16 => _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h))),
        }
    }
}

/// The lanes of `v` rounded to f16 (nearest, ties to even): `vcvtps2ph` with the rounding in
/// the instruction (not MXCSR's); a NaN keeps its sign and top payload bits and is made
/// quiet, as in [`f32_to_f16`](super::convert::f32_to_f16).
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
unsafe fn ps_to_f16(v: __m512) -> __m256i {
    // SAFETY: AVX-512F is available (the contract).
    unsafe { _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v) }
}

/// The lanes of `v` rounded to bf16 (nearest, ties to even), one per 32-bit lane (the upper
/// halves zero): the integer rounding of [`f32_to_bf16`](super::convert::f32_to_bf16),
/// `(b + 0x7fff + odd) >> 16`, and `(b >> 16) | 0x40` for NaN lanes.
///
/// AVX-512 BF16's `vcvtneps2bf16` rounds in one instruction, but it flushes subnormal inputs
/// to zero, so the same bits need the integer path for vectors with a subnormal lane
/// ([`ps_to_bf16_native`]). Which is faster depends on the CPU. Zen 5 (hand-written loops over
/// 4096 floats in L1, elements/ns): this integer path 27.8, `vcvtneps2bf16` with the fix-up
/// behind a branch on "any subnormal lane" 23.0-25.2, with the fix-up always blended in
/// 17.3-19.9. An Intel Xeon (family 6 model 207; a multiply and a narrowing store per 16
/// floats, C, three rounds): this integer path 8.6-9.0, `vcvtneps2bf16` with an `fpclass`
/// test and a branch 11.7-12.9, f16's `vcvtps2ph` 20-27. So `Avx512<true>` (the table
/// dispatch picks on non-AMD CPUs with AVX-512 BF16, see
/// [`native_bf16_narrowing`](crate::tuning::native_bf16_narrowing)) uses the instruction, and
/// `Avx512<false>` this integer path.
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
unsafe fn ps_to_bf16(v: __m512) -> __m512i {
    // SAFETY: AVX-512F is available (the contract).
    unsafe {
        let hi = _mm512_srli_epi32::<16>(_mm512_castps_si512(v));
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        _mm512_mask_or_epi32(ps_to_bf16_no_nan(v), nan, hi, _mm512_set1_epi32(0x40))
    }
}

/// [`ps_to_bf16`] for lanes that hold no NaN (the NaN fix-up left out: 5 instructions
/// instead of 7).
///
/// # Safety
/// AVX-512F must be available.
#[inline(always)]
unsafe fn ps_to_bf16_no_nan(v: __m512) -> __m512i {
    // SAFETY: AVX-512F is available (the contract).
    unsafe {
        let b = _mm512_castps_si512(v);
        let odd = _mm512_and_si512(_mm512_srli_epi32::<16>(b), _mm512_set1_epi32(1));
        let bias = _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff));
        _mm512_srli_epi32::<16>(_mm512_add_epi32(b, bias))
    }
}

/// The 16 lanes of `v` narrowed to `format`, packed into 256 bits (what the full-vector 16-bit
/// stores write).
///
/// # Safety
/// AVX-512F must be available, and with `BF16` AVX-512 BF16 and DQ.
#[inline(always)]
unsafe fn ps_to_half<const BF16: bool>(format: Half, v: __m512) -> __m256i {
    // SAFETY: AVX-512F is available (the contract), and AVX-512 BF16 and DQ with `BF16`.
    unsafe {
        match format {
            Half::F16 => ps_to_f16(v),
            Half::Bf16 if BF16 => ps_to_bf16_native::<true>(v),
            Half::Bf16 => _mm512_cvtepi32_epi16(ps_to_bf16(v)),
        }
    }
}

/// [`ps_to_half`] of lanes that hold no NaN.
///
/// # Safety
/// AVX-512F must be available, and with `BF16` AVX-512 BF16 and DQ.
#[inline(always)]
unsafe fn ps_to_half_no_nan<const BF16: bool>(format: Half, v: __m512) -> __m256i {
    // SAFETY: AVX-512F is available (the contract), and AVX-512 BF16 and DQ with `BF16`.
    unsafe {
        match format {
            Half::F16 => ps_to_f16(v),
            Half::Bf16 if BF16 => ps_to_bf16_native::<false>(v),
            Half::Bf16 => _mm512_cvtepi32_epi16(ps_to_bf16_no_nan(v)),
        }
    }
}

/// The lanes of `v` rounded to bf16 with AVX-512 BF16's `vcvtneps2bf16`: the same bits as
/// [`ps_to_bf16`] (`NAN`) or [`ps_to_bf16_no_nan`] give. The instruction rounds to nearest
/// even and makes a NaN quiet as they do (`(b >> 16) | 0x40`), but flushes subnormal inputs
/// to zero, so a vector with a subnormal lane (one `vfpclassps`, AVX-512DQ) takes the integer
/// rounding instead.
///
/// # Safety
/// AVX-512F, AVX-512DQ and AVX-512 BF16 must be available.
#[inline(always)]
unsafe fn ps_to_bf16_native<const NAN: bool>(v: __m512) -> __m256i {
    // SAFETY: the three extensions are available (the contract).
    unsafe {
        // Class bit 5: denormal, of either sign.
        if _mm512_fpclass_ps_mask::<0x20>(v) == 0 {
            std::mem::transmute::<__m256bh, __m256i>(_mm512_cvtneps_pbh(v))
        } else if NAN {
            _mm512_cvtepi32_epi16(ps_to_bf16(v))
        } else {
            _mm512_cvtepi32_epi16(ps_to_bf16_no_nan(v))
        }
    }
}

/// `a` then `b` rounded to bf16 and stored to `p..p + 32`: [`ps_to_bf16_native`]'s bits
/// for both, with one `vcvtne2ps2bf16` for the pair where no result is a zero. A subnormal
/// input, which the instruction flushes, always gives a zero there; a pair with a zero
/// (rare outside rows of exact zeros) takes the test for subnormal lanes vector by vector.
/// Intel Xeon (family 6 model 207; a multiply and a narrowing store per 16 floats over 4096
/// in L1, C, five rounds, elements/ns): one vector at a time with the test 11.6-14.8, in
/// pairs 20.2-22.2, f16's `vcvtps2ph` 18.6-30.1.
///
/// # Safety
/// AVX-512F, AVX-512BW, AVX-512DQ and AVX-512 BF16 must be available, and `p..p + 32`
/// writable.
#[inline(always)]
unsafe fn store_bf16_pair<const NAN: bool>(a: __m512, b: __m512, p: *mut u16) {
    // SAFETY: the extensions are available and `p..p + 32` writable (the contract).
    unsafe {
        // Lanes 0-15 from `a`, 16-31 from `b`.
        let both = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(b, a));
        if !any_zero_bf16(both) {
            _mm512_storeu_si512(p.cast(), both);
        } else {
            _mm256_storeu_si256(p.cast(), ps_to_bf16_native::<NAN>(a));
            _mm256_storeu_si256(p.add(16).cast(), ps_to_bf16_native::<NAN>(b));
        }
    }
}

/// Whether any of the 32 bf16 values of `v` is a zero of either sign: one `vptestnmw`.
///
/// Written as inline assembly: with the intrinsic, LLVM saw that `v` came from bf16 values,
/// turned "no bit but the sign set" into a floating-point compare with zero, and, having no
/// bf16 compare, did it one value at a time (the bf16 kernels ran 8-10 times slower).
///
/// # Safety
/// AVX-512F and AVX-512BW must be available.
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn any_zero_bf16(v: __m512i) -> bool {
    let zeros: u32;
    // SAFETY: AVX-512BW is available (the contract); the instruction reads only registers.
    unsafe {
        core::arch::asm!(
            "vptestnmw {k}, {v}, {c}",
            k = out(kreg) zeros,
            v = in(zmm_reg) v,
            c = in(zmm_reg) _mm512_set1_epi16(0x7fff),
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    zeros != 0
}

/// Whether this CPU has the extensions `Avx512<true>` uses beyond AVX-512F: AVX-512 BF16
/// (`vcvtneps2bf16`, `vcvtne2ps2bf16`), AVX-512DQ (`vfpclassps`) and AVX-512BW
/// (`vptestnmw`).
pub(crate) fn bf16_supported() -> bool {
    std::arch::is_x86_feature_detected!("avx512bf16")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

impl<const BF16: bool> Avx512<BF16> {
    /// [`Simd::store_half2`] (`NAN`) or [`Simd::store_half2_no_nan`]: one `vcvtne2ps2bf16`
    /// for the pair where [`Simd::pairs_half`] says so, else each vector's own store.
    ///
    /// # Safety
    /// `p..p + 32` must be writable.
    #[inline(always)]
    unsafe fn store_pair<const NAN: bool>(self, next: Self, format: Half, p: *mut u16) {
        debug_assert!(NAN || !(super::simd::has_nan(self) || super::simd::has_nan(next)));
        // SAFETY: `p..p + 32` is writable (the caller's contract); the vectors prove
        // AVX-512F, and `pairs_half` only holds for `BF16`, whose vectors prove AVX-512 BF16,
        // BW and DQ.
        unsafe {
            if Self::pairs_half(format) {
                store_bf16_pair::<NAN>(self.0, next.0, p);
            } else if NAN {
                self.store_half(format, p);
                next.store_half(format, p.add(16));
            } else {
                self.store_half_no_nan(format, p);
                next.store_half_no_nan(format, p.add(16));
            }
        }
    }
}

// SAFETY: an `Avx512` is only made by the methods below (the field is private to this
// module), each from a token or another `Avx512`, and they use AVX-512F instructions only (and
// the SSE/AVX2/FMA/F16C ones `avx512f` implies); a token exists only after
// `is_x86_feature_detected!("avx512f")` (which includes the OS's support for the zmm and mask
// state), `("avx2")`, `("fma")`, `("f16c")` and `("popcnt")` held, and for `Avx512<true>` also
// `("avx512bf16")`, `("avx512dq")` and `("avx512bw")`, whose instructions only those vectors use.
unsafe impl<const BF16: bool> Simd for Avx512<BF16> {
    const LANES: usize = 16;
    const EXP_TABLE: bool = true;
    const ONE_LOOP_SUM: bool = true;
    /// Zen 4, one `logsumexp_rows` call on one row, ns per call (the one loop -> the blocks,
    /// two alternating runs): 256 elements 80-81 -> 62-63, 512 117 -> 107 and 133, 600 and
    /// 1000 unchanged; batches of medium rows (1024 x 256 and x 512) within 1-3% either way
    /// (log-sum-exp and log-softmax); batches of 768 and 1000 through the blocks 13-15% slower
    /// (so never past `MEDIUM_VECS` vectors).
    const ONE_LOOP_MIN: usize = 256;
    const REGISTERS: usize = 32;

    #[inline]
    fn available() -> bool {
        crate::Isa::Avx512.is_supported() && (!BF16 || bf16_supported())
    }

    #[inline(always)]
    fn splat(_t: Token<Self>, v: f32) -> Self {
        // SAFETY: the token proves AVX-512F.
        unsafe { Avx512(_mm512_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn load(_t: Token<Self>, p: *const f32) -> Self {
        // SAFETY: `p..p + LANES` is readable (the caller's contract); the token proves AVX-512F.
        unsafe { Avx512(_mm512_loadu_ps(p)) }
    }
    #[inline(always)]
    unsafe fn load_tail(_t: Token<Self>, p: *const f32, n: usize, fill: f32) -> Self {
        debug_assert!(n < Self::LANES);
        // Masked-off lanes take `fill` and are not read (no fault past `p + n`).
        // SAFETY: `p..p + n` is readable (the caller's contract); the token proves AVX-512F.
        unsafe { Avx512(_mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(n), p)) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: `p..p + LANES` is writable (the caller's contract); the vector proves AVX-512F.
        unsafe { _mm512_storeu_ps(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_tail(self, p: *mut f32, n: usize) {
        debug_assert!(n < Self::LANES);
        // SAFETY: `p..p + n` is writable (the caller's contract); the vector proves AVX-512F.
        unsafe { _mm512_mask_storeu_ps(p, tail_mask(n), self.0) }
    }
    #[inline(always)]
    unsafe fn load_half(_t: Token<Self>, format: Half, p: *const u16) -> Self {
        // SAFETY: `p..p + LANES` is readable (the caller's contract); the token proves AVX-512F.
        unsafe { Avx512(half_to_ps(format, _mm256_loadu_si256(p as *const __m256i))) }
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
        // 16-bit masked loads need AVX-512BW: the `n` values go through a buffer.
        let mut buf = [0u16; 16];
        // SAFETY: `p..p + n` is readable (the caller's contract) and `buf` holds 16 > n
        // values; the token proves AVX-512F.
        unsafe {
            copy_tail(p, buf.as_mut_ptr(), n);
            let v = half_to_ps(format, _mm256_loadu_si256(buf.as_ptr() as *const __m256i));
            Avx512(_mm512_mask_mov_ps(_mm512_set1_ps(fill), tail_mask(n), v))
        }
    }
    #[inline(always)]
    unsafe fn store_half(self, format: Half, p: *mut u16) {
        // SAFETY: `p..p + LANES` is writable (the caller's contract); the vector proves
        // AVX-512F.
        unsafe { _mm256_storeu_si256(p as *mut __m256i, ps_to_half::<BF16>(format, self.0)) }
    }
    #[inline(always)]
    unsafe fn store_half_no_nan(self, format: Half, p: *mut u16) {
        debug_assert!(!super::simd::has_nan(self));
        // SAFETY: `p..p + LANES` is writable (the caller's contract); the vector proves
        // AVX-512F.
        unsafe { _mm256_storeu_si256(p as *mut __m256i, ps_to_half_no_nan::<BF16>(format, self.0)) }
    }
    #[inline(always)]
    unsafe fn stream_half_no_nan(self, format: Half, p: *mut u16) {
        debug_assert!(!super::simd::has_nan(self));
        debug_assert!((p as usize).is_multiple_of(Self::LANES * 2));
        // SAFETY: `p..p + LANES` is writable and 32-byte aligned (the caller's contract); the
        // vector proves AVX-512F.
        unsafe { _mm256_stream_si256(p as *mut __m256i, ps_to_half_no_nan::<BF16>(format, self.0)) }
    }
    #[inline(always)]
    fn pairs_half(format: Half) -> bool {
        BF16 && format == Half::Bf16
    }
    #[inline(always)]
    unsafe fn store_half2(self, next: Self, format: Half, p: *mut u16) {
        // SAFETY: the caller's contract.
        unsafe { self.store_pair::<true>(next, format, p) }
    }
    #[inline(always)]
    unsafe fn store_half2_no_nan(self, next: Self, format: Half, p: *mut u16) {
        // SAFETY: the caller's contract.
        unsafe { self.store_pair::<false>(next, format, p) }
    }
    #[inline(always)]
    unsafe fn store_half_tail(self, format: Half, p: *mut u16, n: usize) {
        debug_assert!(n < Self::LANES);
        // `vpmovdw` with a mask stores the low halves of the first `n` 32-bit lanes only
        // (masked-off lanes never touch memory).
        // SAFETY: `p..p + n` is writable (the caller's contract); the vector proves AVX-512F.
        unsafe {
            let w = match format {
                Half::F16 => _mm512_cvtepu16_epi32(ps_to_f16(self.0)),
                Half::Bf16 => ps_to_bf16(self.0),
            };
            _mm512_mask_cvtepi32_storeu_epi16(p as *mut i16, tail_mask(n), w)
        }
    }
    #[inline(always)]
    unsafe fn stream_half(self, format: Half, p: *mut u16) {
        debug_assert!((p as usize).is_multiple_of(Self::LANES * 2));
        // SAFETY: `p..p + LANES` is writable and 32-byte aligned (the caller's contract); the
        // vector proves AVX-512F.
        unsafe { _mm256_stream_si256(p as *mut __m256i, ps_to_half::<BF16>(format, self.0)) }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32) {
        debug_assert!((p as usize).is_multiple_of(Self::LANES * 4));
        // `p` is 64-byte aligned: the generic code aligns `y` to `LANES * 4` bytes first.
        // SAFETY: `p..p + LANES` is writable and aligned (the caller's contract); the vector proves
        // AVX-512F.
        unsafe { _mm512_stream_ps(p, self.0) }
    }
    #[inline(always)]
    fn stream_fence(_t: Token<Self>) {
        // SAFETY: the token proves AVX-512F.
        unsafe { _mm_sfence() }
    }
    #[inline(always)]
    fn prefetch(_t: Token<Self>, p: *const f32) {
        // SAFETY: the token proves AVX-512F.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { Avx512(_mm512_add_ps(self.0, b.0)) }
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { Avx512(_mm512_sub_ps(self.0, b.0)) }
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { Avx512(_mm512_mul_ps(self.0, b.0)) }
    }
    #[inline(always)]
    fn fma(a: Self, b: Self, c: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { Avx512(_mm512_fmadd_ps(a.0, b.0, c.0)) }
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { Avx512(_mm512_div_ps(self.0, b.0)) }
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let off = _mm512_set1_epi32(0x3f35_04f3);
            let ix = _mm512_sub_epi32(_mm512_castps_si512(self.0), off);
            let e = _mm512_srai_epi32::<23>(ix);
            let m = _mm512_add_epi32(_mm512_and_si512(ix, _mm512_set1_epi32(0x007f_ffff)), off);
            (
                Avx512(_mm512_castsi512_ps(m)),
                Avx512(_mm512_cvtepi32_ps(e)),
            )
        }
    }
    #[inline(always)]
    fn max(a: Self, b: Self) -> Self {
        // vmaxps returns its second operand when either is NaN (as on AVX2).
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { Avx512(_mm512_max_ps(a.0, b.0)) }
    }
    #[inline(always)]
    fn min(a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { Avx512(_mm512_min_ps(a.0, b.0)) }
    }
    #[inline(always)]
    fn pow2_from_magic(t: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            Avx512(_mm512_castsi512_ps(_mm512_slli_epi32::<23>(
                _mm512_castps_si512(t.0),
            )))
        }
    }
    #[inline(always)]
    fn pow2_eighths(t: Self) -> Self {
        // vpermps picks by the low four bits of each index lane; the table holds the eight
        // entries twice, so the fourth bit does not matter.
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let table = _mm512_loadu_ps(EIGHTHS_TWICE.as_ptr() as *const f32);
            let entry = _mm512_permutexvar_ps(_mm512_castps_si512(t.0), table);
            let e = _mm512_slli_epi32::<20>(_mm512_castps_si512(t.0));
            Avx512(_mm512_castsi512_ps(_mm512_add_epi32(
                _mm512_castps_si512(entry),
                e,
            )))
        }
    }
    #[inline(always)]
    fn pick_ge(x: Self, lo: Self, a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let ge = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x.0, lo.0);
            Avx512(_mm512_mask_blend_ps(ge, b.0, a.0))
        }
    }
    #[inline(always)]
    fn add_ge(self, e: Self, x: Self, lo: Self) -> Self {
        // One masked add.
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let ge = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x.0, lo.0);
            Avx512(_mm512_mask_add_ps(self.0, ge, self.0, e.0))
        }
    }
    #[inline(always)]
    fn zero_below(v: Self, x: Self, lo: Self) -> Self {
        // "Not less than, unordered": true for NaN, which keeps the lane.
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            Avx512(_mm512_maskz_mov_ps(
                _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(x.0, lo.0),
                v.0,
            ))
        }
    }
    #[inline(always)]
    fn any_gt(a: Self, b: Self) -> bool {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a.0, b.0) != 0 }
    }
    #[inline(always)]
    fn order_key(self, low: u32, tag: u32) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let b = _mm512_castps_si512(self.0);
            // Negative values: `i32::MIN - bits`, the magnitude negated (`-0.0` gives 0).
            let neg = _mm512_cmplt_epi32_mask(b, _mm512_setzero_si512());
            let o = _mm512_mask_sub_epi32(b, neg, _mm512_set1_epi32(i32::MIN), b);
            let k = _mm512_or_si512(
                _mm512_andnot_si512(_mm512_set1_epi32(low as i32), o),
                _mm512_set1_epi32((tag & low) as i32),
            );
            Avx512(_mm512_castsi512_ps(k))
        }
    }
    #[inline(always)]
    fn key_max(a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let (a, b) = (_mm512_castps_si512(a.0), _mm512_castps_si512(b.0));
            Avx512(_mm512_castsi512_ps(_mm512_max_epi32(a, b)))
        }
    }
    #[inline(always)]
    fn key_min(a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let (a, b) = (_mm512_castps_si512(a.0), _mm512_castps_si512(b.0));
            Avx512(_mm512_castsi512_ps(_mm512_min_epi32(a, b)))
        }
    }
    #[inline(always)]
    fn or_bits(a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let (a, b) = (_mm512_castps_si512(a.0), _mm512_castps_si512(b.0));
            Avx512(_mm512_castsi512_ps(_mm512_or_si512(a, b)))
        }
    }
    #[inline(always)]
    fn masked_xor(self, x: u32, mask: u32) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let b = _mm512_castps_si512(self.0);
            let v = _mm512_xor_si512(b, _mm512_set1_epi32(x as i32));
            Avx512(_mm512_castsi512_ps(_mm512_and_si512(
                v,
                _mm512_set1_epi32(mask as i32),
            )))
        }
    }
    #[inline(always)]
    fn bits_eq_mask(a: Self, b: Self, ignore: u32) -> u32 {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let d = _mm512_xor_si512(_mm512_castps_si512(a.0), _mm512_castps_si512(b.0));
            u32::from(_mm512_testn_epi32_mask(
                d,
                _mm512_set1_epi32(!ignore as i32),
            ))
        }
    }
    #[inline(always)]
    unsafe fn gather_lanes(_t: Token<Self>, p: *const f32, at: Self) -> Self {
        // SAFETY: the token proves AVX-512F; the caller guarantees every element is readable.
        unsafe {
            let lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            let i = _mm512_add_epi32(_mm512_slli_epi32::<4>(_mm512_castps_si512(at.0)), lane);
            Avx512(_mm512_i32gather_ps::<4>(i, p))
        }
    }
    #[inline(always)]
    fn gt_mask(a: Self, b: Self) -> u32 {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { u32::from(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(a.0, b.0)) }
    }
    #[inline(always)]
    fn below_or(a: Self, bound: Self, fill: Self) -> Self {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let lt = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a.0, bound.0);
            Avx512(_mm512_mask_blend_ps(lt, fill.0, a.0))
        }
    }
    #[inline(always)]
    fn first(self) -> f32 {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { _mm512_cvtss_f32(self.0) }
    }
    #[inline(always)]
    unsafe fn compress_store(self, mask: u32, fill: f32, p: *mut f32) {
        // SAFETY: the vector arguments prove AVX-512F; `p` is writable for 16 elements (the
        // contract). The register form: the memory form of `vcompressps` is slow on AMD cores.
        unsafe {
            let c = _mm512_mask_compress_ps(_mm512_set1_ps(fill), mask as __mmask16, self.0);
            _mm512_storeu_ps(p, c)
        }
    }
    #[inline(always)]
    fn zip(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            // Indices 16..32 pick from `b`.
            let lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            let hi =
                _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            (
                Avx512(_mm512_permutex2var_ps(a.0, lo, b.0)),
                Avx512(_mm512_permutex2var_ps(a.0, hi, b.0)),
            )
        }
    }
    #[inline(always)]
    fn transpose(v: &mut [Self; 16]) {
        // Four rounds of 16 shuffles: pairs of rows interleaved by lanes, then by lane pairs,
        // which leaves block `q` of `u[4i + j]` holding column `4q + j` of rows `4i..4i + 4`;
        // then whole 128-bit blocks are gathered into the columns.
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let mut t = [_mm512_setzero_ps(); 16];
            for i in 0..8 {
                t[2 * i] = _mm512_unpacklo_ps(v[2 * i].0, v[2 * i + 1].0);
                t[2 * i + 1] = _mm512_unpackhi_ps(v[2 * i].0, v[2 * i + 1].0);
            }
            let pd = _mm512_castps_pd;
            let mut u = [_mm512_setzero_ps(); 16];
            for i in 0..4 {
                let (a, b, c, d) = (t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]);
                u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(a), pd(c)));
                u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(a), pd(c)));
                u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(b), pd(d)));
                u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(b), pd(d)));
            }
            for j in 0..4 {
                let (a, b, c, d) = (u[j], u[4 + j], u[8 + j], u[12 + j]);
                // Blocks 0, 1 | 2, 3 of `a` and `b`, then of `c` and `d`.
                let (p0, p1) = (
                    _mm512_shuffle_f32x4::<0x44>(a, b),
                    _mm512_shuffle_f32x4::<0xee>(a, b),
                );
                let (q0, q1) = (
                    _mm512_shuffle_f32x4::<0x44>(c, d),
                    _mm512_shuffle_f32x4::<0xee>(c, d),
                );
                v[j] = Avx512(_mm512_shuffle_f32x4::<0x88>(p0, q0));
                v[4 + j] = Avx512(_mm512_shuffle_f32x4::<0xdd>(p0, q0));
                v[8 + j] = Avx512(_mm512_shuffle_f32x4::<0x88>(p1, q1));
                v[12 + j] = Avx512(_mm512_shuffle_f32x4::<0xdd>(p1, q1));
            }
        }
    }
    #[inline(always)]
    fn to_array(self, out: &mut [f32; 16]) {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), self.0) }
    }

    /// Lanes 0-7 and 8-15.
    type Wide = [__m512d; 2];
    #[inline(always)]
    fn wide_zero(_t: Token<Self>) -> [__m512d; 2] {
        // SAFETY: the token proves AVX-512F.
        unsafe { [_mm512_setzero_pd(); 2] }
    }
    #[inline(always)]
    fn wide_add(self, acc: [__m512d; 2]) -> [__m512d; 2] {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let (lo, hi) = widen(self.0);
            [_mm512_add_pd(acc[0], lo), _mm512_add_pd(acc[1], hi)]
        }
    }
    #[inline(always)]
    fn wide_sum(a: [__m512d; 2], b: [__m512d; 2]) -> [__m512d; 2] {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { [_mm512_add_pd(a[0], b[0]), _mm512_add_pd(a[1], b[1])] }
    }
    #[inline(always)]
    fn wide_mul_add(a: Self, b: Self, acc: [__m512d; 2]) -> [__m512d; 2] {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let ((alo, ahi), (blo, bhi)) = (widen(a.0), widen(b.0));
            [
                _mm512_fmadd_pd(alo, blo, acc[0]),
                _mm512_fmadd_pd(ahi, bhi, acc[1]),
            ]
        }
    }
    #[inline(always)]
    fn wide_scale(w: [__m512d; 2], f: &[f64; 16]) -> [__m512d; 2] {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            [
                _mm512_mul_pd(w[0], _mm512_loadu_pd(f.as_ptr())),
                _mm512_mul_pd(w[1], _mm512_loadu_pd(f.as_ptr().add(8))),
            ]
        }
    }
    #[inline(always)]
    fn wide_to_array(w: [__m512d; 2], out: &mut [f64; 16]) {
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            _mm512_storeu_pd(out.as_mut_ptr(), w[0]);
            _mm512_storeu_pd(out.as_mut_ptr().add(8), w[1]);
        }
    }
    #[inline(always)]
    fn max_all(self) -> Self {
        // Swap the 256-bit halves, then 128-bit blocks, then pairs, then neighbours.
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let m = _mm512_max_ps(
                self.0,
                _mm512_shuffle_f32x4::<0b01_00_11_10>(self.0, self.0),
            );
            let m = _mm512_max_ps(m, _mm512_shuffle_f32x4::<0b10_11_00_01>(m, m));
            let m = _mm512_max_ps(m, _mm512_shuffle_ps::<0b01_00_11_10>(m, m));
            Avx512(_mm512_max_ps(m, _mm512_shuffle_ps::<0b10_11_00_01>(m, m)))
        }
    }
    #[inline(always)]
    fn reduce_max(self) -> f32 {
        // Shuffle tree; NaN lanes may or may not win, which callers allow.
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe { _mm512_reduce_max_ps(self.0) }
    }
    #[inline(always)]
    fn reduce_add(self) -> f64 {
        // Widen both halves to f64 (exact) and sum in f64, like the trait's default but
        // without the round trip through memory.
        // SAFETY: the vector arguments prove AVX-512F.
        unsafe {
            let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(self.0));
            let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(self.0),
            )));
            _mm512_reduce_add_pd(_mm512_add_pd(lo, hi))
        }
    }
}

// Four vectors (64 floats) per iteration, as on AVX2. The 32 zmm registers would allow more
// (the unrolled loops use no stack slots at 4), but 8 was no faster on either AVX-512 core
// measured. AMD Zen 4 splits 512-bit operations in two; there two-pass pass 1 was slower at 8.
// An Intel Xeon (family 6 model 207, two 512-bit FMA ports): scratch loops over the Rust API,
// unroll 4 against 8 alternately, `taskset -c 1`, medians of 5, two rounds, elements/ns:
// softmax `Auto` 1024 x 256 2.49-2.51 | 2.29-2.30, 512 x 1000 3.09-3.21 | 2.93-3.00, 64 x
// 32000 2.55-2.63 | 2.59-2.63, one row of 1M 2.12-2.22 | 2.11-2.13; log-softmax and
// log-sum-exp within the noise, except log-softmax 512 x 1000 (3.26-3.32 | 3.02-3.19).
crate::kernels::kernel_table!(
    crate::Isa::Avx512,
    Avx512,
    4,
    #[target_feature(enable = "avx512f,popcnt")]
);

/// This ISA's kernel table: softmax batches of short f16 rows go through the short-row kernel
/// in their format, bf16 ones are staged (see `crate::half_short` for the figures).
pub(crate) static KERNELS: crate::kernels::Kernels = crate::kernels::Kernels {
    half_softmax_short: crate::kernels::Formats {
        f16: true,
        bf16: false,
    },
    ..TABLE
};

/// The kernel table for CPUs with AVX-512 BF16: [`KERNELS`] with the entry points that write
/// bf16 values replaced by ones that narrow with `vcvtneps2bf16` (same bits; an entry point
/// left out would only narrow the slower way). Only those entry points are compiled twice.
mod bf16 {
    use super::*;
    crate::kernels::kernel_table!(
        crate::Isa::Avx512,
        Avx512<true>,
        4,
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512bf16,popcnt")]
    );
}

/// [`KERNELS`] with bf16 outputs narrowed by AVX-512 BF16 (`crate::dispatch` picks it where the
/// CPU has the extension and narrowing with it measured faster: Intel), and with softmax
/// batches of short bf16 rows read and written in their format (as f16 ones are in every
/// AVX-512 table), which measured faster on that CPU too (see `crate::half_short`).
pub(crate) static KERNELS_BF16: crate::kernels::Kernels = crate::kernels::Kernels {
    narrow: bf16::TABLE.narrow,
    half_backward: bf16::TABLE.half_backward,
    half_cross_entropy_grad: bf16::TABLE.half_cross_entropy_grad,
    half_softmax_reload: bf16::TABLE.half_softmax_reload,
    half_softmax_scaled_two_pass: bf16::TABLE.half_softmax_scaled_two_pass,
    half_log_softmax_widened: bf16::TABLE.half_log_softmax_widened,
    half_log_softmax_short_rows: bf16::TABLE.half_log_softmax_short_rows,
    half_softmax_short_rows: bf16::TABLE.half_softmax_short_rows,
    half_softmax_short: crate::kernels::Formats {
        f16: true,
        bf16: true,
    },
    segment: crate::kernels::SegmentKernels {
        half_exp_out: bf16::TABLE.segment.half_exp_out,
        half_shift_out: bf16::TABLE.segment.half_shift_out,
        half_reload_out: bf16::TABLE.segment.half_reload_out,
        ..TABLE.segment
    },
    ..TABLE
};
