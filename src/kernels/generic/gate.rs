//! Top-k gating by candidates: the path every row of up to [`FAST_LEN`] elements with
//! `k <= FAST_K` takes first, [`R`] rows at a time.
//!
//! 1. A first read takes [`SPREAD`] lane maxima (vector `j` into accumulator `j % G`, with
//!    `G * LANES == SPREAD`). They are `SPREAD` different entries of the row, so their `k`-th
//!    largest is a bar no larger than the row's `k`-th largest entry.
//! 2. A second read sums the exponentials (for renormalised weights, which need only the
//!    `k` selected entries, the entries themselves, for the row's NaN test alone) and packs
//!    the entries at or above the bar, with their positions, into a list of at most [`CAP`]
//!    candidates: one compare and a lane permutation per vector on AVX-512 and AVX2, no
//!    branch per entry.
//! 3. Each candidate's slot is the count of candidates at or above it, less one (vector
//!    compares, no branch); the first `k` slots are the selection, and their weights are the
//!    softmax map of their values, computed a vector of candidates at a time.
//!
//! A row whose candidates do not fit (a row too flat for the bar, or many equal values), fall
//! short of `k` (`-inf` entries) or hold two equal values (their order is by index, which the
//! counts do not give) goes back to the general path of [`super::topk`], which selects with a
//! sorted list; a row holding NaN, infinities or huge magnitudes to the special-value rules.
//!
//! The rows of a group go through each step together: a row alone is one long dependent chain
//! (maximum, shift, exponentials, sum, reciprocal, weights), and the independent rows of a
//! group overlap theirs.

use super::inputs::Input;
use super::passes::{ExpSum, LaneMap, Maxima, Prob};
use super::walk::{self, Body, One};
use crate::kernels::exp::{shift_for_max, Exp, LARGE};
use crate::kernels::simd::{Simd, Token};

/// The largest `k` the candidate path takes.
pub(crate) const FAST_K: usize = 8;
/// The longest row the candidate path takes: its positions are held as `2^23 + position` in
/// `f32`, exact below `2^23`.
pub(crate) const FAST_LEN: usize = 1 << 23;
/// The most candidates a row may have.
const CAP: usize = 16;
/// The lane maxima the bar comes from: `SPREAD / LANES` vectors.
const SPREAD: usize = 16;
/// Rows per group. Zen 5, AVX-512, one interleaved run (ns/row, R = 1 | 2 | 4): 4096 x 64
/// with k = 2 47 | 40 | 43, k = 8 69 | 60 | 64; 4096 x 256 with k = 8 174 | 100 | 105.
pub(crate) const R: usize = 2;
/// `2^23`: added to an integer below `2^23` (exactly), it leaves the integer in the low bits.
const MAGIC: f32 = 8_388_608.0;

/// `0.0, 1.0, ..., 15.0`: the positions of the lanes in a vector.
static IOTA: [f32; 16] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
];

/// How the candidate path ended for a row.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fast {
    /// The outputs are written.
    Done,
    /// The row needs the special-value rules (NaN, an infinity, `|max| >= LARGE`).
    Special,
    /// More than [`CAP`] candidates, or fewer than `k`: the general path takes the row.
    Crowded,
}

use super::topk::{Gate, GateOut};

/// One row's state between the steps.
#[derive(Clone, Copy)]
struct Row<V, const G: usize> {
    /// The lane maxima, then nothing.
    acc: [V; G],
    /// The row's maximum.
    m: f32,
    /// The shift of the exponentials (`shift_for_max(m)`).
    shift: f32,
    /// The sum of the row's exponentials (with renormalised weights, of its entries: only
    /// its NaN test is used).
    s: f64,
    /// Candidate values in index order, `-inf` after them.
    cv: [f32; CAP + 16],
    /// Candidate positions as `2^23 + position`.
    cp: [f32; CAP + 16],
    /// Candidates found (all of them, also past `CAP`).
    found: usize,
    /// How the row stands.
    state: Fast,
}

/// Gating of the first `live` of the `R` rows `xs` (each `x.len() <= FAST_LEN`, with
/// `1 <= k <= FAST_K` and `k <= x.len()` for `k = out.k`) into rows `r0..r0 + live` of `out`.
/// Returns each row's [`Fast`]; the outputs of a row that is not `Done` are unspecified, and
/// the rows past `live` are neither read nor written. `RENORM` is `gate.renormalize`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn gate_group<V: Simd, const G: usize, const RENORM: bool>(
    isa: Token<V>,
    inp: &impl Input<V>,
    xs: [&[f32]; R],
    live: usize,
    gate: &Gate,
    out: &mut GateOut<'_>,
    r0: usize,
) -> [Fast; R] {
    let k = out.k;
    debug_assert!(G * V::LANES == SPREAD && (1..=FAST_K).contains(&k) && live <= R);
    debug_assert!(RENORM == gate.renormalize);
    let ninf = V::splat(isa, f32::NEG_INFINITY);
    // (Plain arrays and loops here: `core::array` helpers are not always inlined into the
    // ISA's entry point, and vector code outside it is not compiled for the ISA.)
    let init = Row {
        acc: [ninf; G],
        m: 0.0,
        shift: 0.0,
        s: 0.0,
        cv: [f32::NEG_INFINITY; CAP + 16],
        cp: [0.0; CAP + 16],
        found: 0,
        state: Fast::Done,
    };
    let mut rows = [init; R];
    for (row, x) in rows.iter_mut().zip(xs).take(live) {
        debug_assert!(k <= x.len() && x.len() <= FAST_LEN);
        row.acc = maxima::<V, G>(isa, inp, x);
        row.m = row
            .acc
            .iter()
            .fold(f32::NEG_INFINITY, |m, a| m.max(a.reduce_max()));
        if row.m.is_nan() || row.m.abs() >= LARGE {
            row.state = Fast::Special;
        }
    }
    for (row, x) in rows.iter_mut().zip(xs).take(live) {
        if row.state != Fast::Done {
            continue;
        }
        let floor = match k {
            1 => row.m,
            2 => second(isa, &row.acc, row.m),
            _ => kth_largest(isa, &row.acc, k),
        };
        row.shift = shift_for_max(row.m);
        if RENORM {
            collect::<V, G, false>(isa, inp, x, floor, row);
        } else {
            collect::<V, G, true>(isa, inp, x, floor, row);
        }
        if row.s.is_nan() {
            row.state = Fast::Special;
        } else if row.found > CAP || row.found < k {
            row.state = Fast::Crowded;
        }
    }
    let mut states = [Fast::Done; R];
    for (s, row) in states.iter_mut().zip(&rows) {
        *s = row.state;
    }
    for (r, row) in rows.iter().enumerate().take(live) {
        if row.state == Fast::Done {
            let w = &mut out.w[(r0 + r) * out.w_stride..][..k];
            let idx = &mut out.idx[(r0 + r) * out.i_stride..][..k];
            if !select::<V, G>(isa, row, gate, w, idx) {
                states[r] = Fast::Crowded;
            }
        }
    }
    states
}

/// The first read: lane maxima of `x` in `G` accumulators, each entry in exactly one lane of
/// one of them (the walk's unrolled steps of `G` vectors).
#[inline(always)]
fn maxima<V: Simd, const G: usize>(isa: Token<V>, inp: &impl Input<V>, x: &[f32]) -> [V; G] {
    let mut b = Maxima([V::splat(isa, f32::NEG_INFINITY); G]);
    walk::fold::<V, _, _, G, 0>(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut b);
    b.0
}

/// A bound no larger than the second largest of the `G * LANES` lanes of `acc`, whose largest
/// is `m`: the largest lane below `m` (`-inf` if none).
#[inline(always)]
pub(crate) fn second<V: Simd, const G: usize>(isa: Token<V>, acc: &[V; G], m: f32) -> f32 {
    let (vm, ninf) = (V::splat(isa, m), V::splat(isa, f32::NEG_INFINITY));
    let mut below = ninf;
    for a in acc {
        below = V::max(below, V::below_or(*a, vm, ninf));
    }
    below.reduce_max()
}

/// The `k`-th largest of the `G * LANES` lanes of `acc` (`1 <= k <= G * LANES`, no NaN): the
/// largest lane that at least `k` lanes reach (itself included), counted with vector
/// compares in two independent chains.
#[inline(always)]
pub(crate) fn kth_largest<V: Simd, const G: usize>(isa: Token<V>, acc: &[V; G], k: usize) -> f32 {
    let mut a = [[0.0f32; 16]; G];
    for (a, v) in a.iter_mut().zip(acc) {
        v.to_array(a);
    }
    let (one, zero) = (V::splat(isa, 1.0), V::splat(isa, 0.0));
    let (mut even, mut odd) = ([zero; G], [zero; G]);
    for a in &a {
        for pair in a[..V::LANES].chunks_exact(2) {
            let (b0, b1) = (V::splat(isa, pair[0]), V::splat(isa, pair[1]));
            for g in 0..G {
                even[g] = even[g].add(V::zero_below(one, b0, acc[g]));
                odd[g] = odd[g].add(V::zero_below(one, b1, acc[g]));
            }
        }
    }
    let (kf, ninf) = (
        V::splat(isa, k as f32 - 0.5),
        V::splat(isa, f32::NEG_INFINITY),
    );
    let mut reached = ninf;
    for g in 0..G {
        reached = V::max(reached, V::pick_ge(even[g].add(odd[g]), kf, acc[g], ninf));
    }
    reached.reduce_max()
}

/// The body of [`collect`]: the sum of exponentials (`SUM`) or of the entries themselves
/// (their NaN test, for renormalised weights), and the entries above `bar` packed with their
/// positions into `cv` / `cp`.
struct Collect<'r, 'e, V: Simd, const G: usize, const SUM: bool> {
    isa: Token<V>,
    sum: Steps<'e, V>,
    plain: V,
    bar: V,
    iota: V,
    row: &'r mut Row<V, G>,
    c: usize,
}

impl<V: Simd, const G: usize, const SUM: bool> Body<V, V> for Collect<'_, '_, V, G, SUM> {
    #[inline(always)]
    fn take(&mut self, _j: usize, i: usize, v: V) -> V {
        if SUM {
            self.sum.take(0, i, v);
        } else {
            self.plain = self.plain.add(v);
        }
        // The lanes past the row are `-inf`: never above the bar.
        let mask = V::gt_mask(v, self.bar);
        // `2^23 + position`: exact below `2^24`, the position in the low 23 bits.
        let pos = V::splat(self.isa, MAGIC + i as f32).add(self.iota);
        // SAFETY: `c <= CAP`, and both lists hold `CAP + 16 >= c + LANES` elements.
        unsafe {
            let at = self.c;
            v.compress_store(mask, f32::NEG_INFINITY, self.row.cv.as_mut_ptr().add(at));
            pos.compress_store(mask, 0.0, self.row.cp.as_mut_ptr().add(at));
        }
        self.row.found += mask.count_ones() as usize;
        self.c = self.row.found.min(CAP);
        v
    }
}

/// The second read: the row's sum of exponentials (against `row.shift`) with `SUM`, else
/// the sum of its entries (NaN when the row holds a NaN: the test that renormalised weights,
/// which need no sum over the row, still need); and its entries at or above `floor` packed
/// into the candidate list (the first `CAP` of them) and counted.
#[inline(always)]
fn collect<V: Simd, const G: usize, const SUM: bool>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    floor: f32,
    row: &mut Row<V, G>,
) {
    // `v > floor.next_down()` is `v >= floor` (finite `floor`); a `-inf` floor passes every
    // finite entry.
    let bar = if floor == f32::NEG_INFINITY {
        floor
    } else {
        floor.next_down()
    };
    let ex = Exp::new(isa, row.shift, 1.0);
    row.found = 0;
    let mut body = Collect::<V, G, SUM> {
        isa,
        sum: Steps(ExpSum::<V, 1, false>::new(isa, &ex)),
        plain: V::splat(isa, 0.0),
        bar: V::splat(isa, bar),
        iota: iota(isa),
        row,
        c: 0,
    };
    walk::scan(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut body);
    let s = if SUM {
        body.sum.0.total()
    } else {
        body.plain.reduce_add()
    };
    row.s = s;
}

/// The body of [`total`].
struct Total<V>(V);

impl<V: Simd> Body<V, V> for Total<V> {
    #[inline(always)]
    fn take(&mut self, _j: usize, _i: usize, v: V) -> V {
        self.0 = self.0.add(v);
        v
    }
}

/// The sum of the row's entries, for its NaN test alone: NaN when the row holds a NaN (or
/// both infinities, or `+inf` and an overflow to `-inf`: rows whose `+inf` maximum sends them
/// to the special-value rules anyway). Renormalised weights need no sum of exponentials.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn total<V: Simd>(isa: Token<V>, inp: &impl Input<V>, x: &[f32]) -> f64 {
    let mut body = Total(V::splat(isa, 0.0));
    walk::scan(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut body);
    body.0.reduce_add()
}

/// The body of [`scan_sum`]: one accumulator, a step per vector.
struct Steps<'e, V: Simd>(ExpSum<'e, V, 1, false>);

impl<V: Simd> Body<V, V> for Steps<'_, V> {
    #[inline(always)]
    fn take(&mut self, _j: usize, i: usize, v: V) -> V {
        self.0.take(0, i, v);
        self.0.stepped();
        v
    }
}

/// The row's sum of `ex`'s exponentials, added as [`collect`] adds it (through [`Steps`]: one
/// accumulator, one vector per step, the partial last one included, folded every `FOLD`
/// steps). The general
/// path and the tile path add the rows of `k <= FAST_K` in this order too, so that a row's
/// weights do not depend on the path it took.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn scan_sum<V: Simd>(isa: Token<V>, inp: &impl Input<V>, x: &[f32], ex: &Exp<V>) -> f64 {
    let mut body = Steps(ExpSum::<V, 1, false>::new(isa, ex));
    walk::scan(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut body);
    body.0.total()
}

/// The `k = w.len()` best candidates of `row` (at least `k`, at most `CAP`, no two equal):
/// their weights into `w` and positions into `idx`, by descending value. Returns `false`,
/// writing nothing, when two candidates are equal (the general path orders ties by index).
#[inline(always)]
fn select<V: Simd, const G: usize>(
    isa: Token<V>,
    row: &Row<V, G>,
    gate: &Gate,
    w: &mut [f32],
    idx: &mut [i32],
) -> bool {
    let (l, k, c) = (V::LANES, w.len(), row.found);
    debug_assert!(k <= c && c <= CAP && G * l == CAP);
    let (one, zero) = (V::splat(isa, 1.0), V::splat(isa, 0.0));
    let mut cand = [zero; G];
    for (q, v) in cand.iter_mut().enumerate() {
        // SAFETY: `cv` holds `CAP + 16 >= (q + 1) * LANES` elements.
        *v = unsafe { V::load(isa, row.cv.as_ptr().add(q * l)) };
    }
    // Lane `i` of `r` counts the candidates at or above candidate `i`, itself included: its
    // slot plus one when no two are equal. For `k > 2` every slot is counted (a loop of fixed
    // length: no mispredicted exit); the `-inf` past the candidates then count only each
    // other.
    let lim = if k > 2 { CAP } else { c };
    let mut r = [zero; G];
    for &b in &row.cv[..lim] {
        let b = V::splat(isa, b);
        for g in 0..G {
            r[g] = r[g].add(V::zero_below(one, b, cand[g]));
        }
    }
    // Without ties the counts of the candidates are `1..=c`; each group of `t` equal ones adds
    // `t * (t - 1) / 2` to their total. The lanes past `c` count `CAP` each.
    let mut total = 0.0f64;
    for (g, rg) in r.iter().enumerate().take(lim.div_ceil(l)) {
        total += zero_below_index(isa, *rg, c, g * l).reduce_add();
    }
    if total != (c * (c + 1) / 2) as f64 {
        return false;
    }
    // Slot `j` holds the one candidate counted `j + 1` times (the lanes past `c` are left
    // out: the padding counts `c` or `CAP`).
    let real = (1u64 << c) - 1;
    let mut lane = [0usize; FAST_K];
    for (j, lane) in lane.iter_mut().enumerate().take(k) {
        let (lo, hi) = (V::splat(isa, j as f32 + 0.5), V::splat(isa, j as f32 + 1.5));
        let mut mask = 0u64;
        for (g, r) in r.iter().enumerate() {
            mask |= u64::from(V::gt_mask(*r, lo) & !V::gt_mask(*r, hi)) << (g * l);
        }
        let mask = mask & real;
        debug_assert!(mask.count_ones() == 1);
        *lane = (mask.trailing_zeros() as usize).min(CAP - 1);
    }
    // The weights: the softmax map `min(1, exp(v - shift*ln2) / total)` as the softmax kernels
    // write it, with the row's total or (renormalised) the total over the `k`, added in f64
    // in slot order.
    let mut wa = [0.0f32; CAP + 16];
    let total = if gate.renormalize {
        let ex = Exp::<V>::new(isa, row.shift, 1.0);
        for (g, v) in cand.iter().enumerate() {
            // SAFETY: `wa` holds `CAP + 16 >= (g + 1) * LANES` elements.
            unsafe { ex.eval(*v).store(wa.as_mut_ptr().add(g * l)) };
        }
        lane[..k].iter().map(|&i| wa[i] as f64).sum::<f64>()
    } else {
        row.s
    };
    let p = Prob::new(isa, Exp::<V>::new(isa, row.shift, 1.0 / total));
    for (g, v) in cand.iter().enumerate() {
        // SAFETY: `wa` holds `CAP + 16 >= (g + 1) * LANES` elements.
        unsafe { p.apply(*v).store(wa.as_mut_ptr().add(g * l)) };
    }
    for ((w, idx), &i) in w.iter_mut().zip(idx.iter_mut()).zip(&lane) {
        *w = wa[i];
        *idx = (row.cp[i].to_bits() & ((1 << 23) - 1)) as i32;
    }
    true
}

/// The lanes of `v` whose candidate (`first + lane`) is below `c`, `+0.0` in the others.
#[inline(always)]
fn zero_below_index<V: Simd>(isa: Token<V>, v: V, c: usize, first: usize) -> V {
    let iota = iota(isa);
    // Lane `i` is kept when `c - first - 0.5 >= i`.
    V::zero_below(v, V::splat(isa, c as f32 - first as f32 - 0.5), iota)
}

/// The weights of the selected values `w` (in place): the softmax map
/// `min(1, exp(v - shift*ln2) / total)` as the softmax kernels write it, where the total is
/// the row's sum `s` or, renormalised, the sum over `w`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn weights<V: Simd>(isa: Token<V>, shift: f32, s: f64, gate: &Gate, w: &mut [f32]) {
    let total = if gate.renormalize {
        let one = Exp::<V>::new(isa, shift, 1.0);
        // Added one at a time in slot order, as the candidate path adds them.
        let mut t = 0.0f64;
        for c in w.chunks(V::LANES) {
            let e = one.eval(load_slice::<V>(isa, c));
            let mut a = [0.0f32; 16];
            e.to_array(&mut a);
            for &v in &a[..c.len()] {
                t += v as f64;
            }
        }
        t
    } else {
        s
    };
    let p = Prob::new(isa, Exp::<V>::new(isa, shift, 1.0 / total));
    for c in w.chunks_mut(V::LANES) {
        let e = p.apply(load_slice::<V>(isa, c));
        if c.len() == V::LANES {
            // SAFETY: `c` holds `LANES` elements.
            unsafe { e.store(c.as_mut_ptr()) };
        } else {
            // SAFETY: `c` holds `c.len()` elements.
            unsafe { e.store_tail(c.as_mut_ptr(), c.len()) };
        }
    }
}

/// `0, 1, ..., LANES - 1`: the lane offsets of positions.
#[inline(always)]
pub(crate) fn iota<V: Simd>(isa: Token<V>) -> V {
    // SAFETY: `IOTA` holds 16 >= LANES elements.
    unsafe { V::load(isa, IOTA.as_ptr()) }
}

/// The values of `c` (at most `LANES`) in a vector, `-inf` in the lanes past them.
#[inline(always)]
pub(crate) fn load_slice<V: Simd>(isa: Token<V>, c: &[f32]) -> V {
    debug_assert!(c.len() <= V::LANES);
    if c.len() == V::LANES {
        // SAFETY: `c` holds `LANES` elements.
        unsafe { V::load(isa, c.as_ptr()) }
    } else {
        // SAFETY: `c` holds `c.len()` elements.
        unsafe { V::load_tail(isa, c.as_ptr(), c.len(), f32::NEG_INFINITY) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::generic::inputs::Plain;

    /// A generator of distinct-looking values in `[-10, 10)`.
    fn values(seed: &mut u64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                (*seed >> 40) as f32 / (1u64 << 24) as f32 * 20.0 - 10.0
            })
            .collect()
    }

    /// Runs one group of `R` rows; returns their states, weights and indices.
    fn group<V: Simd, const G: usize>(
        isa: Token<V>,
        rows: &[Vec<f32>],
        k: usize,
        renormalize: bool,
    ) -> ([Fast; R], Vec<f32>, Vec<i32>) {
        let xs: [&[f32]; R] = core::array::from_fn(|r| &rows[r.min(rows.len() - 1)][..]);
        let (mut w, mut idx) = (vec![0.0f32; R * k], vec![-1i32; R * k]);
        let gate = Gate {
            scale: 1.0,
            renormalize,
        };
        let mut out = GateOut {
            w: &mut w,
            w_stride: k,
            idx: &mut idx,
            i_stride: k,
            k,
        };
        let states = if renormalize {
            gate_group::<V, G, true>(isa, &Plain, xs, rows.len(), &gate, &mut out, 0)
        } else {
            gate_group::<V, G, false>(isa, &Plain, xs, rows.len(), &gate, &mut out, 0)
        };
        (states, w, idx)
    }

    fn check<V: Simd, const G: usize>(isa: Token<V>, name: &str) {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let (mut done, mut all) = (0, 0);
        for n in [1, 2, 3, 5, 16, 17, 31, 64, 100, 256, 1000, 4099] {
            for k in 1..=n.min(FAST_K) {
                for renormalize in [false, true] {
                    let rows: Vec<Vec<f32>> = (0..R).map(|_| values(&mut seed, n)).collect();
                    let (states, w, idx) = group::<V, G>(isa, &rows, k, renormalize);
                    for (r, x) in rows.iter().enumerate() {
                        all += 1;
                        if states[r] != Fast::Done {
                            assert_eq!(states[r], Fast::Crowded, "{name} n={n} k={k}");
                            continue;
                        }
                        done += 1;
                        let mut order: Vec<usize> = (0..n).collect();
                        order.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(a.cmp(&b)));
                        let m = x[order[0]] as f64;
                        let e = |i: usize| (x[i] as f64 - m).exp();
                        let total: f64 = if renormalize {
                            order[..k].iter().map(|&i| e(i)).sum()
                        } else {
                            (0..n).map(e).sum()
                        };
                        for j in 0..k {
                            let ctx = format!("{name} n={n} k={k} {renormalize} row {r} slot {j}");
                            assert_eq!(idx[r * k + j] as usize, order[j], "{ctx}");
                            let want = e(order[j]) / total;
                            let got = w[r * k + j] as f64;
                            assert!((got - want).abs() <= 4e-7 * want + 1e-38, "{ctx}");
                        }
                    }
                }
            }
        }
        // The candidate path takes nearly every row of distinct random values.
        assert!(done * 100 >= all * 97, "{name}: {done} of {all} rows done");
        // Equal candidates and missing candidates go back to the general path; NaN and
        // infinities to the special-value rules.
        let ninf = f32::NEG_INFINITY;
        // A NaN that the lane maxima lose (x86 `max` keeps the second operand when the first
        // is NaN): only the second read's sum finds it, for either kind of weights.
        let mut hidden = values(&mut seed, 40);
        hidden[1] = f32::NAN;
        hidden[17] = 20.0;
        for renormalize in [false, true] {
            let (states, _, _) = group::<V, G>(isa, std::slice::from_ref(&hidden), 2, renormalize);
            assert_eq!(states[0], Fast::Special, "{name} hidden NaN {renormalize}");
        }
        for (row, k, want) in [
            (vec![1.0, 2.0, 2.0, 0.0], 2, Fast::Crowded),
            (vec![3.0; 40], 1, Fast::Crowded),
            (vec![1.0, ninf, ninf], 2, Fast::Crowded),
            (vec![1.0, f32::NAN, 0.0], 1, Fast::Special),
            (vec![1.0, f32::INFINITY, 0.0], 2, Fast::Special),
            (vec![ninf; 5], 1, Fast::Special),
        ] {
            let (states, _, _) = group::<V, G>(isa, std::slice::from_ref(&row), k, false);
            assert_eq!(states[0], want, "{name} {row:?} k={k}");
        }
    }

    #[test]
    fn candidates_of_every_isa_here() {
        super::super::each_isa_here!(check);
    }
}
