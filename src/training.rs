//! The training API: softmax and log-softmax backward passes and the fused cross-entropy
//! loss (with its gradient, batches, ignored rows and label smoothing) of [`Softmax`], and the
//! free functions that run them on the current ISA.

use crate::check::length;
use crate::element::{Data, DataMut};
use crate::rows::{Grad, InOut};
use crate::staged::GradDirect;
use crate::{batch_extent, check_len, parallel, segmented, Element, Error, Softmax};

impl Softmax {
    /// Backward pass of one row (`log`: of log-softmax).
    pub(crate) fn run_backward(&self, g: Grad<'_>, log: bool) {
        let non_temporal = self.flags(g.len()).non_temporal;
        let f = if log {
            self.kernels.log_softmax_backward
        } else {
            self.kernels.softmax_backward
        };
        // SAFETY: as in `Softmax::run_softmax`; `g` upholds the kernel's pointer contract.
        unsafe { f(g, non_temporal) }
    }

    /// `Ok` when `target` is a class of a row of `n` and `smoothing` is in `[0, 1]`.
    pub(crate) fn check_target(n: usize, target: usize, smoothing: f32) -> Result<(), Error> {
        if target >= n {
            return Err(Error::TargetOutOfRange {
                row: 0,
                target: i64::try_from(target).unwrap_or(i64::MAX),
                classes: n,
            });
        }
        if !(0.0..=1.0).contains(&smoothing) {
            return Err(Error::InvalidArgument("label smoothing must be in [0, 1]"));
        }
        Ok(())
    }

    /// Cross-entropy of one validated row with label smoothing `smoothing`.
    pub(crate) fn run_cross_entropy(
        &self,
        x: &[f32],
        target: usize,
        smoothing: f32,
    ) -> Result<f32, Error> {
        Self::check_target(x.len(), target, smoothing)?;
        if x.len() >= segmented::SEGMENT_MIN_LEN {
            return Ok(segmented::cross_entropy(self, x, target, smoothing));
        }
        // SAFETY: as in `Softmax::run_softmax`; `target < x.len()` and the smoothing is in range.
        Ok(unsafe { (self.kernels.cross_entropy)(x, target, smoothing) })
    }

    /// [`Softmax::run_cross_entropy`] that also writes the gradient.
    pub(crate) fn run_cross_entropy_grad(
        &self,
        io: InOut<'_>,
        target: usize,
        smoothing: f32,
    ) -> Result<f32, Error> {
        let n = io.len();
        Self::check_target(n, target, smoothing)?;
        if n >= segmented::SEGMENT_MIN_LEN {
            let flags = self.flags(n);
            return Ok(segmented::cross_entropy_grad(
                self, io, target, smoothing, flags,
            ));
        }
        // SAFETY: as in `run_cross_entropy`; `io` upholds the pointer contract.
        Ok(unsafe { (self.kernels.cross_entropy_grad)(io, target, smoothing, self.flags(n)) })
    }

    /// Softmax backward pass: `dx = y * (dy - dot(dy, y))` for a softmax output `y` and the
    /// gradient `dy` of the loss with respect to `y`. All three slices have one length.
    pub fn softmax_backward<T: Element>(
        &self,
        y: &[T],
        dy: &[T],
        dx: &mut [T],
    ) -> Result<(), Error> {
        self.backward(y, dy, dx, false)
    }

    /// [`Softmax::softmax_backward`] writing `dx` over `dy`.
    pub fn softmax_backward_in_place<T: Element>(
        &self,
        y: &[T],
        dy_dx: &mut [T],
    ) -> Result<(), Error> {
        self.backward_in_place(y, dy_dx, false)
    }

    /// Log-softmax backward pass: `dx = dy - exp(y) * sum(dy)` for a log-softmax output `y`
    /// (`exp(y)` counts as infinite from about 88.4 on; infinities follow IEEE rules).
    pub fn log_softmax_backward<T: Element>(
        &self,
        y: &[T],
        dy: &[T],
        dx: &mut [T],
    ) -> Result<(), Error> {
        self.backward(y, dy, dx, true)
    }

    /// [`Softmax::log_softmax_backward`] writing `dx` over `dy`.
    pub fn log_softmax_backward_in_place<T: Element>(
        &self,
        y: &[T],
        dy_dx: &mut [T],
    ) -> Result<(), Error> {
        self.backward_in_place(y, dy_dx, true)
    }

    fn backward<T: Element>(
        &self,
        y: &[T],
        dy: &[T],
        dx: &mut [T],
        log: bool,
    ) -> Result<(), Error> {
        let mismatch = if dy.len() != y.len() {
            length("dy", y.len(), dy.len())
        } else {
            length("dx", y.len(), dx.len())
        };
        self.grad_row(y, dy, dx, GradDirect::of(log), |g| {
            self.run_backward(g, log)
        })
        .ok_or(mismatch)
    }

    fn backward_in_place<T: Element>(
        &self,
        y: &[T],
        dy_dx: &mut [T],
        log: bool,
    ) -> Result<(), Error> {
        let mismatch = length("dy_dx", y.len(), dy_dx.len());
        self.grad_row_in_place(y, dy_dx, GradDirect::of(log), |g| self.run_backward(g, log))
            .ok_or(mismatch)
    }

    /// Batched softmax backward pass: row `r` of each buffer starts at `r * stride` of that
    /// buffer (strides in elements, at least `cols`).
    #[allow(clippy::too_many_arguments)]
    pub fn softmax_backward_rows<T: Element>(
        &self,
        y: &[T],
        y_stride: usize,
        dy: &[T],
        dy_stride: usize,
        dx: &mut [T],
        dx_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let strides = [y_stride, dy_stride, dx_stride];
        let direct = GradDirect::Softmax;
        self.grad_rows(("y", y), dy, dx, strides, rows, cols, direct, |g| {
            self.run_backward(g, false)
        })
    }

    /// Batched log-softmax backward pass (layout as in [`Softmax::softmax_backward_rows`]).
    #[allow(clippy::too_many_arguments)]
    pub fn log_softmax_backward_rows<T: Element>(
        &self,
        y: &[T],
        y_stride: usize,
        dy: &[T],
        dy_stride: usize,
        dx: &mut [T],
        dx_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let strides = [y_stride, dy_stride, dx_stride];
        let direct = GradDirect::LogSoftmax;
        self.grad_rows(("y", y), dy, dx, strides, rows, cols, direct, |g| {
            self.run_backward(g, true)
        })
    }

    /// Validates a batch of backward passes and runs `op` on each row's `(y, dy, dx)` (the
    /// first input is named `name` in errors: the forward output, or the StableMax input).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn grad_rows<T: Element>(
        &self,
        (name, y): (&'static str, &[T]),
        dy: &[T],
        dx: &mut [T],
        [ys, dys, dxs]: [usize; 3],
        rows: usize,
        cols: usize,
        direct: GradDirect,
        op: impl Fn(Grad<'_>) + Sync,
    ) -> Result<(), Error> {
        check_len(name, batch_extent(rows, cols, ys)?, y.len())?;
        check_len("dy", batch_extent(rows, cols, dys)?, dy.len())?;
        check_len("dx", batch_extent(rows, cols, dxs)?, dx.len())?;
        let dx = parallel::Shared(dx.as_mut_ptr());
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            for r in range {
                // SAFETY: row `r` of `dx` lies inside the checked extent, and the chunks hand
                // out each row once (rows `dxs >= cols` apart do not overlap).
                let dxr = unsafe { std::slice::from_raw_parts_mut(dx.get().add(r * dxs), cols) };
                self.grad_row(
                    &y[r * ys..][..cols],
                    &dy[r * dys..][..cols],
                    dxr,
                    direct,
                    &op,
                )
                .expect("rows have equal lengths");
            }
        });
        Ok(())
    }

    /// Cross-entropy loss of one row of logits against class `target`:
    /// `logsumexp(logits) - logits[target]`, in one pass over the logits (fused: no softmax
    /// is materialised). `target >= logits.len()` is [`Error::InvalidArgument`].
    ///
    /// Special rows: a NaN logit gives NaN; `k` logits at `+inf` give `ln k` when the target
    /// is one of them and `+inf` otherwise; a row of only `-inf` gives NaN.
    ///
    /// ```
    /// let sm = softmax::Softmax::new();
    /// let loss = sm.cross_entropy(&[0.0, 0.0], 1).unwrap();
    /// assert!((loss - std::f32::consts::LN_2).abs() < 1e-7);
    /// ```
    pub fn cross_entropy<T: Element>(&self, logits: &[T], target: usize) -> Result<f32, Error> {
        self.cross_entropy_row(logits, target, 0.0)
    }

    /// [`Softmax::run_cross_entropy`] of a row of `T`: 16-bit rows read in their format where
    /// the kernels take them, else staged.
    pub(crate) fn cross_entropy_row<T: Element>(
        &self,
        x: &[T],
        target: usize,
        eps: f32,
    ) -> Result<f32, Error> {
        let n = x.len();
        Self::check_target(n, target, eps)?;
        if let Data::Half(f, xh) = T::data(x) {
            let row = (xh.as_ptr(), std::ptr::null_mut(), n);
            // SAFETY: a slice of `n` elements, no output; the target and the smoothing were
            // checked above.
            let direct = unsafe { self.half_cross_entropy_grad_direct(f, row, target, eps) };
            if let Some(loss) = direct {
                return Ok(loss);
            }
        }
        self.read_row(x, |x| self.run_cross_entropy(x, target, eps))
    }

    /// [`Softmax::cross_entropy`] that also writes the gradient with respect to the logits,
    /// `softmax(logits) - onehot(target)`, to `dlogits`: two passes, no intermediate buffer.
    pub fn cross_entropy_with_grad<T: Element>(
        &self,
        logits: &[T],
        target: usize,
        dlogits: &mut [T],
    ) -> Result<f32, Error> {
        let mismatch = length("dlogits", logits.len(), dlogits.len());
        if logits.len() != dlogits.len() {
            return Err(mismatch);
        }
        // Checked before anything is written.
        Self::check_target(logits.len(), target, 0.0)?;
        self.cross_entropy_grad_row(logits, dlogits, target, 0.0)
    }

    /// [`Softmax::run_cross_entropy_grad`] of a row of `T` into `d` (equal lengths, a valid
    /// target and smoothing): 16-bit rows through their kernel of their own where it takes
    /// them, else staged.
    fn cross_entropy_grad_row<T: Element>(
        &self,
        x: &[T],
        d: &mut [T],
        target: usize,
        eps: f32,
    ) -> Result<f32, Error> {
        let n = x.len();
        Self::check_target(n, target, eps)?;
        if let (Data::Half(f, xh), DataMut::Half(_, dh)) = (T::data(x), T::data_mut(d)) {
            if dh.len() == n {
                let row = (xh.as_ptr(), dh.as_mut_ptr(), n);
                // SAFETY: two slices of `n` elements, `d` a `&mut` (disjoint from `x`); the
                // target and the smoothing were checked above.
                let direct = unsafe { self.half_cross_entropy_grad_direct(f, row, target, eps) };
                if let Some(loss) = direct {
                    return Ok(loss);
                }
            }
        }
        self.map_row(x, d, |io| self.run_cross_entropy_grad(io, target, eps))
            .ok_or_else(|| length("dlogits", n, d.len()))?
    }

    /// Batched cross-entropy: row `r` of `cols` logits starts at `r * stride`; `targets[r]`
    /// is its class, or `options.ignore_index` to skip it (loss 0, gradient row 0). Writes
    /// one loss per row to `losses` (the caller reduces) and, when `dlogits` is given as
    /// `(buffer, stride)`, the gradient rows. With label smoothing `eps`, the target
    /// distribution is `(1 - eps) * onehot + eps / cols`. Every target is checked before
    /// anything is written.
    #[allow(clippy::too_many_arguments)]
    pub fn cross_entropy_rows<T: Element>(
        &self,
        logits: &[T],
        stride: usize,
        rows: usize,
        cols: usize,
        targets: &[i64],
        options: CrossEntropyOptions,
        losses: &mut [f32],
        dlogits: Option<(&mut [T], usize)>,
    ) -> Result<(), Error> {
        check_len("logits", batch_extent(rows, cols, stride)?, logits.len())?;
        check_len("targets", rows, targets.len())?;
        check_len("losses", rows, losses.len())?;
        if let Some((d, ds)) = &dlogits {
            check_len("dlogits", batch_extent(rows, cols, *ds)?, d.len())?;
        }
        let eps = options.label_smoothing;
        for (row, &t) in targets.iter().take(rows).enumerate() {
            let class = usize::try_from(t).ok().filter(|&c| c < cols);
            if t != options.ignore_index && class.is_none() {
                let (target, classes) = (t, cols);
                return Err(Error::TargetOutOfRange {
                    row,
                    target,
                    classes,
                });
            }
        }
        Self::check_target(1, 0, eps)?;
        let losses = parallel::Shared(losses.as_mut_ptr());
        let dlogits = dlogits.map(|(d, ds)| (parallel::Shared(d.as_mut_ptr()), ds));
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            for r in range {
                let x = &logits[r * stride..][..cols];
                let t = targets[r];
                // SAFETY: row `r` of the gradient lies inside its checked extent, and the
                // chunks hand out each row once (rows `ds >= cols` apart do not overlap).
                let d = dlogits.map(|(d, ds)| unsafe {
                    std::slice::from_raw_parts_mut(d.get().add(r * ds), cols)
                });
                let loss = match d {
                    _ if t == options.ignore_index => {
                        if let Some(d) = d {
                            d.fill(T::default());
                        }
                        0.0
                    }
                    Some(d) => self
                        .cross_entropy_grad_row(x, d, t as usize, eps)
                        .expect("targets checked above"),
                    None => self
                        .cross_entropy_row(x, t as usize, eps)
                        .expect("targets checked above"),
                };
                // SAFETY: `r < rows <= losses.len()`, and each row's loss is written once.
                unsafe { losses.get().add(r).write(loss) };
            }
        });
        Ok(())
    }
}

/// Options of [`Softmax::cross_entropy_rows`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyOptions {
    /// Rows whose target equals this value contribute loss 0 and gradient 0.
    pub ignore_index: i64,
    /// Label smoothing `eps` in `[0, 1]`.
    pub label_smoothing: f32,
}

impl Default for CrossEntropyOptions {
    /// `ignore_index = -100` (the common framework convention), no smoothing.
    fn default() -> Self {
        CrossEntropyOptions {
            ignore_index: -100,
            label_smoothing: 0.0,
        }
    }
}

/// Softmax backward pass on the current ISA (see [`Softmax::softmax_backward`]).
pub fn softmax_backward<T: Element>(y: &[T], dy: &[T], dx: &mut [T]) -> Result<(), Error> {
    Softmax::new().softmax_backward(y, dy, dx)
}

/// Log-softmax backward pass on the current ISA (see [`Softmax::log_softmax_backward`]).
pub fn log_softmax_backward<T: Element>(y: &[T], dy: &[T], dx: &mut [T]) -> Result<(), Error> {
    Softmax::new().log_softmax_backward(y, dy, dx)
}

/// Cross-entropy loss on the current ISA (see [`Softmax::cross_entropy`]).
pub fn cross_entropy<T: Element>(logits: &[T], target: usize) -> Result<f32, Error> {
    Softmax::new().cross_entropy(logits, target)
}

/// Cross-entropy loss and gradient on the current ISA (see
/// [`Softmax::cross_entropy_with_grad`]).
pub fn cross_entropy_with_grad<T: Element>(
    logits: &[T],
    target: usize,
    dlogits: &mut [T],
) -> Result<f32, Error> {
    Softmax::new().cross_entropy_with_grad(logits, target, dlogits)
}
