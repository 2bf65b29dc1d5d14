//! Sampling from `softmax(scale * x)` restricted to its top-k / top-p candidates, without
//! sorting the row.
//!
//! A small `top_k` reads the row twice (lane maxima, then a selection against a running bar
//! into a sorted list of `top_k` entries). Without a top-k cut the draw is an inverse-CDF
//! search over the masses in descending order. With a nucleus cut it first tries one pool
//! ([`by_pool`]): the row's total (with its maximum, in one pass), a lower bound from a
//! strided sample below which the sample puts less mass than the nucleus leaves out, one scan
//! packing every entry above it; the nucleus's end and the draw are then both in that pool,
//! in bands that the sample places. Otherwise (no cut, or the sample misled) the search is a
//! narrowing of value ranges:
//!
//! 1. the maximum (lane maxima);
//! 2. one pass of exponentials that sums the row's mass in total and at or above a ladder of
//!    [`RUNGS`] thresholds below the maximum ([`Ladder`], [`DEPTHS`]). The rungs cut the
//!    values into bands, and the mass above each band is known, so the band holding the
//!    nucleus cut (`top_p` of the total) is known;
//! 3. a pass that packs the entries of that band, with their positions, into a pool ([`Pool`],
//!    vector compress-stores, nothing done per entry). A band of more than [`row_cap`] entries
//!    is narrowed on the row first: another ladder pass, its rungs evenly spaced over the band;
//! 4. the pool is narrowed the same way ([`crossing`]): a ladder evenly spaced over its
//!    values, the band holding the goal packed into the next pool, until a few entries are
//!    left; only those are sorted. That gives the nucleus's last entry and its mass;
//! 5. the draw's goal (`u` times the nucleus's mass) is located the same way, from the
//!    narrowest ladder that holds it (often the draw needs only step 3 and 4 again).
//!
//! The pools are kept per thread between draws (up to [`RETAIN`] entries), so a draw does not
//! fault in fresh memory every time. Cost: a ladder pass over a 128K row is about 1.5 times
//! the row's softmax on Zen 5, 2.4 on Zen 4 (the twelve compares and masked adds per vector,
//! not the memory, bound it); the pool path reads the row twice without them (the total
//! with the maximum, pass 1 of the two-pass algorithm; the scan), then runs one ladder of
//! eight thresholds over a pool of a quarter of the row or less and narrows two small bands
//! of it.
//!
//! Every mass is the kernels' f32 `exp(v - shift*ln2)`, the same for an entry whichever pass
//! computes it; the ladders add them in f32 a few terms per lane and then in f64, so a band's
//! mass differs from the sort-based f64 sum by rounding only. Rows the fast path cannot take
//! (NaN, infinities, `|max| >= LARGE`, rows longer than [`MAX_POS`]) go through portable
//! scalar code in f64 with the same rules on every ISA.

use super::gate::{iota, load_slice};
use super::inputs::{Input, Plain, Scaled};
use super::pair_sum::pair_sum;
use super::passes::{lane_max, sum_exp, wide_total};
use super::topk::{floor_of, select, Best};
use super::walk::{self, Body, One};
use crate::kernels::exp::{shift_for_max, Exp, LARGE};
use crate::kernels::simd::{Simd, Token};

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

/// Rows longer than this go to the scalar path: positions travel through the pools as f32,
/// exact up to `2^24`.
const MAX_POS: usize = 1 << 24;

#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn sample_of<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    d: &Draw,
) -> Option<usize> {
    let n = x.len();
    if d.top_k == 0 && d.top_p < 1.0 && (POOL_MIN..=MAX_POS).contains(&n) {
        // No closure here: it would not be compiled inside the ISA's entry point.
        let mut pools = take_pools();
        let [pool, spare, third] = &mut *pools;
        let got = by_pool::<V, U>(isa, inp, x, d, [pool, spare, third]);
        keep_pools(pools);
        if got.is_some() {
            return got;
        }
    }
    let lanes = lane_max::<V, U, 0>(isa, inp, x);
    let m = lanes.reduce_max();
    if m.is_nan() || m.abs() >= LARGE || n > MAX_POS {
        return sample_special::<V>(x, inp, d);
    }
    let ex = Exp::<V>::new(isa, shift_for_max(m), 1.0);
    let k = if d.top_k == 0 { n } else { d.top_k.min(n) };
    // The selections need a row without NaN; the nucleus path sees one in its total.
    if (k <= SMALL_K || k < n) && has_nan::<V, U>(isa, x) {
        return None;
    }
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
    // No top-k cut (a NaN shows in the total).
    match nucleus::<V>(isa, inp, x, m, &ex, d) {
        Some(i) => Some(i),
        None => sample_special::<V>(x, inp, d),
    }
}

/// Thresholds per ladder: `RUNGS` thresholds cut the values into `RUNGS + 1` bands.
const RUNGS: usize = 12;

/// The row's rungs, in units of the scaled logits (nats) below its maximum.
const DEPTHS: [f32; RUNGS] = [0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.5, 11.0, 13.5];

/// Pools of at most this many entries are sorted rather than narrowed further.
const SORTED: usize = 32;

/// Narrowings of a pool before it is sorted whatever its size (values spread over a range
/// far wider than their masses resolve).
const LEVELS: usize = 12;

/// Masses at or above each threshold of a ladder, and in total: `[f64; RUNGS + 1]`, entry
/// `RUNGS` being the total. Band `r` is `[t[r], t[r - 1])` (band 0 everything at or above
/// `t[0]`, band `RUNGS` everything below `t[RUNGS - 1]`), so the mass before band `r` (of the
/// entries above it) is entry `r - 1`.
type Masses = [f64; RUNGS + 1];

/// Vectors whose masses a ladder adds in f32 before folding them into f64 lanes: a lane's
/// partial sums hold at most this many terms, so their rounding stays near `2^-20` of the
/// band's mass, well inside what separates two draws.
const LADDER_FOLD: usize = 16;

/// The body of [`ladder`]: f32 partial masses of the first `R` thresholds and the total
/// (`part[R]`) folded into the f64 lanes `wide` every [`LADDER_FOLD`] vectors. The f64 lanes
/// live outside the body so that the partial sums and thresholds can stay in registers.
struct Ladder<'e, 'w, V: Simd, const R: usize> {
    isa: Token<V>,
    ex: &'e Exp<V>,
    t: [V; RUNGS],
    part: [V; RUNGS + 1],
    wide: &'w mut [V::Wide; RUNGS + 1],
    steps: usize,
}

impl<V: Simd, const R: usize> Ladder<'_, '_, V, R> {
    #[inline(always)]
    fn flush(&mut self) {
        for (w, p) in self.wide.iter_mut().zip(&mut self.part).take(R + 1) {
            *w = p.wide_add(*w);
            *p = V::splat(self.isa, 0.0);
        }
        self.steps = 0;
    }
}

impl<V: Simd, const R: usize> Body<V, V> for Ladder<'_, '_, V, R> {
    const SPREAD: bool = false;
    #[inline(always)]
    fn take(&mut self, _j: usize, _i: usize, v: V) -> V {
        let e = self.ex.eval(v);
        self.part[R] = self.part[R].add(e);
        for r in 0..R {
            self.part[r] = self.part[r].add_ge(e, v, self.t[r]);
        }
        v
    }
    #[inline(always)]
    fn stepped(&mut self) {
        self.steps += 1;
        if self.steps == LADDER_FOLD {
            self.flush();
        }
    }
}

/// The [`Masses`] of the values `x` (read through `inp`) against the first `R` of the
/// descending thresholds `t`, the others taken as `-inf` (their masses are the total): each
/// threshold costs a compare and an add per vector. A NaN value makes every entry NaN.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn ladder<V: Simd, const R: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    ex: &Exp<V>,
    t: &[f32; RUNGS],
) -> Masses {
    let mut wide = [V::wide_zero(isa); RUNGS + 1];
    let mut body = Ladder::<V, R> {
        isa,
        ex,
        t: [V::splat(isa, 0.0); RUNGS],
        part: [V::splat(isa, 0.0); RUNGS + 1],
        wide: &mut wide,
        steps: 0,
    };
    for (tv, &t) in body.t.iter_mut().zip(t).take(R) {
        *tv = V::splat(isa, t);
    }
    // One vector per step: the partial sums and thresholds fill the registers.
    walk::fold::<V, _, _, 1, 0>(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut body);
    body.flush();
    let mut a = [0.0; RUNGS + 1];
    for (a, w) in a.iter_mut().zip(wide).take(R + 1) {
        *a = wide_total::<V>(w);
    }
    // The total at `RUNGS`, every unused threshold's mass (`-inf`) the same.
    let total = a[R];
    a[R..].fill(total);
    a
}

/// The band holding the entry at which the running mass (in descending order, from
/// `before`) first reaches `goal` (`> goal` when `strict`, `>= goal` otherwise). When
/// rounding leaves the goal unreached, the last band with mass (band 0 when none has any).
fn band_of(a: &Masses, before: f64, goal: f64, strict: bool) -> usize {
    let reached = |acc: f64| if strict { acc > goal } else { acc >= goal };
    let mut last = 0;
    for r in 0..=RUNGS {
        if reached(before + a[r]) {
            return r;
        }
        if r > 0 && a[r] > a[r - 1] || r == 0 && a[0] > 0.0 {
            last = r;
        }
    }
    last
}

/// The mass above band `r`.
fn above(a: &Masses, r: usize) -> f64 {
    if r == 0 {
        0.0
    } else {
        a[r - 1]
    }
}

/// The values of band `r` of thresholds `t`: `[lo, hi)`.
fn band(t: &[f32; RUNGS], r: usize) -> (f32, f32) {
    let lo = if r < RUNGS { t[r] } else { f32::NEG_INFINITY };
    let hi = if r == 0 { f32::INFINITY } else { t[r - 1] };
    (lo, hi)
}

/// Entries packed with their positions: `v[..len]` their values, `p[..len]` their positions
/// as f32 (integers below [`MAX_POS`]), in the order they were packed. Both vectors keep
/// `LANES` elements of room past `len` for the next compress-store.
struct Pool {
    v: Vec<f32>,
    p: Vec<f32>,
    len: usize,
}

impl Pool {
    fn new() -> Self {
        Pool {
            v: Vec::new(),
            p: Vec::new(),
            len: 0,
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, lanes: usize) {
        let n = (2 * self.v.len()).max(self.len + lanes).max(1024);
        self.v.resize(n, 0.0);
        self.p.resize(n, 0.0);
    }
}

/// Pools up to this many entries stay with their thread for its next draw.
const RETAIN: usize = 1 << 20;

thread_local! {
    /// The pools of the thread's last draw: reused, a draw does not allocate (and fault in)
    /// fresh memory every time.
    static POOLS: core::cell::Cell<Option<Box<[Pool; 3]>>> = const { core::cell::Cell::new(None) };
}

/// Three empty pools: the thread's kept ones when it has them.
fn take_pools() -> Box<[Pool; 3]> {
    let mut pools = POOLS
        .try_with(|p| p.take())
        .ok()
        .flatten()
        .unwrap_or_else(|| Box::new([Pool::new(), Pool::new(), Pool::new()]));
    for p in pools.iter_mut() {
        p.len = 0;
    }
    pools
}

/// Keeps `pools` for the thread's next draw, unless they grew past [`RETAIN`].
fn keep_pools(pools: Box<[Pool; 3]>) {
    if pools.iter().all(|p| p.v.len() <= RETAIN) {
        // A thread being torn down keeps nothing.
        let _ = POOLS.try_with(|p| p.set(Some(pools)));
    }
}

/// A value range `[lo, hi)` whose entries a pass packs.
struct Range<V> {
    /// `lo.next_down()`, so that `v > lo_down` is `v >= lo`.
    lo_down: V,
    hi: V,
}

impl<V: Simd> Range<V> {
    fn new(isa: Token<V>, lo: f32, hi: f32) -> Self {
        // `-inf` entries are never packed: they hold no mass.
        let lo_down = if lo == f32::NEG_INFINITY {
            lo
        } else {
            lo.next_down()
        };
        Range {
            lo_down: V::splat(isa, lo_down),
            hi: V::splat(isa, hi),
        }
    }
}

/// The body of [`pack_pool`] and [`pack_row`]: the lanes in the range, with their
/// positions, into the pool, until it holds more than `cap`.
///
/// The pool's length and buffers are kept here, in locals, and written back by
/// [`Pack::finish`]: stores through the buffers' raw pointers could alias the pool's own
/// fields, so with the pool's fields the compiler reloads and stores its length for every
/// vector.
struct Pack<'p, V> {
    isa: Token<V>,
    n: usize,
    range: Range<V>,
    iota: V,
    pool: &'p mut Pool,
    cap: usize,
    len: usize,
    /// The most `len` may be before a store of `LANES` elements needs a larger pool.
    room: usize,
    v: *mut f32,
    p: *mut f32,
}

impl<'p, V: Simd> Pack<'p, V> {
    #[inline(always)]
    fn new(isa: Token<V>, n: usize, (lo, hi): (f32, f32), pool: &'p mut Pool, cap: usize) -> Self {
        pool.len = 0;
        let mut pack = Pack {
            isa,
            n,
            range: Range::new(isa, lo, hi),
            iota: iota(isa),
            pool,
            cap,
            len: 0,
            room: 0,
            v: core::ptr::null_mut(),
            p: core::ptr::null_mut(),
        };
        if pack.pool.v.len() < V::LANES {
            pack.pool.grow(V::LANES);
        }
        pack.buffers();
        pack
    }

    /// Takes the pool's buffers (after they grew).
    #[inline(always)]
    fn buffers(&mut self) {
        debug_assert!(self.pool.v.len() == self.pool.p.len());
        self.room = self.pool.v.len() - V::LANES;
        self.v = self.pool.v.as_mut_ptr();
        self.p = self.pool.p.as_mut_ptr();
    }

    /// Appends the lanes of `v` and `p` that `mask` selects.
    #[inline(always)]
    fn push(&mut self, v: V, p: V, mask: u32) {
        if self.len > self.room {
            self.pool.len = self.len;
            self.pool.grow(V::LANES);
            self.buffers();
        }
        debug_assert!(self.len + V::LANES <= self.pool.v.len());
        // SAFETY: both buffers hold `room + LANES >= len + LANES` elements (checked above,
        // grown where they did not), and nothing else writes them during the scan.
        unsafe {
            v.compress_store(mask, 0.0, self.v.add(self.len));
            p.compress_store(mask, 0.0, self.p.add(self.len));
        }
        self.len += mask.count_ones() as usize;
    }

    /// Writes the length back: `false` when more than `cap` were to be packed.
    #[inline(always)]
    fn finish(self) -> bool {
        self.pool.len = self.len;
        self.len <= self.cap
    }
}

impl<V: Simd> Body<V, (V, V)> for Pack<'_, V> {
    #[inline(always)]
    fn take(&mut self, _j: usize, i: usize, (v, p): (V, V)) -> V {
        let tail = if i + V::LANES <= self.n {
            u32::MAX
        } else {
            (1u32 << (self.n - i)) - 1
        };
        let mask = V::gt_mask(v, self.range.lo_down) & V::gt_mask(self.range.hi, v) & tail;
        if mask != 0 && self.len <= self.cap {
            self.push(v, p, mask);
        }
        v
    }
}

/// The body of [`pack_row`]: as [`Pack`], the positions made from the element offset.
struct PackRow<'p, V>(Pack<'p, V>);

impl<V: Simd> Body<V, V> for PackRow<'_, V> {
    #[inline(always)]
    fn take(&mut self, j: usize, i: usize, v: V) -> V {
        let p = self.0.iota.add(V::splat(self.0.isa, i as f32));
        self.0.take(j, i, (v, p))
    }
}

/// Packs the entries of the row `x` (read through `inp`, at most [`MAX_POS`] long) in
/// `[lo, hi)` into `pool` (emptied first), with their positions: `false` (the pool holding
/// some of them) once more than `cap` would be packed.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn pack_row<V: Simd>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    (lo, hi): (f32, f32),
    pool: &mut Pool,
    cap: usize,
) -> bool {
    debug_assert!(x.len() <= MAX_POS);
    let mut body = PackRow(Pack::new(isa, x.len(), (lo, hi), pool, cap));
    walk::scan(isa, &One::new(inp, x, f32::NEG_INFINITY), &mut body);
    body.0.finish()
}

/// Packs the entries of `from` in `[lo, hi)` into `to` (emptied first).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn pack_pool<V: Simd>(isa: Token<V>, from: &Pool, lo: f32, hi: f32, to: &mut Pool) {
    let n = from.len;
    let mut body = Pack::new(isa, n, (lo, hi), to, usize::MAX);
    let src = walk::Two::new(&from.v[..n], &from.p[..n], (f32::NEG_INFINITY, 0.0));
    walk::scan(isa, &src, &mut body);
    body.finish();
}

/// The smallest and largest of `v` (not empty, no NaN).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn min_max<V: Simd>(isa: Token<V>, v: &[f32]) -> (f32, f32) {
    let mut body = MinMax(
        V::splat(isa, f32::INFINITY),
        V::splat(isa, f32::NEG_INFINITY),
    );
    // The tail's fill (`+inf`) is masked for the maximum below.
    walk::scan(isa, &One::new(&Plain, v, f32::INFINITY), &mut body);
    let lanes = |x: V| {
        let mut a = [0.0f32; 16];
        x.to_array(&mut a);
        a
    };
    let (lo, hi) = (lanes(body.0), lanes(body.1));
    let lo = lo[..V::LANES].iter().fold(f32::INFINITY, |a, &b| a.min(b));
    let hi = hi[..V::LANES]
        .iter()
        .fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    (lo, hi)
}

/// The body of [`min_max`]: the maximum ignores the `+inf` fill of the tail.
struct MinMax<V>(V, V);

impl<V: Simd> Body<V, V> for MinMax<V> {
    #[inline(always)]
    fn take(&mut self, _j: usize, _i: usize, v: V) -> V {
        self.0 = V::min(self.0, v);
        self.1 = V::max(
            self.1,
            V::below_or(v, V::splat(v.token(), f32::INFINITY), self.1),
        );
        v
    }
}

/// One entry of a row: its value and position.
#[derive(Clone, Copy, Debug)]
struct Entry {
    v: f32,
    i: u32,
}

impl Entry {
    /// Whether `self` comes after `other` in descending order (equal values: higher index).
    fn after(self, other: Entry) -> bool {
        self.v < other.v || self.v == other.v && self.i > other.i
    }
}

/// Within `pool` (entries of one band, in index order), the entry at which the running mass
/// in descending order, starting from `before`, first reaches `goal` (`> goal` when
/// `strict`), and the running mass through it. When rounding leaves the goal unreached, the
/// pool's last entry. `spare` is scratch. The pool is not empty.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn crossing<V: Simd>(
    isa: Token<V>,
    ex: &Exp<V>,
    pool: &mut Pool,
    spare: &mut Pool,
    mut before: f64,
    goal: f64,
    strict: bool,
) -> (Entry, f64) {
    let mut levels = 0;
    loop {
        debug_assert!(pool.len > 0);
        let n = pool.len;
        let (lo, hi) = min_max::<V>(isa, &pool.v[..n]);
        if n <= SORTED || lo == hi || levels == LEVELS {
            return walk_sorted::<V>(isa, ex, pool, lo == hi, before, goal, strict);
        }
        let t = spaced(lo, hi);
        let a = ladder::<V, RUNGS>(isa, &Plain, &pool.v[..n], ex, &t);
        let r = band_of(&a, before, goal, strict);
        let (blo, bhi) = band(&t, r);
        pack_pool::<V>(isa, pool, blo, bhi, spare);
        before += above(&a, r);
        core::mem::swap(pool, spare);
        levels += 1;
    }
}

/// The thresholds of a pool's ladder over its values `lo..=hi`: evenly spaced from `hi` down.
/// Band 0 holds the pool's largest value alone, so every narrowing drops a value.
fn spaced(lo: f32, hi: f32) -> [f32; RUNGS] {
    let w = (hi - lo) / RUNGS as f32;
    let mut t = [0.0f32; RUNGS];
    for (r, t) in t.iter_mut().enumerate() {
        *t = hi - w * r as f32;
    }
    t
}

/// [`crossing`] over a small pool (or one of equal values, already in order): sorted, then
/// walked.
fn walk_sorted<V: Simd>(
    isa: Token<V>,
    ex: &Exp<V>,
    pool: &Pool,
    in_order: bool,
    before: f64,
    goal: f64,
    strict: bool,
) -> (Entry, f64) {
    let n = pool.len;
    let mut c: Vec<(f32, u32)> = pool.v[..n]
        .iter()
        .zip(&pool.p[..n])
        .map(|(&v, &p)| (v, p as u32))
        .collect();
    if !in_order {
        c.sort_unstable_by(desc);
    }
    let mut e = vec![0.0f64; n];
    exps::<V>(isa, ex, c.iter().map(|c| c.0), &mut e);
    let mut acc = before;
    for (j, &e) in e.iter().enumerate() {
        acc += e;
        if if strict { acc > goal } else { acc >= goal } {
            return (
                Entry {
                    v: c[j].0,
                    i: c[j].1,
                },
                acc,
            );
        }
    }
    let last = c[n - 1];
    (
        Entry {
            v: last.0,
            i: last.1,
        },
        acc,
    )
}

/// The fewest entries a pool packed from the row may hold before the band is narrowed on the
/// row instead (see [`row_cap`]).
const CAP: usize = 16384;

/// Entries a pool packed from a row of `n` may hold before the band is narrowed on the row
/// instead (see [`locate`]): a quarter of the row, at least [`CAP`], at most a quarter of what
/// the pools keep ([`RETAIN`]). Packing a band of `c` entries costs a scan of the row and then
/// ladders over `c` entries; narrowing it costs a ladder over the whole row (the dearer pass:
/// exponentials and twelve compares and adds per vector) and then the scan. A scan that
/// finds more than the cap has been spent for nothing. With 16384 for 128K entries, a nucleus
/// of language-model-like logits (`top_p = 0.9`) took 7.5 times the row's softmax (its band
/// held 16385 entries: a scan, a second row ladder, a scan); with a quarter of the row, 5.35
/// (Zen 4, AVX-512, `scripts/compare-topk.sh 7`).
fn row_cap(n: usize) -> usize {
    (n / 4).clamp(CAP, RETAIN / 4)
}

/// Narrowings on the row before a band is packed whatever its size.
const ROW_LEVELS: usize = 4;

/// The draw without a top-k cut (see the module's description), or `None` when the row's
/// total is NaN (a NaN entry) or holds no mass.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn nucleus<V: Simd>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    m: f32,
    ex: &Exp<V>,
    d: &Draw,
) -> Option<usize> {
    // No closure here: it would not be compiled inside the ISA's entry point.
    let mut pools = take_pools();
    let [pool, spare, _] = &mut *pools;
    let mut t = [0.0f32; RUNGS];
    for (t, &depth) in t.iter_mut().zip(&DEPTHS) {
        *t = m - depth;
    }
    let a = ladder::<V, RUNGS>(isa, inp, x, ex, &t);
    let total = a[RUNGS];
    // NaN (a NaN entry) or no mass.
    if total.is_nan() || total <= 0.0 {
        keep_pools(pools);
        return None;
    }
    let first = Ladders {
        t,
        a,
        within: (f32::NEG_INFINITY, f32::INFINITY),
        level: 0,
    };
    let (end, nucleus, finer) = if d.top_p < 1.0 {
        let goal = d.top_p * total;
        let (end, mass, finer) = locate::<V>(isa, inp, x, ex, first, goal, false, pool, spare);
        (Some(end), mass, finer)
    } else {
        (None, total, first)
    };
    // The draw starts from the nucleus's narrowed ladder when its goal lies within it.
    let goal = d.u * nucleus;
    let start = if finer.level > 0 && band_of(&finer.a, 0.0, goal, true) > 0 {
        finer
    } else {
        first
    };
    let (e, _, _) = locate::<V>(isa, inp, x, ex, start, goal, true, pool, spare);
    keep_pools(pools);
    // Rounding can put the draw a little past the nucleus's end: the end then.
    Some(match end {
        Some(end) if e.after(end) => end.i,
        _ => e.i,
    } as usize)
}

/// Elements of the row read to choose the pool path's lower bound (about this many).
const SAMPLE: usize = 512;

/// The shortest row the pool path is tried on.
const POOL_MIN: usize = 4 * SAMPLE;

/// The sample ranks the pool path tries as its lower bound, from three eighths of the
/// sample down to a thirty-second (of a row's entries, as many in expectation), or half the
/// sample ([`HALF`]) where three eighths do not hold; then, while the rank that held and the
/// lowest one that did not are [`REFINE`] or more apart, the rank halfway between. The pool
/// is as large as the rank the bound stops at: a nucleus of a third of the row needs ranks
/// above three eighths (top_p = 0.95 on a 128K row of `scripts/compare-topk.sh`'s kind: 44K
/// entries), and the step from 192 to 128 had left pools of 48K entries for nuclei of 28K
/// (top_p = 0.9 on another such row; 37K from the rank 144 now).
const RANKS: [usize; 6] = [192, 128, 96, 64, 32, 16];

/// The rank tried when the first of [`RANKS`] does not hold.
const HALF: usize = SAMPLE / 2;

/// The smallest gap between two ranks that a rank halfway between refines.
const REFINE: usize = 32;

/// The pool path ([`nucleus_by_pool`]) with the row's total mass and shift from one pass,
/// pass 1 of the two-pass algorithm ([`pair_sum`]): no pass for the maximum before it. `None`
/// where the pool path does not apply, and for rows the two-pass sum leaves to the
/// special-value rules (those go on to the maximum and the ladders, which apply them).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn by_pool<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    d: &Draw,
    pools: [&mut Pool; 3],
) -> Option<usize> {
    if x.len() < POOL_MIN {
        return None;
    }
    let (total, k) = pair_sum::<V, U>(isa, inp, x)?;
    // A NaN entry (the total NaN) or no mass.
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    nucleus_by_pool::<V>(isa, inp, x, &Exp::new(isa, k, 1.0), d, total, pools)
}

/// The draw with a nucleus cut (`top_p < 1`) from one pool of every entry at or above a
/// lower bound `lo`, or `None` (nothing drawn, the pools left to the ladders) where it does
/// not apply. A nucleus of `top_p` of the mass is its top entries, so when the entries at or
/// above `lo` hold at least that much, the pool holds the nucleus and therefore the draw
/// too, and both are located in the pool ([`crossing`], from one ladder over the pool):
///
/// 1. the row's total mass, `total` (one pass, no compares: see [`by_pool`]);
/// 2. `lo` from a strided sample of [`SAMPLE`] elements: the highest of the sample's values
///    at the ranks [`RANKS`] (from three eighths of the sample down, or half of it; the last
///    step halved down to 16 ranks) whose entries below it, scaled to the row, hold at most
///    three quarters of the mass the nucleus leaves out;
/// 3. one scan packs the entries at or above `lo` (at most half the row and at most
///    [`RETAIN`], or the path is left);
/// 4. one ladder over the pool, its [`POOL_RUNGS`] thresholds sample values around the
///    sample's estimates of the two crossings ([`sample_rungs`]): it gives the pool's mass,
///    which must reach the goal, and the two bands (usually a few hundred to a few thousand
///    entries each) that the crossings narrow.
///
/// Two passes over the row and one scan, against the ladders' two or three passes of twelve
/// compares and adds per vector. A ladder over the pool with thresholds evenly spaced over
/// its values cut it where the mass lies, not where the crossings do: the band of the
/// nucleus's end held half the pool (Zen 4, AVX-512, the 128K row of
/// `scripts/compare-topk.sh`: 13.7K of 29.7K entries, against 4.7K and 0.2K for the two
/// crossings' bands now, and 3.8 to 2.3 times the row's softmax). Where the sample misleads
/// (the pool would pass the cap, or its mass falls short), the ladders start from scratch:
/// the cost of a wrong guess is a sum pass, at most one scan and one ladder over the pool.
/// Masses are the same f32 exponentials as the ladders', so both paths locate the same
/// entries up to the rounding of the sums (the tests' tolerance).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn nucleus_by_pool<V: Simd>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    ex: &Exp<V>,
    d: &Draw,
    total: f64,
    [pool, spare, third]: [&mut Pool; 3],
) -> Option<usize> {
    let n = x.len();
    // The caller's word ([`by_pool`]): a row long enough to sample, and a mass.
    debug_assert!(n >= POOL_MIN && total > 0.0);
    // Step 2: every `stride`-th element (offsets spread over the whole row).
    let stride = n / SAMPLE;
    let mut v = [0.0f32; SAMPLE];
    for (j, v) in v.iter_mut().enumerate() {
        *v = inp.value(x[j * stride + (j * 7) % stride]);
    }
    // The highest of the sample's ranks `RANKS` (nested partitions: each selection within
    // the previous one's top part) whose entries below it, scaled to the row, hold at most
    // three quarters of the mass the nucleus leaves out.
    let goal = d.top_p * total;
    let allowed = 0.75 * (total - goal) * (SAMPLE as f64 / n as f64);
    let (mut e, mut missed, mut top) = ([0.0f64; SAMPLE], 0.0f64, SAMPLE);
    let mut lo = None;
    let mut failed = None;
    for r in RANKS {
        match rank_holds::<V>(isa, ex, &mut v[..top], &mut e, r, missed, allowed) {
            Some((more, at)) => (missed, top, lo) = (more, r + 1, Some(at)),
            None => {
                failed = Some(r);
                break;
            }
        }
    }
    if lo.is_none() {
        // Up to half the sample (the pool then at most half the row, the cap).
        if let Some((more, at)) = rank_holds::<V>(isa, ex, &mut v, &mut e, HALF, 0.0, allowed) {
            (missed, top, lo) = (more, HALF + 1, Some(at));
        }
    }
    // Halving the gap between the last rank that held and the first that did not.
    if let (Some(mut f), Some(_)) = (failed, lo) {
        while top - 1 - f >= REFINE {
            let r = (top - 1 + f) / 2;
            match rank_holds::<V>(isa, ex, &mut v[..top], &mut e, r, missed, allowed) {
                Some((more, at)) => (missed, top, lo) = (more, r + 1, Some(at)),
                None => f = r,
            }
        }
    }
    let lo = lo.filter(|&lo| lo > f32::NEG_INFINITY)?;
    // At most half the row, and no more than the pools keep between draws.
    let cap = (n / 2).min(RETAIN);
    // Step 3.
    if !pack_row::<V>(isa, inp, x, (lo, f32::INFINITY), pool, cap) {
        return None;
    }
    // The nucleus's end and then the draw, both from the pool's first ladder: each packs its
    // band into `spare` and narrows it there (with `third`), the pool left as it is.
    let (end, e) = if pool.len <= SORTED {
        let mass = sum_exp::<V, 4, 0>(isa, &Plain, &pool.v[..pool.len], ex);
        // A margin for the rounding between this sum and the crossing's.
        if mass < goal * (1.0 + 1e-9) {
            return None;
        }
        // `crossing` sorts such a pool and walks it, without changing it.
        let (end, nucleus) = crossing::<V>(isa, ex, pool, spare, 0.0, goal, false);
        let (e, _) = crossing::<V>(isa, ex, pool, spare, 0.0, d.u * nucleus, true);
        (end, e)
    } else {
        // The sample's part at or above `lo`, in descending order, and its masses.
        let s = &mut v[..top];
        s.sort_unstable_by(desc_f32);
        exps::<V>(isa, ex, s.iter().copied(), &mut e[..top]);
        let unit = SAMPLE as f64 / n as f64;
        let t = sample_rungs(
            s,
            &e[..top],
            missed,
            [total - goal, total - d.u * goal],
            unit,
        );
        let n = pool.len;
        let a = ladder::<V, POOL_RUNGS>(isa, &Plain, &pool.v[..n], ex, &t);
        // The pool's mass (the ladder's total) must reach the goal, with a margin for the
        // rounding of the ladder's f32 partial sums.
        if a[RUNGS] < goal * (1.0 + 1e-5) {
            return None;
        }
        let r = band_of(&a, 0.0, goal, false);
        let (blo, bhi) = band(&t, r);
        pack_pool::<V>(isa, pool, blo, bhi, spare);
        let (end, nucleus) = crossing::<V>(isa, ex, spare, third, above(&a, r), goal, false);
        let goal = d.u * nucleus;
        let r = band_of(&a, 0.0, goal, true);
        let (blo, bhi) = band(&t, r);
        pack_pool::<V>(isa, pool, blo, bhi, spare);
        let (e, _) = crossing::<V>(isa, ex, spare, third, above(&a, r), goal, true);
        (end, e)
    };
    // Rounding can put the draw a little past the nucleus's end: the end then.
    Some(if e.after(end) { end.i } else { e.i } as usize)
}

/// Whether the sample's rank `r` can bound the pool: with `v` (the sample's part above the
/// previous bound, `r < v.len()`) partitioned at `r`, the mass of the entries below it
/// (`e` takes their masses) plus `missed` (the mass below the previous bound), if at most
/// `allowed`, and the value at `r`.
#[inline(always)]
fn rank_holds<V: Simd>(
    isa: Token<V>,
    ex: &Exp<V>,
    v: &mut [f32],
    e: &mut [f64; SAMPLE],
    r: usize,
    missed: f64,
    allowed: f64,
) -> Option<(f64, f32)> {
    let top = v.len();
    let (_, &mut at, _) = v.select_nth_unstable_by(r, desc_f32);
    let m = r + 1;
    exps::<V>(isa, ex, v[m..top].iter().copied(), &mut e[..top - m]);
    let more = missed + e[..top - m].iter().sum::<f64>();
    (more <= allowed).then_some((more, at))
}

/// Sample ranks around an estimated crossing that [`sample_rungs`] puts its rungs at: bands
/// of a few sample entries (a few hundred of the row's) next to the estimate, wider ones
/// further out for where the sample misjudged it.
const AROUND: [isize; POOL_RUNGS / 2] = [-16, -4, 4, 16];

/// Thresholds of the pool's ladder (the others `-inf`): half around each crossing.
const POOL_RUNGS: usize = 8;

/// The pool ladder's thresholds for two crossings (the nucleus's end, the draw's goal): for
/// each, the sample entries at ranks [`AROUND`] the one at which the sample's mass below
/// reaches `below` (of the row's mass, scaled by `unit`, the sample's share of the row).
/// `s` is the sample's part at or above the pool's bound (descending, not empty), `e` its
/// masses, `missed` the sample's mass below the bound. Descending; equal thresholds leave
/// empty bands, which no search stops in.
fn sample_rungs(s: &[f32], e: &[f64], missed: f64, below: [f64; 2], unit: f64) -> [f32; RUNGS] {
    let top = s.len() as isize;
    let mut t = [f32::NEG_INFINITY; RUNGS];
    for (t, below) in t[..POOL_RUNGS].chunks_mut(POOL_RUNGS / 2).zip(below) {
        // The highest rank whose entries below (with the missed mass) reach `below`.
        let want = below * unit;
        let mut acc = missed;
        let mut at = 0;
        for i in (0..s.len()).rev() {
            if acc >= want {
                at = i;
                break;
            }
            acc += e[i];
        }
        for (t, d) in t.iter_mut().zip(AROUND) {
            *t = s[(at as isize + d).clamp(0, top - 1) as usize];
        }
    }
    t.sort_unstable_by(desc_f32);
    t
}

/// Descending order of values (no NaN here).
fn desc_f32(a: &f32, b: &f32) -> core::cmp::Ordering {
    b.total_cmp(a)
}

/// A ladder over the row: its thresholds `t` and masses `a` (of the whole row), the value
/// range `within` it divides (the row's first ladder: everything), and how many narrowings
/// on the row led to it.
#[derive(Clone, Copy)]
struct Ladders {
    t: [f32; RUNGS],
    a: Masses,
    within: (f32, f32),
    level: usize,
}

/// The entry of the row at which the running mass in descending order first reaches `goal`
/// (`> goal` when `strict`), the running mass through it, and the last ladder used, from the
/// ladder `start`. The band holding the entry is packed into `pool` and narrowed there
/// ([`crossing`]); a band of more than [`row_cap`] entries is first narrowed on the row, with
/// a ladder of thresholds evenly spaced over it.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn locate<V: Simd>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
    ex: &Exp<V>,
    start: Ladders,
    goal: f64,
    strict: bool,
    pool: &mut Pool,
    spare: &mut Pool,
) -> (Entry, f64, Ladders) {
    // The first ladder's bands are unbounded above and below; a narrowing's only within the
    // band it narrows.
    let Ladders {
        mut t,
        mut a,
        mut within,
        mut level,
    } = start;
    loop {
        // After a narrowing, band 0 (above the band narrowed) holds the goal only by rounding.
        let r = band_of(&a, 0.0, goal, strict).max(usize::from(level > 0));
        let (lo, hi) = band(&t, r);
        let (lo, hi) = (lo.max(within.0), hi.min(within.1));
        let cap = if level < ROW_LEVELS && lo < hi {
            row_cap(x.len())
        } else {
            usize::MAX
        };
        // Every entry of the band has at most the mass of its upper end: a band whose mass
        // needs more than `cap` of them is narrowed without trying to pack it.
        let crowded = cap < usize::MAX && hi < f32::INFINITY && {
            let top = ex.eval(V::splat(isa, hi)).first() as f64;
            (a[r] - above(&a, r)) > top * cap as f64
        };
        if !crowded && pack_row::<V>(isa, inp, x, (lo, hi), pool, cap) {
            if pool.len == 0 {
                // Rounding chose a band without entries: the whole band narrowed.
                pack_row::<V>(isa, inp, x, within, pool, usize::MAX);
            }
            let (e, mass) = crossing::<V>(isa, ex, pool, spare, above(&a, r), goal, strict);
            let last = Ladders {
                t,
                a,
                within,
                level,
            };
            return (e, mass, last);
        }
        // Too many: thresholds over `[lo, hi)`, the first at `hi` (the mass above the band
        // comes out of the ladder again). A band without a lower end is taken 64 below.
        let lo_eff = if lo == f32::NEG_INFINITY {
            hi - 64.0
        } else {
            lo
        };
        let w = (hi - lo_eff) / RUNGS as f32;
        for (j, t) in t.iter_mut().enumerate() {
            *t = hi - w * j as f32;
        }
        a = ladder::<V, RUNGS>(isa, inp, x, ex, &t);
        within = (lo, hi);
        level += 1;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The sort-based f64 draw: `None` when some boundary (nucleus cut or draw) lies within
    /// `2e-6` of the total of the goal, where rounding may decide either way (rows of tens of
    /// thousands of near-equal entries put boundaries this close).
    fn reference(x: &[f32], scale: f32, top_p: f64, u: f64) -> Option<usize> {
        let v: Vec<f32> = x.iter().map(|&x| x * scale).collect();
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[b].partial_cmp(&v[a]).unwrap().then(a.cmp(&b)));
        let m = v[idx[0]] as f64;
        let mass: Vec<f64> = idx.iter().map(|&i| (v[i] as f64 - m).exp()).collect();
        let total: f64 = mass.iter().sum();
        let tol = 2e-6 * total;
        let mut len = mass.len();
        if top_p < 1.0 {
            let (goal, mut acc) = (top_p * total, 0.0);
            for (j, &e) in mass.iter().enumerate() {
                acc += e;
                if (acc - goal).abs() < tol {
                    return None;
                }
                if acc >= goal {
                    len = j + 1;
                    break;
                }
            }
        }
        let nucleus: f64 = mass[..len].iter().sum();
        let (goal, mut acc) = (u * nucleus, 0.0);
        for (j, &e) in mass[..len].iter().enumerate() {
            acc += e;
            if (acc - goal).abs() < tol {
                return None;
            }
            if acc > goal {
                return Some(idx[j]);
            }
        }
        None
    }

    /// Rows that take every path of the narrowing: a body with a few strong entries, values
    /// crowded into a narrow range (bands narrowed on the row), many equal values, all equal.
    fn rows() -> Vec<(&'static str, Vec<f32>)> {
        let mut next = uniform(0x9e37_79b9_7f4a_7c15);
        // Above the row's cap, so that the crowded row's band is narrowed on the row.
        let n = CAP + 4000;
        assert!(n > row_cap(n));
        let mut body = bell(&mut next, n, 2.0);
        for j in 0..12 {
            body[(j * 3331) % n] += 4.0 + j as f32;
        }
        let crowded: Vec<f32> = (0..n).map(|_| 5.0 + next() * 0.01).collect();
        let steps: Vec<f32> = (0..n).map(|i| (i % 997) as f32 * 1e-3).collect();
        let equal = vec![3.0f32; 10_000];
        let small: Vec<f32> = (0..300).map(|_| next() * 8.0).collect();
        vec![
            ("body", body),
            ("crowded", crowded),
            ("steps", steps),
            ("equal", equal),
            ("small", small),
        ]
    }

    fn check<V: Simd, const U: usize>(isa: Token<V>, name: &str) {
        let (mut checked, mut near) = (0, 0);
        for (what, x) in rows() {
            for scale in [1.0f32, 0.5] {
                // Goals off the multiples of an entry's mass that rows of equal entries have.
                for top_p in [1.0, 0.90031, 0.50017, 0.98] {
                    for j in 0..8 {
                        let u = j as f64 / 8.0 + 0.01337;
                        let d = Draw {
                            scale: Some(scale),
                            top_k: 0,
                            top_p,
                            u,
                        };
                        let got = sample::<V, U>(isa, &x, &d);
                        match reference(&x, scale, top_p, u) {
                            Some(want) => {
                                checked += 1;
                                assert_eq!(
                                    got,
                                    Some(want),
                                    "{name} {what} scale {scale} top_p {top_p} u {u}"
                                );
                            }
                            None => near += 1,
                        }
                    }
                }
            }
        }
        // A nucleus cut near a boundary makes every draw of its row ambiguous.
        assert!(
            near * 3 < checked,
            "{name}: {near} draws near a boundary, {checked} checked"
        );
    }

    #[test]
    fn draws_of_every_isa_here_match_the_sorted_reference() {
        super::super::each_isa_here!(check);
    }

    /// Xorshift values in `[0, 1)`.
    fn uniform(mut seed: u64) -> impl FnMut() -> f32 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32
        }
    }

    /// `n` bell-shaped values: sums of four uniforms in `[-1, 1)`, times `width`.
    fn bell(next: &mut impl FnMut() -> f32, n: usize, width: f32) -> Vec<f32> {
        (0..n)
            .map(|_| (0..4).map(|_| next() * 2.0 - 1.0).sum::<f32>() * width)
            .collect()
    }

    /// Draws from `softmax(scale * x)` with `top_p` and each of `us` through the pool path
    /// alone, each one it takes checked against the reference where that is unambiguous:
    /// how many it took and how many were checked.
    fn pool_draws<V: Simd, const U: usize>(
        isa: Token<V>,
        x: &[f32],
        scale: f32,
        top_p: f64,
        us: impl Iterator<Item = f64>,
        pools: &mut [Pool; 3],
        ctx: &str,
    ) -> (usize, usize) {
        let inp = Scaled::<V>::new(isa, scale);
        let (mut taken, mut checked) = (0, 0);
        for u in us {
            let d = Draw {
                scale: Some(scale),
                top_k: 0,
                top_p,
                u,
            };
            let [a, b, c] = pools;
            let got = by_pool::<V, U>(isa, &inp, x, &d, [a, b, c]);
            taken += usize::from(got.is_some());
            if let (Some(got), Some(want)) = (got, reference(x, scale, top_p, u)) {
                checked += 1;
                assert_eq!(got, want, "{ctx} top_p {top_p} u {u}");
            }
        }
        (taken, checked)
    }

    /// The pool path on its own: it takes rows of language-model-like logits with a nucleus
    /// cut and draws what the reference draws, and leaves a row whose nucleus is most of the
    /// row to the ladders.
    fn pool_path<V: Simd, const U: usize>(isa: Token<V>, name: &str) {
        let mut next = uniform(0x2545_f491_4f6c_dd1d);
        // Few entries, so that boundaries are rarely within the reference's tolerance.
        let n = 8192;
        let mut lm = bell(&mut next, n, 2.5);
        for j in 0..20 {
            lm[(j * 751) % n] += 4.0 + 0.4 * j as f32;
        }
        let flat: Vec<f32> = (0..n).map(|_| next() * 1e-3).collect();
        let mut pools = [Pool::new(), Pool::new(), Pool::new()];
        let (mut taken, mut checked) = (0, 0);
        for scale in [1.0f32, 0.5] {
            for top_p in [0.9, 0.5, 0.95] {
                let us = (0..4).map(|j| j as f64 / 4.0 + 0.0731);
                let ctx = format!("{name} scale {scale}");
                let (t, c) = pool_draws::<V, U>(isa, &lm, scale, top_p, us, &mut pools, &ctx);
                (taken, checked) = (taken + t, checked + c);
            }
        }
        // Scale 1: a few strong entries hold most of the mass; 0.5: the body's top half
        // holds 0.9 of it (`top_p` 0.5 and 0.9 taken), not 0.95.
        assert!(
            taken == 20 && checked >= 18,
            "{name}: {taken} taken, {checked} checked"
        );
        let d = Draw {
            scale: Some(1.0),
            top_k: 0,
            top_p: 0.9,
            u: 0.5,
        };
        let [a, b, c] = &mut pools;
        let got = by_pool::<V, U>(isa, &Plain, &flat, &d, [a, b, c]);
        assert_eq!(got, None, "{name}: a flat row's nucleus is most of the row");
    }

    /// The pool path's ladder, whose thresholds come from the sample, against the reference
    /// for many `u`: rows with strong entries the sample misses (its estimates of the
    /// crossings then off), without them, and with values on a grid of 1/16 (many equal
    /// values on the thresholds, which are sample values).
    fn pool_rungs<V: Simd, const U: usize>(isa: Token<V>, name: &str) {
        let n = 8192;
        let body = bell(&mut uniform(0x6c07_8965_d0f3_1a2b), n, 2.0);
        let mut strong = body.clone();
        for j in 0..12 {
            strong[(j * 691 + 5) % n] += 3.0 + 0.7 * j as f32;
        }
        let grid: Vec<f32> = strong.iter().map(|v| (v * 16.0).round() / 16.0).collect();
        let mut pools = [Pool::new(), Pool::new(), Pool::new()];
        for (row, x) in [("strong", &strong), ("body", &body), ("grid", &grid)] {
            let (mut taken, mut checked) = (0, 0);
            for top_p in [0.9, 0.7, 0.95] {
                let us = (0..24).map(|j| j as f64 / 24.0 + 0.013);
                let ctx = format!("{name} {row}");
                let (t, c) = pool_draws::<V, U>(isa, x, 1.0, top_p, us, &mut pools, &ctx);
                (taken, checked) = (taken + t, checked + c);
            }
            // Every draw takes the pool path; the reference leaves some of the grid's open.
            assert!(
                taken == 72 && checked >= 48,
                "{name} {row}: {taken} taken, {checked} checked"
            );
        }
    }

    #[test]
    fn the_pool_ladder_from_the_sample_matches_the_reference_on_every_isa_here() {
        super::super::each_isa_here!(pool_rungs);
    }

    /// The sample's thresholds: descending, from the sample, the unused ones `-inf`, and
    /// around the rank whose mass below reaches the goal.
    #[test]
    fn sample_rungs_bracket_the_estimated_crossing() {
        let s: Vec<f32> = (0..100).map(|i| 10.0 - 0.1 * i as f32).collect();
        let e = vec![1.0f64; 100];
        // `missed` 10 and a goal of 40 below (unit 1): the entries below rank 69 (70..100)
        // and the missed mass reach it.
        let t = sample_rungs(&s, &e, 10.0, [40.0, 1000.0], 1.0);
        assert!(t.windows(2).all(|w| w[0] >= w[1]), "{t:?}");
        assert!(t[POOL_RUNGS..].iter().all(|&t| t == f32::NEG_INFINITY));
        // The second goal is more than the sample holds: its rungs at the top.
        let at = |r: usize| s[r];
        let mut want = [at(53), at(65), at(73), at(85), at(0), at(0), at(4), at(16)];
        want.sort_by(|a, b| b.total_cmp(a));
        assert_eq!(t[..POOL_RUNGS], want);
    }

    #[test]
    fn the_pool_path_takes_language_model_rows_on_every_isa_here() {
        super::super::each_isa_here!(pool_path);
    }

    #[test]
    fn a_band_too_crowded_to_pack_is_narrowed_on_the_row() {
        // The crowded row's nucleus band holds every entry: more than CAP.
        let x: Vec<f32> = (0..CAP + 4000).map(|i| (i % 4099) as f32 * 1e-4).collect();
        let isa = crate::kernels::portable::token();
        let m = x.iter().fold(f32::MIN, |a, &b| a.max(b));
        let ex = Exp::new(isa, shift_for_max(m), 1.0);
        let mut t = [0.0f32; RUNGS];
        for (t, &depth) in t.iter_mut().zip(&DEPTHS) {
            *t = m - depth;
        }
        let a = ladder::<_, RUNGS>(isa, &Plain, &x, &ex, &t);
        let first = Ladders {
            t,
            a,
            within: (f32::NEG_INFINITY, f32::INFINITY),
            level: 0,
        };
        let (mut pool, mut spare) = (Pool::new(), Pool::new());
        let goal = 0.9 * a[RUNGS];
        let (_, mass, last) = locate(
            isa, &Plain, &x, &ex, first, goal, false, &mut pool, &mut spare,
        );
        assert!(last.level > 0, "narrowed {} times", last.level);
        assert!(mass >= goal && mass < goal * 1.001, "{mass} for {goal}");
    }
}
