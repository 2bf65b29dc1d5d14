//! Softmax, log-softmax and log-sum-exp: the forward methods of [`Softmax`] (one row, in
//! place, batches, with a scale) and the free functions that run them on the current ISA.

use crate::check::length;
use crate::rows::{InOut, Rows, RowsIn};
use crate::staged::Direct;
use crate::{parallel, segmented, Algorithm, Element, Error, Softmax};

impl Softmax {
    /// Softmax of one row (long rows split into segments).
    pub(crate) fn run_softmax(&self, io: InOut<'_>, algorithm: Algorithm) {
        let n = io.len();
        if n >= segmented::SEGMENT_MIN_LEN {
            return segmented::softmax(self, io, self.resolve(algorithm, n), self.flags(n));
        }
        // SAFETY: `self.kernels` came from `dispatch`, which hands out a table only when the
        // CPU supports its ISA; `io` upholds the kernel's pointer contract by construction.
        unsafe { (self.kernels.softmax)(io, self.resolve(algorithm, n), self.flags(n)) }
    }

    /// Softmax of `scale * x` for one row; the callers checked the scale ([`check_scale`]).
    fn run_softmax_scaled(&self, io: InOut<'_>, algorithm: Algorithm, scale: f32) {
        assert!(scale.is_finite());
        let n = io.len();
        // SAFETY: as in `run_softmax`; `scale` is finite as the kernel requires.
        unsafe {
            (self.kernels.softmax_scaled)(io, self.resolve(algorithm, n), self.flags(n), scale)
        }
    }

    /// Softmax of a validated batch: the algorithm and flags are resolved once, for its rows'
    /// length.
    pub(crate) fn run_softmax_rows(&self, mut rows: Rows<'_>, algorithm: Algorithm) {
        let n = rows.cols();
        if n >= segmented::SEGMENT_MIN_LEN || rows.rows() == 1 {
            // Rows this long are split inside each row (the same results as one-row calls);
            // one row takes the one-row entry point, which measured 17.6 against 50 ns for a
            // row of 64 through the batch entry point (AVX-512, Zen 5).
            return rows.for_each(|io| self.run_softmax(io, algorithm));
        }
        let (alg, flags) = (self.resolve(algorithm, n), self.flags(n));
        self.row_chunks(&rows, |part| {
            // SAFETY: as in `run_softmax`; `part` upholds the kernel's pointer contract.
            unsafe { (self.kernels.softmax_rows)(part, alg, flags) }
        });
    }

    /// Scaled softmax of a validated batch (`scale` finite).
    pub(crate) fn run_softmax_scaled_rows(&self, rows: Rows<'_>, algorithm: Algorithm, scale: f32) {
        debug_assert!(scale.is_finite());
        let n = rows.cols();
        let (alg, flags) = (self.resolve(algorithm, n), self.flags(n));
        self.row_chunks(&rows, |part| {
            // SAFETY: as in `run_softmax_rows`; the scale is finite.
            unsafe { (self.kernels.softmax_scaled_rows)(part, alg, flags, scale) }
        });
    }

    /// Log-softmax of a validated batch.
    pub(crate) fn run_log_softmax_rows(&self, mut rows: Rows<'_>) {
        if rows.cols() >= segmented::SEGMENT_MIN_LEN || rows.rows() == 1 {
            return rows.for_each(|io| self.run_log_softmax(io));
        }
        let flags = self.flags(rows.cols());
        self.row_chunks(&rows, |part| {
            // SAFETY: as in `run_softmax_rows`.
            unsafe { (self.kernels.log_softmax_rows)(part, flags) }
        });
    }

    /// Log-softmax of one row (long rows split into segments).
    pub(crate) fn run_log_softmax(&self, io: InOut<'_>) {
        let flags = self.flags(io.len());
        if io.len() >= segmented::SEGMENT_MIN_LEN {
            return segmented::log_softmax(self, io, flags);
        }
        // SAFETY: as in `run_softmax`.
        unsafe { (self.kernels.log_softmax)(io, flags) }
    }

    /// `y = softmax(x)` with [`Algorithm::Auto`]; `y.len()` must equal `x.len()`. Rows of
    /// `f32`, [`f16`](struct@crate::f16) or [`bf16`](struct@crate::bf16) (see [`Element`]).
    pub fn softmax<T: Element>(&self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        self.softmax_with(x, y, Algorithm::Auto)
    }

    /// `y = softmax(x)` with the given algorithm.
    pub fn softmax_with<T: Element>(
        &self,
        x: &[T],
        y: &mut [T],
        algorithm: Algorithm,
    ) -> Result<(), Error> {
        let mismatch = length("y", x.len(), y.len());
        let direct = Direct::Softmax(algorithm);
        self.map_row_direct(x, y, direct, |io| self.run_softmax(io, algorithm))
            .ok_or(mismatch)
    }

    /// `xy = softmax(xy)` with [`Algorithm::Auto`].
    pub fn softmax_in_place<T: Element>(&self, xy: &mut [T]) {
        self.softmax_in_place_with(xy, Algorithm::Auto)
    }

    /// `xy = softmax(xy)` with the given algorithm.
    pub fn softmax_in_place_with<T: Element>(&self, xy: &mut [T], algorithm: Algorithm) {
        let direct = Direct::Softmax(algorithm);
        self.map_row_in_place_direct(xy, direct, |io| self.run_softmax(io, algorithm))
    }

    /// `y = log_softmax(x) = x - logsumexp(x)`; `y.len()` must equal `x.len()`.
    pub fn log_softmax<T: Element>(&self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        let mismatch = length("y", x.len(), y.len());
        self.map_row_direct(x, y, Direct::LogSoftmax, |io| self.run_log_softmax(io))
            .ok_or(mismatch)
    }

    /// `xy = log_softmax(xy)`.
    pub fn log_softmax_in_place<T: Element>(&self, xy: &mut [T]) {
        self.map_row_in_place_direct(xy, Direct::LogSoftmax, |io| self.run_log_softmax(io))
    }

    /// `ln(sum_i exp(x_i))`, reading `x` once; `-inf` for an empty row.
    pub fn logsumexp<T: Element>(&self, x: &[T]) -> f32 {
        self.logsumexp_of(x)
    }

    /// Log-sum-exp of one f32 row (long rows split into segments).
    pub(crate) fn run_logsumexp(&self, x: &[f32]) -> f32 {
        if x.len() >= segmented::SEGMENT_MIN_LEN {
            return segmented::logsumexp(self, x);
        }
        // SAFETY: as in `run_softmax`.
        unsafe { (self.kernels.logsumexp)(x) }
    }

    /// Softmax of `rows` rows of `cols` values: row `r` is `x[r*x_stride..][..cols]` and goes
    /// to `y[r*y_stride..][..cols]`. Strides are in elements and at least `cols`.
    #[allow(clippy::too_many_arguments)]
    pub fn softmax_rows<T: Element>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
        algorithm: Algorithm,
    ) -> Result<(), Error> {
        let direct = Direct::Softmax(algorithm);
        self.rows_op(x, x_stride, y, y_stride, rows, cols, direct, |b| {
            self.run_softmax_rows(b, algorithm)
        })
    }

    /// Softmax of `rows` rows of `cols` values `stride` apart, in place.
    pub fn softmax_rows_in_place<T: Element>(
        &self,
        xy: &mut [T],
        stride: usize,
        rows: usize,
        cols: usize,
        algorithm: Algorithm,
    ) -> Result<(), Error> {
        let direct = Direct::Softmax(algorithm);
        self.rows_op_in_place(xy, stride, rows, cols, direct, |b| {
            self.run_softmax_rows(b, algorithm)
        })
    }

    /// Log-softmax of `rows` rows (layout as in [`Softmax::softmax_rows`]).
    pub fn log_softmax_rows<T: Element>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        self.rows_op(
            x,
            x_stride,
            y,
            y_stride,
            rows,
            cols,
            Direct::LogSoftmax,
            |b| self.run_log_softmax_rows(b),
        )
    }

    /// Log-softmax of `rows` rows of `cols` values `stride` apart, in place.
    pub fn log_softmax_rows_in_place<T: Element>(
        &self,
        xy: &mut [T],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        self.rows_op_in_place(xy, stride, rows, cols, Direct::LogSoftmax, |b| {
            self.run_log_softmax_rows(b)
        })
    }

    /// `out[r] = ln(sum_i exp(x[r*stride + i]))` for `rows` rows of `cols` values (`-inf`
    /// for `cols == 0`), each row as [`Softmax::logsumexp`] computes it, bit for bit.
    /// `out` holds at least `rows` values (the rest is untouched); `stride >= cols`.
    pub fn logsumexp_rows<T: Element>(
        &self,
        x: &[T],
        stride: usize,
        rows: usize,
        cols: usize,
        out: &mut [f32],
    ) -> Result<(), Error> {
        self.rows_in_op(x, stride, rows, cols, out, |b, o| {
            self.run_logsumexp_rows(b, o)
        })
    }

    /// Log-sum-exp of a validated batch into `out` (`rows` values).
    pub(crate) fn run_logsumexp_rows(&self, batch: RowsIn<'_>, out: &mut [f32]) {
        debug_assert_eq!(out.len(), batch.rows());
        if batch.cols() >= segmented::SEGMENT_MIN_LEN || batch.rows() == 1 {
            for (r, o) in out.iter_mut().enumerate() {
                *o = self.run_logsumexp(batch.row(r));
            }
            return;
        }
        let out = parallel::Shared(out.as_mut_ptr());
        parallel::for_row_chunks(self.threads, batch.rows(), batch.cols(), |range| {
            // SAFETY: `out` holds one value per row and the chunks are disjoint ranges of
            // rows, each handed out once, so the slices do not overlap.
            let part =
                unsafe { std::slice::from_raw_parts_mut(out.get().add(range.start), range.len()) };
            // SAFETY: as in `run_softmax`; the sub-batch covers its rows and `part` holds one
            // value per row, as the kernel requires.
            unsafe { (self.kernels.logsumexp_rows)(batch.sub(range), part) }
        });
    }

    /// `y = softmax(scale * x)` with [`Algorithm::Auto`]: a temperature or attention scale
    /// fused into the kernels (no extra pass). `scale` must be finite
    /// ([`Error::InvalidArgument`] otherwise); `scale == 0` gives the uniform distribution
    /// (NaN when an input is not finite).
    pub fn softmax_scaled<T: Element>(
        &self,
        x: &[T],
        y: &mut [T],
        scale: f32,
    ) -> Result<(), Error> {
        self.softmax_scaled_with(x, y, scale, Algorithm::Auto)
    }

    /// `y = softmax(scale * x)` with the given algorithm.
    pub fn softmax_scaled_with<T: Element>(
        &self,
        x: &[T],
        y: &mut [T],
        scale: f32,
        algorithm: Algorithm,
    ) -> Result<(), Error> {
        check_scale(scale)?;
        let mismatch = length("y", x.len(), y.len());
        let direct = Direct::Scaled(algorithm, scale);
        self.map_row_direct(x, y, direct, |io| {
            self.run_softmax_scaled(io, algorithm, scale)
        })
        .ok_or(mismatch)
    }

    /// `xy = softmax(scale * xy)`.
    pub fn softmax_scaled_in_place<T: Element>(
        &self,
        xy: &mut [T],
        scale: f32,
    ) -> Result<(), Error> {
        check_scale(scale)?;
        let direct = Direct::Scaled(Algorithm::Auto, scale);
        self.map_row_in_place_direct(xy, direct, |io| {
            self.run_softmax_scaled(io, Algorithm::Auto, scale)
        });
        Ok(())
    }

    /// Batched `softmax(scale * x)` (layout as in [`Softmax::softmax_rows`]).
    #[allow(clippy::too_many_arguments)]
    pub fn softmax_scaled_rows<T: Element>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
        scale: f32,
        algorithm: Algorithm,
    ) -> Result<(), Error> {
        check_scale(scale)?;
        let direct = Direct::Scaled(algorithm, scale);
        self.rows_op(x, x_stride, y, y_stride, rows, cols, direct, |b| {
            self.run_softmax_scaled_rows(b, algorithm, scale)
        })
    }
}

/// `y = softmax(x)` on the current ISA with [`Algorithm::Auto`].
///
/// ```
/// let mut y = [0.0f32; 2];
/// softmax::softmax(&[0.0, f32::NEG_INFINITY], &mut y).unwrap();
/// assert_eq!(y, [1.0, 0.0]);
/// ```
pub fn softmax<T: Element>(x: &[T], y: &mut [T]) -> Result<(), Error> {
    Softmax::new().softmax(x, y)
}

/// `y = softmax(x)` on the current ISA with the given algorithm.
pub fn softmax_with<T: Element>(x: &[T], y: &mut [T], algorithm: Algorithm) -> Result<(), Error> {
    Softmax::new().softmax_with(x, y, algorithm)
}

/// `xy = softmax(xy)` on the current ISA.
pub fn softmax_in_place<T: Element>(xy: &mut [T]) {
    Softmax::new().softmax_in_place(xy)
}

/// `y = log_softmax(x)` on the current ISA.
///
/// ```
/// let mut y = [0.0f32; 2];
/// softmax::log_softmax(&[1.0, 1.0], &mut y).unwrap();
/// assert!((y[0] + std::f32::consts::LN_2).abs() < 1e-7);
/// ```
pub fn log_softmax<T: Element>(x: &[T], y: &mut [T]) -> Result<(), Error> {
    Softmax::new().log_softmax(x, y)
}

/// `xy = log_softmax(xy)` on the current ISA.
pub fn log_softmax_in_place<T: Element>(xy: &mut [T]) {
    Softmax::new().log_softmax_in_place(xy)
}

/// `ln(sum_i exp(x_i))` on the current ISA, in one pass; `-inf` for an empty row.
///
/// ```
/// assert_eq!(softmax::logsumexp::<f32>(&[]), f32::NEG_INFINITY);
/// assert!((softmax::logsumexp(&[1000.0, 1000.0]) - 1000.693_15).abs() < 1e-3);
/// ```
pub fn logsumexp<T: Element>(x: &[T]) -> f32 {
    Softmax::new().logsumexp(x)
}

/// Batched softmax on the current ISA (see [`Softmax::softmax_rows`]).
#[allow(clippy::too_many_arguments)]
pub fn softmax_rows<T: Element>(
    x: &[T],
    x_stride: usize,
    y: &mut [T],
    y_stride: usize,
    rows: usize,
    cols: usize,
    algorithm: Algorithm,
) -> Result<(), Error> {
    Softmax::new().softmax_rows(x, x_stride, y, y_stride, rows, cols, algorithm)
}

/// Batched log-softmax on the current ISA (see [`Softmax::log_softmax_rows`]).
pub fn log_softmax_rows<T: Element>(
    x: &[T],
    x_stride: usize,
    y: &mut [T],
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    Softmax::new().log_softmax_rows(x, x_stride, y, y_stride, rows, cols)
}

/// `y = softmax(scale * x)` on the current ISA (see [`Softmax::softmax_scaled`]).
pub fn softmax_scaled<T: Element>(x: &[T], y: &mut [T], scale: f32) -> Result<(), Error> {
    Softmax::new().softmax_scaled(x, y, scale)
}

/// `Ok` when a softmax scale is finite.
fn check_scale(scale: f32) -> Result<(), Error> {
    if scale.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidArgument("scale must be finite"))
    }
}
