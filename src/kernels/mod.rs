//! Kernels: the algorithms once ([`generic`]), the vector abstraction ([`simd`]), the exp core
//! ([`exp`]) and one module per ISA, each of which fills a [`Kernels`] table
//! (the `portable` module is the reference the SIMD ISAs are tested against; the public name of its
//! ISA
//! is [`Isa::Scalar`]).

pub(crate) mod convert;
pub(crate) mod exp;
pub(crate) mod generic;
pub(crate) mod ln;
pub(crate) mod simd;

pub(crate) mod portable;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;

#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;

use crate::rows::{Grad, InOut, Rows, RowsIn};
use crate::{Algorithm, Isa};

/// A set of 16-bit formats (a per-format choice of a kernel table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Formats {
    /// IEEE binary16.
    pub f16: bool,
    /// bfloat16.
    pub bf16: bool,
}

impl Formats {
    /// Neither format.
    pub const NONE: Formats = Formats {
        f16: false,
        bf16: false,
    };

    /// Whether `format` is in the set.
    #[inline]
    pub fn has(self, format: convert::Half) -> bool {
        match format {
            convert::Half::F16 => self.f16,
            convert::Half::Bf16 => self.bf16,
        }
    }
}

/// Per-call options of the kernels.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Flags {
    /// Write the output with non-temporal stores (rows larger than the last-level cache).
    pub non_temporal: bool,
    /// Softmax of a row of only `-inf` is all zeros instead of NaN (masked attention).
    pub zero_masked: bool,
}

/// One ISA's entry points. Every function requires the ISA to be available on the running
/// CPU; [`crate::dispatch`] hands out a table only after checking that.
#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    /// The ISA these kernels use.
    pub isa: Isa,
    /// Softmax of one row; the algorithm is never `Auto`.
    pub softmax: unsafe fn(InOut<'_>, Algorithm, Flags),
    /// Softmax of `scale * x` for one row (`scale` finite).
    pub softmax_scaled: unsafe fn(InOut<'_>, Algorithm, Flags, f32),
    /// Log-softmax of one row.
    pub log_softmax: unsafe fn(InOut<'_>, Flags),
    /// Log-sum-exp of one row.
    pub logsumexp: unsafe fn(&[f32]) -> f32,
    /// Softmax backward pass; the flag asks for non-temporal stores.
    pub softmax_backward: unsafe fn(Grad<'_>, bool),
    /// Log-softmax backward pass; the flag asks for non-temporal stores.
    pub log_softmax_backward: unsafe fn(Grad<'_>, bool),
    /// Cross-entropy loss of one row (`target < len`, smoothing in `[0, 1]`).
    pub cross_entropy: unsafe fn(&[f32], usize, f32) -> f32,
    /// Cross-entropy loss and gradient of one row.
    pub cross_entropy_grad: unsafe fn(InOut<'_>, usize, f32, Flags) -> f32,
    /// Softmax of a batch of rows; the algorithm is never `Auto`.
    pub softmax_rows: unsafe fn(Rows<'_>, Algorithm, Flags),
    /// Softmax of `scale * x` for a batch of rows (`scale` finite).
    pub softmax_scaled_rows: unsafe fn(Rows<'_>, Algorithm, Flags, f32),
    /// Log-softmax of a batch of rows.
    pub log_softmax_rows: unsafe fn(Rows<'_>, Flags),
    /// Log-sum-exp of a batch of rows, one value per row into the slice (of `rows` values).
    pub logsumexp_rows: unsafe fn(RowsIn<'_>, &mut [f32]),
    /// The log-sum-exp state of one chunk (pass 1 of two-pass and the special-value rules).
    pub lse_state: unsafe fn(&[f32]) -> crate::LseState,
    /// `y = exp(x - lse)` for a global log-sum-exp.
    pub lse_normalize: unsafe fn(InOut<'_>, f32, Flags),
    /// `y = x - lse` for a global log-sum-exp.
    pub lse_log_normalize: unsafe fn(InOut<'_>, f32, Flags),
    /// One shard's cross-entropy loss contribution, given the row's merged state.
    pub cross_entropy_shard: unsafe fn(&[f32], crate::LseState, generic::lse::Shard) -> f64,
    /// [`Kernels::cross_entropy_shard`] and the shard's gradient.
    pub cross_entropy_shard_grad:
        unsafe fn(InOut<'_>, crate::LseState, generic::lse::Shard, Flags) -> f64,
    /// StableMax of one row.
    pub stablemax: unsafe fn(InOut<'_>, Flags),
    /// Log-StableMax of one row.
    pub log_stablemax: unsafe fn(InOut<'_>, Flags),
    /// StableMax cross-entropy loss of one row (`target < len`, smoothing in `[0, 1]`).
    pub stablemax_cross_entropy: unsafe fn(&[f32], usize, f32) -> f32,
    /// StableMax cross-entropy loss and gradient of one row.
    pub stablemax_cross_entropy_grad: unsafe fn(InOut<'_>, usize, f32, Flags) -> f32,
    /// StableMax backward pass (`Grad::y` holds the forward input `x`); the flag asks for
    /// non-temporal stores.
    pub stablemax_backward: unsafe fn(Grad<'_>, bool),
    /// Log-StableMax backward pass (`Grad::y` holds the forward input `x`).
    pub log_stablemax_backward: unsafe fn(Grad<'_>, bool),
    /// Top-k gating of a batch of rows, weights over the whole row.
    pub topk_rows: unsafe fn(RowsIn<'_>, &generic::topk::Gate, generic::topk::GateOut<'_>),
    /// Top-k gating of a batch of rows, weights renormalised over the `k`.
    pub topk_rows_renorm: unsafe fn(RowsIn<'_>, &generic::topk::Gate, generic::topk::GateOut<'_>),
    /// One draw from a row's restricted softmax (`None` when the row holds a NaN).
    pub sample: unsafe fn(&[f32], &generic::sample::Draw) -> Option<usize>,
    /// The passes of long rows over one segment (`crate::segmented`).
    pub segment: SegmentKernels,
    /// `dst = src` widened from a 16-bit format to f32 (equal lengths; exact, the same bits
    /// on every ISA).
    pub widen: unsafe fn(convert::Half, &[u16], &mut [f32]),
    /// `dst = src` rounded to a 16-bit format (equal lengths; nearest, ties to even; the same
    /// bits on every ISA).
    pub narrow: unsafe fn(convert::Half, &[f32], &mut [u16]),
    /// The backward pass of softmax (`false`) or log-softmax (`true`) over 16-bit rows
    /// `(y, dy, dx, n)`, converting in the registers (the bits of widening, the f32 pass and
    /// rounding); non-temporal stores when asked (the last argument).
    pub half_backward: HalfBackward,
    /// Cross-entropy with its gradient of a 16-bit row of logits `(x, d, n)` (`d` equal to
    /// `x` or disjoint), the target and the smoothing (as `cross_entropy_grad`), converting in
    /// the registers (the bits of widening, the f32 kernel and rounding); non-temporal stores
    /// when asked (the last argument). `None`, nothing written, for the special-value path.
    pub half_cross_entropy_grad: HalfCrossEntropyGrad,
    /// Three-pass reload softmax of `scale` times a 16-bit row `(x, y, n)` (`scale` finite
    /// and non-zero) through an f32 buffer of `n` values (possibly uninitialised): the bits
    /// of widening, the f32 kernel (scaled as `softmax_scaled`) and rounding; `false`,
    /// nothing written, for short rows and the special-value path.
    pub half_softmax_reload:
        unsafe fn(convert::Half, (*const u16, *mut u16, usize), *mut f32, f32) -> bool,
    /// Two-pass softmax of `scale` times a 16-bit row `(x, y, n)` (`scale` finite and
    /// non-zero) as one piece, as the f32 kernel runs a scaled row: the bits of widening,
    /// that kernel and rounding; non-temporal stores when asked (the last argument). `false`,
    /// nothing written, for the special-value path.
    pub half_softmax_scaled_two_pass:
        unsafe fn(convert::Half, (*const u16, *mut u16, usize), f32, bool) -> bool,
    /// Log-softmax of a 16-bit row `(x, y, n)` of at most 8192 elements through an f32 buffer,
    /// as [`Kernels::half_softmax_reload`].
    pub half_log_softmax_widened:
        unsafe fn(convert::Half, (*const u16, *mut u16, usize), *mut f32) -> bool,
    /// Log-sum-exp of a 16-bit row of at most 8192 elements through an f32 buffer of its
    /// length: the value of the widened row; `None` for short rows and the special-value
    /// path.
    pub half_logsumexp_widened: unsafe fn(convert::Half, &[u16], *mut f32) -> Option<f32>,
    /// Log-softmax of a batch of short 16-bit rows (2 to `short_len` elements), read and
    /// written in the format: the bits of widening the rows, the f32 batch kernel and
    /// rounding.
    pub half_log_softmax_short_rows: unsafe fn(convert::Half, Rows<'_, u16>, Flags),
    /// Softmax (three-pass reload) of a batch of short 16-bit rows, as
    /// [`Kernels::half_log_softmax_short_rows`].
    pub half_softmax_short_rows: unsafe fn(convert::Half, Rows<'_, u16>, Flags),
    /// The formats whose softmax batches of short 16-bit rows of whole vectors take
    /// [`Kernels::half_softmax_short_rows`] rather than staging (the same bits either way):
    /// only where that measured faster (see `crate::half_short`).
    pub half_softmax_short: Formats,
    /// Log-sum-exp of a batch of short 16-bit rows, one value per row into the slice (of
    /// `rows` values): the values of the widened rows.
    pub half_logsumexp_short_rows: unsafe fn(convert::Half, RowsIn<'_, u16>, &mut [f32]),
    /// The f32 lanes of the ISA's vectors.
    pub lanes: usize,
    /// The longest row of the short-row kernels (rows of 2 to this many elements take them).
    pub short_len: usize,
    /// The longest medium row (the batch kernels take such rows two at a time).
    pub medium_len: usize,
}

/// A sum of exponentials as `(S, k)`, `S * 2^k`, or `None` for the special-value path.
pub(crate) type PairSum = Option<(f64, f32)>;

/// [`SegmentKernels::half_exp_store_max`].
pub(crate) type HalfExpStoreMax =
    unsafe fn(convert::Half, *const u16, usize, *mut f32) -> Option<generic::passes::Stored>;
/// [`SegmentKernels::half_exp_out`].
pub(crate) type HalfExpOut =
    unsafe fn(convert::Half, (*const u16, *mut u16, usize), f32, f64, f32, bool);
/// [`Kernels::half_backward`].
pub(crate) type HalfBackward =
    unsafe fn(convert::Half, (*const u16, *const u16, *mut u16, usize), bool, bool);
/// [`Kernels::half_cross_entropy_grad`].
pub(crate) type HalfCrossEntropyGrad =
    unsafe fn(convert::Half, (*const u16, *mut u16, usize), usize, f32, bool) -> Option<f32>;
/// [`SegmentKernels::half_reload_out`].
pub(crate) type HalfReloadOut =
    unsafe fn(convert::Half, (*const f32, *mut u16, usize), f32, Option<f32>, f32);

/// One ISA's passes over one segment of a long row (see `generic::segmented`).
#[derive(Clone, Copy)]
pub(crate) struct SegmentKernels {
    /// Pass 1 of two-pass: `Some((S, k))` with `sum e^x = S * 2^k`, or `None`.
    pub pair_sum: unsafe fn(&[f32]) -> Option<(f64, f32)>,
    /// The maximum (NaN may be missed).
    pub max: unsafe fn(&[f32]) -> f32,
    /// `sum (x - c)` in f64.
    pub sum_minus: unsafe fn(&[f32], f32) -> f64,
    /// `y = exp(x - k*ln2)`, returning the sum.
    pub exp_store_sum: unsafe fn(InOut<'_>, f32) -> f64,
    /// Where the ISA has it: `exp_store_sum` against the segment's first vector's shift,
    /// with the segment's maximum, in one walk, for a disjoint output (see
    /// `generic::passes::exp_store_max`).
    pub exp_store_max: Option<unsafe fn(InOut<'_>) -> Option<generic::passes::Stored>>,
    /// The output pass after `exp_store_max` stored `y` against the shift `k0` (the last
    /// argument): `y = min(1, y * r)`, and 0 where `x < lo` when `lo` is given.
    pub reload_out: unsafe fn(InOut<'_>, f32, Option<f32>, f32),
    /// `y *= r` in place (the output of the `InOut`).
    pub scale: unsafe fn(InOut<'_>, f32),
    /// `y = exp(x - k*ln2) * r - c`, non-temporal stores when asked.
    pub exp_out: unsafe fn(InOut<'_>, f32, f64, f32, bool),
    /// `y = (x - k*LN2_HI) - b`, non-temporal stores when asked.
    pub shift_out: unsafe fn(InOut<'_>, f32, f32, bool),
    /// Pass 1 of blocked two-pass, as `pair_sum`.
    pub block_sum: unsafe fn(&[f32]) -> Option<(f64, f32)>,
    /// `sum exp(x - k*ln2)` in f64.
    pub sum_exp: unsafe fn(&[f32], f32) -> f64,
    /// `pair_sum` of a 16-bit segment, read directly.
    pub half_pair_sum: unsafe fn(convert::Half, &[u16]) -> PairSum,
    /// `exp_out` from a 16-bit segment `(x, y, n)` to its 16-bit output (`c` the argument
    /// after `r`), non-temporal stores when asked. The segment holds no NaN (its row's pass
    /// 1 gave a finite sum).
    pub half_exp_out: HalfExpOut,
    /// `sum_minus` of a 16-bit segment, read directly.
    pub half_sum_minus: unsafe fn(convert::Half, &[u16], f32) -> f64,
    /// `shift_out` from a 16-bit segment `(x, y, n)` to its 16-bit output, as
    /// `half_exp_out`.
    pub half_shift_out: unsafe fn(convert::Half, (*const u16, *mut u16, usize), f32, f32, bool),
    /// Widens a 16-bit segment `(x, n)` into the f32 buffer `buf` (`n` values, possibly
    /// uninitialised, disjoint), returning its maximum (as `max`).
    pub half_widen_max: unsafe fn(convert::Half, *const u16, usize, *mut f32) -> f32,
    /// Where the ISA has `exp_store_max`: its walk over a 16-bit segment `(x, n)`, the
    /// exponentials stored to the f32 buffer `buf` (`n` values, possibly uninitialised,
    /// disjoint).
    pub half_exp_store_max: Option<HalfExpStoreMax>,
    /// `y = min(1, e * r)` rounded to the format, from f32 exponentials `(e, y, n)` without
    /// NaN to a 16-bit segment (as `scale`, into another buffer); with `lo` (at least
    /// `STORED_TEST` from 0), 0 for the exponentials stored against `k0` (the last argument)
    /// of inputs below it, as `reload_out`.
    pub half_reload_out: HalfReloadOut,
}

/// `$call` with `$f` a constant equal to `$format` ([`convert::Half`]): one instantiation
/// per format, so the conversions are constant in the loops.
macro_rules! per_format {
    ($format:expr, $f:ident => $call:expr) => {
        match $format {
            $crate::kernels::convert::Half::F16 => {
                const $f: $crate::kernels::convert::Half = $crate::kernels::convert::Half::F16;
                $call
            }
            $crate::kernels::convert::Half::Bf16 => {
                const $f: $crate::kernels::convert::Half = $crate::kernels::convert::Half::Bf16;
                $call
            }
        }
    };
}
pub(crate) use per_format;

/// Stamps out an ISA's entry points and its `KERNELS` table from the generic algorithms.
///
/// `$V` implements [`simd::Simd`], `$unroll` is the number of vectors per loop iteration, and
/// the attributes (typically `#[target_feature(enable = "...")]`) go on every entry point so
/// that the `#[inline(always)]` algorithm and vector code are compiled for the ISA.
macro_rules! kernel_table {
    ($isa:expr, $V:ty, $unroll:expr, $(#[$attr:meta])*) => {
        mod entry {
            #![allow(unused_imports)]
            use super::*;
            use $crate::rows::{Grad, InOut, Rows, RowsIn};
            use $crate::kernels::{generic, simd::Token, Flags};
            use $crate::Algorithm;

            $(#[$attr])*
            pub(super) unsafe fn softmax(io: InOut<'_>, alg: Algorithm, flags: Flags) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::softmax::<$V, { $unroll }>(isa, io, alg, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn softmax_scaled(io: InOut<'_>, alg: Algorithm, flags: Flags, scale: f32) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::softmax_scaled::<$V, { $unroll }>(isa, io, alg, flags, scale)
            }

            $(#[$attr])*
            pub(super) unsafe fn softmax_backward(g: Grad<'_>, non_temporal: bool) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::softmax_backward::<$V, { $unroll }>(isa, g, non_temporal)
            }

            $(#[$attr])*
            pub(super) unsafe fn log_softmax_backward(g: Grad<'_>, non_temporal: bool) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::log_softmax_backward::<$V, { $unroll }>(isa, g, non_temporal)
            }

            $(#[$attr])*
            pub(super) unsafe fn cross_entropy(x: &[f32], target: usize, eps: f32) -> f32 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::cross_entropy::<$V, { $unroll }>(isa, x, target, eps)
            }

            $(#[$attr])*
            pub(super) unsafe fn cross_entropy_grad(io: InOut<'_>, target: usize, eps: f32, flags: Flags) -> f32 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::cross_entropy_grad::<$V, { $unroll }>(isa, io, target, eps, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn log_softmax(io: InOut<'_>, flags: Flags) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::log_softmax::<$V, { $unroll }>(isa, io, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn logsumexp(x: &[f32]) -> f32 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::logsumexp::<$V, { $unroll }>(isa, x)
            }

            $(#[$attr])*
            pub(super) unsafe fn softmax_rows(rows: Rows<'_>, alg: Algorithm, flags: Flags) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::softmax_rows::<$V, { $unroll }>(isa, rows, alg, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn softmax_scaled_rows(rows: Rows<'_>, alg: Algorithm, flags: Flags, scale: f32) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::softmax_scaled_rows::<$V, { $unroll }>(isa, rows, alg, flags, scale)
            }

            $(#[$attr])*
            pub(super) unsafe fn log_softmax_rows(rows: Rows<'_>, flags: Flags) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::log_softmax_rows::<$V, { $unroll }>(isa, rows, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn logsumexp_rows(rows: RowsIn<'_>, out: &mut [f32]) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::logsumexp_rows::<$V, { $unroll }>(isa, rows, out)
            }

            $(#[$attr])*
            pub(super) unsafe fn lse_state(x: &[f32]) -> $crate::LseState {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::lse::lse_state::<$V, { $unroll }>(isa, x)
            }

            $(#[$attr])*
            pub(super) unsafe fn lse_normalize(io: InOut<'_>, lse: f32, flags: Flags) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::lse::normalize::<$V, { $unroll }>(isa, io, lse, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn lse_log_normalize(io: InOut<'_>, lse: f32, flags: Flags) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::lse::log_softmax_normalize::<$V, { $unroll }>(isa, io, lse, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn cross_entropy_shard(
                x: &[f32],
                st: $crate::LseState,
                shard: generic::lse::Shard,
            ) -> f64 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::lse::cross_entropy_shard::<$V, { $unroll }>(isa, x, st, shard)
            }

            $(#[$attr])*
            pub(super) unsafe fn cross_entropy_shard_grad(
                io: InOut<'_>,
                st: $crate::LseState,
                shard: generic::lse::Shard,
                flags: Flags,
            ) -> f64 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::lse::cross_entropy_shard_grad::<$V, { $unroll }>(isa, io, st, shard, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn topk_rows(
                rows: RowsIn<'_>,
                gate: &generic::topk::Gate,
                out: generic::topk::GateOut<'_>,
            ) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::topk::topk_rows::<$V, { $unroll }, false>(isa, rows, gate, out)
            }

            $(#[$attr])*
            pub(super) unsafe fn topk_rows_renorm(
                rows: RowsIn<'_>,
                gate: &generic::topk::Gate,
                out: generic::topk::GateOut<'_>,
            ) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::topk::topk_rows::<$V, { $unroll }, true>(isa, rows, gate, out)
            }

            $(#[$attr])*
            pub(super) unsafe fn sample(x: &[f32], d: &generic::sample::Draw) -> Option<usize> {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::sample::sample::<$V, { $unroll }>(isa, x, d)
            }

            $(#[$attr])*
            pub(super) unsafe fn stablemax(io: InOut<'_>, flags: Flags) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::stablemax::stablemax::<$V, { $unroll }>(isa, io, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn log_stablemax(io: InOut<'_>, flags: Flags) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::stablemax::log_stablemax::<$V, { $unroll }>(isa, io, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn stablemax_cross_entropy(x: &[f32], target: usize, eps: f32) -> f32 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::stablemax::cross_entropy::<$V, { $unroll }>(isa, x, target, eps)
            }

            $(#[$attr])*
            pub(super) unsafe fn stablemax_cross_entropy_grad(io: InOut<'_>, target: usize, eps: f32, flags: Flags) -> f32 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::stablemax::cross_entropy_grad::<$V, { $unroll }>(isa, io, target, eps, flags)
            }

            $(#[$attr])*
            pub(super) unsafe fn stablemax_backward(g: Grad<'_>, non_temporal: bool) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::stablemax::stablemax_backward::<$V, { $unroll }>(isa, g, non_temporal)
            }

            $(#[$attr])*
            pub(super) unsafe fn log_stablemax_backward(g: Grad<'_>, non_temporal: bool) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::stablemax::log_stablemax_backward::<$V, { $unroll }>(isa, g, non_temporal)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_pair_sum(x: &[f32]) -> Option<(f64, f32)> {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::pair_sum_of::<$V, { $unroll }>(isa, x)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_max(x: &[f32]) -> f32 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::max_of::<$V, { $unroll }>(isa, x)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_sum_minus(x: &[f32], c: f32) -> f64 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::sum_minus::<$V, { $unroll }>(isa, x, c)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_exp_store_sum(io: InOut<'_>, k: f32) -> f64 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::exp_store_sum_of::<$V, { $unroll }>(isa, io, k)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_exp_store_max(io: InOut<'_>) -> Option<generic::passes::Stored> {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::exp_store_max_of::<$V, { $unroll }>(isa, io)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_reload_out(io: InOut<'_>, r: f32, lo: Option<f32>, k0: f32) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::reload_out_of::<$V, { $unroll }>(isa, io, r, lo, k0)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_scale(io: InOut<'_>, r: f32) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::scale_of::<$V, { $unroll }>(isa, io, r)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_exp_out(io: InOut<'_>, k: f32, r: f64, c: f32, non_temporal: bool) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::exp_out::<$V, { $unroll }>(isa, io, k, r, c, non_temporal)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_shift_out(io: InOut<'_>, k: f32, b: f32, non_temporal: bool) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::shift_out::<$V, { $unroll }>(isa, io, k, b, non_temporal)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_block_sum(x: &[f32]) -> Option<(f64, f32)> {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::block_sum_of::<$V, { $unroll }>(isa, x)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_sum_exp(x: &[f32], k: f32) -> f64 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::segmented::sum_exp_of::<$V, { $unroll }>(isa, x, k)
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_half_pair_sum(format: $crate::kernels::convert::Half, x: &[u16]) -> Option<(f64, f32)> {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                $crate::kernels::per_format!(format, F => generic::half_rows::pair_sum_half::<$V, { $unroll }>(isa, F, x))
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_half_exp_out(format: $crate::kernels::convert::Half, row: (*const u16, *mut u16, usize), k: f32, r: f64, c: f32, nt: bool) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                // SAFETY: the caller's contract (the row's pointers).
                unsafe { $crate::kernels::per_format!(format, F => generic::half_rows::exp_out_half::<$V, { $unroll }>(isa, F, row, k, r, c, nt)) }
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_half_sum_minus(format: $crate::kernels::convert::Half, x: &[u16], c: f32) -> f64 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                $crate::kernels::per_format!(format, F => generic::half_rows::sum_minus_half::<$V, { $unroll }>(isa, F, x, c))
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_half_shift_out(format: $crate::kernels::convert::Half, row: (*const u16, *mut u16, usize), k: f32, b: f32, nt: bool) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                // SAFETY: the caller's contract (the row's pointers).
                unsafe { $crate::kernels::per_format!(format, F => generic::half_rows::shift_out_half::<$V, { $unroll }>(isa, F, row, k, b, nt)) }
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_half_widen_max(format: $crate::kernels::convert::Half, x: *const u16, n: usize, buf: *mut f32) -> f32 {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                // SAFETY: the caller's contract (the segment's pointers and the buffer).
                unsafe { $crate::kernels::per_format!(format, F => generic::half_rows::widen_max::<$V, { $unroll }>(isa, F, x, n, &generic::inputs::Plain, buf)) }
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_half_reload_out(format: $crate::kernels::convert::Half, row: (*const f32, *mut u16, usize), r: f32, lo: Option<f32>, k0: f32) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                // SAFETY: the caller's contract (the segment's pointers).
                unsafe { $crate::kernels::per_format!(format, F => generic::half_rows::reload_out_half::<$V, { $unroll }>(isa, F, row, r, lo, k0)) }
            }

            $(#[$attr])*
            pub(super) unsafe fn seg_half_exp_store_max(format: $crate::kernels::convert::Half, x: *const u16, n: usize, buf: *mut f32) -> Option<generic::passes::Stored> {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                // SAFETY: the caller's contract (the segment's pointers and the buffer).
                unsafe { $crate::kernels::per_format!(format, F => generic::half_rows::exp_store_max_half::<$V, { $unroll }>(isa, F, x, n, &generic::inputs::Plain, buf)) }
            }

            $(#[$attr])*
            pub(super) unsafe fn half_backward(format: $crate::kernels::convert::Half, rows: (*const u16, *const u16, *mut u16, usize), log: bool, nt: bool) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                // SAFETY: the caller's contract (the rows' pointers).
                unsafe { $crate::kernels::per_format!(format, F => generic::training::backward_half::<$V, { $unroll }>(isa, F, rows, log, nt)) }
            }

            $(#[$attr])*
            pub(super) unsafe fn half_cross_entropy_grad(format: $crate::kernels::convert::Half, row: (*const u16, *mut u16, usize), target: usize, eps: f32, nt: bool) -> Option<f32> {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                // SAFETY: the caller's contract (the row's pointers and the target).
                unsafe { $crate::kernels::per_format!(format, F => generic::training::cross_entropy_grad_half::<$V, { $unroll }>(isa, F, row, target, eps, nt)) }
            }

            $(#[$attr])*
            pub(super) unsafe fn half_softmax_reload(format: $crate::kernels::convert::Half, row: (*const u16, *mut u16, usize), buf: *mut f32, scale: f32) -> bool {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                // SAFETY: the caller's contract (the row's pointers and the buffer; a finite,
                // non-zero scale).
                unsafe {
                    if scale == 1.0 {
                        $crate::kernels::per_format!(format, F => generic::half_rows::softmax_reload_half::<$V, { $unroll }>(isa, F, row, &generic::inputs::Plain, buf))
                    } else {
                        let inp = generic::inputs::Scaled::<$V>::new(isa, scale);
                        $crate::kernels::per_format!(format, F => generic::half_rows::softmax_reload_half::<$V, { $unroll }>(isa, F, row, &inp, buf))
                    }
                }
            }

            $(#[$attr])*
            pub(super) unsafe fn half_softmax_scaled_two_pass(format: $crate::kernels::convert::Half, row: (*const u16, *mut u16, usize), scale: f32, nt: bool) -> bool {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                let inp = generic::inputs::Scaled::<$V>::new(isa, scale);
                // SAFETY: the caller's contract (the row's pointers; a finite, non-zero scale).
                unsafe { $crate::kernels::per_format!(format, F => generic::half_rows::softmax_two_pass_half::<$V, { $unroll }>(isa, F, row, &inp, nt)) }
            }

            $(#[$attr])*
            pub(super) unsafe fn half_log_softmax_widened(format: $crate::kernels::convert::Half, row: (*const u16, *mut u16, usize), buf: *mut f32) -> bool {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                // SAFETY: the caller's contract (the row's pointers and the buffer).
                unsafe { $crate::kernels::per_format!(format, F => generic::half_rows::log_softmax_widened::<$V, { $unroll }>(isa, F, row, buf)) }
            }

            $(#[$attr])*
            pub(super) unsafe fn half_logsumexp_widened(format: $crate::kernels::convert::Half, x: &[u16], buf: *mut f32) -> Option<f32> {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                // SAFETY: the caller's contract (the buffer).
                unsafe { $crate::kernels::per_format!(format, F => generic::half_rows::logsumexp_widened::<$V, { $unroll }>(isa, F, x, buf)) }
            }

            $(#[$attr])*
            pub(super) unsafe fn half_log_softmax_short_rows(format: $crate::kernels::convert::Half, rows: $crate::rows::Rows<'_, u16>, flags: $crate::kernels::Flags) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                $crate::kernels::per_format!(format, F => generic::batch::log_softmax_short_rows_half::<$V>(isa, F, rows, flags))
            }

            $(#[$attr])*
            pub(super) unsafe fn half_softmax_short_rows(format: $crate::kernels::convert::Half, rows: $crate::rows::Rows<'_, u16>, flags: $crate::kernels::Flags) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                $crate::kernels::per_format!(format, F => generic::batch::softmax_short_rows_half::<$V>(isa, F, rows, flags))
            }

            $(#[$attr])*
            pub(super) unsafe fn half_logsumexp_short_rows(format: $crate::kernels::convert::Half, rows: $crate::rows::RowsIn<'_, u16>, out: &mut [f32]) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                $crate::kernels::per_format!(format, F => generic::batch::logsumexp_short_rows_half::<$V>(isa, F, rows, out))
            }

            $(#[$attr])*
            pub(super) unsafe fn widen(format: $crate::kernels::convert::Half, src: &[u16], dst: &mut [f32]) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::convert::widen::<$V, { $unroll }>(isa, format, src, dst)
            }

            $(#[$attr])*
            pub(super) unsafe fn narrow(format: $crate::kernels::convert::Half, src: &[f32], dst: &mut [u16]) {
                // SAFETY: the kernel table holding this entry point is handed out only where
                // its ISA is available (`crate::dispatch`).
                let isa = unsafe { Token::<$V>::new_unchecked() };
                generic::convert::narrow::<$V, { $unroll }>(isa, format, src, dst)
            }
        }

        /// This ISA's kernel table (a constant: a table assembled from two such constants,
        /// as [`avx512`](crate::kernels::avx512)'s BF16 table is, references only the entry
        /// points it takes, and only those are compiled).
        pub(crate) const TABLE: $crate::kernels::Kernels = $crate::kernels::Kernels {
            isa: $isa,
            softmax: entry::softmax,
            softmax_scaled: entry::softmax_scaled,
            log_softmax: entry::log_softmax,
            logsumexp: entry::logsumexp,
            softmax_backward: entry::softmax_backward,
            log_softmax_backward: entry::log_softmax_backward,
            cross_entropy: entry::cross_entropy,
            cross_entropy_grad: entry::cross_entropy_grad,
            softmax_rows: entry::softmax_rows,
            softmax_scaled_rows: entry::softmax_scaled_rows,
            log_softmax_rows: entry::log_softmax_rows,
            logsumexp_rows: entry::logsumexp_rows,
            lse_state: entry::lse_state,
            lse_normalize: entry::lse_normalize,
            lse_log_normalize: entry::lse_log_normalize,
            cross_entropy_shard: entry::cross_entropy_shard,
            cross_entropy_shard_grad: entry::cross_entropy_shard_grad,
            topk_rows: entry::topk_rows,
            topk_rows_renorm: entry::topk_rows_renorm,
            sample: entry::sample,
            stablemax: entry::stablemax,
            log_stablemax: entry::log_stablemax,
            stablemax_cross_entropy: entry::stablemax_cross_entropy,
            stablemax_cross_entropy_grad: entry::stablemax_cross_entropy_grad,
            stablemax_backward: entry::stablemax_backward,
            log_stablemax_backward: entry::log_stablemax_backward,
            segment: $crate::kernels::SegmentKernels {
                pair_sum: entry::seg_pair_sum,
                max: entry::seg_max,
                sum_minus: entry::seg_sum_minus,
                exp_store_sum: entry::seg_exp_store_sum,
                exp_store_max: if $crate::kernels::generic::passes::one_walk_reload::<$V>() {
                    Some(entry::seg_exp_store_max)
                } else {
                    None
                },
                reload_out: entry::seg_reload_out,
                scale: entry::seg_scale,
                exp_out: entry::seg_exp_out,
                shift_out: entry::seg_shift_out,
                block_sum: entry::seg_block_sum,
                sum_exp: entry::seg_sum_exp,
                half_pair_sum: entry::seg_half_pair_sum,
                half_exp_out: entry::seg_half_exp_out,
                half_sum_minus: entry::seg_half_sum_minus,
                half_shift_out: entry::seg_half_shift_out,
                half_widen_max: entry::seg_half_widen_max,
                half_exp_store_max: if $crate::kernels::generic::passes::one_walk_reload::<$V>() {
                    Some(entry::seg_half_exp_store_max)
                } else {
                    None
                },
                half_reload_out: entry::seg_half_reload_out,
            },
            widen: entry::widen,
            narrow: entry::narrow,
            half_backward: entry::half_backward,
            half_cross_entropy_grad: entry::half_cross_entropy_grad,
            half_softmax_reload: entry::half_softmax_reload,
            half_softmax_scaled_two_pass: entry::half_softmax_scaled_two_pass,
            half_log_softmax_widened: entry::half_log_softmax_widened,
            half_logsumexp_widened: entry::half_logsumexp_widened,
            half_log_softmax_short_rows: entry::half_log_softmax_short_rows,
            half_softmax_short_rows: entry::half_softmax_short_rows,
            half_softmax_short: $crate::kernels::Formats::NONE,
            half_logsumexp_short_rows: entry::half_logsumexp_short_rows,
            lanes: <$V as $crate::kernels::simd::Simd>::LANES,
            short_len: $crate::kernels::generic::short::SHORT_VECS * <$V as $crate::kernels::simd::Simd>::LANES,
            medium_len: $crate::kernels::generic::medium::MEDIUM_VECS * <$V as $crate::kernels::simd::Simd>::LANES,
        };
    };
}
pub(crate) use kernel_table;

/// For tests: the tables of the ISAs this CPU runs, both AVX-512 ones where it runs both
/// (dispatch hands out one of them); the other ISAs are named on stderr as skipped (`what`:
/// what goes unchecked there).
#[cfg(test)]
pub(crate) fn cpu_tables(what: &str) -> Vec<&'static Kernels> {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut tables: Vec<&'static Kernels> = crate::Isa::ALL
        .into_iter()
        .filter_map(|isa| {
            let k = crate::dispatch::kernels_for(isa);
            if k.is_none() {
                eprintln!(
                    "SKIP: {} not available here ({what} not checked)",
                    isa.name()
                );
            }
            k
        })
        .collect();
    #[cfg(target_arch = "x86_64")]
    if crate::Isa::Avx512.is_supported() && avx512::bf16_supported() {
        for k in [&avx512::KERNELS, &avx512::KERNELS_BF16] {
            if !tables.iter().any(|&t| std::ptr::eq(t, k)) {
                tables.push(k);
            }
        }
    }
    tables
}
