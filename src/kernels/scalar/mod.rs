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

use super::simd::Simd;

/// Lanes per portable vector.
const N: usize = 4;

/// Four `f32` lanes.
#[derive(Clone, Copy)]
pub(crate) struct Lanes([f32; N]);

impl Lanes {
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        Lanes(self.0.map(f))
    }
    #[inline(always)]
    fn zip(self, b: Self, f: impl Fn(f32, f32) -> f32) -> Self {
        let mut out = self.0;
        for (o, &v) in out.iter_mut().zip(&b.0) {
            *o = f(*o, v);
        }
        Lanes(out)
    }
}

// SAFETY: plain scalar arithmetic, available on every CPU; pointer methods follow the trait's
// contracts (`load`/`store` touch exactly `LANES` elements, the tail forms only `n`).
unsafe impl Simd for Lanes {
    const LANES: usize = N;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Lanes([v; N])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Lanes(p.cast::<[f32; N]>().read_unaligned())
    }
    #[inline(always)]
    unsafe fn load_tail(p: *const f32, n: usize, fill: f32) -> Self {
        let mut v = [fill; N];
        for (i, lane) in v.iter_mut().enumerate().take(n) {
            *lane = p.add(i).read();
        }
        Lanes(v)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        p.cast::<[f32; N]>().write_unaligned(self.0)
    }
    #[inline(always)]
    unsafe fn store_tail(self, p: *mut f32, n: usize) {
        for (i, &v) in self.0.iter().enumerate().take(n) {
            p.add(i).write(v);
        }
    }
    #[inline(always)]
    unsafe fn stream(self, p: *mut f32) {
        self.store(p)
    }
    #[inline(always)]
    unsafe fn stream_fence() {}
    #[inline(always)]
    unsafe fn prefetch(_p: *const f32) {}
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        self.zip(b, |x, y| x + y)
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        self.zip(b, |x, y| x - y)
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        self.zip(b, |x, y| x * y)
    }
    #[inline(always)]
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self {
        let mut out = c.0;
        for ((o, &x), &y) in out.iter_mut().zip(&a.0).zip(&b.0) {
            *o = (x as f64 * y as f64 + *o as f64) as f32;
        }
        Lanes(out)
    }
    #[inline(always)]
    unsafe fn max(a: Self, b: Self) -> Self {
        // The x86 rule: `b` unless `a > b` (so a NaN `b` is kept).
        a.zip(b, |x, y| if x > y { x } else { y })
    }
    #[inline(always)]
    unsafe fn min(a: Self, b: Self) -> Self {
        // The x86 rule: `b` unless `a < b`.
        a.zip(b, |x, y| if x < y { x } else { y })
    }
    #[inline(always)]
    unsafe fn pow2_from_magic(t: Self) -> Self {
        t.map(|v| f32::from_bits(v.to_bits() << 23))
    }
    #[inline(always)]
    unsafe fn to_array(self, out: &mut [f32; 16]) {
        out[..N].copy_from_slice(&self.0);
    }
}

// Four vectors (16 floats) per iteration: independent chains for the compiler to interleave.
super::kernel_table!(crate::Isa::Scalar, Lanes, 4,);
