//! The vector abstraction every ISA implements.
//!
//! The algorithms in [`super::generic`] are written once against [`Simd`]; each ISA folder
//! implements it with its own intrinsics and instantiates the algorithms from one
//! `#[target_feature]` entry point per operation (see [`super::kernel_table`]). Every method is
//! `#[inline(always)]` so the whole kernel is compiled inside that entry point with the ISA's
//! features enabled.

/// One SIMD register of `f32` lanes.
///
/// # Safety
///
/// Every method executes instructions of the implementing ISA. Callers must only use an
/// implementation on a CPU that has that ISA (the dispatcher checks this once, before any
/// kernel of the ISA is reachable). Pointer arguments carry the usual validity contract
/// spelled out on each method.
pub(crate) unsafe trait Simd: Copy {
    /// Number of `f32` lanes.
    const LANES: usize;

    /// A vector with every lane set to `v`.
    unsafe fn splat(v: f32) -> Self;
    /// Loads `LANES` values from `p` (no alignment needed).
    unsafe fn load(p: *const f32) -> Self;
    /// Loads the first `n < LANES` values from `p` and sets the other lanes to `fill`.
    /// Never touches memory past `p + n`.
    unsafe fn load_tail(p: *const f32, n: usize, fill: f32) -> Self;
    /// Stores all lanes to `p` (no alignment needed).
    unsafe fn store(self, p: *mut f32);
    /// Stores the first `n < LANES` lanes to `p`; memory past `p + n` is untouched.
    unsafe fn store_tail(self, p: *mut f32, n: usize);
    /// Non-temporal store of all lanes; `p` must be aligned to `LANES * 4` bytes.
    /// Implementations without such stores use a plain store.
    unsafe fn stream(self, p: *mut f32);
    /// Orders earlier non-temporal stores before later stores (a no-op where `stream` is a
    /// plain store).
    unsafe fn stream_fence();
    /// Hints that the cache line holding `p` will be read soon. `p` need not be valid.
    unsafe fn prefetch(p: *const f32);

    /// Lane-wise `a + b`.
    unsafe fn add(self, b: Self) -> Self;
    /// Lane-wise `a - b`.
    unsafe fn sub(self, b: Self) -> Self;
    /// Lane-wise `a * b`.
    unsafe fn mul(self, b: Self) -> Self;
    /// Lane-wise fused `a * b + c`, rounded once.
    unsafe fn fma(a: Self, b: Self, c: Self) -> Self;
    /// Lane-wise maximum. When `b` is NaN the lane is NaN; when only `a` is NaN the lane may
    /// be either value (x86 returns `b`, NEON returns NaN). Kernels clamp with
    /// `max(bound, x)` so a NaN input stays NaN.
    unsafe fn max(a: Self, b: Self) -> Self;
    /// Lane-wise minimum, with the NaN rule of [`Simd::max`].
    unsafe fn min(a: Self, b: Self) -> Self;
    /// The exponent-field trick: reinterprets `t` as integers, shifts each left by 23 bits
    /// and reinterprets the result as `f32`. For `t = 1.5 * 2^23 + 127 + k` with integer
    /// `k` in `[-127, 128]` this is exactly `2^k` (and `0.0` for `k = -127`).
    unsafe fn pow2_from_magic(t: Self) -> Self;
    /// Whether `a > b` in any lane (false for NaN lanes).
    unsafe fn any_gt(a: Self, b: Self) -> bool;
    /// Writes the lanes to `out[..LANES]`.
    unsafe fn to_array(self, out: &mut [f32; 16]);

    /// Horizontal maximum (NaN lanes may or may not win).
    #[inline(always)]
    unsafe fn reduce_max(self) -> f32 {
        let mut a = [0.0f32; 16];
        self.to_array(&mut a);
        let mut m = a[0];
        for &v in &a[1..Self::LANES] {
            m = if m > v { m } else { v };
        }
        m
    }

    /// Horizontal sum, accumulated in `f64`.
    #[inline(always)]
    unsafe fn reduce_add(self) -> f64 {
        let mut a = [0.0f32; 16];
        self.to_array(&mut a);
        a[..Self::LANES].iter().map(|&v| v as f64).sum()
    }
}
