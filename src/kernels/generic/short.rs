//! Short rows (at most [`SHORT_VECS`] vectors) held in registers from the first load to the
//! last store, `R` rows at a time.
//!
//! A short row is one dependent chain: load, maximum, its shift, exponentials, their sum, a
//! reciprocal (softmax) or a logarithm (log-softmax, log-sum-exp), the scaled or shifted
//! outputs. One row alone leaves most of the core idle while the chain's latency runs out;
//! `R` independent rows interleaved in one straight-line body keep it busy, which a one-row
//! kernel cannot do. No loop runs inside a row: `NV` (the vectors a row may take, a power of
//! two) is a constant, and the vectors a row does not reach read as `-inf` and are never
//! exponentiated or stored.
//!
//! The result of a row does not depend on `R` or `NV` (the same operations in the same
//! order), so a batch gives bit for bit what one call per row gives, and single rows take the
//! same code with `R = 1`.

use super::inputs::Input;
use super::passes::{k_min, tree_sum, LaneMap, Scale, Shift, Times};
use super::storage::Storage;
use crate::kernels::exp::{Exp, LARGE, LN2_LO_F64, LOG2E, ROUND};
use crate::kernels::ln::{ln, ln_scaled};
use crate::kernels::simd::{Simd, Token};

/// The most vectors a short row takes. Sixteen on AVX-512 (rows of 256) measured slower than
/// the loops of the one-row algorithms: one row per group then leaves the chain's latency
/// exposed (Zen 5, rows of 256, elements/ns, 8 | 16: softmax 4.8 | 3.2, log-sum-exp 6.6 |
/// 4.9).
pub(crate) const SHORT_VECS: usize = 8;

/// Whether a row of `n` elements is short for `V` (one element is left to the one-row rules).
#[inline(always)]
pub(crate) fn is_short<V: Simd>(n: usize) -> bool {
    n >= 2 && n <= SHORT_VECS * V::LANES
}

/// The `R` rows of one group: input and output pointers of each, all rows `n` long, of f32
/// or of a 16-bit format (see [`Storage`]).
pub(crate) struct Group<const R: usize, T = f32> {
    /// Row inputs, each readable for `n` elements.
    pub x: [*const T; R],
    /// Row outputs, each writable for `n` elements (equal to the input or disjoint from every
    /// row of the group); unused by log-sum-exp.
    pub y: [*mut T; R],
}

/// Vector `j` of the row at `x` (`j * LANES < n`), the lanes past the row's end `-inf`.
///
/// # Safety
/// `x` is readable for `n` elements.
#[inline(always)]
pub(crate) unsafe fn vector<V: Simd, S: Storage<V>, const W: bool>(
    isa: Token<V>,
    st: S,
    inp: &impl Input<V>,
    x: *const S::T,
    j: usize,
    n: usize,
) -> V {
    let l = V::LANES;
    debug_assert!(j * l < n);
    // SAFETY: `j * l < n`: a full vector inside the row, or its last `n - j * l` elements.
    inp.apply(unsafe {
        if W || (j + 1) * l <= n {
            st.load(isa, x.add(j * l))
        } else {
            let fill = inp.stored_fill(f32::NEG_INFINITY);
            st.load_tail(isa, x.add(j * l), n - j * l, fill)
        }
    })
}

/// The rows' vectors: lane `i` of vector `j` of row `r` is element `j * LANES + i`, and lanes
/// past the row's end are `-inf`.
///
/// # Safety
/// The group's inputs are readable for `n` elements each.
#[inline(always)]
unsafe fn load<V: Simd, S: Storage<V>, const R: usize, const NV: usize, const W: bool>(
    isa: Token<V>,
    st: S,
    inp: &impl Input<V>,
    g: &Group<R, S::T>,
    n: usize,
) -> [[V; NV]; R] {
    let l = V::LANES;
    debug_assert!(n <= NV * l);
    let mut v = [[V::splat(isa, f32::NEG_INFINITY); NV]; R];
    for (row, &x) in v.iter_mut().zip(&g.x) {
        for (j, vj) in row.iter_mut().enumerate() {
            if j * l < n {
                // SAFETY: `j * l < n`, and the row is readable for `n` elements (the contract).
                *vj = unsafe { vector::<V, S, W>(isa, st, inp, x, j, n) };
            }
        }
    }
    v
}

/// Stores the first `n` lanes of the row's vectors to `y`; with `no_nan` (the caller knows
/// that no lane is NaN) the whole vectors through [`Storage::store_no_nan`].
///
/// # Safety
/// `y` is writable for `n <= NV * LANES` elements.
#[inline(always)]
unsafe fn store<V: Simd, S: Storage<V>, const NV: usize, const W: bool>(
    st: S,
    row: &[V; NV],
    y: *mut S::T,
    n: usize,
    no_nan: bool,
) {
    let l = V::LANES;
    debug_assert!(n <= NV * l);
    for (j, vj) in row.iter().enumerate() {
        if j * l < n && (W || (j + 1) * l <= n) {
            // SAFETY: `(j + 1) * l <= n` elements are writable (the contract); with `no_nan`
            // the lanes hold no NaN (the caller's word).
            unsafe {
                if no_nan {
                    st.store_no_nan(*vj, y.add(j * l));
                } else {
                    st.store(*vj, y.add(j * l));
                }
            }
        } else if j * l < n {
            // SAFETY: the `n - j * l < l` elements after `j * l` are the row's last.
            unsafe { st.store_tail(*vj, y.add(j * l), n - j * l) };
        }
    }
}

/// Each row's maximum in every lane, or `None` when a row needs the special-value rules
/// (NaN maximum, `|max| >= LARGE`, infinities, a row of only `-inf`). A NaN that the maximum
/// misses still reaches the row's sum and makes its outputs NaN.
#[inline(always)]
fn maxima<V: Simd, const R: usize, const NV: usize>(
    isa: Token<V>,
    v: &[[V; NV]; R],
) -> Option<[V; R]> {
    let mut m = [V::splat(isa, 0.0); R];
    let mut ordinary = true;
    for (mr, row) in m.iter_mut().zip(v) {
        let mut a = row[0];
        for vj in &row[1..] {
            a = V::max(a, *vj);
        }
        *mr = a.max_all();
        // `abs() < LARGE` is false for NaN and the infinities.
        ordinary &= mr.first().abs() < LARGE;
    }
    ordinary.then_some(m)
}

/// The shift `k = round(max * log2(e))` of rows whose maximum is `m` (in every lane), in
/// vectors (the exponentials need not wait for a scalar) and with the f32 operations of
/// [`shift_for_max`](crate::kernels::exp::shift_for_max), so every algorithm picks the same
/// `k` and zeroes the same entries near the underflow threshold.
#[inline(always)]
fn shift<V: Simd>(isa: Token<V>, m: V) -> V {
    let round = V::splat(isa, ROUND);
    m.mul(V::splat(isa, LOG2E)).add(round).sub(round)
}

/// Softmax (three-pass reload) of `R` short rows. `false`, with nothing written, when a row
/// of the group needs the special-value rules.
///
/// Zen 4, ns per row of 64 | 16 floats, one row per call through the rows API, before rows
/// were grouped: AVX2 35.5 | 17.6 with a loop per pass -> 32.1 | 16.1 held in registers;
/// AVX-512 34.0 | 21.4 -> 30.0 | 17.9. (A sum and reciprocal in f32 as well gave 29.0 on AVX2
/// but cost one ULP of accuracy; the sum stays in f64.)
///
/// # Safety
/// As [`Group`] states, for rows of `n` elements.
#[inline(always)]
pub(crate) unsafe fn softmax<
    V: Simd,
    S: Storage<V>,
    const R: usize,
    const NV: usize,
    const W: bool,
>(
    isa: Token<V>,
    st: S,
    inp: &impl Input<V>,
    g: &Group<R, S::T>,
    n: usize,
) -> bool {
    let l = V::LANES;
    // SAFETY: the group is valid for `n` elements (the contract).
    let mut v = unsafe { load::<V, S, R, NV, W>(isa, st, inp, g, n) };
    let Some(m) = maxima(isa, &v) else {
        return false;
    };
    let mut sum = [V::splat(isa, 0.0); R];
    for ((row, s), m) in v.iter_mut().zip(&mut sum).zip(&m) {
        let ex = Exp::per_lane(isa, shift(isa, *m));
        for (j, vj) in row.iter_mut().enumerate() {
            *vj = if j * l < n {
                ex.eval(*vj)
            } else {
                V::splat(isa, 0.0)
            };
        }
        *s = tree_sum(row);
    }
    for ((row, s), &y) in v.iter_mut().zip(&sum).zip(&g.y) {
        // A NaN the maximum missed makes the sum, and so every output, NaN.
        let r = (1.0 / s.reduce_add()) as f32;
        // Otherwise every output is a finite exponential (0 to about 1) times the finite `r`.
        let no_nan = !r.is_nan();
        if S::NARROWS {
            // The rounding to the format clamps to 1 (`Times`).
            map_row(row, &Times::new(isa, r));
        } else {
            map_row(row, &Scale::new(isa, r));
        }
        // SAFETY: the group's outputs are writable for `n` elements (the contract); without
        // a NaN in `r`, the outputs hold none.
        unsafe { store::<V, S, NV, W>(st, row, y, n, no_nan) };
    }
    true
}

/// `f` applied to every vector of a row.
#[inline(always)]
fn map_row<V: Simd>(row: &mut [V], f: &impl LaneMap<V>) {
    for vj in row.iter_mut() {
        *vj = f.apply(*vj);
    }
}

/// Each row's shift `k = round(max * log2(e))` and `sum_i exp(x_i - k*ln2)` (f64), or `None`
/// when a row needs the special-value rules. The same sum as pass 1 of the two-pass
/// algorithm gives for a row of one chunk.
#[inline(always)]
fn shifted_sums<V: Simd, const R: usize, const NV: usize>(
    isa: Token<V>,
    v: &[[V; NV]; R],
    n: usize,
) -> Option<[(f64, f32); R]> {
    let l = V::LANES;
    let m = maxima(isa, v)?;
    let kmin = k_min();
    let mut k = [0.0f32; R];
    let mut acc = [V::splat(isa, 0.0); R];
    for ((a, row), (k, m)) in acc.iter_mut().zip(v).zip(k.iter_mut().zip(&m)) {
        let kv = shift(isa, *m);
        *k = kv.first();
        if *k <= kmin {
            return None;
        }
        let ex = Exp::per_lane(isa, kv);
        let mut e = [V::splat(isa, 0.0); NV];
        for (j, (ej, vj)) in e.iter_mut().zip(row).enumerate() {
            if j * l < n {
                *ej = ex.eval(*vj);
            }
        }
        *a = tree_sum(&e);
    }
    let mut out = [(0.0f64, 0.0f32); R];
    for ((o, a), &k) in out.iter_mut().zip(&acc).zip(&k) {
        *o = (a.reduce_add(), k);
    }
    Some(out)
}

/// Log-softmax of `R` short rows: `y = (x - k*LN2_HI) - (k*LN2_LO + ln S)`, the first part
/// exact. `false`, with nothing written, when a row needs the special-value rules.
///
/// # Safety
/// As [`Group`] states, for rows of `n` elements.
#[inline(always)]
pub(crate) unsafe fn log_softmax<
    V: Simd,
    S: Storage<V>,
    const R: usize,
    const NV: usize,
    const W: bool,
>(
    isa: Token<V>,
    st: S,
    inp: &impl Input<V>,
    g: &Group<R, S::T>,
    n: usize,
) -> bool {
    // SAFETY: the group is valid for `n` elements (the contract).
    let mut v = unsafe { load::<V, S, R, NV, W>(isa, st, inp, g, n) };
    let Some(sums) = shifted_sums(isa, &v, n) else {
        return false;
    };
    for ((row, &(s, k)), &y) in v.iter_mut().zip(&sums).zip(&g.y) {
        // A NaN the maximum missed makes `s`, and so every output, NaN.
        let offset = log_softmax_offset(s, k);
        // Otherwise every output is an input (finite or `-inf`) less finite amounts.
        let no_nan = !offset.is_nan();
        map_row(row, &Shift::new(isa, k, offset));
        // SAFETY: the group's outputs are writable for `n` elements (the contract); without
        // a NaN in the offset, the outputs hold none.
        unsafe { store::<V, S, NV, W>(st, row, y, n, no_nan) };
    }
    true
}

/// Log-sum-exp of `R` short rows into `out`, or `false` (nothing written) when a row needs
/// the special-value rules.
///
/// # Safety
/// The group's inputs are readable for `n` elements each.
#[inline(always)]
pub(crate) unsafe fn logsumexp<
    V: Simd,
    S: Storage<V>,
    const R: usize,
    const NV: usize,
    const W: bool,
>(
    isa: Token<V>,
    st: S,
    inp: &impl Input<V>,
    g: &Group<R, S::T>,
    n: usize,
    out: &mut [f32],
) -> bool {
    debug_assert_eq!(out.len(), R);
    // SAFETY: the group is valid for `n` elements (the contract).
    let v = unsafe { load::<V, S, R, NV, W>(isa, st, inp, g, n) };
    let Some(sums) = shifted_sums(isa, &v, n) else {
        return false;
    };
    for (o, &(s, k)) in out.iter_mut().zip(&sums) {
        *o = lse_of(s, k);
    }
    true
}

/// `ln(S * 2^k)`, rounded to f32.
#[inline(always)]
pub(crate) fn lse_of(s: f64, k: f32) -> f32 {
    ln_scaled(s, k as f64) as f32
}

/// `ln S + k*LN2_LO`: the part of `k*ln2 + ln S` that log-softmax subtracts after the exact
/// `x - k*LN2_HI`.
#[inline(always)]
pub(crate) fn log_softmax_offset(s: f64, k: f32) -> f32 {
    (k as f64 * LN2_LO_F64 + ln(s)) as f32
}

/// An operation on a batch of short rows, one group of rows at a time.
pub(crate) trait ShortRows<V: Simd> {
    /// How many row vectors a group may hold: a group is `R = VECS / NV` rows (1 to 8).
    /// Softmax keeps its rows' exponentials live until the reciprocal is known, so it takes
    /// fewer rows per group than the sums, which keep one accumulator per row.
    const VECS: usize;
    /// Rows `r0..r0 + R` held in registers (each at most `NV` vectors, whole vectors when
    /// `W`); `false`, with nothing written, when one of them needs the special-value rules.
    fn group<const R: usize, const NV: usize, const W: bool>(
        &mut self,
        isa: Token<V>,
        r0: usize,
    ) -> bool;
    /// Row `r` by the special-value rules.
    fn special(&mut self, isa: Token<V>, r: usize);
}

/// Runs `op` over `rows` short rows of `n` elements: groups of `R` rows, with `NV` the
/// smallest power of two of vectors that holds a row and `R = O::VECS / NV` (1 to 8).
///
/// Zen 5, AVX-512, elements/ns, `VECS` 8 | 16 (one run): log-sum-exp of 4096 x 32 2.8 | 3.8,
/// 4096 x 64 4.4 | 4.5, 2048 x 128 5.3 | 6.1; softmax of 4096 x 64 4.7 | 4.4, 2048 x 128
/// 5.4 | 3.7 (its exponentials spill).
#[inline(always)]
pub(crate) fn run<V: Simd, O: ShortRows<V>>(isa: Token<V>, op: &mut O, rows: usize, n: usize) {
    debug_assert!(is_short::<V>(n));
    if n.is_multiple_of(V::LANES) {
        run_sized::<V, O, true>(isa, op, rows, n)
    } else {
        run_sized::<V, O, false>(isa, op, rows, n)
    }
}

/// [`run`] for rows of whole vectors (`W`) or not: rows of whole vectors compile without
/// the partial loads and stores, which lets the compiler keep a group's vectors in registers
/// where the partial 16-bit loads (a copy through a buffer on AVX-512F) would not.
#[inline(always)]
fn run_sized<V: Simd, O: ShortRows<V>, const W: bool>(
    isa: Token<V>,
    op: &mut O,
    rows: usize,
    n: usize,
) {
    let nv = n.div_ceil(V::LANES).next_power_of_two();
    // The `R` are literals: a const generic cannot be computed from another one here.
    match (nv, O::VECS >= 16) {
        (1, _) => groups::<V, O, 8, 1, W>(isa, op, rows),
        (2, false) => groups::<V, O, 4, 2, W>(isa, op, rows),
        (2, true) => groups::<V, O, 8, 2, W>(isa, op, rows),
        (4, false) => groups::<V, O, 2, 4, W>(isa, op, rows),
        (4, true) => groups::<V, O, 4, 4, W>(isa, op, rows),
        (_, false) => groups::<V, O, 1, 8, W>(isa, op, rows),
        (_, true) => groups::<V, O, 2, 8, W>(isa, op, rows),
    }
}

/// Runs `op` on the one short row `0` of `n` elements.
#[inline(always)]
pub(crate) fn run_one<V: Simd, O: ShortRows<V>>(isa: Token<V>, op: &mut O, n: usize) {
    debug_assert!(is_short::<V>(n));
    if n.is_multiple_of(V::LANES) {
        run_one_sized::<V, O, true>(isa, op, n)
    } else {
        run_one_sized::<V, O, false>(isa, op, n)
    }
}

/// [`run_one`] for a row of whole vectors (`W`) or not (see [`run_sized`]).
#[inline(always)]
fn run_one_sized<V: Simd, O: ShortRows<V>, const W: bool>(isa: Token<V>, op: &mut O, n: usize) {
    let nv = n.div_ceil(V::LANES);
    if nv <= 1 {
        one::<V, O, 1, W>(isa, op)
    } else if nv <= 2 {
        one::<V, O, 2, W>(isa, op)
    } else if nv <= 4 {
        one::<V, O, 4, W>(isa, op)
    } else {
        one::<V, O, 8, W>(isa, op)
    }
}

/// Row 0 of `op`, at most `NV` vectors (stack frames as for [`groups`]).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn one<V: Simd, O: ShortRows<V>, const NV: usize, const W: bool>(isa: Token<V>, op: &mut O) {
    if !op.group::<1, NV, W>(isa, 0) {
        op.special(isa, 0);
    }
}

// Debug builds keep each group size in its own stack frame: at opt-level 0 every inlined
// temporary gets its own slot, and all of them in one frame would need megabytes.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn groups<V: Simd, O: ShortRows<V>, const R: usize, const NV: usize, const W: bool>(
    isa: Token<V>,
    op: &mut O,
    rows: usize,
) {
    let mut r = 0;
    while r + R <= rows {
        if !op.group::<R, NV, W>(isa, r) {
            // Rare: redo the group row by row, so only the special rows leave the fast path.
            for i in r..r + R {
                if !op.group::<1, NV, W>(isa, i) {
                    op.special(isa, i);
                }
            }
        }
        r += R;
    }
    while r < rows {
        if !op.group::<1, NV, W>(isa, r) {
            op.special(isa, r);
        }
        r += 1;
    }
}
