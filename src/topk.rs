//! Top-k gating (mixture-of-experts routing) and sampling from a softmax restricted to its
//! top-k / top-p candidates, each fused with the softmax so that no probability row is
//! written and the row is never sorted.
//!
//! # Gating
//! For each row of logits `x` (times an optional `scale`), the `k` largest entries: their
//! indices, in descending order of value (equal values: the lower index first), and their
//! weights `softmax(scale * x)[i]` (the row's softmax restricted to them) or, with
//! [`TopkOptions::renormalize`], the softmax over the `k` alone (they sum to 1). Special
//! values, identical on every ISA: a row holding a NaN, and a row of only `-inf`, give NaN
//! weights and indices `0..k`; with `c` entries at `+inf` those share the mass (`1/c` each,
//! or `1/c'` over the `c'` selected when renormalising) and every other entry gets 0.
//!
//! A row's weights and indices are the same bits whether it is gated alone or in a batch,
//! whatever the other rows (batches run several rows at a time through paths that reproduce
//! the one-row arithmetic).
//!
//! # Sampling
//! One index drawn from `p = softmax(x / temperature)` with the caller's uniform number `u` in
//! `[0, 1)` (the library holds no random state, so a draw is reproducible):
//! 1. the candidates are the `top_k` largest entries (0: every entry), in descending order of
//!    probability (equal: the lower index first);
//! 2. the nucleus is the shortest prefix of them whose mass reaches `top_p` times the
//!    candidates' total mass (`top_p = 1`: all of them);
//! 3. the draw is the first nucleus entry whose cumulative mass exceeds `u` times the
//!    nucleus's mass.
//!
//! Temperature 0 (or one whose reciprocal overflows `f32`) is the argmax, the lower index on
//! ties. Masses are computed in f64 from the kernels' exponentials, so a draw matches an exact
//! sort-based reference for every `u` except within rounding of a boundary between two
//! entries. A NaN logit is an error; `+inf` logits share the mass equally; a row of only
//! `-inf` draws uniformly. The scaled logits are `x * (1 / temperature)` in f32 (gating:
//! `x * scale`), and a product that overflows counts as an infinite logit.

use crate::kernels::generic::sample::Draw;
use crate::kernels::generic::topk::{Gate, GateOut};
use crate::{batch_extent, check_len, parallel, Error, Softmax};

/// Options of the gating functions ([`Softmax::topk_softmax_rows`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TopkOptions {
    /// Factor applied to every logit first (an inverse temperature; finite and positive).
    /// Default 1.
    pub scale: f32,
    /// Normalise the `k` weights over the selected entries (they sum to 1) instead of
    /// reporting their share of the whole row's softmax. Default `false`.
    pub renormalize: bool,
}

impl Default for TopkOptions {
    fn default() -> Self {
        TopkOptions {
            scale: 1.0,
            renormalize: false,
        }
    }
}

/// The parameters of a draw ([`Softmax::sample`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Finite and `>= 0`; 0 is the argmax. Default 1.
    pub temperature: f32,
    /// Keep only this many of the most probable entries; 0 keeps all. Default 0.
    pub top_k: usize,
    /// Nucleus mass in `(0, 1]`; 1 keeps every candidate. Default 1.
    pub top_p: f32,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
        }
    }
}

impl Sampling {
    /// The checked parameters with the caller's `u`.
    pub(crate) fn draw(&self, u: f32) -> Result<Draw, Error> {
        let t = self.temperature;
        if !(t.is_finite() && t >= 0.0) {
            return Err(Error::InvalidArgument(
                "temperature must be finite and >= 0",
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::InvalidArgument("top_p must be in (0, 1]"));
        }
        if !(0.0..1.0).contains(&u) {
            return Err(Error::InvalidArgument("u must be in [0, 1)"));
        }
        let scale = Some(1.0 / t).filter(|s| s.is_finite());
        Ok(Draw {
            scale,
            top_k: self.top_k,
            top_p: self.top_p as f64,
            u: u as f64,
        })
    }
}

/// Indices are `i32` in the outputs (and `u32` inside): rows longer than this are refused.
const MAX_COLS: usize = i32::MAX as usize;

impl Softmax {
    /// Top-k gating of one row: the `k = weights.len()` largest entries of `scale * logits`
    /// into `indices` (descending value, ties to the lower index) and their softmax weights
    /// into `weights` (see [`Softmax::topk_softmax_rows`]). `indices.len()` must equal `k`,
    /// and `1 <= k <= logits.len()`.
    ///
    /// ```
    /// use softmax::{Softmax, TopkOptions};
    /// let logits = [0.5f32, 2.0, -1.0, 2.0, 1.0];
    /// let (mut w, mut i) = ([0.0f32; 2], [0i32; 2]);
    /// let options = TopkOptions { renormalize: true, ..TopkOptions::default() };
    /// Softmax::new().topk_softmax(&logits, options, &mut w, &mut i).unwrap();
    /// assert_eq!(i, [1, 3]);
    /// assert!((w[0] - 0.5).abs() < 1e-6 && (w[1] - 0.5).abs() < 1e-6);
    /// ```
    pub fn topk_softmax(
        &self,
        logits: &[f32],
        options: TopkOptions,
        weights: &mut [f32],
        indices: &mut [i32],
    ) -> Result<(), Error> {
        let (n, k) = (logits.len(), weights.len());
        if indices.len() != k {
            return Err(Error::SliceLength {
                argument: "indices",
                expected: k,
                actual: indices.len(),
            });
        }
        self.topk_softmax_rows(logits, n, 1, n, k, options, weights, k, indices, k)
    }

    /// Top-k gating of a batch: row `r` of `cols` logits starts at `r * stride`; its `k`
    /// indices go to `indices[r * indices_stride..][..k]` (descending value, equal values: the
    /// lower index first) and its weights to `weights[r * weights_stride..][..k]`: the row's
    /// softmax of `options.scale * x` at those indices, or with `options.renormalize` the
    /// softmax over the `k` alone. See the [module docs](crate::topk) for special values.
    ///
    /// Errors: `k == 0`, `k > cols`, `cols > i32::MAX`, a scale that is not finite and
    /// positive ([`Error::InvalidArgument`]); strides below `cols` / `k` or slices shorter
    /// than the batches.
    #[allow(clippy::too_many_arguments)]
    pub fn topk_softmax_rows(
        &self,
        logits: &[f32],
        stride: usize,
        rows: usize,
        cols: usize,
        k: usize,
        options: TopkOptions,
        weights: &mut [f32],
        weights_stride: usize,
        indices: &mut [i32],
        indices_stride: usize,
    ) -> Result<(), Error> {
        if k == 0 || k > cols {
            return Err(Error::InvalidArgument("k must be in 1..=cols"));
        }
        if cols > MAX_COLS {
            return Err(Error::InvalidArgument("cols must fit in int32_t"));
        }
        if !(options.scale.is_finite() && options.scale > 0.0) {
            return Err(Error::InvalidArgument("scale must be finite and positive"));
        }
        check_len("logits", batch_extent(rows, cols, stride)?, logits.len())?;
        check_len(
            "weights",
            batch_extent(rows, k, weights_stride)?,
            weights.len(),
        )?;
        check_len(
            "indices",
            batch_extent(rows, k, indices_stride)?,
            indices.len(),
        )?;
        let rows_in = crate::rows::RowsIn::new(logits, stride, rows, cols)?;
        self.run_topk_rows(
            rows_in,
            options,
            (weights, weights_stride),
            (indices, indices_stride),
            k,
        );
        Ok(())
    }

    /// Gating of a validated batch (outputs checked against `rows`, `k` and their strides).
    pub(crate) fn run_topk_rows(
        &self,
        batch: crate::rows::RowsIn<'_>,
        options: TopkOptions,
        weights: (&mut [f32], usize),
        indices: (&mut [i32], usize),
        k: usize,
    ) {
        let gate = Gate {
            scale: options.scale,
            renormalize: options.renormalize,
        };
        let (ws, is) = (weights.1, indices.1);
        let (wlen, ilen) = (weights.0.len(), indices.0.len());
        let w = parallel::Shared(weights.0.as_mut_ptr());
        let idx = parallel::Shared(indices.0.as_mut_ptr());
        parallel::for_row_chunks(self.threads, batch.rows(), batch.cols(), |range| {
            let (start, len) = (range.start, range.len());
            if len == 0 {
                return;
            }
            // SAFETY: each chunk's output rows lie inside the checked extents (`wlen`,
            // `ilen`), and the chunks are disjoint ranges of rows handed out once; rows `k`
            // or more apart do not overlap, so no two chunks write the same element.
            let (w, idx) = unsafe {
                let w_end = ((start + len - 1) * ws + k).min(wlen);
                let i_end = ((start + len - 1) * is + k).min(ilen);
                (
                    std::slice::from_raw_parts_mut(w.get().add(start * ws), w_end - start * ws),
                    std::slice::from_raw_parts_mut(idx.get().add(start * is), i_end - start * is),
                )
            };
            let out = GateOut {
                w,
                w_stride: ws,
                idx,
                i_stride: is,
                k,
            };
            // SAFETY: `self.kernels` came from `dispatch` (the CPU has its ISA); the
            // sub-batch and `out` hold `len` rows of `cols` inputs and `k` outputs.
            unsafe {
                if gate.renormalize {
                    (self.kernels.topk_rows_renorm)(batch.sub(range), &gate, out)
                } else {
                    (self.kernels.topk_rows)(batch.sub(range), &gate, out)
                }
            }
        });
    }

    /// One index drawn from `softmax(logits / temperature)` restricted to its top-k and
    /// top-p candidates, with the caller's uniform random number `u` in `[0, 1)` (see the
    /// [module docs](crate::topk) for the exact rule).
    ///
    /// Errors ([`Error::InvalidArgument`]): an empty row or one longer than `i32::MAX`, a
    /// temperature that is negative or not finite, `top_p` outside `(0, 1]`, `u` outside
    /// `[0, 1)`, a NaN logit.
    ///
    /// ```
    /// use softmax::{Sampling, Softmax};
    /// let logits = [1.0f32, 3.0, 2.0, -5.0];
    /// let greedy = Sampling { temperature: 0.0, ..Sampling::default() };
    /// assert_eq!(Softmax::new().sample(&logits, greedy, 0.7).unwrap(), 1);
    /// let nucleus = Sampling { top_p: 0.5, ..Sampling::default() };
    /// // The most probable entry alone holds 66% of the mass: it is the whole nucleus.
    /// assert_eq!(Softmax::new().sample(&logits, nucleus, 0.99).unwrap(), 1);
    /// ```
    pub fn sample(&self, logits: &[f32], sampling: Sampling, u: f32) -> Result<usize, Error> {
        let d = sampling.draw(u)?;
        if logits.is_empty() || logits.len() > MAX_COLS {
            return Err(Error::InvalidArgument(
                "logits must hold 1..=i32::MAX entries",
            ));
        }
        // SAFETY: `self.kernels` came from `dispatch`; the row is non-empty.
        unsafe { (self.kernels.sample)(logits, &d) }.ok_or(Error::InvalidArgument("a logit is NaN"))
    }

    /// [`Softmax::sample`] for each row of a batch: row `r` of `cols` logits at `r * stride`,
    /// drawn with `u[r]`, into `out[r]`. Rows split over threads. The arguments are checked
    /// before anything is written; a row holding a NaN is only found while drawing, so the
    /// call then returns the error with the other rows' draws written.
    #[allow(clippy::too_many_arguments)]
    pub fn sample_rows(
        &self,
        logits: &[f32],
        stride: usize,
        rows: usize,
        cols: usize,
        sampling: Sampling,
        u: &[f32],
        out: &mut [usize],
    ) -> Result<(), Error> {
        check_len("u", rows, u.len())?;
        check_len("out", rows, out.len())?;
        if rows == 0 {
            return Ok(());
        }
        let draws = u
            .iter()
            .map(|&u| sampling.draw(u))
            .collect::<Result<Vec<Draw>, Error>>()?;
        if cols == 0 || cols > MAX_COLS {
            return Err(Error::InvalidArgument("cols must be in 1..=i32::MAX"));
        }
        let batch = crate::rows::RowsIn::new(logits, stride, rows, cols)?;
        let nan = std::sync::atomic::AtomicBool::new(false);
        let outp = parallel::Shared(out.as_mut_ptr());
        parallel::for_row_chunks(self.threads, rows, cols, |range| {
            for r in range {
                // SAFETY: as in `sample`.
                match unsafe { (self.kernels.sample)(batch.row(r), &draws[r]) } {
                    // SAFETY: `r < rows == out.len()`, each row written by one chunk.
                    Some(i) => unsafe { outp.get().add(r).write(i) },
                    None => nan.store(true, std::sync::atomic::Ordering::Relaxed),
                }
            }
        });
        if nan.into_inner() {
            return Err(Error::InvalidArgument("a logit is NaN"));
        }
        Ok(())
    }
}

/// Top-k gating of one row with [`Softmax::new`] (see [`Softmax::topk_softmax`]).
pub fn topk_softmax(
    logits: &[f32],
    options: TopkOptions,
    weights: &mut [f32],
    indices: &mut [i32],
) -> Result<(), Error> {
    Softmax::new().topk_softmax(logits, options, weights, indices)
}

/// One draw with [`Softmax::new`] (see [`Softmax::sample`]).
pub fn sample(logits: &[f32], sampling: Sampling, u: f32) -> Result<usize, Error> {
    Softmax::new().sample(logits, sampling, u)
}
