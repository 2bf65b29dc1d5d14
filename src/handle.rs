//! The handle [`Softmax`]: the kernels of one ISA with the handle's settings, and the row
//! loops its batch operations share (the operations themselves are in `forward`, `training`,
//! `lse`, `stablemax` and `topk`).

use crate::kernels::{Flags, Kernels};
use crate::rows::{InOut, Rows};
use crate::tuning::Thresholds;
use crate::{batch_extent, check_len, dispatch, parallel, Algorithm, Error, Isa};

/// Kernels of one ISA, chosen explicitly or by detection. Cheap to copy.
///
/// ```
/// use softmax::{Isa, Softmax};
/// let sm = Softmax::with_isa(Isa::Scalar).unwrap();
/// let mut row = [0.0f32, 0.0];
/// sm.softmax_in_place(&mut row);
/// assert_eq!(row, [0.5, 0.5]);
/// ```
#[derive(Clone, Copy)]
pub struct Softmax {
    /// The kernel table of the handle's ISA.
    pub(crate) kernels: &'static Kernels,
    /// Masked-row mode ([`Softmax::zero_masked_rows`]).
    pub(crate) zero_masked: bool,
    /// The thread setting of this handle; `None`: the process setting (`parallel`).
    pub(crate) threads: Option<usize>,
    /// This machine's cache-size thresholds (`Auto`'s algorithm, non-temporal stores),
    /// resolved when the handle is made, so that its calls read no global to decide.
    pub(crate) thresholds: Thresholds,
}

impl Default for Softmax {
    fn default() -> Self {
        Softmax::new()
    }
}

impl std::fmt::Debug for Softmax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Softmax")
            .field("isa", &self.isa())
            .field("zero_masked_rows", &self.zero_masked)
            .field("threads", &self.threads)
            .finish()
    }
}

impl Softmax {
    /// The kernels calls use now (detected, `SOFTMAX_ISA`, or [`set_isa`](crate::set_isa)).
    pub fn new() -> Softmax {
        Softmax {
            kernels: dispatch::active(),
            zero_masked: false,
            threads: None,
            thresholds: Thresholds::get(),
        }
    }

    /// The kernels of `isa`; [`Error::UnsupportedIsa`] when this CPU or build lacks it.
    pub fn with_isa(isa: Isa) -> Result<Softmax, Error> {
        dispatch::kernels_for(isa)
            .map(|kernels| Softmax {
                kernels,
                zero_masked: false,
                threads: None,
                thresholds: Thresholds::get(),
            })
            .ok_or(Error::UnsupportedIsa(isa))
    }

    /// The ISA these kernels use.
    pub fn isa(&self) -> Isa {
        self.kernels.isa
    }

    /// The same kernels with masked-row mode on or off. When on, softmax of a row whose
    /// entries are all `-inf` (a fully masked attention row) gives zeros instead of NaN, so
    /// its gradient through [`Softmax::softmax_backward`] is zero too. Off by default.
    pub fn zero_masked_rows(self, on: bool) -> Softmax {
        Softmax {
            zero_masked: on,
            ..self
        }
    }

    /// The kernel flags of this handle for rows of `n` elements.
    #[inline]
    pub(crate) fn flags(&self, n: usize) -> Flags {
        Flags {
            non_temporal: self.thresholds.non_temporal(n),
            zero_masked: self.zero_masked,
        }
    }

    /// The concrete algorithm `algorithm` means for rows of `n` elements: what
    /// [`Algorithm::resolve`] answers, from the thresholds this handle holds.
    #[inline]
    pub(crate) fn resolve(&self, algorithm: Algorithm, n: usize) -> Algorithm {
        algorithm.resolve_with(self.thresholds.reload(n))
    }

    /// Runs `f` on chunks of whole rows of a batch, in parallel when the batch is large
    /// enough and the thread setting allows ([`parallel::for_row_chunks`]).
    pub(crate) fn row_chunks(&self, rows: &Rows<'_>, f: impl Fn(Rows<'_>) + Sync) {
        parallel::for_row_chunks(self.threads, rows.rows(), rows.cols(), |range| {
            // SAFETY: the chunks are disjoint ranges of rows, each handed out once.
            f(unsafe { rows.sub(range) })
        });
    }

    /// Validates a batch and runs a one-row operation on each of its rows.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rows(
        &self,
        x: &[f32],
        x_stride: usize,
        y: &mut [f32],
        y_stride: usize,
        rows: usize,
        cols: usize,
        op: impl Fn(InOut<'_>) + Sync,
    ) -> Result<(), Error> {
        check_len("x", batch_extent(rows, cols, x_stride)?, x.len())?;
        check_len("y", batch_extent(rows, cols, y_stride)?, y.len())?;
        let y = parallel::Shared(y.as_mut_ptr());
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            for r in range {
                let xr = &x[r * x_stride..][..cols];
                // SAFETY: row `r` of `y` lies inside the checked extent, and the chunks hand
                // out each row once (rows `y_stride >= cols` apart do not overlap).
                let yr = unsafe { std::slice::from_raw_parts_mut(y.get().add(r * y_stride), cols) };
                op(InOut::new(xr, yr).expect("rows have equal lengths"));
            }
        });
        Ok(())
    }

    /// [`Softmax::rows`] in place.
    pub(crate) fn rows_in_place(
        &self,
        xy: &mut [f32],
        stride: usize,
        rows: usize,
        cols: usize,
        op: impl Fn(InOut<'_>) + Sync,
    ) -> Result<(), Error> {
        check_len("xy", batch_extent(rows, cols, stride)?, xy.len())?;
        let xy = parallel::Shared(xy.as_mut_ptr());
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            for r in range {
                // SAFETY: as in `rows`: each row once, inside the checked extent.
                let row = unsafe { std::slice::from_raw_parts_mut(xy.get().add(r * stride), cols) };
                op(InOut::in_place(row));
            }
        });
        Ok(())
    }
}
