//! AVX-512F kernels: 16 lanes of `__m512`.
//!
//! Tails use `k`-masked loads and stores (masked-off lanes never touch memory, so they cannot
//! fault); large outputs use `vmovntps` non-temporal stores; the "any lane greater" test of the
//! two-pass sum is one mask compare. Only AVX-512F instructions are used (plus the
//! AVX2/FMA/SSE instructions that `avx512f` implies), so any AVX-512 CPU runs these kernels.

use core::arch::x86_64::*;

use crate::kernels::exp::EIGHTHS;
use crate::kernels::simd::Simd;

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

/// One AVX-512 register of sixteen `f32`.
#[derive(Clone, Copy)]
pub(crate) struct Avx512(__m512);

/// The mask of the first `n < 16` lanes.
#[inline(always)]
fn tail_mask(n: usize) -> __mmask16 {
    debug_assert!(n < 16);
    ((1u32 << n) - 1) as __mmask16
}

/// Lanes 0-7 and 8-15 of `v` in f64 (exact).
#[inline(always)]
unsafe fn widen(v: __m512) -> (__m512d, __m512d) {
    (
        _mm512_cvtps_pd(_mm512_castps512_ps256(v)),
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
            _mm512_castps_pd(v),
        ))),
    )
}

// SAFETY: every method uses AVX-512F instructions (and the SSE/AVX2/FMA ones `avx512f` implies)
// only; the dispatcher reaches these kernels only after `is_x86_feature_detected!("avx512f")`
// (which includes the OS's support for the zmm and mask state), `("avx2")` and `("fma")` held.
unsafe impl Simd for Avx512 {
    const LANES: usize = 16;
    const EXP_TABLE: bool = true;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Avx512(_mm512_set1_ps(v))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Avx512(_mm512_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn load_tail(p: *const f32, n: usize, fill: f32) -> Self {
        // Masked-off lanes take `fill` and are not read (no fault past `p + n`).
        Avx512(_mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(n), p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm512_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn store_tail(self, p: *mut f32, n: usize) {
        _mm512_mask_storeu_ps(p, tail_mask(n), self.0)
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32) {
        // `p` is 64-byte aligned: the generic code aligns `y` to `LANES * 4` bytes first.
        _mm512_stream_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn stream_fence() {
        _mm_sfence()
    }
    #[inline(always)]
    unsafe fn prefetch(p: *const f32) {
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8)
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Avx512(_mm512_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Avx512(_mm512_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Avx512(_mm512_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        Avx512(_mm512_fmadd_ps(a.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        Avx512(_mm512_div_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn split_exp(self) -> (Self, Self) {
        let off = _mm512_set1_epi32(0x3f35_04f3);
        let ix = _mm512_sub_epi32(_mm512_castps_si512(self.0), off);
        let e = _mm512_srai_epi32::<23>(ix);
        let m = _mm512_add_epi32(_mm512_and_si512(ix, _mm512_set1_epi32(0x007f_ffff)), off);
        (
            Avx512(_mm512_castsi512_ps(m)),
            Avx512(_mm512_cvtepi32_ps(e)),
        )
    }
    #[inline(always)]
    unsafe fn max(a: Self, b: Self) -> Self {
        // vmaxps returns its second operand when either is NaN (as on AVX2).
        Avx512(_mm512_max_ps(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn min(a: Self, b: Self) -> Self {
        Avx512(_mm512_min_ps(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn pow2_from_magic(t: Self) -> Self {
        Avx512(_mm512_castsi512_ps(_mm512_slli_epi32::<23>(
            _mm512_castps_si512(t.0),
        )))
    }
    #[inline(always)]
    unsafe fn pow2_eighths(t: Self) -> Self {
        // vpermps picks by the low four bits of each index lane; the table holds the eight
        // entries twice, so the fourth bit does not matter.
        let table = _mm512_loadu_ps(EIGHTHS_TWICE.as_ptr() as *const f32);
        let entry = _mm512_permutexvar_ps(_mm512_castps_si512(t.0), table);
        let e = _mm512_slli_epi32::<20>(_mm512_castps_si512(t.0));
        Avx512(_mm512_castsi512_ps(_mm512_add_epi32(
            _mm512_castps_si512(entry),
            e,
        )))
    }
    #[inline(always)]
    unsafe fn zero_below(v: Self, x: Self, lo: Self) -> Self {
        // "Not less than, unordered": true for NaN, which keeps the lane.
        Avx512(_mm512_maskz_mov_ps(
            _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(x.0, lo.0),
            v.0,
        ))
    }
    #[inline(always)]
    unsafe fn any_gt(a: Self, b: Self) -> bool {
        _mm512_cmp_ps_mask::<_CMP_GT_OQ>(a.0, b.0) != 0
    }
    #[inline(always)]
    unsafe fn gt_mask(a: Self, b: Self) -> u32 {
        u32::from(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(a.0, b.0))
    }
    #[inline(always)]
    unsafe fn below_or(a: Self, bound: Self, fill: Self) -> Self {
        let lt = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a.0, bound.0);
        Avx512(_mm512_mask_blend_ps(lt, fill.0, a.0))
    }
    #[inline(always)]
    unsafe fn first(self) -> f32 {
        _mm512_cvtss_f32(self.0)
    }
    #[inline(always)]
    unsafe fn to_array(self, out: &mut [f32; 16]) {
        _mm512_storeu_ps(out.as_mut_ptr(), self.0)
    }

    /// Lanes 0-7 and 8-15.
    type Wide = [__m512d; 2];
    #[inline(always)]
    unsafe fn wide_zero() -> [__m512d; 2] {
        [_mm512_setzero_pd(); 2]
    }
    #[inline(always)]
    unsafe fn wide_add(self, acc: [__m512d; 2]) -> [__m512d; 2] {
        let (lo, hi) = widen(self.0);
        [_mm512_add_pd(acc[0], lo), _mm512_add_pd(acc[1], hi)]
    }
    #[inline(always)]
    unsafe fn wide_mul_add(a: Self, b: Self, acc: [__m512d; 2]) -> [__m512d; 2] {
        let ((alo, ahi), (blo, bhi)) = (widen(a.0), widen(b.0));
        [
            _mm512_fmadd_pd(alo, blo, acc[0]),
            _mm512_fmadd_pd(ahi, bhi, acc[1]),
        ]
    }
    #[inline(always)]
    unsafe fn wide_scale(w: [__m512d; 2], f: &[f64; 16]) -> [__m512d; 2] {
        [
            _mm512_mul_pd(w[0], _mm512_loadu_pd(f.as_ptr())),
            _mm512_mul_pd(w[1], _mm512_loadu_pd(f.as_ptr().add(8))),
        ]
    }
    #[inline(always)]
    unsafe fn wide_to_array(w: [__m512d; 2], out: &mut [f64; 16]) {
        _mm512_storeu_pd(out.as_mut_ptr(), w[0]);
        _mm512_storeu_pd(out.as_mut_ptr().add(8), w[1]);
    }
    #[inline(always)]
    unsafe fn max_all(self) -> Self {
        // Swap the 256-bit halves, then 128-bit blocks, then pairs, then neighbours.
        let m = _mm512_max_ps(
            self.0,
            _mm512_shuffle_f32x4::<0b01_00_11_10>(self.0, self.0),
        );
        let m = _mm512_max_ps(m, _mm512_shuffle_f32x4::<0b10_11_00_01>(m, m));
        let m = _mm512_max_ps(m, _mm512_shuffle_ps::<0b01_00_11_10>(m, m));
        Avx512(_mm512_max_ps(m, _mm512_shuffle_ps::<0b10_11_00_01>(m, m)))
    }
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        // Shuffle tree; NaN lanes may or may not win, which callers allow.
        _mm512_reduce_max_ps(self.0)
    }
    #[inline(always)]
    unsafe fn reduce_add(self) -> f64 {
        // Widen both halves to f64 (exact) and sum in f64, like the trait's default but
        // without the round trip through memory.
        let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(self.0));
        let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
            _mm512_castps_pd(self.0),
        )));
        _mm512_reduce_add_pd(_mm512_add_pd(lo, hi))
    }
}

// Four vectors (64 floats) per iteration, as on AVX2. The 32 zmm registers would allow more
// (the unrolled loops use no stack slots at 4), but the only AVX-512 CPU measured so far is an
// AMD Zen 4, which splits 512-bit operations in two: there 8 was no faster (two-pass pass 1
// slower). Intel AVX-512 cores are unmeasured, so this stays at 4.
crate::kernels::kernel_table!(
    crate::Isa::Avx512,
    Avx512,
    4,
    #[target_feature(enable = "avx512f")]
);
