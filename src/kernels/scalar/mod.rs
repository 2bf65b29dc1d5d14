//! The portable kernels: the generic algorithms over a one-lane "vector" of plain `f32`.
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

use super::simd::Simd;

/// One `f32` lane.
#[derive(Clone, Copy)]
pub(crate) struct Lane(f32);

// SAFETY: plain scalar arithmetic, available on every CPU; pointer methods document their
// contracts on the trait.
unsafe impl Simd for Lane {
    const LANES: usize = 1;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Lane(v)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Lane(p.read())
    }
    #[inline(always)]
    unsafe fn load_tail(_p: *const f32, _n: usize, fill: f32) -> Self {
        // n < LANES = 1, so no element is read.
        Lane(fill)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        p.write(self.0)
    }
    #[inline(always)]
    unsafe fn store_tail(self, _p: *mut f32, _n: usize) {}
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32) {
        p.write(self.0)
    }
    #[inline(always)]
    unsafe fn stream_fence() {}
    #[inline(always)]
    unsafe fn prefetch(_p: *const f32) {}
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Lane(self.0 + b.0)
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Lane(self.0 - b.0)
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Lane(self.0 * b.0)
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        Lane((a.0 as f64 * b.0 as f64 + c.0 as f64) as f32)
    }
    #[inline(always)]
    unsafe fn max(a: Self, b: Self) -> Self {
        // The x86 rule: `b` unless `a > b` (so a NaN `b` is kept).
        if a.0 > b.0 {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    unsafe fn min(a: Self, b: Self) -> Self {
        // The x86 rule: `b` unless `a < b`.
        if a.0 < b.0 {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    unsafe fn pow2_from_magic(t: Self) -> Self {
        Lane(f32::from_bits(t.0.to_bits() << 23))
    }
    #[inline(always)]
    unsafe fn to_array(self, out: &mut [f32; 16]) {
        out[0] = self.0;
    }
}

// Four independent lanes per iteration hide the latency of the dependent chains.
super::kernel_table!(crate::Isa::Scalar, Lane, 4,);
