//! Rows of 16-bit elements through the f32 kernels: each row (or group of short rows) is
//! widened into an f32 buffer, the f32 operation runs on the buffer in place, and its output
//! is rounded back. Rows of `f32` go straight to the operation.
//!
//! Buffers: rows of up to [`STAGE`] elements use one on the stack (sized to the row in a few
//! steps, so a short row does not clear a large buffer); longer rows use one on the heap for
//! the call. A batch of short rows is staged a group of rows at a time, so the batch kernels
//! (several rows at once) still run, and its groups run on the handle's threads as f32
//! batches do.

use crate::element::{Data, DataMut, Element};
use crate::kernels::convert::Half;
use crate::parallel::{self, Shared};
use crate::rows::{Grad, InOut, Rows, RowsIn};
use crate::{batch_extent, check_len, Error, Softmax};

/// The longest staged row kept on the stack (16 KiB of f32).
pub(crate) const STAGE: usize = 4096;

/// Runs `f` on a zeroed f32 buffer of `n` elements: on the stack for `n <= STAGE` (the
/// smallest of a few sizes that holds it), else on the heap.
fn with_buffer<R>(n: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    fn on_stack<const N: usize, R>(n: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
        let mut buf = [0.0f32; N];
        f(&mut buf[..n])
    }
    match n {
        0..=64 => on_stack::<64, R>(n, f),
        65..=512 => on_stack::<512, R>(n, f),
        513..=STAGE => on_stack::<STAGE, R>(n, f),
        _ => f(&mut vec![0.0f32; n]),
    }
}

/// Two buffers of `n` elements, as [`with_buffer`].
fn with_buffers<R>(n: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    with_buffer(n, |a| with_buffer(n, |b| f(a, b)))
}

impl Softmax {
    /// Validates a batch (layout as in [`Softmax::softmax_rows`]) and runs an f32 batch
    /// operation on it: f32 batches directly, 16-bit ones a group of rows at a time.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rows_op<T: Element>(
        &self,
        x: &[T],
        x_stride: usize,
        y: &mut [T],
        y_stride: usize,
        rows: usize,
        cols: usize,
        op: impl Fn(Rows<'_>) + Sync,
    ) -> Result<(), Error> {
        check_len("x", batch_extent(rows, cols, x_stride)?, x.len())?;
        check_len("y", batch_extent(rows, cols, y_stride)?, y.len())?;
        match (T::data(x), T::data_mut(y)) {
            (Data::F32(x), DataMut::F32(y)) => op(Rows::new(x, x_stride, y, y_stride, rows, cols)?),
            (Data::Half(f, x), DataMut::Half(_, y)) => {
                // SAFETY: both extents were checked above, and `y` (a `&mut`) is disjoint
                // from `x`.
                unsafe {
                    self.half_rows(
                        f,
                        (x.as_ptr(), x_stride),
                        (y.as_mut_ptr(), y_stride),
                        rows,
                        cols,
                        op,
                    )
                }
            }
            _ => return Err(Error::InvalidArgument("element types differ")),
        }
        Ok(())
    }

    /// [`Softmax::rows_op`] in place.
    pub(crate) fn rows_op_in_place<T: Element>(
        &self,
        xy: &mut [T],
        stride: usize,
        rows: usize,
        cols: usize,
        op: impl Fn(Rows<'_>) + Sync,
    ) -> Result<(), Error> {
        check_len("xy", batch_extent(rows, cols, stride)?, xy.len())?;
        match T::data_mut(xy) {
            DataMut::F32(xy) => op(Rows::in_place(xy, stride, rows, cols)?),
            DataMut::Half(f, xy) => {
                let p = xy.as_mut_ptr();
                // SAFETY: the extent was checked above; each output row is its input row.
                unsafe { self.half_rows(f, (p, stride), (p, stride), rows, cols, op) }
            }
        }
        Ok(())
    }

    /// Validates a batch with one `f32` result per row (at least `rows` values in `out`;
    /// the rest untouched) and runs an f32 operation on it.
    pub(crate) fn rows_in_op<T: Element>(
        &self,
        x: &[T],
        stride: usize,
        rows: usize,
        cols: usize,
        out: &mut [f32],
        op: impl Fn(RowsIn<'_>, &mut [f32]) + Sync,
    ) -> Result<(), Error> {
        check_len("x", batch_extent(rows, cols, stride)?, x.len())?;
        check_len("out", rows, out.len())?;
        let out = &mut out[..rows];
        match T::data(x) {
            Data::F32(x) => op(RowsIn::new(x, stride, rows, cols)?, out),
            Data::Half(f, x) => self.half_rows_in(f, x, stride, cols, out, op),
        }
        Ok(())
    }

    /// `src` widened into `dst` (equal lengths).
    fn widen(&self, format: Half, src: &[u16], dst: &mut [f32]) {
        // SAFETY: the table came from `dispatch` (its ISA runs here); equal lengths.
        unsafe { (self.kernels.widen)(format, src, dst) }
    }

    /// `src` rounded into `dst` (equal lengths).
    fn narrow(&self, format: Half, src: &[f32], dst: &mut [u16]) {
        // SAFETY: as in `widen`.
        unsafe { (self.kernels.narrow)(format, src, dst) }
    }

    /// Runs a one-row f32 operation from `x` to `y`; `None` when their lengths differ.
    pub(crate) fn map_row<T: Element, R>(
        &self,
        x: &[T],
        y: &mut [T],
        op: impl FnOnce(InOut<'_>) -> R,
    ) -> Option<R> {
        match (T::data(x), T::data_mut(y)) {
            (Data::F32(x), DataMut::F32(y)) => Some(op(InOut::new(x, y)?)),
            (Data::Half(f, x), DataMut::Half(_, y)) if x.len() == y.len() => {
                Some(with_buffer(x.len(), |buf| {
                    self.widen(f, x, buf);
                    let r = op(InOut::in_place(buf));
                    self.narrow(f, buf, y);
                    r
                }))
            }
            _ => None,
        }
    }

    /// Runs a one-row f32 operation on `xy` in place.
    pub(crate) fn map_row_in_place<T: Element, R>(
        &self,
        xy: &mut [T],
        op: impl FnOnce(InOut<'_>) -> R,
    ) -> R {
        match T::data_mut(xy) {
            DataMut::F32(xy) => op(InOut::in_place(xy)),
            DataMut::Half(f, xy) => with_buffer(xy.len(), |buf| {
                self.widen(f, xy, buf);
                let r = op(InOut::in_place(buf));
                self.narrow(f, buf, xy);
                r
            }),
        }
    }

    /// Runs a read-only f32 operation on `x`.
    pub(crate) fn read_row<T: Element, R>(&self, x: &[T], op: impl FnOnce(&[f32]) -> R) -> R {
        match T::data(x) {
            Data::F32(x) => op(x),
            Data::Half(f, x) => with_buffer(x.len(), |buf| {
                self.widen(f, x, buf);
                op(buf)
            }),
        }
    }

    /// Runs a backward-pass f32 operation on `(y, dy)` into `dx`; `None` when the lengths
    /// differ.
    pub(crate) fn grad_row<T: Element, R>(
        &self,
        y: &[T],
        dy: &[T],
        dx: &mut [T],
        op: impl FnOnce(Grad<'_>) -> R,
    ) -> Option<R> {
        match (T::data(y), T::data(dy), T::data_mut(dx)) {
            (Data::F32(y), Data::F32(dy), DataMut::F32(dx)) => Some(op(Grad::new(y, dy, dx)?)),
            (Data::Half(f, y), Data::Half(_, dy), DataMut::Half(_, dx))
                if y.len() == dy.len() && y.len() == dx.len() =>
            {
                with_buffers(y.len(), |yb, db| {
                    self.widen(f, y, yb);
                    self.widen(f, dy, db);
                    let r = op(Grad::in_place(yb, db)?);
                    self.narrow(f, db, dx);
                    Some(r)
                })
            }
            _ => None,
        }
    }

    /// [`Softmax::grad_row`] with `dx` written over `dy`.
    pub(crate) fn grad_row_in_place<T: Element, R>(
        &self,
        y: &[T],
        dy_dx: &mut [T],
        op: impl FnOnce(Grad<'_>) -> R,
    ) -> Option<R> {
        match (T::data(y), T::data_mut(dy_dx)) {
            (Data::F32(y), DataMut::F32(d)) => Some(op(Grad::in_place(y, d)?)),
            (Data::Half(f, y), DataMut::Half(_, d)) if y.len() == d.len() => {
                with_buffers(y.len(), |yb, db| {
                    self.widen(f, y, yb);
                    self.widen(f, d, db);
                    let r = op(Grad::in_place(yb, db)?);
                    self.narrow(f, db, d);
                    Some(r)
                })
            }
            _ => None,
        }
    }

    /// Runs an f32 batch operation on a batch of 16-bit rows: row `r` is read at
    /// `x + r * xs` and written at `y + r * ys` (`y == x` with `ys == xs` for in place).
    /// Rows of at most [`STAGE`] elements go through the batch operation a group at a time;
    /// longer rows one by one.
    ///
    /// # Safety
    /// Every row of `x` is readable and of `y` writable for `cols` elements during the call,
    /// and each output row equals its input row or is disjoint from every input row.
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn half_rows(
        &self,
        f: Half,
        (x, xs): (*const u16, usize),
        (y, ys): (*mut u16, usize),
        rows: usize,
        cols: usize,
        op: impl Fn(Rows<'_>) + Sync,
    ) {
        let (x, y) = (Shared(x), Shared(y));
        let group = (STAGE / cols.max(1)).max(1);
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            let mut r = range.start;
            while r < range.end {
                let g = group.min(range.end - r);
                with_buffer(g * cols, |buf| {
                    for i in 0..g {
                        // SAFETY: row `r + i` is readable for `cols` (the contract).
                        let src =
                            unsafe { std::slice::from_raw_parts(x.get().add((r + i) * xs), cols) };
                        self.widen(f, src, &mut buf[i * cols..][..cols]);
                    }
                    let batch =
                        Rows::in_place(buf, cols, g, cols).expect("the buffer holds the group");
                    op(batch);
                    for i in 0..g {
                        // SAFETY: row `r + i` is writable for `cols` (the contract); its
                        // input was read above, and the chunks hand out each row once.
                        let dst = unsafe {
                            std::slice::from_raw_parts_mut(y.get().add((r + i) * ys), cols)
                        };
                        self.narrow(f, &buf[i * cols..][..cols], dst);
                    }
                });
                r += g;
            }
        });
    }

    /// Runs an f32 batch operation with one result per row (log-sum-exp) on a batch of
    /// 16-bit rows, a group at a time as [`Softmax::half_rows`].
    pub(crate) fn half_rows_in(
        &self,
        f: Half,
        x: &[u16],
        stride: usize,
        cols: usize,
        out: &mut [f32],
        op: impl Fn(RowsIn<'_>, &mut [f32]) + Sync,
    ) {
        let rows = out.len();
        let group = (STAGE / cols.max(1)).max(1);
        let out = Shared(out.as_mut_ptr());
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            let mut r = range.start;
            while r < range.end {
                let g = group.min(range.end - r);
                with_buffer(g * cols, |buf| {
                    for i in 0..g {
                        let src = &x[(r + i) * stride..][..cols];
                        self.widen(f, src, &mut buf[i * cols..][..cols]);
                    }
                    // SAFETY: `out` holds one value per row, and the chunks hand out each
                    // row once, so the slices do not overlap.
                    let part = unsafe { std::slice::from_raw_parts_mut(out.get().add(r), g) };
                    let batch =
                        RowsIn::new(buf, cols, g, cols).expect("the buffer holds the group");
                    op(batch, part);
                });
                r += g;
            }
        });
    }
}
