//! The vector abstraction every ISA implements.
//!
//! The algorithms in [`super::generic`] are written once against [`Simd`]; each ISA module
//! implements it with its own intrinsics and instantiates the algorithms from one
//! `#[target_feature]` entry point per operation (see [`super::kernel_table`]). Every method is
//! `#[inline(always)]` so the whole kernel is compiled inside that entry point with the ISA's
//! features enabled.
//!
//! Arithmetic is safe to call: a vector can only be made by a method that takes a [`Token`]
//! (which only detection, or an `unsafe` constructor, creates) or another vector of the same
//! ISA, so holding one proves the ISA is available. Only the methods that read or write memory
//! through a pointer are `unsafe`.
//!
//! Besides `f32` rows, the vectors load and store rows of the 16-bit formats of
//! [`Half`] (`load_half`, `store_half` and their tail forms), converting in the
//! register: a kernel reads or writes f16/bf16 memory with no f32 copy of the row. `format` is
//! a plain argument; the generic code calls these methods with a constant one (one
//! instantiation per format), so the `match` on it disappears once inlined.

use core::marker::PhantomData;

use super::convert::Half;

/// Zero-sized proof that the ISA of the vector type `V` is available on the running CPU.
pub(crate) struct Token<V>(PhantomData<fn() -> V>);

impl<V> Clone for Token<V> {
    #[inline(always)]
    fn clone(&self) -> Self {
        *self
    }
}

impl<V> Copy for Token<V> {}

impl<V: Simd> Token<V> {
    /// The token, without checking.
    ///
    /// # Safety
    ///
    /// `V`'s ISA must be available on the running CPU (the kernel entry points are reachable
    /// only through a table that [`crate::dispatch`] hands out after detection).
    #[inline(always)]
    pub(crate) const unsafe fn new_unchecked() -> Self {
        Token(PhantomData)
    }

    /// The token when the running CPU has `V`'s ISA.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn detect() -> Option<Self> {
        // SAFETY: the ISA was just detected.
        V::available().then(|| unsafe { Self::new_unchecked() })
    }
}

/// One SIMD register of `f32` lanes.
///
/// # Safety
///
/// Implementations must make a value of `Self` or `Self::Wide` exist only on a CPU that has
/// the ISA: every method that returns one takes a [`Token`], a `Self` or a `Self::Wide`, and
/// the types have no other constructor outside their ISA module. The safe methods then only
/// execute instructions that the value proves available. The `unsafe` ones additionally
/// dereference their pointer arguments, under the contract spelled out on each.
pub(crate) unsafe trait Simd: Copy {
    /// Number of `f32` lanes.
    const LANES: usize;
    /// Which form of the exponential the kernels use: the eighths table
    /// ([`Simd::pow2_eighths`]) or the degree-5 polynomial ([`Simd::pow2_from_magic`]); see
    /// [`super::exp`].
    const EXP_TABLE: bool;
    /// How pass 1 of two-pass sums a row ([`pair_sum_src`](super::generic::pair_sum::pair_sum_src)):
    /// in one loop that also keeps the running maximum, against one shift for the row (true),
    /// or per block of 2048, a maximum pass and then a sum pass read from L1 (false). The one
    /// loop needs about 13 registers beyond its accumulators: with 32 registers it is the
    /// faster, with 16 (AVX2) its constants are reloaded every step and the blocks are faster.
    const ONE_LOOP_SUM: bool;
    /// With [`Self::ONE_LOOP_SUM`], rows of up to this many elements still take the blocks
    /// (one block: a maximum pass and a sum pass), where the one loop's fixed costs (the
    /// first vector's shift, the rescaling of the lanes) outweigh a pass over a row in L1.
    const ONE_LOOP_MIN: usize = 0;
    /// Vector registers of the ISA (how many vectors a loop can keep live without spills).
    const REGISTERS: usize;

    /// Whether the running CPU has the ISA (the dispatcher's detection).
    fn available() -> bool;
    /// The token of this vector's ISA: holding a vector proves it.
    #[inline(always)]
    fn token(self) -> Token<Self> {
        // SAFETY: a vector exists only where its ISA is available (the trait's contract).
        unsafe { Token::new_unchecked() }
    }

    /// A vector with every lane set to `v`.
    fn splat(t: Token<Self>, v: f32) -> Self;
    /// Loads `LANES` values from `p` (no alignment needed).
    ///
    /// # Safety
    /// `p..p + LANES` must be readable.
    unsafe fn load(t: Token<Self>, p: *const f32) -> Self;
    /// Loads the first `n < LANES` values from `p` and sets the other lanes to `fill`.
    /// Never touches memory past `p + n`.
    ///
    /// # Safety
    /// `p..p + n` must be readable.
    unsafe fn load_tail(t: Token<Self>, p: *const f32, n: usize, fill: f32) -> Self;
    /// Stores all lanes to `p` (no alignment needed).
    ///
    /// # Safety
    /// `p..p + LANES` must be writable.
    unsafe fn store(self, p: *mut f32);
    /// Stores the first `n < LANES` lanes to `p`; memory past `p + n` is untouched.
    ///
    /// # Safety
    /// `p..p + n` must be writable.
    unsafe fn store_tail(self, p: *mut f32, n: usize);
    /// Loads `LANES` values of a 16-bit `format` from `p` (no alignment needed), widened to
    /// f32 with the bits of [`convert`](super::convert)'s scalar functions (exact; an f16 NaN
    /// made quiet, a bf16 NaN kept as it is).
    ///
    /// # Safety
    /// `p..p + LANES` must be readable.
    unsafe fn load_half(t: Token<Self>, format: Half, p: *const u16) -> Self;
    /// Loads the first `n < LANES` values of `format` from `p`, widened as by
    /// [`Simd::load_half`], and sets the other lanes to `fill`. Never touches memory past
    /// `p + n`.
    ///
    /// # Safety
    /// `p..p + n` must be readable.
    unsafe fn load_half_tail(
        t: Token<Self>,
        format: Half,
        p: *const u16,
        n: usize,
        fill: f32,
    ) -> Self;
    /// Rounds the lanes to `format` (nearest, ties to even, with the bits of
    /// [`convert`](super::convert)'s scalar functions, NaNs included) and stores them to `p`
    /// (no alignment needed).
    ///
    /// # Safety
    /// `p..p + LANES` must be writable.
    unsafe fn store_half(self, format: Half, p: *mut u16);
    /// [`Simd::store_half`] of lanes that hold no NaN (the caller knows), with the same bits;
    /// ISAs whose rounding fixes up NaN lanes separately skip that step.
    ///
    /// # Safety
    /// `p..p + LANES` must be writable.
    #[inline(always)]
    unsafe fn store_half_no_nan(self, format: Half, p: *mut u16) {
        debug_assert!(!has_nan(self));
        // SAFETY: the caller's contract.
        unsafe { self.store_half(format, p) }
    }
    /// Whether [`Simd::store_half2`] narrows two vectors of `format` in one instruction (so
    /// that a loop should hand it pairs; elsewhere each vector is stored as it is made).
    #[inline(always)]
    fn pairs_half(_format: Half) -> bool {
        false
    }
    /// [`Simd::store_half`] of two vectors, `self` to `p` and `next` to `p + LANES`: the same
    /// bits. ISAs that narrow two vectors in one instruction override it.
    ///
    /// # Safety
    /// `p..p + 2 * LANES` must be writable.
    #[inline(always)]
    unsafe fn store_half2(self, next: Self, format: Half, p: *mut u16) {
        // SAFETY: the caller's contract.
        unsafe {
            self.store_half(format, p);
            next.store_half(format, p.add(Self::LANES));
        }
    }
    /// [`Simd::store_half2`] of lanes that hold no NaN, as [`Simd::store_half_no_nan`].
    ///
    /// # Safety
    /// `p..p + 2 * LANES` must be writable.
    #[inline(always)]
    unsafe fn store_half2_no_nan(self, next: Self, format: Half, p: *mut u16) {
        // SAFETY: the caller's contract.
        unsafe {
            self.store_half_no_nan(format, p);
            next.store_half_no_nan(format, p.add(Self::LANES));
        }
    }
    /// Stores the first `n < LANES` lanes to `p`, rounded as by [`Simd::store_half`]; memory
    /// past `p + n` is untouched.
    ///
    /// # Safety
    /// `p..p + n` must be writable.
    unsafe fn store_half_tail(self, format: Half, p: *mut u16, n: usize);
    /// [`Simd::store_half`] with a non-temporal store where the ISA has one (a plain store
    /// elsewhere).
    ///
    /// # Safety
    /// `p..p + LANES` must be writable and `p` aligned to `LANES * 2` bytes.
    #[inline(always)]
    unsafe fn stream_half(self, format: Half, p: *mut u16) {
        debug_assert!((p as usize).is_multiple_of(Self::LANES * 2));
        // SAFETY: the caller's contract.
        unsafe { self.store_half(format, p) }
    }
    /// [`Simd::stream_half`] of lanes that hold no NaN, as [`Simd::store_half_no_nan`].
    ///
    /// # Safety
    /// As [`Simd::stream_half`].
    #[inline(always)]
    unsafe fn stream_half_no_nan(self, format: Half, p: *mut u16) {
        debug_assert!(!has_nan(self));
        // SAFETY: the caller's contract.
        unsafe { self.stream_half(format, p) }
    }
    /// Non-temporal store of all lanes. Implementations without such stores use a plain
    /// store.
    ///
    /// # Safety
    /// `p..p + LANES` must be writable and `p` aligned to `LANES * 4` bytes.
    unsafe fn stream(self, p: *mut f32);
    /// Orders earlier non-temporal stores before later stores (a no-op where `stream` is a
    /// plain store).
    fn stream_fence(t: Token<Self>);
    /// Hints that the cache line holding `p` will be read soon. `p` need not be valid (a
    /// prefetch never faults).
    fn prefetch(t: Token<Self>, p: *const f32);
    /// Whether whole-row loops should prefetch ahead on this CPU (decided once, for every ISA
    /// that prefetches: [`crate::tuning::prefetch`]).
    #[inline(always)]
    fn prefetching(_t: Token<Self>) -> bool {
        crate::tuning::prefetch()
    }

    /// Lane-wise `a + b`.
    fn add(self, b: Self) -> Self;
    /// Lane-wise `a - b`.
    fn sub(self, b: Self) -> Self;
    /// Lane-wise `a * b`.
    fn mul(self, b: Self) -> Self;
    /// Lane-wise fused `a * b + c`, rounded once.
    fn fma(a: Self, b: Self, c: Self) -> Self;
    /// Lane-wise `a / b`, correctly rounded (IEEE division: `x / inf = 0`, `x / 0 = inf`).
    fn div(self, b: Self) -> Self;
    /// Splits a positive, normal, finite `v` into `(m, e)` with `v = m * 2^e` exactly, `m` in
    /// `[sqrt(1/2), sqrt(2))` and `e` an integer-valued float (the range a logarithm wants:
    /// `ln m` is small on both sides of 0). Integer arithmetic on the bits: subtract the bits
    /// of `sqrt(1/2)` (`0x3f3504f3`), shift the exponent out (arithmetic), and add them back
    /// to the mantissa field. Other inputs give unspecified (but harmless) lanes.
    fn split_exp(self) -> (Self, Self);
    /// Lane-wise maximum. When `b` is NaN the lane is NaN; when only `a` is NaN the lane may
    /// be either value (x86 returns `b`, NEON returns NaN). Kernels clamp with
    /// `max(bound, x)` so a NaN input stays NaN.
    fn max(a: Self, b: Self) -> Self;
    /// Lane-wise minimum, with the NaN rule of [`Simd::max`].
    fn min(a: Self, b: Self) -> Self;
    /// The exponent-field trick: reinterprets `t` as integers, shifts each left by 23 bits
    /// and reinterprets the result as `f32`. For `t = 1.5 * 2^23 + 127 + k` with integer
    /// `k` in `[-127, 128]` this is exactly `2^k` (and `0.0` for `k = -127`).
    fn pow2_from_magic(t: Self) -> Self;
    /// `2^(m/8)` from the integer `m` in the low bits of `t = 1.5 * 2^23 + m` (the magic-bias
    /// trick, `|m| < 2^22`): the table entry [`EIGHTHS`](super::exp::EIGHTHS)`[m & 7]` (picked
    /// by the low three bits of `t`) plus the bits of `t` shifted left by 20, as integers.
    /// Exact (up to the table's rounding) while `floor(m/8)` is in `[-126, 127]`.
    fn pow2_eighths(t: Self) -> Self;
    /// `v` where `x >= lo` or `x` is NaN, `+0.0` where `x < lo`.
    fn zero_below(v: Self, x: Self, lo: Self) -> Self;
    /// `a` where `x >= lo`, `b` where not (or where either is NaN).
    fn pick_ge(x: Self, lo: Self, a: Self, b: Self) -> Self;
    /// `self + e` where `x >= lo`, `self` where not (or where either is NaN).
    fn add_ge(self, e: Self, x: Self, lo: Self) -> Self;
    /// Whether `a > b` in any lane (false for NaN lanes).
    fn any_gt(a: Self, b: Self) -> bool;
    /// The lanes of `a` below `bound` (`a < bound`), `fill` in the others (NaN lanes of `a`
    /// give `fill`).
    fn below_or(a: Self, bound: Self, fill: Self) -> Self;
    /// Bit `l` set when `a > b` in lane `l` (clear for NaN lanes); bits at and above `LANES`
    /// are clear.
    fn gt_mask(a: Self, b: Self) -> u32;
    /// The lanes as signed 32-bit integers (in the lanes' bits) that order as the values do:
    /// the bits of a value with the sign clear, `i32::MIN - bits` (wrapping; the magnitude
    /// negated) with it set, so `-0.0` and `+0.0` both give 0. Then the bits that `low` sets
    /// are replaced by `tag & low`: a sort key whose low bits carry a tag ([`Simd::key_max`]
    /// and [`Simd::key_min`] compare them). NaN lanes give keys above `+inf`'s (sign clear)
    /// or below `-inf`'s (sign set).
    fn order_key(self, low: u32, tag: u32) -> Self;
    /// Lane-wise maximum of the bits as signed 32-bit integers (of [`Simd::order_key`]s).
    fn key_max(a: Self, b: Self) -> Self;
    /// Lane-wise minimum of the bits as signed 32-bit integers.
    fn key_min(a: Self, b: Self) -> Self;
    /// Lane-wise bitwise OR.
    fn or_bits(a: Self, b: Self) -> Self;
    /// Lane-wise `(bits ^ x) & mask` of the lanes' bits.
    fn masked_xor(self, x: u32, mask: u32) -> Self;
    /// Bit `l` set where lanes `l` of `a` and `b` agree in every bit that `ignore` clears;
    /// bits at and above `LANES` are clear.
    fn bits_eq_mask(a: Self, b: Self, ignore: u32) -> u32;
    /// Lane `l` of the result is `p[i * LANES + l]`, where `i` is lane `l` of `at` read as an
    /// integer (its bits): one element of column `i` of a block stored column by column.
    ///
    /// # Safety
    /// `p` is readable at every such element.
    unsafe fn gather_lanes(t: Token<Self>, p: *const f32, at: Self) -> Self;
    /// Writes the lanes to `out[..LANES]`.
    fn to_array(self, out: &mut [f32; 16]);
    /// Writes the lanes that `mask` selects (bit `l` for lane `l`) to `p`, in lane order, and
    /// `fill` after them: exactly `LANES` elements. The default goes through memory with no
    /// branch per lane; the x86 ISAs permute in registers.
    ///
    /// # Safety
    /// `p` is writable for `LANES` elements.
    #[inline(always)]
    unsafe fn compress_store(self, mask: u32, fill: f32, p: *mut f32) {
        let mut a = [0.0f32; 16];
        self.to_array(&mut a);
        // Unselected lanes go to the spare slot 16.
        let mut out = [fill; 17];
        let mut at = 0;
        for (l, &v) in a[..Self::LANES].iter().enumerate() {
            let keep = (mask >> l) & 1 != 0;
            out[if keep { at } else { 16 }] = v;
            at += usize::from(keep);
        }
        debug_assert!(at <= Self::LANES);
        // SAFETY: `p` is writable for `LANES <= 16` elements (the contract).
        unsafe { core::ptr::copy_nonoverlapping(out.as_ptr(), p, Self::LANES) };
    }

    /// Transposes the square block `v[..LANES]` in place: afterwards lane `r` of `v[c]` holds
    /// what lane `c` of `v[r]` held. The default goes through memory; the SIMD ISAs shuffle in
    /// registers.
    #[inline(always)]
    fn transpose(v: &mut [Self; 16]) {
        let l = Self::LANES;
        let mut a = [[0.0f32; 16]; 16];
        for (a, v) in a.iter_mut().zip(v.iter()).take(l) {
            v.to_array(a);
        }
        let t = v[0].token();
        for (c, v) in v.iter_mut().enumerate().take(l) {
            let mut col = [0.0f32; 16];
            for (x, a) in col.iter_mut().zip(&a).take(l) {
                *x = a[c];
            }
            // SAFETY: `col` holds 16 >= LANES elements.
            *v = unsafe { Self::load(t, col.as_ptr()) };
        }
    }

    /// The lanes of `a` and `b` interleaved: `(a0, b0, a1, b1, ...)` over both results, the
    /// first holding the pairs of lanes `0..LANES / 2`. The default goes through memory; the
    /// SIMD ISAs shuffle in registers.
    #[inline(always)]
    fn zip(a: Self, b: Self) -> (Self, Self) {
        let l = Self::LANES;
        let (mut x, mut y, mut z) = ([0.0f32; 16], [0.0f32; 16], [0.0f32; 32]);
        a.to_array(&mut x);
        b.to_array(&mut y);
        for i in 0..l {
            z[2 * i] = x[i];
            z[2 * i + 1] = y[i];
        }
        let t = a.token();
        // SAFETY: `z` holds 32 >= 2 * LANES elements.
        unsafe { (Self::load(t, z.as_ptr()), Self::load(t, z.as_ptr().add(l))) }
    }

    /// Lane 0. The default goes through memory; the SIMD ISAs read the register.
    #[inline(always)]
    fn first(self) -> f32 {
        let mut a = [0.0f32; 16];
        self.to_array(&mut a);
        a[0]
    }
    /// `LANES` f64 values: the lanes of one vector widened to f64, the accumulators of the
    /// sums (see [`super::generic::passes`]).
    type Wide: Copy;
    /// A `Wide` of zeros.
    fn wide_zero(t: Token<Self>) -> Self::Wide;
    /// Lane-wise `acc + self`, `self` widened to f64 (exactly) first: one f64 rounding.
    fn wide_add(self, acc: Self::Wide) -> Self::Wide;
    /// Lane-wise `a + b` in f64.
    fn wide_sum(a: Self::Wide, b: Self::Wide) -> Self::Wide;
    /// Lane-wise `acc + a * b` in f64. The product of two widened f32 is exact, so this is
    /// one f64 rounding (a fused or a separate multiply-add give the same bits).
    fn wide_mul_add(a: Self, b: Self, acc: Self::Wide) -> Self::Wide;
    /// Lane-wise `w * f` in f64 (`f[..LANES]`).
    fn wide_scale(w: Self::Wide, f: &[f64; 16]) -> Self::Wide;
    /// Writes the lanes to `out[..LANES]`.
    fn wide_to_array(w: Self::Wide, out: &mut [f64; 16]);

    /// The horizontal maximum in every lane (NaN lanes may or may not win). The default goes
    /// through memory; the x86 ISAs use a shuffle tree.
    #[inline(always)]
    fn max_all(self) -> Self {
        Self::splat(self.token(), self.reduce_max())
    }

    /// Horizontal maximum (NaN lanes may or may not win).
    #[inline(always)]
    fn reduce_max(self) -> f32 {
        let mut a = [0.0f32; 16];
        self.to_array(&mut a);
        let mut m = a[0];
        for &v in &a[1..Self::LANES] {
            m = if m > v { m } else { v };
        }
        m
    }

    /// Horizontal sum, accumulated in `f64`.
    #[inline(always)]
    fn reduce_add(self) -> f64 {
        let mut a = [0.0f32; 16];
        self.to_array(&mut a);
        a[..Self::LANES].iter().map(|&v| v as f64).sum()
    }
}

/// Whether any lane of `v` is NaN (for debug assertions).
pub(crate) fn has_nan<V: Simd>(v: V) -> bool {
    let mut a = [0.0f32; 16];
    v.to_array(&mut a);
    a[..V::LANES].iter().any(|v| v.is_nan())
}

#[cfg(test)]
mod tests {
    //! The bit-level and cross-lane primitives of every ISA this CPU runs, against their
    //! definitions
    //! (including the ones an ISA's kernels do not use, so both exponential forms stay correct
    //! everywhere).
    use super::{Half, Simd, Token};
    use crate::kernels::convert;
    use crate::kernels::exp::EIGHTHS;

    fn lanes<V: Simd>(v: V) -> Vec<f32> {
        let mut a = [0.0f32; 16];
        v.to_array(&mut a);
        a[..V::LANES].to_vec()
    }

    /// A vector of `f(lane)`.
    fn from<V: Simd>(isa: Token<V>, f: impl Fn(usize) -> f32) -> V {
        let a: Vec<f32> = (0..16).map(f).collect();
        // SAFETY: `a` holds 16 >= LANES values.
        unsafe { V::load(isa, a.as_ptr()) }
    }

    fn check<V: Simd>(isa: Token<V>, name: &str) {
        // pow2_from_magic: 2^k for k in [-126, 128], 0 for k = -127.
        for k in -127i32..=128 {
            let t = V::splat(isa, 12_582_912.0 + 127.0 + k as f32);
            let want = if k == -127 { 0.0 } else { 2f64.powi(k) as f32 };
            for v in lanes(V::pow2_from_magic(t)) {
                assert_eq!(v.to_bits(), want.to_bits(), "{name} pow2_from_magic k={k}");
            }
        }
        // pow2_eighths: 2^floor(m/8) * table[m mod 8] for m in [-1008, 1023], lanes differing.
        for m0 in (-1008i32..1024).step_by(V::LANES) {
            let m = |l: usize| (m0 + l as i32).min(1023);
            let got = lanes(V::pow2_eighths(from::<V>(isa, |l| {
                12_582_912.0 + m(l) as f32
            })));
            for (l, v) in got.into_iter().enumerate() {
                let (a, j) = (m(l).div_euclid(8), m(l).rem_euclid(8) as usize);
                let entry = f32::from_bits(EIGHTHS[j] + ((j as u32) << 20));
                let want = entry as f64 * 2f64.powi(a);
                assert_eq!(v as f64, want, "{name} pow2_eighths m={}", m(l));
            }
        }
        // transpose: lane `r` of column `c` is lane `c` of row `r` (lanes past LANES untouched).
        let mut v: [V; 16] = core::array::from_fn(|r| from::<V>(isa, |c| (100 * r + c) as f32));
        V::transpose(&mut v);
        for (c, col) in v.iter().enumerate() {
            let want: Vec<f32> = if c < V::LANES {
                (0..V::LANES).map(|r| (100 * r + c) as f32).collect()
            } else {
                (0..V::LANES).map(|l| (100 * c + l) as f32).collect()
            };
            assert_eq!(lanes(*col), want, "{name} transpose column {c}");
        }
        // zip: both vectors' lanes alternating, over the two results in order.
        let (a, b) = (
            from::<V>(isa, |l| l as f32),
            from::<V>(isa, |l| -1.0 - l as f32),
        );
        let (lo, hi) = V::zip(a, b);
        let want: Vec<f32> = (0..2 * V::LANES)
            .map(|i| {
                if i % 2 == 0 {
                    (i / 2) as f32
                } else {
                    -1.0 - (i / 2) as f32
                }
            })
            .collect();
        assert_eq!([lanes(lo), lanes(hi)].concat(), want, "{name} zip");
        // pick_ge: ordered, NaN picks `b`.
        let x = from::<V>(isa, |l| [1.0, 2.0, f32::NAN, -0.0, 5.0][l % 5]);
        let lo = from::<V>(isa, |l| [1.0, 3.0, 0.0, 0.0, f32::NAN][l % 5]);
        let picked = lanes(V::pick_ge(x, lo, V::splat(isa, 7.0), V::splat(isa, 9.0)));
        for (l, v) in picked.into_iter().enumerate() {
            assert_eq!(
                v,
                [7.0, 9.0, 9.0, 7.0, 9.0][l % 5],
                "{name} pick_ge lane {l}"
            );
        }
        // add_ge: ordered, NaN adds nothing.
        let sums = lanes(V::splat(isa, 10.0).add_ge(V::splat(isa, 0.5), x, lo));
        for (l, v) in sums.into_iter().enumerate() {
            assert_eq!(
                v,
                [10.5, 10.0, 10.0, 10.5, 10.0][l % 5],
                "{name} add_ge lane {l}"
            );
        }
        // compress_store: every mask of the first 8 lanes, and patterns over all 16.
        let v = from::<V>(isa, |l| l as f32 + 0.5);
        let full = (1u32 << V::LANES) - 1;
        let masks = (0u32..256).chain([0xffff, 0x8001, 0xaaaa, 0x5555, 0x7ffe, 0xf0f0]);
        for m in masks.map(|m| m & full) {
            let mut out = [7.0f32; 17];
            // SAFETY: `out` holds more than `LANES` elements.
            unsafe { v.compress_store(m, -1.0, out.as_mut_ptr()) };
            let mut want: Vec<f32> = (0..V::LANES)
                .filter(|l| (m >> l) & 1 != 0)
                .map(|l| l as f32 + 0.5)
                .collect();
            want.resize(V::LANES, -1.0);
            assert_eq!(&out[..V::LANES], &want[..], "{name} compress_store {m:#x}");
            assert_eq!(out[V::LANES], 7.0, "{name} compress_store wrote past LANES");
        }
        // div: correctly rounded, IEEE at 0 and infinity.
        let a = from::<V>(isa, |l| [1.0, -7.0, 3.0, 0.0, f32::INFINITY][l % 5]);
        let b = from::<V>(isa, |l| [3.0, 2.0, f32::INFINITY, 5.0, 2.0][l % 5]);
        for (l, v) in lanes(a.div(b)).into_iter().enumerate() {
            let want = [1.0f32 / 3.0, -3.5, 0.0, 0.0, f32::INFINITY][l % 5];
            assert_eq!(v.to_bits(), want.to_bits(), "{name} div lane {l}");
        }
        // split_exp: every binade of the normal range, mantissas differing per lane, and the
        // boundaries next to sqrt(1/2) and sqrt(2).
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let edges = [
            s,
            f32::from_bits(s.to_bits() - 1),
            1.0,
            2.0 * s,
            f32::from_bits((2.0 * s).to_bits() - 1),
        ];
        for e in -125i32..=126 {
            let v = |l: usize| {
                let m = if l < 5 {
                    edges[l]
                } else {
                    (1.0 + l as f64 / 17.0) as f32
                };
                m * 2f32.powi(e)
            };
            let (m, x) = from::<V>(isa, v).split_exp();
            for (l, (m, x)) in lanes(m).into_iter().zip(lanes(x)).enumerate() {
                assert!(
                    (s..2.0 * s).contains(&m),
                    "{name} split_exp mantissa {m} lane {l}"
                );
                assert_eq!(x.fract(), 0.0, "{name} split_exp exponent {x} lane {l}");
                let back = m as f64 * 2f64.powi(x as i32);
                assert_eq!(back, v(l) as f64, "{name} split_exp of {:e} lane {l}", v(l));
            }
        }
        // zero_below: 0 strictly below, the value at or above, NaN kept.
        let x = from::<V>(isa, |l| {
            [-2.0, -1.0, 0.5, f32::NAN, f32::NEG_INFINITY][l % 5]
        });
        let got = lanes(V::zero_below(V::splat(isa, 7.0), x, V::splat(isa, -1.0)));
        for (l, v) in got.into_iter().enumerate() {
            let want = [0.0, 7.0, 7.0, 7.0, 0.0][l % 5];
            assert_eq!(
                v.to_bits(),
                f32::to_bits(want),
                "{name} zero_below lane {l}"
            );
        }
        // max_all: the largest lane, wherever it is, in every lane.
        for l in 0..V::LANES {
            let a = from::<V>(isa, |i| if i == l { 3.0 } else { -(i as f32) });
            for v in lanes(a.max_all()) {
                assert_eq!(v, 3.0, "{name} max_all from lane {l}");
            }
        }
        // any_gt: each lane alone, and NaN never.
        for l in 0..V::LANES {
            let a = from::<V>(isa, |i| if i == l { 2.0 } else { 0.0 });
            assert!(V::any_gt(a, V::splat(isa, 1.0)), "{name} any_gt lane {l}");
        }
        assert!(
            !V::any_gt(V::splat(isa, f32::NAN), V::splat(isa, 0.0)),
            "{name} any_gt NaN"
        );
        assert!(
            !V::any_gt(V::splat(isa, 1.0), V::splat(isa, 1.0)),
            "{name} any_gt equal"
        );
        // gt_mask: one bit per lane, in lane order; NaN and equal lanes clear.
        let a = from::<V>(isa, |l| [2.0, f32::NAN, 1.0, 0.5, 3.0][l % 5]);
        let want = (0..V::LANES)
            .filter(|l| [true, false, false, false, true][l % 5])
            .fold(0u32, |m, l| m | 1 << l);
        assert_eq!(V::gt_mask(a, V::splat(isa, 1.0)), want, "{name} gt_mask");
        // order_key: keys order as the values, -0.0 as +0.0, the low bits the tag's; key_max
        // and key_min pick by that order; or_bits.
        let vals = [
            f32::NEG_INFINITY,
            -1.0e30,
            -3.5,
            -1.0e-40,
            -0.0,
            0.0,
            1.0e-40,
            1.0,
            1.0001,
            f32::MAX,
            f32::INFINITY,
        ];
        for (i, &a) in vals.iter().enumerate() {
            for (j, &b) in vals.iter().enumerate() {
                let (low, ta, tb) = (0xf, 0x3 + i as u32, 0x9 ^ j as u32);
                let ka = lanes(V::splat(isa, a).order_key(low, ta))[0].to_bits();
                let kb = lanes(V::splat(isa, b).order_key(low, tb))[0].to_bits();
                assert_eq!(ka & low, ta & low, "{name} order_key tag {a}");
                // Distinct values (here all more than 16 encodings apart) order as the
                // values; equal ones (and -0.0, +0.0) have equal high bits.
                if a == b {
                    assert_eq!(ka & !low, kb & !low, "{name} order_key {a} {b}");
                } else {
                    assert_eq!((ka as i32) < (kb as i32), a < b, "{name} order_key {a} {b}");
                }
                let (va, vb) = (
                    from::<V>(isa, |l| if l % 2 == 0 { a } else { b }),
                    from::<V>(isa, |l| if l % 3 == 0 { b } else { a }),
                );
                let (ka, kb) = (va.order_key(low, ta), vb.order_key(low, tb));
                let (hi, lo) = (lanes(V::key_max(ka, kb)), lanes(V::key_min(ka, kb)));
                let or = lanes(V::or_bits(va, vb));
                for (l, ((ka, kb), (hi, lo))) in lanes(ka)
                    .iter()
                    .zip(lanes(kb))
                    .zip(hi.iter().zip(lo))
                    .enumerate()
                {
                    let (x, y) = (ka.to_bits() as i32, kb.to_bits() as i32);
                    assert_eq!(hi.to_bits() as i32, x.max(y), "{name} key_max lane {l}");
                    assert_eq!(lo.to_bits() as i32, x.min(y), "{name} key_min lane {l}");
                }
                for (l, o) in or.iter().enumerate() {
                    let (x, y) = (
                        if l % 2 == 0 { a } else { b },
                        if l % 3 == 0 { b } else { a },
                    );
                    assert_eq!(o.to_bits(), x.to_bits() | y.to_bits(), "{name} or_bits");
                }
            }
        }
        // Values one encoding apart share the high bits, and only the tags order them.
        let (one, next) = (V::splat(isa, 1.0), V::splat(isa, 1.000_000_1));
        let (ka, kb) = (
            lanes(one.order_key(0xf, 2))[0],
            lanes(next.order_key(0xf, 1))[0],
        );
        assert_eq!(
            ka.to_bits() & !0xf,
            kb.to_bits() & !0xf,
            "{name} order_key near"
        );
        assert!(
            (ka.to_bits() as i32) > (kb.to_bits() as i32),
            "{name} order_key tags"
        );
        // masked_xor, bits_eq_mask and gather_lanes on the bits of small integers.
        let ints = from::<V>(isa, |l| f32::from_bits((l * 37 + 5) as u32));
        for (l, v) in lanes(ints.masked_xor(0x5a, 0x3f)).iter().enumerate() {
            assert_eq!(
                v.to_bits(),
                ((l * 37 + 5) as u32 ^ 0x5a) & 0x3f,
                "{name} masked_xor"
            );
        }
        let other = from::<V>(isa, |l| {
            f32::from_bits((l * 37 + 5) as u32 ^ (l as u32 % 3) << 4)
        });
        let want = (0..V::LANES)
            .filter(|l| l % 3 == 0)
            .fold(0u32, |m, l| m | 1 << l);
        assert_eq!(
            V::bits_eq_mask(ints, other, 0xf),
            want,
            "{name} bits_eq_mask"
        );
        assert_eq!(
            V::bits_eq_mask(ints, other, 0x3f),
            (1u32 << V::LANES) - 1,
            "{name} bits_eq_mask ignored bits"
        );
        let block: Vec<f32> = (0..5 * V::LANES).map(|i| i as f32 * 0.5).collect();
        let at = from::<V>(isa, |l| f32::from_bits((l % 5) as u32));
        // SAFETY: every position is below 5: inside `block`.
        let got = lanes(unsafe { V::gather_lanes(isa, block.as_ptr(), at) });
        for (l, v) in got.iter().enumerate() {
            assert_eq!(
                *v,
                block[(l % 5) * V::LANES + l],
                "{name} gather_lanes lane {l}"
            );
        }
        // load_half / store_half and their tails: the scalar conversions' bits, the fill in
        // the lanes past `n`, nothing written past `n` (the tables' widen and narrow are
        // checked on every pattern in `generic::convert`).
        for format in [Half::F16, Half::Bf16] {
            let to_f32 = match format {
                Half::F16 => convert::f16_to_f32,
                Half::Bf16 => convert::bf16_to_f32,
            };
            let to_half = match format {
                Half::F16 => convert::f32_to_f16,
                Half::Bf16 => convert::f32_to_bf16,
            };
            let h: Vec<u16> = (0..16)
                .map(|l| [0x3c01, 0xfe7f, 0x0003, 0x7c01][l % 4] + l as u16)
                .collect();
            // SAFETY: `h` holds 16 >= LANES values.
            let v = unsafe { V::load_half(isa, format, h.as_ptr()) };
            for (l, x) in lanes(v).into_iter().enumerate() {
                assert_eq!(
                    x.to_bits(),
                    to_f32(h[l]).to_bits(),
                    "{name} load_half {format:?} lane {l}"
                );
            }
            let x = from::<V>(isa, |l| {
                [1.0 / 3.0, -65519.0, 1e-6, f32::NAN][l % 4] * (l + 1) as f32
            });
            let mut out = [0xdeadu16; 17];
            // SAFETY: `out` holds 17 >= LANES values.
            unsafe { x.store_half(format, out.as_mut_ptr()) };
            for (l, x) in lanes(x).into_iter().enumerate() {
                assert_eq!(out[l], to_half(x), "{name} store_half {format:?} lane {l}");
            }
            assert_eq!(
                out[V::LANES],
                0xdead,
                "{name} store_half {format:?} past the end"
            );
            // store_half_no_nan: the same bits for every lane that is not NaN (ties, both
            // signs, subnormals, infinities, and a stride through all 2^32 patterns).
            let patterns = (0..=u32::MAX)
                .step_by(65_521)
                .chain((0..64u32).flat_map(|i| [0x7fff + i * 0x8000, 0x8000 + i * 0x1_0000]))
                .chain([
                    0x7f7f_ffff,
                    0x7f80_0000,
                    0x0000_0001,
                    0x0080_0000,
                    0x477f_f000,
                ])
                .flat_map(|b| [b, b | 0x8000_0000])
                .map(f32::from_bits)
                .filter(|v| !v.is_nan())
                .collect::<Vec<f32>>();
            for chunk in patterns.chunks(V::LANES) {
                let x = from::<V>(isa, |l| chunk[l % chunk.len()]);
                let mut out = [0xdeadu16; 17];
                // SAFETY: `out` holds 17 >= LANES values.
                unsafe { x.store_half_no_nan(format, out.as_mut_ptr()) };
                for (l, x) in lanes(x).into_iter().enumerate() {
                    assert_eq!(
                        out[l],
                        to_half(x),
                        "{name} store_half_no_nan {format:?} {:#x}",
                        x.to_bits()
                    );
                }
                assert_eq!(
                    out[V::LANES],
                    0xdead,
                    "{name} store_half_no_nan past the end"
                );
            }
            // store_half2 and store_half2_no_nan: each vector's bits, whether a pair holds a
            // zero, a subnormal, a NaN (the first form only) or none of them, in either vector.
            let ordinary = from::<V>(isa, |l| 0.37 + l as f32 * 1.5e-3);
            let odd = |p: f32| from::<V>(isa, |l| if l == V::LANES / 2 { p } else { 0.25 });
            let specials = [0.0, -0.0, 1e-40, -3e-39, f32::from_bits(1), f32::NAN, 2.5];
            for (a, b) in specials
                .iter()
                .flat_map(|&p| [(odd(p), ordinary), (ordinary, odd(p))])
                .chain(patterns.chunks(2 * V::LANES).map(|c| {
                    let v = |o: usize| from::<V>(isa, |l| c[(o + l) % c.len()]);
                    (v(0), v(V::LANES))
                }))
            {
                let want: Vec<u16> = lanes(a).into_iter().chain(lanes(b)).map(to_half).collect();
                let n = 2 * V::LANES;
                let mut out = [0xdeadu16; 33];
                // SAFETY: `out` holds 33 > 2 * LANES values.
                unsafe { a.store_half2(b, format, out.as_mut_ptr()) };
                assert_eq!(&out[..n], &want[..], "{name} store_half2 {format:?}");
                assert_eq!(out[n], 0xdead, "{name} store_half2 past the end");
                if !super::has_nan(a) && !super::has_nan(b) {
                    let mut out = [0xdeadu16; 33];
                    // SAFETY: as above.
                    unsafe { a.store_half2_no_nan(b, format, out.as_mut_ptr()) };
                    assert_eq!(&out[..n], &want[..], "{name} store_half2_no_nan {format:?}");
                    assert_eq!(out[n], 0xdead, "{name} store_half2_no_nan past the end");
                }
            }
            for n in 0..V::LANES {
                // SAFETY: `h` holds 16 > n values.
                let v = unsafe { V::load_half_tail(isa, format, h.as_ptr(), n, -7.0) };
                for (l, y) in lanes(v).into_iter().enumerate() {
                    let want = if l < n { to_f32(h[l]) } else { -7.0 };
                    assert_eq!(
                        y.to_bits(),
                        want.to_bits(),
                        "{name} load_half_tail {format:?} n={n} lane {l}"
                    );
                }
                let mut out = [0xdeadu16; 16];
                // SAFETY: `out` holds 16 > n values.
                unsafe { x.store_half_tail(format, out.as_mut_ptr(), n) };
                for (l, x) in lanes(x).into_iter().enumerate() {
                    let want = if l < n { to_half(x) } else { 0xdead };
                    assert_eq!(
                        out[l], want,
                        "{name} store_half_tail {format:?} n={n} lane {l}"
                    );
                }
            }
        }
        // below_or: strictly below kept, equal / above / NaN filled.
        let got = lanes(V::below_or(a, V::splat(isa, 2.0), V::splat(isa, -7.0)));
        for (l, v) in got.into_iter().enumerate() {
            let want = [-7.0, -7.0, 1.0, 0.5, -7.0][l % 5];
            assert_eq!(v, want, "{name} below_or lane {l}");
        }
    }

    #[test]
    fn primitives_of_every_isa_here() {
        check(crate::kernels::portable::token(), "scalar");
        #[cfg(target_arch = "x86_64")]
        {
            use crate::kernels::{avx2::Avx2, avx512::Avx512};
            if let Some(isa) = Token::<Avx2>::detect() {
                check(isa, "avx2");
            }
            if let Some(isa) = Token::<Avx512>::detect() {
                check(isa, "avx512");
            }
            if let Some(isa) = Token::<Avx512<true>>::detect() {
                check(isa, "avx512 (BF16)");
            }
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(isa) = Token::<crate::kernels::neon::Neon>::detect() {
            check(isa, "neon");
        }
    }
}
