//! Fast, accurate softmax, log-softmax and log-sum-exp over `f32` rows, and over rows of the
//! 16-bit formats [`f16`](struct@f16) and [`bf16`](struct@bf16) with f32 arithmetic (see [`Element`]).
//!
//! Hand-vectorised kernels for AVX2+FMA and AVX-512 (x86_64) and NEON (aarch64), plus portable
//! kernels that are the reference for all of them, picked at run time (see [`Isa`] and
//! [`set_isa`]). The same algorithms are exported through a C ABI (`include/softmax.h`).
//!
//! ```
//! let x = [1.0f32, 2.0, 3.0];
//! let mut y = [0.0f32; 3];
//! softmax::softmax(&x, &mut y).unwrap();
//! assert!((y.iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! assert!((softmax::logsumexp(&x) - 3.407_605_9).abs() < 1e-6);
//! ```
//!
//! # Algorithms
//! Softmax offers the classic three-pass variants and the two-pass algorithm of Dukhan &
//! Ablavatski, "The Two-Pass Softmax Algorithm" (2020), plus a blocked two-pass variant; see
//! [`Algorithm`]. Log-sum-exp reads its input once (pass 1 of the two-pass algorithm).
//!
//! StableMax ("Grokking at the Edge of Numerical Stability", 2025), its log, cross-entropy and
//! backward passes run on the same kernels and dispatch: see [`Softmax::stablemax`].
//!
//! Top-k gating (mixture-of-experts routing) and top-k / top-p sampling are fused with the
//! softmax, with no probability row written and no sort of the row: see [`topk`].
//!
//! # Special values (identical on every ISA)
//! - Empty row: softmax and log-softmax write nothing; log-sum-exp is `-inf`.
//! - A NaN anywhere in a row: every output of the row is NaN (log-sum-exp NaN).
//! - `+inf` entries (no NaN): the `k` entries equal to `+inf` get `1/k` each, all others 0;
//!   log-softmax gives `-ln k` and `-inf`; log-sum-exp is `+inf`.
//! - A row of only `-inf`: softmax and log-softmax give NaN (there is no limit); log-sum-exp
//!   gives `-inf`.
//! - Entries far below the row maximum (where `e^(x - max)` is below about `2^-126`) get
//!   exactly 0 from softmax (the same entries with every algorithm and ISA); log-softmax stays
//!   exact.
//! - Finite inputs of any magnitude work (rows with `|max| >= 2^17` are shifted by their
//!   maximum first, which is exact for every entry that carries mass).
//!
//! # Threads
//! Batches of at least 131 072 elements and single rows of at least 131 072 elements can run
//! on several threads ([`set_num_threads`], [`Softmax::threads`], `SOFTMAX_NUM_THREADS`, or
//! a caller's pool through [`set_parallel_for`]); the default is one thread. Results are
//! bit-identical for every thread count: long rows are cut into segments of a fixed size
//! whose partial sums are combined in segment order.
//!
//! # Accuracy
//! Exponentials come from a two-constant reduction of `x` itself against an integer multiple
//! of `ln 2 / 8` (never the rounded `x - max`), a degree-3 minimax polynomial and an
//! eight-entry table of `2^(j/8)` (NEON: multiples of `ln 2` and a degree-5 polynomial), with
//! the normalisation folded into the polynomial; sums keep a few terms per float lane before
//! they are widened to f64 (the backward passes sum in f64 throughout, in the same order on
//! every ISA). Against an f64 oracle on every ISA, for every input (the test-suite, the
//! property test and the fuzz targets assert it): softmax relative error at most `2^-21`
//! (4.8e-7, 4 ULP) for outputs above 1e-30, in `[0, 1]`; log-softmax and log-sum-exp within
//! `2^-21 * max(1, |exact|)`, log-softmax `<= 0`. The C
//! header (`include/softmax.h`, ACCURACY) lists every bound. The library assumes the default
//! floating-point environment (round-to-nearest-even, no FTZ/DAZ).
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

// `Softmax` and its methods, in the order rustdoc lists them (a comment between them keeps
// rustfmt from sorting them): the handle,
mod handle;
// the forward operations,
mod forward;
// and the training API; the modules below add their methods after these.
mod training;

mod check;
mod dispatch;
mod element;
mod error;
pub mod ffi;
mod half_short;
mod kernels;
mod lse;
mod options;
mod parallel;
mod rows;
mod segmented;
mod stablemax;
mod staged;
mod staged_long;
pub mod topk;
mod tuning;

pub use dispatch::{current_isa, set_isa, ISA_ENV_VAR};
pub use element::{bf16, f16, Element};
pub use error::Error;
pub use forward::{
    log_softmax, log_softmax_in_place, log_softmax_rows, logsumexp, softmax, softmax_in_place,
    softmax_rows, softmax_scaled, softmax_with,
};
pub use handle::Softmax;
pub use lse::{logsumexp_state, merge_lse_rows, LseState, ShardLayout};
pub use options::{Algorithm, Isa};
pub use parallel::{
    num_threads, set_num_threads, set_parallel_for, ParallelFor, MAX_THREADS, THREADS_ENV_VAR,
};
pub use stablemax::{
    log_stablemax, log_stablemax_backward, log_stablemax_rows, stablemax, stablemax_backward,
    stablemax_cross_entropy, stablemax_cross_entropy_with_grad, stablemax_rows,
};
pub use topk::{sample, topk_softmax, Sampling, TopkOptions};
pub use training::{
    cross_entropy, cross_entropy_with_grad, log_softmax_backward, softmax_backward,
    CrossEntropyOptions,
};
pub use tuning::PREFETCH_ENV_VAR;

pub(crate) use check::{batch_extent, check_len};

/// The README's Rust examples, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
