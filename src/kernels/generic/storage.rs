//! How the rows of the short-row kernels are stored: as f32 ([`AsF32`]), or in a 16-bit
//! format converted in the registers ([`AsHalf`]), so a batch of short 16-bit rows is read
//! and written once, with no f32 copy of it in memory.
//!
//! The conversions are exact widening and the rounding of [`Simd::store_half`], so a kernel
//! gives on 16-bit rows the bits of widening them, running the f32 kernel and rounding its
//! output.

use super::short::SHORT_VECS;
use crate::kernels::convert::Half;
use crate::kernels::simd::{Simd, Token};
use crate::rows::InOut;

/// The element type of a storage.
pub(crate) trait Stored: Copy {
    /// `f32`, or `u16` for the bits of a 16-bit format.
    type T: Copy;
    /// Whether stores round to a 16-bit format (which rounds every value within a few f32
    /// ULPs above 1 to 1: see `passes::Times`).
    const NARROWS: bool;
}

/// Loads and stores of rows held in a storage, converting to and from f32 lanes.
pub(crate) trait Storage<V: Simd>: Stored {
    /// `LANES` elements at `p`, as f32.
    ///
    /// # Safety
    /// `p..p + LANES` is readable.
    unsafe fn load(self, isa: Token<V>, p: *const Self::T) -> V;
    /// The first `n < LANES` elements at `p`, the other lanes `fill`.
    ///
    /// # Safety
    /// `p..p + n` is readable.
    unsafe fn load_tail(self, isa: Token<V>, p: *const Self::T, n: usize, fill: f32) -> V;
    /// Stores the lanes to `p` (rounded to the format).
    ///
    /// # Safety
    /// `p..p + LANES` is writable.
    unsafe fn store(self, v: V, p: *mut Self::T);
    /// Stores the first `n < LANES` lanes to `p` (rounded to the format).
    ///
    /// # Safety
    /// `p..p + n` is writable.
    unsafe fn store_tail(self, v: V, p: *mut Self::T, n: usize);
    /// [`Storage::store`] of lanes that hold no NaN (the caller knows): the same bits, with
    /// the NaN step of the rounding left out where it has one.
    ///
    /// # Safety
    /// `p..p + LANES` is writable.
    #[inline(always)]
    unsafe fn store_no_nan(self, v: V, p: *mut Self::T) {
        // SAFETY: the caller's contract.
        unsafe { self.store(v, p) }
    }
    /// Runs an f32 one-row operation on the short row `(x, y, n)` (the special-value rules):
    /// on the row itself for f32, through an f32 copy on the stack for 16-bit rows (widened,
    /// the operation in place, rounded into `y`).
    ///
    /// # Safety
    /// `x` is readable and `y` writable for `n <= SHORT_VECS * LANES` elements, `y` equal to
    /// `x` or disjoint from it.
    unsafe fn with_row(
        self,
        isa: Token<V>,
        row: (*const Self::T, *mut Self::T, usize),
        f: impl FnOnce(InOut<'_>),
    );
    /// Runs an f32 read-only operation on the short row `x` of `n` elements, as
    /// [`Storage::with_row`].
    ///
    /// # Safety
    /// `x` is readable for `n <= SHORT_VECS * LANES` elements.
    unsafe fn with_input<R>(
        self,
        isa: Token<V>,
        x: *const Self::T,
        n: usize,
        f: impl FnOnce(&[f32]) -> R,
    ) -> R;
}

/// Rows of f32.
#[derive(Clone, Copy)]
pub(crate) struct AsF32;

impl Stored for AsF32 {
    type T = f32;
    const NARROWS: bool = false;
}

impl<V: Simd> Storage<V> for AsF32 {
    #[inline(always)]
    unsafe fn load(self, isa: Token<V>, p: *const f32) -> V {
        // SAFETY: the caller's contract.
        unsafe { V::load(isa, p) }
    }
    #[inline(always)]
    unsafe fn load_tail(self, isa: Token<V>, p: *const f32, n: usize, fill: f32) -> V {
        // SAFETY: the caller's contract.
        unsafe { V::load_tail(isa, p, n, fill) }
    }
    #[inline(always)]
    unsafe fn store(self, v: V, p: *mut f32) {
        // SAFETY: the caller's contract.
        unsafe { v.store(p) }
    }
    #[inline(always)]
    unsafe fn store_tail(self, v: V, p: *mut f32, n: usize) {
        // SAFETY: the caller's contract.
        unsafe { v.store_tail(p, n) }
    }
    #[inline(always)]
    unsafe fn with_row(
        self,
        _isa: Token<V>,
        (x, y, n): (*const f32, *mut f32, usize),
        f: impl FnOnce(InOut<'_>),
    ) {
        // SAFETY: the caller's contract is `InOut`'s.
        f(unsafe { InOut::from_raw(x, y, n) })
    }
    #[inline(always)]
    unsafe fn with_input<R>(
        self,
        _isa: Token<V>,
        x: *const f32,
        n: usize,
        f: impl FnOnce(&[f32]) -> R,
    ) -> R {
        if n == 0 {
            return f(&[]);
        }
        // SAFETY: `x` is readable for `n > 0` elements (the contract), hence non-null.
        f(unsafe { std::slice::from_raw_parts(x, n) })
    }
}

/// Rows of a 16-bit format (its bits as `u16`).
#[derive(Clone, Copy)]
pub(crate) struct AsHalf(pub Half);

impl Stored for AsHalf {
    type T = u16;
    const NARROWS: bool = true;
}

/// The most elements of a short row on any ISA (16 lanes at most).
const ROW_MAX: usize = SHORT_VECS * 16;

impl AsHalf {
    /// The row `x` of `n <= ROW_MAX` elements widened into `buf`.
    ///
    /// # Safety
    /// `x` is readable for `n` elements.
    #[inline(always)]
    unsafe fn widen<V: Simd>(self, isa: Token<V>, x: *const u16, n: usize, buf: &mut [f32]) {
        debug_assert!(n <= ROW_MAX && n <= buf.len());
        let l = V::LANES;
        let mut i = 0;
        while i < n {
            // SAFETY: `i < n`: a full vector inside the row (and `buf`), or its last `n - i`
            // elements.
            unsafe {
                if i + l <= n {
                    V::load_half(isa, self.0, x.add(i)).store(buf.as_mut_ptr().add(i));
                } else {
                    V::load_half_tail(isa, self.0, x.add(i), n - i, 0.0)
                        .store_tail(buf.as_mut_ptr().add(i), n - i);
                }
            }
            i += l;
        }
    }
}

impl<V: Simd> Storage<V> for AsHalf {
    #[inline(always)]
    unsafe fn load(self, isa: Token<V>, p: *const u16) -> V {
        // SAFETY: the caller's contract.
        unsafe { V::load_half(isa, self.0, p) }
    }
    #[inline(always)]
    unsafe fn load_tail(self, isa: Token<V>, p: *const u16, n: usize, fill: f32) -> V {
        // SAFETY: the caller's contract.
        unsafe { V::load_half_tail(isa, self.0, p, n, fill) }
    }
    #[inline(always)]
    unsafe fn store(self, v: V, p: *mut u16) {
        // SAFETY: the caller's contract.
        unsafe { v.store_half(self.0, p) }
    }
    #[inline(always)]
    unsafe fn store_tail(self, v: V, p: *mut u16, n: usize) {
        // SAFETY: the caller's contract.
        unsafe { v.store_half_tail(self.0, p, n) }
    }
    #[inline(always)]
    unsafe fn store_no_nan(self, v: V, p: *mut u16) {
        // SAFETY: the caller's contract.
        unsafe { v.store_half_no_nan(self.0, p) }
    }
    #[inline(always)]
    unsafe fn with_row(
        self,
        isa: Token<V>,
        (x, y, n): (*const u16, *mut u16, usize),
        f: impl FnOnce(InOut<'_>),
    ) {
        assert!(n <= ROW_MAX);
        let mut buf = [0.0f32; ROW_MAX];
        let buf = &mut buf[..n];
        // SAFETY: `x` is readable for `n` elements (the contract).
        unsafe { self.widen(isa, x, n, buf) };
        f(InOut::in_place(buf));
        let l = V::LANES;
        let mut i = 0;
        while i < n {
            // SAFETY: `i < n`: a full vector inside `buf` and the output row (writable for
            // `n`, the contract), or their last `n - i` elements. The input was read above.
            unsafe {
                if i + l <= n {
                    self.store(V::load(isa, buf.as_ptr().add(i)), y.add(i));
                } else {
                    let v = V::load_tail(isa, buf.as_ptr().add(i), n - i, 0.0);
                    self.store_tail(v, y.add(i), n - i);
                }
            }
            i += l;
        }
    }
    #[inline(always)]
    unsafe fn with_input<R>(
        self,
        isa: Token<V>,
        x: *const u16,
        n: usize,
        f: impl FnOnce(&[f32]) -> R,
    ) -> R {
        assert!(n <= ROW_MAX);
        let mut buf = [0.0f32; ROW_MAX];
        let buf = &mut buf[..n];
        // SAFETY: `x` is readable for `n` elements (the contract).
        unsafe { self.widen(isa, x, n, buf) };
        f(buf)
    }
}
