//! The training-side operations against an f64 oracle, on every supported ISA: softmax with a
//! fused scale, the softmax and log-softmax backward passes, cross-entropy (loss, gradient,
//! label smoothing, ignored rows), masked rows; through the Rust API and the C ABI
//! (`softmax::ffi`). Gradients are also checked against central finite differences of the
//! f64 losses, which checks the formulas the kernels implement.
//!
//! Bounds: losses within `1e-6 * max(1, |exact|)`; gradients within
//! `1e-6 * (1 + |exact|)` (1e-6 absolute plus 1e-6 relative; for inputs of huge magnitude the
//! absolute part scales with the terms of the formula); softmax outputs as in
//! `tests/common`. Run with `--nocapture` to see the worst errors measured per operation.

mod common;

use std::ptr;

use common::{
    for_each_isa, measure_softmax, oracle_cross_entropy, oracle_cross_entropy_grad, oracle_softmax,
    padded, rng, supported_isas, uniform, Worst, SENTINEL,
};
use rand::rngs::StdRng;
use rand::Rng;
use softmax::ffi::*;
use softmax::{Algorithm, CrossEntropyOptions, Isa, Softmax};

/// Loss bound: `|err| <= LOSS_TOL * max(1, |exact|)`.
const LOSS_TOL: f64 = 1e-6;
/// Gradient bound: `|err| <= GRAD_TOL * (scale + |exact|)`, `scale` 1 unless stated.
const GRAD_TOL: f64 = 1e-6;
/// Errors up to this absolute size are denormal quantisation, accepted anywhere.
const DENORMAL_FLOOR: f64 = 1e-44;
/// Finite differences against the kernels' gradients: `|err| <= FD_TOL * (1 + |fd|)`.
const FD_TOL: f64 = 1e-5;

// ---------------------------------------------------------------------------------------------
// The oracle (f64), following the documented special-value rules
// ---------------------------------------------------------------------------------------------

/// `dx = y * (dy - dot(dy, y))` in f64 (IEEE arithmetic, so NaN/inf propagate as the kernels'
/// do), and the per-element scale `y * (|dy| + sum |y dy|)` of its rounding errors (the dot
/// product may cancel).
fn oracle_softmax_backward(y: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let d: f64 = y.iter().zip(dy).map(|(&a, &b)| a as f64 * b as f64).sum();
    let dx = y
        .iter()
        .zip(dy)
        .map(|(&a, &b)| a as f64 * (b as f64 - d))
        .collect();
    let d_abs: f64 = y
        .iter()
        .zip(dy)
        .map(|(&a, &b)| (a as f64 * b as f64).abs())
        .sum();
    let scale = y
        .iter()
        .zip(dy)
        .map(|(&a, &b)| a as f64 * ((b as f64).abs() + d_abs))
        .collect();
    (dx, scale)
}

/// `dx = dy - exp(y) * sum(dy)` in f64, and the scale `|dy| + exp(y) * sum |dy|`.
fn oracle_log_softmax_backward(y: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let s: f64 = dy.iter().map(|&v| v as f64).sum();
    let dx = y
        .iter()
        .zip(dy)
        .map(|(&a, &b)| b as f64 - (a as f64).exp() * s)
        .collect();
    let s_abs: f64 = dy.iter().map(|&v| (v as f64).abs()).sum();
    let scale = y
        .iter()
        .zip(dy)
        .map(|(&a, &b)| (b as f64).abs() + (a as f64).exp() * s_abs)
        .collect();
    (dx, scale)
}

/// A genuine softmax output: computed in f64, rounded once.
fn softmax_output(x: &[f32]) -> Vec<f32> {
    oracle_softmax(x).iter().map(|&v| v as f32).collect()
}

/// A genuine log-softmax output: computed in f64, rounded once.
fn log_softmax_output(x: &[f32]) -> Vec<f32> {
    common::oracle_log_softmax(x)
        .iter()
        .map(|&v| v as f32)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Error measures
// ---------------------------------------------------------------------------------------------

/// Worst errors of one operation: `abs` the largest absolute error, `norm` the largest error
/// divided by what the bound multiplies (so the bound is `norm <= tol`).
#[derive(Default)]
struct Track {
    abs: f64,
    norm: f64,
    count: usize,
    violations: usize,
    examples: Vec<String>,
}

impl Track {
    fn fail(&mut self, msg: String) {
        self.violations += 1;
        if self.examples.len() < 60 {
            self.examples.push(msg);
        }
    }

    /// Special values must match exactly (NaN for NaN, the same infinity); finite results
    /// must satisfy `|got - exact| <= tol * denom`.
    fn value(&mut self, ctx: &str, got: f32, exact: f64, denom: f64, tol: f64) {
        if exact.is_nan() || got.is_nan() {
            if !(exact.is_nan() && got.is_nan()) {
                self.fail(format!("{ctx}: got {got:e}, exact {exact:e}"));
            }
            return;
        }
        if exact.is_infinite() || got.is_infinite() {
            // An exact value beyond the float range must give the infinity it rounds to.
            if got as f64 != exact && exact as f32 != got {
                self.fail(format!("{ctx}: got {got:e}, exact {exact:e}"));
            }
            return;
        }
        self.count += 1;
        let err = (got as f64 - exact).abs();
        self.abs = self.abs.max(err);
        let norm = if denom > 0.0 {
            err / denom
        } else if err == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        self.norm = self.norm.max(norm);
        // Results in the denormal range carry absolute errors of a few units of 2^-149.
        if norm > tol && err > DENORMAL_FLOOR {
            self.fail(format!(
                "{ctx}: got {got:e}, exact {exact:e}, error {err:.3e} = {norm:.3e} x {denom:.3e} (bound {tol:e})"
            ));
        }
    }

    /// A loss: `|err| <= LOSS_TOL * max(1, |exact|)`.
    fn loss(&mut self, ctx: &str, got: f32, exact: f64) {
        self.value(ctx, got, exact, exact.abs().max(1.0), LOSS_TOL);
    }

    /// A gradient row: `|err_i| <= GRAD_TOL * (scale_i + |exact_i|)`.
    fn grad(&mut self, ctx: &str, got: &[f32], exact: &[f64], scale: Option<&[f64]>) {
        assert_eq!(got.len(), exact.len(), "{ctx}: length");
        for i in 0..got.len() {
            let s = scale.map_or(1.0, |s| s[i]);
            self.value(
                &format!("{ctx} i={i}"),
                got[i],
                exact[i],
                s + exact[i].abs(),
                GRAD_TOL,
            );
        }
    }

    /// Prints the worst errors and panics on a violation.
    fn finish(&self, what: &str) {
        println!(
            "{what}: {} values, worst absolute error {:.3e}, worst error / bound scale {:.3e}",
            self.count, self.abs, self.norm
        );
        assert!(
            self.violations == 0,
            "{what}: {} bound violation(s), first ones:\n  {}",
            self.violations,
            self.examples.join("\n  ")
        );
    }
}

/// Asserts every element outside `[start, end)` of `buf` still holds [`SENTINEL`].
fn untouched(ctx: &str, buf: &[f32], start: usize, end: usize) {
    common::assert_sentinels(ctx, buf, start, end);
}

/// Random logits in `[lo, hi]` and a random target.
fn logits(rng: &mut StdRng, n: usize, lo: f32, hi: f32) -> (Vec<f32>, usize) {
    (uniform(rng, n, lo, hi), rng.random_range(0..n))
}

/// Runs the Rust cross-entropy of one row with smoothing `eps` (through `cross_entropy_rows`
/// when `eps > 0`; `cross_entropy` / `cross_entropy_with_grad` otherwise). Returns the loss
/// and, with `grad`, the gradient.
fn rust_ce(sm: &Softmax, x: &[f32], t: usize, eps: f32, grad: bool) -> (f32, Option<Vec<f32>>) {
    let n = x.len();
    if eps == 0.0 {
        if grad {
            let mut d = vec![SENTINEL; n];
            let loss = sm.cross_entropy_with_grad(x, t, &mut d).unwrap();
            (loss, Some(d))
        } else {
            (sm.cross_entropy(x, t).unwrap(), None)
        }
    } else {
        let opts = CrossEntropyOptions {
            ignore_index: -100,
            label_smoothing: eps,
        };
        let mut loss = [SENTINEL];
        let mut d = vec![SENTINEL; n];
        let dl = grad.then_some((&mut d[..], n));
        sm.cross_entropy_rows(x, n, 1, n, &[t as i64], opts, &mut loss, dl)
            .unwrap();
        (loss[0], grad.then_some(d))
    }
}

// ---------------------------------------------------------------------------------------------
// Every length 0..=300, on every ISA, through the Rust API
// ---------------------------------------------------------------------------------------------

#[test]
fn backward_every_length() {
    let mut soft = Track::default();
    let mut log = Track::default();
    let mut in_place = Track::default();
    for_each_isa("backward_every_length", |isa, sm| {
        let mut rng = rng(11);
        for n in 0..=300 {
            let x = uniform(&mut rng, n, -10.0, 10.0);
            let dy = uniform(&mut rng, n, -1.0, 1.0);
            let ctx = format!("{isa:?} n={n}");

            let y = softmax_output(&x);
            let (exact, _) = oracle_softmax_backward(&y, &dy);
            let mut dx = vec![SENTINEL; n];
            sm.softmax_backward(&y, &dy, &mut dx).unwrap();
            soft.grad(&format!("softmax_backward {ctx}"), &dx, &exact, None);
            let mut dydx = dy.clone();
            sm.softmax_backward_in_place(&y, &mut dydx).unwrap();
            common::assert_same_bits(&format!("softmax_backward_in_place {ctx}"), &dydx, &dx);
            in_place.grad(
                &format!("softmax_backward_in_place {ctx}"),
                &dydx,
                &exact,
                None,
            );

            let ly = log_softmax_output(&x);
            let (exact, _) = oracle_log_softmax_backward(&ly, &dy);
            let mut dx = vec![SENTINEL; n];
            sm.log_softmax_backward(&ly, &dy, &mut dx).unwrap();
            log.grad(&format!("log_softmax_backward {ctx}"), &dx, &exact, None);
            let mut dydx = dy.clone();
            sm.log_softmax_backward_in_place(&ly, &mut dydx).unwrap();
            common::assert_same_bits(&format!("log_softmax_backward_in_place {ctx}"), &dydx, &dx);
        }
    });
    soft.finish("softmax_backward, n = 0..=300");
    in_place.finish("softmax_backward_in_place, n = 0..=300");
    log.finish("log_softmax_backward, n = 0..=300");
}

#[test]
fn cross_entropy_every_length() {
    let mut loss_w = Track::default();
    let mut grad_w = Track::default();
    let mut smooth_loss = Track::default();
    let mut smooth_grad = Track::default();
    for_each_isa("cross_entropy_every_length", |isa, sm| {
        let mut rng = rng(12);
        for n in 1..=300 {
            for (r, &(lo, hi)) in common::RANGES.iter().enumerate() {
                // The wide ranges on every 7th length only (they take the same paths).
                if r > 0 && n % 7 != 0 {
                    continue;
                }
                let (x, t) = logits(&mut rng, n, lo, hi);
                let ctx = format!("{isa:?} n={n} range [{lo}, {hi}] target {t}");
                let exact = oracle_cross_entropy(&x, t, 0.0);
                let (loss, _) = rust_ce(&sm, &x, t, 0.0, false);
                loss_w.loss(&format!("cross_entropy {ctx}"), loss, exact);
                let (loss2, d) = rust_ce(&sm, &x, t, 0.0, true);
                loss_w.loss(&format!("cross_entropy_with_grad {ctx}"), loss2, exact);
                let g = oracle_cross_entropy_grad(&x, t, 0.0);
                grad_w.grad(
                    &format!("cross_entropy_with_grad {ctx}"),
                    &d.unwrap(),
                    &g,
                    None,
                );

                let eps = [0.1, 1.0, rng.random_range(0.0..1.0)][n % 3];
                let ctx = format!("{ctx} eps {eps}");
                let exact = oracle_cross_entropy(&x, t, eps);
                let (loss, d) = rust_ce(&sm, &x, t, eps, true);
                smooth_loss.loss(&format!("smoothed loss {ctx}"), loss, exact);
                let g = oracle_cross_entropy_grad(&x, t, eps);
                smooth_grad.grad(&format!("smoothed grad {ctx}"), &d.unwrap(), &g, None);
                let (loss_only, _) = rust_ce(&sm, &x, t, eps, false);
                assert_eq!(
                    loss_only.to_bits(),
                    loss.to_bits(),
                    "{ctx}: loss with/without grad"
                );
            }
        }
    });
    loss_w.finish("cross_entropy loss, n = 1..=300");
    grad_w.finish("cross_entropy gradient, n = 1..=300");
    smooth_loss.finish("cross_entropy loss with label smoothing, n = 1..=300");
    smooth_grad.finish("cross_entropy gradient with label smoothing, n = 1..=300");
}

/// The scale applied the way the kernels apply it (an f32 product), which is exact for the
/// powers of two.
fn scaled_input(x: &[f32], scale: f32) -> Vec<f32> {
    x.iter().map(|&v| v * scale).collect()
}

/// The oracle of `softmax(scale * x)`: uniform for `scale == 0` (NaN when an input is not
/// finite), else the softmax oracle of the f32 products.
fn oracle_scaled(x: &[f32], scale: f32) -> Vec<f64> {
    if scale == 0.0 {
        let v = if x.iter().all(|v| v.is_finite()) {
            1.0 / x.len() as f64
        } else {
            f64::NAN
        };
        return vec![v; x.len()];
    }
    oracle_softmax(&scaled_input(x, scale))
}

const SCALES: [f32; 6] = [0.125, 0.5, 2.0, -1.0, 0.0, 0.3];

#[test]
fn softmax_scaled_every_length() {
    let mut worst = Worst::default();
    for_each_isa("softmax_scaled_every_length", |isa, sm| {
        let mut rng = rng(13);
        for n in 0..=300 {
            let x = uniform(&mut rng, n, -10.0, 10.0);
            for scale in SCALES {
                let ctx = format!("softmax_scaled {isa:?} n={n} scale {scale}");
                let exact = oracle_scaled(&x, scale);
                let mut y = vec![SENTINEL; n];
                sm.softmax_scaled(&x, &mut y, scale).unwrap();
                worst.merge(&measure_softmax(&ctx, &x, &y, &exact));
                let mut xy = x.clone();
                sm.softmax_scaled_in_place(&mut xy, scale).unwrap();
                common::assert_same_bits(&format!("{ctx} in place"), &xy, &y);
                if n % 10 == 3 {
                    for alg in Algorithm::ALL {
                        sm.softmax_scaled_with(&x, &mut y, scale, alg).unwrap();
                        worst.merge(&measure_softmax(&format!("{ctx} {alg:?}"), &x, &y, &exact));
                    }
                }
            }
            // scale == 1 is the plain softmax, bit for bit.
            let mut y1 = vec![0.0; n];
            let mut y = vec![0.0; n];
            sm.softmax_scaled(&x, &mut y1, 1.0).unwrap();
            sm.softmax(&x, &mut y).unwrap();
            common::assert_same_bits(&format!("{isa:?} n={n} scale 1"), &y1, &y);
        }
        // Uniform for scale 0 is exact.
        let mut y = [0.0f32; 4];
        sm.softmax_scaled(&[1.0, -3.0, 7.0, 1e30], &mut y, 0.0)
            .unwrap();
        assert_eq!(y, [0.25; 4], "{isa:?}");
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut y = [SENTINEL; 2];
            assert!(sm.softmax_scaled(&[1.0, 2.0], &mut y, bad).is_err());
            assert!(sm.softmax_scaled_in_place(&mut y, bad).is_err());
            assert_eq!(y.map(f32::to_bits), [SENTINEL.to_bits(); 2]);
        }
    });
    worst.assert_ok("softmax_scaled");
    println!(
        "softmax_scaled, n = 0..=300, scales {SCALES:?}: {} values, worst relative error {:.3e} ({} ULP), worst row-sum deviation {:.3e}",
        worst.count, worst.rel, worst.ulp, worst.sum_dev
    );
}

// ---------------------------------------------------------------------------------------------
// Unaligned starts and large rows
// ---------------------------------------------------------------------------------------------

#[test]
fn unaligned_rows_leave_neighbours_alone() {
    let lens = [1usize, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257];
    let mut w = Track::default();
    for_each_isa("unaligned_rows_leave_neighbours_alone", |isa, sm| {
        let mut rng = rng(14);
        for n in lens {
            for off in 1..=7 {
                let ctx = format!("{isa:?} n={n} offset {off}");
                let x = uniform(&mut rng, n, -10.0, 10.0);
                let dy = uniform(&mut rng, n, -1.0, 1.0);
                let (ya, dya) = (padded(&softmax_output(&x), off, 5), padded(&dy, 8 - off, 3));
                let (y, dyv) = (&ya[off..off + n], &dya[8 - off..8 - off + n]);

                let mut dxa = vec![SENTINEL; off + n + 9];
                sm.softmax_backward(y, dyv, &mut dxa[off..off + n]).unwrap();
                untouched(&format!("softmax_backward {ctx}"), &dxa, off, off + n);
                let exact = oracle_softmax_backward(y, dyv).0;
                w.grad(
                    &format!("softmax_backward {ctx}"),
                    &dxa[off..off + n],
                    &exact,
                    None,
                );

                let ly = padded(&log_softmax_output(&x), off, 5);
                let mut dxa = vec![SENTINEL; off + n + 9];
                sm.log_softmax_backward(&ly[off..off + n], dyv, &mut dxa[off..off + n])
                    .unwrap();
                untouched(&format!("log_softmax_backward {ctx}"), &dxa, off, off + n);
                let exact = oracle_log_softmax_backward(&ly[off..off + n], dyv).0;
                w.grad(
                    &format!("log_softmax_backward {ctx}"),
                    &dxa[off..off + n],
                    &exact,
                    None,
                );

                let t = rng.random_range(0..n);
                let xa = padded(&x, off, 5);
                let mut da = vec![SENTINEL; off + n + 9];
                let loss = sm
                    .cross_entropy_with_grad(&xa[off..off + n], t, &mut da[off..off + n])
                    .unwrap();
                untouched(&format!("cross_entropy_with_grad {ctx}"), &da, off, off + n);
                w.loss(
                    &format!("cross_entropy {ctx}"),
                    loss,
                    oracle_cross_entropy(&x, t, 0.0),
                );
                let g = oracle_cross_entropy_grad(&x, t, 0.0);
                w.grad(
                    &format!("cross_entropy_with_grad {ctx}"),
                    &da[off..off + n],
                    &g,
                    None,
                );

                let mut ya2 = vec![SENTINEL; off + n + 9];
                sm.softmax_scaled(&xa[off..off + n], &mut ya2[off..off + n], 0.125)
                    .unwrap();
                untouched(&format!("softmax_scaled {ctx}"), &ya2, off, off + n);
                common::check_softmax(
                    &format!("softmax_scaled {ctx}"),
                    &x,
                    &ya2[off..off + n],
                    &oracle_scaled(&x, 0.125),
                );
            }
        }
    });
    w.finish("unaligned starts (offsets 1..=7), all operations");
}

#[test]
fn large_rows() {
    let mut loss_w = Track::default();
    let mut grad_w = Track::default();
    let mut back_w = Track::default();
    let mut worst = Worst::default();
    let isas = supported_isas("large_rows");
    for (i, n) in [4096usize, 65_537, 1_000_003].into_iter().enumerate() {
        let mut rng = rng(15 + i as u64);
        let (x, t) = logits(&mut rng, n, -10.0, 10.0);
        let exact_loss = oracle_cross_entropy(&x, t, 0.0);
        let exact_grad = oracle_cross_entropy_grad(&x, t, 0.0);
        let eps = 0.1;
        let smooth_loss = oracle_cross_entropy(&x, t, eps);
        let y = softmax_output(&x);
        let dy = uniform(&mut rng, n, -1.0, 1.0);
        let exact_back = oracle_softmax_backward(&y, &dy).0;
        let ly = log_softmax_output(&x);
        let exact_log_back = oracle_log_softmax_backward(&ly, &dy).0;
        let exact_scaled = oracle_scaled(&x, 0.5);
        for (isa, sm) in &isas {
            let ctx = format!("{isa:?} n={n}");
            let (loss, _) = rust_ce(sm, &x, t, 0.0, false);
            loss_w.loss(&format!("cross_entropy {ctx}"), loss, exact_loss);
            let (loss, d) = rust_ce(sm, &x, t, 0.0, true);
            loss_w.loss(&format!("cross_entropy_with_grad {ctx}"), loss, exact_loss);
            grad_w.grad(
                &format!("cross_entropy_with_grad {ctx}"),
                &d.unwrap(),
                &exact_grad,
                None,
            );
            let (loss, _) = rust_ce(sm, &x, t, eps, false);
            loss_w.loss(&format!("smoothed cross_entropy {ctx}"), loss, smooth_loss);

            let mut dx = vec![SENTINEL; n];
            sm.softmax_backward(&y, &dy, &mut dx).unwrap();
            back_w.grad(&format!("softmax_backward {ctx}"), &dx, &exact_back, None);
            sm.log_softmax_backward(&ly, &dy, &mut dx).unwrap();
            back_w.grad(
                &format!("log_softmax_backward {ctx}"),
                &dx,
                &exact_log_back,
                None,
            );

            let mut ys = vec![SENTINEL; n];
            sm.softmax_scaled(&x, &mut ys, 0.5).unwrap();
            worst.merge(&measure_softmax(
                &format!("softmax_scaled {ctx}"),
                &x,
                &ys,
                &exact_scaled,
            ));
        }
    }
    loss_w.finish("cross_entropy loss, n = 4096, 65537, 1000003");
    grad_w.finish("cross_entropy gradient, n = 4096, 65537, 1000003");
    back_w.finish("softmax / log_softmax backward, n = 4096, 65537, 1000003");
    worst.assert_ok("softmax_scaled, large rows");
    println!(
        "softmax_scaled(0.5), n = 4096, 65537, 1000003: worst relative error {:.3e}, row-sum deviation {:.3e}",
        worst.rel, worst.sum_dev
    );
}

// ---------------------------------------------------------------------------------------------
// Special rows
// ---------------------------------------------------------------------------------------------

const INF: f32 = f32::INFINITY;
const NINF: f32 = f32::NEG_INFINITY;

#[test]
fn cross_entropy_special_rows() {
    let rows: Vec<(Vec<f32>, usize)> = vec![
        (vec![1.0, f32::NAN, 2.0], 0),
        (vec![1.0, f32::NAN, 2.0], 1),
        (vec![1.0, INF, 2.0, INF, INF], 1),
        (vec![1.0, INF, 2.0, INF, INF], 0),
        (vec![INF], 0),
        (vec![INF, NINF, 3.0], 1),
        (vec![NINF; 5], 2),
        (vec![NINF], 0),
        (vec![0.0, NINF, 3.0], 1),
        (vec![0.0, NINF, 3.0], 2),
        (vec![1e30, -1e30, 5e29, 0.0], 0),
        (vec![1e30, -1e30, 5e29, 0.0], 2),
        (vec![-1e30, -1e30, -3e38, 3e38], 0),
        (vec![3e38, -3e38], 1),
        (vec![2e5, 2e5 + 1.0, 2e5 - 3.0], 2),
        (vec![-2e5, -2e5 + 1.0, -2e5 - 3.0], 1),
        (vec![131_072.0, 0.0], 1),
    ];
    let mut rng = rng(16);
    let mut more = Vec::new();
    for n in [5usize, 33, 300, 3000] {
        for center in [2e5f32, -2e5, 1e30, -1e30, 1e6] {
            let spread = center.abs() * 1e-4;
            more.push(logits(&mut rng, n, center - spread, center + spread));
        }
    }
    let mut loss_w = Track::default();
    let mut grad_w = Track::default();
    for_each_isa("cross_entropy_special_rows", |isa, sm| {
        for (x, t) in rows.iter().chain(&more) {
            for eps in [0.0f32, 0.25] {
                let ctx = format!(
                    "{isa:?} n={} target {t} eps {eps} x[..4]={:?}",
                    x.len(),
                    &x[..x.len().min(4)]
                );
                let (loss, d) = rust_ce(&sm, x, *t, eps, true);
                loss_w.loss(&ctx, loss, oracle_cross_entropy(x, *t, eps));
                grad_w.grad(
                    &ctx,
                    &d.unwrap(),
                    &oracle_cross_entropy_grad(x, *t, eps),
                    None,
                );
                let (loss_only, _) = rust_ce(&sm, x, *t, eps, false);
                common::assert_same_bits(&ctx, &[loss_only], &[loss]);
            }
        }
        // The documented rules, spelled out.
        let ce = |x: &[f32], t| sm.cross_entropy(x, t).unwrap();
        assert!(ce(&[1.0, f32::NAN], 0).is_nan());
        assert_eq!(ce(&[INF, 1.0, INF], 0), 2f32.ln());
        assert_eq!(ce(&[INF, 1.0, INF], 1), INF);
        assert!(ce(&[NINF, NINF], 0).is_nan());
        assert_eq!(ce(&[0.0, NINF], 1), INF);
        let mut d = [0.0f32; 3];
        assert_eq!(
            sm.cross_entropy_with_grad(&[INF, 1.0, INF], 2, &mut d)
                .unwrap(),
            2f32.ln()
        );
        assert_eq!(d, [0.5, 0.0, -0.5]);
    });
    loss_w.finish("cross_entropy special rows (loss)");
    grad_w.finish("cross_entropy special rows (gradient)");
}

/// Regression: the small part of the loss next to huge logits. Forming `lse - x[target]`
/// after rounding `lse` (~1e30) to f64 loses it: `[3e38, 3e38]` with target 1 gave 0 instead
/// of `ln 2` on every ISA, `[-1e12, -1e12]` was 3e-5 off (fixed in 02cd971).
#[test]
fn cross_entropy_loss_next_to_huge_logits() {
    let cases: [(&[f32], usize, f64); 5] = [
        (&[3e38, 3e38], 1, 2f64.ln()),
        (&[-3e38, -3e38, -3e38], 1, 3f64.ln()),
        (&[1e30, 1e30], 0, 2f64.ln()),
        (&[1e20, 1e20, 1e20, 1e20], 3, 4f64.ln()),
        (&[-1e12, -1e12], 0, 2f64.ln()),
    ];
    let mut w = Track::default();
    for_each_isa("cross_entropy_loss_next_to_huge_logits", |isa, sm| {
        for (x, t, exact) in cases {
            assert_eq!(oracle_cross_entropy(x, t, 0.0), exact);
            let ctx = format!("{isa:?} cross_entropy({x:?}, target {t})");
            let (loss, d) = rust_ce(&sm, x, t, 0.0, true);
            w.loss(&format!("{ctx} with gradient"), loss, exact);
            w.grad(
                &ctx,
                &d.unwrap(),
                &oracle_cross_entropy_grad(x, t, 0.0),
                None,
            );
            let loss = sm.cross_entropy(x, t).unwrap();
            w.loss(&format!("{ctx} loss only"), loss, exact);
        }
    });
    w.finish("cross-entropy loss next to huge logits");
}

/// Regression: label smoothing subtracts `eps * mean(x)`; a mean summed in f32 lanes carries
/// an error relative to `|mean|`, not to the loss, so rows with a large common offset lost
/// accuracy (`200000 + small`: ~1e-4 relative on every ISA; rows in [90, 100]: ~2e-6 on the
/// scalar ISA) and `|x|` near the float maximum overflowed (`[3e38, 3e38]`, target 1, eps
/// 0.25 gave `-inf` instead of `ln 2`) (fixed in 02cd971).
#[test]
fn label_smoothing_loss_with_large_common_offset() {
    let mut rng = rng(21);
    let mut cases: Vec<(Vec<f32>, usize, f32)> = vec![
        (vec![3e38, 3e38], 1, 0.25),
        (vec![-3e38, -3e38, -3e38], 1, 0.25),
        (
            vec![200_016.0, 200_014.0, 199_998.0, 199_985.0, 200_001.0],
            0,
            0.25,
        ),
        (vec![-1e30, -1.00001e30, -0.99999e30], 2, 0.1),
    ];
    for (center, n, eps) in [(2e5f32, 300usize, 0.25f32), (1e6, 3000, 0.1)] {
        let spread = center.abs() * 1e-4;
        let (x, t) = logits(&mut rng, n, center - spread, center + spread);
        cases.push((x, t, eps));
    }
    // Rows in [90, 100] with eps = 1: the scalar ISA is 2.2e-6 off (relative).
    let (x, t) = logits(&mut common::rng(30), 500, 90.0, 100.0);
    cases.push((x, t, 1.0));
    let mut w = Track::default();
    for_each_isa(
        "label_smoothing_loss_with_large_common_offset",
        |isa, sm| {
            for (x, t, eps) in &cases {
                let exact = oracle_cross_entropy(x, *t, *eps);
                let ctx = format!(
                    "{isa:?} n={} x[..3]={:?} target {t} eps {eps}",
                    x.len(),
                    &x[..x.len().min(3)]
                );
                let (loss, d) = rust_ce(&sm, x, *t, *eps, true);
                w.loss(&ctx, loss, exact);
                w.grad(
                    &ctx,
                    &d.unwrap(),
                    &oracle_cross_entropy_grad(x, *t, *eps),
                    None,
                );
            }
        },
    );
    w.finish("label-smoothed loss with a large common offset");
}

#[test]
fn backward_special_rows() {
    let mut w = Track::default();
    for_each_isa("backward_special_rows", |isa, sm| {
        let y3 = softmax_output(&[1.0, 2.0, 3.0]);
        let ly3 = log_softmax_output(&[1.0, 2.0, 3.0]);
        let cases: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = vec![
            // (softmax y, log-softmax y, dy)
            (y3.clone(), ly3.clone(), vec![1.0, f32::NAN, 2.0]),
            (
                vec![0.5, f32::NAN, 0.5],
                vec![-0.7, f32::NAN, -0.7],
                vec![1.0, 2.0, 3.0],
            ),
            (y3.clone(), ly3.clone(), vec![1.0, INF, 2.0]),
            (y3.clone(), ly3.clone(), vec![NINF, 0.0, 2.0]),
            (
                vec![0.0, 1.0, 0.0],
                vec![NINF, 0.0, NINF],
                vec![4.0, -2.0, 1.0],
            ),
            (vec![0.0; 4], vec![NINF; 4], vec![1.0, -2.0, 3.0, 0.5]),
            (y3.clone(), ly3.clone(), vec![1e30, -1e30, 5e29]),
            (y3.clone(), ly3.clone(), vec![1e-40, -3e-39, 0.0]),
            (vec![0.5, 0.5], vec![-2f32.ln(); 2], vec![3e38, 3e38]),
            (vec![0.5, 0.5], vec![-2f32.ln(); 2], vec![3e38, -3e38]),
            (vec![1.0], vec![0.0], vec![7.0]),
            (
                vec![0.25; 4],
                vec![-2f32.ln() * 2.0; 4],
                vec![-1e20, 1e20, 3.0, 0.0],
            ),
        ];
        for (y, ly, dy) in cases {
            let ctx = format!("{isa:?} y={y:?} dy={dy:?}");
            let (exact, scale) = oracle_softmax_backward(&y, &dy);
            let mut dx = vec![SENTINEL; y.len()];
            sm.softmax_backward(&y, &dy, &mut dx).unwrap();
            w.grad(
                &format!("softmax_backward {ctx}"),
                &dx,
                &exact,
                Some(&scale),
            );
            sm.log_softmax_backward(&ly, &dy, &mut dx).unwrap();
            let (exact, scale) = oracle_log_softmax_backward(&ly, &dy);
            w.grad(
                &format!("log_softmax_backward {ctx} ly={ly:?}"),
                &dx,
                &exact,
                Some(&scale),
            );
        }
        // Huge incoming gradients on longer rows.
        let mut rng = rng(17);
        for n in [17usize, 64, 300] {
            let x = uniform(&mut rng, n, -10.0, 10.0);
            let dy: Vec<f32> = uniform(&mut rng, n, -1.0, 1.0)
                .iter()
                .map(|v| v * 1e30)
                .collect();
            let y = softmax_output(&x);
            let (exact, scale) = oracle_softmax_backward(&y, &dy);
            let mut dx = vec![SENTINEL; n];
            sm.softmax_backward(&y, &dy, &mut dx).unwrap();
            w.grad(
                &format!("softmax_backward {isa:?} n={n} dy ~ 1e30"),
                &dx,
                &exact,
                Some(&scale),
            );
            let ly = log_softmax_output(&x);
            let (exact, scale) = oracle_log_softmax_backward(&ly, &dy);
            sm.log_softmax_backward(&ly, &dy, &mut dx).unwrap();
            w.grad(
                &format!("log_softmax_backward {isa:?} n={n} dy ~ 1e30"),
                &dx,
                &exact,
                Some(&scale),
            );
        }
    });
    w.finish("backward passes, special rows");
}

#[test]
fn zero_masked_rows() {
    for_each_isa("zero_masked_rows", |isa, sm| {
        let masked = sm.zero_masked_rows(true);
        assert_eq!(masked.isa(), isa);
        for n in [1usize, 2, 7, 8, 16, 17, 100, 3000] {
            let x = vec![NINF; n];
            for alg in Algorithm::ALL {
                let mut y = vec![SENTINEL; n];
                masked.softmax_with(&x, &mut y, alg).unwrap();
                assert!(
                    y.iter().all(|&v| v == 0.0),
                    "{isa:?} {alg:?} n={n}: {:?}",
                    &y[..1]
                );
                sm.softmax_with(&x, &mut y, alg).unwrap();
                assert!(
                    y.iter().all(|v| v.is_nan()),
                    "{isa:?} {alg:?} n={n}: no flag"
                );
                let mut xy = x.clone();
                masked.softmax_in_place_with(&mut xy, alg);
                assert!(
                    xy.iter().all(|&v| v == 0.0),
                    "{isa:?} {alg:?} n={n}: in place"
                );
            }
            // The gradient through a masked row is zero.
            let y = vec![0.0f32; n];
            let dy = uniform(&mut rng(n as u64), n, -3.0, 3.0);
            let mut dx = vec![SENTINEL; n];
            masked.softmax_backward(&y, &dy, &mut dx).unwrap();
            assert!(dx.iter().all(|&v| v == 0.0), "{isa:?} n={n}: {dx:?}");
            // Other rows are unaffected by the mode, bit for bit.
            let mut x = uniform(&mut rng(n as u64 + 1), n, -5.0, 5.0);
            if n > 1 {
                x[0] = NINF;
            }
            let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
            masked.softmax(&x, &mut a).unwrap();
            sm.softmax(&x, &mut b).unwrap();
            common::assert_same_bits(&format!("{isa:?} n={n} unmasked row"), &a, &b);
        }
        // A batch mixing masked and ordinary rows, strided.
        let (rows, cols, stride) = (4, 9, 11);
        let mut x = uniform(&mut rng(99), (rows - 1) * stride + cols, -4.0, 4.0);
        for c in 0..cols {
            x[stride + c] = NINF;
            x[3 * stride + c] = NINF;
        }
        let mut y = vec![SENTINEL; x.len()];
        masked
            .softmax_rows(&x, stride, &mut y, stride, rows, cols, Algorithm::Auto)
            .unwrap();
        for r in 0..rows {
            let row = &y[r * stride..][..cols];
            if r % 2 == 1 {
                assert!(row.iter().all(|&v| v == 0.0), "{isa:?} row {r}");
            } else {
                common::check_softmax(
                    &format!("{isa:?} row {r}"),
                    &x[r * stride..][..cols],
                    row,
                    &oracle_softmax(&x[r * stride..][..cols]),
                );
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Batches (Rust API): strides, ignored rows, smoothing
// ---------------------------------------------------------------------------------------------

#[test]
fn batched_rows() {
    let mut w = Track::default();
    for_each_isa("batched_rows", |isa, sm| {
        let mut rng = rng(18);
        for (rows, cols) in [(1usize, 1usize), (3, 5), (4, 33), (7, 100), (2, 257)] {
            let (s1, s2, s3) = (cols, cols + 3, cols + 8);
            let x = uniform(&mut rng, (rows - 1) * s1 + cols, -8.0, 8.0);
            let mut y = vec![SENTINEL; (rows - 1) * s2 + cols];
            let mut ly = y.clone();
            let dy = uniform(&mut rng, (rows - 1) * s3 + cols, -1.0, 1.0);
            for r in 0..rows {
                let xr = &x[r * s1..][..cols];
                y[r * s2..][..cols].copy_from_slice(&softmax_output(xr));
                ly[r * s2..][..cols].copy_from_slice(&log_softmax_output(xr));
            }
            let mut dx = vec![SENTINEL; (rows - 1) * s1 + cols];
            sm.softmax_backward_rows(&y, s2, &dy, s3, &mut dx, s1, rows, cols)
                .unwrap();
            for r in 0..rows {
                let (yr, dyr) = (&y[r * s2..][..cols], &dy[r * s3..][..cols]);
                let exact = oracle_softmax_backward(yr, dyr).0;
                w.grad(
                    &format!("softmax_backward_rows {isa:?} {rows}x{cols} row {r}"),
                    &dx[r * s1..][..cols],
                    &exact,
                    None,
                );
            }
            sm.log_softmax_backward_rows(&ly, s2, &dy, s3, &mut dx, s1, rows, cols)
                .unwrap();
            for r in 0..rows {
                let (yr, dyr) = (&ly[r * s2..][..cols], &dy[r * s3..][..cols]);
                let exact = oracle_log_softmax_backward(yr, dyr).0;
                w.grad(
                    &format!("log_softmax_backward_rows {isa:?} {rows}x{cols} row {r}"),
                    &dx[r * s1..][..cols],
                    &exact,
                    None,
                );
            }

            // Cross-entropy with ignored rows, smoothing, and both strides.
            let ignore = -7i64;
            let targets: Vec<i64> = (0..rows)
                .map(|r| {
                    if r % 3 == 1 {
                        ignore
                    } else {
                        rng.random_range(0..cols) as i64
                    }
                })
                .collect();
            for eps in [0.0f32, 0.2] {
                let opts = CrossEntropyOptions {
                    ignore_index: ignore,
                    label_smoothing: eps,
                };
                let mut losses = vec![SENTINEL; rows];
                let mut d = vec![SENTINEL; (rows - 1) * s3 + cols];
                sm.cross_entropy_rows(
                    &x,
                    s1,
                    rows,
                    cols,
                    &targets,
                    opts,
                    &mut losses,
                    Some((&mut d, s3)),
                )
                .unwrap();
                let mut losses2 = vec![SENTINEL; rows];
                sm.cross_entropy_rows(&x, s1, rows, cols, &targets, opts, &mut losses2, None)
                    .unwrap();
                common::assert_same_bits("losses with and without gradient", &losses2, &losses);
                for r in 0..rows {
                    let ctx = format!("cross_entropy_rows {isa:?} {rows}x{cols} row {r} eps {eps}");
                    let dr = &d[r * s3..][..cols];
                    if targets[r] == ignore {
                        assert_eq!(losses[r], 0.0, "{ctx}");
                        assert!(dr.iter().all(|&v| v == 0.0), "{ctx}");
                        continue;
                    }
                    let xr = &x[r * s1..][..cols];
                    let t = targets[r] as usize;
                    w.loss(&ctx, losses[r], oracle_cross_entropy(xr, t, eps));
                    w.grad(&ctx, dr, &oracle_cross_entropy_grad(xr, t, eps), None);
                    if r + 1 < rows {
                        let gap = &d[r * s3 + cols..(r + 1) * s3];
                        assert!(
                            gap.iter().all(|v| v.to_bits() == SENTINEL.to_bits()),
                            "{ctx}: gap"
                        );
                    }
                }
            }
            // A bad target anywhere: refused before anything is written.
            let mut bad = targets.clone();
            *bad.last_mut().unwrap() = cols as i64;
            let mut losses = vec![SENTINEL; rows];
            let opts = CrossEntropyOptions {
                ignore_index: ignore,
                label_smoothing: 0.0,
            };
            assert!(sm
                .cross_entropy_rows(&x, s1, rows, cols, &bad, opts, &mut losses, None)
                .is_err());
            assert!(losses.iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
        }
    });
    w.finish("batched backward passes and cross-entropy");
}

// ---------------------------------------------------------------------------------------------
// Central finite differences of the f64 losses
// ---------------------------------------------------------------------------------------------

fn lse64(x: &[f64]) -> f64 {
    let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// `d f / d x_i` by central differences with step `h`.
fn central_diff(x: &[f64], h: f64, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let mut p = x.to_vec();
            p[i] = x[i] + h;
            let fp = f(&p);
            p[i] = x[i] - h;
            let fm = f(&p);
            (fp - fm) / (2.0 * h)
        })
        .collect()
}

#[test]
fn gradients_match_finite_differences() {
    const H: f64 = 1e-3;
    let mut worst = [0.0f64; 4];
    for_each_isa("gradients_match_finite_differences", |isa, sm| {
        let mut rng = rng(19);
        for trial in 0..12 {
            let n = rng.random_range(5..=20);
            let xf = uniform(&mut rng, n, -4.0, 4.0);
            let x: Vec<f64> = xf.iter().map(|&v| v as f64).collect();
            let t = rng.random_range(0..n);
            let eps = [0.0f32, 0.1, 0.7][trial % 3];
            let dyf = uniform(&mut rng, n, -2.0, 2.0);
            let dy: Vec<f64> = dyf.iter().map(|&v| v as f64).collect();
            let ctx = format!("{isa:?} trial {trial} n={n}");
            let check = |what: &str, got: &[f32], fd: &[f64], slot: &mut f64| {
                for i in 0..n {
                    let err = (got[i] as f64 - fd[i]).abs() / (1.0 + fd[i].abs());
                    *slot = slot.max(err);
                    assert!(
                        err <= FD_TOL,
                        "{what} {ctx} i={i}: kernel {}, finite difference {}",
                        got[i],
                        fd[i]
                    );
                }
            };

            // Cross-entropy: the loss as a function of the logits.
            let e = eps as f64;
            let loss = |x: &[f64]| {
                let mean = x.iter().sum::<f64>() / x.len() as f64;
                lse64(x) - (1.0 - e) * x[t] - e * mean
            };
            let (_, g) = rust_ce(&sm, &xf, t, eps, true);
            check(
                "cross-entropy gradient",
                &g.unwrap(),
                &central_diff(&x, H, loss),
                &mut worst[0],
            );

            // Softmax backward: the gradient of x -> dot(dy, softmax(x)).
            let through_softmax = |x: &[f64]| {
                let l = lse64(x);
                x.iter()
                    .zip(&dy)
                    .map(|(v, d)| d * (v - l).exp())
                    .sum::<f64>()
            };
            let mut dx = vec![0.0; n];
            sm.softmax_backward(&softmax_output(&xf), &dyf, &mut dx)
                .unwrap();
            check(
                "softmax_backward",
                &dx,
                &central_diff(&x, H, through_softmax),
                &mut worst[1],
            );

            // Log-softmax backward: the gradient of x -> dot(dy, log_softmax(x)).
            let through_log = |x: &[f64]| {
                let l = lse64(x);
                x.iter().zip(&dy).map(|(v, d)| d * (v - l)).sum::<f64>()
            };
            sm.log_softmax_backward(&log_softmax_output(&xf), &dyf, &mut dx)
                .unwrap();
            check(
                "log_softmax_backward",
                &dx,
                &central_diff(&x, H, through_log),
                &mut worst[2],
            );

            // Scaled softmax composes with the backward pass: d/dx dot(dy, softmax(s x)) =
            // s * softmax_backward(softmax(s x), dy).
            let s = 0.5f32;
            let through_scaled = |x: &[f64]| {
                let sx: Vec<f64> = x.iter().map(|v| v * s as f64).collect();
                let l = lse64(&sx);
                sx.iter()
                    .zip(&dy)
                    .map(|(v, d)| d * (v - l).exp())
                    .sum::<f64>()
            };
            let mut y = vec![0.0; n];
            sm.softmax_scaled(&xf, &mut y, s).unwrap();
            sm.softmax_backward(&y, &dyf, &mut dx).unwrap();
            let dx: Vec<f32> = dx.iter().map(|v| v * s).collect();
            check(
                "softmax_scaled + backward",
                &dx,
                &central_diff(&x, H, through_scaled),
                &mut worst[3],
            );
        }
    });
    println!(
        "finite differences (h = {H}): worst |kernel - fd| / (1 + |fd|): cross-entropy {:.2e}, softmax_backward {:.2e}, log_softmax_backward {:.2e}, scaled {:.2e}",
        worst[0], worst[1], worst[2], worst[3]
    );
}

// ---------------------------------------------------------------------------------------------
// The C ABI on every ISA (the only test of this file that changes the global ISA)
// ---------------------------------------------------------------------------------------------

const OK: softmax_status = SOFTMAX_STATUS_OK;

#[test]
fn c_abi_every_isa() {
    let previous = softmax::current_isa();
    let mut w = Track::default();
    let mut sw = Worst::default();
    for (isa, _) in supported_isas("c_abi_every_isa") {
        softmax::set_isa(isa).unwrap();
        c_abi_checks(isa, &mut w, &mut sw);
    }
    softmax::set_isa(previous).unwrap();
    w.finish("C ABI, every ISA");
    sw.assert_ok("C ABI softmax outputs");
}

fn c_abi_checks(isa: Isa, w: &mut Track, sw: &mut Worst) {
    let mut rng = rng(20);
    for n in [1usize, 2, 5, 16, 17, 64, 255, 1000, 4099] {
        let ctx = format!("{isa:?} n={n}");
        let (x, t) = logits(&mut rng, n, -10.0, 10.0);
        let dy = uniform(&mut rng, n, -1.0, 1.0);
        let y = softmax_output(&x);
        let ly = log_softmax_output(&x);
        let (exact, _) = oracle_softmax_backward(&y, &dy);
        let (log_exact, _) = oracle_log_softmax_backward(&ly, &dy);
        // SAFETY (whole block): every pointer is valid for the `n` floats passed, and the
        // aliasing is what the ABI allows (identical or disjoint).
        unsafe {
            let mut dx = vec![SENTINEL; n];
            assert_eq!(
                softmax_backward_f32(y.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), n),
                OK
            );
            w.grad(&format!("softmax_backward_f32 {ctx}"), &dx, &exact, None);
            // dx == dy and dx == y.
            let mut b = dy.clone();
            assert_eq!(
                softmax_backward_f32(y.as_ptr(), b.as_ptr(), b.as_mut_ptr(), n),
                OK
            );
            common::assert_same_bits(&format!("softmax_backward_f32 dx == dy {ctx}"), &b, &dx);
            let mut b = y.clone();
            assert_eq!(
                softmax_backward_f32(b.as_ptr(), dy.as_ptr(), b.as_mut_ptr(), n),
                OK
            );
            common::assert_same_bits(&format!("softmax_backward_f32 dx == y {ctx}"), &b, &dx);

            assert_eq!(
                softmax_log_softmax_backward_f32(ly.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), n),
                OK
            );
            w.grad(
                &format!("softmax_log_softmax_backward_f32 {ctx}"),
                &dx,
                &log_exact,
                None,
            );
            let mut b = dy.clone();
            assert_eq!(
                softmax_log_softmax_backward_f32(ly.as_ptr(), b.as_ptr(), b.as_mut_ptr(), n),
                OK
            );
            common::assert_same_bits(
                &format!("softmax_log_softmax_backward_f32 dx == dy {ctx}"),
                &b,
                &dx,
            );
            let mut b = ly.clone();
            assert_eq!(
                softmax_log_softmax_backward_f32(b.as_ptr(), dy.as_ptr(), b.as_mut_ptr(), n),
                OK
            );
            common::assert_same_bits(
                &format!("softmax_log_softmax_backward_f32 dx == y {ctx}"),
                &b,
                &dx,
            );

            // Cross-entropy: loss only, with a separate gradient, and in place.
            let exact_loss = oracle_cross_entropy(&x, t, 0.0);
            let exact_grad = oracle_cross_entropy_grad(&x, t, 0.0);
            let mut loss = SENTINEL;
            assert_eq!(
                softmax_cross_entropy_f32(x.as_ptr(), n, t, &mut loss, ptr::null_mut()),
                OK
            );
            w.loss(
                &format!("softmax_cross_entropy_f32 {ctx}"),
                loss,
                exact_loss,
            );
            let mut d = vec![SENTINEL; n];
            let mut loss2 = SENTINEL;
            assert_eq!(
                softmax_cross_entropy_f32(x.as_ptr(), n, t, &mut loss2, d.as_mut_ptr()),
                OK
            );
            assert_eq!(loss2.to_bits(), loss.to_bits(), "{ctx}");
            w.grad(
                &format!("softmax_cross_entropy_f32 gradient {ctx}"),
                &d,
                &exact_grad,
                None,
            );
            let mut xd = x.clone();
            let mut loss3 = SENTINEL;
            assert_eq!(
                softmax_cross_entropy_f32(xd.as_ptr(), n, t, &mut loss3, xd.as_mut_ptr()),
                OK
            );
            assert_eq!(loss3.to_bits(), loss.to_bits(), "in place {ctx}");
            common::assert_same_bits(
                &format!("softmax_cross_entropy_f32 in place {ctx}"),
                &xd,
                &d,
            );
            // The loss may live inside the logits (written last).
            let mut xl = x.clone();
            let p = xl.as_mut_ptr();
            assert_eq!(
                softmax_cross_entropy_f32(p, n, t, p.add(n - 1), ptr::null_mut()),
                OK
            );
            assert_eq!(xl[n - 1].to_bits(), loss.to_bits());

            // Scaled softmax, single row and rows with each algorithm.
            for scale in SCALES {
                let mut ys = vec![SENTINEL; n];
                assert_eq!(
                    softmax_scaled_f32(x.as_ptr(), ys.as_mut_ptr(), n, scale),
                    OK
                );
                let oracle = oracle_scaled(&x, scale);
                sw.merge(&measure_softmax(
                    &format!("softmax_scaled_f32 {ctx} {scale}"),
                    &x,
                    &ys,
                    &oracle,
                ));
                let mut xy = x.clone();
                assert_eq!(
                    softmax_scaled_f32(xy.as_ptr(), xy.as_mut_ptr(), n, scale),
                    OK
                );
                common::assert_same_bits(&format!("softmax_scaled_f32 in place {ctx}"), &xy, &ys);
                for alg in Algorithm::ALL {
                    let st = softmax_scaled_rows_f32(
                        x.as_ptr(),
                        n,
                        ys.as_mut_ptr(),
                        n,
                        1,
                        n,
                        scale,
                        alg as u32,
                    );
                    assert_eq!(st, OK);
                    sw.merge(&measure_softmax(
                        &format!("softmax_scaled_rows_f32 {ctx} {scale} {alg:?}"),
                        &x,
                        &ys,
                        &oracle,
                    ));
                }
            }
        }
    }

    // Batches through the C ABI: strides, gaps, in place, ignored rows, smoothing, flags.
    let (rows, cols) = (5usize, 37usize);
    let (xs, ys, ds) = (40usize, 45usize, 39usize);
    let x = uniform(&mut rng, (rows - 1) * xs + cols, -6.0, 6.0);
    let dy = uniform(&mut rng, (rows - 1) * ds + cols, -1.0, 1.0);
    let mut y = vec![SENTINEL; (rows - 1) * ys + cols];
    let mut ly = vec![SENTINEL; (rows - 1) * ys + cols];
    for r in 0..rows {
        y[r * ys..][..cols].copy_from_slice(&softmax_output(&x[r * xs..][..cols]));
        ly[r * ys..][..cols].copy_from_slice(&log_softmax_output(&x[r * xs..][..cols]));
    }
    let gaps = |ctx: &str, buf: &[f32], stride: usize| {
        for r in 0..rows - 1 {
            let gap = &buf[r * stride + cols..(r + 1) * stride];
            assert!(
                gap.iter().all(|v| v.to_bits() == SENTINEL.to_bits()),
                "{ctx}: gap after row {r} written"
            );
        }
    };
    // SAFETY (whole block): every pointer covers the batch extent of its stride.
    unsafe {
        for log in [false, true] {
            let (f, yy): (unsafe extern "C" fn(_, _, _, _, _, _, _, _) -> _, _) = if log {
                (softmax_log_softmax_backward_rows_f32, &ly)
            } else {
                (softmax_backward_rows_f32, &y)
            };
            let mut dx = vec![SENTINEL; (rows - 1) * xs + cols];
            assert_eq!(
                f(
                    yy.as_ptr(),
                    ys,
                    dy.as_ptr(),
                    ds,
                    dx.as_mut_ptr(),
                    xs,
                    rows,
                    cols
                ),
                OK
            );
            gaps("backward rows", &dx, xs);
            for r in 0..rows {
                let (yr, dyr) = (&yy[r * ys..][..cols], &dy[r * ds..][..cols]);
                let exact = if log {
                    oracle_log_softmax_backward(yr, dyr).0
                } else {
                    oracle_softmax_backward(yr, dyr).0
                };
                w.grad(
                    &format!("{isa:?} backward rows (log {log}) row {r}"),
                    &dx[r * xs..][..cols],
                    &exact,
                    None,
                );
            }
            // In place over dy (same stride).
            let mut b = dy.clone();
            assert_eq!(
                f(
                    yy.as_ptr(),
                    ys,
                    b.as_ptr(),
                    ds,
                    b.as_mut_ptr(),
                    ds,
                    rows,
                    cols
                ),
                OK
            );
            for r in 0..rows {
                common::assert_same_bits(
                    "backward rows in place",
                    &b[r * ds..][..cols],
                    &dx[r * xs..][..cols],
                );
            }
        }

        let ignore = -100i64;
        let targets: Vec<i64> = (0..rows as i64)
            .map(|r| {
                if r == 2 {
                    ignore
                } else {
                    (r * 7) % cols as i64
                }
            })
            .collect();
        for eps in [0.0f32, 0.3] {
            let mut losses = vec![SENTINEL; rows];
            let mut d = vec![SENTINEL; (rows - 1) * ys + cols];
            let st = softmax_cross_entropy_rows_f32(
                x.as_ptr(),
                xs,
                rows,
                cols,
                targets.as_ptr(),
                ignore,
                eps,
                losses.as_mut_ptr(),
                d.as_mut_ptr(),
                ys,
            );
            assert_eq!(st, OK);
            gaps("softmax_cross_entropy_rows_f32", &d, ys);
            let mut losses2 = vec![SENTINEL; rows];
            let st = softmax_cross_entropy_rows_f32(
                x.as_ptr(),
                xs,
                rows,
                cols,
                targets.as_ptr(),
                ignore,
                eps,
                losses2.as_mut_ptr(),
                ptr::null_mut(),
                0,
            );
            assert_eq!(st, OK);
            common::assert_same_bits("losses without gradient", &losses2, &losses);
            let mut xd = x.clone();
            let mut losses3 = vec![SENTINEL; rows];
            let st = softmax_cross_entropy_rows_f32(
                xd.as_ptr(),
                xs,
                rows,
                cols,
                targets.as_ptr(),
                ignore,
                eps,
                losses3.as_mut_ptr(),
                xd.as_mut_ptr(),
                xs,
            );
            assert_eq!(st, OK);
            common::assert_same_bits("losses in place", &losses3, &losses);
            for r in 0..rows {
                let ctx = format!("{isa:?} softmax_cross_entropy_rows_f32 row {r} eps {eps}");
                common::assert_same_bits(&ctx, &xd[r * xs..][..cols], &d[r * ys..][..cols]);
                if r + 1 < rows {
                    assert_eq!(
                        xd[r * xs + cols..(r + 1) * xs],
                        x[r * xs + cols..(r + 1) * xs],
                        "{ctx}: gap"
                    );
                }
                let dr = &d[r * ys..][..cols];
                if targets[r] == ignore {
                    assert_eq!(losses[r], 0.0, "{ctx}");
                    assert!(dr.iter().all(|&v| v == 0.0), "{ctx}");
                    continue;
                }
                let xr = &x[r * xs..][..cols];
                let t = targets[r] as usize;
                w.loss(&ctx, losses[r], oracle_cross_entropy(xr, t, eps));
                w.grad(&ctx, dr, &oracle_cross_entropy_grad(xr, t, eps), None);
            }
        }

        // softmax_rows_f32_ex: masked rows with and without the flag, other rows unchanged.
        let mut xm = x.clone();
        for c in 0..cols {
            xm[xs + c] = NINF;
        }
        for alg in Algorithm::ALL {
            let mut plain = vec![SENTINEL; y.len()];
            let mut flagged = vec![SENTINEL; y.len()];
            assert_eq!(
                softmax_rows_f32(
                    xm.as_ptr(),
                    xs,
                    plain.as_mut_ptr(),
                    ys,
                    rows,
                    cols,
                    alg as u32
                ),
                OK
            );
            let st = softmax_rows_f32_ex(
                xm.as_ptr(),
                xs,
                flagged.as_mut_ptr(),
                ys,
                rows,
                cols,
                alg as u32,
                SOFTMAX_FLAG_ZERO_MASKED_ROWS,
            );
            assert_eq!(st, OK);
            let mut zero_flags = vec![SENTINEL; y.len()];
            assert_eq!(
                softmax_rows_f32_ex(
                    xm.as_ptr(),
                    xs,
                    zero_flags.as_mut_ptr(),
                    ys,
                    rows,
                    cols,
                    alg as u32,
                    0
                ),
                OK
            );
            common::assert_same_bits("flags 0", &zero_flags, &plain);
            gaps("softmax_rows_f32_ex", &flagged, ys);
            for r in 0..rows {
                let (p, f) = (&plain[r * ys..][..cols], &flagged[r * ys..][..cols]);
                if r == 1 {
                    assert!(
                        p.iter().all(|v| v.is_nan()),
                        "{isa:?} {alg:?}: masked row without flag"
                    );
                    assert!(
                        f.iter().all(|&v| v == 0.0),
                        "{isa:?} {alg:?}: masked row with flag"
                    );
                    // Its gradient is zero.
                    let mut dx = vec![SENTINEL; cols];
                    assert_eq!(
                        softmax_backward_f32(f.as_ptr(), dy.as_ptr(), dx.as_mut_ptr(), cols),
                        OK
                    );
                    assert!(dx.iter().all(|&v| v == 0.0));
                } else {
                    common::assert_same_bits("unmasked row", f, p);
                    sw.merge(&measure_softmax(
                        "softmax_rows_f32_ex",
                        &xm[r * xs..][..cols],
                        f,
                        &oracle_softmax(&xm[r * xs..][..cols]),
                    ));
                }
            }
        }

        // Special rows of softmax_cross_entropy_f32.
        let mut loss = 0.0f32;
        let mut d = [SENTINEL; 3];
        assert_eq!(
            softmax_cross_entropy_f32([INF, 1.0, INF].as_ptr(), 3, 2, &mut loss, d.as_mut_ptr()),
            OK
        );
        assert_eq!((loss, d), (2f32.ln(), [0.5, 0.0, -0.5]));
        assert_eq!(
            softmax_cross_entropy_f32([INF, 1.0, INF].as_ptr(), 3, 1, &mut loss, ptr::null_mut()),
            OK
        );
        assert_eq!(loss, INF);
        assert_eq!(
            softmax_cross_entropy_f32([NINF; 3].as_ptr(), 3, 1, &mut loss, d.as_mut_ptr()),
            OK
        );
        assert!(loss.is_nan() && d.iter().all(|v| v.is_nan()));
        assert_eq!(
            softmax_cross_entropy_f32(
                [0.0, f32::NAN, 1.0].as_ptr(),
                3,
                0,
                &mut loss,
                d.as_mut_ptr()
            ),
            OK
        );
        assert!(loss.is_nan() && d.iter().all(|v| v.is_nan()));
        let mut losses = [0.0f32; 1];
        let st = softmax_cross_entropy_rows_f32(
            [INF, 1.0, INF].as_ptr(),
            3,
            1,
            3,
            [0i64].as_ptr(),
            -100,
            0.1,
            losses.as_mut_ptr(),
            ptr::null_mut(),
            0,
        );
        assert_eq!(st, OK);
        assert!(losses[0].is_nan(), "smoothing with +inf logits: NaN");
    }
}

/// `log_softmax_backward` keeps IEEE rules when `sum(dy)` or `exp(y)` is infinite, on every
/// ISA: the sum is only folded into the exponential when it fits in f32.
#[test]
fn log_softmax_backward_infinities_follow_ieee() {
    for isa in softmax::Isa::ALL {
        let Ok(sm) = softmax::Softmax::with_isa(isa) else {
            eprintln!("SKIP log_softmax_backward_infinities_follow_ieee: {isa:?} not supported");
            continue;
        };
        let x = [1.0f32, 2.0, 3.0];
        let mut ly = [0.0f32; 3];
        sm.log_softmax(&x, &mut ly).unwrap();
        let mut dx = [0.0f32; 3];
        sm.log_softmax_backward(&ly, &[1.0, f32::INFINITY, 2.0], &mut dx)
            .unwrap();
        assert!(
            dx[0] == f32::NEG_INFINITY && dx[1].is_nan() && dx[2] == f32::NEG_INFINITY,
            "{isa:?}: {dx:?}"
        );
        // exp(100) overflows: dx0 = 0 - inf * (-1) = +inf; the other entry stays finite.
        let mut dx = [0.0f32; 2];
        sm.log_softmax_backward(&[100.0, -1.0], &[0.0, -1.0], &mut dx)
            .unwrap();
        assert_eq!(dx[0], f32::INFINITY, "{isa:?}: {dx:?}");
        let exact = -1.0 + (-1.0f64).exp();
        assert!((dx[1] as f64 - exact).abs() < 1e-6, "{isa:?}: {dx:?}");
    }
}
