//! The portable kernels: the generic algorithms over a "vector" of four plain `f32`, written
//! with ordinary arithmetic on arrays (the compiler may map it onto the baseline SIMD of the
//! target, SSE2 on x86_64, but nothing here names an instruction set).
//!
//! This is the reference every SIMD ISA is tested against (besides the f64 oracle of the
//! tests): it runs the same exp core, the same shifts and the same blocked sums, so it is
//! accurate, not naive, and it is what `SOFTMAX_ISA=scalar` selects.
//!
//! The fused multiply-add is computed in f64: the product of two f32 is exact there, and the
//! sum is rounded once to f64 and once more to f32. That equals a true f32 FMA except in
//! rare double-rounding ties, and it is exact in the steps that need exactness (the
//! `x - n*ln2` reduction, whose exact value fits in 53 bits). `f32::mul_add` would be a
//! library call costing tens of nanoseconds on x86 CPUs compiled without FMA.
//!
//! The 16-bit loads and stores convert lane by lane with the scalar functions of
//! [`super::convert`], the reference the SIMD conversions must match bit for bit.

use super::convert::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16, Half};
use super::exp::EIGHTHS;
use super::simd::{Simd, Token};

/// Lanes per portable vector.
const N: usize = 4;

/// Four `f32` lanes.
#[derive(Clone, Copy)]
pub(crate) struct Lanes([f32; N]);

/// The token of the portable lanes, which every CPU runs.
#[cfg(test)]
#[inline(always)]
pub(crate) fn token() -> Token<Lanes> {
    // SAFETY: plain arithmetic: nothing to detect.
    unsafe { Token::new_unchecked() }
}

/// Builds a `Lanes` from an expression of the lane index, written out per lane (no closures
/// or iterators, so debug builds, which the test-suite uses, stay fast too).
macro_rules! per_lane {
    (|$i:ident| $e:expr) => {
        Lanes([
            {
                let $i = 0;
                $e
            },
            {
                let $i = 1;
                $e
            },
            {
                let $i = 2;
                $e
            },
            {
                let $i = 3;
                $e
            },
        ])
    };
}

// SAFETY: plain arithmetic, available on every CPU; pointer methods follow the trait's
// contracts (`load`/`store` and the 16-bit forms touch exactly `LANES` elements, the tail
// forms only `n`).
unsafe impl Simd for Lanes {
    const LANES: usize = N;
    const EXP_TABLE: bool = true;
    const ONE_LOOP_SUM: bool = false;
    // Scalar lanes: the registers of the smallest common target (x86-64's 16).
    const REGISTERS: usize = 16;

    #[inline(always)]
    fn available() -> bool {
        true
    }

    #[inline(always)]
    fn splat(_t: Token<Self>, v: f32) -> Self {
        Lanes([v; N])
    }
    #[inline(always)]
    unsafe fn load(_t: Token<Self>, p: *const f32) -> Self {
        // SAFETY: `p..p + LANES` is readable (the caller's contract).
        Lanes(unsafe { p.cast::<[f32; N]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn load_tail(_t: Token<Self>, p: *const f32, n: usize, fill: f32) -> Self {
        debug_assert!(n < N);
        per_lane!(|i| if i < n {
            // SAFETY: `i < n`, and `p..p + n` is readable (the caller's contract).
            unsafe { p.add(i).read() }
        } else {
            fill
        })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: `p..p + LANES` is writable (the caller's contract).
        unsafe { p.cast::<[f32; N]>().write_unaligned(self.0) }
    }
    #[inline(always)]
    unsafe fn store_tail(self, p: *mut f32, n: usize) {
        debug_assert!(n < N);
        let mut i = 0;
        while i < n {
            // SAFETY: `i < n` and `p..p + n` is writable (the caller's contract).
            unsafe { p.add(i).write(self.0[i]) };
            i += 1;
        }
    }
    #[inline(always)]
    unsafe fn load_half(_t: Token<Self>, format: Half, p: *const u16) -> Self {
        // SAFETY: `p..p + LANES` is readable (the caller's contract).
        let h = unsafe { p.cast::<[u16; N]>().read_unaligned() };
        match format {
            Half::F16 => per_lane!(|i| f16_to_f32(h[i])),
            Half::Bf16 => per_lane!(|i| bf16_to_f32(h[i])),
        }
    }
    #[inline(always)]
    unsafe fn load_half_tail(
        _t: Token<Self>,
        format: Half,
        p: *const u16,
        n: usize,
        fill: f32,
    ) -> Self {
        debug_assert!(n < N);
        let widen = match format {
            Half::F16 => f16_to_f32,
            Half::Bf16 => bf16_to_f32,
        };
        per_lane!(|i| if i < n {
            // SAFETY: `i < n`, and `p..p + n` is readable (the caller's contract).
            widen(unsafe { p.add(i).read_unaligned() })
        } else {
            fill
        })
    }
    #[inline(always)]
    unsafe fn store_half(self, format: Half, p: *mut u16) {
        let h = match format {
            Half::F16 => self.0.map(f32_to_f16),
            Half::Bf16 => self.0.map(f32_to_bf16),
        };
        // SAFETY: `p..p + LANES` is writable (the caller's contract).
        unsafe { p.cast::<[u16; N]>().write_unaligned(h) }
    }
    #[inline(always)]
    unsafe fn store_half_tail(self, format: Half, p: *mut u16, n: usize) {
        debug_assert!(n < N);
        let narrow = match format {
            Half::F16 => f32_to_f16,
            Half::Bf16 => f32_to_bf16,
        };
        let mut i = 0;
        while i < n {
            // SAFETY: `i < n` and `p..p + n` is writable (the caller's contract).
            unsafe { p.add(i).write_unaligned(narrow(self.0[i])) };
            i += 1;
        }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32) {
        // SAFETY: the contract of `stream` includes that of `store`.
        unsafe { self.store(p) }
    }
    #[inline(always)]
    fn stream_fence(_t: Token<Self>) {}
    #[inline(always)]
    fn prefetch(_t: Token<Self>, _p: *const f32) {}
    #[inline(always)]
    fn prefetching(_t: Token<Self>) -> bool {
        false
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        per_lane!(|i| self.0[i] + b.0[i])
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        per_lane!(|i| self.0[i] - b.0[i])
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        per_lane!(|i| self.0[i] * b.0[i])
    }
    #[inline(always)]
    fn fma(a: Self, b: Self, c: Self) -> Self {
        // A counted loop (not `per_lane!`): the optimiser turns it into packed f64 arithmetic,
        // and it stays cheap in debug builds.
        let mut out = c.0;
        #[allow(clippy::needless_range_loop)]
        for i in 0..N {
            out[i] = (a.0[i] as f64 * b.0[i] as f64 + out[i] as f64) as f32;
        }
        Lanes(out)
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        per_lane!(|i| self.0[i] / b.0[i])
    }
    #[inline(always)]
    fn split_exp(self) -> (Self, Self) {
        let ix = |i: usize| (self.0[i].to_bits() as i32).wrapping_sub(0x3f35_04f3);
        let m = per_lane!(|i| f32::from_bits(((ix(i) & 0x007f_ffff) + 0x3f35_04f3) as u32));
        let e = per_lane!(|i| (ix(i) >> 23) as f32);
        (m, e)
    }
    #[inline(always)]
    fn max(a: Self, b: Self) -> Self {
        // The x86 rule: `b` unless `a > b` (so a NaN `b` is kept).
        per_lane!(|i| if a.0[i] > b.0[i] { a.0[i] } else { b.0[i] })
    }
    #[inline(always)]
    fn min(a: Self, b: Self) -> Self {
        // The x86 rule: `b` unless `a < b`.
        per_lane!(|i| if a.0[i] < b.0[i] { a.0[i] } else { b.0[i] })
    }
    #[inline(always)]
    fn pow2_from_magic(t: Self) -> Self {
        per_lane!(|i| f32::from_bits(t.0[i].to_bits() << 23))
    }
    #[inline(always)]
    fn pow2_eighths(t: Self) -> Self {
        per_lane!(|i| {
            let b = t.0[i].to_bits();
            f32::from_bits(EIGHTHS[(b & 7) as usize].wrapping_add(b << 20))
        })
    }
    #[inline(always)]
    fn pick_ge(x: Self, lo: Self, a: Self, b: Self) -> Self {
        per_lane!(|i| if x.0[i] >= lo.0[i] { a.0[i] } else { b.0[i] })
    }
    #[inline(always)]
    fn add_ge(self, e: Self, x: Self, lo: Self) -> Self {
        per_lane!(|i| if x.0[i] >= lo.0[i] {
            self.0[i] + e.0[i]
        } else {
            self.0[i]
        })
    }
    #[inline(always)]
    fn zero_below(v: Self, x: Self, lo: Self) -> Self {
        per_lane!(|i| if x.0[i] < lo.0[i] { 0.0 } else { v.0[i] })
    }
    #[inline(always)]
    fn any_gt(a: Self, b: Self) -> bool {
        (a.0[0] > b.0[0]) | (a.0[1] > b.0[1]) | (a.0[2] > b.0[2]) | (a.0[3] > b.0[3])
    }
    #[inline(always)]
    fn order_key(self, low: u32, tag: u32) -> Self {
        per_lane!(|i| {
            let b = self.0[i].to_bits() as i32;
            // Negative values: `i32::MIN - bits`, the magnitude negated (`-0.0` gives 0).
            let o = if b < 0 { i32::MIN.wrapping_sub(b) } else { b } as u32;
            f32::from_bits((o & !low) | (tag & low))
        })
    }
    #[inline(always)]
    fn key_max(a: Self, b: Self) -> Self {
        per_lane!(|i| f32::from_bits((a.0[i].to_bits() as i32).max(b.0[i].to_bits() as i32) as u32))
    }
    #[inline(always)]
    fn key_min(a: Self, b: Self) -> Self {
        per_lane!(|i| f32::from_bits((a.0[i].to_bits() as i32).min(b.0[i].to_bits() as i32) as u32))
    }
    #[inline(always)]
    fn or_bits(a: Self, b: Self) -> Self {
        per_lane!(|i| f32::from_bits(a.0[i].to_bits() | b.0[i].to_bits()))
    }
    #[inline(always)]
    fn masked_xor(self, x: u32, mask: u32) -> Self {
        per_lane!(|i| f32::from_bits((self.0[i].to_bits() ^ x) & mask))
    }
    #[inline(always)]
    fn bits_eq_mask(a: Self, b: Self, ignore: u32) -> u32 {
        let bit = |l: usize| u32::from((a.0[l].to_bits() ^ b.0[l].to_bits()) & !ignore == 0) << l;
        bit(0) | bit(1) | bit(2) | bit(3)
    }
    #[inline(always)]
    unsafe fn gather_lanes(_t: Token<Self>, p: *const f32, at: Self) -> Self {
        // SAFETY: the caller guarantees every element is readable.
        per_lane!(|l| unsafe { *p.add(at.0[l].to_bits() as usize * N + l) })
    }
    #[inline(always)]
    fn gt_mask(a: Self, b: Self) -> u32 {
        let bit = |l: usize| u32::from(a.0[l] > b.0[l]) << l;
        bit(0) | bit(1) | bit(2) | bit(3)
    }
    #[inline(always)]
    fn below_or(a: Self, bound: Self, fill: Self) -> Self {
        per_lane!(|l| if a.0[l] < bound.0[l] {
            a.0[l]
        } else {
            fill.0[l]
        })
    }
    #[inline(always)]
    fn to_array(self, out: &mut [f32; 16]) {
        out[..N].copy_from_slice(&self.0);
    }

    type Wide = [f64; N];
    #[inline(always)]
    fn wide_zero(_t: Token<Self>) -> [f64; N] {
        [0.0; N]
    }
    #[inline(always)]
    fn wide_add(self, acc: [f64; N]) -> [f64; N] {
        [
            acc[0] + self.0[0] as f64,
            acc[1] + self.0[1] as f64,
            acc[2] + self.0[2] as f64,
            acc[3] + self.0[3] as f64,
        ]
    }
    #[inline(always)]
    fn wide_sum(a: [f64; N], b: [f64; N]) -> [f64; N] {
        [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
    }
    #[inline(always)]
    fn wide_mul_add(a: Self, b: Self, acc: [f64; N]) -> [f64; N] {
        let p = |i: usize| a.0[i] as f64 * b.0[i] as f64;
        [acc[0] + p(0), acc[1] + p(1), acc[2] + p(2), acc[3] + p(3)]
    }
    #[inline(always)]
    fn wide_scale(w: [f64; N], f: &[f64; 16]) -> [f64; N] {
        [w[0] * f[0], w[1] * f[1], w[2] * f[2], w[3] * f[3]]
    }
    #[inline(always)]
    fn wide_to_array(w: [f64; N], out: &mut [f64; 16]) {
        out[..N].copy_from_slice(&w);
    }
}

// Four vectors (16 floats) per iteration: independent chains for the compiler to interleave.
super::kernel_table!(crate::Isa::Scalar, Lanes, 4,);

/// This ISA's kernel table.
pub(crate) static KERNELS: crate::kernels::Kernels = TABLE;
