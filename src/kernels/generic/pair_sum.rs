//! Pass 1 of the two-pass algorithm: the sum of exponentials of a row as a (mantissa,
//! exponent) pair, in one read of the row from memory.

use super::inputs::Input;
use super::passes::{
    block_sum_src, fold, k_min, pairwise_in_place, pow2_f64, wide_total, BLOCK, FOLD, PREFETCH,
};
use super::walk::{self, One, Slice, Source};
use crate::kernels::exp::{shift_for_max, Exp, LARGE};
use crate::kernels::simd::{Simd, Token};

/// How far above the shift `K` the inputs may reach before `K` must grow, in binades: terms
/// stay below `2^(REACH + 1)`, so the f32 sums (a few terms each, see [`FOLD`]) cannot
/// overflow.
pub(crate) const REACH: f32 = 64.0;

/// Pass 1 of the two-pass algorithm (Dukhan & Ablavatski): `sum_i e^x_i` as a (mantissa,
/// exponent) pair, in one read of the row from memory.
///
/// The paper moves the exponent to every element's own. Here, on ISAs with
/// [`Simd::ONE_LOOP_SUM`], one shift `K` holds for the whole row unless an input exceeds `2^K`
/// by [`REACH`] binades ([`pair_sum_src`]), so each element costs one exponential (with `K`
/// folded into the exponent trick: no extra instruction), one add and one maximum; on the
/// others each block of 2048 has its own shift from a maximum pass, and is summed from L1.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn pair_sum<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
) -> Option<(f64, f32)> {
    pair_sum_src::<V, U, _>(isa, &One::new(inp, x, f32::NEG_INFINITY))
}

/// Rows of at most this many elements (four blocks, 32 KiB of f32): the 16-bit kernels
/// widen such a row into an f32 buffer on the stack before pass 1 (see `half_rows`).
pub(crate) const BLOCKED_MAX: usize = 4 * BLOCK;

/// Whether [`pair_sum_src`] sums a row of `n` elements in its one loop: with
/// [`Simd::ONE_LOOP_SUM`], past [`Simd::ONE_LOOP_MIN`] elements.
#[inline(always)]
pub(crate) fn one_loop<V: Simd>(n: usize) -> bool {
    V::ONE_LOOP_SUM && n > V::ONE_LOOP_MIN
}

/// Steps of `U` vectors per chunk of [`pair_sum_src`]'s one loop: 2048 elements with AVX-512,
/// 512 on NEON. A chunk is what a raise of the shift sums again; every medium row
/// ([`medium`](super::medium)) is one chunk.
pub(crate) const CHUNK_STEPS: usize = 32;

/// [`pair_sum`] over any source whose lanes past the end read as `-inf` (an f32 row through
/// an input transform, or a 16-bit row, which then gives the sum of its widened values bit
/// for bit).
///
/// On ISAs without [`Simd::ONE_LOOP_SUM`] (AVX2, portable), and for rows of up to
/// [`Simd::ONE_LOOP_MIN`] elements: the blocked sum ([`block_sum_src`]). Otherwise one shift
/// `K` for the whole row, which starts at the first vector's maximum (`round(m0*log2(e))`);
/// every element adds `exp(x - K*ln2)` to its accumulator and goes into a running maximum,
/// in the same loop. After each chunk of [`CHUNK_STEPS`] steps, if
/// the chunk held an input more than [`REACH`] binades above `2^K`, its terms may have
/// overflowed: the chunk's part of the sums is dropped, `K` moves to the running maximum's
/// shift (the f64 sums rescaled by the exact power of two), and the chunk is summed again.
/// An ordinary row never raises `K`; a row whose maximum is far above its first vector's
/// raises it once. The running maximum then gives the row's `k`, and the sum is rescaled to
/// it.
///
/// `K` never exceeds `k` (it is the shift of an input's maximum, or of the first vector's),
/// so every term is the blocked sum's term times the exact power of two `2^(k - K)`: the same
/// roundings, for every term above the underflow clamp `(k - 126)*ln2`. Terms below it (more
/// than 87 below the maximum) are each at most `2^-125` of the sum and are clamped at `K`'s
/// threshold instead of `k`'s.
///
/// Returns `(S, k)` with `sum_i e^{x_i} = S * 2^k`, `k = round(max * log2(e))`, or `None`
/// when the row needs the special-value path (NaN, infinities, or a maximum magnitude of
/// `LARGE` or more).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn pair_sum_src<V: Simd, const U: usize, S: Source<V, Item = V> + Slice>(
    isa: Token<V>,
    src: &S,
) -> Option<(f64, f32)> {
    let (l, n) = (V::LANES, src.len());
    if !one_loop::<V>(n) {
        // Empty rows too (`None`).
        return block_sum_src::<V, U, _>(isa, src);
    }
    // SAFETY: the first `min(n, l)` elements are inside the row.
    let first = unsafe {
        if n >= l {
            src.at(isa, 0)
        } else {
            src.part(isa, 0, n)
        }
    };
    let kmin = k_min();
    let m0 = first.reduce_max();
    if m0.is_nan() || m0 >= LARGE {
        return None;
    }
    let mut sh = Shift::new(isa, shift_for_max(m0).max(kmin));
    let mut rmax = V::splat(isa, f32::NEG_INFINITY);
    let mut wide = V::wide_zero(isa);
    let chunk = CHUNK_STEPS * U * l;
    let mut c0 = 0;
    while c0 < n {
        let cend = n.min(c0 + chunk);
        let before = wide;
        let mut cm = rmax;
        sum_chunk::<V, U, S>(isa, src, (c0, cend), &sh.ex, &mut cm, &mut wide);
        if V::any_gt(cm, sh.hi) {
            // Rare: drop the chunk's terms and sum it again against the raised shift.
            let m = cm.reduce_max();
            let k = shift_for_max(m);
            // (`reduce_max` may miss the lane above `hi` when another lane is NaN.)
            if m.is_nan() || m >= LARGE || k <= sh.k {
                return None;
            }
            wide = V::wide_scale(before, &[pow2_f64(sh.k - k); 16]);
            sh = Shift::new(isa, k);
            cm = rmax;
            sum_chunk::<V, U, S>(isa, src, (c0, cend), &sh.ex, &mut cm, &mut wide);
        }
        rmax = cm;
        c0 = cend;
    }
    let total = wide_total::<V>(wide);
    let m = rmax.reduce_max();
    if m.is_nan() || m >= LARGE || !total.is_finite() {
        return None;
    }
    let k = shift_for_max(m).max(kmin);
    // `k - K` is within [0, REACH + 1] (no input is above `(K + REACH)*ln2`), unless a NaN
    // hid lanes from the maxima and was clamped away from the sums.
    (k > kmin && k >= sh.k).then(|| (total * pow2_f64(sh.k - k), k))
}

/// The shift `K` of [`pair_sum_src`] with its exponential and its limit.
struct Shift<V> {
    /// `K`, integer-valued.
    k: f32,
    /// `exp(x - K*ln2)`.
    ex: Exp<V>,
    /// The largest input accepted before `K` must grow: `(K + REACH)*ln2`.
    hi: V,
}

impl<V: Simd> Shift<V> {
    #[inline(always)]
    fn new(isa: Token<V>, k: f32) -> Self {
        Shift {
            k,
            ex: Exp::new(isa, k, 1.0),
            hi: V::splat(isa, (k + REACH) * std::f32::consts::LN_2),
        }
    }
}

/// Adds `exp(x - K*ln2)` for the elements `c0..c1` of `src` into `wide` (f32 accumulators
/// folded every [`FOLD`] steps and at the end) and their maximum into `cm`.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
fn sum_chunk<V: Simd, const U: usize, S: Source<V, Item = V>>(
    isa: Token<V>,
    src: &S,
    (c0, c1): (usize, usize),
    ex: &Exp<V>,
    cm: &mut V,
    wide: &mut V::Wide,
) {
    let l = V::LANES;
    let step = U * l;
    let prefetch = walk::prefetches::<V, S, PREFETCH>(isa);
    let mut acc = [V::splat(isa, 0.0); U];
    let (mut i, mut steps) = (c0, 0);
    while i + step <= c1 {
        if prefetch {
            src.prefetch::<PREFETCH>(isa, i, step);
        }
        let mut v = [V::splat(isa, 0.0); U];
        for (j, (a, v)) in acc.iter_mut().zip(&mut v).enumerate() {
            // SAFETY: `i + step <= c1 <= n`: inside the row.
            *v = unsafe { src.at(isa, i + j * l) };
            *a = ex.eval_add(*v, *a);
        }
        pairwise_in_place!(v, U, V::max);
        *cm = V::max(*cm, v[0]);
        i += step;
        steps += 1;
        if steps == FOLD {
            fold(isa, &mut acc, wide);
            steps = 0;
        }
    }
    // Fewer than `U` vectors are left, the last perhaps partial: accumulators 0, 1, ...
    for a in acc.iter_mut() {
        if i >= c1 {
            break;
        }
        // SAFETY: `i < c1 <= n`: a full vector inside the row, or its last `c1 - i`.
        let v = unsafe {
            if i + l <= c1 {
                src.at(isa, i)
            } else {
                src.part(isa, i, c1 - i)
            }
        };
        *a = ex.eval_add(v, *a);
        *cm = V::max(*cm, v);
        i += l;
    }
    fold(isa, &mut acc, wide);
}
