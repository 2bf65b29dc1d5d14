//! Sharded and streamed rows: mergeable log-sum-exp states and normalisation by a global
//! log-sum-exp.
//!
//! A row too large for one buffer (a vocabulary split across processes, logits produced chunk
//! by chunk) is handled in three steps: every part computes its [`LseState`]
//! ([`Softmax::logsumexp_state`], one read, pass 1 of the two-pass algorithm), the states are
//! merged ([`LseState::merge`]: in any grouping and order, e.g. by one all-reduce), and every
//! part then writes its own slice against the row's log-sum-exp ([`Softmax::normalize`],
//! [`Softmax::log_softmax_normalize`], [`Softmax::cross_entropy_shard_rows`]).
//!
//! ```
//! use softmax::{LseState, Softmax};
//! let sm = Softmax::new();
//! let row: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 8.0).collect();
//! let (a, b) = row.split_at(400);
//! let state = sm.logsumexp_state(b).merge(sm.logsumexp_state(a));
//! let lse = state.value();
//! assert!((lse - sm.logsumexp(&row)).abs() <= 2.0 * f32::EPSILON * lse.abs().max(1.0));
//! let mut y = vec![0.0f32; 400];
//! sm.normalize(a, &mut y, lse).unwrap(); // the first 400 entries of softmax(row)
//! ```

use std::f64::consts::LN_2;

use crate::kernels::generic::lse::Shard;
use crate::rows::{InOut, Rows};
use crate::{batch_extent, check_len, CrossEntropyOptions, Error, Softmax};

pub use crate::ffi::LseState;

/// `2^d` for an integer-valued `d <= 0` (0 below the normal f64 range).
fn pow2(d: f64) -> f64 {
    if d >= -1022.0 {
        f64::from_bits(((d as i64 + 1023) as u64) << 52)
    } else {
        0.0
    }
}

impl LseState {
    /// The state of an empty chunk (or of a chunk of only `-inf`): the identity of
    /// [`LseState::merge`]; its value is `-inf`.
    pub const EMPTY: LseState = LseState {
        mantissa: 0.0,
        exponent: f64::NEG_INFINITY,
    };

    /// The state of a chunk that holds a NaN: absorbs every merge; its value is NaN.
    pub const NAN: LseState = LseState {
        mantissa: f64::NAN,
        exponent: f64::NAN,
    };

    /// The state of a chunk with `count > 0` entries at `+inf` (and no NaN).
    pub(crate) fn pos_inf(count: u64) -> LseState {
        LseState {
            mantissa: count as f64,
            exponent: f64::INFINITY,
        }
    }

    /// The state `S * 2^e` (finite `S >= 0`, integer-valued `e`) in canonical form: `S` in
    /// `[1, 2)` (an exact power-of-two rescale), the empty state for `S == 0`, NaN for NaN.
    pub(crate) fn from_parts(s: f64, e: f64) -> LseState {
        if s.is_nan() || e.is_nan() {
            return LseState::NAN;
        }
        if s <= 0.0 || e == f64::NEG_INFINITY {
            return LseState::EMPTY;
        }
        if s.is_infinite() || e == f64::INFINITY {
            // Not produced by the kernels (their sums stay far from f64's range).
            return LseState::NAN;
        }
        let (s, e) = if s < f64::MIN_POSITIVE {
            (s * pow2(-64.0).recip(), e - 64.0)
        } else {
            (s, e)
        };
        let bits = s.to_bits();
        let j = ((bits >> 52) & 0x7ff) as i64 - 1023;
        let m = f64::from_bits((bits & !(0x7ff << 52)) | (1023 << 52));
        LseState {
            mantissa: m,
            exponent: e + j as f64,
        }
    }

    /// The state whose value is `lse` (f64): NaN, `+inf` (one `+inf` entry), `-inf` (empty),
    /// or `S * 2^e` with `e = round(lse / ln 2)` and `S = exp(lse - e ln 2)`.
    pub(crate) fn from_f64(lse: f64) -> LseState {
        if lse.is_nan() {
            return LseState::NAN;
        }
        if lse == f64::INFINITY {
            return LseState::pos_inf(1);
        }
        if lse == f64::NEG_INFINITY {
            return LseState::EMPTY;
        }
        let e = (lse / LN_2).round();
        // Beyond 2^50 an f64 no longer resolves lse - e*ln2; S = 1 is then as good as any.
        let s = if lse.abs() < 1.0e15 {
            (lse - e * LN_2).exp()
        } else {
            1.0
        };
        LseState::from_parts(s, e)
    }

    /// The state of a chunk whose log-sum-exp is `lse` (for instance a single entry `lse`,
    /// or a log-sum-exp computed by other means): NaN for NaN, one `+inf` entry for `+inf`,
    /// [`LseState::EMPTY`] for `-inf`. `LseState::from_value(v).value() == v` for every float
    /// of magnitude `2^-20` or more (below, within `2^-52`).
    pub fn from_value(lse: f32) -> LseState {
        LseState::from_f64(lse as f64)
    }

    /// The empty state ([`LseState::EMPTY`]).
    pub fn empty() -> LseState {
        LseState::EMPTY
    }

    /// True for the state of a chunk holding a NaN.
    pub fn is_nan(self) -> bool {
        self.mantissa.is_nan() || self.exponent.is_nan()
    }

    /// True for the empty state (no entry, or only `-inf` entries).
    pub fn is_empty(self) -> bool {
        !self.is_nan() && self.exponent == f64::NEG_INFINITY
    }

    /// The number of `+inf` entries merged into this state (`None` when there are none, or
    /// when the state is NaN).
    pub fn pos_inf_count(self) -> Option<u64> {
        (!self.is_nan() && self.exponent == f64::INFINITY).then_some(self.mantissa as u64)
    }

    /// `(S, e)` with `sum exp(x) = S * 2^e` for a finite, non-empty state.
    pub(crate) fn parts(self) -> (f64, f64) {
        (self.mantissa, self.exponent)
    }

    /// The state of the union of two chunks: NaN absorbs, `+inf` counts add, the empty state
    /// is the identity, and finite states add like floating-point numbers with an explicit
    /// exponent (the one with the smaller exponent scaled by an exact power of two, the
    /// mantissas added once in f64). Commutative exactly, associative up to that rounding
    /// (2^-53 relative per merge).
    pub fn merge(self, other: LseState) -> LseState {
        let (a, b) = (self, other);
        if a.is_nan() || b.is_nan() {
            return LseState::NAN;
        }
        match (a.pos_inf_count(), b.pos_inf_count()) {
            (Some(x), Some(y)) => return LseState::pos_inf(x.saturating_add(y)),
            (Some(_), None) => return a,
            (None, Some(_)) => return b,
            (None, None) => {}
        }
        if a.is_empty() {
            return b;
        }
        if b.is_empty() {
            return a;
        }
        let e = a.exponent.max(b.exponent);
        let s = a.mantissa * pow2(a.exponent - e) + b.mantissa * pow2(b.exponent - e);
        LseState::from_parts(s, e)
    }

    /// The log-sum-exp in f64: `e ln 2 + ln S`, NaN, `+inf` or `-inf` (empty).
    pub fn value_f64(self) -> f64 {
        if self.is_nan() {
            f64::NAN
        } else if self.exponent == f64::INFINITY {
            f64::INFINITY
        } else if self.is_empty() {
            f64::NEG_INFINITY
        } else {
            crate::kernels::ln::ln_scaled(self.mantissa, self.exponent)
        }
    }

    /// The log-sum-exp, rounded to f32.
    pub fn value(self) -> f32 {
        self.value_f64() as f32
    }

    /// The 16 bytes of the state (native endianness), as they are sent over a wire.
    pub fn to_ne_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.mantissa.to_ne_bytes());
        out[8..].copy_from_slice(&self.exponent.to_ne_bytes());
        out
    }

    /// The state of 16 bytes written by [`LseState::to_ne_bytes`] on a machine of the same
    /// endianness.
    pub fn from_ne_bytes(b: [u8; 16]) -> LseState {
        let half = |r: &[u8]| f64::from_ne_bytes(r.try_into().expect("8 bytes"));
        LseState {
            mantissa: half(&b[..8]),
            exponent: half(&b[8..]),
        }
    }
}

impl Default for LseState {
    /// The empty state.
    fn default() -> Self {
        LseState::EMPTY
    }
}

/// `inout[i] = inout[i].merge(input[i])` for every `i` (the reduction of an all-reduce over
/// per-row states); the slices must have one length.
pub fn merge_lse_rows(input: &[LseState], inout: &mut [LseState]) -> Result<(), Error> {
    if input.len() != inout.len() {
        return Err(Error::LengthMismatch {
            expected: inout.len(),
            actual: input.len(),
        });
    }
    for (o, &i) in inout.iter_mut().zip(input) {
        *o = o.merge(i);
    }
    Ok(())
}

/// Where a shard of a row lies in the whole row (see [`Softmax::cross_entropy_shard_rows`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardLayout {
    /// The global index of the shard's first column.
    pub col_offset: usize,
    /// The number of columns of the whole row (every shard together).
    pub total_cols: usize,
}

impl Softmax {
    /// The log-sum-exp state of a chunk of a row, in one read (pass 1 of the two-pass
    /// algorithm, at [`Softmax::logsumexp`]'s speed).
    pub fn logsumexp_state(&self, x: &[f32]) -> LseState {
        // SAFETY: `self.kernels` came from `dispatch`, which hands out a table only when the
        // CPU supports its ISA.
        unsafe { (self.kernels.lse_state)(x) }
    }

    /// Merges the state of the chunk `x` into `state` (streamed rows: call it once per chunk
    /// as the chunks are produced). The same chunks in the same order give bit-identical
    /// states; any split and order give the one-call log-sum-exp within 2 ULP of
    /// `max(1, |lse|)`.
    pub fn logsumexp_accumulate(&self, x: &[f32], state: &mut LseState) {
        *state = state.merge(self.logsumexp_state(x));
    }

    /// [`Softmax::logsumexp_accumulate`] for `rows` rows of `cols` values `stride` apart:
    /// row `r` is merged into `states[r]`.
    pub fn logsumexp_accumulate_rows(
        &self,
        x: &[f32],
        stride: usize,
        rows: usize,
        cols: usize,
        states: &mut [LseState],
    ) -> Result<(), Error> {
        check_len("x", batch_extent(rows, cols, stride)?, x.len())?;
        check_len("states", rows, states.len())?;
        for (r, st) in states.iter_mut().take(rows).enumerate() {
            self.logsumexp_accumulate(&x[r * stride..][..cols], st);
        }
        Ok(())
    }

    pub(crate) fn run_normalize(&self, io: InOut<'_>, lse: f32, log: bool) {
        let flags = self.flags(io.len());
        let f = if log {
            self.kernels.lse_log_normalize
        } else {
            self.kernels.lse_normalize
        };
        // SAFETY: as in `logsumexp_state`; `io` upholds the kernel's pointer contract.
        unsafe { f(io, lse, flags) }
    }

    /// `y = exp(x - lse)`: the softmax of a shard (or chunk) of a row whose log-sum-exp is
    /// `lse` (from merged states), at the speed of the two-pass output pass. A NaN or
    /// infinite `lse` gives `exp(x - lse)` by IEEE rules (NaN `lse`: NaN; `+inf`: 0 for
    /// finite entries, NaN for `+inf` entries; `-inf`, an all `-inf` row: NaN). `lse` must
    /// be at least `max(x) - 88` (always true for the log-sum-exp of a row containing `x`);
    /// entries more than 88 above `lse` give unspecified values (never undefined behaviour).
    pub fn normalize(&self, x: &[f32], y: &mut [f32], lse: f32) -> Result<(), Error> {
        let (expected, actual) = (x.len(), y.len());
        let io = InOut::new(x, y).ok_or(Error::LengthMismatch { expected, actual })?;
        self.run_normalize(io, lse, false);
        Ok(())
    }

    /// [`Softmax::normalize`] in place.
    pub fn normalize_in_place(&self, xy: &mut [f32], lse: f32) {
        self.run_normalize(InOut::in_place(xy), lse, false)
    }

    /// `y = x - lse`, rounded once: the log-softmax of a shard of a row whose log-sum-exp is
    /// `lse`. IEEE rules for non-finite values.
    pub fn log_softmax_normalize(&self, x: &[f32], y: &mut [f32], lse: f32) -> Result<(), Error> {
        let (expected, actual) = (x.len(), y.len());
        let io = InOut::new(x, y).ok_or(Error::LengthMismatch { expected, actual })?;
        self.run_normalize(io, lse, true);
        Ok(())
    }

    /// [`Softmax::log_softmax_normalize`] in place.
    pub fn log_softmax_normalize_in_place(&self, xy: &mut [f32], lse: f32) {
        self.run_normalize(InOut::in_place(xy), lse, true)
    }

    /// [`Softmax::normalize`] of `rows` rows (layout as in [`Softmax::softmax_rows`]), row
    /// `r` against `lse[r]`.
    #[allow(clippy::too_many_arguments)]
    pub fn normalize_rows(
        &self,
        x: &[f32],
        x_stride: usize,
        y: &mut [f32],
        y_stride: usize,
        rows: usize,
        cols: usize,
        lse: &[f32],
    ) -> Result<(), Error> {
        check_len("lse", rows, lse.len())?;
        let mut batch = Rows::new(x, x_stride, y, y_stride, rows, cols)?;
        for (r, &l) in lse[..rows].iter().enumerate() {
            self.run_normalize(batch.row(r), l, false);
        }
        Ok(())
    }

    /// [`Softmax::log_softmax_normalize`] of `rows` rows, row `r` against `lse[r]`.
    #[allow(clippy::too_many_arguments)]
    pub fn log_softmax_normalize_rows(
        &self,
        x: &[f32],
        x_stride: usize,
        y: &mut [f32],
        y_stride: usize,
        rows: usize,
        cols: usize,
        lse: &[f32],
    ) -> Result<(), Error> {
        check_len("lse", rows, lse.len())?;
        let mut batch = Rows::new(x, x_stride, y, y_stride, rows, cols)?;
        for (r, &l) in lse[..rows].iter().enumerate() {
            self.run_normalize(batch.row(r), l, true);
        }
        Ok(())
    }

    /// One shard of a vocabulary-parallel cross-entropy. The shard holds columns
    /// `[col_offset, col_offset + cols)` of rows of `layout.total_cols` logits; row `r` starts
    /// at `logits[r * stride]`, its global target is `targets[r]` (or `ignore_index`), and
    /// `lse[r]` is the state of the whole row (every shard's state merged).
    ///
    /// `losses[r]` receives this shard's contribution,
    /// `[t in shard] (1 - eps) (lse - x_t) + eps / C * sum_{j in shard} (lse - x_j)`: every
    /// term is non-negative, and the contributions of all shards add up to the unsharded loss
    /// `lse - (1 - eps) x_t - eps * mean(x)` of [`Softmax::cross_entropy_rows`] (only the
    /// target's shard carries the first term; without smoothing the other shards contribute
    /// exactly 0). The gradient rows (when `dlogits` is given) are
    /// `exp(x - lse) - (1 - eps) onehot(t) - eps / C`, this shard's columns of the unsharded
    /// gradient. Ignored rows give 0 and a zero gradient row. Special rows follow
    /// [`Softmax::cross_entropy`] through the merged state (NaN state: NaN; `k` entries at
    /// `+inf`: the target's shard adds `ln k` or `+inf`, gradient `1/k` at the `+inf` entries;
    /// empty state: NaN).
    ///
    /// Errors: `cols == 0`, `total_cols < col_offset + cols`, a target that is neither
    /// `ignore_index` nor in `[0, total_cols)`, a smoothing outside `[0, 1]`, and short
    /// buffers, all checked before anything is written.
    #[allow(clippy::too_many_arguments)]
    pub fn cross_entropy_shard_rows(
        &self,
        logits: &[f32],
        stride: usize,
        rows: usize,
        cols: usize,
        layout: ShardLayout,
        targets: &[i64],
        options: CrossEntropyOptions,
        lse: &[LseState],
        losses: &mut [f32],
        mut dlogits: Option<(&mut [f32], usize)>,
    ) -> Result<(), Error> {
        let eps = options.label_smoothing;
        if cols == 0 {
            return Err(Error::InvalidArgument("a shard needs at least one column"));
        }
        let shard_end = layout.col_offset.checked_add(cols);
        if shard_end.is_none_or(|end| end > layout.total_cols) {
            return Err(Error::InvalidArgument(
                "the shard must lie inside the row: col_offset + cols <= total_cols",
            ));
        }
        if !(0.0..=1.0).contains(&eps) {
            return Err(Error::InvalidArgument("label smoothing must be in [0, 1]"));
        }
        check_len("logits", batch_extent(rows, cols, stride)?, logits.len())?;
        check_len("targets", rows, targets.len())?;
        check_len("lse", rows, lse.len())?;
        check_len("losses", rows, losses.len())?;
        if let Some((d, ds)) = &dlogits {
            check_len("dlogits", batch_extent(rows, cols, *ds)?, d.len())?;
        }
        for &t in targets.iter().take(rows) {
            let valid = usize::try_from(t).is_ok_and(|t| t < layout.total_cols);
            if t != options.ignore_index && !valid {
                return Err(Error::InvalidArgument(
                    "target must be ignore_index or in [0, total_cols)",
                ));
            }
        }
        for r in 0..rows {
            let x = &logits[r * stride..][..cols];
            let row = match dlogits.as_mut() {
                Some((d, ds)) => ShardRow::Grad(
                    InOut::new(x, &mut d[r * *ds..][..cols]).expect("rows have equal lengths"),
                ),
                None => ShardRow::Loss(x),
            };
            losses[r] = self.run_cross_entropy_shard(row, targets[r], options, layout, lse[r]);
        }
        Ok(())
    }

    /// One row of [`Softmax::cross_entropy_shard_rows`], its arguments already checked (the
    /// target is `ignore_index` or below `total_cols`, the shard inside the row, the
    /// smoothing in `[0, 1]`).
    pub(crate) fn run_cross_entropy_shard(
        &self,
        row: ShardRow<'_>,
        target: i64,
        options: CrossEntropyOptions,
        layout: ShardLayout,
        st: LseState,
    ) -> f32 {
        if target == options.ignore_index {
            if let ShardRow::Grad(mut io) = row {
                for i in 0..io.len() {
                    io.set(i, 0.0);
                }
            }
            return 0.0;
        }
        let cols = match &row {
            ShardRow::Loss(x) => x.len(),
            ShardRow::Grad(io) => io.len(),
        };
        let shard = Shard {
            target: (target as usize)
                .checked_sub(layout.col_offset)
                .filter(|&l| l < cols),
            eps: options.label_smoothing,
            total_cols: layout.total_cols,
        };
        let loss = match row {
            // SAFETY: `self.kernels` came from `dispatch` (the CPU has its ISA); the local
            // target is `< cols` and the smoothing is in range (checked by the callers).
            ShardRow::Loss(x) => unsafe { (self.kernels.cross_entropy_shard)(x, st, shard) },
            ShardRow::Grad(io) => {
                let flags = self.flags(cols);
                // SAFETY: as above; `io` upholds the kernel's pointer contract.
                unsafe { (self.kernels.cross_entropy_shard_grad)(io, st, shard, flags) }
            }
        };
        loss as f32
    }
}

/// A row of one shard: the logits alone (loss only), or the logits and the gradient's row.
pub(crate) enum ShardRow<'a> {
    /// Loss only.
    Loss(&'a [f32]),
    /// Loss and gradient.
    Grad(InOut<'a>),
}

/// The log-sum-exp state of `x` on the current ISA (see [`Softmax::logsumexp_state`]).
pub fn logsumexp_state(x: &[f32]) -> LseState {
    Softmax::new().logsumexp_state(x)
}
