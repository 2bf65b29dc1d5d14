//! Pass 1 of the two-pass algorithm: the sum of exponentials of a row as a (mantissa,
//! exponent) pair per lane, the extended-exponent sum, in one read of the row from memory.

use super::inputs::Input;
use super::passes::{
    block_sum_src, fold, k_min, pow2_f64, wide_total, Maxima, BLOCK, FOLD, PREFETCH,
};
use super::walk::{self, One, Slice, Source};
use crate::kernels::exp::{shift_for_max, Exp, LARGE};
use crate::kernels::simd::{Simd, Token};

/// Headroom of a lane's shift above the largest exponent seen when it is raised, in binades.
const HEADROOM: f32 = 32.0;
/// How far above its shift a lane accepts inputs before it must be raised, in binades: terms
/// stay below `2^(REACH + 1)`, so a lane's f32 sum (a few terms, see
/// [`FOLD`]) cannot overflow.
const REACH: f32 = 64.0;

/// The lane shifts of [`pair_sum`]: lane `l` holds its sum as `M_l * 2^K_l`.
struct LaneShifts<V> {
    /// `K_l`, integer-valued.
    k: V,
    /// `exp(x - K_l*ln2)` for every lane.
    ex: Exp<V>,
    /// The largest input each lane accepts before `K_l` must grow: `(K_l + REACH)*ln2`.
    hi: V,
}

impl<V: Simd> LaneShifts<V> {
    #[inline(always)]
    fn new(isa: Token<V>, k: V) -> Self {
        LaneShifts {
            k,
            ex: Exp::per_lane(isa, k),
            hi: k
                .add(V::splat(isa, REACH))
                .mul(V::splat(isa, std::f32::consts::LN_2)),
        }
    }

    /// `(S, e)` with `S * 2^e` the sum of every lane's `wide` sum.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn total(&self, wide: V::Wide) -> (f64, f32) {
        let mut k = [0.0f32; 16];
        self.k.to_array(&mut k);
        let e = self.k.reduce_max();
        let mut f = [0.0f64; 16];
        for (f, &k) in f.iter_mut().zip(&k[..V::LANES]) {
            *f = pow2_f64(k - e);
        }
        (wide_total::<V>(V::wide_scale(wide, &f)), e)
    }

    /// Raises the shift of every lane whose running maximum `rmax` passed its `hi` to
    /// `round(rmax*log2(e)) + HEADROOM`, rescaling that lane of the f64 sums by the exact
    /// power of two (the f32 accumulators are empty: they are folded at the end of every
    /// chunk). `None` when a lane's maximum is `LARGE` or more (+inf included): the row takes
    /// the special-value path. Runs once per row for ordinary data.
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn raise(&mut self, isa: Token<V>, rmax: V, wide: &mut V::Wide) -> Option<()> {
        let (mut m, mut k) = ([0.0f32; 16], [0.0f32; 16]);
        rmax.to_array(&mut m);
        self.k.to_array(&mut k);
        let mut f = [1.0f64; 16];
        raise_lanes(V::LANES, &m, &mut k, &mut f)?;
        *wide = V::wide_scale(*wide, &f);
        // SAFETY: `k` holds 16 >= LANES values.
        *self = Self::new(isa, unsafe { V::load(isa, k.as_ptr()) });
        Some(())
    }
}

/// The scalar part of [`LaneShifts::raise`]: new shifts `k` for the lane maxima `m`, and the
/// factors `2^(k_old - k_new)` for the sums.
#[cold]
#[inline(never)]
fn raise_lanes(lanes: usize, m: &[f32; 16], k: &mut [f32; 16], f: &mut [f64; 16]) -> Option<()> {
    for (lane, &m) in m[..lanes].iter().enumerate() {
        if m >= LARGE {
            return None;
        }
        let want = shift_for_max(m) + HEADROOM;
        // NaN lanes compare false and keep their shift (the NaN reaches the sums).
        if want > k[lane] {
            f[lane] = pow2_f64(k[lane] - want);
            k[lane] = want;
        }
    }
    Some(())
}

/// Groups of `U` vectors per chunk of [`pair_sum`]. Sweep on Zen 4 with the degree-5
/// exponential (log-sum-exp, AVX2 with U=3, elements/ns at 16K | 16M floats): 4 groups 4.80 |
/// 4.63, 8 groups 4.85 | 4.59-4.69, against 4.47 | 3.80 for the blocked sum and 3.18 | 3.13 for
/// the per-element (M, E) update of the paper. AVX-512 (U=4): 8 groups 5.53 | 4.73, 4 groups
/// 5.72 | 4.60, per-element 4.43 | 4.30.
const CHUNK_GROUPS: usize = 8;

/// Pass 1 of the two-pass algorithm (Dukhan & Ablavatski): `sum_i e^x_i` as a (mantissa,
/// exponent) pair, in one read of the row from memory.
///
/// Every lane `l` keeps its partial sum as `M_l * 2^K_l` and adds `e^x * 2^-K_l`, which is an
/// ordinary exponential with the integer `K_l` folded into the exponent trick (no extra
/// instruction). The paper raises the exponent to every element's own; here `K_l` moves only
/// when an input would exceed `2^K_l` by [`REACH`] binades, and then jumps [`HEADROOM`]
/// binades above that input's exponent, so an ordinary row sets it once. Whether it must move
/// is checked per chunk of `CHUNK_GROUPS * U` vectors: the lane maxima of the chunk first
/// (the chunk then sits in L1 for its second read), then the exponentials, whose loop is as
/// short as a plain sum of exponentials.
///
/// Inputs more than about 126 binades below `2^K_l` (so at least 94 below the lane's largest)
/// are clamped there ([`Exp::eval_add`]): each adds at most `2^-125` in units of `2^K_l`
/// (0 in the polynomial form), at most `2^-101` for 2^24 of them, against a lane sum of at
/// least `2^-33`. The f32 accumulators fold into per-lane f64 sums every
/// [`FOLD`] steps and at the end of every chunk
/// ([`fold`]), so a raise rescales only the f64 sums, and long rows and
/// rows of equal terms stay accurate.
///
/// Returns `(S, k)` with `sum_i e^{x_i} = S * 2^k`, `k = round(max * log2(e))`, or `None`
/// when the row needs the special-value path (NaN, infinities, or a maximum magnitude of
/// `LARGE` or more).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn pair_sum<V: Simd, const U: usize>(
    isa: Token<V>,
    inp: &impl Input<V>,
    x: &[f32],
) -> Option<(f64, f32)> {
    pair_sum_src::<V, U, _>(isa, &One::new(inp, x, f32::NEG_INFINITY))
}

/// Rows of at most this many elements (four blocks, 32 KiB of f32) take the blocked sum ([`block_sum_src`]) for
/// pass 1: a maximum pass and a sum pass per block of 2048 cost less than the lane shifts'
/// per-chunk checks and final rescaling, and the second read of a block still hits L1.
/// Zen 5, AVX-512, batches through `softmax_logsumexp_rows_f32` (elements/ns, one run of
/// `scripts/compare-xnnpack.sh`, lane shifts above one chunk of 512 | blocked up to 8192):
/// 512 x 1024 7.65 | 9.21, 256 x 2048 9.20 | 10.27, 128 x 4096 10.06 | 10.63, 512 x 1000
/// 7.26 | 8.72 (log-softmax, which takes the same pass: 5.46 | 5.57).
pub(crate) const BLOCKED_MAX: usize = 4 * BLOCK;

/// [`pair_sum`] over any source whose lanes past the end read as `-inf` (an f32 row through
/// an input transform, or a 16-bit row, which then gives the sum of its widened values bit
/// for bit): [`block_sum_src`] up to [`BLOCKED_MAX`] elements, the lane shifts above.
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn pair_sum_src<V: Simd, const U: usize, S: Source<V, Item = V> + Slice>(
    isa: Token<V>,
    src: &S,
) -> Option<(f64, f32)> {
    if src.len() <= BLOCKED_MAX {
        return block_sum_src::<V, U, _>(isa, src);
    }
    pair_sum_chunks::<V, U, _>(isa, src)
}

/// [`pair_sum`] of a row of more than [`BLOCKED_MAX`] elements read through any source whose lanes past
/// the end read as `-inf` (an f32 row through an input transform, or a 16-bit row).
#[cfg_attr(debug_assertions, inline(never))]
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn pair_sum_chunks<V: Simd, const U: usize, S: Source<V, Item = V> + Slice>(
    isa: Token<V>,
    src: &S,
) -> Option<(f64, f32)> {
    let step = U * V::LANES;
    // Below every row of the fast path; the first chunk sets the shift from its maximum.
    let floor = k_min() - 2.0 * REACH;
    let mut sh = LaneShifts::new(isa, V::splat(isa, floor));
    let mut first = true;
    let mut rmax = V::splat(isa, f32::NEG_INFINITY);
    let mut wide = V::wide_zero(isa);
    let (l, n) = (V::LANES, src.len());
    let mut acc = [V::splat(isa, 0.0); U];
    let mut c0 = 0;
    while c0 < n {
        let cend = n.min(c0 + CHUNK_GROUPS * step);
        let part = src.slice(c0, cend);
        let mut mx = Maxima([rmax; U]);
        walk::fold::<V, _, _, U, PREFETCH>(isa, &part, &mut mx);
        for m in &mx.0 {
            rmax = V::max(rmax, *m);
        }
        if first {
            // Nothing is summed yet: one shift for every lane from the chunk's maximum. (A
            // NaN input makes the sums NaN, which sends the row to the special path.)
            first = false;
            let m = rmax.reduce_max();
            if m >= LARGE {
                return None;
            }
            sh = LaneShifts::new(isa, V::splat(isa, (shift_for_max(m) + HEADROOM).max(floor)));
        } else if V::any_gt(rmax, sh.hi) {
            sh.raise(isa, rmax, &mut wide)?;
        }
        // The chunk again (now in L1): the exponentials against the lane shifts. Written out
        // rather than as a walk with an `ExpSum` body: that form measured about 10% slower on
        // AVX-512 (log-sum-exp at 64K-1M floats: 6.5-7.1 against 7.6-8.1 elements/ns; AVX2
        // unchanged), and this loop is the whole cost of pass 1.
        let mut i = c0;
        let mut steps = 0;
        while i + step <= cend {
            for (j, a) in acc.iter_mut().enumerate() {
                // SAFETY: `i + step <= cend <= n`: inside the row.
                *a = sh.ex.eval_add(unsafe { src.at(isa, i + j * l) }, *a);
            }
            i += step;
            steps += 1;
            if steps == FOLD {
                fold(isa, &mut acc, &mut wide);
                steps = 0;
            }
        }
        let mut j = 0;
        while i < cend {
            // SAFETY: `i < cend <= n`: a full vector inside the row, or its last `cend - i`.
            let v = unsafe {
                if i + l <= cend {
                    src.at(isa, i)
                } else {
                    src.part(isa, i, cend - i)
                }
            };
            acc[j] = sh.ex.eval_add(v, acc[j]);
            i += l;
            j += 1;
        }
        fold(isa, &mut acc, &mut wide);
        c0 = cend;
    }
    let (total, e_total) = sh.total(wide);
    let m = rmax.reduce_max();
    if m.is_nan() || m >= LARGE || !total.is_finite() {
        return None;
    }
    let k = shift_for_max(m);
    // `e_total - k` is within [-REACH, HEADROOM]: the lane of the maximum was raised to it.
    (k > k_min()).then(|| (total * pow2_f64(e_total - k), k))
}
