//! NEON (Advanced SIMD) kernels: 4 lanes of `float32x4_t`.
//!
//! Tails (`n < 4`) go through a small stack array, so memory past `p + n` is never read or
//! written. NEON has no non-temporal store reachable through intrinsics (`stnp` only exists as
//! a pair store in assembly and is merely a hint), so `stream` is a plain store and
//! `stream_fence` does nothing. `vmaxq_f32` (`fmax`) returns NaN when either operand is NaN,
//! which satisfies the `Simd::max` contract.
//!
//! f16 rows are converted with base ARMv8's `fcvtl`/`fcvtn` (in assembly: their intrinsics
//! need the unstable `f16` type), bf16 rows with integer shifts and an `addhn` rounding (the
//! optional BF16 extension's `bfcvtn` is not used); 16-bit tails go through a buffer.

use core::arch::aarch64::*;

use crate::kernels::convert::{copy_tail, Half};
use crate::kernels::exp::EIGHTHS;
use crate::kernels::simd::{Simd, Token};

/// One NEON register of four `f32`.
#[derive(Clone, Copy)]
pub(crate) struct Neon(float32x4_t);

/// The four 16-bit values of `format` in `h`, widened to f32. f16: `fcvtl` (exact; a NaN made
/// quiet with its payload, as [`f16_to_f32`](super::convert::f16_to_f32), while FPCR.DN is
/// clear, as Linux leaves it), written in assembly because the intrinsic `vcvt_f32_f16` needs
/// the unstable `f16` type. bf16: `shll` by 16 (widen and shift into the upper half).
///
/// # Safety
/// NEON must be available.
#[inline(always)]
unsafe fn half_to_f32(format: Half, h: uint16x4_t) -> float32x4_t {
    // SAFETY: NEON is available (the contract); `fcvtl` only reads and writes registers.
    unsafe {
        match format {
            Half::F16 => {
                let r: float32x4_t;
                core::arch::asm!(
                    "fcvtl {r:v}.4s, {h:v}.4h",
                    r = lateout(vreg) r,
                    h = in(vreg) h,
                    options(pure, nomem, nostack, preserves_flags)
                );
                r
            }
            Half::Bf16 => vreinterpretq_f32_u32(vshll_n_u16::<16>(h)),
        }
    }
}

/// The lanes of `v` rounded to `format` (nearest, ties to even).
///
/// f16: `fcvtn` in assembly (see [`half_to_f32`]), rounding by FPCR.RMode (nearest even
/// unless a caller changed it); a NaN keeps its sign and top payload bits and is made quiet,
/// as in [`f32_to_f16`](super::convert::f32_to_f16). bf16: the integer rounding of
/// [`f32_to_bf16`](super::convert::f32_to_bf16), `(b + 0x7fff + odd) >> 16` in one `addhn`
/// (add, keep the high halves), and `(b >> 16) | 0x40` for NaN lanes.
///
/// # Safety
/// NEON must be available.
#[inline(always)]
unsafe fn f32_to_half(format: Half, v: float32x4_t) -> uint16x4_t {
    // SAFETY: NEON is available (the contract); `fcvtn` only reads and writes registers.
    unsafe {
        match format {
            Half::F16 => {
                let r: uint16x4_t;
                core::arch::asm!(
                    "fcvtn {r:v}.4h, {v:v}.4s",
                    r = lateout(vreg) r,
                    v = in(vreg) v,
                    options(pure, nomem, nostack, preserves_flags)
                );
                r
            }
            Half::Bf16 => {
                let b = vreinterpretq_u32_f32(v);
                let odd = vandq_u32(vshrq_n_u32::<16>(b), vdupq_n_u32(1));
                let rounded = vaddhn_u32(b, vaddq_u32(odd, vdupq_n_u32(0x7fff)));
                let quiet = vorr_u16(vshrn_n_u32::<16>(b), vdup_n_u16(0x40));
                // `fcmeq v, v` is false exactly in the NaN lanes.
                let ordered = vmovn_u32(vceqq_f32(v, v));
                vbsl_u16(ordered, rounded, quiet)
            }
        }
    }
}

// SAFETY: a `Neon` is only made by the methods below (the field is private to this module),
// each from a token or another `Neon`, and they use Advanced SIMD instructions only (plus
// `prfm`, a hint that never faults); a token exists only after
// `is_aarch64_feature_detected!("neon")` held. Pointer methods follow the contracts written on
// the trait: tails copy exactly `n` elements through a stack buffer.
unsafe impl Simd for Neon {
    const LANES: usize = 4;
    const EXP_TABLE: bool = false;
    const ONE_LOOP_SUM: bool = true;
    const REGISTERS: usize = 32;

    #[inline]
    fn available() -> bool {
        crate::Isa::Neon.is_supported()
    }

    #[inline(always)]
    fn splat(_t: Token<Self>, v: f32) -> Self {
        // SAFETY: the token proves NEON.
        unsafe { Neon(vdupq_n_f32(v)) }
    }
    #[inline(always)]
    unsafe fn load(_t: Token<Self>, p: *const f32) -> Self {
        // SAFETY: `p..p + LANES` is readable (the caller's contract); the token proves NEON.
        unsafe { Neon(vld1q_f32(p)) }
    }
    #[inline(always)]
    unsafe fn load_tail(_t: Token<Self>, p: *const f32, n: usize, fill: f32) -> Self {
        debug_assert!(n < Self::LANES);
        // SAFETY: `p..p + n` is readable (the caller's contract); the token proves NEON.
        unsafe {
            debug_assert!(n < 4);
            let mut buf = [fill; 4];
            // The caller guarantees `p..p + n` is readable; `buf` holds 4 > n elements.
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
            Neon(vld1q_f32(buf.as_ptr()))
        }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: `p..p + LANES` is writable (the caller's contract); the vector proves NEON.
        unsafe { vst1q_f32(p, self.0) }
    }
    #[inline(always)]
    unsafe fn store_tail(self, p: *mut f32, n: usize) {
        debug_assert!(n < Self::LANES);
        // SAFETY: `p..p + n` is writable (the caller's contract); the vector proves NEON.
        unsafe {
            debug_assert!(n < 4);
            let mut buf = [0.0f32; 4];
            vst1q_f32(buf.as_mut_ptr(), self.0);
            // The caller guarantees `p..p + n` is writable; nothing past it is touched.
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
        }
    }
    #[inline(always)]
    unsafe fn load_half(_t: Token<Self>, format: Half, p: *const u16) -> Self {
        // SAFETY: `p..p + LANES` is readable (the caller's contract); the token proves NEON.
        unsafe { Neon(half_to_f32(format, vld1_u16(p))) }
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
        let mut buf = [0u16; 4];
        // SAFETY: `p..p + n` is readable (the caller's contract) and `buf` holds 4 > n values;
        // the token proves NEON.
        unsafe {
            copy_tail(p, buf.as_mut_ptr(), n);
            let v = half_to_f32(format, vld1_u16(buf.as_ptr()));
            // Lane `l` is kept where `l < n`.
            const LANE: [u32; 4] = [0, 1, 2, 3];
            let keep = vcltq_u32(vld1q_u32(LANE.as_ptr()), vdupq_n_u32(n as u32));
            Neon(vbslq_f32(keep, v, vdupq_n_f32(fill)))
        }
    }
    #[inline(always)]
    unsafe fn store_half(self, format: Half, p: *mut u16) {
        // SAFETY: `p..p + LANES` is writable (the caller's contract); the vector proves NEON.
        unsafe { vst1_u16(p, f32_to_half(format, self.0)) }
    }
    #[inline(always)]
    unsafe fn store_half_tail(self, format: Half, p: *mut u16, n: usize) {
        debug_assert!(n < Self::LANES);
        let mut buf = [0u16; 4];
        // SAFETY: `p..p + n` is writable (the caller's contract) and `buf` holds 4 > n values;
        // the vector proves NEON.
        unsafe {
            vst1_u16(buf.as_mut_ptr(), f32_to_half(format, self.0));
            copy_tail(buf.as_ptr(), p, n);
        }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32) {
        debug_assert!((p as usize).is_multiple_of(Self::LANES * 4));
        // No non-temporal store intrinsic on NEON: a plain store.
        // SAFETY: `p..p + LANES` is writable and aligned (the caller's contract); the vector proves
        // NEON.
        unsafe { vst1q_f32(p, self.0) }
    }
    #[inline(always)]
    fn stream_fence(_t: Token<Self>) {}
    #[inline(always)]
    fn prefetch(_t: Token<Self>, p: *const f32) {
        // `prfm` is a hint: it never faults, so `p` may point anywhere (even past the row).
        // SAFETY: the token proves NEON.
        unsafe {
            core::arch::asm!(
                "prfm pldl1keep, [{0}]",
                in(reg) p,
                options(nostack, readonly, preserves_flags)
            );
        }
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe { Neon(vaddq_f32(self.0, b.0)) }
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe { Neon(vsubq_f32(self.0, b.0)) }
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe { Neon(vmulq_f32(self.0, b.0)) }
    }
    #[inline(always)]
    fn fma(a: Self, b: Self, c: Self) -> Self {
        // vfmaq_f32(acc, x, y) = acc + x * y: the accumulator comes first.
        // SAFETY: the vector arguments prove NEON.
        unsafe { Neon(vfmaq_f32(c.0, a.0, b.0)) }
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe { Neon(vdivq_f32(self.0, b.0)) }
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            let off = vdupq_n_s32(0x3f35_04f3);
            let ix = vsubq_s32(vreinterpretq_s32_f32(self.0), off);
            let e = vshrq_n_s32::<23>(ix);
            let m = vaddq_s32(vandq_s32(ix, vdupq_n_s32(0x007f_ffff)), off);
            (Neon(vreinterpretq_f32_s32(m)), Neon(vcvtq_f32_s32(e)))
        }
    }
    #[inline(always)]
    fn max(a: Self, b: Self) -> Self {
        // `fmax` propagates a NaN from either operand.
        // SAFETY: the vector arguments prove NEON.
        unsafe { Neon(vmaxq_f32(a.0, b.0)) }
    }
    #[inline(always)]
    fn min(a: Self, b: Self) -> Self {
        // `fmin` propagates a NaN from either operand.
        // SAFETY: the vector arguments prove NEON.
        unsafe { Neon(vminq_f32(a.0, b.0)) }
    }
    #[inline(always)]
    fn pow2_from_magic(t: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            Neon(vreinterpretq_f32_s32(vshlq_n_s32::<23>(
                vreinterpretq_s32_f32(t.0),
            )))
        }
    }
    #[inline(always)]
    fn pow2_eighths(t: Self) -> Self {
        // `tbl` picks bytes: lane j of the table spans bytes 4j..4j+4, so each lane's index
        // bytes are 4*(t & 7) + [0, 1, 2, 3] (little-endian).
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            let bits = vreinterpretq_u32_f32(t.0);
            let j = vandq_u32(bits, vdupq_n_u32(7));
            let idx = vmlaq_u32(vdupq_n_u32(0x0302_0100), j, vdupq_n_u32(0x0404_0404));
            let p = EIGHTHS.as_ptr() as *const u8;
            let table = uint8x16x2_t(vld1q_u8(p), vld1q_u8(p.add(16)));
            let entry = vreinterpretq_u32_u8(vqtbl2q_u8(table, vreinterpretq_u8_u32(idx)));
            let e = vshlq_n_u32::<20>(bits);
            Neon(vreinterpretq_f32_u32(vaddq_u32(entry, e)))
        }
    }
    #[inline(always)]
    fn pick_ge(x: Self, lo: Self, a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe { Neon(vbslq_f32(vcgeq_f32(x.0, lo.0), a.0, b.0)) }
    }
    #[inline(always)]
    fn add_ge(self, e: Self, x: Self, lo: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            let ge = vcgeq_f32(x.0, lo.0);
            let e = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e.0), ge));
            Neon(vaddq_f32(self.0, e))
        }
    }
    #[inline(always)]
    fn zero_below(v: Self, x: Self, lo: Self) -> Self {
        // `fcmgt` is false for NaN, which keeps the lane.
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            let below = vcgtq_f32(lo.0, x.0);
            Neon(vreinterpretq_f32_u32(vbicq_u32(
                vreinterpretq_u32_f32(v.0),
                below,
            )))
        }
    }
    #[inline(always)]
    fn any_gt(a: Self, b: Self) -> bool {
        // SAFETY: the vector arguments prove NEON.
        unsafe { vmaxvq_u32(vcgtq_f32(a.0, b.0)) != 0 }
    }
    #[inline(always)]
    fn order_key(self, low: u32, tag: u32) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            let b = vreinterpretq_s32_f32(self.0);
            // Negative values: `i32::MIN - bits`, the magnitude negated (`-0.0` gives 0).
            let neg = vsubq_s32(vdupq_n_s32(i32::MIN), b);
            let sign = vreinterpretq_u32_s32(vshrq_n_s32::<31>(b));
            let o = vbslq_s32(sign, neg, b);
            let k = vorrq_s32(
                vbicq_s32(o, vdupq_n_s32(low as i32)),
                vdupq_n_s32((tag & low) as i32),
            );
            Neon(vreinterpretq_f32_s32(k))
        }
    }
    #[inline(always)]
    fn key_max(a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            let (a, b) = (vreinterpretq_s32_f32(a.0), vreinterpretq_s32_f32(b.0));
            Neon(vreinterpretq_f32_s32(vmaxq_s32(a, b)))
        }
    }
    #[inline(always)]
    fn key_min(a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            let (a, b) = (vreinterpretq_s32_f32(a.0), vreinterpretq_s32_f32(b.0));
            Neon(vreinterpretq_f32_s32(vminq_s32(a, b)))
        }
    }
    #[inline(always)]
    fn or_bits(a: Self, b: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            let (a, b) = (vreinterpretq_u32_f32(a.0), vreinterpretq_u32_f32(b.0));
            Neon(vreinterpretq_f32_u32(vorrq_u32(a, b)))
        }
    }
    #[inline(always)]
    fn masked_xor(self, x: u32, mask: u32) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            let v = veorq_u32(vreinterpretq_u32_f32(self.0), vdupq_n_u32(x));
            Neon(vreinterpretq_f32_u32(vandq_u32(v, vdupq_n_u32(mask))))
        }
    }
    #[inline(always)]
    fn bits_eq_mask(a: Self, b: Self, ignore: u32) -> u32 {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            const BITS: [u32; 4] = [1, 2, 4, 8];
            let d = veorq_u32(vreinterpretq_u32_f32(a.0), vreinterpretq_u32_f32(b.0));
            let eq = vceqq_u32(vbicq_u32(d, vdupq_n_u32(ignore)), vdupq_n_u32(0));
            vaddvq_u32(vandq_u32(eq, vld1q_u32(BITS.as_ptr())))
        }
    }
    #[inline(always)]
    unsafe fn gather_lanes(t: Token<Self>, p: *const f32, at: Self) -> Self {
        let mut i = [0u32; 4];
        // SAFETY: the vector arguments prove NEON; `i` holds 4 elements.
        unsafe { vst1q_u32(i.as_mut_ptr(), vreinterpretq_u32_f32(at.0)) };
        let mut v = [0.0f32; 4];
        for (l, (v, &i)) in v.iter_mut().zip(&i).enumerate() {
            // SAFETY: the caller guarantees every element is readable.
            *v = unsafe { *p.add(i as usize * 4 + l) };
        }
        // SAFETY: `v` holds 4 elements.
        unsafe { Self::load(t, v.as_ptr()) }
    }
    #[inline(always)]
    fn gt_mask(a: Self, b: Self) -> u32 {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            const BITS: [u32; 4] = [1, 2, 4, 8];
            vaddvq_u32(vandq_u32(vcgtq_f32(a.0, b.0), vld1q_u32(BITS.as_ptr())))
        }
    }
    #[inline(always)]
    fn below_or(a: Self, bound: Self, fill: Self) -> Self {
        // SAFETY: the vector arguments prove NEON.
        unsafe { Neon(vbslq_f32(vcltq_f32(a.0, bound.0), a.0, fill.0)) }
    }
    #[inline(always)]
    fn first(self) -> f32 {
        // SAFETY: the vector arguments prove NEON.
        unsafe { vgetq_lane_f32::<0>(self.0) }
    }
    #[inline(always)]
    fn zip(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: the vector arguments prove NEON.
        unsafe { (Neon(vzip1q_f32(a.0, b.0)), Neon(vzip2q_f32(a.0, b.0))) }
    }
    #[inline(always)]
    fn transpose(v: &mut [Self; 16]) {
        // Rows interleaved by lanes in pairs, then 64-bit halves paired.
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            let (t0, t1) = (vtrn1q_f32(v[0].0, v[1].0), vtrn2q_f32(v[0].0, v[1].0));
            let (t2, t3) = (vtrn1q_f32(v[2].0, v[3].0), vtrn2q_f32(v[2].0, v[3].0));
            let (d, f) = (vreinterpretq_f64_f32, vreinterpretq_f32_f64);
            v[0] = Neon(f(vtrn1q_f64(d(t0), d(t2))));
            v[1] = Neon(f(vtrn1q_f64(d(t1), d(t3))));
            v[2] = Neon(f(vtrn2q_f64(d(t0), d(t2))));
            v[3] = Neon(f(vtrn2q_f64(d(t1), d(t3))));
        }
    }
    #[inline(always)]
    fn to_array(self, out: &mut [f32; 16]) {
        // SAFETY: the vector arguments prove NEON.
        unsafe { vst1q_f32(out.as_mut_ptr(), self.0) }
    }

    /// Lanes 0-1 and 2-3.
    type Wide = [float64x2_t; 2];
    #[inline(always)]
    fn wide_zero(_t: Token<Self>) -> [float64x2_t; 2] {
        // SAFETY: the token proves NEON.
        unsafe { [vdupq_n_f64(0.0); 2] }
    }
    #[inline(always)]
    fn wide_add(self, acc: [float64x2_t; 2]) -> [float64x2_t; 2] {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            [
                vaddq_f64(acc[0], vcvt_f64_f32(vget_low_f32(self.0))),
                vaddq_f64(acc[1], vcvt_high_f64_f32(self.0)),
            ]
        }
    }
    #[inline(always)]
    fn wide_sum(a: [float64x2_t; 2], b: [float64x2_t; 2]) -> [float64x2_t; 2] {
        // SAFETY: the vector arguments prove NEON.
        unsafe { [vaddq_f64(a[0], b[0]), vaddq_f64(a[1], b[1])] }
    }
    #[inline(always)]
    fn wide_mul_add(a: Self, b: Self, acc: [float64x2_t; 2]) -> [float64x2_t; 2] {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            [
                vfmaq_f64(
                    acc[0],
                    vcvt_f64_f32(vget_low_f32(a.0)),
                    vcvt_f64_f32(vget_low_f32(b.0)),
                ),
                vfmaq_f64(acc[1], vcvt_high_f64_f32(a.0), vcvt_high_f64_f32(b.0)),
            ]
        }
    }
    #[inline(always)]
    fn wide_scale(w: [float64x2_t; 2], f: &[f64; 16]) -> [float64x2_t; 2] {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            [
                vmulq_f64(w[0], vld1q_f64(f.as_ptr())),
                vmulq_f64(w[1], vld1q_f64(f.as_ptr().add(2))),
            ]
        }
    }
    #[inline(always)]
    fn wide_to_array(w: [float64x2_t; 2], out: &mut [f64; 16]) {
        // SAFETY: the vector arguments prove NEON.
        unsafe {
            vst1q_f64(out.as_mut_ptr(), w[0]);
            vst1q_f64(out.as_mut_ptr().add(2), w[1]);
        }
    }
    #[inline(always)]
    fn reduce_max(self) -> f32 {
        // `fmaxv`: one instruction (a NaN lane wins, which the trait allows).
        // SAFETY: the vector arguments prove NEON.
        unsafe { vmaxvq_f32(self.0) }
    }
}

// Four vectors (16 floats) per iteration; NEON's 32 registers would allow more, but four
// independent chains already cover the FMA latency of the cores this targets.
crate::kernels::kernel_table!(
    crate::Isa::Neon,
    Neon,
    4,
    #[target_feature(enable = "neon")]
);

/// This ISA's kernel table.
pub(crate) static KERNELS: crate::kernels::Kernels = TABLE;
