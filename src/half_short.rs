//! Short 16-bit rows of log-sum-exp and log-softmax read and written in their format by the
//! short-row kernels, several rows at a time, converting in the registers: a batch is read
//! once (and written once), with no f32 copy in memory. Staging, which these replace for such
//! rows, widens each group of rows into a buffer, runs the f32 kernels on it and rounds the
//! output back.
//!
//! The kernels are the f32 ones over a 16-bit storage (`kernels::generic::storage`), so the
//! results are the bits of staging: widening is exact, and each output is the f32 kernel's
//! value rounded once. Rows that need the special-value rules are staged one at a time inside
//! the kernels.
//!
//! Only rows of whole vectors (2 to `short_len` elements, a multiple of the ISA's lanes: 16,
//! 32, ..., 128 on AVX-512) take them, and softmax rows do not. Measured on Zen 4 (AVX-512,
//! bf16, batches of 256K elements, elements/ns, staged -> in the format, three runs each):
//! log-sum-exp of rows of 32 / 64 / 128 1.9 -> 2.1, 2.7 -> 2.9, 2.9 -> 3.2; log-softmax 1.3
//! -> 1.4, 1.6 -> 1.8, 2.0 -> 2.0. Rows with a partial vector measured slower in the format
//! (rows of 100: log-sum-exp 2.5 -> 1.9, log-softmax 1.5 -> 1.3): their last 16-bit load
//! goes through a copy on AVX-512F (no 16-bit masked loads), and the compiler then keeps the
//! group's vectors in memory. Softmax rows measured slower in the format for whole vectors
//! (32 / 64 / 128: 1.9 -> 1.8, 2.2 -> 2.0, 2.2 -> 1.8): the rounding lengthens each group's
//! dependent chain, which the narrowing pass of staging runs apart from it. AVX2 measured the
//! same either way (rows of 32 and 64).

use crate::kernels::convert::Half;
use crate::parallel::{self, Shared};
use crate::rows::{Rows, RowsIn};
use crate::Softmax;

impl Softmax {
    /// Whether log-softmax and log-sum-exp rows of `cols` elements take the short-row kernels
    /// in their format: short rows of whole vectors (see the module docs).
    pub(crate) fn half_short(&self, cols: usize) -> bool {
        cols >= 2 && cols <= self.kernels.short_len && cols.is_multiple_of(self.kernels.lanes)
    }

    /// Log-softmax of a batch of short 16-bit rows.
    pub(crate) fn half_log_softmax_short(&self, format: Half, batch: Rows<'_, u16>) {
        let cols = batch.cols();
        debug_assert!(self.half_short(cols));
        let (kernel, flags) = (self.kernels.half_log_softmax_short_rows, self.flags(cols));
        self.half_chunks(&batch, |part| {
            // SAFETY: the kernels' ISA runs here (dispatch checked it); the rows are short.
            unsafe { kernel(format, part, flags) }
        });
    }

    /// Log-sum-exp of a batch of short 16-bit rows into `out` (one value per row).
    pub(crate) fn half_logsumexp_short(
        &self,
        format: Half,
        batch: RowsIn<'_, u16>,
        out: &mut [f32],
    ) {
        debug_assert!(self.half_short(batch.cols()) && out.len() == batch.rows());
        let kernel = self.kernels.half_logsumexp_short_rows;
        let out = Shared(out.as_mut_ptr());
        parallel::for_row_chunks(self.threads, batch.rows(), batch.cols(), |range| {
            // SAFETY: `out` holds one value per row, and the chunks are disjoint ranges of
            // rows, each handed out once, so the slices do not overlap.
            let part =
                unsafe { std::slice::from_raw_parts_mut(out.get().add(range.start), range.len()) };
            // SAFETY: the kernels' ISA runs here (dispatch checked it); the rows are short and
            // `part` holds one value per row.
            unsafe { kernel(format, batch.sub(range), part) }
        });
    }

    /// Runs `f` on chunks of whole rows of a 16-bit batch, in parallel as
    /// [`Softmax::row_chunks`] runs f32 batches.
    fn half_chunks(&self, batch: &Rows<'_, u16>, f: impl Fn(Rows<'_, u16>) + Sync) {
        parallel::for_row_chunks(self.threads, batch.rows(), batch.cols(), |range| {
            // SAFETY: the chunks are disjoint ranges of rows, each handed out once.
            f(unsafe { batch.sub(range) })
        });
    }
}
