//! Fast, accurate softmax, log-softmax and log-sum-exp over `f32` rows.
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
//! (4.8e-7, 4 ULP) for outputs above 1e-30, in `[0, 1]`; log-softmax within
//! `2.5e-7 * max(1, |exact|)`, `<= 0`; log-sum-exp within `2e-7 * max(1, |exact|)`. The C
//! header (`include/softmax.h`, ACCURACY) lists every bound. The library assumes the default
//! floating-point environment (round-to-nearest-even, no FTZ/DAZ).
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod dispatch;
mod error;
pub mod ffi;
mod io;
mod kernels;
mod lse;
mod parallel;
mod segmented;
mod stablemax;
pub mod topk;
mod tuning;

pub use dispatch::{current_isa, set_isa, ISA_ENV_VAR};
pub use error::Error;
pub use lse::{logsumexp_state, merge_lse_rows, LseState, ShardLayout};
pub use parallel::{
    num_threads, set_num_threads, set_parallel_for, ParallelFor, MAX_THREADS, THREADS_ENV_VAR,
};
pub use stablemax::{
    log_stablemax, log_stablemax_backward, log_stablemax_rows, stablemax, stablemax_backward,
    stablemax_cross_entropy, stablemax_cross_entropy_with_grad, stablemax_rows,
};
pub use topk::{sample, topk_softmax, Sampling, TopkOptions};

use io::{Grad, InOut, Rows, RowsIn};
use kernels::{Flags, Kernels};

/// An instruction-set family with its own kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Isa {
    /// Portable kernels (no SIMD intrinsics): the reference implementation.
    Scalar = 0,
    /// x86_64 with AVX2 and FMA (8 lanes).
    Avx2 = 1,
    /// x86_64 with AVX-512F (16 lanes).
    Avx512 = 2,
    /// aarch64 Advanced SIMD (4 lanes).
    Neon = 3,
}

impl Isa {
    /// Every ISA, in the order of their C constants.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon];

    /// Lower-case name, as accepted by `SOFTMAX_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Parses a name as written by [`Isa::name`] (case-insensitive).
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(name))
    }

    /// The ISA with C constant `v`.
    pub fn from_u32(v: u32) -> Option<Isa> {
        Isa::ALL.get(v as usize).copied()
    }

    /// True when this build contains the ISA's kernels and the running CPU executes them.
    pub fn is_supported(self) -> bool {
        dispatch::kernels_for(self).is_some()
    }

    /// The best ISA of this CPU (what is chosen when `SOFTMAX_ISA` is not set).
    pub fn best() -> Isa {
        dispatch::best()
    }
}

/// How softmax walks memory. All give the same results to within a few ULP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u32)]
pub enum Algorithm {
    /// Three-pass reload for rows up to a quarter of the last-level cache, two-pass beyond.
    #[default]
    Auto = 0,
    /// Max; sum of exponentials; exponentials again, normalised on the fly
    /// (3 reads + 1 write of memory, 2 exponentials per element).
    ThreePassRecompute = 1,
    /// Max; exponentials stored and summed; scale the stored values
    /// (3 reads + 2 writes, 1 exponential per element: the fastest in cache).
    ThreePassReload = 2,
    /// Dukhan & Ablavatski: pass 1 keeps the sum as a (mantissa, exponent) pair per lane, so
    /// no maximum pass is needed; pass 2 writes the normalised exponentials
    /// (2 reads + 1 write, 2 exponentials per element: the fastest out of cache).
    /// Each lane's exponent moves only when an input would overflow its mantissa (checked
    /// once per chunk of a few hundred elements), not at every element as in the paper, so
    /// pass 1 costs an exponential and an add per element.
    TwoPass = 3,
    /// Two passes with a per-block exponent: each block of 2048 elements is first scanned for
    /// its maximum (the second read of the block hits L1), then summed against the running
    /// power-of-two shift; pass 2 as in `TwoPass`. Same memory traffic as `TwoPass`.
    TwoPassBlocked = 4,
}

impl Algorithm {
    /// Every algorithm, in the order of their C constants.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Auto,
        Algorithm::ThreePassRecompute,
        Algorithm::ThreePassReload,
        Algorithm::TwoPass,
        Algorithm::TwoPassBlocked,
    ];

    /// The algorithm with C constant `v`.
    pub fn from_u32(v: u32) -> Option<Algorithm> {
        Algorithm::ALL.get(v as usize).copied()
    }

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Auto => "auto",
            Algorithm::ThreePassRecompute => "three-pass-recompute",
            Algorithm::ThreePassReload => "three-pass-reload",
            Algorithm::TwoPass => "two-pass",
            Algorithm::TwoPassBlocked => "two-pass-blocked",
        }
    }

    /// The concrete algorithm `Auto` means for rows of `n` elements on this machine.
    pub fn resolve(self, n: usize) -> Algorithm {
        match self {
            Algorithm::Auto if tuning::reload_without_lookup(n) => Algorithm::ThreePassReload,
            Algorithm::Auto => Algorithm::TwoPass,
            other => other,
        }
    }
}

/// The number of elements a batch of `rows` rows of `cols` values `stride` apart spans.
pub(crate) fn batch_extent(rows: usize, cols: usize, stride: usize) -> Result<usize, Error> {
    if rows == 0 {
        return Ok(0);
    }
    if stride < cols {
        return Err(Error::InvalidStride { stride, cols });
    }
    (rows - 1)
        .checked_mul(stride)
        .and_then(|v| v.checked_add(cols))
        .ok_or(Error::InvalidStride { stride, cols })
}

/// The error of a slice `argument` of length `actual` where `expected` are needed.
fn length(argument: &'static str, expected: usize, actual: usize) -> Error {
    Error::SliceLength {
        argument,
        expected,
        actual,
    }
}

/// `Ok` when the slice `argument` of length `actual` holds at least `expected` elements.
pub(crate) fn check_len(
    argument: &'static str,
    expected: usize,
    actual: usize,
) -> Result<(), Error> {
    if actual < expected {
        Err(Error::SliceLength {
            argument,
            expected,
            actual,
        })
    } else {
        Ok(())
    }
}

/// Kernels of one ISA, chosen explicitly or by detection. Cheap to copy.
///
/// ```
/// use softmax::{Isa, Softmax};
/// let sm = Softmax::with_isa(Isa::Scalar).unwrap();
/// let mut row = [0.0f32, 0.0];
/// sm.softmax_in_place(&mut row);
/// assert_eq!(row, [0.5, 0.5]);
/// ```
#[derive(Clone, Copy)]
pub struct Softmax {
    kernels: &'static Kernels,
    zero_masked: bool,
    /// The thread setting of this handle; `None`: the process setting (`parallel`).
    threads: Option<usize>,
}

impl Default for Softmax {
    fn default() -> Self {
        Softmax::new()
    }
}

impl std::fmt::Debug for Softmax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Softmax")
            .field("isa", &self.isa())
            .field("zero_masked_rows", &self.zero_masked)
            .field("threads", &self.threads)
            .finish()
    }
}

impl Softmax {
    /// The kernels calls use now (detected, `SOFTMAX_ISA`, or [`set_isa`]).
    pub fn new() -> Softmax {
        Softmax {
            kernels: dispatch::active(),
            zero_masked: false,
            threads: None,
        }
    }

    /// The kernels of `isa`; [`Error::UnsupportedIsa`] when this CPU or build lacks it.
    pub fn with_isa(isa: Isa) -> Result<Softmax, Error> {
        dispatch::kernels_for(isa)
            .map(|kernels| Softmax {
                kernels,
                zero_masked: false,
                threads: None,
            })
            .ok_or(Error::UnsupportedIsa(isa))
    }

    /// The ISA these kernels use.
    pub fn isa(&self) -> Isa {
        self.kernels.isa
    }

    /// The same kernels with masked-row mode on or off. When on, softmax of a row whose
    /// entries are all `-inf` (a fully masked attention row) gives zeros instead of NaN, so
    /// its gradient through [`Softmax::softmax_backward`] is zero too. Off by default.
    pub fn zero_masked_rows(self, on: bool) -> Softmax {
        Softmax {
            zero_masked: on,
            ..self
        }
    }

    fn flags(&self, n: usize) -> Flags {
        Flags {
            nt: tuning::nt_without_lookup(n),
            zero_masked: self.zero_masked,
        }
    }

    fn run_softmax(&self, io: InOut<'_>, algorithm: Algorithm) {
        let n = io.len();
        if n >= segmented::SEGMENT_MIN_LEN {
            return segmented::softmax(self, io, algorithm.resolve(n), self.flags(n));
        }
        // SAFETY: `self.kernels` came from `dispatch`, which hands out a table only when the
        // CPU supports its ISA; `io` upholds the kernel's pointer contract by construction.
        unsafe { (self.kernels.softmax)(io, algorithm.resolve(n), self.flags(n)) }
    }

    fn run_softmax_scaled(
        &self,
        io: InOut<'_>,
        algorithm: Algorithm,
        scale: f32,
    ) -> Result<(), Error> {
        if !scale.is_finite() {
            return Err(Error::InvalidArgument("scale must be finite"));
        }
        let n = io.len();
        // SAFETY: as in `run_softmax`; `scale` is finite as the kernel requires.
        unsafe { (self.kernels.softmax_scaled)(io, algorithm.resolve(n), self.flags(n), scale) };
        Ok(())
    }

    fn run_backward(&self, g: Grad<'_>, log: bool) {
        let nt = tuning::nt_without_lookup(g.len());
        let f = if log {
            self.kernels.log_softmax_backward
        } else {
            self.kernels.softmax_backward
        };
        // SAFETY: as in `run_softmax`; `g` upholds the kernel's pointer contract.
        unsafe { f(g, nt) }
    }

    fn check_target(n: usize, target: usize, smoothing: f32) -> Result<(), Error> {
        if target >= n {
            return Err(Error::TargetOutOfRange {
                row: 0,
                target: i64::try_from(target).unwrap_or(i64::MAX),
                classes: n,
            });
        }
        if !(0.0..=1.0).contains(&smoothing) {
            return Err(Error::InvalidArgument("label smoothing must be in [0, 1]"));
        }
        Ok(())
    }

    fn run_cross_entropy(&self, x: &[f32], target: usize, smoothing: f32) -> Result<f32, Error> {
        Self::check_target(x.len(), target, smoothing)?;
        if x.len() >= segmented::SEGMENT_MIN_LEN {
            return Ok(segmented::cross_entropy(self, x, target, smoothing));
        }
        // SAFETY: as in `run_softmax`; `target < x.len()` and the smoothing is in range.
        Ok(unsafe { (self.kernels.cross_entropy)(x, target, smoothing) })
    }

    fn run_cross_entropy_grad(
        &self,
        io: InOut<'_>,
        target: usize,
        smoothing: f32,
    ) -> Result<f32, Error> {
        let n = io.len();
        Self::check_target(n, target, smoothing)?;
        if n >= segmented::SEGMENT_MIN_LEN {
            let flags = self.flags(n);
            return Ok(segmented::cross_entropy_grad(
                self, io, target, smoothing, flags,
            ));
        }
        // SAFETY: as in `run_cross_entropy`; `io` upholds the pointer contract.
        Ok(unsafe { (self.kernels.cross_entropy_grad)(io, target, smoothing, self.flags(n)) })
    }

    /// Softmax of a validated batch: the algorithm and flags are resolved once, for its rows'
    /// length.
    pub(crate) fn run_softmax_rows(&self, mut rows: Rows<'_>, algorithm: Algorithm) {
        let n = rows.cols();
        if n >= segmented::SEGMENT_MIN_LEN || rows.rows() == 1 {
            // Rows this long are split inside each row (the same results as one-row calls);
            // one row takes the one-row entry point, which measured 17.6 against 50 ns for a
            // row of 64 through the batch entry point (AVX-512, Zen 5).
            return rows.for_each(|io| self.run_softmax(io, algorithm));
        }
        let (alg, flags) = (algorithm.resolve(n), self.flags(n));
        self.row_chunks(&rows, |part| {
            // SAFETY: as in `run_softmax`; `part` upholds the kernel's pointer contract.
            unsafe { (self.kernels.softmax_rows)(part, alg, flags) }
        });
    }

    /// Scaled softmax of a validated batch (`scale` finite).
    pub(crate) fn run_softmax_scaled_rows(&self, rows: Rows<'_>, algorithm: Algorithm, scale: f32) {
        debug_assert!(scale.is_finite());
        let n = rows.cols();
        let (alg, flags) = (algorithm.resolve(n), self.flags(n));
        self.row_chunks(&rows, |part| {
            // SAFETY: as in `run_softmax_rows`; the scale is finite.
            unsafe { (self.kernels.softmax_scaled_rows)(part, alg, flags, scale) }
        });
    }

    /// Log-softmax of a validated batch.
    pub(crate) fn run_log_softmax_rows(&self, mut rows: Rows<'_>) {
        if rows.cols() >= segmented::SEGMENT_MIN_LEN || rows.rows() == 1 {
            return rows.for_each(|io| self.run_log_softmax(io));
        }
        let flags = self.flags(rows.cols());
        self.row_chunks(&rows, |part| {
            // SAFETY: as in `run_softmax_rows`.
            unsafe { (self.kernels.log_softmax_rows)(part, flags) }
        });
    }

    /// Runs `f` on chunks of whole rows of a batch, in parallel when the batch is large
    /// enough and the thread setting allows ([`parallel::for_row_chunks`]).
    fn row_chunks(&self, rows: &Rows<'_>, f: impl Fn(Rows<'_>) + Sync) {
        parallel::for_row_chunks(self.threads, rows.rows(), rows.cols(), |range| {
            // SAFETY: the chunks are disjoint ranges of rows, each handed out once.
            f(unsafe { rows.sub(range) })
        });
    }

    fn run_log_softmax(&self, io: InOut<'_>) {
        let flags = self.flags(io.len());
        if io.len() >= segmented::SEGMENT_MIN_LEN {
            return segmented::log_softmax(self, io, flags);
        }
        // SAFETY: as in `run_softmax`.
        unsafe { (self.kernels.log_softmax)(io, flags) }
    }

    /// `y = softmax(x)` with [`Algorithm::Auto`]; `y.len()` must equal `x.len()`.
    pub fn softmax(&self, x: &[f32], y: &mut [f32]) -> Result<(), Error> {
        self.softmax_with(x, y, Algorithm::Auto)
    }

    /// `y = softmax(x)` with the given algorithm.
    pub fn softmax_with(
        &self,
        x: &[f32],
        y: &mut [f32],
        algorithm: Algorithm,
    ) -> Result<(), Error> {
        let mismatch = length("y", x.len(), y.len());
        let io = InOut::new(x, y).ok_or(mismatch)?;
        self.run_softmax(io, algorithm);
        Ok(())
    }

    /// `xy = softmax(xy)` with [`Algorithm::Auto`].
    pub fn softmax_in_place(&self, xy: &mut [f32]) {
        self.softmax_in_place_with(xy, Algorithm::Auto)
    }

    /// `xy = softmax(xy)` with the given algorithm.
    pub fn softmax_in_place_with(&self, xy: &mut [f32], algorithm: Algorithm) {
        self.run_softmax(InOut::in_place(xy), algorithm)
    }

    /// `y = log_softmax(x) = x - logsumexp(x)`; `y.len()` must equal `x.len()`.
    pub fn log_softmax(&self, x: &[f32], y: &mut [f32]) -> Result<(), Error> {
        let mismatch = length("y", x.len(), y.len());
        let io = InOut::new(x, y).ok_or(mismatch)?;
        self.run_log_softmax(io);
        Ok(())
    }

    /// `xy = log_softmax(xy)`.
    pub fn log_softmax_in_place(&self, xy: &mut [f32]) {
        self.run_log_softmax(InOut::in_place(xy))
    }

    /// `ln(sum_i exp(x_i))`, reading `x` once; `-inf` for an empty row.
    pub fn logsumexp(&self, x: &[f32]) -> f32 {
        if x.len() >= segmented::SEGMENT_MIN_LEN {
            return segmented::logsumexp(self, x);
        }
        // SAFETY: as in `run_softmax`.
        unsafe { (self.kernels.logsumexp)(x) }
    }

    /// Softmax of `rows` rows of `cols` values: row `r` is `x[r*x_stride..][..cols]` and goes
    /// to `y[r*y_stride..][..cols]`. Strides are in elements and at least `cols`.
    #[allow(clippy::too_many_arguments)]
    pub fn softmax_rows(
        &self,
        x: &[f32],
        x_stride: usize,
        y: &mut [f32],
        y_stride: usize,
        rows: usize,
        cols: usize,
        algorithm: Algorithm,
    ) -> Result<(), Error> {
        let rows = Rows::new(x, x_stride, y, y_stride, rows, cols)?;
        self.run_softmax_rows(rows, algorithm);
        Ok(())
    }

    /// Softmax of `rows` rows of `cols` values `stride` apart, in place.
    pub fn softmax_rows_in_place(
        &self,
        xy: &mut [f32],
        stride: usize,
        rows: usize,
        cols: usize,
        algorithm: Algorithm,
    ) -> Result<(), Error> {
        self.run_softmax_rows(Rows::in_place(xy, stride, rows, cols)?, algorithm);
        Ok(())
    }

    /// Log-softmax of `rows` rows (layout as in [`Softmax::softmax_rows`]).
    pub fn log_softmax_rows(
        &self,
        x: &[f32],
        x_stride: usize,
        y: &mut [f32],
        y_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let rows = Rows::new(x, x_stride, y, y_stride, rows, cols)?;
        self.run_log_softmax_rows(rows);
        Ok(())
    }

    /// Log-softmax of `rows` rows of `cols` values `stride` apart, in place.
    pub fn log_softmax_rows_in_place(
        &self,
        xy: &mut [f32],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        self.run_log_softmax_rows(Rows::in_place(xy, stride, rows, cols)?);
        Ok(())
    }

    /// `out[r] = ln(sum_i exp(x[r*stride + i]))` for `rows` rows of `cols` values (`-inf`
    /// for `cols == 0`), each row as [`Softmax::logsumexp`] computes it, bit for bit.
    /// `out` holds at least `rows` values (the rest is untouched); `stride >= cols`.
    pub fn logsumexp_rows(
        &self,
        x: &[f32],
        stride: usize,
        rows: usize,
        cols: usize,
        out: &mut [f32],
    ) -> Result<(), Error> {
        let batch = RowsIn::new(x, stride, rows, cols)?;
        check_len("out", rows, out.len())?;
        self.run_logsumexp_rows(batch, &mut out[..rows]);
        Ok(())
    }

    /// Log-sum-exp of a validated batch into `out` (`rows` values).
    pub(crate) fn run_logsumexp_rows(&self, batch: RowsIn<'_>, out: &mut [f32]) {
        debug_assert_eq!(out.len(), batch.rows());
        if batch.cols() >= segmented::SEGMENT_MIN_LEN || batch.rows() == 1 {
            for (r, o) in out.iter_mut().enumerate() {
                *o = self.logsumexp(batch.row(r));
            }
            return;
        }
        let out = parallel::Shared(out.as_mut_ptr());
        parallel::for_row_chunks(self.threads, batch.rows(), batch.cols(), |range| {
            // SAFETY: `out` holds one value per row and the chunks are disjoint ranges of
            // rows, each handed out once, so the slices do not overlap.
            let part =
                unsafe { std::slice::from_raw_parts_mut(out.get().add(range.start), range.len()) };
            // SAFETY: as in `run_softmax`; the sub-batch covers its rows and `part` holds one
            // value per row, as the kernel requires.
            unsafe { (self.kernels.logsumexp_rows)(batch.sub(range), part) }
        });
    }

    /// `y = softmax(scale * x)` with [`Algorithm::Auto`]: a temperature or attention scale
    /// fused into the kernels (no extra pass). `scale` must be finite
    /// ([`Error::InvalidArgument`] otherwise); `scale == 0` gives the uniform distribution
    /// (NaN when an input is not finite).
    pub fn softmax_scaled(&self, x: &[f32], y: &mut [f32], scale: f32) -> Result<(), Error> {
        self.softmax_scaled_with(x, y, scale, Algorithm::Auto)
    }

    /// `y = softmax(scale * x)` with the given algorithm.
    pub fn softmax_scaled_with(
        &self,
        x: &[f32],
        y: &mut [f32],
        scale: f32,
        algorithm: Algorithm,
    ) -> Result<(), Error> {
        let mismatch = length("y", x.len(), y.len());
        let io = InOut::new(x, y).ok_or(mismatch)?;
        self.run_softmax_scaled(io, algorithm, scale)
    }

    /// `xy = softmax(scale * xy)`.
    pub fn softmax_scaled_in_place(&self, xy: &mut [f32], scale: f32) -> Result<(), Error> {
        self.run_softmax_scaled(InOut::in_place(xy), Algorithm::Auto, scale)
    }

    /// Batched `softmax(scale * x)` (layout as in [`Softmax::softmax_rows`]).
    #[allow(clippy::too_many_arguments)]
    pub fn softmax_scaled_rows(
        &self,
        x: &[f32],
        x_stride: usize,
        y: &mut [f32],
        y_stride: usize,
        rows: usize,
        cols: usize,
        scale: f32,
        algorithm: Algorithm,
    ) -> Result<(), Error> {
        if !scale.is_finite() {
            return Err(Error::InvalidArgument("scale must be finite"));
        }
        let rows = Rows::new(x, x_stride, y, y_stride, rows, cols)?;
        self.run_softmax_scaled_rows(rows, algorithm, scale);
        Ok(())
    }

    /// Softmax backward pass: `dx = y * (dy - dot(dy, y))` for a softmax output `y` and the
    /// gradient `dy` of the loss with respect to `y`. All three slices have one length.
    pub fn softmax_backward(&self, y: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<(), Error> {
        self.backward(y, dy, dx, false)
    }

    /// [`Softmax::softmax_backward`] writing `dx` over `dy`.
    pub fn softmax_backward_in_place(&self, y: &[f32], dy_dx: &mut [f32]) -> Result<(), Error> {
        self.backward_in_place(y, dy_dx, false)
    }

    /// Log-softmax backward pass: `dx = dy - exp(y) * sum(dy)` for a log-softmax output `y`
    /// (`exp(y)` counts as infinite from about 88.4 on; infinities follow IEEE rules).
    pub fn log_softmax_backward(&self, y: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<(), Error> {
        self.backward(y, dy, dx, true)
    }

    /// [`Softmax::log_softmax_backward`] writing `dx` over `dy`.
    pub fn log_softmax_backward_in_place(&self, y: &[f32], dy_dx: &mut [f32]) -> Result<(), Error> {
        self.backward_in_place(y, dy_dx, true)
    }

    fn backward(&self, y: &[f32], dy: &[f32], dx: &mut [f32], log: bool) -> Result<(), Error> {
        let mismatch = if dy.len() != y.len() {
            length("dy", y.len(), dy.len())
        } else {
            length("dx", y.len(), dx.len())
        };
        self.run_backward(Grad::new(y, dy, dx).ok_or(mismatch)?, log);
        Ok(())
    }

    fn backward_in_place(&self, y: &[f32], dy_dx: &mut [f32], log: bool) -> Result<(), Error> {
        let mismatch = length("dy_dx", y.len(), dy_dx.len());
        let g = Grad::in_place(y, dy_dx).ok_or(mismatch)?;
        self.run_backward(g, log);
        Ok(())
    }

    /// Batched softmax backward pass: row `r` of each buffer starts at `r * stride` of that
    /// buffer (strides in elements, at least `cols`).
    #[allow(clippy::too_many_arguments)]
    pub fn softmax_backward_rows(
        &self,
        y: &[f32],
        y_stride: usize,
        dy: &[f32],
        dy_stride: usize,
        dx: &mut [f32],
        dx_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let strides = [y_stride, dy_stride, dx_stride];
        self.grad_rows(("y", y), dy, dx, strides, rows, cols, |g| {
            self.run_backward(g, false)
        })
    }

    /// Batched log-softmax backward pass (layout as in [`Softmax::softmax_backward_rows`]).
    #[allow(clippy::too_many_arguments)]
    pub fn log_softmax_backward_rows(
        &self,
        y: &[f32],
        y_stride: usize,
        dy: &[f32],
        dy_stride: usize,
        dx: &mut [f32],
        dx_stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        let strides = [y_stride, dy_stride, dx_stride];
        self.grad_rows(("y", y), dy, dx, strides, rows, cols, |g| {
            self.run_backward(g, true)
        })
    }

    /// Validates a batch of backward passes and runs `op` on each row's `(y, dy, dx)` (the
    /// first input is named `name` in errors: the forward output, or the StableMax input).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn grad_rows(
        &self,
        (name, y): (&'static str, &[f32]),
        dy: &[f32],
        dx: &mut [f32],
        [ys, dys, dxs]: [usize; 3],
        rows: usize,
        cols: usize,
        op: impl Fn(Grad<'_>) + Sync,
    ) -> Result<(), Error> {
        check_len(name, batch_extent(rows, cols, ys)?, y.len())?;
        check_len("dy", batch_extent(rows, cols, dys)?, dy.len())?;
        check_len("dx", batch_extent(rows, cols, dxs)?, dx.len())?;
        let dx = parallel::Shared(dx.as_mut_ptr());
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            for r in range {
                // SAFETY: row `r` of `dx` lies inside the checked extent, and the chunks hand
                // out each row once (rows `dxs >= cols` apart do not overlap).
                let dxr = unsafe { std::slice::from_raw_parts_mut(dx.get().add(r * dxs), cols) };
                let g = Grad::new(&y[r * ys..][..cols], &dy[r * dys..][..cols], dxr);
                op(g.expect("rows have equal lengths"));
            }
        });
        Ok(())
    }

    /// Cross-entropy loss of one row of logits against class `target`:
    /// `logsumexp(logits) - logits[target]`, in one pass over the logits (fused: no softmax
    /// is materialised). `target >= logits.len()` is [`Error::InvalidArgument`].
    ///
    /// Special rows: a NaN logit gives NaN; `k` logits at `+inf` give `ln k` when the target
    /// is one of them and `+inf` otherwise; a row of only `-inf` gives NaN.
    ///
    /// ```
    /// let sm = softmax::Softmax::new();
    /// let loss = sm.cross_entropy(&[0.0, 0.0], 1).unwrap();
    /// assert!((loss - std::f32::consts::LN_2).abs() < 1e-7);
    /// ```
    pub fn cross_entropy(&self, logits: &[f32], target: usize) -> Result<f32, Error> {
        self.run_cross_entropy(logits, target, 0.0)
    }

    /// [`Softmax::cross_entropy`] that also writes the gradient with respect to the logits,
    /// `softmax(logits) - onehot(target)`, to `dlogits`: two passes, no intermediate buffer.
    pub fn cross_entropy_with_grad(
        &self,
        logits: &[f32],
        target: usize,
        dlogits: &mut [f32],
    ) -> Result<f32, Error> {
        let mismatch = length("dlogits", logits.len(), dlogits.len());
        let io = InOut::new(logits, dlogits).ok_or(mismatch)?;
        self.run_cross_entropy_grad(io, target, 0.0)
    }

    /// Batched cross-entropy: row `r` of `cols` logits starts at `r * stride`; `targets[r]`
    /// is its class, or `options.ignore_index` to skip it (loss 0, gradient row 0). Writes
    /// one loss per row to `losses` (the caller reduces) and, when `dlogits` is given as
    /// `(buffer, stride)`, the gradient rows. With label smoothing `eps`, the target
    /// distribution is `(1 - eps) * onehot + eps / cols`. Every target is checked before
    /// anything is written.
    #[allow(clippy::too_many_arguments)]
    pub fn cross_entropy_rows(
        &self,
        logits: &[f32],
        stride: usize,
        rows: usize,
        cols: usize,
        targets: &[i64],
        options: CrossEntropyOptions,
        losses: &mut [f32],
        dlogits: Option<(&mut [f32], usize)>,
    ) -> Result<(), Error> {
        check_len("logits", batch_extent(rows, cols, stride)?, logits.len())?;
        check_len("targets", rows, targets.len())?;
        check_len("losses", rows, losses.len())?;
        if let Some((d, ds)) = &dlogits {
            check_len("dlogits", batch_extent(rows, cols, *ds)?, d.len())?;
        }
        let eps = options.label_smoothing;
        for (row, &t) in targets.iter().take(rows).enumerate() {
            let class = usize::try_from(t).ok().filter(|&c| c < cols);
            if t != options.ignore_index && class.is_none() {
                let (target, classes) = (t, cols);
                return Err(Error::TargetOutOfRange {
                    row,
                    target,
                    classes,
                });
            }
        }
        Self::check_target(1, 0, eps)?;
        let losses = parallel::Shared(losses.as_mut_ptr());
        let dlogits = dlogits.map(|(d, ds)| (parallel::Shared(d.as_mut_ptr()), ds));
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            for r in range {
                let x = &logits[r * stride..][..cols];
                let t = targets[r];
                // SAFETY: row `r` of the gradient lies inside its checked extent, and the
                // chunks hand out each row once (rows `ds >= cols` apart do not overlap).
                let d = dlogits.map(|(d, ds)| unsafe {
                    std::slice::from_raw_parts_mut(d.get().add(r * ds), cols)
                });
                let loss = match d {
                    _ if t == options.ignore_index => {
                        if let Some(d) = d {
                            d.fill(0.0);
                        }
                        0.0
                    }
                    Some(d) => {
                        let io = InOut::new(x, d).expect("rows have equal lengths");
                        self.run_cross_entropy_grad(io, t as usize, eps)
                            .expect("targets checked above")
                    }
                    None => self
                        .run_cross_entropy(x, t as usize, eps)
                        .expect("targets checked above"),
                };
                // SAFETY: `r < rows <= losses.len()`, and each row's loss is written once.
                unsafe { losses.get().add(r).write(loss) };
            }
        });
        Ok(())
    }

    /// Validates a batch and runs a one-row operation on each of its rows.
    #[allow(clippy::too_many_arguments)]
    fn rows(
        &self,
        x: &[f32],
        x_stride: usize,
        y: &mut [f32],
        y_stride: usize,
        rows: usize,
        cols: usize,
        op: impl Fn(InOut<'_>) + Sync,
    ) -> Result<(), Error> {
        check_len("x", batch_extent(rows, cols, x_stride)?, x.len())?;
        check_len("y", batch_extent(rows, cols, y_stride)?, y.len())?;
        let y = parallel::Shared(y.as_mut_ptr());
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            for r in range {
                let xr = &x[r * x_stride..][..cols];
                // SAFETY: row `r` of `y` lies inside the checked extent, and the chunks hand
                // out each row once (rows `y_stride >= cols` apart do not overlap).
                let yr = unsafe { std::slice::from_raw_parts_mut(y.get().add(r * y_stride), cols) };
                op(InOut::new(xr, yr).expect("rows have equal lengths"));
            }
        });
        Ok(())
    }

    /// [`Softmax::rows`] in place.
    fn rows_in_place(
        &self,
        xy: &mut [f32],
        stride: usize,
        rows: usize,
        cols: usize,
        op: impl Fn(InOut<'_>) + Sync,
    ) -> Result<(), Error> {
        check_len("xy", batch_extent(rows, cols, stride)?, xy.len())?;
        let xy = parallel::Shared(xy.as_mut_ptr());
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            for r in range {
                // SAFETY: as in `rows`: each row once, inside the checked extent.
                let row = unsafe { std::slice::from_raw_parts_mut(xy.get().add(r * stride), cols) };
                op(InOut::in_place(row));
            }
        });
        Ok(())
    }
}

/// `y = softmax(x)` on the current ISA with [`Algorithm::Auto`].
///
/// ```
/// let mut y = [0.0f32; 2];
/// softmax::softmax(&[0.0, f32::NEG_INFINITY], &mut y).unwrap();
/// assert_eq!(y, [1.0, 0.0]);
/// ```
pub fn softmax(x: &[f32], y: &mut [f32]) -> Result<(), Error> {
    Softmax::new().softmax(x, y)
}

/// `y = softmax(x)` on the current ISA with the given algorithm.
pub fn softmax_with(x: &[f32], y: &mut [f32], algorithm: Algorithm) -> Result<(), Error> {
    Softmax::new().softmax_with(x, y, algorithm)
}

/// `xy = softmax(xy)` on the current ISA.
pub fn softmax_in_place(xy: &mut [f32]) {
    Softmax::new().softmax_in_place(xy)
}

/// `y = log_softmax(x)` on the current ISA.
///
/// ```
/// let mut y = [0.0f32; 2];
/// softmax::log_softmax(&[1.0, 1.0], &mut y).unwrap();
/// assert!((y[0] + std::f32::consts::LN_2).abs() < 1e-7);
/// ```
pub fn log_softmax(x: &[f32], y: &mut [f32]) -> Result<(), Error> {
    Softmax::new().log_softmax(x, y)
}

/// `xy = log_softmax(xy)` on the current ISA.
pub fn log_softmax_in_place(xy: &mut [f32]) {
    Softmax::new().log_softmax_in_place(xy)
}

/// `ln(sum_i exp(x_i))` on the current ISA, in one pass; `-inf` for an empty row.
///
/// ```
/// assert_eq!(softmax::logsumexp(&[]), f32::NEG_INFINITY);
/// assert!((softmax::logsumexp(&[1000.0, 1000.0]) - 1000.693_15).abs() < 1e-3);
/// ```
pub fn logsumexp(x: &[f32]) -> f32 {
    Softmax::new().logsumexp(x)
}

/// Batched softmax on the current ISA (see [`Softmax::softmax_rows`]).
#[allow(clippy::too_many_arguments)]
pub fn softmax_rows(
    x: &[f32],
    x_stride: usize,
    y: &mut [f32],
    y_stride: usize,
    rows: usize,
    cols: usize,
    algorithm: Algorithm,
) -> Result<(), Error> {
    Softmax::new().softmax_rows(x, x_stride, y, y_stride, rows, cols, algorithm)
}

/// Batched log-softmax on the current ISA (see [`Softmax::log_softmax_rows`]).
pub fn log_softmax_rows(
    x: &[f32],
    x_stride: usize,
    y: &mut [f32],
    y_stride: usize,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    Softmax::new().log_softmax_rows(x, x_stride, y, y_stride, rows, cols)
}

/// Options of [`Softmax::cross_entropy_rows`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyOptions {
    /// Rows whose target equals this value contribute loss 0 and gradient 0.
    pub ignore_index: i64,
    /// Label smoothing `eps` in `[0, 1]`.
    pub label_smoothing: f32,
}

impl Default for CrossEntropyOptions {
    /// `ignore_index = -100` (the common framework convention), no smoothing.
    fn default() -> Self {
        CrossEntropyOptions {
            ignore_index: -100,
            label_smoothing: 0.0,
        }
    }
}

/// `y = softmax(scale * x)` on the current ISA (see [`Softmax::softmax_scaled`]).
pub fn softmax_scaled(x: &[f32], y: &mut [f32], scale: f32) -> Result<(), Error> {
    Softmax::new().softmax_scaled(x, y, scale)
}

/// Softmax backward pass on the current ISA (see [`Softmax::softmax_backward`]).
pub fn softmax_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<(), Error> {
    Softmax::new().softmax_backward(y, dy, dx)
}

/// Log-softmax backward pass on the current ISA (see [`Softmax::log_softmax_backward`]).
pub fn log_softmax_backward(y: &[f32], dy: &[f32], dx: &mut [f32]) -> Result<(), Error> {
    Softmax::new().log_softmax_backward(y, dy, dx)
}

/// Cross-entropy loss on the current ISA (see [`Softmax::cross_entropy`]).
pub fn cross_entropy(logits: &[f32], target: usize) -> Result<f32, Error> {
    Softmax::new().cross_entropy(logits, target)
}

/// Cross-entropy loss and gradient on the current ISA (see
/// [`Softmax::cross_entropy_with_grad`]).
pub fn cross_entropy_with_grad(
    logits: &[f32],
    target: usize,
    dlogits: &mut [f32],
) -> Result<f32, Error> {
    Softmax::new().cross_entropy_with_grad(logits, target, dlogits)
}

/// The README's Rust examples, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
