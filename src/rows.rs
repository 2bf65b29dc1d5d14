//! The row views the kernels take: one row's input and output ([`InOut`]), a backward
//! pass's inputs and output ([`Grad`]), and batches of rows with strides ([`Rows`],
//! [`RowsIn`]).
//!
//! Softmax may run in place (the output is the input), which two Rust slices cannot express.
//! [`InOut`] holds the two pointers and the length; its safe constructors take either two
//! slices of equal length or one mutable slice, so a kernel can rely on: `x` readable and `y`
//! writable for `len` elements, and `y` either equal to `x` or disjoint from it.

use std::marker::PhantomData;

/// Input and output of one row (possibly the same memory).
pub(crate) struct InOut<'a> {
    x: *const f32,
    y: *mut f32,
    n: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

impl<'a> InOut<'a> {
    /// Separate input and output; `None` when the lengths differ.
    pub(crate) fn new(x: &'a [f32], y: &'a mut [f32]) -> Option<Self> {
        (x.len() == y.len()).then_some(InOut {
            x: x.as_ptr(),
            y: y.as_mut_ptr(),
            n: x.len(),
            _borrow: PhantomData,
        })
    }

    /// The output overwrites the input.
    pub(crate) fn in_place(xy: &'a mut [f32]) -> Self {
        let y = xy.as_mut_ptr();
        InOut {
            x: y,
            y,
            n: xy.len(),
            _borrow: PhantomData,
        }
    }

    /// From raw parts (the C ABI).
    ///
    /// # Safety
    /// `x` must be valid for `n` reads and `y` for `n` writes for `'a`, both aligned and
    /// non-null, and `y` must equal `x` or not overlap `x[..n]`.
    pub(crate) unsafe fn from_raw(x: *const f32, y: *mut f32, n: usize) -> Self {
        InOut {
            x,
            y,
            n,
            _borrow: PhantomData,
        }
    }

    /// The row length.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// Input pointer, readable for `len()` elements.
    #[inline(always)]
    pub(crate) fn x(&self) -> *const f32 {
        self.x
    }

    /// Output pointer, writable for `len()` elements (may equal `x()`).
    #[inline(always)]
    pub(crate) fn y(&self) -> *mut f32 {
        self.y
    }

    /// The input as a slice (for the portable special-value scans; no write may happen while
    /// it is borrowed, which `set` taking `&mut self` enforces).
    pub(crate) fn input(&self) -> &[f32] {
        if self.n == 0 {
            return &[];
        }
        // SAFETY: the constructors guarantee `x` is valid for `n` reads during 'a.
        unsafe { std::slice::from_raw_parts(self.x, self.n) }
    }

    /// Reads input element `i` (panics when out of range, never reads out of bounds).
    pub(crate) fn get(&self, i: usize) -> f32 {
        self.input()[i]
    }

    /// Writes output element `i` (panics when out of range).
    pub(crate) fn set(&mut self, i: usize, v: f32) {
        assert!(i < self.n);
        // SAFETY: `y` is valid for `n` writes and `i < n`.
        unsafe { self.y.add(i).write(v) }
    }

    /// Reads output element `i` (after a pass wrote it; panics when out of range).
    pub(crate) fn get_out(&self, i: usize) -> f32 {
        assert!(i < self.n);
        // SAFETY: `y` is valid for `n` reads and writes and `i < n`.
        unsafe { self.y.add(i).read() }
    }

    /// A shorter-lived copy (for handing the row to a pass and using it afterwards).
    pub(crate) fn reborrow(&mut self) -> InOut<'_> {
        InOut { ..*self }
    }

    /// The same row, now reading its input from the output (after a pass wrote it).
    pub(crate) fn into_in_place(self) -> InOut<'a> {
        InOut { x: self.y, ..self }
    }
}

/// Inputs `y` and `dy` and output `dx` of a backward pass (the output may be either input).
pub(crate) struct Grad<'a> {
    y: *const f32,
    dy: *const f32,
    dx: *mut f32,
    n: usize,
    _borrow: PhantomData<&'a mut [f32]>,
}

impl<'a> Grad<'a> {
    /// Separate buffers; `None` unless all three lengths are equal.
    pub(crate) fn new(y: &'a [f32], dy: &'a [f32], dx: &'a mut [f32]) -> Option<Self> {
        (y.len() == dy.len() && dy.len() == dx.len()).then_some(Grad {
            y: y.as_ptr(),
            dy: dy.as_ptr(),
            dx: dx.as_mut_ptr(),
            n: y.len(),
            _borrow: PhantomData,
        })
    }

    /// The gradient overwrites `dy`; `None` unless the lengths are equal.
    pub(crate) fn in_place(y: &'a [f32], dy_dx: &'a mut [f32]) -> Option<Self> {
        let p = dy_dx.as_mut_ptr();
        (y.len() == dy_dx.len()).then_some(Grad {
            y: y.as_ptr(),
            dy: p,
            dx: p,
            n: y.len(),
            _borrow: PhantomData,
        })
    }

    /// From raw parts (the C ABI).
    ///
    /// # Safety
    /// `y` and `dy` valid for `n` reads, `dx` for `n` writes, all aligned and non-null for
    /// `'a`; `dx` equal to `y` or `dy` or disjoint from both.
    pub(crate) unsafe fn from_raw(y: *const f32, dy: *const f32, dx: *mut f32, n: usize) -> Self {
        Grad {
            y,
            dy,
            dx,
            n,
            _borrow: PhantomData,
        }
    }

    /// Row length.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// The forward output.
    #[inline(always)]
    pub(crate) fn y(&self) -> *const f32 {
        self.y
    }

    /// The incoming gradient.
    #[inline(always)]
    pub(crate) fn dy(&self) -> *const f32 {
        self.dy
    }

    /// The outgoing gradient.
    #[inline(always)]
    pub(crate) fn dx(&self) -> *mut f32 {
        self.dx
    }

    /// The two inputs `y` and `dy` as slices (for the read-only passes; no write happens
    /// while they are borrowed: the output is written only through `dx()` by an `unsafe` pass
    /// that takes `&self`'s pointers, after the slices' last use).
    pub(crate) fn inputs(&self) -> (&[f32], &[f32]) {
        if self.n == 0 {
            return (&[], &[]);
        }
        // SAFETY: the constructors guarantee `y` and `dy` are valid for `n` reads during 'a.
        unsafe {
            (
                std::slice::from_raw_parts(self.y, self.n),
                std::slice::from_raw_parts(self.dy, self.n),
            )
        }
    }
}

/// A batch of `rows` rows of `cols` elements: row `r` is read from `x + r * x_stride` and
/// written to `y + r * y_stride` (strides in elements, at least `cols`). The kernels may rely
/// on: every input row readable and every output row writable for `cols` elements, and each
/// output row either equal to its input row (in place, same stride) or disjoint from every
/// input row.
///
/// The elements are `f32`, or the bits of a 16-bit format (`u16`) for the kernels that
/// convert in the registers.
pub(crate) struct Rows<'a, T = f32> {
    x: *const T,
    x_stride: usize,
    y: *mut T,
    y_stride: usize,
    rows: usize,
    cols: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

impl<'a, T> Rows<'a, T> {
    /// Separate input and output batches; an error when a stride is below `cols`, an extent
    /// overflows, or a slice is shorter than its batch.
    #[inline]
    pub(crate) fn new(
        x: &'a [T],
        x_stride: usize,
        y: &'a mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<Self, crate::Error> {
        crate::check_len("x", crate::batch_extent(rows, cols, x_stride)?, x.len())?;
        crate::check_len("y", crate::batch_extent(rows, cols, y_stride)?, y.len())?;
        Ok(Rows {
            x: x.as_ptr(),
            x_stride,
            y: y.as_mut_ptr(),
            y_stride,
            rows,
            cols,
            _borrow: PhantomData,
        })
    }

    /// The output overwrites the input; errors as for [`Rows::new`].
    #[inline]
    pub(crate) fn in_place(
        xy: &'a mut [T],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<Self, crate::Error> {
        crate::check_len("xy", crate::batch_extent(rows, cols, stride)?, xy.len())?;
        let p = xy.as_mut_ptr();
        Ok(Rows {
            x: p,
            x_stride: stride,
            y: p,
            y_stride: stride,
            rows,
            cols,
            _borrow: PhantomData,
        })
    }

    /// From raw parts (the C ABI).
    ///
    /// # Safety
    /// Every row `r < rows` of `x` must be readable and of `y` writable for `cols` elements
    /// during `'a` (non-null and aligned when `rows * cols > 0`); each output row equal to its
    /// input row with `y_stride == x_stride`, or the two batches' extents disjoint.
    pub(crate) unsafe fn from_raw(
        x: *const T,
        x_stride: usize,
        y: *mut T,
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Self {
        Rows {
            x,
            x_stride,
            y,
            y_stride,
            rows,
            cols,
            _borrow: PhantomData,
        }
    }

    /// The number of rows.
    #[inline(always)]
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The row length.
    #[inline(always)]
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// The input of row `r`, readable for `cols()` elements.
    #[inline(always)]
    pub(crate) fn x(&self, r: usize) -> *const T {
        debug_assert!(r < self.rows);
        self.x.wrapping_add(r * self.x_stride)
    }

    /// The output of row `r`, writable for `cols()` elements.
    #[inline(always)]
    pub(crate) fn y(&self, r: usize) -> *mut T {
        debug_assert!(r < self.rows);
        self.y.wrapping_add(r * self.y_stride)
    }

    /// Rows `range` of the batch as a batch of their own.
    ///
    /// # Safety
    /// `range` must lie within `0..rows()`, and views used at the same time (from several
    /// threads) must cover disjoint ranges of rows.
    pub(crate) unsafe fn sub(&self, range: std::ops::Range<usize>) -> Rows<'_, T> {
        debug_assert!(range.start <= range.end && range.end <= self.rows);
        Rows {
            x: self.x.wrapping_add(range.start * self.x_stride),
            y: self.y.wrapping_add(range.start * self.y_stride),
            rows: range.len(),
            ..*self
        }
    }
}

impl Rows<'_> {
    /// Runs `f` on every row in order, as one-row views.
    pub(crate) fn for_each(&mut self, mut f: impl FnMut(InOut<'_>)) {
        for r in 0..self.rows {
            f(self.row(r));
        }
    }

    /// Row `r` as a one-row view (panics when `r >= rows()`).
    pub(crate) fn row(&mut self, r: usize) -> InOut<'_> {
        assert!(r < self.rows);
        // SAFETY: row `r` of both batches is valid for `cols` elements (constructors), and its
        // output equals its input or is disjoint from it.
        unsafe { InOut::from_raw(self.x(r), self.y(r), self.cols) }
    }
}

// SAFETY: a batch is shared between threads only to hand out sub-views of disjoint rows
// (`Rows::sub`, whose contract requires it); the rows themselves are never accessed through a
// shared reference.
unsafe impl<T> Sync for Rows<'_, T> {}

/// The inputs of a batch of rows whose results are one value per row (log-sum-exp).
pub(crate) struct RowsIn<'a, T = f32> {
    x: &'a [T],
    stride: usize,
    rows: usize,
    cols: usize,
}

impl<T> Clone for RowsIn<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for RowsIn<'_, T> {}

impl<'a, T> RowsIn<'a, T> {
    /// `rows` rows of `cols` elements `stride` apart in `x`; an error when the stride is below
    /// `cols`, the extent overflows or `x` is shorter than the batch.
    pub(crate) fn new(
        x: &'a [T],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<Self, crate::Error> {
        crate::check_len("x", crate::batch_extent(rows, cols, stride)?, x.len())?;
        Ok(RowsIn {
            x,
            stride,
            rows,
            cols,
        })
    }

    /// One row.
    pub(crate) fn one(x: &'a [T]) -> Self {
        RowsIn {
            x,
            stride: x.len(),
            rows: 1,
            cols: x.len(),
        }
    }

    /// The number of rows.
    #[inline(always)]
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The row length.
    #[inline(always)]
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Rows `range` (within `0..rows()`) as a batch of their own.
    pub(crate) fn sub(&self, range: std::ops::Range<usize>) -> RowsIn<'a, T> {
        assert!(range.end <= self.rows);
        RowsIn {
            x: &self.x[(range.start * self.stride).min(self.x.len())..],
            rows: range.len(),
            ..*self
        }
    }

    /// Row `r` (panics when `r >= rows()`).
    #[inline(always)]
    pub(crate) fn row(&self, r: usize) -> &'a [T] {
        &self.x[r * self.stride..][..self.cols]
    }

    /// The start of row `r`, readable for `cols()` elements (`r < rows()`).
    #[inline(always)]
    pub(crate) fn ptr(&self, r: usize) -> *const T {
        debug_assert!(r < self.rows && r * self.stride + self.cols <= self.x.len());
        self.x.as_ptr().wrapping_add(r * self.stride)
    }
}
