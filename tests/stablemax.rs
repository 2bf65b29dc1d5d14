//! StableMax, log-StableMax, their cross-entropy and backward passes, on every ISA, against an
//! f64 oracle: every length 0..=300 in several ranges, large rows, every alignment offset of
//! a few lengths, special values, batches with strides, and the gradients checked against
//! finite differences of the f64 forward functions.
//!
//! The worst errors per ISA are printed (`cargo test --test stablemax -- --nocapture`); the
//! README's accuracy table comes from that output.

mod common;

use approx::abs_diff_eq;
use common::{for_each_isa, rng, uniform};
use rand::Rng;
use softmax::{CrossEntropyOptions, Isa, Softmax};

// ---------------------------------------------------------------------------------------------
// The f64 oracle
// ---------------------------------------------------------------------------------------------

fn s64(x: f32) -> f64 {
    let x = x as f64;
    if x >= 0.0 {
        x + 1.0
    } else {
        1.0 / (1.0 - x)
    }
}

fn log_s64(x: f32) -> f64 {
    let l = (x.abs() as f64).ln_1p();
    if x < 0.0 {
        -l
    } else {
        l
    }
}

/// `s'(x)` in f64.
fn ds64(x: f32) -> f64 {
    let x = x as f64;
    if x >= 0.0 {
        1.0
    } else {
        1.0 / ((1.0 - x) * (1.0 - x))
    }
}

fn nan_row(x: &[f32]) -> bool {
    x.iter().any(|v| v.is_nan())
}

fn inf_count(x: &[f32]) -> usize {
    x.iter().filter(|&&v| v == f32::INFINITY).count()
}

/// `1/S` in f64, with `1/S = 0` for `+inf` rows (NaN rows: NaN; all `-inf`: inf).
fn inv_sum(x: &[f32]) -> f64 {
    if nan_row(x) {
        f64::NAN
    } else if inf_count(x) > 0 {
        0.0
    } else {
        1.0 / x.iter().map(|&v| s64(v)).sum::<f64>()
    }
}

fn oracle_stablemax(x: &[f32]) -> Vec<f64> {
    let k = inf_count(x);
    if nan_row(x) {
        vec![f64::NAN; x.len()]
    } else if k > 0 {
        x.iter()
            .map(|&v| {
                if v == f32::INFINITY {
                    1.0 / k as f64
                } else {
                    0.0
                }
            })
            .collect()
    } else {
        let inv = inv_sum(x);
        x.iter().map(|&v| s64(v) * inv).collect()
    }
}

fn oracle_log_stablemax(x: &[f32]) -> Vec<f64> {
    let k = inf_count(x);
    if nan_row(x) || x.iter().all(|&v| v == f32::NEG_INFINITY) {
        vec![f64::NAN; x.len()]
    } else if k > 0 {
        x.iter()
            .map(|&v| {
                if v == f32::INFINITY {
                    -(k as f64).ln()
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect()
    } else {
        let ls = x.iter().map(|&v| s64(v)).sum::<f64>().ln();
        x.iter().map(|&v| log_s64(v) - ls).collect()
    }
}

/// `-sum_i q_i ln p_i` with `q = (1 - eps) onehot + eps/n` (terms with `q_i = 0` count 0).
fn oracle_ce(x: &[f32], t: usize, eps: f32) -> f64 {
    let n = x.len();
    let p = oracle_stablemax(x);
    if p.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let e = eps as f64;
    let logp = oracle_log_stablemax(x);
    (0..n)
        .map(|i| {
            let q = if i == t { 1.0 - e } else { 0.0 } + e / n as f64;
            if q == 0.0 {
                0.0
            } else {
                -q * logp[i]
            }
        })
        .sum()
}

/// `g_i = s'(x_i) / S - q_i / (1 + |x_i|)`.
fn oracle_ce_grad(x: &[f32], t: usize, eps: f32) -> Vec<f64> {
    let n = x.len();
    let inv = inv_sum(x);
    if nan_row(x) || inv.is_infinite() {
        return vec![f64::NAN; n];
    }
    let e = eps as f64;
    (0..n)
        .map(|i| {
            let q = if i == t { 1.0 - e } else { 0.0 } + e / n as f64;
            ds64(x[i]) * inv - q / (1.0 + (x[i] as f64).abs())
        })
        .collect()
}

/// The magnitude of the terms each cross-entropy gradient entry is formed from (before
/// cancellation): `s'(x_i)/S + q_i/(1 + |x_i|)`. Errors are measured against it.
fn mag_ce(x: &[f32], t: usize, eps: f32) -> Vec<f64> {
    let n = x.len();
    let inv = inv_sum(x);
    let e = eps as f64;
    (0..n)
        .map(|i| {
            let q = if i == t { 1.0 - e } else { 0.0 } + e / n as f64;
            ds64(x[i]) * inv + q / (1.0 + (x[i] as f64).abs())
        })
        .collect()
}

/// Term magnitudes of the StableMax backward pass: `s'(x_i)/S (|dy_i| + sum |dy_j| y_j)`.
fn mag_backward(x: &[f32], dy: &[f32]) -> Vec<f64> {
    let inv = inv_sum(x);
    let y = oracle_stablemax(x);
    let d: f64 = y.iter().zip(dy).map(|(&y, &g)| y * (g as f64).abs()).sum();
    x.iter()
        .zip(dy)
        .map(|(&v, &g)| ds64(v) * inv * ((g as f64).abs() + d))
        .collect()
}

/// Term magnitudes of the log-StableMax backward pass.
fn mag_log_backward(x: &[f32], dy: &[f32]) -> Vec<f64> {
    let inv = inv_sum(x);
    let sum: f64 = dy.iter().map(|&g| (g as f64).abs()).sum();
    x.iter()
        .zip(dy)
        .map(|(&v, &g)| (g as f64).abs() / (1.0 + (v as f64).abs()) + ds64(v) * inv * sum)
        .collect()
}

/// `dx_i = s'(x_i)/S (dy_i - sum dy y)`.
fn oracle_backward(x: &[f32], dy: &[f32]) -> Vec<f64> {
    let inv = inv_sum(x);
    if nan_row(x) || inv.is_infinite() {
        return vec![f64::NAN; x.len()];
    }
    let y = oracle_stablemax(x);
    let d: f64 = y.iter().zip(dy).map(|(&y, &g)| y * g as f64).sum();
    x.iter()
        .zip(dy)
        .map(|(&v, &g)| ds64(v) * inv * (g as f64 - d))
        .collect()
}

/// `dx_i = dy_i / (1 + |x_i|) - s'(x_i)/S sum dy`.
fn oracle_log_backward(x: &[f32], dy: &[f32]) -> Vec<f64> {
    let inv = inv_sum(x);
    if nan_row(x) || inv.is_infinite() {
        return vec![f64::NAN; x.len()];
    }
    let sum: f64 = dy.iter().map(|&g| g as f64).sum();
    x.iter()
        .zip(dy)
        .map(|(&v, &g)| g as f64 / (1.0 + (v as f64).abs()) - ds64(v) * inv * sum)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Error bookkeeping
// ---------------------------------------------------------------------------------------------

/// StableMax: relative bound above [`TINY`], absolute below.
const REL: f64 = 5e-7;
const TINY: f64 = 1e-30;
const ABS: f64 = 1e-36;
/// Log-StableMax: `|err| <= LOG_TOL * max(1, |exact|)`.
const LOG_TOL: f64 = 5e-7;
/// Losses: `|err| <= LOSS_TOL * max(1, |loss|)`.
const LOSS_TOL: f64 = 5e-7;
/// Gradients: `|err| <= GRAD_TOL * max(m, 1e-30)`, `m` the magnitude of the terms the entry
/// is formed from (so cancellation between them is allowed, and results in the f32 denormal
/// range are measured in absolute terms).
const GRAD_TOL: f64 = 1e-6;

#[derive(Default)]
struct Track {
    worst: f64,
    ulps: u64,
    count: usize,
    bad: Vec<String>,
}

impl Track {
    fn fail(&mut self, msg: String) {
        if self.bad.len() < 10 {
            self.bad.push(msg);
        }
    }

    /// Special values must match exactly (NaN with NaN, infinities bit for bit).
    fn special(&mut self, ctx: &str, got: f32, exact: f64) -> bool {
        let want = exact as f32;
        if exact.is_nan() || want.is_infinite() || got.is_nan() || got.is_infinite() {
            let same = (got.is_nan() && exact.is_nan()) || got.to_bits() == want.to_bits();
            if !same {
                self.fail(format!("{ctx}: got {got:e}, exact {exact:e}"));
            }
            return true;
        }
        false
    }

    /// `|got - exact| <= tol * denom`, recording `err / denom`.
    fn value(&mut self, ctx: &str, got: f32, exact: f64, denom: f64, tol: f64) {
        self.count += 1;
        if self.special(ctx, got, exact) {
            return;
        }
        let err = (got as f64 - exact).abs() / denom;
        if err > self.worst {
            self.worst = err;
        }
        if err > tol {
            self.fail(format!(
                "{ctx}: got {got:e}, exact {exact:e}, error {err:e} > {tol:e}"
            ));
        }
    }

    fn ulp(&mut self, got: f32, exact: f64) {
        let want = exact as f32;
        if got.is_finite() && want.is_finite() {
            self.ulps = self.ulps.max(common::ulp_diff(got, want));
        }
    }

    fn stablemax(&mut self, ctx: &str, y: &[f32], exact: &[f64]) {
        assert_eq!(y.len(), exact.len());
        for (i, (&g, &e)) in y.iter().zip(exact).enumerate() {
            if e.abs() > TINY {
                self.value(&format!("{ctx} [{i}]"), g, e, e.abs(), REL);
                self.ulp(g, e);
            } else {
                self.value(&format!("{ctx} [{i}] (tiny)"), g, e, 1.0, ABS);
            }
            if g < 0.0 {
                self.fail(format!("{ctx} [{i}]: negative output {g:e}"));
            }
        }
    }

    fn log(&mut self, ctx: &str, y: &[f32], exact: &[f64]) {
        for (i, (&g, &e)) in y.iter().zip(exact).enumerate() {
            self.value(&format!("{ctx} [{i}]"), g, e, e.abs().max(1.0), LOG_TOL);
            if e.abs() >= 1.0 {
                self.ulp(g, e);
            }
        }
    }

    fn grad(&mut self, ctx: &str, got: &[f32], exact: &[f64], mag: &[f64]) {
        for (i, ((&g, &e), &m)) in got.iter().zip(exact).zip(mag).enumerate() {
            let m = if m.is_finite() { m.max(1e-30) } else { 1.0 };
            self.value(&format!("{ctx} [{i}]"), g, e, m, GRAD_TOL);
        }
    }

    fn finish(&self, what: &str) {
        println!(
            "{what}: worst {:.3e} ({} ULP) over {} values",
            self.worst, self.ulps, self.count
        );
        assert!(self.bad.is_empty(), "{what}:\n{}", self.bad.join("\n"));
    }
}

/// Largest finite `|v|` of a row of exact values (the scale gradients are measured against).
fn row_scale(v: &[f64]) -> f64 {
    v.iter()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, &b| a.max(b.abs()))
}

/// Input ranges of the sweeps: small, wide, all positive, all negative, huge.
const RANGES: [(f32, f32); 6] = [
    (-1.0, 1.0),
    (-10.0, 10.0),
    (-1000.0, 1000.0),
    (0.0, 100.0),
    (-1e6, -1.0),
    (-1e30, 1e30),
];

/// Forward and log forward of one row on `sm`, checked against the oracle.
fn check_forward(sm: &Softmax, ctx: &str, x: &[f32], fwd: &mut Track, log: &mut Track) {
    let mut y = vec![f32::NAN; x.len()];
    sm.stablemax(x, &mut y).unwrap();
    fwd.stablemax(ctx, &y, &oracle_stablemax(x));
    sm.log_stablemax(x, &mut y).unwrap();
    log.log(ctx, &y, &oracle_log_stablemax(x));
}

// ---------------------------------------------------------------------------------------------
// Forward
// ---------------------------------------------------------------------------------------------

#[test]
fn forward_every_length() {
    for_each_isa("forward_every_length", |isa, sm| {
        let mut r = rng(1);
        let (mut fwd, mut log) = (Track::default(), Track::default());
        for n in 0..=300 {
            for &(lo, hi) in &RANGES {
                let x = uniform(&mut r, n, lo, hi);
                check_forward(
                    &sm,
                    &format!("{isa:?} n={n} [{lo}, {hi}]"),
                    &x,
                    &mut fwd,
                    &mut log,
                );
            }
        }
        fwd.finish(&format!("{} stablemax 0..=300", isa.name()));
        log.finish(&format!("{} log_stablemax 0..=300", isa.name()));
    });
}

#[test]
fn large_rows() {
    for_each_isa("large_rows", |isa, sm| {
        let mut r = rng(2);
        let (mut fwd, mut log) = (Track::default(), Track::default());
        for n in [65_537, 1_000_003] {
            for (lo, hi) in [(-10.0, 10.0), (-1e4, 1e4)] {
                let x = uniform(&mut r, n, lo, hi);
                check_forward(&sm, &format!("{isa:?} n={n}"), &x, &mut fwd, &mut log);
            }
        }
        fwd.finish(&format!("{} stablemax large rows", isa.name()));
        log.finish(&format!("{} log_stablemax large rows", isa.name()));
    });
}

#[test]
fn every_alignment_leaves_neighbours_alone() {
    for_each_isa("every_alignment", |isa, sm| {
        let mut r = rng(3);
        let (mut fwd, mut log) = (Track::default(), Track::default());
        for n in [1, 3, 7, 16, 33, 100, 257] {
            let x = uniform(&mut r, n, -20.0, 20.0);
            for off in 0..16 {
                let ctx = format!("{isa:?} n={n} off={off}");
                let src = common::padded(&x, off, 5);
                for log_op in [false, true] {
                    let mut out = common::padded(&vec![0.0; n], off, 5);
                    let xr = &src[off..off + n];
                    let yr = &mut out[off..off + n];
                    if log_op {
                        sm.log_stablemax(xr, yr).unwrap();
                        log.log(&ctx, yr, &oracle_log_stablemax(&x));
                    } else {
                        sm.stablemax(xr, yr).unwrap();
                        fwd.stablemax(&ctx, yr, &oracle_stablemax(&x));
                    }
                    common::assert_sentinels(&ctx, &out, off, off + n);
                    // In place, inside a padded buffer.
                    let mut inplace = src.clone();
                    if log_op {
                        sm.log_stablemax_in_place(&mut inplace[off..off + n]);
                    } else {
                        sm.stablemax_in_place(&mut inplace[off..off + n]);
                    }
                    assert_eq!(
                        inplace[off..off + n]
                            .iter()
                            .map(|v| v.to_bits())
                            .collect::<Vec<_>>(),
                        out[off..off + n]
                            .iter()
                            .map(|v| v.to_bits())
                            .collect::<Vec<_>>(),
                        "{ctx}: in place differs"
                    );
                    common::assert_sentinels(&ctx, &inplace[..off], 0, 0);
                }
            }
        }
        fwd.finish(&format!("{} stablemax offsets", isa.name()));
        log.finish(&format!("{} log_stablemax offsets", isa.name()));
    });
}

#[test]
fn special_values() {
    let big = 3.0e38f32;
    let inf = f32::INFINITY;
    let ninf = f32::NEG_INFINITY;
    let mut rows: Vec<Vec<f32>> = vec![
        vec![],
        vec![5.0],
        vec![-5.0],
        vec![0.0],
        vec![-0.0, 0.0],
        vec![ninf],
        vec![ninf; 37],
        vec![inf],
        vec![1.0, inf, -2.0, inf, 3.0],
        vec![1.0, f32::NAN, 2.0],
        vec![inf, f32::NAN],
        vec![ninf, 1.0, -1.0, ninf],
        vec![
            f32::MIN_POSITIVE / 8.0,
            -f32::MIN_POSITIVE / 8.0,
            1e-30,
            -1e-30,
        ],
        vec![f32::MAX, f32::MAX],
        vec![-f32::MAX, -f32::MAX, -3e38],
        vec![-f32::MAX],
        vec![1e-7, -1e-7, 2e-8],
    ];
    // Rows whose f32 sum overflows: many values near 3e38 (one per lane and more).
    rows.push(vec![big; 100]);
    let mut r = rng(4);
    let mut mixed = uniform(&mut r, 1000, 1e37, 3.4e38);
    mixed.extend(uniform(&mut r, 1000, -10.0, 10.0));
    rows.push(mixed);
    // Tiny sums: every entry far below 0.
    rows.push(uniform(&mut r, 300, -3e38, -1e35));
    rows.push(uniform(&mut r, 50, -1e33, -1e31));
    // A NaN or +inf at every position of a few lengths.
    for n in [5, 19, 70] {
        for p in 0..n {
            let mut v = uniform(&mut r, n, -3.0, 3.0);
            v[p] = f32::NAN;
            rows.push(v.clone());
            v[p] = inf;
            rows.push(v.clone());
            v[p] = ninf;
            rows.push(v);
        }
    }
    for_each_isa("special_values", |isa, sm| {
        let (mut fwd, mut log) = (Track::default(), Track::default());
        for x in &rows {
            let ctx = format!("{isa:?} {:?}", &x[..x.len().min(4)]);
            check_forward(&sm, &ctx, x, &mut fwd, &mut log);
        }
        fwd.finish(&format!("{} stablemax special", isa.name()));
        log.finish(&format!("{} log_stablemax special", isa.name()));
        // Masked rows: zeros instead of NaN for StableMax only.
        let masked = sm.zero_masked_rows(true);
        let mut y = vec![1.0f32; 5];
        masked.stablemax(&[ninf; 5], &mut y).unwrap();
        assert_eq!(y, vec![0.0; 5], "{isa:?} zero_masked");
        masked.log_stablemax(&[ninf; 5], &mut y).unwrap();
        assert!(y.iter().all(|v| v.is_nan()), "{isa:?} zero_masked log");
    });
}

#[test]
fn documented_examples() {
    for_each_isa("documented_examples", |isa, sm| {
        let mut y = [0.0f32; 4];
        sm.stablemax(&[1.0, 0.0, -1.0, -3.0], &mut y).unwrap();
        // s = [2, 1, 1/2, 1/4], sum 3.75
        let want = [2.0 / 3.75, 1.0 / 3.75, 0.5 / 3.75, 0.25 / 3.75];
        for (g, w) in y.iter().zip(want) {
            assert!(abs_diff_eq!(*g, w, epsilon = 1e-7), "{isa:?} {y:?}");
        }
        let mut y = [0.0f32; 3];
        sm.stablemax(&[2.0, f32::INFINITY, f32::INFINITY], &mut y)
            .unwrap();
        assert_eq!(y, [0.0, 0.5, 0.5], "{isa:?}");
        sm.log_stablemax(&[2.0, f32::INFINITY, f32::NEG_INFINITY], &mut y)
            .unwrap();
        assert_eq!(
            y,
            [f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY],
            "{isa:?} log"
        );
    });
}

#[test]
fn isas_agree_with_scalar() {
    let scalar = common::scalar();
    let mut r = rng(5);
    let rows: Vec<Vec<f32>> = (0..200).map(|n| uniform(&mut r, n, -50.0, 50.0)).collect();
    for_each_isa("isas_agree", |isa, sm| {
        for x in &rows {
            let (mut a, mut b) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            sm.stablemax(x, &mut a).unwrap();
            scalar.stablemax(x, &mut b).unwrap();
            common::assert_close_to_scalar(&format!("{isa:?} n={}", x.len()), &a, &b, false);
            sm.log_stablemax(x, &mut a).unwrap();
            scalar.log_stablemax(x, &mut b).unwrap();
            common::assert_close_to_scalar(&format!("{isa:?} log n={}", x.len()), &a, &b, true);
        }
    });
}

#[test]
fn rows_with_strides() {
    let mut r = rng(6);
    for_each_isa("rows_with_strides", |isa, sm| {
        let (mut fwd, mut log) = (Track::default(), Track::default());
        for (rows, cols, xs, ys) in [(3, 5, 7, 9), (4, 33, 33, 40), (2, 1, 1, 3), (0, 4, 4, 4)] {
            let x = uniform(&mut r, rows * xs + 3, -30.0, 30.0);
            for log_op in [false, true] {
                let mut y = vec![common::SENTINEL; rows * ys + 3];
                if log_op {
                    sm.log_stablemax_rows(&x, xs, &mut y, ys, rows, cols)
                        .unwrap();
                } else {
                    sm.stablemax_rows(&x, xs, &mut y, ys, rows, cols).unwrap();
                }
                for row in 0..rows {
                    let xr = &x[row * xs..][..cols];
                    let yr = &y[row * ys..][..cols];
                    let ctx = format!("{isa:?} row {row} of {rows}x{cols}");
                    if log_op {
                        log.log(&ctx, yr, &oracle_log_stablemax(xr));
                    } else {
                        fwd.stablemax(&ctx, yr, &oracle_stablemax(xr));
                    }
                    // The gap after the row is untouched.
                    for v in &y[row * ys + cols..(row + 1) * ys.min(y.len())] {
                        assert_eq!(v.to_bits(), common::SENTINEL.to_bits(), "{ctx}: gap");
                    }
                }
                // In place with the input's stride gives the same values.
                let mut xy = x.clone();
                if log_op {
                    sm.log_stablemax_rows_in_place(&mut xy, xs, rows, cols)
                        .unwrap();
                } else {
                    sm.stablemax_rows_in_place(&mut xy, xs, rows, cols).unwrap();
                }
                for row in 0..rows {
                    assert_eq!(
                        &xy[row * xs..][..cols],
                        &y[row * ys..][..cols],
                        "{isa:?} in place row {row}"
                    );
                }
            }
        }
        fwd.finish(&format!("{} stablemax rows", isa.name()));
        log.finish(&format!("{} log_stablemax rows", isa.name()));
        // Errors: stride below cols, short buffers.
        let x = [0.0f32; 8];
        let mut y = [0.0f32; 8];
        assert!(sm.stablemax_rows(&x, 3, &mut y, 4, 2, 4).is_err());
        assert!(sm.stablemax_rows(&x, 4, &mut y, 4, 3, 4).is_err());
        assert!(sm.stablemax(&x, &mut y[..7]).is_err());
    });
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy
// ---------------------------------------------------------------------------------------------

#[test]
fn cross_entropy_every_length() {
    let mut r = rng(7);
    for_each_isa("cross_entropy_every_length", |isa, sm| {
        let (mut loss, mut grad) = (Track::default(), Track::default());
        for n in 1..=300 {
            for &(lo, hi) in &RANGES {
                let x = uniform(&mut r, n, lo, hi);
                let t = r.random_range(0..n);
                for eps in [0.0f32, 0.1, 1.0] {
                    let ctx = format!("{isa:?} n={n} [{lo}, {hi}] eps={eps}");
                    let exact = oracle_ce(&x, t, eps);
                    let opts = CrossEntropyOptions {
                        ignore_index: -100,
                        label_smoothing: eps,
                    };
                    let mut l = [0.0f32];
                    let mut d = vec![f32::NAN; n];
                    sm.stablemax_cross_entropy_rows(&x, n, 1, n, &[t as i64], opts, &mut l, None)
                        .unwrap();
                    loss.value(&ctx, l[0], exact, exact.abs().max(1.0), LOSS_TOL);
                    sm.stablemax_cross_entropy_rows(
                        &x,
                        n,
                        1,
                        n,
                        &[t as i64],
                        opts,
                        &mut l,
                        Some((&mut d, n)),
                    )
                    .unwrap();
                    loss.value(&ctx, l[0], exact, exact.abs().max(1.0), LOSS_TOL);
                    let g = oracle_ce_grad(&x, t, eps);
                    grad.grad(&ctx, &d, &g, &mag_ce(&x, t, eps));
                    if eps == 0.0 {
                        let l1 = sm.stablemax_cross_entropy(&x, t).unwrap();
                        let mut d1 = vec![0.0; n];
                        let l2 = sm
                            .stablemax_cross_entropy_with_grad(&x, t, &mut d1)
                            .unwrap();
                        assert_eq!(l1.to_bits(), l[0].to_bits(), "{ctx}");
                        assert_eq!(l2.to_bits(), l[0].to_bits(), "{ctx}");
                        assert_eq!(d1, d, "{ctx}");
                    }
                }
            }
        }
        loss.finish(&format!("{} stablemax cross-entropy loss", isa.name()));
        grad.finish(&format!("{} stablemax cross-entropy gradient", isa.name()));
    });
}

#[test]
fn cross_entropy_special_rows() {
    let inf = f32::INFINITY;
    let ninf = f32::NEG_INFINITY;
    let cases: Vec<(Vec<f32>, usize, f32)> = vec![
        (vec![1.0, f32::NAN, 2.0], 0, 0.0),
        (vec![ninf, ninf], 1, 0.0),
        (vec![1.0, inf, inf], 1, 0.0),
        (vec![1.0, inf, inf], 0, 0.0),
        (vec![1.0, inf, inf], 1, 0.1),
        (vec![inf, inf, inf], 2, 0.3),
        (vec![1.0, inf], 0, 1.0),
        (vec![ninf, 1.0, 2.0], 0, 0.0),
        (vec![ninf, 1.0, 2.0], 1, 0.0),
        (vec![ninf, 1.0, 2.0], 1, 0.2),
        (vec![3e38; 64], 5, 0.0),
        (vec![3e38; 64], 5, 0.5),
        (vec![-3e38, -1e38, -2e37], 2, 0.0),
        (vec![0.0; 10], 3, 0.0),
    ];
    for_each_isa("cross_entropy_special_rows", |isa, sm| {
        let (mut loss, mut grad) = (Track::default(), Track::default());
        for (x, t, eps) in &cases {
            let ctx = format!("{isa:?} {x:?} t={t} eps={eps}");
            let n = x.len();
            let opts = CrossEntropyOptions {
                ignore_index: -100,
                label_smoothing: *eps,
            };
            let mut l = [0.0f32];
            let mut d = vec![0.0; n];
            sm.stablemax_cross_entropy_rows(
                x,
                n,
                1,
                n,
                &[*t as i64],
                opts,
                &mut l,
                Some((&mut d, n)),
            )
            .unwrap();
            let exact = oracle_ce(x, *t, *eps);
            loss.value(&ctx, l[0], exact, exact.abs().max(1.0), LOSS_TOL);
            let g = oracle_ce_grad(x, *t, *eps);
            grad.grad(&ctx, &d, &g, &mag_ce(x, *t, *eps));
        }
        loss.finish(&format!(
            "{} stablemax cross-entropy special loss",
            isa.name()
        ));
        grad.finish(&format!(
            "{} stablemax cross-entropy special gradient",
            isa.name()
        ));
        // The documented values.
        let l = sm.stablemax_cross_entropy(&[1.0, inf, inf], 1).unwrap();
        assert_eq!(l, 2f32.ln(), "{isa:?}");
        let l = sm.stablemax_cross_entropy(&[1.0, inf, inf], 0).unwrap();
        assert_eq!(l, inf, "{isa:?}");
        let l = sm.stablemax_cross_entropy(&[ninf, 1.0], 0).unwrap();
        assert_eq!(l, inf, "{isa:?}");
        assert!(sm
            .stablemax_cross_entropy(&[ninf, ninf], 0)
            .unwrap()
            .is_nan());
        assert!(sm.stablemax_cross_entropy(&[], 0).is_err());
        assert!(sm.stablemax_cross_entropy(&[1.0], 1).is_err());
    });
}

#[test]
fn cross_entropy_rows_ignore_index_and_checks() {
    let mut r = rng(8);
    let (rows, cols, stride, ds) = (5, 37, 40, 41);
    let x = uniform(&mut r, rows * stride, -8.0, 8.0);
    let targets = [3i64, -100, 36, 0, -100];
    for_each_isa("cross_entropy_rows", |isa, sm| {
        for eps in [0.0f32, 0.25] {
            let opts = CrossEntropyOptions {
                ignore_index: -100,
                label_smoothing: eps,
            };
            let mut losses = [f32::NAN; 5];
            let mut d = vec![common::SENTINEL; rows * ds];
            sm.stablemax_cross_entropy_rows(
                &x,
                stride,
                rows,
                cols,
                &targets,
                opts,
                &mut losses,
                Some((&mut d, ds)),
            )
            .unwrap();
            for row in 0..rows {
                let xr = &x[row * stride..][..cols];
                let dr = &d[row * ds..][..cols];
                let ctx = format!("{isa:?} row {row} eps={eps}");
                if targets[row] == -100 {
                    assert_eq!(losses[row], 0.0, "{ctx}");
                    assert!(dr.iter().all(|&v| v == 0.0), "{ctx}");
                } else {
                    let t = targets[row] as usize;
                    let mut single = vec![0.0; cols];
                    let opts1 = opts;
                    let mut l1 = [0.0f32];
                    sm.stablemax_cross_entropy_rows(
                        xr,
                        cols,
                        1,
                        cols,
                        &[t as i64],
                        opts1,
                        &mut l1,
                        Some((&mut single, cols)),
                    )
                    .unwrap();
                    assert_eq!(losses[row].to_bits(), l1[0].to_bits(), "{ctx}");
                    assert_eq!(dr, &single[..], "{ctx}");
                }
                for v in &d[row * ds + cols..(row + 1) * ds] {
                    assert_eq!(v.to_bits(), common::SENTINEL.to_bits(), "{ctx}: gap");
                }
            }
        }
        // Checked before anything is written.
        let mut losses = [7.0f32; 5];
        let bad = [3i64, 37, 0, 0, 0];
        let opts = CrossEntropyOptions::default();
        assert!(sm
            .stablemax_cross_entropy_rows(&x, stride, rows, cols, &bad, opts, &mut losses, None)
            .is_err());
        assert_eq!(losses, [7.0; 5]);
        let neg = [3i64, -1, 0, 0, 0];
        assert!(sm
            .stablemax_cross_entropy_rows(&x, stride, rows, cols, &neg, opts, &mut losses, None)
            .is_err());
        let smooth = CrossEntropyOptions {
            ignore_index: -100,
            label_smoothing: 1.5,
        };
        assert!(sm
            .stablemax_cross_entropy_rows(
                &x,
                stride,
                rows,
                cols,
                &targets,
                smooth,
                &mut losses,
                None
            )
            .is_err());
        assert_eq!(losses, [7.0; 5]);
    });
}

// ---------------------------------------------------------------------------------------------
// Backward passes
// ---------------------------------------------------------------------------------------------

#[test]
fn backward_every_length() {
    let mut r = rng(9);
    for_each_isa("backward_every_length", |isa, sm| {
        let (mut fwd, mut log) = (Track::default(), Track::default());
        for n in 0..=300 {
            for &(lo, hi) in &RANGES {
                let x = uniform(&mut r, n, lo, hi);
                let dy = uniform(&mut r, n, -1.0, 1.0);
                let ctx = format!("{isa:?} n={n} [{lo}, {hi}]");
                let mut dx = vec![f32::NAN; n];
                sm.stablemax_backward(&x, &dy, &mut dx).unwrap();
                let e = oracle_backward(&x, &dy);
                fwd.grad(&ctx, &dx, &e, &mag_backward(&x, &dy));
                let mut inplace = dy.clone();
                sm.stablemax_backward_in_place(&x, &mut inplace).unwrap();
                assert_eq!(inplace, dx, "{ctx} in place");

                sm.log_stablemax_backward(&x, &dy, &mut dx).unwrap();
                let e = oracle_log_backward(&x, &dy);
                log.grad(&ctx, &dx, &e, &mag_log_backward(&x, &dy));
                let mut inplace = dy.clone();
                sm.log_stablemax_backward_in_place(&x, &mut inplace)
                    .unwrap();
                assert_eq!(inplace, dx, "{ctx} log in place");
            }
        }
        fwd.finish(&format!("{} stablemax backward", isa.name()));
        log.finish(&format!("{} log_stablemax backward", isa.name()));
    });
}

#[test]
fn backward_large_and_special_rows() {
    let mut r = rng(10);
    let inf = f32::INFINITY;
    let ninf = f32::NEG_INFINITY;
    let mut cases: Vec<(Vec<f32>, Vec<f32>)> = vec![
        (vec![1.0, f32::NAN, 2.0], vec![1.0, 2.0, 3.0]),
        (vec![ninf, ninf], vec![1.0, 2.0]),
        (vec![1.0, inf, -3.0, inf], vec![0.5, 1.0, -2.0, 3.0]),
        (vec![ninf, 1.0, -2.0], vec![1.0, 2.0, 3.0]),
        (vec![3e38; 70], uniform(&mut r, 70, -1.0, 1.0)),
        (
            uniform(&mut r, 90, -3e38, -1e35),
            uniform(&mut r, 90, -1.0, 1.0),
        ),
        (vec![1.0, 2.0, 3.0], vec![1.0, f32::NAN, 0.0]),
    ];
    for n in [65_537, 1_000_003] {
        cases.push((
            uniform(&mut r, n, -100.0, 100.0),
            uniform(&mut r, n, -1.0, 1.0),
        ));
    }
    for_each_isa("backward_large_and_special_rows", |isa, sm| {
        let (mut fwd, mut log) = (Track::default(), Track::default());
        for (x, dy) in &cases {
            let ctx = format!("{isa:?} n={} {:?}", x.len(), &x[..x.len().min(4)]);
            let mut dx = vec![0.0; x.len()];
            sm.stablemax_backward(x, dy, &mut dx).unwrap();
            let e = oracle_backward(x, dy);
            fwd.grad(&ctx, &dx, &e, &mag_backward(x, dy));
            sm.log_stablemax_backward(x, dy, &mut dx).unwrap();
            let e = oracle_log_backward(x, dy);
            log.grad(&ctx, &dx, &e, &mag_log_backward(x, dy));
        }
        fwd.finish(&format!("{} stablemax backward large/special", isa.name()));
        log.finish(&format!(
            "{} log_stablemax backward large/special",
            isa.name()
        ));
    });
}

#[test]
fn backward_rows_with_strides() {
    let mut r = rng(11);
    let (rows, cols, xs, dys, dxs) = (4, 29, 31, 30, 33);
    let x = uniform(&mut r, rows * xs, -20.0, 20.0);
    let dy = uniform(&mut r, rows * dys, -1.0, 1.0);
    for_each_isa("backward_rows", |isa, sm| {
        for log_op in [false, true] {
            let mut dx = vec![common::SENTINEL; rows * dxs];
            if log_op {
                sm.log_stablemax_backward_rows(&x, xs, &dy, dys, &mut dx, dxs, rows, cols)
            } else {
                sm.stablemax_backward_rows(&x, xs, &dy, dys, &mut dx, dxs, rows, cols)
            }
            .unwrap();
            for row in 0..rows {
                let (xr, dyr) = (&x[row * xs..][..cols], &dy[row * dys..][..cols]);
                let mut one = vec![0.0; cols];
                if log_op {
                    sm.log_stablemax_backward(xr, dyr, &mut one).unwrap();
                } else {
                    sm.stablemax_backward(xr, dyr, &mut one).unwrap();
                }
                assert_eq!(&dx[row * dxs..][..cols], &one[..], "{isa:?} row {row}");
                for v in &dx[row * dxs + cols..(row + 1) * dxs] {
                    assert_eq!(v.to_bits(), common::SENTINEL.to_bits(), "{isa:?} gap");
                }
            }
        }
        let mut dx = vec![0.0; 10];
        assert!(sm.stablemax_backward(&x[..10], &dy[..9], &mut dx).is_err());
        assert!(sm
            .stablemax_backward_rows(&x, 28, &dy, dys, &mut dx, dxs, rows, cols)
            .is_err());
    });
}

// ---------------------------------------------------------------------------------------------
// The derivation: analytic gradients against finite differences of the f64 forward functions
// ---------------------------------------------------------------------------------------------

fn stablemax_f64(x: &[f64]) -> Vec<f64> {
    let s = |v: f64| if v >= 0.0 { v + 1.0 } else { 1.0 / (1.0 - v) };
    let sum: f64 = x.iter().map(|&v| s(v)).sum();
    x.iter().map(|&v| s(v) / sum).collect()
}

fn central_diff(x: &[f64], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let h = 1e-6 * x[i].abs().max(1.0);
            let (mut a, mut b) = (x.to_vec(), x.to_vec());
            a[i] += h;
            b[i] -= h;
            (f(&a) - f(&b)) / (2.0 * h)
        })
        .collect()
}

fn check_fd(ctx: &str, analytic: &[f64], numeric: &[f64]) {
    let scale = row_scale(numeric).max(row_scale(analytic));
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        assert!(
            abs_diff_eq!(a, n, epsilon = 1e-6 * scale + 1e-9),
            "{ctx} [{i}]: analytic {a:e}, finite difference {n:e}"
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut r = rng(12);
    for n in [1usize, 2, 5, 17, 40] {
        for (lo, hi) in [(-3.0f32, 3.0), (-30.0, 30.0), (0.5, 5.0), (-5.0, -0.5)] {
            // Keep entries away from 0, where s'' jumps and central differences straddle it.
            let x: Vec<f32> = uniform(&mut r, n, lo, hi)
                .into_iter()
                .map(|v| if v.abs() < 0.01 { 0.5 } else { v })
                .collect();
            let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            let dy = uniform(&mut r, n, -1.0, 1.0);
            let dy64: Vec<f64> = dy.iter().map(|&v| v as f64).collect();
            let ctx = format!("n={n} [{lo}, {hi}]");
            // StableMax backward: d/dx of sum_i dy_i y_i.
            let num = central_diff(&x64, |v| {
                stablemax_f64(v).iter().zip(&dy64).map(|(y, g)| y * g).sum()
            });
            check_fd(&format!("{ctx} backward"), &oracle_backward(&x, &dy), &num);
            // Log-StableMax backward: d/dx of sum_i dy_i ln y_i.
            let num = central_diff(&x64, |v| {
                stablemax_f64(v)
                    .iter()
                    .zip(&dy64)
                    .map(|(y, g)| y.ln() * g)
                    .sum()
            });
            check_fd(
                &format!("{ctx} log backward"),
                &oracle_log_backward(&x, &dy),
                &num,
            );
            // Cross-entropy with smoothing: d/dx of -sum_i q_i ln y_i.
            let t = r.random_range(0..n);
            for eps in [0.0f32, 0.2] {
                let e = eps as f64;
                let num = central_diff(&x64, |v| {
                    stablemax_f64(v)
                        .iter()
                        .enumerate()
                        .map(|(i, y)| {
                            let q = if i == t { 1.0 - e } else { 0.0 } + e / n as f64;
                            -q * y.ln()
                        })
                        .sum()
                });
                check_fd(
                    &format!("{ctx} ce eps={eps}"),
                    &oracle_ce_grad(&x, t, eps),
                    &num,
                );
            }
            // And the kernels against the analytic formula on every ISA.
            for_each_isa("gradients_fd", |isa, sm| {
                let mut d = vec![0.0; n];
                sm.stablemax_cross_entropy_with_grad(&x, t, &mut d).unwrap();
                let g = oracle_ce_grad(&x, t, 0.0);
                let mut tr = Track::default();
                tr.grad(&format!("{isa:?} {ctx}"), &d, &g, &mag_ce(&x, t, 0.0));
                assert!(tr.bad.is_empty(), "{:?}", tr.bad);
            });
        }
    }
}

/// Values of the oracle itself at hand-computed points (so the oracle cannot drift).
#[test]
fn oracle_at_known_points() {
    assert_eq!(s64(0.0), 1.0);
    assert_eq!(s64(3.0), 4.0);
    assert_eq!(s64(-3.0), 0.25);
    assert_eq!(s64(f32::NEG_INFINITY), 0.0);
    assert_eq!(ds64(-1.0), 0.25);
    let y = oracle_stablemax(&[1.0, -1.0]);
    assert_eq!(y, vec![0.8, 0.2]);
    assert!((oracle_ce(&[1.0, -1.0], 1, 0.0) - 5f64.ln()).abs() < 1e-15);
}

/// The ISA is part of every message, so a failure names it; this checks that each ISA the
/// CPU has was covered at least once by [`for_each_isa`].
#[test]
fn every_isa_here_runs() {
    let mut seen = Vec::new();
    for_each_isa("every_isa_here_runs", |isa, _| seen.push(isa));
    assert!(seen.contains(&Isa::Scalar));
    assert!(seen.contains(&Isa::best()));
}

/// The README's Rust example of the StableMax section, verbatim.
#[test]
#[allow(unused_variables)]
fn readme_example() -> Result<(), softmax::Error> {
    use softmax::{CrossEntropyOptions, Softmax};
    let sm = Softmax::new();
    let x = vec![1.0f32, 0.0, -1.0, -3.0]; // s = 2, 1, 1/2, 1/4
    let (mut y, mut dx) = (vec![0.0f32; 4], vec![0.0f32; 4]);
    sm.stablemax(&x, &mut y)?; // y = s / 3.75
    sm.log_stablemax(&x, &mut y)?;
    let loss = sm.stablemax_cross_entropy(&x, 0)?; // ln 3.75 - ln 2
    let loss = sm.stablemax_cross_entropy_with_grad(&x, 0, &mut dx)?;
    let dy = vec![0.1f32, 0.2, -0.3, 0.0];
    sm.stablemax_backward(&x, &dy, &mut dx)?; // x: the forward input
    sm.log_stablemax_backward(&x, &dy, &mut dx)?;
    let mut batch = vec![0.5f32; 2 * 8]; // 2 rows of 6, stride 8
    sm.stablemax_rows_in_place(&mut batch, 8, 2, 6)?;
    let (logits, mut losses, mut grad) = (vec![0.5f32; 6], vec![0.0f32; 2], vec![0.0f32; 6]);
    let opts = CrossEntropyOptions {
        ignore_index: -100,
        label_smoothing: 0.1,
    };
    sm.stablemax_cross_entropy_rows(
        &logits,
        3,
        2,
        3,
        &[2, -100],
        opts,
        &mut losses,
        Some((&mut grad, 3)),
    )?;
    let _ = loss;
    assert!((y[0] - (2.0f32 / 3.75).ln()).abs() < 1e-6);
    Ok(())
}
