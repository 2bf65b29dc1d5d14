//! Top-k gating: the `k` largest entries of each row with their softmax weights (sampling is
//! [`super::sample`]).
//!
//! The row is not sorted. Batches of rows short enough go through [`super::tile`] first,
//! `LANES` rows at a time. Gating with `k <= 8` takes the candidate path of [`super::gate`]
//! next (two reads, a handful of candidates ranked with vector compares, several rows at a
//! time). The rows it hands back (ties among the candidates, more candidates than it holds,
//! `-inf` entries) and every `k > 8` take the general path here, which reads a row three
//! times (from L1 for the row lengths it is made for): the lane maxima, the sum of
//! exponentials, and a selection pass that compares whole vectors against a running bar and
//! hands only the lanes above it to a small sorted list of `k` entries. The bar starts at a
//! lower bound of the `k`-th largest entry taken from the lane maxima (every lane's maximum is
//! a different entry, so at least `k` entries reach the `k`-th largest of them), so most
//! vectors are dismissed by one compare.
//!
//! Rows the fast path cannot take (NaN, infinities, `|max| >= LARGE`) go through portable
//! scalar code in f64 with the same rules on every ISA.

use super::gate::{self, gate_group, weights, Fast, FAST_K, FAST_LEN};
use super::inputs::{Input, Plain, Scaled};
use super::passes::{lane_max, sum_exp};
use super::tile::{self, gate_tile, Tile};
use super::walk::{self, Body, One};
use crate::kernels::exp::{shift_for_max, Exp, LARGE};
use crate::kernels::simd::{Simd, Token};
use crate::rows::RowsIn;

/// The best entries seen so far: values in descending order, equal values in the order they
/// were offered (so, offered in index order, the lower index first). Storage is the caller's.
pub(crate) struct Best<'a> {
    v: &'a mut [f32],
    i: &'a mut [i32],
    len: usize,
}

impl<'a> Best<'a> {
    /// An empty list of capacity `v.len() == i.len() >= 1`.
    pub(crate) fn new(v: &'a mut [f32], i: &'a mut [i32]) -> Self {
        debug_assert!(v.len() == i.len() && !v.is_empty());
        Best { v, i, len: 0 }
    }

    #[inline(always)]
    fn full(&self) -> bool {
        self.len == self.v.len()
    }

    /// The value a new entry must exceed once the list is full.
    #[inline(always)]
    fn last(&self) -> f32 {
        self.v[self.len - 1]
    }

    /// Offers entry `i` of value `v` (not NaN). Entries must be offered in index order.
    #[inline]
    pub(crate) fn offer(&mut self, v: f32, i: usize) {
        if self.full() {
            if v <= self.last() {
                return;
            }
            self.len -= 1;
        }
        let mut p = self.len;
        while p > 0 && self.v[p - 1] < v {
            self.v[p] = self.v[p - 1];
            self.i[p] = self.i[p - 1];
            p -= 1;
        }
        self.v[p] = v;
        self.i[p] = i as i32;
        self.len += 1;
    }
}

/// A list of the best entries offered so far (in index order), as [`select`] fills it.
pub(crate) trait Keep {
    /// Whether it holds its `k` entries.
    fn full(&self) -> bool;
    /// Its `k`-th value (when full): what a new entry must exceed.
    fn last(&self) -> f32;
    /// Offers entry `i` of value `v` (not NaN, above `-inf`).
    fn offer(&mut self, v: f32, i: usize);
    /// Appends a `-inf` entry (only while not full, after every larger entry was offered).
    fn push_neg_inf(&mut self, i: usize);
}

impl Keep for Best<'_> {
    #[inline(always)]
    fn full(&self) -> bool {
        Best::full(self)
    }
    #[inline(always)]
    fn last(&self) -> f32 {
        Best::last(self)
    }
    #[inline(always)]
    fn offer(&mut self, v: f32, i: usize) {
        Best::offer(self, v, i)
    }
    #[inline(always)]
    fn push_neg_inf(&mut self, i: usize) {
        Best::offer(self, f32::NEG_INFINITY, i)
    }
}

/// The best `k <= 8` entries in eight fixed slots, kept sorted by a branch-free insertion
/// (each offer compares and swaps down all eight slots: no mispredicted branch per entry).
/// Unused slots hold `-inf`; an offered value exceeds `-inf`, so it always finds a slot.
pub(crate) struct Top8 {
    v: [f32; 8],
    i: [i32; 8],
    count: usize,
    k: usize,
}

impl Top8 {
    pub(crate) fn new(k: usize) -> Self {
        debug_assert!((1..=8).contains(&k));
        Top8 {
            v: [f32::NEG_INFINITY; 8],
            i: [0; 8],
            count: 0,
            k,
        }
    }

    /// The `k` values and indices, best first.
    pub(crate) fn write(&self, w: &mut [f32], idx: &mut [i32]) {
        w.copy_from_slice(&self.v[..self.k]);
        idx.copy_from_slice(&self.i[..self.k]);
    }
}

impl Keep for Top8 {
    #[inline(always)]
    fn full(&self) -> bool {
        self.count >= self.k
    }
    #[inline(always)]
    fn last(&self) -> f32 {
        self.v[self.k - 1]
    }
    // Not inlined into the ISA entry points: there LLVM vectorises the eight slots with
    // AVX-512 mask arithmetic that isolates a bit with `kshiftlw`/`kshiftrw` by 15, which the
    // AVX-512 emulator of `scripts/test-avx512.sh` (Bochs 2.7) gets wrong (it clears the mask),
    // so the emulated suite could not check this path. Offers are few per row (the entries
    // above a running bar) and only rows the candidate path hands back come here.
    #[inline(never)]
    fn offer(&mut self, v: f32, i: usize) {
        // The slots from the first one `v` exceeds (strictly: an equal value offered later, a
        // higher index, stays behind) shift down by one; `v` takes the first of them.
        let (old_v, old_i, i) = (self.v, self.i, i as i32);
        let mut shifted = false;
        for j in 0..8 {
            let take = v > old_v[j];
            let up = j.saturating_sub(1);
            let (sv, si) = if shifted {
                (old_v[up], old_i[up])
            } else {
                (v, i)
            };
            self.v[j] = if take { sv } else { old_v[j] };
            self.i[j] = if take { si } else { old_i[j] };
            shifted = take;
        }
        self.count += 1;
    }
    #[inline(always)]
    fn push_neg_inf(&mut self, i: usize) {
        self.v[self.count] = f32::NEG_INFINITY;
        self.i[self.count] = i as i32;
        self.count += 1;
    }
}

/// A lower bound of the `k`-th largest entry of a row from its lane maxima: the `k`-th largest
/// lane maximum (each is a different entry of the row), or `-inf` when `k > LANES`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(super) fn floor_of<V: Simd>(isa: Token<V>, lanes: V, k: usize) -> f32 {
    match k {
        _ if k > V::LANES => f32::NEG_INFINITY,
        1 => lanes.reduce_max(),
        2 => gate::second(isa, &[lanes], lanes.reduce_max()),
        _ => gate::kth_largest(isa, &[lanes], k),
    }
}

/// The body of [`select`].
struct Select<'b, V, K> {
    isa: Token<V>,
    best: &'b mut K,
    bar: f32,
    vbar: V,
}

impl<V: Simd, K: Keep> Body<V, V> for Select<'_, V, K> {
    #[inline(always)]
    fn take(&mut self, _j: usize, i: usize, v: V) -> V {
        let mut m = V::gt_mask(v, self.vbar);
        if m != 0 {
            let mut lanes = [0.0f32; 16];
            v.to_array(&mut lanes);
            while m != 0 {
                let j = m.trailing_zeros() as usize;
                m &= m - 1;
                self.best.offer(lanes[j], i + j);
            }
            if self.best.full() && self.best.last() > self.bar {
                self.bar = self.best.last();
                self.vbar = V::splat(self.isa, self.bar);
            }
        }
        v
    }
}

/// Offers to `best`, in index order, every entry of the row `x` that exceeds both
/// `floor.next_down()` and (once `best` is full) its last value; then, if `best` is still not
/// full, the row's `-inf` entries in index order. `floor` must not exceed the row's
/// `best`-capacity-th largest entry, and the row must hold no NaN.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(super) fn select<V: Simd>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    floor: f32,
    best: &mut impl Keep,
) {
    let bar = if floor == f32::NEG_INFINITY {
        floor
    } else {
        floor.next_down()
    };
    let mut body = Select {
        isa,
        best: &mut *best,
        bar,
        vbar: V::splat(isa, bar),
    };
    walk::scan(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut body);
    for (i, &v) in x.iter().enumerate() {
        if best.full() {
            break;
        }
        if inp.value(v) == f32::NEG_INFINITY {
            best.push_neg_inf(i);
        }
    }
    debug_assert!(best.full());
}

/// Gating of one row: the `k = w.len()` largest entries of `scale * x` (indices into `idx`,
/// by descending value, ties to the lower index) and their softmax weights into `w`, over the
/// whole row or renormalised over the `k`.
pub(crate) struct Gate {
    /// The factor applied to every logit (finite, non-zero).
    pub scale: f32,
    /// Normalise the weights over the `k` selected entries instead of the whole row.
    pub renormalize: bool,
}

#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn gate_of<V: Simd, const U: usize, const RENORM: bool>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    gate: &Gate,
    w: &mut [f32],
    idx: &mut [i32],
) {
    let (n, k) = (x.len(), w.len());
    debug_assert!(k >= 1 && k <= n && idx.len() == k);
    let lanes = lane_max::<V, U, 0>(isa, inp, x);
    let m = lanes.reduce_max();
    if m.is_nan() || m.abs() >= LARGE {
        return gate_special(x, gate, w, idx);
    }
    let shift = shift_for_max(m);
    let ex = Exp::new(isa, shift, 1.0);
    let s = if RENORM {
        // The weights need only the selected entries: the row's NaN test alone.
        gate::total(isa, inp, x)
    } else if k <= FAST_K && n <= FAST_LEN {
        // The order of the candidate and tile paths, which hand such rows here.
        gate::scan_sum(isa, inp, x, &ex)
    } else {
        sum_exp::<V, U, 0>(isa, inp, x, &ex)
    };
    if s.is_nan() {
        return gate_special(x, gate, w, idx);
    }
    if (3..=8).contains(&k) {
        // The branch-free list: for one or two entries, the early exits of `Best` cost less.
        let mut top = Top8::new(k);
        select::<V>(isa, inp, x, floor_of(isa, lanes, k), &mut top);
        top.write(w, idx);
    } else {
        let mut best = Best::new(w, idx);
        select::<V>(isa, inp, x, floor_of(isa, lanes, k), &mut best);
    }
    weights(isa, shift, s, gate, w);
}

/// Gating of a row the fast path does not take, portable and in f64: NaN anywhere gives NaN
/// weights and indices `0..k`; `c` entries at `+inf` share the mass (`1/c` each, or `1/c'`
/// over the `c'` selected with renormalisation) and every other entry gets 0; a row of only
/// `-inf` gives NaN weights and indices `0..k`; finite rows of huge magnitude are shifted by
/// their maximum in f64.
fn gate_special(x: &[f32], gate: &Gate, w: &mut [f32], idx: &mut [i32]) {
    let value = |v: f32| v * gate.scale;
    let nan_row = |w: &mut [f32], idx: &mut [i32]| {
        w.fill(f32::NAN);
        for (j, i) in idx.iter_mut().enumerate() {
            *i = j as i32;
        }
    };
    if x.iter().any(|&v| value(v).is_nan()) {
        return nan_row(w, idx);
    }
    let mut best = Best::new(w, idx);
    for (i, &v) in x.iter().enumerate() {
        best.offer(value(v), i);
    }
    let m = w[0];
    if m == f32::NEG_INFINITY {
        return nan_row(w, idx);
    }
    if m == f32::INFINITY {
        let count = if gate.renormalize {
            w.iter().filter(|&&v| v == f32::INFINITY).count()
        } else {
            x.iter().filter(|&&v| value(v) == f32::INFINITY).count()
        };
        for v in w.iter_mut() {
            *v = if *v == f32::INFINITY {
                1.0 / count as f32
            } else {
                0.0
            };
        }
        return;
    }
    let e = |v: f32| (v as f64 - m as f64).exp();
    let total: f64 = if gate.renormalize {
        w.iter().map(|&v| e(v)).sum()
    } else {
        x.iter().map(|&v| e(value(v))).sum()
    };
    for v in w.iter_mut() {
        *v = (e(*v) / total).min(1.0) as f32;
    }
}

/// Output rows of gating: `k` weights and `k` indices per row, `w_stride` / `i_stride` apart.
pub(crate) struct GateOut<'a> {
    pub w: &'a mut [f32],
    pub w_stride: usize,
    pub idx: &'a mut [i32],
    pub i_stride: usize,
    pub k: usize,
}

/// Gating of every row of a batch (see [`Gate`]). `out` holds `rows` rows of `k` values at
/// its strides; `1 <= k <= cols`. `RENORM` is `gate.renormalize`: each kind of weights has
/// its own entry point (`Kernels::topk_rows` and `topk_rows_renorm`), so that the code of
/// one is not laid out around the other's.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn topk_rows<V: Simd, const U: usize, const RENORM: bool>(
    isa: Token<V>,
    rows: RowsIn<'_>,
    gate: &Gate,
    out: GateOut<'_>,
) {
    debug_assert!(RENORM == gate.renormalize);
    if gate.scale == 1.0 {
        gate_rows::<V, U, RENORM>(isa, &Plain, rows, gate, out);
    } else {
        gate_rows::<V, U, RENORM>(isa, &Scaled::<V>::new(isa, gate.scale), rows, gate, out);
    }
}

/// [`topk_rows`] with the scale in `inp`: groups of [`gate::R`] rows through the candidate path
/// where it applies, every other row (and every row it hands back) through [`gate_of`].
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn gate_rows<V: Simd, const U: usize, const RENORM: bool>(
    isa: Token<V>,
    inp: &impl Input<V>,
    rows: RowsIn<'_>,
    gate: &Gate,
    out: GateOut<'_>,
) {
    let (k, n) = (out.k, rows.cols());
    if k > FAST_K || n > FAST_LEN {
        for r in 0..rows.rows() {
            let w = &mut out.w[r * out.w_stride..][..k];
            let idx = &mut out.idx[r * out.i_stride..][..k];
            gate_of::<V, U, RENORM>(isa, inp, rows.row(r), gate, w, idx);
        }
        return;
    }
    let mut out = out;
    let l = V::LANES;
    // Whole tiles of `LANES` rows first, then the rest in groups of `gate::R`.
    let mut first = 0;
    if tile::takes::<V>(n, k) && rows.rows() >= l {
        let mut tile = Tile::new();
        let mut xs = [rows.row(0); 16];
        while first + l <= rows.rows() {
            for (i, x) in xs.iter_mut().enumerate().take(l) {
                *x = rows.row(first + i);
            }
            let back = gate_tile::<V, RENORM>(isa, inp, &xs[..l], &mut tile, gate, &mut out, first);
            for (i, x) in xs.iter().enumerate().take(l) {
                if back & (1 << i) != 0 {
                    let w = &mut out.w[(first + i) * out.w_stride..][..k];
                    let idx = &mut out.idx[(first + i) * out.i_stride..][..k];
                    gate_of::<V, U, RENORM>(isa, inp, x, gate, w, idx);
                }
            }
            first += l;
        }
    }
    for r in (first..rows.rows()).step_by(gate::R) {
        let live = gate::R.min(rows.rows() - r);
        // The rows past the batch's end repeat its last row; they are not written.
        let mut xs = [rows.row(r); gate::R];
        for (i, x) in xs.iter_mut().enumerate() {
            *x = rows.row(r + i.min(live - 1));
        }
        let fast = match V::LANES {
            16 => gate_group::<V, 1, RENORM>(isa, inp, xs, live, gate, &mut out, r),
            8 => gate_group::<V, 2, RENORM>(isa, inp, xs, live, gate, &mut out, r),
            _ => gate_group::<V, 4, RENORM>(isa, inp, xs, live, gate, &mut out, r),
        };
        for (i, &f) in fast[..live].iter().enumerate() {
            if f != Fast::Done {
                let w = &mut out.w[(r + i) * out.w_stride..][..k];
                let idx = &mut out.idx[(r + i) * out.i_stride..][..k];
                gate_of::<V, U, RENORM>(isa, inp, xs[i], gate, w, idx);
            }
        }
    }
}
