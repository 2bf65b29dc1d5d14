//! Top-k gating by tiles: `LANES` rows of a batch at a time, transposed so that every lane
//! holds one row, for rows of up to [`TILE_MAX`] elements with `k <= FAST_K`.
//!
//! A gating row of a few hundred logits is one long dependent chain when it is read along the
//! row (maximum, selection, shift, exponentials, sum, weights), and the row's own vectors
//! must be reduced across their lanes at each step. Transposed, lane `r` of column vector
//! `c` is entry `c` of row `r`, and each step is plain vertical arithmetic over `LANES`
//! independent rows:
//!
//! 1. the rows are read a `LANES x LANES` block at a time, transposed in registers
//!    ([`Simd::transpose`]) and stored column by column into a buffer (L1-resident);
//! 2. every column is offered to `k` sorted slots per lane (values and positions), the
//!    insertion done with compares and blends: no branch, no horizontal step; from `k = 5`
//!    on, sort keys and selection networks instead ([`keyed`]);
//! 3. the sum of exponentials against each lane's own shift ([`Exp::per_lane`]), for weights
//!    over the whole row (renormalised weights need only the `k` selected entries: the
//!    columns are then added up for the row's NaN test alone);
//! 4. the weights of the `k` slots, a vector of rows at a time, written back to the rows
//!    (interleaved into one run when the rows are contiguous and `k` is a power of two,
//!    else lane by lane, or transposed again from `k = 5` on).
//!
//! **The same bits as one row at a time.** Step 3 keeps, for every lane position `l` of the
//! row layout, its own accumulator of the columns `c = l (mod LANES)`, folded into f64 every
//! [`FOLD`] column blocks, and adds the `LANES` f64 partial sums pairwise in `l` order: the
//! operations, in the order, of the sum of [`gate`](super::gate)'s candidate path (one
//! accumulator, one vector per step), of which lane `l` holds the same columns. The shift, the
//! exponentials and the weight map are lane-wise, so every row gets the weights and indices
//! that a call with that row alone gives, whatever else is in its batch.
//!
//! Rows that need the special-value rules (NaN, infinities, `|max| >= LARGE`) or that have
//! fewer than `k` entries above `-inf` are handed back, as the candidate path hands them, and
//! so are the rare rows whose order the keys of [`keyed`] cannot vouch for.

use core::mem::MaybeUninit;

mod keyed;

use super::inputs::Input;
use super::passes::{pairwise_in_place, LaneMap, Prob, FOLD};
use super::topk::{Gate, GateOut};
use crate::kernels::exp::{Exp, LARGE, LOG2E, ROUND};
use crate::kernels::simd::{Simd, Token};

/// The longest row the tile path takes.
pub(crate) const TILE_MAX: usize = 512;
/// `2^23`: added to a position (an integer below `2^23`), it leaves the position in the low
/// bits of the f32, read without a checked float-to-integer conversion.
const MAGIC: f32 = 8_388_608.0;
/// The longest row the tile path takes with `k > 4` (measured up to 256).
const TILE_MAX_WIDE_K: usize = 256;

/// Whether batches of rows of `n` with this `k <= 8` go through tiles of `V`: while a tile's
/// columns take at most [`TILE_L1`] floats, and with `k > 4` up to [`TILE_MAX_WIDE_K`].
///
/// With `k > 4` (the keyed selection), Zen 4, ns/row, candidate path -> tiles, interleaved:
/// AVX2 128 x k = 8 121 -> 76, 256 x k = 8 185 -> 142; AVX-512 128 x k = 8 92 -> 71, 256 x
/// k = 8 129 -> 134 and 130 -> 131 (even, within noise). Before it (blends carrying
/// positions):
///
/// Zen 3, AVX2, ns/row (candidate path -> tiles; `topk_softmax_rows` on 4096 or 2048 rows,
/// interleaved runs): 64 x k = 2 140 -> 69, k = 8 198 -> 137; 128 x k = 8 177 -> 203;
/// 256 x k = 2 251 -> 165, k = 4 321 -> 276, k = 8 493 -> 516; 512 x k = 2 703 -> 478,
/// k = 8 829 -> 937. Zen 4, AVX-512 (tiles of 16 rows): 64 x k = 8 94 -> 64; 128 x k = 8
/// 116 -> 117; 256 x k = 2 173 -> 134, k = 4 208 -> 135; 512 x k = 2 195 -> 210, k = 4
/// 221 -> 279: the 32 KiB of a 16-row tile of 512 fill the L1 data cache.
pub(crate) fn takes<V: Simd>(n: usize, k: usize) -> bool {
    n <= if k <= 4 {
        TILE_MAX.min(TILE_L1 / V::LANES)
    } else {
        TILE_MAX_WIDE_K.min(TILE_L1 / V::LANES)
    }
}
/// The most floats of one tile's columns that the tile path takes (16 KiB: half a common L1
/// data cache).
const TILE_L1: usize = 4096;
/// The buffer of one tile: `TILE_MAX` columns (rounded up to whole blocks) of up to 16 rows.
pub(crate) const BUF: usize = TILE_MAX * 16;

/// The transposed rows of one tile: column `c` at `c * LANES`. Left uninitialised (each tile
/// writes the part it reads first): clearing 32 KiB would cost as much as a small batch.
pub(crate) struct Tile {
    buf: [MaybeUninit<f32>; BUF],
}

impl Tile {
    pub(crate) fn new() -> Self {
        Tile {
            buf: [MaybeUninit::uninit(); BUF],
        }
    }
}

/// Gating of the `LANES` rows `xs` (all of length `n`, `k <= n <= TILE_MAX`,
/// `1 <= k <= 8` for `k = out.k`) into rows `r0..r0 + LANES` of `out`. Returns the mask of
/// the rows handed back (bit `r` for `xs[r]`), whose outputs are not written. `RENORM` is
/// `gate.renormalize` (a constant: the two kinds of weights get their own code).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn gate_tile<V: Simd, const RENORM: bool>(
    isa: Token<V>,
    inp: &impl Input<V>,
    xs: &[&[f32]],
    tile: &mut Tile,
    gate: &Gate,
    out: &mut GateOut<'_>,
    r0: usize,
) -> u32 {
    let (l, k) = (V::LANES, out.k);
    let n = xs[0].len();
    debug_assert!(xs.len() == l && xs.iter().all(|x| x.len() == n));
    debug_assert!((1..=8).contains(&k) && k <= n && n <= TILE_MAX);
    debug_assert!(RENORM == gate.renormalize);
    let blocks = n.div_ceil(l);
    let len = blocks * l * l;
    // With renormalised weights there is no sum of exponentials to find a NaN: the columns
    // are added up as they are stored.
    let added = transpose_in::<V, RENORM>(isa, inp, xs, &mut tile.buf[..len]);
    // SAFETY: `transpose_in` wrote all `len` elements (every block of `LANES` columns).
    let cols: &[f32] = unsafe { core::slice::from_raw_parts(tile.buf.as_ptr().cast(), len) };
    let (mut top, mut pos) = ([V::splat(isa, 0.0); 8], [V::splat(isa, 0.0); 8]);
    let mut back = match k {
        1 => select::<V, 1>(isa, cols, n, &mut top, &mut pos),
        2 => select::<V, 2>(isa, cols, n, &mut top, &mut pos),
        3 => select::<V, 3>(isa, cols, n, &mut top, &mut pos),
        4 => select::<V, 4>(isa, cols, n, &mut top, &mut pos),
        8 => keyed::select::<V, true>(isa, cols, n, k, &mut top, &mut pos),
        _ => keyed::select::<V, false>(isa, cols, n, k, &mut top, &mut pos),
    };
    // Rows whose maximum is NaN, infinite or at least `LARGE` in magnitude are handed back
    // (whatever their lanes compute below stays in those lanes).
    let m = top[0];
    let ok = V::gt_mask(m, V::splat(isa, -LARGE)) & V::gt_mask(V::splat(isa, LARGE), m);
    back |= !ok & lane_bits::<V>();
    // `shift_for_max` lane-wise: the same f32 operations.
    let round = V::splat(isa, ROUND);
    let shift = m.mul(V::splat(isa, LOG2E)).add(round).sub(round);
    // Renormalised weights need no sum over the whole row. (The sum stays ahead of the checks
    // below, and each branch keeps its own divisions: moved after them and shared, the code
    // of the weights over the row ran 5-9% slower on rows of 64.)
    let totals = if RENORM {
        [0.0; 16]
    } else {
        sums(isa, cols, blocks, shift)
    };
    // Fewer than `k` entries above `-inf`, or a NaN in the row (the sum is NaN).
    back |= !V::gt_mask(top[k - 1], V::splat(isa, f32::NEG_INFINITY)) & lane_bits::<V>();
    for (r, total) in totals.iter().enumerate().take(l) {
        if total.is_nan() {
            back |= 1 << r;
        }
    }
    let mut scale = [0.0f64; 16];
    if RENORM {
        back |= nan_lanes(isa, added);
        // The sum over the `k` slots in slot order, as the candidate path adds it (in f64
        // from 0, lane-wise).
        let one = Exp::per_lane(isa, shift);
        let mut t = V::wide_zero(isa);
        for top in &top[..k] {
            t = one.eval(*top).wide_add(t);
        }
        let mut totals = [0.0f64; 16];
        V::wide_to_array(t, &mut totals);
        for (s, t) in scale.iter_mut().zip(&totals).take(l) {
            *s = 1.0 / t;
        }
    } else {
        for (s, t) in scale.iter_mut().zip(&totals).take(l) {
            *s = 1.0 / t;
        }
    }
    let p = Prob::new(isa, Exp::per_lane_scaled(isa, shift, &scale));
    let mut w = [V::splat(isa, 0.0); 8];
    for (w, t) in w.iter_mut().zip(&top).take(k) {
        *w = p.apply(*t);
    }
    write_rows(isa, &w, &pos, back, out, r0);
    back
}

/// The slots `s[..k]` (`k` 1, 2, 4 or 8) of `LANES` rows laid out row after row: lane `r` of
/// `s[j]` goes to element `r * k + j` of `out[..k]`, read as one run. Each level of zips pairs
/// the interleavings of the even and the odd slots.
#[inline(always)]
fn interleave<V: Simd>(s: &[V; 8], k: usize, out: &mut [V; 8]) {
    debug_assert!(k.is_power_of_two() && k <= 8);
    match k {
        1 => out[0] = s[0],
        2 => (out[0], out[1]) = V::zip(s[0], s[1]),
        4 => four(s[0], s[1], s[2], s[3], out),
        _ => {
            let (mut even, mut odd) = ([s[0]; 8], [s[0]; 8]);
            four(s[0], s[2], s[4], s[6], &mut even);
            four(s[1], s[3], s[5], s[7], &mut odd);
            for i in 0..4 {
                (out[2 * i], out[2 * i + 1]) = V::zip(even[i], odd[i]);
            }
        }
    }
}

/// [`interleave`] of four slots into `out[..4]`.
#[inline(always)]
fn four<V: Simd>(a: V, b: V, c: V, d: V, out: &mut [V; 8]) {
    let (e0, e1) = V::zip(a, c);
    let (o0, o1) = V::zip(b, d);
    (out[0], out[1]) = V::zip(e0, o0);
    (out[2], out[3]) = V::zip(e1, o1);
}

/// Step 4: slot `j` of row `r0 + r` of `out` from lane `r` of `w[j]` (the weight) and of
/// `at[j]` (the position, in the lane's bits), for every row whose bit in `back` is clear.
/// When no row is handed back and the rows are contiguous (strides `k`, a power of two), the
/// slots are interleaved ([`interleave`]) and stored as one run of `LANES * k`; otherwise
/// lane by lane, or from `k = 5` on transposed back into rows a block of `LANES` slots at a
/// time. The run measured on Zen 4 (ns/row, 4096 rows, before -> after, three interleaved
/// runs): AVX-512 64 x k = 2 29.5-30.0 -> 28.4-31.2, k = 8 39.7-40.6 -> 37.4-39.7; AVX2
/// 64 x k = 2 32.3-32.5 -> 31.2-31.7; 256 x k = 8 unchanged within noise.
#[inline(always)]
fn write_rows<V: Simd>(
    isa: Token<V>,
    w: &[V; 8],
    at: &[V; 8],
    back: u32,
    out: &mut GateOut<'_>,
    r0: usize,
) {
    let (l, k) = (V::LANES, out.k);
    if back == 0 && out.w_stride == k && out.i_stride == k && k.is_power_of_two() {
        // The tile's rows are one run of `LANES * k` outputs: the slots interleaved.
        let (mut ws, mut ats) = ([V::splat(isa, 0.0); 8], [V::splat(isa, 0.0); 8]);
        interleave(w, k, &mut ws);
        interleave(at, k, &mut ats);
        let wr = &mut out.w[r0 * k..][..l * k];
        let ir = &mut out.idx[r0 * k..][..l * k];
        for q in 0..k {
            // SAFETY: `wr` and `ir` hold `LANES * k` elements, `LANES` from `q * LANES`;
            // positions go out as the bits of the lanes (`i32` and `f32` have one size).
            unsafe {
                ws[q].store(wr.as_mut_ptr().add(q * l));
                ats[q].store(ir.as_mut_ptr().add(q * l).cast());
            }
        }
        return;
    }
    if k <= 4 {
        // A few slots: lane by lane costs less than transposing whole blocks.
        let (mut wa, mut aa) = ([[0.0f32; 16]; 4], [[0.0f32; 16]; 4]);
        for j in 0..k {
            w[j].to_array(&mut wa[j]);
            at[j].to_array(&mut aa[j]);
        }
        for r in (0..l).filter(|r| back & (1 << r) == 0) {
            let row = r0 + r;
            for (j, w) in out.w[row * out.w_stride..][..k].iter_mut().enumerate() {
                *w = wa[j][r];
            }
            for (j, i) in out.idx[row * out.i_stride..][..k].iter_mut().enumerate() {
                *i = aa[j][r].to_bits() as i32;
            }
        }
        return;
    }
    let mut j0 = 0;
    while j0 < k {
        let m = (k - j0).min(l);
        let (mut tw, mut ta) = ([V::splat(isa, 0.0); 16], [V::splat(isa, 0.0); 16]);
        tw[..m].copy_from_slice(&w[j0..j0 + m]);
        ta[..m].copy_from_slice(&at[j0..j0 + m]);
        V::transpose(&mut tw);
        V::transpose(&mut ta);
        for r in 0..l {
            if back & (1 << r) != 0 {
                continue;
            }
            let row = r0 + r;
            let wr = &mut out.w[row * out.w_stride + j0..][..m];
            // Positions go out as the bits of the lanes: `i32` and `f32` have one size.
            let ir = &mut out.idx[row * out.i_stride + j0..][..m];
            // SAFETY: `wr` and `ir` hold `m <= LANES` elements each.
            unsafe {
                let ip = ir.as_mut_ptr().cast::<f32>();
                if m == l {
                    tw[r].store(wr.as_mut_ptr());
                    ta[r].store(ip);
                } else {
                    tw[r].store_tail(wr.as_mut_ptr(), m);
                    ta[r].store_tail(ip, m);
                }
            }
        }
        j0 += m;
    }
}

/// Step 1: the rows `xs` into `cols`, transposed a block of `LANES` columns at a time (the
/// columns past the rows' end hold `-inf`). With `ADD`, returns the columns added up (NaN in
/// the lanes of rows holding a NaN, see [`nan_lanes`]), else zeros.
#[inline(always)]
fn transpose_in<V: Simd, const ADD: bool>(
    isa: Token<V>,
    inp: &impl Input<V>,
    xs: &[&[f32]],
    cols: &mut [MaybeUninit<f32>],
) -> V {
    let (l, n) = (V::LANES, xs[0].len());
    let zero = V::splat(isa, 0.0);
    // Two chains of additions (`LANES` is even).
    debug_assert!(l % 2 == 0);
    let (mut even, mut odd) = (zero, zero);
    let mut t = [V::splat(isa, f32::NEG_INFINITY); 16];
    let mut c0 = 0;
    while c0 < n {
        let m = (n - c0).min(l);
        for (t, x) in t.iter_mut().zip(xs) {
            // SAFETY: `x[c0..c0 + m]` is inside the row (`c0 + m <= n == x.len()`).
            *t = unsafe {
                if m == l {
                    inp.load(isa, x.as_ptr().add(c0))
                } else {
                    inp.load_tail(isa, x.as_ptr().add(c0), m, f32::NEG_INFINITY)
                }
            };
        }
        V::transpose(&mut t);
        let block = &mut cols[c0 * l..][..l * l];
        for (c, v) in t.iter().enumerate().take(l) {
            // SAFETY: `block` holds `LANES * LANES` elements.
            unsafe { v.store(block.as_mut_ptr().add(c * l).cast()) };
        }
        if ADD {
            for pair in t[..l].chunks_exact(2) {
                even = even.add(pair[0]);
                odd = odd.add(pair[1]);
            }
        }
        c0 += l;
    }
    even.add(odd)
}

/// Column `c` of the transposed rows.
#[inline(always)]
fn column<V: Simd>(isa: Token<V>, cols: &[f32], c: usize) -> V {
    let col = &cols[c * V::LANES..][..V::LANES];
    // SAFETY: `col` holds `LANES` elements.
    unsafe { V::load(isa, col.as_ptr()) }
}

/// Step 2 for `K <= 4` (see [`keyed`] for more): the `K` largest of the first `n` columns in
/// every lane, in descending order, equal values by position (a later one never passes an
/// equal one), into `top[..K]` and their positions (as integers, in the lanes' bits) into
/// `pos[..K]`. Slots no entry above `-inf` reached hold `-inf`. Hands no lane back (returns
/// 0).
///
/// Each insertion waits for the previous one's compares (a compare into an AVX-512 mask
/// register takes several cycles), so where two sets of slots fit in the registers the columns
/// go through two independent sets, the first half's and the second half's, and the second set
/// is then offered to the first, slot by slot in its own order. Every entry of the second
/// half lies after every entry of the first, and a set's slots hold equal values in position
/// order, so the merge keeps the rule on equal values and the result is the one a single pass
/// gives.
#[inline(always)]
fn select<V: Simd, const K: usize>(
    isa: Token<V>,
    cols: &[f32],
    n: usize,
    top: &mut [V; 8],
    pos: &mut [V; 8],
) -> u32 {
    let ninf = V::splat(isa, f32::NEG_INFINITY);
    let mut a = Slots::<V, K>([ninf; K], [V::splat(isa, 0.0); K]);
    let mut b = a;
    // Two sets: `4K` slot vectors, plus the column, the positions and the constants.
    let h = if 4 * K + 6 <= V::REGISTERS { n / 2 } else { 0 };
    let one = V::splat(isa, 1.0);
    let (mut at, mut bt) = (V::splat(isa, 0.0), V::splat(isa, h as f32));
    for c in 0..h {
        a.offer(column(isa, cols, c), at);
        b.offer(column(isa, cols, h + c), bt);
        at = at.add(one);
        bt = bt.add(one);
    }
    for c in 2 * h..n {
        b.offer(column(isa, cols, c), bt);
        bt = bt.add(one);
    }
    if h == 0 {
        a = b;
    } else {
        for j in 0..K {
            a.offer(b.0[j], b.1[j]);
        }
    }
    top[..K].copy_from_slice(&a.0);
    for (p, a) in pos.iter_mut().zip(&a.1) {
        // `2^23 + position` has the position in its low 23 bits.
        *p = a.add(V::splat(isa, MAGIC)).masked_xor(0, (1 << 23) - 1);
    }
    0
}

/// `K` sorted slots per lane: values (descending) and their positions.
#[derive(Clone, Copy)]
struct Slots<V, const K: usize>([V; K], [V; K]);

impl<V: Simd, const K: usize> Slots<V, K> {
    /// Offers `x` at position `at`: slot `j` keeps its entry where it is at least `x`;
    /// otherwise it takes `x` (where slot `j - 1` keeps its own) or slot `j - 1`'s entry
    /// (where that moves down).
    #[inline(always)]
    fn offer(&mut self, x: V, at: V) {
        let (t, p) = (&mut self.0, &mut self.1);
        for j in (1..K).rev() {
            let v = V::pick_ge(t[j - 1], x, x, t[j - 1]);
            let i = V::pick_ge(t[j - 1], x, at, p[j - 1]);
            p[j] = V::pick_ge(t[j], x, p[j], i);
            t[j] = V::pick_ge(t[j], x, t[j], v);
        }
        p[0] = V::pick_ge(t[0], x, p[0], at);
        t[0] = V::pick_ge(t[0], x, t[0], x);
    }
}

/// Step 3: every lane's sum of `exp(x - shift * ln2)` over its row, in f64, added as the
/// candidate path adds it (see the module's notes): lane position `j`'s accumulator folded into
/// its f64 partial every [`FOLD`] blocks, then the partials added pairwise in `j` order, a
/// vector of rows at a time.
#[inline(always)]
fn sums<V: Simd>(isa: Token<V>, cols: &[f32], blocks: usize, shift: V) -> [f64; 16] {
    let (l, h) = (V::LANES, V::LANES / 2);
    let ex = Exp::per_lane(isa, shift);
    let zero = V::splat(isa, 0.0);
    // The partials of positions `j` and `h + j`: two arrays of 8 (one of 16 is cleared by a
    // call to memset, which costs more than the rest of the step on short rows).
    let (mut lo, mut hi) = ([V::wide_zero(isa); 8], [V::wide_zero(isa); 8]);
    // At most 8 positions at a time, so that their accumulators stay in registers (the
    // loop over them is unrolled); each position's sum is its own, in the same order.
    let w = l.min(8);
    for p0 in (0..l).step_by(w) {
        let mut b = 0;
        while b < blocks {
            let end = (b + FOLD).min(blocks);
            let mut acc = [zero; 8];
            for b in b..end {
                for (j, a) in acc.iter_mut().enumerate().take(w) {
                    *a = ex.eval_add(column(isa, cols, b * l + p0 + j), *a);
                }
            }
            for (j, a) in acc.iter().enumerate().take(w) {
                let p = p0 + j;
                if p < h {
                    lo[p] = a.wide_add(lo[p]);
                } else {
                    hi[p - h] = a.wide_add(hi[p - h]);
                }
            }
            b = end;
        }
    }
    // `passes::pairwise` over the positions, lane-wise: its first level adds `j` and `h + j`.
    for j in 0..h {
        lo[j] = V::wide_sum(lo[j], hi[j]);
    }
    pairwise_in_place!(lo, h, V::wide_sum);
    let mut totals = [0.0f64; 16];
    V::wide_to_array(lo[0], &mut totals);
    totals
}

/// The lanes whose row holds a NaN, for renormalised weights (which need no sum of
/// exponentials), from `s`, the row's columns added up: NaN there. The sum is also NaN for a
/// row holding both infinities (or `+inf` and an overflow to `-inf`), whose `+inf` maximum
/// hands it back anyway.
#[inline(always)]
fn nan_lanes<V: Simd>(isa: Token<V>, s: V) -> u32 {
    let (zero, ninf) = (V::splat(isa, 0.0), V::splat(isa, f32::NEG_INFINITY));
    // `1` where `s` is NaN (no other lane fails `s >= -inf`).
    V::gt_mask(V::pick_ge(s, ninf, zero, V::splat(isa, 1.0)), zero)
}

/// Bits `0..LANES`.
#[inline(always)]
fn lane_bits<V: Simd>() -> u32 {
    (1u32 << V::LANES) - 1
}

#[cfg(test)]
mod tests {
    use super::super::topk::topk_rows;
    use super::*;
    use crate::rows::RowsIn;

    /// A generator of values in `[-10, 10)`; `step` rounds them (0 keeps them distinct-looking).
    fn values(seed: &mut u64, n: usize, step: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                let v = (*seed >> 40) as f32 / (1u64 << 24) as f32 * 20.0 - 10.0;
                if step > 0.0 {
                    (v / step).round() * step + 0.0
                } else {
                    v
                }
            })
            .collect()
    }

    /// Gating of `rows` rows of `n` in `x` through `topk_rows` (whole tiles first).
    fn gated<V: Simd, const U: usize>(
        isa: Token<V>,
        x: &[f32],
        rows: usize,
        n: usize,
        k: usize,
        gate: &Gate,
    ) -> (Vec<f32>, Vec<i32>) {
        let (mut w, mut idx) = (vec![-1.0f32; rows * k], vec![-1i32; rows * k]);
        let out = GateOut {
            w: &mut w,
            w_stride: k,
            idx: &mut idx,
            i_stride: k,
            k,
        };
        let rows = RowsIn::new(x, n, rows, n).unwrap();
        if gate.renormalize {
            topk_rows::<V, U, true>(isa, rows, gate, out);
        } else {
            topk_rows::<V, U, false>(isa, rows, gate, out);
        }
        (w, idx)
    }

    /// A batch of `LANES + 3` rows (one tile, then a group of the candidate path) against
    /// every row gated alone, bit for bit, and against a sort-based f64 reference.
    fn check<V: Simd, const U: usize>(isa: Token<V>, name: &str) {
        let mut seed = 0x5851_f42d_4c95_7f2d;
        let rows = V::LANES + 3;
        let lens = [
            1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 64, 65, 100, 255, 256, 300, 511, 512,
        ];
        for (t, &n) in lens.iter().enumerate() {
            for k in 1..=n.min(8) {
                let renormalize = (k + t) % 2 == 0;
                let scale = if k % 3 == 0 { 0.7 } else { 1.0 };
                let gate = Gate { scale, renormalize };
                // Distinct-looking values, or many ties (steps of 0.5).
                let step = if k % 4 == 1 { 0.5 } else { 0.0 };
                let mut x = values(&mut seed, rows * n, step);
                if k % 4 == 2 {
                    // Full-precision values, each row's largest repeated in a few places
                    // (ties the keys' cut bits do not vouch for).
                    for row in x.chunks_mut(n) {
                        let (m, _) = row.iter().enumerate().fold((0, f32::MIN), |b, (i, &v)| {
                            if v > b.1 {
                                (i, v)
                            } else {
                                b
                            }
                        });
                        for i in (0..n).step_by(5) {
                            row[i] = row[m];
                        }
                    }
                }
                // Special rows among ordinary ones: NaN, +inf, huge, all -inf, fewer than k
                // entries above -inf, -inf entries.
                let ninf = f32::NEG_INFINITY;
                let (a, b) = (seed as usize % n, (seed >> 20) as usize % n);
                x[n + a] = f32::NAN;
                x[2 * n + b] = f32::INFINITY;
                x[3 * n + a] = 3.0e5;
                x[4 * n..5 * n].fill(ninf);
                x[5 * n..6 * n].fill(ninf);
                x[5 * n + b] = 1.0;
                x[6 * n + a] = ninf;
                let (w, idx) = gated::<V, U>(isa, &x, rows, n, k, &gate);
                for r in 0..rows {
                    let row = &x[r * n..][..n];
                    let (w1, idx1) = gated::<V, U>(isa, row, 1, n, k, &gate);
                    let ctx = format!("{name} n={n} k={k} {renormalize} scale {scale} row {r}");
                    let got: Vec<u32> = w[r * k..][..k].iter().map(|v| v.to_bits()).collect();
                    let alone: Vec<u32> = w1.iter().map(|v| v.to_bits()).collect();
                    assert_eq!(got, alone, "{ctx}: weights");
                    assert_eq!(&idx[r * k..][..k], &idx1[..], "{ctx}: indices");
                    if (1..=6).contains(&r) {
                        continue;
                    }
                    let v: Vec<f64> = row.iter().map(|&v| (v * scale) as f64).collect();
                    let mut order: Vec<usize> = (0..n).collect();
                    order.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
                    let e = |i: usize| (v[i] - v[order[0]]).exp();
                    let total: f64 = if renormalize {
                        order[..k].iter().map(|&i| e(i)).sum()
                    } else {
                        (0..n).map(e).sum()
                    };
                    for j in 0..k {
                        assert_eq!(idx[r * k + j] as usize, order[j], "{ctx} slot {j}");
                        let want = e(order[j]) / total;
                        let got = w[r * k + j] as f64;
                        assert!((got - want).abs() <= 4e-7 * want + 1e-38, "{ctx} slot {j}");
                    }
                }
            }
        }
    }

    #[test]
    fn tiles_give_the_bits_of_single_rows_on_every_isa_here() {
        super::super::each_isa_here!(check);
    }

    /// One tile of the rows `x` (`LANES` rows of `n`): the mask of the rows handed back.
    fn tile_back<V: Simd>(isa: Token<V>, x: &[f32], n: usize, k: usize) -> u32 {
        let l = V::LANES;
        let rs: Vec<&[f32]> = (0..l).map(|r| &x[r * n..][..n]).collect();
        let (mut w, mut idx) = (vec![0.0f32; l * k], vec![0i32; l * k]);
        let mut out = GateOut {
            w: &mut w,
            w_stride: k,
            idx: &mut idx,
            i_stride: k,
            k,
        };
        let gate = Gate {
            scale: 1.0,
            renormalize: false,
        };
        let mut tile = Tile::new();
        let inp = super::super::inputs::Plain;
        gate_tile::<V, false>(isa, &inp, &rs, &mut tile, &gate, &mut out, 0)
    }

    /// The rows a tile hands back: exactly those with NaN, infinities, huge magnitudes or
    /// fewer than `k` entries above `-inf`.
    fn handed_back<V: Simd, const U: usize>(isa: Token<V>, name: &str) {
        let l = V::LANES;
        let n = 20;
        let mut x: Vec<f32> = (0..l * n)
            .map(|i| ((i * 7919) % 101) as f32 * 0.1)
            .collect();
        let mut want = 0u32;
        // Handed back: NaN, +inf, a maximum above `LARGE`; not: an entry below `-LARGE` that
        // is not the maximum (an ordinary row).
        let specials: [(usize, f32, bool); 4] = [
            (3, f32::NAN, true),
            (5, f32::INFINITY, true),
            (9, -2.0e5, false),
            (12, 1.5e5, true),
        ];
        for &(r, v, back) in &specials {
            if r < l {
                x[r * n + 4] = v;
                want |= u32::from(back) << r;
            }
        }
        // Row 1: two entries above -inf (enough for k = 2, not for k = 3).
        x[n..2 * n].fill(f32::NEG_INFINITY);
        x[n + 7] = 0.5;
        x[n + 9] = -0.5;
        // Both selections: blends (k <= 4) and keys (k >= 5).
        for k in [2, 3, 5, 8] {
            let back = tile_back(isa, &x, n, k);
            let want = if k >= 3 { want | 2 } else { want };
            assert_eq!(back, want, "{name} k={k}");
        }
    }

    #[test]
    fn tiles_hand_back_special_rows_on_every_isa_here() {
        super::super::each_isa_here!(handed_back);
    }

    /// The rows of `x` (`LANES` rows of `n`) that a tile hands back for `k >= 5` when none is
    /// special and their values use the low bits that the keys give to positions: those
    /// whose `k`-th and `k + 1`-th largest agree in every other bit, or whose `k` largest
    /// include two different values that do.
    fn near<V: Simd>(x: &[f32], n: usize, k: usize) -> u32 {
        let low = n.next_power_of_two() as u32 - 1;
        let key = |v: f32| {
            let b = v.to_bits() as i32;
            (if b < 0 { i32::MIN.wrapping_sub(b) } else { b }) as u32 & !low
        };
        let mut want = 0;
        for r in 0..V::LANES {
            let mut v = x[r * n..][..n].to_vec();
            v.sort_by(|a, b| b.total_cmp(a));
            // The last selected and the next share the high bits, or two selected do and
            // their values differ.
            let edge = n > k && key(v[k - 1]) == key(v[k]);
            let inner = v[..k]
                .windows(2)
                .any(|w| key(w[0]) == key(w[1]) && w[0] != w[1]);
            want |= u32::from(k >= 5 && (edge || inner)) << r;
        }
        want
    }

    /// Ordinary rows stay in the tile: distinct f32 values, and values with few significant
    /// bits and many ties (as from bf16 logits). The rows whose order the cut bits of the keys
    /// of `k >= 5` cannot vouch for (see [`near`]) are handed back.
    fn kept<V: Simd, const U: usize>(isa: Token<V>, name: &str) {
        let (mut seed, l) = (0x9e37_79b9_7f4a_7c15, V::LANES);
        for n in [8, 9, 20, 64, 100, 256] {
            for k in 1..=8 {
                for step in [0.0, 0.25, 2.0] {
                    let x = values(&mut seed, l * n, step);
                    let want = if step == 0.0 { near::<V>(&x, n, k) } else { 0 };
                    assert_eq!(tile_back(isa, &x, n, k), want, "{name} n={n} k={k} {step}");
                }
                // Row 0: its k + 1 largest one encoding apart, far above the rest.
                let mut x = values(&mut seed, l * n, 0.0);
                for (i, v) in x[..=k].iter_mut().enumerate() {
                    *v = f32::from_bits(20.0f32.to_bits() + [3, 1, 2, 0, 5, 4, 8, 7, 6][i]);
                }
                let want = near::<V>(&x, n, k);
                assert_eq!(want & 1, u32::from(k >= 5), "{name} n={n} k={k}");
                assert_eq!(tile_back(isa, &x, n, k), want, "{name} n={n} k={k} near");
                // Row 0: equal values among its k largest, the next far below: kept.
                let mut x = values(&mut seed, l * n, 0.0);
                for (i, v) in x[..k].iter_mut().enumerate() {
                    *v = [20.000_002, 20.000_002, 19.5, 20.000_002][i % 4];
                }
                let want = near::<V>(&x, n, k);
                assert_eq!(want & 1, 0, "{name} n={n} k={k}");
                assert_eq!(tile_back(isa, &x, n, k), want, "{name} n={n} k={k} equal");
            }
        }
    }

    #[test]
    fn tiles_keep_ordinary_rows_on_every_isa_here() {
        super::super::each_isa_here!(kept);
    }

    /// Rows of ordinary values (whole tiles, none handed back) give the same weights and
    /// indices at the strides `k` (the tile written as one run, for `k` a power of two) and
    /// `k + 3` (row by row), and the padding between rows is left alone.
    fn strides<V: Simd, const U: usize>(isa: Token<V>, name: &str) {
        let (mut seed, rows) = (0x2545_f491_4f6c_dd1d, 2 * V::LANES);
        for n in [8, 33, 64, 256] {
            for k in 1..=8 {
                let x = values(&mut seed, rows * n, 0.0);
                let gate = Gate {
                    scale: 1.0,
                    renormalize: k % 2 == 0,
                };
                let run = |stride: usize| {
                    let (mut w, mut idx) =
                        (vec![-7.0f32; rows * stride], vec![-7i32; rows * stride]);
                    let out = GateOut {
                        w: &mut w,
                        w_stride: stride,
                        idx: &mut idx,
                        i_stride: stride,
                        k,
                    };
                    let batch = RowsIn::new(&x, n, rows, n).unwrap();
                    if gate.renormalize {
                        topk_rows::<V, U, true>(isa, batch, &gate, out);
                    } else {
                        topk_rows::<V, U, false>(isa, batch, &gate, out);
                    }
                    (w, idx)
                };
                let (w, idx) = run(k);
                let (ws, is) = run(k + 3);
                for r in 0..rows {
                    let ctx = format!("{name} n={n} k={k} row {r}");
                    let a: Vec<u32> = w[r * k..][..k].iter().map(|v| v.to_bits()).collect();
                    let b: Vec<u32> = ws[r * (k + 3)..][..k].iter().map(|v| v.to_bits()).collect();
                    assert_eq!(a, b, "{ctx}: weights");
                    assert_eq!(idx[r * k..][..k], is[r * (k + 3)..][..k], "{ctx}: indices");
                    assert!(
                        ws[r * (k + 3) + k..][..3].iter().all(|&v| v == -7.0),
                        "{ctx}"
                    );
                    assert!(is[r * (k + 3) + k..][..3].iter().all(|&v| v == -7), "{ctx}");
                    assert!(idx[r * k..][..k].iter().all(|&i| (i as usize) < n), "{ctx}");
                }
            }
        }
    }

    #[test]
    fn contiguous_and_strided_outputs_agree_on_every_isa_here() {
        super::super::each_isa_here!(strides);
    }
}
