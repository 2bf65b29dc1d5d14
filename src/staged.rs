//! Rows of 16-bit elements through the f32 kernels: each row (or group of short rows) is
//! widened into an f32 buffer, the f32 operation runs on the buffer in place, and its output
//! is rounded back. Rows of `f32` go straight to the operation.
//!
//! Log-sum-exp and log-softmax rows that are short and a whole number of vectors take the
//! short-row kernels in their format instead (`crate::half_short`), alone or in batches.
//!
//! Softmax (scaled too), log-softmax and log-sum-exp rows longer than the short-row kernels
//! (in a batch: longer than the medium rows, which the batch kernels take two at a time) take
//! the passes of `crate::staged_long` first, which read and write the format directly (with
//! the same bits); the rows they decline (special values, algorithms without such passes)
//! are staged.
//!
//! Buffers: rows of up to [`STAGE`] elements use one on the stack (sized to the row in a few
//! steps, so a short row does not clear a large buffer); longer rows of the other
//! operations, and special rows, use one on the heap for the call. A batch of short rows is
//! staged a group of rows at a time (one conversion per group when its rows have no gaps),
//! so the batch kernels (several rows at once) still run, and its groups run on the handle's
//! threads as f32 batches do.

use std::mem::MaybeUninit;

use crate::element::{Data, DataMut, Element};
use crate::kernels::convert::Half;
use crate::parallel::{self, Shared};
use crate::rows::{Grad, InOut, Rows, RowsIn};
use crate::staged_long::HalfRow;
use crate::{batch_extent, check_len, Algorithm, Error, Softmax};

/// The most elements staged on the stack at once (16 KiB of f32): a row, or a group of the
/// rows of a batch.
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
        65..=128 => on_stack::<128, R>(n, f),
        129..=512 => on_stack::<512, R>(n, f),
        513..=1024 => on_stack::<1024, R>(n, f),
        1025..=STAGE => on_stack::<STAGE, R>(n, f),
        _ => f(&mut vec![0.0f32; n]),
    }
}

/// Runs `f` on an uninitialised f32 buffer of `n` elements (a pointer to them, for a kernel
/// that writes every element before it reads it): on the stack for `n <= STAGE`, else on
/// the heap.
pub(crate) fn with_scratch<R>(n: usize, f: impl FnOnce(*mut f32) -> R) -> R {
    fn on_stack<const N: usize, R>(f: impl FnOnce(*mut f32) -> R) -> R {
        let mut buf = [const { MaybeUninit::<f32>::uninit() }; N];
        f(buf.as_mut_ptr().cast())
    }
    match n {
        0..=512 => on_stack::<512, R>(f),
        513..=1024 => on_stack::<1024, R>(f),
        1025..=STAGE => on_stack::<STAGE, R>(f),
        _ => {
            let mut heap = Vec::<f32>::with_capacity(n);
            f(heap.as_mut_ptr())
        }
    }
}

/// The operation of a 16-bit batch, for its kernels of its own that read and write the
/// format directly; the rows they decline, and the operations without such kernels, are
/// staged.
#[derive(Clone, Copy)]
pub(crate) enum Direct {
    /// No kernels of its own: every row staged.
    Staged,
    /// Softmax with an algorithm: long rows (`crate::staged_long`).
    Softmax(Algorithm),
    /// Softmax of the rows times a finite scale, with an algorithm: long rows.
    Scaled(Algorithm, f32),
    /// Log-softmax: short rows (`crate::half_short`) and long rows.
    LogSoftmax,
}

impl Softmax {
    /// Runs `op`'s kernels of their own on one 16-bit row: `true` when they wrote the row,
    /// `false` (nothing written) when it must be staged.
    fn direct_row(&self, op: Direct, row: HalfRow<'_>) -> bool {
        match op {
            Direct::Softmax(alg) => self.half_softmax_direct(row, alg),
            Direct::Scaled(alg, scale) => self.half_softmax_scaled_direct(row, alg, scale),
            Direct::LogSoftmax => self.half_log_softmax_direct(row),
            Direct::Staged => false,
        }
    }

    /// Runs `op`'s kernel of its own on a batch of short 16-bit rows: `true` when it wrote
    /// every row, `false` (nothing written) when the batch must be staged.
    fn direct_short(&self, op: Direct, format: Half, batch: Rows<'_, u16>) -> bool {
        match op {
            Direct::LogSoftmax => {
                self.half_log_softmax_short(format, batch);
                true
            }
            Direct::Softmax(alg) if self.half_short_softmax(format, batch.cols(), alg) => {
                self.half_softmax_short(format, batch);
                true
            }
            Direct::Softmax(_) | Direct::Scaled(..) | Direct::Staged => false,
        }
    }
}

/// Which backward pass a 16-bit gradient row takes: one with kernels of its own, which read
/// and write the format directly (with the bits of staging), or staged through f32 buffers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum GradDirect {
    /// No kernels of its own (StableMax).
    Staged,
    /// The softmax backward pass.
    Softmax,
    /// The log-softmax backward pass.
    LogSoftmax,
}

impl GradDirect {
    /// The pass of log-softmax (`log`) or of softmax.
    pub(crate) fn of(log: bool) -> Self {
        if log {
            GradDirect::LogSoftmax
        } else {
            GradDirect::Softmax
        }
    }
}

/// Two buffers of `n` elements, as [`with_buffer`].
pub(crate) fn with_buffers<R>(n: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
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
        direct: Direct,
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
                        direct,
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
        direct: Direct,
        op: impl Fn(Rows<'_>) + Sync,
    ) -> Result<(), Error> {
        check_len("xy", batch_extent(rows, cols, stride)?, xy.len())?;
        match T::data_mut(xy) {
            DataMut::F32(xy) => op(Rows::in_place(xy, stride, rows, cols)?),
            DataMut::Half(f, xy) => {
                let p = xy.as_mut_ptr();
                // SAFETY: the extent was checked above; each output row is its input row.
                unsafe { self.half_rows(f, (p, stride), (p, stride), rows, cols, direct, op) }
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
            // Short rows of whole vectors: read in their format (`crate::half_short`).
            Data::Half(f, x) if self.half_short(cols) => {
                self.half_logsumexp_short(f, RowsIn::new(x, stride, rows, cols)?, out)
            }
            Data::Half(f, x) => self.half_rows_in(f, x, stride, cols, out, op),
        }
        Ok(())
    }

    /// `src` widened into `dst` (equal lengths).
    pub(crate) fn widen_into(&self, format: Half, src: &[u16], dst: &mut [f32]) {
        // SAFETY: the table came from `dispatch` (its ISA runs here); equal lengths.
        unsafe { (self.kernels.widen)(format, src, dst) }
    }

    /// `src` rounded into `dst` (equal lengths).
    pub(crate) fn narrow_into(&self, format: Half, src: &[f32], dst: &mut [u16]) {
        // SAFETY: as in `widen`.
        unsafe { (self.kernels.narrow)(format, src, dst) }
    }

    /// Runs a one-row f32 operation from `x` to `y`; `None` when their lengths differ.
    #[inline(always)]
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
                    self.widen_into(f, x, buf);
                    let r = op(InOut::in_place(buf));
                    self.narrow_into(f, buf, y);
                    r
                }))
            }
            _ => None,
        }
    }

    /// [`Softmax::map_row`] for an operation with kernels of its own for 16-bit rows.
    #[inline(always)]
    pub(crate) fn map_row_direct<T: Element>(
        &self,
        x: &[T],
        y: &mut [T],
        direct: Direct,
        op: impl FnOnce(InOut<'_>),
    ) -> Option<()> {
        if let (Data::Half(format, xs), DataMut::Half(_, ys)) = (T::data(x), T::data_mut(y)) {
            if xs.len() == ys.len() {
                // SAFETY: the two slices (a `&` and a `&mut`, disjoint) outlive the call.
                let row = unsafe { HalfRow::new(format, xs.as_ptr(), ys.as_mut_ptr(), xs.len()) };
                if self.direct_row(direct, row) {
                    return Some(());
                }
            }
        }
        self.map_row(x, y, op)
    }

    /// [`Softmax::map_row_in_place`] for an operation with kernels of its own for 16-bit
    /// rows.
    pub(crate) fn map_row_in_place_direct<T: Element>(
        &self,
        xy: &mut [T],
        direct: Direct,
        op: impl FnOnce(InOut<'_>),
    ) {
        if let DataMut::Half(format, xs) = T::data_mut(xy) {
            let (p, n) = (xs.as_mut_ptr(), xs.len());
            // SAFETY: the slice outlives the call; the output is the input.
            if self.direct_row(direct, unsafe { HalfRow::new(format, p, p, n) }) {
                return;
            }
        }
        self.map_row_in_place(xy, op)
    }

    /// Log-sum-exp of a row of any element type.
    pub(crate) fn logsumexp_of<T: Element>(&self, x: &[T]) -> f32 {
        if let Data::Half(format, xs) = T::data(x) {
            if let Some(v) = self.half_logsumexp_direct(format, xs) {
                return v;
            }
        }
        self.read_row(x, |x| self.run_logsumexp(x))
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
                self.widen_into(f, xy, buf);
                let r = op(InOut::in_place(buf));
                self.narrow_into(f, buf, xy);
                r
            }),
        }
    }

    /// Runs a read-only f32 operation on `x`.
    pub(crate) fn read_row<T: Element, R>(&self, x: &[T], op: impl FnOnce(&[f32]) -> R) -> R {
        match T::data(x) {
            Data::F32(x) => op(x),
            Data::Half(f, x) => with_buffer(x.len(), |buf| {
                self.widen_into(f, x, buf);
                op(buf)
            }),
        }
    }

    /// Runs `direct`'s kernel of its own on the 16-bit rows `(y, dy, dx, n)`: `true` when it
    /// wrote `dx`, `false` (nothing written) when the rows must be staged.
    ///
    /// # Safety
    /// `y` and `dy` are readable and `dx` writable for `n` elements, `dx` equal to `y` or to
    /// `dy` or disjoint from both.
    #[inline(always)]
    pub(crate) unsafe fn half_grad_direct(
        &self,
        direct: GradDirect,
        format: Half,
        rows: (*const u16, *const u16, *mut u16, usize),
    ) -> bool {
        let log = match direct {
            GradDirect::Staged => return false,
            GradDirect::Softmax => false,
            GradDirect::LogSoftmax => true,
        };
        let nt = self.non_temporal_half(rows.3);
        // SAFETY: the kernels' ISA runs here (dispatch checked it); the caller's contract.
        unsafe { (self.kernels.half_backward)(format, rows, log, nt) };
        true
    }

    /// Runs a backward-pass f32 operation on `(y, dy)` into `dx` (16-bit rows through
    /// `direct`'s kernel of its own, if any, else staged); `None` when the lengths differ.
    pub(crate) fn grad_row<T: Element>(
        &self,
        y: &[T],
        dy: &[T],
        dx: &mut [T],
        direct: GradDirect,
        op: impl FnOnce(Grad<'_>),
    ) -> Option<()> {
        match (T::data(y), T::data(dy), T::data_mut(dx)) {
            (Data::F32(y), Data::F32(dy), DataMut::F32(dx)) => {
                op(Grad::new(y, dy, dx)?);
                Some(())
            }
            (Data::Half(f, y), Data::Half(_, dy), DataMut::Half(_, dx))
                if y.len() == dy.len() && y.len() == dx.len() =>
            {
                let rows = (y.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), y.len());
                // SAFETY: three slices of one length; `dx` is a `&mut`, disjoint from both.
                if unsafe { self.half_grad_direct(direct, f, rows) } {
                    return Some(());
                }
                with_buffers(y.len(), |yb, db| {
                    self.widen_into(f, y, yb);
                    self.widen_into(f, dy, db);
                    op(Grad::in_place(yb, db)?);
                    self.narrow_into(f, db, dx);
                    Some(())
                })
            }
            _ => None,
        }
    }

    /// [`Softmax::grad_row`] with `dx` written over `dy`.
    pub(crate) fn grad_row_in_place<T: Element>(
        &self,
        y: &[T],
        dy_dx: &mut [T],
        direct: GradDirect,
        op: impl FnOnce(Grad<'_>),
    ) -> Option<()> {
        match (T::data(y), T::data_mut(dy_dx)) {
            (Data::F32(y), DataMut::F32(d)) => {
                op(Grad::in_place(y, d)?);
                Some(())
            }
            (Data::Half(f, y), DataMut::Half(_, d)) if y.len() == d.len() => {
                let p = d.as_mut_ptr();
                // SAFETY: two slices of one length; `dx` is `dy` (in place), disjoint from `y`
                // (a `&mut`).
                if unsafe { self.half_grad_direct(direct, f, (y.as_ptr(), p, p, y.len())) } {
                    return Some(());
                }
                with_buffers(y.len(), |yb, db| {
                    self.widen_into(f, y, yb);
                    self.widen_into(f, d, db);
                    op(Grad::in_place(yb, db)?);
                    self.narrow_into(f, db, d);
                    Some(())
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
        direct: Direct,
        op: impl Fn(Rows<'_>) + Sync,
    ) {
        if self.half_short(cols) {
            // SAFETY: every row of `x` is readable and of `y` writable for `cols` elements,
            // each output row equal to its input row or disjoint from every input row (the
            // contract): the invariant of `Rows`.
            let batch = unsafe { Rows::from_raw(x, xs, y, ys, rows, cols) };
            if self.direct_short(direct, f, batch) {
                return;
            }
        }
        let (x, y) = (Shared(x), Shared(y));
        // Rows `r..r + g` through `buf` (at least `g * cols` values).
        let stage = |buf: &mut [f32], r: usize, g: usize| {
            // Rows without gaps convert in one call (a call per short row costs more than
            // converting it).
            let (xrun, xcount) = if xs == cols { (g * cols, 1) } else { (cols, g) };
            for i in 0..xcount {
                // SAFETY: rows `r + i` (or `r..r + g`, adjacent) are readable (the contract).
                let src = unsafe { std::slice::from_raw_parts(x.get().add((r + i) * xs), xrun) };
                self.widen_into(f, src, &mut buf[i * cols..][..xrun]);
            }
            let buf = &mut buf[..g * cols];
            op(Rows::in_place(buf, cols, g, cols).expect("the buffer holds the group"));
            let (yrun, ycount) = if ys == cols { (g * cols, 1) } else { (cols, g) };
            for i in 0..ycount {
                // SAFETY: rows `r + i` (or `r..r + g`, adjacent) are writable (the contract);
                // their inputs were read above, and the chunks hand out each row once.
                let dst =
                    unsafe { std::slice::from_raw_parts_mut(y.get().add((r + i) * ys), yrun) };
                self.narrow_into(f, &buf[i * cols..][..yrun], dst);
            }
        };
        // Short and medium rows (up to 32 vectors) stay staged in groups, where the batch
        // kernels take several rows at a time: measured faster than one row at a time
        // through the 16-bit passes (AVX-512, 1024 x 256 bf16 softmax 0.77 against 0.63 of
        // f32, log-softmax 0.77 against 0.65; AVX2 2048 x 128 log-softmax 0.78 against 0.58).
        if !matches!(direct, Direct::Staged) && cols > self.kernels.medium_len {
            // Rows with passes of their own: one at a time, each staged only if it declines.
            return parallel::for_row_chunks(self.threads, rows, cols, |range| {
                for r in range {
                    let (xr, yr) = (x.get().wrapping_add(r * xs), y.get().wrapping_add(r * ys));
                    // SAFETY: row `r` is readable and writable for `cols` (the contract), its
                    // output equal to or disjoint from its input, and the chunks hand out
                    // each row once.
                    if !self.direct_row(direct, unsafe { HalfRow::new(f, xr, yr, cols) }) {
                        with_buffer(cols, |buf| stage(buf, r, 1));
                    }
                }
            });
        }
        self.staged_groups(rows, cols, stage);
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
        let out = Shared(out.as_mut_ptr());
        // Rows `r..r + g` through `buf` (at least `g * cols` values).
        let stage = |buf: &mut [f32], r: usize, g: usize| {
            if stride == cols {
                // Adjacent rows: one conversion for the group.
                self.widen_into(f, &x[r * cols..][..g * cols], &mut buf[..g * cols]);
            } else {
                for i in 0..g {
                    let src = &x[(r + i) * stride..][..cols];
                    self.widen_into(f, src, &mut buf[i * cols..][..cols]);
                }
            }
            // SAFETY: `out` holds one value per row, and the chunks hand out each row once,
            // so the slices do not overlap.
            let part = unsafe { std::slice::from_raw_parts_mut(out.get().add(r), g) };
            let buf = &buf[..g * cols];
            op(
                RowsIn::new(buf, cols, g, cols).expect("the buffer holds the group"),
                part,
            );
        };
        if cols > self.kernels.medium_len {
            // Rows with a pass of their own (past the medium rows, as in `half_rows`): one at
            // a time, each staged only if it declines.
            return parallel::for_row_chunks(self.threads, rows, cols, |range| {
                for r in range {
                    match self.half_logsumexp_direct(f, &x[r * stride..][..cols]) {
                        // SAFETY: `out` holds one value per row, and the chunks hand out
                        // each row once.
                        Some(v) => unsafe { out.get().add(r).write(v) },
                        None => with_buffer(cols, |buf| stage(buf, r, 1)),
                    }
                }
            });
        }
        self.staged_groups(rows, cols, stage);
    }

    /// Runs `stage(buf, r, g)` on groups of `g` rows from `r` (at most `STAGE` elements
    /// each) of a batch of `rows` short rows of `cols`, on the handle's threads, with one
    /// stack buffer per chunk of rows (cleared once, not once per group).
    fn staged_groups(
        &self,
        rows: usize,
        cols: usize,
        stage: impl Fn(&mut [f32], usize, usize) + Sync,
    ) {
        let group = (STAGE / cols.max(1)).max(1);
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            with_buffer(group.min(range.len()) * cols, |buf| {
                let mut r = range.start;
                while r < range.end {
                    let g = group.min(range.end - r);
                    stage(buf, r, g);
                    r += g;
                }
            });
        });
    }
}
