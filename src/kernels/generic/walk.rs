//! The loop skeleton every pass over memory uses, so the pointer arithmetic lives here.
//!
//! A walk visits a row of `n` elements as `U` vectors per step (independent accumulators, so
//! dependent FMA/max chains overlap), then single vectors, then one partial vector read with
//! `load_tail` (its lanes past the row hold the source's fill value). A [`Body`] sees every
//! vector with its accumulator index `j`: `0..U` within a step, and `0, 1, ...` again for the
//! single vectors and the tail (at most `U - 1` of them, then the tail), unless it asks for
//! them all in accumulator 0 ([`Body::SPREAD`] false).
//!
//! Two forms: [`fold`] only reads (the body accumulates), [`map`] also stores the vector the
//! body returns, non-temporally in its aligned body when asked; [`map_to_half`] stores it
//! rounded to a 16-bit format. [`scan`] is the fold without unrolling, for bodies that branch
//! on the data. A [`Source`] says what a step reads: one input through an [`Input`] transform
//! ([`One`]), two plain inputs ([`Two`]), or a row of a 16-bit format widened as it is read
//! ([`Halves`]).

use std::marker::PhantomData;

use super::inputs::Input;
use crate::kernels::convert::Half;
use crate::kernels::simd::{Simd, Token};

/// What a walk reads at an element offset.
pub(crate) trait Source<V: Simd> {
    /// One vector, or a pair of them.
    type Item: Copy;
    /// The row length.
    fn len(&self) -> usize;
    /// The full vector(s) at element `i`.
    ///
    /// # Safety
    /// `i + LANES <= len()`.
    unsafe fn at(&self, isa: Token<V>, i: usize) -> Self::Item;
    /// The `m < LANES` elements from `i`, the other lanes holding the fill.
    ///
    /// # Safety
    /// `m < LANES` and `i + m <= len()`.
    unsafe fn part(&self, isa: Token<V>, i: usize, m: usize) -> Self::Item;
    /// Prefetches the `step` elements `PF` past `i` (hints only: never faults). Called by the
    /// walks only when [`prefetches`] says so.
    fn prefetch<const PF: usize>(&self, isa: Token<V>, i: usize, step: usize);
    /// Whether the prefetches reach past a stretch of computation ([`Ahead`]), which walks
    /// always issue, rather than along a stream, which they issue as
    /// [`Simd::prefetching`] decides.
    const AHEAD: bool = false;
}

/// Whether a walk over `S` prefetches `PF` elements ahead.
#[inline(always)]
pub(crate) fn prefetches<V: Simd, S: Source<V>, const PF: usize>(isa: Token<V>) -> bool {
    PF != 0 && (S::AHEAD || V::prefetching(isa))
}

/// `S` for a walk whose prefetches load the next stretch of a row while the current one is
/// being computed on (the sum pass of a block of the blocked sum loads the next block), so
/// they are issued on every CPU: without them, the next block's maximum pass waits for
/// memory. Zen 4, AVX-512, log-sum-exp 1024 x 4096 (rows of two blocks): 5.0-5.2 elements/ns
/// with them, 4.4-4.6 without.
pub(crate) struct Ahead<S>(pub S);

impl<V: Simd, S: Source<V>> Source<V> for Ahead<S> {
    type Item = S::Item;
    const AHEAD: bool = true;
    #[inline(always)]
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    unsafe fn at(&self, isa: Token<V>, i: usize) -> S::Item {
        // SAFETY: forwarded (the same contract).
        unsafe { self.0.at(isa, i) }
    }
    #[inline(always)]
    unsafe fn part(&self, isa: Token<V>, i: usize, m: usize) -> S::Item {
        // SAFETY: forwarded (the same contract).
        unsafe { self.0.part(isa, i, m) }
    }
    #[inline(always)]
    fn prefetch<const PF: usize>(&self, isa: Token<V>, i: usize, step: usize) {
        self.0.prefetch::<PF>(isa, i, step);
    }
}

/// Prefetches the lines of the `step` elements at `p + PF`; the elements are `f32` or 16-bit
/// values. Walks call it only when they prefetch at all ([`prefetches`]: never for `PF == 0`).
#[inline(always)]
fn prefetch_ahead<V: Simd, T, const PF: usize>(isa: Token<V>, p: *const T, step: usize) {
    debug_assert!(PF > 0);
    let per_line = 64 / core::mem::size_of::<T>();
    let mut off = 0;
    while off < step {
        V::prefetch(isa, p.wrapping_add(PF + off).cast());
        off += per_line;
    }
}

/// One row read through an [`Input`] transform.
#[derive(Clone, Copy)]
pub(crate) struct One<'a, I> {
    inp: &'a I,
    x: *const f32,
    n: usize,
    fill: f32,
    _row: PhantomData<&'a [f32]>,
}

impl<'a, I> One<'a, I> {
    /// The row `x`; lanes past its end read as `fill` (after the transform).
    #[inline(always)]
    pub(crate) fn new(inp: &'a I, x: &'a [f32], fill: f32) -> Self {
        One {
            inp,
            x: x.as_ptr(),
            n: x.len(),
            fill,
            _row: PhantomData,
        }
    }

    /// The row at `x`, `n` elements long.
    ///
    /// # Safety
    /// `x` is readable for `n` elements while the source is used (writes to it through a
    /// [`map`] over the same elements are allowed: each element is read before it is written).
    #[inline(always)]
    pub(crate) unsafe fn from_raw(inp: &'a I, x: *const f32, n: usize, fill: f32) -> Self {
        One {
            inp,
            x,
            n,
            fill,
            _row: PhantomData,
        }
    }
}

impl<V: Simd, I: Input<V>> Source<V> for One<'_, I> {
    type Item = V;
    #[inline(always)]
    fn len(&self) -> usize {
        self.n
    }
    #[inline(always)]
    unsafe fn at(&self, isa: Token<V>, i: usize) -> V {
        debug_assert!(i + V::LANES <= self.n);
        // SAFETY: `x[i..i + LANES]` is inside the row (the contract).
        unsafe { self.inp.load(isa, self.x.add(i)) }
    }
    #[inline(always)]
    unsafe fn part(&self, isa: Token<V>, i: usize, m: usize) -> V {
        debug_assert!(m < V::LANES && i + m <= self.n);
        // SAFETY: `x[i..i + m]` is inside the row (the contract).
        unsafe { self.inp.load_tail(isa, self.x.add(i), m, self.fill) }
    }
    #[inline(always)]
    fn prefetch<const PF: usize>(&self, isa: Token<V>, i: usize, step: usize) {
        prefetch_ahead::<V, f32, PF>(isa, self.x.wrapping_add(i), step);
    }
}

/// A source read as `S` that also prefetches the output row `y`: for a pass that writes a row
/// its previous pass has just read (pass 2 of three-pass reload), where the output's lines
/// are what would miss. The input is still prefetched as well: in a batch, that is the next
/// row's start, which its maximum pass reads next. Zen 5, AVX-512, softmax batches through
/// `softmax_rows_f32` (elements/ns, three interleaved runs each, input only | output only |
/// both): 1024 x 4096 (32 MiB in and out, beyond the L3) 3.0-3.2 | 4.5-4.6 | 4.1-4.3; in
/// cache, 16 x 4096 7.8-8.2 | 7.5-8.0 | 7.7-8.1, 512 x 1000 5.6-5.8 | 5.3-5.5 | 5.4-5.6.
pub(crate) struct OutputAhead<S> {
    src: S,
    y: *const f32,
}

impl<S> OutputAhead<S> {
    /// `src`, prefetching the output row `y` too (hints only: `y` is never read through here).
    #[inline(always)]
    pub(crate) fn new(src: S, y: *const f32) -> Self {
        OutputAhead { src, y }
    }
}

impl<V: Simd, S: Source<V>> Source<V> for OutputAhead<S> {
    type Item = S::Item;
    #[inline(always)]
    fn len(&self) -> usize {
        self.src.len()
    }
    #[inline(always)]
    unsafe fn at(&self, isa: Token<V>, i: usize) -> S::Item {
        // SAFETY: forwarded (the same contract).
        unsafe { self.src.at(isa, i) }
    }
    #[inline(always)]
    unsafe fn part(&self, isa: Token<V>, i: usize, m: usize) -> S::Item {
        // SAFETY: forwarded (the same contract).
        unsafe { self.src.part(isa, i, m) }
    }
    #[inline(always)]
    fn prefetch<const PF: usize>(&self, isa: Token<V>, i: usize, step: usize) {
        prefetch_ahead::<V, f32, PF>(isa, self.y.wrapping_add(i), step);
        self.src.prefetch::<PF>(isa, i, step);
    }
}

/// A source that can be narrowed to a range of its elements (the chunks of pass 1).
pub(crate) trait Slice: Sized {
    /// Elements `start..end` (within the row) as a source of their own, with the same fill.
    fn slice(&self, start: usize, end: usize) -> Self;
}

impl<I> Slice for One<'_, I> {
    #[inline(always)]
    fn slice(&self, start: usize, end: usize) -> Self {
        assert!(start <= end && end <= self.n);
        One {
            x: self.x.wrapping_add(start),
            n: end - start,
            ..*self
        }
    }
}

/// Two rows of equal length read together, as stored.
#[derive(Clone, Copy)]
pub(crate) struct Two<'a> {
    a: *const f32,
    b: *const f32,
    n: usize,
    fill: (f32, f32),
    _rows: PhantomData<&'a [f32]>,
}

impl<'a> Two<'a> {
    /// The rows `a` and `b` (equal lengths); the lanes past their end read as `fill`.
    #[inline(always)]
    pub(crate) fn new(a: &'a [f32], b: &'a [f32], fill: (f32, f32)) -> Self {
        assert_eq!(a.len(), b.len());
        Two {
            a: a.as_ptr(),
            b: b.as_ptr(),
            n: a.len(),
            fill,
            _rows: PhantomData,
        }
    }

    /// The rows at `a` and `b`, `n` elements each; the lanes past their end read as `fill`.
    ///
    /// # Safety
    /// As [`One::from_raw`], for both rows.
    #[inline(always)]
    pub(crate) unsafe fn from_raw(
        a: *const f32,
        b: *const f32,
        n: usize,
        fill: (f32, f32),
    ) -> Self {
        Two {
            a,
            b,
            n,
            fill,
            _rows: PhantomData,
        }
    }
}

impl<V: Simd> Source<V> for Two<'_> {
    type Item = (V, V);
    #[inline(always)]
    fn len(&self) -> usize {
        self.n
    }
    #[inline(always)]
    unsafe fn at(&self, isa: Token<V>, i: usize) -> (V, V) {
        debug_assert!(i + V::LANES <= self.n);
        // SAFETY: `a[i..i + LANES]` and `b[i..i + LANES]` are inside the rows (the contract).
        unsafe { (V::load(isa, self.a.add(i)), V::load(isa, self.b.add(i))) }
    }
    #[inline(always)]
    unsafe fn part(&self, isa: Token<V>, i: usize, m: usize) -> (V, V) {
        debug_assert!(m < V::LANES && i + m <= self.n);
        // SAFETY: `a[i..i + m]` and `b[i..i + m]` are inside the rows (the contract).
        unsafe {
            (
                V::load_tail(isa, self.a.add(i), m, self.fill.0),
                V::load_tail(isa, self.b.add(i), m, self.fill.1),
            )
        }
    }
    #[inline(always)]
    fn prefetch<const PF: usize>(&self, isa: Token<V>, i: usize, step: usize) {
        prefetch_ahead::<V, f32, PF>(isa, self.a.wrapping_add(i), step);
        prefetch_ahead::<V, f32, PF>(isa, self.b.wrapping_add(i), step);
    }
}

/// One row of a 16-bit format ([`Half`]), widened to f32 as it is read.
#[derive(Clone, Copy)]
pub(crate) struct Halves<'a> {
    x: *const u16,
    n: usize,
    format: Half,
    fill: f32,
    _row: PhantomData<&'a [u16]>,
}

impl<'a> Halves<'a> {
    /// The row `x` of `format`; lanes past its end read as `fill`.
    #[inline(always)]
    pub(crate) fn new(x: &'a [u16], format: Half, fill: f32) -> Self {
        Halves {
            x: x.as_ptr(),
            n: x.len(),
            format,
            fill,
            _row: PhantomData,
        }
    }
}

impl Halves<'_> {
    /// The row at `x`, `n` elements of `format`; lanes past its end read as `fill`.
    ///
    /// # Safety
    /// As [`One::from_raw`].
    #[inline(always)]
    pub(crate) unsafe fn from_raw(x: *const u16, n: usize, format: Half, fill: f32) -> Self {
        Halves {
            x,
            n,
            format,
            fill,
            _row: PhantomData,
        }
    }
}

impl Slice for Halves<'_> {
    #[inline(always)]
    fn slice(&self, start: usize, end: usize) -> Self {
        assert!(start <= end && end <= self.n);
        Halves {
            x: self.x.wrapping_add(start),
            n: end - start,
            ..*self
        }
    }
}

impl<V: Simd> Source<V> for Halves<'_> {
    type Item = V;
    #[inline(always)]
    fn len(&self) -> usize {
        self.n
    }
    #[inline(always)]
    unsafe fn at(&self, isa: Token<V>, i: usize) -> V {
        debug_assert!(i + V::LANES <= self.n);
        // SAFETY: `x[i..i + LANES]` is inside the row (the contract).
        unsafe { V::load_half(isa, self.format, self.x.add(i)) }
    }
    #[inline(always)]
    unsafe fn part(&self, isa: Token<V>, i: usize, m: usize) -> V {
        debug_assert!(m < V::LANES && i + m <= self.n);
        // SAFETY: `x[i..i + m]` is inside the row (the contract).
        unsafe { V::load_half_tail(isa, self.format, self.x.add(i), m, self.fill) }
    }
    #[inline(always)]
    fn prefetch<const PF: usize>(&self, isa: Token<V>, i: usize, step: usize) {
        prefetch_ahead::<V, u16, PF>(isa, self.x.wrapping_add(i), step);
    }
}

/// Two sources of one length read together, their vectors paired (two 16-bit rows, say).
#[derive(Clone, Copy)]
pub(crate) struct Pair<A, B>(pub A, pub B);

impl<V: Simd, A: Source<V, Item = V>, B: Source<V, Item = V>> Source<V> for Pair<A, B> {
    type Item = (V, V);
    #[inline(always)]
    fn len(&self) -> usize {
        debug_assert_eq!(self.0.len(), self.1.len());
        self.0.len()
    }
    #[inline(always)]
    unsafe fn at(&self, isa: Token<V>, i: usize) -> (V, V) {
        // SAFETY: both sources have the pair's length (the contract).
        unsafe { (self.0.at(isa, i), self.1.at(isa, i)) }
    }
    #[inline(always)]
    unsafe fn part(&self, isa: Token<V>, i: usize, m: usize) -> (V, V) {
        // SAFETY: as in `at`.
        unsafe { (self.0.part(isa, i, m), self.1.part(isa, i, m)) }
    }
    #[inline(always)]
    fn prefetch<const PF: usize>(&self, isa: Token<V>, i: usize, step: usize) {
        self.0.prefetch::<PF>(isa, i, step);
        self.1.prefetch::<PF>(isa, i, step);
    }
    const AHEAD: bool = A::AHEAD || B::AHEAD;
}

/// A source read through an [`Input`] transform (its fill is the stored value that the
/// transform maps to the fill wanted, as [`Input::stored_fill`] gives it).
#[derive(Clone, Copy)]
pub(crate) struct Through<'a, S, I>(pub S, pub &'a I);

impl<S: Slice, I> Slice for Through<'_, S, I> {
    #[inline(always)]
    fn slice(&self, start: usize, end: usize) -> Self {
        Through(self.0.slice(start, end), self.1)
    }
}

impl<V: Simd, S: Source<V, Item = V>, I: Input<V>> Source<V> for Through<'_, S, I> {
    type Item = V;
    #[inline(always)]
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    unsafe fn at(&self, isa: Token<V>, i: usize) -> V {
        // SAFETY: forwarded.
        self.1.apply(unsafe { self.0.at(isa, i) })
    }
    #[inline(always)]
    unsafe fn part(&self, isa: Token<V>, i: usize, m: usize) -> V {
        // SAFETY: forwarded.
        self.1.apply(unsafe { self.0.part(isa, i, m) })
    }
    #[inline(always)]
    fn prefetch<const PF: usize>(&self, isa: Token<V>, i: usize, step: usize) {
        self.0.prefetch::<PF>(isa, i, step);
    }
    const AHEAD: bool = S::AHEAD;
}

/// What a walk does with each vector (a trait rather than a closure, so that
/// `#[inline(always)]` compiles it inside the ISA's entry point).
pub(crate) trait Body<V, T> {
    /// Whether the single vectors and the tail after the unrolled steps go to accumulators
    /// `0, 1, ...` (true) or all to accumulator 0.
    const SPREAD: bool = true;
    /// Whether no vector the body returns holds a NaN (what the caller's checks established),
    /// so [`map_to_half`] may round with [`Simd::store_half_no_nan`].
    const NAN_FREE: bool = false;
    /// Takes the vector(s) at element `i` for accumulator `j < U`; returns the vector a
    /// [`map`] stores there (a [`fold`] ignores it).
    fn take(&mut self, j: usize, i: usize, item: T) -> V;
    /// Called after every full step of `U` vectors.
    #[inline(always)]
    fn stepped(&mut self) {}
}

/// Visits every vector of `src` (the unrolled steps prefetching `PF` elements ahead).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn fold<V: Simd, S: Source<V>, B: Body<V, S::Item>, const U: usize, const PF: usize>(
    isa: Token<V>,
    src: &S,
    body: &mut B,
) {
    let (l, n) = (V::LANES, src.len());
    let step = U * l;
    let mut i = 0;
    let prefetch = prefetches::<V, S, PF>(isa);
    while i + step <= n {
        if prefetch {
            src.prefetch::<PF>(isa, i, step);
        }
        for j in 0..U {
            // SAFETY: `i + j * l + l <= i + step <= n`.
            body.take(j, i + j * l, unsafe { src.at(isa, i + j * l) });
        }
        body.stepped();
        i += step;
    }
    // Fewer than `U` vectors are left: a loop of constant length, unrolled, so that every
    // accumulator index is a constant (see [`rest`]).
    for j in 0..U {
        match rest(i, n, l, j, B::SPREAD) {
            // SAFETY: `i + l <= n`.
            Rest::Full(j) => body.take(j, i, unsafe { src.at(isa, i) }),
            // SAFETY: `i < n < i + l`: the last `n - i` elements.
            Rest::Part(j) => body.take(j, i, unsafe { src.part(isa, i, n - i) }),
            Rest::Done => break,
        };
        i += l;
    }
}

/// What is left of a walk at element `i` of `n` (fewer than `U` full vectors, then perhaps
/// a partial one), on the `j`-th vector after the unrolled steps, with the accumulator it
/// goes to: `j` when the body spreads them, else 0.
///
/// The walks visit these vectors in a loop of constant length `U` rather than a loop to the
/// row's end: unrolled, every accumulator index is a constant, and the body's accumulators
/// stay in registers. With an index that varies at run time, the compiler keeps an array of
/// accumulators in memory for the whole walk, unrolled steps included (AVX2, three-pass
/// reload: every step stored and reloaded its sums through the stack).
enum Rest {
    /// A full vector, into this accumulator.
    Full(usize),
    /// The partial last vector, into this accumulator.
    Part(usize),
    /// Nothing left.
    Done,
}

/// [`Rest`] for the `j`-th vector after the unrolled steps, at element `i` of `n`, with
/// `LANES == l`; `spread` is the body's [`Body::SPREAD`].
#[inline(always)]
fn rest(i: usize, n: usize, l: usize, j: usize, spread: bool) -> Rest {
    let acc = if spread { j } else { 0 };
    if i + l <= n {
        Rest::Full(acc)
    } else if i < n {
        Rest::Part(acc)
    } else {
        Rest::Done
    }
}

/// Visits every vector of `src` one at a time, the partial last one in the same loop
/// (accumulator 0 throughout): one copy of the body, for bodies with data-dependent branches
/// (the top-k scans), where the unrolled form's several copies predicted worse on unseen data
/// (8 of 64: 0.29 against 0.37 elements/ns on AVX-512).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn scan<V: Simd, S: Source<V>, B: Body<V, S::Item>>(
    isa: Token<V>,
    src: &S,
    body: &mut B,
) {
    let (l, n) = (V::LANES, src.len());
    let mut i = 0;
    while i < n {
        // SAFETY: `i < n`: a full vector when `i + l <= n`, else the last `n - i` elements.
        let v = unsafe {
            if i + l <= n {
                src.at(isa, i)
            } else {
                src.part(isa, i, n - i)
            }
        };
        body.take(0, i, v);
        i += l;
    }
}

/// Number of leading elements to write before `y` is aligned for non-temporal stores of
/// `LANES` elements of `T` (f32 or a 16-bit format; 0 when `NT` is off or `y` is already
/// aligned). `y` is aligned to `size_of::<T>()`.
#[inline(always)]
fn nt_head<V: Simd, T, const NT: bool>(y: *mut T, n: usize) -> usize {
    let size = core::mem::size_of::<T>();
    let bytes = V::LANES * size;
    let misalign = (y as usize) % bytes;
    if NT && misalign != 0 {
        n.min((bytes - misalign) / size)
    } else {
        0
    }
}

/// Whether an output at `y` can take non-temporal stores when asked to (`non_temporal`): it
/// must be 4-byte aligned to reach vector alignment at all.
#[inline(always)]
pub(crate) fn nt_usable(y: *mut f32, non_temporal: bool) -> bool {
    non_temporal && (y as usize).is_multiple_of(4)
}

/// Visits every vector of `src` like [`fold`] and stores what the body returns to `y` at the
/// same offset. With `NT` (which needs [`nt_usable`]), the elements before `y`'s first vector
/// alignment are written with a partial store first, the unrolled steps with non-temporal
/// stores, and a fence ends the walk.
///
/// # Safety
/// `y` is writable for `src.len()` elements, and equal to the source's row(s) or disjoint
/// from them.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn map<
    V: Simd,
    S: Source<V>,
    B: Body<V, S::Item>,
    const U: usize,
    const PF: usize,
    const NT: bool,
>(
    isa: Token<V>,
    src: &S,
    y: *mut f32,
    body: &mut B,
) {
    let (l, n) = (V::LANES, src.len());
    let step = U * l;
    let mut i = nt_head::<V, f32, NT>(y, n);
    if i > 0 {
        // The head: fewer than `l` elements, read as a tail of the row's first `i`.
        debug_assert!(NT && i < l && i <= n);
        // SAFETY: the first `i <= n` elements of the source and of `y` (the contract).
        unsafe { body.take(0, 0, src.part(isa, 0, i)).store_tail(y, i) };
    }
    let prefetch = prefetches::<V, S, PF>(isa);
    while i + step <= n {
        if prefetch {
            src.prefetch::<PF>(isa, i, step);
        }
        for j in 0..U {
            let o = i + j * l;
            // SAFETY: `o + l <= i + step <= n`, inside the source and `y` (the contract); with
            // `NT`, `o` is a multiple of `l` past the aligned head, so `y + o` is aligned.
            unsafe {
                let r = body.take(j, o, src.at(isa, o));
                if NT {
                    r.stream(y.add(o));
                } else {
                    r.store(y.add(o));
                }
            }
        }
        body.stepped();
        i += step;
    }
    for j in 0..U {
        match rest(i, n, l, j, B::SPREAD) {
            // SAFETY: `i + l <= n`, inside the source and `y`.
            Rest::Full(j) => unsafe { body.take(j, i, src.at(isa, i)).store(y.add(i)) },
            // SAFETY: `i < n < i + l`: the last `n - i` elements of the source and of `y`.
            Rest::Part(j) => unsafe {
                body.take(j, i, src.part(isa, i, n - i))
                    .store_tail(y.add(i), n - i)
            },
            Rest::Done => break,
        }
        i += l;
    }
    if NT {
        V::stream_fence(isa);
    }
}

/// [`map_to_half`] with the prefetch distance of the whole-row passes and non-temporal
/// stores when `non_temporal` (a run-time choice, as the callers' flags give it).
///
/// # Safety
/// As [`map_to_half`].
#[inline(always)]
pub(crate) unsafe fn map_to_half_nt<V: Simd, S: Source<V>, B: Body<V, S::Item>, const U: usize>(
    isa: Token<V>,
    src: &S,
    (format, y): (Half, *mut u16),
    body: &mut B,
    non_temporal: bool,
) {
    // SAFETY: the caller's contract.
    unsafe {
        if non_temporal {
            map_to_half::<V, S, B, U, { super::passes::PREFETCH }, true>(isa, src, format, y, body);
        } else {
            map_to_half::<V, S, B, U, { super::passes::PREFETCH }, false>(
                isa, src, format, y, body,
            );
        }
    }
}

/// Visits every vector of `src` like [`fold`] and stores what the body returns to the 16-bit
/// row `y` at the same offset, rounded to `format` (the [`map`] of rows narrowed as they are
/// written). With `NT`, the elements before `y`'s first alignment to `LANES * 2` bytes are
/// written with a partial store first, the unrolled steps with non-temporal stores, and a
/// fence ends the walk.
///
/// # Safety
/// `y` is writable for `src.len()` values, 2-byte aligned, and equal to the source's row or
/// disjoint from it (each vector is read before it is written).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) unsafe fn map_to_half<
    V: Simd,
    S: Source<V>,
    B: Body<V, S::Item>,
    const U: usize,
    const PF: usize,
    const NT: bool,
>(
    isa: Token<V>,
    src: &S,
    format: Half,
    y: *mut u16,
    body: &mut B,
) {
    let (l, n) = (V::LANES, src.len());
    let step = U * l;
    let mut i = nt_head::<V, u16, NT>(y, n);
    if i > 0 {
        // The head: fewer than `l` elements, read as a tail of the row's first `i`.
        debug_assert!(NT && i < l && i <= n);
        // SAFETY: the first `i <= n` elements of the source and of `y` (the contract).
        unsafe {
            body.take(0, 0, src.part(isa, 0, i))
                .store_half_tail(format, y, i)
        };
    }
    let prefetch = prefetches::<V, S, PF>(isa);
    let pairs = !NT && V::pairs_half(format);
    while i + step <= n {
        if prefetch {
            src.prefetch::<PF>(isa, i, step);
        }
        let mut j = 0;
        while j < U {
            let o = i + j * l;
            if pairs && j + 1 < U {
                // Two vectors narrowed and stored together (one instruction for both where
                // the ISA has it), each taken as the single steps below take it.
                // SAFETY: `o + 2 * l <= i + step <= n`, inside the source and `y` (the
                // contract).
                unsafe {
                    let a = body.take(j, o, src.at(isa, o));
                    let b = body.take(j + 1, o + l, src.at(isa, o + l));
                    if B::NAN_FREE {
                        a.store_half2_no_nan(b, format, y.add(o));
                    } else {
                        a.store_half2(b, format, y.add(o));
                    }
                }
                j += 2;
                continue;
            }
            // SAFETY: `o + l <= i + step <= n`, inside the source and `y` (the contract); with
            // `NT`, `o` is a multiple of `l` past the aligned head, so `y + o` is aligned.
            unsafe {
                let r = body.take(j, o, src.at(isa, o));
                if NT && B::NAN_FREE {
                    r.stream_half_no_nan(format, y.add(o));
                } else if NT {
                    r.stream_half(format, y.add(o));
                } else if B::NAN_FREE {
                    r.store_half_no_nan(format, y.add(o));
                } else {
                    r.store_half(format, y.add(o));
                }
            }
            j += 1;
        }
        body.stepped();
        i += step;
    }
    for j in 0..U {
        match rest(i, n, l, j, B::SPREAD) {
            // SAFETY: `i + l <= n`, inside the source and `y`.
            Rest::Full(j) => unsafe {
                let r = body.take(j, i, src.at(isa, i));
                if B::NAN_FREE {
                    r.store_half_no_nan(format, y.add(i));
                } else {
                    r.store_half(format, y.add(i));
                }
            },
            // SAFETY: `i < n < i + l`: the last `n - i` elements of the source and of `y`.
            Rest::Part(j) => unsafe {
                body.take(j, i, src.part(isa, i, n - i))
                    .store_half_tail(format, y.add(i), n - i)
            },
            Rest::Done => break,
        }
        i += l;
    }
    if NT {
        V::stream_fence(isa);
    }
}
