//! Rows converted between f32 and the 16-bit formats ([`Half`]): the kernel table's `widen`
//! and `narrow`, one [`walk`] each (full vectors, then one masked tail) whose loads or stores
//! convert in the register ([`Simd::load_half`], [`Simd::store_half`]).
//!
//! Every ISA gives the bits of the scalar functions of [`crate::kernels::convert`] for every
//! input (the tests below check all 65536 16-bit patterns and a sweep of f32 ones on each ISA
//! the CPU runs).

use super::walk::{self, Body, Halves, One};
use crate::kernels::convert::Half;
use crate::kernels::generic::inputs::Plain;
use crate::kernels::simd::{Simd, Token};

/// The body that passes every vector through unchanged (the conversion is in the loads and
/// stores).
struct AsIs;

impl<V: Simd> Body<V, V> for AsIs {
    #[inline(always)]
    fn take(&mut self, _j: usize, _i: usize, v: V) -> V {
        v
    }
}

/// `dst[i] = src[i]` widened from `format` to f32 (exact).
///
/// Panics when the lengths differ.
#[inline(always)]
pub(crate) fn widen<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    src: &[u16],
    dst: &mut [f32],
) {
    assert_eq!(src.len(), dst.len());
    // One instantiation per format: `format` is a constant inside each.
    match format {
        Half::F16 => widen_as::<V, U>(isa, Half::F16, src, dst),
        Half::Bf16 => widen_as::<V, U>(isa, Half::Bf16, src, dst),
    }
}

#[inline(always)]
fn widen_as<V: Simd, const U: usize>(isa: Token<V>, format: Half, src: &[u16], dst: &mut [f32]) {
    let src = Halves::new(src, format, 0.0);
    // SAFETY: `dst` holds `src.len()` values and, a `&mut`, does not overlap `src`.
    unsafe { walk::map::<V, _, _, U, 0, false>(isa, &src, dst.as_mut_ptr(), &mut AsIs) }
}

/// `dst[i] = src[i]` rounded to `format` (nearest, ties to even).
///
/// Panics when the lengths differ.
#[inline(always)]
pub(crate) fn narrow<V: Simd, const U: usize>(
    isa: Token<V>,
    format: Half,
    src: &[f32],
    dst: &mut [u16],
) {
    assert_eq!(src.len(), dst.len());
    // One instantiation per format: `format` is a constant inside each.
    match format {
        Half::F16 => narrow_as::<V, U>(isa, Half::F16, src, dst),
        Half::Bf16 => narrow_as::<V, U>(isa, Half::Bf16, src, dst),
    }
}

#[inline(always)]
fn narrow_as<V: Simd, const U: usize>(isa: Token<V>, format: Half, src: &[f32], dst: &mut [u16]) {
    let src = One::new(&Plain, src, 0.0);
    // SAFETY: `dst` holds `src.len()` values and, a `&mut`, does not overlap `src`.
    unsafe { walk::map_to_half::<V, _, _, U, 0>(isa, &src, format, dst.as_mut_ptr(), &mut AsIs) }
}
