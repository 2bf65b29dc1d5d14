//! The element types rows can hold: `f32`, and the 16-bit storage formats IEEE binary16
//! ([`f16`](struct@f16)) and bfloat16 ([`bf16`](struct@bf16)) of the `half` crate.
//!
//! Every operation computes in f32 whatever the storage: 16-bit rows are widened to f32
//! (exactly), run through the f32 kernels, and their outputs rounded to the format (nearest,
//! ties to even), so a 16-bit result is the f32 result of the widened input, rounded once.
//! Log-sum-exp values and losses are always `f32`.

pub use half::{bf16, f16};

use crate::kernels::convert::Half;

/// A type the operations accept for rows: `f32`, [`f16`](struct@f16) or [`bf16`](struct@bf16) (sealed: no other type
/// can implement it).
///
/// ```
/// use softmax::bf16;
/// let x = [1.0f32, 2.0, 3.0].map(bf16::from_f32);
/// let mut y = [bf16::ZERO; 3];
/// softmax::softmax(&x, &mut y).unwrap();
/// // softmax([1, 2, 3]) = [0.0900306, 0.2447285, 0.6652410], rounded to bf16:
/// assert_eq!(y.map(bf16::to_f32), [0.089_843_75, 0.245_117_19, 0.664_062_5]);
/// ```
pub trait Element:
    sealed::Sealed + Copy + Default + PartialEq + std::fmt::Debug + Send + Sync + 'static
{
    /// The format's name: `"f32"`, `"f16"` or `"bf16"`.
    const NAME: &'static str;
    /// The value as f32 (exact).
    fn to_f32(self) -> f32;
    /// The value of the format nearest to `v` (ties to even; NaN stays NaN).
    fn from_f32(v: f32) -> Self;
}

/// Rows of some element type, as the kernels see them.
pub(crate) enum Data<'a> {
    F32(&'a [f32]),
    Half(Half, &'a [u16]),
}

/// Writable rows of some element type.
pub(crate) enum DataMut<'a> {
    F32(&'a mut [f32]),
    Half(Half, &'a mut [u16]),
}

pub(crate) mod sealed {
    use super::{Data, DataMut};

    /// The views that let the crate run one type's rows; implemented for the three element
    /// types only.
    pub trait Sealed: Sized {
        /// The rows as f32 or as 16-bit patterns.
        #[allow(private_interfaces)]
        fn data(x: &[Self]) -> Data<'_>;
        /// The writable rows as f32 or as 16-bit patterns.
        #[allow(private_interfaces)]
        fn data_mut(x: &mut [Self]) -> DataMut<'_>;
    }
}

impl sealed::Sealed for f32 {
    #[allow(private_interfaces)]
    fn data(x: &[f32]) -> Data<'_> {
        Data::F32(x)
    }
    #[allow(private_interfaces)]
    fn data_mut(x: &mut [f32]) -> DataMut<'_> {
        DataMut::F32(x)
    }
}

impl Element for f32 {
    const NAME: &'static str = "f32";
    fn to_f32(self) -> f32 {
        self
    }
    fn from_f32(v: f32) -> f32 {
        v
    }
}

macro_rules! half_element {
    ($t:ty, $format:expr, $name:literal, $narrow:path) => {
        impl sealed::Sealed for $t {
            #[allow(private_interfaces)]
            fn data(x: &[$t]) -> Data<'_> {
                use half::slice::HalfFloatSliceExt;
                Data::Half($format, x.reinterpret_cast())
            }
            #[allow(private_interfaces)]
            fn data_mut(x: &mut [$t]) -> DataMut<'_> {
                use half::slice::HalfFloatSliceExt;
                DataMut::Half($format, x.reinterpret_cast_mut())
            }
        }

        impl Element for $t {
            const NAME: &'static str = $name;
            fn to_f32(self) -> f32 {
                <$t>::to_f32(self)
            }
            fn from_f32(v: f32) -> $t {
                // The crate's own rounding: the same bits as its kernels give.
                <$t>::from_bits($narrow(v))
            }
        }
    };
}

half_element!(f16, Half::F16, "f16", crate::kernels::convert::f32_to_f16);
half_element!(
    bf16,
    Half::Bf16,
    "bf16",
    crate::kernels::convert::f32_to_bf16
);
