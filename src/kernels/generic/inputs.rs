//! How a kernel reads its input: as stored ([`Plain`]), multiplied by a factor ([`Scaled`],
//! softmax with a temperature) or minus a constant ([`Offset`]), fused into the loads so no
//! extra pass exists.

use crate::kernels::simd::{Simd, Token};

/// A transform of the inputs, applied as they are loaded.
pub(crate) trait Input<V: Simd>: Copy {
    /// The transform of loaded lanes.
    fn apply(&self, v: V) -> V;
    /// The stored value that [`Input::apply`] maps to `fill` (`0` or `-inf`), for the lanes
    /// past a row's end.
    fn stored_fill(&self, fill: f32) -> f32;
    /// One input, for the portable special-value scans.
    fn value(&self, x: f32) -> f32;
    /// `LANES` inputs at `p`.
    ///
    /// # Safety
    /// `p..p + LANES` is readable.
    #[inline(always)]
    unsafe fn load(&self, isa: Token<V>, p: *const f32) -> V {
        // SAFETY: the caller's contract.
        self.apply(unsafe { V::load(isa, p) })
    }
    /// The first `n < LANES` inputs at `p`; the other lanes read as `fill` (after the
    /// transform).
    ///
    /// # Safety
    /// `p..p + n` is readable.
    #[inline(always)]
    unsafe fn load_tail(&self, isa: Token<V>, p: *const f32, n: usize, fill: f32) -> V {
        // SAFETY: the caller's contract.
        self.apply(unsafe { V::load_tail(isa, p, n, self.stored_fill(fill)) })
    }
}

/// Inputs as stored.
#[derive(Clone, Copy)]
pub(crate) struct Plain;

impl<V: Simd> Input<V> for Plain {
    #[inline(always)]
    fn apply(&self, v: V) -> V {
        v
    }
    #[inline(always)]
    fn stored_fill(&self, fill: f32) -> f32 {
        fill
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
    fn apply(&self, v: V) -> V {
        v.mul(self.v)
    }
    #[inline(always)]
    fn stored_fill(&self, fill: f32) -> f32 {
        // fill / s * s == fill for fill in {0, -inf} and any finite non-zero s.
        fill / self.s
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
    fn apply(&self, v: V) -> V {
        v.sub(self.v)
    }
    #[inline(always)]
    fn stored_fill(&self, fill: f32) -> f32 {
        fill + self.c
    }
    #[inline(always)]
    fn value(&self, x: f32) -> f32 {
        x - self.c
    }
}
