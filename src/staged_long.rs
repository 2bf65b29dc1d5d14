//! 16-bit rows of softmax, log-softmax and log-sum-exp read and written in their format,
//! with fewer passes over memory than staging them through the f32 kernels (`crate::staged`:
//! widen, run, round):
//!
//! - **Two-pass on segments.** The two passes of two-pass softmax run on the row's segments
//!   (as `crate::segmented` does for f32 rows) with kernels that convert in the registers.
//!   Pass 1 (the (mantissa, exponent) sum) reads the row once; the output pass reads it again
//!   and writes the rounded results: the memory traffic of the two-pass algorithm on 16-bit
//!   data, and no buffer. Segments run on the handle's threads; their sums combine in index
//!   order, so the results do not depend on the thread count. Softmax rows resolving to
//!   two-pass take these passes, and past `STAGE` so do those resolving to the other
//!   algorithms (the three-pass forms need an f32 buffer of the row), three-pass reload
//!   included when the row does not fit the cache (no buffer larger than the cache is
//!   allocated); log-softmax rows past `STAGE`, and log-sum-exp rows (pass 1 alone).
//! - **Three-pass reload through an f32 buffer.** Softmax rows past the short-row kernels
//!   that resolve to three-pass reload and fit the cache (up to `STAGE`, any): the maximum
//!   pass widens the row into the buffer (on the stack up to `STAGE`, else on the heap), the
//!   exponentials are stored there and summed, and the scaling pass rounds them into the
//!   output. Three passes against staging's five, and the exponentials are computed once,
//!   not twice as by two-pass. From `SEGMENT_MIN_LEN` on, each pass runs on the segments,
//!   on the handle's threads, as `crate::segmented` runs f32 rows. Where the ISA has the
//!   one walk of f32 rows written out of place (AVX-512: `passes::one_walk_reload`), the
//!   first two passes are one: the exponentials are stored to the buffer against the first
//!   vector's shift (per segment) with the maximum, and the output pass applies the row's
//!   shift as a power of two; the input is only read, so rows in place take it too. Two
//!   passes, as f32 rows.
//! - **Log-softmax and log-sum-exp up to `STAGE` through a buffer.** Pass 1 widens the row
//!   into a stack buffer as it reads it (where it is the blocked sum, each block's maximum
//!   pass widens the block and its sum pass reads the f32 values back: one conversion per
//!   element instead of two); log-softmax's output pass reads the buffer again. Log-sum-exp,
//!   where pass 1 is one loop (AVX-512, NEON), reads the format once instead, with no buffer.
//!
//! - **Scaled softmax** takes reload or the two passes over the whole row, with the scale
//!   applied as the values are widened (`Softmax::half_softmax_scaled_direct`): f32 rows with
//!   a scale are not cut into segments, so neither are these.
//!
//! Up to `STAGE` elements, and for the reload rows, every pass is the f32 kernel's (or the
//! segmented f32 row's) on the widened row (the same walks, accumulators and order), so the
//! results are those of staging the row, bit for bit. Rows that need the special-value
//! rules (a NaN, `+inf`, only `-inf`, a magnitude of 2^17 or more) return `false` before
//! anything is written, and the caller stages the whole row.

use std::marker::PhantomData;

use crate::kernels::convert::Half;
use crate::kernels::exp::{shift_for_max, LARGE};
use crate::kernels::generic::passes::{tests_stored, Stored};
use crate::kernels::generic::short::log_softmax_offset;
use crate::kernels::generic::short::lse_of;
use crate::kernels::HalfExpStoreMax;
use crate::parallel::{Exec, Shared};
use crate::rows::{InOut, Rows, RowsIn};
use crate::segmented::{
    combine, cross_entropy_pass1_by, max_of, segment, stored_total, OneWalk, Part, Slots, SEGMENT,
    SEGMENT_MIN_LEN,
};
use crate::staged::{with_scratch, STAGE};
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

    /// The row as a batch of one row.
    fn one(&self) -> Rows<'_, u16> {
        // SAFETY: `HalfRow::new`'s contract is the invariant of `Rows` for one row (whose
        // output is written: the callers of `one` write every row).
        unsafe { Rows::from_raw(self.x, self.n, self.y, self.n, 1, self.n) }
    }

    fn count(&self) -> usize {
        self.n.div_ceil(SEGMENT)
    }
}

/// The bits of `-inf` in a format.
fn neg_inf(format: Half) -> u16 {
    match format {
        Half::F16 => 0xfc00,
        Half::Bf16 => 0xff80,
    }
}

/// Pass 1 over every segment, combined (`None`: the special-value path).
fn pass1(sm: &Softmax, row: HalfRow<'_>, exec: &Exec) -> Option<(f64, f32)> {
    let (x, format, n) = (Shared(row.x), row.format, row.n);
    let part = |i: usize| {
        let (start, len) = segment(i, n);
        // SAFETY: `start + len <= n`: inside the row, readable (`HalfRow::new`).
        let seg = unsafe { std::slice::from_raw_parts(x.get().add(start), len) };
        half_part(sm, format, seg)
    };
    if row.count() == 1 {
        return combine(std::iter::once(part(0)));
    }
    let slots = Slots::new(row.count());
    exec.run(row.count(), &|i| slots.set(i, part(i)));
    combine(slots.values())
}

/// Pass 1 of a 16-bit segment, as `segmented::part` gives it for the widened segment.
fn half_part(sm: &Softmax, format: Half, seg: &[u16]) -> Part {
    // SAFETY: pass 1 only reads; the kernels' ISA runs here (dispatch checked it).
    match unsafe { (sm.kernels.segment.half_pair_sum)(format, seg) } {
        Some((s, e)) if s.is_finite() => Part::Sum(s, e),
        Some(_) => Part::Special,
        None if seg.iter().all(|&b| b == neg_inf(format)) => Part::Empty,
        None => Part::Special,
    }
}

/// Runs the output pass `out` on every segment of the row (whose output must not be null).
fn output_pass(
    row: HalfRow<'_>,
    exec: &Exec,
    out: &(dyn Fn((*const u16, *mut u16, usize)) + Sync),
) {
    assert!(!row.y.is_null());
    let (x, y, n) = (Shared(row.x), Shared(row.y), row.n);
    exec.run(row.count(), &|i| {
        let (start, len) = segment(i, n);
        // Within the row (`HalfRow::new`); each task reads and writes only its own segment.
        out((
            x.get().wrapping_add(start),
            y.get().wrapping_add(start),
            len,
        ));
    });
}

impl Softmax {
    /// Whether the output of a 16-bit row of `n` elements takes non-temporal stores: as f32
    /// outputs of the same number of bytes.
    pub(crate) fn non_temporal_half(&self, n: usize) -> bool {
        self.flags(n / 2).non_temporal
    }

    /// Cross-entropy of a 16-bit row of logits `(x, d, n)`, with its gradient written to `d`
    /// in the format unless `d` is null (the bits of staging the row; rows of `SEGMENT_MIN_LEN`
    /// elements or more segment by segment, as the f32 path); `None`, with nothing written,
    /// where the row needs the special-value rules (the caller stages it).
    ///
    /// # Safety
    /// `x` is readable for `n` elements and `d` null or writable for `n` elements, equal to
    /// `x` or disjoint from it; `target < n` and the smoothing `eps` is in `[0, 1]`.
    pub(crate) unsafe fn half_cross_entropy_grad_direct(
        &self,
        format: Half,
        row: (*const u16, *mut u16, usize),
        target: usize,
        eps: f32,
    ) -> Option<f32> {
        let n = row.2;
        if n >= SEGMENT_MIN_LEN {
            // SAFETY: the caller's contract.
            return unsafe { self.half_cross_entropy_segments(format, row, target, eps) };
        }
        let nt = self.non_temporal_half(n);
        // SAFETY: the kernels' ISA runs here (dispatch checked it); the caller's contract.
        unsafe { (self.kernels.half_cross_entropy_grad)(format, row, target, eps, nt) }
    }

    /// [`Softmax::half_cross_entropy_grad_direct`] of a row of `SEGMENT_MIN_LEN` elements or
    /// more, segment by segment on the handle's threads, as `segmented::cross_entropy_grad`
    /// runs f32 rows (the same segments, parts combined in index order, mean, loss and
    /// output maps), so the bits of staging the row.
    ///
    /// # Safety
    /// As [`Softmax::half_cross_entropy_grad_direct`].
    unsafe fn half_cross_entropy_segments(
        &self,
        format: Half,
        (x, d, n): (*const u16, *mut u16, usize),
        target: usize,
        eps: f32,
    ) -> Option<f32> {
        let (k, exec) = (&self.kernels.segment, Exec::of(self.threads));
        let count = n.div_ceil(SEGMENT);
        // SAFETY: `target < n` (the contract).
        let xt = format.widen(unsafe { x.add(target).read() });
        let xs = Shared(x);
        let seg = |i: usize| {
            let (start, len) = segment(i, n);
            // SAFETY: `start + len <= n`: inside the row, readable (the contract).
            unsafe { std::slice::from_raw_parts(xs.get().add(start), len) }
        };
        let (loss, s, e) = cross_entropy_pass1_by(count, n, &exec, xt, eps, &|i, c| {
            let m = if eps > 0.0 {
                // SAFETY: reads only; the kernels' ISA runs here (dispatch checked it).
                unsafe { (k.half_sum_minus)(format, seg(i), c) }
            } else {
                0.0
            };
            (half_part(self, format, seg(i)), m)
        })?;
        if d.is_null() {
            return Some(loss);
        }
        let (r, per_class, nt) = (1.0 / s, eps / n as f32, self.non_temporal_half(n));
        // SAFETY: the contract (`d`, not null, equal to the row or disjoint from it).
        let row = unsafe { HalfRow::new(format, x, d, n) };
        // SAFETY: the kernels' ISA runs here; each segment lies in the row, its output equal
        // to or disjoint from its input. The pass gave a finite sum, so no output is NaN.
        output_pass(row, &exec, &|seg| unsafe {
            (k.half_exp_out)(format, seg, e, r, per_class, nt)
        });
        // The target's output as the f32 path forms it: the same map on its f32 value (the
        // f32 pass over one element), minus `1 - eps`, rounded once.
        let mut v = [xt];
        // SAFETY: the kernels' ISA runs here; a one-element row in place.
        unsafe { (k.exp_out)(InOut::in_place(&mut v), e, r, per_class, false) };
        // SAFETY: `target < n`, inside `d`.
        unsafe { d.add(target).write(format.round(v[0] - (1.0 - eps))) };
        Some(loss)
    }

    /// Softmax of a 16-bit row read and written in its format (see the module docs); `false`,
    /// with nothing written, where the row must be staged.
    pub(crate) fn half_softmax_direct(&self, row: HalfRow<'_>, algorithm: Algorithm) -> bool {
        let n = row.n;
        if n <= self.kernels.short_len {
            return false;
        }
        // The buffer of a row longer than `STAGE` is on the heap: only rows that fit the
        // cache (where `Auto` takes three-pass reload) and not too long for a heap buffer
        // (`Thresholds::heap_reload`) get one, so an explicit reload of a huge row allocates
        // nothing (it takes two-pass, as the other algorithms do).
        let algorithm = self.resolve(algorithm, n);
        let reload = algorithm == Algorithm::ThreePassReload
            && (n <= STAGE || self.thresholds.heap_reload(n));
        if n >= SEGMENT_MIN_LEN {
            return if reload {
                self.half_softmax_reload_segments(row)
            } else {
                self.half_softmax_long(row)
            };
        }
        if reload {
            return with_scratch(n, |buf| {
                // SAFETY: the kernels' ISA runs here (dispatch checked it); the row's
                // pointers hold `n` elements (`HalfRow::new`), and `buf` is a separate
                // buffer of `n` values.
                unsafe {
                    (self.kernels.half_softmax_reload)(row.format, (row.x, row.y, n), buf, 1.0)
                }
            });
        }
        (algorithm == Algorithm::TwoPass || n > STAGE) && self.half_softmax_long(row)
    }

    /// Softmax of `scale` times a 16-bit row (`scale` finite), read and written in its
    /// format as [`Softmax::half_softmax_direct`] reads and writes an unscaled one, but with
    /// the row as one piece: f32 rows with a scale are not cut into segments, so their
    /// kernels' passes over the whole row are the ones that give the bits of staging. Three-
    /// pass reload through a buffer of the row (on the heap past `STAGE`, and only where
    /// `Thresholds::heap_reload` allows one), or the two passes of two-pass (where the row
    /// resolves to two-pass, and past `STAGE` for the other algorithms). `false`, nothing
    /// written, for short rows, `scale == 0` (the uniform rule) and the special-value path.
    pub(crate) fn half_softmax_scaled_direct(
        &self,
        row: HalfRow<'_>,
        algorithm: Algorithm,
        scale: f32,
    ) -> bool {
        debug_assert!(scale.is_finite());
        let n = row.n;
        if n <= self.kernels.short_len || scale == 0.0 {
            return false;
        }
        let algorithm = self.resolve(algorithm, n);
        let io = (row.x, row.y, n);
        if algorithm == Algorithm::ThreePassReload && (n <= STAGE || self.thresholds.heap_reload(n))
        {
            return with_scratch(n, |buf| {
                // SAFETY: the kernels' ISA runs here (dispatch checked it); the row's
                // pointers hold `n` elements (`HalfRow::new`), `buf` is a separate buffer of
                // `n` values, and the scale is finite and non-zero.
                unsafe { (self.kernels.half_softmax_reload)(row.format, io, buf, scale) }
            });
        }
        if algorithm != Algorithm::TwoPass && n <= STAGE {
            return false;
        }
        assert!(!row.y.is_null());
        let nt = self.non_temporal_half(n);
        // SAFETY: as above; the output equals the input or is disjoint from it.
        unsafe { (self.kernels.half_softmax_scaled_two_pass)(row.format, io, scale, nt) }
    }

    /// Three-pass reload softmax of a 16-bit row of at least `SEGMENT_MIN_LEN` elements
    /// through an f32 buffer of its length, segment by segment on the handle's threads, as
    /// `crate::segmented` runs f32 rows: the same segments, maxima, sums combined in index
    /// order and scale, so the bits of staging the row. `false`, nothing written, for the
    /// special-value path.
    fn half_softmax_reload_segments(&self, row: HalfRow<'_>) -> bool {
        let (n, format, k) = (row.n, row.format, &self.kernels.segment);
        let exec = Exec::of(self.threads);
        let mut buf = Vec::<f32>::with_capacity(n);
        let (x, y, b) = (Shared(row.x), Shared(row.y), Shared(buf.as_mut_ptr()));
        if let Some(walk) = k.half_exp_store_max {
            // SAFETY: `buf` holds `n` values, disjoint from the row.
            match unsafe { self.half_reload_one_walk(row, walk, b.get(), &exec) } {
                OneWalk::Done => return true,
                OneWalk::Nan | OneWalk::Special => return false,
                OneWalk::Again => {}
            }
        }
        let maxima = Slots::new(row.count());
        exec.run(row.count(), &|i| {
            let (start, len) = segment(i, n);
            // SAFETY: the segment lies in the row (readable, `HalfRow::new`) and in `buf`
            // (capacity `n`, disjoint); each task writes only its own segment of `buf`.
            let m =
                unsafe { (k.half_widen_max)(format, x.get().add(start), len, b.get().add(start)) };
            maxima.set(i, m);
        });
        let m = max_of(maxima.values());
        if m.is_nan() || m.abs() >= LARGE {
            return false;
        }
        let e = shift_for_max(m);
        let sums = Slots::new(row.count());
        exec.run(row.count(), &|i| {
            let (start, len) = segment(i, n);
            // SAFETY: the task's own segment of `buf`, written by the maxima pass, in place.
            let io = unsafe { InOut::from_raw(b.get().add(start), b.get().add(start), len) };
            // SAFETY: the kernels' ISA runs here (dispatch checked it).
            sums.set(i, unsafe { (k.exp_store_sum)(io, e) });
        });
        let s: f64 = sums.values().sum();
        if s.is_nan() {
            return false;
        }
        let r = (1.0 / s) as f32;
        assert!(!row.y.is_null());
        exec.run(row.count(), &|i| {
            let (start, len) = segment(i, n);
            // SAFETY: the task's own segment of `buf` (exponentials with a finite sum, so no
            // NaN) and of the output (writable, `HalfRow::new`; disjoint from `buf`).
            unsafe {
                (k.half_reload_out)(
                    format,
                    (b.get().add(start), y.get().add(start), len),
                    r,
                    None,
                    0.0,
                )
            };
        });
        true
    }

    /// [`Softmax::half_softmax_reload_segments`] with its first two passes in one walk per
    /// segment (where the ISA has it), as `crate::segmented` runs f32 rows written out of
    /// place: the segments' exponentials stored to `buf` against their first vectors' shifts
    /// and combined by [`stored_total`], then the output pass from `buf`. The input is only
    /// read, so in place too. `Again`, nothing written to the output, where the three passes
    /// must run: a segment's walk declined (or its last segment is shorter than a vector), or
    /// the output pass would have to read the input (the threshold of a segment whose shift
    /// moved lies within `STORED_TEST` of 0).
    ///
    /// # Safety
    /// `buf` is writable for `row.n` values and disjoint from the row; `walk` is a kernel of
    /// this handle's table.
    unsafe fn half_reload_one_walk(
        &self,
        row: HalfRow<'_>,
        walk: HalfExpStoreMax,
        buf: *mut f32,
        exec: &Exec,
    ) -> OneWalk {
        let (n, format) = (row.n, row.format);
        if segment(row.count() - 1, n).1 < 16 {
            return OneWalk::Again;
        }
        let (x, y, b) = (Shared(row.x), Shared(row.y), Shared(buf));
        let slots = Slots::new(row.count());
        exec.run(row.count(), &|i| {
            let (start, len) = segment(i, n);
            // SAFETY: the segment lies in the row (readable, `HalfRow::new`) and in `buf`
            // (the contract); each task writes only its own segment of `buf`; `len >= 16`,
            // a vector of every ISA.
            slots.set(i, unsafe {
                walk(format, x.get().add(start), len, b.get().add(start))
            });
        });
        let Some(parts) = slots.values().collect::<Option<Vec<Stored>>>() else {
            return OneWalk::Again;
        };
        let (r, e) = match stored_total(&parts) {
            Ok(re) => re,
            Err(end) => return end,
        };
        let scales: Vec<(f32, Option<f32>)> = parts.iter().map(|p| p.scale(r, e)).collect();
        if !scales.iter().all(|&(_, lo)| tests_stored(lo)) {
            return OneWalk::Again;
        }
        assert!(!row.y.is_null());
        let out = self.kernels.segment.half_reload_out;
        exec.run(row.count(), &|i| {
            let (start, len) = segment(i, n);
            let (r, lo) = scales[i];
            // SAFETY: the task's own segment of `buf` (exponentials with a sum that is not
            // NaN, so none is NaN) and of the output (writable, `HalfRow::new`; disjoint from
            // `buf`); `lo` is at least `STORED_TEST` from 0.
            unsafe {
                out(
                    format,
                    (b.get().add(start), y.get().add(start), len),
                    r,
                    lo,
                    parts[i].k0,
                )
            };
        });
        OneWalk::Done
    }

    /// Log-softmax of a 16-bit row read and written in its format (see the module docs), as
    /// [`Softmax::half_softmax_direct`].
    pub(crate) fn half_log_softmax_direct(&self, row: HalfRow<'_>) -> bool {
        let n = row.n;
        if n > STAGE {
            return self.half_log_softmax_long(row);
        }
        if n <= self.kernels.short_len {
            if !self.half_short(n) {
                return false;
            }
            self.half_log_softmax_short(row.format, row.one());
            return true;
        }
        with_scratch(n, |buf| {
            // SAFETY: as in `half_softmax_direct`.
            unsafe { (self.kernels.half_log_softmax_widened)(row.format, (row.x, row.y, n), buf) }
        })
    }

    /// Log-sum-exp of a 16-bit row read in its format (see the module docs); `None` where
    /// the row must be staged.
    pub(crate) fn half_logsumexp_direct(&self, format: Half, x: &[u16]) -> Option<f32> {
        let n = x.len();
        if n > STAGE {
            return self.half_logsumexp_long(format, x);
        }
        if n <= self.kernels.short_len {
            if !self.half_short(n) {
                return None;
            }
            let mut out = [0.0f32];
            self.half_logsumexp_short(format, RowsIn::one(x), &mut out);
            return Some(out[0]);
        }
        // SAFETY: the kernels' ISA runs here (dispatch checked it); `buf` is a separate
        // buffer of `n` values.
        with_scratch(n, |buf| unsafe {
            (self.kernels.half_logsumexp_widened)(format, x, buf)
        })
    }

    /// Softmax of a 16-bit row by the two passes of two-pass (every algorithm: see the module
    /// docs); `false`, with nothing written, for the special-value path.
    fn half_softmax_long(&self, row: HalfRow<'_>) -> bool {
        let exec = Exec::of(self.threads);
        let Some((s, e)) = pass1(self, row, &exec) else {
            return false;
        };
        let (r, f, out) = (1.0 / s, row.format, self.kernels.segment.half_exp_out);
        let nt = self.non_temporal_half(row.n);
        // SAFETY: the kernels' ISA runs here (dispatch checked it); each segment lies in the
        // row, its output equal to or disjoint from its input (`HalfRow::new`).
        output_pass(row, &exec, &|seg| unsafe { out(f, seg, e, r, 0.0, nt) });
        true
    }

    /// Log-softmax of a 16-bit row by the two passes, as [`Softmax::half_softmax_long`].
    fn half_log_softmax_long(&self, row: HalfRow<'_>) -> bool {
        let exec = Exec::of(self.threads);
        let Some((s, e)) = pass1(self, row, &exec) else {
            return false;
        };
        let b = log_softmax_offset(s, e);
        let (f, out) = (row.format, self.kernels.segment.half_shift_out);
        let nt = self.non_temporal_half(row.n);
        // SAFETY: as in `half_softmax_long`.
        output_pass(row, &exec, &|seg| unsafe { out(f, seg, e, b, nt) });
        true
    }

    /// Log-sum-exp of a 16-bit row by pass 1 of two-pass; `None` for the special-value path.
    fn half_logsumexp_long(&self, format: Half, x: &[u16]) -> Option<f32> {
        // SAFETY: `x` is readable for its length; nothing is written (pass 1 only).
        let row = unsafe { HalfRow::new(format, x.as_ptr(), std::ptr::null_mut(), x.len()) };
        let exec = Exec::of(self.threads);
        let (s, e) = pass1(self, row, &exec)?;
        // The formula of the f32 kernel, so the value is that of the widened row.
        Some(lse_of(s, e))
    }
}

#[cfg(test)]
mod tests {
    use crate::kernels::convert::Half;
    use crate::{Isa, Softmax};

    /// The output passes give the same bits with non-temporal stores as without, at every
    /// length to 200 and unaligned starts (the aligned head, the streamed body, the tail), on
    /// every ISA this CPU runs, in place and not.
    #[test]
    fn streamed_output_passes_match_plain_ones() {
        for isa in Isa::ALL.into_iter().filter(|i| i.is_supported()) {
            let sm = Softmax::with_isa(isa).expect("supported");
            let seg = &sm.kernels.segment;
            for format in [Half::F16, Half::Bf16] {
                let x: Vec<u16> = (0..260u32)
                    .map(|i| crate::kernels::convert::f32_to_bf16((i % 37) as f32 * 0.25 - 4.0))
                    .map(|b| match format {
                        Half::Bf16 => b,
                        Half::F16 => crate::kernels::convert::f32_to_f16(
                            crate::kernels::convert::bf16_to_f32(b),
                        ),
                    })
                    .collect();
                for n in 0..=200 {
                    for off in 0..4 {
                        let row = &x[off..off + n];
                        let mut outs = Vec::new();
                        for nt in [false, true] {
                            let mut y = vec![0xabcdu16; n + 8];
                            let (xp, yp) = (row.as_ptr(), y[off % 3..].as_mut_ptr());
                            // SAFETY: `row` holds `n` values and `y` at least `n` more from
                            // `yp`; the ISA is supported.
                            unsafe {
                                (seg.half_exp_out)(format, (xp, yp, n), 3.0, 0.01, 0.0, nt);
                            }
                            let mut z = row.to_vec();
                            let zp = z.as_mut_ptr();
                            // SAFETY: in place over `z`'s `n` values.
                            unsafe { (seg.half_shift_out)(format, (zp, zp, n), 3.0, 0.5, nt) };
                            outs.push((y, z));
                        }
                        assert_eq!(outs[0], outs[1], "{isa:?} {format:?} n={n} off={off}");
                    }
                }
            }
        }
    }
}
