//! Long rows, split into fixed-size segments.
//!
//! A row of at least [`SEGMENT_MIN_LEN`] elements is cut into segments of [`SEGMENT`]
//! elements (the last one shorter). Pass 1 runs on every segment in parallel and leaves one
//! partial result per segment: a (mantissa, exponent) sum `S * 2^k` (two-pass softmax,
//! log-softmax, log-sum-exp, cross-entropy), or a maximum and then a sum of exponentials
//! (three-pass, which `Auto` picks for rows that fit the cache). The
//! partial results are combined on the calling thread in segment order; then the output pass
//! runs on every segment in parallel against the combined constants.
//!
//! Determinism: the segment boundaries depend only on the row length and the combination
//! order only on the segment index, so the result is the same bits for any number of threads
//! and any parallel-for, and the same as the single-threaded call: rows of this length are
//! segmented even with one thread (they then run segment after segment on the calling
//! thread, with the same memory traffic as the unsegmented kernels).
//!
//! Special values: a segment whose pass 1 leaves the fast path (NaN, `+inf`, a magnitude of
//! `LARGE` or more) sends the whole row to the unsegmented kernel, which applies the
//! documented rules on one thread (so a special row gives exactly what it gave before). A
//! segment of only `-inf` contributes nothing; a row of only `-inf` goes to the kernel too.
//! Every softmax algorithm is segmented: the (mantissa, exponent) ones as above (blocked
//! two-pass with its own pass 1), the three-pass ones with a maximum per segment (combined
//! exactly), then their sums per segment (combined in order), then their output pass. Reload
//! with an output disjoint from its input, where the ISA has the one walk (AVX-512), first
//! stores each segment's exponentials against its own first vector's shift while finding its
//! maximum, and brings the sums to the row's shift by exact powers of two
//! ([`reload_one_walk`]): the same bits as its three passes, one pass fewer.

use std::sync::OnceLock;

use crate::kernels::exp::{shift_for_max, LARGE};
use crate::kernels::generic::forward::{classify, Special};
use crate::kernels::generic::passes::{pow2_f64, Stored};
use crate::kernels::generic::short::log_softmax_offset;
use crate::kernels::generic::training::{loss_of, loss_shift};
use crate::kernels::ln::{ln, ln_scaled};
use crate::kernels::{Flags, SegmentKernels};
use crate::parallel::{Exec, Shared};
use crate::rows::InOut;
use crate::{Algorithm, Softmax};

/// Elements per segment (256 KiB: a segment's second read, when there is one, hits L2). A
/// constant: it must not depend on the thread count. 64K rather than 32K: one thread then
/// pays half the per-segment set-up (the in-cache 1M row measured 1.5-5% slower than the
/// unsegmented kernel with 32K segments, under heavy machine load), and a 16M row still
/// makes 256 tasks.
pub(crate) const SEGMENT: usize = 64 * 1024;

/// Rows of at least this many elements are segmented. Far above the rows whose single-call
/// cost matters (64, 4096: they never reach this module), and long enough (9-40 us on one
/// core here, log-sum-exp to softmax) that waking other threads pays.
pub(crate) const SEGMENT_MIN_LEN: usize = 2 * SEGMENT;

/// The segments of a row of `n` elements as (start, length).
pub(crate) fn segment(i: usize, n: usize) -> (usize, usize) {
    let start = i * SEGMENT;
    (start, SEGMENT.min(n - start))
}

/// Pass 1 of one segment.
#[derive(Clone, Copy)]
pub(crate) enum Part {
    /// `sum e^x = S * 2^k`, finite `S`.
    Sum(f64, f32),
    /// Only `-inf`: nothing to add.
    Empty,
    /// The whole row must take the special-value path.
    Special,
}

/// The (mantissa, exponent) sum of one segment.
///
/// # Safety
/// `seg` is readable; the kernels' ISA runs on this CPU (as for every table).
pub(crate) unsafe fn part(pass1: unsafe fn(&[f32]) -> Option<(f64, f32)>, seg: &[f32]) -> Part {
    // SAFETY: forwarded.
    match unsafe { pass1(seg) } {
        Some((s, e)) if s.is_finite() => Part::Sum(s, e),
        Some(_) => Part::Special,
        None => match classify(seg, |v| v) {
            Special::AllNegInf => Part::Empty,
            _ => Part::Special,
        },
    }
}

/// Two partial results, `a` before `b`, as one.
pub(crate) fn merge(a: Part, b: Part) -> Part {
    match (a, b) {
        (Part::Special, _) | (_, Part::Special) => Part::Special,
        (Part::Empty, p) | (p, Part::Empty) => p,
        (Part::Sum(a, ka), Part::Sum(s, k)) => {
            let e = ka.max(k);
            Part::Sum(a * pow2_f64(ka - e) + s * pow2_f64(k - e), e)
        }
    }
}

/// Combines the segments' sums in index order: `None` when the row must take the
/// special-value path (a special segment, or every segment empty).
pub(crate) fn combine(parts: impl Iterator<Item = Part>) -> Option<(f64, f32)> {
    match parts.fold(Part::Empty, merge) {
        Part::Sum(s, k) => Some((s, k)),
        _ => None,
    }
}

/// Results written by the tasks, one slot per segment, read back in index order.
pub(crate) struct Slots<T>(Vec<OnceLock<T>>);

impl<T: Copy> Slots<T> {
    pub(crate) fn new(n: usize) -> Self {
        Slots((0..n).map(|_| OnceLock::new()).collect())
    }
    pub(crate) fn set(&self, i: usize, v: T) {
        let _ = self.0[i].set(v);
    }
    pub(crate) fn values(&self) -> impl Iterator<Item = T> + '_ {
        self.0
            .iter()
            .map(|s| *s.get().expect("every segment's task ran"))
    }
}

/// A long row shared by the tasks: each task reads and writes only its own segment.
struct Row {
    x: Shared<*const f32>,
    y: Shared<*mut f32>,
    n: usize,
}

impl Row {
    fn new(io: &InOut<'_>) -> Row {
        Row {
            x: Shared(io.x()),
            y: Shared(io.y()),
            n: io.len(),
        }
    }

    fn count(&self) -> usize {
        self.n.div_ceil(SEGMENT)
    }

    /// Segment `i` of the input.
    ///
    /// # Safety
    /// No task writes segment `i` of the output while the slice lives (unless the output is
    /// a different buffer), and the row's `InOut` outlives the call.
    unsafe fn input(&self, i: usize) -> &[f32] {
        let (start, len) = segment(i, self.n);
        // SAFETY: the row's `InOut` guarantees `n` readable elements; `start + len <= n`.
        unsafe { std::slice::from_raw_parts(self.x.0.add(start), len) }
    }

    /// Segment `i` as an input/output pair.
    ///
    /// # Safety
    /// Only one task uses segment `i` at a time, and the row's `InOut` outlives the call.
    unsafe fn io(&self, i: usize) -> InOut<'_> {
        let (start, len) = segment(i, self.n);
        // SAFETY: within the row's valid ranges; the output segment equals the input
        // segment or lies in a disjoint buffer, as for the whole row.
        unsafe { InOut::from_raw(self.x.0.add(start), self.y.0.add(start), len) }
    }
}

/// Pass 1 of the (mantissa, exponent) algorithms over every segment, combined: `pass1` is
/// the two-pass sum or the blocked one.
fn pair_sum(
    row: &Row,
    exec: &Exec,
    pass1: unsafe fn(&[f32]) -> Option<(f64, f32)>,
) -> Option<(f64, f32)> {
    let slots = Slots::new(row.count());
    exec.run(row.count(), &|i| {
        // SAFETY: pass 1 only reads; the kernels' ISA runs here (dispatch checked it).
        slots.set(i, unsafe { part(pass1, row.input(i)) })
    });
    combine(slots.values())
}

/// The maximum of a long row over every segment; NaN when a segment saw a NaN.
fn row_max(k: &SegmentKernels, row: &Row, exec: &Exec) -> f32 {
    let maxima = Slots::new(row.count());
    exec.run(row.count(), &|i| {
        // SAFETY: reads only.
        maxima.set(i, unsafe { (k.max)(row.input(i)) })
    });
    max_of(maxima.values())
}

/// The largest of the segments' maxima; NaN when one is NaN.
pub(crate) fn max_of(maxima: impl Iterator<Item = f32>) -> f32 {
    maxima.fold(f32::NEG_INFINITY, |a, b| {
        if a.is_nan() || b.is_nan() {
            f32::NAN
        } else {
            a.max(b)
        }
    })
}

/// Softmax of a long row with the resolved algorithm `alg`.
pub(crate) fn softmax(sm: &Softmax, io: InOut<'_>, alg: Algorithm, flags: Flags) {
    let row = Row::new(&io);
    let k = &sm.kernels.segment;
    let exec = Exec::of(sm.threads);
    match alg {
        Algorithm::TwoPass | Algorithm::TwoPassBlocked => {
            let pass1 = if alg == Algorithm::TwoPass {
                k.pair_sum
            } else {
                k.block_sum
            };
            let Some((s, e)) = pair_sum(&row, &exec, pass1) else {
                // SAFETY: as in `Softmax::run_softmax`.
                return unsafe { (sm.kernels.softmax)(io, alg, flags) };
            };
            let r = 1.0 / s;
            exec.run(row.count(), &|i| {
                // SAFETY: each task writes its own segment.
                unsafe { (k.exp_out)(row.io(i), e, r, 0.0, flags.non_temporal) }
            });
        }
        Algorithm::ThreePassReload | Algorithm::ThreePassRecompute => {
            if alg == Algorithm::ThreePassReload {
                if let Some(walk) = k.exp_store_max.filter(|_| one_walk_fits(&io)) {
                    match reload_one_walk(k, walk, &row, &exec) {
                        OneWalk::Done => return,
                        OneWalk::Nan => return fill_nan(io),
                        // SAFETY: as in `Softmax::run_softmax`.
                        OneWalk::Special => return unsafe { (sm.kernels.softmax)(io, alg, flags) },
                        OneWalk::Again => {}
                    }
                }
            }
            let m = row_max(k, &row, &exec);
            if m.is_nan() || m.abs() >= LARGE {
                // SAFETY: as in `Softmax::run_softmax`.
                return unsafe { (sm.kernels.softmax)(io, alg, flags) };
            }
            let e = shift_for_max(m);
            if alg == Algorithm::ThreePassRecompute {
                let sums = Slots::new(row.count());
                exec.run(row.count(), &|i| {
                    // SAFETY: reads only.
                    sums.set(i, unsafe { (k.sum_exp)(row.input(i), e) })
                });
                let s: f64 = sums.values().sum();
                if s.is_nan() {
                    return fill_nan(io);
                }
                let r = 1.0 / s;
                exec.run(row.count(), &|i| {
                    // SAFETY: each task writes its own segment.
                    unsafe { (k.exp_out)(row.io(i), e, r, 0.0, flags.non_temporal) }
                });
                return;
            }
            let sums = Slots::new(row.count());
            exec.run(row.count(), &|i| {
                // SAFETY: each task writes its own segment.
                sums.set(i, unsafe { (k.exp_store_sum)(row.io(i), e) })
            });
            let s: f64 = sums.values().sum();
            if s.is_nan() {
                return fill_nan(io);
            }
            let r = (1.0 / s) as f32;
            exec.run(row.count(), &|i| {
                // SAFETY: each task rescales its own segment of the output.
                unsafe { (k.scale)(row.io(i), r) }
            });
        }
        // `Auto` is resolved by the caller.
        // SAFETY: as in `Softmax::run_softmax`.
        Algorithm::Auto => unsafe { (sm.kernels.softmax)(io, alg, flags) },
    }
}

/// How [`reload_one_walk`] ended.
pub(crate) enum OneWalk {
    /// The outputs are written.
    Done,
    /// A NaN reached the sums: the row is NaN.
    Nan,
    /// The row needs the special-value rules (its maximum is NaN, infinite or `LARGE`).
    Special,
    /// A segment asked for the three passes (the outputs hold garbage; the input is intact).
    Again,
}

/// Whether [`reload_one_walk`] may take the row: an output disjoint from the input (a
/// segment the walk must redo needs its input), and a last segment of at least a vector of
/// any ISA (16 floats; a shorter one would send the row back after a wasted walk).
fn one_walk_fits(io: &InOut<'_>) -> bool {
    let (_, last) = segment(io.len().div_ceil(SEGMENT) - 1, io.len());
    !std::ptr::eq(io.x(), io.y()) && last >= 16
}

/// Three-pass reload with its first two passes in one walk per segment (where the ISA has
/// it: `SegmentKernels::exp_store_max`), the output the three passes' bit for bit (see
/// `generic::passes::exp_store_max`): every segment stores and sums its exponentials against
/// its first vector's shift `k_i` and keeps its maximum; the row's shift `k` comes from the
/// largest maximum, each segment's sum is brought to `k` by the exact power of two
/// `2^(k_i - k)` and the sums are added in segment order, as the three passes add theirs;
/// each segment's output factor is the row's `1/S` times `2^(k_i - k)`.
fn reload_one_walk(
    k: &SegmentKernels,
    walk: unsafe fn(InOut<'_>) -> Option<Stored>,
    row: &Row,
    exec: &Exec,
) -> OneWalk {
    let slots = Slots::new(row.count());
    exec.run(row.count(), &|i| {
        // SAFETY: each task writes its own segment.
        slots.set(i, unsafe { walk(row.io(i)) })
    });
    let Some(parts) = slots.values().collect::<Option<Vec<Stored>>>() else {
        return OneWalk::Again;
    };
    let (r, e) = match stored_total(&parts) {
        Ok(re) => re,
        Err(end) => return end,
    };
    exec.run(row.count(), &|i| {
        let (r, lo) = parts[i].scale(r, e);
        // SAFETY: each task rescales its own segment of the output.
        unsafe { (k.reload_out)(row.io(i), r, lo, parts[i].k0) }
    });
    OneWalk::Done
}

/// The row's output factor `1/S` (f32) and shift `e` from the walks of its segments
/// ([`reload_one_walk`]): `e` from the largest maximum, each segment's sum brought to `e` by
/// the exact power of two `2^(k_i - e)` and the sums added in segment order, as the three
/// passes add theirs. Segment `i`'s factor is then `parts[i].scale(r, e)`. `Err` for a row
/// that needs the special-value rules or whose sum is NaN.
pub(crate) fn stored_total(parts: &[Stored]) -> Result<(f32, f32), OneWalk> {
    let m = max_of(parts.iter().map(|p| p.max));
    if m.is_nan() || m.abs() >= LARGE {
        return Err(OneWalk::Special);
    }
    let e = shift_for_max(m);
    // Each `k_i <= shift(max_i) <= e`; the walk refused the rest.
    let s: f64 = parts.iter().map(|p| p.s * pow2_f64(p.k0 - e)).sum();
    if s.is_nan() {
        return Err(OneWalk::Nan);
    }
    Ok(((1.0 / s) as f32, e))
}

/// A NaN the maxima missed: the row is NaN, as in the kernels.
fn fill_nan(mut io: InOut<'_>) {
    for i in 0..io.len() {
        io.set(i, f32::NAN);
    }
}

/// Log-softmax of a long row.
pub(crate) fn log_softmax(sm: &Softmax, io: InOut<'_>, flags: Flags) {
    let row = Row::new(&io);
    let exec = Exec::of(sm.threads);
    let Some((s, e)) = pair_sum(&row, &exec, sm.kernels.segment.pair_sum) else {
        // SAFETY: as in `Softmax::run_log_softmax`.
        return unsafe { (sm.kernels.log_softmax)(io, flags) };
    };
    let b = log_softmax_offset(s, e);
    let k = &sm.kernels.segment;
    exec.run(row.count(), &|i| {
        // SAFETY: each task writes its own segment.
        unsafe { (k.shift_out)(row.io(i), e, b, flags.non_temporal) }
    });
}

/// Log-sum-exp of a long row.
pub(crate) fn logsumexp(sm: &Softmax, x: &[f32]) -> f32 {
    let exec = Exec::of(sm.threads);
    let row = Row {
        x: Shared(x.as_ptr()),
        y: Shared(std::ptr::null_mut()),
        n: x.len(),
    };
    match pair_sum(&row, &exec, sm.kernels.segment.pair_sum) {
        Some((s, e)) => ln_scaled(s, e as f64) as f32,
        // SAFETY: as in `Softmax::logsumexp`.
        None => unsafe { (sm.kernels.logsumexp)(x) },
    }
}

/// Pass 1 of cross-entropy: the loss and the combined sum, or `None` for the special path.
fn cross_entropy_pass1(
    sm: &Softmax,
    row: &Row,
    exec: &Exec,
    target: usize,
    eps: f32,
) -> Option<(f32, f64, f32)> {
    let k = &sm.kernels.segment;
    // SAFETY: `target < n` (checked by the caller); reads only.
    let xt = unsafe { row.x.0.add(target).read() };
    cross_entropy_pass1_by(row.count(), row.n, exec, xt, eps, &|i, c| {
        // SAFETY: reads only.
        let seg = unsafe { row.input(i) };
        // SAFETY: as in `pair_sum`.
        let p = unsafe { part(k.pair_sum, seg) };
        let m = if eps > 0.0 {
            // SAFETY: as above.
            unsafe { (k.sum_minus)(seg, c) }
        } else {
            0.0
        };
        (p, m)
    })
}

/// Pass 1 of cross-entropy over the `count` segments of a row of `n` logits whose target
/// logit is `xt`: `seg(i, c)` gives segment `i`'s pass-1 part and its `sum (x - c)` (0
/// without smoothing). Returns the loss and the combined sum `(S, k)`, or `None` for the
/// special path.
pub(crate) fn cross_entropy_pass1_by(
    count: usize,
    n: usize,
    exec: &Exec,
    xt: f32,
    eps: f32,
    seg: &(dyn Fn(usize, f32) -> (Part, f64) + Sync),
) -> Option<(f32, f64, f32)> {
    let c = loss_shift(xt);
    let slots = Slots::new(count);
    exec.run(count, &|i| slots.set(i, seg(i, c)));
    let (s, e) = combine(slots.values().map(|v| v.0))?;
    // The kernel's loss (`generic::training`): lse = base + rest, the mean taken of x - c.
    let (base, rest) = (e as f64 * std::f64::consts::LN_2, ln(s));
    let mean_minus_c = if eps > 0.0 {
        slots.values().map(|v| v.1).sum::<f64>() / n as f64
    } else {
        0.0
    };
    Some((loss_of(xt, eps, mean_minus_c, base, rest) as f32, s, e))
}

/// Cross-entropy loss of a long row (`target < n`, `eps` in `[0, 1]`).
pub(crate) fn cross_entropy(sm: &Softmax, x: &[f32], target: usize, eps: f32) -> f32 {
    let exec = Exec::of(sm.threads);
    let row = Row {
        x: Shared(x.as_ptr()),
        y: Shared(std::ptr::null_mut()),
        n: x.len(),
    };
    match cross_entropy_pass1(sm, &row, &exec, target, eps) {
        Some((loss, _, _)) => loss,
        // SAFETY: as in `Softmax::run_cross_entropy`.
        None => unsafe { (sm.kernels.cross_entropy)(x, target, eps) },
    }
}

/// Cross-entropy loss and gradient of a long row (`target < n`, `eps` in `[0, 1]`).
pub(crate) fn cross_entropy_grad(
    sm: &Softmax,
    mut io: InOut<'_>,
    target: usize,
    eps: f32,
    flags: Flags,
) -> f32 {
    let exec = Exec::of(sm.threads);
    let row = Row::new(&io);
    let Some((loss, s, e)) = cross_entropy_pass1(sm, &row, &exec, target, eps) else {
        // SAFETY: as in `Softmax::run_cross_entropy_grad`.
        return unsafe { (sm.kernels.cross_entropy_grad)(io, target, eps, flags) };
    };
    let (r, per_class) = (1.0 / s, eps / row.n as f32);
    let k = &sm.kernels.segment;
    exec.run(row.count(), &|i| {
        // SAFETY: each task writes its own segment.
        unsafe { (k.exp_out)(row.io(i), e, r, per_class, flags.non_temporal) }
    });
    let gt = io.get_out(target);
    io.set(target, gt - (1.0 - eps));
    loss
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_tile_the_row() {
        for n in [SEGMENT_MIN_LEN, SEGMENT_MIN_LEN + 1, 10 * SEGMENT - 3] {
            let mut end = 0;
            for i in 0..n.div_ceil(SEGMENT) {
                let (start, len) = segment(i, n);
                assert_eq!(start, end);
                assert!(len > 0 && len <= SEGMENT);
                end = start + len;
            }
            assert_eq!(end, n);
        }
    }

    #[test]
    fn combine_is_the_ordered_merge() {
        let parts = [Part::Sum(1.5, 3.0), Part::Empty, Part::Sum(0.75, 5.0)];
        assert_eq!(combine(parts.into_iter()), Some((1.5 / 4.0 + 0.75, 5.0)));
        assert_eq!(combine([Part::Empty, Part::Empty].into_iter()), None);
        assert_eq!(
            combine([Part::Sum(1.0, 0.0), Part::Special].into_iter()),
            None
        );
        // A gap beyond the f64 range flushes the smaller sum to 0.
        assert_eq!(
            combine([Part::Sum(1.0, -2000.0), Part::Sum(1.0, 0.0)].into_iter()),
            Some((1.0, 0.0))
        );
    }
}
