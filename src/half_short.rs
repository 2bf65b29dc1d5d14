//! Short 16-bit rows of log-sum-exp, log-softmax and (where it pays) softmax read and written
//! in their format by the short-row kernels, several rows at a time, converting in the
//! registers: a batch is read once (and written once), with no f32 copy in memory. Staging,
//! which these replace for such rows, widens each group of rows into a buffer, runs the f32
//! kernels on it and rounds the output back.
//!
//! The kernels are the f32 ones over a 16-bit storage (`kernels::generic::storage`), so the
//! results are the bits of staging: widening is exact, and each output is the f32 kernel's
//! value rounded once (softmax leaves its clamp to 1 to that rounding, `passes::Times`).
//! Rows that need the special-value rules are staged one at a time inside the kernels.
//!
//! Only rows of whole vectors (2 to `short_len` elements, a multiple of the ISA's lanes: 16,
//! 32, ..., 128 on AVX-512) take them. Measured on Zen 4 (AVX-512, bf16, batches of 256K
//! elements, elements/ns, staged -> in the format, three runs each): log-sum-exp of rows of
//! 32 / 64 / 128 1.9 -> 2.1, 2.7 -> 2.9, 2.9 -> 3.2; log-softmax 1.3 -> 1.4, 1.6 -> 1.8, 2.0
//! -> 2.0. Rows with a partial vector measured slower in the format (rows of 100: log-sum-exp
//! 2.5 -> 1.9, log-softmax 1.5 -> 1.3): their last 16-bit load goes through a copy on
//! AVX-512F (no 16-bit masked loads), and the compiler then keeps the group's vectors in
//! memory.
//!
//! Softmax rows take them only for the formats the kernel table names
//! (`Kernels::half_softmax_short`): f16 on AVX-512, and bf16 too in the AVX-512 table of
//! Intel CPUs with AVX-512 BF16 (`tuning::native_bf16_narrowing`), which narrows with
//! `vcvtneps2bf16`. On Zen 4 they measured slower in the format, when the output was still
//! clamped to 1 before the rounding (bf16, 32 / 64 / 128: 1.9 -> 1.8, 2.2 -> 2.0, 2.2 ->
//! 1.8): the rounding lengthens each group's dependent chain, which the narrowing pass of
//! staging runs apart from it. Without the clamp, on the same Zen 4 (family 25 model 17;
//! `softmax_rows_f16` / `_bf16` through the C ABI, ns per row, staged -> in the format,
//! medians of 7 rounds, two alternating runs each): f16 rows of 16 / 32 / 64 / 128 10.4-10.5
//! -> 9.3-9.5, 15.5-15.6 -> 14.6-15.8, 26.1-27.4 -> 24.4-24.5, 49.6-52.5 -> 46.3-46.4, but
//! bf16 rows, whose integer rounding (the table without AVX-512 BF16's instruction) is a
//! handful of operations per vector, 10.5-10.6 -> 11.1-11.2, 15.6-15.8 -> 17.6-18.9,
//! 26.4-27.8 -> 31.1, 50.3-53.5 -> 68.7-68.8 (with `vcvtneps2bf16` instead, `report
//! --half-only` put bf16 2048 x 128 at 0.68x of f32 in the format against 0.80-0.83x staged);
//! so AMD's bf16 rows are staged. On an Intel Xeon (family 6 model 207), without the clamp
//! (`softmax_rows_bf16` / `_f16` through the C ABI, ns per row, staged -> in the format,
//! medians of 11 rounds, two runs alternating the libraries): bf16 rows of 32 / 64 / 128
//! 15.0-16.4 -> 15.2-15.8, 29.4-30.5 -> 28.8, 58.9-59.0 -> 54.7-56.1; f16 15.1-15.9 -> 13.5,
//! 26.2-28.7 -> 23.0-23.7, 49.2-53.0 -> 45.0-45.6. With AVX2 on the same CPU it was slower
//! (bf16 rows of 64: 45-49 -> 63-65; 16 registers, the group spills), so AVX2 stages both
//! formats, as NEON does (not measured). Zen 5's f16 rows take the AVX-512 table's choice,
//! unmeasured there.

use crate::kernels::convert::Half;
use crate::parallel::{self, Shared};
use crate::rows::{Rows, RowsIn};
use crate::{Algorithm, Softmax};

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

    /// Whether softmax rows of `cols` elements of `format` with `algorithm` take the short-row
    /// kernel in their format: rows of [`Softmax::half_short`] that resolve to three-pass
    /// reload, of a format the kernel table takes that way (where that measured faster than
    /// staging, see the module docs).
    pub(crate) fn half_short_softmax(
        &self,
        format: Half,
        cols: usize,
        algorithm: Algorithm,
    ) -> bool {
        self.kernels.half_softmax_short.has(format)
            && self.half_short(cols)
            && self.resolve(algorithm, cols) == Algorithm::ThreePassReload
    }

    /// Softmax (three-pass reload) of a batch of short 16-bit rows
    /// ([`Softmax::half_short_softmax`]).
    pub(crate) fn half_softmax_short(&self, format: Half, batch: Rows<'_, u16>) {
        debug_assert!(self.half_short(batch.cols()));
        let (kernel, flags) = (
            self.kernels.half_softmax_short_rows,
            self.flags(batch.cols()),
        );
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

#[cfg(test)]
mod tests {
    use crate::kernels::{Formats, Kernels};
    use crate::{bf16, f16, Algorithm, Element, Softmax};
    use std::sync::Mutex;

    /// A handle on `k` whose softmax batches of short 16-bit rows are read and written in
    /// their format (`direct`) or staged.
    fn handle(k: &'static Kernels, direct: bool, masked: bool) -> Softmax {
        // A handle holds a `&'static` table: the modified copies live for the process, kept
        // here (one per table and setting) so that they stay reachable.
        static COPIES: Mutex<Vec<(usize, bool, &'static Kernels)>> = Mutex::new(Vec::new());
        let mut copies = COPIES.lock().unwrap();
        let key = (std::ptr::from_ref(k) as usize, direct);
        let kernels = match copies.iter().find(|c| (c.0, c.1) == key) {
            Some(c) => c.2,
            None => {
                let copy: &'static Kernels = Box::leak(Box::new(Kernels {
                    half_softmax_short: Formats {
                        f16: direct,
                        bf16: direct,
                    },
                    ..*k
                }));
                copies.push((key.0, key.1, copy));
                copy
            }
        };
        Softmax {
            kernels,
            ..Softmax::with_isa(k.isa).expect("a table of this CPU")
        }
        .zero_masked_rows(masked)
    }

    fn batches<T: Element + Default>(from_f32: impl Fn(f32) -> T) {
        let special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3.0e38, -3.0e38];
        for k in crate::kernels::cpu_tables("short 16-bit softmax rows") {
            let lanes = k.lanes;
            for masked in [false, true] {
                let (staged, direct) = (handle(k, false, masked), handle(k, true, masked));
                for cols in (lanes.max(2)..=k.short_len).step_by(lanes) {
                    let (rows, stride) = (37, cols + 3);
                    let mut x: Vec<T> = (0..rows * stride)
                        .map(|i| from_f32(((i * 7919) % 2003) as f32 * 0.013 - 13.0))
                        .collect();
                    // Rows of special values among ordinary ones: one entry each, then a row
                    // all -inf (masked), a row of one dominant entry, a row of equal entries.
                    for (r, &v) in special.iter().enumerate() {
                        x[(3 * r + 1) * stride + (r * 5) % cols] = from_f32(v);
                    }
                    let row = |r: usize| r * stride..r * stride + cols;
                    x[row(20)].fill(from_f32(f32::NEG_INFINITY));
                    x[row(21)].fill(from_f32(-200.0));
                    x[21 * stride + cols / 2] = from_f32(5.0);
                    x[row(22)].fill(from_f32(1.5));
                    let ctx = format!("{:?} cols={cols} masked={masked}", k.isa);
                    let mut outs = Vec::new();
                    for sm in [&staged, &direct] {
                        let mut y = vec![from_f32(0.25); rows * stride];
                        sm.softmax_rows(&x, stride, &mut y, stride, rows, cols, Algorithm::Auto)
                            .unwrap();
                        let mut z = x.clone();
                        sm.softmax_rows_in_place(&mut z, stride, rows, cols, Algorithm::Auto)
                            .unwrap();
                        let mut one = vec![from_f32(0.25); cols];
                        sm.softmax(&x[row(4)], &mut one).unwrap();
                        let bits = |v: &[T]| v.iter().map(|t| t.to_f32().to_bits()).collect();
                        outs.push(
                            (bits(&y), bits(&z), bits(&one)) as (Vec<u32>, Vec<u32>, Vec<u32>)
                        );
                    }
                    assert_eq!(outs[0], outs[1], "{ctx}");
                }
            }
        }
    }

    /// Softmax batches of short 16-bit rows read and written in their format give the bits
    /// of staging (widening, the f32 kernels, rounding) on every table this CPU runs: every
    /// row length of whole vectors, strides, in place, one row, special-value rows among
    /// ordinary ones, masked-row mode.
    #[test]
    fn short_softmax_rows_in_format_match_staging() {
        batches::<bf16>(bf16::from_f32);
        batches::<f16>(f16::from_f32);
    }
}
