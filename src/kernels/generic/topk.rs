//! Top-k gating (the `k` largest entries of each row with their softmax weights) and sampling
//! from a softmax restricted to its top-k / top-p candidates.
//!
//! Neither sorts the row. Gating with `k <= 8` takes the candidate path of [`super::gate`]
//! first (two reads, a handful of candidates ranked with vector compares, several rows at a
//! time). The rows it hands back (ties among the candidates, more candidates than it holds,
//! `-inf` entries) and every `k > 8` take the general path here, which reads a row three
//! times (from L1 for the row lengths it is made for): the lane maxima, the sum of
//! exponentials, and a selection pass that compares whole vectors against a running bar and
//! hands only the lanes above it to a small sorted list of `k` entries. The bar starts at a
//! lower bound of the `k`-th largest entry taken from the lane maxima (every lane's maximum is
//! a different entry, so at least `k` entries reach the `k`-th largest of them), so most
//! vectors are dismissed by one compare.
//!
//! Sampling reads the row twice for a small `top_k` (maxima, selection). Without one it reads
//! it three times: the maximum, then one pass that sums the exponentials both in total and
//! above eight thresholds below the maximum (a coarse "mass above" ladder), then a pass that
//! collects the entries above the threshold whose mass reaches the target; only those are
//! sorted.
//!
//! Rows the fast path cannot take (NaN, infinities, `|max| >= LARGE`) go through portable
//! scalar code in f64 with the same rules on every ISA.

use super::gate::{self, gate_group, load_slice, weights, Fast, FAST_K, FAST_LEN};
use super::inputs::{Input, Plain, Scaled};
use super::passes::{lane_max, sum_exp};
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
    #[inline(always)]
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
fn floor_of<V: Simd>(isa: Token<V>, lanes: V, k: usize) -> f32 {
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
fn select<V: Simd>(
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
fn gate_of<V: Simd, const U: usize>(
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
    let s = sum_exp::<V, U, 0>(isa, inp, x, &Exp::new(isa, shift, 1.0));
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
/// its strides; `1 <= k <= cols`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn topk_rows<V: Simd, const U: usize>(
    isa: Token<V>,
    rows: RowsIn<'_>,
    gate: &Gate,
    out: GateOut<'_>,
) {
    if gate.scale == 1.0 {
        gate_rows::<V, U>(isa, &Plain, rows, gate, out);
    } else {
        gate_rows::<V, U>(isa, &Scaled::<V>::new(isa, gate.scale), rows, gate, out);
    }
}

/// [`topk_rows`] with the scale in `inp`: groups of [`gate::R`] rows through the candidate path
/// where it applies, every other row (and every row it hands back) through [`gate_of`].
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn gate_rows<V: Simd, const U: usize>(
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
            gate_of::<V, U>(isa, inp, rows.row(r), gate, w, idx);
        }
        return;
    }
    let mut out = out;
    for r in (0..rows.rows()).step_by(gate::R) {
        let live = gate::R.min(rows.rows() - r);
        // The rows past the batch's end repeat its last row; they are not written.
        let mut xs = [rows.row(r); gate::R];
        for (i, x) in xs.iter_mut().enumerate() {
            *x = rows.row(r + i.min(live - 1));
        }
        let fast = match V::LANES {
            16 => gate_group::<V, 1>(isa, inp, xs, live, gate, &mut out, r),
            8 => gate_group::<V, 2>(isa, inp, xs, live, gate, &mut out, r),
            _ => gate_group::<V, 4>(isa, inp, xs, live, gate, &mut out, r),
        };
        for (i, &f) in fast[..live].iter().enumerate() {
            if f != Fast::Done {
                let w = &mut out.w[(r + i) * out.w_stride..][..k];
                let idx = &mut out.idx[(r + i) * out.i_stride..][..k];
                gate_of::<V, U>(isa, inp, xs[i], gate, w, idx);
            }
        }
    }
}

/// What a sample is drawn from: `softmax(scale * x)` restricted to the `top_k` largest entries
/// (0: all), then to the shortest prefix (by descending probability) whose mass reaches
/// `top_p` of theirs (`top_p >= 1`: all of them); `u` in `[0, 1)` picks the first candidate
/// whose cumulative mass exceeds `u` times the candidates' total.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Draw {
    /// `1 / temperature` (finite, positive), or `None` for temperature 0 (argmax).
    pub scale: Option<f32>,
    pub top_k: usize,
    pub top_p: f64,
    pub u: f64,
}

/// `top_k` up to this many are selected with [`Best`] (a sorted list on the stack).
const SMALL_K: usize = 64;

/// The index drawn from one row (see [`Draw`]), or `None` when the row holds a NaN (or
/// `scale * x` does). The row is not empty and its length fits in `i32`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn sample<V: Simd, const U: usize>(isa: Token<V>, x: &[f32], d: &Draw) -> Option<usize> {
    match d.scale {
        None => argmax::<V, U>(isa, x),
        Some(1.0) => sample_of::<V, U>(isa, &Plain, x, d),
        Some(s) => sample_of::<V, U>(isa, &Scaled::<V>::new(isa, s), x, d),
    }
}

/// The first index of the largest entry, `None` with a NaN.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn argmax<V: Simd, const U: usize>(isa: Token<V>, x: &[f32]) -> Option<usize> {
    let lanes = lane_max::<V, U, 0>(isa, &Plain, x);
    if lanes.reduce_max().is_nan() || has_nan::<V, U>(isa, x) {
        return None;
    }
    let (mut v, mut i) = ([0.0f32], [0i32]);
    let mut best = Best::new(&mut v, &mut i);
    select::<V>(isa, &Plain, x, lanes.reduce_max(), &mut best);
    Some(i[0] as usize)
}

/// Whether the row holds a NaN (`x != x` in some lane).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn has_nan<V: Simd, const U: usize>(isa: Token<V>, x: &[f32]) -> bool {
    let mut body = NanScan(V::splat(isa, 0.0));
    walk::scan(isa, &One::new(&Plain, x, 0.0), &mut body);
    // Infinite lanes also give NaN here: decide by a scalar look only then.
    let mut a = [0.0f32; 16];
    body.0.to_array(&mut a);
    a[..V::LANES].iter().any(|v| v.is_nan()) && x.iter().any(|v| v.is_nan())
}

/// The body of [`has_nan`]: `acc + (v - v)`, NaN exactly for NaN and infinite lanes.
struct NanScan<V>(V);

impl<V: Simd> Body<V, V> for NanScan<V> {
    #[inline(always)]
    fn take(&mut self, _j: usize, _i: usize, v: V) -> V {
        self.0 = self.0.add(v.sub(v));
        v
    }
}

#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn sample_of<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    d: &Draw,
) -> Option<usize> {
    let n = x.len();
    let lanes = lane_max::<V, U, 0>(isa, inp, x);
    let m = lanes.reduce_max();
    if m.is_nan() || m.abs() >= LARGE || has_nan::<V, U>(isa, x) {
        return sample_special::<V>(x, inp, d);
    }
    let shift = shift_for_max(m);
    // Every mass is the kernels' f32 `exp(v - shift*ln2)`, the terms of the histogram's sums,
    // added in f64.
    let ex = Exp::<V>::new(isa, shift, 1.0);
    let k = if d.top_k == 0 { n } else { d.top_k.min(n) };
    if k <= SMALL_K {
        let (mut v, mut i) = ([0.0f32; SMALL_K], [0i32; SMALL_K]);
        let mut best = Best::new(&mut v[..k], &mut i[..k]);
        select::<V>(isa, inp, x, floor_of(isa, lanes, k), &mut best);
        let mut masses = [0.0f64; SMALL_K];
        exps::<V>(isa, &ex, v[..k].iter().copied(), &mut masses[..k]);
        let total = masses[..k].iter().sum();
        return Some(i[draw(&masses[..k], total, d)] as usize);
    }
    if k < n {
        // A large top-k: select it in O(n), sort only it.
        let mut all: Vec<(f32, u32)> = (0..n).map(|i| (inp.value(x[i]), i as u32)).collect();
        all.select_nth_unstable_by(k - 1, desc);
        all.truncate(k);
        all.sort_unstable_by(desc);
        let mut masses = vec![0.0f64; k];
        exps::<V>(isa, &ex, all.iter().map(|c| c.0), &mut masses);
        let total = masses.iter().sum();
        return Some(all[draw(&masses, total, d)].1 as usize);
    }
    // No top-k: a histogram of the mass by distance below the maximum locates the two
    // boundaries (nucleus end, draw); only the entries of their buckets are sorted.
    let hist = histogram::<V>(isa, inp, x, &ex, m);
    let total: f64 = hist.iter().sum();
    // The nucleus: its last bucket, and its mass.
    let (mut last, mut nucleus) = (BUCKETS - 1, total);
    let mut nucleus_end = None;
    if d.top_p < 1.0 {
        let goal = d.top_p * total;
        let (b, before) = crossing(&hist, |acc| acc >= goal);
        let (c, e) = sorted_bucket::<V>(isa, inp, x, m, &ex, b);
        let mut acc = before;
        let mut len = c.len();
        for (j, &e) in e.iter().enumerate() {
            acc += e;
            if acc >= goal {
                len = j + 1;
                break;
            }
        }
        last = b;
        nucleus = before + e[..len].iter().sum::<f64>();
        nucleus_end = Some((c, e, len));
    }
    // The draw: the first entry whose cumulative mass exceeds u * nucleus.
    let goal = d.u * nucleus;
    let (b, before) = crossing(&hist[..=last], |acc| acc > goal);
    let (c, e, len) = match nucleus_end {
        Some(ne) if b == last => ne,
        _ => {
            let (c, e) = sorted_bucket::<V>(isa, inp, x, m, &ex, b);
            let len = c.len();
            (c, e, len)
        }
    };
    let mut acc = before;
    for j in 0..len {
        acc += e[j];
        if acc > goal {
            return Some(c[j].1 as usize);
        }
    }
    // Rounding left the goal unreached at the end of its bucket: its last entry.
    Some(c[len.max(1) - 1].1 as usize)
}

/// Buckets of the sampling histogram: bucket `b < BUCKETS - 1` holds the entries whose
/// distance below the maximum, times [`PER_NAT`], rounds to `b`; the last one everything from
/// there down.
const BUCKETS: usize = 4096;
/// Buckets per unit of the scaled logits (per nat): they cover 32 below the maximum, beyond
/// which an entry's mass is below `e^-32 = 1.3e-14` of the largest.
const PER_NAT: f32 = 128.0;
/// `1.5 * 2^23`: adding it rounds a float below `2^22` to an integer held in the low bits.
const ROUND: f32 = 12_582_912.0;

/// The bucket of each lane as `ROUND + b`: `round(min((m - v) * PER_NAT, BUCKETS - 1))` in the
/// low bits. The same arithmetic in every pass, so an entry's bucket never changes.
#[inline(always)]
fn bucket_of<V: Simd>(isa: Token<V>, v: V, mv: V) -> V {
    let d = V::min(
        mv.sub(v).mul(V::splat(isa, PER_NAT)),
        V::splat(isa, (BUCKETS - 1) as f32),
    );
    d.add(V::splat(isa, ROUND))
}

/// The body of [`histogram`].
struct Histogram<'e, V> {
    isa: Token<V>,
    ex: &'e Exp<V>,
    m: V,
    hist: Vec<f64>,
}

impl<V: Simd> Body<V, V> for Histogram<'_, V> {
    #[inline(always)]
    fn take(&mut self, _j: usize, _i: usize, v: V) -> V {
        let (mut e, mut b) = ([0.0f32; 16], [0.0f32; 16]);
        self.ex.eval(v).to_array(&mut e);
        bucket_of(self.isa, v, self.m).to_array(&mut b);
        // The lanes past the row are `-inf`: their mass is 0.
        for j in 0..V::LANES {
            let at = b[j].to_bits().wrapping_sub(ROUND.to_bits()) as usize & (BUCKETS - 1);
            self.hist[at] += e[j] as f64;
        }
        v
    }
}

/// The mass `exp(v - shift*ln2)` (the kernels' f32 exponential) of every entry, added in f64
/// into the bucket of its distance below the maximum `m`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn histogram<V: Simd>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    ex: &Exp<V>,
    m: f32,
) -> Vec<f64> {
    let mut body = Histogram {
        isa,
        ex,
        m: V::splat(isa, m),
        hist: vec![0.0f64; BUCKETS],
    };
    walk::scan(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut body);
    body.hist
}

/// The first bucket at which the running total (from bucket 0) satisfies `reached`, and the
/// total before it; when none does (rounding), the last bucket holding mass. Either way a
/// bucket with mass, so with entries (the maximum's bucket always has mass).
fn crossing(hist: &[f64], reached: impl Fn(f64) -> bool) -> (usize, f64) {
    let (mut acc, mut last) = (0.0, (0, 0.0));
    for (b, &h) in hist.iter().enumerate() {
        if h > 0.0 {
            if reached(acc + h) {
                return (b, acc);
            }
            last = (b, acc);
        }
        acc += h;
    }
    last
}

/// The entries of bucket `b` in descending order, with their masses.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn sorted_bucket<V: Simd>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    m: f32,
    ex: &Exp<V>,
    b: usize,
) -> (Vec<(f32, u32)>, Vec<f64>) {
    let mut c = Vec::new();
    collect_bucket::<V>(isa, inp, x, m, b, &mut c);
    c.sort_unstable_by(desc);
    let mut e = vec![0.0f64; c.len()];
    exps::<V>(isa, ex, c.iter().map(|c| c.0), &mut e);
    (c, e)
}

/// The body of [`collect_bucket`].
struct Bucket<'o, V> {
    isa: Token<V>,
    n: usize,
    m: V,
    lo: V,
    hi: V,
    out: &'o mut Vec<(f32, u32)>,
}

impl<V: Simd> Body<V, V> for Bucket<'_, V> {
    #[inline(always)]
    fn take(&mut self, _j: usize, i: usize, v: V) -> V {
        let k = bucket_of(self.isa, v, self.m);
        let tail = if i + V::LANES <= self.n {
            u32::MAX
        } else {
            (1u32 << (self.n - i)) - 1
        };
        let mut mask = V::gt_mask(k, self.lo) & V::gt_mask(self.hi, k) & tail;
        if mask != 0 {
            let mut lanes = [0.0f32; 16];
            v.to_array(&mut lanes);
            while mask != 0 {
                let j = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                self.out.push((lanes[j], (i + j) as u32));
            }
        }
        v
    }
}

/// Every entry of bucket `b`, in index order.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn collect_bucket<V: Simd>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    m: f32,
    b: usize,
    out: &mut Vec<(f32, u32)>,
) {
    // The bucket is an integer-valued float plus ROUND: equal to `ROUND + b`.
    let mut body = Bucket {
        isa,
        n: x.len(),
        m: V::splat(isa, m),
        lo: V::splat(isa, (ROUND + b as f32).next_down()),
        hi: V::splat(isa, ROUND + b as f32 + 1.0),
        out,
    };
    walk::scan(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut body);
}

/// The kernels' f32 exponentials of `values` (as many as `out` holds), widened into `out`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn exps<V: Simd>(
    isa: Token<V>,
    ex: &Exp<V>,
    mut values: impl Iterator<Item = f32>,
    out: &mut [f64],
) {
    let (mut v, mut e) = ([0.0f32; 16], [0.0f32; 16]);
    for chunk in out.chunks_mut(V::LANES) {
        for d in v[..chunk.len()].iter_mut() {
            *d = values.next().expect("a value per output");
        }
        ex.eval(load_slice::<V>(isa, &v[..chunk.len()]))
            .to_array(&mut e);
        for (o, &e) in chunk.iter_mut().zip(&e) {
            *o = e as f64;
        }
    }
}

/// Descending value, then ascending index (IEEE order: `-0.0` equals `+0.0`; no NaN here).
fn desc(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    b.0.partial_cmp(&a.0)
        .unwrap_or(std::cmp::Ordering::Equal)
        .then(a.1.cmp(&b.1))
}

/// The position of the draw among candidates in descending order of mass (`masses`), from a
/// set of total mass `total` whose first entries they are: the nucleus is the shortest prefix
/// whose mass reaches `top_p * total` (all of the set for `top_p >= 1`), and the draw the
/// first candidate whose cumulative mass exceeds `u` times the nucleus's mass. The candidates
/// must cover the nucleus (for `top_p >= 1`: the first entry whose cumulative mass exceeds
/// `u * total`); when rounding leaves a target unreached, the last candidate is taken.
fn draw(masses: &[f64], total: f64, d: &Draw) -> usize {
    let (len, nucleus) = if d.top_p >= 1.0 {
        (masses.len(), total)
    } else {
        let goal = d.top_p * total;
        let mut acc = 0.0;
        let mut len = masses.len();
        for (j, &e) in masses.iter().enumerate() {
            acc += e;
            if acc >= goal {
                len = j + 1;
                break;
            }
        }
        (len, masses[..len].iter().sum())
    };
    let goal = d.u * nucleus;
    let mut acc = 0.0;
    for (j, &e) in masses[..len].iter().enumerate() {
        acc += e;
        if acc > goal {
            return j;
        }
    }
    len - 1
}

/// Sampling from a row the fast path does not take, portable and in f64. `None` with a NaN;
/// `+inf` entries share all the mass equally; a row of only `-inf` draws uniformly; finite
/// rows of huge magnitude are shifted by their maximum.
fn sample_special<V: Simd>(x: &[f32], inp: &impl Input<V>, d: &Draw) -> Option<usize> {
    let v: Vec<f32> = x.iter().map(|&x| inp.value(x)).collect();
    if v.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut all: Vec<(f32, u32)> = v.iter().enumerate().map(|(i, &v)| (v, i as u32)).collect();
    all.sort_unstable_by(desc);
    if d.top_k > 0 {
        all.truncate(d.top_k);
    }
    let m = all[0].0;
    let mass = |v: f32| -> f64 {
        if m.is_infinite() {
            if v == m {
                1.0
            } else {
                0.0
            }
        } else {
            (v as f64 - m as f64).exp()
        }
    };
    let masses: Vec<f64> = all.iter().map(|c| mass(c.0)).collect();
    let total = masses.iter().sum();
    Some(all[draw(&masses, total, d)].1 as usize)
}
