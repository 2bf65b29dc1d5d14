//! How a kernel reads its input: as stored ([`Plain`]), multiplied by a factor ([`Scaled`],
//! softmax with a temperature) or minus a constant ([`Offset`]), fused into the loads so no
//! extra pass exists.

use crate::kernels::simd::{Simd, Token};

/// A transform of the inputs, applied as they are loaded.
pub(crate) trait Input<V>: Copy {
    /// `LANES` inputs at `p`.
    ///
    /// # Safety
    /// `p..p + LANES` is readable.
    unsafe fn load(&self, isa: Token<V>, p: *const f32) -> V;
    /// The first `n < LANES` inputs at `p`; the other lanes read as `fill` (after the
    /// transform).
    ///
    /// # Safety
    /// `p..p + n` is readable.
    unsafe fn load_tail(&self, isa: Token<V>, p: *const f32, n: usize, fill: f32) -> V;
    /// One input, for the portable special-value scans.
    fn value(&self, x: f32) -> f32;
}

/// Inputs as stored.
#[derive(Clone, Copy)]
pub(crate) struct Plain;

impl<V: Simd> Input<V> for Plain {
    #[inline(always)]
    unsafe fn load(&self, isa: Token<V>, p: *const f32) -> V {
        // SAFETY: the caller's contract.
        unsafe { V::load(isa, p) }
    }
    #[inline(always)]
    unsafe fn load_tail(&self, isa: Token<V>, p: *const f32, n: usize, fill: f32) -> V {
        // SAFETY: the caller's contract.
        unsafe { V::load_tail(isa, p, n, fill) }
    }
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        x
    }
}

/// Inputs multiplied by a finite, non-zero factor.
#[derive(Clone, Copy)]
pub(crate) struct Scaled<V> {
    v: V,
    s: f32,
}

impl<V: Simd> Scaled<V> {
    /// Inputs times `s` (finite and non-zero).
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, s: f32) -> Self {
        Scaled {
            v: V::splat(isa, s),
            s,
        }
    }
}

impl<V: Simd> Input<V> for Scaled<V> {
    #[inline(always)]
    unsafe fn load(&self, isa: Token<V>, p: *const f32) -> V {
        // SAFETY: the caller's contract.
        unsafe { V::load(isa, p) }.mul(self.v)
    }
    #[inline(always)]
    unsafe fn load_tail(&self, isa: Token<V>, p: *const f32, n: usize, fill: f32) -> V {
        // fill / s * s == fill for fill in {0, -inf} and any finite non-zero s.
        // SAFETY: the caller's contract.
        unsafe { V::load_tail(isa, p, n, fill / self.s) }.mul(self.v)
    }
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        x * self.s
    }
}

/// Inputs minus a finite constant (sums of logits without cancellation).
#[derive(Clone, Copy)]
pub(crate) struct Offset<V> {
    v: V,
    c: f32,
}

impl<V: Simd> Offset<V> {
    /// Inputs minus `c` (finite).
    #[inline(always)]
    pub(crate) fn new(isa: Token<V>, c: f32) -> Self {
        Offset {
            v: V::splat(isa, c),
            c,
        }
    }
}

impl<V: Simd> Input<V> for Offset<V> {
    #[inline(always)]
    unsafe fn load(&self, isa: Token<V>, p: *const f32) -> V {
        // SAFETY: the caller's contract.
        unsafe { V::load(isa, p) }.sub(self.v)
    }
    #[inline(always)]
    unsafe fn load_tail(&self, isa: Token<V>, p: *const f32, n: usize, fill: f32) -> V {
        // SAFETY: the caller's contract.
        unsafe { V::load_tail(isa, p, n, fill + self.c) }.sub(self.v)
    }
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        x - self.c
    }
}
