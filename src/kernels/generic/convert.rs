//! Rows converted between f32 and the 16-bit formats ([`Half`]): the kernel table's `widen`
//! and `narrow`, one [`walk`] each (full vectors, then one masked tail) whose loads or stores
//! convert in the register ([`Simd::load_half`], [`Simd::store_half`]).
//!
//! Every ISA gives the bits of the scalar functions of [`crate::kernels::convert`] for every
//! input (the tests below check all 65536 16-bit patterns and a sweep of f32 ones on each ISA
//! the CPU runs, and `simd`'s tests the vector methods with their tail fill).

use super::walk::{self, Body, Halves, One};
use crate::kernels::convert::Half;
use crate::kernels::generic::inputs::Plain;
use crate::kernels::simd::{Simd, Token};

/// The body that passes every vector through unchanged (the conversion is in the loads and
/// stores).
pub(crate) struct AsIs;

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
    unsafe {
        walk::map_to_half::<V, _, _, U, 0, false>(isa, &src, format, dst.as_mut_ptr(), &mut AsIs)
    }
}

#[cfg(test)]
mod tests {
    //! The kernel tables' `widen` and `narrow` of every ISA this CPU runs against the scalar
    //! reference of [`crate::kernels::convert`], bit for bit (NaNs included): every 16-bit
    //! pattern, f32 patterns at every boundary of both formats and a stride through all
    //! 2^32, and every length up to three AVX-512 vectors and one, at unaligned offsets, with
    //! guard values around the output.
    use crate::kernels::convert::{self, Half};
    use crate::kernels::Kernels;

    const FORMATS: [Half; 2] = [Half::F16, Half::Bf16];
    /// The most lanes of any ISA (AVX-512).
    const MAX_LANES: usize = 16;
    /// Written around the outputs; any change is a store out of bounds.
    const GUARD16: u16 = 0xdead;
    const GUARD32: u32 = 0xdead_beef;

    /// The tables of the ISAs this CPU runs; the others are named on stderr as skipped.
    fn tables() -> Vec<&'static Kernels> {
        crate::kernels::cpu_tables("conversions")
    }

    /// f32 patterns: around every boundary of both formats, every f16 and bf16 value and the
    /// midpoints to their neighbours (each +-1 ulp), NaNs with payloads, and a stride through
    /// all 2^32; both signs of each.
    fn f32_patterns() -> Vec<u32> {
        let edges = [
            0u32,
            1,           // the smallest f32 subnormal
            0x0000_8000, // f32 subnormals: bf16 ties at the smallest step, and larger
            0x0040_0000,
            0x007f_8000, // rounds to the smallest bf16 normal
            0x007f_ffff, // the largest f32 subnormal
            0x0080_0000, // the smallest f32 normal
            0x3300_0000, // 2^-25: half the smallest f16 subnormal
            0x3380_0000, // 2^-24: the smallest f16 subnormal
            0x387f_c000, // the largest f16 subnormal
            0x387f_e000, // halfway to 2^-14
            0x3880_0000, // 2^-14: the smallest f16 normal
            0x3f80_0000, // 1
            0x477f_e000, // 65504: the largest f16
            0x477f_f000, // 65520: halfway to 2^16, rounds to inf
            0x7f7f_0000, // the largest bf16
            0x7f7f_7fff, // just below halfway to inf in bf16
            0x7f7f_8000, // halfway to inf in bf16
            0x7f7f_ffff, // the largest f32
            0x7f80_0000, // infinity
            0x7f80_0001, // signalling NaNs, low and high payloads
            0x7f80_2000,
            0x7fa5_a5a5,
            0x7fbf_ffff,
            0x7fc0_0000, // quiet NaNs
            0x7fc0_0001,
            0x7fd2_3456,
            0x7fff_ffff,
        ];
        let mut p: Vec<u32> = edges
            .into_iter()
            .flat_map(|e| (0..64u32).map(move |d| e.wrapping_add(d).wrapping_sub(32)))
            .collect();
        for h in 0..=u16::MAX {
            // The f16 value, the midpoint to the next one up (in magnitude), and neighbours.
            let f = convert::f16_to_f32(h).to_bits();
            if h & 0x7c00 != 0x7c00 {
                let m = h & 0x7fff;
                // Past 65504 the next step up would be 65536.
                let next = if m == 0x7bff {
                    65536.0
                } else {
                    convert::f16_to_f32(m + 1)
                };
                let mid = ((convert::f16_to_f32(m) as f64 + next as f64) / 2.0) as f32;
                let mid = mid.to_bits() | (f & 0x8000_0000);
                p.extend([f, f.wrapping_sub(1), f + 1, mid, mid - 1, mid + 1]);
            }
            // The bf16 value, the midpoint (low half 0x8000) and neighbours.
            let b = u32::from(h) << 16;
            p.extend([
                b,
                b.wrapping_sub(1),
                b + 1,
                b + 0x7fff,
                b + 0x8000,
                b + 0x8001,
            ]);
        }
        p.extend((0..u32::MAX / 7919).map(|i| i.wrapping_mul(7919)));
        p.iter()
            .flat_map(|&b| [b & 0x7fff_ffff, b | 0x8000_0000])
            .collect()
    }

    /// `k.widen` of `src` read at element offset `so` of its buffer into an output at offset
    /// `o` of a guarded buffer, against the scalar reference.
    fn check_widen(k: &Kernels, format: Half, src: &[u16], so: usize, o: usize) {
        // Exactly sized, so an address sanitizer sees a read past the end.
        let mut input = vec![0x5555u16; so];
        input.extend_from_slice(src);
        let n = src.len();
        let mut out = vec![f32::from_bits(GUARD32); o + n + MAX_LANES];
        // SAFETY: the table is handed out by dispatch, so its ISA runs here.
        unsafe { (k.widen)(format, &input[so..], &mut out[o..o + n]) };
        let mut want = vec![0.0f32; n];
        convert::widen(format, src, &mut want);
        for (i, &v) in out.iter().enumerate() {
            let want = match i.checked_sub(o) {
                Some(j) if j < n => want[j].to_bits(),
                _ => GUARD32,
            };
            assert_eq!(
                v.to_bits(),
                want,
                "{} widen {format:?}: element {i} of {n} (input offset {so}, output offset {o}), \
                 input {:#06x}",
                k.isa.name(),
                i.checked_sub(o)
                    .and_then(|j| src.get(j))
                    .copied()
                    .unwrap_or(0),
            );
        }
    }

    /// `k.narrow` as [`check_widen`].
    fn check_narrow(k: &Kernels, format: Half, src: &[f32], so: usize, o: usize) {
        let mut input = vec![0.0f32; so];
        input.extend_from_slice(src);
        let n = src.len();
        let mut out = vec![GUARD16; o + n + MAX_LANES];
        // SAFETY: the table is handed out by dispatch, so its ISA runs here.
        unsafe { (k.narrow)(format, &input[so..], &mut out[o..o + n]) };
        let mut want = vec![0u16; n];
        convert::narrow(format, src, &mut want);
        for (i, &v) in out.iter().enumerate() {
            let want = match i.checked_sub(o) {
                Some(j) if j < n => want[j],
                _ => GUARD16,
            };
            assert_eq!(
                v,
                want,
                "{} narrow {format:?}: element {i} of {n} (input offset {so}, output offset {o}), \
                 input {:#010x}",
                k.isa.name(),
                i.checked_sub(o)
                    .and_then(|j| src.get(j))
                    .map_or(0, |x| x.to_bits()),
            );
        }
    }

    #[test]
    fn widen_every_pattern_on_every_isa() {
        let all: Vec<u16> = (0..=u16::MAX).collect();
        for k in tables() {
            for format in FORMATS {
                check_widen(k, format, &all, 0, 0);
                check_widen(k, format, &all, 1, 3);
            }
        }
    }

    #[test]
    fn narrow_boundaries_and_a_stride_on_every_isa() {
        let all: Vec<f32> = f32_patterns().into_iter().map(f32::from_bits).collect();
        for k in tables() {
            for format in FORMATS {
                check_narrow(k, format, &all, 0, 0);
                check_narrow(k, format, &all, 3, 1);
            }
        }
    }

    #[test]
    fn every_length_and_offset_on_every_isa() {
        // Windows of the patterns, so that every lane position of the tails sees NaNs,
        // subnormals and ties.
        let halves: Vec<u16> = (0..=u16::MAX).collect();
        let floats: Vec<f32> = f32_patterns()
            .into_iter()
            .step_by(61)
            .map(f32::from_bits)
            .collect();
        for k in tables() {
            for format in FORMATS {
                for n in 0..=3 * MAX_LANES + 1 {
                    for off in 0..4 {
                        let (so, o) = (off, (off * 3) % 4);
                        let mut start = n * 97 + off;
                        while start + n <= halves.len() {
                            check_widen(k, format, &halves[start..start + n], so, o);
                            start += 4099;
                        }
                        let mut start = n * 89 + off;
                        while start + n <= floats.len() {
                            check_narrow(k, format, &floats[start..start + n], so, o);
                            start += 1021;
                        }
                    }
                }
            }
        }
    }
}
