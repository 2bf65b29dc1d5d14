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
#![warn(clippy::undocumented_unsafe_blocks)]

mod dispatch;
mod error;
pub mod ffi;
mod io;
mod kernels;
mod tuning;

pub use dispatch::{current_isa, set_isa, ISA_ENV_VAR};
pub use error::Error;

use io::{Grad, InOut};
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
            Algorithm::Auto if n <= tuning::auto_reload_max_len() => Algorithm::ThreePassReload,
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

fn check_len(expected: usize, actual: usize) -> Result<(), Error> {
    if actual < expected {
        Err(Error::LengthMismatch { expected, actual })
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
            .finish()
    }
}

impl Softmax {
    /// The kernels calls use now (detected, `SOFTMAX_ISA`, or [`set_isa`]).
    pub fn new() -> Softmax {
        Softmax {
            kernels: dispatch::active(),
            zero_masked: false,
        }
    }

    /// The kernels of `isa`; [`Error::UnsupportedIsa`] when this CPU or build lacks it.
    pub fn with_isa(isa: Isa) -> Result<Softmax, Error> {
        dispatch::kernels_for(isa)
            .map(|kernels| Softmax {
                kernels,
                zero_masked: false,
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
            nt: n >= tuning::nt_min_len(),
            zero_masked: self.zero_masked,
        }
    }

    fn run_softmax(&self, io: InOut<'_>, algorithm: Algorithm) {
        let n = io.len();
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
        let nt = g.len() >= tuning::nt_min_len();
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
            return Err(Error::InvalidArgument(
                "target must be smaller than the row length",
            ));
        }
        if !(0.0..=1.0).contains(&smoothing) {
            return Err(Error::InvalidArgument("label smoothing must be in [0, 1]"));
        }
        Ok(())
    }

    fn run_cross_entropy(&self, x: &[f32], target: usize, smoothing: f32) -> Result<f32, Error> {
        Self::check_target(x.len(), target, smoothing)?;
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
        // SAFETY: as in `run_cross_entropy`; `io` upholds the pointer contract.
        Ok(unsafe { (self.kernels.cross_entropy_grad)(io, target, smoothing, self.flags(n)) })
    }

    fn run_log_softmax(&self, io: InOut<'_>) {
        let flags = self.flags(io.len());
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
        let (expected, actual) = (x.len(), y.len());
        let io = InOut::new(x, y).ok_or(Error::LengthMismatch { expected, actual })?;
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
        let (expected, actual) = (x.len(), y.len());
        let io = InOut::new(x, y).ok_or(Error::LengthMismatch { expected, actual })?;
        self.run_log_softmax(io);
        Ok(())
    }

    /// `xy = log_softmax(xy)`.
    pub fn log_softmax_in_place(&self, xy: &mut [f32]) {
        self.run_log_softmax(InOut::in_place(xy))
    }

    /// `ln(sum_i exp(x_i))`, reading `x` once; `-inf` for an empty row.
    pub fn logsumexp(&self, x: &[f32]) -> f32 {
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
        self.rows(x, x_stride, y, y_stride, rows, cols, |io| {
            self.run_softmax(io, algorithm)
        })
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
        self.rows_in_place(xy, stride, rows, cols, |io| self.run_softmax(io, algorithm))
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
        self.rows(x, x_stride, y, y_stride, rows, cols, |io| {
            self.run_log_softmax(io)
        })
    }

    /// Log-softmax of `rows` rows of `cols` values `stride` apart, in place.
    pub fn log_softmax_rows_in_place(
        &self,
        xy: &mut [f32],
        stride: usize,
        rows: usize,
        cols: usize,
    ) -> Result<(), Error> {
        self.rows_in_place(xy, stride, rows, cols, |io| self.run_log_softmax(io))
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
        let (expected, actual) = (x.len(), y.len());
        let io = InOut::new(x, y).ok_or(Error::LengthMismatch { expected, actual })?;
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
        self.rows(x, x_stride, y, y_stride, rows, cols, |io| {
            // The scale was checked above, so this cannot fail.
            let _ = self.run_softmax_scaled(io, algorithm, scale);
        })
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
        let mismatch = Error::LengthMismatch {
            expected: y.len(),
            actual: if dy.len() != y.len() {
                dy.len()
            } else {
                dx.len()
            },
        };
        self.run_backward(Grad::new(y, dy, dx).ok_or(mismatch)?, log);
        Ok(())
    }

    fn backward_in_place(&self, y: &[f32], dy_dx: &mut [f32], log: bool) -> Result<(), Error> {
        let (expected, actual) = (y.len(), dy_dx.len());
        let g = Grad::in_place(y, dy_dx).ok_or(Error::LengthMismatch { expected, actual })?;
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
        self.grad_rows(y, dy, dx, strides, rows, cols, false)
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
        self.grad_rows(y, dy, dx, strides, rows, cols, true)
    }

    #[allow(clippy::too_many_arguments)]
    fn grad_rows(
        &self,
        y: &[f32],
        dy: &[f32],
        dx: &mut [f32],
        [ys, dys, dxs]: [usize; 3],
        rows: usize,
        cols: usize,
        log: bool,
    ) -> Result<(), Error> {
        check_len(batch_extent(rows, cols, ys)?, y.len())?;
        check_len(batch_extent(rows, cols, dys)?, dy.len())?;
        check_len(batch_extent(rows, cols, dxs)?, dx.len())?;
        for r in 0..rows {
            let g = Grad::new(
                &y[r * ys..][..cols],
                &dy[r * dys..][..cols],
                &mut dx[r * dxs..][..cols],
            );
            self.run_backward(g.expect("rows have equal lengths"), log);
        }
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
        let (expected, actual) = (logits.len(), dlogits.len());
        let io = InOut::new(logits, dlogits).ok_or(Error::LengthMismatch { expected, actual })?;
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
        mut dlogits: Option<(&mut [f32], usize)>,
    ) -> Result<(), Error> {
        check_len(batch_extent(rows, cols, stride)?, logits.len())?;
        check_len(rows, targets.len())?;
        check_len(rows, losses.len())?;
        if let Some((d, ds)) = &dlogits {
            check_len(batch_extent(rows, cols, *ds)?, d.len())?;
        }
        let eps = options.label_smoothing;
        for &t in targets.iter().take(rows) {
            if t != options.ignore_index {
                let t =
                    usize::try_from(t).map_err(|_| Error::InvalidArgument("negative target"))?;
                Self::check_target(cols, t, eps)?;
            }
        }
        Self::check_target(1, 0, eps)?;
        for r in 0..rows {
            let x = &logits[r * stride..][..cols];
            let t = targets[r];
            losses[r] = match dlogits.as_mut() {
                _ if t == options.ignore_index => {
                    if let Some((d, ds)) = dlogits.as_mut() {
                        d[r * *ds..][..cols].fill(0.0);
                    }
                    0.0
                }
                Some((d, ds)) => {
                    let io =
                        InOut::new(x, &mut d[r * *ds..][..cols]).expect("rows have equal lengths");
                    self.run_cross_entropy_grad(io, t as usize, eps)?
                }
                None => self.run_cross_entropy(x, t as usize, eps)?,
            };
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn rows(
        &self,
        x: &[f32],
        x_stride: usize,
        y: &mut [f32],
        y_stride: usize,
        rows: usize,
        cols: usize,
        mut op: impl FnMut(InOut<'_>),
    ) -> Result<(), Error> {
        check_len(batch_extent(rows, cols, x_stride)?, x.len())?;
        check_len(batch_extent(rows, cols, y_stride)?, y.len())?;
        for r in 0..rows {
            let xr = &x[r * x_stride..][..cols];
            let yr = &mut y[r * y_stride..][..cols];
            op(InOut::new(xr, yr).expect("rows have equal lengths"));
        }
        Ok(())
    }

    fn rows_in_place(
        &self,
        xy: &mut [f32],
        stride: usize,
        rows: usize,
        cols: usize,
        mut op: impl FnMut(InOut<'_>),
    ) -> Result<(), Error> {
        check_len(batch_extent(rows, cols, stride)?, xy.len())?;
        for r in 0..rows {
            op(InOut::in_place(&mut xy[r * stride..][..cols]));
        }
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
