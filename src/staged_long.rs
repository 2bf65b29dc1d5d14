//! Long 16-bit rows (more than [`STAGE`] elements) of softmax, log-softmax and log-sum-exp
//! without a row-sized buffer: the passes of `crate::segmented` run on the row's segments,
//! and each segment is widened a stage at a time into a buffer on the stack. Pass 1 (the
//! (mantissa, exponent) sum) reads the row once; the output pass reads it again and writes
//! the rounded results, so the memory traffic is that of the two-pass algorithm on 16-bit
//! data. Segments run on the handle's threads; their sums combine in index order, so the
//! results do not depend on the thread count.
//!
//! Every softmax algorithm takes these two passes here (blocked two-pass with its own pass
//! 1): the three-pass forms would store unnormalised exponentials in the 16-bit output.
//! Rows that need the special-value rules (a NaN, `+inf`, only `-inf`, a magnitude of 2^17
//! or more) return `false` before anything is written, and the caller stages the whole row.

use std::marker::PhantomData;

use crate::kernels::convert::Half;
use crate::kernels::generic::short::log_softmax_offset;
use crate::parallel::{Exec, Shared};
use crate::rows::InOut;
use crate::segmented::{combine, merge, part, segment, Part, Slots, SEGMENT};
use crate::staged::STAGE;
use crate::{Algorithm, Softmax};

/// A 16-bit row and its output (possibly the same memory), borrowed for `'a`.
#[derive(Clone, Copy)]
pub(crate) struct HalfRow<'a> {
    format: Half,
    x: *const u16,
    y: *mut u16,
    n: usize,
    _borrow: PhantomData<&'a mut [u16]>,
}

impl HalfRow<'_> {
    /// The row at `x` of `n` elements of a format, written to `y`.
    ///
    /// # Safety
    /// `x` is readable and `y` writable for `n` elements during `'a` (`y` may be null when
    /// only read), and `y` equals `x` or is disjoint from `x[..n]`.
    pub(crate) unsafe fn new(format: Half, x: *const u16, y: *mut u16, n: usize) -> Self {
        HalfRow {
            format,
            x,
            y,
            n,
            _borrow: PhantomData,
        }
    }

    fn count(&self) -> usize {
        self.n.div_ceil(SEGMENT)
    }
}

/// Pass 1 over every segment, combined (`None`: the special-value path).
fn pass1(
    sm: &Softmax,
    row: HalfRow<'_>,
    exec: &Exec,
    sum: unsafe fn(&[f32]) -> Option<(f64, f32)>,
) -> Option<(f64, f32)> {
    let slots = Slots::new(row.count());
    let (x, format, n) = (Shared(row.x), row.format, row.n);
    exec.run(row.count(), &|i| {
        let (start, len) = segment(i, n);
        let mut buf = [0.0f32; STAGE];
        let mut acc = Part::Empty;
        for off in (0..len).step_by(STAGE) {
            let m = STAGE.min(len - off);
            // SAFETY: `start + off + m <= n`: inside the row, readable (`HalfRow::new`).
            let src = unsafe { std::slice::from_raw_parts(x.get().add(start + off), m) };
            sm.widen_into(format, src, &mut buf[..m]);
            // SAFETY: pass 1 only reads; the kernels' ISA runs here (dispatch checked it).
            acc = merge(acc, unsafe { part(sum, &buf[..m]) });
            if let Part::Special = acc {
                break;
            }
        }
        slots.set(i, acc);
    });
    combine(slots.values())
}

/// Runs `out(stage)` on every stage of the row, widened, and rounds what it leaves in the
/// stage into the output (which must not be null).
fn output_pass(sm: &Softmax, row: HalfRow<'_>, exec: &Exec, out: &(dyn Fn(InOut<'_>) + Sync)) {
    assert!(!row.y.is_null());
    let (x, y, format, n) = (Shared(row.x), Shared(row.y), row.format, row.n);
    exec.run(row.count(), &|i| {
        let (start, len) = segment(i, n);
        let mut buf = [0.0f32; STAGE];
        for off in (0..len).step_by(STAGE) {
            let m = STAGE.min(len - off);
            let at = start + off;
            // SAFETY: within the row (`HalfRow::new`); each task reads and then writes only
            // its own segment, and a stage is read before it is written.
            let src = unsafe { std::slice::from_raw_parts(x.get().add(at), m) };
            sm.widen_into(format, src, &mut buf[..m]);
            out(InOut::in_place(&mut buf[..m]));
            // SAFETY: as above, writable; `src` is not used after this point.
            let dst = unsafe { std::slice::from_raw_parts_mut(y.get().add(at), m) };
            sm.narrow_into(format, &buf[..m], dst);
        }
    });
}

impl Softmax {
    /// Softmax of a long 16-bit row; `false`, with nothing written, for the special-value
    /// path.
    pub(crate) fn half_softmax_long(&self, row: HalfRow<'_>, algorithm: Algorithm) -> bool {
        debug_assert!(row.n > STAGE);
        let exec = Exec::of(self.threads);
        let k = &self.kernels.segment;
        let sum = match self.resolve(algorithm, row.n) {
            Algorithm::TwoPassBlocked => k.block_sum,
            _ => k.pair_sum,
        };
        let Some((s, e)) = pass1(self, row, &exec, sum) else {
            return false;
        };
        let r = 1.0 / s;
        // SAFETY: the kernels' ISA runs here (dispatch checked it); the stage is a row.
        output_pass(self, row, &exec, &|io| unsafe {
            (k.exp_out)(io, e, r, 0.0, false)
        });
        true
    }

    /// Log-softmax of a long 16-bit row, as [`Softmax::half_softmax_long`].
    pub(crate) fn half_log_softmax_long(&self, row: HalfRow<'_>) -> bool {
        debug_assert!(row.n > STAGE);
        let exec = Exec::of(self.threads);
        let k = &self.kernels.segment;
        let Some((s, e)) = pass1(self, row, &exec, k.pair_sum) else {
            return false;
        };
        let b = log_softmax_offset(s, e);
        // SAFETY: the kernels' ISA runs here (dispatch checked it); the stage is a row.
        output_pass(self, row, &exec, &|io| unsafe {
            (k.shift_out)(io, e, b, false)
        });
        true
    }

    /// Log-sum-exp of a long 16-bit row; `None` for the special-value path.
    pub(crate) fn half_logsumexp_long(&self, format: Half, x: &[u16]) -> Option<f32> {
        // SAFETY: `x` is readable for its length; nothing is written (pass 1 only).
        let row = unsafe { HalfRow::new(format, x.as_ptr(), std::ptr::null_mut(), x.len()) };
        let exec = Exec::of(self.threads);
        let (s, e) = pass1(self, row, &exec, self.kernels.segment.pair_sum)?;
        Some((e as f64 * std::f64::consts::LN_2 + s.ln()) as f32)
    }
}
