//! StableMax, the softmax alternative of "Grokking at the Edge of Numerical Stability"
//! (Prieto, Barsbey, Mediano and Birdal, 2025): `s(x) = x + 1` for `x >= 0` and
//! `1 / (1 - x)` for `x < 0`, normalised as `StableMax(x)_i = s(x_i) / sum_j s(x_j)`.
//!
//! It grows linearly instead of exponentially, so long training cannot push it to exact 0
//! and 1 ("softmax collapse"). Every operation here is two passes over memory: one read for
//! the sum (f32 lanes, f64 block totals), one read and one write for the output, on every
//! ISA through the same generic kernels as softmax.
//!
//! # Special values (identical on every ISA)
//! - Empty row: nothing is written.
//! - `s(-inf) = 0` (a `-inf` entry gets 0, log-StableMax `-inf`); `s(x) > 0` for finite `x`.
//! - A NaN anywhere in a row: every output of the row is NaN.
//! - `k` entries at `+inf` (no NaN): they get `1/k` each and every other entry 0 (the limit);
//!   log-StableMax gives `-ln k` and `-inf`.
//! - A row of only `-inf`: NaN (zeros with [`Softmax::zero_masked_rows`]); log-StableMax NaN.
//! - Finite inputs of any magnitude: a sum beyond the f32 range (entries near `3e38`) or a
//!   tiny one (every entry below about `-2^100`) is redone in f64 and the output scaled by an
//!   exact power of two, so no overflow and no loss of accuracy.
//!
//! The backward passes take the forward *input* `x` (StableMax's derivative
//! `s'(x) = 1` for `x >= 0`, `1 / (1 - x)^2` below, depends on `x`, not only on the output).

use crate::rows::{Grad, InOut};
use crate::staged::GradDirect;
use crate::{batch_extent, check_len, CrossEntropyOptions, Error, Softmax};

impl Softmax {
    pub(crate) fn run_stablemax(&self, io: InOut<'_>, log: bool) {
        let flags = self.flags(io.len());
        let f = if log {
            self.kernels.log_stablemax
        } else {
            self.kernels.stablemax
        };
        // SAFETY: `self.kernels` came from `dispatch`, which hands out a table only when the
        // CPU supports its ISA; `io` upholds the kernel's pointer contract by construction.
        unsafe { f(io, flags) }
    }

    pub(crate) fn run_stablemax_backward(&self, g: Grad<'_>, log: bool) {
        let non_temporal = self.flags(g.len()).non_temporal;
        let f = if log {
            self.kernels.log_stablemax_backward
        } else {
            self.kernels.stablemax_backward
        };
        // SAFETY: as in `run_stablemax`; `g` upholds the kernel's pointer contract.
        unsafe { f(g, non_temporal) }
    }

    pub(crate) fn run_stablemax_cross_entropy(
        &self,
        x: &[f32],
        target: usize,
        smoothing: f32,
    ) -> Result<f32, Error> {
        Self::check_target(x.len(), target, smoothing)?;
        // SAFETY: as in `run_stablemax`; `target < x.len()` and the smoothing is in range.
        Ok(unsafe { (self.kernels.stablemax_cross_entropy)(x, target, smoothing) })
    }

    pub(crate) fn run_stablemax_cross_entropy_grad(
        &self,
        io: InOut<'_>,
        target: usize,
        smoothing: f32,
    ) -> Result<f32, Error> {
        let n = io.len();
        Self::check_target(n, target, smoothing)?;
        let flags = self.flags(n);
        // SAFETY: as in `run_stablemax_cross_entropy`; `io` upholds the pointer contract.
        Ok(unsafe { (self.kernels.stablemax_cross_entropy_grad)(io, target, smoothing, flags) })
    }

    /// `y = StableMax(x)`: `y_i = s(x_i) / sum_j s(x_j)` with `s(x) = x + 1` for `x >= 0`
    /// and `1 / (1 - x)` below ("Grokking at the Edge of Numerical Stability", 2025).
    /// `y.len()` must equal `x.len()`. Two passes: one read for the sum, one read and write.
    ///
    /// Special values (identical on every ISA): `s(-inf) = 0`; a NaN makes the whole row
    /// NaN; `k` entries at `+inf` get `1/k` each and all others 0; a row of only `-inf` gives
    /// NaN (zeros with [`Softmax::zero_masked_rows`]); finite inputs of any magnitude work
    /// (a sum beyond the f32 range is redone in f64, the output scaled exactly).
    ///
    /// ```
    /// let sm = softmax::Softmax::new();
    /// let mut y = [0.0f32; 3];
    /// sm.stablemax(&[1.0, 0.0, -1.0], &mut y).unwrap();
    /// // s = [2, 1, 0.5], sum 3.5
    /// assert!((y[0] - 2.0 / 3.5).abs() < 1e-7);
    /// ```
    pub fn stablemax(&self, x: &[f32], y: &mut [f32]) -> Result<(), Error> {
        let (expected, actual) = (x.len(), y.len());
        let io = InOut::new(x, y).ok_or(Error::LengthMismatch { expected, actual })?;
        self.run_stablemax(io, false);
        Ok(())
    }

    /// `xy = StableMax(xy)`.
    pub fn stablemax_in_place(&self, xy: &mut [f32]) {
        self.run_stablemax(InOut::in_place(xy), false)
    }

    /// `y = ln StableMax(x) = ln s(x_i) - ln sum_j s(x_j)`, computed from the exponent and
    /// mantissa parts of both logs so outputs near 0 stay accurate.
    pub fn log_stablemax(&self, x: &[f32], y: &mut [f32]) -> Result<(), Error> {
        let (expected, actual) = (x.len(), y.len());
        let io = InOut::new(x, y).ok_or(Error::LengthMismatch { expected, actual })?;
        self.run_stablemax(io, true);
        Ok(())
    }

    /// `xy = ln StableMax(xy)`.
    pub fn log_stablemax_in_place(&self, xy: &mut [f32]) {
        self.run_stablemax(InOut::in_place(xy), true)
    }

    /// StableMax of `rows` rows of `cols` values: row `r` is `x[r*x_stride..][..cols]` and
    /// goes to `y[r*y_stride..][..cols]` (strides in elements, at least `cols`).
    pub fn stablemax_rows(
        &self,
        x: &[f32],
        x_stride: usize,
        y: &mut [f32],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        self.rows(x, x_stride, y, y_stride, rows, cols, |io| {
            self.run_stablemax(io, false)
        })
    }

    /// StableMax of `rows` rows of `cols` values `stride` apart, in place.
    pub fn stablemax_rows_in_place(
        &self,
        xy: &mut [f32],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        self.rows_in_place(xy, stride, rows, cols, |io| self.run_stablemax(io, false))
    }

    /// Log-StableMax of `rows` rows (layout as in [`Softmax::stablemax_rows`]).
    pub fn log_stablemax_rows(
        &self,
        x: &[f32],
        x_stride: usize,
        y: &mut [f32],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        self.rows(x, x_stride, y, y_stride, rows, cols, |io| {
            self.run_stablemax(io, true)
        })
    }

    /// Log-StableMax of `rows` rows of `cols` values `stride` apart, in place.
    pub fn log_stablemax_rows_in_place(
        &self,
        xy: &mut [f32],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        self.rows_in_place(xy, stride, rows, cols, |io| self.run_stablemax(io, true))
    }

    /// StableMax cross-entropy of one row of logits against class `target`:
    /// `ln sum_j s(x_j) - ln s(x_target)`, in one pass over the logits.
    /// `target >= logits.len()` is [`Error::InvalidArgument`].
    ///
    /// Special rows: a NaN logit or a row of only `-inf` gives NaN; `k` logits at `+inf` give
    /// `ln k` when the target is one of them and `+inf` otherwise; a target at `-inf` among
    /// finite logits gives `+inf`.
    ///
    /// ```
    /// let sm = softmax::Softmax::new();
    /// let loss = sm.stablemax_cross_entropy(&[0.0, 0.0], 1).unwrap();
    /// assert!((loss - std::f32::consts::LN_2).abs() < 1e-7);
    /// ```
    pub fn stablemax_cross_entropy(&self, logits: &[f32], target: usize) -> Result<f32, Error> {
        self.run_stablemax_cross_entropy(logits, target, 0.0)
    }

    /// [`Softmax::stablemax_cross_entropy`] that also writes the gradient with respect to the
    /// logits, `s'(x_i) / S - [i == target] / (1 + |x_i|)` (with `S = sum_j s(x_j)`), to
    /// `dlogits`: two passes. For rows with `+inf` logits the gradient uses `1/S = 0`.
    pub fn stablemax_cross_entropy_with_grad(
        &self,
        logits: &[f32],
        target: usize,
        dlogits: &mut [f32],
    ) -> Result<f32, Error> {
        let (expected, actual) = (logits.len(), dlogits.len());
        let io = InOut::new(logits, dlogits).ok_or(Error::LengthMismatch { expected, actual })?;
        self.run_stablemax_cross_entropy_grad(io, target, 0.0)
    }

    /// Batched StableMax cross-entropy, with the layout, `ignore_index` and label smoothing
    /// of [`Softmax::cross_entropy_rows`]: with smoothing `eps` the target distribution is
    /// `q = (1 - eps) * onehot + eps / cols`, the loss `-sum_i q_i ln StableMax(x)_i` and the
    /// gradient `s'(x_i) / S - q_i / (1 + |x_i|)`. Every target is checked before anything
    /// is written.
    #[allow(clippy::too_many_arguments)]
    pub fn stablemax_cross_entropy_rows(
        &self,
        logits: &[f32],
        stride: usize,
        rows: usize,
        cols: usize,
        targets: &[i64],
        options: CrossEntropyOptions,
        losses: &mut [f32],
        mut dlogits: Option<(&mut [f32], usize)>,
    ) -> Result<(), Error> {
        check_len("logits", batch_extent(rows, cols, stride)?, logits.len())?;
        check_len("targets", rows, targets.len())?;
        check_len("losses", rows, losses.len())?;
        if let Some((d, ds)) = &dlogits {
            check_len("dlogits", batch_extent(rows, cols, *ds)?, d.len())?;
        }
        let eps = options.label_smoothing;
        Self::check_target(1, 0, eps)?;
        for &t in targets.iter().take(rows) {
            if t != options.ignore_index {
                let t =
                    usize::try_from(t).map_err(|_| Error::InvalidArgument("negative target"))?;
                Self::check_target(cols, t, eps)?;
            }
        }
        for r in 0..rows {
            let x = &logits[r * stride..][..cols];
            let t = targets[r];
            losses[r] = match dlogits.as_mut() {
                Some((d, ds)) if t == options.ignore_index => {
                    d[r * *ds..][..cols].fill(0.0);
                    0.0
                }
                _ if t == options.ignore_index => 0.0,
                Some((d, ds)) => {
                    let io =
                        InOut::new(x, &mut d[r * *ds..][..cols]).expect("rows have equal lengths");
                    self.run_stablemax_cross_entropy_grad(io, t as usize, eps)?
                }
                None => self.run_stablemax_cross_entropy(x, t as usize, eps)?,
            };
        }
        Ok(())
    }

    /// StableMax backward pass from the forward input `x`:
    /// `dx_i = s'(x_i) / S * (dy_i - sum_j dy_j y_j)` with `y = StableMax(x)`,
    /// `S = sum_j s(x_j)` and `s'(x) = 1` for `x >= 0`, `1 / (1 - x)^2` below. All three
    /// slices have one length. NaN in `x` (or an all `-inf` row) gives NaN; `+inf` entries
    /// use `1/S = 0`; otherwise IEEE arithmetic on the formula.
    pub fn stablemax_backward(&self, x: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<(), Error> {
        self.smax_backward(x, dy, dx, false)
    }

    /// [`Softmax::stablemax_backward`] writing `dx` over `dy`.
    pub fn stablemax_backward_in_place(&self, x: &[f32], dy_dx: &mut [f32]) -> Result<(), Error> {
        self.smax_backward_in_place(x, dy_dx, false)
    }

    /// Log-StableMax backward pass from the forward input `x`:
    /// `dx_i = dy_i / (1 + |x_i|) - s'(x_i) / S * sum_j dy_j` (rules as in
    /// [`Softmax::stablemax_backward`]).
    pub fn log_stablemax_backward(
        &self,
        x: &[f32],
        dy: &[f32],
        dx: &mut [f32],
    ) -> Result<(), Error> {
        self.smax_backward(x, dy, dx, true)
    }

    /// [`Softmax::log_stablemax_backward`] writing `dx` over `dy`.
    pub fn log_stablemax_backward_in_place(
        &self,
        x: &[f32],
        dy_dx: &mut [f32],
    ) -> Result<(), Error> {
        self.smax_backward_in_place(x, dy_dx, true)
    }

    fn smax_backward(&self, x: &[f32], dy: &[f32], dx: &mut [f32], log: bool) -> Result<(), Error> {
        let mismatch = Error::LengthMismatch {
            expected: x.len(),
            actual: if dy.len() != x.len() {
                dy.len()
            } else {
                dx.len()
            },
        };
        self.run_stablemax_backward(Grad::new(x, dy, dx).ok_or(mismatch)?, log);
        Ok(())
    }

    fn smax_backward_in_place(&self, x: &[f32], dy_dx: &mut [f32], log: bool) -> Result<(), Error> {
        let (expected, actual) = (x.len(), dy_dx.len());
        let g = Grad::in_place(x, dy_dx).ok_or(Error::LengthMismatch { expected, actual })?;
        self.run_stablemax_backward(g, log);
        Ok(())
    }

    /// Batched StableMax backward pass: row `r` of each buffer starts at `r * stride` of that
    /// buffer (strides in elements, at least `cols`).
    #[allow(clippy::too_many_arguments)]
    pub fn stablemax_backward_rows(
        &self,
        x: &[f32],
        x_stride: usize,
        dy: &[f32],
        dy_stride: usize,
        dx: &mut [f32],
        dx_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let strides = [x_stride, dy_stride, dx_stride];
        let staged = GradDirect::Staged;
        self.grad_rows(("x", x), dy, dx, strides, rows, cols, staged, |g| {
            self.run_stablemax_backward(g, false)
        })
    }

    /// Batched log-StableMax backward pass (layout as in
    /// [`Softmax::stablemax_backward_rows`]).
    #[allow(clippy::too_many_arguments)]
    pub fn log_stablemax_backward_rows(
        &self,
        x: &[f32],
        x_stride: usize,
        dy: &[f32],
        dy_stride: usize,
        dx: &mut [f32],
        dx_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let strides = [x_stride, dy_stride, dx_stride];
        let staged = GradDirect::Staged;
        self.grad_rows(("x", x), dy, dx, strides, rows, cols, staged, |g| {
            self.run_stablemax_backward(g, true)
        })
    }
}

/// `y = StableMax(x)` on the current ISA (see [`Softmax::stablemax`]).
///
/// ```
/// let mut y = [0.0f32; 2];
/// softmax::stablemax(&[0.0, f32::NEG_INFINITY], &mut y).unwrap();
/// assert_eq!(y, [1.0, 0.0]);
/// ```
pub fn stablemax(x: &[f32], y: &mut [f32]) -> Result<(), Error> {
    Softmax::new().stablemax(x, y)
}

/// `y = ln StableMax(x)` on the current ISA (see [`Softmax::log_stablemax`]).
pub fn log_stablemax(x: &[f32], y: &mut [f32]) -> Result<(), Error> {
    Softmax::new().log_stablemax(x, y)
}

/// Batched StableMax on the current ISA (see [`Softmax::stablemax_rows`]).
pub fn stablemax_rows(
    x: &[f32],
    x_stride: usize,
    y: &mut [f32],
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    Softmax::new().stablemax_rows(x, x_stride, y, y_stride, rows, cols)
}

/// Batched log-StableMax on the current ISA (see [`Softmax::log_stablemax_rows`]).
pub fn log_stablemax_rows(
    x: &[f32],
    x_stride: usize,
    y: &mut [f32],
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    Softmax::new().log_stablemax_rows(x, x_stride, y, y_stride, rows, cols)
}

/// StableMax cross-entropy on the current ISA (see [`Softmax::stablemax_cross_entropy`]).
pub fn stablemax_cross_entropy(logits: &[f32], target: usize) -> Result<f32, Error> {
    Softmax::new().stablemax_cross_entropy(logits, target)
}

/// StableMax cross-entropy and gradient on the current ISA (see
/// [`Softmax::stablemax_cross_entropy_with_grad`]).
pub fn stablemax_cross_entropy_with_grad(
    logits: &[f32],
    target: usize,
    dlogits: &mut [f32],
) -> Result<f32, Error> {
    Softmax::new().stablemax_cross_entropy_with_grad(logits, target, dlogits)
}

/// StableMax backward pass on the current ISA (see [`Softmax::stablemax_backward`]).
pub fn stablemax_backward(x: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<(), Error> {
    Softmax::new().stablemax_backward(x, dy, dx)
}

/// Log-StableMax backward pass on the current ISA (see [`Softmax::log_stablemax_backward`]).
pub fn log_stablemax_backward(x: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<(), Error> {
    Softmax::new().log_stablemax_backward(x, dy, dx)
}
