//! The 16-bit element types of the C ABI, `softmax_f16_t` (IEEE binary16) and `softmax_bf16_t`
//! (bfloat16), as their bits. The `_f16` and `_bf16` functions that take rows of them are in
//! `half_forward` and `half_training`.

/// IEEE 754 binary16 ("half precision"), as its 16 bits: 1 sign, 5 exponent and 10 fraction
/// bits; 11 significant bits, largest finite value 65504, smallest normal `2^-14` (6.1e-5),
/// smallest subnormal `2^-24` (6.0e-8).
///
/// Each `_f16` function (`softmax_f16`, `softmax_rows_f16_ex`, `softmax_cross_entropy_f16`,
/// ...) is the `_f32` function of the same name with its `float` rows replaced by rows of
/// `softmax_f16_t`: the same parameters, argument rules, in-place and overlap rules, flags,
/// threads and status codes, with elements of 2 bytes (pointers aligned to 2 bytes, arrays of
/// at most `PTRDIFF_MAX` bytes; strides and extents count elements). Log-sum-exp results,
/// losses, scales and label smoothing stay `float`.
///
/// Arithmetic is f32: a row is widened to `float` (exactly), the `_f32` operation runs on it,
/// and each output is rounded to binary16 once, to nearest with ties to even: a NaN stays a
/// NaN (made quiet), results of magnitude 65520 and above become infinities (a log-softmax
/// output below -65504 can be `-inf`), and results of magnitude at most `2^-25` (half the
/// smallest subnormal) become zeros of their sign (softmax outputs below about 3e-8 are 0).
/// So a result is the `_f32` result of the widened row, rounded: the special values of the
/// `_f32` function, its accuracy plus half a unit in the last place of binary16 (a relative
/// `2^-11` for normal results), and the same bits for every thread count.
///
/// `_Float16` (C23, GCC and Clang on x86_64 and aarch64), `__fp16` and C++23 `std::float16_t`
/// have this representation: a pointer to an array of them may be passed cast to
/// `softmax_f16_t *`.
#[allow(non_camel_case_types)]
pub type softmax_f16_t = u16;

/// bfloat16, as its 16 bits: the upper half of an IEEE 754 binary32 `float` (1 sign,
/// 8 exponent and 7 fraction bits), so the range of `float` (largest finite value about
/// 3.39e38, smallest normal `2^-126`, smallest subnormal `2^-133`) with 8 significant bits.
///
/// Each `_bf16` function (`softmax_bf16`, `softmax_rows_bf16_ex`,
/// `softmax_cross_entropy_bf16`, ...) is the `_f32` function of the same name with its
/// `float` rows replaced by rows of `softmax_bf16_t`, as the `_f16` functions are for
/// `softmax_f16_t`: the same rules and status codes, elements of 2 bytes, and `float`
/// log-sum-exp results, losses, scales and label smoothing.
///
/// Arithmetic is f32: a row is widened to `float` (exactly: the bits shifted up by 16), the
/// `_f32` operation runs on it, and each output is rounded to bfloat16 once, to nearest with
/// ties to even: a NaN stays a NaN (made quiet), results at least half a unit in the last
/// place beyond the largest finite value become infinities, and results of magnitude at most
/// `2^-134` become zeros of their sign. A result is the `_f32` result of the widened row,
/// rounded: the special values of the `_f32` function, its accuracy plus half a unit in the
/// last place of bfloat16 (a relative `2^-8` for normal results), and the same bits for every
/// thread count.
///
/// `__bf16` (GCC and Clang) and C++23 `std::bfloat16_t` have this representation: a pointer
/// to an array of them may be passed cast to `softmax_bf16_t *`. By hand, the `float` with bits
/// `b` (not a NaN) rounds to `(b + 0x7fff + ((b >> 16) & 1)) >> 16`, and `h` widens to the
/// `float` with bits `(uint32_t)h << 16`.
#[allow(non_camel_case_types)]
pub type softmax_bf16_t = u16;
