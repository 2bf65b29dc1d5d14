//! Step 2 of the tile path for `5 <= k <= 8`: the `k` largest entries of every lane by sort
//! keys and selection networks.
//!
//! Carrying positions beside values through compare-and-blend insertions costs a compare and
//! four blends per slot and column. Here each entry becomes one signed 32-bit key
//! ([`Simd::order_key`]): its value's encoding, ordered as the values are, with the low `b`
//! bits (`2^b >= n`) replaced by `2^b - 1 - position`. Keys are distinct, and a larger key
//! is a larger value or, between values that agree in all but their low `b` bits, a lower
//! position. Integer maxima and minima then sort them, and the position comes back from the
//! low bits:
//!
//! 1. every group of 8 columns is sorted by an odd-even merge network (19 compare-exchanges);
//! 2. the best 8 so far and a sorted group are merged by a bitonic step: `max(best[j],
//!    group[7 - j])` holds the best 8 of both in bitonic order, and 12 compare-exchanges sort
//!    it; for `k = 8` the largest of the discarded `min(best[j], group[7 - j])` is kept
//!    too, so the 9th largest key is known at the end;
//! 3. the columns after the last whole group are inserted one by one.
//!
//! **When the keys order as the values.** Cutting the low bits is exact in a lane whose
//! entries all have those bits clear (rows of bf16 or f16 values widened to f32, or of
//! values with few significant bits): the keys then order by value, ties by position, which
//! is the rule. In any other lane, two keys with equal high bits may come from different
//! values in either order. Such a lane is handed back when the last selected key shares its
//! high bits with the next one, or two selected keys next to each other share them and their
//! values differ. Otherwise every key below the selection has lower high bits than every
//! selected key, so it holds a smaller value: the selection is right; and within it, keys
//! with equal high bits hold equal values, ordered by position: its order is right too. For
//! rows of distinct f32 values this almost never happens: two of the `k + 1` largest would
//! have to lie within `2^b` encodings of each other.

use super::column;
use crate::kernels::simd::{Simd, Token};

/// A sorting network over 8 keys as straight-line code (a loop over a table of pairs keeps
/// the keys in memory), and its pairs for the tests.
macro_rules! network {
    ($(#[$doc:meta])* $name:ident, $pairs:ident: [$(($i:literal, $j:literal)),* $(,)?]) => {
        $(#[$doc])*
        #[inline(always)]
        fn $name<V: Simd>(s: &mut [V; 8]) {
            $(exchange(s, $i, $j);)*
        }
        #[cfg(test)]
        const $pairs: &[(usize, usize)] = &[$(($i, $j)),*];
    };
}

/// Puts the larger key of `s[i]`, `s[j]` at `i`.
#[inline(always)]
fn exchange<V: Simd>(s: &mut [V; 8], i: usize, j: usize) {
    let (a, b) = (s[i], s[j]);
    s[i] = V::key_max(a, b);
    s[j] = V::key_min(a, b);
}

network!(
    /// Sorts 8 keys into descending order: the odd-even merge network (19 exchanges).
    sort8,
    SORT8: [
        (0, 1), (2, 3), (4, 5), (6, 7),
        (0, 2), (1, 3), (4, 6), (5, 7),
        (1, 2), (5, 6),
        (0, 4), (1, 5), (2, 6), (3, 7),
        (2, 4), (3, 5),
        (1, 2), (3, 4), (5, 6),
    ]
);

network!(
    /// Sorts 8 keys in bitonic order into descending order: half-cleaners of 8, 4 and 2.
    bitonic8,
    BITONIC8: [
        (0, 4), (1, 5), (2, 6), (3, 7),
        (0, 2), (1, 3), (4, 6), (5, 7),
        (0, 1), (2, 3), (4, 5), (6, 7),
    ]
);

/// The key of column `c`, tagged `low - c`.
#[inline(always)]
fn key<V: Simd>(isa: Token<V>, cols: &[f32], c: usize, low: u32) -> V {
    column(isa, cols, c).order_key(low, low - c as u32)
}

/// The `k` (`5..=8`; `NINTH` when 8) largest of the first `n` columns of every lane, in
/// descending order, equal values by position, into `top[..k]` and their positions (as
/// integers, in the lanes' bits) into `pos[..k]`. Returns the mask of the lanes handed back (see the module's notes);
/// their slots are unspecified.
#[inline(always)]
pub(super) fn select<V: Simd, const NINTH: bool>(
    isa: Token<V>,
    cols: &[f32],
    n: usize,
    k: usize,
    top: &mut [V; 8],
    pos: &mut [V; 8],
) -> u32 {
    let l = V::LANES;
    debug_assert!((5..=8).contains(&k) && NINTH == (k == 8) && k <= n && n <= cols.len() / l);
    // Positions below `2^b`, tagged `low - position`.
    let low = (n.next_power_of_two() - 1) as u32;
    // `i32::MIN`: below every key.
    let none = V::splat(isa, -0.0);
    let mut best = [none; 8];
    let mut next = none;
    let whole = n / 8 * 8;
    let mut c = 0;
    while c < whole {
        let mut g = [none; 8];
        for (i, g) in g.iter_mut().enumerate() {
            *g = key(isa, cols, c + i, low);
        }
        sort8(&mut g);
        if c == 0 {
            best = g;
        } else {
            for j in 0..8 {
                let (a, b) = (best[j], g[7 - j]);
                best[j] = V::key_max(a, b);
                if NINTH {
                    next = V::key_max(next, V::key_min(a, b));
                }
            }
            bitonic8(&mut best);
        }
        c += 8;
    }
    for c in whole..n {
        let mut x = key(isa, cols, c, low);
        for b in best.iter_mut() {
            let hi = V::key_max(*b, x);
            x = V::key_min(*b, x);
            *b = hi;
        }
        if NINTH {
            next = V::key_max(next, x);
        }
    }
    // Positions and values of the `k` largest keys.
    let last = V::splat(isa, f32::from_bits(n as u32 - 1));
    for j in 0..k {
        // Never past the last column, even for a key no entry gave (it names none).
        let at = V::key_min(best[j].masked_xor(low, low), last);
        // SAFETY: positions are below `n <= cols.len() / LANES`: every element read is
        // inside `cols`.
        top[j] = unsafe { V::gather_lanes(isa, cols.as_ptr(), at) };
        pos[j] = at;
    }
    // Two selected keys sharing their high bits are in the right order when their values
    // are equal (the tags then order them by position); the last selected key sharing them
    // with the next one may leave out a larger value further down, whatever the two values.
    let below = if k < 8 { best[k] } else { next };
    let mut shared = V::bits_eq_mask(best[k - 1], below, low);
    for j in 0..k - 1 {
        let differ = V::gt_mask(top[j], top[j + 1]) | V::gt_mask(top[j + 1], top[j]);
        shared |= V::bits_eq_mask(best[j], best[j + 1], low) & differ;
    }
    if shared == 0 {
        return 0;
    }
    // Lanes whose entries all have the low bits clear: there the keys lose nothing.
    let mut seen = V::splat(isa, 0.0);
    for c in 0..n {
        seen = V::or_bits(seen, column(isa, cols, c));
    }
    shared & !V::bits_eq_mask(seen, V::splat(isa, 0.0), !low)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The networks sort every sequence of 0s and 1s (the 0-1 principle: then they sort
    /// every sequence).
    #[test]
    fn networks_sort_every_sequence_of_zeros_and_ones() {
        let run = |net: &[(usize, usize)], s: &mut [u8; 8]| {
            for &(i, j) in net {
                let (a, b) = (s[i], s[j]);
                s[i] = a.max(b);
                s[j] = a.min(b);
            }
        };
        for bits in 0u32..256 {
            let mut s: [u8; 8] = core::array::from_fn(|i| (bits >> i) as u8 & 1);
            run(SORT8, &mut s);
            assert!(s.windows(2).all(|w| w[0] >= w[1]), "sort {bits:08b}: {s:?}");
        }
        // Bitonic inputs: descending then ascending, or ascending then descending, rotated.
        for ones in 0..=8 {
            for start in 0..8 {
                for up in [false, true] {
                    let mut s = [0u8; 8];
                    for i in 0..ones {
                        s[(start + i) % 8] = 1;
                    }
                    if up {
                        s.iter_mut().for_each(|v| *v ^= 1);
                    }
                    run(BITONIC8, &mut s);
                    assert!(s.windows(2).all(|w| w[0] >= w[1]), "bitonic {s:?}");
                }
            }
        }
    }
}
