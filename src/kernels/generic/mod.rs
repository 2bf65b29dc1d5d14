//! The algorithms, written once over [`Simd`](super::simd::Simd) and instantiated per ISA by
//! [`kernel_table`](super::kernel_table).
//!
//! - [`walk`]: the one loop skeleton (unrolled vectors, single vectors, masked tail; a fold
//!   and a map form) that every pass over memory uses, and the sources it reads.
//! - [`inputs`]: the input transforms fused into the loads (as stored, scaled, offset).
//! - [`passes`]: the passes over memory (maximum, sums of exponentials, dot products, maps,
//!   the blocked two-pass sum).
//! - [`pair_sum`]: pass 1 of the two-pass algorithm, the (mantissa, exponent) sums per lane.
//! - [`forward`]: softmax (every algorithm, optionally with a fused input scale), log-softmax
//!   and log-sum-exp, including the special-value rules shared by every ISA.
//! - [`short`]: rows of a few vectors held in registers, several rows at a time;
//!   [`storage`]: how their elements are stored (f32, or 16-bit converted in the registers).
//! - [`batch`]: batches of rows, short ones through [`short`].
//! - [`training`]: the backward passes and the fused cross-entropy loss.
//! - [`lse`]: sharded and streamed rows: the log-sum-exp state of a chunk, and the output
//!   passes against a global log-sum-exp.
//! - [`stablemax`]: StableMax, its log, its cross-entropy and backward passes.
//! - [`topk`]: top-k gating; [`gate`]: its candidate path, several rows at a time; [`tile`]:
//!   batches of short rows transposed, a row per lane;
//!   [`sample`]: top-k / top-p sampling by ladders of masses, without sorting the row.
//! - [`segmented`]: single passes over one fixed-size segment of a long row, which
//!   `crate::segmented` runs in parallel and combines in segment order.
//! - [`convert`]: rows widened from, or narrowed to, the 16-bit formats.
//!
//! Every loop has the same shape, written once in [`walk`]: `U` vectors per iteration
//! (independent accumulators, so the dependent FMA/max chains overlap), then single vectors,
//! then one partial vector through `load_tail`/`store_tail` (no scalar remainder loop). Sums
//! are accumulated per block of [`passes::BLOCK`] elements in f32 lanes and the block totals
//! in f64, which keeps the error of a 16M-element sum near 1e-7 instead of the 1e-3 of one
//! running f32 sum.
//!
//! Release builds inline every function here into the ISA's `#[target_feature]` entry point.
//! Debug builds keep the largest ones (`#[cfg_attr(debug_assertions, inline(never))]`) in
//! frames of their own: code built at opt-level 0 gives each inlined temporary its own stack
//! slot, and one frame holding every path of an entry point would need megabytes of stack.
//!
//! # Safety
//! Every function takes the ISA's [`Token`](super::simd::Token), so the vector arithmetic is
//! safe. Functions over safe views (slices, `InOut`, `Grad`, `Rows`) are safe; the few that
//! take raw pointers (the map passes, the short-row groups) are `unsafe fn`s whose pointers
//! are valid for the stated number of elements, an output equal to an input (in place) or
//! disjoint from it. The loads and stores themselves happen in [`walk`] and a handful of
//! places, each with its bounds argument.

/// Runs `$check::<V, U>(isa, name)` in a unit test for every ISA this machine runs, `U` being
/// the ISA's unroll (portable 4, AVX2 2, AVX-512 1, NEON 4).
#[cfg(test)]
macro_rules! each_isa_here {
    ($check:ident) => {{
        $check::<_, 4>(crate::kernels::portable::token(), "scalar");
        #[cfg(target_arch = "x86_64")]
        {
            use crate::kernels::simd::Token;
            if let Some(isa) = Token::<crate::kernels::avx2::Avx2>::detect() {
                $check::<_, 2>(isa, "avx2");
            }
            if let Some(isa) = Token::<crate::kernels::avx512::Avx512>::detect() {
                $check::<_, 1>(isa, "avx512");
            }
            if let Some(isa) = Token::<crate::kernels::avx512::Avx512<true>>::detect() {
                $check::<_, 1>(isa, "avx512 (BF16)");
            }
        }
        #[cfg(target_arch = "aarch64")]
        if let Some(isa) = crate::kernels::simd::Token::<crate::kernels::neon::Neon>::detect() {
            $check::<_, 4>(isa, "neon");
        }
    }};
}
#[cfg(test)]
pub(crate) use each_isa_here;

pub(crate) mod batch;
pub(crate) mod convert;
pub(crate) mod forward;
pub(crate) mod gate;
pub(crate) mod half_rows;
pub(crate) mod inputs;
pub(crate) mod lse;
pub(crate) mod medium;
pub(crate) mod pair_sum;
pub(crate) mod passes;
pub(crate) mod sample;
pub(crate) mod segmented;
pub(crate) mod short;
pub(crate) mod stablemax;
pub(crate) mod storage;
pub(crate) mod tile;
pub(crate) mod topk;
pub(crate) mod training;
pub(crate) mod walk;

pub(crate) use batch::{log_softmax_rows, logsumexp_rows, softmax_rows, softmax_scaled_rows};
pub(crate) use forward::{log_softmax, logsumexp, softmax, softmax_scaled};
pub(crate) use training::{
    cross_entropy, cross_entropy_grad, log_softmax_backward, softmax_backward,
};
