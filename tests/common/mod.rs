//! Shared helpers of the integration tests: the ISA loop, the f64 oracle, error measures and
//! input generators.
//!
//! Every test binary includes this module with `mod common;` and uses only part of it.
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use softmax::{Isa, Softmax};

// ---------------------------------------------------------------------------------------------
// The ISA loop
// ---------------------------------------------------------------------------------------------

/// The kernels of every ISA this CPU and build support, in [`Isa::ALL`] order (Scalar first).
///
/// Prints a loud `SKIP <test>: <isa> not supported on this CPU` line for each ISA that is not
/// supported, so a run never passes silently without covering an ISA. Panics when an ISA claims
/// to be supported but `Softmax::with_isa` refuses it (or the other way round).
pub fn supported_isas(test: &str) -> Vec<(Isa, Softmax)> {
    let mut out = Vec::new();
    for isa in Isa::ALL {
        match Softmax::with_isa(isa) {
            Ok(sm) => {
                assert!(
                    isa.is_supported(),
                    "{isa:?}: with_isa succeeded, is_supported false"
                );
                assert_eq!(sm.isa(), isa);
                out.push((isa, sm));
            }
            Err(e) => {
                assert!(
                    !isa.is_supported(),
                    "{isa:?}: is_supported but with_isa failed: {e}"
                );
                assert_eq!(e, softmax::Error::UnsupportedIsa(isa));
                println!(
                    "SKIP {test}: {} not supported on this CPU (or not compiled into this build)",
                    isa.name()
                );
            }
        }
    }
    assert_eq!(
        out.first().map(|p| p.0),
        Some(Isa::Scalar),
        "scalar must always run"
    );
    out
}

/// Runs `f` once per ISA this machine supports (printing `SKIP` lines for the others).
pub fn for_each_isa(test: &str, mut f: impl FnMut(Isa, Softmax)) {
    for (isa, sm) in supported_isas(test) {
        f(isa, sm);
    }
}

/// The portable reference kernels (always available).
pub fn scalar() -> Softmax {
    Softmax::with_isa(Isa::Scalar).expect("scalar is always supported")
}

// ---------------------------------------------------------------------------------------------
// The oracle: the same functions in f64, with the documented special-value rules
// ---------------------------------------------------------------------------------------------

/// How a row falls under the documented special-value rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// At least one NaN.
    Nan,
    /// This many `+inf` entries and no NaN.
    PosInf(usize),
    /// No NaN and no `+inf` (may contain `-inf`, may be empty or all `-inf`).
    Ordinary,
}

/// Classifies a row like the library's documentation does.
pub fn row_kind(x: &[f32]) -> RowKind {
    if x.iter().any(|v| v.is_nan()) {
        RowKind::Nan
    } else {
        match x.iter().filter(|&&v| v == f32::INFINITY).count() {
            0 => RowKind::Ordinary,
            k => RowKind::PosInf(k),
        }
    }
}

/// `(max, sum_i exp(x_i - max))` in f64 (`max = -inf` and the sum NaN for an all `-inf` row;
/// `(-inf, 0)` for an empty row).
fn max_and_sum(x: &[f32]) -> (f64, f64) {
    let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
    if x.is_empty() {
        return (m, 0.0);
    }
    let s: f64 = x.iter().map(|&v| (v as f64 - m).exp()).sum();
    (m, s)
}

/// Exact softmax in f64: subtract the f64 maximum, exponentiate, sum, divide. Rows with NaN
/// give NaN everywhere, rows with `k` entries `+inf` give `1/k` there and 0 elsewhere, and an
/// all `-inf` row gives NaN (which is what the f64 formula yields by itself).
pub fn oracle_softmax(x: &[f32]) -> Vec<f64> {
    match row_kind(x) {
        RowKind::Nan => vec![f64::NAN; x.len()],
        RowKind::PosInf(k) => x
            .iter()
            .map(|&v| {
                if v == f32::INFINITY {
                    1.0 / k as f64
                } else {
                    0.0
                }
            })
            .collect(),
        RowKind::Ordinary => {
            let (m, s) = max_and_sum(x);
            x.iter().map(|&v| (v as f64 - m).exp() / s).collect()
        }
    }
}

/// Exact log-softmax in f64: `(x - max) - ln(sum)`; `-ln k` / `-inf` for `+inf` rows.
pub fn oracle_log_softmax(x: &[f32]) -> Vec<f64> {
    match row_kind(x) {
        RowKind::Nan => vec![f64::NAN; x.len()],
        RowKind::PosInf(k) => x
            .iter()
            .map(|&v| {
                if v == f32::INFINITY {
                    -(k as f64).ln()
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect(),
        RowKind::Ordinary => {
            let (m, s) = max_and_sum(x);
            let ls = s.ln();
            x.iter().map(|&v| (v as f64 - m) - ls).collect()
        }
    }
}

/// Exact log-sum-exp in f64: `max + ln(sum)`; `-inf` for an empty or all `-inf` row.
pub fn oracle_logsumexp(x: &[f32]) -> f64 {
    match row_kind(x) {
        RowKind::Nan => f64::NAN,
        RowKind::PosInf(_) => f64::INFINITY,
        RowKind::Ordinary => {
            let (m, s) = max_and_sum(x);
            if m == f64::NEG_INFINITY {
                f64::NEG_INFINITY
            } else {
                m + s.ln()
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Error measures and bounds
// ---------------------------------------------------------------------------------------------

/// Softmax: relative error bound for outputs whose exact value is above [`SOFTMAX_TINY`]:
/// `2^-21` (4.8e-7), 4 units in the last place at the bottom of a binade (the documented bound).
pub const SOFTMAX_REL: f64 = 4.768_371_582_031_25e-7;
/// Softmax: below this exact value only the absolute bound [`SOFTMAX_ABS`] applies (outputs
/// below about 1e-38 are flushed to 0 by design).
pub const SOFTMAX_TINY: f64 = 1e-30;
/// Softmax: absolute error bound for exact values at most [`SOFTMAX_TINY`].
pub const SOFTMAX_ABS: f64 = 1e-36;
/// Softmax: `|sum of the row - 1|` bound (the sum taken in f64 over the f32 outputs).
pub const SUM_TOL: f64 = 1e-5;
/// Log-softmax: `|err| <= LOG_SOFTMAX_TOL * max(1, |exact|)` (the documented bound, `2^-21`).
pub const LOG_SOFTMAX_TOL: f64 = 4.768_371_582_031_25e-7;
/// Log-sum-exp: `|err| <= LSE_REL * max(1, |exact|)` (relative for `|exact| >= 1`; for
/// `|exact| < 1` a relative bound is meaningless, since the result is a difference of terms of
/// order one, so it becomes the same bound in absolute terms).
/// `2^-21`, as [`LOG_SOFTMAX_TOL`].
pub const LSE_REL: f64 = 4.768_371_582_031_25e-7;
/// Any ISA against the scalar ISA: relative tolerance (or [`CROSS_ULP`] ULP).
pub const CROSS_REL: f64 = 2e-6;
/// Any ISA against the scalar ISA: ULP tolerance.
pub const CROSS_ULP: u64 = 4;

/// Distance in units in the last place between two f32 (0 when both are NaN or equal,
/// `u64::MAX` when exactly one is NaN).
pub fn ulp_diff(a: f32, b: f32) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    if a == b {
        return 0;
    }
    let key = |v: f32| -> i64 {
        let bits = v.to_bits() as i64;
        if bits & 0x8000_0000 != 0 {
            -(bits & 0x7fff_ffff)
        } else {
            bits
        }
    };
    (key(a) - key(b)).unsigned_abs()
}

/// True when two results agree as special values (both NaN, or bit-identical infinities) or
/// when `got` is finite; false when they disagree on NaN/infinity.
fn same_special(got: f32, exact: f64) -> Option<bool> {
    if exact.is_nan() || got.is_nan() {
        return Some(exact.is_nan() && got.is_nan());
    }
    if exact.is_infinite() || got.is_infinite() {
        return Some(got as f64 == exact);
    }
    None
}

/// Worst errors seen for one operation (over many rows), and the bound violations found.
#[derive(Clone, Debug, Default)]
pub struct Worst {
    /// Largest relative error (softmax: outputs above 1e-30; log-softmax and log-sum-exp:
    /// `|err| / max(1, |exact|)`).
    pub rel: f64,
    /// Largest distance in ULP to the exact value rounded once to f32 (softmax: outputs
    /// above 1e-30; log-softmax: outputs with `|exact| >= 1`; log-sum-exp: all).
    pub ulp: u64,
    /// Largest absolute error of softmax outputs at most 1e-30.
    pub tiny_abs: f64,
    /// Largest `|sum of row - 1|` (softmax only).
    pub sum_dev: f64,
    /// Number of outputs measured.
    pub count: usize,
    /// Number of outputs (or rows, for sums) that broke a bound.
    pub violations: usize,
    /// Descriptions of the first few violations.
    pub examples: Vec<String>,
}

impl Worst {
    /// Folds another measurement into this one.
    pub fn merge(&mut self, o: &Worst) {
        self.rel = self.rel.max(o.rel);
        self.ulp = self.ulp.max(o.ulp);
        self.tiny_abs = self.tiny_abs.max(o.tiny_abs);
        self.sum_dev = self.sum_dev.max(o.sum_dev);
        self.count += o.count;
        self.violations += o.violations;
        for e in &o.examples {
            if self.examples.len() < 8 {
                self.examples.push(e.clone());
            }
        }
    }

    fn violate(&mut self, msg: impl FnOnce() -> String) {
        self.violations += 1;
        if self.examples.len() < 8 {
            self.examples.push(msg());
        }
    }

    /// Panics listing the violations, if there are any.
    pub fn assert_ok(&self, what: &str) {
        assert!(
            self.violations == 0,
            "{what}: {} bound violation(s), first ones:\n  {}",
            self.violations,
            self.examples.join("\n  ")
        );
    }
}

/// Measures a softmax row against the exact values: relative error (bound `2^-21`) above 1e-30,
/// absolute error (bound 1e-36) below, NaN/inf exactly where the exact result has them, no
/// negative outputs, and the row sum (in f64) within 1e-5 of 1 for rows with a finite result.
/// Violations are recorded, not raised (see [`check_softmax`]).
pub fn measure_softmax(ctx: &str, x: &[f32], y: &[f32], exact: &[f64]) -> Worst {
    assert_eq!(y.len(), exact.len(), "{ctx}: length");
    let mut w = Worst::default();
    let mut sum = 0.0f64;
    let mut all_finite = true;
    for i in 0..y.len() {
        let (got, ex) = (y[i], exact[i]);
        if let Some(ok) = same_special(got, ex) {
            if !ok {
                w.violate(|| format!("{ctx}: i={i} x={:e} got {got:e}, exact {ex:e}", x[i]));
            }
            all_finite = false;
            continue;
        }
        sum += got as f64;
        w.count += 1;
        let err = (got as f64 - ex).abs();
        if ex > SOFTMAX_TINY {
            let rel = err / ex;
            w.rel = w.rel.max(rel);
            w.ulp = w.ulp.max(ulp_diff(got, ex as f32));
            if rel > SOFTMAX_REL {
                w.violate(|| {
                    format!(
                        "{ctx}: i={i} x={:e} got {got:e}, exact {ex:e}, relative error {rel:.3e} > {SOFTMAX_REL:e}",
                        x[i]
                    )
                });
            }
        } else {
            w.tiny_abs = w.tiny_abs.max(err);
            if err > SOFTMAX_ABS {
                w.violate(|| {
                    format!(
                        "{ctx}: i={i} x={:e} got {got:e}, exact {ex:e}, absolute error {err:.3e} > {SOFTMAX_ABS:e}",
                        x[i]
                    )
                });
            }
        }
        if got < 0.0 || got.is_sign_negative() {
            w.violate(|| format!("{ctx}: i={i} negative output (or -0.0) {got:e}"));
        }
    }
    if all_finite && !y.is_empty() {
        w.sum_dev = (sum - 1.0).abs();
        if w.sum_dev > SUM_TOL {
            w.violate(|| {
                format!(
                    "{ctx}: n={} row sum {sum} is {:.3e} away from 1 (bound {SUM_TOL:e})",
                    y.len(),
                    (sum - 1.0).abs()
                )
            });
        }
    }
    w
}

/// [`measure_softmax`], panicking on a violation.
pub fn check_softmax(ctx: &str, x: &[f32], y: &[f32], exact: &[f64]) -> Worst {
    let w = measure_softmax(ctx, x, y, exact);
    w.assert_ok(ctx);
    w
}

/// Measures a log-softmax row: `|err| <= 2^-21 * max(1, |exact|)`, special values exact (an
/// exact value beyond the f32 range must give the infinity it rounds to).
pub fn measure_log_softmax(ctx: &str, x: &[f32], y: &[f32], exact: &[f64]) -> Worst {
    assert_eq!(y.len(), exact.len(), "{ctx}: length");
    let mut w = Worst::default();
    for i in 0..y.len() {
        let (got, ex) = (y[i], exact[i]);
        if let Some(ok) = same_special(got, ex) {
            let rounds_to_inf = ex.is_finite() && (ex as f32) == got;
            if !(ok || rounds_to_inf) {
                w.violate(|| format!("{ctx}: i={i} x={:e} got {got:e}, exact {ex:e}", x[i]));
            }
            continue;
        }
        w.count += 1;
        let err = (got as f64 - ex).abs();
        let rel = err / ex.abs().max(1.0);
        w.rel = w.rel.max(rel);
        if ex.abs() >= 1.0 {
            w.ulp = w.ulp.max(ulp_diff(got, ex as f32));
        }
        if rel > LOG_SOFTMAX_TOL {
            w.violate(|| {
                format!(
                    "{ctx}: i={i} x={:e} got {got:e}, exact {ex:e}, error {err:.3e} > {LOG_SOFTMAX_TOL:e} * max(1, |exact|)",
                    x[i]
                )
            });
        }
    }
    w
}

/// [`measure_log_softmax`], panicking on a violation.
pub fn check_log_softmax(ctx: &str, x: &[f32], y: &[f32], exact: &[f64]) -> Worst {
    let w = measure_log_softmax(ctx, x, y, exact);
    w.assert_ok(ctx);
    w
}

/// Measures a log-sum-exp result: `|err| <= 2^-21 * max(1, |exact|)`, special values exact.
pub fn measure_logsumexp(ctx: &str, x: &[f32], got: f32, exact: f64) -> Worst {
    let mut w = Worst::default();
    if let Some(ok) = same_special(got, exact) {
        let rounds_to_inf = exact.is_finite() && (exact as f32) == got;
        if !(ok || rounds_to_inf) {
            w.violate(|| format!("{ctx}: n={} got {got:e}, exact {exact:e}", x.len()));
        }
        return w;
    }
    w.count = 1;
    let err = (got as f64 - exact).abs();
    w.rel = err / exact.abs().max(1.0);
    w.ulp = ulp_diff(got, exact as f32);
    if w.rel > LSE_REL {
        let (rel, ulp) = (w.rel, w.ulp);
        w.violate(|| {
            format!(
                "{ctx}: n={} got {got:e}, exact {exact:e}, error {err:.3e} = {rel:.3e} * max(1, |exact|) > {LSE_REL:e} ({ulp} ULP)",
                x.len()
            )
        });
    }
    w
}

/// [`measure_logsumexp`], panicking on a violation.
pub fn check_logsumexp(ctx: &str, x: &[f32], got: f32, exact: f64) -> Worst {
    let w = measure_logsumexp(ctx, x, got, exact);
    w.assert_ok(ctx);
    w
}

/// Asserts that `got` (some ISA) matches `reference` (the scalar ISA) within a few ULP or
/// 2e-6 relative (relative to `max(1, |ref|)` when `log` is set, for log-domain outputs whose
/// exact value may be near 0; absolute 1e-36 for softmax outputs near 0). Special values
/// match exactly: NaN for NaN, an infinity for the same infinity (never for `f32::MAX`, one
/// ULP away).
pub fn assert_close_to_scalar(ctx: &str, got: &[f32], reference: &[f32], log: bool) {
    assert_eq!(got.len(), reference.len(), "{ctx}: length");
    for (i, (&a, &b)) in got.iter().zip(reference).enumerate() {
        if !(a.is_finite() && b.is_finite()) {
            assert!(
                a == b || (a.is_nan() && b.is_nan()),
                "{ctx}: i={i} got {a:e}, scalar ISA gave {b:e}"
            );
            continue;
        }
        if ulp_diff(a, b) <= CROSS_ULP {
            continue;
        }
        let err = (a as f64 - b as f64).abs();
        let ok = if log {
            err <= CROSS_REL * (b.abs() as f64).max(1.0)
        } else {
            err <= CROSS_REL * b.abs() as f64 || err <= SOFTMAX_ABS
        };
        assert!(
            ok,
            "{ctx}: i={i} got {a:e}, scalar ISA gave {b:e} ({} ULP apart, difference {err:.3e})",
            ulp_diff(a, b)
        );
    }
}

/// Bitwise equality of two f32 slices (NaN payloads ignored: any NaN equals any NaN).
pub fn assert_same_bits(ctx: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{ctx}: length");
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let same = (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits();
        assert!(
            same,
            "{ctx}: i={i} got {a:e} ({:#010x}), want {b:e} ({:#010x})",
            a.to_bits(),
            b.to_bits()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Training operations: oracles and the documented bounds
// ---------------------------------------------------------------------------------------------

/// Cross-entropy with label smoothing `eps` in f64:
/// `lse(x) - (1 - eps) * x[t] - eps * mean(x)`, with the documented special rules (a NaN or a
/// row of only `-inf`: NaN; `k` entries `+inf`: `ln k` when `x[t]` is one, `+inf` otherwise,
/// NaN with label smoothing).
pub fn oracle_cross_entropy(x: &[f32], t: usize, eps: f32) -> f64 {
    let eps = eps as f64;
    if x.iter().any(|v| v.is_nan()) || x.iter().all(|&v| v == f32::NEG_INFINITY) {
        return f64::NAN;
    }
    let k = x.iter().filter(|&&v| v == f32::INFINITY).count();
    if k > 0 {
        return match (eps == 0.0, x[t] == f32::INFINITY) {
            (false, _) => f64::NAN,
            (true, true) => (k as f64).ln(),
            (true, false) => f64::INFINITY,
        };
    }
    // lse - (1 - eps) x[t] - eps mean(x) = ln(sum e^(x - m)) + (1 - eps)(m - x[t])
    // + eps mean(m - x): non-negative terms, each exact or accurate in f64 for any f32 input
    // (forming lse first would lose the small part of the loss next to a huge m).
    let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
    let mut loss = x.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
    if eps < 1.0 {
        loss += (1.0 - eps) * (m - x[t] as f64);
    }
    if eps > 0.0 {
        loss += eps * x.iter().map(|&v| m - v as f64).sum::<f64>() / x.len() as f64;
    }
    loss
}

/// Gradient of [`oracle_cross_entropy`]: `softmax(x) - (1 - eps) * onehot(t) - eps / n` (the
/// softmax with its special rules: NaN rows NaN, `+inf` entries `1/k`).
pub fn oracle_cross_entropy_grad(x: &[f32], t: usize, eps: f32) -> Vec<f64> {
    let eps = eps as f64;
    let mut g = oracle_softmax(x);
    let per_class = eps / x.len() as f64;
    for (i, v) in g.iter_mut().enumerate() {
        *v -= per_class;
        if i == t {
            *v -= 1.0 - eps;
        }
    }
    g
}

/// `sum_i t_i` in f64 with Neumaier compensation (the exact sum, for the backward passes'
/// `d = dot(dy, y)` and `s = sum(dy)`), and `sum_i |t_i|`.
pub fn exact_sum(t: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut s, mut c, mut a) = (0.0f64, 0.0f64, 0.0f64);
    for v in t {
        let u = s + v;
        c += if s.abs() >= v.abs() {
            (s - u) + v
        } else {
            (v - u) + s
        };
        s = u;
        a += v.abs();
    }
    (s + c, a)
}

/// The documented error of the backward passes' f64 sums, `E = (n/32 + 6) * 2^-53 * sum
/// |terms|` (`abs` is the sum of the absolute terms, see [`exact_sum`]).
pub fn sum_error(n: usize, abs: f64) -> f64 {
    (n as f64 / 32.0 + 6.0) * f64::EPSILON / 2.0 * abs
}

/// `2^-148`: the absolute part of the backward bounds (denormal results).
pub const BACKWARD_ABS: f64 = f32::from_bits(2) as f64;

/// Log-softmax backward: the relative error of `exp(y) * sum(dy)` in the documented bound.
pub const LOG_BACKWARD_EXP: f64 = 4.5e-7;

/// Cross-entropy loss: `|err| <= CROSS_ENTROPY_TOL * max(1, |exact|)` (the documented bound).
pub const CROSS_ENTROPY_TOL: f64 = 1e-6;

/// The documented bound of softmax backward, `dx = y (dy - d)`, at one element:
/// `|y| (2^-22 (|dy| + |d|) + E) + 2^-148` (`d` the exact dot product, `e` its [`sum_error`]).
pub fn softmax_backward_bound(y: f64, dy: f64, d: f64, e: f64) -> f64 {
    y.abs() * (2f64.powi(-22) * (dy.abs() + d.abs()) + e) + BACKWARD_ABS
}

/// The documented bound of log-softmax backward, `dx = dy - exp(y) s`, at one element:
/// `2^-23 |dy| + exp(y) (4.5e-7 |s| + E) + 2^-148` (`ey = exp(y)`, `s` the exact sum of `dy`,
/// `e` its [`sum_error`]), plus `exp(y) |s|` where `exp(y)` counts as 0: below about `2^-126`
/// (the kernels' exponential gives 0 from `y` about 87.3 below 0, `e^-87.31 = 1.2e-38`; the
/// special-value rules say "about").
pub fn log_softmax_backward_bound(dy: f64, ey: f64, s: f64, e: f64) -> f64 {
    let flushed = if ey < 1.2e-38 { ey * s.abs() } else { 0.0 };
    2f64.powi(-23) * dy.abs() + ey * (LOG_BACKWARD_EXP * s.abs() + e) + flushed + BACKWARD_ABS
}

/// The documented bound of a cross-entropy gradient entry (label smoothing `eps`, `n`
/// classes): `2^-21 p + 2^-23 (|exact| + eps/n) + 1e-36`, `p` the exact softmax output.
pub fn cross_entropy_grad_bound(p: f64, exact: f64, eps: f64, n: usize) -> f64 {
    SOFTMAX_REL * p + 2f64.powi(-23) * (exact.abs() + eps / n as f64) + 1e-36
}

/// Asserts `|got - exact| <= bound` for element `i`; NaN only where the exact value is NaN, and
/// an exact value beyond the f32 range must give the infinity it rounds to.
pub fn check_within(ctx: &str, i: usize, got: f32, exact: f64, bound: f64) {
    if exact.is_nan() || got.is_nan() {
        assert!(
            exact.is_nan() && got.is_nan(),
            "{ctx}: i={i} got {got:e}, exact {exact:e}"
        );
        return;
    }
    if (exact as f32).is_infinite() || got.is_infinite() {
        assert_eq!(got, exact as f32, "{ctx}: i={i} exact {exact:e}");
        return;
    }
    let err = (got as f64 - exact).abs();
    assert!(
        err <= bound,
        "{ctx}: i={i} got {got:e}, exact {exact:e}, error {err:e} > bound {bound:e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// A deterministic generator (`seed` distinguishes tests).
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// `n` values uniform in `[lo, hi]`.
pub fn uniform(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(lo..=hi)).collect()
}

/// The input ranges of the accuracy sweeps.
pub const RANGES: [(f32, f32); 3] = [(-10.0, 10.0), (-1000.0, 1000.0), (90.0, 100.0)];

/// A distinctive NaN payload used to fill memory that must stay untouched.
pub const SENTINEL: f32 = f32::from_bits(0x7fc0_5a5a);

/// A buffer holding `data` at element offset `off`, with `pad` sentinel elements after it.
/// Slicing `[off..off + data.len()]` gives a view that is misaligned by `off` floats relative
/// to the allocation.
pub fn padded(data: &[f32], off: usize, pad: usize) -> Vec<f32> {
    let mut v = vec![SENTINEL; off + data.len() + pad];
    v[off..off + data.len()].copy_from_slice(data);
    v
}

/// Asserts that every element of `buf` outside `[start, end)` still holds [`SENTINEL`].
pub fn assert_sentinels(ctx: &str, buf: &[f32], start: usize, end: usize) {
    for (i, v) in buf.iter().enumerate() {
        if i < start || i >= end {
            assert_eq!(
                v.to_bits(),
                SENTINEL.to_bits(),
                "{ctx}: element {i} outside the row [{start}, {end}) was overwritten with {v:e}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Top-k gating: the sort-based reference
// ---------------------------------------------------------------------------------------------

/// Indices of `v` by descending value, then ascending index, in IEEE order (`-0.0` equals
/// `+0.0`, so the lower index first); `v` holds no NaN.
pub fn order(v: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].partial_cmp(&v[a]).expect("no NaN").then(a.cmp(&b)));
    idx
}

/// Gating of one row by sorting it in f64: the indices of the `k` largest `x * scale` (f32)
/// and their weights, the row's softmax or (`renormalize`) the softmax over the `k`. A row
/// holding a NaN, or of only `-inf`, gives indices `0..k` and NaN weights.
pub fn oracle_topk(x: &[f32], k: usize, o: softmax::TopkOptions) -> (Vec<i32>, Vec<f64>) {
    let v: Vec<f32> = x.iter().map(|&x| x * o.scale).collect();
    if v.iter().any(|v| v.is_nan()) || v.iter().all(|&v| v == f32::NEG_INFINITY) {
        return ((0..k as i32).collect(), vec![f64::NAN; k]);
    }
    let idx: Vec<usize> = order(&v).into_iter().take(k).collect();
    let m = v[idx[0]];
    let mass = |v: f32| -> f64 {
        if m == f32::INFINITY {
            f64::from(u8::from(v == m))
        } else {
            (v as f64 - m as f64).exp()
        }
    };
    let total: f64 = if o.renormalize {
        idx.iter().map(|&i| mass(v[i])).sum()
    } else {
        v.iter().map(|&v| mass(v)).sum()
    };
    let w = idx.iter().map(|&i| mass(v[i]) / total).collect();
    (idx.iter().map(|&i| i as i32).collect(), w)
}

/// Whether `got` is within the softmax bound of `exact` (relative `2^-21` above 1e-30,
/// absolute 1e-36 below; NaN only for NaN).
pub fn softmax_bound_ok(got: f32, exact: f64) -> bool {
    if exact.is_nan() {
        return got.is_nan();
    }
    let err = (got as f64 - exact).abs();
    if exact > SOFTMAX_TINY {
        err / exact <= SOFTMAX_REL
    } else {
        err <= SOFTMAX_ABS
    }
}

/// A row of `n >= 300` for the reload threshold sweeps, and the positions of its sweep: values
/// uniform in `[m - 8, m]`, the maximum `m` at `n / 2`, the first vector of the row and of
/// every segment of 65 536 at `m - 20` (so the stored shift sits below the row's), and the
/// `2 * side + 1` f32 neighbours of the row's underflow threshold, in increasing order,
/// spread over the row: position `side` of the sweep holds the threshold itself. The
/// threshold is the table form's (every ISA but NEON): `(k - 126)*ln2` for the shift
/// `k = round(m*log2(e))`, both in f32 as the crate computes them (the 1.5*2^23 trick).
pub fn threshold_sweep_row(
    rng: &mut StdRng,
    n: usize,
    m: f32,
    side: usize,
) -> (Vec<f32>, Vec<usize>) {
    let k = (m * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
    let lo = (k - 126.0) * std::f32::consts::LN_2;
    let mut x = uniform(rng, n, m - 8.0, m);
    for s in (0..n).step_by(65_536) {
        x[s..s + 16].fill(m - 20.0);
    }
    x[n / 2] = m;
    let count = 2 * side + 1;
    let step = (n - 32) / count;
    let at: Vec<usize> = (0..count).map(|j| 16 + j * step).collect();
    let mut v = lo;
    for _ in 0..side {
        v = v.next_down();
    }
    for &i in &at {
        x[i] = v;
        v = v.next_up();
    }
    (x, at)
}
